import { describe, expect, it } from "vitest";
import { createDevicePair } from "../link/pair.ts";
import { createRng, createVirtualClock } from "../time.ts";
import { createStack } from "../index.ts";
import { formatIpv6, ipv6 } from "../wire/ipv6-address.ts";
import { parseIpv6 } from "../wire/ipv6.ts";
import { readU16 } from "../wire/bytes.ts";
import type { Udp6Datagram } from "./udp6.ts";
import type { Icmpv6ErrorReport } from "../net/ipv6-types.ts";

function twoStacks() {
  const clock = createVirtualClock();
  const pair = createDevicePair(clock, { latencyMs: 1 });
  const a = createStack(
    { device: pair.a, clock, rng: createRng(1) },
    { ipv4: { cidr: "192.0.2.10/24" }, ipv6: { addresses: ["2001:db8::a/64"], routerSolicitations: false } },
  );
  const b = createStack(
    { device: pair.b, clock, rng: createRng(2) },
    { ipv4: { cidr: "192.0.2.11/24" }, ipv6: { addresses: ["2001:db8::b/64"], routerSolicitations: false } },
  );
  clock.run();
  return { clock, pair, a, b };
}

describe("udp over ipv6", () => {
  it("carries datagrams both ways between two stacks, from the address chosen for the destination", () => {
    const t = twoStacks();
    const sb = t.b.udp6!.bind(5353);
    const sa = t.a.udp6!.bind(0);
    if (!sa.ok || !sb.ok) throw new Error("bind");
    const atB: Udp6Datagram[] = [];
    const atA: Udp6Datagram[] = [];
    sb.value.onMessage((d) => {
      atB.push(d);
      sb.value.sendTo(d.src, d.srcPort, Uint8Array.of(9, 9));
    });
    sa.value.onMessage((d) => atA.push(d));
    expect(sa.value.sendTo(ipv6("2001:db8::b"), 5353, Uint8Array.of(1, 2, 3))).toEqual({ ok: true, value: undefined });
    t.clock.run();
    expect(atB.map((d) => [formatIpv6(d.src), d.srcPort, formatIpv6(d.dst), d.dstPort, [...d.payload]])).toEqual([
      ["2001:db8::a", sa.value.localPort, "2001:db8::b", 5353, [1, 2, 3]],
    ]);
    expect(atA.map((d) => [formatIpv6(d.src), [...d.payload]])).toEqual([["2001:db8::b", [9, 9]]]);
    expect(sa.value.localPort).toBeGreaterThanOrEqual(49152);
    // The datagram on the wire: next header 17, 8 + 3 bytes.
    const frame = t.pair.log.find((l) => l.from === "a" && readU16(l.frame.data, 12) === 0x86dd && l.frame.data[14 + 6] === 17)!;
    const ip = parseIpv6(frame.frame.data.subarray(14));
    expect(ip.ok && ip.value.payloadLength).toBe(11);
    expect(t.b.counters().udp6).toMatchObject({ rxDatagrams: 1, delivered: 1, txDatagrams: 1 });
  });

  it("the v6 and v4 port spaces are apart (v6-only sockets): the same port binds in both", () => {
    const t = twoStacks();
    expect(t.a.udp.bind(7000).ok).toBe(true);
    expect(t.a.udp6!.bind(7000).ok).toBe(true);
    expect(t.a.udp6!.bind(7000)).toEqual({ ok: false, error: "in-use" });
  });

  it("a closed port answers with ICMPv6 port unreachable, handed to the sending socket", () => {
    const t = twoStacks();
    const sa = t.a.udp6!.bind(4000);
    if (!sa.ok) throw new Error("bind");
    const errors: Icmpv6ErrorReport[] = [];
    sa.value.onError((e) => errors.push(e));
    sa.value.sendTo(ipv6("2001:db8::b"), 9, new Uint8Array(4));
    t.clock.run();
    expect(errors.map((e) => [e.kind, e.code, formatIpv6(e.from), formatIpv6(e.quote.dst)])).toEqual([["dst-unreachable", 4, "2001:db8::b", "2001:db8::b"]]);
    expect(t.b.counters().udp6).toMatchObject({ portUnreachableSent: 1, drops: { "closed-port": 1 } });
  });

  it("send errors: no route off-link without a router, too big past 65527 bytes, bad port; over the MTU it fragments", () => {
    const t = twoStacks();
    const s = t.a.udp6!.bind(0);
    if (!s.ok) throw new Error("bind");
    expect(s.value.sendTo(ipv6("2001:db8:9::1"), 53, new Uint8Array(1))).toEqual({ ok: false, error: "no-route" });
    expect(s.value.sendTo(ipv6("2001:db8::b"), 53, new Uint8Array(65528))).toEqual({ ok: false, error: "too-big" });
    expect(s.value.sendTo(ipv6("2001:db8::b"), 53, new Uint8Array(1452)).ok).toBe(true);
    const fragmentsBefore = t.a.counters().ipv6?.["txFragments"];
    expect(s.value.sendTo(ipv6("2001:db8::b"), 53, new Uint8Array(1453)).ok).toBe(true);
    expect(t.a.counters().ipv6?.["txFragments"]).toBe(Number(fragmentsBefore) + 2);
    expect(s.value.sendTo(ipv6("2001:db8::b"), 0, new Uint8Array(1))).toEqual({ ok: false, error: "bad-port" });
  });
});
