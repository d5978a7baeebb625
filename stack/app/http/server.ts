// HTTP/1.1 server over ByteStreams (RFC 9112): keep-alive and pipelining with responses
// in request order, streaming request and response bodies with backpressure, automatic
// framing (Content-Length when the length is known, chunked otherwise, close-delimited for
// HTTP/1.0), 100-continue, HEAD, error responses (400/413/414/431/501/505) followed by a
// close, and header / request / idle / send timeouts on the injected Clock (slowloris and
// slow-read defence). Date comes from the Clock (plus dateOffsetMs) or is omitted.
// Hostile clients: connections are limited in all and per source address; at a limit the
// oldest idle connection (or one still reading its head after minHeadersTimeoutMs) is closed
// for the new one before it is refused, as nginx reuses its idle connections; header,
// request-body and keep-alive timeouts shrink as connections approach a limit, running timers
// included; a response that leaves a large request body unread closes the connection instead
// of draining it (RFC 9112 §9.6). Every limit is counted in `stats` when it bites.
// Over IPv6 (a listener of stack.tcp6) sources are the transport adapter's handles, one per
// IPv6 address: the per-source limit counts addresses, not /64 prefixes.
//
// createHttpServer(deps, handler, options)  the server; attach listeners or hand it streams
// HttpServerRequest / HttpServerResponse    what the handler receives
import type { Clock, TimerId } from "../../time.ts";
import type { ByteStream, TcpListener } from "../../transport/types.ts";
import type { Ipv4Address } from "../../wire/address.ts";
import { IncomingBody, HttpStreamError, type BodyErrorCode, type BodyHooks } from "./body.ts";
import { formatHttpDate } from "./date.ts";
import { HttpUsageError, assertHeader, createSlabAllocator, emitChunk, emitLastChunk, emitResponseHead, reasonPhrase } from "./emit.ts";
import { HttpHeaders, type HttpHeader } from "./headers.ts";
import { utf8Encode } from "./utf8.ts";
import {
  createRequestParser,
  statusForParseError,
  type HttpParseError,
  type HttpParser,
  type HttpParserLimits,
  type HttpRequestHead,
  type HttpVersion,
} from "./parser.ts";

export interface HttpServerDeps {
  readonly clock: Clock;
}

export interface HttpServerOptions {
  readonly limits?: Partial<HttpParserLimits>;
  /** Time allowed from the first byte of a request (or from accept) to the end of its head; 408 after [20000]. */
  readonly headersTimeoutMs?: number;
  /** Time allowed from the end of a head to the end of its body; 408 after [120000]. */
  readonly requestTimeoutMs?: number;
  /** Idle time allowed between requests on a kept-alive connection; closed after [5000]. */
  readonly keepAliveTimeoutMs?: number;
  /** Time a response may stay blocked by a peer that does not read (slow-read defence); reset after. */
  readonly sendTimeoutMs?: number;
  /** Requests parsed ahead of their responses before the connection stops reading. */
  readonly maxPipelinedRequests?: number;
  /** Requests per connection (0 = unlimited); the last one is answered with Connection: close. */
  readonly maxRequestsPerConnection?: number;
  /**
   * Simultaneous connections [1024]. A connection arriving at the limit takes the place of the
   * oldest reclaimable one (idle before its first request or between requests, or reading a
   * head for reclaimSlowAfterMs or longer; failing those, reading a body slower than
   * minBodyRate for that long), which is closed; with none it is reset.
   */
  readonly maxConnections?: number;
  /** Simultaneous connections from one source address, reclaimed the same way within the source [256]. */
  readonly maxConnectionsPerSource?: number;
  /**
   * Load (connections over maxConnections, or the source's over maxConnectionsPerSource,
   * whichever is higher) above which the header, request-body and keep-alive timeouts shrink
   * linearly, reaching their minimums at full load [0.5]. Timers are armed with the timeout of
   * the load at the time, and while a connection's load is past the threshold its running
   * timers are checked against the timeout of the current load every pressureCheckIntervalMs.
   */
  readonly pressureThreshold?: number;
  /** How often running timers are checked against the shrunk timeouts while under load [1000]. */
  readonly pressureCheckIntervalMs?: number;
  /** Header timeout at full load [2000]. */
  readonly minHeadersTimeoutMs?: number;
  /** Request-body timeout at full load (slow uploads to a handler that reads them) [10000]. */
  readonly minRequestTimeoutMs?: number;
  /**
   * At a limit, a connection that has been reading one head this long (or one body, slower
   * than minBodyRate) may be closed (408) for a new one [500]. An attacker refilling a limit L
   * at R connections a second keeps every head younger than L/R: this must stay below that
   * (256 per source at 500/s: 512 ms).
   */
  readonly reclaimSlowAfterMs?: number;
  /** Average bytes a second below which a request body being read counts as slow (Apache mod_reqtimeout's MinRate) [500]. */
  readonly minBodyRate?: number;
  /** Keep-alive timeout at full load [500]. */
  readonly minKeepAliveTimeoutMs?: number;
  /**
   * A response sent while the handler has not read the request body and more than this many
   * bytes of it are still to come closes the connection after the response instead of draining
   * the body (RFC 9112 §9.6); a body of unknown length (chunked) is drained up to this many
   * bytes, then the connection closes [65536].
   */
  readonly maxDrainBytes?: number;
  /** Time allowed to drain (read and drop) an unread request body after its response; then the connection closes [5000]. */
  readonly maxDrainMs?: number;
  /** Unread request-body bytes buffered before the connection pauses. */
  readonly highWaterMark?: number;
  /** Send a Date header computed as clock.now() + dateOffsetMs (false = omit). */
  readonly date?: boolean;
  readonly dateOffsetMs?: number;
  /** Value of the Server header, or null to omit. */
  readonly serverName?: string | null;
  /** After an error response or a close, how long to wait for the peer's FIN before resetting. */
  readonly lingerMs?: number;
}

/** What the handler receives as the request: head fields plus a readable body. */
export interface HttpServerRequest {
  readonly method: string;
  /** The request-target as received (e.g. "/a?b"). */
  readonly target: string;
  readonly version: HttpVersion;
  readonly headers: HttpHeaders;
  /** The stream's remote address: over stack.tcp6 a handle, whose address is stack.tcp6.addressOf(remoteAddress). */
  readonly remoteAddress: Ipv4Address;
  readonly remotePort: number;
  readonly body: IncomingBody;
  /** Shorthands for body.onData / body.onEnd / iterating body. */
  onData(handler: (data: Uint8Array) => void): void;
  onEnd(handler: (trailers: HttpHeaders | null) => void): void;
  [Symbol.asyncIterator](): AsyncIterator<Uint8Array>;
}

/** The response the handler writes. Throws HttpUsageError on misuse. */
export interface HttpServerResponse {
  statusCode: number;
  reason: string | undefined;
  readonly headersSent: boolean;
  readonly finished: boolean;
  setHeader(name: string, value: string | number | readonly string[]): void;
  getHeader(name: string): string | undefined;
  hasHeader(name: string): boolean;
  removeHeader(name: string): void;
  /** Sets status and headers and sends the head now. */
  writeHead(status: number, headers?: Record<string, string | number> | readonly HttpHeader[]): void;
  /** Writes body bytes; false means wait for onDrain before writing more. */
  write(data: Uint8Array | string): boolean;
  /** Finishes the response, optionally with a last piece of body. */
  end(data?: Uint8Array | string): void;
  /** Trailer fields sent after a chunked body. */
  addTrailers(trailers: readonly HttpHeader[]): void;
  /** Sends "100 Continue" now (it is sent automatically when the body is first read). */
  writeContinue(): void;
  onDrain(handler: () => void): void;
  /** The connection closed before the response finished. */
  onAbort(handler: () => void): void;
}

export type HttpHandler = (req: HttpServerRequest, res: HttpServerResponse) => void | Promise<void>;

export interface HttpServer {
  /** Serves every connection the listener accepts. */
  listen(listener: TcpListener): void;
  /** Serves one connection. */
  handleConnection(stream: ByteStream): void;
  /** Stops serving: idle connections close now, busy ones after their current response. */
  close(): void;
  readonly connectionCount: number;
  /** Counters since creation. */
  readonly stats: Readonly<HttpServerStats>;
}

export interface HttpServerStats {
  /** Connections accepted. */
  connections: number;
  requests: number;
  responses: number;
  parseErrors: number;
  /** Parse errors by code (each answered with its status, then the connection closed). */
  parseErrorsByCode: Partial<Record<HttpParseError, number>>;
  /** Header, request-body and send timeouts that ended a connection. */
  timeouts: number;
  /** Header, request-body and keep-alive timeouts that fired earlier than configured because of load. */
  timeoutsUnderPressure: number;
  /** Connections reset on arrival: the server was closed or a limit was reached with nothing to reclaim. */
  rejectedConnections: number;
  /** Of rejectedConnections, those whose source was at maxConnectionsPerSource. */
  rejectedPerSource: number;
  /** Idle connections closed to admit a new one. */
  reclaimedIdle: number;
  /** Connections reading a head (or a body slower than minBodyRate) for reclaimSlowAfterMs or longer closed (408) to admit a new one. */
  reclaimedSlow: number;
  /** Connections closed after an error response (status 400 and up). */
  closedAfterError: number;
  /** Connections closed after a response instead of draining an unread body (maxDrainBytes, maxDrainMs). */
  closedUnreadBody: number;
}

/** The request the handler sees (a class: no closures per request). */
class ServerRequest implements HttpServerRequest {
  readonly method: string;
  readonly target: string;
  readonly version: HttpVersion;
  readonly headers: HttpHeaders;
  readonly remoteAddress: Ipv4Address;
  readonly remotePort: number;
  constructor(
    head: HttpRequestHead,
    stream: ByteStream,
    readonly body: IncomingBody,
  ) {
    this.method = head.method;
    this.target = head.target;
    this.version = head.version;
    this.headers = head.headers;
    this.remoteAddress = stream.remoteAddress;
    this.remotePort = stream.remotePort;
  }
  onData(handler: (data: Uint8Array) => void): void {
    this.body.onData(handler);
  }
  onEnd(handler: (trailers: HttpHeaders | null) => void): void {
    this.body.onEnd(handler);
  }
  [Symbol.asyncIterator](): AsyncIterator<Uint8Array> {
    return this.body[Symbol.asyncIterator]();
  }
}

const toBytes = (d: Uint8Array | string): Uint8Array => (typeof d === "string" ? utf8Encode(d) : d);

const DEFAULTS = {
  headersTimeoutMs: 20_000,
  requestTimeoutMs: 120_000,
  keepAliveTimeoutMs: 5_000,
  sendTimeoutMs: 120_000,
  maxPipelinedRequests: 16,
  maxRequestsPerConnection: 0,
  maxConnections: 1024,
  maxConnectionsPerSource: 256,
  pressureThreshold: 0.5,
  pressureCheckIntervalMs: 1_000,
  minRequestTimeoutMs: 10_000,
  minHeadersTimeoutMs: 2_000,
  reclaimSlowAfterMs: 500,
  minBodyRate: 500,
  minKeepAliveTimeoutMs: 500,
  maxDrainBytes: 64 * 1024,
  maxDrainMs: 5_000,
  highWaterMark: 64 * 1024,
  date: true,
  dateOffsetMs: 0,
  serverName: null as string | null,
  lingerMs: 2_000,
};

/** Creates a server that runs `handler` for each request. */
export function createHttpServer(deps: HttpServerDeps, handler: HttpHandler, options: HttpServerOptions = {}): HttpServer {
  const ctx = new ServerShared(deps.clock, handler, { ...DEFAULTS, ...options });
  const { opts, connections, sources, stats } = ctx;
  let closed = false;
  const refuse = (stream: ByteStream): void => {
    stats.rejectedConnections++;
    stream.destroy();
  };

  const handleConnection = (stream: ByteStream): void => {
    if (closed) {
      refuse(stream);
      return;
    }
    const address = stream.remoteAddress;
    const known = sources.get(address);
    if (known !== undefined && known.count >= opts.maxConnectionsPerSource && !ctx.reclaim(known)) {
      stats.rejectedPerSource++;
      refuse(stream);
      return;
    }
    if (connections.size >= opts.maxConnections && !ctx.reclaim(ctx)) {
      refuse(stream);
      return;
    }
    stats.connections++;
    let source = sources.get(address);
    if (source === undefined) {
      source = { count: 0, idle: new Set(), heads: new Set(), bodies: new Set() };
      sources.set(address, source);
    }
    source.count++;
    const c = new Connection(ctx, stream, source);
    connections.add(c);
    c.start();
    ctx.notePressure(source);
  };
  return new ServerHandle(
    (listener) => {
      listener.onConnection((s) => handleConnection(s));
    },
    handleConnection,
    () => {
      closed = true;
      for (const c of [...connections]) c.shutdown();
    },
    stats,
    connections,
  );
}

/**
 * The object createHttpServer returns: its methods are closures of the server (they work unbound);
 * a class, not an object literal with getters (V8 builds one through the runtime, ~0.9 us).
 */
class ServerHandle implements HttpServer {
  readonly #connections: ReadonlySet<unknown>;
  constructor(
    readonly listen: (listener: TcpListener) => void,
    readonly handleConnection: (stream: ByteStream) => void,
    readonly close: () => void,
    readonly stats: Readonly<HttpServerStats>,
    connections: ReadonlySet<unknown>,
  ) {
    this.#connections = connections;
  }
  get connectionCount(): number {
    return this.#connections.size;
  }
}

type ServerSettings = typeof DEFAULTS & HttpServerOptions;

/** Reclaimable connections of a server or a source, each set in the order its members entered it. */
interface Reclaimable {
  readonly idle: Set<Connection>;
  readonly heads: Set<Connection>;
  readonly bodies: Set<Connection>;
}

/** The connections of one source address. */
interface SourceEntry extends Reclaimable {
  count: number;
}

/** Where a connection stands for reclaiming: none, idle (no request in progress), reading a head, reading a body. */
const PHASE_NONE = 0,
  PHASE_IDLE = 1,
  PHASE_HEAD = 2,
  PHASE_BODY = 3;
type Phase = typeof PHASE_NONE | typeof PHASE_IDLE | typeof PHASE_HEAD | typeof PHASE_BODY;

/** Bodies looked at, oldest first, for one slower than minBodyRate (nginx drains at most 32 connections at a time). */
const BODIES_SCANNED = 32;

/**
 * What the connections of one server share. The classes below live at module level, not
 * inside createHttpServer: classes made per server would give every server its own hidden
 * classes, and the code all servers share would go polymorphic on them.
 */
class ServerShared implements Reclaimable {
  /** Connections counted against the limits (not those closing: FIN sent). */
  readonly connections = new Set<Connection>();
  /** Reclaimable connections of the whole server, oldest first. */
  readonly idle = new Set<Connection>();
  readonly heads = new Set<Connection>();
  readonly bodies = new Set<Connection>();
  readonly sources = new Map<Ipv4Address, SourceEntry>();
  readonly stats: HttpServerStats = {
    connections: 0,
    requests: 0,
    responses: 0,
    parseErrors: 0,
    parseErrorsByCode: {},
    timeouts: 0,
    timeoutsUnderPressure: 0,
    rejectedConnections: 0,
    rejectedPerSource: 0,
    reclaimedIdle: 0,
    reclaimedSlow: 0,
    closedAfterError: 0,
    closedUnreadBody: 0,
  };
  /** Buffers of response heads (with small bodies) are carved from shared blocks. */
  readonly allocate = createSlabAllocator();
  /** The Date value of the current second (formatted once per second, not per response). */
  #dateSecond = NaN;
  #dateValue = "";
  constructor(
    readonly clock: Clock,
    readonly handler: HttpHandler,
    readonly opts: ServerSettings,
  ) {}

  /**
   * Closes the oldest reclaimable connection of `scope` so that a new one can take its place:
   * idle, or reading a head for reclaimSlowAfterMs; failing those, the oldest body that has been
   * read for that long slower than minBodyRate. False when there is none.
   */
  reclaim(scope: Reclaimable): boolean {
    const now = this.clock.now();
    const quiet = first(scope.idle);
    let slow = first(scope.heads);
    if (slow !== undefined && now - slow.phaseSince < this.opts.reclaimSlowAfterMs) slow = undefined;
    if (quiet !== undefined && (slow === undefined || quiet.phaseSince <= slow.phaseSince)) {
      this.stats.reclaimedIdle++;
      quiet.reclaim();
      return true;
    }
    if (slow === undefined) {
      let scanned = 0;
      for (const c of scope.bodies) {
        const age = now - c.phaseSince;
        if (age < this.opts.reclaimSlowAfterMs || ++scanned > BODIES_SCANNED) break;
        if (c.pausedBy.size === 0 && (c.current?.body.bytesReceived ?? 0) * 1000 < this.opts.minBodyRate * age) {
          slow = c;
          break;
        }
      }
      if (slow === undefined) return false;
    }
    this.stats.reclaimedSlow++;
    slow.reclaim();
    return true;
  }

  /** The load on the limits a connection from `source` counts against (0..1). */
  load(source: SourceEntry): number {
    return Math.max(this.connections.size / this.opts.maxConnections, source.count / this.opts.maxConnectionsPerSource);
  }

  /** Starts checking running timers against the shrunk timeouts once `source`'s load passes the threshold. */
  notePressure(source: SourceEntry): void {
    if (this.#pressureTimer !== null || this.opts.pressureThreshold >= 1 || this.load(source) <= this.opts.pressureThreshold) return;
    this.#pressureTimer = this.clock.setTimer(this.clock.now() + this.opts.pressureCheckIntervalMs, this.#checkPressure);
  }

  #pressureTimer: TimerId | null = null;
  readonly #checkPressure = (): void => {
    this.#pressureTimer = null;
    let loaded = false;
    for (const c of [...this.connections]) if (c.applyPressure()) loaded = true;
    if (loaded) this.#pressureTimer = this.clock.setTimer(this.clock.now() + this.opts.pressureCheckIntervalMs, this.#checkPressure);
  };

  /** `base` shrunk linearly towards `min` as the load on `source`'s limits rises above pressureThreshold. */
  timeout(base: number, min: number, source: SourceEntry): number {
    const o = this.opts;
    if (min >= base || o.pressureThreshold >= 1) return base;
    const load = this.load(source);
    if (load <= o.pressureThreshold) return base;
    const f = Math.min(1, (load - o.pressureThreshold) / (1 - o.pressureThreshold));
    return Math.round(base - (base - min) * f);
  }
  httpDate(ms: number): string {
    const second = Math.floor(ms / 1000);
    if (second !== this.#dateSecond) {
      this.#dateSecond = second;
      this.#dateValue = formatHttpDate(ms);
    }
    return this.#dateValue;
  }
}

const first = <T>(set: Set<T>): T | undefined => set.values().next().value;

/** One request and its response, queued in arrival order; also the hooks of its request body. */
class Exchange implements BodyHooks {
  readonly head: HttpRequestHead;
  readonly body: IncomingBody;
  readonly response: Response;
  /** Bytes produced before this exchange reached the head of the queue. */
  outbox: Uint8Array[] | null = null;
  outboxBytes = 0;
  done = false;
  constructor(
    readonly conn: Connection,
    head: HttpRequestHead,
  ) {
    this.head = head;
    this.body = new IncomingBody(this, conn.ctx.opts.highWaterMark);
    this.response = new Response(this);
  }
  setPaused(paused: boolean): void {
    this.conn.setPausedBy("body", paused);
  }
  onFirstRead(): void {
    if (this.head.expectContinue && !this.response.headersSent) this.response.writeContinue();
  }
  /** Sends bytes in order: directly when first in the queue, else into the outbox. */
  output(bytes: Uint8Array): boolean {
    if (this.conn.destroyed) return false;
    if (this.conn.exchanges[0] === this) return this.conn.write(bytes);
    (this.outbox ??= []).push(bytes);
    this.outboxBytes += bytes.length;
    return this.outboxBytes < this.conn.ctx.opts.highWaterMark;
  }
}

class Response implements HttpServerResponse {
  statusCode = 200;
  reason: string | undefined = undefined;
  #headers = new HttpHeaders();
  #trailers: HttpHeader[] | null = null;
  #headersSent = false;
  #finished = false;
  #continueSent = false;
  #framing: "length" | "chunked" | "close" | "none" = "none";
  #length = 0;
  #written = 0;
  #noBody = false;
  /** Set when the exchange failed or the connection died: later writes are dropped. */
  aborted = false;
  closeAfter = false;
  drainHandlers: (() => void)[] | null = null;
  abortHandlers: (() => void)[] | null = null;
  constructor(readonly ex: Exchange) {}

  get headersSent(): boolean {
    return this.#headersSent;
  }
  get finished(): boolean {
    return this.#finished;
  }
  setHeader(name: string, value: string | number | readonly string[]): void {
    this.#assertHeadPending();
    const v = typeof value === "number" ? String(value) : value;
    if (typeof v === "string") assertHeader(name, v);
    else for (const one of v) assertHeader(name, one);
    this.#headers.set(name, v);
  }
  getHeader(name: string): string | undefined {
    return this.#headers.get(name);
  }
  hasHeader(name: string): boolean {
    return this.#headers.has(name);
  }
  removeHeader(name: string): void {
    this.#assertHeadPending();
    this.#headers.delete(name);
  }
  writeHead(status: number, headers?: Record<string, string | number> | readonly HttpHeader[]): void {
    if (this.aborted) return;
    this.#assertHeadPending();
    this.statusCode = status;
    if (headers) {
      const list: [string, string][] = Array.isArray(headers)
        ? (headers as readonly HttpHeader[]).map(([n, v]) => [n, v])
        : Object.entries(headers).map(([n, v]) => [n, String(v)]);
      for (const [n] of list) this.#headers.delete(n);
      for (const [n, v] of list) this.#headers.append(n, v);
    }
    this.#sendHead(null);
  }
  write(data: Uint8Array | string): boolean {
    if (this.aborted) return false;
    if (this.#finished) throw new HttpUsageError("ERR_STREAM_WRITE_AFTER_END", "write after end");
    const bytes = toBytes(data);
    if (!this.#headersSent) this.#sendHead(null);
    return this.#writeBody(bytes);
  }
  end(data?: Uint8Array | string): void {
    if (this.#finished || this.aborted) return;
    const bytes = data === undefined ? null : toBytes(data);
    if (!this.#headersSent) {
      this.#sendHead(bytes ?? new Uint8Array(0));
    } else if (bytes && bytes.length > 0) {
      this.#writeBody(bytes);
    }
    if (this.#framing === "chunked" && !this.#noBody) this.ex.output(emitLastChunk(this.#trailers ?? []));
    // A body shorter than its Content-Length cannot be framed: close after it (RFC 9112 §6.3).
    if (this.#framing === "length" && !this.#noBody && this.#written !== this.#length) this.closeAfter = true;
    this.#finished = true;
    this.ex.conn.responseFinished(this.ex);
  }
  addTrailers(trailers: readonly HttpHeader[]): void {
    (this.#trailers ??= []).push(...trailers);
  }
  writeContinue(): void {
    if (this.aborted || this.#continueSent || this.#headersSent || this.ex.head.version !== "1.1") return;
    this.#continueSent = true;
    this.ex.output(emitResponseHead({ status: 100, headers: [] }));
  }
  /** One-shot: called at the next drain. */
  onDrain(handler: () => void): void {
    (this.drainHandlers ??= []).push(handler);
  }
  onAbort(handler: () => void): void {
    (this.abortHandlers ??= []).push(handler);
  }

  fireDrain(): void {
    const hs = this.drainHandlers;
    if (hs === null) return;
    this.drainHandlers = null;
    for (const h of hs) h();
  }
  fireAbort(): void {
    this.aborted = true;
    this.fireDrain();
    if (this.abortHandlers !== null) for (const h of this.abortHandlers) h();
  }

  /** Answers with an error status instead of the handler (request failed before the head was sent). */
  sendError(status: number): void {
    if (this.#headersSent) return;
    this.statusCode = status;
    this.reason = undefined;
    this.#headers = new HttpHeaders([["Content-Type", "text/plain"]]);
    this.closeAfter = true;
    this.#sendHead(toBytes(`${status} ${reasonPhrase(status)}\n`));
    this.#finished = true;
    this.aborted = true;
  }

  #assertHeadPending(): void {
    if (this.#headersSent) throw new HttpUsageError("ERR_HTTP_HEADERS_SENT", "headers already sent");
  }

  #writeBody(bytes: Uint8Array): boolean {
    if (this.#noBody || bytes.length === 0) return true;
    if (this.#framing === "length") {
      if (this.#written + bytes.length > this.#length) {
        throw new HttpUsageError("ERR_HTTP_CONTENT_LENGTH_MISMATCH", `body exceeds Content-Length ${this.#length}`);
      }
      this.#written += bytes.length;
      return this.ex.output(bytes);
    }
    this.#written += bytes.length;
    return this.ex.output(this.#framing === "chunked" ? emitChunk(bytes) : bytes);
  }

  /** Decides framing (RFC 9112 §6.3; HEAD per RFC 9110 §9.3.2) and sends the head. `whole` is the entire body when known. */
  #sendHead(whole: Uint8Array | null): void {
    const ex = this.ex;
    const ctx = ex.conn.ctx;
    const opts = ctx.opts;
    const req = ex.head;
    const status = this.statusCode;
    const h = this.#headers;
    if (!Number.isInteger(status) || status < 200 || status > 999) {
      throw new HttpUsageError("ERR_HTTP_INVALID_STATUS_CODE", `invalid final status ${status}`);
    }
    const isHead = req.method === "HEAD";
    const bodyForbidden = status === 204 || status === 304;
    this.#noBody = bodyForbidden || isHead;
    // One pass over the application's fields for what framing needs; below, deleting
    // an absent field is skipped and setting one is an append (the same lines result).
    const names = h.lowerNames();
    let hasConnection = false,
      hasTransferEncoding = false,
      hasDate = false,
      hasServer = false,
      contentLengths = 0;
    for (let i = 0; i < names.length; i++) {
      switch (names[i]) {
        case "connection":
          hasConnection = true;
          break;
        case "content-length":
          contentLengths++;
          break;
        case "transfer-encoding":
          hasTransferEncoding = true;
          break;
        case "date":
          hasDate = true;
          break;
        case "server":
          hasServer = true;
          break;
      }
    }
    let close = this.closeAfter || !req.keepAlive || ex.conn.closing || (hasConnection && h.tokens("connection").includes("close"));
    // RFC 9110 §10.1.1: answering without reading a body the client may still send -> close.
    if (req.expectContinue && !this.#continueSent && !ex.body.complete) close = true;
    // RFC 9112 §9.6: rather than drain a large unread body (a slow POST answered 405), close.
    if (!close && ex.conn.bodyLeftUnread(ex)) {
      close = true;
      ctx.stats.closedUnreadBody++;
    }
    const declared = contentLengths === 0 ? undefined : h.get("content-length");
    if (bodyForbidden) {
      this.#framing = "none";
      if (hasTransferEncoding) h.delete("transfer-encoding");
      if (status === 204 && contentLengths > 0) h.delete("content-length");
    } else if (declared !== undefined && /^[0-9]+$/.test(declared)) {
      this.#framing = "length";
      this.#length = Number(declared);
      if (hasTransferEncoding) h.delete("transfer-encoding");
    } else if (whole !== null) {
      this.#framing = "length";
      this.#length = whole.length;
      if (hasTransferEncoding) h.delete("transfer-encoding");
      if (!isHead || whole.length > 0) {
        if (contentLengths > 0) h.set("Content-Length", String(whole.length));
        else h.append("Content-Length", String(whole.length), "content-length");
      }
    } else if (req.version === "1.1") {
      this.#framing = "chunked";
      h.set("Transfer-Encoding", "chunked");
    } else {
      this.#framing = "close";
      close = true;
    }
    this.closeAfter = close;
    if (close) h.set("Connection", "close");
    else if (req.version === "1.0") h.set("Connection", "keep-alive");
    if (opts.date && !hasDate) h.append("Date", ctx.httpDate(ctx.clock.now() + opts.dateOffsetMs), "date");
    if (opts.serverName !== null && !hasServer) h.append("Server", opts.serverName, "server");
    // A body known in full goes out in the same buffer as the head (one write, one copy).
    const withBody = !this.#noBody && whole !== null && whole.length > 0;
    const out = emitResponseHead({ status, reason: this.reason, version: "1.1", headers: h.raw }, withBody ? whole : undefined, ctx.allocate);
    this.#headersSent = true;
    if (withBody) this.#written = whole.length;
    ex.output(out);
  }
}

/** One connection: its parser, its exchanges in arrival order, and its timers. */
class Connection {
  readonly parser: HttpParser;
  readonly exchanges: Exchange[] = [];
  current: Exchange | null = null;
  destroyed = false;
  closing = false;
  stopped = false;
  peerEnded = false;
  requests = 0;
  headersTimer: TimerId | null = null;
  requestTimer: TimerId | null = null;
  idleTimer: TimerId | null = null;
  lingerTimer: TimerId | null = null;
  sendTimer: TimerId | null = null;
  pausedBy = new Set<string>();
  endSent = false;
  /** Counted in ctx.connections and the source's count (until FIN sent or closed). */
  counted = true;
  phase: Phase = PHASE_NONE;
  /** When the connection entered its phase. */
  phaseSince = 0;
  /** The header / keep-alive timer in force was shrunk by load. */
  headersShrunk = false;
  idleShrunk = false;
  requestShrunk = false;
  /** When the header, keep-alive and request timers were armed. */
  headersArmedAt = 0;
  idleArmedAt = 0;
  requestArmedAt = 0;
  /** The answered exchange whose unread body is being drained, and its bytes received when draining began. */
  draining: Exchange | null = null;
  drainFrom = 0;

  constructor(
    readonly ctx: ServerShared,
    readonly stream: ByteStream,
    readonly source: SourceEntry,
  ) {
    this.parser = createRequestParser(
      {
        onHead: (head) => this.onHead(head),
        onBody: (data) => {
          const cur = this.current;
          if (cur === null) return;
          cur.body.push(data);
          if (this.draining === cur && cur.body.bytesReceived - this.drainFrom > this.ctx.opts.maxDrainBytes) this.abandonDrain();
        },
        onComplete: (trailers) => this.onComplete(trailers),
      },
      this.ctx.opts.limits ?? {},
    );
    stream.onData((d) => this.onData(d));
    stream.onEnd(() => this.onPeerEnd());
    stream.onDrain(() => this.onDrain());
    stream.onClose(() => this.onClose());
  }

  /** Arms the header timer once the connection is counted (so its own slot counts in the load). */
  start(): void {
    if (this.destroyed) return;
    this.updatePhase();
    if (this.headersTimer === null && !this.stopped && this.current === null && this.exchanges.length === 0) this.armHeaders();
  }

  /** Moves the connection between the reclaimable sets of its server and source. */
  setPhase(phase: Phase): void {
    if (phase === this.phase) return;
    const { ctx, source } = this;
    if (this.phase === PHASE_IDLE) {
      ctx.idle.delete(this);
      source.idle.delete(this);
    } else if (this.phase === PHASE_HEAD) {
      ctx.heads.delete(this);
      source.heads.delete(this);
    } else if (this.phase === PHASE_BODY) {
      ctx.bodies.delete(this);
      source.bodies.delete(this);
    }
    this.phase = phase;
    this.phaseSince = ctx.clock.now();
    if (phase === PHASE_IDLE) {
      ctx.idle.add(this);
      source.idle.add(this);
    } else if (phase === PHASE_HEAD) {
      ctx.heads.add(this);
      source.heads.add(this);
    } else if (phase === PHASE_BODY) {
      ctx.bodies.add(this);
      source.bodies.add(this);
    }
  }

  updatePhase(): void {
    if (!this.counted || this.stopped || this.destroyed) this.setPhase(PHASE_NONE);
    else if (this.current !== null && this.parser.inBody && this.draining === null && !this.current.done) this.setPhase(PHASE_BODY);
    else if (this.exchanges.length > 0) this.setPhase(PHASE_NONE);
    else if (!this.parser.inMessage) this.setPhase(PHASE_IDLE);
    else this.setPhase(this.parser.inBody ? PHASE_NONE : PHASE_HEAD);
  }

  /** Stops counting against the limits (the connection is closing or gone). */
  detach(): void {
    if (!this.counted) return;
    this.counted = false;
    this.setPhase(PHASE_NONE);
    this.ctx.connections.delete(this);
    if (--this.source.count === 0 && this.ctx.sources.get(this.stream.remoteAddress) === this.source) this.ctx.sources.delete(this.stream.remoteAddress);
  }

  /** Closed to make room for a new connection: an idle one gets a FIN, a slow head or body a 408. */
  reclaim(): void {
    if (this.phase === PHASE_HEAD) this.failRequest(408, "ETIMEDOUT", "request head (reclaimed under load)");
    else if (this.phase === PHASE_BODY) this.failRequest(408, "ETIMEDOUT", "request body (reclaimed under load)");
    else this.shutdown();
    this.detach();
  }

  /** The handler answered without reading a body of which more than maxDrainBytes are declared still to come. */
  bodyLeftUnread(ex: Exchange): boolean {
    const head = ex.head;
    const body = ex.body;
    if (head.bodyKind === "none" || body.complete || body.error !== null || body.reading) return false;
    return head.bodyKind === "length" && head.contentLength !== null && head.contentLength - body.bytesReceived > this.ctx.opts.maxDrainBytes;
  }

  /** Reads and drops the rest of an answered exchange's body, within maxDrainBytes and maxDrainMs. */
  startDrain(ex: Exchange): void {
    ex.body.discard();
    if (this.current !== ex || ex.body.complete) return;
    this.draining = ex;
    this.drainFrom = ex.body.bytesReceived;
    this.cancel("requestTimer");
    this.requestTimer = this.ctx.clock.setTimer(this.ctx.clock.now() + this.ctx.opts.maxDrainMs, this.onDrainTimeout);
  }

  readonly onDrainTimeout = (): void => {
    this.requestTimer = null;
    this.abandonDrain();
  };

  /** Draining would take too long or too many bytes: close instead (RFC 9112 §9.6). */
  abandonDrain(): void {
    const ex = this.draining;
    if (ex === null || this.destroyed) return;
    this.draining = null;
    this.ctx.stats.closedUnreadBody++;
    this.cancel("requestTimer");
    ex.body.fail(new HttpStreamError("ERR_HTTP_ABORTED", "connection closed instead of draining the body"));
    this.shutdown();
  }

  onData(chunk: Uint8Array): void {
    if (this.stopped || this.destroyed) return;
    const wasIn = this.parser.inMessage;
    const r = this.parser.push(chunk);
    if (!wasIn && this.parser.inMessage && this.headersTimer === null && !this.parser.inBody) this.armHeaders();
    if (!r.ok) {
      this.onParseError(r.error);
      return;
    }
    this.updateTimers();
  }

  onHead(head: HttpRequestHead): void {
    this.ctx.stats.requests++;
    this.requests++;
    this.cancel("headersTimer");
    const ex = new Exchange(this, head);
    this.exchanges.push(ex);
    this.current = ex;
    if (this.ctx.opts.maxRequestsPerConnection > 0 && this.requests >= this.ctx.opts.maxRequestsPerConnection) ex.response.closeAfter = true;
    if (head.bodyKind !== "none") {
      const { ctx } = this;
      const ms = ctx.timeout(ctx.opts.requestTimeoutMs, ctx.opts.minRequestTimeoutMs, this.source);
      this.requestShrunk = ms < ctx.opts.requestTimeoutMs;
      this.requestArmedAt = ctx.clock.now();
      this.requestTimer = ctx.clock.setTimer(this.requestArmedAt + ms, this.onRequestTimeout);
    }
    if (this.exchanges.length >= this.ctx.opts.maxPipelinedRequests) this.setPausedBy("pipeline", true);
    if (head.unsupportedExpect !== null) {
      // RFC 9110 §10.1.1: an unmet expectation may be answered with 417.
      ex.response.sendError(417);
      this.responseFinished(ex);
      return;
    }
    const req = new ServerRequest(head, this.stream, ex.body);
    try {
      const p = this.ctx.handler(req, ex.response);
      if (p && typeof (p as Promise<void>).then === "function") (p as Promise<void>).catch(() => this.handlerFailed(ex));
    } catch {
      this.handlerFailed(ex);
    }
  }

  onComplete(trailers: HttpHeaders | null): void {
    const ex = this.current;
    this.current = null;
    this.draining = null;
    this.cancel("requestTimer");
    if (!ex) return;
    ex.body.end(trailers);
    if (!ex.head.keepAlive || ex.response.closeAfter) {
      // No request after this one is read (RFC 9112 §9.6).
      this.stopReading();
    }
  }

  handlerFailed(ex: Exchange): void {
    if (ex.done) return;
    if (!ex.response.headersSent) {
      ex.response.sendError(500);
      this.responseFinished(ex);
    } else {
      this.destroy();
    }
  }

  onParseError(code: HttpParseError): void {
    const stats = this.ctx.stats;
    stats.parseErrors++;
    stats.parseErrorsByCode[code] = (stats.parseErrorsByCode[code] ?? 0) + 1;
    this.failRequest(statusForParseError(code), "ERR_HTTP_PARSE", code);
  }

  /**
   * The request being read failed: answer `status` in order, then close. Its body, if a handler
   * has it, fails with HttpStreamError(code, detail), made only then (an Error's stack capture
   * is most of the cost of refusing a garbage request).
   */
  failRequest(status: number, code: BodyErrorCode, detail: string): void {
    this.draining = null;
    this.stopReading();
    this.cancel("headersTimer");
    this.cancel("requestTimer");
    const cur = this.current;
    this.current = null;
    if (cur) {
      cur.body.fail(new HttpStreamError(code, detail));
      cur.response.closeAfter = true;
      if (!cur.response.headersSent) {
        cur.response.sendError(status);
        this.responseFinished(cur);
      } else {
        this.advance();
      }
      return;
    }
    const ex = new Exchange(this, {
      method: "GET",
      target: "/",
      version: "1.1",
      headers: new HttpHeaders(),
      bodyKind: "none",
      contentLength: null,
      keepAlive: false,
      expectContinue: false,
      unsupportedExpect: null,
    });
    // No handler ever sees this exchange's body: it is complete (no error to make for it).
    ex.body.end(null);
    this.exchanges.push(ex);
    ex.response.sendError(status);
    this.responseFinished(ex);
  }

  responseFinished(ex: Exchange): void {
    if (ex.done) return;
    ex.done = true;
    this.ctx.stats.responses++;
    if (ex.response.closeAfter) {
      this.stopReading();
      // No more of its body will be read.
      if (!ex.body.complete && !ex.body.error) ex.body.fail(new HttpStreamError("ERR_HTTP_ABORTED", "connection closed after the response"));
    } else if (!ex.body.complete && !ex.body.error) this.startDrain(ex);
    this.advance();
  }

  /** Flushes finished exchanges at the head of the queue and starts the next one. */
  advance(): void {
    while (this.exchanges.length > 0 && !this.destroyed) {
      const head = this.exchanges[0]!;
      if (head.done) {
        this.exchanges.shift();
        if (head.response.closeAfter) {
          if (head.response.statusCode >= 400) this.ctx.stats.closedAfterError++;
          this.finishConnection();
          return;
        }
        const next = this.exchanges[0];
        if (next) this.flushOutbox(next);
        continue;
      }
      break;
    }
    if (this.exchanges.length < this.ctx.opts.maxPipelinedRequests) this.setPausedBy("pipeline", false);
    if (this.exchanges.length === 0 && (this.stopped || this.peerEnded)) {
      this.finishConnection();
      return;
    }
    this.updateTimers();
  }

  flushOutbox(ex: Exchange): void {
    const out = ex.outbox;
    ex.outbox = null;
    ex.outboxBytes = 0;
    let ok = true;
    if (out !== null) for (const b of out) ok = this.write(b);
    if (ok && !ex.done) ex.response.fireDrain();
  }

  /** Writes to the stream; a blocked write arms the send timeout until the next drain. */
  write(bytes: Uint8Array): boolean {
    const more = this.stream.write(bytes);
    if (!more && this.sendTimer === null && !this.destroyed) {
      this.sendTimer = this.ctx.clock.setTimer(this.ctx.clock.now() + this.ctx.opts.sendTimeoutMs, () => {
        this.sendTimer = null;
        this.ctx.stats.timeouts++;
        this.destroy();
      });
    }
    return more;
  }

  onDrain(): void {
    this.cancel("sendTimer");
    const head = this.exchanges[0];
    if (head && !head.done) head.response.fireDrain();
  }

  setPausedBy(reason: string, paused: boolean): void {
    const before = this.pausedBy.size > 0;
    if (paused) this.pausedBy.add(reason);
    else this.pausedBy.delete(reason);
    const after = this.pausedBy.size > 0;
    if (before === after || this.destroyed || this.stopped) return;
    if (after) {
      this.parser.pause();
      this.stream.pause();
    } else {
      this.stream.resume();
      const r = this.parser.resume();
      if (!r.ok) this.onParseError(r.error);
      else if (this.peerEnded) this.onPeerEnd();
    }
  }

  stopReading(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.setPhase(PHASE_NONE);
    this.parser.pause();
    this.cancel("headersTimer");
    this.cancel("idleTimer");
  }

  updateTimers(): void {
    this.updatePhase();
    if (this.destroyed || this.stopped) return;
    const p = this.parser;
    if (p.inMessage && !p.inBody) {
      this.cancel("idleTimer");
      if (this.headersTimer === null && this.current === null) this.armHeaders();
    } else if (!p.inMessage && this.exchanges.length === 0) {
      this.cancel("headersTimer");
      if (this.idleTimer === null) {
        const { ctx } = this;
        const ms = ctx.timeout(ctx.opts.keepAliveTimeoutMs, ctx.opts.minKeepAliveTimeoutMs, this.source);
        this.idleShrunk = ms < ctx.opts.keepAliveTimeoutMs;
        this.idleArmedAt = ctx.clock.now();
        this.idleTimer = ctx.clock.setTimer(this.idleArmedAt + ms, this.onIdleTimeout);
      }
    } else {
      this.cancel("idleTimer");
      if (!p.inMessage) this.cancel("headersTimer");
    }
  }

  armHeaders(): void {
    this.cancel("idleTimer");
    const { ctx } = this;
    const ms = ctx.timeout(ctx.opts.headersTimeoutMs, ctx.opts.minHeadersTimeoutMs, this.source);
    this.headersShrunk = ms < ctx.opts.headersTimeoutMs;
    this.headersArmedAt = ctx.clock.now();
    this.headersTimer = ctx.clock.setTimer(this.headersArmedAt + ms, this.onHeadersTimeout);
  }

  /**
   * Fires a running header, keep-alive or request timer early when the timeout of the current
   * load has passed (counted under pressure); true while this connection's load is past the threshold.
   */
  applyPressure(): boolean {
    const { ctx } = this;
    const o = ctx.opts;
    if (this.destroyed || ctx.load(this.source) <= o.pressureThreshold) return false;
    const now = ctx.clock.now();
    if (this.headersTimer !== null && now - this.headersArmedAt >= ctx.timeout(o.headersTimeoutMs, o.minHeadersTimeoutMs, this.source)) {
      this.cancel("headersTimer");
      this.headersShrunk = true;
      this.onHeadersTimeout();
    } else if (this.idleTimer !== null && now - this.idleArmedAt >= ctx.timeout(o.keepAliveTimeoutMs, o.minKeepAliveTimeoutMs, this.source)) {
      this.cancel("idleTimer");
      this.idleShrunk = true;
      this.onIdleTimeout();
    } else if (
      this.requestTimer !== null &&
      this.draining === null &&
      now - this.requestArmedAt >= ctx.timeout(o.requestTimeoutMs, o.minRequestTimeoutMs, this.source)
    ) {
      this.cancel("requestTimer");
      this.requestShrunk = true;
      this.onRequestTimeout();
    }
    return true;
  }

  /** Timer callbacks, bound once per connection (the timers are re-armed per request). */
  readonly onIdleTimeout = (): void => {
    this.idleTimer = null;
    if (this.idleShrunk) this.ctx.stats.timeoutsUnderPressure++;
    this.shutdown();
  };
  readonly onHeadersTimeout = (): void => {
    this.headersTimer = null;
    if (this.stopped || this.destroyed) return;
    this.ctx.stats.timeouts++;
    if (this.headersShrunk) this.ctx.stats.timeoutsUnderPressure++;
    if (!this.parser.inMessage && this.exchanges.length === 0) {
      this.shutdown();
      return;
    }
    this.failRequest(408, "ETIMEDOUT", "request head");
  };

  readonly onRequestTimeout = (): void => {
    this.requestTimer = null;
    if (this.destroyed) return;
    this.ctx.stats.timeouts++;
    if (this.requestShrunk) this.ctx.stats.timeoutsUnderPressure++;
    this.failRequest(408, "ETIMEDOUT", "request body");
  };

  onPeerEnd(): void {
    this.peerEnded = true;
    if (this.destroyed || this.parser.paused) return;
    if (!this.stopped) {
      const r = this.parser.finish();
      if (!r.ok) {
        if (this.current) {
          // A body cut short: its handler cannot finish meaningfully.
          this.current.body.fail(new HttpStreamError("ECONNRESET", r.error));
          this.destroy();
          return;
        }
        // A partial head after complete requests: answer those, then close.
        this.stopReading();
        this.advance();
        return;
      }
    }
    if (this.exchanges.length === 0) this.finishConnection();
  }

  /** Closes when idle: now if nothing is in flight, otherwise after the queued responses. */
  shutdown(): void {
    this.closing = true;
    if (this.exchanges.length === 0) {
      this.stopReading();
      this.finishConnection();
    } else {
      this.stopReading();
    }
  }

  /** Sends FIN, then resets if the peer has not closed within the linger time. */
  finishConnection(): void {
    if (this.destroyed || this.endSent) return;
    this.endSent = true;
    this.stopReading();
    this.detach();
    this.cancel("idleTimer");
    this.cancel("requestTimer");
    this.stream.end();
    this.lingerTimer = this.ctx.clock.setTimer(this.ctx.clock.now() + this.ctx.opts.lingerMs, () => {
      this.lingerTimer = null;
      this.destroy();
    });
  }

  destroy(): void {
    if (this.destroyed) return;
    this.stream.destroy();
    this.onClose();
  }

  onClose(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    this.detach();
    for (const t of ["headersTimer", "requestTimer", "idleTimer", "lingerTimer", "sendTimer"] as const) this.cancel(t);
    for (const ex of this.exchanges) {
      ex.body.fail(new HttpStreamError("ECONNRESET", "connection closed"));
      if (!ex.done) ex.response.fireAbort();
    }
    this.exchanges.length = 0;
  }

  cancel(t: "headersTimer" | "requestTimer" | "idleTimer" | "lingerTimer" | "sendTimer"): void {
    const id = this[t];
    if (id !== null) {
      this.ctx.clock.cancel(id);
      this[t] = null;
    }
  }
}
