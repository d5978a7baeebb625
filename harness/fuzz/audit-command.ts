// netlab fuzz audit (npm run fuzz:audit): the planted-bug campaign of audit.ts, with a line per
// bug as it goes, a table at the end (also on Ctrl-C, for the bugs done), --json, and --record
// to write benchmarks/results/fuzz-audit.md.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { flagValue, helpText, parseCommandLine, parseDuration, UsageError } from "../cli/args.ts";
import { auditBugs, auditTable, listPlantedBugs, type BugAudit } from "./audit.ts";

const DEFAULT_SECONDS = 300;

export const USAGE = `usage: netlab fuzz audit [--bug ID[,ID...]] [--time SECONDS] [--record] [--json] [--list]
  Plants each bug of harness/fuzz/bugs/*.patch in a scratch copy of the tree, removes the corpus
  inputs that already trigger it, fuzzes its target until the first finding or SECONDS (default
  ${DEFAULT_SECONDS}), and checks the finding's input passes without the bug. --record adds the table
  at the top of benchmarks/results/fuzz-audit.md (earlier recordings kept). Exits 0 when at least 80% of the bugs are found.`;

/** The command line of `netlab fuzz audit` (harness/cli/args.ts's rules). */
const AUDIT_SPEC = {
  command: "fuzz audit",
  usage: USAGE,
  options: { bug: { type: "string" }, time: { type: "string" }, record: { type: "boolean" }, json: { type: "boolean" }, list: { type: "boolean" } },
} as const;

/** Runs the audit; resolves to the exit code (usage errors throw UsageError). */
export async function runAudit(root: string, args: string[]): Promise<number> {
  const { values, help } = parseCommandLine(AUDIT_SPEC, args);
  if (help) {
    process.stdout.write(helpText(AUDIT_SPEC));
    return 0;
  }
  const secondsMs = flagValue(AUDIT_SPEC.command, "time", values.time, (t) => parseDuration(t, "s", 1));
  const seconds = secondsMs === undefined ? DEFAULT_SECONDS : secondsMs / 1000;
  const all = listPlantedBugs(path.join(root, "harness/fuzz/bugs"));
  if (values.list) {
    for (const b of all) process.stdout.write(`${b.id.padEnd(36)} ${b.target.padEnd(18)} ${b.description}\n`);
    return 0;
  }
  const wanted = values.bug?.split(",").filter((x) => x !== "");
  const bugs = wanted === undefined ? all : all.filter((b) => wanted.some((w) => b.id === w || b.id.startsWith(`${w}-`)));
  if (wanted !== undefined && bugs.length !== wanted.length)
    throw new UsageError(AUDIT_SPEC.command, `unknown bug(s) in ${wanted.join(",")}; known: ${all.map((b) => b.id).join(", ")}`);
  const json = values.json === true;
  const say = (s: string): void => {
    if (!json) process.stderr.write(s + "\n");
  };
  const controller = new AbortController();
  const onSigint = (): void => {
    say("\ninterrupted: finishing the current bug's summary");
    controller.abort();
  };
  process.once("SIGINT", onSigint);
  process.once("SIGTERM", onSigint);
  const started = performance.now();
  let lastStat = 0;
  let audits: BugAudit[] = [];
  try {
    audits = await auditBugs(root, bugs, {
      seconds,
      signal: controller.signal,
      onStart: (b, k) => say(`[${k + 1}/${bugs.length}] ${b.id} (${b.target}): ${b.description}`),
      onLine: (b, line) => {
        if (json || !/^#\d+\s+(pulse|NEW)/.test(line) || performance.now() - lastStat < 15_000) return;
        lastStat = performance.now();
        say(`    ${b.id}: ${line.split(/\s+/).slice(0, 8).join(" ")}`);
      },
      onDone: (a) =>
        say(
          `    ${a.verdict.toUpperCase()}${a.seconds !== undefined ? ` after ${a.seconds.toFixed(1)} s` : ""} (${a.executions} execs, ${a.triggersRemoved} triggering corpus inputs removed)${a.message ? `: ${a.message.slice(0, 160)}` : ""}`,
        ),
    });
  } finally {
    process.removeListener("SIGINT", onSigint);
    process.removeListener("SIGTERM", onSigint);
  }
  const found = audits.filter((a) => a.verdict === "found").length;
  const table = auditTable(audits, seconds);
  const minutes = ((performance.now() - started) / 60_000).toFixed(1);
  if (values.record) {
    const dir = path.join(root, "benchmarks/results");
    mkdirSync(dir, { recursive: true });
    const when = new Date().toISOString().replace(/\.\d+Z$/, "Z");
    const file = path.join(dir, "fuzz-audit.md");
    const section = [
      `## Recorded ${when}`,
      "",
      `\`npm run fuzz:audit -- --time ${seconds} --record\` (${minutes} min). Each bug is planted`,
      "in a scratch copy, the corpus inputs that already trigger it are removed, and its target is fuzzed",
      "until the first finding; a finding counts only when its input passes without the bug.",
      "",
      table,
    ].join("\n");
    writeFileSync(file, withRecording(existsSync(file) ? readFileSync(file, "utf8") : undefined, section));
    say(`recorded benchmarks/results/fuzz-audit.md`);
  }
  if (json)
    process.stdout.write(
      JSON.stringify({ ok: found >= 0.8 * audits.length, seconds, found, total: audits.length, interrupted: controller.signal.aborted, audits }, null, 2) +
        "\n",
    );
  else process.stdout.write(table + "\n");
  for (const a of audits.filter((x) => x.verdict === "unrelated")) {
    say(`note: ${a.id}'s first finding fails without the bug too (a real finding on this tree): ${a.message ?? ""}`);
    if (a.input !== undefined) say(`  repro: npx netlab fuzz --target ${a.target} --repro ${a.input}`);
  }
  return audits.length > 0 && found >= 0.8 * audits.length && !controller.signal.aborted ? 0 : 1;
}

const AUDIT_TITLE = "# Planted-bug audit";

/**
 * The audit record with `section` (a "## Recorded ..." section) as its first section: the earlier
 * recordings and notes in `existing` are kept below it, not overwritten.
 */
export function withRecording(existing: string | undefined, section: string): string {
  const rest = existing === undefined ? "" : existing.startsWith(AUDIT_TITLE) ? existing.slice(AUDIT_TITLE.length).trim() : existing.trim();
  return `${AUDIT_TITLE}\n\n${section.trim()}\n${rest === "" ? "" : `\n${rest}\n`}`;
}
