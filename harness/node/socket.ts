// A netlab ByteStream (a TCP connection of the pure stack) as a Node stream.Duplex that
// behaves like net.Socket where Node code relies on it, so that node:http, undici-style
// clients or any code taking a socket run over netlab TCP unchanged.
//
// NetlabSocket          the Duplex: write/end/destroy/resetAndDestroy/destroySoon, backpressure,
//                       pause/resume mapped to the receive window, setNoDelay/setKeepAlive/
//                       setTimeout, address information, allowHalfOpen, errno-style errors
// createNodeSocket()    wraps an established (or connecting) ByteStream
// connect()             opens a connection on a stack, like net.connect({ host, port })
// errnoError()          an Error shaped like libuv's (code, errno, syscall, address, port)
// NodeStack             what these need from a stack: its TCP layers and its Clock
// formatIpv6ForNode()   an IPv6 address as Node (libuv's inet_ntop) writes it
//
// IPv6: connect({ host: "2001:db8::1" }) runs over the stack's tcp6 (a zone, "fe80::1%tap0", is
// accepted and ignored: a stack has one interface); "::ffff:a.b.c.d" goes over IPv4 as a Linux v6
// socket with IPV6_V6ONLY=0 does. Such sockets report family "IPv6" and Node's address text;
// an IPv4 connection accepted by a dual-stack server reports "::ffff:a.b.c.d".
//
// Semantics that differ from a kernel socket, on purpose:
// - Timers (setTimeout, the orphan FIN-WAIT-2 limit) run on the stack's Clock, so under a
//   VirtualClock they are virtual (see clock-pump.ts for driving one from the event loop).
// - destroy() closes like close(2): a FIN after queued data when nothing unread is left, an
//   RST (ByteStream.destroy) when received data was never read; data arriving after destroy()
//   aborts with an RST, as Linux does. resetAndDestroy() always sends an RST.
import { Duplex } from "node:stream";
import { constants as osConstants } from "node:os";
import type { Clock, TimerId } from "../../stack/time.ts";
import type { ByteStream, TcpConnectError, TcpConnectionOptions, TcpLayer } from "../../stack/transport/types.ts";
import { formatIpv4, parseIpv4, type Ipv4Address } from "../../stack/wire/address.ts";
import { formatIpv6, type Ipv6Address, parseIpv6Address } from "../../stack/wire/ipv6-address.ts";
import type { Tcp6Layer } from "../../stack/transport/tcp6.ts";

/** What the Node wrappers need from a stack (a `Stack` from createStack() fits). */
export interface NodeStack {
  readonly tcp: TcpLayer;
  readonly clock: Clock;
  /** TCP on IPv6 sockets (a stack with IPv6 on); without it v6 hosts fail with EAFNOSUPPORT. */
  readonly tcp6?: Pick<Tcp6Layer, "connect" | "listen" | "endpointsOf"> | undefined;
}

/** The addresses a socket reports (address(), remoteAddress, ...), as Node's text. */
export interface NodeSocketAddresses {
  readonly family: "IPv4" | "IPv6";
  readonly local: string;
  readonly remote: string;
}

/**
 * An IPv6 address as Node writes it (libuv's inet_ntop): RFC 5952 text (formatIpv6), except the
 * deprecated IPv4-compatible ::a.b.c.d (the first 96 bits zero, the 7th group not) in dotted form.
 */
export function formatIpv6ForNode(a: Ipv6Address): string {
  let zeros = 0;
  while (zeros < 12 && a[zeros] === 0) zeros++;
  if (zeros === 12 && (a[12] !== 0 || a[13] !== 0)) return `::${a[12]}.${a[13]}.${a[14]}.${a[15]}`;
  return formatIpv6(a);
}

/** The addresses of a stream from the stack's tcp6 (undefined when it has none: a v4 stream). */
export function nodeAddressesOf(stack: NodeStack, stream: ByteStream): NodeSocketAddresses | undefined {
  const e = stack.tcp6?.endpointsOf(stream);
  return e === undefined ? undefined : { family: "IPv6", local: formatIpv6ForNode(e.local), remote: formatIpv6ForNode(e.remote) };
}

/** Options of a wrapped socket. */
export interface NodeSocketOptions {
  /** Keep the writable side open after the peer's FIN (net.Socket's allowHalfOpen) [false]. */
  readonly allowHalfOpen?: boolean;
  /** Readable-side buffer before the receive window is closed [64 KiB]. */
  readonly readableHighWaterMark?: number;
  /** Writable-side buffer above the stack's send buffer before write() returns false [16 KiB]. */
  readonly writableHighWaterMark?: number;
  /** After destroy() with a FIN, how long a connection may wait for the peer's FIN [60000 ms, Linux tcp_fin_timeout]. */
  readonly orphanTimeoutMs?: number;
}

/** Options of connect(). */
export interface NodeConnectOptions extends NodeSocketOptions {
  /** An IPv4 or IPv6 address ("192.0.2.2", "2001:db8::2", "fe80::2%tap0", "::ffff:192.0.2.2") or a u32 IPv4 address. */
  readonly host: string | Ipv4Address;
  readonly port: number;
  readonly localPort?: number;
  readonly noDelay?: boolean;
  readonly keepAlive?: boolean;
  readonly keepAliveInitialDelay?: number;
  /** Idle timeout in ms (socket.setTimeout) [0 = none]. */
  readonly timeout?: number;
  readonly congestionControl?: "cubic" | "newreno" | "bbr";
}

/** Node's address() shape. */
export interface NodeAddressInfo {
  readonly address: string;
  readonly family: "IPv4" | "IPv6";
  readonly port: number;
}

/** An Error shaped like the ones libuv gives net.Socket: `${syscall} ${code} ${address}:${port}`. */
export function errnoError(code: string, syscall: string, address?: string, port?: number): NodeJS.ErrnoException & { address?: string; port?: number } {
  const where = address === undefined ? "" : port === undefined ? ` ${address}` : ` ${address}:${port}`;
  const e = new Error(`${syscall} ${code}${where}`) as NodeJS.ErrnoException & { address?: string; port?: number };
  e.code = code;
  const errno = (osConstants.errno as Record<string, number | undefined>)[code];
  if (errno !== undefined) e.errno = -errno;
  e.syscall = syscall;
  if (address !== undefined) e.address = address;
  if (port !== undefined) e.port = port;
  return e;
}

const CONNECT_ERROR_CODES: Record<TcpConnectError, string> = {
  "no-route": "ENETUNREACH",
  "no-address": "EADDRNOTAVAIL",
  "no-ephemeral": "EADDRNOTAVAIL",
  "connection-limit": "EMFILE",
};

const NOOP = (): void => undefined;

/** A ByteStream as a net.Socket-like Duplex. */
export class NetlabSocket extends Duplex {
  /** True until 'connect' (or failure) for sockets from connect(). */
  connecting: boolean;
  /** The idle timeout set with setTimeout() (0 = none). */
  timeout = 0;
  bytesRead = 0;
  #bytesWritten = 0;
  #stream: ByteStream | null = null;
  readonly #clock: Clock;
  readonly #orphanTimeoutMs: number;
  /** The ByteStream reported onClose: it no longer sends, receives or accepts writes. */
  #streamClosed = false;
  /** The peer's FIN arrived (its data is all pushed). */
  #peerEnded = false;
  #pendingWrite: ((error?: Error | null) => void) | null = null;
  #pendingNoDelay: boolean | undefined;
  #pendingKeepAlive: [boolean, number] | undefined;
  #timerId: TimerId | 0 = 0;
  #reset = false;
  #lastActive = 0;
  #remote: { address: string; port: number } | undefined;
  #local: { address: string; family: "IPv4" | "IPv6" } | undefined;

  constructor(clock: Clock, options: NodeSocketOptions & { connecting?: boolean } = {}) {
    const allowHalfOpen = options.allowHalfOpen ?? false;
    super({
      allowHalfOpen,
      emitClose: false,
      decodeStrings: true,
      ...(options.readableHighWaterMark === undefined ? {} : { readableHighWaterMark: options.readableHighWaterMark }),
      ...(options.writableHighWaterMark === undefined ? {} : { writableHighWaterMark: options.writableHighWaterMark }),
    });
    this.#clock = clock;
    this.#orphanTimeoutMs = options.orphanTimeoutMs ?? 60_000;
    this.connecting = options.connecting ?? false;
    // net.Socket: once the peer ended and half-open is not allowed, writes fail with EPIPE
    this.on("end", () => {
      if (!this.allowHalfOpen) this.write = this.#writeAfterFin;
    });
  }

  /** Binds the socket to its ByteStream; `connected` false waits for onConnect. Without `addresses`, the stream's own (IPv4). */
  attach(stream: ByteStream, connected: boolean, addresses?: NodeSocketAddresses): this {
    if (this.#stream !== null) throw Object.assign(new Error("socket already attached"), { code: "ERR_NETLAB_SOCKET_ATTACHED" });
    this.#stream = stream;
    const a = addresses ?? { family: "IPv4", local: formatIpv4(stream.localAddress), remote: formatIpv4(stream.remoteAddress) };
    this.#remote = { address: a.remote, port: stream.remotePort };
    this.#local = { address: a.local, family: a.family };
    if (this.#pendingNoDelay !== undefined) stream.setNoDelay(this.#pendingNoDelay);
    if (this.#pendingKeepAlive !== undefined) stream.setKeepAlive(...this.#pendingKeepAlive);
    this.connecting = !connected;
    stream.onConnect(() => {
      if (this.destroyed) return;
      this.connecting = false;
      this.#touch();
      this.emit("connect");
      this.emit("ready");
    });
    stream.onData((data) => {
      if (this.destroyed) {
        stream.destroy();
        return;
      }
      this.bytesRead += data.length;
      this.#touch();
      // a copy: the stack may hand out views of frames; a net.Socket's buffers belong to the reader
      const b = Buffer.allocUnsafe(data.length);
      b.set(data);
      if (!this.push(b)) stream.pause();
    });
    stream.onEnd(() => {
      this.#peerEnded = true;
      if (!this.destroyed) this.push(null);
    });
    stream.onDrain(() => {
      const cb = this.#pendingWrite;
      this.#pendingWrite = null;
      cb?.();
    });
    stream.onClose((error) => {
      this.#streamClosed = true;
      this.#cancelTimer();
      const cb = this.#pendingWrite;
      this.#pendingWrite = null;
      if (this.destroyed) return;
      if (error !== undefined) {
        const wasConnecting = this.connecting;
        this.connecting = false;
        const r = this.#remote!;
        const e = errnoError(error, wasConnecting ? "connect" : "read", r.address, r.port);
        // a write waiting for 'drain' fails with the connection (its callback gets the error)
        if (cb !== null) cb(e);
        if (!this.destroyed) this.destroy(e);
        return;
      }
      // both FINs exchanged: 'end' (pushed) and 'finish' (our FIN was queued) let autoDestroy close us
      if (cb !== null) cb(errnoError("EPIPE", "write"));
      if (!this.#peerEnded) this.push(null);
    });
    if (connected) this.#touch();
    return this;
  }

  // ------------------------------------------------------------------ Duplex

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    const s = this.#stream;
    if (s === null || this.#streamClosed) {
      callback(errnoError("EPIPE", "write"));
      return;
    }
    this.#bytesWritten += chunk.length;
    this.#touch();
    if (s.write(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength))) callback();
    else this.#pendingWrite = callback;
  }

  override _final(callback: (error?: Error | null) => void): void {
    const s = this.#stream;
    if (s === null || this.#streamClosed) {
      callback();
      return;
    }
    s.end();
    // net.Socket finishes when the shutdown request completes, a later turn of the loop
    setImmediate(callback);
  }

  override _read(): void {
    this.#stream?.resume();
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.#cancelTimer();
    this.connecting = false;
    const s = this.#stream;
    if (s !== null && !this.#streamClosed) {
      // close(2) with unread received data sends an RST (RFC 2525 §2.17), otherwise a FIN
      if (this.readableLength > 0 || this.#reset) s.destroy();
      else this.#orphan(s);
    }
    callback(error);
    // after destroy's own nextTick that emits 'error'; a later turn, as a libuv handle close
    setImmediate(() => this.emit("close", error !== null));
  }

  /** After destroy(): finish the close in the stack like an orphaned kernel socket would. */
  #orphan(s: ByteStream): void {
    const pending = this.#pendingWrite;
    this.#pendingWrite = null;
    pending?.(errnoError("EPIPE", "write"));
    s.onData(() => s.destroy());
    s.onEnd(NOOP);
    s.onDrain(NOOP);
    let timer: TimerId | 0 = 0;
    s.onClose(() => {
      if (timer !== 0) this.#clock.cancel(timer);
    });
    s.end();
    if (!this.#streamClosed)
      timer = this.#clock.setTimer(this.#clock.now() + this.#orphanTimeoutMs, () => {
        timer = 0;
        s.destroy();
      });
  }

  #writeAfterFin = (chunk: unknown, encoding?: unknown, cb?: unknown): boolean => {
    const callback = typeof encoding === "function" ? encoding : cb;
    const e = errnoError("EPIPE", "write");
    e.message = "This socket has been ended by the other party";
    if (typeof callback === "function") process.nextTick(() => (callback as (e: Error) => void)(e));
    this.destroy(e);
    void chunk;
    return false;
  };

  // ------------------------------------------------------------------ net.Socket surface

  /** Aborts with an RST (net.Socket.resetAndDestroy). */
  resetAndDestroy(): this {
    this.#reset = true;
    if (!this.destroyed) this.destroy();
    return this;
  }

  /** Ends, then destroys once the FIN is queued (what http.Server calls). */
  destroySoon(): void {
    if (this.writable) this.end();
    if (this.writableFinished) this.destroy();
    else this.once("finish", () => this.destroy());
  }

  setNoDelay(noDelay = true): this {
    if (this.#stream === null) this.#pendingNoDelay = noDelay;
    else if (!this.#streamClosed) this.#stream.setNoDelay(noDelay);
    return this;
  }

  setKeepAlive(enable = false, initialDelay = 0): this {
    if (this.#stream === null) this.#pendingKeepAlive = [enable, initialDelay];
    else if (!this.#streamClosed) this.#stream.setKeepAlive(enable, initialDelay);
    return this;
  }

  /** Emits 'timeout' after `ms` of inactivity on the stack's clock (0 disables). */
  setTimeout(ms: number, callback?: () => void): this {
    if (!Number.isFinite(ms) || ms < 0) throw Object.assign(new RangeError(`bad timeout ${ms}`), { code: "ERR_OUT_OF_RANGE" });
    this.timeout = ms;
    if (callback !== undefined) {
      if (ms === 0) this.removeListener("timeout", callback);
      else this.once("timeout", callback);
    }
    this.#cancelTimer();
    if (ms > 0 && !this.destroyed) {
      this.#lastActive = this.#clock.now();
      this.#armTimer(this.#lastActive + ms);
    }
    return this;
  }

  #touch(): void {
    this.#lastActive = this.#clock.now();
    if (this.timeout > 0 && this.#timerId === 0 && !this.destroyed) this.#armTimer(this.#lastActive + this.timeout);
  }

  #armTimer(at: number): void {
    this.#timerId = this.#clock.setTimer(at, () => {
      this.#timerId = 0;
      if (this.timeout === 0 || this.destroyed) return;
      const due = this.#lastActive + this.timeout;
      if (this.#clock.now() >= due) this.emit("timeout");
      else this.#armTimer(due);
    });
  }

  #cancelTimer(): void {
    if (this.#timerId !== 0) {
      this.#clock.cancel(this.#timerId);
      this.#timerId = 0;
    }
  }

  address(): NodeAddressInfo | Record<string, never> {
    const s = this.#stream;
    const l = this.#local;
    return s === null || l === undefined ? {} : { address: l.address, family: l.family, port: s.localPort };
  }

  get remoteAddress(): string | undefined {
    return this.#remote?.address;
  }
  get remotePort(): number | undefined {
    return this.#remote?.port;
  }
  get remoteFamily(): "IPv4" | "IPv6" | undefined {
    return this.#local?.family;
  }
  get localAddress(): string | undefined {
    return this.#local?.address;
  }
  get localPort(): number | undefined {
    return this.#stream?.localPort;
  }
  get localFamily(): "IPv4" | "IPv6" | undefined {
    return this.#local?.family;
  }
  get bytesWritten(): number {
    return this.#bytesWritten;
  }
  /** True while not yet connected (net.Socket.pending). */
  get pending(): boolean {
    return this.#stream === null || this.connecting;
  }
  get readyState(): "opening" | "open" | "readOnly" | "writeOnly" | "closed" {
    if (this.connecting) return "opening";
    if (this.destroyed) return "closed";
    if (this.readable && this.writable) return "open";
    if (this.readable) return "readOnly";
    if (this.writable) return "writeOnly";
    return "closed";
  }
  /** The underlying ByteStream (null before attach). */
  get byteStream(): ByteStream | null {
    return this.#stream;
  }

  ref(): this {
    return this;
  }
  unref(): this {
    return this;
  }
}

/**
 * Wraps a ByteStream; `connecting` true when it came from connect() and has not yet reported
 * onConnect; `addresses` for a stream of a v6 socket (nodeAddressesOf()), else the stream's IPv4 ones.
 */
export function createNodeSocket(
  stream: ByteStream,
  clock: Clock,
  options: NodeSocketOptions & { connecting?: boolean; addresses?: NodeSocketAddresses } = {},
): NetlabSocket {
  return new NetlabSocket(clock, options).attach(stream, options.connecting !== true, options.addresses);
}

/** Opens a connection like net.connect(): 'connect' on success, 'error' (ECONNREFUSED, ETIMEDOUT, ...) on failure. */
export function connect(stack: NodeStack, options: NodeConnectOptions, connectListener?: () => void): NetlabSocket {
  const socket = new NetlabSocket(stack.clock, { ...options, connecting: true });
  if (connectListener !== undefined) socket.once("connect", connectListener);
  if (options.noDelay === true) socket.setNoDelay(true);
  if (options.keepAlive === true) socket.setKeepAlive(true, options.keepAliveInitialDelay ?? 0);
  if (options.timeout !== undefined) socket.setTimeout(options.timeout);
  const hostText = typeof options.host === "number" ? formatIpv4(options.host) : options.host;
  const fail = (e: Error): NetlabSocket => {
    process.nextTick(() => socket.destroy(e));
    return socket;
  };
  let host: { v4: Ipv4Address } | { v6: Ipv6Address } | undefined;
  if (typeof options.host === "number") host = { v4: options.host };
  else {
    const p4 = parseIpv4(options.host);
    // A zone names the interface of a link-local address; a stack has one.
    const p6 = p4.ok ? undefined : parseIpv6Address(options.host.replace(/%[^%]+$/, ""));
    host = p4.ok ? { v4: p4.value } : p6?.ok === true ? { v6: p6.value } : undefined;
  }
  if (host === undefined) return fail(errnoError("ENOTFOUND", "getaddrinfo", hostText));
  if (!Number.isInteger(options.port) || options.port <= 0 || options.port > 65535) {
    throw Object.assign(new RangeError(`bad port ${options.port}`), { code: "ERR_SOCKET_BAD_PORT" });
  }
  const connOptions: TcpConnectionOptions & { localPort?: number } = {
    ...(options.localPort === undefined ? {} : { localPort: options.localPort }),
    ...(options.congestionControl === undefined ? {} : { congestionControl: options.congestionControl }),
    ...(options.noDelay === undefined ? {} : { noDelay: options.noDelay }),
  };
  if ("v4" in host) {
    const r = stack.tcp.connect(host.v4, options.port, connOptions);
    if (!r.ok) return fail(errnoError(CONNECT_ERROR_CODES[r.error], "connect", hostText, options.port));
    return socket.attach(r.value, false);
  }
  const tcp6 = stack.tcp6;
  const text6 = formatIpv6ForNode(host.v6);
  if (tcp6 === undefined) return fail(errnoError("EAFNOSUPPORT", "connect", text6, options.port));
  // A v6 socket of Node's on Linux has IPV6_V6ONLY=0: an IPv4-mapped host is reached over IPv4.
  const r = tcp6.connect(host.v6, options.port, { ...connOptions, ipv6Only: false });
  if (!r.ok) return fail(errnoError(CONNECT_ERROR_CODES[r.error], "connect", text6, options.port));
  const addresses = nodeAddressesOf(stack, r.value);
  if (addresses === undefined) {
    r.value.destroy();
    return fail(errnoError("EADDRNOTAVAIL", "connect", text6, options.port));
  }
  return socket.attach(r.value, false, addresses);
}
