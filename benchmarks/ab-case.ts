// A/B of any bench case per CPU-second between two checkouts, in one process: both trees'
// benchmarks/suites/<suite>.ts are loaded side by side (separate module instances), the case is
// warmed up, then run alternately, and each pair's after/before ratio of its
// details().perCpuSecond is taken, so the load of a shared machine, which moves both runs of a
// pair alike, mostly cancels out. For cases without that detail, the measured value is used.
// usage: node --import tsx benchmarks/ab-case.ts BEFORE_ROOT AFTER_ROOT SUITE "CASE NAME" [PAIRS]
//   PAIRS 8; e.g. ab-case.ts /tmp/old . http "keep-alive (16 connections)"
import path from "node:path";
import type { BenchCase, BenchSuite } from "../harness/bench/types.ts";

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
const a: number[] = [],
  b: number[] = [],
  ratio: number[] = [];
for (let i = 0; i < Number(pairs); i++) {
  // alternate which tree runs first in a pair
  let x: number, y: number;
  if (i % 2 === 0) {
    x = await one(A);
    y = await one(B);
  } else {
    y = await one(B);
    x = await one(A);
  }
  a.push(x);
  b.push(y);
  ratio.push(y / x);
}
const med = (v: number[]): number => [...v].sort((p, q) => p - q)[v.length >> 1]!;
const fmt = (v: number): string => (v >= 100 ? Math.round(v).toLocaleString("en-US") : v.toFixed(2));
console.log(
  `${suiteName} / ${caseName}: before ${fmt(med(a))} after ${fmt(med(b))} per CPU-second; pairwise after/before median ${med(ratio).toFixed(3)} [${ratio.map((r) => r.toFixed(2)).join(" ")}]`,
);
