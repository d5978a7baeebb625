// `netlab lab run FILE|EXAMPLE [--seed S] [--duration MS] [--json] [--out DIR]`: builds a topology
// file's network of netlab hosts and routers and Xen domUs (netfront, dom0's netback and bridge) in
// virtual time, or with linux hosts in real time, runs its flows and reports goodput, queues and
// fairness (harness/lab). `netlab lab list [--json]`: the shipped examples.
// `netlab lab schema`: the topology file's JSON Schema. `netlab lab check FILE`: validation only.
// `netlab lab describe FILE [--svg OUT.svg]`: the configuration graph (nodes, what each is composed
// of, routes, links) as text, and with --svg drawn as an SVG too.
// Exit code: 0 done, 1 an invalid file or a failed run, 2 usage errors.
import { flagReader, helpText, parseCommandLine, parseDuration, parseSeed, UsageError } from "../args.ts";
import { writeFileSync } from "node:fs";
import {
  TOPOLOGY_SCHEMA,
  describeTopology,
  describeTopologySvg,
  formatLabSummary,
  formatTopologyErrors,
  LAB_UNITS,
  listExamples,
  loadTopology,
  runLab,
} from "../../lab/index.ts";
import { withUnits } from "../../report/json.ts";

export const summary =
  "routed topologies (virtual time; real time with linux hosts): lab run FILE [--seed S] [--json] [--out DIR], lab list, lab check, lab describe, lab schema";

const USAGE = `usage: netlab lab run FILE|EXAMPLE [--seed S] [--duration MS] [--json] [--out DIR]
       netlab lab check FILE|EXAMPLE
       netlab lab describe FILE|EXAMPLE [--svg OUT.svg]
       netlab lab list [--json]
       netlab lab schema
  FILE        a topology file (JSON; see netlab lab schema), or the name of a shipped example
  --seed S    overrides the file's seed (same seed: same report and captures)
  --duration  overrides the file's durationMs
  --out DIR   writes a pcapng per link, report.json and summary.txt there
  --json      prints the report as JSON instead of the summary
  --svg OUT   (describe) also draws the configuration graph (nodes, links with rate, delay, queue) to OUT
`;

/** The command lines of `netlab lab VERB` (args.ts's rules); each verb takes the flags it uses. */
const FILE = { min: 1, max: 1, name: "a topology FILE or EXAMPLE" } as const;
const LAB_SPECS = {
  run: {
    command: "lab run",
    usage: USAGE,
    options: { seed: { type: "string" }, duration: { type: "string" }, json: { type: "boolean" }, out: { type: "string" } },
    positionals: FILE,
  },
  check: { command: "lab check", usage: USAGE, options: {}, positionals: FILE },
  describe: { command: "lab describe", usage: USAGE, options: { svg: { type: "string" } }, positionals: FILE },
  list: { command: "lab list", usage: USAGE, options: { json: { type: "boolean" } } },
  schema: { command: "lab schema", usage: USAGE, options: {} },
} as const;

/** Runs the lab command. */
export async function run(args: string[]): Promise<number> {
  const [verb, ...rest] = args;
  if (verb === undefined || verb === "help" || verb === "--help" || verb === "-h") {
    (verb === undefined ? process.stderr : process.stdout).write(helpText(LAB_SPECS.run));
    return verb === undefined ? 2 : 0;
  }
  if (!Object.hasOwn(LAB_SPECS, verb))
    throw new UsageError("lab", verb.startsWith("-") ? `unknown option '${verb}' (the subcommand comes first)` : `unknown subcommand '${verb}'`);
  const spec = LAB_SPECS[verb as keyof typeof LAB_SPECS];
  const { values, positionals, help } = parseCommandLine<Record<string, { type: "string" | "boolean" }>>(spec, rest);
  if (help) {
    process.stdout.write(helpText(spec));
    return 0;
  }
  const json = values["json"] === true;
  if (verb === "schema") {
    process.stdout.write(`${JSON.stringify(TOPOLOGY_SCHEMA, null, 2)}\n`);
    return 0;
  }
  if (verb === "list") {
    const examples = listExamples();
    if (json) process.stdout.write(`${JSON.stringify(examples, null, 2)}\n`);
    else for (const e of examples) process.stdout.write(`${e.name.padEnd(24)} ${e.path}\n`);
    return 0;
  }
  const get = flagReader(spec.command, values);
  const seed = get("seed", parseSeed);
  const duration = get("duration", (t) => parseDuration(t, "ms", 1));
  const outDir = typeof values["out"] === "string" ? values["out"] : undefined;
  const file = positionals[0]!;
  const loaded = loadTopology(file);
  if (!loaded.ok) {
    process.stderr.write(`netlab lab: ${loaded.path} is not a valid topology:\n${formatTopologyErrors(loaded.errors)}\n`);
    return 1;
  }
  if (verb === "describe") {
    process.stdout.write(describeTopology(loaded.topology));
    const svg = values["svg"];
    if (typeof svg === "string") {
      writeFileSync(svg, describeTopologySvg(loaded.topology));
      process.stdout.write(`\nconfiguration graph drawn to ${svg}\n`);
    }
    return 0;
  }
  if (verb === "check") {
    process.stdout.write(
      `${loaded.path}: valid (${loaded.topology.nodes.length} nodes, ${loaded.topology.links.length} links, ${loaded.topology.flows?.length ?? 0} flows)\n`,
    );
    return 0;
  }
  // Ctrl-C or SIGTERM ends a real-time run (linux nodes) after its namespaces and taps are removed.
  const abort = new AbortController();
  const onSignal = (): void => abort.abort();
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  const report = await runLab(loaded.topology, {
    ...(seed === undefined ? {} : { seed }),
    ...(duration === undefined ? {} : { durationMs: duration }),
    ...(outDir === undefined ? {} : { outDir }),
    onProgress: (line) => process.stderr.write(`${line}\n`),
    signal: abort.signal,
  }).finally(() => {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  });
  process.stdout.write(json ? `${JSON.stringify(withUnits(report, LAB_UNITS), null, 2)}\n` : formatLabSummary(report));
  return 0;
}
