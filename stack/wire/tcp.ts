// TCP header (RFC 9293 §3.1) and its options: MSS (RFC 9293 §3.2), window scale and
// timestamps (RFC 7323), SACK-permitted and SACK blocks (RFC 2018). Unknown options are
// skipped by their length.
// TcpPacket: view with getters/setters; TcpRepr/TcpOptions: meaning; parseTcp/emitTcp convert;
// tcpOptionsLength/tcpHeaderLength size an emit; tcpChecksum/verifyTcpChecksum use the IPv4
// pseudo-header; TCP_FLAG_* are the flag bits.
import { type Result, ok, err } from "../result.ts";
import type { Ipv4Address } from "./address.ts";
import { checksumAdd, checksumFinish, fold, pseudoHeaderSum } from "./checksum.ts";

export const TCP_SRC_PORT = 0;
export const TCP_DST_PORT = 2;
export const TCP_SEQ = 4;
export const TCP_ACK = 8;
export const TCP_DATA_OFFSET = 12;
export const TCP_FLAGS = 13;
export const TCP_WINDOW = 14;
export const TCP_CHECKSUM = 16;
export const TCP_URGENT = 18;
export const TCP_OPTIONS = 20;
/** Header length without options. */
export const TCP_HEADER_LEN = 20;
/** Largest header (data offset 15). */
export const TCP_MAX_HEADER_LEN = 60;

export const TCP_FLAG_FIN = 0x01;
export const TCP_FLAG_SYN = 0x02;
export const TCP_FLAG_RST = 0x04;
export const TCP_FLAG_PSH = 0x08;
export const TCP_FLAG_ACK = 0x10;
export const TCP_FLAG_URG = 0x20;
export const TCP_FLAG_ECE = 0x40;
export const TCP_FLAG_CWR = 0x80;

export const TCP_OPT_EOL = 0;
export const TCP_OPT_NOP = 1;
export const TCP_OPT_MSS = 2;
export const TCP_OPT_WSCALE = 3;
export const TCP_OPT_SACK_PERMITTED = 4;
export const TCP_OPT_SACK = 5;
export const TCP_OPT_TIMESTAMP = 8;

/** RFC 7323 §2.3: shift counts above 14 are treated as 14. */
export const TCP_MAX_WSCALE = 14;

export type TcpError = "truncated" | "bad-data-offset" | "bad-option" | "bad-checksum";

/** A SACK block: [left, right) in sequence space (RFC 2018 §3). */
export interface SackBlock {
  readonly left: number;
  readonly right: number;
}

/** Options a segment carries; absent fields were not present. */
export interface TcpOptions {
  readonly mss?: number;
  /** Shift count as sent (not clamped). */
  readonly windowScale?: number;
  readonly sackPermitted?: boolean;
  readonly sackBlocks?: readonly SackBlock[];
  readonly tsVal?: number;
  readonly tsEcr?: number;
}

/** The meaning of a TCP segment. `flags` is the TCP_FLAG_* byte. */
export interface TcpRepr {
  readonly srcPort: number;
  readonly dstPort: number;
  readonly seq: number;
  readonly ack: number;
  readonly flags: number;
  readonly window: number;
  readonly urgent: number;
  readonly options: TcpOptions;
  readonly payload: Uint8Array;
}

const NO_OPTIONS: TcpOptions = Object.freeze({});

/** View over a TCP segment; accessors are safe after checkLen() succeeds. */
export class TcpPacket {
  constructor(readonly bytes: Uint8Array) {}

  /** Validates that the fixed header and the header length fit the buffer. */
  checkLen(): Result<this, "truncated" | "bad-data-offset"> {
    const b = this.bytes;
    if (b.length < TCP_HEADER_LEN) return err("truncated");
    const hl = this.headerLength;
    if (hl < TCP_HEADER_LEN) return err("bad-data-offset");
    if (hl > b.length) return err("truncated");
    return ok(this);
  }

  get srcPort(): number {
    return rd16(this.bytes, TCP_SRC_PORT);
  }
  set srcPort(v: number) {
    wr16(this.bytes, TCP_SRC_PORT, v);
  }
  get dstPort(): number {
    return rd16(this.bytes, TCP_DST_PORT);
  }
  set dstPort(v: number) {
    wr16(this.bytes, TCP_DST_PORT, v);
  }
  get seq(): number {
    return rd32(this.bytes, TCP_SEQ);
  }
  set seq(v: number) {
    wr32(this.bytes, TCP_SEQ, v);
  }
  get ack(): number {
    return rd32(this.bytes, TCP_ACK);
  }
  set ack(v: number) {
    wr32(this.bytes, TCP_ACK, v);
  }
  /** Header length in bytes (data offset × 4). */
  get headerLength(): number {
    return (this.bytes[TCP_DATA_OFFSET]! >>> 4) * 4;
  }
  set headerLength(v: number) {
    this.bytes[TCP_DATA_OFFSET] = ((v >>> 2) << 4) & 0xf0;
  }
  get flags(): number {
    return this.bytes[TCP_FLAGS]!;
  }
  set flags(v: number) {
    this.bytes[TCP_FLAGS] = v;
  }
  get window(): number {
    return rd16(this.bytes, TCP_WINDOW);
  }
  set window(v: number) {
    wr16(this.bytes, TCP_WINDOW, v);
  }
  get checksum(): number {
    return rd16(this.bytes, TCP_CHECKSUM);
  }
  set checksum(v: number) {
    wr16(this.bytes, TCP_CHECKSUM, v);
  }
  get urgent(): number {
    return rd16(this.bytes, TCP_URGENT);
  }
  set urgent(v: number) {
    wr16(this.bytes, TCP_URGENT, v);
  }
  /** Raw option bytes. */
  get optionBytes(): Uint8Array {
    return this.bytes.subarray(TCP_OPTIONS, this.headerLength);
  }
  get payload(): Uint8Array {
    return this.bytes.subarray(this.headerLength);
  }
}

/** Internet checksum of a TCP segment with the IPv4 pseudo-header (RFC 9293 §3.1). */
export function tcpChecksum(segment: Uint8Array, src: Ipv4Address, dst: Ipv4Address): number {
  return checksumFinish(checksumAdd(segment, pseudoHeaderSum(src, dst, 6, segment.length)));
}

/** True when the checksum field of `segment` is right for src/dst. */
export function verifyTcpChecksum(segment: Uint8Array, src: Ipv4Address, dst: Ipv4Address): boolean {
  return fold(checksumAdd(segment, pseudoHeaderSum(src, dst, 6, segment.length))) === 0xffff;
}

/** Parses options bytes (RFC 9293 §3.2): EOL ends the list, NOP pads, unknown kinds are skipped. */
export function parseTcpOptions(b: Uint8Array): Result<TcpOptions, "bad-option"> {
  return parseOptionsIn(b, 0, b.length);
}

/** parseTcpOptions over b[start, end) (the options inside a segment, without a view of them). */
function parseOptionsIn(b: Uint8Array, start: number, end: number): Result<TcpOptions, "bad-option"> {
  if (end === start) return ok(NO_OPTIONS);
  if (end - start === 12 && b[start] === TCP_OPT_NOP && b[start + 1] === TCP_OPT_NOP && b[start + 2] === TCP_OPT_TIMESTAMP && b[start + 3] === 10) {
    // NOP NOP timestamp, the options of nearly every segment of a connection (Linux's layout):
    // the same object the loop below builds for them, without the loop
    const o: { -readonly [K in keyof TcpOptions]: TcpOptions[K] } = {};
    o.tsVal = rd32(b, start + 4);
    o.tsEcr = rd32(b, start + 8);
    return ok(o);
  }
  let mss: number | undefined;
  let windowScale: number | undefined;
  let sackPermitted = false;
  let sackBlocks: SackBlock[] | undefined;
  let tsVal: number | undefined;
  let tsEcr: number | undefined;
  let i = start;
  while (i < end) {
    const kind = b[i]!;
    if (kind === TCP_OPT_EOL) break;
    if (kind === TCP_OPT_NOP) {
      i++;
      continue;
    }
    if (i + 1 >= end) return err("bad-option", "option length missing");
    const len = b[i + 1]!;
    if (len < 2 || i + len > end) return err("bad-option", `kind ${kind} length ${len}`);
    switch (kind) {
      case TCP_OPT_MSS:
        if (len !== 4) return err("bad-option", "mss length");
        mss = rd16(b, i + 2);
        break;
      case TCP_OPT_WSCALE:
        if (len !== 3) return err("bad-option", "window scale length");
        windowScale = b[i + 2]!;
        break;
      case TCP_OPT_SACK_PERMITTED:
        if (len !== 2) return err("bad-option", "sack-permitted length");
        sackPermitted = true;
        break;
      case TCP_OPT_SACK: {
        if ((len - 2) % 8 !== 0 || len === 2) return err("bad-option", "sack length");
        sackBlocks = [];
        for (let j = i + 2; j < i + len; j += 8) sackBlocks.push({ left: rd32(b, j), right: rd32(b, j + 4) });
        break;
      }
      case TCP_OPT_TIMESTAMP:
        if (len !== 10) return err("bad-option", "timestamp length");
        tsVal = rd32(b, i + 2);
        tsEcr = rd32(b, i + 6);
        break;
      default:
        break;
    }
    i += len;
  }
  const o: { -readonly [K in keyof TcpOptions]: TcpOptions[K] } = {};
  if (mss !== undefined) o.mss = mss;
  if (windowScale !== undefined) o.windowScale = windowScale;
  if (sackPermitted) o.sackPermitted = true;
  if (sackBlocks !== undefined) o.sackBlocks = sackBlocks;
  if (tsVal !== undefined && tsEcr !== undefined) {
    o.tsVal = tsVal;
    o.tsEcr = tsEcr;
  }
  return ok(o);
}

/**
 * Parses a TCP segment. With `src`/`dst` given and `verifyChecksum` not false, a bad
 * checksum is an error; pass verifyChecksum false when the link already validated it.
 */
export function parseTcp(bytes: Uint8Array, addresses?: { src: Ipv4Address; dst: Ipv4Address; verifyChecksum?: boolean }): Result<TcpRepr, TcpError> {
  return addresses === undefined
    ? parseTcpSegment(bytes, 0, 0, false)
    : parseTcpSegment(bytes, addresses.src, addresses.dst, addresses.verifyChecksum !== false);
}

/** parseTcp with the addresses as arguments (the receive path: no options object per segment). */
export function parseTcpSegment(bytes: Uint8Array, src: Ipv4Address, dst: Ipv4Address, verifyChecksum: boolean): Result<TcpRepr, TcpError> {
  if (bytes.length < TCP_HEADER_LEN) return err("truncated");
  const hl = (bytes[TCP_DATA_OFFSET]! >>> 4) * 4;
  if (hl < TCP_HEADER_LEN) return err("bad-data-offset");
  if (hl > bytes.length) return err("truncated");
  if (verifyChecksum && !verifyTcpChecksum(bytes, src, dst)) return err("bad-checksum");
  const opts = hl > TCP_HEADER_LEN ? parseOptionsIn(bytes, TCP_OPTIONS, hl) : ok(NO_OPTIONS);
  if (!opts.ok) return opts;
  return ok({
    srcPort: rd16(bytes, TCP_SRC_PORT),
    dstPort: rd16(bytes, TCP_DST_PORT),
    seq: rd32(bytes, TCP_SEQ),
    ack: rd32(bytes, TCP_ACK),
    flags: bytes[TCP_FLAGS]!,
    window: rd16(bytes, TCP_WINDOW),
    urgent: rd16(bytes, TCP_URGENT),
    options: opts.value,
    payload: bytes.subarray(hl),
  });
}

/** Bytes the options take when emitted (padded to a multiple of 4, Linux's layout). */
export function tcpOptionsLength(o: TcpOptions): number {
  let n = 0;
  if (o.mss !== undefined) n += 4;
  // SACK-permitted shares a word with the timestamp (kind 4 len 2 + kind 8 len 10 = 12)
  if (o.tsVal !== undefined) n += 12;
  else if (o.sackPermitted) n += 4;
  if (o.windowScale !== undefined) n += 4;
  if (o.sackBlocks !== undefined && o.sackBlocks.length > 0) n += 4 + 8 * o.sackBlocks.length;
  return n;
}

/** Header length (with options) an emit of `repr` produces. */
export function tcpHeaderLength(repr: TcpRepr): number {
  return TCP_HEADER_LEN + tcpOptionsLength(repr.options);
}

/**
 * Writes options at `off` in Linux's order and padding: MSS; SACK-permitted+timestamp
 * (or NOP NOP TS, or NOP NOP SACK-permitted); NOP WS; NOP NOP SACK. Returns bytes written.
 */
export function emitTcpOptions(o: TcpOptions, b: Uint8Array, off: number): number {
  const start = off;
  if (o.mss !== undefined) {
    b[off] = TCP_OPT_MSS;
    b[off + 1] = 4;
    wr16(b, off + 2, o.mss);
    off += 4;
  }
  if (o.tsVal !== undefined) {
    if (o.sackPermitted) {
      b[off] = TCP_OPT_SACK_PERMITTED;
      b[off + 1] = 2;
    } else {
      b[off] = TCP_OPT_NOP;
      b[off + 1] = TCP_OPT_NOP;
    }
    b[off + 2] = TCP_OPT_TIMESTAMP;
    b[off + 3] = 10;
    wr32(b, off + 4, o.tsVal);
    wr32(b, off + 8, o.tsEcr ?? 0);
    off += 12;
  } else if (o.sackPermitted) {
    b[off] = TCP_OPT_NOP;
    b[off + 1] = TCP_OPT_NOP;
    b[off + 2] = TCP_OPT_SACK_PERMITTED;
    b[off + 3] = 2;
    off += 4;
  }
  if (o.windowScale !== undefined) {
    b[off] = TCP_OPT_NOP;
    b[off + 1] = TCP_OPT_WSCALE;
    b[off + 2] = 3;
    b[off + 3] = o.windowScale;
    off += 4;
  }
  const blocks = o.sackBlocks;
  if (blocks !== undefined && blocks.length > 0) {
    b[off] = TCP_OPT_NOP;
    b[off + 1] = TCP_OPT_NOP;
    b[off + 2] = TCP_OPT_SACK;
    b[off + 3] = 2 + 8 * blocks.length;
    off += 4;
    for (const blk of blocks) {
      wr32(b, off, blk.left);
      wr32(b, off + 4, blk.right);
      off += 8;
    }
  }
  return off - start;
}

/**
 * Emits `repr` (header, options, payload) into `b` at `off`; `b` must have
 * tcpHeaderLength(repr) + payload.length bytes from off. With src/dst, fills the checksum;
 * with `csumBlank`, stores only the pseudo-header sum (a device completes it).
 * Returns the segment length.
 */
export function emitTcp(repr: TcpRepr, b: Uint8Array, off: number, addresses?: { src: Ipv4Address; dst: Ipv4Address; csumBlank?: boolean }): number {
  wr16(b, off + TCP_SRC_PORT, repr.srcPort);
  wr16(b, off + TCP_DST_PORT, repr.dstPort);
  wr32(b, off + TCP_SEQ, repr.seq);
  wr32(b, off + TCP_ACK, repr.ack);
  const hl = TCP_HEADER_LEN + emitTcpOptions(repr.options, b, off + TCP_OPTIONS);
  b[off + TCP_DATA_OFFSET] = (hl >>> 2) << 4;
  b[off + TCP_FLAGS] = repr.flags;
  wr16(b, off + TCP_WINDOW, repr.window);
  wr16(b, off + TCP_CHECKSUM, 0);
  wr16(b, off + TCP_URGENT, repr.urgent);
  b.set(repr.payload, off + hl);
  const total = hl + repr.payload.length;
  if (addresses !== undefined) {
    const seg = b.subarray(off, off + total);
    const ph = pseudoHeaderSum(addresses.src, addresses.dst, 6, total);
    wr16(b, off + TCP_CHECKSUM, addresses.csumBlank === true ? ph : checksumFinish(checksumAdd(seg, ph)));
  }
  return total;
}

function rd16(b: Uint8Array, off: number): number {
  return (b[off]! << 8) | b[off + 1]!;
}
function wr16(b: Uint8Array, off: number, v: number): void {
  b[off] = (v >>> 8) & 0xff;
  b[off + 1] = v & 0xff;
}
function rd32(b: Uint8Array, off: number): number {
  return ((b[off]! << 24) | (b[off + 1]! << 16) | (b[off + 2]! << 8) | b[off + 3]!) >>> 0;
}
function wr32(b: Uint8Array, off: number, v: number): void {
  b[off] = (v >>> 24) & 0xff;
  b[off + 1] = (v >>> 16) & 0xff;
  b[off + 2] = (v >>> 8) & 0xff;
  b[off + 3] = v & 0xff;
}
