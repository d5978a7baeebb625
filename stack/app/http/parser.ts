// Incremental HTTP/1.x message parser (RFC 9112), strict enough to refuse request
// smuggling shapes. Bytes arrive in arbitrary chunks; events go to callbacks; failures are
// Result errors with stable codes and the parser stays failed. Never throws on input.
//
// createRequestParser(handlers, limits)   parser for a server's inbound requests
// createResponseParser(handlers, limits)  parser for a client's inbound responses
// statusForParseError(code)               the status a server answers a parse error with
// DEFAULT_PARSER_LIMITS                   the limits used when none are given
import { err, ok, type Result } from "../../result.ts";
import { HttpHeaders, asciiLower, listTokens, type HttpHeader } from "./headers.ts";

export type HttpVersion = "1.0" | "1.1";

/** How the body of a message is delimited (RFC 9112 §6.3). */
export type BodyKind = "none" | "length" | "chunked" | "until-close";

/** A parsed request head with its framing already decided. */
export interface HttpRequestHead {
  readonly method: string;
  readonly target: string;
  readonly version: HttpVersion;
  readonly headers: HttpHeaders;
  readonly bodyKind: BodyKind;
  /** Declared Content-Length, or null for chunked / none. */
  readonly contentLength: number | null;
  /** True when the connection may carry another request after this one (RFC 9112 §9.3). */
  readonly keepAlive: boolean;
  /** `Expect: 100-continue` on an HTTP/1.1 request (RFC 9110 §10.1.1). */
  readonly expectContinue: boolean;
  /** An Expect value other than 100-continue (a server answers 417), or null. */
  readonly unsupportedExpect: string | null;
}

/** A parsed response head with its framing already decided. */
export interface HttpResponseHead {
  readonly version: HttpVersion;
  readonly status: number;
  readonly reason: string;
  readonly headers: HttpHeaders;
  readonly bodyKind: BodyKind;
  readonly contentLength: number | null;
  readonly keepAlive: boolean;
}

export type HttpParseError =
  | "bad-request-line"
  | "bad-method"
  | "bad-target"
  | "bad-version"
  | "unsupported-version"
  | "bad-status-line"
  | "bare-lf"
  | "bare-cr"
  | "bad-header-name"
  | "whitespace-before-colon"
  | "obs-fold"
  | "bad-header-value"
  | "bad-content-length"
  | "duplicate-content-length"
  | "content-length-with-transfer-encoding"
  | "bad-transfer-encoding"
  | "unsupported-transfer-coding"
  | "transfer-encoding-in-http10"
  | "missing-host"
  | "duplicate-host"
  | "bad-chunk-size"
  | "chunk-size-overflow"
  | "bad-chunk-extension"
  | "chunk-extension-too-long"
  | "bad-chunk-terminator"
  | "framing-field-in-trailers"
  | "uri-too-long"
  | "headers-too-large"
  | "too-many-headers"
  | "body-too-large"
  | "incomplete";

/** Size limits; exceeding one is a parse error with its own code. */
export interface HttpParserLimits {
  /** Longest request-target (414 beyond). */
  readonly maxUriBytes: number;
  /** Total bytes of the field section, and separately of the trailer section (431 beyond). */
  readonly maxHeaderBytes: number;
  /** Most field lines in the field section or trailer section (431 beyond). */
  readonly maxHeaderCount: number;
  /** Largest body, declared or received (413 beyond). */
  readonly maxBodyBytes: number;
  /** Longest chunk-size line including extensions. */
  readonly maxChunkLineBytes: number;
  /** Requests: HTTP/1.1 needs exactly one Host (RFC 9112 §3.2). */
  readonly requireHost: boolean;
}

export const DEFAULT_PARSER_LIMITS: HttpParserLimits = {
  maxUriBytes: 8192,
  maxHeaderBytes: 16384,
  maxHeaderCount: 100,
  maxBodyBytes: 16 * 1024 * 1024,
  maxChunkLineBytes: 4096,
  requireHost: true,
};

/** Status code a server sends for a parse error before closing. */
export function statusForParseError(e: HttpParseError): number {
  switch (e) {
    case "uri-too-long":
      return 414;
    case "headers-too-large":
    case "too-many-headers":
      return 431;
    case "body-too-large":
      return 413;
    case "unsupported-version":
      return 505;
    case "unsupported-transfer-coding":
      return 501;
    default:
      return 400;
  }
}

export interface RequestParserHandlers {
  onHead(head: HttpRequestHead): void;
  onBody(data: Uint8Array): void;
  onComplete(trailers: HttpHeaders | null): void;
}

export interface ResponseParserHandlers {
  /** Return true when the body must be skipped (answer to HEAD, RFC 9112 §6.3 rule 1). */
  onHead(head: HttpResponseHead): boolean | void;
  onBody(data: Uint8Array): void;
  onComplete(trailers: HttpHeaders | null): void;
}

/** A push parser; bodies arrive as views into the pushed chunks. */
export interface HttpParser {
  /** Feeds bytes; the first error is returned now and by every later call. */
  push(chunk: Uint8Array): Result<void, HttpParseError>;
  /** Signals end of input: completes an until-close body, or reports "incomplete". */
  finish(): Result<void, HttpParseError>;
  /** Stops delivering events after the current callback; later bytes are held. */
  pause(): void;
  /** Delivers held bytes and continues. */
  resume(): Result<void, HttpParseError>;
  readonly paused: boolean;
  /** Bytes of a message have been received and the message is not complete. */
  readonly inMessage: boolean;
  /** The head of the current message has been parsed, the body is not complete. */
  readonly inBody: boolean;
  readonly error: HttpParseError | null;
}

const S_START = 0,
  S_HEADERS = 1,
  S_BODY_LENGTH = 2,
  S_CHUNK_SIZE = 3,
  S_CHUNK_DATA = 4,
  S_CHUNK_CRLF = 5,
  S_TRAILERS = 6,
  S_BODY_CLOSE = 7,
  S_FAILED = 8;

const CR = 13,
  LF = 10,
  SP = 32,
  HTAB = 9,
  COLON = 58;
const MAX_LEADING_EMPTY_LINES = 8;
/** The line buffer of a parser that has not needed one yet (zero bytes: nothing is ever written to it). */
const NO_LINE = new Uint8Array(0);

/** Content-Length or Transfer-Encoding, in any case: the fields that frame a message (RFC 9112 §6). */
function isFramingField(name: string): boolean {
  if (name.length !== 14 && name.length !== 17) return false;
  const lower = asciiLower(name);
  return lower === "content-length" || lower === "transfer-encoding";
}

// Byte classes of the per-byte loops, looked up and tested for truth rather than compared with
// literals: one table read per byte, and in a fuzz build no comparison hook per byte (Jazzer.js
// calls into libFuzzer, ~40 ns, for each comparison with a numeric literal it evaluates).

/** TCHAR's mark of a tchar. */
const TOKEN = 1;
/** tchar (RFC 9110 §5.6.2) lookup: TOKEN for a tchar, 0 otherwise. */
const TCHAR = (() => {
  const t = new Uint8Array(256);
  for (let c = 0x30; c <= 0x39; c++) t[c] = TOKEN;
  for (let c = 0x41; c <= 0x5a; c++) t[c] = TOKEN;
  for (let c = 0x61; c <= 0x7a; c++) t[c] = TOKEN;
  for (const ch of "!#$%&'*+-.^_`|~") t[ch.charCodeAt(0)] = TOKEN;
  return t;
})();

/** Non-zero for a control byte other than HTAB, and DEL: what a field value, reason phrase or quoted string may not hold (RFC 9110 §5.5, §5.6.4). */
const CTL = (() => {
  const t = new Uint8Array(256);
  for (let c = 0; c < 0x20; c++) t[c] = 1;
  t[HTAB] = 0;
  t[0x7f] = 1;
  return t;
})();

/** Non-zero for a byte a request-target may not hold: controls, SP, DEL and above (RFC 9112 §3.2). */
const NOT_IN_TARGET = (() => {
  const t = new Uint8Array(256);
  for (let c = 0; c <= 0x20; c++) t[c] = 1;
  for (let c = 0x7f; c < 256; c++) t[c] = 1;
  return t;
})();

/** True for a tchar (RFC 9110 §5.6.2) code unit. */
export function isTokenChar(c: number): boolean {
  return c < TCHAR.length && TCHAR[c] === TOKEN;
}

/**
 * RFC 9112 §7.1.1: chunk-ext = *( BWS ";" BWS chunk-ext-name [ BWS "=" BWS chunk-ext-val ] ),
 * a name a token, a value a token or a quoted-string. b[from, to) starts at the first ";".
 * Anything else is refused: a lenient reading here is where two parsers start to disagree on
 * where a chunk ends.
 */
function validChunkExtensions(b: Uint8Array, from: number, to: number): boolean {
  let j = from;
  const bws = (): void => {
    while (j < to && (b[j] === SP || b[j] === HTAB)) j++;
  };
  const token = (): boolean => {
    const start = j;
    while (j < to && TCHAR[b[j]!]) j++;
    return j > start;
  };
  while (j < to) {
    if (b[j] !== 59) return false;
    j++;
    bws();
    if (!token()) return false;
    bws();
    if (j < to && b[j] === 61) {
      j++;
      bws();
      if (j < to && b[j] === 34) {
        j++;
        for (;;) {
          if (j >= to) return false;
          const c = b[j]!;
          if (c === 34) {
            j++;
            break;
          }
          if (c === 92) {
            const q = b[j + 1];
            if (j + 1 >= to || q === undefined || CTL[q]) return false;
            j += 2;
            continue;
          }
          if (CTL[c]) return false;
          j++;
        }
      } else if (!token()) return false;
      bws();
    }
  }
  return true;
}

/** True for a non-empty string of tchars. */
export function isToken(s: string): boolean {
  if (s.length === 0) return false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (!isTokenChar(c)) return false;
  }
  return true;
}

/** Up to this many bytes a string is built a char at a time (faster than fromCharCode.apply). */
const SHORT_STRING = 24;

function latin1(b: Uint8Array, start: number, end: number): string {
  let s = "";
  if (end - start <= SHORT_STRING) {
    for (let i = start; i < end; i++) s += String.fromCharCode(b[i]!);
    return s;
  }
  for (let i = start; i < end; i += 4096) {
    s += String.fromCharCode.apply(null, b.subarray(i, Math.min(end, i + 4096)) as unknown as number[]);
  }
  return s;
}

/** FNV-1a offset basis as an int32 (a double start value would keep the hash loops off the integer path). */
const FNV_OFFSET = 0x811c9dc5 | 0;
const CACHE_SLOTS = 64;
/** Longest name or value kept in a cache slot. */
const CACHED_MAX = 128;
/** Framing role of a field name (noteFraming), or not yet known for a cache slot. */
const F_NONE = 0,
  F_HOST = 1,
  F_EXPECT = 2,
  F_CONNECTION = 3,
  F_CONTENT_LENGTH = 4,
  F_TRANSFER_ENCODING = 5,
  F_UNKNOWN = 255;

/** A field name decoded recently, with the last value seen for it. */
interface FieldSlot {
  readonly hash: number;
  readonly bytes: Uint8Array;
  readonly name: string;
  /** Framing role of the name (F_UNKNOWN until asked). */
  role: number;
  /** Bytes and string of the last value of this name (null: none yet). */
  valueBytes: Uint8Array | null;
  value: string;
}

/**
 * Field names decoded recently, by the FNV-1a hash of their bytes (direct-mapped: a
 * collision or another name in the slot just decodes again), each with the last value
 * seen for it: names and most values repeat from message to message on a connection
 * (Host, Content-Type, Date within a second...). Slots keep the bytes next to the
 * strings, so a hit is confirmed byte by byte. Slots are made as names arrive, so a
 * parser that reads one message pays little more than decoding it.
 */
class FieldCache {
  readonly #slots = new Array<FieldSlot | undefined>(CACHE_SLOTS);
  /** Slot of the last name looked up, null when the name was too long to cache. */
  slot: FieldSlot | null = null;
  /** The name of bytes b[start, end), whose FNV-1a hash (as int32) is `hash`. */
  name(hash: number, b: Uint8Array, start: number, end: number): string {
    const n = end - start;
    if (n > CACHED_MAX) {
      this.slot = null;
      return latin1(b, start, end);
    }
    const i = hash & (CACHE_SLOTS - 1);
    const s = this.#slots[i];
    if (s !== undefined && s.hash === hash && s.bytes.length === n) {
      const bytes = s.bytes;
      let k = 0;
      while (k < n && bytes[k] === b[start + k]) k++;
      if (k === n) {
        this.slot = s;
        return s.name;
      }
    }
    const name = latin1(b, start, end);
    const fresh: FieldSlot = { hash, bytes: b.slice(start, end), name, role: F_UNKNOWN, valueBytes: null, value: "" };
    this.#slots[i] = fresh;
    this.slot = fresh;
    return name;
  }
}

function framingRole(name: string): number {
  switch (name.length) {
    case 4:
      return asciiLower(name) === "host" ? F_HOST : F_NONE;
    case 6:
      return asciiLower(name) === "expect" ? F_EXPECT : F_NONE;
    case 10:
      return asciiLower(name) === "connection" ? F_CONNECTION : F_NONE;
    case 14:
      return asciiLower(name) === "content-length" ? F_CONTENT_LENGTH : F_NONE;
    case 17:
      return asciiLower(name) === "transfer-encoding" ? F_TRANSFER_ENCODING : F_NONE;
    default:
      return F_NONE;
  }
}

function hexValue(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 65 && c <= 70) return c - 55;
  if (c >= 97 && c <= 102) return c - 87;
  return -1;
}

/**
 * The scheme and authority of an absolute-form target (RFC 3986 §3.1, §3.2): scheme "://" then
 * [ userinfo "@" ] host [ ":" port ], the host a reg-name (unreserved, pct-encoded, sub-delims) or
 * an IP-literal in brackets, up to the path or query. A byte no URI allows there (a "{", a "`"),
 * or a fragment right after it (an absolute-URI has none), makes the target invalid (400), as
 * llhttp refuses it: two parsers of one request must not disagree on whether it is one. The path
 * and query are left as loose as llhttp's (Node's server passes "{", "|" or "#" in them on).
 */
const ABSOLUTE_FORM =
  /^[A-Za-z][A-Za-z0-9+.-]*:\/\/(?:[A-Za-z0-9\-._~!$&'()*+,;=:%]*@)?(?:\[[A-Za-z0-9\-._~!$&'()*+,;=:%]+\]|[A-Za-z0-9\-._~!$&'()*+,;=%]+)(?::[0-9]*)?(?:[/?]|$)/;

/** Request-target forms of RFC 9112 §3.2: origin, absolute, authority (CONNECT), asterisk (OPTIONS). */
function validTarget(method: string, target: string): boolean {
  if (method === "CONNECT") return /^[A-Za-z0-9.\-_~!$&'()*+,;=%[\]:]+:[0-9]+$/.test(target);
  if (target === "*") return method === "OPTIONS";
  if (target.charCodeAt(0) === 47) return true;
  return ABSOLUTE_FORM.test(target);
}

type Kind = "request" | "response";

interface Shared {
  onBody(data: Uint8Array): void;
  onComplete(trailers: HttpHeaders | null): void;
}

/**
 * The parser object createParser returns: its methods and state are closures over the parser's
 * state. A class, not an object literal with getters: V8 builds a literal with accessors through
 * the runtime, ~50 times slower than this (a parser is made per connection and per message framed).
 */
class ParserHandle implements HttpParser {
  readonly #paused: () => boolean;
  readonly #inMessage: () => boolean;
  readonly #inBody: () => boolean;
  readonly #error: () => HttpParseError | null;
  constructor(
    readonly push: (chunk: Uint8Array) => Result<void, HttpParseError>,
    readonly finish: () => Result<void, HttpParseError>,
    readonly pause: () => void,
    readonly resume: () => Result<void, HttpParseError>,
    paused: () => boolean,
    inMessage: () => boolean,
    inBody: () => boolean,
    error: () => HttpParseError | null,
  ) {
    this.#paused = paused;
    this.#inMessage = inMessage;
    this.#inBody = inBody;
    this.#error = error;
  }
  get paused(): boolean {
    return this.#paused();
  }
  get inMessage(): boolean {
    return this.#inMessage();
  }
  get inBody(): boolean {
    return this.#inBody();
  }
  get error(): HttpParseError | null {
    return this.#error();
  }
}

function createParser(
  kind: Kind,
  handlers: Shared & { onHead(head: HttpRequestHead | HttpResponseHead): boolean | void },
  limitsIn: Partial<HttpParserLimits>,
): HttpParser {
  const limits: HttpParserLimits = { ...DEFAULT_PARSER_LIMITS, ...limitsIn };
  let state = S_START;
  let failure: HttpParseError | null = null;
  let paused = false;
  let held: Uint8Array | null = null;
  let inMessage = false;
  let emptyLines = 0;

  /** A line split across pushes is assembled here (allocated when one first is: most never are). */
  let line = NO_LINE;
  let lineLen = 0;

  let version: HttpVersion = "1.1";
  let method = "";
  let target = "";
  let status = 0;
  let reason = "";
  let fields: HttpHeader[] = [];
  /** Recently seen field names and their last values, so common ones are not rebuilt per message. */
  const fieldCache = new FieldCache();
  let hostCount = 0;
  let expectValues: string[] = [];
  let connValues: string[] = [];
  let clValues: string[] = [];
  let teValues: string[] = [];
  let sectionBytes = 0;
  let remaining = 0;
  let bodyTotal = 0;
  let crlfSeen = 0;

  const fail = (e: HttpParseError): Result<void, HttpParseError> => {
    failure = e;
    state = S_FAILED;
    held = null;
    return err(e);
  };

  const appendLine = (src: Uint8Array): void => {
    if (lineLen + src.length > line.length) {
      let n = Math.max(256, line.length * 2);
      while (n < lineLen + src.length) n *= 2;
      const bigger = new Uint8Array(n);
      bigger.set(line.subarray(0, lineLen));
      line = bigger;
    }
    line.set(src, lineLen);
    lineLen += src.length;
  };

  /** The byte budget of the line being assembled in the current state. */
  const lineBudget = (): number => {
    // (if, not switch: see run())
    if (state === S_START) return limits.maxUriBytes + 64;
    if (state === S_HEADERS || state === S_TRAILERS) return limits.maxHeaderBytes - sectionBytes;
    return limits.maxChunkLineBytes;
  };

  const overBudget = (partial: Uint8Array, len: number): HttpParseError => {
    switch (state) {
      case S_START: {
        if (kind === "request") {
          const sp = partial.subarray(0, len).indexOf(SP);
          return sp > 0 ? "uri-too-long" : "bad-request-line";
        }
        return "bad-status-line";
      }
      case S_HEADERS:
      case S_TRAILERS:
        return "headers-too-large";
      default:
        return "chunk-extension-too-long";
    }
  };

  const resetMessage = (): void => {
    state = S_START;
    hostCount = 0;
    if (expectValues.length > 0) expectValues = [];
    if (connValues.length > 0) connValues = [];
    if (clValues.length > 0) clValues = [];
    if (teValues.length > 0) teValues = [];
    inMessage = false;
    emptyLines = 0;
    fields = [];
    sectionBytes = 0;
    bodyTotal = 0;
    method = "";
    target = "";
  };

  const complete = (trailers: HttpHeaders | null): void => {
    resetMessage();
    handlers.onComplete(trailers);
  };

  const parseRequestLine = (b: Uint8Array, o: number, n: number): HttpParseError | null => {
    let sp1 = o;
    while (sp1 < n && b[sp1] !== SP) {
      if (!TCHAR[b[sp1]!]) return "bad-method";
      sp1++;
    }
    if (sp1 === o || sp1 === n) return "bad-request-line";
    let tEnd = sp1 + 1;
    while (tEnd < n && b[tEnd] !== SP) tEnd++;
    if (tEnd === n || tEnd === sp1 + 1) return "bad-request-line";
    if (tEnd - sp1 - 1 > limits.maxUriBytes) return "uri-too-long";
    for (let i = sp1 + 1; i < tEnd; i++) {
      const c = b[i]!;
      if (NOT_IN_TARGET[c]) return "bad-target";
    }
    const v = parseVersion(b, tEnd + 1, n);
    if (v !== "1.0" && v !== "1.1") return v;
    method = latin1(b, o, sp1);
    target = latin1(b, sp1 + 1, tEnd);
    version = v;
    if (!validTarget(method, target)) return "bad-target";
    return null;
  };

  /** Parses exactly "HTTP/d.d" in b[start, end); returns the version or an error code. */
  const parseVersion = (b: Uint8Array, start: number, end: number): HttpVersion | HttpParseError => {
    if (end - start !== 8) return "bad-version";
    if (b[start] !== 72 || b[start + 1] !== 84 || b[start + 2] !== 84 || b[start + 3] !== 80 || b[start + 4] !== 47) return "bad-version";
    const major = b[start + 5]! - 48,
      dot = b[start + 6]!,
      minor = b[start + 7]! - 48;
    if (major < 0 || major > 9 || dot !== 46 || minor < 0 || minor > 9) return "bad-version";
    if (major !== 1) return "unsupported-version";
    // RFC 9110 §6.2: a higher minor version is handled as the highest one we support.
    return minor === 0 ? "1.0" : "1.1";
  };

  const parseStatusLine = (b: Uint8Array, o: number, n: number): HttpParseError | null => {
    if (n - o < 12 || b[o + 8] !== SP || (n - o > 12 && b[o + 12] !== SP)) return "bad-status-line";
    const v = parseVersion(b, o, o + 8);
    if (v !== "1.0" && v !== "1.1") return v === "unsupported-version" ? v : "bad-status-line";
    let code = 0;
    for (let i = o + 9; i < o + 12; i++) {
      const d = b[i]! - 48;
      if (d < 0 || d > 9) return "bad-status-line";
      code = code * 10 + d;
    }
    if (code < 100) return "bad-status-line";
    for (let i = o + 13; i < n; i++) {
      const c = b[i]!;
      if (CTL[c]) return "bad-status-line";
    }
    version = v;
    status = code;
    reason = n - o > 13 ? latin1(b, o + 13, n) : "";
    return null;
  };

  /** Parses one field line b[o, n) (without CRLF) into `fields`. */
  const parseField = (b: Uint8Array, o: number, n: number): HttpParseError | null => {
    const first = b[o]!;
    // RFC 9112 §5.2: obs-fold in a request is answered with 400; §2.2 whitespace before the first field likewise.
    if (first === SP || first === HTAB) return "obs-fold";
    let colon = -1;
    let hash = FNV_OFFSET;
    for (let i = o; i < n; i++) {
      const c = b[i]!;
      if (c === COLON) {
        colon = i;
        break;
      }
      if (!TCHAR[c]) {
        if (c === SP || c === HTAB) {
          let j = i;
          while (j < n && (b[j] === SP || b[j] === HTAB)) j++;
          // RFC 9112 §5.1: whitespace between field name and colon -> 400.
          return b[j] === COLON ? "whitespace-before-colon" : "bad-header-name";
        }
        return "bad-header-name";
      }
      hash = Math.imul(hash ^ c, 16777619);
    }
    if (colon <= o) return "bad-header-name";
    let vs = colon + 1;
    while (vs < n && (b[vs] === SP || b[vs] === HTAB)) vs++;
    let ve = n;
    while (ve > vs && (b[ve - 1] === SP || b[ve - 1] === HTAB)) ve--;
    const name = fieldCache.name(hash, b, o, colon);
    const slot = fieldCache.slot;
    // One pass validates the value and compares it with the last value of this name.
    const last = slot === null ? null : slot.valueBytes;
    let same = last !== null && last.length === ve - vs;
    for (let i = vs; i < ve; i++) {
      const c = b[i]!;
      if (CTL[c]) return "bad-header-value";
      if (same && last![i - vs] !== c) same = false;
    }
    if (fields.length >= limits.maxHeaderCount) return "too-many-headers";
    let value: string;
    if (same) value = slot!.value;
    else if (vs === ve) value = "";
    else {
      value = latin1(b, vs, ve);
      if (slot !== null && ve - vs <= CACHED_MAX) {
        slot.valueBytes = b.slice(vs, ve);
        slot.value = value;
      }
    }
    fields.push([name, value]);
    if (state === S_HEADERS) {
      // Collects the fields that decide framing, without a lower-casing pass over every name.
      let role = slot === null ? F_UNKNOWN : slot.role;
      if (role === F_UNKNOWN) {
        role = framingRole(name);
        if (slot !== null) slot.role = role;
      }
      switch (role) {
        case F_HOST:
          hostCount++;
          break;
        case F_EXPECT:
          expectValues.push(value);
          break;
        case F_CONNECTION:
          connValues.push(value);
          break;
        case F_CONTENT_LENGTH:
          clValues.push(value);
          break;
        case F_TRANSFER_ENCODING:
          teValues.push(value);
          break;
      }
    }
    return null;
  };

  /** Decides framing once the field section is complete (RFC 9112 §6.1-6.3). */
  const finishHead = (): HttpParseError | null => {
    const headers = new HttpHeaders(fields);
    const hasTe = teValues.length > 0;
    let contentLength: number | null = null;
    if (clValues.length > 1) return "duplicate-content-length";
    if (clValues.length === 1) {
      const v = clValues[0]!;
      if (v.length === 0) return "bad-content-length";
      for (let i = 0; i < v.length; i++) {
        const c = v.charCodeAt(i);
        if (c < 48 || c > 57) return "bad-content-length";
      }
      const n = Number(v);
      if (!Number.isSafeInteger(n)) return "bad-content-length";
      contentLength = n;
    }
    let chunked = false;
    let unknownCoding = false;
    if (hasTe) {
      if (kind === "request" && version === "1.0") return "transfer-encoding-in-http10";
      if (contentLength !== null) return "content-length-with-transfer-encoding";
      const teTokens = listTokens(teValues);
      if (teTokens.length === 0) return "bad-transfer-encoding";
      const last = teTokens[teTokens.length - 1]!;
      chunked = last === "chunked";
      for (let i = 0; i < teTokens.length - 1; i++) if (teTokens[i] === "chunked") return "bad-transfer-encoding";
      if (chunked && teTokens.length > 1) return "unsupported-transfer-coding";
      if (!chunked) {
        // RFC 9112 §6.3 rule 4: a request whose final coding is not chunked -> 400.
        if (kind === "request") return "bad-transfer-encoding";
        unknownCoding = true;
      }
    }
    let keepAlive: boolean;
    if (connValues.length === 0) keepAlive = version === "1.1";
    else {
      const conn = listTokens(connValues);
      keepAlive = version === "1.1" ? !conn.includes("close") : conn.includes("keep-alive") && !conn.includes("close");
    }

    if (kind === "request") {
      const hosts = hostCount;
      if (hosts > 1) return "duplicate-host";
      if (limits.requireHost && version === "1.1" && hosts === 0) return "missing-host";
      if (contentLength !== null && contentLength > limits.maxBodyBytes) return "body-too-large";
      const bodyKind: BodyKind = chunked ? "chunked" : contentLength !== null && contentLength > 0 ? "length" : "none";
      const expect = expectValues.length === 0 ? undefined : expectValues.join(", ");
      const expectContinue = version === "1.1" && expect !== undefined && asciiLower(expect) === "100-continue";
      const head: HttpRequestHead = {
        method,
        target,
        version,
        headers,
        bodyKind,
        contentLength,
        keepAlive,
        expectContinue,
        unsupportedExpect: expect !== undefined && asciiLower(expect) !== "100-continue" ? expect : null,
      };
      inMessage = true;
      handlers.onHead(head);
      enterBody(bodyKind, contentLength);
      return null;
    }

    let bodyKind: BodyKind;
    if (status < 200 || status === 204 || status === 304) bodyKind = "none";
    else if (chunked) bodyKind = "chunked";
    else if (unknownCoding) bodyKind = "until-close";
    else if (contentLength !== null) bodyKind = contentLength > 0 ? "length" : "none";
    else bodyKind = "until-close";
    if (bodyKind === "length" && contentLength! > limits.maxBodyBytes) return "body-too-large";
    if (bodyKind === "until-close") keepAlive = false;
    const head: HttpResponseHead = { version, status, reason, headers, bodyKind, contentLength, keepAlive };
    const skip = handlers.onHead(head) === true;
    if (status >= 100 && status < 200) {
      resetMessage();
      return null;
    }
    enterBody(skip ? "none" : bodyKind, contentLength);
    return null;
  };

  const enterBody = (bodyKind: BodyKind, contentLength: number | null): void => {
    switch (bodyKind) {
      case "none":
        complete(null);
        break;
      case "length":
        state = S_BODY_LENGTH;
        remaining = contentLength!;
        break;
      case "chunked":
        state = S_CHUNK_SIZE;
        break;
      case "until-close":
        state = S_BODY_CLOSE;
        break;
    }
  };

  /** Parses "hex [BWS ; ext...]" (RFC 9112 §7.1). Sets `remaining`. */
  const parseChunkSize = (b: Uint8Array, o: number, n: number): HttpParseError | null => {
    let i = o;
    let size = 0;
    while (i < n && hexValue(b[i]!) >= 0) {
      size = size * 16 + hexValue(b[i]!);
      if (size > Number.MAX_SAFE_INTEGER) return "chunk-size-overflow";
      i++;
    }
    if (i === o) return "bad-chunk-size";
    if (i < n) {
      let j = i;
      while (j < n && (b[j] === SP || b[j] === HTAB)) j++;
      if (j === n || b[j] !== 59) return "bad-chunk-size";
      if (!validChunkExtensions(b, j, n)) return "bad-chunk-extension";
    }
    if (bodyTotal + size > limits.maxBodyBytes) return "body-too-large";
    remaining = size;
    return null;
  };

  /** Handles one complete line b[o, n) (CRLF stripped) for the current state. */
  const onLine = (b: Uint8Array, o: number, n: number): HttpParseError | null => {
    switch (state) {
      case S_START: {
        if (n === o) {
          // RFC 9112 §2.2: ignore a few empty lines before a request-line.
          if (kind === "request" && ++emptyLines <= MAX_LEADING_EMPTY_LINES) {
            inMessage = true;
            return null;
          }
          return kind === "request" ? "bad-request-line" : "bad-status-line";
        }
        inMessage = true;
        const e = kind === "request" ? parseRequestLine(b, o, n) : parseStatusLine(b, o, n);
        if (e) return e;
        state = S_HEADERS;
        sectionBytes = 0;
        return null;
      }
      case S_HEADERS: {
        sectionBytes += n - o + 2;
        if (sectionBytes > limits.maxHeaderBytes) return "headers-too-large";
        if (n === o) return finishHead();
        return parseField(b, o, n);
      }
      case S_CHUNK_SIZE: {
        const e = parseChunkSize(b, o, n);
        if (e) return e;
        if (remaining === 0) {
          state = S_TRAILERS;
          sectionBytes = 0;
          fields = [];
        } else {
          state = S_CHUNK_DATA;
        }
        return null;
      }
      case S_TRAILERS: {
        sectionBytes += n - o + 2;
        if (sectionBytes > limits.maxHeaderBytes) return "headers-too-large";
        if (n === o) {
          complete(fields.length > 0 ? new HttpHeaders(fields) : null);
          return null;
        }
        const e = parseField(b, o, n);
        if (e) return e;
        // RFC 9110 §6.5.1: fields that frame the message are not processed from trailers; a
        // sender must not generate them there (§6.5), so such a message is refused, as llhttp does.
        return isFramingField(fields[fields.length - 1]![0]) ? "framing-field-in-trailers" : null;
      }
      default:
        return null;
    }
  };

  /** Runs the state machine over `chunk`; stops early when paused (rest goes to `held`). */
  const run = (chunk: Uint8Array): Result<void, HttpParseError> => {
    let i = 0;
    const len = chunk.length;
    while (i < len) {
      if (paused) {
        held = chunk.subarray(i);
        return ok(undefined);
      }
      // An if-chain, not a switch: a fuzz build hooks every case test a switch on an identifier evaluates.
      if (state === S_START || state === S_HEADERS || state === S_CHUNK_SIZE || state === S_TRAILERS) {
        if (state === S_START) inMessage = true;
        // The line's LF (or the chunk's end) and the first CR before it, found natively: a byte
        // loop here costs a coverage hook and three comparison hooks per byte under a fuzzer.
        // The CR search may run past a line without one, which then ends the parse (bare LF),
        // or to the chunk's end: linear in the chunk.
        let lf = chunk.indexOf(LF, i);
        if (lf < 0) lf = len;
        let firstCr = chunk.indexOf(CR, i);
        if (firstCr >= lf) firstCr = -1;
        const budget = lineBudget();
        // Errors in a line are reported in stream order, by the line position of the byte that
        // shows them, so the verdict does not depend on where the input was cut: a stray CR
        // shows at the byte after it, an over-long line at its (budget + 1)th byte (a CR that
        // may be the line's own, last so far, is not counted), a bare LF at the LF. On a tie
        // the stray CR is reported.
        if (lf === len) {
          const piece = chunk.subarray(i);
          let strayAt = -1;
          if (lineLen > 0 && line[lineLen - 1] === CR) strayAt = lineLen;
          else if (firstCr >= 0 && firstCr < len - 1) strayAt = lineLen + firstCr - i + 1;
          const overAt = lineLen + piece.length - (chunk[len - 1] === CR ? 1 : 0) > budget ? budget : -1;
          if (strayAt >= 0 && (overAt < 0 || strayAt <= overAt)) return fail("bare-cr");
          if (overAt >= 0) {
            appendLine(piece.subarray(0, Math.max(0, budget + 1 - lineLen)));
            return fail(overBudget(line, lineLen));
          }
          appendLine(piece);
          return ok(undefined);
        }
        let b: Uint8Array;
        let o: number;
        let n: number;
        const joined = lineLen > 0;
        if (joined) {
          appendLine(chunk.subarray(i, lf));
          b = line;
          o = 0;
          n = lineLen;
        } else {
          b = chunk;
          o = i;
          n = lf;
        }
        i = lf + 1;
        lineLen = 0;
        let strayAt = -1;
        if (joined) {
          for (let k = o; k < n - 1; k++)
            if (b[k] === CR) {
              strayAt = k - o + 1;
              break;
            }
        } else if (firstCr >= 0 && firstCr < n - 1) {
          strayAt = firstCr - o + 1;
        }
        const hasCr = n > o && b[n - 1] === CR;
        const overAt = n - o - (hasCr ? 1 : 0) > budget ? budget : -1;
        if (strayAt >= 0 && (overAt < 0 || strayAt <= overAt)) return fail("bare-cr");
        if (overAt >= 0) return fail(overBudget(b.subarray(o, o + budget + 1), budget + 1));
        if (!hasCr) return fail("bare-lf");
        n--;
        const e = onLine(b, o, n);
        if (e) return fail(e);
      } else if (state === S_BODY_LENGTH || state === S_CHUNK_DATA) {
        const take = Math.min(remaining, len - i);
        const data = chunk.subarray(i, i + take);
        i += take;
        remaining -= take;
        bodyTotal += take;
        if (remaining === 0) {
          if (state === S_BODY_LENGTH) {
            handlers.onBody(data);
            complete(null);
          } else {
            state = S_CHUNK_CRLF;
            crlfSeen = 0;
            handlers.onBody(data);
          }
        } else {
          handlers.onBody(data);
        }
      } else if (state === S_CHUNK_CRLF) {
        const c = chunk[i++]!;
        if (crlfSeen === 0) {
          if (c !== CR) return fail("bad-chunk-terminator");
          crlfSeen = 1;
        } else {
          if (c !== LF) return fail("bad-chunk-terminator");
          state = S_CHUNK_SIZE;
        }
      } else if (state === S_BODY_CLOSE) {
        const data = chunk.subarray(i);
        i = len;
        if (bodyTotal + data.length > limits.maxBodyBytes) return fail("body-too-large");
        bodyTotal += data.length;
        handlers.onBody(data);
      } else {
        return err(failure ?? "incomplete");
      }
    }
    if (state === S_START && lineLen === 0 && emptyLines === 0) inMessage = false;
    return ok(undefined);
  };

  return new ParserHandle(
    (chunk) => {
      if (failure) return err(failure);
      if (paused || held) {
        if (chunk.length === 0) return ok(undefined);
        if (held) {
          const joined = new Uint8Array(held.length + chunk.length);
          joined.set(held);
          joined.set(chunk, held.length);
          held = joined;
        } else {
          held = chunk.slice();
        }
        if (paused) return ok(undefined);
        const h = held;
        held = null;
        return run(h);
      }
      return run(chunk);
    },
    () => {
      if (failure) return err(failure);
      if (held && held.length > 0) return ok(undefined);
      if (state === S_BODY_CLOSE) {
        complete(null);
        return ok(undefined);
      }
      if (state === S_START && lineLen === 0) {
        inMessage = false;
        return ok(undefined);
      }
      return fail("incomplete");
    },
    () => {
      paused = true;
    },
    () => {
      paused = false;
      if (failure) return err(failure);
      if (!held) return ok(undefined);
      const h = held;
      held = null;
      return run(h);
    },
    () => paused,
    () => inMessage || lineLen > 0 || held !== null,
    () =>
      state === S_BODY_LENGTH || state === S_CHUNK_SIZE || state === S_CHUNK_DATA || state === S_CHUNK_CRLF || state === S_TRAILERS || state === S_BODY_CLOSE,
    () => failure,
  );
}

/** A parser for requests arriving at a server. */
export function createRequestParser(handlers: RequestParserHandlers, limits: Partial<HttpParserLimits> = {}): HttpParser {
  return createParser("request", handlers as Shared & { onHead(h: HttpRequestHead | HttpResponseHead): void }, limits);
}

/** A parser for responses arriving at a client. */
export function createResponseParser(handlers: ResponseParserHandlers, limits: Partial<HttpParserLimits> = {}): HttpParser {
  return createParser("response", handlers as Shared & { onHead(h: HttpRequestHead | HttpResponseHead): boolean | void }, {
    maxBodyBytes: Number.MAX_SAFE_INTEGER,
    ...limits,
  });
}
