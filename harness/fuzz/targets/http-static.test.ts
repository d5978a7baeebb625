// The http-static fuzz target on its seeds, their mutations and random inputs (fast-check),
// so npm test exercises its oracles beyond the saved corpus.
import { describe, it } from "vitest";
import fc from "fast-check";
import { fuzz as fuzzTarget, seeds } from "./http-static.ts";

describe("http-static fuzz target", () => {
  it("the fuzz target survives its seeds, their mutations and random inputs", async () => {
    for (const s of seeds()) await fuzzTarget(Buffer.from(s));
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...seeds()), fc.array(fc.tuple(fc.nat(), fc.nat(255)), { maxLength: 8 }), async (seed, flips) => {
        const m = seed.slice();
        for (const [i, v] of flips) m[i % m.length] = v;
        await fuzzTarget(Buffer.from(m));
      }),
      { numRuns: 100 },
    );
    await fc.assert(fc.asyncProperty(fc.uint8Array({ maxLength: 400 }), async (d) => fuzzTarget(Buffer.from(d))), { numRuns: 100 });
  });
});
