// netlab bench: runs the benchmark suites in benchmarks/suites/, prints a table and writes
// benchmarks/results/<stamp>.json, latest.json, latest.md and latest.svg.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { attachRatios, describeMachine, loadSuites, runCase } from "../../bench/runner.ts";
import { formatMarkdown, formatSvg, formatTable, mergeMarkdownSections } from "../../bench/report.ts";
import { formatFuzzMarkdown } from "../../bench/fuzz-report.ts";
import type { BenchResult } from "../../bench/types.ts";
import { memmoveTunablesEnv, probeMemmove } from "../../bench/memmove.ts";
import { spawn } from "node:child_process";
import { helpText, parseCommandLine, UsageError } from "../args.ts";
import { constants as osConstants } from "node:os";
import { performance } from "node:perf_hooks";
import { checkReportPath, writeHtmlReport } from "../../report/html.ts";
import { withUnits, type Units } from "../../report/json.ts";

/** A result's figures are in its own `unit` field; the units of the rest. */
const BENCH_JSON_UNITS: Units = {
  median: "the result's unit",
  min: "the result's unit",
  max: "the result's unit",
  runs: "the result's unit",
  cpuMedian: "the result's unit per CPU-second",
  value: "the result's unit",
  spread: "fraction",
  ratio: "fraction of the baseline",
};
import { benchReportPage } from "../../bench/report-page.ts";
import { everyWallSecond, exitStatusOf, type StopSignal } from "../run-control.ts";

export const summary = "benchmark suites with baselines (kernel, Node net, Buffer.copy) and targets";

const USAGE = `usage: netlab bench [--suite NAME[,NAME...]] [--case TEXT[,TEXT...]] [--quick] [--json] [--out DIR] [--list] [--keep-memmove]
                   [--report FILE.html]
  --case    only the cases whose name contains one of the texts (e.g. --suite tcp --case IPv6)
  --quick   tiny workloads, one run each (under a minute; what npm test runs); no target is judged
  --report FILE.html  also write one self-contained page: the machine, the results table, the bar chart, links to the files
  progress on stderr every second; Ctrl-C or SIGTERM stops after the running case with the results so far (exit 130 / 143),
  a second one at once
  --keep-memmove  do not re-run with glibc's rep movsb threshold raised where memmove has the
            short-distance penalty (see harness/bench/memmove.ts; the machine line shows both)
  --out     results folder (default benchmarks/results; --quick writes nothing unless --out is given;
            without --out, a run of some suites writes only its stamped JSON, latest.* stays the full run's)`;

/** The command line of `netlab bench` (args.ts's rules). */
const BENCH_SPEC = {
  command: "bench",
  usage: USAGE,
  options: {
    suite: { type: "string" },
    case: { type: "string" },
    quick: { type: "boolean" },
    json: { type: "boolean" },
    out: { type: "string" },
    list: { type: "boolean" },
    "keep-memmove": { type: "boolean" },
    report: { type: "string" },
  },
} as const;

export async function run(args: string[]): Promise<number> {
  const { values: v, help } = parseCommandLine(BENCH_SPEC, args);
  if (help) {
    process.stdout.write(helpText(BENCH_SPEC));
    return 0;
  }
  const quick = v.quick === true,
    json = v.json === true,
    list = v.list === true,
    keepMemmove = v["keep-memmove"] === true;
  const only = v.suite?.split(",").filter((n) => n !== ""),
    out = v.out,
    report = v.report;
  if (report !== undefined) checkReportPath(report);
  const caseTexts = v.case?.split(",").filter((n) => n !== "");
  const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..");
  const suites = await loadSuites(path.join(root, "benchmarks/suites"));
  if (list) {
    for (const s of suites) process.stdout.write(`${s.name.padEnd(12)} ${s.description}\n`);
    return 0;
  }
  const chosen = only === undefined ? suites : suites.filter((s) => only!.includes(s.name));
  const unknown = (only ?? []).filter((n) => !suites.some((s) => s.name === n));
  if (unknown.length > 0) throw new UsageError(BENCH_SPEC.command, `unknown suite(s) ${unknown.join(", ")}; known: ${suites.map((s) => s.name).join(", ")}`);

  // Copy-bound figures are a lottery where memmove has the rep movsb short-distance penalty:
  // run again with the tunable that avoids it (read by glibc at process start only).
  const memmove = probeMemmove();
  const tunables = memmoveTunablesEnv(process.env["GLIBC_TUNABLES"]);
  if (
    !quick &&
    !keepMemmove &&
    !list &&
    tunables !== undefined &&
    memmove.penalty >= 3 &&
    process.platform === "linux" &&
    process.env["NETLAB_BENCH_REEXEC"] === undefined
  ) {
    if (!json)
      process.stderr.write(
        `bench: memmove is ${memmove.penalty}x slower at short distances here (rep movsb); running with GLIBC_TUNABLES=${tunables} (--keep-memmove to measure as is)\n`,
      );
    return rerun({ ...process.env, GLIBC_TUNABLES: tunables, NETLAB_BENCH_REEXEC: "1", NETLAB_BENCH_MEMMOVE_BEFORE: `${memmove.penalty}x` });
  }
  const interactive = !json && process.stderr.isTTY;
  const say = (m: string): void => {
    if (json) return;
    if (interactive) process.stderr.write(`\r\x1b[K${m}`);
    else process.stderr.write(`${m}\n`);
  };
  // The last progress message, repeated with the time spent on it every second (a case's run can take minutes).
  let current = "",
    currentSince = performance.now(),
    casesDone = 0;
  const cases = chosen.flatMap((s) => s.cases()).filter((c) => caseTexts === undefined || caseTexts.some((t) => c.name.includes(t)));
  const ctx = {
    quick,
    progress: (m: string) => {
      current = m;
      currentSince = performance.now();
      say(m);
    },
  };
  const stopTicker = everyWallSecond(
    json
      ? undefined
      : () => {
          if (current !== "") say(`${current} (${((performance.now() - currentSince) / 1000).toFixed(0)} s; ${casesDone}/${cases.length} cases done)`);
        },
  );
  // Ctrl-C / SIGTERM: stop after the running case (its cleanup runs) with the results so far; a second one quits at once.
  // (A terminal's Ctrl-C reaches both a re-exec'd bench and its parent, which passes it on: one
  // second later counts as the second.)
  let interrupted: StopSignal | undefined,
    interruptedAt = 0;
  const onSignal = (sig: NodeJS.Signals): void => {
    if (interrupted !== undefined) {
      if (performance.now() - interruptedAt > 1000) process.exit(exitStatusOf(interrupted));
      return;
    }
    interrupted = sig === "SIGTERM" ? "SIGTERM" : "SIGINT";
    interruptedAt = performance.now();
    say(`bench: ${sig}, stopping after the running case (again to quit now)\n`);
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  let results: BenchResult[] = [];
  try {
    for (const c of cases) {
      if (interrupted !== undefined) break;
      results.push(await runCase(c, ctx));
      casesDone++;
    }
  } finally {
    stopTicker();
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  }
  if (interactive) process.stderr.write("\r\x1b[K");
  results = attachRatios(results);
  const machine = {
    ...describeMachine(),
    memmove: `${memmove.alignedGBps}/${memmove.shortDistanceGBps} GB/s at distance 0/16 (${memmove.penalty}x)`,
    glibcTunables: process.env["GLIBC_TUNABLES"] ?? "none",
    ...(process.env["NETLAB_BENCH_MEMMOVE_BEFORE"] === undefined ? {} : { memmovePenaltyWithoutTunables: process.env["NETLAB_BENCH_MEMMOVE_BEFORE"] }),
  };
  const when = new Date().toISOString();
  // An interrupted run writes no results file (they would stand for a whole run); the report and the table say what it had.
  const dir = interrupted !== undefined ? undefined : (out ?? (quick ? undefined : path.join(root, "benchmarks/results")));
  const full = (only === undefined && caseTexts === undefined) || out !== undefined;
  const stampFile = `${when.replace(/[:.]/g, "-")}${full ? "" : `-${chosen.map((c) => c.name).join("+")}`}.json`;
  if (dir !== undefined) {
    mkdirSync(dir, { recursive: true });
    const doc = JSON.stringify(withUnits({ when, quick, machine, results }, BENCH_JSON_UNITS), null, 2) + "\n";
    writeFileSync(path.join(dir, stampFile), doc);
    // latest.* is the record of a full run: a run of some suites does not replace it.
    if (full) {
      writeFileSync(path.join(dir, "latest.json"), doc);
      writeFileSync(path.join(dir, "latest.md"), formatMarkdown(results, machine, when));
      writeFileSync(path.join(dir, "latest.svg"), formatSvg(results));
    }
    // The fuzz suite's own record (exec/s per target against the issue's targets).
    if (!quick && chosen.some((s) => s.name === "fuzz") && results.some((r) => r.suite === "fuzz" && r.status !== "skipped")) {
      writeFileSync(path.join(dir, "fuzz-latest.md"), formatFuzzMarkdown(results, machine, when, `netlab bench ${args.join(" ")}`.trim()));
    }
    // Charts and tables of the suites that ran (a run of some suites writes its own).
    for (const s of chosen) {
      if (s.artifacts === undefined) continue;
      ctx.progress(`${s.name}: charts`);
      for (const a of await s.artifacts(ctx)) {
        const file = path.join(dir, a.file);
        writeFileSync(file, a.mergeSections === true && existsSync(file) ? mergeMarkdownSections(readFileSync(file, "utf8"), a.content) : a.content);
      }
    }
  }
  if (report !== undefined) {
    const files =
      dir === undefined
        ? []
        : [
            { label: "results (JSON)", path: path.join(dir, stampFile) },
            ...(full
              ? [
                  { label: "summary (Markdown)", path: path.join(dir, "latest.md") },
                  { label: "chart (SVG)", path: path.join(dir, "latest.svg") },
                ]
              : []),
          ];
    const command = `netlab bench ${args.join(" ")}`.trim();
    writeHtmlReport(
      report,
      benchReportPage(
        results,
        machine,
        when,
        interrupted === undefined ? command : `${command}   (${interrupted} after ${casesDone} of ${cases.length} cases)`,
        quick,
        files,
      ),
    );
    if (!json) process.stderr.write(`report: ${report}\n`);
  }
  if (json)
    process.stdout.write(
      JSON.stringify(
        {
          ok: results.every((r) => r.status !== "failed"),
          when,
          quick,
          machine,
          ...(interrupted === undefined ? {} : { interrupted, casesDone, cases: cases.length }),
          results,
          units: BENCH_JSON_UNITS,
        },
        null,
        2,
      ) + "\n",
    );
  else {
    process.stdout.write(formatTable(results));
    if (dir !== undefined) {
      const where = path.relative(process.cwd(), dir) || ".";
      process.stdout.write(full ? `results: ${where}/latest.{json,md,svg}\n` : `results: ${where}/${stampFile} (a run of some suites leaves latest.* alone)\n`);
    }
  }
  if (interrupted !== undefined) {
    if (!json) process.stdout.write(`interrupted (${interrupted}) after ${casesDone} of ${cases.length} cases; no results file written\n`);
    return exitStatusOf(interrupted);
  }
  return results.some((r) => r.status === "failed") ? 1 : 0;
}

/** Runs this same command again in a child with `env`; passes signals on and returns its exit code. */
function rerun(env: NodeJS.ProcessEnv): Promise<number> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [...process.execArgv, ...process.argv.slice(1)], { stdio: "inherit", env });
    const forward = (sig: NodeJS.Signals): void => {
      child.kill(sig);
    };
    process.on("SIGINT", forward);
    process.on("SIGTERM", forward);
    child.on("exit", (code, signal) => {
      process.off("SIGINT", forward);
      process.off("SIGTERM", forward);
      resolve(code ?? 128 + (signal === null ? 0 : (osConstants.signals[signal] ?? 0)));
    });
  });
}
