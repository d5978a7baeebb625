// Public surface of harness/lab: topology files (schema, validation), the virtual-time runner,
// its report, and the shipped examples.
import { readdirSync, readFileSync } from "node:fs";
import { basename, join } from "node:path";
import { fileURLToPath } from "node:url";
import { type Topology, type TopologyError, validateTopology } from "./topology.ts";

export * from "./topology.ts";
export { describeTopology } from "./describe.ts";
export { describeTopologySvg } from "./describe-svg.ts";
export {
  delayStats,
  type DelayStats,
  type HttpFetch,
  type HttpFlowReport,
  type PingReport,
  type PingSample,
  type UdpCbrReport,
  type UdpCbrSample,
  type ClockGoodput,
  type LabClock,
  goodputOf,
} from "./flows.ts";
export type { XenHostReport, XenReport } from "./xen.ts";
export {
  formatLabSummary,
  jainIndex,
  LAB_UNITS,
  runLab,
  type FlowReport,
  type FlowSample,
  type Iperf3FlowDetails,
  type LabReport,
  type LabRunOptions,
  type LinkReport,
  type QueueReport,
} from "./run.ts";

/** The folder of the shipped examples. */
export const EXAMPLES_DIR = fileURLToPath(new URL("./examples/", import.meta.url));

/** The shipped examples: name and path. */
export function listExamples(): { name: string; path: string }[] {
  return readdirSync(EXAMPLES_DIR)
    .filter((f) => f.endsWith(".json"))
    .sort()
    .map((f) => ({ name: basename(f, ".json"), path: join(EXAMPLES_DIR, f) }));
}

/** Reads and validates a topology file (a path, or the name of a shipped example). */
export function loadTopology(pathOrName: string): { ok: true; topology: Topology; path: string } | { ok: false; errors: TopologyError[]; path: string } {
  const example = listExamples().find((e) => e.name === pathOrName);
  const path = example?.path ?? pathOrName;
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    return { ok: false, errors: [{ path: "/", message: `cannot read ${path}: ${(e as Error).message}` }], path };
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    return { ok: false, errors: [{ path: "/", message: `not JSON: ${(e as Error).message}` }], path };
  }
  const v = validateTopology(value);
  return v.ok ? { ok: true, topology: v.topology, path } : { ok: false, errors: v.errors, path };
}
