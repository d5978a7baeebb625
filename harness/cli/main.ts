// netlab CLI dispatcher: `netlab <command> [args]`. Each command lives in
// commands/<name>.ts and exports `run(args: string[]): Promise<number>` and `summary`.

/** A CLI command module. */
export interface Command {
  /** One line shown by `netlab help`. */
  readonly summary: string;
  /** Runs the command; resolves to the process exit code. */
  run(args: string[]): Promise<number>;
}

const COMMAND_NAMES = ["demo", "sim", "attach", "replay", "fuzz", "bench", "xenstored", "drill", "lab"] as const;

const COMMANDS: Record<string, () => Promise<Command>> = Object.fromEntries(
  COMMAND_NAMES.map((n) => [n, () => import(`./commands/${n}.ts`) as Promise<Command>]),
);

/** Runs the CLI with argv (without node and script); returns the exit code. */
export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === "help" || name === "--help" || name === "-h") {
    process.stdout.write("usage: netlab <command> [options]\n\ncommands:\n");
    for (const [n, load] of Object.entries(COMMANDS)) {
      const summary = await load().then((c) => c.summary, () => "(not available in this build)");
      process.stdout.write(`  ${n.padEnd(10)} ${summary}\n`);
    }
    return name === undefined ? 2 : 0;
  }
  const load = COMMANDS[name];
  if (!load) {
    process.stderr.write(`netlab: unknown command '${name}' (try 'netlab help')\n`);
    return 2;
  }
  let command: Command;
  try {
    command = await load();
  } catch (e) {
    process.stderr.write(`netlab: command '${name}' is not available: ${(e as Error).message}\n`);
    return 2;
  }
  try {
    return await command.run(rest);
  } catch (e) {
    const error = e as Error & { code?: string };
    process.stderr.write(`netlab ${name}: ${error.code ? `[${error.code}] ` : ""}${error.message}\n`);
    return 1;
  }
}
