// `netlab xenstored --socket PATH [--json-log] [--quota-NAME N]`: serves a simulated xenstore on a
// Unix socket (Debian's xenstore-utils connect with XENSTORED_PATH=PATH) until SIGINT/SIGTERM,
// then removes the socket.
//   summary, run

import { createXenstoreServer } from "../../../xen-sim/xenstore/server.ts";
import type { XenstoreQuotas } from "../../../xen-sim/xenstore/types.ts";
import { listenXenstoreSocket } from "../../xenstore/socket-transport.ts";

export const summary = "serve a simulated xenstore on a Unix socket (for xenstore-utils)";

const USAGE = `usage: netlab xenstored --socket PATH [--json-log] [--max-clients N] [--keep-orphans]
                         [--quota-entries N] [--quota-node-size N] [--quota-watches N]
                         [--quota-transactions N] [--quota-perms N]
  Serves the store until SIGINT/SIGTERM. Try: XENSTORED_PATH=PATH xenstore-write /a b
`;

const QUOTA_FLAGS: Record<string, keyof XenstoreQuotas> = {
  "--quota-entries": "maxEntries",
  "--quota-node-size": "maxNodeSize",
  "--quota-value-size": "maxNodeSize",
  "--quota-watches": "maxWatches",
  "--quota-transactions": "maxTransactions",
  "--quota-perms": "maxPermsPerNode",
};

/** Runs the daemon; resolves to the exit code after a signal. */
export async function run(args: string[]): Promise<number> {
  let socketPath: string | undefined;
  let jsonLog = false;
  let keepOrphans = false;
  let maxClients: number | undefined;
  const quotas: Partial<Record<keyof XenstoreQuotas, number>> = {};
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === "--help" || a === "-h") {
      process.stdout.write(USAGE);
      return 0;
    } else if (a === "--socket") {
      socketPath = args[++i];
    } else if (a === "--json-log") {
      jsonLog = true;
    } else if (a === "--keep-orphans") {
      keepOrphans = true;
    } else if (a === "--max-clients") {
      const n = Number(args[++i]);
      if (!Number.isInteger(n) || n < 1) {
        process.stderr.write(`netlab xenstored: --max-clients needs a positive integer\n`);
        return 2;
      }
      maxClients = n;
    } else if (a in QUOTA_FLAGS) {
      const n = Number(args[++i]);
      if (!Number.isInteger(n) || n < 0) {
        process.stderr.write(`netlab xenstored: ${a} needs a non-negative integer\n`);
        return 2;
      }
      quotas[QUOTA_FLAGS[a]!] = n;
    } else {
      process.stderr.write(`netlab xenstored: unknown option '${a}'\n${USAGE}`);
      return 2;
    }
  }
  if (socketPath === undefined || socketPath === "") {
    process.stderr.write(`netlab xenstored: --socket PATH is required\n${USAGE}`);
    return 2;
  }
  const server = createXenstoreServer({
    quotas,
    keepOrphans,
    ...(jsonLog ? { log: (r) => process.stdout.write(`${JSON.stringify({ t: new Date().toISOString(), ...r })}\n`) } : {}),
  });
  let listener;
  try {
    listener = await listenXenstoreSocket(server, socketPath, {
      ...(maxClients !== undefined ? { maxConnections: maxClients } : {}),
      onRefused: ({ connections, limit }) => {
        process.stderr.write(`netlab xenstored: refused a client: ${connections} connected, --max-clients ${limit}\n`);
      },
    });
  } catch (e) {
    const error = e as Error & { code?: string };
    process.stderr.write(`netlab xenstored: ${error.message}${error.code ? ` [${error.code}]` : ""}\n`);
    return 1;
  }
  process.stderr.write(`netlab xenstored: listening on ${socketPath} (XENSTORED_PATH=${socketPath})\n`);
  const signal = await new Promise<string>((resolve) => {
    process.once("SIGINT", () => resolve("SIGINT"));
    process.once("SIGTERM", () => resolve("SIGTERM"));
  });
  server.close();
  await listener.close();
  const s = server.stats();
  process.stderr.write(`netlab xenstored: ${signal}: stopped after ${s.requests} requests (${s.errors} errors); removed ${socketPath}\n`);
  return 0;
}
