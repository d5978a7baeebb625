import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { unwrap } from "../result.ts";
import {
  TCP_FLAG_ACK,
  TCP_FLAG_SYN,
  TcpPacket,
  emitTcp,
  parseTcp,
  parseTcpOptions,
  tcpChecksum,
  tcpHeaderLength,
  verifyTcpChecksum,
  type TcpOptions,
  type TcpRepr,
} from "./tcp.ts";

const SRC = 0xc0000201; // 192.0.2.1
const DST = 0xc0000202; // 192.0.2.2

/** A Linux-style SYN: 192.0.2.1:40000 -> 192.0.2.2:80, seq 0x01020304, win 64240,
 * MSS 1460, SACK-permitted, TS 0x0a0b0c0d/0, WS 7. Checksum field filled by the test. */
const SYN_BYTES = Uint8Array.from([
  0x9c,
  0x40,
  0x00,
  0x50, // ports
  0x01,
  0x02,
  0x03,
  0x04, // seq
  0x00,
  0x00,
  0x00,
  0x00, // ack
  0xa0,
  0x02,
  0xfa,
  0xf0, // data offset 10, SYN, window 64240
  0x00,
  0x00,
  0x00,
  0x00, // checksum, urgent
  0x02,
  0x04,
  0x05,
  0xb4, // MSS 1460
  0x04,
  0x02,
  0x08,
  0x0a, // SACK-permitted, TS
  0x0a,
  0x0b,
  0x0c,
  0x0d, // TSval
  0x00,
  0x00,
  0x00,
  0x00, // TSecr
  0x01,
  0x03,
  0x03,
  0x07, // NOP, WS 7
]);

/** Reference checksum: 16-bit words summed one at a time with the pseudo-header. */
function naiveChecksum(seg: Uint8Array, src: number, dst: number): number {
  let sum = (src >>> 16) + (src & 0xffff) + (dst >>> 16) + (dst & 0xffff) + 6 + seg.length;
  for (let i = 0; i < seg.length; i += 2) sum += (seg[i]! << 8) | (seg[i + 1] ?? 0);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

function withChecksum(bytes: Uint8Array): Uint8Array {
  const b = bytes.slice();
  const c = naiveChecksum(b, SRC, DST);
  b[16] = c >>> 8;
  b[17] = c & 0xff;
  return b;
}

describe("TcpPacket and parseTcp", () => {
  it("parseTcp() deconstructs a Linux SYN with MSS, SACK-permitted, timestamps and window scale", () => {
    const r = unwrap(parseTcp(withChecksum(SYN_BYTES), { src: SRC, dst: DST }));
    expect(r).toMatchObject({ srcPort: 40000, dstPort: 80, seq: 0x01020304, ack: 0, flags: TCP_FLAG_SYN, window: 64240, urgent: 0 });
    expect(r.options).toEqual({ mss: 1460, sackPermitted: true, tsVal: 0x0a0b0c0d, tsEcr: 0, windowScale: 7 });
    expect(r.payload.length).toBe(0);
  });

  it("emitTcp() reconstructs the same SYN bytes, checksum included", () => {
    const repr: TcpRepr = {
      srcPort: 40000,
      dstPort: 80,
      seq: 0x01020304,
      ack: 0,
      flags: TCP_FLAG_SYN,
      window: 64240,
      urgent: 0,
      options: { mss: 1460, sackPermitted: true, tsVal: 0x0a0b0c0d, tsEcr: 0, windowScale: 7 },
      payload: new Uint8Array(0),
    };
    expect(tcpHeaderLength(repr)).toBe(40);
    const b = new Uint8Array(40);
    expect(emitTcp(repr, b, 0, { src: SRC, dst: DST })).toBe(40);
    expect(b).toEqual(withChecksum(SYN_BYTES));
  });

  it("emitTcp() writes SACK blocks as NOP NOP kind 5 with 8 bytes per block after the timestamp", () => {
    const repr: TcpRepr = {
      srcPort: 1,
      dstPort: 2,
      seq: 10,
      ack: 20,
      flags: TCP_FLAG_ACK,
      window: 100,
      urgent: 0,
      options: {
        tsVal: 1,
        tsEcr: 2,
        sackBlocks: [
          { left: 0x100, right: 0x200 },
          { left: 0x300, right: 0x400 },
        ],
      },
      payload: Uint8Array.of(0xaa),
    };
    const b = new Uint8Array(tcpHeaderLength(repr) + 1);
    emitTcp(repr, b, 0);
    expect(Array.from(b.subarray(20))).toEqual([1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2, 1, 1, 5, 18, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 4, 0, 0xaa]);
    expect(b[12]).toBe((52 / 4) << 4);
    const r = unwrap(parseTcp(b));
    expect(r.options.sackBlocks).toEqual([
      { left: 0x100, right: 0x200 },
      { left: 0x300, right: 0x400 },
    ]);
    expect(Array.from(r.payload)).toEqual([0xaa]);
  });

  it("parseTcpOptions() skips unknown options and NOPs and stops at EOL", () => {
    const b = Uint8Array.from([1, 0xfe, 4, 0xde, 0xad, 2, 4, 0x05, 0x78, 0, 3, 3, 9]);
    expect(unwrap(parseTcpOptions(b))).toEqual({ mss: 1400 });
  });

  it("parseTcpOptions() rejects an option whose length runs past the header", () => {
    expect(parseTcpOptions(Uint8Array.from([2, 4, 5]))).toMatchObject({ ok: false, error: "bad-option" });
    expect(parseTcpOptions(Uint8Array.from([8, 1, 0, 0]))).toMatchObject({ ok: false, error: "bad-option" });
    expect(parseTcpOptions(Uint8Array.from([3]))).toMatchObject({ ok: false, error: "bad-option" });
    expect(parseTcpOptions(Uint8Array.from([5, 6, 0, 0, 0, 0]))).toMatchObject({ ok: false, error: "bad-option" });
  });

  it("parseTcp() rejects a header shorter than 20 bytes and a data offset below 5 or past the buffer", () => {
    expect(parseTcp(new Uint8Array(19))).toMatchObject({ ok: false, error: "truncated" });
    const b = new Uint8Array(20);
    b[12] = 4 << 4;
    expect(parseTcp(b)).toMatchObject({ ok: false, error: "bad-data-offset" });
    b[12] = 6 << 4;
    expect(parseTcp(b)).toMatchObject({ ok: false, error: "truncated" });
  });

  it("parseTcp() rejects a segment whose checksum does not match the pseudo-header", () => {
    const b = withChecksum(SYN_BYTES);
    expect(parseTcp(b, { src: SRC, dst: DST }).ok).toBe(true);
    expect(parseTcp(b, { src: SRC, dst: DST + 1 })).toMatchObject({ ok: false, error: "bad-checksum" });
    expect(parseTcp(b, { src: SRC, dst: DST + 1, verifyChecksum: false }).ok).toBe(true);
  });

  it("emitTcp() with csumBlank stores the folded pseudo-header sum only", () => {
    const repr: TcpRepr = { srcPort: 1, dstPort: 2, seq: 0, ack: 0, flags: 0, window: 0, urgent: 0, options: {}, payload: new Uint8Array(4) };
    const b = new Uint8Array(24);
    emitTcp(repr, b, 0, { src: SRC, dst: DST, csumBlank: true });
    const p = new TcpPacket(b);
    const sum = (SRC >>> 16) + (SRC & 0xffff) + (DST >>> 16) + (DST & 0xffff) + 6 + 24;
    expect(p.checksum).toBe((sum & 0xffff) + (sum >>> 16));
    expect(p.checksum).toBe(0x8422);
  });

  it("TcpPacket setters write fields at RFC 9293 offsets", () => {
    const p = new TcpPacket(new Uint8Array(20));
    p.srcPort = 0x1234;
    p.dstPort = 0x5678;
    p.seq = 0xdeadbeef;
    p.ack = 0x01020304;
    p.headerLength = 20;
    p.flags = 0x12;
    p.window = 0xabcd;
    p.checksum = 0x1111;
    p.urgent = 0x2222;
    expect(Array.from(p.bytes)).toEqual([0x12, 0x34, 0x56, 0x78, 0xde, 0xad, 0xbe, 0xef, 1, 2, 3, 4, 0x50, 0x12, 0xab, 0xcd, 0x11, 0x11, 0x22, 0x22]);
  });
});

const optionsArb: fc.Arbitrary<TcpOptions> = fc
  .record(
    {
      mss: fc.integer({ min: 0, max: 0xffff }),
      windowScale: fc.integer({ min: 0, max: 14 }),
      sackPermitted: fc.constant(true),
      ts: fc.tuple(fc.nat({ max: 0xffffffff }), fc.nat({ max: 0xffffffff })),
      sackBlocks: fc.array(fc.record({ left: fc.nat({ max: 0xffffffff }), right: fc.nat({ max: 0xffffffff }) }), { minLength: 1, maxLength: 3 }),
    },
    { requiredKeys: [] },
  )
  .map((r) => {
    const o: Record<string, unknown> = {};
    if (r.mss !== undefined) o["mss"] = r.mss;
    if (r.windowScale !== undefined) o["windowScale"] = r.windowScale;
    if (r.sackPermitted !== undefined) o["sackPermitted"] = true;
    if (r.ts !== undefined) {
      o["tsVal"] = r.ts[0];
      o["tsEcr"] = r.ts[1];
    }
    if (r.sackBlocks !== undefined) o["sackBlocks"] = r.sackBlocks;
    return o as TcpOptions;
  });

describe("TCP properties", () => {
  it("emitTcp() then parseTcp() gives back every field, option and payload byte", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 0xffff }),
        fc.integer({ min: 0, max: 0xffff }),
        fc.nat({ max: 0xffffffff }),
        fc.nat({ max: 0xffffffff }),
        fc.integer({ min: 0, max: 0xff }),
        fc.integer({ min: 0, max: 0xffff }),
        optionsArb,
        fc.uint8Array({ maxLength: 64 }),
        (srcPort, dstPort, seq, ack, flags, window, options, payload) => {
          const repr: TcpRepr = { srcPort, dstPort, seq, ack, flags, window, urgent: 0, options, payload };
          const hl = tcpHeaderLength(repr);
          fc.pre(hl <= 60);
          const b = new Uint8Array(hl + payload.length);
          emitTcp(repr, b, 0, { src: SRC, dst: DST });
          const back = unwrap(parseTcp(b, { src: SRC, dst: DST }));
          expect(back).toEqual({ ...repr, payload: back.payload });
          expect(back.payload).toEqual(payload);
        },
      ),
    );
  });

  it("tcpChecksum() equals a 16-bit-at-a-time reference and verifies to zero", () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 20, maxLength: 1600 }), fc.nat({ max: 0xffffffff }), fc.nat({ max: 0xffffffff }), (seg, src, dst) => {
        seg[16] = 0;
        seg[17] = 0;
        const c = tcpChecksum(seg, src, dst);
        expect(c).toBe(naiveChecksum(seg, src, dst));
        seg[16] = c >>> 8;
        seg[17] = c & 0xff;
        expect(verifyTcpChecksum(seg, src, dst)).toBe(true);
      }),
    );
  });

  it("parseTcp() never throws on arbitrary bytes", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 80 }), (b) => {
        const r = parseTcp(b);
        if (r.ok) expect(r.value.payload.length).toBeLessThanOrEqual(b.length - 20);
      }),
    );
  });
});
