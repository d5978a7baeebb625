// `netlab lab run FILE|EXAMPLE [--seed S] [--duration MS] [--json] [--out DIR]`: builds a topology
// file's network of netlab hosts and routers in virtual time, runs its flows and reports goodput,
// queues and fairness (harness/lab). `netlab lab list [--json]`: the shipped examples.
// `netlab lab schema`: the topology file's JSON Schema. `netlab lab check FILE`: validation only.
// `netlab lab describe FILE`: the configuration graph (nodes, what each is composed of, routes, links).
// Exit code: 0 done, 1 an invalid file or a failed run, 2 usage errors.
import { TOPOLOGY_SCHEMA, describeTopology, formatLabSummary, formatTopologyErrors, listExamples, loadTopology, runLab } from "../../lab/index.ts";

export const summary = "routed topologies in virtual time: lab run FILE [--seed S] [--json] [--out DIR], lab list, lab check, lab describe, lab schema";

const USAGE = `usage: netlab lab run FILE|EXAMPLE [--seed S] [--duration MS] [--json] [--out DIR]
       netlab lab check FILE|EXAMPLE
       netlab lab describe FILE|EXAMPLE
       netlab lab list [--json]
       netlab lab schema
  FILE        a topology file (JSON; see netlab lab schema), or the name of a shipped example
  --seed S    overrides the file's seed (same seed: same report and captures)
  --duration  overrides the file's durationMs
  --out DIR   writes a pcapng per link, report.json and summary.txt there
  --json      prints the report as JSON instead of the summary
`;

function usage(message?: string): number {
  process.stderr.write(`${message === undefined ? "" : `netlab lab: ${message}\n`}${USAGE}`);
  return 2;
}

/** Runs the lab command. */
export async function run(args: string[]): Promise<number> {
  const [verb, ...rest] = args;
  if (verb === undefined || verb === "help" || verb === "--help" || verb === "-h") {
    process.stdout.write(USAGE);
    return verb === undefined ? 2 : 0;
  }
  if (verb === "schema") {
    process.stdout.write(`${JSON.stringify(TOPOLOGY_SCHEMA, null, 2)}\n`);
    return 0;
  }
  if (verb === "list") {
    const examples = listExamples();
    if (rest.includes("--json")) process.stdout.write(`${JSON.stringify(examples, null, 2)}\n`);
    else for (const e of examples) process.stdout.write(`${e.name.padEnd(24)} ${e.path}\n`);
    return 0;
  }
  if (verb !== "run" && verb !== "check" && verb !== "describe") return usage(`unknown subcommand '${verb}'`);
  let file: string | undefined, seed: number | undefined, duration: number | undefined, outDir: string | undefined, json = false;
  for (let i = 0; i < rest.length; i++) {
    const a = rest[i]!;
    const value = (): string | undefined => rest[++i];
    switch (a) {
      case "--seed": {
        const v = Number(value());
        if (!Number.isInteger(v) || v < 0) return usage("--seed needs a non-negative integer");
        seed = v;
        break;
      }
      case "--duration": {
        const v = Number(value());
        if (!(v > 0)) return usage("--duration needs a positive number of ms");
        duration = v;
        break;
      }
      case "--out": {
        outDir = value();
        if (outDir === undefined) return usage("--out needs a directory");
        break;
      }
      case "--json":
        json = true;
        break;
      default:
        if (a.startsWith("--") || file !== undefined) return usage(`unexpected argument '${a}'`);
        file = a;
    }
  }
  if (file === undefined) return usage("a topology file is needed");
  const loaded = loadTopology(file);
  if (!loaded.ok) {
    process.stderr.write(`netlab lab: ${loaded.path} is not a valid topology:\n${formatTopologyErrors(loaded.errors)}\n`);
    return 1;
  }
  if (verb === "describe") {
    process.stdout.write(describeTopology(loaded.topology));
    return 0;
  }
  if (verb === "check") {
    process.stdout.write(`${loaded.path}: valid (${loaded.topology.nodes.length} nodes, ${loaded.topology.links.length} links, ${loaded.topology.flows?.length ?? 0} flows)\n`);
    return 0;
  }
  const report = await runLab(loaded.topology, {
    ...(seed === undefined ? {} : { seed }),
    ...(duration === undefined ? {} : { durationMs: duration }),
    ...(outDir === undefined ? {} : { outDir }),
    onProgress: (line) => process.stderr.write(`${line}\n`),
  });
  process.stdout.write(json ? `${JSON.stringify(report, null, 2)}\n` : formatLabSummary(report));
  return 0;
}
