// HTTP/1.1 client over ByteStreams (netlab TCP or any stream factory): a per-host pool with
// keep-alive reuse, optional pipelining, Content-Length / chunked / streamed request bodies,
// Expect: 100-continue, HTTP/1.0, streamed response bodies, and inactivity / connect timeouts
// on the injected Clock. A request whose reused connection closes before any response byte
// is retried once on a fresh connection (RFC 9112 §9.3.1) when its body can be replayed.
// Dual stack: a host is an IPv4 address (a number, opened through tcp/connect) or an IPv6
// address (16 bytes, opened through tcp6/connect6; Host is the bracketed IP-literal).
//
// createHttpClient(deps, options)   the client; request() resolves at the response head
// HttpClientResponse                status, headers and a readable body
import { err, type Result } from "../../result.ts";
import type { Clock, TimerId } from "../../time.ts";
import type { ByteStream, StreamErrorCode, TcpLayer } from "../../transport/types.ts";
import { formatIpv4, type Ipv4Address } from "../../wire/address.ts";
import { formatIpv6, type Ipv6Address } from "../../wire/ipv6-address.ts";
import { HttpStreamError, IncomingBody, type BodyHooks } from "./body.ts";
import { createSlabAllocator, emitChunk, emitLastChunk, emitRequestHead } from "./emit.ts";
import { HttpHeaders, type HttpHeader } from "./headers.ts";
import { createResponseParser, type HttpParser, type HttpParserLimits, type HttpResponseHead, type HttpVersion } from "./parser.ts";
import { utf8Encode } from "./utf8.ts";

export interface HttpClientDeps {
  readonly clock: Clock;
  readonly tcp?: TcpLayer;
  /** Opens a stream to host:port; defaults to tcp.connect. */
  readonly connect?: (host: Ipv4Address, port: number) => Result<ByteStream, string>;
  /** TCP over IPv6 (stack.tcp6) for hosts given as IPv6 addresses. */
  readonly tcp6?: { connect(dst: Ipv6Address, dstPort: number): Result<ByteStream, string> };
  /** Opens a stream to an IPv6 host; defaults to tcp6.connect. */
  readonly connect6?: (host: Ipv6Address, port: number) => Result<ByteStream, string>;
  /**
   * Runs a callback request's callback after the event that settled it has returned; default: one
   * microtask later, as a promise would. A caller driving everything from a VirtualClock (a fuzz
   * target) may queue it and run the queue between clock steps, staying synchronous.
   */
  readonly defer?: (fn: () => void) => void;
}

/** An HTTP host: an IPv4 address or an IPv6 address. */
export type HttpHost = Ipv4Address | Ipv6Address;

export interface HttpClientOptions {
  /** Reuse connections between requests. */
  readonly keepAlive?: boolean;
  readonly maxConnectionsPerHost?: number;
  /** An idle kept-alive connection is closed after this long. */
  readonly idleTimeoutMs?: number;
  /** A request fails with ETIMEDOUT when its connection is silent this long. */
  readonly timeoutMs?: number;
  readonly connectTimeoutMs?: number;
  /** Requests in flight per connection (1 = no pipelining). Only bodies given as bytes are pipelined. */
  readonly pipeline?: number;
  /** How long to wait for 100 Continue before sending the body anyway (RFC 9110 §10.1.1). */
  readonly continueTimeoutMs?: number;
  readonly limits?: Partial<HttpParserLimits>;
  /** Unread response bytes buffered before the connection pauses. */
  readonly highWaterMark?: number;
  readonly userAgent?: string | null;
}

export type HttpRequestBody = Uint8Array | string | AsyncIterable<Uint8Array | string>;

export interface HttpRequestOptions {
  readonly host: HttpHost;
  readonly port?: number;
  readonly method?: string;
  readonly path?: string;
  readonly headers?: Record<string, string | number> | readonly HttpHeader[];
  /** Bytes/strings are sent with Content-Length; an async iterable is sent chunked (HTTP/1.1). */
  readonly body?: HttpRequestBody | null;
  readonly version?: HttpVersion;
  readonly timeoutMs?: number;
  readonly expectContinue?: boolean;
  /** Trailer fields after a chunked body. */
  readonly trailers?: readonly HttpHeader[];
}

export interface HttpClientResponse {
  readonly status: number;
  readonly reason: string;
  readonly version: HttpVersion;
  readonly headers: HttpHeaders;
  readonly body: IncomingBody;
  /** This response arrived on a connection that had served an earlier request. */
  readonly reused: boolean;
}

export interface HttpClientStats {
  requests: number;
  connectionsOpened: number;
  reusedConnections: number;
  retries: number;
}

export interface HttpClient {
  request(o: HttpRequestOptions): Promise<HttpClientResponse>;
  request(o: HttpRequestOptions, callback: (e: HttpStreamError | null, res?: HttpClientResponse) => void): void;
  /** Closes idle connections and fails queued requests. */
  close(): void;
  readonly stats: Readonly<HttpClientStats>;
}

const DEFAULTS = {
  keepAlive: true,
  maxConnectionsPerHost: 6,
  idleTimeoutMs: 4_000,
  timeoutMs: 30_000,
  connectTimeoutMs: 10_000,
  pipeline: 1,
  continueTimeoutMs: 1_000,
  highWaterMark: 64 * 1024,
  userAgent: null as string | null,
};

/** How a request reports its outcome: a promise's resolving functions, or a callback. */
interface Settle {
  resolve(r: HttpClientResponse): void;
  reject(e: unknown): void;
}

/** Already fulfilled: a reaction on it runs one microtask later. */
const RESOLVED = Promise.resolve();

/** The default of HttpClientDeps.defer: one microtask later. */
const deferToMicrotask = (fn: () => void): void => {
  void RESOLVED.then(fn);
};

/**
 * Settles a callback request the way a promise would have: once, and after the outcome is
 * known (deps.defer, by default one microtask later: the callback never runs inside the
 * stream's event).
 */
class CallbackSettle implements Settle {
  #done = false;
  constructor(
    readonly callback: (e: HttpStreamError | null, res?: HttpClientResponse) => void,
    readonly defer: (fn: () => void) => void,
  ) {}
  resolve(r: HttpClientResponse): void {
    if (this.#done) return;
    this.#done = true;
    this.defer(() => this.callback(null, r));
  }
  reject(e: unknown): void {
    if (this.#done) return;
    this.#done = true;
    this.defer(() => this.callback(e as HttpStreamError));
  }
}

const IDEMPOTENT = new Set(["GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE"]);
const NO_HEADERS: readonly HttpHeader[] = [];

/** Creates an HTTP client. */
export function createHttpClient(deps: HttpClientDeps, options: HttpClientOptions = {}): HttpClient {
  const open =
    deps.connect ??
    ((host: Ipv4Address, port: number): Result<ByteStream, string> => {
      if (!deps.tcp) return err("no-transport");
      return deps.tcp.connect(host, port);
    });
  const open6 =
    deps.connect6 ??
    ((host: Ipv6Address, port: number): Result<ByteStream, string> => {
      if (!deps.tcp6) return err("no-transport");
      return deps.tcp6.connect(host, port);
    });
  const ctx = new ClientShared(deps.clock, open, open6, { ...DEFAULTS, ...options });
  const defer = deps.defer ?? deferToMicrotask;
  const client: HttpClient = {
    request(o: HttpRequestOptions, callback?: (e: HttpStreamError | null, res?: HttpClientResponse) => void): Promise<HttpClientResponse> | undefined {
      if (callback === undefined) return new Promise<HttpClientResponse>((resolve, reject) => ctx.start(o, { resolve, reject }));
      ctx.start(o, new CallbackSettle(callback, defer));
      return undefined;
    },
    close() {
      ctx.closed = true;
      for (const pool of ctx.pools.values()) {
        for (const p of pool.waiting.splice(0)) p.fail(new HttpStreamError("ERR_HTTP_CLIENT_CLOSED"));
        for (const c of [...pool.idle]) c.close();
      }
    },
    // The counters object itself (a data property: an object literal with a getter costs V8 a
    // runtime call, ~0.9 us, and a fuzz target makes a client per input).
    stats: ctx.stats,
  } as HttpClient;
  return client;
}

type ClientSettings = typeof DEFAULTS & HttpClientOptions;

interface Pool {
  readonly host: HttpHost;
  readonly port: number;
  readonly conns: Set<Conn>;
  idle: Conn[];
  waiting: Pending[];
}

/**
 * What the connections and requests of one client share, and the pool logic. The classes
 * live at module level, not inside createHttpClient: classes made per client would give
 * every client its own hidden classes, and the code all clients share would go
 * polymorphic on them.
 */
class ClientShared {
  /** Pools by host · 65536 + port (IPv4) or "[address]:port" (IPv6). */
  readonly pools = new Map<number | string, Pool>();
  /** Buffers of request heads are carved from shared blocks. */
  readonly allocate = createSlabAllocator();
  readonly stats: HttpClientStats = { requests: 0, connectionsOpened: 0, reusedConnections: 0, retries: 0 };
  closed = false;
  /** The Host value of the last host:port asked for (requests mostly go to one host), and
   * the field list holding only it (frozen, so it is shared by requests). */
  #lastHost: HttpHost = -1;
  #lastPort = -1;
  #lastHostValue = "";
  #lastHostOnly: readonly HttpHeader[] = NO_HEADERS;
  constructor(
    readonly clock: Clock,
    readonly open4: (host: Ipv4Address, port: number) => Result<ByteStream, string>,
    readonly open6: (host: Ipv6Address, port: number) => Result<ByteStream, string>,
    readonly opts: ClientSettings,
  ) {}

  open(host: HttpHost, port: number): Result<ByteStream, string> {
    return typeof host === "number" ? this.open4(host, port) : this.open6(host, port);
  }

  hostValue(host: HttpHost, port: number): string {
    // An IPv6 host is compared by identity: a caller reusing one array hits the cache.
    if (host !== this.#lastHost || port !== this.#lastPort) {
      this.#lastHost = host;
      this.#lastPort = port;
      // RFC 9110 §7.2, RFC 3986 §3.2.2: an IPv6 address in Host is an IP-literal in brackets.
      const name = typeof host === "number" ? formatIpv4(host) : `[${formatIpv6(host)}]`;
      this.#lastHostValue = port === 80 ? name : `${name}:${port}`;
      this.#lastHostOnly = Object.freeze([Object.freeze(["Host", this.#lastHostValue] as const)]);
    }
    return this.#lastHostValue;
  }
  hostOnly(host: HttpHost, port: number): readonly HttpHeader[] {
    this.hostValue(host, port);
    return this.#lastHostOnly;
  }

  requeue(pool: Pool, p: Pending, e: HttpStreamError): void {
    if (!p.replayable || p.response !== null) {
      p.fail(e);
      return;
    }
    p.conn = null;
    p.headSent = false;
    p.bodySent = false;
    p.awaitingContinue = p.o.expectContinue === true && (p.o.version ?? "1.1") === "1.1";
    pool.waiting.unshift(p);
  }

  dispatch(pool: Pool): void {
    while (pool.waiting.length > 0) {
      let conn: Conn | undefined;
      while (pool.idle.length > 0) {
        const c = pool.idle.pop()!;
        if (c.available) {
          conn = c;
          break;
        }
      }
      if (!conn && this.opts.pipeline > 1) {
        for (const c of pool.conns)
          if (c.available && pool.waiting[0]!.stream === null) {
            conn = c;
            break;
          }
      }
      if (!conn) {
        if (pool.conns.size >= this.opts.maxConnectionsPerHost) return;
        const r = this.open(pool.host, pool.port);
        if (!r.ok) {
          const p = pool.waiting.shift()!;
          p.fail(new HttpStreamError("ERR_HTTP_CONNECT", r.error));
          continue;
        }
        this.stats.connectionsOpened++;
        conn = new Conn(this, pool, r.value);
        pool.conns.add(conn);
      }
      conn.assign(pool.waiting.shift()!);
    }
  }

  /** Queues a request; whatever it throws rejects it (as inside a promise executor). */
  start(o: HttpRequestOptions, settle: Settle): void {
    try {
      if (this.closed) {
        settle.reject(new HttpStreamError("ERR_HTTP_CLIENT_CLOSED"));
        return;
      }
      let p: Pending;
      try {
        p = new Pending(this, o, settle);
      } catch (e) {
        settle.reject(e);
        return;
      }
      this.stats.requests++;
      const port = o.port ?? 80;
      const key = typeof o.host === "number" ? o.host * 65536 + port : `[${formatIpv6(o.host)}]:${port}`;
      let pool = this.pools.get(key);
      if (!pool) {
        pool = { host: typeof o.host === "number" ? o.host : o.host.slice(), port, conns: new Set(), idle: [], waiting: [] };
        this.pools.set(key, pool);
      }
      pool.waiting.push(p);
      this.dispatch(pool);
    } catch (e) {
      settle.reject(e);
    }
  }
}

class Pending {
  head!: Uint8Array;
  fixedBody: Uint8Array | null = null;
  stream: AsyncIterable<Uint8Array | string> | null = null;
  chunked = false;
  keepAlive: boolean;
  attempts = 0;
  headSent = false;
  bodySent = false;
  awaitingContinue = false;
  continueTimer: TimerId | null = null;
  response: HttpClientResponse | null = null;
  conn: Conn | null = null;
  settled = false;
  readonly method: string;
  readonly timeoutMs: number;
  constructor(
    readonly ctx: ClientShared,
    readonly o: HttpRequestOptions,
    readonly settle: Settle,
  ) {
    this.method = (o.method ?? "GET").toUpperCase();
    this.timeoutMs = o.timeoutMs ?? this.ctx.opts.timeoutMs;
    const version = o.version ?? "1.1";
    const port = o.port ?? 80;
    const body = o.body ?? null;
    if (typeof body === "string") this.fixedBody = utf8Encode(body);
    else if (body instanceof Uint8Array) this.fixedBody = body;
    else if (body !== null) this.stream = body;
    if (
      o.headers === undefined &&
      body === null &&
      version === "1.1" &&
      this.ctx.opts.keepAlive &&
      this.ctx.opts.userAgent === null &&
      o.expectContinue !== true
    ) {
      // No fields from the caller and nothing to frame: the head is the request line and Host,
      // what the general path below produces for these options (without a field list per request).
      this.keepAlive = true;
      this.head = emitRequestHead({ method: this.method, target: o.path ?? "/", version, headers: this.ctx.hostOnly(o.host, port) }, this.ctx.allocate);
      return;
    }
    const headers = new HttpHeaders();
    const given =
      o.headers === undefined
        ? NO_HEADERS
        : Array.isArray(o.headers)
          ? (o.headers as readonly HttpHeader[])
          : Object.entries(o.headers as Record<string, string | number>).map(([n, v]) => [n, String(v)] as const);
    for (const [n, v] of given) headers.append(n, v);
    if (!headers.has("host")) headers.set("Host", this.ctx.hostValue(o.host, port));
    if (this.ctx.opts.userAgent !== null && !headers.has("user-agent")) headers.set("User-Agent", this.ctx.opts.userAgent);
    if (this.fixedBody !== null) {
      headers.set("Content-Length", String(this.fixedBody.length));
    } else if (this.stream !== null && !headers.has("content-length")) {
      if (version === "1.0") throw new HttpStreamError("ERR_HTTP_ABORTED", "HTTP/1.0 streamed body needs a Content-Length header");
      headers.set("Transfer-Encoding", "chunked");
      this.chunked = true;
    }
    const wantKeepAlive = this.ctx.opts.keepAlive && !headers.tokens("connection").includes("close");
    if (!this.ctx.opts.keepAlive && !headers.has("connection")) headers.set("Connection", "close");
    if (version === "1.0" && wantKeepAlive && !headers.has("connection")) headers.set("Connection", "keep-alive");
    this.keepAlive = wantKeepAlive;
    if (o.expectContinue && version === "1.1" && (this.fixedBody !== null || this.stream !== null)) {
      headers.set("Expect", "100-continue");
      this.awaitingContinue = true;
    }
    this.head = emitRequestHead({ method: this.method, target: o.path ?? "/", version, headers: headers.raw }, this.ctx.allocate);
  }
  /** Can be sent again after a connection failed before any response byte. */
  get replayable(): boolean {
    return this.stream === null && IDEMPOTENT.has(this.method) && this.attempts < 2;
  }
  fail(e: HttpStreamError): void {
    if (this.continueTimer !== null) {
      this.ctx.clock.cancel(this.continueTimer);
      this.continueTimer = null;
    }
    if (this.response) this.response.body.fail(e);
    else if (!this.settled) {
      this.settled = true;
      this.settle.reject(e);
    }
  }
}

class Conn implements BodyHooks {
  readonly parser: HttpParser;
  readonly inflight: Pending[] = [];
  connected = false;
  dead = false;
  reusable = true;
  served = 0;
  sending = false;
  idleTimer: TimerId | null = null;
  activityTimer: TimerId | null = null;
  connectTimer: TimerId | null = null;
  pausedByBody = false;
  current: Pending | null = null;

  constructor(
    readonly ctx: ClientShared,
    readonly pool: Pool,
    readonly stream: ByteStream,
  ) {
    this.parser = createResponseParser(
      {
        onHead: (h) => this.onHead(h),
        onBody: (d) => this.current?.response?.body.push(d),
        onComplete: (t) => this.onComplete(t),
      },
      this.ctx.opts.limits ?? {},
    );
    stream.onConnect(() => this.onConnect());
    stream.onData((d) => this.onData(d));
    stream.onEnd(() => this.onEnd());
    stream.onClose((e) => this.onClose(e));
    stream.onDrain(() => {
      const w = this.drainWaiters;
      this.drainWaiters = [];
      for (const f of w) f();
    });
    this.connectTimer = this.ctx.clock.setTimer(this.ctx.clock.now() + this.ctx.opts.connectTimeoutMs, () => {
      this.connectTimer = null;
      if (!this.connected) this.abort(new HttpStreamError("ETIMEDOUT", "connect"));
    });
  }
  drainWaiters: (() => void)[] = [];

  onConnect(): void {
    if (this.dead) return;
    this.connected = true;
    if (this.connectTimer !== null) {
      this.ctx.clock.cancel(this.connectTimer);
      this.connectTimer = null;
    }
    for (const p of this.inflight) this.send(p);
  }

  assign(p: Pending): void {
    if (this.idleTimer !== null) {
      this.ctx.clock.cancel(this.idleTimer);
      this.idleTimer = null;
    }
    if (this.served > 0) this.ctx.stats.reusedConnections++;
    p.conn = this;
    p.attempts++;
    this.inflight.push(p);
    if (this.connected) this.send(p);
    this.armActivity();
  }

  send(p: Pending): void {
    if (this.dead || p.headSent || this.sending) return;
    p.headSent = true;
    this.stream.write(p.head);
    if (p.awaitingContinue) {
      p.continueTimer = this.ctx.clock.setTimer(this.ctx.clock.now() + this.ctx.opts.continueTimeoutMs, () => {
        p.continueTimer = null;
        this.sendBody(p);
      });
      return;
    }
    this.sendBody(p);
  }

  sendBody(p: Pending): void {
    if (this.dead || p.bodySent) return;
    p.awaitingContinue = false;
    if (p.continueTimer !== null) {
      this.ctx.clock.cancel(p.continueTimer);
      p.continueTimer = null;
    }
    if (p.stream === null) {
      if (p.fixedBody !== null && p.fixedBody.length > 0) this.stream.write(p.fixedBody);
      p.bodySent = true;
      return;
    }
    this.sending = true;
    void this.pump(p);
  }

  async pump(p: Pending): Promise<void> {
    try {
      for await (const piece of p.stream!) {
        if (this.dead || (p.settled && !p.response)) return;
        const bytes = typeof piece === "string" ? utf8Encode(piece) : piece;
        if (bytes.length === 0) continue;
        const ok = this.stream.write(p.chunked ? emitChunk(bytes) : bytes);
        this.armActivity();
        if (!ok) await new Promise<void>((r) => this.drainWaiters.push(r));
      }
      if (this.dead) return;
      if (p.chunked) this.stream.write(emitLastChunk(p.o.trailers ?? []));
      p.bodySent = true;
      this.sending = false;
      this.armActivity();
      this.ctx.dispatch(this.pool);
    } catch {
      this.abort(new HttpStreamError("ERR_HTTP_ABORTED", "request body source failed"));
    }
  }

  onData(d: Uint8Array): void {
    if (this.dead) return;
    this.armActivity();
    const r = this.parser.push(d);
    if (!r.ok) this.abort(new HttpStreamError("ERR_HTTP_PARSE", r.error));
  }

  onHead(h: HttpResponseHead): boolean {
    const p = this.inflight[0];
    if (!p) {
      this.abort(new HttpStreamError("ERR_HTTP_PARSE", "unsolicited response"));
      return true;
    }
    if (h.status < 200) {
      if (h.status === 100 && p.awaitingContinue) this.sendBody(p);
      return false;
    }
    // A final answer before the body was sent: the body will not follow, so the framing is lost.
    if (!p.bodySent) {
      p.bodySent = true;
      p.awaitingContinue = false;
      if (p.continueTimer !== null) {
        this.ctx.clock.cancel(p.continueTimer);
        p.continueTimer = null;
      }
      this.reusable = false;
    }
    this.current = p;
    const body = new IncomingBody(this, this.ctx.opts.highWaterMark);
    const res: HttpClientResponse = { status: h.status, reason: h.reason, version: h.version, headers: h.headers, body, reused: this.served > 0 };
    p.response = res;
    if (!h.keepAlive || !p.keepAlive) this.reusable = false;
    if (!p.settled) {
      p.settled = true;
      p.settle.resolve(res);
    }
    return p.method === "HEAD";
  }

  /** BodyHooks of the response bodies read from this connection. */
  setPaused(paused: boolean): void {
    if (this.dead || paused === this.pausedByBody) return;
    this.pausedByBody = paused;
    if (paused) {
      this.parser.pause();
      this.stream.pause();
    } else {
      this.stream.resume();
      const r = this.parser.resume();
      if (!r.ok) this.abort(new HttpStreamError("ERR_HTTP_PARSE", r.error));
    }
  }
  onFirstRead(): void {}

  onComplete(trailers: HttpHeaders | null): void {
    const p = this.inflight.shift();
    this.current = null;
    if (!p) return;
    this.served++;
    p.response?.body.end(trailers);
    if (!this.reusable) {
      for (const q of this.inflight.splice(0)) this.ctx.requeue(this.pool, q, new HttpStreamError("ECONNRESET", "connection not reusable"));
      this.close();
      this.ctx.dispatch(this.pool);
      return;
    }
    const next = this.inflight[0];
    if (next && !next.headSent && this.connected) this.send(next);
    if (this.inflight.length === 0) {
      this.cancelActivity();
      this.pool.idle.push(this);
      this.idleTimer = this.ctx.clock.setTimer(this.ctx.clock.now() + this.ctx.opts.idleTimeoutMs, this.onIdleTimeout);
    } else {
      this.armActivity();
    }
    this.ctx.dispatch(this.pool);
  }

  onEnd(): void {
    if (this.dead) return;
    const r = this.parser.finish();
    if (!r.ok) this.abort(new HttpStreamError("ECONNRESET", r.error));
    else if (this.inflight.length === 0) this.close();
    else this.abort(new HttpStreamError("ECONNRESET", "closed by peer"));
  }

  onClose(e?: StreamErrorCode): void {
    if (this.dead) return;
    const code: StreamErrorCode = e ?? "ECONNRESET";
    this.abort(new HttpStreamError(code, this.connected ? "connection closed" : "connect failed"));
  }

  /** Fails or requeues everything in flight and drops the connection. */
  abort(e: HttpStreamError): void {
    if (this.dead) return;
    this.kill();
    const list = this.inflight.splice(0);
    for (const p of list) {
      const untouched = p.response === null;
      // RFC 9112 §9.3.1: retry on a new connection only if nothing of the answer arrived.
      if (untouched && this.served > 0 && p.replayable && e.code !== "ETIMEDOUT" && e.code !== "ERR_HTTP_PARSE") {
        this.ctx.stats.retries++;
        this.ctx.requeue(this.pool, p, e);
      } else {
        p.fail(e);
      }
    }
    this.stream.destroy();
    this.ctx.dispatch(this.pool);
  }

  /** Gracefully closes (FIN) an idle or finished connection. */
  close(): void {
    if (this.dead) return;
    this.kill();
    this.stream.end();
    const s = this.stream;
    this.ctx.clock.setTimer(this.ctx.clock.now() + 2_000, () => s.destroy());
  }

  kill(): void {
    this.dead = true;
    this.pool.conns.delete(this);
    this.pool.idle = this.pool.idle.filter((c) => c !== this);
    for (const t of [this.idleTimer, this.activityTimer, this.connectTimer]) if (t !== null) this.ctx.clock.cancel(t);
    this.idleTimer = this.activityTimer = this.connectTimer = null;
    for (const f of this.drainWaiters.splice(0)) f();
  }

  armActivity(): void {
    this.cancelActivity();
    const p = this.inflight[0];
    if (!p) return;
    this.activityTimer = this.ctx.clock.setTimer(this.ctx.clock.now() + p.timeoutMs, this.onActivityTimeout);
  }
  /** Timer callbacks, bound once per connection (the timers are re-armed per request). */
  readonly onIdleTimeout = (): void => {
    this.idleTimer = null;
    this.close();
  };
  readonly onActivityTimeout = (): void => {
    this.activityTimer = null;
    this.abort(new HttpStreamError("ETIMEDOUT", "no data from server"));
  };
  cancelActivity(): void {
    if (this.activityTimer !== null) {
      this.ctx.clock.cancel(this.activityTimer);
      this.activityTimer = null;
    }
  }
  /** Can take one more request now. */
  get available(): boolean {
    if (this.dead || !this.reusable || this.sending) return false;
    if (this.inflight.length === 0) return true;
    const last = this.inflight[this.inflight.length - 1]!;
    // RFC 9112 §9.3.2: no pipelining after a non-idempotent request until its answer arrives.
    return this.inflight.length < this.ctx.opts.pipeline && last.stream === null && !last.awaitingContinue && IDEMPOTENT.has(last.method);
  }
}
