// netlab fuzz: coverage-guided fuzzing of every target for a bounded time under Jazzer.js
// (jsfuzz when Jazzer.js does not load here), then the fast-check property suites with many
// more runs than `npm test` uses; or a long campaign (--hours) that runs the targets round-robin
// in slices, resumable from build/fuzz/campaign.json.
import { runAudit } from "../../fuzz/audit-command.ts";
import { exitStatusOf, type StopSignal } from "../run-control.ts";
import { choice as oneOf, flagReader, formatCliError, helpText, parseCommandLine, parseDuration, parseInteger, UsageError } from "../args.ts";
import { spawnSync } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { formatBinary, formatSi } from "../../report/format.ts";
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import {
  bundleTarget,
  chooseEngine,
  defaultFuzzPaths,
  distillCorpus,
  ensureSeeds,
  listTargets,
  reproduces,
  runFuzzer,
  type DistillResult,
  type FuzzerRun,
  type FuzzPaths,
} from "../../fuzz/runner.ts";

/** Per-target time of a default run: 14 targets, two at a time, about 5 minutes of fuzzing. */
const DEFAULT_SECONDS = 40;
const DEFAULT_SLICE_SECONDS = 300;
const DEFAULT_PROPERTY_RUNS = 2000;

export const summary = "coverage-guided (Jazzer.js, jsfuzz fallback) and property (fast-check) fuzzing of every untrusted input";

const USAGE = `usage: netlab fuzz audit [...]: the planted-bug campaign (netlab fuzz audit --help)
       netlab fuzz [--target NAME[,NAME...]] [--time SECONDS] [--jobs N] [--workers N] [--engine jazzer|jsfuzz]
                   [--timeout SECONDS] [--rss-limit-mb MB] [--no-properties] [--property-runs N] [--no-distill]
                   [--hours H [--fresh]] [--list] [--repro FILE --target NAME] [--json] [--corpora DIR] [--build-dir DIR]
  Runs each target for SECONDS of fuzzing (default ${DEFAULT_SECONDS}; start-up not counted), JOBS targets at a
  time (default 2) with N engine processes each (default 1), under Jazzer.js (libFuzzer: per-input
  --timeout, default 10 s, and --rss-limit-mb, default 2048, make a hang or a runaway allocation a
  finding; harness/fuzz/dicts/<target>.dict is used when present), or jsfuzz when Jazzer.js does not
  load here (a one-line note says why; --engine forces one). New-coverage inputs go to
  corpora/<target>/, which is then trimmed by coverage (libFuzzer -merge=1 features) to npm test's
  replay budget; minimized findings go to corpora/<target>/regressions/ (replayed by npm test) and
  are printed with a repro command. Then the fast-check properties (default ${DEFAULT_PROPERTY_RUNS} runs).
  --hours H  a campaign: the targets round-robin in slices of --time seconds (default ${DEFAULT_SLICE_SECONDS}) until
             H hours of fuzzing; progress per slice; state in build/fuzz/campaign.json, so running
             the same command again resumes it (--fresh starts over); Ctrl-C stops it and prints the
             summary (what was found, repro commands). No property run.
  --repro FILE  runs one input through --target in a child (exit 1 if it throws, rejects, exits or hangs).
  --corpora DIR    the folder of per-target corpora (default corpora/); --build-dir DIR: the bundles' and the
                   engines' scratch folders (default build/fuzz)
  Ctrl-C or SIGTERM: the engines' process groups are ended, their new corpus entries saved, the scratch
  folders removed; the summary so far, exit 130 / 143. Usage errors exit 2.`;

interface Options {
  seconds: number | undefined;
  json: boolean;
  properties: boolean;
  propertyRuns: number;
  list: boolean;
  workers: number;
  jobs: number;
  engine: "jazzer" | "jsfuzz" | undefined;
  timeout: number;
  rss: number;
  distill: boolean;
  hours: number | undefined;
  fresh: boolean;
  repro: string | undefined;
  only: string[] | undefined;
  corpora: string | undefined;
  buildDir: string | undefined;
  help: boolean;
}

/** The command line of `netlab fuzz` (args.ts's rules). */
const FUZZ_SPEC = {
  command: "fuzz",
  usage: USAGE,
  options: {
    seconds: { type: "string" },
    time: { type: "string" },
    workers: { type: "string" },
    jobs: { type: "string" },
    timeout: { type: "string" },
    "rss-limit-mb": { type: "string" },
    hours: { type: "string" },
    fresh: { type: "boolean" },
    engine: { type: "string" },
    repro: { type: "string" },
    target: { type: "string" },
    json: { type: "boolean" },
    "no-properties": { type: "boolean" },
    "no-distill": { type: "boolean" },
    "property-runs": { type: "string" },
    list: { type: "boolean" },
    corpora: { type: "string" },
    "build-dir": { type: "string" },
  },
} as const;

function parse(args: string[]): Options {
  const { values: v, help } = parseCommandLine(FUZZ_SPEC, args);
  const get = flagReader(FUZZ_SPEC.command, v);
  const seconds = (flag: string): number | undefined => {
    const ms = get(flag, (t) => parseDuration(t, "s", 1));
    return ms === undefined ? undefined : ms / 1000;
  };
  const count = (flag: string): number | undefined => get(flag, (t) => parseInteger(t, 1));
  const hoursMs = get("hours", (t) => parseDuration(t, "h", 1));
  const o: Options = {
    seconds: seconds("time") ?? seconds("seconds"),
    json: v.json === true,
    properties: v["no-properties"] !== true,
    propertyRuns: count("property-runs") ?? DEFAULT_PROPERTY_RUNS,
    list: v.list === true,
    workers: count("workers") ?? 1,
    jobs: count("jobs") ?? 2,
    engine: get("engine", oneOf("jazzer", "jsfuzz")),
    timeout: seconds("timeout") ?? 10,
    rss: count("rss-limit-mb") ?? 2048,
    distill: v["no-distill"] !== true,
    hours: hoursMs === undefined ? undefined : hoursMs / 3_600_000,
    fresh: v.fresh === true,
    repro: v.repro,
    only: v.target?.split(",").filter((t) => t !== ""),
    corpora: v.corpora,
    buildDir: v["build-dir"],
    help,
  };
  if (o.fresh && o.hours === undefined) throw new UsageError(FUZZ_SPEC.command, "--fresh goes with --hours");
  return o;
}

export async function run(args: string[]): Promise<number> {
  const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..");
  if (args[0] === "audit") return runAudit(root, args.slice(1));
  const o = parse(args);
  const paths: FuzzPaths = {
    ...defaultFuzzPaths(root),
    ...(o.corpora === undefined ? {} : { corporaDir: path.resolve(o.corpora) }),
    ...(o.buildDir === undefined ? {} : { buildDir: path.resolve(o.buildDir) }),
  };
  const all = listTargets(paths);
  if (o.help) {
    process.stdout.write(helpText(FUZZ_SPEC));
    return 0;
  }
  if (o.list) {
    process.stdout.write(all.join("\n") + "\n");
    return 0;
  }
  const targets = o.only ?? all;
  const usage = (message: string): UsageError => new UsageError(FUZZ_SPEC.command, message);
  const unknown = targets.filter((t) => !all.includes(t));
  if (unknown.length > 0) throw usage(`unknown target(s): ${unknown.join(", ")}; known: ${all.join(", ")}`);
  if (o.repro !== undefined && targets.length !== 1) throw usage("--repro needs exactly one --target");
  if (o.repro !== undefined && !existsSync(o.repro)) throw usage(`--repro: no such file ${o.repro}`);

  if (o.repro !== undefined) {
    const bundle = await bundleTarget(paths, targets[0]!);
    const failing = reproduces(bundle, readFileSync(o.repro), Math.max(5000, o.timeout * 1000));
    process.stdout.write(`${targets[0]} on ${o.repro}: ${failing ? "FAILS (throws, rejects, exits or exceeds its time budget)" : "passes"}\n`);
    return failing ? 1 : 0;
  }

  const choice = await chooseEngine(paths, o.engine).catch((e: Error) => e);
  if (choice instanceof Error) {
    process.stderr.write(`${formatCliError(FUZZ_SPEC.command, choice)}\n`);
    return 1;
  }
  if (choice.note !== undefined && !o.json) process.stderr.write(`netlab fuzz: ${choice.note}\n`);
  const ui = createUi(o.json);
  if (o.hours !== undefined) return campaign(paths, targets, o, ui, choice.engine);

  const seconds = o.seconds ?? DEFAULT_SECONDS;
  // SIGINT / SIGTERM: the engines' process groups are killed, their new corpus entries saved as at
  // a run's end, no further target starts; the summary so far, exit 130 / 143.
  const abort = new AbortController();
  let interrupted: StopSignal | undefined;
  const onSignal = (sig: NodeJS.Signals): void => {
    if (interrupted !== undefined) return;
    interrupted = sig === "SIGTERM" ? "SIGTERM" : "SIGINT";
    ui.say(`fuzz: ${sig}, stopping the engines and saving what they found`);
    abort.abort(sig);
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  const results: FuzzerRun[] = [];
  const distilled = new Map<string, DistillResult>();
  const fuzzOne = async (name: string, index: number): Promise<void> => {
    const label = `[${index + 1}/${targets.length}] ${name}`;
    await ensureSeeds(paths, name);
    const bundle = await bundleTarget(paths, name);
    ui.say(`${label}: fuzzing for ${seconds}s under ${choice.engine} with ${o.workers} process(es)`);
    const runs = await Promise.all(
      Array.from({ length: o.workers }, (_, w) => {
        const key = `${name}#${w}`;
        ui.status.set(key, `${name}${o.workers > 1 ? ` w${w}` : ""}: starting`);
        return runFuzzer(paths, name, bundle, {
          seconds,
          engine: choice.engine,
          perInputTimeoutSeconds: o.timeout,
          rssLimitMb: o.rss,
          signal: abort.signal,
          onLine: statusLine(ui, key, `${name}${o.workers > 1 ? ` w${w}` : ""}`),
        }).finally(() => ui.status.delete(key));
      }),
    );
    for (const r of runs) {
      results.push(r);
      for (const f of r.findings)
        ui.say(
          `  ${name}: ${f.kind} after ${f.seconds.toFixed(1)} s${f.file === undefined ? ` (no input: ${f.message.split("\n")[0]})` : `, saved: ${path.relative(root, f.file)}\n  repro: npx netlab fuzz --target ${name} --repro ${path.relative(root, f.file)}`}`,
        );
    }
    const best = runs.reduce((a, b) => (b.coverageLast > a.coverageLast ? b : a));
    ui.say(
      `${label}: done, ${runs.reduce((n, r) => n + r.executions, 0)} execs, coverage ${best.coverageFirst}→${best.coverageLast}, ${runs.reduce((n, r) => n + r.findings.length, 0)} finding(s)`,
    );
  };
  let next = 0;
  try {
    await Promise.all(
      Array.from({ length: Math.min(o.jobs, targets.length) }, async () => {
        while (next < targets.length && interrupted === undefined) {
          const i = next++;
          await fuzzOne(targets[i]!, i);
        }
      }),
    );
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  }
  ui.clear();
  // Keep every corpus small enough for npm test's replay, choosing inputs by coverage.
  if (o.distill && interrupted === undefined) {
    for (const name of targets) {
      ui.progress(`${name}: trimming the corpus by coverage`);
      const d = await distillCorpus(paths, name, { engine: choice.engine });
      distilled.set(name, d);
      for (const f of d.failing) ui.say(`  ${name}: corpus input fails on replay: ${path.relative(root, f)}`);
    }
    ui.clear();
  }

  let propertiesOk = true;
  if (o.properties && interrupted === undefined) {
    if (!o.json) process.stderr.write(`fast-check properties with ${o.propertyRuns} runs each\n`);
    const vitest = spawnSync(process.execPath, [path.join(root, "node_modules/vitest/vitest.mjs"), "run", "-t", "property|never throw|arbitrary"], {
      cwd: root,
      env: { ...process.env, NETLAB_FC_RUNS: String(o.propertyRuns) },
      stdio: o.json ? "ignore" : "inherit",
    });
    propertiesOk = vitest.status === 0;
  }

  // A target whose coverage counter never moved is fuzzing blind (e.g. not instrumented): a failure.
  const failed = results.filter((r) => r.findings.length > 0 || r.coverageLast === 0 || (distilled.get(r.target)?.failing.length ?? 0) > 0);
  const rel = (p: string): string => path.relative(root, p);
  const avg = (r: FuzzerRun): number => Math.round(r.executions / Math.max(r.seconds, 0.001));
  if (o.json) {
    process.stdout.write(
      JSON.stringify(
        {
          ok: failed.length === 0 && propertiesOk && interrupted === undefined,
          propertiesOk,
          seconds,
          jobs: o.jobs,
          workers: o.workers,
          engine: choice.engine,
          ...(interrupted === undefined ? {} : { interrupted }),
          ...(choice.note === undefined ? {} : { engineNote: choice.note }),
          targets: results.map((r) => {
            const { findingInputs: _inputs, findings, ...rest } = r;
            const d = distilled.get(r.target);
            return {
              ...rest,
              averageExecsPerSecond: avg(r),
              crashes: r.crashes.map(rel),
              findings: findings.map((f) => ({
                kind: f.kind,
                seconds: +f.seconds.toFixed(2),
                message: f.message,
                ...(f.file === undefined ? {} : { file: rel(f.file), repro: `npx netlab fuzz --target ${r.target} --repro ${rel(f.file)}` }),
              })),
              corpusKept: d?.kept,
              corpusBytes: d?.bytes,
              corpusReplayMs: d?.replayMs,
              corpusTrim: d?.method,
              corpusFeatures: d?.features,
            };
          }),
        },
        null,
        2,
      ) + "\n",
    );
  } else {
    const rows = results.map((r) => {
      const d = distilled.get(r.target);
      return [
        r.target,
        r.mode,
        ...execFigures(r.executions, r.seconds),
        `${r.coverageFirst}→${r.coverageLast}`,
        `${r.corpusFiles} (+${r.newInputs})${d === undefined ? "" : ` → ${d.kept} kept, ${formatBinary(d.bytes)}${d.features ? `, ${d.features.kept}/${d.features.before} ft` : ""}`}`,
        r.findings.length
          ? r.findings.map((f) => (f.file === undefined ? `${f.kind} (no input)` : `${f.kind} ${rel(f.file)}`)).join(" ")
          : r.coverageLast === 0
            ? "BLIND (no coverage)"
            : "none",
      ];
    });
    process.stdout.write(`engine: ${choice.engine}${choice.note === undefined ? "" : ` (${choice.note})`}\n`);
    process.stdout.write(table(["target", "mode", "execs", "exec/s", "coverage", "corpus (saved → kept)", "findings"], rows));
    process.stdout.write(`properties: ${o.properties && interrupted === undefined ? (propertiesOk ? "passed" : "FAILED") : "skipped"}\n`);
    for (const r of results) for (const c of r.crashes) process.stdout.write(`repro: npx netlab fuzz --target ${r.target} --repro ${rel(c)}\n`);
    if (interrupted !== undefined)
      process.stdout.write(`interrupted (${interrupted}) after ${results.length} run(s); new corpus entries saved, distillation and properties skipped\n`);
  }
  if (interrupted !== undefined) return exitStatusOf(interrupted);
  return failed.length === 0 && propertiesOk ? 0 : 1;
}

interface Ui {
  readonly status: Map<string, string>;
  say(text: string): void;
  progress(text: string): void;
  draw(force?: boolean): void;
  clear(): void;
}

function createUi(json: boolean): Ui {
  const tty = process.stderr.isTTY === true && !json;
  const status = new Map<string, string>();
  let lastPrint = 0;
  const draw = (force = false): void => {
    if (json || status.size === 0) return;
    const line = [...status.values()].join(" | ");
    if (tty) process.stderr.write(`\r\x1b[K${line.slice(0, (process.stderr.columns || 160) - 1)}`);
    else if (force || performance.now() - lastPrint > 10_000) {
      process.stderr.write(line + "\n");
      lastPrint = performance.now();
    }
  };
  return {
    status,
    draw,
    say(text) {
      if (json) return;
      process.stderr.write(`${tty ? "\r\x1b[K" : ""}${text}\n`);
      draw();
    },
    progress(text) {
      if (json) return;
      if (tty) process.stderr.write(`\r\x1b[K${text}`);
      else process.stderr.write(`${text}\n`);
    },
    clear() {
      if (tty) process.stderr.write("\r\x1b[K");
    },
  };
}

function statusLine(ui: Ui, key: string, label: string): (line: string) => void {
  return (line) => {
    const m = /^#(\d+)\s+(NEW|PULSE|pulse|INITED|DONE)\s+cov: (\d+)(?: ft: \d+)? corp: (\d+)\S*.*?exec\/s: (\d+)/.exec(line);
    if (m) {
      ui.status.set(key, `${label}: ${m[1]} execs ${m[5]}/s cov ${m[3]} corpus ${m[4]}`);
      ui.draw();
    } else if (/^==\d+== |Uncaught Exception|timeout reached|SUMMARY: libFuzzer/.test(line)) ui.say(`  ${label}: ${line}`);
  };
}

/** The execs and exec/s cells of the fuzz tables, with the shared SI formatter ("1.23M", "1.76k"). */
export function execFigures(executions: number, seconds: number): [string, string] {
  return [formatSi(executions), formatSi(seconds > 0 ? Math.round(executions / seconds) : 0)];
}

/** 2 h 05 min, 7 min 30 s, 42 s. */
function hm(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s >= 3600) return `${Math.floor(s / 3600)} h ${String(Math.floor((s % 3600) / 60)).padStart(2, "0")} min`;
  if (s >= 60) return `${Math.floor(s / 60)} min ${s % 60} s`;
  return `${s} s`;
}

function table(head: string[], rows: string[][]): string {
  const widths = head.map((h, c) => Math.max(h.length, ...rows.map((row) => row[c]!.length)));
  const fmt = (row: string[]): string =>
    row
      .map((x, c) => x.padEnd(widths[c]!))
      .join("  ")
      .trimEnd();
  return fmt(head) + "\n" + widths.map((w) => "-".repeat(w)).join("  ") + "\n" + rows.map(fmt).join("\n") + "\n";
}

/** build/fuzz/campaign.json: what a campaign has done, so that it can be resumed. */
interface CampaignState {
  version: 1;
  startedAt: string;
  updatedAt: string;
  hours: number;
  sliceSeconds: number;
  targets: string[];
  engine: string;
  /** Fuzzing seconds done (sum over slices; with --jobs N, wall time is less). */
  fuzzedSeconds: number;
  /** Index of the next target (round-robin). */
  cursor: number;
  slices: { target: string; at: string; seconds: number; executions: number; execsPerSecond: number; coverage: number; newInputs: number; findings: number }[];
  perTarget: Record<string, { slices: number; seconds: number; executions: number; coverage: number; newInputs: number }>;
  findings: { target: string; at: string; kind: string; file?: string; message: string; repro?: string }[];
  done: boolean;
}

async function campaign(paths: FuzzPaths, targets: string[], o: Options, ui: Ui, engine: "jazzer" | "jsfuzz"): Promise<number> {
  const root = paths.root;
  const stateFile = path.join(paths.buildDir, "campaign.json");
  mkdirSync(paths.buildDir, { recursive: true });
  const sliceSeconds = o.seconds ?? DEFAULT_SLICE_SECONDS;
  let state: CampaignState | undefined;
  if (!o.fresh && existsSync(stateFile)) {
    try {
      const old = JSON.parse(readFileSync(stateFile, "utf8")) as CampaignState;
      if (old.version === 1 && !old.done && old.targets.join(",") === targets.join(",")) state = old;
    } catch {
      /* unreadable: start over */
    }
  }
  const now = (): string => new Date().toISOString();
  if (state === undefined) {
    state = {
      version: 1,
      startedAt: now(),
      updatedAt: now(),
      hours: o.hours!,
      sliceSeconds,
      targets,
      engine,
      fuzzedSeconds: 0,
      cursor: 0,
      slices: [],
      perTarget: {},
      findings: [],
      done: false,
    };
  } else {
    state.hours = o.hours!;
    state.sliceSeconds = sliceSeconds;
    ui.say(
      `campaign: resuming from ${path.relative(root, stateFile)} (${hm(state.fuzzedSeconds)} of ${hm(state.hours * 3600)} done, ${state.slices.length} slices, ${state.findings.length} finding(s))`,
    );
  }
  const s = state;
  const save = (): void => {
    s.updatedAt = now();
    writeFileSync(`${stateFile}.tmp`, JSON.stringify(s, null, 2) + "\n");
    renameSync(`${stateFile}.tmp`, stateFile);
  };
  save();
  const abort = new AbortController();
  let interrupted = false;
  let stoppedBy: StopSignal = "SIGINT";
  const onSigint = (sig: NodeJS.Signals): void => {
    if (interrupted) return;
    interrupted = true;
    stoppedBy = sig === "SIGTERM" ? "SIGTERM" : "SIGINT";
    ui.say(`campaign: ${stoppedBy}, stopping the running slice(s)`);
    abort.abort(stoppedBy);
  };
  process.on("SIGINT", onSigint);
  process.on("SIGTERM", onSigint);
  const budget = s.hours * 3600;
  const bundles = new Map<string, string>();
  try {
    const worker = async (): Promise<void> => {
      while (!interrupted && s.fuzzedSeconds < budget) {
        const name = s.targets[s.cursor % s.targets.length]!;
        s.cursor = (s.cursor + 1) % s.targets.length;
        const seconds = Math.max(5, Math.min(sliceSeconds, Math.ceil(budget - s.fuzzedSeconds)));
        s.fuzzedSeconds += seconds; // reserved now so that parallel slices do not overrun; corrected below
        await ensureSeeds(paths, name);
        let bundle = bundles.get(name);
        if (bundle === undefined) {
          bundle = await bundleTarget(paths, name);
          bundles.set(name, bundle);
        }
        const key = `${name}#${s.slices.length}`;
        ui.status.set(key, `${name}: starting`);
        const r = await runFuzzer(paths, name, bundle, {
          seconds,
          engine,
          perInputTimeoutSeconds: o.timeout,
          rssLimitMb: o.rss,
          signal: abort.signal,
          onLine: statusLine(ui, key, name),
        }).finally(() => ui.status.delete(key));
        s.fuzzedSeconds += Math.min(r.seconds, seconds) - seconds;
        if (o.distill && !interrupted) await distillCorpus(paths, name, { engine });
        const at = now();
        s.slices.push({
          target: name,
          at,
          seconds: +r.seconds.toFixed(1),
          executions: r.executions,
          execsPerSecond: r.execsPerSecond,
          coverage: r.coverageLast,
          newInputs: r.newInputs,
          findings: r.findings.length,
        });
        const t = (s.perTarget[name] ??= { slices: 0, seconds: 0, executions: 0, coverage: 0, newInputs: 0 });
        t.slices++;
        t.seconds += r.seconds;
        t.executions += r.executions;
        t.coverage = Math.max(t.coverage, r.coverageLast);
        t.newInputs += r.newInputs;
        for (const f of r.findings) {
          const rel = f.file === undefined ? undefined : path.relative(root, f.file);
          s.findings.push({
            target: name,
            at,
            kind: f.kind,
            message: f.message.split("\n").slice(0, 6).join("\n"),
            ...(rel === undefined ? {} : { file: rel, repro: `npx netlab fuzz --target ${name} --repro ${rel}` }),
          });
          ui.say(`  ${name}: ${f.kind}${rel === undefined ? "" : ` saved: ${rel}\n  repro: npx netlab fuzz --target ${name} --repro ${rel}`}`);
        }
        save();
        ui.say(
          `[campaign ${hm(s.fuzzedSeconds)}/${hm(s.hours * 3600)}] slice ${s.slices.length}: ${name} ${r.seconds.toFixed(0)} s, ${r.executions} execs, ${r.execsPerSecond}/s, cov ${r.coverageLast}, +${r.newInputs} inputs, ${r.findings.length} finding(s); ${s.findings.length} in all`,
        );
      }
    };
    await Promise.all(Array.from({ length: Math.min(o.jobs, targets.length) }, worker));
  } finally {
    process.off("SIGINT", onSigint);
    process.off("SIGTERM", onSigint);
  }
  ui.clear();
  s.done = !interrupted && s.fuzzedSeconds >= budget;
  save();
  const rel = path.relative(root, stateFile);
  if (o.json) {
    process.stdout.write(JSON.stringify({ ok: s.findings.length === 0, interrupted, stateFile: rel, ...s }, null, 2) + "\n");
  } else {
    process.stdout.write(
      `campaign ${s.done ? "finished" : interrupted ? "interrupted (run the same command to resume)" : "stopped"}: ${hm(s.fuzzedSeconds)} of ${hm(s.hours * 3600)} of fuzzing in ${s.slices.length} slices under ${s.engine}; state: ${rel}\n`,
    );
    const rows = s.targets.map((t) => {
      const p = s.perTarget[t];
      const found = s.findings.filter((f) => f.target === t).length;
      return [
        t,
        String(p?.slices ?? 0),
        String(Math.round(p?.seconds ?? 0)),
        ...execFigures(p?.executions ?? 0, p?.seconds ?? 0),
        String(p?.coverage ?? 0),
        String(p?.newInputs ?? 0),
        String(found),
      ];
    });
    process.stdout.write(table(["target", "slices", "seconds", "execs", "exec/s", "coverage", "new inputs", "findings"], rows));
    if (s.findings.length === 0) process.stdout.write("findings: none\n");
    for (const f of s.findings)
      process.stdout.write(`finding: ${f.target} ${f.kind} at ${f.at}: ${f.message.split("\n")[0]}\n  ${f.repro ?? "(no input saved)"}\n`);
  }
  return interrupted ? exitStatusOf(stoppedBy) : s.findings.length === 0 ? 0 : 1;
}
