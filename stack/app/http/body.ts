// An incoming message body (a request at the server, a response at the client) as the
// application reads it: push (onData/onEnd) or pull (for await), with flow control back to
// the connection: chunks are buffered until read, and the connection pauses while more
// than `highWaterMark` bytes wait or the reader has paused.
//
// IncomingBody       the body reader (producer methods are for the connection only)
// HttpStreamError    the error a failed body rejects or reports, with a stable `code`

import type { StreamErrorCode } from "../../transport/types.ts";
import type { HttpHeaders } from "./headers.ts";
import { utf8Decode } from "./utf8.ts";
import { NetlabError } from "../../error.ts";

export type BodyErrorCode = StreamErrorCode | "ERR_HTTP_PARSE" | "ERR_HTTP_BODY_TOO_LARGE" | "ERR_HTTP_ABORTED" | "ERR_HTTP_CONNECT" | "ERR_HTTP_CLIENT_CLOSED";

/** A body, request or connection failure; `code` is stable, `detail` names the cause (e.g. a parse error). */
export class HttpStreamError extends NetlabError {
  declare readonly code: BodyErrorCode;
  readonly detail: string | undefined;
  constructor(code: BodyErrorCode, detail?: string) {
    super(code, detail === undefined ? code : `${code}: ${detail}`);
    this.name = "HttpStreamError";
    this.detail = detail;
  }
}

export interface BodyHooks {
  /** The connection should stop (true) or restart (false) reading. */
  setPaused(paused: boolean): void;
  /** The application began reading (a server sends 100 Continue here). */
  onFirstRead(): void;
}

/** A readable body. */
export class IncomingBody {
  // Arrays are allocated on first use: most bodies are one chunk (or none) read by one handler.
  #queue: Uint8Array[] | null = null;
  #queued = 0;
  #dataHandlers: ((d: Uint8Array) => void)[] | null = null;
  #endHandlers: ((t: HttpHeaders | null) => void)[] | null = null;
  #errorHandlers: ((e: HttpStreamError) => void)[] | null = null;
  #ended = false;
  #endDelivered = false;
  #error: HttpStreamError | null = null;
  #userPaused = false;
  #pulling = false;
  #wake: (() => void) | null = null;
  #read = false;
  #discard = false;
  #flowPaused = false;
  #trailers: HttpHeaders | null = null;
  #received = 0;
  readonly #hooks: BodyHooks;
  readonly #highWaterMark: number;

  constructor(hooks: BodyHooks, highWaterMark = 64 * 1024) {
    this.#hooks = hooks;
    this.#highWaterMark = highWaterMark;
  }

  /** The body ended normally. */
  get complete(): boolean {
    return this.#ended && this.#error === null;
  }
  /** Trailer fields of a chunked body, once complete. */
  get trailers(): HttpHeaders | null {
    return this.#trailers;
  }
  /** Bytes received so far. */
  get bytesReceived(): number {
    return this.#received;
  }
  get error(): HttpStreamError | null {
    return this.#error;
  }

  /** Receives each chunk (a view valid during the call unless copied). Starts the flow. */
  onData(handler: (data: Uint8Array) => void): void {
    (this.#dataHandlers ??= []).push(handler);
    this.#startReading();
    this.#flush();
  }
  /** Called once when the body is complete, with trailers if any. */
  onEnd(handler: (trailers: HttpHeaders | null) => void): void {
    (this.#endHandlers ??= []).push(handler);
    this.#flush();
  }
  onError(handler: (e: HttpStreamError) => void): void {
    (this.#errorHandlers ??= []).push(handler);
    if (this.#error) handler(this.#error);
  }
  pause(): void {
    this.#userPaused = true;
    this.#updateFlow();
  }
  resume(): void {
    this.#userPaused = false;
    this.#flush();
  }

  /** Collects the whole body; rejects with ERR_HTTP_BODY_TOO_LARGE beyond `maxBytes`. */
  bytes(maxBytes = 16 * 1024 * 1024): Promise<Uint8Array> {
    return new Promise((resolve, reject) => {
      const parts: Uint8Array[] = [];
      let n = 0;
      let done = false;
      this.onError((e) => {
        if (!done) {
          done = true;
          reject(e);
        }
      });
      this.onData((d) => {
        if (done) return;
        n += d.length;
        if (n > maxBytes) {
          done = true;
          this.#discard = true;
          reject(new HttpStreamError("ERR_HTTP_BODY_TOO_LARGE", `more than ${maxBytes} bytes`));
          return;
        }
        parts.push(d.slice());
      });
      this.onEnd(() => {
        if (done) return;
        done = true;
        const out = new Uint8Array(n);
        let at = 0;
        for (const p of parts) {
          out.set(p, at);
          at += p.length;
        }
        resolve(out);
      });
    });
  }
  /** Collects the body as UTF-8 text. */
  async text(maxBytes?: number): Promise<string> {
    return utf8Decode(await this.bytes(maxBytes));
  }
  /** Reads and drops the rest of the body. */
  discard(): void {
    this.#discard = true;
    this.#queue = null;
    this.#queued = 0;
    this.#startReading();
    this.#flush();
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<Uint8Array, void, undefined> {
    if (this.#pulling || this.#dataHandlers !== null) throw new HttpStreamError("ERR_HTTP_ABORTED", "body already being read");
    this.#pulling = true;
    this.#startReading();
    for (;;) {
      const chunk = this.#queue?.shift();
      if (chunk) {
        this.#queued -= chunk.length;
        this.#updateFlow();
        yield chunk;
        continue;
      }
      if (this.#error) throw this.#error;
      if (this.#ended) {
        this.#deliverEnd();
        return;
      }
      await new Promise<void>((r) => {
        this.#wake = r;
      });
    }
  }

  /** Connection side: a chunk arrived (a view into the connection's buffer). */
  push(data: Uint8Array): void {
    if (this.#ended || this.#error) return;
    this.#received += data.length;
    if (this.#discard) return;
    const handlers = this.#dataHandlers;
    if (handlers !== null && !this.#userPaused && (this.#queue === null || this.#queue.length === 0)) {
      for (const h of handlers) h(data);
      return;
    }
    (this.#queue ??= []).push(data.slice());
    this.#queued += data.length;
    this.#wakeUp();
    this.#updateFlow();
  }
  /** Connection side: the body is complete. */
  end(trailers: HttpHeaders | null): void {
    if (this.#ended || this.#error) return;
    this.#ended = true;
    this.#trailers = trailers;
    this.#wakeUp();
    this.#flush();
    this.#updateFlow();
  }
  /** Connection side: the body failed. */
  fail(e: HttpStreamError): void {
    if (this.#ended || this.#error) return;
    this.#error = e;
    this.#queue = null;
    this.#queued = 0;
    this.#wakeUp();
    this.#updateFlow();
    if (this.#errorHandlers !== null) for (const h of this.#errorHandlers) h(e);
  }
  /** True once the application has started reading (or discarding). */
  get reading(): boolean {
    return this.#read;
  }

  #startReading(): void {
    if (this.#read) return;
    this.#read = true;
    this.#hooks.onFirstRead();
  }
  #wakeUp(): void {
    const w = this.#wake;
    this.#wake = null;
    if (w) w();
  }
  #flush(): void {
    if (this.#error) return;
    if (!this.#pulling && (this.#dataHandlers !== null || this.#discard)) {
      // #queue is read again each round: a handler may discard, fail or pause the body
      for (let q = this.#queue; q !== null && !this.#userPaused && q.length > 0; q = this.#queue) {
        const chunk = q.shift()!;
        this.#queued -= chunk.length;
        if (this.#dataHandlers !== null) for (const h of this.#dataHandlers) h(chunk);
      }
    }
    if (this.#ended && (this.#queue === null || this.#queue.length === 0) && !this.#pulling) this.#deliverEnd();
    this.#updateFlow();
  }
  #deliverEnd(): void {
    if (this.#endDelivered || this.#endHandlers === null) return;
    this.#endDelivered = true;
    for (const h of this.#endHandlers) h(this.#trailers);
  }
  #updateFlow(): void {
    const want = !this.#ended && !this.#error && !this.#discard && (this.#userPaused || this.#queued > this.#highWaterMark);
    if (want !== this.#flowPaused) {
      this.#flowPaused = want;
      this.#hooks.setPaused(want);
    }
  }
}
