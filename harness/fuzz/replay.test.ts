// replayInputs() stops what nothing inside a process can stop: a synchronous livelock is killed
// from outside and reported by input, and the inputs after it still run.
import { describe, expect, it } from "vitest";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { bundleTarget, defaultFuzzPaths, targetMode } from "./runner.ts";
import { harnessSource, replayInputs } from "./replay.ts";

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

  it("gives Jazzer.js's edge counter a direct-indexing method with the same NeverZero counts, before the target loads", () => {
    const dir = mkdtempSync(path.join(tmpdir(), "netlab-replay-test-"));
    try {
      // A target as Jazzer.js instruments it (a call per edge), run under a stand-in for its tracker.
      writeFileSync(path.join(dir, "t.cjs"), "exports.fuzz = (d) => { for (const b of d) Fuzzer.coverageTracker.incrementCounter(b & 3); };\n");
      writeFileSync(path.join(dir, "h.cjs"), harnessSource(path.join(dir, "t.cjs"), "sync"));
      const script = `
        const original = { calls: 0, incrementCounter(id) { this.calls++; const c = this.coverageMap.readUint8(id); this.coverageMap.writeUint8(c == 255 ? 1 : c + 1, id); } };
        globalThis.Fuzzer = { coverageTracker: Object.assign(Object.create(original), { coverageMap: Buffer.alloc(4) }) };
        const h = require(${JSON.stringify(path.join(dir, "h.cjs"))});
        const t = Fuzzer.coverageTracker;
        t.coverageMap[1] = 254; t.coverageMap[2] = 255; t.coverageMap[3] = 7;
        h.fuzz(Buffer.from([0, 1, 1, 2, 3, 3, 3]));
        process.stdout.write(JSON.stringify({ map: [...t.coverageMap], originalCalls: original.calls }));`;
      const r = spawnSync(process.execPath, ["-e", script], { encoding: "utf8" });
      expect(r.stderr).toBe("");
      // 0 -> 1; 254 -> 255 -> 1 (never 0); 255 -> 1; 7 -> 10; the original method never ran.
      expect(JSON.parse(r.stdout)).toEqual({ map: [1, 1, 1, 10], originalCalls: 0 });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
