// IPv6 forwarding through createRouter (net/forward6.ts), in virtual time: two hosts that
// autoconfigure from the router's RAs on two subnets, ping6 and TCP across, the hop limit,
// Packet Too Big across a 1280-MTU link lowering the sender's PMTU and TCP's MSS, the
// Destination Unreachable codes, link-local and multicast never forwarded, the rate limit.
import { describe, expect, it } from "vitest";
import { createDevicePair, type DevicePair } from "./link/pair.ts";
import { type Result, unwrap } from "./result.ts";
import { createRng, createVirtualClock } from "./time.ts";
import { type Stack, createStack } from "./index.ts";
import { createRouter, type RouterOptions } from "./router.ts";
import type { Ping6Error, Ping6Reply } from "./net/ipv6-types.ts";
import { readU16 } from "./wire/bytes.ts";
import { type Ipv6Address, formatIpv6, ipv6, linkLocalFromMac } from "./wire/ipv6-address.ts";
import { parseIpv6 } from "./wire/ipv6.ts";
import { walkIpv6Chain } from "./wire/ipv6-ext.ts";
import { type Icmpv6Repr, emitIcmpv6, parseIcmpv6 } from "./wire/icmpv6.ts";
import { emitEthernet } from "./wire/ethernet.ts";
import { ipv6Packet } from "./net/ipv6-test-net.ts";

const MAC_A = 0x02000000000a;
const MAC_R0 = 0x020000000100;
const MAC_R1 = 0x020000000101;
const MAC_B = 0x02000000000b;
const R0 = "2001:db8:1::1";
const R1 = "2001:db8:2::1";

function lab(opts: { rightMtu?: number; router?: Partial<RouterOptions>; latencyMs?: number } = {}) {
  const clock = createVirtualClock();
  const latency = opts.latencyMs ?? 1;
  const left = createDevicePair(clock, { macA: MAC_A, macB: MAC_R0, latencyMs: latency });
  const right = createDevicePair(clock, { macA: MAC_R1, macB: MAC_B, latencyMs: latency, ...(opts.rightMtu === undefined ? {} : { mtu: opts.rightMtu }) });
  const router = createRouter(
    { clock, rng: createRng(7) },
    {
      interfaces: [
        { device: left.b, cidr: "192.0.2.1/24", ipv6: [`${R0}/64`] },
        { device: right.a, cidr: "198.51.100.1/24", ipv6: [`${R1}/64`] },
      ],
      ...opts.router,
    },
  );
  const a = createStack({ device: left.a, clock, rng: createRng(1) }, { name: "a", ipv6: { slaac: true } });
  const b = createStack({ device: right.b, clock, rng: createRng(2) }, { name: "b", ipv6: { slaac: true } });
  clock.run(clock.now() + 5000);
  const global = (s: Stack): Ipv6Address => {
    const x = s.ipv6!.ndp.addresses().find((e) => e.origin === "slaac" && e.state === "preferred");
    if (x === undefined) throw new Error(`${s.name} did not autoconfigure`);
    return x.address;
  };
  return { clock, left, right, router, a, b, aAddr: global(a), bAddr: global(b) };
}

type Lab = ReturnType<typeof lab>;

/** a - r1 - (middle link, MTU midMtu) - r2 - b: the narrow link between two routers, so TCP's SYN MSS cannot tell. */
function chain(midMtu: number) {
  const clock = createVirtualClock();
  const l0 = createDevicePair(clock, { macA: MAC_A, macB: MAC_R0, latencyMs: 1 });
  const l1 = createDevicePair(clock, { macA: MAC_R1, macB: 0x020000000200, latencyMs: 1, mtu: midMtu });
  const l2 = createDevicePair(clock, { macA: 0x020000000201, macB: MAC_B, latencyMs: 1 });
  const r1 = createRouter(
    { clock, rng: createRng(7) },
    {
      interfaces: [
        { device: l0.b, cidr: "192.0.2.1/24", ipv6: ["2001:db8:1::1/64"] },
        { device: l1.a, cidr: "10.0.0.1/30", ipv6: ["2001:db8:ff::1/64"], advertise: false },
      ],
      routes: [{ destination: "2001:db8:2::/64", via: "2001:db8:ff::2" }],
    },
  );
  const r2 = createRouter(
    { clock, rng: createRng(8) },
    {
      interfaces: [
        { device: l1.b, cidr: "10.0.0.2/30", ipv6: ["2001:db8:ff::2/64"], advertise: false },
        { device: l2.a, cidr: "198.51.100.1/24", ipv6: ["2001:db8:2::1/64"] },
      ],
      routes: [{ destination: "::/0", via: "2001:db8:ff::1" }],
    },
  );
  const a = createStack({ device: l0.a, clock, rng: createRng(1) }, { ipv6: { slaac: true } });
  const b = createStack({ device: l2.b, clock, rng: createRng(2) }, { ipv6: { addresses: ["2001:db8:2::b/64"], gateway: "fe80::ff:fe00:201" } });
  clock.run(clock.now() + 5000);
  return { clock, l0, l1, l2, r1, r2, a, b, bAddr: ipv6("2001:db8:2::b") };
}

function ping(t: Lab, from: Stack, dst: Ipv6Address, o: { size?: number; hopLimit?: number; timeoutMs?: number } = {}): Result<Ping6Reply, Ping6Error> {
  let r: Result<Ping6Reply, Ping6Error> | undefined;
  from.icmpv6!.ping(dst, { timeoutMs: 5000, ...o }, (x) => {
    r = x;
  });
  t.clock.run(t.clock.now() + 10_000);
  if (r === undefined) throw new Error("no ping outcome");
  return r;
}

/** ICMPv6 errors (type < 128) one end of a pair sent, with the IPv6 header's fields. */
function icmpErrors(pair: DevicePair, from: "a" | "b") {
  const out: { src: string; dst: string; hopLimit: number; length: number; icmp: Icmpv6Repr }[] = [];
  for (const l of pair.log) {
    if (l.from !== from || readU16(l.frame.data, 12) !== 0x86dd) continue;
    const p = l.frame.data.subarray(14);
    const ip = unwrap(parseIpv6(p));
    const w = unwrap(walkIpv6Chain(p));
    if (w.upperLayer !== 58 || p[w.offset]! >= 128) continue;
    const icmp = unwrap(parseIcmpv6(p.subarray(w.offset, 40 + ip.payloadLength), ip.src, ip.dst));
    out.push({ src: formatIpv6(ip.src), dst: formatIpv6(ip.dst), hopLimit: ip.hopLimit, length: p.length, icmp });
  }
  return out;
}

/** Sends a raw IPv6 packet from host A's wire to the router's MAC (or another link address). */
function inject(t: Lab, packet: Uint8Array, linkDst = MAC_R0): void {
  const f = new Uint8Array(14 + packet.length);
  emitEthernet({ dst: linkDst, src: MAC_A, ethertype: 0x86dd }, f);
  f.set(packet, 14);
  t.left.a.send({ data: f });
  t.clock.run(t.clock.now() + 1000);
}

const echo = (src: Ipv6Address, dst: Ipv6Address, hopLimit: number, size = 56): Uint8Array => {
  const m = new Uint8Array(8 + size);
  emitIcmpv6({ kind: "echo-request", ident: 7, seq: 1, data: new Uint8Array(size) }, m, 0, src, dst);
  return ipv6Packet(src, dst, 58, hopLimit, m);
};

describe("IPv6 forwarding through createRouter", () => {
  it("hosts autoconfigure from the router's RAs on each interface and ping6 across; the reply arrives with the hop limit less one", () => {
    const t = lab();
    expect(formatIpv6(t.aAddr)).toMatch(/^2001:db8:1:/);
    expect(formatIpv6(t.bAddr)).toMatch(/^2001:db8:2:/);
    // The default router each host learnt is the router's link-local address on its link.
    expect(t.a.ipv6!.ndp.routers().map((r) => formatIpv6(r.address))).toEqual([formatIpv6(linkLocalFromMac(MAC_R0))]);
    expect(t.b.ipv6!.ndp.routers().map((r) => formatIpv6(r.address))).toEqual([formatIpv6(linkLocalFromMac(MAC_R1))]);
    const r = unwrap(ping(t, t.a, t.bAddr));
    expect(formatIpv6(r.from)).toBe(formatIpv6(t.bAddr));
    expect(r.hopLimit).toBe(63);
    // The router's far interface answers too (delivered across, the reply routed back by the table).
    const far = unwrap(ping(t, t.a, ipv6(R1)));
    expect(r.hopLimit).toBe(63);
    expect(far.hopLimit).toBe(64);
    const c = t.router.counters().forwarding6!;
    expect(c["forwarded"]).toBe(2);
    expect(c["deliveredAcross"]).toBe(1);
    expect(c["originated"]).toBe(1);
  });

  it("TCP over v6 across the router moves 256 KiB intact both ways with MSS 1440", () => {
    const t = lab();
    const data = new Uint8Array(256 * 1024);
    for (let i = 0; i < data.length; i++) data[i] = (i * 31 + (i >>> 9)) & 0xff;
    const listener = unwrap(t.b.tcp6!.listen(8080));
    const atServer: Uint8Array[] = [];
    listener.onConnection((s) => {
      s.onData((d) => atServer.push(d.slice()));
      s.onEnd(() => {
        s.write(data);
        s.end();
      });
    });
    const conn = unwrap(t.a.tcp6!.connect(t.bAddr, 8080));
    const back: Uint8Array[] = [];
    conn.onConnect(() => {
      conn.write(data);
      conn.end();
    });
    conn.onData((d) => back.push(d.slice()));
    t.clock.run(t.clock.now() + 30_000);
    expect(Buffer.concat(atServer).equals(Buffer.from(data))).toBe(true);
    expect(Buffer.concat(back).equals(Buffer.from(data))).toBe(true);
    const c = t.router.counters().forwarding6!;
    expect(c["forwarded"]).toBeGreaterThan(2 * (data.length / 1440));
    expect(c.drops).toEqual({ multicast: expect.any(Number) });
  });

  it("hop limit 1 (a traceroute's first probe): Time Exceeded code 0 from the router's address on the sender's link, hop limit 64", () => {
    const t = lab();
    const r = ping(t, t.a, t.bAddr, { hopLimit: 1 });
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error).toBe("time-exceeded");
    const errs = icmpErrors(t.left, "b");
    expect(errs).toHaveLength(1);
    expect(errs[0]).toMatchObject({ src: R0, dst: formatIpv6(t.aAddr), hopLimit: 64, icmp: { kind: "time-exceeded", code: 0 } });
    // Hop limit 2 passes: the reply comes from B.
    expect(unwrap(ping(t, t.a, t.bAddr, { hopLimit: 2 })).hopLimit).toBe(63);
    expect(t.router.counters().forwarding6!.drops["hop-limit-exceeded"]).toBe(1);
  });

  it("an error quotes as much of the packet as fits in 1280 bytes: 1232 of a 1440-byte probe", () => {
    const t = lab();
    ping(t, t.a, t.bAddr, { hopLimit: 1, size: 1392 });
    const errs = icmpErrors(t.left, "b");
    expect(errs).toHaveLength(1);
    expect(errs[0]!.length).toBe(1280);
    const e = errs[0]!.icmp;
    if (e.kind !== "time-exceeded") throw new Error(e.kind);
    expect(e.original.length).toBe(1232);
  });

  it("no fragmentation by the router: Packet Too Big with the next link's MTU (1280); the host lowers its PMTU and TCP its MSS, and the data arrives", () => {
    const t = lab({ rightMtu: 1280 });
    const big = ping(t, t.a, t.bAddr, { size: 1400 });
    expect(big.ok).toBe(false);
    if (!big.ok) expect(big.error).toBe("packet-too-big");
    const errs = icmpErrors(t.left, "b");
    expect(errs).toHaveLength(1);
    expect(errs[0]).toMatchObject({ src: R0, icmp: { kind: "packet-too-big", mtu: 1280 } });
    expect(t.a.ipv6!.mtuTo(t.bAddr)).toBe(1280);
    // The next ping of that size is fragmented by the source (RFC 8200 §4.5) and answered.
    expect(unwrap(ping(t, t.a, t.bAddr, { size: 1400 })).bytes).toBe(1400);
  });

  it("TCP meets a 1280-MTU link between two routers: the PTB lowers the sender's PMTU and its segments, and 64 KiB arrive intact", () => {
    const u = chain(1280);
    const data = new Uint8Array(64 * 1024).map((_, i) => i & 0xff);
    const listener = unwrap(u.b.tcp6!.listen(9000));
    const got: Uint8Array[] = [];
    listener.onConnection((s) => s.onData((d) => got.push(d.slice())));
    const conn = unwrap(u.a.tcp6!.connect(u.bAddr, 9000));
    conn.onConnect(() => conn.write(data));
    u.clock.run(u.clock.now() + 30_000);
    expect(Buffer.concat(got).equals(Buffer.from(data))).toBe(true);
    expect(u.a.ipv6!.mtuTo(u.bAddr)).toBe(1280);
    const ptb = icmpErrors(u.l0, "b").filter((e) => e.icmp.kind === "packet-too-big");
    expect(ptb.length).toBeGreaterThanOrEqual(1);
    expect(ptb[0]).toMatchObject({ src: "2001:db8:1::1", icmp: { mtu: 1280 } });
    expect(u.r1.counters().forwarding6!.drops["packet-too-big"]).toBe(ptb.length);
    // After the first PTB every segment A sends fits in 1280 bytes (the MSS follows the PMTU).
    const firstPtb = u.l0.log.findIndex((l) => l.from === "b" && readU16(l.frame.data, 12) === 0x86dd && l.frame.data[14 + 6] === 58 && l.frame.data[54] === 2);
    const later = u.l0.log.slice(firstPtb + ptb.length + 4).filter((l) => l.from === "a" && readU16(l.frame.data, 12) === 0x86dd);
    expect(later.length).toBeGreaterThan(40);
    for (const l of later) expect(l.frame.data.length - 14).toBeLessThanOrEqual(1280);
    // No IPv6 frame over 1280 bytes ever crossed the narrow link.
    for (const l of u.l1.log) if (readU16(l.frame.data, 12) === 0x86dd) expect(l.frame.data.length - 14).toBeLessThanOrEqual(1280);
  });

  it("Destination Unreachable: code 0 without a route, code 3 after NUD fails for the next hop", () => {
    const t = lab();
    const r = ping(t, t.a, ipv6("2001:db8:9::1"));
    expect(r.ok).toBe(false);
    const nowhere = ping(t, t.a, ipv6("2001:db8:2::99"));
    expect(nowhere.ok).toBe(false);
    if (!nowhere.ok) expect(nowhere.error).toBe("unreachable");
    const errs = icmpErrors(t.left, "b");
    expect(errs.map((e) => [e.icmp.kind, "code" in e.icmp ? e.icmp.code : -1])).toEqual([
      ["dst-unreachable", 0],
      ["dst-unreachable", 3],
    ]);
    const c = t.router.counters();
    expect(c.forwarding6!.drops["no-route"]).toBe(1);
    expect(c["eth1.ndp"]!.drops["resolution-failed"]).toBe(1);
  });

  it("link-local sources and destinations are never forwarded (a link-local source towards a global one: code 2, as Linux); multicast is not forwarded; all counted", () => {
    const t = lab();
    const aLl = linkLocalFromMac(MAC_A);
    inject(t, echo(aLl, t.bAddr, 64));
    inject(t, echo(t.aAddr, linkLocalFromMac(MAC_B), 64));
    inject(t, echo(t.aAddr, ipv6("ff0e::1"), 64), 0x333300000001);
    // A unicast packet in a link-layer multicast frame is not forwarded either.
    inject(t, echo(t.aAddr, t.bAddr, 64), 0x333300000001);
    expect(
      t.right.log.filter((l) => l.from === "a" && readU16(l.frame.data, 12) === 0x86dd && l.frame.data[14 + 6] === 58 && l.frame.data[54] === 128),
    ).toEqual([]);
    const d = t.router.counters().forwarding6!.drops;
    expect(d["link-local"]).toBe(2);
    expect(d["link-multicast"]).toBe(1);
    expect(d["multicast"]).toBeGreaterThanOrEqual(1);
    const errs = icmpErrors(t.left, "b");
    expect(errs).toHaveLength(1);
    expect(errs[0]).toMatchObject({ dst: formatIpv6(aLl), icmp: { kind: "dst-unreachable", code: 2 } });
    expect(errs[0]!.src).toMatch(/^fe80::/);
  });

  it("errors are rate-limited by a token bucket (burst 50, then 100/s) and the excess is counted", () => {
    const t = lab({ router: { forwarding6: { errorBurst: 5, errorsPerSecond: 1 } } });
    for (let i = 0; i < 20; i++) {
      const f = new Uint8Array(14 + 104);
      emitEthernet({ dst: MAC_R0, src: MAC_A, ethertype: 0x86dd }, f);
      f.set(echo(t.aAddr, t.bAddr, 1), 14);
      t.left.a.send({ data: f });
    }
    t.clock.run(t.clock.now() + 100);
    expect(icmpErrors(t.left, "b")).toHaveLength(5);
    const c = t.router.counters().forwarding6!;
    expect(c["icmpRateLimited"]).toBe(15);
    expect(c.drops["hop-limit-exceeded"]).toBe(20);
  });

  it("static IPv6 routes: a second router behind the first is reached through a gateway", () => {
    const { clock, r1, r2, a } = chain(1500);
    expect(r1.table6.format((i) => `eth${i}`)).toEqual([
      "2001:db8:1::/64 dev eth0 connected",
      "2001:db8:ff::/64 dev eth1 connected",
      "2001:db8:2::/64 via 2001:db8:ff::2 dev eth1 static",
    ]);
    let reply: Result<Ping6Reply, Ping6Error> | undefined;
    a.icmpv6!.ping(ipv6("2001:db8:2::b"), { timeoutMs: 5000 }, (x) => {
      reply = x;
    });
    clock.run(clock.now() + 6000);
    expect(unwrap(reply!).hopLimit).toBe(62);
    expect(r2.counters().forwarding6!["forwarded"]).toBe(2);
    expect(() =>
      createRouter(
        { clock, rng: createRng(9) },
        {
          interfaces: [{ device: createDevicePair(clock).a, cidr: "10.9.0.1/24", ipv6: ["2001:db8:9::1/64"] }],
          routes: [{ destination: "2001:db8:5::/64", via: "2001:db8:7::1" }],
        },
      ),
    ).toThrow(/no IPv6 interface reaches 2001:db8:7::1/);
  });
});
