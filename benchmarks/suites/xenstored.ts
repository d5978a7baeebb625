// xenstored suite (issue 22 item 5): netlab's xenstored beside Debian's real C xenstored 4.17 on
// the same machine, each in its own process behind a Unix socket, driven by the same client
// (benchmarks/lib/xenstored-peers.ts) one request at a time: read, write, directory of 64
// children, get-perms and a transaction (start, write, commit), over a store holding 2000 more
// nodes. netlab's daemon is xen-sim's server and the socket transport bundled into one file and
// run under plain node (as the installed package runs compiled code); the CLI through tsx, as
// the repository runs it, is measured for memory too.
//   latency: median wall time per request (details: mean, p99, median per kind);
//   daemon CPU per request: the daemon's utime + stime over the workload / requests (wall
//   latency on a loaded machine is mostly waiting for a core; this is what the code costs);
//   memory: VmRSS after the workload (details: RssAnon = private, RssFile = mapped binaries),
//   and a node process that loads nothing, the runtime's floor;
//   the floor of CPU per request: a node daemon that only frames requests and answers each with
//   a constant (benchmarks/lib/xenstored-floor-daemon.ts), through the same socket path.
// Targets (issue 22): latency within 1.5x of the real daemon's (measured first in the same
// run), resident memory under 40 MiB. The real daemon's cases need root and `npm run setup`.
import type { BenchCase, BenchContext, BenchSuite, BenchTarget } from "../../harness/bench/types.ts";
import { realXenstoredStatus } from "../../harness/xenstore/real/real-xenstored.ts";
import {
  bareNodeMemory,
  bundleFloorDaemon,
  bundleNetlabDaemon,
  connect,
  cpuMicros,
  KINDS,
  medianOf,
  percentile,
  populate,
  residentMemory,
  runWorkload,
  startNetlabDaemon,
  startRealDaemon,
  type Daemon,
} from "../lib/xenstored-peers.ts";

const POPULATION = 2000;
const REAL = "Debian xenstored 4.17";
const NETLAB = "netlab xenstored";
const LATENCY_FACTOR = 1.5;
const MEMORY_TARGET_MIB = 40;

type Which = "real" | "netlab" | "netlab-cli" | "floor";

function realUnavailable(): string | undefined {
  const s = realXenstoredStatus();
  return s.ok ? undefined : s.reason;
}

/** The suite's shared facts: the bundle (built once per run) and the real daemon's medians so far. */
function createSuiteState() {
  let bundle: string | undefined;
  let floorBundle: string | undefined;
  const realMedian: { latency?: number; cpu?: number } = {};
  return {
    realMedian,
    start(which: Which): Promise<Daemon> {
      if (which === "real") return startRealDaemon();
      if (which === "netlab-cli") return startNetlabDaemon("cli");
      if (which === "floor") return startNetlabDaemon("compiled", (floorBundle ??= bundleFloorDaemon()));
      bundle ??= bundleNetlabDaemon();
      return startNetlabDaemon("compiled", bundle);
    },
  };
}
type SuiteState = ReturnType<typeof createSuiteState>;

/** A store of POPULATION nodes and `rounds` rounds of the workload against a fresh daemon. */
async function workload(state: SuiteState, which: Which, quick: boolean) {
  const d = await state.start(which);
  try {
    const c = await connect(d.socketPath);
    await populate(c, quick ? 100 : POPULATION);
    const cpu0 = cpuMicros(d.pid);
    const lat = await runWorkload(c, quick ? 100 : 4000);
    const cpu = cpuMicros(d.pid) - cpu0;
    const memory = residentMemory(d.pid);
    c.close();
    return { lat, cpu, memory };
  } finally {
    await d.stop();
  }
}

function latencyCase(state: SuiteState, which: "real" | "netlab"): BenchCase {
  let details: Record<string, unknown> = {};
  const runs: number[] = [];
  const name = `request latency, ${which === "real" ? REAL : NETLAB}`;
  return {
    suite: "xenstored",
    name,
    unit: "µs",
    higherIsBetter: false,
    ...(which === "real" ? { realPeer: true } : { baseline: `request latency, ${REAL}` }),
    // Within 1.5x of the real daemon's median measured earlier in this run (when it could run).
    get target(): BenchTarget | undefined {
      const r = state.realMedian.latency;
      return which === "netlab" && r !== undefined ? { value: r * LATENCY_FACTOR, kind: "max" } : undefined;
    },
    available: () => (which === "real" ? realUnavailable() : undefined),
    async measure(ctx: BenchContext) {
      const { lat, cpu } = await workload(state, which, ctx.quick);
      const all = KINDS.flatMap((k) => lat[k]);
      const med = medianOf(all);
      details = {
        requests: all.length,
        meanMicros: +(all.reduce((a, b) => a + b, 0) / all.length).toFixed(2),
        p99Micros: +percentile(all, 0.99).toFixed(1),
        daemonCpuMicrosPerRequest: +(cpu / all.length).toFixed(2),
        medianByKind: Object.fromEntries(KINDS.map((k) => [k, +medianOf(lat[k]).toFixed(2)])),
        population: ctx.quick ? 100 : POPULATION,
      };
      runs.push(med);
      if (which === "real") state.realMedian.latency = medianOf(runs);
      return med;
    },
    details: () => details,
  };
}

function cpuCase(state: SuiteState, which: "real" | "netlab" | "floor"): BenchCase {
  let details: Record<string, unknown> = {};
  const runs: number[] = [];
  const label = which === "real" ? REAL : which === "netlab" ? NETLAB : "node framing requests, answering a constant (the runtime's floor)";
  return {
    suite: "xenstored",
    name: `daemon CPU per request, ${label}`,
    unit: "µs",
    higherIsBetter: false,
    ...(which === "real" ? { realPeer: true } : { baseline: `daemon CPU per request, ${REAL}` }),
    get target(): BenchTarget | undefined {
      const r = state.realMedian.cpu;
      return which === "netlab" && r !== undefined ? { value: r * LATENCY_FACTOR, kind: "max" } : undefined;
    },
    // CPU time comes in clock ticks (10 ms): a quick run's few hundred requests may not last one.
    available: (ctx: BenchContext) =>
      which === "real" ? realUnavailable() : ctx.quick ? "not in quick mode (needs more than a few clock ticks of CPU)" : undefined,
    async measure(ctx: BenchContext) {
      const { lat, cpu } = await workload(state, which, ctx.quick);
      const n = KINDS.reduce((a, k) => a + lat[k].length, 0);
      details = { requests: n, daemonCpuMs: +(cpu / 1000).toFixed(1), clockTicksResolutionMs: 10 };
      runs.push(cpu / n);
      if (which === "real") state.realMedian.cpu = medianOf(runs);
      return cpu / n;
    },
    details: () => details,
  };
}

function memoryCase(state: SuiteState, which: Which | "bare-node"): BenchCase {
  let details: Record<string, unknown> = {};
  const label =
    which === "real"
      ? REAL
      : which === "netlab"
        ? `${NETLAB} (compiled, plain node)`
        : which === "netlab-cli"
          ? `${NETLAB} (CLI through tsx)`
          : "node with nothing loaded (the runtime's floor)";
  return {
    suite: "xenstored",
    name: `resident memory, ${label}`,
    unit: "MiB",
    higherIsBetter: false,
    runs: 1,
    warmup: 0,
    ...(which === "real" ? { realPeer: true } : {}),
    ...(which === "netlab" ? { target: { value: MEMORY_TARGET_MIB, kind: "max" as const } } : {}),
    available: (ctx: BenchContext) =>
      which === "real" ? realUnavailable() : (which === "netlab-cli" || which === "bare-node") && ctx.quick ? "not in quick mode" : undefined,
    async measure(ctx: BenchContext) {
      const m = which === "bare-node" ? bareNodeMemory() : (await workload(state, which, ctx.quick)).memory;
      details = { rssKiB: m.rss, peakKiB: m.hwm, privateAnonKiB: m.anon, fileBackedKiB: m.file, population: which === "bare-node" ? 0 : POPULATION };
      return m.rss / 1024;
    },
    details: () => details,
  };
}

export const suite: BenchSuite = {
  name: "xenstored",
  description:
    "netlab's xenstored beside Debian's real xenstored 4.17 (same machine, Unix sockets, one request in flight): request latency, daemon CPU per request, resident memory",
  cases: () => {
    const state = createSuiteState();
    // The real daemon's cases come first: netlab's targets are relative to them.
    return [
      latencyCase(state, "real"),
      latencyCase(state, "netlab"),
      cpuCase(state, "real"),
      cpuCase(state, "netlab"),
      cpuCase(state, "floor"),
      memoryCase(state, "real"),
      memoryCase(state, "netlab"),
      memoryCase(state, "netlab-cli"),
      memoryCase(state, "bare-node"),
    ];
  },
};
