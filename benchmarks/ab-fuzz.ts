// A/B of a fuzz target's plain loop (no engine, no instrumentation) in executions per CPU-second
// between two checkouts, in one process: both trees' harness/fuzz/targets/<name>.ts are loaded
// side by side (separate module instances, each with its own world), warmed up on the inputs,
// then run alternately for SECONDS each, and each pair's after/before ratio is taken, so the load
// of a shared machine, which moves both runs of a pair alike, mostly cancels out. The inputs are
// the AFTER tree's seeds and corpora/<name>/ files; an input that throws counts as an execution
// and is reported.
// usage: node --import tsx benchmarks/ab-fuzz.ts BEFORE_ROOT AFTER_ROOT TARGET [PAIRS] [SECONDS]
//   PAIRS 6, SECONDS 4; a root is a checkout (e.g. `git worktree add` or `git archive | tar -x`)
import { readdirSync, readFileSync, statSync } from "node:fs";
import path from "node:path";

const [before, after, name, pairs = "6", seconds = "4"] = process.argv.slice(2);
if (before === undefined || after === undefined || name === undefined) {
  process.stderr.write("usage: node --import tsx benchmarks/ab-fuzz.ts BEFORE_ROOT AFTER_ROOT TARGET [PAIRS] [SECONDS]\n");
  process.exit(2);
}

interface Target {
  fuzz(data: Buffer): void | Promise<void>;
  seeds?: () => Uint8Array[];
}
const load = async (root: string): Promise<Target> => (await import(path.resolve(root, "harness/fuzz/targets", `${name}.ts`))) as Target;
const A = await load(before);
const B = await load(after);
const dir = path.resolve(after, "corpora", name);
const inputs = [
  ...(B.seeds?.() ?? []),
  ...readdirSync(dir)
    .filter((f) => statSync(path.join(dir, f)).isFile())
    .sort()
    .map((f) => new Uint8Array(readFileSync(path.join(dir, f)))),
].map((u) => Buffer.from(u));

/** Runs the inputs round-robin for `ms` of wall time; executions per CPU-second and the throwing ones. */
async function run(t: Target, ms: number): Promise<{ rate: number; failing: number }> {
  const cpu0 = process.cpuUsage();
  const end = performance.now() + ms;
  let n = 0,
    failing = 0;
  while (performance.now() < end) {
    for (const d of inputs) {
      try {
        await t.fuzz(d);
      } catch {
        failing++;
      }
      n++;
    }
  }
  const c = process.cpuUsage(cpu0);
  return { rate: n / ((c.user + c.system) / 1e6), failing };
}

await run(A, 1000);
await run(B, 1000);
const a: number[] = [],
  b: number[] = [],
  ratio: number[] = [];
let failA = 0,
  failB = 0;
for (let i = 0; i < Number(pairs); i++) {
  // alternate which tree runs first in a pair
  const first = i % 2 === 0 ? A : B;
  const r1 = await run(first, Number(seconds) * 1000);
  const r2 = await run(first === A ? B : A, Number(seconds) * 1000);
  const [x, y] = first === A ? [r1, r2] : [r2, r1];
  a.push(x.rate);
  b.push(y.rate);
  ratio.push(y.rate / x.rate);
  failA += x.failing;
  failB += y.failing;
}
const med = (v: number[]): number => [...v].sort((p, q) => p - q)[v.length >> 1]!;
console.log(
  `${name} (${inputs.length} inputs): before ${med(a).toFixed(0)} after ${med(b).toFixed(0)} exec per CPU-second; pairwise after/before median ${med(ratio).toFixed(3)} [${ratio.map((r) => r.toFixed(2)).join(" ")}]; throwing executions before ${failA}, after ${failB}`,
);
