// Runs fuzz targets under jsfuzz (coverage-guided) for a bounded time each.
// jsfuzz instruments only CommonJS it require()s, so every target is first bundled to one
// CommonJS file with esbuild; its coverage counter must then grow (checked and reported).
import { spawn } from "node:child_process";
import { mkdirSync, readdirSync, existsSync, renameSync, statSync } from "node:fs";
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

/** Default layout: harness/fuzz/targets/<name>.ts, build/fuzz/<name>.cjs, corpora/<name>/. */
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
  options: { seconds: number; perInputTimeoutSeconds?: number; rssLimitMb?: number; onLine?: (line: string) => void },
): Promise<FuzzRunResult> {
  const corpus = path.join(paths.corporaDir, name);
  const generated = path.join(paths.buildDir, "corpus", name);
  const crashDir = path.join(corpus, "crashes");
  mkdirSync(corpus, { recursive: true });
  mkdirSync(generated, { recursive: true });
  const require = createRequire(import.meta.url);
  const jsfuzzMain = require.resolve("jsfuzz/build/src/index.js");
  const crashPath = path.join(paths.buildDir, `crash-${name}`);
  // New inputs go to the first directory (build/, not committed); corpora/<name> supplies seeds.
  const args = [
    jsfuzzMain, path.relative(paths.root, bundle), generated, corpus,
    "--timeout", String(options.perInputTimeoutSeconds ?? 5),
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
        if (coverageFirst < 0 && m[2] !== "READ") coverageFirst = cov;
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
  const crashes: string[] = [];
  if (existsSync(crashPath)) {
    mkdirSync(crashDir, { recursive: true });
    const dest = path.join(crashDir, `crash-${Date.now()}`);
    renameSync(crashPath, dest);
    crashes.push(dest);
  }
  const corpusFiles = readdirSync(generated).filter((f) => statSync(path.join(generated, f)).isFile()).length;
  return {
    target: name, seconds, executions,
    execsPerSecond: execsPerSecond || Math.round(executions / Math.max(seconds, 0.001)),
    coverageFirst: Math.max(coverageFirst, 0), coverageLast, corpusFiles, crashes, hang,
  };
}
