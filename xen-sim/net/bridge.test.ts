import { describe, expect, it } from "vitest";
import type { Frame, NetDevice, Offloads } from "../../stack/link/types.ts";
import { NO_OFFLOADS } from "../../stack/link/types.ts";
import { createVirtualClock } from "../../stack/time.ts";
import { ipv6Packet } from "../../stack/net/ipv6-test-net.ts";
import { writeU16 } from "../../stack/wire/bytes.ts";
import { checksumAdd, checksumFinish, fold } from "../../stack/wire/checksum.ts";
import { ipv6 } from "../../stack/wire/ipv6-address.ts";
import { ipv6PseudoHeaderSum } from "../../stack/wire/ipv6.ts";
import { createBridge } from "./bridge.ts";

function port(offloads: Offloads = NO_OFFLOADS) {
  const out: Frame[] = [];
  let rx: (f: Frame) => void = () => {};
  const dev: NetDevice = {
    mac: 0,
    mtu: 1500,
    offloads,
    send: (f) => out.push(f),
    onReceive: (h) => {
      rx = h;
    },
  };
  return { dev, out, inject: (f: Frame) => rx(f) };
}

function eth(dst: number, src: number, len = 60): Uint8Array {
  const f = new Uint8Array(len);
  for (let i = 0; i < 6; i++) {
    f[i] = Math.floor(dst / 2 ** (8 * (5 - i))) & 255;
    f[6 + i] = Math.floor(src / 2 ** (8 * (5 - i))) & 255;
  }
  f[12] = 0x88;
  f[13] = 0xb5;
  return f;
}

/** A bridge joining two ports without offloads: pa (ingress) and pb, whose BridgePort is b. */
function plainPair() {
  const br = createBridge({ clock: createVirtualClock() });
  const [pa, pb] = [port(), port()];
  br.attach(pa.dev);
  return { pa, pb, b: br.attach(pb.dev) };
}

const A = 0x020000000001,
  B = 0x020000000002,
  C = 0x020000000003;

describe("bridge", () => {
  it("floods unknown destinations as separate buffers, learns sources and then forwards to one port", () => {
    const clock = createVirtualClock();
    const br = createBridge({ clock });
    const [pa, pb, pc] = [port(), port(), port()];
    br.attach(pa.dev, { name: "a" });
    br.attach(pb.dev, { name: "b" });
    br.attach(pc.dev, { name: "c" });
    const f = eth(B, A);
    pa.inject({ data: f });
    expect(pb.out.length).toBe(1);
    expect(pc.out.length).toBe(1);
    expect(pb.out[0]!.data).not.toBe(pc.out[0]!.data);
    expect(pb.out[0]!.data).toEqual(f);
    expect(br.lookup(A)).toBe("a");
    pb.inject({ data: eth(A, B) });
    expect(pa.out.length).toBe(1);
    expect(pc.out.length).toBe(1);
    expect(br.stats()).toMatchObject({ received: 2, flooded: 1, forwarded: 1, learned: 2 });
  });

  it("filters frames whose destination sits on the ingress port, counts runts, and forgets entries after agingMs", () => {
    const clock = createVirtualClock();
    const br = createBridge({ clock }, { agingMs: 1000 });
    const [pa, pb] = [port(), port()];
    br.attach(pa.dev);
    br.attach(pb.dev);
    pa.inject({ data: eth(0xffffffffffff, A) });
    pa.inject({ data: eth(C, C) });
    pa.inject({ data: eth(A, B) });
    expect(br.stats().filtered).toBe(2);
    pa.inject({ data: new Uint8Array(10) });
    expect(br.stats().runts).toBe(1);
    clock.advance(1001);
    expect(br.lookup(A)).toBeUndefined();
    pb.inject({ data: eth(A, B) });
    expect(pa.out.length).toBe(1);
    expect(br.stats().aged).toBe(1);
  });

  it("holds at most maxMacEntries, evicting the least recently seen; a detached port is forgotten", () => {
    const clock = createVirtualClock();
    const br = createBridge({ clock }, { maxMacEntries: 2 });
    const [pa, pb] = [port(), port()];
    br.attach(pa.dev);
    const b = br.attach(pb.dev, { name: "b" });
    pa.inject({ data: eth(C, A) });
    pb.inject({ data: eth(C, B) });
    pa.inject({ data: eth(C, C + 1) });
    expect(br.stats().evicted).toBe(1);
    expect(br.lookup(A)).toBeUndefined();
    expect(br.lookup(B)).toBe("b");
    b.detach();
    expect(br.lookup(B)).toBeUndefined();
    expect(br.ports().length).toBe(1);
  });

  it("passes csumBlank and GSO frames unchanged to a port that offers the offloads", () => {
    const clock = createVirtualClock();
    const br = createBridge({ clock });
    const pa = port();
    const pb = port({ txChecksum: true, tso: true, maxGsoFrame: 65535 });
    br.attach(pa.dev);
    br.attach(pb.dev);
    const f: Frame = { data: eth(B, A, 3000), offload: { csumBlank: true, gsoSize: 1448 } };
    pa.inject(f);
    expect(pb.out).toEqual([f]);
  });

  it("drops a non-GSO frame longer than the egress MTU + 18 and counts it by reason, as Linux's is_skb_forwardable; a GSO frame passes", () => {
    const clock = createVirtualClock();
    const br = createBridge({ clock });
    const pa = port();
    const pb = port({ txChecksum: true, tso: true, maxGsoFrame: 65535 });
    br.attach(pa.dev);
    const b = br.attach(pb.dev, { name: "b" });
    // 1500 + 14 (Ethernet) + 4 (VLAN_HLEN) = 1518 bytes pass; one more is dropped.
    pa.inject({ data: eth(B, A, 1518) });
    pa.inject({ data: eth(B, A, 1519) });
    pa.inject({ data: eth(B, A, 12288), offload: { csumBlank: true } });
    pa.inject({ data: eth(B, A, 12288), offload: { csumBlank: true, gsoSize: 1448 } });
    expect(pb.out.map((f) => [f.data.length, f.offload?.gsoSize ?? 0])).toEqual([
      [1518, 0],
      [12288, 1448],
    ]);
    expect(b.stats()).toMatchObject({ txFrames: 2, dropped: 2, drops: { "over-mtu": 2, unsegmentable: 0, uncompletable: 0 } });
  });

  it("completes an IPv6 TCP csumBlank frame (the kernel's partial checksum through a tap) on its way out of a port without txChecksum", () => {
    const { pa, pb, b } = plainPair();
    const src = ipv6("2001:db8:1::1"),
      dst = ipv6("2001:db8:1::2");
    const tcp = new Uint8Array(20 + 100).fill(0xa5);
    tcp[12] = 0x50;
    writeU16(tcp, 16, fold(ipv6PseudoHeaderSum(src, dst, 6, tcp.length)));
    const f = eth(B, A, 14 + 40 + tcp.length);
    writeU16(f, 12, 0x86dd);
    f.set(ipv6Packet(src, dst, 6, 64, tcp), 14);
    pa.inject({ data: f, offload: { csumBlank: true } });
    expect(pb.out).toHaveLength(1);
    expect(pb.out[0]!.offload).toBeUndefined();
    const seg = pb.out[0]!.data.subarray(54);
    expect(checksumFinish(checksumAdd(seg, ipv6PseudoHeaderSum(src, dst, 6, seg.length)))).toBe(0);
    expect(b.stats()).toMatchObject({ txFrames: 1, checksumsCompleted: 1, dropped: 0 });
  });

  it("counts a GSO frame it cannot segment as unsegmentable and a csumBlank frame it cannot complete as uncompletable", () => {
    const { pa, pb, b } = plainPair();
    pa.inject({ data: eth(B, A, 3000), offload: { gsoSize: 1448 } });
    pa.inject({ data: eth(B, A, 100), offload: { csumBlank: true } });
    expect(pb.out).toEqual([]);
    expect(b.stats()).toMatchObject({ txFrames: 0, dropped: 2, drops: { "over-mtu": 0, unsegmentable: 1, uncompletable: 1 } });
  });
});
