import { describe, it, expect } from "vitest";
import fc from "fast-check";
import { createVirtualClock, createRng, type VirtualClock } from "../../time.ts";
import { unwrap } from "../../result.ts";
import { IPV4_BROADCAST } from "../../wire/address.ts";
import {
  type DhcpRepr,
  emitDhcp,
  parseDhcp,
  DhcpMessageType,
  DhcpOption,
  DHCP_FLAG_BROADCAST,
  messageType,
  requestedIp,
  serverId,
  clientId,
  parameterRequestList,
  maxMessageSize,
  hostName,
  findOption,
  optionMessageType,
  optionIpv4,
  optionU32,
  optionIpv4List,
  optionString,
  optionU8,
  macToChaddr,
  BOOTREPLY,
} from "../../wire/dhcp.ts";
import { createDhcpClient, type DhcpClientOptions } from "./client.ts";
import { createUdpSegment, type SegmentHost, type UdpSegment } from "./test-helpers.ts";
import type { AddressProber, ClientLeaseStore, DhcpLease } from "./types.ts";

const MAC = 0x02005e0010aa;
const SERVER = 0xc0000201; // 192.0.2.1
const ADDR = 0xc0000264; // 192.0.2.100
const sec = 1000;

/** A scripted server: answers each client message with whatever `respond` returns. */
function scriptedServer(
  seg: UdpSegment,
  respond: (m: DhcpRepr) => { type: number; yiaddr?: number; lease?: number; server?: number } | undefined,
): SegmentHost {
  const host = seg.attach("server", { address: SERVER, prefixLength: 24 });
  const sock = unwrap(host.udp.bind(67));
  sock.onMessage((d) => {
    const parsed = parseDhcp(d.payload);
    if (!parsed.ok) return;
    const m = parsed.value;
    const a = respond(m);
    if (!a) return;
    const leaseTime = a.lease ?? 3600;
    const options = [optionMessageType(a.type as 2), optionIpv4(DhcpOption.SERVER_ID, a.server ?? SERVER)];
    if (a.type !== DhcpMessageType.NAK) {
      options.push(
        optionU32(DhcpOption.LEASE_TIME, leaseTime),
        optionIpv4(DhcpOption.SUBNET_MASK, 0xffffff00),
        optionIpv4List(DhcpOption.ROUTER, [SERVER]),
        optionIpv4List(DhcpOption.DNS_SERVER, [0xc0000235, 0xc0000236]),
        optionString(DhcpOption.DOMAIN_NAME, "lab.example"),
      );
    }
    const reply = emitDhcp({
      op: BOOTREPLY,
      htype: 1,
      hops: 0,
      xid: m.xid,
      secs: 0,
      flags: m.flags,
      ciaddr: m.ciaddr,
      yiaddr: a.type === DhcpMessageType.NAK ? 0 : (a.yiaddr ?? ADDR),
      siaddr: 0,
      giaddr: 0,
      chaddr: m.chaddr,
      sname: "",
      file: "",
      options,
    });
    sock.sendTo(m.ciaddr !== 0 && a.type !== DhcpMessageType.NAK ? m.ciaddr : IPV4_BROADCAST, 68, reply, { broadcast: true });
  });
  return host;
}

function memoryLeaseStore(initial?: DhcpLease): ClientLeaseStore & { value: DhcpLease | undefined } {
  const s = {
    value: initial,
    load: () => s.value,
    save: (l: DhcpLease) => {
      s.value = l;
    },
    clear: () => {
      s.value = undefined;
    },
  };
  return s;
}

function setup(opts: DhcpClientOptions = {}, extra: { prober?: AddressProber; store?: ClientLeaseStore; seed?: number } = {}) {
  const clock: VirtualClock = createVirtualClock();
  const seg = createUdpSegment(clock);
  const host = seg.attach("client");
  const client = createDhcpClient(
    {
      clock,
      rng: createRng(extra.seed ?? 7),
      udp: host.udp,
      ipv4: host.ipv4,
      mac: MAC,
      ...(extra.prober ? { prober: extra.prober } : {}),
      ...(extra.store ? { leaseStore: extra.store } : {}),
    },
    { initDelayMinMs: 0, initDelayMaxMs: 0, ...opts },
  );
  const states: string[] = [];
  client.onStateChange((s) => states.push(s));
  const fromClient = () => seg.log.filter((r) => r.from === "client");
  return { clock, seg, host, client, states, fromClient };
}

/** Standard DORA responder: OFFER to DISCOVER, ACK to REQUEST. */
const dora =
  (lease = 3600) =>
  (m: DhcpRepr) => {
    const t = messageType(m);
    if (t === DhcpMessageType.DISCOVER) return { type: DhcpMessageType.OFFER, lease };
    if (t === DhcpMessageType.REQUEST) return { type: DhcpMessageType.ACK, lease };
    return undefined;
  };

describe("DHCP client: acquisition", () => {
  it("runs DISCOVER, OFFER, REQUEST, ACK and configures address, prefix and gateway", () => {
    const t = setup({ hostName: "node1" });
    scriptedServer(t.seg, dora());
    t.client.start();
    t.clock.run(10 * sec);
    const [discover, request] = t.fromClient();
    expect(discover!.src).toBe(0);
    expect(discover!.dst).toBe(IPV4_BROADCAST);
    expect(discover!.dstPort).toBe(67);
    expect(discover!.srcPort).toBe(68);
    const d = discover!.repr!;
    expect(messageType(d)).toBe(DhcpMessageType.DISCOVER);
    expect(d.flags).toBe(DHCP_FLAG_BROADCAST);
    expect(d.ciaddr).toBe(0);
    expect(Buffer.from(d.chaddr).toString("hex")).toBe("02005e0010aa");
    expect(Buffer.from(clientId(d)!).toString("hex")).toBe("0102005e0010aa");
    expect(parameterRequestList(d)).toEqual([1, 3, 6, 12, 15, 28, 51, 54, 58, 59]);
    expect(maxMessageSize(d)).toBe(576);
    expect(hostName(d)).toBe("node1");
    expect(serverId(d)).toBeUndefined();

    const r = request!.repr!;
    expect(messageType(r)).toBe(DhcpMessageType.REQUEST);
    expect(r.xid).toBe(d.xid);
    expect(r.ciaddr).toBe(0);
    expect(request!.src).toBe(0);
    expect(request!.dst).toBe(IPV4_BROADCAST);
    expect(serverId(r)).toBe(SERVER);
    expect(requestedIp(r)).toBe(ADDR);

    expect(t.client.state).toBe("bound");
    expect(t.host.ipv4.cidr).toEqual({ address: ADDR, prefixLength: 24 });
    expect(t.host.ipv4.gateway).toBe(SERVER);
    const lease = t.client.lease!;
    expect(lease.dnsServers).toEqual([0xc0000235, 0xc0000236]);
    expect(lease.domainName).toBe("lab.example");
    expect(lease.leaseTime).toBe(3600);
    expect(lease.renewAt - lease.acquiredAt).toBe(1800 * sec);
    expect(lease.rebindAt - lease.acquiredAt).toBe(3150 * sec);
    expect(t.states).toEqual(["init", "selecting", "requesting", "bound"]);
  });

  it("retransmits DISCOVER after 4, 8, 16, 32, 64, 64 s, each within ±1 s, with secs counting up", () => {
    const t = setup();
    t.client.start();
    t.clock.run(200 * sec);
    const times = t.fromClient().map((r) => r.at);
    const gaps = times.slice(1).map((x, i) => x - times[i]!);
    const nominal = [4, 8, 16, 32, 64, 64];
    expect(gaps.length).toBeGreaterThanOrEqual(nominal.length);
    nominal.forEach((n, i) => {
      expect(gaps[i]!).toBeGreaterThanOrEqual((n - 1) * sec);
      expect(gaps[i]!).toBeLessThanOrEqual((n + 1) * sec);
    });
    expect(new Set(gaps.map((g, i) => g - nominal[i]! * sec)).size).toBeGreaterThan(1);
    const secs = t.fromClient().map((r) => r.repr!.secs);
    expect(secs[0]).toBe(0);
    expect(secs[3]).toBe(Math.floor((times[3]! - times[0]!) / sec));
    expect(new Set(t.fromClient().map((r) => r.repr!.xid)).size).toBe(1);
  });

  it("waits a random 1 to 10 s in INIT before the first DISCOVER by default (RFC 2131 §4.4.1)", () => {
    const clock = createVirtualClock();
    const seg = createUdpSegment(clock);
    const host = seg.attach("client");
    const client = createDhcpClient({ clock, rng: createRng(3), udp: host.udp, ipv4: host.ipv4, mac: MAC });
    client.start();
    clock.run(11 * sec, 1);
    expect(seg.log[0]!.at).toBeGreaterThanOrEqual(1 * sec);
    expect(seg.log[0]!.at).toBeLessThanOrEqual(10 * sec);
  });

  it("goes back to INIT after maxRequestAttempts unanswered REQUESTs", () => {
    const t = setup({ maxRequestAttempts: 2 });
    scriptedServer(t.seg, (m) => (messageType(m) === DhcpMessageType.DISCOVER ? { type: DhcpMessageType.OFFER } : undefined));
    t.client.start();
    t.clock.run(15 * sec);
    const types = t.fromClient().map((r) => messageType(r.repr!));
    expect(types.slice(0, 4)).toEqual([1, 3, 3, 1]);
    expect(t.states.slice(0, 5)).toEqual(["init", "selecting", "requesting", "init", "selecting"]);
  });

  it("ignores replies with another xid or chaddr and an ACK from a server it did not select", () => {
    const t = setup();
    const host = scriptedServer(t.seg, (m) =>
      messageType(m) === DhcpMessageType.DISCOVER ? { type: DhcpMessageType.OFFER } : { type: DhcpMessageType.ACK, server: 0xc0000209 },
    );
    void host;
    t.client.start();
    t.clock.run(3 * sec);
    expect(t.client.state).toBe("requesting");
    expect(t.client.stats.ignored).toBeGreaterThan(0);
  });

  it("restarts from INIT on NAK in REQUESTING", () => {
    const t = setup();
    scriptedServer(t.seg, (m) => (messageType(m) === DhcpMessageType.DISCOVER ? { type: DhcpMessageType.OFFER } : { type: DhcpMessageType.NAK }));
    t.client.start();
    t.clock.run(500);
    expect(t.states).toEqual(["init", "selecting", "requesting", "init"]);
    expect(t.client.stats.naks).toBe(1);
    t.clock.run(1010);
    expect(t.states.slice(4)).toEqual(["selecting", "requesting", "init"]);
    const discovers = t
      .fromClient()
      .filter((r) => messageType(r.repr!) === DhcpMessageType.DISCOVER)
      .map((r) => r.at);
    expect(discovers[1]! - discovers[0]!).toBe(1000 + 2 + 2);
    expect(t.host.ipv4.cidr).toBeUndefined();
  });
});

describe("DHCP client: lease lifetime", () => {
  it("renews at T1 by unicast from its address with ciaddr and no server id or requested address", () => {
    const t = setup();
    scriptedServer(t.seg, dora(1000));
    t.client.start();
    t.clock.run(1 * sec);
    const acquired = t.client.lease!.acquiredAt;
    t.clock.run(acquired + 500 * sec + 10);
    const renew = t.fromClient()[2]!;
    expect(renew.at).toBe(acquired + 500 * sec);
    expect(renew.dst).toBe(SERVER);
    expect(renew.src).toBe(ADDR);
    expect(renew.repr!.ciaddr).toBe(ADDR);
    expect(renew.repr!.flags).toBe(0);
    expect(requestedIp(renew.repr!)).toBeUndefined();
    expect(serverId(renew.repr!)).toBeUndefined();
    expect(t.client.state).toBe("bound");
    expect(t.client.lease!.expiresAt).toBe(acquired + 1500 * sec);
    expect(t.states).toEqual(["init", "selecting", "requesting", "bound", "renewing", "bound"]);
    expect(t.host.ipv4.configureCalls.length).toBe(1);
  });

  it("retransmits in RENEWING after half the time to T2 (at least 60 s), then rebinds at T2 by broadcast, then expires", () => {
    const t = setup();
    const server = scriptedServer(t.seg, dora(1000));
    t.client.start();
    t.clock.run(1 * sec);
    const l = t.client.lease!;
    server.down = true;
    const lost: string[] = [];
    t.client.onLeaseLost((r) => lost.push(r));
    t.clock.run(l.expiresAt - 1);
    const after = t.fromClient().slice(2);
    // T1 = 500 s, T2 = 875 s: renew at 500, 687.5 (half of 375), 781.25, 841.25 (60 s floor); rebind at 875, ...
    expect(after.map((r) => r.at - l.acquiredAt)).toEqual([500_000, 687_500, 781_250, 841_250, 875_000, 937_500, 997_500]);
    expect(after.slice(0, 4).every((r) => r.dst === SERVER && r.src === ADDR)).toBe(true);
    expect(after.slice(4).every((r) => r.dst === IPV4_BROADCAST && r.src === ADDR && r.repr!.ciaddr === ADDR)).toBe(true);
    expect(t.client.state).toBe("rebinding");
    t.clock.run(l.expiresAt);
    expect(lost).toEqual(["expired"]);
    expect(t.host.ipv4.cidr).toBeUndefined();
    expect(t.client.state === "init" || t.client.state === "selecting").toBe(true);
  });

  it("unconfigures and restarts on NAK while renewing", () => {
    const t = setup();
    let nak = false;
    scriptedServer(t.seg, (m) => (nak ? { type: DhcpMessageType.NAK } : dora(100)(m)));
    t.client.start();
    t.clock.run(1 * sec);
    nak = true;
    t.clock.run(53 * sec);
    expect(t.client.stats.naks).toBe(1);
    expect(t.host.ipv4.configureCalls.at(-1)).toBeUndefined();
    expect(t.states).toContain("renewing");
    expect(t.states.at(-1)).toBe("selecting");
  });

  it("sends RELEASE by unicast on stop and forgets the lease", () => {
    const store = memoryLeaseStore();
    const t = setup({}, { store });
    scriptedServer(t.seg, dora());
    t.client.start();
    t.clock.run(1 * sec);
    expect(store.value?.address).toBe(ADDR);
    t.client.stop();
    const rel = t.fromClient().at(-1)!;
    expect(messageType(rel.repr!)).toBe(DhcpMessageType.RELEASE);
    expect(rel.dst).toBe(SERVER);
    expect(rel.src).toBe(ADDR);
    expect(rel.repr!.ciaddr).toBe(ADDR);
    expect(serverId(rel.repr!)).toBe(SERVER);
    expect(requestedIp(rel.repr!)).toBeUndefined();
    expect(findOption(rel.repr!, DhcpOption.PARAMETER_REQUEST_LIST)).toBeUndefined();
    expect(t.host.ipv4.cidr).toBeUndefined();
    expect(store.value).toBeUndefined();
    expect(t.client.state).toBe("stopped");
    t.clock.run();
    expect(t.clock.pending()).toBe(0);
  });
});

describe("DHCP client: INIT-REBOOT and conflicts", () => {
  const remembered = (expiresAt: number): DhcpLease => ({
    address: ADDR,
    prefixLength: 24,
    gateway: SERVER,
    dnsServers: [],
    domainName: undefined,
    hostName: undefined,
    broadcastAddress: undefined,
    serverId: SERVER,
    leaseTime: 3600,
    acquiredAt: 0,
    renewAt: 1800 * sec,
    rebindAt: 3150 * sec,
    expiresAt,
  });

  it("verifies a remembered lease with a broadcast REQUEST carrying the address but no server id", () => {
    const t = setup({}, { store: memoryLeaseStore(remembered(3600 * sec)) });
    scriptedServer(t.seg, dora());
    t.client.start();
    t.clock.run(1 * sec);
    const req = t.fromClient()[0]!;
    expect(messageType(req.repr!)).toBe(DhcpMessageType.REQUEST);
    expect(req.src).toBe(0);
    expect(req.dst).toBe(IPV4_BROADCAST);
    expect(req.repr!.ciaddr).toBe(0);
    expect(requestedIp(req.repr!)).toBe(ADDR);
    expect(serverId(req.repr!)).toBeUndefined();
    expect(t.client.state).toBe("bound");
    expect(t.states).toEqual(["init-reboot", "rebooting", "bound"]);
  });

  it("falls back to DISCOVER on NAK to INIT-REBOOT", () => {
    const t = setup({}, { store: memoryLeaseStore(remembered(3600 * sec)) });
    scriptedServer(t.seg, (m) => (messageType(m) === DhcpMessageType.REQUEST && serverId(m) === undefined ? { type: DhcpMessageType.NAK } : dora()(m)));
    t.client.start();
    t.clock.run(2 * sec);
    expect(t.fromClient().map((r) => messageType(r.repr!))).toEqual([3, 1, 3]);
    expect(t.client.state).toBe("bound");
  });

  it("starts from INIT with the address as a hint when the remembered lease has expired", () => {
    const clockStart = 5000 * sec;
    const t = setup({}, { store: memoryLeaseStore(remembered(10)) });
    t.clock.advance(clockStart);
    t.client.start();
    t.clock.run(clockStart + 1);
    const d = t.fromClient()[0]!.repr!;
    expect(messageType(d)).toBe(DhcpMessageType.DISCOVER);
    expect(requestedIp(d)).toBe(ADDR);
  });

  it("declines a conflicting address, waits 10 s and starts over", () => {
    let probes = 0;
    const prober: AddressProber = {
      probe: (_a, done) => {
        probes++;
        done(probes === 1);
        return () => {};
      },
    };
    const t = setup({}, { prober });
    scriptedServer(t.seg, dora());
    const lost: string[] = [];
    t.client.onLeaseLost((r) => lost.push(r));
    t.client.start();
    t.clock.run(1 * sec);
    const msgs = t.fromClient();
    const decline = msgs[2]!;
    expect(messageType(decline.repr!)).toBe(DhcpMessageType.DECLINE);
    expect(decline.src).toBe(0);
    expect(decline.dst).toBe(IPV4_BROADCAST);
    expect(requestedIp(decline.repr!)).toBe(ADDR);
    expect(serverId(decline.repr!)).toBe(SERVER);
    expect(decline.repr!.ciaddr).toBe(0);
    expect(lost).toEqual(["conflict"]);
    expect(t.host.ipv4.cidr).toBeUndefined();
    t.clock.run(12 * sec);
    expect(t.fromClient()[3]!.at - decline.at).toBe(10 * sec);
    expect(t.client.state).toBe("bound");
    expect(t.states).toEqual(["init", "selecting", "requesting", "probing", "init", "selecting", "requesting", "probing", "bound"]);
  });
});

describe("DHCP client: hostile input", () => {
  it("survives arbitrary datagrams and arbitrary replies carrying its xid in every state", () => {
    const arbReply = fc.record({
      type: fc.integer({ min: 0, max: 9 }),
      yiaddr: fc.constantFrom(0, ADDR, 0xffffffff, 0x7f000001),
      server: fc.option(fc.constantFrom(SERVER, 0, 0xc0000202), { nil: undefined }),
      lease: fc.option(fc.constantFrom(0, 1, 60, 0xffffffff), { nil: undefined }),
      mask: fc.option(fc.constantFrom(0, 0xffffff00, 0x00ff00ff, 0xffffffff), { nil: undefined }),
      t1: fc.option(fc.nat(), { nil: undefined }),
      junk: fc.option(fc.uint8Array({ maxLength: 400 }), { nil: undefined }),
      wait: fc.nat({ max: 100_000 }),
    });
    fc.assert(
      fc.property(fc.array(arbReply, { maxLength: 25 }), (replies) => {
        const t = setup();
        const server = t.seg.attach("server", { address: SERVER, prefixLength: 24 });
        const sock = unwrap(server.udp.bind(67));
        t.client.start();
        for (const r of replies) {
          t.clock.advance(r.wait);
          const last = t.fromClient().at(-1)?.repr;
          let bytes: Uint8Array;
          if (r.junk !== undefined) bytes = r.junk;
          else {
            const options = [optionU8(DhcpOption.MESSAGE_TYPE, r.type)];
            if (r.server !== undefined) options.push(optionIpv4(DhcpOption.SERVER_ID, r.server));
            if (r.lease !== undefined) options.push(optionU32(DhcpOption.LEASE_TIME, r.lease));
            if (r.mask !== undefined) options.push(optionIpv4(DhcpOption.SUBNET_MASK, r.mask));
            if (r.t1 !== undefined) options.push(optionU32(DhcpOption.RENEWAL_TIME, r.t1));
            bytes = emitDhcp({
              op: BOOTREPLY,
              htype: 1,
              hops: 0,
              xid: last?.xid ?? 0,
              secs: 0,
              flags: 0,
              ciaddr: 0,
              yiaddr: r.yiaddr,
              siaddr: 0,
              giaddr: 0,
              chaddr: macToChaddr(MAC),
              sname: "",
              file: "",
              options,
            });
          }
          sock.sendTo(IPV4_BROADCAST, 68, bytes);
          t.clock.advance(5);
        }
        t.clock.run(t.clock.now() + 200_000);
        expect(["selecting", "requesting", "bound", "renewing", "rebinding", "init", "probing"]).toContain(t.client.state);
        const cidr = t.host.ipv4.cidr;
        if (t.client.state === "bound") {
          expect(cidr?.address).toBe(ADDR);
          expect(cidr!.prefixLength).toBeGreaterThanOrEqual(8);
        }
        t.client.stop();
      }),
      { numRuns: 200 },
    );
  });
});
