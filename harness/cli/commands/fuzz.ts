// netlab fuzz: coverage-guided fuzzing (jsfuzz) of every target for a bounded time, then the
// fast-check property suites with many more runs than `npm test` uses.
import { spawnSync } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { readFileSync } from "node:fs";
import { bundleTarget, defaultFuzzPaths, ensureSeeds, listTargets, reproduces, runJsfuzz, type FuzzRunResult } from "../../fuzz/runner.ts";

export const summary = "coverage-guided (jsfuzz) and property (fast-check) fuzzing of every untrusted input";

const USAGE = `usage: netlab fuzz [--target NAME[,NAME...]] [--time SECONDS] [--workers N] [--no-properties]
                   [--property-runs N] [--list] [--repro FILE --target NAME] [--json]
  Runs each jsfuzz target for SECONDS (default 20) with N parallel workers (default 1), saving
  new-coverage inputs to corpora/<target>/ and minimized findings to corpora/<target>/regressions/
  (replayed by npm test); then the fast-check properties with more runs than npm test uses.`;

export async function run(args: string[]): Promise<number> {
  let seconds = 20, json = false, properties = true, propertyRuns = 2000, list = false, workers = 1;
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
  for (const [i, name] of targets.entries()) {
    const label = `[${i + 1}/${targets.length}] ${name}`;
    if (!json) process.stderr.write(`${label}: bundling, then fuzzing for ${seconds}s with ${workers} worker(s)\n`);
    await ensureSeeds(paths, name);
    const bundle = await bundleTarget(paths, name);
    const runs = await Promise.all(Array.from({ length: workers }, (_, w) => runJsfuzz(paths, name, bundle, {
      seconds, worker: w,
      ...(json ? {} : { onLine: (line: string) => {
        const m = /^#(\d+)\s+(NEW|PULSE)\s+cov: (\d+) corp: (\d+) exec\/s: (\d+)/.exec(line);
        if (m) process.stderr.write(`\r  ${label} w${w}: ${m[1]} execs, ${m[5]} exec/s, cov ${m[3]}, corpus ${m[4]}      `);
        else if (line.includes("crash") || line.includes("timeout")) process.stderr.write(`\n  ${line}\n`);
      } }),
    })));
    if (!json) process.stderr.write("\n");
    for (const r of runs) {
      results.push(r);
      for (const c of r.crashes) process.stderr.write(`  finding saved: ${c}\n  repro: npx netlab fuzz --target ${name} --repro ${path.relative(root, c)}\n`);
    }
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
  const failed = results.filter((r) => r.crashes.length > 0 || r.hang || r.coverageLast === 0);
  if (json) {
    process.stdout.write(JSON.stringify({ ok: failed.length === 0 && propertiesOk, propertiesOk, targets: results }, null, 2) + "\n");
  } else {
    const rows = results.map((r) => [r.target, String(r.executions), String(r.execsPerSecond), `${r.coverageFirst}→${r.coverageLast}`, `${r.corpusFiles} (+${r.newInputs})`, r.crashes.length ? r.crashes.join(" ") : r.hang ? "HANG" : r.coverageLast === 0 ? "BLIND (no coverage)" : "none"]);
    const head = ["target", "execs", "exec/s", "coverage", "corpus", "findings"];
    const widths = head.map((h, c) => Math.max(h.length, ...rows.map((row) => row[c]!.length)));
    const fmt = (row: string[]): string => row.map((x, c) => x.padEnd(widths[c]!)).join("  ");
    process.stdout.write(fmt(head) + "\n" + widths.map((w) => "-".repeat(w)).join("  ") + "\n" + rows.map(fmt).join("\n") + "\n");
    process.stdout.write(`properties: ${properties ? (propertiesOk ? "passed" : "FAILED") : "skipped"}\n`);
  }
  return failed.length === 0 && propertiesOk ? 0 : 1;
}
