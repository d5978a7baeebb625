import { describe, expect, it } from "vitest";
import { createDevicePair } from "../link/pair.ts";
import { createRng, createVirtualClock } from "../time.ts";
import { createStack } from "../index.ts";
import { createIpv6TransportAdapter } from "./ipv6-transport-adapter.ts";
import { formatIpv6, ipv6 } from "../wire/ipv6-address.ts";
import { readU16 } from "../wire/bytes.ts";
import { checksumAdd, checksumFinish } from "../wire/checksum.ts";
import { ipv6PseudoHeaderSum, parseIpv6 } from "../wire/ipv6.ts";
import { walkIpv6Chain } from "../wire/ipv6-ext.ts";

function twoStacks(latencyMs = 2) {
  const clock = createVirtualClock();
  const pair = createDevicePair(clock, { latencyMs });
  const a = createStack({ device: pair.a, clock, rng: createRng(1) }, { ipv6: { addresses: ["2001:db8::a/64"], routerSolicitations: false } });
  const b = createStack({ device: pair.b, clock, rng: createRng(2) }, { ipv6: { addresses: ["2001:db8::b/64"], routerSolicitations: false } });
  clock.run();
  return { clock, pair, a, b };
}

describe("TCP over IPv6 (the v4-typed TCP layer through the transport adapter)", () => {
  it("moves 1 MB both ways between two stacks; every segment on the wire carries a correct v6 checksum and an MSS of 1440", () => {
    const t = twoStacks();
    const listener = t.b.tcp6!.listen(8080);
    if (!listener.ok) throw new Error(listener.error);
    const data = new Uint8Array(1 << 20);
    for (let i = 0; i < data.length; i++) data[i] = (i * 13 + (i >>> 11)) & 0xff;
    let atServer = 0;
    let serverRemote = "";
    listener.value.onConnection((s) => {
      serverRemote = formatIpv6(t.b.tcp6!.addressOf(s.remoteAddress)!);
      s.onData((d) => {
        atServer += d.length;
      });
      s.onEnd(() => {
        s.write(data);
        s.end();
      });
    });
    const conn = t.a.tcp6!.connect(ipv6("2001:db8::b"), 8080);
    if (!conn.ok) throw new Error(conn.error);
    const back: Uint8Array[] = [];
    let closed = false;
    conn.value.onConnect(() => {
      conn.value.write(data);
      conn.value.end();
    });
    conn.value.onData((d) => back.push(d.slice()));
    conn.value.onClose(() => {
      closed = true;
    });
    t.clock.run(t.clock.now() + 60_000);
    expect(atServer).toBe(data.length);
    expect(serverRemote).toBe("2001:db8::a");
    const got = Buffer.concat(back);
    expect(got.length).toBe(data.length);
    expect(got.equals(Buffer.from(data))).toBe(true);
    expect(closed).toBe(true);
    // A loss-free link: nothing retransmitted, nothing refused (segments packed in one slab once
    // overwrote each other when IPv6 prepended its header in place).
    expect(t.a.tcp6!.layer.stats.retransmits).toBe(0);
    expect(t.b.tcp6!.layer.stats.retransmits).toBe(0);
    expect(t.b.counters().tcp6Adapter?.drops ?? {}).toEqual({});
    // TCP leaves room for the v6 and Ethernet headers (TCP6_HEADROOM): IPv6 writes its header in place, no segment is copied.
    expect([t.a.counters().ipv6?.["copies"] ?? 0, t.b.counters().ipv6?.["copies"] ?? 0]).toEqual([0, 0]);
    expect(t.a.counters().ipv6?.["txPackets"]).toBeGreaterThan(700);
    let segments = 0;
    const mss: number[] = [];
    for (const l of t.pair.log) {
      if (readU16(l.frame.data, 12) !== 0x86dd) continue;
      const p = l.frame.data.subarray(14);
      const ip = parseIpv6(p);
      const w = walkIpv6Chain(p);
      if (!ip.ok || !w.ok || w.value.upperLayer !== 6) continue;
      const tcp = p.subarray(w.value.offset, 40 + ip.value.payloadLength);
      expect(checksumFinish(checksumAdd(tcp, ipv6PseudoHeaderSum(ip.value.src, ip.value.dst, 6, tcp.length)))).toBe(0);
      expect(p.length).toBeLessThanOrEqual(1500);
      if ((tcp[13]! & 0x02) !== 0 && tcp[20] === 2) mss.push(readU16(tcp, 22));
      segments++;
    }
    expect(segments).toBeGreaterThan(1000);
    expect(mss).toEqual([1440, 1440]);
  });

  it("a SYN to a closed v6 port is answered with a RST whose checksum is right; v4 and v6 TCP ports are apart", () => {
    const t = twoStacks();
    expect(t.b.tcp.listen(9000).ok).toBe(true);
    const conn = t.a.tcp6!.connect(ipv6("2001:db8::b"), 9000);
    if (!conn.ok) throw new Error(conn.error);
    let error: string | undefined;
    conn.value.onClose((e) => {
      error = e;
    });
    t.clock.run(t.clock.now() + 5000);
    expect(error).toBe("ECONNREFUSED");
  });

  it("the handle table is bounded: the least recently used address goes first, and its handle is never reused", () => {
    const t = twoStacks();
    const adapter = createIpv6TransportAdapter({ ipv6: t.a.ipv6!, icmpv6: t.a.icmpv6! }, { checksumOffset: 16, maxHandles: 2 });
    const h1 = adapter.handleOf(ipv6("2001:db8::1"));
    const h2 = adapter.handleOf(ipv6("2001:db8::2"));
    expect(adapter.handleOf(ipv6("2001:db8::1"))).toBe(h1); // a use: ::2 is now the oldest
    const h3 = adapter.handleOf(ipv6("2001:db8::3"));
    expect(new Set([h1, h2, h3]).size).toBe(3);
    expect(adapter.addressOf(h2)).toBeUndefined();
    expect(formatIpv6(adapter.addressOf(h1)!)).toBe("2001:db8::1");
    expect(adapter.counters()).toMatchObject({ handles: 3, evicted: 1 });
    // A send to an evicted handle finds no route instead of reaching someone else.
    expect(adapter.ip.send(h2, 6, new Uint8Array(20))).toEqual({ ok: false, error: "no-route" });
  });

  it("a flood of new addresses does not evict one in use (second chance), and the recent-address shortcut gives the same handles as the table", () => {
    const t = twoStacks();
    const adapter = createIpv6TransportAdapter({ ipv6: t.a.ipv6!, icmpv6: t.a.icmpv6! }, { checksumOffset: 16, maxHandles: 4 });
    const peer = ipv6("2001:db8::b");
    const hPeer = adapter.handleOf(peer);
    const flood: number[] = [];
    for (let i = 1; i <= 40; i++) {
      flood.push(adapter.handleOf(ipv6(`2001:db8:f::${i.toString(16)}`)));
      // A fresh array each time: the shortcut compares bytes, not identity.
      expect(adapter.handleOf(ipv6("2001:db8::b"))).toBe(hPeer);
    }
    expect(formatIpv6(adapter.addressOf(hPeer)!)).toBe("2001:db8::b");
    expect(new Set(flood).size).toBe(40);
    expect(adapter.counters()).toMatchObject({ handles: 41, evicted: 37 });
    // The last three flood addresses are still held, under the handles they were given.
    for (const i of [38, 39, 40]) expect(adapter.handleOf(ipv6(`2001:db8:f::${i.toString(16)}`))).toBe(flood[i - 1]);
    expect(adapter.addressOf(flood[0]!)).toBeUndefined();
  });
});
