// `netlab sim http-hostile --attack idle|slowloris|slow-post|slow-body [--same-source] [--seconds S]
//  [--per-source N|inf] [--max-connections N] [--seed S] [--json] [--quiet] [--report FILE.html]`: one of issue 19's attacks on
// netlab's HTTP server (harness/http/hostile.ts, at the issue's size) with a curl-like client
// beside it, over netlab TCP on a simulated switch in virtual time; prints what the client got
// and what the server counted. Exit 0 when at least 95% of the client's fetches succeeded.
// Progress on stderr every wall second; SIGINT / SIGTERM end the run with the partial figures
// (exit 130 / 143).
//   hostileReportPage(f, timeline, command)   the --report page: figures, then charts over virtual time
//   run(args)                                 the CLI entry
import { choice, flagReader, helpText, parseCommandLine, parseDuration, parseInteger, parseSeed, type ValueResult } from "../cli/args.ts";
import { ok } from "../../stack/result.ts";
import { HOSTILE_ATTACKS, runHostileHttpAsync, type HostileHttpFigures, type HostileHttpOptions, type HostileHttpTimeline } from "../http/hostile.ts";
import { exitStatusOf, interruptible } from "../cli/run-control.ts";
import { checkReportPath, writeHtmlReport, type HtmlReport } from "../report/html.ts";
import { summaryReportPage } from "../report/summary-page.ts";
import { lineChart } from "../lab/svg.ts";
import { withUnits } from "../report/json.ts";

export const summary =
  "an attack on the HTTP server (idle connections, slowloris, slow POST) beside a curl-like client, in virtual time (--attack A --same-source --json)";

/** The command line of `netlab sim http-hostile` (args.ts's rules). */
const HOSTILE_SPEC = {
  command: "sim http-hostile",
  usage:
    "usage: netlab sim http-hostile --attack idle|slowloris|slow-post|slow-body [--same-source] [--seconds S] [--per-source N|inf] [--max-connections N] [--seed S] [--json] [--quiet]\n" +
    "                              [--report FILE.html]\n" +
    `${summary}\n  --attack is required; the other flags default to the attack's own figures (harness/http/hostile.ts)\n` +
    "  progress on stderr every second (--quiet: none); Ctrl-C or SIGTERM ends the run with the partial figures (exit 130 / 143)\n" +
    "  --report FILE.html  also write one self-contained page: the figures, the client's fetches and the connections over time\n",
  options: {
    attack: { type: "string" },
    "same-source": { type: "boolean" },
    seconds: { type: "string" },
    "per-source": { type: "string" },
    "max-connections": { type: "string" },
    seed: { type: "string" },
    json: { type: "boolean" },
    quiet: { type: "boolean" },
    report: { type: "string" },
  },
  required: ["attack"],
} as const;

/** A positive count, or "inf" for no limit. */
function countOrInf(text: string): ValueResult<number> {
  return text === "inf" ? ok(Infinity) : parseInteger(text, 1);
}

function line(f: HostileHttpFigures): string {
  const s = f.server;
  const ms = (v: number | null): string => (v === null ? "-" : `${v} ms`);
  return (
    `${f.attack}: client ${f.succeeded}/${f.fetches} fetches ok (median ${ms(f.medianMs)}, p90 ${ms(f.p90Ms)}); ` +
    `attacker opened ${f.attackOpened}, server peak ${f.peakServerConnections} connections; ` +
    `refused ${s.rejectedConnections} (per source ${s.rejectedPerSource}), reclaimed idle/slow ${s.reclaimedIdle}/${s.reclaimedSlow}, ` +
    `timeouts ${s.timeouts} (under load ${s.timeoutsUnderPressure}), closed after error ${s.closedAfterError} (unread body ${s.closedUnreadBody})` +
    (f.afterErrorMaxMs === null ? "" : `; after its 405 a slow POST stayed open ${ms(f.afterErrorMedianMs)} (median), ${ms(f.afterErrorMaxMs)} (longest)`) +
    `; ${f.virtualSeconds} s virtual in ${f.wallSeconds.toFixed(1)} s` +
    (f.interrupted === undefined ? "" : `; interrupted (${f.interrupted}), ${f.fetchesPending} fetch(es) still waiting left out`)
  );
}

/** The --report page: the figures as tables, then the client's fetches and the connections over virtual time. */
export function hostileReportPage(f: HostileHttpFigures, timeline: HostileHttpTimeline, command: string, when: string): HtmlReport {
  const verdict =
    `${f.attack}: the legitimate client got ${f.succeeded} of ${f.fetches - f.fetchesPending} fetches (${(100 * f.successRate).toFixed(1)}%; 95% passes)` +
    (f.interrupted === undefined ? "." : `; interrupted (${f.interrupted}) at ${f.virtualSeconds} s virtual, the figures are partial.`);
  const page = summaryReportPage("netlab sim http-hostile", command, when, verdict, { ...f });
  const s = (ms: number): number => ms / 1000;
  let started = 0,
    ok = 0;
  const byStart = [...timeline.fetches].sort((a, b) => a.startMs - b.startMs);
  const startedPoints: [number, number][] = [[0, 0]];
  for (const x of byStart) startedPoints.push([s(x.startMs), ++started]);
  const completed = byStart
    .filter((x) => typeof x.latencyMs === "number")
    .map((x) => x.startMs + (x.latencyMs as number))
    .sort((a, b) => a - b);
  const okPoints: [number, number][] = [[0, 0], ...completed.map((at): [number, number] => [s(at), ++ok])];
  const failed = byStart.filter((x) => x.latencyMs === null);
  const charts = [
    lineChart({
      title: "Connections over time",
      xLabel: "virtual time (s)",
      yLabel: "connections",
      series: [
        { name: "server holds", points: timeline.samples.map((p) => [s(p.atMs), p.serverConnections]) },
        { name: "attacker open", points: timeline.samples.map((p) => [s(p.atMs), p.attackOpen]) },
      ],
    }),
    lineChart({
      title: "Legitimate fetches: started and answered",
      xLabel: "virtual time (s)",
      yLabel: "fetches",
      series: [
        { name: "started", points: startedPoints },
        { name: "answered 200", points: okPoints },
      ],
    }),
    lineChart({
      title: "Legitimate fetch latency (by start time)",
      xLabel: "virtual time (s)",
      yLabel: "ms",
      series: [{ name: "answered", points: byStart.filter((x) => typeof x.latencyMs === "number").map((x) => [s(x.startMs), x.latencyMs as number]) }],
    }),
  ];
  return {
    ...page,
    sections: [
      ...page.sections,
      {
        heading: "Over time",
        text:
          `Connections sampled every 100 virtual ms; ${timeline.fetches.length} fetches, ${failed.length} failed or timed out` +
          `${failed.length === 0 ? "" : ` (first at ${s(failed[0]!.startMs)} s)`}.`,
        charts,
      },
    ],
  };
}

export async function run(args: string[]): Promise<number> {
  const { values: v, help } = parseCommandLine(HOSTILE_SPEC, args);
  if (help) {
    process.stdout.write(helpText(HOSTILE_SPEC));
    return 0;
  }
  const get = flagReader(HOSTILE_SPEC.command, v);
  const attack = get("attack", choice(...(Object.keys(HOSTILE_ATTACKS) as string[])))!;
  const base = HOSTILE_ATTACKS[attack]!;
  const secondsMs = get("seconds", (t) => parseDuration(t, "s", 1));
  const seconds = secondsMs === undefined ? undefined : secondsMs / 1000;
  const perSource = get("per-source", countOrInf);
  const maxConnections = get("max-connections", countOrInf);
  const seed = get("seed", parseSeed);
  const json = v.json === true,
    sameSource = v["same-source"] === true;
  const options: HostileHttpOptions = {
    ...base,
    sameSource,
    ...(seconds !== undefined
      ? { durationMs: seconds * 1000, fetchStartMs: Math.min(base.fetchStartMs ?? 1_000, seconds * 500), fetchTimeoutMs: Math.min(5_000, seconds * 250) }
      : {}),
    ...(seed !== undefined ? { seed } : {}),
    server: {
      ...(perSource !== undefined ? { maxConnectionsPerSource: perSource } : {}),
      ...(maxConnections !== undefined ? { maxConnections } : {}),
    },
  };
  if (v.report !== undefined) checkReportPath(v.report);
  const quiet = v.quiet === true;
  const { value, interrupted } = await interruptible((signal) =>
    runHostileHttpAsync(options, { signal, ...(quiet ? {} : { onProgress: (l: string) => process.stderr.write(`${l}\n`) }) }),
  );
  const f = value.figures;
  process.stdout.write(json ? `${JSON.stringify(withUnits({ ...f, sameSource }, { successRate: "fraction" }))}\n` : `${line(f)}\n`);
  if (v.report !== undefined) {
    writeHtmlReport(v.report, hostileReportPage(f, value.timeline, `netlab sim http-hostile ${args.join(" ")}`.trim(), new Date().toISOString()));
    if (!quiet) process.stderr.write(`report: ${v.report}\n`);
  }
  if (interrupted !== undefined) return exitStatusOf(interrupted);
  return f.successRate >= 0.95 ? 0 : 1;
}
