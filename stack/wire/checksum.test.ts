import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { checksumAdd, checksumFinish, checksumRange, checksumUpdate16, checksumUpdate32, fold, internetChecksum, pseudoHeaderSum } from "./checksum.ts";
import { simdPartialSum } from "./checksum-simd.ts";
import { hex } from "./test-helpers.ts";

/** Reference: RFC 1071 §4.1 written plainly, 16 bits at a time. */
function reference(bytes: Uint8Array, initial = 0): number {
  let sum = initial;
  for (let i = 0; i + 1 < bytes.length; i += 2) sum += (bytes[i]! << 8) | bytes[i + 1]!;
  if (bytes.length & 1) sum += bytes[bytes.length - 1]! << 8;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return sum;
}

describe("checksum", () => {
  it("checksumAdd() gives the RFC 1071 §3 example sum ddf2 and checksum 220d", () => {
    const b = hex("0001f203f4f5f6f7");
    expect(checksumAdd(b)).toBe(0xddf2);
    expect(internetChecksum(b)).toBe(0x220d);
  });

  it("internetChecksum() of a header including its correct checksum is 0", () => {
    expect(internetChecksum(hex("450000730000400040 11b861c0a80001c0a800c7"))).toBe(0);
    expect(internetChecksum(hex("4500007300004000401100 00c0a80001c0a800c7"))).toBe(0xb861);
  });

  it("checksumAdd() pads an odd final byte with zero", () => {
    expect(checksumAdd(hex("0102 03"))).toBe(0x0402);
    expect(checksumAdd(hex("ff"))).toBe(0xff00);
    expect(checksumAdd(new Uint8Array(0), 0x1234)).toBe(0x1234);
  });

  it("checksumAdd() folds end-around carries of all-ones data", () => {
    expect(checksumAdd(new Uint8Array(4096).fill(0xff))).toBe(0xffff);
    expect(checksumFinish(checksumAdd(new Uint8Array(4096).fill(0xff)))).toBe(0);
    expect(fold(0x1fffe)).toBe(0xffff);
  });

  it("fold() gives what folding 16 bits at a time in a loop gives, for any sum up to 2^53", () => {
    const loop = (x: number): number => {
      while (x > 0xffff) x = (x % 65536) + Math.floor(x / 65536);
      return x;
    };
    fc.assert(
      fc.property(fc.oneof(fc.integer({ min: 0, max: 0x3ffff }), fc.integer({ min: 0, max: 0xffffffff }), fc.maxSafeNat()), (x) => {
        expect(fold(x)).toBe(loop(x));
      }),
      { numRuns: 5000 },
    );
    for (const x of [0, 0xffff, 0x10000, 0x1fffe, 0xffffffff, 0x100000000, Number.MAX_SAFE_INTEGER]) expect(fold(x)).toBe(loop(x));
  });

  it("the WebAssembly SIMD bulk sum is available here and agrees with the RFC 1071 reference at any offset and length (also past its 64 KiB chunks)", () => {
    expect(simdPartialSum(new Uint8Array(64), 0, 64)).toBeGreaterThanOrEqual(0);
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 0, maxLength: 140_000 }), fc.nat(63), (b, skip) => {
        const start = Math.min(skip, b.length);
        expect(checksumRange(b, start, b.length)).toBe(reference(b.subarray(start)));
        const bulk = (b.length - start) & ~63;
        expect(simdPartialSum(b, start, b.length)).toBe(reference(b.subarray(start, start + bulk)));
      }),
      { numRuns: 60 },
    );
    const ones = new Uint8Array(256 * 1024).fill(0xff);
    expect(checksumAdd(ones)).toBe(0xffff);
    expect(checksumRange(ones, 1, ones.length - 1)).toBe(0xffff);
  });

  it("checksumAdd() chains over even-length chunks like one call over the whole", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.nat(150), (b, cut) => {
        const c = Math.min(b.length, cut * 2);
        expect(checksumAdd(b.subarray(c), checksumAdd(b.subarray(0, c)))).toBe(checksumAdd(b));
      }),
    );
  });

  it("checksumAdd() equals the plain 16-bit reference on any bytes, offset and initial sum", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 2000 }), fc.nat(7), fc.integer({ min: 0, max: 0xffff }), (b, off, init) => {
        const view = b.subarray(Math.min(off, b.length));
        expect(checksumAdd(view, init)).toBe(reference(view, init));
      }),
    );
  });

  it("checksumUpdate16() and checksumUpdate32() equal recomputation (RFC 1624)", () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 20, maxLength: 60 }).map((b) => b.subarray(0, b.length & ~1)),
        fc.nat(),
        fc.integer({ min: 0, max: 0xffff }),
        fc.integer({ min: 0, max: 0xffffffff }),
        (b, at, w16, w32) => {
          const words = b.length / 2;
          const i = (at % (words - 1)) * 2;
          const c0 = internetChecksum(b);
          const old16 = (b[i]! << 8) | b[i + 1]!;
          const b16 = b.slice();
          b16[i] = w16 >>> 8;
          b16[i + 1] = w16 & 0xff;
          // One's complement has two zeros; recomputation and update agree modulo 0xffff.
          expect(checksumUpdate16(c0, old16, w16) % 0xffff).toBe(internetChecksum(b16) % 0xffff);
          const old32 = ((b[i]! << 24) | (b[i + 1]! << 16) | (b[i + 2]! << 8) | b[i + 3]!) >>> 0;
          const b32 = b.slice();
          b32[i] = w32 >>> 24;
          b32[i + 1] = (w32 >>> 16) & 0xff;
          b32[i + 2] = (w32 >>> 8) & 0xff;
          b32[i + 3] = w32 & 0xff;
          expect(checksumUpdate32(c0, old32, w32) % 0xffff).toBe(internetChecksum(b32) % 0xffff);
        },
      ),
    );
  });

  it("pseudoHeaderSum() matches summing the 12-byte pseudo-header", () => {
    const ph = hex("c0000201 c0000202 0011 000d");
    expect(pseudoHeaderSum(0xc0000201, 0xc0000202, 17, 13)).toBe(checksumAdd(ph));
  });
});
