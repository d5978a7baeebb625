// The shape every `--json` output shares.
//   The units rule: a field whose name ends in its unit (…Bytes, …Bits, …BitsPerSecond, …Seconds,
//   …Ms, …Us, …Mbps) carries it; every other physical quantity is named in the output's top-level
//   `units` object, keyed by field name (a name means one unit within an output: `bytes` is always
//   "B"). Counts (frames, segments, retransmits, requests) are dimensionless and not listed.
//   runStart(command, argv, clock)   iperf3's `start` fields every sectioned output begins with
//   withUnits(body, units)           body with its `units` object (key order: body, then units)
import { netlabVersion } from "../cli/main.ts";

/** Field name → unit ("B", "bit/s", "s", "ms", "%", ...) for fields whose name does not carry it. */
export type Units = Readonly<Record<string, string>>;

/** What iperf3's `start` section says about the run itself. */
export interface RunStart {
  readonly version: string;
  /** The command as typed after `netlab` ("sim transfer") and its arguments. */
  readonly command: string;
  readonly args: readonly string[];
  readonly timestamp: {
    /** Wall-clock time at the start (ISO 8601, UTC) and as seconds since the Unix epoch. */
    readonly wall: string;
    readonly wallEpochSeconds: number;
    /** Where the run's virtual clock stood when the measurement began (interval times count from it);
     * null for a run in wall time only. */
    readonly virtualOriginSeconds: number | null;
  };
}

/** The run's own `start` fields: netlab's version, the command line and when it began. */
export function runStart(command: string, args: readonly string[], startedAt: Date, virtualOriginSeconds: number | null): RunStart {
  return {
    version: netlabVersion(),
    command,
    args: [...args],
    timestamp: { wall: startedAt.toISOString(), wallEpochSeconds: Math.floor(startedAt.getTime() / 1000), virtualOriginSeconds },
  };
}

/** `body` followed by its `units` object. */
export function withUnits<T extends object>(body: T, units: Units): T & { readonly units: Units } {
  return { ...body, units };
}
