// Unix-socket transport for the xenstore server (what Debian's libxenstore connects to via
// $XENSTORED_PATH), and a client-side socket transport for the client library.
//   listenXenstoreSocket   serve a XenstoreServer on a Unix socket path (each client = a dom0 connection)
//   connectXenstoreSocket  an XsByteTransport to a listening socket
//   XenstoreSocketError    thrown for harness I/O failures, with a stable `code`

import { existsSync, lstatSync, unlinkSync } from "node:fs";
import { createConnection, createServer, type Server, type Socket } from "node:net";
import { dirname } from "node:path";
import type { XenstoreServer, XsByteTransport } from "../../xen-sim/xenstore/types.ts";
import { NetlabError } from "../../stack/error.ts";

/** sizeof(sockaddr_un.sun_path) − 1 on Linux. */
const UNIX_PATH_MAX = 107;

/** Harness I/O failure with a stable code. */
export class XenstoreSocketError extends NetlabError {
  declare readonly code: "ERR_XENSTORED_SOCKET_IN_USE" | "ERR_XENSTORED_PATH_NOT_SOCKET" | "ERR_XENSTORED_LISTEN" | "ERR_XENSTORED_CONNECT";
  constructor(code: XenstoreSocketError["code"], message: string) {
    super(code, message);
    this.name = "XenstoreSocketError";
  }
}

/** Options of listenXenstoreSocket. */
export interface XenstoreSocketOptions {
  /** Domain id the socket clients speak as. Default 0 (privileged, as xenstored's socket). */
  readonly domid?: number;
  /**
   * Most simultaneous clients; a client beyond it is closed at once and onRefused says so.
   * Default: no limit (as C xenstored, which is bounded only by its file descriptors).
   */
  readonly maxConnections?: number;
  /** Says why a new client may not connect now (it is then refused), or null to admit it. */
  readonly admit?: () => string | null;
  /** Called for each refused client: "limit" (maxConnections) or admit()'s reason. */
  readonly onRefused?: (info: { readonly connections: number; readonly limit: number; readonly reason: string }) => void;
  /** Queued output per client above which its reads pause until it drains. Default 1 MiB. */
  readonly highWaterMark?: number;
}

/** A listening socket. */
export interface XenstoreSocketServer {
  readonly path: string;
  /** Clients currently connected. */
  connections(): number;
  /** Clients refused so far (maxConnections or admit()). */
  refused(): number;
  /** Stops listening, disconnects clients and removes the socket file. */
  close(): Promise<void>;
}

function probe(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createConnection(path);
    s.once("connect", () => {
      s.destroy();
      resolve(true);
    });
    s.once("error", () => resolve(false));
  });
}

/**
 * Serves `server` on a Unix socket at `path`. A stale socket file (nobody listening) is replaced;
 * a live one or a non-socket file is an error.
 */
export async function listenXenstoreSocket(server: XenstoreServer, path: string, options: XenstoreSocketOptions = {}): Promise<XenstoreSocketServer> {
  const domid = options.domid ?? 0;
  const highWater = options.highWaterMark ?? 1 << 20;
  if (Buffer.byteLength(path) > UNIX_PATH_MAX) {
    throw new XenstoreSocketError("ERR_XENSTORED_LISTEN", `cannot listen on ${path}: a Unix socket path is limited to ${UNIX_PATH_MAX} bytes`);
  }
  if (!existsSync(dirname(path))) {
    throw new XenstoreSocketError("ERR_XENSTORED_LISTEN", `cannot listen on ${path}: directory ${dirname(path)} does not exist`);
  }
  if (existsSync(path)) {
    if (!lstatSync(path).isSocket()) {
      throw new XenstoreSocketError("ERR_XENSTORED_PATH_NOT_SOCKET", `${path} exists and is not a socket; refusing to replace it`);
    }
    if (await probe(path)) throw new XenstoreSocketError("ERR_XENSTORED_SOCKET_IN_USE", `${path} is in use by a running xenstored`);
    unlinkSync(path);
  }
  const sockets = new Set<Socket>();
  const limit = options.maxConnections ?? Infinity;
  let refused = 0;
  const net: Server = createServer((socket) => {
    const reason = sockets.size >= limit ? "limit" : (options.admit?.() ?? null);
    if (reason !== null) {
      refused++;
      options.onRefused?.({ connections: sockets.size, limit, reason });
      socket.destroy();
      return;
    }
    sockets.add(socket);
    const conn = server.connect(domid, {
      send(bytes) {
        if (socket.destroyed) return;
        socket.write(bytes);
        if (socket.writableLength > highWater) socket.pause();
      },
      queued: () => socket.writableLength,
      close() {
        socket.destroy();
      },
    });
    socket.on("drain", () => socket.resume());
    socket.on("data", (b: Buffer) => conn.receive(new Uint8Array(b.buffer, b.byteOffset, b.byteLength)));
    socket.on("error", () => socket.destroy());
    socket.on("close", () => {
      sockets.delete(socket);
      conn.close();
    });
  });
  await new Promise<void>((resolve, reject) => {
    net.once("error", (e: NodeJS.ErrnoException) => {
      const code = e.code === "EADDRINUSE" ? "ERR_XENSTORED_SOCKET_IN_USE" : "ERR_XENSTORED_LISTEN";
      reject(new XenstoreSocketError(code, `cannot listen on ${path}: ${e.message}`));
    });
    net.listen(path, () => resolve());
  });
  let closing: Promise<void> | null = null;
  return {
    path,
    connections: () => sockets.size,
    refused: () => refused,
    close() {
      closing ??= new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        net.close(() => {
          try {
            if (existsSync(path) && lstatSync(path).isSocket()) unlinkSync(path);
          } catch {
            // already gone
          }
          resolve();
        });
      });
      return closing;
    },
  };
}

/** Connects to a xenstored socket; resolves once connected. */
export function connectXenstoreSocket(path: string): Promise<XsByteTransport> {
  return new Promise((resolve, reject) => {
    const socket = createConnection(path);
    let receive: (bytes: Uint8Array) => void = () => {};
    const closeHandlers: (() => void)[] = [];
    socket.on("data", (b: Buffer) => receive(new Uint8Array(b.buffer, b.byteOffset, b.byteLength)));
    socket.on("close", () => {
      for (const h of closeHandlers) h();
    });
    socket.once("error", (e) => reject(new XenstoreSocketError("ERR_XENSTORED_CONNECT", `cannot connect to ${path}: ${e.message}`)));
    socket.once("connect", () => {
      socket.on("error", () => socket.destroy());
      resolve({
        send: (bytes) => void socket.write(bytes),
        onReceive: (h) => {
          receive = h;
        },
        onClose: (h) => {
          closeHandlers.push(h);
        },
        close: () => socket.end(),
      });
    });
  });
}
