// runFuzzer() under Jazzer.js turns every kind of misbehaviour into a finding with its input and
// the time it took to find it, and never writes into corpora/ when told not to; distillCorpus()
// keeps inputs by coverage features; the dictionaries parse as libFuzzer dictionaries.
import { describe, expect, it } from "vitest";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { bundleTarget, chooseEngine, defaultFuzzPaths, distillCorpus, runFuzzer, type FuzzPaths } from "./runner.ts";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const engine = await chooseEngine(defaultFuzzPaths(root));
const withJazzer = engine.engine === "jazzer" ? it : it.skip;

function fixturePaths(dir: string): FuzzPaths {
  return { root, targetsDir: path.join(root, "harness/fuzz/fixtures"), buildDir: path.join(dir, "build"), corporaDir: path.join(dir, "corpora") };
}

describe("runFuzzer under Jazzer.js", () => {
  const cases = [
    { fixture: "misbehaving-sync", seed: "LOOP", kind: "timeout" },
    { fixture: "misbehaving-async", seed: "LOOP", kind: "timeout" },
    { fixture: "misbehaving-async", seed: "REJECT", kind: "crash" },
    { fixture: "misbehaving-sync", seed: "EXIT", kind: "crash" },
  ] as const;
  for (const c of cases) {
    withJazzer(
      `reports ${c.seed} of ${c.fixture} as a ${c.kind} with its input, leaving corpora/ alone`,
      async () => {
        const dir = mkdtempSync(path.join(tmpdir(), "netlab-runner-test-"));
        try {
          const paths = fixturePaths(dir);
          const seeds = path.join(dir, "seeds");
          mkdirSync(seeds, { recursive: true });
          writeFileSync(path.join(seeds, "a"), "fine");
          writeFileSync(path.join(seeds, "b"), c.seed);
          const bundle = await bundleTarget(paths, c.fixture);
          const r = await runFuzzer(paths, c.fixture, bundle, {
            seconds: 20,
            corpusDirs: [seeds],
            saveNewInputs: false,
            stopOnFirstFinding: true,
            perInputTimeoutSeconds: 1,
          });
          expect(r.engine).toBe("jazzer");
          expect(r.findings.map((f) => f.kind)).toEqual([c.kind]);
          expect(Buffer.from(r.findingInputs[0]!).toString()).toBe(c.seed);
          expect(r.firstFindingSeconds).toBeGreaterThanOrEqual(0);
          expect(r.firstFindingSeconds).toBeLessThan(15);
          expect(existsSync(paths.corporaDir)).toBe(false);
        } finally {
          rmSync(dir, { recursive: true, force: true });
        }
      },
      60_000,
    );
  }

  withJazzer(
    "fuzzes a real target, saves new inputs to its corpus, and trims it by coverage",
    async () => {
      const dir = mkdtempSync(path.join(tmpdir(), "netlab-runner-test-"));
      try {
        const paths: FuzzPaths = { ...defaultFuzzPaths(root), buildDir: path.join(dir, "build"), corporaDir: path.join(dir, "corpora") };
        const own = path.join(root, "corpora/pcap-readers");
        mkdirSync(path.join(paths.corporaDir, "pcap-readers"), { recursive: true });
        for (const f of readdirSync(own)) if (!["regressions", "open"].includes(f)) cpSync(path.join(own, f), path.join(paths.corporaDir, "pcap-readers", f));
        const bundle = await bundleTarget(paths, "pcap-readers");
        const r = await runFuzzer(paths, "pcap-readers", bundle, { seconds: 4 });
        expect(r.findings).toEqual([]);
        expect(r.executions).toBeGreaterThan(100);
        expect(r.coverageLast).toBeGreaterThan(0);
        expect(r.dictionary).toMatch(/pcap-readers\.dict$/);
        const d = await distillCorpus(paths, "pcap-readers", { maxReplayMs: 100_000 });
        expect(d.method).toBe("coverage");
        expect(d.failing).toEqual([]);
        // Within an unbinding budget nothing that adds coverage is lost.
        expect(d.features!.kept).toBe(d.features!.before);
        expect(d.kept).toBeLessThanOrEqual(r.corpusFiles);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
    120_000,
  );

  withJazzer(
    "instruments only the code a Xen target names: one module per file, the world around it left out",
    async () => {
      const dir = mkdtempSync(path.join(tmpdir(), "netlab-runner-test-"));
      try {
        const paths: FuzzPaths = { ...defaultFuzzPaths(root), buildDir: path.join(dir, "build"), corporaDir: path.join(dir, "corpora") };
        const bundle = await bundleTarget(paths, "blkfront-hostile");
        const tree = path.join(paths.buildDir, "blkfront-hostile.tree");
        expect(existsSync(path.join(tree, "xen-sim/blk/blkfront.cjs"))).toBe(true);
        expect(existsSync(path.join(tree, "xen-sim/ring/ring.cjs"))).toBe(true);
        expect(existsSync(path.join(tree, "harness/fuzz/targets/blkfront-hostile.cjs"))).toBe(true);
        expect(existsSync(path.join(tree, "xen-sim/xenstore/server.noinst.cjs"))).toBe(true);
        expect(existsSync(path.join(tree, "xen-sim/hypervisor/hypervisor.noinst.cjs"))).toBe(true);
        mkdirSync(path.join(paths.corporaDir, "blkfront-hostile"), { recursive: true });
        writeFileSync(path.join(paths.corporaDir, "blkfront-hostile", "seed"), Uint8Array.from([1, 0, 0, 8, 0, 16, 4, 0, 0, 0, 1, 0, 0]));
        const r = await runFuzzer(paths, "blkfront-hostile", bundle, { seconds: 3, saveNewInputs: false });
        expect(r.findings).toEqual([]);
        expect(r.executions).toBeGreaterThan(10);
        // The whole bundle has ~1,650 edges reached by this seed's neighbourhood; the driver, ring,
        // ABI and xenbus code alone a third of that.
        expect(r.coverageLast).toBeGreaterThan(100);
        expect(r.coverageLast).toBeLessThan(1000);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
    90_000,
  );
});

describe("bundleTarget's per-module layout", () => {
  it("gives a module's exports as plain values once it has run, equal to the module's own, and the target still runs", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), "netlab-runner-test-"));
    try {
      const paths: FuzzPaths = { ...defaultFuzzPaths(root), buildDir: path.join(dir, "build"), corporaDir: path.join(dir, "corpora") };
      const bundle = await bundleTarget(paths, "blkfront-hostile");
      const req = createRequire(import.meta.url);
      const target = req(bundle) as { fuzz(d: Buffer): Promise<void> };
      const abi = req(path.join(paths.buildDir, "blkfront-hostile.tree/xen-sim/abi/grant-table.cjs")) as Record<string, unknown>;
      const own = (await import("../../xen-sim/abi/grant-table.ts")) as Record<string, unknown>;
      expect(Object.getOwnPropertyDescriptor(abi, "GTF_permit_access")).toMatchObject({ value: own.GTF_permit_access, enumerable: true });
      expect(Object.keys(abi).sort()).toEqual(Object.keys(own).sort());
      for (const k of Object.keys(own)) if (typeof own[k] !== "function") expect(abi[k], k).toEqual(own[k]);
      expect(abi.__esModule).toBe(true);
      await target.fuzz(Buffer.from([1, 0, 0, 8, 0, 16, 4, 0, 0, 0, 1, 0, 0]));
      await target.fuzz(Buffer.from([0, 0, 5, 5, 1, 0xd5, 0]));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);

  it("gives a target's oracleModules an uninstrumented copy of the code under test; the target's own run keeps the instrumented one", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), "netlab-runner-test-"));
    try {
      const paths: FuzzPaths = { ...defaultFuzzPaths(root), buildDir: path.join(dir, "build"), corporaDir: path.join(dir, "corpora") };
      const bundle = await bundleTarget(paths, "http-server");
      const tree = path.join(paths.buildDir, "http-server.tree");
      const requires = (rel: string): string[] => [...readFileSync(path.join(tree, rel), "utf8").matchAll(/require\("([^"]*)"\)/g)].map((m) => m[1]!);
      expect(requires("harness/fuzz/http-reference.noinst.cjs")).toContain("../../stack/app/http/parser.oracle.noinst.cjs");
      expect(requires("stack/app/http/parser.oracle.noinst.cjs")).toEqual(expect.arrayContaining(["./headers.oracle.noinst.cjs", "../../result.noinst.cjs"]));
      expect(requires("stack/app/http/server.cjs")).toContain("./parser.cjs");
      expect(existsSync(path.join(tree, "stack/app/http/server.oracle.noinst.cjs"))).toBe(false);
      const target = createRequire(import.meta.url)(bundle) as { fuzz(d: Buffer): void; seeds(): Uint8Array[] };
      for (const s of target.seeds()) target.fuzz(Buffer.from(s));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});

describe("fuzz dictionaries", () => {
  const dir = path.join(root, "harness/fuzz/dicts");
  for (const f of readdirSync(dir)) {
    it(`${f} is in libFuzzer's dictionary format`, () => {
      const bad = readFileSync(path.join(dir, f), "utf8")
        .split("\n")
        .filter((l) => l.trim() !== "" && !l.startsWith("#") && !/^([A-Za-z0-9_]+=)?"([^"\\]|\\\\|\\"|\\x[0-9a-fA-F]{2})*"$/.test(l));
      expect(bad).toEqual([]);
    });
  }
});
