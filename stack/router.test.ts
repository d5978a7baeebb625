import { describe, expect, it } from "vitest";
import { createDevicePair, type DevicePair } from "./link/pair.ts";
import { unwrap } from "./result.ts";
import { createRng, createVirtualClock } from "./time.ts";
import { createStack } from "./index.ts";
import { createRouter, type RouterOptions } from "./router.ts";
import type { ForwarderOptions } from "./net/forward.ts";
import { parseIpv4 as parseAddress } from "./wire/address.ts";
import { emitEthernet, parseEthernet } from "./wire/ethernet.ts";
import { parseIcmp } from "./wire/icmp.ts";
import { Ipv4Packet, emitIpv4, parseIpv4, type Ipv4Repr } from "./wire/ipv4.ts";
import { internetChecksum } from "./wire/checksum.ts";
import { emitUdp } from "./wire/udp.ts";

const MAC_A = 0x02000000000a;
const MAC_R0 = 0x020000000100;
const MAC_R1 = 0x020000000101;
const MAC_B = 0x02000000000b;
const ip = (s: string) => unwrap(parseAddress(s));
const A_IP = ip("192.0.2.10");
const B_IP = ip("198.51.100.10");
const R0_IP = ip("192.0.2.1");

/** Host A is played by the test on the left wire; router R joins it to host B (a stack) on the right. */
function lab(opts: { rightMtu?: number; forwarding?: ForwarderOptions; routes?: RouterOptions["routes"] } = {}) {
  const clock = createVirtualClock();
  const left = createDevicePair(clock, { macA: MAC_A, macB: MAC_R0 });
  const right = createDevicePair(clock, { macA: MAC_R1, macB: MAC_B, ...(opts.rightMtu === undefined ? {} : { mtu: opts.rightMtu }) });
  const router = createRouter(
    { clock, rng: createRng(7) },
    {
      interfaces: [
        { device: left.b, cidr: "192.0.2.1/24" },
        { device: right.a, cidr: "198.51.100.1/24" },
      ],
      ...(opts.forwarding === undefined ? {} : { forwarding: opts.forwarding }),
      ...(opts.routes === undefined ? {} : { routes: opts.routes }),
    },
  );
  const b = createStack({ device: right.b, clock, rng: createRng(8) }, { ipv4: { cidr: "198.51.100.10/24", gateway: "198.51.100.1" } });
  router.interface(0).arp.addStatic(A_IP, MAC_A);
  clock.run();
  left.log.length = 0;
  right.log.length = 0;
  const inject = (repr: Partial<Ipv4Repr>, payload: Uint8Array, linkDst = MAC_R0): Uint8Array => {
    const full: Ipv4Repr = {
      src: A_IP,
      dst: B_IP,
      protocol: 17,
      ttl: 64,
      tos: 0,
      ident: 0x1234,
      dontFragment: false,
      moreFragments: false,
      fragmentOffset: 0,
      options: new Uint8Array(0),
      ...repr,
      payloadLength: payload.length,
    };
    const f = new Uint8Array(14 + 20 + full.options.length + payload.length);
    emitEthernet({ dst: linkDst, src: MAC_A, ethertype: 0x0800 }, f);
    const hl = emitIpv4(full, f, 14);
    f.set(payload, 14 + hl);
    left.a.send({ data: f });
    clock.run();
    return f.subarray(14);
  };
  return { clock, left, right, router, b, inject };
}

const udp = (src: number, dst: number, payload: Uint8Array): Uint8Array => {
  const u = new Uint8Array(8 + payload.length);
  emitUdp({ srcPort: 5000, dstPort: 9, payload }, u, 0, src, dst);
  return u;
};

/** IPv4 frames one end of a pair sent. */
function ipSent(pair: DevicePair, from: "a" | "b") {
  return pair.log
    .filter((l) => l.from === from && unwrap(parseEthernet(l.frame.data)).ethertype === 0x0800)
    .map((l) => ({
      eth: unwrap(parseEthernet(l.frame.data)),
      ip: unwrap(parseIpv4(l.frame.data.subarray(14))),
      bytes: l.frame.data.subarray(14),
    }));
}

describe("router forwarding (RFC 1812)", () => {
  it("forwards a datagram with the TTL decremented and the header checksum updated incrementally (RFC 1624)", () => {
    const t = lab();
    const rx = unwrap(t.b.udp.bind(9));
    const got: Uint8Array[] = [];
    rx.onMessage((d) => got.push(d.payload));
    const sent = t.inject({ ttl: 64, tos: 0x10 }, udp(A_IP, B_IP, new Uint8Array([1, 2, 3, 4])));
    const out = ipSent(t.right, "a");
    expect(out).toHaveLength(1);
    const f = out[0]!;
    expect(f.eth.src).toBe(MAC_R1);
    expect(f.eth.dst).toBe(MAC_B);
    expect(f.ip).toMatchObject({ src: A_IP, dst: B_IP, ttl: 63, tos: 0x10, ident: 0x1234, protocol: 17 });
    // Only TTL and checksum differ from the datagram A sent, and the checksum verifies.
    const diff = [...f.bytes].flatMap((x, i) => (x === sent[i] ? [] : [i]));
    expect(diff).toEqual([8, 10]);
    expect(internetChecksum(f.bytes.subarray(0, 20))).toBe(0);
    expect(got).toEqual([new Uint8Array([1, 2, 3, 4])]);
    expect(t.router.forwarder.counters()).toMatchObject({ forwarded: 1, forwardedBytes: sent.length });
  });

  it("answers TTL 1 with time exceeded from the incoming interface, quoting the datagram as received", () => {
    const t = lab();
    const sent = t.inject({ ttl: 1 }, udp(A_IP, B_IP, new Uint8Array(8)));
    expect(ipSent(t.right, "a")).toHaveLength(0);
    const back = ipSent(t.left, "b");
    expect(back).toHaveLength(1);
    const e = back[0]!;
    expect(e.eth.dst).toBe(MAC_A);
    expect(e.ip).toMatchObject({ src: R0_IP, dst: A_IP, protocol: 1, ttl: 64, tos: 0xc0, dontFragment: false, payloadLength: 8 + sent.length });
    const icmp = unwrap(parseIcmp(e.bytes.subarray(20)));
    expect(icmp).toEqual({ kind: "time-exceeded", code: 0, original: sent });
    expect(t.router.forwarder.counters().drops).toEqual({ "ttl-exceeded": 1 });
  });

  it("fragments a datagram for a narrower next link, keeping the ident and ending the last fragment without MF", () => {
    const t = lab({ rightMtu: 576 });
    const rx = unwrap(t.b.udp.bind(9));
    const got: Uint8Array[] = [];
    rx.onMessage((d) => got.push(d.payload));
    const data = Uint8Array.from({ length: 1200 }, (_, i) => i & 0xff);
    t.inject({ ttl: 10 }, udp(A_IP, B_IP, data));
    const frags = ipSent(t.right, "a").map((f) => f.ip);
    expect(frags.map((f) => [f.fragmentOffset, f.moreFragments, f.payloadLength, f.ttl, f.ident])).toEqual([
      [0, true, 552, 9, 0x1234],
      [552, true, 552, 9, 0x1234],
      [1104, false, 104, 9, 0x1234],
    ]);
    expect(got).toEqual([data]);
    expect(t.router.forwarder.counters()).toMatchObject({ fragmentedDatagrams: 1, fragmentsSent: 3, forwarded: 1 });
  });

  it("copies only options with the copied flag into fragments after the first (RFC 791 §3.1), and refragments a fragment keeping its offset", () => {
    const t = lab({ rightMtu: 576 });
    // Record Route (7, not copied) and a copied option (0x82, security), padded to 12 bytes.
    const options = Uint8Array.from([7, 3, 4, 0x82, 4, 0xaa, 0xbb, 1, 0, 0, 0, 0]);
    t.inject({ ttl: 10, options }, udp(A_IP, B_IP, new Uint8Array(1100)));
    const frags = ipSent(t.right, "a");
    expect(frags.map((f) => [f.ip.options.length, f.ip.fragmentOffset, f.ip.moreFragments, f.ip.payloadLength])).toEqual([
      [12, 0, true, 544],
      [4, 544, true, 552],
      [4, 1096, false, 12],
    ]);
    expect([...frags[1]!.ip.options]).toEqual([0x82, 4, 0xaa, 0xbb]);
    for (const f of frags) expect(internetChecksum(f.bytes.subarray(0, 20 + f.ip.options.length))).toBe(0);
    // A fragment (offset 800, MF) is split again: offsets continue from 800, MF stays on the last.
    t.right.log.length = 0;
    t.inject({ ttl: 10, ident: 9, moreFragments: true, fragmentOffset: 800 }, new Uint8Array(1000));
    expect(ipSent(t.right, "a").map((f) => [f.ip.fragmentOffset, f.ip.moreFragments, f.ip.payloadLength])).toEqual([
      [800, true, 552],
      [1352, true, 448],
    ]);
  });

  it("answers DF with fragmentation needed carrying the next-hop MTU (RFC 1191 §4)", () => {
    const t = lab({ rightMtu: 1280 });
    const sent = t.inject({ dontFragment: true }, udp(A_IP, B_IP, new Uint8Array(1400)));
    expect(ipSent(t.right, "a")).toHaveLength(0);
    const back = ipSent(t.left, "b");
    expect(back).toHaveLength(1);
    expect(back[0]!.ip).toMatchObject({ src: R0_IP, dst: A_IP, protocol: 1, tos: 0xc0 });
    const icmp = unwrap(parseIcmp(back[0]!.bytes.subarray(20)));
    // 576 - 20 - 8 bytes of the original are quoted (RFC 1812 §4.3.2.3).
    expect(icmp).toEqual({ kind: "dst-unreachable", code: 4, nextHopMtu: 1280, original: sent.subarray(0, 548) });
    expect(t.router.forwarder.counters().drops).toEqual({ "frag-needed": 1 });
  });

  it("answers a destination without a route with net unreachable, and forwards it once a default route exists", () => {
    const t = lab();
    const far = ip("203.0.113.5");
    t.inject({ dst: far }, udp(A_IP, far, new Uint8Array(4)));
    const icmp = unwrap(parseIcmp(ipSent(t.left, "b")[0]!.bytes.subarray(20)));
    expect(icmp).toMatchObject({ kind: "dst-unreachable", code: 0, nextHopMtu: 0 });
    const u = lab({ routes: [{ destination: "default", via: "198.51.100.10" }] });
    u.inject({ dst: far }, udp(A_IP, far, new Uint8Array(4)));
    const out = ipSent(u.right, "a");
    expect(out.map((f) => [f.eth.dst, f.ip.dst, f.ip.ttl])).toEqual([[MAC_B, far, 63]]);
  });

  it("answers with host unreachable once ARP gives up on the next hop (RFC 1812 §5.2.7.1)", () => {
    const t = lab();
    const ghost = ip("198.51.100.99");
    const sent = t.inject({ dst: ghost }, udp(A_IP, ghost, new Uint8Array(4)));
    const arps = t.right.log.filter((l) => l.from === "a" && unwrap(parseEthernet(l.frame.data)).ethertype === 0x0806);
    expect(arps).toHaveLength(3);
    const back = ipSent(t.left, "b");
    expect(back).toHaveLength(1);
    expect(back[0]!.ip).toMatchObject({ src: R0_IP, dst: A_IP, protocol: 1 });
    // The quote is the datagram as it waited for ARP: TTL already decremented.
    const icmp = unwrap(parseIcmp(back[0]!.bytes.subarray(20)));
    expect(icmp).toMatchObject({ kind: "dst-unreachable", code: 1 });
    expect((icmp as { original: Uint8Array }).original[8]).toBe(sent[8]! - 1);
  });

  it("does not forward link-local, broadcast, multicast, martian sources or link-layer broadcasts, and counts each", () => {
    const t = lab();
    const p = new Uint8Array(4);
    t.inject({ src: ip("169.254.1.1") }, udp(ip("169.254.1.1"), B_IP, p));
    t.inject({ dst: ip("169.254.9.9") }, udp(A_IP, ip("169.254.9.9"), p));
    t.inject({ src: ip("127.0.0.1") }, udp(ip("127.0.0.1"), B_IP, p));
    t.inject({ src: ip("0.1.2.3") }, udp(ip("0.1.2.3"), B_IP, p));
    t.inject({ dst: ip("198.51.100.255") }, udp(A_IP, ip("198.51.100.255"), p));
    t.inject({ dst: ip("224.0.0.9") }, udp(A_IP, ip("224.0.0.9"), p), 0x01005e000009);
    t.inject({}, udp(A_IP, B_IP, p), 0xffffffffffff);
    expect(ipSent(t.right, "a")).toHaveLength(0);
    expect(ipSent(t.left, "b")).toHaveLength(0);
    expect(t.router.forwarder.counters().drops).toEqual({
      "link-local": 2,
      "martian-source": 2,
      "directed-broadcast": 1,
      "link-broadcast": 2,
    });
  });

  it("rate-limits its ICMP errors with a token bucket and counts the suppressed ones", () => {
    const t = lab({ forwarding: { errorBurst: 2, errorsPerSecond: 1 } });
    for (let i = 0; i < 3; i++) t.inject({ ttl: 1, ident: i }, udp(A_IP, B_IP, new Uint8Array(4)));
    expect(ipSent(t.left, "b")).toHaveLength(2);
    t.clock.advance(1000);
    t.inject({ ttl: 1, ident: 9 }, udp(A_IP, B_IP, new Uint8Array(4)));
    expect(ipSent(t.left, "b")).toHaveLength(3);
    expect(t.router.forwarder.counters()).toMatchObject({ icmpErrorsSent: 3, icmpRateLimited: 1, drops: { "ttl-exceeded": 4 } });
  });

  it("never sends an error about an ICMP error", () => {
    const t = lab();
    const inner = new Uint8Array(36);
    inner[0] = 3; // an ICMP destination unreachable
    t.inject({ ttl: 1, protocol: 1 }, inner);
    expect(ipSent(t.left, "b")).toHaveLength(0);
    expect(t.router.forwarder.counters().drops).toMatchObject({ "ttl-exceeded": 1, "no-error-about-error": 1 });
  });

  it("answers pings on either interface address and routes its replies by the table", () => {
    const clock = createVirtualClock();
    const left = createDevicePair(clock);
    const right = createDevicePair(clock);
    const router = createRouter(
      { clock, rng: createRng(1) },
      {
        interfaces: [
          { device: left.b, cidr: "192.0.2.1/24" },
          { device: right.a, cidr: "198.51.100.1/24" },
        ],
      },
    );
    const a = createStack({ device: left.a, clock, rng: createRng(2) }, { ipv4: { cidr: "192.0.2.10/24", gateway: "192.0.2.1" } });
    const b = createStack({ device: right.b, clock, rng: createRng(3) }, { ipv4: { cidr: "198.51.100.10/24", gateway: "198.51.100.1" } });
    clock.run();
    const replies: unknown[] = [];
    a.icmp.ping(ip("198.51.100.1"), {}, (r) => replies.push(r.ok ? [r.value.from, r.value.ttl] : r.error));
    a.icmp.ping(B_IP, {}, (r) => replies.push(r.ok ? [r.value.from, r.value.ttl] : r.error));
    b.icmp.ping(A_IP, {}, (r) => replies.push(r.ok ? [r.value.from, r.value.ttl] : r.error));
    clock.run();
    expect(replies).toEqual([
      [ip("198.51.100.1"), 64],
      [B_IP, 63],
      [A_IP, 63],
    ]);
    expect(router.table.format((i) => router.interfaces[i]!.name)).toEqual(["192.0.2.0/24 dev eth0 connected", "198.51.100.0/24 dev eth1 connected"]);
  });

  it("traces a chain of two routers hop by hop (time exceeded from each, then the echo reply)", () => {
    const clock = createVirtualClock();
    const w1 = createDevicePair(clock);
    const w2 = createDevicePair(clock);
    const w3 = createDevicePair(clock);
    createRouter(
      { clock, rng: createRng(1) },
      {
        interfaces: [
          { device: w1.b, cidr: "10.0.1.1/24" },
          { device: w2.a, cidr: "10.0.12.1/30" },
        ],
        routes: [{ destination: "default", via: "10.0.12.2" }],
      },
    );
    createRouter(
      { clock, rng: createRng(2) },
      {
        interfaces: [
          { device: w2.b, cidr: "10.0.12.2/30" },
          { device: w3.a, cidr: "10.0.2.1/24" },
        ],
        routes: [{ destination: "10.0.1.0/24", via: "10.0.12.1" }],
      },
    );
    const a = createStack({ device: w1.a, clock, rng: createRng(3) }, { ipv4: { cidr: "10.0.1.10/24", gateway: "10.0.1.1" } });
    createStack({ device: w3.b, clock, rng: createRng(4) }, { ipv4: { cidr: "10.0.2.10/24", gateway: "10.0.2.1" } });
    clock.run();
    const hops: string[] = [];
    for (const ttl of [1, 2, 3]) {
      a.icmp.ping(ip("10.0.2.10"), { ttl }, (r) => hops.push(r.ok ? `reply ${r.value.ttl}` : `${r.error} ${r.detail ?? ""}`));
      clock.run();
    }
    expect(hops).toEqual([
      `time-exceeded icmp time-exceeded code 0 from ${ip("10.0.1.1")}`,
      `time-exceeded icmp time-exceeded code 0 from ${ip("10.0.12.2")}`,
      "reply 62",
    ]);
  });

  it("with forwarding off is a multihomed host: datagrams for others are dropped and counted", () => {
    const t = lab({ forwarding: { forwarding: false } });
    t.inject({}, udp(A_IP, B_IP, new Uint8Array(4)));
    expect(ipSent(t.right, "a")).toHaveLength(0);
    expect(t.router.forwarder.counters().drops).toEqual({ "forwarding-disabled": 1 });
    expect(new Ipv4Packet(new Uint8Array(20)).bytes.length).toBe(20);
  });
});

describe("a stack with several interfaces and transports", () => {
  it("serves TCP and UDP on each interface's address to hosts on both sides, forwarding off", () => {
    const clock = createVirtualClock();
    const left = createDevicePair(clock);
    const right = createDevicePair(clock);
    const m = createRouter(
      { clock, rng: createRng(1) },
      {
        interfaces: [
          { device: left.b, cidr: "192.0.2.1/24" },
          { device: right.a, cidr: "198.51.100.1/24" },
        ],
        forwarding: { forwarding: false },
        transport: {},
      },
    );
    const a = createStack({ device: left.a, clock, rng: createRng(2) }, { ipv4: { cidr: "192.0.2.10/24", gateway: "192.0.2.1" } });
    const b = createStack({ device: right.b, clock, rng: createRng(3) }, { ipv4: { cidr: "198.51.100.10/24", gateway: "198.51.100.1" } });
    clock.run();
    const server = unwrap(m.tcp!.listen(7));
    server.onConnection((s) => s.onData((d) => s.write(d)));
    const echoed: string[] = [];
    for (const [host, address, text] of [
      [a, "192.0.2.1", "from a"],
      [b, "198.51.100.1", "from b"],
    ] as const) {
      const s = unwrap(host.tcp.connect(ip(address), 7));
      s.onConnect(() => s.write(new TextEncoder().encode(text)));
      s.onData((d) => echoed.push(`${new TextDecoder().decode(d)} via ${address}`));
    }
    const udp = unwrap(m.udp!.bind(53));
    udp.onMessage((d) => {
      udp.sendTo(d.src, d.srcPort, d.payload);
    });
    const answers: string[] = [];
    const client = unwrap(b.udp.bind(4000));
    client.onMessage((d) => answers.push(`${new TextDecoder().decode(d.payload)} from ${d.src === ip("198.51.100.1") ? "eth1" : "?"}`));
    client.sendTo(ip("198.51.100.1"), 53, new TextEncoder().encode("query"));
    clock.run(clock.now() + 1000);
    expect(echoed.sort()).toEqual(["from a via 192.0.2.1", "from b via 198.51.100.1"]);
    expect(answers).toEqual(["query from eth1"]);
    expect(m.ipv4.sourceFor(A_IP)).toBe(ip("192.0.2.1"));
    expect(m.ipv4.sourceFor(B_IP)).toBe(ip("198.51.100.1"));
  });

  it("a TCP connection to the other interface's address answers from that address through the interface toward the client (weak host)", () => {
    const clock = createVirtualClock();
    const left = createDevicePair(clock);
    const right = createDevicePair(clock);
    const m = createRouter(
      { clock, rng: createRng(1) },
      {
        interfaces: [
          { device: left.b, cidr: "192.0.2.1/24" },
          { device: right.a, cidr: "198.51.100.1/24" },
        ],
        forwarding: { forwarding: false },
        transport: {},
      },
    );
    const a = createStack({ device: left.a, clock, rng: createRng(2) }, { ipv4: { cidr: "192.0.2.10/24", gateway: "192.0.2.1" } });
    clock.run();
    const server = unwrap(m.tcp!.listen(7));
    server.onConnection((s) => s.onData((d) => s.write(d)));
    const s = unwrap(a.tcp.connect(ip("198.51.100.1"), 7));
    const echoed: string[] = [];
    s.onConnect(() => s.write(new TextEncoder().encode("hello")));
    s.onData((d) => echoed.push(new TextDecoder().decode(d)));
    clock.run(clock.now() + 1000);
    expect(echoed).toEqual(["hello"]);
    // every segment m sent left through eth0 with the connection's address, 198.51.100.1
    const fromM = ipSent(left, "b").filter((p) => p.ip.protocol === 6);
    expect(fromM.length).toBeGreaterThan(0);
    expect(fromM.every((p) => p.ip.src === ip("198.51.100.1"))).toBe(true);
  });
});
