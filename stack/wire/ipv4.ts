// IPv4 header (RFC 791) with options kept as raw bytes, and its header checksum (RFC 1071).
// Ipv4Packet: view with getters/setters; Ipv4Repr: meaning; parseIpv4/emitIpv4 convert;
// ipv4HeaderLength(repr) is the emitted header size; scanIpv4Options walks the option bytes.
import { type Result, ok, err } from "../result.ts";
import { type Ipv4Address, readIpv4, writeIpv4 } from "./address.ts";
import { readU16, writeU16 } from "./bytes.ts";
import { checksumFinish, checksumRange } from "./checksum.ts";

export const IPV4_VER_IHL = 0;
export const IPV4_TOS = 1;
export const IPV4_LENGTH = 2;
export const IPV4_IDENT = 4;
export const IPV4_FLAGS_FRAG = 6;
export const IPV4_TTL = 8;
export const IPV4_PROTOCOL = 9;
export const IPV4_CHECKSUM = 10;
export const IPV4_SRC = 12;
export const IPV4_DST = 16;
export const IPV4_OPTIONS = 20;
/** Header length without options. */
export const IPV4_HEADER_LEN = 20;
/** Largest header (IHL 15). */
export const IPV4_MAX_HEADER_LEN = 60;
/** Largest datagram (total length is 16 bits). */
export const IPV4_MAX_LEN = 65535;
/** RFC 791 §3.2: every host must accept a 576-byte datagram. */
export const IPV4_MIN_MTU = 576;

export const IPV4_FLAG_DF = 0x4000;
export const IPV4_FLAG_MF = 0x2000;
export const IPV4_FRAG_MASK = 0x1fff;

export const IP_PROTOCOL_ICMP = 1;
export const IP_PROTOCOL_TCP = 6;
export const IP_PROTOCOL_UDP = 17;

export type Ipv4Error = "truncated" | "bad-version" | "bad-header-length" | "bad-length" | "bad-checksum" | "reserved-flag";

/** The reserved (evil) bit of the flags field; RFC 791 §3.1: must be zero. */
export const IPV4_FLAG_RESERVED = 0x8000;

/** The meaning of an IPv4 header. fragmentOffset is in bytes (a multiple of 8). */
export interface Ipv4Repr {
  readonly src: Ipv4Address;
  readonly dst: Ipv4Address;
  readonly protocol: number;
  readonly ttl: number;
  /** The whole TOS byte (DSCP << 2 | ECN). */
  readonly tos: number;
  readonly ident: number;
  readonly dontFragment: boolean;
  readonly moreFragments: boolean;
  readonly fragmentOffset: number;
  /** Bytes after the header (total length - header length). */
  readonly payloadLength: number;
  /** Raw option bytes (length a multiple of 4, at most 40). */
  readonly options: Uint8Array;
}

/** View over an IPv4 datagram; accessors are safe after checkLen() succeeds. */
export class Ipv4Packet {
  constructor(readonly bytes: Uint8Array) {}

  /** Validates version, header length and total length against the buffer. */
  checkLen(): Result<this, Exclude<Ipv4Error, "bad-checksum" | "reserved-flag">> {
    const b = this.bytes;
    if (b.length < IPV4_HEADER_LEN) return err("truncated");
    if (this.version !== 4) return err("bad-version");
    const hl = this.headerLength;
    if (hl < IPV4_HEADER_LEN) return err("bad-header-length");
    if (hl > b.length) return err("truncated");
    const total = this.totalLength;
    if (total < hl) return err("bad-length");
    if (total > b.length) return err("truncated");
    return ok(this);
  }

  get version(): number {
    return this.bytes[IPV4_VER_IHL]! >>> 4;
  }
  get headerLength(): number {
    return (this.bytes[IPV4_VER_IHL]! & 0x0f) * 4;
  }
  get tos(): number {
    return this.bytes[IPV4_TOS]!;
  }
  set tos(v: number) {
    this.bytes[IPV4_TOS] = v;
  }
  get totalLength(): number {
    return readU16(this.bytes, IPV4_LENGTH);
  }
  set totalLength(v: number) {
    writeU16(this.bytes, IPV4_LENGTH, v);
  }
  get ident(): number {
    return readU16(this.bytes, IPV4_IDENT);
  }
  set ident(v: number) {
    writeU16(this.bytes, IPV4_IDENT, v);
  }
  get dontFragment(): boolean {
    return (readU16(this.bytes, IPV4_FLAGS_FRAG) & IPV4_FLAG_DF) !== 0;
  }
  get moreFragments(): boolean {
    return (readU16(this.bytes, IPV4_FLAGS_FRAG) & IPV4_FLAG_MF) !== 0;
  }
  /** Fragment offset in bytes. */
  get fragmentOffset(): number {
    return (readU16(this.bytes, IPV4_FLAGS_FRAG) & IPV4_FRAG_MASK) * 8;
  }
  /** Sets flags and offset (bytes, multiple of 8) together. */
  setFragment(dontFragment: boolean, moreFragments: boolean, offsetBytes: number): void {
    writeU16(this.bytes, IPV4_FLAGS_FRAG, (dontFragment ? IPV4_FLAG_DF : 0) | (moreFragments ? IPV4_FLAG_MF : 0) | ((offsetBytes >>> 3) & IPV4_FRAG_MASK));
  }
  get ttl(): number {
    return this.bytes[IPV4_TTL]!;
  }
  set ttl(v: number) {
    this.bytes[IPV4_TTL] = v;
  }
  get protocol(): number {
    return this.bytes[IPV4_PROTOCOL]!;
  }
  set protocol(v: number) {
    this.bytes[IPV4_PROTOCOL] = v;
  }
  get checksum(): number {
    return readU16(this.bytes, IPV4_CHECKSUM);
  }
  set checksum(v: number) {
    writeU16(this.bytes, IPV4_CHECKSUM, v);
  }
  get src(): Ipv4Address {
    return readIpv4(this.bytes, IPV4_SRC);
  }
  set src(v: Ipv4Address) {
    writeIpv4(this.bytes, IPV4_SRC, v);
  }
  get dst(): Ipv4Address {
    return readIpv4(this.bytes, IPV4_DST);
  }
  set dst(v: Ipv4Address) {
    writeIpv4(this.bytes, IPV4_DST, v);
  }
  get options(): Uint8Array {
    return this.bytes.subarray(IPV4_OPTIONS, this.headerLength);
  }
  get header(): Uint8Array {
    return this.bytes.subarray(0, this.headerLength);
  }
  /** Bytes between the header and total length (link padding excluded). */
  get payload(): Uint8Array {
    return this.bytes.subarray(this.headerLength, this.totalLength);
  }
  /** True when the header checksum is correct. */
  verifyChecksum(): boolean {
    return checksumFinish(checksumRange(this.bytes, 0, this.headerLength)) === 0;
  }
  /** Recomputes the header checksum. */
  fillChecksum(): void {
    this.checksum = 0;
    this.checksum = checksumFinish(checksumRange(this.bytes, 0, this.headerLength));
  }
}

/** Parse options: skip the header checksum check when the link already validated it. */
export interface Ipv4ParseOptions {
  readonly verifyChecksum?: boolean;
}

/** Parses an IPv4 header; the payload is bytes.subarray(headerLength, headerLength + payloadLength). */
export function parseIpv4(bytes: Uint8Array, options?: Ipv4ParseOptions): Result<Ipv4Repr, Ipv4Error> {
  const p = new Ipv4Packet(bytes);
  const c = p.checkLen();
  if (!c.ok) return c;
  if (options?.verifyChecksum !== false && !p.verifyChecksum()) return err("bad-checksum");
  // A repr has no field for the reserved bit, so a header carrying it could not be re-emitted
  // as received (fuzz finding corpora/wire-decode/regressions/crash-556e9316df858af5).
  if ((readU16(bytes, IPV4_FLAGS_FRAG) & IPV4_FLAG_RESERVED) !== 0) return err("reserved-flag");
  const hl = p.headerLength;
  return ok({
    src: p.src,
    dst: p.dst,
    protocol: p.protocol,
    ttl: p.ttl,
    tos: p.tos,
    ident: p.ident,
    dontFragment: p.dontFragment,
    moreFragments: p.moreFragments,
    fragmentOffset: p.fragmentOffset,
    payloadLength: p.totalLength - hl,
    options: bytes.subarray(IPV4_OPTIONS, hl),
  });
}

/** Header length the repr emits: 20 plus options padded to a multiple of 4. */
export function ipv4HeaderLength(repr: Ipv4Repr): number {
  return IPV4_HEADER_LEN + ((repr.options.length + 3) & ~3);
}

/**
 * Writes the header (with checksum) at buf[offset..]; returns the header length. Options longer
 * than 40 bytes are a programmer error (truncated to 40); short options are padded with EOL (0).
 */
export function emitIpv4(repr: Ipv4Repr, buf: Uint8Array, offset = 0): number {
  const optLen = Math.min(40, (repr.options.length + 3) & ~3);
  const hl = IPV4_HEADER_LEN + optLen;
  buf[offset + IPV4_VER_IHL] = 0x40 | (hl >>> 2);
  buf[offset + IPV4_TOS] = repr.tos & 0xff;
  writeU16(buf, offset + IPV4_LENGTH, hl + repr.payloadLength);
  writeU16(buf, offset + IPV4_IDENT, repr.ident & 0xffff);
  writeU16(
    buf,
    offset + IPV4_FLAGS_FRAG,
    (repr.dontFragment ? IPV4_FLAG_DF : 0) | (repr.moreFragments ? IPV4_FLAG_MF : 0) | ((repr.fragmentOffset >>> 3) & IPV4_FRAG_MASK),
  );
  buf[offset + IPV4_TTL] = repr.ttl & 0xff;
  buf[offset + IPV4_PROTOCOL] = repr.protocol & 0xff;
  writeU16(buf, offset + IPV4_CHECKSUM, 0);
  writeIpv4(buf, offset + IPV4_SRC, repr.src);
  writeIpv4(buf, offset + IPV4_DST, repr.dst);
  if (optLen > 0) {
    const n = Math.min(optLen, repr.options.length);
    buf.set(repr.options.subarray(0, n), offset + IPV4_OPTIONS);
    buf.fill(0, offset + IPV4_OPTIONS + n, offset + hl);
  }
  writeU16(buf, offset + IPV4_CHECKSUM, checksumFinish(checksumRange(buf, offset, offset + hl)));
  return hl;
}

/** RFC 791 option types: end of list, no-operation, loose and strict source route. */
export const IPV4_OPT_EOL = 0;
export const IPV4_OPT_NOP = 1;
export const IPV4_OPT_LSRR = 0x83;
export const IPV4_OPT_SSRR = 0x89;

/** What scanIpv4Options found: whether a source route (LSRR or SSRR) is present. */
export interface Ipv4OptionsSummary {
  readonly sourceRoute: boolean;
}

/** Why an option list is malformed. */
export type Ipv4OptionError = "bad-option-length" | "bad-source-route";

/**
 * Walks the option bytes of a header (`options` = header[20, IHL·4)): every option but EOL and
 * NOP needs a length of at least 2 that stays inside the list; a source route (RFC 791 §3.1,
 * LSRR/SSRR) at least 3 with a pointer of at least 4 (as Linux's ip_options_compile), and only
 * one. Reads nothing past `options`.
 */
export function scanIpv4Options(options: Uint8Array): Result<Ipv4OptionsSummary, Ipv4OptionError> {
  let sourceRoute = false;
  let i = 0;
  while (i < options.length) {
    const type = options[i]!;
    if (type === IPV4_OPT_EOL) break;
    if (type === IPV4_OPT_NOP) {
      i++;
      continue;
    }
    if (i + 1 >= options.length) return err("bad-option-length");
    const len = options[i + 1]!;
    if (len < 2 || i + len > options.length) return err("bad-option-length");
    if (type === IPV4_OPT_LSRR || type === IPV4_OPT_SSRR) {
      if (len < 3) return err("bad-source-route");
      if (options[i + 2]! < 4) return err("bad-source-route");
      if (sourceRoute) return err("bad-source-route");
      sourceRoute = true;
    }
    i += len;
  }
  return ok({ sourceRoute });
}
