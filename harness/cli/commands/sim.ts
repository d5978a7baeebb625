// `netlab sim <name> [options]`: runs a simulation scenario. Each scenario is a module
// harness/sim/<name>.ts exporting `summary` and `run(args): Promise<number>`; add one by
// adding its name to SCENARIOS. Each scenario parses its own flags with the shared argument
// layer (../args.ts); `netlab sim SCENARIO --help` prints its usage.
import { UsageError } from "../args.ts";

export const summary = "run a simulation scenario: sim <scenario> [options] (sim help lists them)";

/** A scenario module. */
interface Scenario {
  readonly summary: string;
  run(args: string[]): Promise<number>;
}

const SCENARIOS: Record<string, () => Promise<Scenario>> = {
  "xen-transfer": () => import("../../sim/xen-transfer.ts") as Promise<Scenario>,
  blk: () => import("../../sim/blk.ts" as string) as Promise<Scenario>,
  transfer: () => import("../../sim/transfer.ts") as Promise<Scenario>,
  dhcp: () => import("../../sim/dhcp.ts") as Promise<Scenario>,
  http: () => import("../../sim/http.ts") as Promise<Scenario>,
  "http-hostile": () => import("../../sim/http-hostile.ts") as Promise<Scenario>,
};

export async function run(args: string[]): Promise<number> {
  const [name, ...rest] = args;
  if (name === undefined || name === "--help" || name === "-h" || name === "help") {
    const out = name === undefined ? process.stderr : process.stdout;
    out.write("usage: netlab sim <scenario> [options]   (netlab sim <scenario> --help)\n\nscenarios:\n");
    for (const [n, load] of Object.entries(SCENARIOS)) {
      const s = await load().then(
        (m) => m.summary,
        () => "(not available in this build)",
      );
      out.write(`  ${n.padEnd(14)} ${s}\n`);
    }
    return name === undefined ? 2 : 0;
  }
  if (name.startsWith("-")) throw new UsageError("sim", `unknown option '${name}' (the scenario comes first)`);
  const load = SCENARIOS[name];
  if (load === undefined) throw new UsageError("sim", `unknown scenario '${name}'`);
  let scenario: Scenario;
  try {
    scenario = await load();
  } catch (e) {
    process.stderr.write(`netlab sim: scenario '${name}' is not available: ${(e as Error).message}\n`);
    return 2;
  }
  return scenario.run(rest);
}
