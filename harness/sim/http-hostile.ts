// `netlab sim http-hostile --attack idle|slowloris|slow-post|slow-body [--same-source] [--seconds S]
//  [--per-source N|inf] [--max-connections N] [--seed S] [--json]`: one of issue 19's attacks on
// netlab's HTTP server (harness/http/hostile.ts, at the size) with a curl-like client
// beside it, over netlab TCP on a simulated switch in virtual time; prints what the client got
// and what the server counted. Exit 0 when at least 95% of the client's fetches succeeded.
//   run(args)   the CLI entry
import { choice, flagReader, helpText, parseCommandLine, parseDuration, parseInteger, parseSeed, type ValueResult } from "../cli/args.ts";
import { ok } from "../../stack/result.ts";
import { HOSTILE_ATTACKS, runHostileHttp, type HostileHttpFigures, type HostileHttpOptions } from "../http/hostile.ts";

export const summary =
  "an attack on the HTTP server (idle connections, slowloris, slow POST) beside a curl-like client, in virtual time (--attack A --same-source --json)";

/** The command line of `netlab sim http-hostile` (args.ts's rules). */
const HOSTILE_SPEC = {
  command: "sim http-hostile",
  usage:
    "usage: netlab sim http-hostile --attack idle|slowloris|slow-post|slow-body [--same-source] [--seconds S] [--per-source N|inf] [--max-connections N] [--seed S] [--json]\n" +
    `${summary}\n  --attack is required; the other flags default to the attack's own figures (harness/http/hostile.ts)\n`,
  options: {
    attack: { type: "string" },
    "same-source": { type: "boolean" },
    seconds: { type: "string" },
    "per-source": { type: "string" },
    "max-connections": { type: "string" },
    seed: { type: "string" },
    json: { type: "boolean" },
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
    `; ${f.virtualSeconds} s virtual in ${f.wallSeconds.toFixed(1)} s`
  );
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
  const f = runHostileHttp(options);
  process.stdout.write(json ? `${JSON.stringify({ ...f, sameSource })}\n` : `${line(f)}\n`);
  return f.successRate >= 0.95 ? 0 : 1;
}
