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

/** A field name that says its unit (the units rule's suffixes). */
const UNIT_SUFFIX = /(Bytes|Bits|BitsPerSecond|PerSecond|Seconds|Ms|Us|Ns|Mbps|Percent|Fraction|Index)$|^(bytes|seconds|ms|us)$/;
/** A field name that looks like a physical quantity (time, size, rate...) rather than a count. */
const QUANTITY =
  /byte|size|rate|delay|time(?!out)|rtt|latency|goodput|throughput|jitter|duration|elapsed|interval|mtu|mss|cwnd|window|sojourn|backlog|granularity|alignment|^t$|^p\d+$|^min$|^max$|^mean$|^loss$/i;
/** Counts among those: plurals ("timeouts", "mtuDrops") and orders are numbers of things, not quantities. */
const COUNT = /[^e]s$|Order$/;

/**
 * Numeric fields of `value` (at any depth) whose names look like a physical quantity but neither
 * end in a unit nor are named in `units`: what the units rule forbids (tests run every command's
 * JSON through it). Returns the names, deduplicated.
 */
export function fieldsWithoutUnit(value: unknown, units: Units): string[] {
  const out = new Set<string>();
  const walk = (v: unknown): void => {
    if (Array.isArray(v)) for (const x of v) walk(x);
    else if (typeof v === "object" && v !== null) {
      for (const [k, x] of Object.entries(v)) {
        if (typeof x === "number" && QUANTITY.test(k) && !COUNT.test(k) && !UNIT_SUFFIX.test(k) && !Object.hasOwn(units, k)) out.add(k);
        else if (k !== "units") walk(x);
      }
    }
  };
  walk(value);
  return [...out];
}
