// Runs fuzz targets for a bounded time each under Jazzer.js (libFuzzer inside Node: per-input
// timeout, RSS limit, dictionaries, comparison feedback, corpus merge by coverage), or under
// jsfuzz when Jazzer.js does not load here (the runner says why, in one line). Both engines
// instrument CommonJS they require(), so every target is first bundled to one CommonJS file with
// esbuild. Each engine runs the bundle through the same harness (replay.ts: a process.exit() or
// a stray promise rejection inside the target is a finding), and an engine process that ends on
// its own without an artifact is a finding too.
import { spawn, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { copyFileSync, mkdirSync, readdirSync, existsSync, readFileSync, rmSync, statSync, writeFileSync, mkdtempSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { build, transform } from "esbuild";
import { harnessSource, replayInputs, type ReplayInput, type ReplayOutcome } from "./replay.ts";
import { NetlabError } from "../../stack/error.ts";

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

/** harness/fuzz/dicts/<name>.dict (libFuzzer dictionary format) when it exists. */
export function dictionaryFor(paths: FuzzPaths, name: string): string | undefined {
  const file = path.join(paths.root, "harness/fuzz/dicts", `${name}.dict`);
  return existsSync(file) ? file : undefined;
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

/**
 * Files whose names end so are loaded but not instrumented by Jazzer.js (JAZZER_ENGINE_ARGS):
 * the world around the code under test, for targets that name that code (`instrumentOnly`).
 */
export const UNINSTRUMENTED_SUFFIX = ".noinst.cjs";

/**
 * The uninstrumented second copy of a module of the code under test, loaded by the target's
 * `oracleModules` (and by the other copies) only: the oracles' re-runs of the code under test
 * (3-4 parses per input for http-server) then cost no coverage and comparison hooks, while the
 * run under attack stays instrumented. Excluded from instrumentation by its UNINSTRUMENTED_SUFFIX.
 */
export const ORACLE_COPY_SUFFIX = `.oracle${UNINSTRUMENTED_SUFFIX}`;

/**
 * Appended to each per-module file: once the module body has run, the modules that require it
 * later get its exports as plain values. esbuild's CommonJS form reads every export through two
 * getters (its export object's, and the copy's made by __toCommonJS), an arrow function call per
 * access of a constant such as GTF_permit_access or a function such as ok(); in an instrumented
 * module each getter is an edge too (a counter update per access, coverage that says nothing):
 * ~13% of netfront-hostile under Jazzer.js. Values equal the live bindings: no module exports a
 * `let` (no module-level mutable state); a module required inside a cycle before its body ran
 * keeps the getters for that caller.
 */
const EXPORTS_AS_VALUES =
  '\n;module.exports = ((m) => { const o = Object.defineProperty({}, "__esModule", { value: true }); for (const k of Object.keys(m)) o[k] = m[k]; return o; })(module.exports);\n';

/**
 * Bundles one target to CommonJS (default build/fuzz/<name>.cjs); returns the path to require.
 *
 * A target that exports `instrumentOnly` (repository-relative path prefixes of the code under
 * test) is instead laid out as one CommonJS file per module in `<outfile>.tree/`, the modules
 * outside those prefixes named `*.noinst.cjs`, and `<outfile>` requires its entry. Jazzer.js then
 * counts edges only in the code under test: the Xen targets spend most of each input in the
 * simulated hypervisor, xenstore and toolstack, whose instrumentation cost 3-6x per input and
 * whose coverage says nothing about the driver under attack. Every module exists once, as in
 * the bundle, except the code under test that the target's `oracleModules` load: they get a
 * second, uninstrumented copy of it (ORACLE_COPY_SUFFIX). Targets with npm dependencies keep the
 * single bundle.
 */
export async function bundleTarget(paths: FuzzPaths, name: string, outfile = path.join(paths.buildDir, `${name}.cjs`)): Promise<string> {
  mkdirSync(path.dirname(outfile), { recursive: true });
  const entry = path.join(paths.targetsDir, `${name}.ts`);
  const only = await instrumentOnly(entry);
  const result = await build({
    entryPoints: [entry],
    bundle: true,
    format: "cjs",
    platform: "node",
    target: "node20",
    outfile,
    logLevel: "silent",
    metafile: true,
    write: only === undefined,
    absWorkingDir: paths.root,
    // Fuzzing runs in one process; keep the bundle free of optional native deps.
    external: ["koffi", "esbuild"],
  });
  if (only === undefined) return outfile;
  const inputs = Object.keys(result.metafile.inputs);
  if (inputs.some((i) => !i.endsWith(".ts") || i.includes("node_modules"))) {
    // Per-module files would require() packages from node_modules, which a copied build lacks.
    for (const f of result.outputFiles ?? []) writeFileSync(f.path, f.contents);
    return outfile;
  }
  const tree = `${outfile.replace(/\.cjs$/, "")}.tree`;
  rmSync(tree, { recursive: true, force: true });
  const entryRel = path.relative(paths.root, entry).split(path.sep).join("/");
  // The target itself is instrumented too: its branches on the input's bytes are coverage.
  const instrumented = (rel: string): boolean => rel === entryRel || only.some((prefix) => rel.startsWith(prefix));
  const outName = (rel: string): string => rel.replace(/\.ts$/, instrumented(rel) ? ".cjs" : UNINSTRUMENTED_SUFFIX);
  const oracles = await oracleModules(entry, inputs, instrumented);
  // The code under test the oracle modules reach (through code under test only): laid out a
  // second time, uninstrumented, for them.
  const copies = new Set<string>();
  const reach = (rel: string): void => {
    for (const i of result.metafile.inputs[rel]?.imports ?? []) {
      if (instrumented(i.path) && !copies.has(i.path)) {
        copies.add(i.path);
        reach(i.path);
      }
    }
  };
  for (const rel of oracles) reach(rel);
  const copyName = (rel: string): string => rel.replace(/\.ts$/, ORACLE_COPY_SUFFIX);
  const emit = async (rel: string, file: string, oracleSide: boolean): Promise<void> => {
    const source = readFileSync(path.join(paths.root, rel), "utf8");
    const { code } = await transform(source, { loader: "ts", format: "cjs", platform: "node", target: "node20", sourcefile: rel });
    const dir = path.posix.dirname(rel);
    const linked = code.replace(/require\("(\.{1,2}\/[^"]*)\.ts"\)/g, (_, spec: string) => {
      const target = path.posix.normalize(path.posix.join(dir, `${spec}.ts`));
      const out = path.posix.relative(dir, oracleSide && copies.has(target) ? copyName(target) : outName(target));
      return `require(${JSON.stringify(out.startsWith(".") ? out : `./${out}`)})`;
    });
    mkdirSync(path.dirname(path.join(tree, file)), { recursive: true });
    writeFileSync(path.join(tree, file), linked + EXPORTS_AS_VALUES);
  };
  for (const rel of inputs) {
    await emit(rel, outName(rel), oracles.has(rel));
    if (copies.has(rel)) await emit(rel, copyName(rel), true);
  }
  writeFileSync(path.join(tree, "package.json"), JSON.stringify({ type: "commonjs", private: true }) + "\n");
  const main = path.relative(path.dirname(outfile), path.join(tree, outName(entryRel)));
  writeFileSync(outfile, `module.exports = require(${JSON.stringify(`./${main.split(path.sep).join("/")}`)});\n`);
  return outfile;
}

/**
 * A target's `oracleModules` export, checked: repository-relative paths of harness modules
 * (outside the code under test) that run the code under test as an oracle (a differential, a
 * re-run fed in other pieces) and so load it as a second, uninstrumented copy (ORACLE_COPY_SUFFIX).
 */
async function oracleModules(entry: string, inputs: readonly string[], instrumented: (rel: string) => boolean): Promise<Set<string>> {
  const source = readFileSync(entry, "utf8");
  if (!/export const oracleModules\b/.test(source)) return new Set();
  const mod = (await import(entry)) as { oracleModules?: readonly string[] };
  const list = mod.oracleModules;
  if (!Array.isArray(list) || !list.every((p) => typeof p === "string" && inputs.includes(p) && !instrumented(p))) {
    throw new NetlabError("ERR_FUZZ_TARGET_CONFIG", `${entry}: oracleModules must list modules the target imports, outside instrumentOnly`);
  }
  return new Set(list);
}

/** A target's `instrumentOnly` export (path prefixes of the code under test), if it has one. */
async function instrumentOnly(entry: string): Promise<readonly string[] | undefined> {
  const source = readFileSync(entry, "utf8");
  if (!/export const instrumentOnly\b/.test(source)) return undefined;
  const mod = (await import(entry)) as { instrumentOnly?: readonly string[] };
  const only = mod.instrumentOnly;
  if (!Array.isArray(only) || only.length === 0 || !only.every((p) => typeof p === "string" && p.length > 0)) {
    throw new NetlabError("ERR_FUZZ_TARGET_CONFIG", `${entry}: instrumentOnly must be a non-empty list of path prefixes`);
  }
  return only;
}

/**
 * Whether a bundled target is driven synchronously or awaited: its `mode` export when it has one
 * ("sync" | "async"), else "async" for an async function or one whose call on `probe` returns a
 * Promise (checked in a child process), else "sync".
 */
export function targetMode(bundle: string, probe: Uint8Array = new Uint8Array(0)): "sync" | "async" {
  const script =
    `const t=require(${JSON.stringify(path.resolve(bundle))});let m=t.mode;` +
    `if(m!=="sync"&&m!=="async"){if(t.fuzz&&t.fuzz.constructor&&t.fuzz.constructor.name==="AsyncFunction")m="async";` +
    `else{let r;try{r=t.fuzz(Buffer.from(require("fs").readFileSync(0)))}catch{}` +
    `m=r!==null&&typeof r==="object"&&typeof r.then==="function"?"async":"sync";if(m==="async")r.then(undefined,()=>{})}}` +
    `require("fs").writeSync(1,"mode="+m+"\\n");process.exit(0)`;
  const r = spawnSync(process.execPath, ["-e", script], { input: probe, timeout: 30_000, encoding: "utf8" });
  return /mode=async/.test(r.stdout ?? "") ? "async" : "sync";
}

/** Which engine runs, with the environment it needs; `note` says why when it is not Jazzer.js. */
export interface EngineChoice {
  readonly engine: "jazzer" | "jsfuzz";
  readonly note?: string;
  readonly env: NodeJS.ProcessEnv;
  readonly jazzerCli?: string;
}

const engineChecks = new Map<string, Promise<EngineChoice>>();

/** The glibc shim `npm run setup` builds for Jazzer.js on glibc < 2.38. */
export function jazzerShim(paths: FuzzPaths): string | undefined {
  const shim = path.join(paths.root, "build/jazzer/glibc-shim.so");
  return existsSync(shim) ? shim : undefined;
}

/** Environment for a Jazzer.js process: LD_PRELOAD of the shim when it exists. */
export function jazzerEnv(paths: FuzzPaths): NodeJS.ProcessEnv {
  const shim = jazzerShim(paths);
  const env = { ...process.env };
  if (shim !== undefined) env["LD_PRELOAD"] = [shim, ...(process.env["LD_PRELOAD"] ?? "").split(/[: ]/).filter((x) => x !== "" && x !== shim)].join(":");
  return env;
}

/**
 * Checks once per process whether Jazzer.js runs here (a tiny target, 20 runs, in a child with the
 * shim preloaded when it exists); otherwise chooses jsfuzz and says why. `prefer` forces one.
 */
export function chooseEngine(paths: FuzzPaths, prefer?: "jazzer" | "jsfuzz"): Promise<EngineChoice> {
  if (prefer === "jsfuzz") return Promise.resolve({ engine: "jsfuzz", note: "jsfuzz chosen with --engine jsfuzz", env: process.env });
  const key = paths.root;
  let check = engineChecks.get(key);
  if (check === undefined) {
    check = probeJazzer(paths);
    engineChecks.set(key, check);
  }
  return check.then((c) =>
    prefer === "jazzer" && c.engine !== "jazzer" ? Promise.reject(new NetlabError("ERR_NO_JAZZER", `Jazzer.js does not run here: ${c.note}`)) : c,
  );
}

async function probeJazzer(paths: FuzzPaths): Promise<EngineChoice> {
  const require = createRequire(import.meta.url);
  let cli: string;
  try {
    cli = require.resolve("@jazzer.js/core/dist/cli.js");
  } catch {
    return { engine: "jsfuzz", note: "falling back to jsfuzz: @jazzer.js/core is not installed (npm ci)", env: process.env };
  }
  mkdirSync(paths.buildDir, { recursive: true });
  const dir = mkdtempSync(path.join(paths.buildDir, "jazzer-probe-"));
  try {
    const target = path.join(dir, "probe.cjs");
    writeFileSync(target, "module.exports.fuzz = function (data) { if (data.length > 1 && data[0] === 7) return 1; return 0; };\n");
    const env = jazzerEnv(paths);
    const r = await runChild(process.execPath, [cli, target, "--sync", "--", "-runs=20", `-artifact_prefix=${dir}/`], { cwd: dir, env, timeoutMs: 60_000 });
    if (r.code === 0 && /Done 20 runs/.test(r.output)) return { engine: "jazzer", env, jazzerCli: cli };
    const why =
      r.output
        .split("\n")
        .map((l) => l.trim())
        .filter((l) => /error|GLIBC|cannot|not found|undefined symbol/i.test(l))
        .slice(-1)[0] ?? `exit ${r.code ?? r.signal}`;
    const hint = jazzerShim(paths) === undefined ? " (npm run setup builds a glibc shim for it)" : "";
    return { engine: "jsfuzz", note: `falling back to jsfuzz: Jazzer.js does not load here${hint}: ${why.slice(0, 200)}`, env: process.env };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function runChild(
  cmd: string,
  args: string[],
  o: { cwd: string; env: NodeJS.ProcessEnv; timeoutMs: number },
): Promise<{ code: number | null; signal: string | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { cwd: o.cwd, env: o.env, stdio: ["ignore", "pipe", "pipe"], detached: true });
    let output = "";
    const add = (c: Buffer): void => {
      output = (output + c.toString("utf8")).slice(-20_000);
    };
    child.stdout.on("data", add);
    child.stderr.on("data", add);
    const timer = setTimeout(() => {
      try {
        process.kill(-child.pid!, "SIGKILL");
      } catch {
        /* gone */
      }
    }, o.timeoutMs);
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, output });
    });
  });
}

/** What one bounded fuzzing run observed. */
export interface FuzzRunResult {
  readonly target: string;
  readonly seconds: number;
  readonly executions: number;
  readonly execsPerSecond: number;
  readonly coverageFirst: number;
  readonly coverageLast: number;
  readonly corpusFiles: number;
  readonly newInputs: number;
  /** Findings: saved regression files (saveNewInputs) or the engine's raw artifacts. */
  readonly crashes: string[];
  readonly hang: boolean;
}

/** One finding of a run. */
export interface FuzzFinding {
  readonly kind: "crash" | "timeout" | "oom" | "exit";
  /** Seconds from the first engine start. */
  readonly seconds: number;
  /** First lines of the engine's report (error and stack). */
  readonly message: string;
  /** The input (absent when the engine died without writing one). */
  readonly input?: Uint8Array;
  /** Where it was saved (regressions/ or open/ when saveNewInputs, else the artifact). */
  readonly file?: string;
}

/** A run of runFuzzer. */
export type FuzzerRun = FuzzRunResult & {
  engine: "jazzer" | "jsfuzz";
  firstFindingSeconds?: number;
  findingInputs: Uint8Array[];
  findings: FuzzFinding[];
  /** Seconds from spawning the engine until it started fuzzing (bundle loaded and instrumented). */
  startupSeconds: number;
  /** Why the fallback engine ran, when it did. */
  engineNote?: string;
  dictionary?: string;
  mode: "sync" | "async";
};

/** Options of runFuzzer. */
export interface FuzzerOptions {
  /** Fuzzing time, seconds from the engine's start (its start-up included). */
  seconds: number;
  /** Seed folders (top-level files, plus their regressions/); default [corpora/<name>]. */
  corpusDirs?: string[];
  /** Default true: new inputs are copied to corpora/<name>/, findings minimized into regressions/. */
  saveNewInputs?: boolean;
  /** Stop at the first finding (default: fuzz on until `seconds`, restarting the engine). */
  stopOnFirstFinding?: boolean;
  /** Each engine output line, with the engine process's id (its CPU time is in /proc/<pid>/stat). */
  onLine?: (line: string, pid?: number) => void;
  engine?: "jazzer" | "jsfuzz";
  /** libFuzzer's per-input -timeout (default 10 s; Jazzer.js counts whole seconds). */
  perInputTimeoutSeconds?: number;
  /** Scratch folder (default a fresh folder in build/fuzz, removed afterwards). */
  workDir?: string;
  /** -rss_limit_mb and -malloc_limit_mb (default 2048). */
  rssLimitMb?: number;
  /** Extra libFuzzer flags (e.g. -seed=1). */
  libFuzzerArgs?: string[];
  /** Stops the engine (Ctrl-C of a campaign); the run returns what it has. */
  signal?: AbortSignal;
}

// libFuzzer: "#65536 pulse cov: 6 ft: 6 corp: 4/13b exec/s: 8192 rss: 167Mb";
// jsfuzz: "#1234 NEW cov: 56 corp: 7 exec/s: 123 rss: 80 MB".
const LIBFUZZER_STAT = /^#(\d+)\s+(INITED|NEW|REDUCE|pulse|DONE|RELOAD)\s+cov: (\d+) ft: (\d+) corp: (\d+)\/\S+.*?exec\/s: (\d+)/;
const JSFUZZ_STAT = /^#(\d+)\s+(NEW|PULSE|READ)\s+cov: (\d+) corp: (\d+) exec\/s: (\d+)/;
const ARTIFACT = /Test unit written to (\S+)/;

/** Parses one engine output line into a stat (executions, coverage, exec/s). */
export function parseStatLine(line: string): { executions: number; kind: string; coverage: number; corpus: number; execsPerSecond: number } | undefined {
  const l = LIBFUZZER_STAT.exec(line);
  if (l) return { executions: Number(l[1]), kind: l[2]!, coverage: Number(l[3]), corpus: Number(l[5]), execsPerSecond: Number(l[6]) };
  const j = JSFUZZ_STAT.exec(line);
  if (j) return { executions: Number(j[1]), kind: j[2]!, coverage: Number(j[3]), corpus: Number(j[4]), execsPerSecond: Number(j[5]) };
  return undefined;
}

/**
 * Fuzzes one bundled target for `options.seconds` under Jazzer.js (or jsfuzz: see chooseEngine).
 * Inputs are read from a flat copy of the seed folders plus their regressions/; new inputs are
 * copied back to corpora/<name>/ and findings minimized into corpora/<name>/regressions/ (a known
 * one in open/ is reported there) unless `saveNewInputs` is false, when nothing under corpora/
 * is written. Findings: an exception, a per-input timeout, the RSS limit, the target or the
 * engine process ending on its own.
 */
export async function runFuzzer(paths: FuzzPaths, name: string, bundle: string, options: FuzzerOptions): Promise<FuzzerRun> {
  const choice = await chooseEngine(paths, options.engine);
  const save = options.saveNewInputs !== false;
  const corpus = path.join(paths.corporaDir, name);
  const seedDirs = options.corpusDirs ?? [corpus];
  mkdirSync(paths.buildDir, { recursive: true });
  const ownWork = options.workDir === undefined;
  const workRoot = options.workDir ?? mkdtempSync(path.join(paths.buildDir, `run-${name}-`));
  mkdirSync(workRoot, { recursive: true });
  const work = path.join(workRoot, "corpus");
  const artifacts = path.join(workRoot, "artifacts");
  rmSync(work, { recursive: true, force: true });
  mkdirSync(work, { recursive: true });
  mkdirSync(artifacts, { recursive: true });
  const extraDirs: string[] = [];
  const copiedIn = new Set<string>();
  for (const dir of seedDirs) {
    if (!existsSync(dir)) continue;
    for (const f of readdirSync(dir)) {
      const p = path.join(dir, f);
      if (statSync(p).isFile() && !copiedIn.has(f)) {
        copyFileSync(p, path.join(work, f));
        copiedIn.add(f);
      }
    }
    // Minimized findings are seeds too, from a copy (a finding's input is dropped before a restart).
    const reg = path.join(dir, "regressions");
    if (existsSync(reg) && readdirSync(reg).length > 0) {
      const copy = path.join(workRoot, `regressions-${extraDirs.length}`);
      rmSync(copy, { recursive: true, force: true });
      mkdirSync(copy, { recursive: true });
      for (const f of readdirSync(reg)) if (statSync(path.join(reg, f)).isFile()) copyFileSync(path.join(reg, f), path.join(copy, f));
      extraDirs.push(copy);
    }
  }
  const before = existsSync(corpus) ? countFiles(corpus) : 0;
  const firstSeed = [...copiedIn].sort()[0];
  const mode = targetMode(bundle, firstSeed === undefined ? undefined : readFileSync(path.join(work, firstSeed)));
  const harness = path.join(workRoot, `${name}${HARNESS_SUFFIX}`);
  writeFileSync(harness, harnessSource(bundle, mode));
  const dictionary = dictionaryFor(paths, name);
  const perInput = Math.max(1, Math.ceil(options.perInputTimeoutSeconds ?? 10));
  const rss = options.rssLimitMb ?? 2048;

  // Seconds count from the engine's start (libFuzzer's "INFO: Seed:" line, after the bundle is
  // loaded and instrumented; jsfuzz: its spawn), so that start-up is not fuzzing time.
  const clock: EngineClock = {};
  const elapsed = (): number => (clock.start === undefined ? 0 : (performance.now() - clock.start) / 1000);
  let executions = 0,
    coverageFirst = -1,
    coverageLast = 0,
    lastRate = 0,
    startupSeconds = -1;
  const findings: Omit<FuzzFinding, "file">[] = [];
  const signatures = new Set<string>();
  let restarts = 0;
  for (;;) {
    const remaining = options.seconds - elapsed();
    if ((remaining < 1 && restarts > 0) || options.signal?.aborted === true) break;
    const seg =
      choice.engine === "jazzer"
        ? await jazzerSegment(choice, harness, work, extraDirs, artifacts, {
            seconds: Math.max(1, Math.round(remaining)),
            perInput,
            rss,
            mode,
            ...(dictionary === undefined ? {} : { dictionary }),
            extra: options.libFuzzerArgs ?? [],
            onLine: options.onLine,
            clock,
            signal: options.signal,
          })
        : await jsfuzzSegment(paths, harness, work, artifacts, {
            seconds: Math.max(1, remaining),
            perInput,
            rss,
            onLine: options.onLine,
            clock,
            signal: options.signal,
          });
    restarts++;
    executions += seg.executions;
    if (seg.coverageFirst > 0 && coverageFirst < 0) coverageFirst = seg.coverageFirst;
    coverageLast = Math.max(coverageLast, seg.coverageLast);
    if (seg.execsPerSecond > 0) lastRate = seg.execsPerSecond;
    if (startupSeconds < 0 && seg.startupSeconds >= 0) startupSeconds = seg.startupSeconds;
    let fresh = false;
    // libFuzzer replays the corpus first: drop the inputs that failed so a restart gets past them.
    const failed = new Set(seg.findings.flatMap((f) => (f.input === undefined ? [] : [sha1(f.input)])));
    if (failed.size > 0) {
      for (const d of [work, ...extraDirs])
        for (const f of readdirSync(d)) if (failed.has(sha1(readFileSync(path.join(d, f))))) rmSync(path.join(d, f), { force: true });
    }
    for (const f of seg.findings) {
      const sig = findingSignature(f);
      if (signatures.has(sig)) continue;
      signatures.add(sig);
      findings.push(f);
      fresh = true;
    }
    if (seg.findings.length === 0 || options.stopOnFirstFinding === true) break;
    // The same bug again and again (or an engine that cannot start): stop rather than spin.
    if (!fresh || restarts >= 12 || (seg.executions === 0 && seg.findings.every((f) => f.input === undefined))) break;
  }
  const seconds = elapsed();

  if (save) {
    mkdirSync(corpus, { recursive: true });
    for (const f of readdirSync(work)) {
      if (copiedIn.has(f) || existsSync(path.join(corpus, f))) continue;
      // An engine killed while writing (Ctrl-C) can leave a torn file: its name no longer matches its bytes.
      if (!engineWroteWhole(f, readFileSync(path.join(work, f)))) continue;
      copyFileSync(path.join(work, f), path.join(corpus, f));
    }
  }
  const savedFiles = new Set<string>();
  const saved: (FuzzFinding & { duplicate?: boolean })[] = findings.map((f) => {
    if (f.input === undefined) return f;
    const kindWord = f.kind === "timeout" ? "hang" : f.kind === "oom" ? "oom" : "crash";
    if (!save) {
      if (ownWork) return f;
      const file = path.join(artifacts, `${kindWord}-${createHash("sha256").update(f.input).digest("hex").slice(0, 16)}`);
      writeFileSync(file, f.input);
      return { ...f, file };
    }
    const small =
      f.kind === "oom"
        ? f.input
        : minimize(harness, f.input, f.kind === "timeout" ? "hang" : "crash", f.kind === "timeout" ? 8 : 150, Math.min(perInput * 1000, 3000));
    const file = `${kindWord}-${createHash("sha256").update(small).digest("hex").slice(0, 16)}`;
    const known = path.join(corpus, "open", file);
    if (existsSync(known)) return { ...f, file: known };
    if (savedFiles.has(file)) return { ...f, file: path.join(corpus, "regressions", file), duplicate: true };
    savedFiles.add(file);
    mkdirSync(path.join(corpus, "regressions"), { recursive: true });
    const dest = path.join(corpus, "regressions", file);
    writeFileSync(dest, small);
    return { ...f, file: dest };
  });
  const unique = saved.filter((f) => f.duplicate !== true);
  if (ownWork) rmSync(workRoot, { recursive: true, force: true });
  else rmSync(work, { recursive: true, force: true });
  const corpusFiles = save && existsSync(corpus) ? countFiles(corpus) : countFilesSafe(work) || before;
  const first = unique.reduce<number | undefined>((a, f) => (a === undefined || f.seconds < a ? f.seconds : a), undefined);
  return {
    target: name,
    seconds,
    executions,
    newInputs: save ? corpusFiles - before : 0,
    execsPerSecond: lastRate || Math.round(executions / Math.max(seconds, 0.001)),
    coverageFirst: Math.max(coverageFirst, 0),
    coverageLast,
    corpusFiles,
    crashes: unique.map((f) => f.file).filter((f): f is string => f !== undefined),
    hang: unique.some((f) => f.kind === "timeout"),
    engine: choice.engine,
    ...(first === undefined ? {} : { firstFindingSeconds: first }),
    findingInputs: unique.map((f) => f.input).filter((x): x is Uint8Array => x !== undefined),
    findings: unique.map(({ duplicate: _d, ...f }: FuzzFinding & { duplicate?: boolean }) => f),
    startupSeconds: Math.max(0, startupSeconds),
    mode,
    ...(choice.note === undefined ? {} : { engineNote: choice.note }),
    ...(dictionary === undefined || choice.engine !== "jazzer" ? {} : { dictionary }),
  };
}

/**
 * False when `name` is the hash an engine names a corpus file by (libFuzzer: SHA-1, jsfuzz:
 * SHA-256, in hex) and `bytes` do not hash to it: a write cut short by a kill. True otherwise.
 */
export function engineWroteWhole(name: string, bytes: Uint8Array): boolean {
  if (/^[0-9a-f]{40}$/.test(name)) return sha1(bytes) === name;
  if (/^[0-9a-f]{64}$/.test(name)) return createHash("sha256").update(bytes).digest("hex") === name;
  return true;
}

function sha1(data: Uint8Array): string {
  return createHash("sha1").update(data).digest("hex");
}

function findingSignature(f: Omit<FuzzFinding, "file">): string {
  const frame = f.message.split("\n").find((l) => /^\s+at /.test(l)) ?? "";
  const head = (f.message.split("\n").find((l) => /Error|exception|timeout|out-of-memory|exited/i.test(l)) ?? "").replace(/[0-9a-f]{16,}/g, "").slice(0, 120);
  return `${f.kind}|${head}|${frame.trim()}`;
}

/** When the first engine process of a run started fuzzing (performance.now()). */
interface EngineClock {
  start?: number;
}

interface Segment {
  executions: number;
  coverageFirst: number;
  coverageLast: number;
  execsPerSecond: number;
  startupSeconds: number;
  findings: Omit<FuzzFinding, "file">[];
}

/**
 * Node (V8) options of every Jazzer.js process, before its CLI. Allocation-site pretenuring off:
 * in a Jazzer.js process (not in a plain node one, whatever in Jazzer.js's start-up sets it off)
 * the per-input garbage of a target survives scavenges: an uninstrumented loop making stream pairs
 * had 4-13 MB promoted per scavenge (3-18 ms each, GC a quarter of http-client's time), which is
 * what pretenured garbage in old space does, keeping the young objects it points to alive until
 * the next full GC. With this flag ~5 KB survive a scavenge (0.2 ms), as in plain node.
 */
export const JAZZER_NODE_ARGS = ["--no-allocation-site-pretenuring"];

/** Harness modules (harnessSource) end so; Jazzer.js leaves them uninstrumented (JAZZER_ENGINE_ARGS). */
export const HARNESS_SUFFIX = ".fuzz-harness.cjs";

/**
 * Jazzer.js options every run gets: the harness module is not instrumented (its per-input checks
 * are not the target's coverage, and a hook per comparison would make them costly), and Jazzer.js's
 * prototype-pollution detector is replaced by the harness's own check after each input
 * (replay.ts checkPrototypes: the same prototypes, without copying every property per input).
 */
export const JAZZER_ENGINE_ARGS = [
  "--includes=*",
  "--excludes=node_modules",
  `--excludes=${HARNESS_SUFFIX}`,
  `--excludes=${UNINSTRUMENTED_SUFFIX}`,
  "--disable_bug_detectors=prototype-pollution",
];

async function jazzerSegment(
  choice: EngineChoice,
  harness: string,
  work: string,
  extraDirs: string[],
  artifacts: string,
  o: {
    seconds: number;
    perInput: number;
    rss: number;
    mode: "sync" | "async";
    dictionary?: string;
    extra: string[];
    onLine: ((line: string, pid?: number) => void) | undefined;
    clock: EngineClock;
    signal: AbortSignal | undefined;
  },
): Promise<Segment> {
  const args = [
    ...JAZZER_NODE_ARGS,
    choice.jazzerCli!,
    harness,
    work,
    ...extraDirs,
    ...(o.mode === "sync" ? ["--sync"] : []),
    `--timeout=${o.perInput * 1000}`,
    ...JAZZER_ENGINE_ARGS,
    "--",
    `-max_total_time=${o.seconds}`,
    `-rss_limit_mb=${o.rss}`,
    `-malloc_limit_mb=${o.rss}`,
    `-artifact_prefix=${artifacts}/`,
    "-print_final_stats=1",
    ...(o.dictionary === undefined ? [] : [`-dict=${o.dictionary}`]),
    ...o.extra,
  ];
  // Hard stop from outside: the run, start-up, one input's timeout and libFuzzer's report.
  return engineSegment(
    process.execPath,
    args,
    choice.env,
    path.dirname(harness),
    (o.seconds + o.perInput + 60) * 1000,
    artifacts,
    o.onLine,
    o.clock,
    "jazzer",
    undefined,
    o.signal,
  );
}

async function jsfuzzSegment(
  paths: FuzzPaths,
  harness: string,
  work: string,
  artifacts: string,
  o: {
    seconds: number;
    perInput: number;
    rss: number;
    onLine: ((line: string, pid?: number) => void) | undefined;
    clock: EngineClock;
    signal: AbortSignal | undefined;
  },
): Promise<Segment> {
  const require = createRequire(import.meta.url);
  const jsfuzzMain = require.resolve("jsfuzz/build/src/index.js");
  const crashPath = path.join(artifacts, "crash-jsfuzz");
  rmSync(crashPath, { force: true });
  const args = [
    jsfuzzMain,
    path.relative(paths.root, harness),
    work,
    // jsfuzz counts the worker's start-up (instrumenting the bundle) against the first input.
    "--timeout",
    String(Math.max(o.perInput, 30)),
    "--rss-limit-mb",
    String(o.rss),
    "--exact-artifact-path",
    crashPath,
  ];
  return engineSegment(process.execPath, args, process.env, paths.root, o.seconds * 1000, artifacts, o.onLine, o.clock, "jsfuzz", crashPath, o.signal);
}

/** Runs one engine process in its own process group until it ends or `killAfterMs`; parses its output. */
function engineSegment(
  cmd: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  cwd: string,
  killAfterMs: number,
  artifacts: string,
  onLine: ((line: string, pid?: number) => void) | undefined,
  clock: EngineClock,
  engine: "jazzer" | "jsfuzz",
  jsfuzzCrash?: string,
  abortSignal?: AbortSignal,
): Promise<Segment> {
  return new Promise((resolve) => {
    const spawnedAt = performance.now();
    if (engine === "jsfuzz") clock.start ??= spawnedAt;
    const child = spawn(cmd, args, { cwd, env, stdio: ["ignore", "pipe", "pipe"], detached: true });
    const killGroup = (): void => {
      try {
        if (child.pid !== undefined) process.kill(-child.pid, "SIGKILL");
      } catch {
        /* already gone */
      }
    };
    let executions = 0,
      coverageFirst = -1,
      coverageLast = 0,
      rate = 0,
      startupSeconds = -1,
      killedByUs = false,
      jsfuzzTimeout = false,
      finalExecs = -1;
    const findings: Omit<FuzzFinding, "file">[] = [];
    const tail: string[] = [];
    let pending = "";
    const now = (): number => (performance.now() - (clock.start ?? spawnedAt)) / 1000;
    const onChunk = (chunk: Buffer): void => {
      pending += chunk.toString("utf8");
      let nl: number;
      while ((nl = pending.indexOf("\n")) >= 0) {
        const line = pending.slice(0, nl).replace(/\r$/, "");
        pending = pending.slice(nl + 1);
        onLine?.(line, child.pid);
        tail.push(line);
        if (tail.length > 60) tail.shift();
        if (engine === "jazzer" && startupSeconds < 0 && /^INFO: Seed: \d+/.test(line)) {
          startupSeconds = (performance.now() - spawnedAt) / 1000;
          clock.start ??= performance.now();
        }
        const st = parseStatLine(line);
        if (st) {
          if (startupSeconds < 0) startupSeconds = (performance.now() - spawnedAt) / 1000;
          executions = Math.max(executions, st.executions);
          if (coverageFirst < 0 && st.coverage > 0) coverageFirst = st.coverage;
          coverageLast = Math.max(coverageLast, st.coverage);
          if (st.kind === "pulse" || st.kind === "PULSE" || st.kind === "DONE") rate = st.execsPerSecond;
        }
        const fin = /^stat::number_of_executed_units: (\d+)/.exec(line);
        if (fin) finalExecs = Number(fin[1]);
        if (line.startsWith("timeout reached")) jsfuzzTimeout = true;
        const art = ARTIFACT.exec(line);
        if (art) {
          const file = art[1]!;
          const base = path.basename(file);
          const kind = base.startsWith("timeout-")
            ? "timeout"
            : base.startsWith("oom-")
              ? "oom"
              : /fuzz target exited/.test(tail.join("\n"))
                ? "exit"
                : "crash";
          const input = existsSync(file) ? new Uint8Array(readFileSync(file)) : undefined;
          findings.push({ kind, seconds: now(), message: reportOf(tail), ...(input === undefined ? {} : { input }) });
        }
      }
    };
    child.stdout.on("data", onChunk);
    child.stderr.on("data", onChunk);
    const timer = setTimeout(() => {
      killedByUs = true;
      killGroup();
    }, killAfterMs);
    const abort = (): void => {
      killedByUs = true;
      killGroup();
    };
    if (abortSignal?.aborted === true) abort();
    abortSignal?.addEventListener("abort", abort);
    process.once("exit", killGroup);
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      killGroup();
      process.removeListener("exit", killGroup);
      abortSignal?.removeEventListener("abort", abort);
      if (finalExecs >= 0) executions = finalExecs;
      if (engine === "jsfuzz" && jsfuzzCrash !== undefined && existsSync(jsfuzzCrash)) {
        findings.push({ kind: jsfuzzTimeout ? "timeout" : "crash", seconds: now(), message: reportOf(tail), input: new Uint8Array(readFileSync(jsfuzzCrash)) });
        rmSync(jsfuzzCrash, { force: true });
      } else if (findings.length === 0 && !killedByUs && (code !== 0 || signal !== null) && !(engine === "jsfuzz" && signal === "SIGKILL")) {
        // The engine ended on its own with no artifact: a worker death is a finding, not a quiet end.
        findings.push({
          kind: "exit",
          seconds: now(),
          message: `${engine} exited on its own (${signal ?? `code ${code}`}) without writing an input\n${tail.slice(-20).join("\n")}`,
        });
      }
      void artifacts;
      resolve({ executions, coverageFirst, coverageLast, execsPerSecond: rate, startupSeconds, findings });
    });
  });
}

function reportOf(tail: string[]): string {
  const start = tail.findIndex((l) => /Uncaught Exception|ERROR:|==\d+==|Error:|Crash|crash/.test(l));
  return tail
    .slice(start < 0 ? Math.max(0, tail.length - 20) : start)
    .filter((l) => !/^0x[0-9a-f]{2},/.test(l))
    .slice(0, 30)
    .join("\n");
}

/**
 * The old entry point, kept for callers: runFuzzer with jsfuzz or Jazzer.js as chosen, saving
 * new inputs and findings.
 */
export async function runJsfuzz(
  paths: FuzzPaths,
  name: string,
  bundle: string,
  options: {
    seconds: number;
    perInputTimeoutSeconds?: number;
    rssLimitMb?: number;
    worker?: number;
    onLine?: (line: string) => void;
    engine?: "jazzer" | "jsfuzz";
  },
): Promise<FuzzRunResult> {
  return runFuzzer(paths, name, bundle, {
    seconds: options.seconds,
    engine: options.engine ?? "jsfuzz",
    ...(options.perInputTimeoutSeconds === undefined ? {} : { perInputTimeoutSeconds: options.perInputTimeoutSeconds }),
    ...(options.rssLimitMb === undefined ? {} : { rssLimitMb: options.rssLimitMb }),
    ...(options.onLine === undefined ? {} : { onLine: options.onLine }),
  });
}

/** All saved inputs of a target replayed by npm test: corpora/<name>/ and its regressions/ (not open/). */
export function savedInputs(paths: FuzzPaths, name: string): string[] {
  const walk = (dir: string): string[] => {
    if (!existsSync(dir)) return [];
    return readdirSync(dir)
      .sort()
      .flatMap((f) => {
        const p = path.join(dir, f);
        if (statSync(p).isDirectory()) return f === "open" ? [] : walk(p);
        return [p];
      });
  };
  return walk(path.join(paths.corporaDir, name));
}

/**
 * Replays every saved input of a target (and a few fixed degenerate inputs) in a child process
 * with `timeoutMs` per input enforced from outside; see replay.ts.
 */
export async function replayCorpus(
  paths: FuzzPaths,
  name: string,
  options: { timeoutMs?: number; bundle?: string; files?: string[]; degenerate?: boolean } = {},
): Promise<{ mode: "sync" | "async"; outcomes: ReplayOutcome[] }> {
  const bundle = options.bundle ?? (await bundleTarget(paths, name, path.join(mkdtempSync(path.join(paths.buildDir, `replay-${name}-`)), `${name}.cjs`)));
  try {
    const files = options.files ?? savedInputs(paths, name);
    const inputs: ReplayInput[] = files.map((f) => ({ label: path.relative(paths.root, f), file: f }));
    if (options.degenerate !== false) {
      for (const [label, data] of [
        ["(empty input)", Buffer.alloc(0)],
        ["(1 zero byte)", Buffer.alloc(1)],
        ["(64 x 0xff)", Buffer.alloc(64, 0xff)],
        ["(2000 zero bytes)", Buffer.alloc(2000, 0)],
      ] as const)
        inputs.push({ label, data });
    }
    const mode = targetMode(bundle, files[0] === undefined ? undefined : readFileSync(files[0]));
    const outcomes = await replayInputs(bundle, mode, inputs, { timeoutMs: options.timeoutMs ?? 10_000, workDir: path.dirname(bundle) });
    return { mode, outcomes };
  } finally {
    if (options.bundle === undefined) rmSync(path.dirname(bundle), { recursive: true, force: true });
  }
}

/** What distillCorpus kept. */
export interface DistillResult {
  readonly kept: number;
  readonly removed: number;
  readonly bytes: number;
  readonly replayMs: number;
  /** Corpus inputs that make the target fail or hang (findings; always kept). */
  readonly failing: string[];
  /** "coverage": chosen by libFuzzer merge features; "age": oldest first (no Jazzer.js here). */
  readonly method: "coverage" | "age";
  /** Distinct coverage features of the whole corpus and of what was kept (coverage method). */
  readonly features?: { readonly before: number; readonly kept: number };
}

/**
 * Keeps corpora/<name>/ small enough for npm test's regression replay (within `maxReplayMs` of
 * replay and `maxBytes`), choosing by coverage: Jazzer.js's -merge=1 records the coverage
 * features of every input; seeds are kept, then greedily the input adding the most features not
 * yet covered (per replay millisecond when the budget binds), until no input adds any. Without
 * Jazzer.js: seeds and the oldest inputs first. Inputs that fail on replay (exceptions, hangs) are
 * kept and returned. corpora/<name>/regressions/ and open/ are never touched.
 */
export async function distillCorpus(
  paths: FuzzPaths,
  name: string,
  options: { maxBytes?: number; maxReplayMs?: number; timeoutMs?: number; engine?: "jazzer" | "jsfuzz" } = {},
): Promise<DistillResult> {
  const maxBytes = options.maxBytes ?? 400_000;
  const maxReplayMs = options.maxReplayMs ?? 700;
  const dir = path.join(paths.corporaDir, name);
  if (!existsSync(dir)) return { kept: 0, removed: 0, bytes: 0, replayMs: 0, failing: [], method: "age" };
  const files = readdirSync(dir)
    .map((f) => ({ f, p: path.join(dir, f) }))
    .filter((x) => statSync(x.p).isFile())
    .map((x) => ({ ...x, st: statSync(x.p) }))
    .sort((a, b) => Number(b.f.startsWith("seed-")) - Number(a.f.startsWith("seed-")) || a.st.mtimeMs - b.st.mtimeMs || (a.f < b.f ? -1 : 1));
  const scratch = mkdtempSync(path.join(paths.buildDir, `distill-${name}-`));
  try {
    const bundle = await bundleTarget(paths, name, path.join(scratch, `${name}.cjs`));
    const { outcomes } = await replayCorpus(paths, name, { bundle, files: files.map((x) => x.p), degenerate: false, timeoutMs: options.timeoutMs ?? 10_000 });
    const ms = new Map(outcomes.map((o, i) => [files[i]!.p, o.ms]));
    const failing = outcomes.flatMap((o, i) => (o.ok ? [] : [files[i]!.p]));
    const choice = await chooseEngine(paths, options.engine);
    let keep: Set<string>;
    let method: "coverage" | "age" = "age";
    let features: { before: number; kept: number } | undefined;
    const features0 =
      choice.engine === "jazzer"
        ? await mergeFeatures(
            choice,
            bundle,
            files.map((x) => x.p).filter((p) => !failing.includes(p)),
            scratch,
          )
        : undefined;
    if (features0 !== undefined) {
      method = "coverage";
      keep = new Set(failing);
      const covered = new Set<number>();
      let replay = 0,
        bytes = 0;
      const take = (p: string): void => {
        keep.add(p);
        for (const ft of features0.get(p) ?? []) covered.add(ft);
        replay += ms.get(p) ?? 0;
        bytes += statSync(p).size;
      };
      for (const x of files) if (x.f.startsWith("seed-") && !keep.has(x.p)) take(x.p);
      const all = new Set<number>();
      for (const fts of features0.values()) for (const ft of fts) all.add(ft);
      const candidates = files.filter((x) => !keep.has(x.p) && features0.has(x.p));
      for (;;) {
        let best: (typeof candidates)[number] | undefined,
          bestScore = 0,
          bestGain = 0;
        const tight = replay > maxReplayMs / 2;
        for (const x of candidates) {
          if (keep.has(x.p)) continue;
          let gain = 0;
          for (const ft of features0.get(x.p)!) if (!covered.has(ft)) gain++;
          if (gain === 0) continue;
          const cost = ms.get(x.p) ?? 1;
          if (replay + cost > maxReplayMs || bytes + x.st.size > maxBytes) continue;
          const score = tight ? gain / Math.max(cost, 0.05) : gain;
          if (score > bestScore || (score === bestScore && best !== undefined && x.st.size < best.st.size)) {
            best = x;
            bestScore = score;
            bestGain = gain;
          }
        }
        if (best === undefined || bestGain === 0) break;
        take(best.p);
      }
      features = { before: all.size, kept: covered.size };
    } else {
      keep = new Set(failing);
      let replay = 0,
        bytes = 0;
      for (const x of files) {
        if (keep.has(x.p)) continue;
        if (replay > maxReplayMs || bytes + x.st.size > maxBytes) continue;
        keep.add(x.p);
        replay += ms.get(x.p) ?? 0;
        bytes += x.st.size;
      }
    }
    let removed = 0,
      bytes = 0,
      replayMs = 0;
    for (const x of files) {
      if (keep.has(x.p)) {
        bytes += x.st.size;
        replayMs += ms.get(x.p) ?? 0;
        continue;
      }
      rmSync(x.p, { force: true });
      removed++;
    }
    return { kept: keep.size, removed, bytes, replayMs: Math.round(replayMs), failing, method, ...(features === undefined ? {} : { features }) };
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

/**
 * Coverage features of each input, from Jazzer.js's `-merge=1 -merge_control_file` (the "FT"
 * lines libFuzzer writes per input); undefined when the merge fails.
 */
export async function mergeFeatures(choice: EngineChoice, bundle: string, files: string[], scratch: string): Promise<Map<string, number[]> | undefined> {
  if (files.length === 0) return new Map();
  const inputDir = path.join(scratch, "merge-in"),
    outDir = path.join(scratch, "merge-out"),
    control = path.join(scratch, "merge.control");
  rmSync(inputDir, { recursive: true, force: true });
  mkdirSync(inputDir, { recursive: true });
  mkdirSync(outDir, { recursive: true });
  const byCopy = new Map<string, string>();
  files.forEach((f, i) => {
    const c = path.join(inputDir, `${String(i).padStart(6, "0")}`);
    copyFileSync(f, c);
    byCopy.set(c, f);
  });
  const mode = targetMode(bundle, readFileSync(files[0]!));
  const harness = path.join(scratch, `merge${HARNESS_SUFFIX}`);
  writeFileSync(harness, harnessSource(bundle, mode));
  const r = await runChild(
    process.execPath,
    [
      ...JAZZER_NODE_ARGS,
      choice.jazzerCli!,
      harness,
      outDir,
      inputDir,
      ...(mode === "sync" ? ["--sync"] : []),
      "--timeout=10000",
      ...JAZZER_ENGINE_ARGS,
      "--",
      "-merge=1",
      `-merge_control_file=${control}`,
      "-rss_limit_mb=2048",
      `-artifact_prefix=${scratch}/`,
    ],
    { cwd: scratch, env: choice.env, timeoutMs: 300_000 },
  );
  if (!existsSync(control)) {
    void r;
    return undefined;
  }
  const lines = readFileSync(control, "utf8").split("\n");
  const n = Number(lines[0]);
  const names = lines.slice(2, 2 + n);
  const out = new Map<string, number[]>();
  for (const l of lines.slice(2 + n)) {
    const m = /^FT (\d+)(.*)$/.exec(l);
    if (!m) continue;
    const orig = byCopy.get(names[Number(m[1])]!);
    if (orig !== undefined) out.set(orig, m[2]!.trim() === "" ? [] : m[2]!.trim().split(" ").map(Number));
  }
  return out.size > 0 ? out : undefined;
}

function countFilesSafe(dir: string): number {
  return existsSync(dir) ? countFiles(dir) : 0;
}

function countFiles(dir: string): number {
  return readdirSync(dir).filter((f) => statSync(path.join(dir, f)).isFile()).length;
}

/**
 * Runs a bundled target (or a harness module made by harnessSource) on one input in a child
 * process, with the harness's rules: true if it throws, rejects, exits or exceeds the budget.
 */
export function reproduces(bundle: string, input: Uint8Array, timeoutMs = 5000): boolean {
  const file = path.resolve(bundle);
  const isHarness = readFileSync(file, "utf8").startsWith('"use strict";\nconst target = require(');
  const dir = mkdtempSync(path.join(path.dirname(file), ".repro-"));
  try {
    let h = file;
    if (!isHarness) {
      h = path.join(dir, "harness.cjs");
      writeFileSync(h, harnessSource(file, targetMode(file, input)));
    }
    const script =
      `const t=require(${JSON.stringify(h)});` +
      `const d=Buffer.from(require("fs").readFileSync(0));Promise.resolve().then(()=>t.fuzz(d)).then(()=>new Promise((r)=>setImmediate(r))).then(()=>{if(t.takeRejection)t.takeRejection()}).then(()=>process.exit(0),(e)=>{console.error(e&&e.stack||e);process.exit(1)})`;
    // Every costly oracle on (the fuzzing run samples them by input; a shrunk input must not escape them).
    const r = spawnSync(process.execPath, ["-e", script], {
      input,
      timeout: timeoutMs,
      stdio: ["pipe", "ignore", "ignore"],
      env: { NETLAB_FUZZ_CHECK_ALL: "1", ...process.env },
    });
    return r.status !== 0;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Shrinks a failing input by deleting chunks (halving chunk size down to one byte) while it still
 * fails; bounded to `maxAttempts` child runs.
 */
export function minimize(bundle: string, input: Uint8Array, kind: "crash" | "hang", maxAttempts = 150, hangTimeoutMs = 3000): Uint8Array {
  const timeoutMs = kind === "hang" ? hangTimeoutMs : 5000;
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
