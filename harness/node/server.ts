// A listener of a netlab stack as a net.Server-like EventEmitter: listen(port, cb),
// close(cb), address(), getConnections(cb), maxConnections, and the events 'listening',
// 'connection' (a NetlabSocket), 'close' and 'error'. Give its sockets to an http.Server
// with `server.emit("connection", socket)` (or pass that as the connection listener).
//
// NetlabServer        the server
// createNodeServer()  like net.createServer([options], [connectionListener])
import { EventEmitter } from "node:events";
import type { TcpListener, TcpListenError } from "../../stack/transport/types.ts";
import { createNodeSocket, errnoError, type NetlabSocket, type NodeAddressInfo, type NodeSocketOptions, type NodeStack } from "./socket.ts";

/** Options of createNodeServer(). */
export interface NodeServerOptions extends NodeSocketOptions {
  /** Disable Nagle on accepted sockets. */
  readonly noDelay?: boolean;
  /** Enable keepalive on accepted sockets. */
  readonly keepAlive?: boolean;
  readonly keepAliveInitialDelay?: number;
  readonly congestionControl?: "cubic" | "newreno" | "bbr";
}

const LISTEN_ERROR_CODES: Record<TcpListenError, string> = {
  "in-use": "EADDRINUSE",
  "bad-port": "EACCES",
  "connection-limit": "EMFILE",
};

/** A net.Server over a netlab stack. */
export class NetlabServer extends EventEmitter {
  /** Accepted connections above this are destroyed at once (net.Server.maxConnections). */
  maxConnections = Infinity;
  readonly #stack: NodeStack;
  readonly #options: NodeServerOptions;
  #listener: TcpListener | null = null;
  readonly #sockets = new Set<NetlabSocket>();
  #closing = false;

  constructor(stack: NodeStack, options: NodeServerOptions = {}, connectionListener?: (socket: NetlabSocket) => void) {
    super();
    this.#stack = stack;
    this.#options = options;
    if (connectionListener !== undefined) this.on("connection", connectionListener);
  }

  get listening(): boolean {
    return this.#listener !== null;
  }

  /** Listens on `port` (0 = ephemeral) on every address of the stack; 'listening' follows on the next tick. */
  listen(port?: number, callback?: () => void): this;
  listen(options: { port?: number; backlog?: number }, callback?: () => void): this;
  listen(portOrOptions: number | { port?: number; backlog?: number } = 0, callback?: () => void): this {
    const { port = 0, backlog } = typeof portOrOptions === "number" ? { port: portOrOptions } : portOrOptions;
    if (this.#listener !== null)
      throw Object.assign(new Error("Listen method has been called more than once without closing."), { code: "ERR_SERVER_ALREADY_LISTEN" });
    if (!Number.isInteger(port) || port < 0 || port > 65535) throw Object.assign(new RangeError(`bad port ${port}`), { code: "ERR_SOCKET_BAD_PORT" });
    const r = this.#stack.tcp.listen(port, {
      ...(backlog === undefined ? {} : { backlog }),
      ...(this.#options.noDelay === undefined ? {} : { noDelay: this.#options.noDelay }),
      ...(this.#options.congestionControl === undefined ? {} : { congestionControl: this.#options.congestionControl }),
    });
    if (!r.ok) {
      const e = errnoError(LISTEN_ERROR_CODES[r.error], "listen", "0.0.0.0", port);
      process.nextTick(() => this.emit("error", e));
      return this;
    }
    if (callback !== undefined) this.once("listening", callback);
    this.#closing = false;
    const listener = r.value;
    this.#listener = listener;
    listener.onConnection((stream) => {
      if (this.#sockets.size >= this.maxConnections) {
        stream.destroy();
        return;
      }
      const socket = createNodeSocket(stream, this.#stack.clock, this.#options);
      if (this.#options.keepAlive === true) socket.setKeepAlive(true, this.#options.keepAliveInitialDelay ?? 0);
      this.#sockets.add(socket);
      socket.once("close", () => {
        this.#sockets.delete(socket);
        this.#maybeEmitClose();
      });
      this.emit("connection", socket);
    });
    process.nextTick(() => this.emit("listening"));
    return this;
  }

  /** Stops accepting; 'close' (and `callback`) once every accepted connection has closed. */
  close(callback?: (error?: Error) => void): this {
    if (this.#listener === null) {
      if (callback !== undefined) {
        const e = Object.assign(new Error("Server is not running."), { code: "ERR_SERVER_NOT_RUNNING" });
        process.nextTick(() => callback(e));
      }
      return this;
    }
    if (callback !== undefined) this.once("close", () => callback());
    this.#listener.close();
    this.#listener = null;
    this.#closing = true;
    this.#maybeEmitClose();
    return this;
  }

  #maybeEmitClose(): void {
    if (!this.#closing || this.#sockets.size > 0) return;
    this.#closing = false;
    process.nextTick(() => this.emit("close"));
  }

  /** { address: "0.0.0.0", family: "IPv4", port } while listening, else null. */
  address(): NodeAddressInfo | null {
    return this.#listener === null ? null : { address: "0.0.0.0", family: "IPv4", port: this.#listener.localPort };
  }

  getConnections(callback: (error: Error | null, count: number) => void): this {
    const n = this.#sockets.size;
    process.nextTick(() => callback(null, n));
    return this;
  }

  ref(): this {
    return this;
  }
  unref(): this {
    return this;
  }
}

/** Creates a server on a stack, like net.createServer(). */
export function createNodeServer(
  stack: NodeStack,
  options?: NodeServerOptions | ((socket: NetlabSocket) => void),
  connectionListener?: (socket: NetlabSocket) => void,
): NetlabServer {
  if (typeof options === "function") return new NetlabServer(stack, {}, options);
  return new NetlabServer(stack, options ?? {}, connectionListener);
}
