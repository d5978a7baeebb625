// Lab suite: the measures of issue 21 on the shipped eight-flow dumbbells (harness/lab/examples:
// eight CUBIC flows of equal RTT through a 20 Mb/s, 20 ms bottleneck, 30 virtual s, fairness over
// the last two thirds). Each run is the whole experiment with another seed (run k: seed k): the
// seed draws the flows' start times in [0, 1 s) (the lossless, jitter-free dumbbell is otherwise
// the same from any seed), so the spread is the spread over start orders. Figures: Jain's index over the flows' steady-state
// goodputs (target >= 0.95), the bottleneck's median queueing delay (FQ-CoDel: target < 10 ms;
// drop-tail with a 1000-packet buffer: "hundreds"). lab-measures.md tabulates every run.
// Frames forwarded per CPU-second by one router and the 100-node topology are in the router suite.
import type { BenchArtifact, BenchCase, BenchSuite } from "../../harness/bench/types.ts";
import { goodputOf, type LabReport, loadTopology, runLab, type Topology } from "../../harness/lab/index.ts";
import { createRng } from "../../stack/time.ts";
import { linuxSkipReason } from "../../harness/lab/linux.ts";

const EXPERIMENTS = {
  "dumbbell8-drop-tail-bdp": "drop-tail, 100 packets (about 1 BDP)",
  "dumbbell8-drop-tail": "drop-tail, 1000 packets",
  "dumbbell8-fq-codel": "FQ-CoDel (RFC 8290 defaults)",
} as const;
type Experiment = keyof typeof EXPERIMENTS;

const BOTTLENECK = "bottleneck r1:core->r2:core";
const RUNS = 3;

/** Runs of each experiment by seed, shared by the cases that read different figures of one run. */
const runs = new Map<string, LabReport>();

async function experiment(name: Experiment, seed: number, quick: boolean, progress: (line: string) => void): Promise<LabReport> {
  const key = `${name}/${seed}/${quick}`;
  const cached = runs.get(key);
  if (cached !== undefined) return cached;
  const loaded = loadTopology(name);
  if (!loaded.ok) throw new Error(`${name}: ${JSON.stringify(loaded.errors)}`);
  const r = await runLab(withStartTimes(loaded.topology, seed), { seed, ...(quick ? { durationMs: 1500 } : {}), onProgress: progress });
  runs.set(key, r);
  return r;
}

/** The topology with each flow's start drawn from the seed in [0, 1000) ms, each flow ending at the run's end. */
function withStartTimes(t: Topology, seed: number): Topology {
  const rng = createRng(seed);
  return {
    ...t,
    flows: (t.flows ?? []).map((f) => {
      const startMs = rng.nextU32() % 1000;
      return { ...f, startMs, durationMs: t.durationMs - startMs };
    }),
  };
}

function bottleneckOf(r: LabReport) {
  const q = r.queues.find((x) => x.name === BOTTLENECK);
  if (q === undefined) throw new Error(`${r.name}: no queue ${BOTTLENECK}`);
  return q.stats;
}

function labCase(name: Experiment, figure: "jain" | "delay"): BenchCase {
  let seed = 0;
  let details: Record<string, unknown> = {};
  return {
    suite: "lab",
    name:
      figure === "jain" ? `${name}: Jain's index, 8 CUBIC flows (${EXPERIMENTS[name]})` : `${name}: median bottleneck queueing delay (${EXPERIMENTS[name]})`,
    unit: figure === "jain" ? "index" : "ms",
    higherIsBetter: figure === "jain",
    runs: RUNS,
    warmup: 0,
    ...(figure === "jain" && name !== "dumbbell8-drop-tail" ? { target: { value: 0.95, kind: "min" as const } } : {}),
    ...(figure === "delay" && name === "dumbbell8-fq-codel" ? { target: { value: 10, kind: "max" as const } } : {}),
    async measure(ctx) {
      seed = ctx.quick ? 1 : (seed % RUNS) + 1;
      const r = await experiment(name, seed, ctx.quick, (line) => ctx.progress(line));
      const q = bottleneckOf(r);
      details = {
        seed,
        virtualSeconds: r.virtualSeconds,
        cpuSeconds: r.cpuSeconds,
        wallSeconds: r.wallSeconds,
        jainIndex: r.jainIndex,
        steadyGoodputMbps: r.flows.map((f) => Number((goodputOf(f.steady) / 1e6).toFixed(3))),
        sojournMs: q.sojournMs,
        dropped: q.dropped,
        marked: q.marked,
      };
      return figure === "jain" ? r.jainIndex! : q.sojournMs.p50;
    },
    details: () => details,
  };
}

/**
 * The mixed dumbbell (root, real time): two Linux kernel senders and two netlab senders through
 * one netlab bottleneck; the figure is the Linux senders' share of the steady goodput in percent
 * (50 = even), each stack's goodput and retransmissions side by side in the details.
 */
function mixedCase(): BenchCase {
  let details: Record<string, unknown> = {};
  return {
    suite: "lab",
    name: "dumbbell-mixed: Linux senders' share of the bottleneck (2 Linux CUBIC + 2 netlab CUBIC, 10 Mb/s, 100-packet drop-tail)",
    unit: "%",
    higherIsBetter: false,
    realPeer: true,
    runs: RUNS,
    warmup: 0,
    available: () => linuxSkipReason(),
    async measure(ctx) {
      const loaded = loadTopology("dumbbell-mixed");
      if (!loaded.ok) throw new Error(`dumbbell-mixed: ${JSON.stringify(loaded.errors)}`);
      const r = await runLab(loaded.topology, { ...(ctx.quick ? { durationMs: 3000 } : {}), onProgress: (line) => ctx.progress(line) });
      const by = (s: "linux" | "netlab") => {
        const f = r.flows.filter((x) => x.sender === s);
        return {
          flows: f.length,
          steadyGoodputMbps: f.map((x) => Number((goodputOf(x.steady) / 1e6).toFixed(3))),
          retransmits: f.map((x) => x.retransmits),
        };
      };
      const total = r.flows.reduce((a, f) => a + goodputOf(f.steady), 0);
      const linux = r.flows.filter((f) => f.sender === "linux").reduce((a, f) => a + goodputOf(f.steady), 0);
      const q = bottleneckOf(r);
      details = {
        realSeconds: r.virtualSeconds,
        jainIndex: r.jainIndex,
        linux: by("linux"),
        netlab: by("netlab"),
        bottleneckDropped: q.dropped,
        sojournMs: q.sojournMs,
      };
      return total > 0 ? (100 * linux) / total : 0;
    },
    details: () => details,
  };
}

/** Every run of the suite as a Markdown table. */
function measuresTable(): string {
  const lines = [
    "# Issue 21 measures: the eight-flow dumbbells",
    "",
    "`node bin/netlab.mjs bench --suite lab` (the shipped examples `dumbbell8-*`: eight CUBIC flows of equal RTT, 100 Mb/s",
    "1 ms access links, a 20 Mb/s 20 ms bottleneck, 30 virtual s, steady state = the last two thirds; each run one seed,",
    "which draws the flows' start times in [0, 1 s)).",
    "",
    "| experiment | seed | steady goodput per flow (Mb/s) | Jain | bottleneck delay p50 / p90 / p99 (ms) | dropped | CPU s |",
    "|---|---|---|---|---|---|---|",
  ];
  for (const [key, r] of [...runs].sort(([a], [b]) => a.localeCompare(b))) {
    const [name, seed] = key.split("/") as [Experiment, string];
    const q = bottleneckOf(r);
    lines.push(
      `| ${EXPERIMENTS[name]} | ${seed} | ${r.flows.map((f) => (goodputOf(f.steady) / 1e6).toFixed(2)).join(", ")} | ${r.jainIndex!.toFixed(4)} | ` +
        `${q.sojournMs.p50.toFixed(1)} / ${q.sojournMs.p90.toFixed(1)} / ${q.sojournMs.p99.toFixed(1)} | ${q.dropped} | ${r.cpuSeconds.toFixed(2)} |`,
    );
  }
  return `${lines.join("\n")}\n`;
}

export const suite: BenchSuite = {
  name: "lab",
  description: "issue 21's dumbbell measures: Jain's index of 8 CUBIC flows, bottleneck queueing delay with drop-tail and FQ-CoDel",
  cases: () => [
    labCase("dumbbell8-drop-tail-bdp", "jain"),
    labCase("dumbbell8-drop-tail", "jain"),
    labCase("dumbbell8-fq-codel", "jain"),
    labCase("dumbbell8-drop-tail-bdp", "delay"),
    labCase("dumbbell8-drop-tail", "delay"),
    labCase("dumbbell8-fq-codel", "delay"),
    mixedCase(),
  ],
  artifacts(ctx): BenchArtifact[] {
    return ctx.quick || runs.size === 0 ? [] : [{ file: "lab-measures.md", content: measuresTable() }];
  },
};
