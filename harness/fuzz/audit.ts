// Planted-bug audit: does fuzzing find bugs? Each patch in harness/fuzz/bugs/ plants one
// realistic bug. For each, the audit copies the tree to a scratch folder, applies the patch,
// removes from the target's corpus every input that already triggers the bug (so the search has
// to find it), fuzzes the target from what is left until the first finding or the time limit,
// and checks that the finding is the planted bug's: its input must pass on the tree without the
// patch. A finding that fails there too is a real bug on main, reported as such.
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { bundleTarget, defaultFuzzPaths, replayCorpus, runFuzzer, type FuzzPaths } from "./runner.ts";
import { replayInputs } from "./replay.ts";
import { NetlabError } from "../../stack/error.ts";

/** One planted bug: a patch whose header names it and the target that should find it. */
export interface PlantedBug {
  readonly id: string;
  readonly file: string;
  readonly target: string;
  readonly description: string;
}

/** The audit of one bug. */
export interface BugAudit {
  readonly id: string;
  readonly target: string;
  readonly description: string;
  /** "found": a finding attributable to the bug; "missed": none within the time; "unrelated":
   * the first finding also fails without the bug (a real bug on main); "error": the audit itself failed. */
  readonly verdict: "found" | "missed" | "unrelated" | "error";
  /** Seconds from the engine's start to the finding (found/unrelated). */
  readonly seconds?: number;
  /** Wall seconds of the whole fuzzing run (start-up included). */
  readonly runSeconds: number;
  readonly executions: number;
  readonly execsPerSecond: number;
  readonly engine?: string;
  /** Corpus inputs that already triggered the bug and were removed before fuzzing. */
  readonly triggersRemoved: number;
  readonly corpusSize: number;
  /** First line of the finding's message, or of the error. */
  readonly message?: string;
  /** An unrelated finding's input, saved under build/fuzz/audit/ (repro: netlab fuzz --target T --repro FILE). */
  readonly input?: string;
}

/** The bug patches (sorted by file name), read from `dir`. */
export function listPlantedBugs(dir: string): PlantedBug[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => f.endsWith(".patch"))
    .sort()
    .map((f) => {
      const text = readFileSync(path.join(dir, f), "utf8");
      const description = /^Planted bug: (.+)$/m.exec(text)?.[1]?.trim();
      const target = /^target: (\S+)$/m.exec(text)?.[1];
      if (description === undefined || target === undefined) {
        throw new NetlabError("ERR_BAD_BUG_PATCH", `${f}: a bug patch starts with "Planted bug: ..." and "target: NAME" lines`);
      }
      return { id: f.slice(0, -".patch".length), file: path.join(dir, f), target, description };
    });
}

const COPIED = ["stack", "xen-sim", "harness", "package.json", "tsconfig.json"];

/** A scratch copy of the tree (sources and one target's corpus; node_modules and the Jazzer.js shim linked). */
function scratchCopy(root: string, target: string): FuzzPaths {
  const dir = mkdtempSync(path.join(os.tmpdir(), "netlab-audit-"));
  for (const entry of COPIED) {
    if (existsSync(path.join(root, entry)))
      cpSync(path.join(root, entry), path.join(dir, entry), { recursive: true, filter: (src) => !src.includes(`${path.sep}node_modules`) });
  }
  cpSync(path.join(root, "corpora", target), path.join(dir, "corpora", target), { recursive: true });
  symlinkSync(path.join(root, "node_modules"), path.join(dir, "node_modules"));
  if (existsSync(path.join(root, "build/jazzer"))) {
    mkdirSync(path.join(dir, "build"), { recursive: true });
    symlinkSync(path.join(root, "build/jazzer"), path.join(dir, "build/jazzer"));
  }
  return defaultFuzzPaths(dir);
}

/** Removes the target's corpus inputs (top level, regressions/, open/) that fail on `bundle`; returns how many. */
async function removeTriggers(paths: FuzzPaths, target: string, bundle: string): Promise<{ removed: number; kept: number }> {
  const dir = path.join(paths.corporaDir, target);
  const files: string[] = [];
  const walk = (d: string): void => {
    for (const f of readdirSync(d)) {
      const p = path.join(d, f);
      if (statSync(p).isDirectory()) walk(p);
      else files.push(p);
    }
  };
  if (existsSync(dir)) walk(dir);
  const { outcomes } = await replayCorpus(paths, target, { bundle, files, degenerate: false, timeoutMs: 10_000 });
  let removed = 0;
  outcomes.forEach((o, k) => {
    if (!o.ok) {
      rmSync(files[k]!, { force: true });
      removed++;
    }
  });
  return { removed, kept: files.length - removed };
}

/** Audits one bug: see the module comment. `cleanBundle` is the target bundled from the tree without the patch. */
export async function auditBug(
  root: string,
  bug: PlantedBug,
  cleanBundle: string,
  options: { seconds: number; onLine?: (line: string) => void; signal?: AbortSignal },
): Promise<BugAudit> {
  const base = { id: bug.id, target: bug.target, description: bug.description };
  const paths = scratchCopy(root, bug.target);
  try {
    const applied = spawnSync("git", ["apply", "--whitespace=nowarn", bug.file], { cwd: paths.root, encoding: "utf8" });
    if (applied.status !== 0) {
      return {
        ...base,
        verdict: "error",
        runSeconds: 0,
        executions: 0,
        execsPerSecond: 0,
        triggersRemoved: 0,
        corpusSize: 0,
        message: `patch does not apply: ${(applied.stderr || applied.stdout).trim().split("\n")[0]}`,
      };
    }
    const bundle = await bundleTarget(paths, bug.target);
    const { removed, kept } = await removeTriggers(paths, bug.target, bundle);
    const run = await runFuzzer(paths, bug.target, bundle, {
      seconds: options.seconds,
      saveNewInputs: false,
      stopOnFirstFinding: true,
      ...(options.onLine ? { onLine: options.onLine } : {}),
      ...(options.signal ? { signal: options.signal } : {}),
    });
    const common = {
      ...base,
      runSeconds: run.seconds,
      executions: run.executions,
      execsPerSecond: run.execsPerSecond,
      engine: run.engine,
      triggersRemoved: removed,
      corpusSize: kept,
    };
    const finding = run.findings[0];
    if (finding === undefined) return { ...common, verdict: "missed" };
    const lines = finding.message
      .split("\n")
      .map((l) => l.trim())
      .filter((l) => l !== "" && !l.startsWith("INFO:"));
    const alarm = lines.map((l) => /working on the last Unit for (\d+) seconds/.exec(l)).find((m) => m !== null);
    const message = alarm
      ? `timeout: an input ran past ${alarm[1]} s (a livelock)`
      : (lines.find((l) => /Error|Exception|oracle|timeout|out-of-memory|leak/i.test(l)) ?? lines[0])
          ?.replace(/^==\d+== (Uncaught Exception: )?/, "")
          .slice(0, 200);
    let unrelated = false;
    if (finding.input !== undefined) {
      // The same input on the tree without the patch: passing means the planted bug is what failed.
      const [clean] = await replayInputs(cleanBundle, run.mode, [{ label: "finding", data: Buffer.from(finding.input) }], {
        timeoutMs: 10_000,
        workDir: path.dirname(cleanBundle),
      });
      unrelated = clean === undefined || !clean.ok;
    }
    let saved: string | undefined;
    if (unrelated && finding.input !== undefined) {
      // A real finding on the tree without the patch: kept for the user to look at.
      const dir = path.join(root, "build/fuzz/audit");
      mkdirSync(dir, { recursive: true });
      saved = path.join(dir, `${bug.id}-unrelated-${createHash("sha256").update(finding.input).digest("hex").slice(0, 12)}`);
      writeFileSync(saved, finding.input);
    }
    return {
      ...common,
      verdict: unrelated ? "unrelated" : "found",
      seconds: finding.seconds,
      ...(message !== undefined ? { message } : {}),
      ...(saved !== undefined ? { input: path.relative(root, saved) } : {}),
    };
  } catch (e) {
    return {
      ...base,
      verdict: "error",
      runSeconds: 0,
      executions: 0,
      execsPerSecond: 0,
      triggersRemoved: 0,
      corpusSize: 0,
      message: (e as Error).message.split("\n")[0] ?? "",
    };
  } finally {
    rmSync(paths.root, { recursive: true, force: true });
  }
}

/** Audits `bugs` one after another (bundling each target once from the clean tree). */
export async function auditBugs(
  root: string,
  bugs: readonly PlantedBug[],
  options: {
    seconds: number;
    onStart?: (bug: PlantedBug, index: number) => void;
    onDone?: (a: BugAudit, index: number) => void;
    onLine?: (bug: PlantedBug, line: string) => void;
    signal?: AbortSignal;
  },
): Promise<BugAudit[]> {
  const paths = defaultFuzzPaths(root);
  const scratch = mkdtempSync(path.join(os.tmpdir(), "netlab-audit-clean-"));
  const clean = new Map<string, string>();
  const out: BugAudit[] = [];
  try {
    for (const [k, bug] of bugs.entries()) {
      if (options.signal?.aborted) break;
      options.onStart?.(bug, k);
      let bundle = clean.get(bug.target);
      if (bundle === undefined) {
        bundle = await bundleTarget(paths, bug.target, path.join(scratch, `${bug.target}.cjs`));
        clean.set(bug.target, bundle);
      }
      const a = await auditBug(root, bug, bundle, {
        seconds: options.seconds,
        ...(options.onLine ? { onLine: (line: string) => options.onLine!(bug, line) } : {}),
        ...(options.signal ? { signal: options.signal } : {}),
      });
      out.push(a);
      options.onDone?.(a, k);
    }
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
  return out;
}

/** The audit as a Markdown table with a summary line. */
export function auditTable(audits: readonly BugAudit[], seconds: number): string {
  const found = audits.filter((a) => a.verdict === "found").length;
  const rows = audits.map(
    (a) =>
      `| ${a.id} | ${a.target} | ${a.verdict} | ${a.seconds !== undefined ? a.seconds.toFixed(1) : "-"} | ${a.executions} | ${a.execsPerSecond} | ${a.triggersRemoved} of ${a.triggersRemoved + a.corpusSize} | ${(a.message ?? "").replace(/\|/g, "\\|").slice(0, 110)} |`,
  );
  return [
    `Found ${found} of ${audits.length} planted bugs (${audits.length === 0 ? 0 : Math.round((100 * found) / audits.length)}%) within ${seconds} s each.`,
    "",
    "| bug | target | verdict | seconds to find | execs | exec/s | corpus inputs removed (triggered it) | finding |",
    "|---|---|---|---|---|---|---|---|",
    ...rows,
  ].join("\n");
}
