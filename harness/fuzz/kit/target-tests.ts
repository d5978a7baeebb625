// The two tests every fuzz target gets beside it, written once:
//   describeReuseDeterminism: a target that builds its world once per process must give an input
//     replayed after the whole corpus exactly the outcome it has in a fresh world;
//   describeSeedMutations: the target survives its seeds, their mutations and random inputs
//     (fast-check), so npm test exercises its oracles beyond the saved corpus.
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";

/** The shape of a fuzz target module. */
export interface FuzzTargetModule {
  fuzz(data: Buffer): void | Promise<void>;
  seeds(): Uint8Array[];
}

/** A reusable-world target's test hooks. */
export interface ReusableWorldTarget extends FuzzTargetModule {
  /** Drops the world; the next input builds a fresh one. */
  resetForTest(): void;
  /** The last input's observable outcome, as text. */
  lastOutcomeForTest(): string;
}

/** The target's seeds, then the top-level files of corpora/<name>/ in name order. */
export function seedsAndCorpus(name: string, target: FuzzTargetModule): Uint8Array[] {
  const dir = join(import.meta.dirname, "../../../corpora", name);
  return [
    ...target.seeds(),
    ...readdirSync(dir)
      .filter((f) => statSync(join(dir, f)).isFile())
      .sort()
      .map((f) => new Uint8Array(readFileSync(join(dir, f)))),
  ];
}

/** The target's verdict on one input ("ok" or what it threw) and its outcome text. */
async function outcomeOf(target: FuzzTargetModule & { lastOutcomeForTest(): string }, input: Uint8Array): Promise<string> {
  let verdict = "ok";
  try {
    await target.fuzz(Buffer.from(input));
  } catch (e) {
    verdict = `throws: ${(e as Error).message}`;
  }
  return `${verdict}\n${target.lastOutcomeForTest()}`;
}

/**
 * Every input replayed after the whole corpus (and between others) gives its fresh-world verdict
 * and outcome. `faulted(outcome)` tells an outcome where the device faulted: at least one input
 * must, so reuse after a fault is exercised too.
 */
export function describeReuseDeterminism(name: string, target: ReusableWorldTarget, faulted: (outcome: string) => boolean): void {
  const corpus = seedsAndCorpus(name, target);
  const run = (input: Uint8Array): Promise<string> => outcomeOf(target, input);
  describe(`${name} reuses one world`, () => {
    it("gives an input after the whole corpus the outcome it has in a fresh world", async () => {
      const fresh: string[] = [];
      for (const p of corpus) {
        target.resetForTest();
        fresh.push(await run(p));
      }
      expect(fresh.some(faulted), "some input faults the device").toBe(true);
      target.resetForTest();
      for (const x of corpus) await run(x);
      for (const [i, p] of corpus.entries()) {
        expect(await run(p), `probe ${i} after other inputs`).toBe(fresh[i]);
        await run(corpus[(i * 7 + 3) % corpus.length]!);
      }
    }, 120_000);
  });
}

/** The target survives its seeds, `runs` mutations of them and `runs` random inputs of up to `maxLength` bytes. */
export function describeSeedMutations(name: string, target: FuzzTargetModule, options: { runs?: number; maxLength?: number } = {}): void {
  const runs = options.runs ?? 200;
  describe(`${name} fuzz target`, () => {
    it("survives its seeds, their mutations and random inputs", async () => {
      const seeds = target.seeds();
      for (const s of seeds) await target.fuzz(Buffer.from(s));
      await fc.assert(
        fc.asyncProperty(fc.constantFrom(...seeds), fc.array(fc.tuple(fc.nat(), fc.nat(255)), { maxLength: 8 }), async (seed, flips) => {
          const m = seed.slice();
          for (const [i, v] of flips) m[i % m.length] = v;
          await target.fuzz(Buffer.from(m));
        }),
        { numRuns: runs },
      );
      await fc.assert(
        fc.asyncProperty(fc.uint8Array({ maxLength: options.maxLength ?? 600 }), async (d) => {
          await target.fuzz(Buffer.from(d));
        }),
        { numRuns: runs },
      );
    }, 60_000);
  });
}

/**
 * A target that builds a fresh world per input is a function of the input: each seed and corpus
 * input gives the same verdict and the same outcome run twice, with other inputs between.
 * The outcomes must not all be alike (the outcome says something).
 */
export function describeFreshWorldDeterminism(name: string, target: FuzzTargetModule & { lastOutcomeForTest(): string }): void {
  const corpus = seedsAndCorpus(name, target);
  const run = (input: Uint8Array): Promise<string> => outcomeOf(target, input);
  describe(`${name} is deterministic`, () => {
    it("gives each input the same verdict and outcome twice", async () => {
      const first: string[] = [];
      for (const p of corpus) first.push(await run(p));
      expect(new Set(first).size, "inputs have different outcomes").toBeGreaterThan(1);
      for (const [i, p] of [...corpus.entries()].reverse()) expect(await run(p), `input ${i} again`).toBe(first[i]);
    }, 60_000);
  });
}
