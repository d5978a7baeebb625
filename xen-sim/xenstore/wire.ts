// Xenstore wire protocol (xen/io/xs_wire.h, xen-abi.md §6): a 16-byte little-endian header
// { type, req_id, tx_id, len } followed by at most 4096 payload bytes. Untrusted input: the
// incremental decoder returns Results and never throws.
//   XS_*                  message type numbers
//   XsErrno               the errno names an ERROR reply may carry
//   XsMessage             one decoded message
//   emitXsMessage         header + payload into one fresh buffer
//   parseXsHeader         header view over 16 bytes
//   createXsDecoder       byte-stream framing (partial headers, many messages per chunk)
//   splitStrings / joinStrings / latin1 helpers for NUL-separated payloads
//   copyBytes             small copies without subarray views

import { err, ok, type Result } from "../../stack/result.ts";
import { NetlabError } from "../../stack/error.ts";

export const XS_DEBUG = 0;
export const XS_DIRECTORY = 1;
export const XS_READ = 2;
export const XS_GET_PERMS = 3;
export const XS_WATCH = 4;
export const XS_UNWATCH = 5;
export const XS_TRANSACTION_START = 6;
export const XS_TRANSACTION_END = 7;
export const XS_INTRODUCE = 8;
export const XS_RELEASE = 9;
export const XS_GET_DOMAIN_PATH = 10;
export const XS_WRITE = 11;
export const XS_MKDIR = 12;
export const XS_RM = 13;
export const XS_SET_PERMS = 14;
export const XS_WATCH_EVENT = 15;
export const XS_ERROR = 16;
export const XS_IS_DOMAIN_INTRODUCED = 17;
export const XS_RESUME = 18;
export const XS_SET_TARGET = 19;
export const XS_RESET_WATCHES = 21;
export const XS_DIRECTORY_PART = 22;

/** Highest type number the protocol defines (XS_TYPE_COUNT − 1). */
export const XS_TYPE_MAX = XS_DIRECTORY_PART;

/** Header field offsets and sizes. */
export const XS_HEADER_TYPE = 0;
export const XS_HEADER_REQ_ID = 4;
export const XS_HEADER_TX_ID = 8;
export const XS_HEADER_LEN = 12;
export const XS_HEADER_SIZE = 16;
/** XENSTORE_PAYLOAD_MAX. */
export const XS_PAYLOAD_MAX = 4096;
/** XENSTORE_ABS_PATH_MAX / XENSTORE_REL_PATH_MAX. */
export const XS_ABS_PATH_MAX = 3072;
export const XS_REL_PATH_MAX = 2048;

/** Errno names of ERROR replies (xsd_errors[] in xs_wire.h). */
export type XsErrno =
  | "EINVAL"
  | "EACCES"
  | "EEXIST"
  | "EISDIR"
  | "ENOENT"
  | "ENOMEM"
  | "ENOSPC"
  | "EIO"
  | "ENOTEMPTY"
  | "ENOSYS"
  | "EROFS"
  | "EBUSY"
  | "EAGAIN"
  | "EISCONN"
  | "E2BIG"
  | "EPERM";

export const XS_ERRNOS: readonly XsErrno[] = [
  "EINVAL",
  "EACCES",
  "EEXIST",
  "EISDIR",
  "ENOENT",
  "ENOMEM",
  "ENOSPC",
  "EIO",
  "ENOTEMPTY",
  "ENOSYS",
  "EROFS",
  "EBUSY",
  "EAGAIN",
  "EISCONN",
  "E2BIG",
  "EPERM",
];

/** One framed message; payload is a view into decoder-owned or caller memory. */
export interface XsMessage {
  readonly type: number;
  readonly reqId: number;
  readonly txId: number;
  readonly payload: Uint8Array;
}

/** Decoder failures; after one the stream cannot be re-framed and must be closed. */
export type XsDecodeError = "payload-too-long";

/** Header fields of a message (after at least 16 bytes are known to be present). */
export interface XsHeader {
  type: number;
  reqId: number;
  txId: number;
  len: number;
}

/** Reads the 16-byte header at the start of bytes. */
export function parseXsHeader(bytes: Uint8Array): Result<XsHeader, "truncated"> {
  if (bytes.length < XS_HEADER_SIZE) return err("truncated");
  return ok(readHeader(bytes, 0));
}

/** The header at b[at, at + 16) (the caller checked the 16 bytes are there). */
function readHeader(b: Uint8Array, at: number): XsHeader {
  // Byte arithmetic, not a DataView: reading `.buffer` of a small typed array makes V8 move its
  // bytes off the heap (an allocation per message on the hot path of every xenstore request).
  return {
    type: u32le(b, at + XS_HEADER_TYPE),
    reqId: u32le(b, at + XS_HEADER_REQ_ID),
    txId: u32le(b, at + XS_HEADER_TX_ID),
    len: u32le(b, at + XS_HEADER_LEN),
  };
}

const u32le = (b: Uint8Array, at: number): number => (b[at]! | (b[at + 1]! << 8) | (b[at + 2]! << 16) | (b[at + 3]! << 24)) >>> 0;

function putU32le(b: Uint8Array, at: number, v: number): void {
  b[at] = v & 0xff;
  b[at + 1] = (v >>> 8) & 0xff;
  b[at + 2] = (v >>> 16) & 0xff;
  b[at + 3] = v >>> 24;
}

/** Emits a message into a fresh buffer (header + payload). Programmer error if payload > 4096. */
export function emitXsMessage(type: number, reqId: number, txId: number, payload: Uint8Array): Uint8Array {
  if (payload.length > XS_PAYLOAD_MAX) {
    const e = new NetlabError("ERR_XS_PAYLOAD_TOO_LONG", `xenstore payload of ${payload.length} bytes exceeds ${XS_PAYLOAD_MAX}`);
    throw e;
  }
  const out = new Uint8Array(XS_HEADER_SIZE + payload.length);
  putU32le(out, XS_HEADER_TYPE, type >>> 0);
  putU32le(out, XS_HEADER_REQ_ID, reqId >>> 0);
  putU32le(out, XS_HEADER_TX_ID, txId >>> 0);
  putU32le(out, XS_HEADER_LEN, payload.length);
  out.set(payload, XS_HEADER_SIZE);
  return out;
}

/** Incremental framing of a byte stream. */
export interface XsDecoder {
  /**
   * Appends bytes; returns every complete message now available, or the fatal framing error.
   * Messages that precede a bad header in the same chunk are still returned; `failed` then
   * tells the caller to close after handling them, and every later push is an error.
   */
  push(chunk: Uint8Array): Result<XsMessage[], XsDecodeError>;
  /** Whether a fatal framing error has been seen. */
  readonly failed: boolean;
  /** Bytes buffered towards the next message. */
  readonly buffered: number;
}

/**
 * Named, not literal, where a decoder compares per chunk or per byte: a fuzz build instruments this
 * module and pays a native comparison hook (~40 ns) for each comparison with a numeric literal.
 */
const NONE_YET = 0;
/** Below this many bytes a byte loop copies faster than subarray() + set(). */
const SMALL_COPY = 64;
/** The byte that ends each string of a payload. */
const NUL = 0;

/** The body of no message (a decoder between messages). */
const NO_BODY = new Uint8Array(0);

/** Creates a decoder; messages whose len exceeds maxPayload (default 4096) are fatal. */
export function createXsDecoder(maxPayload: number = XS_PAYLOAD_MAX): XsDecoder {
  return new StreamDecoder(maxPayload);
}

/**
 * The decoder createXsDecoder returns (a class: an object literal with getters costs V8 a runtime
 * call, ~50 times a class instance, and a decoder is made per connection).
 */
class StreamDecoder implements XsDecoder {
  readonly #maxPayload: number;
  readonly #header = new Uint8Array(XS_HEADER_SIZE);
  #headerFill = 0;
  #hdr: XsHeader | null = null;
  #body: Uint8Array = NO_BODY;
  #bodyFill = 0;
  #failed = false;
  constructor(maxPayload: number) {
    this.#maxPayload = maxPayload;
  }
  get buffered(): number {
    return this.#headerFill + this.#bodyFill;
  }
  get failed(): boolean {
    return this.#failed;
  }
  push(chunk: Uint8Array): Result<XsMessage[], XsDecodeError> {
    if (this.#failed) return err("payload-too-long");
    const out: XsMessage[] = [];
    let pos = 0;
    for (;;) {
      let hdr = this.#hdr;
      if (hdr === null) {
        // The header: read in place when the chunk holds it whole (the usual case), else gathered
        // across chunks in #header.
        let from = chunk,
          at = pos;
        if (this.#headerFill === NONE_YET && chunk.length - pos >= XS_HEADER_SIZE) {
          pos += XS_HEADER_SIZE;
        } else {
          const take = Math.min(XS_HEADER_SIZE - this.#headerFill, chunk.length - pos);
          copyBytes(this.#header, this.#headerFill, chunk, pos, take);
          this.#headerFill += take;
          pos += take;
          if (this.#headerFill < XS_HEADER_SIZE) return ok(out);
          from = this.#header;
          at = 0;
        }
        const h = readHeader(from, at);
        if (h.len > this.#maxPayload) {
          this.#failed = true;
          return out.length > 0 ? ok(out) : err("payload-too-long", `len ${h.len} > ${this.#maxPayload}`);
        }
        this.#headerFill = 0;
        if (chunk.length - pos >= h.len) {
          // the whole body is here: copied out in one native slice (no per-byte copy)
          out.push({ type: h.type, reqId: h.reqId, txId: h.txId, payload: chunk.slice(pos, pos + h.len) });
          pos += h.len;
          if (pos >= chunk.length) return ok(out);
          continue;
        }
        hdr = this.#hdr = h;
        this.#body = new Uint8Array(h.len);
        this.#bodyFill = 0;
      }
      const take = Math.min(hdr.len - this.#bodyFill, chunk.length - pos);
      copyBytes(this.#body, this.#bodyFill, chunk, pos, take);
      this.#bodyFill += take;
      pos += take;
      if (this.#bodyFill < hdr.len) return ok(out);
      out.push({ type: hdr.type, reqId: hdr.reqId, txId: hdr.txId, payload: this.#body });
      this.#hdr = null;
      this.#bodyFill = 0;
      this.#body = NO_BODY;
      if (pos >= chunk.length) return ok(out);
    }
  }
}

/**
 * Copies `n` bytes of `src` from `srcAt` into `dst` at `dstAt`: a byte loop below 64 bytes, where
 * subarray() + set() costs more (a view object, and for a small array V8 keeps on its own heap,
 * moving the bytes off it first).
 */
export function copyBytes(dst: Uint8Array, dstAt: number, src: Uint8Array, srcAt: number, n: number): void {
  if (n < SMALL_COPY) {
    for (let i = 0; i < n; i++) dst[dstAt + i] = src[srcAt + i]!;
    return;
  }
  dst.set(src.subarray(srcAt, srcAt + n), dstAt);
}

/**
 * Decodes ASCII: for bytes below 0x80 every decoder agrees with latin1 (this one's label is
 * windows-1252, which differs only at 0x80..0x9f), and it is several times faster than
 * String.fromCharCode.apply on the short names of xenstore messages.
 */
const ASCII = new TextDecoder("latin1");
const NOT_ASCII = /[\u0080-\uffff]/;

/** Bytes → string, one char per byte (lossless for arbitrary bytes). */
export function latin1(bytes: Uint8Array): string {
  // Decoded first, then checked for a char past ASCII (a native scan, where a byte loop would
  // pay a fuzzer's instrumentation per byte): only then does windows-1252 differ from latin1.
  const ascii = ASCII.decode(bytes);
  if (!NOT_ASCII.test(ascii)) return ascii;
  let s = "";
  for (let i = 0; i < bytes.length; i += 4096) {
    s += String.fromCharCode.apply(null, bytes.subarray(i, i + 4096) as unknown as number[]);
  }
  return s;
}

/** String of chars < 256 → bytes (inverse of latin1). */
export function fromLatin1(s: string): Uint8Array {
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i) & 0xff;
  return out;
}

const UTF8 = new TextEncoder();

/** UTF-8 encoding for user-facing values given as strings. */
export function utf8(s: string): Uint8Array {
  return UTF8.encode(s);
}

/**
 * Splits a payload into NUL-terminated strings (latin1). Returns null when the payload is not
 * a sequence of exactly-terminated strings (the last byte must be NUL).
 */
export function splitStrings(payload: Uint8Array): string[] | null {
  if (payload.length === 0 || payload[payload.length - 1] !== NUL) return null;
  const out: string[] = [];
  let start = 0;
  // indexOf, not a byte loop: native, and a fuzzer's instrumentation pays per loop iteration.
  while (start < payload.length) {
    const nul = payload.indexOf(NUL, start);
    out.push(latin1(payload.subarray(start, nul)));
    start = nul + 1;
  }
  return out;
}

/** Joins strings, each NUL-terminated, into one payload (latin1). */
export function joinStrings(parts: readonly string[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length + 1;
  const out = new Uint8Array(n);
  let pos = 0;
  for (const p of parts) {
    for (let i = 0; i < p.length; i++) out[pos++] = p.charCodeAt(i) & 0xff;
    out[pos++] = 0;
  }
  return out;
}

/** Returns the type's symbolic name (for logs), or "UNKNOWN(n)". */
export function xsTypeName(type: number): string {
  return XS_TYPE_NAMES[type] ?? `UNKNOWN(${type})`;
}

const XS_TYPE_NAMES: Readonly<Record<number, string>> = {
  0: "DEBUG",
  1: "DIRECTORY",
  2: "READ",
  3: "GET_PERMS",
  4: "WATCH",
  5: "UNWATCH",
  6: "TRANSACTION_START",
  7: "TRANSACTION_END",
  8: "INTRODUCE",
  9: "RELEASE",
  10: "GET_DOMAIN_PATH",
  11: "WRITE",
  12: "MKDIR",
  13: "RM",
  14: "SET_PERMS",
  15: "WATCH_EVENT",
  16: "ERROR",
  17: "IS_DOMAIN_INTRODUCED",
  18: "RESUME",
  19: "SET_TARGET",
  21: "RESET_WATCHES",
  22: "DIRECTORY_PART",
};
