import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { seqAdd, seqGe, seqGt, seqLe, seqLt, seqMax, seqMin, seqSub } from "./seq.ts";

describe("sequence arithmetic", () => {
  it("compares across the 2^32 wrap: 0xfffffff0 < 0x10", () => {
    expect(seqLt(0xfffffff0, 0x10)).toBe(true);
    expect(seqGt(0x10, 0xfffffff0)).toBe(true);
    expect(seqAdd(0xfffffff0, 0x20)).toBe(0x10);
    expect(seqSub(0x10, 0xfffffff0)).toBe(0x20);
    expect(seqMax(0xfffffff0, 0x10)).toBe(0x10);
    expect(seqMin(0xfffffff0, 0x10)).toBe(0xfffffff0);
  });

  it("a + n is after a for every n in (0, 2^31) and the distance comes back", () => {
    fc.assert(
      fc.property(fc.nat({ max: 0xffffffff }), fc.integer({ min: 1, max: 0x7fffffff }), (a, n) => {
        const b = seqAdd(a, n);
        expect(seqLt(a, b) && seqLe(a, b) && seqGt(b, a) && seqGe(b, a)).toBe(true);
        expect(seqSub(b, a)).toBe(n);
      }),
    );
  });
});
