// A/B of the tcp suite's bulk case per CPU-second between two checkouts, in one process: both
// trees' benchmarks/lib/sim.ts are loaded side by side (separate module instances, so separate
// JIT state), warmed up, then run alternately, and each pair's after/before ratio is taken, so
// the load of a shared machine, which moves both runs of a pair alike, mostly cancels out.
// usage: node --import tsx benchmarks/ab-tcp.ts BEFORE_ROOT AFTER_ROOT [CASE] [PAIRS] [MB] [AFTER_CASE]
//   CASE: 1500 | 9000 | gso | a twoStacks options object in JSON (default 1500); PAIRS 12; MB 60;
//   AFTER_CASE: the after side's case (default CASE), so one tree can be held against itself with
//   other options: ab-tcp.ts . . 1500 8 60 '{"mtu":1500,"tcp":{"ackCoalescing":true}}'
const [before, after, kase = "1500", pairs = "12", mb = "60", afterKase = kase] = process.argv.slice(2);
if (before === undefined || after === undefined) {
  process.stderr.write("usage: node --import tsx benchmarks/ab-tcp.ts BEFORE_ROOT AFTER_ROOT [CASE] [PAIRS] [MB] [AFTER_CASE]\n");
  process.exit(2);
}
import path from "node:path";
import { formatPairwise, pairwise } from "./lib/pairwise.ts";

type Sim = typeof import("./lib/sim.ts");
// a root is resolved against the working directory (`.` is the checkout you run from)
const A = (await import(path.resolve(before, "benchmarks/lib/sim.ts"))) as Sim;
const B = (await import(path.resolve(after, "benchmarks/lib/sim.ts"))) as Sim;
const caseOptions = (k: string): import("./lib/sim.ts").TwoStacksOptions =>
  k === "1500" ? { mtu: 1500 } : k === "9000" ? { mtu: 9000 } : k === "gso" ? { mtu: 1500, gso: true } : JSON.parse(k);
const optsA = caseOptions(kase);
const optsB = caseOptions(afterKase);
const one = (sim: Sim, o: import("./lib/sim.ts").TwoStacksOptions): number => {
  const r = sim.bulk(sim.twoStacks(o), Number(mb) * 1e6);
  return sim.gbits(r.bytes, r.cpuMs);
};
for (let i = 0; i < 3; i++) {
  one(A, optsA);
  one(B, optsB);
}
const p = await pairwise(
  Number(pairs),
  () => one(A, optsA),
  () => one(B, optsB),
);
console.log(`${kase === afterKase ? kase : `${kase} -> ${afterKase}`} ${formatPairwise(p, "Gbit/s per CPU-second")}`);
