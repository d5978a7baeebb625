// Runs fuzz targets under jsfuzz (coverage-guided) for a bounded time each.
// jsfuzz instruments only CommonJS it require()s, so every target is first bundled to one
// CommonJS file with esbuild; its coverage counter must then grow (checked and reported).
import { spawn, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { copyFileSync, mkdirSync, readdirSync, existsSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { build } from "esbuild";

/** Where targets, bundles and corpora live (relative to the repository root). */
export interface FuzzPaths {
  readonly root: string;
  readonly targetsDir: string;
  readonly buildDir: string;
  readonly corporaDir: string;
}

/** Default layout: harness/fuzz/targets/<name>.ts, build/fuzz/<name>.cjs, corpora/<name>/
 * (new-coverage inputs) and corpora/<name>/regressions/ (minimized findings, replayed by npm test). */
export function defaultFuzzPaths(root: string): FuzzPaths {
  return {
    root,
    targetsDir: path.join(root, "harness/fuzz/targets"),
    buildDir: path.join(root, "build/fuzz"),
    corporaDir: path.join(root, "corpora"),
  };
}

/** Names of all fuzz targets (files in the targets folder, without .ts). */
export function listTargets(paths: FuzzPaths): string[] {
  if (!existsSync(paths.targetsDir)) return [];
  return readdirSync(paths.targetsDir)
    .filter((f) => f.endsWith(".ts") && !f.endsWith(".test.ts"))
    .map((f) => f.slice(0, -3))
    .sort();
}

/**
 * Writes a target's structure-aware seeds (its optional `seeds()` export) into corpora/<name>/
 * when that folder holds no inputs yet.
 */
export async function ensureSeeds(paths: FuzzPaths, name: string): Promise<number> {
  const dir = path.join(paths.corporaDir, name);
  mkdirSync(dir, { recursive: true });
  if (countFiles(dir) > 0) return 0;
  const mod = (await import(path.join(paths.targetsDir, `${name}.ts`))) as { seeds?: () => Uint8Array[] };
  const seeds = mod.seeds?.() ?? [];
  for (const s of seeds) writeFileSync(path.join(dir, `seed-${createHash("sha256").update(s).digest("hex").slice(0, 16)}`), s);
  return seeds.length;
}

/** Bundles one target to CommonJS; returns the bundle path. */
export async function bundleTarget(paths: FuzzPaths, name: string): Promise<string> {
  mkdirSync(paths.buildDir, { recursive: true });
  const outfile = path.join(paths.buildDir, `${name}.cjs`);
  await build({
    entryPoints: [path.join(paths.targetsDir, `${name}.ts`)],
    bundle: true,
    format: "cjs",
    platform: "node",
    target: "node20",
    outfile,
    logLevel: "silent",
    // Fuzzing runs in one process; keep the bundle free of optional native deps.
    external: ["koffi", "esbuild"],
  });
  return outfile;
}

/** What one bounded jsfuzz run observed. */
export interface FuzzRunResult {
  readonly target: string;
  readonly seconds: number;
  readonly executions: number;
  readonly execsPerSecond: number;
  readonly coverageFirst: number;
  readonly coverageLast: number;
  readonly corpusFiles: number;
  readonly newInputs: number;
  readonly crashes: string[];
  readonly hang: boolean;
}

const STAT_LINE = /^#(\d+)\s+(NEW|PULSE|READ)\s+cov: (\d+) corp: (\d+) exec\/s: (\d+)/;

/**
 * Runs jsfuzz on a bundled target for `seconds`, with corpus corpora/<name>/ (seeds are read,
 * new inputs written back) and crashes saved to corpora/<name>/crashes/.
 */
export async function runJsfuzz(
  paths: FuzzPaths,
  name: string,
  bundle: string,
  options: { seconds: number; perInputTimeoutSeconds?: number; rssLimitMb?: number; worker?: number; onLine?: (line: string) => void },
): Promise<FuzzRunResult> {
  const corpus = path.join(paths.corporaDir, name);
  const regressions = path.join(corpus, "regressions");
  mkdirSync(corpus, { recursive: true });
  const before = countFiles(corpus);
  const require = createRequire(import.meta.url);
  const jsfuzzMain = require.resolve("jsfuzz/build/src/index.js");
  const crashPath = path.join(paths.buildDir, `crash-${name}-${process.pid}-${options.worker ?? 0}`);
  rmSync(crashPath, { force: true });
  // jsfuzz reads every entry of its corpus folder as an input (a regressions/ folder inside makes
  // it fail with EISDIR), so it works on a flat copy whose new inputs are copied back afterwards.
  const work = path.join(paths.buildDir, `corpus-${name}-${process.pid}-${options.worker ?? 0}`);
  rmSync(work, { recursive: true, force: true });
  mkdirSync(work, { recursive: true });
  for (const f of readdirSync(corpus)) if (statSync(path.join(corpus, f)).isFile()) copyFileSync(path.join(corpus, f), path.join(work, f));
  // jsfuzz reads seeds from and writes new-coverage inputs to the first directory.
  const args = [
    jsfuzzMain, path.relative(paths.root, bundle), work,
    // jsfuzz counts the worker's start-up (instrumenting the bundle, seconds for a whole stack)
    // against the first input, so the hang budget must cover it; targets bound virtual time themselves.
    "--timeout", String(options.perInputTimeoutSeconds ?? 30),
    "--rss-limit-mb", String(options.rssLimitMb ?? 1024),
    "--exact-artifact-path", crashPath,
  ];
  // Own process group, so that killing it also ends the worker jsfuzz forks.
  const child = spawn(process.execPath, args, { cwd: paths.root, stdio: ["ignore", "pipe", "pipe"], detached: true });
  const killGroup = (): void => {
    try { if (child.pid !== undefined) process.kill(-child.pid, "SIGKILL"); } catch { /* already gone */ }
  };
  let executions = 0, coverageFirst = -1, coverageLast = 0, execsPerSecond = 0, hang = false;
  let pending = "";
  const onChunk = (chunk: Buffer): void => {
    pending += chunk.toString("utf8");
    let nl: number;
    while ((nl = pending.indexOf("\n")) >= 0) {
      const line = pending.slice(0, nl);
      pending = pending.slice(nl + 1);
      options.onLine?.(line);
      const m = STAT_LINE.exec(line);
      if (m) {
        executions = Number(m[1]);
        const cov = Number(m[3]);
        if (coverageFirst < 0 && cov > 0) coverageFirst = cov;
        coverageLast = Math.max(coverageLast, cov);
        if (m[2] === "PULSE") execsPerSecond = Number(m[5]);
      }
      if (line.startsWith("timeout reached")) hang = true;
    }
  };
  child.stdout.on("data", onChunk);
  child.stderr.on("data", onChunk);
  const started = performance.now();
  const exited = new Promise<void>((resolve) => child.on("exit", () => resolve()));
  const timer = setTimeout(killGroup, options.seconds * 1000);
  process.once("exit", killGroup);
  await exited;
  clearTimeout(timer);
  killGroup();
  process.removeListener("exit", killGroup);
  const seconds = (performance.now() - started) / 1000;
  for (const f of readdirSync(work)) if (!existsSync(path.join(corpus, f))) copyFileSync(path.join(work, f), path.join(corpus, f));
  rmSync(work, { recursive: true, force: true });
  const crashes: string[] = [];
  if (existsSync(crashPath)) {
    const found = readFileSync(crashPath);
    rmSync(crashPath, { force: true });
    const small = minimize(bundle, found, hang ? "hang" : "crash");
    const file = `${hang ? "hang" : "crash"}-${createHash("sha256").update(small).digest("hex").slice(0, 16)}`;
    // A finding already known and not fixed yet (corpora/<name>/open/) is reported there again.
    const known = path.join(corpus, "open", file);
    if (existsSync(known)) crashes.push(known);
    else {
      mkdirSync(regressions, { recursive: true });
      const dest = path.join(regressions, file);
      writeFileSync(dest, small);
      crashes.push(dest);
    }
  }
  const corpusFiles = countFiles(corpus);
  return {
    target: name, seconds, executions, newInputs: corpusFiles - before,
    execsPerSecond: execsPerSecond || Math.round(executions / Math.max(seconds, 0.001)),
    coverageFirst: Math.max(coverageFirst, 0), coverageLast, corpusFiles, crashes, hang,
  };
}

/** What distillCorpus kept. */
export interface DistillResult {
  readonly kept: number;
  readonly removed: number;
  readonly bytes: number;
  readonly replayMs: number;
  /** Corpus inputs that make the target fail (findings; always kept). */
  readonly failing: string[];
}

/**
 * Keeps corpora/<name>/ small enough for npm test's regression replay: seeds first, then the
 * other inputs in the order jsfuzz saved them (oldest first), as long as the replay time in this
 * process stays within `maxReplayMs` and the size within `maxBytes`; deletes the rest. Failing
 * inputs are kept (and returned). corpora/<name>/regressions/ is never touched.
 */
export async function distillCorpus(paths: FuzzPaths, name: string, options: { maxBytes?: number; maxReplayMs?: number } = {}): Promise<DistillResult> {
  const maxBytes = options.maxBytes ?? 400_000;
  const maxReplayMs = options.maxReplayMs ?? 700;
  const dir = path.join(paths.corporaDir, name);
  if (!existsSync(dir)) return { kept: 0, removed: 0, bytes: 0, replayMs: 0, failing: [] };
  const mod = (await import(path.join(paths.targetsDir, `${name}.ts`))) as { fuzz(data: Buffer): void | Promise<void> };
  const files = readdirSync(dir)
    .map((f) => ({ f, p: path.join(dir, f) }))
    .filter((x) => statSync(x.p).isFile())
    .map((x) => ({ ...x, st: statSync(x.p) }))
    .sort((a, b) => Number(b.f.startsWith("seed-")) - Number(a.f.startsWith("seed-")) || a.st.mtimeMs - b.st.mtimeMs || (a.f < b.f ? -1 : 1));
  let kept = 0, removed = 0, bytes = 0, replayMs = 0;
  const failing: string[] = [];
  for (const x of files) {
    if (replayMs > maxReplayMs || bytes + x.st.size > maxBytes) {
      rmSync(x.p, { force: true });
      removed++;
      continue;
    }
    const data = readFileSync(x.p);
    const t0 = performance.now();
    try {
      await mod.fuzz(data);
    } catch {
      failing.push(x.p);
    }
    replayMs += performance.now() - t0;
    bytes += x.st.size;
    kept++;
  }
  return { kept, removed, bytes, replayMs: Math.round(replayMs), failing };
}

function countFiles(dir: string): number {
  return readdirSync(dir).filter((f) => statSync(path.join(dir, f)).isFile()).length;
}

/** Runs a bundled target on one input in a child process: true if it throws or exceeds the budget. */
export function reproduces(bundle: string, input: Uint8Array, timeoutMs = 5000): boolean {
  const script = `const t=require(${JSON.stringify(path.resolve(bundle))});` +
    `const d=Buffer.from(require("fs").readFileSync(0));Promise.resolve().then(()=>t.fuzz(d)).then(()=>process.exit(0),(e)=>{console.error(e&&e.stack||e);process.exit(1)})`;
  const r = spawnSync(process.execPath, ["-e", script], { input, timeout: timeoutMs, stdio: ["pipe", "ignore", "ignore"] });
  return r.status !== 0;
}

/**
 * Shrinks a failing input by deleting chunks (halving chunk size down to one byte) while it still
 * fails; bounded to `maxAttempts` child runs.
 */
export function minimize(bundle: string, input: Uint8Array, kind: "crash" | "hang", maxAttempts = 150): Uint8Array {
  const timeoutMs = kind === "hang" ? 3000 : 5000;
  if (!reproduces(bundle, input, timeoutMs)) return input;
  let best = input;
  let attempts = 0;
  for (let chunk = best.length >> 1; chunk >= 1 && attempts < maxAttempts; chunk >>= 1) {
    for (let start = 0; start < best.length && attempts < maxAttempts; ) {
      const candidate = new Uint8Array(best.length - Math.min(chunk, best.length - start));
      candidate.set(best.subarray(0, start));
      candidate.set(best.subarray(start + chunk), start);
      attempts++;
      if (reproduces(bundle, candidate, timeoutMs)) best = candidate;
      else start += chunk;
    }
  }
  return best;
}
