// Fuzz suite: jsfuzz executions/s per fuzz target (harness/fuzz/targets), from a short run
// of the same runner `netlab fuzz` uses, on a temporary copy of the target's corpus so that
// benchmarking leaves corpora/ untouched. Skipped in quick mode (seconds per target).
import { cpSync, existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { BenchCase, BenchSuite } from "../../harness/bench/types.ts";
import { bundleTarget, defaultFuzzPaths, ensureSeeds, listTargets, runJsfuzz, type FuzzPaths } from "../../harness/fuzz/runner.ts";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const SECONDS = Number(process.env["NETLAB_BENCH_FUZZ_SECONDS"] ?? 12);
const FINDINGS = path.join(tmpdir(), "netlab-bench-fuzz-findings");
const STAT_LINE = /^#(\d+)\s+(NEW|PULSE)\s+cov: (\d+)/;

function fuzzCase(target: string): BenchCase {
  let details: Record<string, unknown> = {};
  return {
    suite: "fuzz", name: `jsfuzz ${target}`, unit: "exec/s", higherIsBetter: true, runs: 1, warmup: 0,
    available: (ctx) => (ctx.quick ? "not in quick mode (seconds of fuzzing per target)" : undefined),
    async measure() {
      const real = defaultFuzzPaths(ROOT);
      const tmp = mkdtempSync(path.join(tmpdir(), "netlab-bench-fuzz-"));
      try {
        const paths: FuzzPaths = { ...real, buildDir: path.join(tmp, "build"), corporaDir: path.join(tmp, "corpora") };
        const own = path.join(real.corporaDir, target);
        // The corpus inputs only (not regressions/ or crashes/): jsfuzz reads the top level.
        if (existsSync(own)) cpSync(own, path.join(paths.corporaDir, target), { recursive: true, filter: (src) => src === own || !/\/(regressions|crashes)(\/|$)/.test(src.slice(own.length)) });
        await ensureSeeds(paths, target);
        const bundle = await bundleTarget(paths, target);
        // jsfuzz spends its first seconds instrumenting the bundle and replaying the corpus; the
        // rate is taken between the first and the last stat line with coverage (steady state).
        // A target that shows none (slow start-up on a loaded machine) gets one longer run.
        const once = async (seconds: number) => {
          let first: [number, number] | undefined, last: [number, number] | undefined;
          const r = await runJsfuzz(paths, target, bundle, {
            seconds,
            onLine: (line) => {
              const m = STAT_LINE.exec(line);
              if (m === null || Number(m[3]) === 0) return;
              const point: [number, number] = [performance.now(), Number(m[1])];
              first ??= point;
              last = point;
            },
          });
          const steady = first !== undefined && last !== undefined && last[0] - first[0] > 1000 ? (last[1] - first[1]) / ((last[0] - first[0]) / 1000) : undefined;
          return { r, steady, steadySeconds: first && last ? (last[0] - first[0]) / 1000 : 0 };
        };
        let run = await once(SECONDS);
        if (run.r.executions === 0 && run.r.crashes.length === 0) run = await once(2 * SECONDS);
        const { r, steady } = run;
        // Findings are kept outside the temporary corpus (and outside corpora/, which `netlab fuzz` owns).
        const kept = r.crashes.map((c) => {
          mkdirSync(FINDINGS, { recursive: true });
          const dest = path.join(FINDINGS, `${target}-${path.basename(c)}`);
          cpSync(c, dest);
          process.stderr.write(`fuzz suite: ${target} finding kept at ${dest} (repro: netlab fuzz --target ${target} --repro ${dest})\n`);
          return dest;
        });
        details = {
          seconds: +r.seconds.toFixed(1), executions: r.executions, jsfuzzReportedExecPerSecond: r.execsPerSecond,
          steadySeconds: +run.steadySeconds.toFixed(1),
          coverage: `${r.coverageFirst}->${r.coverageLast}`, findings: kept, hang: r.hang,
        };
        if (r.executions === 0) throw new Error(`no executions within ${2 * SECONDS} s (jsfuzz start-up)`);
        return steady ?? r.execsPerSecond;
      } finally {
        rmSync(tmp, { recursive: true, force: true });
      }
    },
    details: () => details,
  };
}

export const suite: BenchSuite = {
  name: "fuzz",
  description: `jsfuzz executions/s per target (${SECONDS} s each on a copy of its corpus)`,
  cases: () => listTargets(defaultFuzzPaths(ROOT)).map(fuzzCase),
};
