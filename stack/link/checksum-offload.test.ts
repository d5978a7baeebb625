import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { completeChecksum } from "./checksum-offload.ts";
import { createPointToPointLink } from "./point-to-point.ts";
import { createRng, createVirtualClock } from "../time.ts";
import { checksumAdd, checksumFinish, fold, pseudoHeaderSum } from "../wire/checksum.ts";
import { ipv6 } from "../wire/ipv6-address.ts";
import { ipv6PseudoHeaderSum } from "../wire/ipv6.ts";

const SRC = 0xc0000201,
  DST = 0xc0000202;

const SRC6 = ipv6("2001:db8:1::1"),
  DST6 = ipv6("2001:db8:1::2");

/**
 * Ethernet (+ optional 802.1Q tag) / IPv4 (or IPv6 with `ipv6`: `protocol` is then the fixed
 * header's Next Header) / UDP or TCP frame; L4 checksum field = pseudo-header sum (csumBlank).
 */
function blankFrame(
  protocol: number,
  payload: Uint8Array,
  options: { vlan?: boolean; flagsFrag?: number; ipv6?: boolean } = {},
): { frame: Uint8Array; l4: number; field: number } {
  const l2 = options.vlan === true ? 18 : 14;
  const l3Len = options.ipv6 === true ? 40 : 20;
  const l4Len = (protocol === 6 ? 20 : 8) + payload.length;
  const f = new Uint8Array(l2 + l3Len + l4Len);
  const v = new DataView(f.buffer);
  f.set([2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1]);
  if (options.vlan === true) v.setUint32(12, 0x81000005);
  let pseudo: number;
  if (options.ipv6 === true) {
    v.setUint16(l2 - 2, 0x86dd);
    f[l2] = 0x60;
    v.setUint16(l2 + 4, l4Len);
    f[l2 + 6] = protocol;
    f[l2 + 7] = 64;
    f.set(SRC6, l2 + 8);
    f.set(DST6, l2 + 24);
    pseudo = ipv6PseudoHeaderSum(SRC6, DST6, protocol, l4Len);
  } else {
    v.setUint16(l2 - 2, 0x0800);
    f[l2] = 0x45;
    v.setUint16(l2 + 2, 20 + l4Len);
    v.setUint16(l2 + 6, options.flagsFrag ?? 0);
    f[l2 + 8] = 64;
    f[l2 + 9] = protocol;
    v.setUint32(l2 + 12, SRC);
    v.setUint32(l2 + 16, DST);
    pseudo = pseudoHeaderSum(SRC, DST, protocol, l4Len);
  }
  const l4 = l2 + l3Len;
  v.setUint16(l4, 1234);
  v.setUint16(l4 + 2, 80);
  if (protocol === 17) v.setUint16(l4 + 4, l4Len);
  else f[l4 + 12] = 0x50;
  f.set(payload, l4 + (protocol === 6 ? 20 : 8));
  const field = l4 + (protocol === 6 ? 16 : 6);
  v.setUint16(field, fold(pseudo));
  return { frame: f, l4, field };
}

/** The checksum verifies: pseudo-header + segment sums to 0xffff. */
function verifies(frame: Uint8Array, l4: number, protocol: number): boolean {
  const seg = frame.subarray(l4);
  return checksumFinish(checksumAdd(seg, pseudoHeaderSum(SRC, DST, protocol, seg.length))) === 0;
}

describe("completeChecksum()", () => {
  it("completes UDP and TCP checksums, tagged or not, for any payload", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 1400 }), fc.constantFrom(6 as const, 17 as const), fc.boolean(), (payload, protocol, vlan) => {
        const { frame, l4 } = blankFrame(protocol, payload, { vlan });
        expect(completeChecksum(frame).ok).toBe(true);
        expect(verifies(frame, l4, protocol)).toBe(true);
      }),
      { numRuns: 500 },
    );
  });

  it("writes a UDP checksum that computes to zero as 0xffff (RFC 768)", () => {
    // Find a two-byte payload whose checksum comes out 0, then check the field is all ones.
    for (let x = 0; x < 65536; x++) {
      const { frame, field } = blankFrame(17, Uint8Array.of(x >> 8, x & 0xff));
      completeChecksum(frame);
      const value = (frame[field]! << 8) | frame[field + 1]!;
      if (value === 0xffff) return;
      expect(value).not.toBe(0);
    }
    throw new Error("no payload gives a zero UDP checksum");
  });

  it("refuses fragments, non-IP, other protocols and truncated frames", () => {
    expect(completeChecksum(blankFrame(17, new Uint8Array(10), { flagsFrag: 0x2000 }).frame)).toMatchObject({ ok: false, error: "fragment" });
    const arp = blankFrame(17, new Uint8Array(10)).frame;
    arp[12] = 0x08;
    arp[13] = 0x06;
    expect(completeChecksum(arp)).toMatchObject({ ok: false, error: "not-ip" });
    const icmp = blankFrame(17, new Uint8Array(10)).frame;
    icmp[14 + 9] = 1;
    expect(completeChecksum(icmp)).toMatchObject({ ok: false, error: "unsupported-protocol" });
    expect(completeChecksum(blankFrame(6, new Uint8Array(10)).frame.subarray(0, 50))).toMatchObject({ ok: false, error: "truncated" });
  });
});

describe("completeChecksum() over IPv6", () => {
  it("completes TCP and UDP checksums, tagged or not, that then verify with the v6 pseudo-header (RFC 8200 §8.1), changing only the field", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 1400 }), fc.constantFrom(6, 17), fc.boolean(), (payload, protocol, vlan) => {
        const { frame, l4, field } = blankFrame(protocol, payload, { ipv6: true, vlan });
        const before = frame.slice();
        expect(completeChecksum(frame)).toEqual({ ok: true, value: undefined });
        const seg = frame.subarray(l4);
        expect(checksumFinish(checksumAdd(seg, ipv6PseudoHeaderSum(SRC6, DST6, protocol, seg.length)))).toBe(0);
        for (let i = 0; i < frame.length; i++) if (i !== field && i !== field + 1) expect(frame[i]).toBe(before[i]);
      }),
      { numRuns: 300 },
    );
  });

  it("refuses a fragment, a transport behind extension headers or of another protocol, and a payload length past the frame", () => {
    expect(completeChecksum(blankFrame(44, new Uint8Array(16), { ipv6: true }).frame)).toMatchObject({ ok: false, error: "fragment" });
    expect(completeChecksum(blankFrame(60, new Uint8Array(16), { ipv6: true }).frame)).toMatchObject({ ok: false, error: "unsupported-protocol" });
    expect(completeChecksum(blankFrame(58, new Uint8Array(16), { ipv6: true }).frame)).toMatchObject({ ok: false, error: "unsupported-protocol" });
    expect(completeChecksum(blankFrame(6, new Uint8Array(16), { ipv6: true }).frame.subarray(0, 80))).toMatchObject({ ok: false, error: "truncated" });
    const v4InV6 = blankFrame(17, new Uint8Array(4), { ipv6: true }).frame;
    v4InV6[14] = 0x45;
    expect(completeChecksum(v4InV6)).toMatchObject({ ok: false, error: "not-ip" });
  });
});

describe("a wire end offering checksum offload", () => {
  it("advertises txChecksum and delivers csumBlank frames with completed checksums and no metadata", () => {
    const clock = createVirtualClock();
    const link = createPointToPointLink({ clock, rng: createRng(1) }, { a: { mac: 1, txChecksum: true }, b: { mac: 2 } });
    expect(link.a.offloads.txChecksum).toBe(true);
    expect(link.b.offloads.txChecksum).toBe(false);
    const got: { data: Uint8Array; offload?: unknown }[] = [];
    link.b.onReceive((f) => got.push(f));
    const udp = blankFrame(17, Uint8Array.of(1, 2, 3));
    link.a.send({ data: udp.frame, offload: { csumBlank: true } });
    link.a.send({ data: blankFrame(17, new Uint8Array(8), { flagsFrag: 0x2000 }).frame, offload: { csumBlank: true } });
    link.b.send({ data: blankFrame(17, Uint8Array.of(1)).frame, offload: { csumBlank: true } });
    clock.run();
    expect(got).toHaveLength(1);
    expect(got[0]!.offload).toBeUndefined();
    expect(verifies(got[0]!.data, udp.l4, 17)).toBe(true);
    expect(link.a.txStats).toMatchObject({ checksumsCompleted: 1, offloadDrops: 1 });
    expect(link.b.txStats).toMatchObject({ checksumsCompleted: 0, offloadDrops: 1 });
  });
});

describe("a veth-like wire end (checksumUnnecessary)", () => {
  it("advertises txChecksum, passes csumBlank frames uncompleted and delivers every frame marked dataValidated", () => {
    const clock = createVirtualClock();
    const link = createPointToPointLink({ clock, rng: createRng(1) }, { a: { mac: 1, checksumUnnecessary: true }, b: { mac: 2 } });
    expect(link.a.offloads.txChecksum).toBe(true);
    const got: { data: Uint8Array; offload?: unknown }[] = [];
    link.b.onReceive((f) => got.push(f));
    const udp = blankFrame(17, Uint8Array.of(1, 2, 3));
    const sent = udp.frame.slice();
    link.a.send({ data: udp.frame, offload: { csumBlank: true } });
    const plain = blankFrame(6, Uint8Array.of(9)).frame;
    link.a.send({ data: plain });
    link.a.send({ data: blankFrame(6, new Uint8Array(100)).frame, offload: { csumBlank: true, gsoSize: 40 } });
    clock.run();
    expect(got).toHaveLength(2);
    // the checksum field still holds the pseudo-header sum, byte for byte what was sent
    expect(got[0]!.data).toEqual(sent);
    expect(verifies(got[0]!.data, udp.l4, 17)).toBe(false);
    expect(got[0]!.offload).toEqual({ dataValidated: true });
    expect(got[1]!.offload).toEqual({ dataValidated: true });
    expect(link.a.txStats).toMatchObject({ checksumsCompleted: 0, offloadDrops: 1, delivered: 2 });
  });

  it("takes the mark off a frame it corrupts, so the receiver checks (and drops) it", () => {
    const clock = createVirtualClock();
    const link = createPointToPointLink({ clock, rng: createRng(1) }, { a: { mac: 1, checksumUnnecessary: true, impairments: { corrupt: 1 } }, b: { mac: 2 } });
    const got: { data: Uint8Array; offload?: { dataValidated?: boolean } }[] = [];
    link.b.onReceive((f) => got.push(f));
    link.a.send({ data: blankFrame(17, Uint8Array.of(1, 2, 3)).frame, offload: { csumBlank: true } });
    clock.run();
    expect(got).toHaveLength(1);
    expect(got[0]!.offload?.dataValidated).toBe(false);
  });
});
