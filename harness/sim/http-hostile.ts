// `netlab sim http-hostile --attack idle|slowloris|slow-post|slow-body [--same-source] [--seconds S]
//  [--per-source N|inf] [--max-connections N] [--seed S] [--json]`: one of issue 19's attacks on
// netlab's HTTP server (harness/http/hostile.ts, at the size) with a curl-like client
// beside it, over netlab TCP on a simulated switch in virtual time; prints what the client got
// and what the server counted. Exit 0 when at least 95% of the client's fetches succeeded.
//   run(args)   the CLI entry
import { HOSTILE_ATTACKS, runHostileHttp, type HostileHttpFigures, type HostileHttpOptions } from "../http/hostile.ts";

export const summary = "an attack on the HTTP server (idle connections, slowloris, slow POST) beside a curl-like client, in virtual time (--attack A --same-source --json)";

const USAGE = "usage: netlab sim http-hostile --attack idle|slowloris|slow-post|slow-body [--same-source] [--seconds S] [--per-source N|inf] [--max-connections N] [--seed S] [--json]\n";

function usage(message: string): number {
  process.stderr.write(`netlab sim http-hostile: ${message}\n${USAGE}`);
  return 2;
}

function line(f: HostileHttpFigures): string {
  const s = f.server;
  const ms = (v: number | null): string => (v === null ? "-" : `${v} ms`);
  return `${f.attack}: client ${f.succeeded}/${f.fetches} fetches ok (median ${ms(f.medianMs)}, p90 ${ms(f.p90Ms)}); ` +
    `attacker opened ${f.attackOpened}, server peak ${f.peakServerConnections} connections; ` +
    `refused ${s.rejectedConnections} (per source ${s.rejectedPerSource}), reclaimed idle/slow ${s.reclaimedIdle}/${s.reclaimedSlow}, ` +
    `timeouts ${s.timeouts} (under load ${s.timeoutsUnderPressure}), closed after error ${s.closedAfterError} (unread body ${s.closedUnreadBody})` +
    (f.afterErrorMaxMs === null ? "" : `; after its 405 a slow POST stayed open ${ms(f.afterErrorMedianMs)} (median), ${ms(f.afterErrorMaxMs)} (longest)`) +
    `; ${f.virtualSeconds} s virtual in ${f.wallSeconds.toFixed(1)} s`;
}

export async function run(args: string[]): Promise<number> {
  let attack: string | undefined;
  let json = false, sameSource = false;
  let seconds: number | undefined, perSource: number | undefined, maxConnections: number | undefined, seed: number | undefined;
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    const value = (): string | undefined => args[++i];
    const number = (v: string | undefined): number => (v === "inf" ? Infinity : Number(v));
    switch (a) {
      case "--attack": attack = value(); break;
      case "--same-source": sameSource = true; break;
      case "--seconds": seconds = number(value()); break;
      case "--per-source": perSource = number(value()); break;
      case "--max-connections": maxConnections = number(value()); break;
      case "--seed": seed = number(value()); break;
      case "--json": json = true; break;
      case "--help": case "-h": process.stdout.write(USAGE); return 0;
      default: return usage(`unknown option '${a}'`);
    }
  }
  const base = attack === undefined ? undefined : HOSTILE_ATTACKS[attack];
  if (base === undefined) return usage("--attack needs idle, slowloris, slow-post or slow-body");
  for (const [flag, v] of [["--seconds", seconds], ["--per-source", perSource], ["--max-connections", maxConnections], ["--seed", seed]] as const) {
    if (v !== undefined && !(v > 0)) return usage(`${flag} needs a positive number`);
  }
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
