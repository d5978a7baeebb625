// The blkfront-hostile target builds its Xen world once per process: replaying an input after many
// others must give exactly what it gives in a fresh world (same verdict, same observable outcome).
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { fuzz, lastOutcomeForTest, resetForTest, seeds } from "./blkfront-hostile.ts";

const dir = join(import.meta.dirname, "../../../corpora/blkfront-hostile");
const corpus: Uint8Array[] = [
  ...seeds(),
  ...readdirSync(dir).filter((f) => statSync(join(dir, f)).isFile()).sort().map((f) => new Uint8Array(readFileSync(join(dir, f)))),
];

async function run(input: Uint8Array): Promise<string> {
  let verdict = "ok";
  try { await fuzz(Buffer.from(input)); } catch (e) { verdict = `throws: ${(e as Error).message}`; }
  return `${verdict}\n${lastOutcomeForTest()}`;
}

describe("blkfront-hostile reuses one world", () => {
  it("gives an input after the whole corpus the outcome it has in a fresh world", async () => {
    const probes = corpus;
    const fresh: string[] = [];
    for (const p of probes) {
      resetForTest();
      fresh.push(await run(p));
    }
    // The probes cover a blkfront fault, so reuse after a fault (a new frontend and handshake) is exercised too.
    expect(fresh.some((o) => o.includes("\"faults\":[\""))).toBe(true);
    resetForTest();
    for (const x of corpus) await run(x);
    for (const [i, p] of probes.entries()) {
      expect(await run(p), `probe ${i} after other inputs`).toBe(fresh[i]);
      await run(corpus[(i * 7 + 3) % corpus.length]!);
    }
  }, 120_000);
});
