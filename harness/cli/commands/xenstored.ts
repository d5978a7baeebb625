// `netlab xenstored --socket PATH [--domain-socket DOMID=PATH]... [--trace [--json]]`: serves a
// simulated xenstore on a Unix socket (Debian's xenstore-utils connect with XENSTORED_PATH=PATH)
// until SIGINT/SIGTERM, then removes its sockets. Each --domain-socket is a further socket whose
// clients speak as that domain (unprivileged, relative paths under /local/domain/DOMID), so a
// program outside the process can act as a domU.
//   summary, run
//   parseXenstoredArgs   the command line → options (throws UsageError)
//   startXenstored       server + listeners (what run() serves; tests drive it directly)

import { createXenstoreServer } from "../../../xen-sim/xenstore/server.ts";
import type { XenstoreLogRecord, XenstoreQuotas, XenstoreServer } from "../../../xen-sim/xenstore/types.ts";
import { XS_MKDIR, XS_SET_PERMS, emitXsMessage, joinStrings } from "../../../xen-sim/xenstore/wire.ts";
import { listenXenstoreSocket, type XenstoreSocketServer } from "../../xenstore/socket-transport.ts";
import { flagReader, helpText, parseCommandLine, parseInteger, UsageError } from "../args.ts";

export const summary = "serve a simulated xenstore on a Unix socket (for xenstore-utils), optionally one per domain";

const USAGE = `usage: netlab xenstored --socket PATH [--domain-socket DOMID=PATH]... [--trace [--json]]
                         [--max-clients N] [--keep-orphans] [--quota-entries N] [--quota-node-size N]
                         [--quota-watches N] [--quota-transactions N] [--quota-perms N]
  --socket PATH               dom0's socket (privileged), as xenstored's own
  --domain-socket DOMID=PATH  a socket whose clients are domain DOMID (introduced at start;
                              /local/domain/DOMID is created owned by it if missing)
  --trace                     one line per request on stdout (--json: JSON lines; --json-log = both)
  Serves the store until SIGINT/SIGTERM. Try: XENSTORED_PATH=PATH xenstore-write /a b
`;

const QUOTA_FLAGS: Record<string, keyof XenstoreQuotas> = {
  "quota-entries": "maxEntries",
  "quota-node-size": "maxNodeSize",
  "quota-value-size": "maxNodeSize",
  "quota-watches": "maxWatches",
  "quota-transactions": "maxTransactions",
  "quota-perms": "maxPermsPerNode",
};

/** The command line of `netlab xenstored` (args.ts's rules). */
const XENSTORED_SPEC = {
  command: "xenstored",
  usage: USAGE,
  options: {
    socket: { type: "string" },
    "domain-socket": { type: "string", multiple: true },
    trace: { type: "boolean" },
    json: { type: "boolean" },
    "json-log": { type: "boolean" },
    "keep-orphans": { type: "boolean" },
    "max-clients": { type: "string" },
    "quota-entries": { type: "string" },
    "quota-node-size": { type: "string" },
    "quota-value-size": { type: "string" },
    "quota-watches": { type: "string" },
    "quota-transactions": { type: "string" },
    "quota-perms": { type: "string" },
  },
  required: ["socket"],
} as const;

/** What the command line asks for. */
export interface XenstoredOptions {
  readonly socket: string;
  readonly domainSockets: readonly { readonly domid: number; readonly path: string }[];
  readonly trace: "off" | "text" | "json";
  readonly maxClients: number | undefined;
  readonly keepOrphans: boolean;
  readonly quotas: Partial<XenstoreQuotas>;
}

/** Parses the arguments; throws UsageError for a usage error. "help" asks for the usage. */
export function parseXenstoredArgs(args: readonly string[]): XenstoredOptions | "help" {
  const { values: v, help } = parseCommandLine(XENSTORED_SPEC, args);
  if (help) return "help";
  const usage = (message: string): UsageError => new UsageError(XENSTORED_SPEC.command, message);
  const get = flagReader(XENSTORED_SPEC.command, v);
  const domainSockets: { domid: number; path: string }[] = [];
  for (const text of v["domain-socket"] ?? []) {
    const m = /^(\d{1,5})=(.+)$/.exec(text);
    const domid = m ? Number(m[1]) : NaN;
    if (!m || domid === 0 || domid >= 0x7ff0) throw usage("--domain-socket needs DOMID=PATH with 0 < DOMID < 32752");
    if (domainSockets.some((d) => d.domid === domid)) throw usage(`--domain-socket: domain ${domid} given twice`);
    domainSockets.push({ domid, path: m[2]! });
  }
  const trace = v.trace === true || v["json-log"] === true,
    json = v.json === true || v["json-log"] === true;
  const maxClients = get("max-clients", (t) => parseInteger(t, 1));
  const quotas: Partial<Record<keyof XenstoreQuotas, number>> = {};
  for (const [flag, key] of Object.entries(QUOTA_FLAGS)) {
    const n = get(flag, (t) => parseInteger(t, 0));
    if (n !== undefined) quotas[key] = n;
  }
  const socket = v.socket!;
  if (socket === "") throw usage("--socket needs a path");
  if (json && !trace) throw usage("--json goes with --trace");
  const paths = [socket, ...domainSockets.map((d) => d.path)];
  if (new Set(paths).size !== paths.length) throw usage("every socket needs its own path");
  return { socket, domainSockets, trace: trace ? (json ? "json" : "text") : "off", maxClients, keepOrphans: v["keep-orphans"] === true, quotas };
}

/** A running daemon. */
export interface RunningXenstored {
  readonly server: XenstoreServer;
  readonly listeners: readonly XenstoreSocketServer[];
  close(): Promise<void>;
}

/** One trace line for a request. */
export function formatTrace(r: XenstoreLogRecord, json: boolean, now: Date): string {
  if (json) return `${JSON.stringify({ t: now.toISOString(), ...r })}\n`;
  const args = r.args.map((a) => JSON.stringify(a.length > 80 ? `${a.slice(0, 80)}…` : a)).join(" ");
  return `${now.toISOString()} conn ${r.conn} dom${r.domid} ${r.type} req ${r.reqId} tx ${r.txId} ${args} -> ${r.reply}\n`;
}

/**
 * Starts the server and its sockets. Domain sockets introduce their domain and give it a home
 * directory; a client of one is refused while its domain is not introduced (after RELEASE).
 */
export async function startXenstored(
  options: XenstoredOptions,
  io: { trace?: (line: string) => void; note?: (line: string) => void } = {},
): Promise<RunningXenstored> {
  const note = io.note ?? (() => {});
  const trace = io.trace ?? ((line: string) => void process.stdout.write(line));
  let tracing = false; // the daemon's own setup requests are not traced
  const server = createXenstoreServer({
    quotas: options.quotas,
    keepOrphans: options.keepOrphans,
    ...(options.trace !== "off"
      ? {
          log: (r: XenstoreLogRecord) => {
            if (tracing) trace(formatTrace(r, options.trace === "json", new Date()));
          },
        }
      : {}),
  });
  const listeners: XenstoreSocketServer[] = [];
  const close = async () => {
    server.close();
    await Promise.all(listeners.map((l) => l.close()));
  };
  const limit = options.maxClients !== undefined ? { maxConnections: options.maxClients } : {};
  try {
    listeners.push(
      await listenXenstoreSocket(server, options.socket, {
        ...limit,
        onRefused: ({ connections, limit: max, reason }) =>
          note(`refused a client on ${options.socket}: ${reason === "limit" ? `${connections} connected, --max-clients ${max}` : reason}`),
      }),
    );
    for (const { domid, path } of options.domainSockets) {
      const home = `/local/domain/${domid}`;
      if (server.peek(home) === undefined) {
        // As a toolstack does before it introduces the domain: its home, owned by it.
        const dom0 = server.connect(0, { send() {}, close() {} });
        dom0.receive(emitRequest(XS_MKDIR, [home]));
        dom0.receive(emitRequest(XS_SET_PERMS, [home, `n${domid}`]));
        dom0.close();
      }
      server.introduceDomain(domid);
      listeners.push(
        await listenXenstoreSocket(server, path, {
          ...limit,
          domid,
          admit: () => (server.isIntroduced(domid) ? null : `domain ${domid} is not introduced (released?)`),
          onRefused: ({ connections, limit: max, reason }) =>
            note(`refused a client on ${path} (dom${domid}): ${reason === "limit" ? `${connections} connected, --max-clients ${max}` : reason}`),
        }),
      );
    }
  } catch (e) {
    await close();
    throw e;
  }
  tracing = true;
  return { server, listeners, close };
}

function emitRequest(type: number, args: readonly string[]): Uint8Array {
  return emitXsMessage(type, 0, 0, joinStrings(args));
}

/** Runs the daemon; resolves to the exit code after a signal. */
export async function run(args: string[]): Promise<number> {
  const parsed = parseXenstoredArgs(args);
  if (parsed === "help") {
    process.stdout.write(helpText(XENSTORED_SPEC));
    return 0;
  }
  const note = (line: string) => void process.stderr.write(`netlab xenstored: ${line}\n`);
  // a failure to listen throws (XenstoreSocketError): printed as `netlab xenstored: [CODE] message`, exit 1
  const running = await startXenstored(parsed, { note });
  note(`listening on ${parsed.socket} (XENSTORED_PATH=${parsed.socket})`);
  for (const d of parsed.domainSockets) note(`dom${d.domid} on ${d.path} (XENSTORED_PATH=${d.path} acts as domain ${d.domid})`);
  const signal = await new Promise<string>((resolve) => {
    process.once("SIGINT", () => resolve("SIGINT"));
    process.once("SIGTERM", () => resolve("SIGTERM"));
  });
  await running.close();
  const s = running.server.stats();
  const all = [parsed.socket, ...parsed.domainSockets.map((d) => d.path)].join(", ");
  note(`${signal}: stopped after ${s.requests} requests (${s.errors} errors); removed ${all}`);
  return 0;
}
