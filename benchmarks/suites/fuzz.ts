// Fuzz suite: executions/s per fuzz target (harness/fuzz/targets) under the engine `netlab fuzz`
// uses (Jazzer.js; jsfuzz where it does not load, which the case names), from a short run of the
// same runner seeded from corpora/<target>/ with nothing written back (saveNewInputs: false).
// The figure is the steady rate: executions between the engine's first and last statistics
// lines over the wall time between them (start-up and the seed corpus replay excluded). Targets:
// the wire parsers at least 20,000 exec/s, the Xen targets (a whole simulated machine per input)
// at least 1,000. Skipped in quick mode (seconds per target). `netlab bench --suite fuzz` also
// writes benchmarks/results/fuzz-latest.md (harness/bench/fuzz-report.ts). Each case also reports
// executions per CPU second of the engine process over the same span (the machine is shared: a
// busy neighbour lowers exec/s, much less exec per CPU second) and the load average at its start.
// NETLAB_BENCH_FUZZ_SECONDS sets the seconds per target (default 10), NETLAB_BENCH_FUZZ_TARGETS
// (a,b,...) picks targets, NETLAB_BENCH_FUZZ_RUNS the runs per target (default 1; the figure is
// their median: one run on a shared machine moves by up to 1.6x with its neighbours' load).
import { readFileSync, readdirSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { BenchCase, BenchSuite, BenchTarget } from "../../harness/bench/types.ts";
import { bundleTarget, chooseEngine, defaultFuzzPaths, listTargets, parseStatLine } from "../../harness/fuzz/runner.ts";
import { runFuzzer } from "../../harness/fuzz/runner.ts";
import { NetlabError } from "../../stack/error.ts";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const SECONDS = Number(process.env["NETLAB_BENCH_FUZZ_SECONDS"] ?? 10);
const RUNS = Number(process.env["NETLAB_BENCH_FUZZ_RUNS"] ?? 1);
if (!Number.isInteger(RUNS) || RUNS < 1) {
  throw new NetlabError("ERR_BENCH_CONFIG", `NETLAB_BENCH_FUZZ_RUNS must be a positive integer, not ${process.env["NETLAB_BENCH_FUZZ_RUNS"]}`);
}
/** NETLAB_BENCH_FUZZ_TARGETS=a,b measures only those targets (default: all). */
const ONLY = process.env["NETLAB_BENCH_FUZZ_TARGETS"]
  ?.split(",")
  .map((t) => t.trim())
  .filter((t) => t !== "");
const TICKS_PER_SECOND = 100;
/** Parsers of bytes off a wire, a ring or a file: one input is microseconds of work. */
export const WIRE_PARSERS = ["wire-decode", "dhcp-message", "pcap-readers", "http-server", "http-client", "xenstore-server"];

/** The exec/s target of a fuzz target, if the issue sets one. */
export function fuzzTarget(target: string): BenchTarget | undefined {
  if (WIRE_PARSERS.includes(target)) return { value: 20_000, kind: "min" };
  if (target.endsWith("-hostile")) return { value: 1_000, kind: "min" };
  return undefined;
}

/**
 * CPU seconds (user + system) used so far by a process and its descendants, from /proc (Linux);
 * undefined elsewhere or once the process is gone. Exited children are not counted.
 */
export function processTreeCpuSeconds(pid: number): number | undefined {
  const seen = new Set<number>();
  const walk = (p: number): number | undefined => {
    if (seen.has(p)) return 0;
    seen.add(p);
    let stat: string;
    try {
      stat = readFileSync(`/proc/${p}/stat`, "utf8");
    } catch {
      return undefined;
    }
    // Fields after the command name (which may hold spaces): state is field 3, utime 14, stime 15.
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    let total = (Number(f[11]) + Number(f[12])) / TICKS_PER_SECOND;
    try {
      for (const task of readdirSync(`/proc/${p}/task`)) {
        const kids = readFileSync(`/proc/${p}/task/${task}/children`, "utf8").trim();
        for (const k of kids === "" ? [] : kids.split(" ")) total += walk(Number(k)) ?? 0;
      }
    } catch {
      /* no children file: count the process alone */
    }
    return total;
  };
  return walk(pid);
}

function fuzzCase(target: string): BenchCase {
  let details: Record<string, unknown> = {};
  const goal = fuzzTarget(target);
  return {
    suite: "fuzz",
    name: `fuzz ${target}`,
    unit: "exec/s",
    higherIsBetter: true,
    runs: RUNS,
    warmup: 0,
    ...(goal === undefined ? {} : { target: goal }),
    available: (ctx) => (ctx.quick ? "not in quick mode (seconds of fuzzing per target)" : undefined),
    async measure(ctx) {
      const paths = defaultFuzzPaths(ROOT);
      const engine = await chooseEngine(paths);
      const bundle = await bundleTarget(paths, target, path.join(paths.buildDir, "bench", `${target}.cjs`));
      let first: [number, number, number | undefined] | undefined, last: [number, number, number | undefined] | undefined;
      const loadAtStart = os.loadavg().map((x) => +x.toFixed(2));
      ctx.progress(`fuzz / ${target}: ${SECONDS} s under ${engine.engine}`);
      const r = await runFuzzer(paths, target, bundle, {
        seconds: SECONDS,
        saveNewInputs: false,
        stopOnFirstFinding: true,
        engine: engine.engine,
        onLine: (line, pid) => {
          const st = parseStatLine(line);
          if (st === undefined || st.coverage === 0 || (st.kind === "INITED" && first !== undefined)) return;
          const point: [number, number, number | undefined] = [performance.now(), st.executions, pid === undefined ? undefined : processTreeCpuSeconds(pid)];
          if (first === undefined || st.kind === "INITED") first = point;
          else last = point;
        },
      });
      const steady = first !== undefined && last !== undefined && last[0] - first[0] > 1000 ? (last[1] - first[1]) / ((last[0] - first[0]) / 1000) : undefined;
      // Executions per CPU second of the engine process over the same span: what the target costs,
      // whatever else the shared machine runs meanwhile.
      const cpu = first?.[2] !== undefined && last?.[2] !== undefined && last[2] - first[2] > 0.2 ? last[2] - first[2] : undefined;
      const perCpu = cpu === undefined ? undefined : Math.round((last![1] - first![1]) / cpu);
      details = {
        engine: r.engine,
        ...(perCpu === undefined ? {} : { perCpuSecond: perCpu, cpuShare: +(cpu! / ((last![0] - first![0]) / 1000)).toFixed(2) }),
        loadAtStart,
        ...(r.engineNote === undefined ? {} : { engineNote: r.engineNote }),
        mode: r.mode,
        seconds: +r.seconds.toFixed(1),
        startupSeconds: +r.startupSeconds.toFixed(1),
        executions: r.executions,
        engineReportedExecPerSecond: r.execsPerSecond,
        averageExecPerSecond: Math.round(r.executions / Math.max(r.seconds, 0.001)),
        coverage: `${r.coverageFirst}->${r.coverageLast}`,
        dictionary: r.dictionary === undefined ? null : path.relative(ROOT, r.dictionary),
        findings: r.findings.map((f) => `${f.kind} after ${f.seconds.toFixed(1)} s: ${f.message.split("\n")[0]}`),
      };
      if (r.executions === 0) throw new Error(`no executions in ${SECONDS} s (${r.findings[0]?.message.split("\n")[0] ?? "engine start-up"})`);
      return Math.round(steady ?? r.execsPerSecond);
    },
    details: () => details,
  };
}

export const suite: BenchSuite = {
  name: "fuzz",
  description: `fuzz executions/s per target under Jazzer.js (${SECONDS} s each, seeded from corpora/, nothing written back)`,
  cases: () =>
    listTargets(defaultFuzzPaths(ROOT))
      .filter((t) => ONLY === undefined || ONLY.includes(t))
      .map(fuzzCase),
};
