// Debian's real C xenstored (xen-utils-4.17, unpacked by harness/xenstore/real/prepare.sh) run
// on this hypervisor-less machine under the LD_PRELOAD shim xsd-shim.c: a differential oracle.
//   realXenstoredStatus   where the unpacked daemon and the shim are, or why they cannot be used
//   startRealXenstored    runs it in a fresh temp dir (socket, ring files, event FIFO)
//   RealXenstored         its dom0 socket, domU ring clients, domain death, stop
//   RawXsConn             a byte-level connection that collects decoded replies and events

import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { closeSync, existsSync, mkdtempSync, openSync, readSync, rmSync, writeFileSync, writeSync, constants } from "node:fs";
import { createConnection, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { createXsDecoder, type XsMessage } from "../../../xen-sim/xenstore/wire.ts";

const ROOT = resolve(fileURLToPath(new URL(".", import.meta.url)), "../../..");
const OUT = join(ROOT, "build/xenstored-real");
const BIN = join(OUT, "root/usr/lib/xen-4.17/bin/xenstored");
const LIBDIR = join(OUT, "root/usr/lib/x86_64-linux-gnu");
const SHIM = join(OUT, "xsd-shim.so");

/** The xenstored version the oracle is (Debian 12's xen-utils-4.17). */
export const REAL_XENSTORED_VERSION = "Debian xen-utils-4.17 (4.17.x, C xenstored)";

/** Whether the real daemon can run here, and if not why (for a test's skip message). */
export function realXenstoredStatus(): { ok: true } | { ok: false; reason: string } {
  if (process.platform !== "linux" || process.arch !== "x64") return { ok: false, reason: "needs Linux x86_64" };
  if (typeof process.getuid === "function" && process.getuid() !== 0) return { ok: false, reason: "needs root (npm run setup fetches the package as root)" };
  if (!existsSync(BIN)) return { ok: false, reason: `${BIN} missing: run npm run setup (apt-get download xen-utils-4.17 + dpkg -x)` };
  if (!existsSync(SHIM)) return { ok: false, reason: `${SHIM} missing: run npm run setup (needs gcc)` };
  const probe = spawnSync(BIN, ["--help"], { env: { ...process.env, LD_LIBRARY_PATH: LIBDIR, LD_PRELOAD: SHIM }, timeout: 5000 });
  // --help prints its usage (to stderr) and exits: the binary, its libraries and the shim load.
  const usage = `${String(probe.stdout)}${String(probe.stderr)}`;
  if (probe.error || !usage.includes("--keep-orphans")) return { ok: false, reason: `${BIN} does not start: ${probe.error?.message ?? usage.slice(0, 300)}` };
  return { ok: true };
}

/** A connection speaking raw xenstore messages; everything received is decoded into inbox. */
export interface RawXsConn {
  readonly name: string;
  readonly inbox: XsMessage[];
  closed: boolean;
  send(bytes: Uint8Array): void;
  /** Resolves when pred holds on the inbox (or the connection closed), false after timeoutMs. */
  waitFor(pred: (inbox: readonly XsMessage[]) => boolean, timeoutMs: number): Promise<boolean>;
  close(): void;
}

function copyMessage(m: XsMessage): XsMessage {
  return { type: m.type, reqId: m.reqId, txId: m.txId, payload: m.payload.slice() };
}

/** A RawXsConn over a connected Unix socket. */
export function socketConn(name: string, socket: Socket): RawXsConn {
  const decoder = createXsDecoder();
  const waiters = new Set<() => void>();
  const conn: RawXsConn = {
    name,
    inbox: [],
    closed: false,
    send: (bytes) => {
      if (!socket.destroyed) socket.write(bytes);
    },
    waitFor(pred, timeoutMs) {
      return new Promise((done) => {
        if (pred(conn.inbox) || conn.closed) return done(pred(conn.inbox));
        const check = () => {
          if (pred(conn.inbox) || conn.closed) finish(pred(conn.inbox));
        };
        const timer = setTimeout(() => finish(false), timeoutMs);
        const finish = (v: boolean) => {
          clearTimeout(timer);
          waiters.delete(check);
          done(v);
        };
        waiters.add(check);
      });
    },
    close: () => socket.destroy(),
  };
  const wake = () => {
    for (const w of [...waiters]) w();
  };
  socket.on("data", (b: Buffer) => {
    const r = decoder.push(new Uint8Array(b.buffer, b.byteOffset, b.byteLength));
    if (r.ok) for (const m of r.value) conn.inbox.push(copyMessage(m));
    wake();
  });
  socket.on("error", () => socket.destroy());
  socket.on("close", () => {
    conn.closed = true;
    wake();
  });
  return conn;
}

/** Connects a RawXsConn to a Unix socket path (retrying while the listen backlog is full). */
export async function connectRawSocket(name: string, path: string): Promise<RawXsConn> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await new Promise<RawXsConn>((ok, fail) => {
        const s = createConnection(path);
        s.once("error", fail);
        s.once("connect", () => {
          s.off("error", fail);
          ok(socketConn(name, s));
        });
      });
    } catch (e) {
      // xenstored listens with a tiny backlog: on a busy machine it may take a while to accept.
      if ((e as NodeJS.ErrnoException).code !== "EAGAIN" || attempt >= 1000) throw e;
      await new Promise((r) => setTimeout(r, 10));
    }
  }
}

// xenstore_domain_interface (xen-abi.md §6).
const RING = 1024;
const REQ = 0,
  RSP = 1024,
  REQ_CONS = 2048,
  REQ_PROD = 2052,
  RSP_CONS = 2056,
  RSP_PROD = 2060;

/**
 * A domU's side of a xenstore ring page that lives in a file the daemon maps MAP_SHARED (the
 * page cache keeps pread/pwrite and the mapping coherent). Requests are copied in as the
 * daemon frees space; each push is followed by a kick on the event FIFO.
 */
function ringConn(name: string, ringPath: string, kick: () => void): RawXsConn {
  const fd = openSync(ringPath, "r+");
  const decoder = createXsDecoder();
  let pending: Uint8Array[] = [];
  const u32 = Buffer.alloc(4);
  const get = (off: number) => {
    readSync(fd, u32, 0, 4, off);
    return u32.readUInt32LE(0);
  };
  const put = (off: number, v: number) => {
    const b = Buffer.alloc(4);
    b.writeUInt32LE(v >>> 0, 0);
    writeSync(fd, b, 0, 4, off);
  };
  function pump(): void {
    // Push queued request bytes into free space.
    let pushed = false;
    while (pending.length > 0) {
      const cons = get(REQ_CONS),
        prod = get(REQ_PROD);
      const free = RING - ((prod - cons) >>> 0);
      if (free <= 0) break;
      const head = pending[0]!;
      const at = prod & (RING - 1);
      const n = Math.min(free, head.length, RING - at);
      writeSync(fd, head, 0, n, REQ + at);
      put(REQ_PROD, prod + n);
      pushed = true;
      if (n === head.length) pending.shift();
      else pending[0] = head.subarray(n);
    }
    if (pushed) kick();
    // Take response bytes.
    const rc = get(RSP_CONS),
      rp = get(RSP_PROD);
    let avail = (rp - rc) >>> 0;
    if (avail > 0 && avail <= RING) {
      const out = Buffer.alloc(avail);
      let got = 0,
        c = rc;
      while (avail > 0) {
        const at = c & (RING - 1);
        const n = Math.min(avail, RING - at);
        readSync(fd, out, got, n, RSP + at);
        got += n;
        c = (c + n) >>> 0;
        avail -= n;
      }
      put(RSP_CONS, c);
      kick();
      const r = decoder.push(new Uint8Array(out.buffer, out.byteOffset, got));
      if (r.ok) for (const m of r.value) conn.inbox.push(copyMessage(m));
    }
  }
  const conn: RawXsConn = {
    name,
    inbox: [],
    closed: false,
    send(bytes) {
      pending.push(bytes.slice());
      pump();
    },
    async waitFor(pred, timeoutMs) {
      const end = Date.now() + timeoutMs;
      for (;;) {
        pump();
        if (pred(conn.inbox)) return true;
        if (Date.now() > end) return false;
        await new Promise((r) => setTimeout(r, pending.length > 0 ? 0 : 1));
      }
    },
    close() {
      if (!conn.closed) {
        conn.closed = true;
        pending = [];
        closeSync(fd);
      }
    },
  };
  return conn;
}

/** Options of startRealXenstored (the daemon's own command-line limits). */
export interface RealXenstoredOptions {
  /** Extra xenstored arguments, e.g. ["--entry-nb", "20"]. */
  readonly args?: readonly string[];
}

/** A running real xenstored. */
export interface RealXenstored {
  readonly dir: string;
  /** The daemon's process id (for its /proc/PID/status). */
  readonly pid: number;
  readonly socketPath: string;
  /** A new dom0 connection on its Unix socket. */
  connectDom0(name: string): Promise<RawXsConn>;
  /** The domU side of domid's ring page (after dom0 has sent INTRODUCE for it). */
  connectDomain(name: string, domid: number): RawXsConn;
  /** Makes xc_domain_getinfo report domid gone and raises VIRQ_DOM_EXC, as a domain death does. */
  domainDies(domid: number): void;
  /** What the daemon wrote to stderr so far. */
  stderr(): string;
  stop(): Promise<void>;
}

const VIRQ_PORT = 1;
const WAKE_PORT = 15;

/** Starts the real daemon (no fork, in-memory db) in a fresh temp dir; resolves once its socket answers. */
export async function startRealXenstored(options: RealXenstoredOptions = {}): Promise<RealXenstored> {
  const dir = mkdtempSync(join(tmpdir(), "netlab-real-xsd-"));
  writeFileSync(join(dir, "xsd_port"), "1\n");
  const socketPath = join(dir, "socket");
  const env = { ...process.env, LD_LIBRARY_PATH: LIBDIR, LD_PRELOAD: SHIM, XSD_SHIM_DIR: dir, XENSTORED_RUNDIR: dir, XENSTORED_PATH: socketPath };
  const child: ChildProcess = spawn(BIN, ["-N", ...(options.args ?? [])], { env, cwd: dir, stdio: ["ignore", "ignore", "pipe"] });
  let err = "";
  child.stderr?.on("data", (b: Buffer) => {
    err += b.toString();
  });
  const exited = new Promise<void>((r) => child.once("exit", () => r()));
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`real xenstored exited at start: ${err}`);
    if (existsSync(socketPath)) {
      try {
        const c = await connectRawSocket("probe", socketPath);
        c.close();
        break;
      } catch {
        /* not listening yet */
      }
    }
    if (Date.now() > deadline) {
      child.kill("SIGKILL");
      throw new Error(`real xenstored did not listen: ${err}`);
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  // The shim opens the event-channel FIFO for reading on its own thread, which may come after the
  // socket listens: a non-blocking open for writing fails with ENXIO until a reader has it open.
  let fifo: number;
  for (;;) {
    try {
      fifo = openSync(join(dir, "evtchn"), constants.O_WRONLY | constants.O_NONBLOCK);
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "ENXIO" || child.exitCode !== null || Date.now() > deadline) {
        child.kill("SIGKILL");
        throw e;
      }
      await new Promise((r) => setTimeout(r, 20));
    }
  }
  const kickPort = (port: number) => {
    const b = Buffer.alloc(4);
    b.writeUInt32LE(port, 0);
    try {
      writeSync(fifo, b);
    } catch {
      /* FIFO full: the daemon is awake anyway */
    }
  };
  const conns: RawXsConn[] = [];
  return {
    dir,
    pid: child.pid ?? -1,
    socketPath,
    async connectDom0(name) {
      const c = await connectRawSocket(name, socketPath);
      conns.push(c);
      return c;
    },
    connectDomain(name, domid) {
      const c = ringConn(name, join(dir, `ring-${domid}`), () => kickPort(WAKE_PORT));
      conns.push(c);
      return c;
    },
    domainDies(domid) {
      writeFileSync(join(dir, `dead-${domid}`), "");
      kickPort(VIRQ_PORT);
    },
    stderr: () => err,
    async stop() {
      for (const c of conns) c.close();
      closeSync(fifo);
      child.kill("SIGTERM");
      const t = setTimeout(() => child.kill("SIGKILL"), 2000);
      await exited;
      clearTimeout(t);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
