// Every saved input of every fuzz target (corpus inputs and minimized findings in
// corpora/<target>/ and regressions/) is replayed through the target: a finding, once fixed, stays
// fixed. Each target's inputs run in one child process with a per-input time limit enforced from
// outside (replay.ts), so an input that livelocks fails this test by name instead of hanging
// npm test. Findings not fixed yet sit in corpora/<target>/open/ and are listed as todo tests
// (move them to regressions/ with the fix).
import { describe, expect, it } from "vitest";
import { existsSync, readdirSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { defaultFuzzPaths, listTargets, replayCorpus } from "./runner.ts";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const paths = defaultFuzzPaths(root);
/** Per-input limit: far above any input's replay time (well under a second), far below a hang. */
const TIMEOUT_MS = Number(process.env["NETLAB_REPLAY_TIMEOUT_MS"] ?? 5000);

describe("fuzz corpora regression", () => {
  const targets = listTargets(paths);
  it("has fuzz targets", () => {
    expect(targets.length).toBeGreaterThan(0);
  });
  for (const name of targets) {
    const open = path.join(paths.corporaDir, name, "open");
    for (const f of existsSync(open) ? readdirSync(open) : []) {
      const rel = path.relative(root, path.join(open, f));
      it.todo(`open finding of ${name}: ${rel} (repro: npx netlab fuzz --target ${name} --repro ${rel})`);
    }
    it(`replays every saved input of ${name} without an exception, a hang or an exit`, async () => {
      const { outcomes } = await replayCorpus(paths, name, { timeoutMs: TIMEOUT_MS });
      const failed = outcomes
        .filter((o) => !o.ok)
        .map(
          (o) =>
            `${name}: ${o.label} ${o.kind === "timeout" ? `hangs (no result within ${TIMEOUT_MS} ms)` : o.kind === "exit" ? "ends the process" : "fails"}: ${o.error ?? ""}\n  repro: npx netlab fuzz --target ${name} --repro ${o.label}`,
        );
      expect(failed, failed.join("\n\n")).toEqual([]);
    }, 180_000);
  }
});
