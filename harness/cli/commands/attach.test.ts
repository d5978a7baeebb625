import { describe, expect, it } from "vitest";
import { createVirtualClock } from "../../../stack/time.ts";
import { createStreamPair } from "../../../stack/transport/stream-pair.ts";
import type { ByteStream } from "../../../stack/transport/types.ts";
import { createHttpServer } from "../../../stack/app/http/server.ts";
import { flattenCounters, httpCounters } from "../../tap/attached-stack.ts";
import { createStack } from "../../../stack/index.ts";
import { createDevicePair } from "../../../stack/link/pair.ts";
import { createRng } from "../../../stack/time.ts";
import { emitArp } from "../../../stack/wire/arp.ts";
import { emitEthernet } from "../../../stack/wire/ethernet.ts";
import { formatCounters, formatPingSummary, parseAttachArgs, pingSummary } from "./attach.ts";
import { createTcpTestPeer, linuxSynOptions } from "../../../stack/transport/tcp/test-peer.ts";
import { TCP_FLAG_SYN } from "../../../stack/wire/tcp.ts";
import { unwrap } from "../../../stack/result.ts";
import { ipv6 } from "../../../stack/wire/ipv6-address.ts";

describe("parseAttachArgs()", () => {
  it("reads a static address with gateway, namespace, peer, HTTP root and capture", () => {
    expect(
      parseAttachArgs([
        "--tap",
        "nl0",
        "--netns",
        "lab",
        "--ip",
        "192.0.2.2/24",
        "--gateway",
        "192.0.2.1",
        "--peer",
        "192.0.2.1/24",
        "--http-root",
        "/srv",
        "--pcap",
        "/tmp/a.pcapng",
        "--stats-interval",
        "0",
      ]),
    ).toEqual({
      tap: "nl0",
      netns: "lab",
      peers: ["192.0.2.1/24"],
      httpRoot: "/srv",
      httpPort: 80,
      pcap: "/tmp/a.pcapng",
      address: { kind: "static", cidr: { address: 0xc0000202, prefixLength: 24 }, gateway: 0xc0000201 },
      xen: false,
      offloads: false,
      statsIntervalS: 0,
      json: false,
    });
  });

  it("reads --dhcp, --xen, --mac, --ping, --duration and --json", () => {
    expect(
      parseAttachArgs([
        "--tap",
        "nl0",
        "--dhcp",
        "--xen",
        "--mac",
        "02:00:00:00:00:07",
        "--ping",
        "192.0.2.1",
        "--duration=2.5",
        "--json",
        "--http-port",
        "8080",
        "--offloads",
      ]),
    ).toEqual({
      tap: "nl0",
      address: { kind: "dhcp" },
      xen: true,
      mac: 0x020000000007,
      ping: 0xc0000201,
      durationS: 2.5,
      json: true,
      httpPort: 8080,
      offloads: true,
      statsIntervalS: 1,
    });
  });

  it("reads a dual stack from repeated --ip (one IPv4, any IPv6), a v6-only stack, and --slaac (with or without IPv4)", () => {
    expect(parseAttachArgs(["--tap", "nl0", "--ip", "2001:db8::2/64", "--ip", "192.0.2.2/24", "--ip", "fd00::2/64"])).toMatchObject({
      address: { kind: "static", cidr: { address: 0xc0000202, prefixLength: 24 } },
      ipv6: { addresses: ["2001:db8::2/64", "fd00::2/64"], slaac: false },
    });
    expect(parseAttachArgs(["--tap", "nl0", "--ip", "2001:db8::2/64"])).toMatchObject({
      address: { kind: "none" },
      ipv6: { addresses: ["2001:db8::2/64"], slaac: false },
    });
    expect(parseAttachArgs(["--tap", "nl0", "--slaac"])).toMatchObject({ address: { kind: "none" }, ipv6: { addresses: [], slaac: true } });
    expect(parseAttachArgs(["--tap", "nl0", "--dhcp", "--slaac"])).toMatchObject({ address: { kind: "dhcp" }, ipv6: { addresses: [], slaac: true } });
    expect(parseAttachArgs(["--tap", "nl0", "--dhcp"]).ipv6).toBeUndefined();
  });

  it("reads IPv6 --ping targets (global, link-local, with the tap as zone) and repeated --peer of both families", () => {
    const v6 = ["--tap", "nl0", "--ip", "192.0.2.2/24", "--ip", "2001:db8::2/64"];
    expect(parseAttachArgs([...v6, "--ping", "2001:db8::1", "--count", "3"])).toMatchObject({ ping: ipv6("2001:db8::1"), count: 3 });
    expect(parseAttachArgs([...v6, "--ping", "fe80::1"]).ping).toEqual(ipv6("fe80::1"));
    expect(parseAttachArgs([...v6, "--ping", "fe80::1%nl0"]).ping).toEqual(ipv6("fe80::1"));
    expect(parseAttachArgs([...v6, "--ping", "192.0.2.1"]).ping).toBe(0xc0000201);
    expect(parseAttachArgs([...v6, "--peer", "2001:db8::1/64", "--peer", "192.0.2.1/24", "--peer", "fe80::1/64"]).peers).toEqual([
      "2001:db8::1/64",
      "192.0.2.1/24",
      "fe80::1/64",
    ]);
    expect(parseAttachArgs(["--tap", "nl0", "--slaac", "--ping", "fe80::1"]).ping).toEqual(ipv6("fe80::1"));
  });

  it("reads --count, --interval and --seed (ping -c / -i, the stack's Rng seed)", () => {
    expect(
      parseAttachArgs(["--tap", "nl0", "--ip", "192.0.2.2/24", "--ping", "192.0.2.1", "--count=5", "--interval", "0.2", "--seed", "0xffffffff"]),
    ).toMatchObject({ ping: 0xc0000201, count: 5, pingIntervalS: 0.2, seed: 0xffffffff });
  });

  it.each([
    [["--tap", "nl0", "--dhcp", "--count", "3"], "--count goes with --ping"],
    [["--tap", "nl0", "--dhcp", "--interval", "1"], "--interval goes with --ping"],
    [["--tap", "nl0", "--dhcp", "--ping", "192.0.2.1", "--count", "0"], "--count"],
    [["--tap", "nl0", "--dhcp", "--ping", "192.0.2.1", "--interval", "1ms"], "--interval"],
    [["--tap", "nl0", "--dhcp", "--seed", "4294967296"], "--seed"],
    [["--ip", "192.0.2.2/24"], "--tap is required"],
    [["--tap", "nl0"], "give --ip CIDR (IPv4 or IPv6), --dhcp or --slaac"],
    [["--tap", "nl0", "--ip", "192.0.2.2/24", "--dhcp"], "give only one of an IPv4 --ip and --dhcp"],
    [["--tap", "nl0", "--dhcp", "--gateway", "192.0.2.1"], "--gateway goes with an IPv4 --ip"],
    [["--tap", "nl0", "--ip", "192.0.2.2/24", "--ip", "192.0.2.3/24"], "at most one IPv4 --ip"],
    [["--tap", "nl0", "--ip", "2001:db8::2"], "--ip needs ADDRESS/PREFIX (192.0.2.10/24 or 2001:db8::2/64), got '2001:db8::2'"],
    [["--tap", "nl0", "--ip", "2001:db8::g/64"], "got '2001:db8::g/64'"],
    [["--tap", "nl0", "--ip", "2001:db8::2/129"], "got '2001:db8::2/129'"],
    [["--tap", "nl0", "--slaac", "--ping", "192.0.2.1"], "--ping pings an IPv4 address"],
    [["--tap", "nl0", "--ip", "192.0.2.2/24", "--ping", "2001:db8::1"], "--ping pings an IPv6 address: give an IPv6 --ip or --slaac"],
    [["--tap", "nl0", "--slaac", "--ping", "fe80::1%eth0"], "--ping zone must be the tap (%nl0), got 'fe80::1%eth0'"],
    [["--tap", "nl0", "--slaac", "--ping", "2001:db8::g"], "--ping needs an IPv4 or IPv6 address"],
    [["--tap", "nl0", "--ip", "192.0.2.2/24", "--peer", "2001:db8::1/64"], "an IPv6 --peer needs IPv6 on the stack"],
    [["--tap", "nl0", "--ip", "192.0.2.2/24", "--peer", "192.0.2.1/24", "--peer", "192.0.2.3/24"], "at most one IPv4 --peer"],
    [["--tap", "nl0", "--slaac", "--peer", "2001:db8::1"], "--peer needs ADDRESS/PREFIX (2001:db8::2/64), got '2001:db8::1'"],
    [["--tap", "nl0", "--slaac", "--peer", "192.0.2.1"], "--peer needs ADDRESS/PREFIX (192.0.2.10/24), got '192.0.2.1'"],
    [["--tap", "nl0", "--ip", "192.0.2.300/24"], "--ip needs ADDRESS/PREFIX (192.0.2.10/24), got '192.0.2.300/24'"],
    [["--tap", "nl0", "--ip", "192.0.2.2/24", "--http-port", "70000"], "--http-port"],
    [["--tap", "nl0", "--ip", "192.0.2.2/24", "--netns", "a/b"], "--netns needs a namespace name"],
    [["--tap", "--ip", "192.0.2.2/24"], "--tap needs a value"],
    [["--tap", "nl0", "--dhcp", "--frobnicate"], "unknown option '--frobnicate'"],
    [["--tap", "nl0", "--dhcp", "--duration=-1"], "--duration needs a duration"],
    [["--tap", "nl0", "--dhcp", "--duration", "0"], "--duration needs a duration >= 0.001 s, got '0'"],
    [["--tap", "nl0", "--dhcp", "--mac", "02:00"], "--mac needs a MAC address"],
  ])("rejects %j with a usage error naming the problem", (args, message) => {
    expect(() => parseAttachArgs(args)).toThrow(message);
    try {
      parseAttachArgs(args);
    } catch (e) {
      expect((e as { code?: string }).code).toBe("ERR_USAGE");
    }
  });
});

describe("attach --ping's summary", () => {
  it("counts, loss and rtt min/avg/max/mdev as ping prints them; no rtt line without a reply", () => {
    const s = pingSummary(4, [1, 2, 3], 3004.4);
    expect(s).toEqual({ transmitted: 4, received: 3, lossPercent: 25, timeMs: 3004, rtt: { minMs: 1, avgMs: 2, maxMs: 3, mdevMs: 0.816 } });
    expect(formatPingSummary("192.0.2.1", s)).toEqual([
      "--- 192.0.2.1 ping statistics ---",
      "4 packets transmitted, 3 received, 25% packet loss, time 3004ms",
      "rtt min/avg/max/mdev = 1.000/2.000/3.000/0.816 ms",
    ]);
    const none = pingSummary(2, [], 1000);
    expect(none).toEqual({ transmitted: 2, received: 0, lossPercent: 100, timeMs: 1000 });
    expect(formatPingSummary("192.0.2.9", none)).toEqual([
      "--- 192.0.2.9 ping statistics ---",
      "2 packets transmitted, 0 received, 100% packet loss, time 1000ms",
    ]);
  });
});

describe("attach's counters of hostile HTTP clients", () => {
  it("flattens the HTTP server's stats, parse errors per code, and prints the non-zero groups in the periodic line", () => {
    const clock = createVirtualClock();
    const server = createHttpServer({ clock }, (_req, res) => res.end("x"), { maxConnectionsPerSource: 1 });
    const open = (): ByteStream => {
      const [client, srv] = createStreamPair(clock);
      server.handleConnection(srv);
      return client;
    };
    open().write(Uint8Array.from("GET / HTTP/1.1\r\nHost: h\r\n", (ch) => ch.charCodeAt(0)));
    clock.run(10);
    open();
    clock.run(600);
    open().write(Uint8Array.from("GET / HTTP/1.1\nHost: h\r\n\r\n", (ch) => ch.charCodeAt(0)));
    clock.run(700);
    const c = httpCounters(server.stats);
    expect(c).toMatchObject({
      "http.connections": 2,
      "http.rejectedConnections": 1,
      "http.rejectedPerSource": 1,
      "http.reclaimedSlow": 1,
      "http.parseErrors": 1,
      "http.parseErrors.bare-lf": 1,
      "http.closedAfterError": 2,
    });
    expect(formatCounters({ "http.requests": 0, "http.open": 0, ...c })).toBe(
      "http req 0  http open/conn 0/2  http refused/per-source 1/1  http reclaimed idle/slow 0/1  " +
        "http closed after-error/unread-body 2/0  http parse errors bare-lf:1",
    );
    expect(formatCounters({ rxFrames: 12, rxBytes: 3456, txFrames: 1, txBytes: 60, dropped: 0 })).toBe("rx 12/3.46 kB  tx 1/60 B  dropped 0");
  });

  it("shows the IPv6 groups (ip6 rx/tx, echo6 in/out) for a dual stack that answered a ping6, and not for a v4-only stack", () => {
    const clock = createVirtualClock();
    const pair = createDevicePair(clock);
    const a = createStack(
      { device: pair.a, clock, rng: createRng(1) },
      { ipv4: { cidr: "192.0.2.2/24" }, ipv6: { addresses: ["2001:db8::2/64"], dadTransmits: 0, routerSolicitations: false } },
    );
    const b = createStack(
      { device: pair.b, clock, rng: createRng(2) },
      { ipv6: { addresses: ["2001:db8::1/64"], dadTransmits: 0, routerSolicitations: false } },
    );
    let replied = false;
    b.icmpv6!.ping(ipv6("2001:db8::2"), { timeoutMs: 1000 }, (r) => {
      replied = r.ok;
    });
    clock.run(100);
    expect(replied).toBe(true);
    const groups = formatCounters(flattenCounters(a.counters()))
      .split("  ")
      .filter((g) => /^(ip6|echo6) /.test(g));
    expect(groups).toEqual([expect.stringMatching(/^ip6 rx\/tx [1-9]\d*\/[1-9]\d*$/), "echo6 in/out 1/0"]);
    const v4only = createStack({ device: createDevicePair(clock).a, clock, rng: createRng(3) }, { ipv4: { cidr: "192.0.2.3/24" } });
    expect(formatCounters(flattenCounters(v4only.counters()))).not.toMatch(/ip6|echo6/);
  });

  it("shows the ARP groups once a spoofed ARP moved a known address and packets waited for a host that never answered", () => {
    const clock = createVirtualClock();
    const pair = createDevicePair(clock);
    const stack = createStack({ device: pair.b, clock, rng: createRng(1) }, { ipv4: { cidr: "192.0.2.2/24" } });
    pair.a.onReceive(() => {});
    const arpGroups = (): string[] =>
      formatCounters(flattenCounters(stack.counters()))
        .split("  ")
        .filter((g) => /^arp (pending|changed)/.test(g));
    clock.run(5000);
    expect(arpGroups()).toEqual([]);
    const arpFrame = (senderMac: number): Uint8Array => {
      const f = new Uint8Array(42);
      emitEthernet({ dst: 0xffffffffffff, src: senderMac, ethertype: 0x0806 }, f);
      emitArp({ operation: "request", senderMac, senderIp: 0xc0000201, targetMac: 0, targetIp: 0xc0000202 }, f, 14);
      return f;
    };
    pair.a.send({ data: arpFrame(0x020000000001) });
    clock.run(clock.now() + 2000);
    pair.a.send({ data: arpFrame(0x02000000bad0) });
    stack.ipv4.send(0xc0000263, 253, new Uint8Array(8));
    clock.run(clock.now() + 10_000);
    expect(arpGroups()).toEqual(["arp pending-drops/failed 1/1", "arp changed/lock-refused 1/0"]);
  });

  it("shows the TCP groups only once a SYN flood, TIME-WAITs or challenge ACKs made them non-zero", () => {
    const tcpGroups = (c: Record<string, number>): string[] =>
      formatCounters(c)
        .split("  ")
        .filter((g) => g.startsWith("tcp ") && !g.startsWith("tcp seg"));
    const zero = {
      "tcp.segmentsReceived": 0,
      "tcp.segmentsSent": 0,
      "tcp.synCookiesSent": 0,
      "tcp.synCookiesAccepted": 0,
      "tcp.synQueueDropped": 0,
      "tcp.synQueuePruned": 0,
      "tcp.timeWaitCount": 0,
      "tcp.timeWaitDropped": 0,
      "tcp.challengeAcks": 0,
      "tcp.challengeAcksSuppressed": 0,
    };
    expect(tcpGroups(zero)).toEqual([]);
    const peer = createTcpTestPeer({ synQueueSize: 8, maxTimeWait: 1 });
    const l = unwrap(peer.tcp.listen(80));
    l.onConnection((s) => s.end());
    for (let i = 0; i < 10; i++) peer.inject({ flags: TCP_FLAG_SYN, srcPort: 1000 + i, seq: 1, options: linuxSynOptions(1) });
    peer.clock.run(100_000);
    const counters = Object.fromEntries(Object.entries(peer.tcp.stats).map(([k, v]) => [`tcp.${k}`, v as number]));
    expect(tcpGroups(counters)).toEqual(["tcp syn-cookies sent/accepted 2/0", "tcp syn-queue drops/pruned 0/4"]);
  });
});
