// netlab fuzz: coverage-guided fuzzing (jsfuzz) of every target for a bounded time, then the
// fast-check property suites with many more runs than `npm test` uses.
import { spawnSync } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { readFileSync } from "node:fs";
import {
  bundleTarget, defaultFuzzPaths, distillCorpus, ensureSeeds, listTargets, reproduces, runJsfuzz, type DistillResult, type FuzzRunResult,
} from "../../fuzz/runner.ts";

/** Per-target time of a default run: 14 targets, two at a time, about 5 minutes of fuzzing. */
const DEFAULT_SECONDS = 40;
const DEFAULT_PROPERTY_RUNS = 2000;

export const summary = "coverage-guided (jsfuzz) and property (fast-check) fuzzing of every untrusted input";

const USAGE = `usage: netlab fuzz [--target NAME[,NAME...]] [--time SECONDS] [--jobs N] [--workers N] [--no-properties]
                   [--property-runs N] [--list] [--repro FILE --target NAME] [--json]
  Runs each jsfuzz target for SECONDS (default ${DEFAULT_SECONDS}), JOBS targets at a time (default 2) with N
  jsfuzz workers each (default 1), saving new-coverage inputs to corpora/<target>/ (then trimmed so
  that npm test replays each corpus in well under a second) and minimized findings to
  corpora/<target>/regressions/ (replayed by npm test); then the fast-check properties with
  more runs than npm test uses (default ${DEFAULT_PROPERTY_RUNS}).`;

export async function run(args: string[]): Promise<number> {
  let seconds = DEFAULT_SECONDS, json = false, properties = true, propertyRuns = DEFAULT_PROPERTY_RUNS, list = false, workers = 1, jobs = 2;
  let repro: string | undefined;
  let only: string[] | undefined;
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    const next = (): string => {
      const v = args[++i];
      if (v === undefined) throw Object.assign(new Error(`${a} needs a value\n${USAGE}`), { code: "ERR_USAGE" });
      return v;
    };
    if (a === "--seconds" || a === "--time") seconds = Number(next());
    else if (a === "--workers") workers = Math.max(1, Math.floor(Number(next())));
    else if (a === "--jobs") jobs = Math.max(1, Math.floor(Number(next())));
    else if (a === "--repro") repro = next();
    else if (a === "--target") only = next().split(",");
    else if (a === "--json") json = true;
    else if (a === "--no-properties") properties = false;
    else if (a === "--property-runs") propertyRuns = Number(next());
    else if (a === "--list") list = true;
    else if (a === "--help" || a === "-h") { process.stdout.write(USAGE + "\n"); return 0; }
    else throw Object.assign(new Error(`unknown option ${a}\n${USAGE}`), { code: "ERR_USAGE" });
  }
  if (!(seconds > 0)) throw Object.assign(new Error("--seconds must be positive"), { code: "ERR_USAGE" });
  const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..");
  const paths = defaultFuzzPaths(root);
  const all = listTargets(paths);
  if (list) { process.stdout.write(all.join("\n") + "\n"); return 0; }
  const targets = only ?? all;
  const unknown = targets.filter((t) => !all.includes(t));
  if (unknown.length > 0) throw Object.assign(new Error(`unknown target(s): ${unknown.join(", ")}; known: ${all.join(", ")}`), { code: "ERR_USAGE" });

  if (repro !== undefined) {
    if (targets.length !== 1) throw Object.assign(new Error("--repro needs exactly one --target"), { code: "ERR_USAGE" });
    const bundle = await bundleTarget(paths, targets[0]!);
    const failing = reproduces(bundle, readFileSync(repro));
    process.stdout.write(`${targets[0]} on ${repro}: ${failing ? "FAILS (throws or exceeds its time budget)" : "passes"}\n`);
    return failing ? 1 : 0;
  }

  const results: FuzzRunResult[] = [];
  const distilled = new Map<string, DistillResult>();
  const tty = process.stderr.isTTY === true && !json;
  const status = new Map<string, string>();
  let lastPrint = 0;
  const draw = (force = false): void => {
    if (json) return;
    const line = [...status.values()].join(" | ");
    if (tty) process.stderr.write(`\r\x1b[K${line.slice(0, (process.stderr.columns || 160) - 1)}`);
    else if (force || performance.now() - lastPrint > 10_000) { process.stderr.write(line + "\n"); lastPrint = performance.now(); }
  };
  const say = (text: string): void => {
    if (json) return;
    process.stderr.write(`${tty ? "\r\x1b[K" : ""}${text}\n`);
    draw();
  };
  const fuzzOne = async (name: string, index: number): Promise<void> => {
    const label = `[${index + 1}/${targets.length}] ${name}`;
    await ensureSeeds(paths, name);
    const bundle = await bundleTarget(paths, name);
    say(`${label}: fuzzing for ${seconds}s with ${workers} worker(s)`);
    const runs = await Promise.all(Array.from({ length: workers }, (_, w) => {
      const key = `${name}#${w}`;
      status.set(key, `${name}${workers > 1 ? ` w${w}` : ""}: starting`);
      return runJsfuzz(paths, name, bundle, {
        seconds, worker: w,
        onLine: (line: string) => {
          const m = /^#(\d+)\s+(NEW|PULSE)\s+cov: (\d+) corp: (\d+) exec\/s: (\d+)/.exec(line);
          if (m) {
            status.set(key, `${name}${workers > 1 ? ` w${w}` : ""}: ${m[1]} execs ${m[5]}/s cov ${m[3]} corpus ${m[4]}`);
            draw();
          } else if (/crash|timeout reached|Error/.test(line)) say(`  ${name}: ${line}`);
        },
      }).finally(() => status.delete(key));
    }));
    for (const r of runs) {
      results.push(r);
      for (const c of r.crashes) say(`  ${name}: finding saved: ${path.relative(root, c)}\n  repro: npx netlab fuzz --target ${name} --repro ${path.relative(root, c)}`);
    }
    const best = runs.reduce((a, b) => (b.coverageLast > a.coverageLast ? b : a));
    say(`${label}: done, ${runs.reduce((n, r) => n + r.executions, 0)} execs, coverage ${best.coverageFirst}→${best.coverageLast}, ${runs.reduce((n, r) => n + r.crashes.length, 0)} finding(s)`);
  };
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(jobs, targets.length) }, async () => {
    while (next < targets.length) {
      const i = next++;
      await fuzzOne(targets[i]!, i);
    }
  }));
  if (tty) process.stderr.write("\r\x1b[K");
  // Keep every corpus small enough for npm test's replay (seeds and the oldest inputs first).
  for (const name of targets) {
    const d = await distillCorpus(paths, name);
    distilled.set(name, d);
    for (const f of d.failing) say(`  ${name}: corpus input fails on replay: ${path.relative(root, f)}`);
  }

  let propertiesOk = true;
  if (properties) {
    if (!json) process.stderr.write(`fast-check properties with ${propertyRuns} runs each\n`);
    const vitest = spawnSync(process.execPath, [path.join(root, "node_modules/vitest/vitest.mjs"), "run", "-t", "property|never throw|arbitrary"], {
      cwd: root, env: { ...process.env, NETLAB_FC_RUNS: String(propertyRuns) }, stdio: json ? "ignore" : "inherit",
    });
    propertiesOk = vitest.status === 0;
  }

  // A target whose coverage counter never moved is fuzzing blind (e.g. not instrumented): a failure.
  const failed = results.filter((r) => r.crashes.length > 0 || r.hang || r.coverageLast === 0 || (distilled.get(r.target)?.failing.length ?? 0) > 0);
  const rel = (p: string): string => path.relative(root, p);
  const avg = (r: FuzzRunResult): number => Math.round(r.executions / Math.max(r.seconds, 0.001));
  if (json) {
    process.stdout.write(JSON.stringify({
      ok: failed.length === 0 && propertiesOk, propertiesOk, seconds, jobs, workers,
      targets: results.map((r) => ({ ...r, averageExecsPerSecond: avg(r), crashes: r.crashes.map(rel), corpusKept: distilled.get(r.target)?.kept, corpusBytes: distilled.get(r.target)?.bytes, corpusReplayMs: distilled.get(r.target)?.replayMs })),
    }, null, 2) + "\n");
  } else {
    const rows = results.map((r) => {
      const d = distilled.get(r.target);
      return [
        r.target, String(r.executions), String(avg(r)), `${r.coverageFirst}→${r.coverageLast}`,
        `${r.corpusFiles} (+${r.newInputs}) → ${d?.kept ?? r.corpusFiles} kept, ${Math.round((d?.bytes ?? 0) / 1024)} KB`,
        r.crashes.length ? r.crashes.map(rel).join(" ") : r.hang ? "HANG" : r.coverageLast === 0 ? "BLIND (no coverage)" : "none",
      ];
    });
    const head = ["target", "execs", "exec/s", "coverage", "corpus (saved → kept)", "findings"];
    const widths = head.map((h, c) => Math.max(h.length, ...rows.map((row) => row[c]!.length)));
    const fmt = (row: string[]): string => row.map((x, c) => x.padEnd(widths[c]!)).join("  ").trimEnd();
    process.stdout.write(fmt(head) + "\n" + widths.map((w) => "-".repeat(w)).join("  ") + "\n" + rows.map(fmt).join("\n") + "\n");
    process.stdout.write(`properties: ${properties ? (propertiesOk ? "passed" : "FAILED") : "skipped"}\n`);
    for (const r of results) for (const c of r.crashes) process.stdout.write(`repro: npx netlab fuzz --target ${r.target} --repro ${rel(c)}\n`);
  }
  return failed.length === 0 && propertiesOk ? 0 : 1;
}
