// The two xenstoreds of the xenstored suite, each in its own process behind a Unix socket, and
// the one client that measures both the same way (so its own cost is the same on both sides).
//   bundleNetlabDaemon()       esbuild bundle of xenstored-daemon.ts (build/bench/netlab-xenstored.mjs)
//   bundleFloorDaemon()        the same for xenstored-floor-daemon.ts (framing only: the runtime's floor)
//   startNetlabDaemon(how, b)  "compiled": plain node on bundle b; "cli": `node bin/netlab.mjs
//                              xenstored --socket` as the repository runs it (TypeScript through tsx)
//   startRealDaemon()          Debian's xenstored 4.17 under the shim (harness/xenstore/real)
//   populate(conn, nodes)      writes `nodes` extra nodes (/pop/dN/nM, 32-byte values)
//   runWorkload(conn, rounds)  one request in flight: read, write, directory (64 children),
//                              get-perms, and a transaction (start, write, commit) per round
//   residentMemory(pid)        VmRSS, VmHWM, RssAnon, RssFile of a process, in KiB
//   cpuMicros(pid)             user + system CPU time a process has used, µs
//   bareNodeMemory()           the same for a node process that loads nothing (the runtime's floor)

import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createConnection, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { startRealXenstored } from "../../harness/xenstore/real/real-xenstored.ts";
import {
  XS_DIRECTORY,
  XS_ERROR,
  XS_GET_PERMS,
  XS_READ,
  XS_TRANSACTION_END,
  XS_TRANSACTION_START,
  XS_WRITE,
  createXsDecoder,
  emitXsMessage,
  fromLatin1,
  latin1,
  type XsMessage,
} from "../../xen-sim/xenstore/wire.ts";

const ROOT = resolve(fileURLToPath(new URL(".", import.meta.url)), "../..");
const BUNDLE = join(ROOT, "build/bench/netlab-xenstored.mjs");
const FLOOR_BUNDLE = join(ROOT, "build/bench/xenstored-floor.mjs");

/** A daemon under measurement. */
export interface Daemon {
  readonly pid: number;
  readonly socketPath: string;
  stop(): Promise<void>;
}

function bundle(entry: string, outfile: string): string {
  mkdirSync(join(ROOT, "build/bench"), { recursive: true });
  const esbuild = join(ROOT, "node_modules/.bin/esbuild");
  const r = spawnSync(
    esbuild,
    [join(ROOT, entry), "--bundle", "--platform=node", "--format=esm", "--target=node20", `--outfile=${outfile}`, "--log-level=warning"],
    { encoding: "utf8" },
  );
  if (r.status !== 0) throw new Error(`esbuild: ${r.error?.message ?? r.stderr}`);
  return outfile;
}

/** Bundles the stand-alone daemon with esbuild (tsx's own dependency); returns the file. */
export function bundleNetlabDaemon(): string {
  return bundle("benchmarks/lib/xenstored-daemon.ts", BUNDLE);
}

/** Bundles the framing-only floor daemon; returns the file (run it with startNetlabDaemon("compiled", file)). */
export function bundleFloorDaemon(): string {
  return bundle("benchmarks/lib/xenstored-floor-daemon.ts", FLOOR_BUNDLE);
}

function waitForLine(child: ChildProcess, what: string, timeoutMs: number): Promise<void> {
  return new Promise((ok, fail) => {
    let out = "";
    const t = setTimeout(() => fail(new Error(`${what}: not ready after ${timeoutMs} ms: ${out}`)), timeoutMs);
    child.stdout?.on("data", (b: Buffer) => {
      out += b.toString();
      if (out.includes("ready") || out.includes("listening")) {
        clearTimeout(t);
        ok();
      }
    });
    child.stderr?.on("data", (b: Buffer) => {
      out += b.toString();
    });
    child.once("exit", (code) => {
      clearTimeout(t);
      fail(new Error(`${what} exited (${code}): ${out}`));
    });
  });
}

async function waitForSocket(path: string, child: ChildProcess, what: string): Promise<void> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`${what} exited with ${child.exitCode}`);
    if (existsSync(path)) {
      const ok = await new Promise<boolean>((done) => {
        const s = createConnection(path);
        s.once("connect", () => {
          s.destroy();
          done(true);
        });
        s.once("error", () => done(false));
      });
      if (ok) return;
    }
    if (Date.now() > deadline) throw new Error(`${what} did not listen on ${path}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Starts netlab's xenstored in its own process on a fresh socket. */
export async function startNetlabDaemon(how: "compiled" | "cli", bundle = BUNDLE, nodeFlags: readonly string[] = []): Promise<Daemon> {
  const dir = mkdtempSync(join(tmpdir(), "netlab-xsd-bench-"));
  const socketPath = join(dir, "socket");
  const args = how === "compiled" ? [bundle, socketPath] : [join(ROOT, "bin/netlab.mjs"), "xenstored", "--socket", socketPath];
  const child = spawn(process.execPath, [...nodeFlags, ...args], { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, NETLAB_COMPILED: "" } });
  const exited = new Promise<void>((r) => child.once("exit", () => r()));
  const what = `netlab xenstored (${how})`;
  if (how === "compiled") await waitForLine(child, what, 30_000);
  else await waitForSocket(socketPath, child, what);
  return {
    pid: child.pid ?? -1,
    socketPath,
    async stop() {
      child.kill("SIGTERM");
      const t = setTimeout(() => child.kill("SIGKILL"), 3000);
      await exited;
      clearTimeout(t);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Starts Debian's real xenstored (no fork, in-memory database) under the shim. */
export async function startRealDaemon(): Promise<Daemon> {
  const d = await startRealXenstored();
  return { pid: d.pid, socketPath: d.socketPath, stop: () => d.stop() };
}

/** One request at a time over a Unix socket. */
export interface XsConn {
  request(type: number, payload: string, txId?: number): Promise<XsMessage>;
  close(): void;
}

export function connect(path: string): Promise<XsConn> {
  return new Promise((ok, fail) => {
    const socket: Socket = createConnection(path);
    const decoder = createXsDecoder();
    let waiting: ((m: XsMessage) => void) | undefined;
    let reqId = 0;
    socket.on("data", (b: Buffer) => {
      const r = decoder.push(new Uint8Array(b.buffer, b.byteOffset, b.byteLength));
      if (!r.ok) {
        socket.destroy(new Error(`bad reply: ${r.error}`));
        return;
      }
      for (const m of r.value) {
        if (m.reqId !== reqId || waiting === undefined) continue; // watch events: none are set
        const w = waiting;
        waiting = undefined;
        w({ ...m, payload: m.payload.slice() });
      }
    });
    socket.once("error", fail);
    socket.once("connect", () =>
      ok({
        request(type, payload, txId = 0) {
          reqId = (reqId + 1) >>> 0;
          return new Promise((done) => {
            waiting = done;
            socket.write(emitXsMessage(type, reqId, txId, fromLatin1(payload)));
          });
        },
        close: () => socket.destroy(),
      }),
    );
  });
}

async function must(c: XsConn, type: number, payload: string, txId = 0): Promise<XsMessage> {
  const m = await c.request(type, payload, txId);
  if (m.type === XS_ERROR) throw new Error(`${type} ${payload.replace(/\0/g, "\\0")}: ${latin1(m.payload)}`);
  return m;
}

/** Writes `nodes` extra nodes of 32 bytes each, 100 per directory. */
export async function populate(c: XsConn, nodes: number): Promise<void> {
  const value = "x".repeat(32);
  for (let i = 0; i < nodes; i++) await must(c, XS_WRITE, `/pop/d${Math.floor(i / 100)}/n${i % 100}\0${value}`);
}

/** The kinds of request in a round, in order. */
export const KINDS = ["read", "write", "directory", "get-perms", "tx-start", "tx-write", "tx-commit"] as const;

/** Latencies in µs per kind. */
export type Latencies = Record<(typeof KINDS)[number], number[]>;

/** `rounds` rounds of every kind, one request in flight; returns each request's latency. */
export async function runWorkload(c: XsConn, rounds: number): Promise<Latencies> {
  for (let i = 0; i < 64; i++) await must(c, XS_WRITE, `/bench/k${i}\0init`);
  const lat: Latencies = { read: [], write: [], directory: [], "get-perms": [], "tx-start": [], "tx-write": [], "tx-commit": [] };
  const timed = async (kind: keyof Latencies, type: number, payload: string, txId = 0): Promise<XsMessage> => {
    const t0 = process.hrtime.bigint();
    const m = await must(c, type, payload, txId);
    lat[kind].push(Number(process.hrtime.bigint() - t0) / 1000);
    return m;
  };
  for (let i = 0; i < rounds; i++) {
    const key = `/bench/k${i & 63}`;
    await timed("read", XS_READ, `${key}\0`);
    await timed("write", XS_WRITE, `${key}\0value-${i}`);
    await timed("directory", XS_DIRECTORY, "/bench\0");
    await timed("get-perms", XS_GET_PERMS, `${key}\0`);
    const start = await timed("tx-start", XS_TRANSACTION_START, "\0");
    const tx = Number(latin1(start.payload).replace(/\0$/, ""));
    await timed("tx-write", XS_WRITE, `/bench/tx${i & 7}\0${i}`, tx);
    await timed("tx-commit", XS_TRANSACTION_END, "T\0", tx);
  }
  return lat;
}

/** Memory of a process from /proc/PID/status, KiB. */
export interface Resident {
  rss: number;
  hwm: number;
  anon: number;
  file: number;
}

export function residentMemory(pid: number): Resident {
  const s = readFileSync(`/proc/${pid}/status`, "utf8");
  const kib = (k: string): number => Number(new RegExp(`^${k}:\\s+(\\d+) kB`, "m").exec(s)?.[1] ?? Number.NaN);
  return { rss: kib("VmRSS"), hwm: kib("VmHWM"), anon: kib("RssAnon"), file: kib("RssFile") };
}

/** User + system CPU time of a process so far (/proc/PID/stat utime + stime), µs. */
export function cpuMicros(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  // Fields after the command name (which may hold spaces) start at its closing parenthesis.
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const ticks = Number(f[11]) + Number(f[12]);
  const hz = Number(spawnSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).stdout.trim()) || 100;
  return (ticks / hz) * 1e6;
}

/** The resident memory of a node process that loads nothing: the runtime's own floor on this machine. */
export function bareNodeMemory(): Resident {
  const r = spawnSync(process.execPath, ["-e", "setTimeout(() => process.stdout.write(require('fs').readFileSync('/proc/self/status', 'utf8')), 300)"], {
    encoding: "utf8",
  });
  const kib = (k: string): number => Number(new RegExp(`^${k}:\\s+(\\d+) kB`, "m").exec(r.stdout)?.[1] ?? Number.NaN);
  return { rss: kib("VmRSS"), hwm: kib("VmHWM"), anon: kib("RssAnon"), file: kib("RssFile") };
}

/** Median of a non-empty list. */
export function medianOf(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** The p-th percentile (0..1), nearest rank. */
export function percentile(xs: readonly number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(p * s.length) - 1))]!;
}
