// HTTP/1.x serializer: heads, chunks and trailers into exactly-sized byte buffers.
// Names, targets and values are checked so application strings cannot split a message
// (RFC 9110 §5.5: no CR, LF or NUL in field values); misuse throws HttpUsageError.
//
// emitRequestHead / emitResponseHead   a start-line + field section + empty line (a response
//                                      optionally followed by its body in the same buffer)
// emitChunk / emitLastChunk            one chunk (RFC 9112 §7.1), the last chunk with trailers
// reasonPhrase(status)                 the usual reason phrase
// createSlabAllocator()                hands out message buffers as views of shared blocks
// assertHeader(name, value)            throws HttpUsageError for a field that could split a message
// HttpUsageError                       thrown for programmer misuse, with a stable `code`
import { isToken, isTokenChar, type HttpVersion } from "./parser.ts";
import type { HttpHeader } from "./headers.ts";
import { NetlabError } from "../../error.ts";

/** Thrown on programmer misuse (bad header from application code, write after end...). */
export class HttpUsageError extends NetlabError {
  constructor(code: string, message: string) {
    super(code, message);
    this.name = "HttpUsageError";
  }
}

export interface RequestHeadRepr {
  readonly method: string;
  readonly target: string;
  readonly version?: HttpVersion;
  readonly headers: Iterable<HttpHeader>;
}

export interface ResponseHeadRepr {
  readonly status: number;
  readonly reason?: string | undefined;
  readonly version?: HttpVersion;
  readonly headers: Iterable<HttpHeader>;
}

const REASONS: Record<number, string> = {
  100: "Continue",
  101: "Switching Protocols",
  200: "OK",
  201: "Created",
  202: "Accepted",
  204: "No Content",
  206: "Partial Content",
  301: "Moved Permanently",
  302: "Found",
  303: "See Other",
  304: "Not Modified",
  307: "Temporary Redirect",
  308: "Permanent Redirect",
  400: "Bad Request",
  401: "Unauthorized",
  403: "Forbidden",
  404: "Not Found",
  405: "Method Not Allowed",
  408: "Request Timeout",
  411: "Length Required",
  412: "Precondition Failed",
  413: "Content Too Large",
  414: "URI Too Long",
  416: "Range Not Satisfiable",
  417: "Expectation Failed",
  431: "Request Header Fields Too Large",
  500: "Internal Server Error",
  501: "Not Implemented",
  503: "Service Unavailable",
  505: "HTTP Version Not Supported",
};

/** The registered reason phrase of a status code, or "" when unknown. */
export function reasonPhrase(status: number): string {
  return REASONS[status] ?? "";
}

/** Throws HttpUsageError unless `name` is a token and `value` a valid field value (RFC 9110 §5.5). */
export function assertHeader(name: string, value: string): void {
  if (!isToken(name)) throw new HttpUsageError("ERR_HTTP_INVALID_HEADER_NAME", `invalid header name ${JSON.stringify(name)}`);
  checkValue(value, "header", name);
}

function checkValue(v: string, what: string, name?: string): void {
  for (let i = 0; i < v.length; i++) {
    const c = v.charCodeAt(i);
    if ((c < 0x20 && c !== 9) || c === 0x7f || c > 0xff) {
      throw new HttpUsageError("ERR_HTTP_INVALID_CHAR", `invalid character 0x${c.toString(16)} in ${what}${name === undefined ? "" : ` ${name}`}`);
    }
  }
}

/** Allocates the buffer of one outgoing message (every byte of it is then written). */
export type Allocate = (n: number) => Uint8Array;

const allocateFresh: Allocate = (n) => new Uint8Array(n);

/** Messages longer than this get a buffer of their own from the slab allocator. */
const SLAB_MESSAGE_MAX = 1024;

/** The first block of a slab allocator; each next one is twice the last, up to its block size. */
const SLAB_FIRST_BLOCK = 1024;

/** A slab allocator's block before its first one (no room: the next message makes one). */
const NO_ROOM = new Uint8Array(0);

/**
 * An Allocate that hands out consecutive views of blocks: V8 gives every typed array over
 * 64 bytes its own out-of-line backing store, which costs more than writing a small head.
 * The first message gets a buffer of its own (a head of 64 bytes or less then lives on V8's heap,
 * with no backing store at all), and blocks grow from SLAB_FIRST_BLOCK to `blockSize`: an owner
 * that sends a message or two (a client making one request) does not zero and hold a whole
 * block. No range is handed out twice, so a receiver may keep a view (a by-reference TCP write
 * does); a block lives as long as one of its views.
 */
export function createSlabAllocator(blockSize = 16384): Allocate {
  let block: Uint8Array | null = null;
  let used = 0;
  return (n) => {
    if (n > SLAB_MESSAGE_MAX) return new Uint8Array(n);
    if (block === null) {
      block = NO_ROOM;
      return new Uint8Array(n);
    }
    if (used + n > block.length) {
      block = new Uint8Array(Math.min(blockSize, Math.max(SLAB_FIRST_BLOCK, block.length * 2)));
      used = 0;
    }
    const view = block.subarray(used, used + n);
    used += n;
    return view;
  };
}

function writeLatin1(out: Uint8Array, at: number, s: string): number {
  for (let i = 0; i < s.length; i++) out[at + i] = s.charCodeAt(i);
  return at + s.length;
}

const START_REQUEST = 0,
  START_RESPONSE = 1,
  START_LAST_CHUNK = 2;

/** Writes a field name, throwing HttpUsageError unless it is a token (checked as it is copied). */
function writeName(out: Uint8Array, at: number, name: string): number {
  if (name.length === 0) throw new HttpUsageError("ERR_HTTP_INVALID_HEADER_NAME", `invalid header name ${JSON.stringify(name)}`);
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (!isTokenChar(c)) throw new HttpUsageError("ERR_HTTP_INVALID_HEADER_NAME", `invalid header name ${JSON.stringify(name)}`);
    out[at + i] = c;
  }
  return at + name.length;
}

/** Writes a field value, throwing HttpUsageError for CR, LF, NUL and other controls (checked as it is copied). */
function writeValue(out: Uint8Array, at: number, value: string, name: string): number {
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if ((c < 0x20 && c !== 9) || c === 0x7f || c > 0xff) {
      throw new HttpUsageError("ERR_HTTP_INVALID_CHAR", `invalid character 0x${c.toString(16)} in header ${name}`);
    }
    out[at + i] = c;
  }
  return at + value.length;
}

/**
 * The head, followed by `body` (if any) in the same buffer. The start line is
 * `a SP b SP HTTP/c` (request), `HTTP/a SP b SP c` (response) or `a` (last chunk);
 * its parts were checked by the caller. Fields are checked in order while they are
 * copied (the first bad one throws, as a check before copying would).
 */
function emitHead(start: number, a: string, b: string, c: string, headers: Iterable<HttpHeader>, body: Uint8Array | undefined, allocate: Allocate): Uint8Array {
  const startLen = start === START_LAST_CHUNK ? a.length : a.length + b.length + c.length + 7;
  let size = startLen + 2 + 2;
  const list: readonly HttpHeader[] = Array.isArray(headers) ? headers : [...headers];
  for (let i = 0; i < list.length; i++) {
    const h = list[i]!;
    size += h[0].length + 2 + h[1].length + 2;
  }
  const out = allocate(size + (body === undefined ? 0 : body.length));
  let at: number;
  if (start === START_REQUEST) {
    at = writeLatin1(out, 0, a);
    out[at++] = 32;
    at = writeLatin1(out, at, b);
    at = writeLatin1(out, at, " HTTP/");
    at = writeLatin1(out, at, c);
  } else if (start === START_RESPONSE) {
    at = writeLatin1(out, 0, "HTTP/");
    at = writeLatin1(out, at, a);
    out[at++] = 32;
    at = writeLatin1(out, at, b);
    out[at++] = 32;
    at = writeLatin1(out, at, c);
  } else {
    at = writeLatin1(out, 0, a);
  }
  out[at++] = 13;
  out[at++] = 10;
  for (let i = 0; i < list.length; i++) {
    const h = list[i]!;
    at = writeName(out, at, h[0]);
    out[at++] = 58;
    out[at++] = 32;
    at = writeValue(out, at, h[1], h[0]);
    out[at++] = 13;
    out[at++] = 10;
  }
  out[at++] = 13;
  out[at++] = 10;
  if (body !== undefined) out.set(body, at);
  return out;
}

/** Serializes a request line and fields. */
export function emitRequestHead(r: RequestHeadRepr, allocate: Allocate = allocateFresh): Uint8Array {
  if (!isToken(r.method)) throw new HttpUsageError("ERR_HTTP_INVALID_METHOD", `invalid method ${JSON.stringify(r.method)}`);
  for (let i = 0; i < r.target.length; i++) {
    const c = r.target.charCodeAt(i);
    if (c <= 0x20 || c >= 0x7f) throw new HttpUsageError("ERR_HTTP_INVALID_TARGET", "request-target must be visible ASCII");
  }
  if (r.target.length === 0) throw new HttpUsageError("ERR_HTTP_INVALID_TARGET", "empty request-target");
  return emitHead(START_REQUEST, r.method, r.target, r.version ?? "1.1", r.headers, undefined, allocate);
}

/** Serializes a status line and fields, followed by `body` when given (one buffer for a small response). */
export function emitResponseHead(r: ResponseHeadRepr, body?: Uint8Array, allocate: Allocate = allocateFresh): Uint8Array {
  if (!Number.isInteger(r.status) || r.status < 100 || r.status > 999) {
    throw new HttpUsageError("ERR_HTTP_INVALID_STATUS_CODE", `invalid status ${r.status}`);
  }
  const reason = r.reason ?? reasonPhrase(r.status);
  checkValue(reason, "reason phrase");
  return emitHead(START_RESPONSE, r.version ?? "1.1", statusText(r.status), reason, r.headers, body, allocate);
}

/** The three digits of a status code (100-999). */
function statusText(status: number): string {
  return status === 200 ? "200" : String(status);
}

/** One chunk: hex size CRLF data CRLF. An empty `data` yields an empty array (not the last chunk). */
export function emitChunk(data: Uint8Array): Uint8Array {
  if (data.length === 0) return new Uint8Array(0);
  const hex = data.length.toString(16);
  const out = new Uint8Array(hex.length + 2 + data.length + 2);
  let at = writeLatin1(out, 0, hex);
  out[at++] = 13;
  out[at++] = 10;
  out.set(data, at);
  at += data.length;
  out[at++] = 13;
  out[at] = 10;
  return out;
}

/** The last chunk "0" CRLF, trailer fields, CRLF. */
export function emitLastChunk(trailers: Iterable<HttpHeader> = []): Uint8Array {
  return emitHead(START_LAST_CHUNK, "0", "", "", trailers, undefined, allocateFresh);
}
