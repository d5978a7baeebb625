// A listener of a netlab stack as a net.Server-like EventEmitter: listen(port, cb),
// close(cb), address(), getConnections(cb), maxConnections, and the events 'listening',
// 'connection' (a NetlabSocket), 'close' and 'error'. Give its sockets to an http.Server
// with `server.emit("connection", socket)` (or pass that as the connection listener).
//
// NetlabServer        the server
// createNodeServer()  like net.createServer([options], [connectionListener])
//
// listen({ host: "::", port }) listens over IPv6 (the stack's tcp6), v6-only unless
// ipv6Only: false, which also takes IPv4 connections on the port (reported as ::ffff:a.b.c.d)
// and holds the port in both families. Node's default is the other way round (ipv6Only false:
// dual-stack, as Linux's net.ipv6.bindv6only=0); netlab keeps v6-only as its stack does, so that a
// program may listen on one port in each family with two servers (stack/transport/tcp6.ts).
// Without a host, or with "0.0.0.0", the server listens over IPv4 only (Node: "::" dual-stack).
// Only the wildcard hosts are taken: a listener of the stack accepts on all its addresses.
import { EventEmitter } from "node:events";
import type { TcpListener, TcpListenError } from "../../stack/transport/types.ts";
import { createNodeSocket, errnoError, nodeAddressesOf, type NetlabSocket, type NodeAddressInfo, type NodeSocketOptions, type NodeStack } from "./socket.ts";

/** Options of createNodeServer(). */
export interface NodeServerOptions extends NodeSocketOptions {
  /** Disable Nagle on accepted sockets. */
  readonly noDelay?: boolean;
  /** Enable keepalive on accepted sockets. */
  readonly keepAlive?: boolean;
  readonly keepAliveInitialDelay?: number;
  readonly congestionControl?: "cubic" | "newreno" | "bbr";
}

/** Options of NetlabServer.listen() (net.Server's ListenOptions, the TCP part). */
export interface NodeListenOptions {
  readonly port?: number;
  /** "0.0.0.0" (the default) over IPv4, "::" over IPv6; no other host. */
  readonly host?: string;
  readonly backlog?: number;
  /** With host "::": false also accepts IPv4 connections (dual-stack) [true, where Node's default is false]. */
  readonly ipv6Only?: boolean;
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
  #family: "IPv4" | "IPv6" = "IPv4";
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
  listen(port: number, host: string, callback?: () => void): this;
  listen(options: NodeListenOptions, callback?: () => void): this;
  listen(portOrOptions: number | NodeListenOptions = 0, hostOrCallback?: string | (() => void), maybeCallback?: () => void): this {
    const callback = typeof hostOrCallback === "function" ? hostOrCallback : maybeCallback;
    const o: NodeListenOptions =
      typeof portOrOptions === "number" ? { port: portOrOptions, ...(typeof hostOrCallback === "string" ? { host: hostOrCallback } : {}) } : portOrOptions;
    const { port = 0, backlog, host = "0.0.0.0", ipv6Only = true } = o;
    if (this.#listener !== null)
      throw Object.assign(new Error("Listen method has been called more than once without closing."), { code: "ERR_SERVER_ALREADY_LISTEN" });
    if (!Number.isInteger(port) || port < 0 || port > 65535) throw Object.assign(new RangeError(`bad port ${port}`), { code: "ERR_SOCKET_BAD_PORT" });
    const failLater = (e: Error): this => {
      process.nextTick(() => this.emit("error", e));
      return this;
    };
    const six = host === "::";
    if (!six && host !== "0.0.0.0") return failLater(errnoError("EADDRNOTAVAIL", "listen", host, port));
    const tcp6 = this.#stack.tcp6;
    if (six && tcp6 === undefined) return failLater(errnoError("EAFNOSUPPORT", "listen", host, port));
    const options = {
      ...(backlog === undefined ? {} : { backlog }),
      ...(this.#options.noDelay === undefined ? {} : { noDelay: this.#options.noDelay }),
      ...(this.#options.congestionControl === undefined ? {} : { congestionControl: this.#options.congestionControl }),
    };
    const r = six && tcp6 !== undefined ? tcp6.listen(port, { ...options, ipv6Only }) : this.#stack.tcp.listen(port, options);
    if (!r.ok) return failLater(errnoError(LISTEN_ERROR_CODES[r.error], "listen", host, port));
    this.#family = six ? "IPv6" : "IPv4";
    if (callback !== undefined) this.once("listening", callback);
    this.#closing = false;
    const listener = r.value;
    this.#listener = listener;
    listener.onConnection((stream) => {
      if (this.#sockets.size >= this.maxConnections) {
        stream.destroy();
        return;
      }
      const addresses = this.#family === "IPv6" ? nodeAddressesOf(this.#stack, stream) : undefined;
      // A v6 peer whose address handle is already gone (the adapter's bound) cannot be named.
      if (this.#family === "IPv6" && addresses === undefined) {
        stream.destroy();
        return;
      }
      const socket = createNodeSocket(stream, this.#stack.clock, addresses === undefined ? this.#options : { ...this.#options, addresses });
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

  /** { address: "0.0.0.0", family: "IPv4", port } (or "::", "IPv6") while listening, else null. */
  address(): NodeAddressInfo | null {
    if (this.#listener === null) return null;
    return { address: this.#family === "IPv6" ? "::" : "0.0.0.0", family: this.#family, port: this.#listener.localPort };
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
