// Jazzer.js comparison hooks per execution of a fuzz target, and where they come from. Jazzer.js
// turns every comparison with a literal in an instrumented module into a call into libFuzzer's
// native comparison tracing (~40 ns each on this machine class): a byte loop `i < 64` or a per-slot
// `ref < 0` in the code under test costs more than the work it guards. This runs the target's
// bundle (the per-module layout `netlab fuzz` uses) under Jazzer.js for SECONDS behind a wrapper
// that counts the tracer's calls by kind, and samples one call in 97 for its call site.
// Call sites are lines of the per-module .cjs files (esbuild's transform of each .ts), not of the .ts.
// usage: node --import tsx benchmarks/fuzz-hooks.ts TARGET [SECONDS] [SITES]
//   SECONDS 8; SITES 15 (call sites listed, by calls per execution)
import { mkdirSync, readdirSync, rmSync, statSync, writeFileSync, copyFileSync } from "node:fs";
import { spawnSync } from "node:child_process";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { bundleTarget, chooseEngine, defaultFuzzPaths, JAZZER_ENGINE_ARGS, JAZZER_NODE_ARGS, targetMode } from "../harness/fuzz/runner.ts";
import { HARNESS_SUFFIX } from "../harness/fuzz/runner.ts";

const [target, secondsText = "8", sitesText = "15"] = process.argv.slice(2);
if (target === undefined || !(Number(secondsText) > 0) || !(Number(sitesText) >= 0)) {
  process.stderr.write("usage: node --import tsx benchmarks/fuzz-hooks.ts TARGET [SECONDS] [SITES]\n");
  process.exit(2);
}
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const paths = defaultFuzzPaths(root);
const engine = await chooseEngine(paths);
if (engine.engine !== "jazzer" || engine.jazzerCli === undefined) {
  process.stderr.write(`fuzz-hooks: needs Jazzer.js (${engine.note ?? "not available"})\n`);
  process.exit(1);
}
const work = path.join(os.tmpdir(), `netlab-fuzz-hooks-${process.pid}`);
mkdirSync(path.join(work, "corpus"), { recursive: true });
try {
  const bundle = await bundleTarget(paths, target, path.join(work, `${target}.cjs`));
  const corpus = path.join(root, "corpora", target);
  for (const f of readdirSync(corpus)) if (statSync(path.join(corpus, f)).isFile()) copyFileSync(path.join(corpus, f), path.join(work, "corpus", f));
  const mode = targetMode(bundle);
  const harness = path.join(work, `hooks${HARNESS_SUFFIX}`);
  // The wrapper is excluded from instrumentation by its suffix (JAZZER_ENGINE_ARGS); it reports on
  // stderr every 500 executions, and the last report is what this prints.
  writeFileSync(
    harness,
    `"use strict";
const target = require(${JSON.stringify(bundle)});
let n = 0, calls = 0; const kinds = {}, sites = {}; let wrapped = false;
function wrap() {
  const t = Fuzzer.tracer;
  for (const k of Object.getOwnPropertyNames(Object.getPrototypeOf(t)).concat(Object.keys(t))) {
    const f = t[k];
    if (typeof f !== "function" || k === "constructor") continue;
    t[k] = function (...a) {
      kinds[k] = (kinds[k] || 0) + 1;
      if (++calls % 97 === 0) {
        // (targets may run with Error.stackTraceLimit 0: oracles.ts withoutStacks)
        const limit = Error.stackTraceLimit;
        Error.stackTraceLimit = 4;
        const line = (new Error().stack || "").split("\\n")[2] || "";
        Error.stackTraceLimit = limit;
        const site = line.trim().replace(/^at /, "").replace(${JSON.stringify(`${work}/`)}, "").replace(/[^ (]*\\.tree\\//, "");
        sites[site] = (sites[site] || 0) + 97;
      }
      return f.apply(this, a);
    };
  }
  wrapped = true;
}
function report() {
  process.stderr.write("HOOKS " + JSON.stringify({ executions: n, kinds, sites }) + "\\n");
}
exports.fuzz = ${mode === "async" ? "async " : ""}function fuzz(data) {
  if (!wrapped && typeof Fuzzer === "object") wrap();
  if (++n % 500 === 0) report();
  ${mode === "async" ? "await " : ""}target.fuzz(data);
};
`,
  );
  const args = [
    ...JAZZER_NODE_ARGS,
    engine.jazzerCli,
    harness,
    path.join(work, "corpus"),
    ...(mode === "sync" ? ["--sync"] : []),
    ...JAZZER_ENGINE_ARGS,
    "--",
    `-max_total_time=${Number(secondsText)}`,
    `-artifact_prefix=${work}/`,
  ];
  const r = spawnSync(process.execPath, args, { cwd: work, env: engine.env, encoding: "utf8", maxBuffer: 256 << 20 });
  const last = r.stderr
    .split("\n")
    .filter((l) => l.startsWith("HOOKS "))
    .at(-1);
  if (last === undefined) {
    process.stderr.write(`fuzz-hooks: no report from the run (exit ${r.status}):\n${r.stderr.split("\n").slice(-15).join("\n")}\n`);
    process.exit(1);
  }
  const rep = JSON.parse(last.slice(6)) as { executions: number; kinds: Record<string, number>; sites: Record<string, number> };
  const per = (c: number): string => (c / rep.executions).toFixed(1);
  const total = Object.values(rep.kinds).reduce((a, b) => a + b, 0);
  console.log(`${target}: ${rep.executions} executions (${mode}), ${per(total)} comparison hooks per execution`);
  for (const [k, c] of Object.entries(rep.kinds).sort((a, b) => b[1] - a[1])) console.log(`  ${k.padEnd(20)} ${per(c)}`);
  const sites = Object.entries(rep.sites)
    .sort((a, b) => b[1] - a[1])
    .slice(0, Number(sitesText));
  if (sites.length > 0) console.log("call sites (sampled 1 in 97), per execution:");
  for (const [s, c] of sites) console.log(`  ${per(c).padStart(7)}  ${s}`);
} finally {
  rmSync(work, { recursive: true, force: true });
}
