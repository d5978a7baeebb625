// The xenstore fuzz target on its seeds, their mutations and random inputs (fast-check), so
// npm test exercises its oracles beyond the saved corpus.
import { describe, it } from "vitest";
import fc from "fast-check";
import { fuzz as fuzzTarget, seeds } from "./xenstore-server.ts";

describe("xenstore-server fuzz target", () => {
  it("the fuzz target survives its seeds, their mutations and random inputs", () => {
    for (const s of seeds()) fuzzTarget(s);
    fc.assert(
      fc.property(fc.constantFrom(...seeds()), fc.array(fc.tuple(fc.nat(), fc.nat(255)), { maxLength: 8 }), (seed, flips) => {
        const m = seed.slice();
        for (const [i, v] of flips) m[i % m.length] = v;
        fuzzTarget(m);
      }),
      { numRuns: 200 },
    );
    fc.assert(fc.property(fc.uint8Array({ maxLength: 600 }), (d) => fuzzTarget(d)), { numRuns: 200 });
  });
});
