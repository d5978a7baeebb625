// `netlab replay FILE [--mode decode|conversation|golden] [--as IP|MAC] [--update] [--json]`
// `netlab replay --all [--dir pcaps] [--json]`: pcap replay regression tests (harness/replay).
// `netlab replay --record [--only NAME,...]`: records pcaps/ from real peers (root; see
// harness/replay/record.ts). Exit code: 0 when every replay held, 1 on any regression or bad
// file, 2 on usage errors.
//   summary, run   the CLI entry
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { parseIpv4Address, parseMac } from "../../../stack/wire/index.ts";
import { err, ok } from "../../../stack/result.ts";
import { choice, flagReader, helpText, parseCommandLine, UsageError, type ValueResult } from "../args.ts";
import { formatReport, replayAll, replayFile, type FileReport, type ReplayMode } from "../../replay/index.ts";
import { replayReportPage } from "../../replay/report-page.ts";
import { checkReportPath, writeHtmlReport } from "../../report/html.ts";
import { everyWallSecond, exitStatusOf, interruptible, type StopSignal } from "../run-control.ts";

/** The repository's pcaps/ (found from this module, so --all works from any directory), else ./pcaps. */
function defaultPcapsDir(): string {
  for (const up of ["../../../pcaps", "../../../../pcaps"]) {
    const dir = fileURLToPath(new URL(up, import.meta.url));
    if (existsSync(dir)) return dir;
  }
  return "pcaps";
}

export const summary = "replay captures in pcaps/ against netlab (decode, conversation, golden); --record makes them";

const USAGE = `usage: netlab replay FILE [--mode decode|conversation|golden] [--as IP|MAC] [--update] [--json] [--report FILE.html]
       netlab replay --all [--dir DIR] [--json] [--report FILE.html]
       netlab replay --record [--only NAME,...] [--dir DIR]     (root: records real-peer captures)
  FILE        a capture: .pcap, .pcapng, optionally .gz; its expectation is FILE's stem + .expect.json
  --mode M    run only mode M (default: the modes the expectation lists; decode without one)
  --as X      netlab plays the endpoint with IP or MAC X (without an expectation: a bare stack
              at X/24 that answers ARP, ICMP echo and RSTs TCP, all normalisations on; decode
              only for a capture of several interfaces, such as netlab demo's)
  --update    golden mode: rewrite the committed capture with this run
  --all       replay every capture with an expectation in --dir (default: the repository's pcaps/);
              progress on stderr every second, Ctrl-C or SIGTERM stops before the next capture with
              the summary of those replayed (exit 130 / 143)
  --json      one JSON report per capture (an array with --all)
  --out DIR   where netlab's side of each replay is written (default out/replay)
  --report FILE.html  also write one self-contained page: a row per capture and mode, the first
              differences of a failing mode, warnings, links to the captures and netlab's side
`;

/** The command line of `netlab replay` (args.ts's rules). */
const REPLAY_SPEC = {
  command: "replay",
  usage: USAGE,
  options: {
    mode: { type: "string" },
    as: { type: "string" },
    update: { type: "boolean" },
    json: { type: "boolean" },
    all: { type: "boolean" },
    dir: { type: "string" },
    out: { type: "string" },
    record: { type: "boolean" },
    only: { type: "string" },
    report: { type: "string" },
  },
  positionals: { min: 0, max: 1, name: "FILE" },
} as const;

/** An IPv4 address or a MAC, as text (replayFile parses it again). */
function ipOrMac(text: string): ValueResult<string> {
  return parseIpv4Address(text).ok || parseMac(text).ok
    ? ok(text)
    : err("bad-value", `needs an IPv4 address (192.0.2.1) or a MAC (02:00:00:00:00:01), not '${text}'`);
}

/** Runs the replay command. */
export async function run(args: string[]): Promise<number> {
  const { values: v, positionals, help } = parseCommandLine(REPLAY_SPEC, args);
  if (help) {
    process.stdout.write(helpText(REPLAY_SPEC));
    return 0;
  }
  const get = flagReader(REPLAY_SPEC.command, v);
  const file = positionals[0];
  const mode: ReplayMode | undefined = get("mode", choice("decode", "conversation", "golden"));
  const as = get("as", ipOrMac);
  const dir = v.dir ?? defaultPcapsDir(),
    outDir = v.out ?? "out/replay";
  const all = v.all === true,
    update = v.update === true,
    json = v.json === true,
    record = v.record === true;
  const only = v.only?.split(",");
  const usage = (message: string): UsageError => new UsageError(REPLAY_SPEC.command, message);
  if (record) {
    const { recordAll } = await import("../../replay/record.ts");
    return recordAll({ dir, ...(only !== undefined ? { only } : {}) });
  }
  if (all === (file !== undefined)) throw usage("give one FILE or --all");
  if (update && mode !== undefined && mode !== "golden") throw usage("--update only applies to golden mode");
  if (v.report !== undefined) checkReportPath(v.report);
  const started = performance.now();
  let reports: FileReport[];
  let interrupted: StopSignal | undefined;
  if (all) {
    // Progress on stderr each wall second; SIGINT / SIGTERM stop before the next capture and end
    // with the summary of those replayed (exit 130 / 143), as every long run does (run-control.ts).
    let done = 0,
      total = 0,
      frames = 0;
    const run = await interruptible(async (signal) => {
      const stop = everyWallSecond(() =>
        process.stderr.write(`replay: ${done}/${total} captures, ${frames} frames, ${((performance.now() - started) / 1000).toFixed(1)} s\n`),
      );
      try {
        return await replayAll(dir, {
          outDir,
          update,
          ...(mode !== undefined ? { mode } : {}),
          signal,
          onCapture: (d, t, r) => {
            done = d;
            total = t;
            frames += r.modes.reduce((m, x) => m + x.frames, 0);
          },
        });
      } finally {
        stop();
      }
    });
    reports = run.value;
    interrupted = run.interrupted;
    if (reports.length === 0 && interrupted === undefined) {
      process.stderr.write(`netlab replay: no captures with an expectation in ${dir}\n`);
      return 1;
    }
  } else {
    reports = [await replayFile(file!, { outDir, update, ...(mode !== undefined ? { mode } : {}), ...(as !== undefined ? { as } : {}) })];
  }
  const ok = reports.every((r) => r.ok);
  if (v.report !== undefined) {
    writeHtmlReport(v.report, replayReportPage(reports, `netlab replay ${args.join(" ")}`.trim(), new Date().toISOString()));
    process.stderr.write(`report: ${v.report}\n`);
  }
  if (json) {
    process.stdout.write(`${JSON.stringify(all ? reports : reports[0], null, 2)}\n`);
  } else {
    for (const r of reports) process.stdout.write(`${formatReport(r)}\n`);
    const frames = reports.reduce((n, r) => n + r.modes.reduce((m, x) => m + x.frames, 0), 0);
    process.stdout.write(
      `${ok ? "ok" : "FAIL"}: ${reports.filter((r) => r.ok).length}/${reports.length} captures, ${frames} frames replayed in ${(performance.now() - started).toFixed(0)} ms` +
        `${interrupted === undefined ? "" : ` (interrupted by ${interrupted})`}\n`,
    );
  }
  if (interrupted !== undefined) {
    if (json) process.stderr.write(`netlab replay: interrupted by ${interrupted} after ${reports.length} captures\n`);
    return exitStatusOf(interrupted);
  }
  return ok ? 0 : 1;
}
