// netlab CLI dispatcher: `netlab <command> [args]`. Each command lives in
// commands/<name>.ts and exports `run(args: string[]): Promise<number>` and `summary`; each
// parses its argv with the shared argument layer (args.ts). `netlab help CMD [SUB]` is
// `netlab CMD [SUB] --help`; `netlab --version` prints the package version. Errors print as one
// line `netlab CMD: [CODE] message`: usage errors (ERR_USAGE) exit 2, other errors 1.
import { readFileSync } from "node:fs";
import { NetlabError } from "../../stack/error.ts";
import { formatCliError as formatError, UsageError } from "./args.ts";

/** A CLI command module. */
export interface Command {
  /** One line shown by `netlab help`. */
  readonly summary: string;
  /** Runs the command; resolves to the process exit code. */
  run(args: string[]): Promise<number>;
}

/** The commands, in the order `netlab help` lists them. */
export const COMMAND_NAMES = ["demo", "sim", "attach", "replay", "fuzz", "bench", "xenstored", "drill", "lab"] as const;

const COMMANDS: Record<string, () => Promise<Command>> = Object.fromEntries(
  COMMAND_NAMES.map((n) => [n, () => import(`./commands/${n}.ts`) as Promise<Command>]),
);

/** The package's version (package.json beside the sources, or beside dist/). */
export function netlabVersion(): string {
  for (const rel of ["../../package.json", "../../../package.json"]) {
    try {
      const pkg = JSON.parse(readFileSync(new URL(rel, import.meta.url), "utf8")) as { name?: unknown; version?: unknown };
      if (pkg.name === "netlab" && typeof pkg.version === "string") return pkg.version;
    } catch {
      // not this one
    }
  }
  return "unknown";
}

/** Runs the CLI with argv (without node and script); returns the exit code. */
export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === "--version" || name === "-V") {
    process.stdout.write(`netlab ${netlabVersion()}\n`);
    return 0;
  }
  if (name === "help" && rest.length > 0) return main([...rest, "--help"]);
  if (name === undefined || name === "help" || name === "--help" || name === "-h") {
    const out = name === undefined ? process.stderr : process.stdout;
    out.write("usage: netlab <command> [options]   (netlab help <command>, netlab <command> --help, netlab --version)\n\ncommands:\n");
    for (const [n, load] of Object.entries(COMMANDS)) {
      const summary = await load().then(
        (c) => c.summary,
        () => "(not available in this build)",
      );
      out.write(`  ${n.padEnd(10)} ${summary}\n`);
    }
    return name === undefined ? 2 : 0;
  }
  const load = COMMANDS[name];
  if (!load) {
    process.stderr.write(`netlab: [ERR_USAGE] unknown command '${name}' (try 'netlab help')\n`);
    return 2;
  }
  let command: Command;
  try {
    command = await load();
  } catch (e) {
    process.stderr.write(`${formatError(name, new NetlabError("ERR_COMMAND_UNAVAILABLE", `command '${name}' is not available: ${(e as Error).message}`))}\n`);
    return 2;
  }
  try {
    return await command.run(rest);
  } catch (e) {
    process.stderr.write(`${formatError(name, e)}\n`);
    return e instanceof UsageError ? 2 : 1;
  }
}
