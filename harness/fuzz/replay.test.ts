// replayInputs() stops what nothing inside a process can stop: a synchronous livelock is killed
// from outside and reported by input, and the inputs after it still run.
import { describe, expect, it } from "vitest";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { bundleTarget, defaultFuzzPaths, targetMode } from "./runner.ts";
import { replayInputs } from "./replay.ts";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const inputs = ["fine", "LOOP", "fine again", "THROW", "EXIT", "REJECT", "last"].map((s) => ({ label: s, data: Buffer.from(s) }));

describe("replayInputs", () => {
  for (const fixture of ["misbehaving-sync", "misbehaving-async"] as const) {
    it(`reports a livelocking input of ${fixture} as a timeout by name and replays the rest`, async () => {
      const dir = mkdtempSync(path.join(tmpdir(), "netlab-replay-test-"));
      try {
        const paths = { ...defaultFuzzPaths(root), targetsDir: path.join(root, "harness/fuzz/fixtures"), buildDir: dir };
        const bundle = await bundleTarget(paths, fixture);
        const mode = targetMode(bundle, Buffer.from("fine"));
        expect(mode).toBe(fixture === "misbehaving-sync" ? "sync" : "async");
        const t0 = performance.now();
        const out = await replayInputs(bundle, mode, inputs, { timeoutMs: 1000 });
        expect(out.map((o) => [o.label, o.ok ? "ok" : o.kind])).toEqual([
          ["fine", "ok"],
          ["LOOP", "timeout"],
          ["fine again", "ok"],
          ["THROW", "crash"],
          ["EXIT", "crash"],
          ["REJECT", "crash"],
          ["last", "ok"],
        ]);
        expect(out[4]!.error).toContain("process.exit(3)");
        expect(out[5]!.error).toContain("stray rejection");
        expect(performance.now() - t0).toBeLessThan(15_000);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    }, 30_000);
  }

  it("reports an input that pollutes Object.prototype (the harness's check after each input)", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), "netlab-replay-test-"));
    try {
      const paths = { ...defaultFuzzPaths(root), targetsDir: path.join(root, "harness/fuzz/fixtures"), buildDir: dir };
      const bundle = await bundleTarget(paths, "misbehaving-sync");
      const out = await replayInputs(
        bundle,
        "sync",
        [
          { label: "fine", data: Buffer.from("fine") },
          { label: "POLLUTE", data: Buffer.from("POLLUTE") },
        ],
        { timeoutMs: 5000 },
      );
      expect(out.map((o) => [o.label, o.ok ? "ok" : o.kind])).toEqual([
        ["fine", "ok"],
        ["POLLUTE", "crash"],
      ]);
      expect(out[1]!.error).toContain("Prototype Pollution: Object.prototype.polluted was added");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 30_000);
});
