// Every saved input of every fuzz target (seeds and past crashes in corpora/<target>/) is
// replayed through the target: a finding, once fixed, stays fixed. Findings not fixed yet sit in
// corpora/<target>/open/ and are listed as todo tests (move them to regressions/ with the fix).
import { describe, expect, it } from "vitest";
import { readdirSync, readFileSync, statSync, existsSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { defaultFuzzPaths, listTargets } from "./runner.ts";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const paths = defaultFuzzPaths(root);

function corpusFiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir).flatMap((f) => {
    const p = path.join(dir, f);
    if (statSync(p).isDirectory()) return f === "open" ? [] : corpusFiles(p);
    return [p];
  });
}

function corpusFilesIn(dir: string): string[] {
  return existsSync(dir) ? readdirSync(dir).map((f) => path.join(dir, f)) : [];
}

describe("fuzz corpora regression", () => {
  const targets = listTargets(paths);
  it("has fuzz targets", () => {
    expect(targets.length).toBeGreaterThan(0);
  });
  for (const name of targets) {
    for (const open of corpusFilesIn(path.join(paths.corporaDir, name, "open"))) {
      it.todo(`open finding of ${name}: ${path.relative(root, open)} (repro: npx netlab fuzz --target ${name} --repro ${path.relative(root, open)})`);
    }
    it(`replays every saved input of ${name} without an exception`, async () => {
      const mod = (await import(path.join(paths.targetsDir, `${name}.ts`))) as { fuzz(data: Buffer): void | Promise<void> };
      const files = corpusFiles(path.join(paths.corporaDir, name));
      for (const file of files) {
        const data = readFileSync(file);
        try {
          await mod.fuzz(data);
        } catch (e) {
          throw new Error(`${name}: ${path.relative(root, file)} fails: ${(e as Error).stack ?? String(e)}`);
        }
      }
      // Also a few fixed degenerate inputs, whether or not a corpus exists yet.
      for (const data of [Buffer.alloc(0), Buffer.alloc(1), Buffer.alloc(64, 0xff), Buffer.alloc(2000, 0)]) await mod.fuzz(data);
    });
  }
});
