import { describe, expect, it } from "vitest";
import { createDevicePair } from "../link/pair.ts";
import type { FrameOffload } from "../link/types.ts";
import { unwrap } from "../result.ts";
import { createRng, createVirtualClock } from "../time.ts";
import { createStack } from "../index.ts";
import { parseArp } from "../wire/arp.ts";
import { emitEthernet, parseEthernet } from "../wire/ethernet.ts";
import { parseIcmp, parseIcmpQuote } from "../wire/icmp.ts";
import { Ipv4Packet, emitIpv4, parseIpv4, type Ipv4Repr } from "../wire/ipv4.ts";
import { UdpPacket, emitUdp } from "../wire/udp.ts";
import { HEADROOM } from "./types.ts";
import { A_IP, B_IP, createTwoStacks } from "./test-net.ts";

const MAC_A = 0x020000000001;
const MAC_B = 0x020000000002;

/** IPv4 packets a stack sent, parsed. */
function ipFrom(log: ReturnType<typeof createTwoStacks>["pair"]["log"], from: "a" | "b") {
  return log
    .filter((l) => l.from === from && unwrap(parseEthernet(l.frame.data)).ethertype === 0x0800)
    .map((l) => ({
      ip: unwrap(parseIpv4(l.frame.data.subarray(14))),
      packet: new Ipv4Packet(l.frame.data.subarray(14)),
      frame: l.frame,
      dst: unwrap(parseEthernet(l.frame.data)).dst,
    }));
}

/** Stack b alone; the test plays the peer (MAC_A, 192.0.2.10) on device a. */
function rawPeer(offload?: FrameOffload) {
  const clock = createVirtualClock();
  const pair = createDevicePair(clock);
  const b = createStack({ device: pair.b, clock, rng: createRng(2) }, { ipv4: { cidr: "192.0.2.11/24" } });
  b.arp.addStatic(A_IP, MAC_A);
  clock.run();
  pair.log.length = 0;
  const inject = (repr: Partial<Ipv4Repr>, payload: Uint8Array, mutate?: (ip: Uint8Array) => void): void => {
    const full: Ipv4Repr = {
      src: A_IP,
      dst: B_IP,
      protocol: 17,
      ttl: 64,
      tos: 0,
      ident: 7,
      dontFragment: false,
      moreFragments: false,
      fragmentOffset: 0,
      options: new Uint8Array(0),
      ...repr,
      payloadLength: payload.length,
    };
    const f = new Uint8Array(14 + 20 + full.options.length + payload.length);
    emitEthernet({ dst: MAC_B, src: MAC_A, ethertype: 0x0800 }, f);
    const hl = emitIpv4(full, f, 14);
    f.set(payload, 14 + hl);
    mutate?.(f.subarray(14));
    pair.a.send(offload === undefined ? { data: f } : { data: f, offload });
    clock.run(clock.now());
  };
  return { clock, pair, b, inject };
}

const udpBytes = (src: number, dst: number, sp: number, dp: number, payload: Uint8Array): Uint8Array => {
  const u = new Uint8Array(8 + payload.length);
  emitUdp({ srcPort: sp, dstPort: dp, payload }, u, 0, src, dst);
  return u;
};

describe("ipv4", () => {
  it("fragments a 4000-byte UDP datagram for MTU 1500 and the peer reassembles it exactly", () => {
    const t = createTwoStacks();
    t.clock.run();
    const rx = unwrap(t.b.udp.bind(9));
    let got: Uint8Array | undefined;
    rx.onMessage((d) => {
      got = d.payload;
    });
    const tx = unwrap(t.a.udp.bind(1234));
    const data = Uint8Array.from({ length: 4000 }, (_, i) => (i * 13) & 0xff);
    t.pair.log.length = 0;
    expect(tx.sendTo(B_IP, 9, data).ok).toBe(true);
    t.clock.run();
    const frags = ipFrom(t.pair.log, "a");
    expect(frags.map((f) => [f.packet.totalLength, f.ip.fragmentOffset, f.ip.moreFragments, f.ip.dontFragment])).toEqual([
      [1500, 0, true, false],
      [1500, 1480, true, false],
      [1068, 2960, false, false],
    ]);
    expect(new Set(frags.map((f) => f.ip.ident)).size).toBe(1);
    expect(got).toEqual(data);
    expect(t.b.counters().reassembly).toMatchObject({ fragments: 3, reassembled: 1 });
    expect(t.a.counters().ipv4).toMatchObject({ txFragments: 3, fragmentedDatagrams: 1 });
  });

  it("refuses to fragment a Don't Fragment datagram larger than the MTU with too-big", () => {
    const t = createTwoStacks();
    expect(t.a.ipv4.send(B_IP, 17, new Uint8Array(1481), { dontFragment: true })).toEqual({ ok: false, error: "too-big" });
    expect(t.a.ipv4.send(B_IP, 17, new Uint8Array(1480), { dontFragment: true })).toEqual({ ok: true, value: undefined });
    expect(t.a.ipv4.send(B_IP, 17, new Uint8Array(65516))).toEqual({ ok: false, error: "too-big" });
    expect(t.a.counters().ipv4).toMatchObject({ tooBig: 2 });
  });

  it("writes headers in place into the payload's headroom: a UDP send makes no extra copy", () => {
    const t = createTwoStacks();
    t.clock.run();
    unwrap(t.a.udp.bind(5)).sendTo(B_IP, 9, new Uint8Array(100));
    t.a.arp.addStatic(B_IP, MAC_B);
    const buf = new Uint8Array(HEADROOM + 10);
    t.a.ipv4.send(B_IP, 253, buf.subarray(HEADROOM));
    expect(t.pair.log.at(-1)!.frame.data.buffer).toBe(buf.buffer);
    expect(t.a.counters().ipv4).toMatchObject({ copies: 0 });
    expect(t.a.counters().ethernet).toMatchObject({ copies: 0 });
    t.a.ipv4.send(B_IP, 253, new Uint8Array(10));
    expect(t.a.counters().ipv4).toMatchObject({ copies: 1 });
  });

  it("routes off-link destinations through the gateway and fails without one", () => {
    const t = createTwoStacks({ a: { ipv4: { cidr: "192.0.2.10/24", gateway: "192.0.2.11" } } });
    t.clock.run();
    t.pair.log.length = 0;
    expect(t.a.ipv4.send(0xc6336407, 253, new Uint8Array(4)).ok).toBe(true);
    const arpReq = unwrap(parseArp(t.pair.log[0]!.frame.data.subarray(14)));
    expect(arpReq.targetIp).toBe(B_IP);
    t.clock.run();
    const sent = ipFrom(t.pair.log, "a");
    expect(sent.map((s) => [s.dst, s.ip.dst])).toEqual([[MAC_B, 0xc6336407]]);
    expect(t.b.ipv4.send(0xc6336407, 253, new Uint8Array(4))).toEqual({ ok: false, error: "no-route" });
  });

  it("sends limited and directed broadcasts to ff:ff:ff:ff:ff:ff and the peer accepts both", () => {
    const t = createTwoStacks();
    const got: number[] = [];
    t.b.ipv4.registerProtocol(253, (d) => got.push(d.dst));
    t.pair.log.length = 0;
    t.a.ipv4.send(0xffffffff, 253, new Uint8Array(4));
    t.a.ipv4.send(0xc00002ff, 253, new Uint8Array(4));
    t.clock.run();
    expect(ipFrom(t.pair.log, "a").map((s) => s.dst)).toEqual([0xffffffffffff, 0xffffffffffff]);
    expect(got).toEqual([0xffffffff, 0xc00002ff]);
  });

  it("without an address: unicast fails with no-address, broadcast with source 0.0.0.0 works (DHCP)", () => {
    const clock = createVirtualClock();
    const pair = createDevicePair(clock);
    const s = createStack({ device: pair.a, clock, rng: createRng(1) });
    expect(s.ipv4.send(B_IP, 17, new Uint8Array(4))).toEqual({ ok: false, error: "no-address" });
    expect(s.ipv4.send(0xffffffff, 17, new Uint8Array(4))).toEqual({ ok: false, error: "no-address" });
    expect(s.ipv4.send(0xffffffff, 17, new Uint8Array(4), { src: 0 }).ok).toBe(true);
    expect(unwrap(parseIpv4(pair.log[0]!.frame.data.subarray(14))).src).toBe(0);
  });

  it("an unconfigured stack accepts unicast datagrams for any address (a DHCP offer to yiaddr)", () => {
    const clock = createVirtualClock();
    const pair = createDevicePair(clock);
    const s = createStack({ device: pair.b, clock, rng: createRng(1) });
    const got: number[] = [];
    s.ipv4.registerProtocol(253, (d) => got.push(d.dst));
    const f = new Uint8Array(34);
    emitEthernet({ dst: MAC_B, src: MAC_A, ethertype: 0x0800 }, f);
    emitIpv4(
      {
        src: A_IP,
        dst: 0xc0000263,
        protocol: 253,
        ttl: 64,
        tos: 0,
        ident: 1,
        dontFragment: false,
        moreFragments: false,
        fragmentOffset: 0,
        payloadLength: 0,
        options: new Uint8Array(0),
      },
      f,
      14,
    );
    pair.a.send({ data: f });
    clock.run();
    expect(got).toEqual([0xc0000263]);
  });

  it("drops datagrams with a bad header checksum unless the frame is marked data-validated", () => {
    const t = rawPeer();
    const got: number[] = [];
    t.b.ipv4.registerProtocol(253, (d) => got.push(d.ttl));
    t.inject({ protocol: 253, ttl: 9 }, new Uint8Array(4), (ip) => {
      ip[10] = ip[10]! ^ 0xff;
    });
    expect(got).toEqual([]);
    expect(t.b.counters().ipv4.drops).toEqual({ "bad-checksum": 1 });
    const v = rawPeer({ dataValidated: true });
    const got2: number[] = [];
    v.b.ipv4.registerProtocol(253, (d) => got2.push(d.ttl));
    v.inject({ protocol: 253, ttl: 9 }, new Uint8Array(4), (ip) => {
      ip[10] = ip[10]! ^ 0xff;
    });
    expect(got2).toEqual([9]);
  });

  it("drops datagrams for other hosts, truncated ones and martian sources, counting reasons", () => {
    const t = rawPeer();
    t.b.ipv4.registerProtocol(253, () => {
      throw new Error("delivered");
    });
    t.inject({ protocol: 253, dst: 0xc0000263 }, new Uint8Array(4));
    t.inject({ protocol: 253, src: 0xe0000001 }, new Uint8Array(4));
    t.inject({ protocol: 253 }, new Uint8Array(4), (ip) => {
      ip[3] = 80;
      ip[10] = 0;
      ip[11] = 0;
      new Ipv4Packet(ip).fillChecksum();
    });
    expect(t.b.counters().ipv4.drops).toEqual({ "not-for-us": 1, "martian-source": 1, truncated: 1 });
  });

  it("refuses source-routed datagrams (LSRR, SSRR) and drops malformed option lists, counting each (RFC 1812 §5.2.4, as Linux's accept_source_route = 0)", () => {
    const t = rawPeer();
    const got: number[][] = [];
    t.b.ipv4.registerProtocol(253, (d) => got.push([...d.header.subarray(20)]));
    const lsrr = Uint8Array.of(0x83, 7, 4, 192, 0, 2, 99, 1);
    const ssrr = Uint8Array.of(0x89, 7, 4, 192, 0, 2, 99, 0);
    t.inject({ protocol: 253, options: lsrr }, new Uint8Array(4));
    t.inject({ protocol: 253, options: ssrr }, new Uint8Array(4));
    // malformed: a source route too short for its pointer, a pointer below 4, a length past the header
    t.inject({ protocol: 253, options: Uint8Array.of(0x83, 2, 1, 1) }, new Uint8Array(4));
    t.inject({ protocol: 253, options: Uint8Array.of(0x83, 3, 2, 0) }, new Uint8Array(4));
    t.inject({ protocol: 253, options: Uint8Array.of(1, 0x44, 12, 5) }, new Uint8Array(4));
    expect(got).toEqual([]);
    expect(t.b.counters().ipv4.drops).toEqual({ "source-route": 2, "bad-source-route": 2, "bad-option-length": 1 });
    // other well-formed options still pass (record route, NOPs, end of list)
    t.inject({ protocol: 253, options: Uint8Array.of(7, 7, 4, 0, 0, 0, 0, 0) }, new Uint8Array(4));
    expect(got).toEqual([[7, 7, 4, 0, 0, 0, 0, 0]]);
  });

  it("never hands TCP a segment addressed to the subnet or limited broadcast (RFC 1122 §4.2.3.10)", () => {
    const t = rawPeer();
    const got: number[] = [];
    t.b.ipv4.registerProtocol(6, (d) => got.push(d.dst));
    t.inject({ protocol: 6, dst: 0xc00002ff }, new Uint8Array(20));
    t.inject({ protocol: 6, dst: 0xffffffff }, new Uint8Array(20));
    expect(got).toEqual([]);
    expect(t.b.counters().ipv4.drops).toEqual({ "tcp-to-broadcast": 2 });
  });

  it("answers an unknown protocol with ICMP protocol unreachable quoting the datagram", () => {
    const t = rawPeer();
    t.inject({ protocol: 99, ident: 0x4242 }, new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8, 9]));
    const out = ipFrom(t.pair.log, "b");
    expect(out.length).toBe(1);
    expect(out[0]!.ip).toMatchObject({ src: B_IP, dst: A_IP, protocol: 1 });
    const icmp = unwrap(parseIcmp(out[0]!.packet.payload));
    if (icmp.kind !== "dst-unreachable") throw new Error(icmp.kind);
    expect(icmp.code).toBe(2);
    expect(icmp.original.length).toBe(29);
    expect(unwrap(parseIcmpQuote(icmp.original))).toMatchObject({ src: A_IP, dst: B_IP, protocol: 99, ident: 0x4242 });
  });

  it("sends ICMP time exceeded (reassembly, code 1) when a datagram's fragments stop coming (RFC 792)", () => {
    const t = rawPeer();
    t.inject({ protocol: 17, ident: 0x0bad, moreFragments: true }, new Uint8Array(16).fill(7));
    t.clock.advance(29_999);
    expect(ipFrom(t.pair.log, "b")).toEqual([]);
    t.clock.advance(1);
    const out = ipFrom(t.pair.log, "b");
    expect(out.length).toBe(1);
    const icmp = unwrap(parseIcmp(out[0]!.packet.payload));
    if (icmp.kind !== "time-exceeded") throw new Error(icmp.kind);
    expect(icmp.code).toBe(1);
    expect(unwrap(parseIcmpQuote(icmp.original))).toMatchObject({ src: A_IP, dst: B_IP, protocol: 17, ident: 0x0bad });
    expect(icmp.original.length).toBe(20 + 16);
    expect(t.b.counters().reassembly).toMatchObject({ timeouts: 1 });
  });

  it("completes a csum_blank checksum itself when the device has no checksum offload", () => {
    const t = createTwoStacks();
    t.a.arp.addStatic(B_IP, MAC_B);
    const buf = new Uint8Array(HEADROOM + 12);
    const udp = buf.subarray(HEADROOM);
    emitUdp({ srcPort: 1, dstPort: 2, payload: new Uint8Array([1, 2, 3, 4]) }, udp, 0, A_IP, B_IP, "partial");
    t.a.ipv4.send(B_IP, 17, udp, { offload: { csumBlank: true } });
    const sent = ipFrom(t.pair.log, "a").at(-1)!;
    expect(sent.frame.offload).toBeUndefined();
    expect(new UdpPacket(sent.packet.payload).verifyChecksum(A_IP, B_IP)).toBe(true);
    expect(new UdpPacket(sent.packet.payload).checksum).not.toBe(0);
  });

  it("leaves csum_blank to a device with checksum offload, and the receiver trusts such frames", () => {
    const t = createTwoStacks({ pair: { offloads: { txChecksum: true, tso: false, maxGsoFrame: 0 } } });
    t.clock.run();
    const rx = unwrap(t.b.udp.bind(9));
    const got: string[] = [];
    rx.onMessage((d) => got.push(new TextDecoder().decode(d.payload)));
    unwrap(t.a.udp.bind(7)).sendTo(B_IP, 9, new TextEncoder().encode("partial"));
    t.clock.run();
    const sent = ipFrom(t.pair.log, "a").at(-1)!;
    expect(sent.frame.offload).toEqual({ csumBlank: true });
    expect(new UdpPacket(sent.packet.payload).verifyChecksum(A_IP, B_IP)).toBe(false);
    expect(got).toEqual(["partial"]);
  });

  it("delivers datagrams addressed to itself through the clock, not synchronously", () => {
    const t = createTwoStacks();
    const got: number[] = [];
    t.a.ipv4.registerProtocol(253, (d) => got.push(d.src));
    t.pair.log.length = 0;
    t.a.ipv4.send(A_IP, 253, new Uint8Array(3000));
    expect(got).toEqual([]);
    t.clock.run();
    expect(got).toEqual([A_IP]);
    expect(ipFrom(t.pair.log, "a")).toEqual([]);
  });

  it("lowers the path MTU on ICMP fragmentation-needed (RFC 1191) and fragments to it", () => {
    const t = createTwoStacks();
    t.clock.run();
    expect(t.a.ipv4.mtuTo(B_IP)).toBe(1500);
    t.a.ipv4.updatePathMtu(B_IP, 1400);
    t.a.ipv4.updatePathMtu(B_IP, 1450);
    t.a.ipv4.updatePathMtu(B_IP, 20);
    expect(t.a.ipv4.mtuTo(B_IP)).toBe(1400);
    t.pair.log.length = 0;
    t.a.ipv4.send(B_IP, 253, new Uint8Array(2000));
    t.clock.run();
    expect(ipFrom(t.pair.log, "a").map((f) => f.packet.totalLength)).toEqual([1396, 644]);
    t.clock.advance(600_000);
    expect(t.a.ipv4.mtuTo(B_IP)).toBe(1500);
  });

  it("sets TTL, TOS and DF as asked", () => {
    const t = createTwoStacks();
    t.clock.run();
    t.pair.log.length = 0;
    t.a.ipv4.send(B_IP, 253, new Uint8Array(1), { ttl: 3, tos: 0xb8, dontFragment: true });
    t.clock.run();
    expect(ipFrom(t.pair.log, "a")[0]!.ip).toMatchObject({ ttl: 3, tos: 0xb8, dontFragment: true, protocol: 253, src: A_IP, dst: B_IP });
  });

  it("udpBytes helper builds a datagram that the peer's UDP accepts", () => {
    const t = rawPeer();
    const sock = unwrap(t.b.udp.bind(53));
    const got: number[] = [];
    sock.onMessage((d) => got.push(d.srcPort));
    t.inject({ protocol: 17 }, udpBytes(A_IP, B_IP, 4444, 53, new Uint8Array(3)));
    expect(got).toEqual([4444]);
  });
});
