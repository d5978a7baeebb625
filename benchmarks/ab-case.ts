// A/B of any bench case per CPU-second between two checkouts, in one process: both trees'
// benchmarks/suites/<suite>.ts are loaded side by side (separate module instances), the case is
// warmed up, then run alternately, and each pair's after/before ratio of its
// details().perCpuSecond is taken, so the load of a shared machine, which moves both runs of a
// pair alike, mostly cancels out. For cases without that detail, the measured value is used.
// usage: node --import tsx benchmarks/ab-case.ts BEFORE_ROOT AFTER_ROOT SUITE "CASE NAME" [PAIRS]
//   PAIRS 8; e.g. ab-case.ts /tmp/old . http "keep-alive (16 connections)"
import path from "node:path";
import type { BenchCase, BenchSuite } from "../harness/bench/types.ts";
import { formatPairwise, pairwise } from "./lib/pairwise.ts";

const [before, after, suiteName, caseName, pairs = "8"] = process.argv.slice(2);
if (before === undefined || after === undefined || suiteName === undefined || caseName === undefined) {
  process.stderr.write('usage: node --import tsx benchmarks/ab-case.ts BEFORE_ROOT AFTER_ROOT SUITE "CASE NAME" [PAIRS]\n');
  process.exit(2);
}
const load = async (root: string): Promise<BenchCase> => {
  const m = (await import(path.resolve(root, "benchmarks/suites", `${suiteName}.ts`))) as { suite: BenchSuite };
  const c = m.suite.cases().find((k) => k.name === caseName);
  if (c === undefined) {
    process.stderr.write(
      `${root}: suite ${suiteName} has no case "${caseName}" (cases: ${m.suite
        .cases()
        .map((k) => k.name)
        .join(", ")})\n`,
    );
    process.exit(2);
  }
  return c;
};
const A = await load(before);
const B = await load(after);
const ctx = { quick: false } as Parameters<BenchCase["measure"]>[0];
const one = async (c: BenchCase): Promise<number> => {
  const v = await c.measure(ctx);
  const d = c.details?.() as { perCpuSecond?: number } | undefined;
  return typeof d?.perCpuSecond === "number" ? d.perCpuSecond : v;
};
await one(A);
await one(B);
const p = await pairwise(
  Number(pairs),
  () => one(A),
  () => one(B),
);
console.log(`${suiteName} / ${caseName}: ${formatPairwise(p, "per CPU-second")}`);
