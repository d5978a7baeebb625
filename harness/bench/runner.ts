// Runs benchmark cases: warm-up, several runs, median and spread, baseline ratios, targets.
import os from "node:os";
import { readdirSync } from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";
import type { BenchCase, BenchContext, BenchResult, BenchSuite } from "./types.ts";
import { NetlabError } from "../../stack/error.ts";

/** Loads every suite module in `dir` (files exporting `suite`). */
export async function loadSuites(dir: string): Promise<BenchSuite[]> {
  const files = readdirSync(dir)
    .filter((f) => f.endsWith(".ts") && !f.endsWith(".test.ts"))
    .sort();
  const suites: BenchSuite[] = [];
  for (const f of files) {
    const mod = (await import(pathToFileURL(path.join(dir, f)).href)) as { suite?: BenchSuite };
    if (mod.suite) suites.push(mod.suite);
  }
  return suites;
}

/** Median of a non-empty list. */
export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** Runs one case. */
export async function runCase(c: BenchCase, ctx: BenchContext): Promise<BenchResult> {
  const base = {
    suite: c.suite,
    name: c.name,
    unit: c.unit,
    higherIsBetter: c.higherIsBetter,
    ...(c.baseline === undefined ? {} : { baseline: c.baseline }),
    ...(c.target === undefined ? {} : { target: c.target }),
  };
  const reason = await c.available?.(ctx);
  if (reason !== undefined) return { ...base, status: "skipped", reason, runs: [] };
  const runs: number[] = [];
  const perCpu: number[] = [];
  const started = performance.now();
  try {
    const warmup = ctx.quick ? 0 : (c.warmup ?? 1);
    const n = ctx.quick ? 1 : (c.runs ?? 5);
    for (let i = 0; i < warmup; i++) await c.measure(ctx);
    for (let i = 0; i < n; i++) {
      ctx.progress(`${c.suite} / ${c.name}: run ${i + 1}/${n}`);
      const v = await c.measure(ctx);
      if (!Number.isFinite(v)) throw new NetlabError("ERR_BENCH_MEASURE", `${c.suite} / ${c.name} measured ${v}`);
      runs.push(v);
      const cpu = c.details?.()["perCpuSecond"];
      if (typeof cpu === "number" && Number.isFinite(cpu)) perCpu.push(cpu);
    }
  } catch (e) {
    return { ...base, status: "failed", reason: (e as Error).message, runs, elapsedMs: Math.round(performance.now() - started) };
  }
  const med = median(runs);
  const min = Math.min(...runs),
    max = Math.max(...runs);
  // One quick run is no evidence either way: --quick judges no target (no met / MISSED).
  const targetMet = c.target === undefined || ctx.quick ? undefined : c.target.kind === "min" ? med >= c.target.value : med <= c.target.value;
  const details = c.details?.();
  return {
    ...base,
    status: "ok",
    runs,
    median: med,
    min,
    max,
    spread: med === 0 ? 0 : (max - min) / Math.abs(med),
    ...(targetMet === undefined ? {} : { targetMet }),
    ...(perCpu.length === 0 ? {} : { cpuMedian: median(perCpu) }),
    elapsedMs: Math.round(performance.now() - started),
    ...(details === undefined ? {} : { details }),
  };
}

/** Fills in ratios to baselines named by the cases. */
export function attachRatios(results: BenchResult[]): BenchResult[] {
  const byName = new Map(results.map((r) => [r.name, r]));
  return results.map((r) => {
    const b = r.baseline === undefined ? undefined : byName.get(r.baseline);
    if (b?.median === undefined || r.median === undefined || b.median === 0) return r;
    return { ...r, ratio: r.median / b.median };
  });
}

/** The machine the figures were measured on. */
export function describeMachine(): Record<string, unknown> {
  const cpus = os.cpus();
  return {
    cpu: cpus[0]?.model ?? "unknown",
    cores: cpus.length,
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    node: process.version,
    v8: process.versions.v8,
    platform: `${os.platform()} ${os.release()}`,
    arch: os.arch(),
    loadAverage: os.loadavg().map((x) => Math.round(x * 100) / 100),
  };
}
