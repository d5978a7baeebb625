import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { completeChecksum } from "./checksum-offload.ts";
import { createPointToPointLink } from "./point-to-point.ts";
import { createRng, createVirtualClock } from "../time.ts";
import { checksumAdd, checksumFinish, fold, pseudoHeaderSum } from "../wire/checksum.ts";

const SRC = 0xc0000201,
  DST = 0xc0000202;

/** Ethernet (+ optional 802.1Q tag) / IPv4 / UDP or TCP frame; L4 checksum field = pseudo-header sum (csumBlank). */
function blankFrame(
  protocol: 6 | 17,
  payload: Uint8Array,
  options: { vlan?: boolean; flagsFrag?: number } = {},
): { frame: Uint8Array; l4: number; field: number } {
  const l2 = options.vlan === true ? 18 : 14;
  const l4Len = (protocol === 6 ? 20 : 8) + payload.length;
  const f = new Uint8Array(l2 + 20 + l4Len);
  const v = new DataView(f.buffer);
  f.set([2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1]);
  if (options.vlan === true) v.setUint32(12, 0x81000005);
  v.setUint16(l2 - 2, 0x0800);
  f[l2] = 0x45;
  v.setUint16(l2 + 2, 20 + l4Len);
  v.setUint16(l2 + 6, options.flagsFrag ?? 0);
  f[l2 + 8] = 64;
  f[l2 + 9] = protocol;
  v.setUint32(l2 + 12, SRC);
  v.setUint32(l2 + 16, DST);
  const l4 = l2 + 20;
  v.setUint16(l4, 1234);
  v.setUint16(l4 + 2, 80);
  if (protocol === 17) v.setUint16(l4 + 4, l4Len);
  else f[l4 + 12] = 0x50;
  f.set(payload, l4 + (protocol === 6 ? 20 : 8));
  const field = l4 + (protocol === 6 ? 16 : 6);
  v.setUint16(field, fold(pseudoHeaderSum(SRC, DST, protocol, l4Len)));
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

  it("refuses fragments, non-IPv4, other protocols and truncated frames", () => {
    expect(completeChecksum(blankFrame(17, new Uint8Array(10), { flagsFrag: 0x2000 }).frame)).toMatchObject({ ok: false, error: "fragment" });
    const arp = blankFrame(17, new Uint8Array(10)).frame;
    arp[12] = 0x08;
    arp[13] = 0x06;
    expect(completeChecksum(arp)).toMatchObject({ ok: false, error: "not-ipv4" });
    const icmp = blankFrame(17, new Uint8Array(10)).frame;
    icmp[14 + 9] = 1;
    expect(completeChecksum(icmp)).toMatchObject({ ok: false, error: "unsupported-protocol" });
    expect(completeChecksum(blankFrame(6, new Uint8Array(10)).frame.subarray(0, 50))).toMatchObject({ ok: false, error: "truncated" });
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
