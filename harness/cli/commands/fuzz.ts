// netlab fuzz: coverage-guided fuzzing (jsfuzz) of every target for a bounded time, then the
// fast-check property suites with many more runs than `npm test` uses.
import { spawnSync } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { bundleTarget, defaultFuzzPaths, listTargets, runJsfuzz, type FuzzRunResult } from "../../fuzz/runner.ts";

export const summary = "coverage-guided (jsfuzz) and property (fast-check) fuzzing of every untrusted input";

const USAGE = `usage: netlab fuzz [--target NAME[,NAME...]] [--seconds N] [--no-properties] [--property-runs N] [--list] [--json]
  Runs each jsfuzz target for N seconds (default 20), saves new inputs under build/fuzz/corpus,
  crashes under corpora/<target>/crashes/ (replayed by npm test), then the fast-check properties.`;

export async function run(args: string[]): Promise<number> {
  let seconds = 20, json = false, properties = true, propertyRuns = 2000, list = false;
  let only: string[] | undefined;
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    const next = (): string => {
      const v = args[++i];
      if (v === undefined) throw Object.assign(new Error(`${a} needs a value\n${USAGE}`), { code: "ERR_USAGE" });
      return v;
    };
    if (a === "--seconds") seconds = Number(next());
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

  const results: FuzzRunResult[] = [];
  for (const [i, name] of targets.entries()) {
    if (!json) process.stderr.write(`[${i + 1}/${targets.length}] ${name}: bundling, then fuzzing for ${seconds}s\n`);
    const bundle = await bundleTarget(paths, name);
    const r = await runJsfuzz(paths, name, bundle, {
      seconds,
      onLine: json ? undefined : (line) => { if (line.includes("NEW") || line.includes("PULSE") || line.includes("crash")) process.stderr.write(`  ${line}\n`); },
    } as Parameters<typeof runJsfuzz>[3]);
    results.push(r);
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
    const rows = results.map((r) => [r.target, String(r.executions), String(r.execsPerSecond), `${r.coverageFirst}→${r.coverageLast}`, String(r.corpusFiles), r.crashes.length ? r.crashes.join(" ") : r.hang ? "HANG" : r.coverageLast === 0 ? "BLIND (no coverage)" : "none"]);
    const head = ["target", "execs", "exec/s", "coverage", "corpus", "findings"];
    const widths = head.map((h, c) => Math.max(h.length, ...rows.map((row) => row[c]!.length)));
    const fmt = (row: string[]): string => row.map((x, c) => x.padEnd(widths[c]!)).join("  ");
    process.stdout.write(fmt(head) + "\n" + widths.map((w) => "-".repeat(w)).join("  ") + "\n" + rows.map(fmt).join("\n") + "\n");
    process.stdout.write(`properties: ${properties ? (propertiesOk ? "passed" : "FAILED") : "skipped"}\n`);
  }
  return failed.length === 0 && propertiesOk ? 0 : 1;
}
