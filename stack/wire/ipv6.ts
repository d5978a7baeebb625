// IPv6 fixed header (RFC 8200 §3) and the upper-layer pseudo-header sum (RFC 8200 §8.1).
// Ipv6Packet: view with getters/setters; Ipv6Repr: meaning; parseIpv6/emitIpv6 convert.
// The header has no checksum; extension headers are in ipv6-ext.ts.
import { type Result, ok, err } from "../result.ts";
import { type Ipv6Address, readIpv6, writeIpv6 } from "./ipv6-address.ts";
import { readU16, readU32, writeU16, writeU32 } from "./bytes.ts";
import { fold } from "./checksum.ts";

/** Version (4 bits), traffic class (8), flow label (20). */
export const IPV6_VER_TC_FLOW = 0;
export const IPV6_PAYLOAD_LENGTH = 4;
export const IPV6_NEXT_HEADER = 6;
export const IPV6_HOP_LIMIT = 7;
export const IPV6_SRC = 8;
export const IPV6_DST = 24;
export const IPV6_HEADER_LEN = 40;
/** RFC 8200 §5: every link must carry 1280-byte packets. */
export const IPV6_MIN_MTU = 1280;

export const IPV6_NEXT_HEADER_HOP_BY_HOP = 0;
export const IPV6_NEXT_HEADER_TCP = 6;
export const IPV6_NEXT_HEADER_UDP = 17;
export const IPV6_NEXT_HEADER_ROUTING = 43;
export const IPV6_NEXT_HEADER_FRAGMENT = 44;
export const IPV6_NEXT_HEADER_ESP = 50;
export const IPV6_NEXT_HEADER_AH = 51;
export const IPV6_NEXT_HEADER_ICMPV6 = 58;
export const IPV6_NEXT_HEADER_NONE = 59;
export const IPV6_NEXT_HEADER_DESTINATION = 60;

/**
 * "truncated": fewer than 40 bytes, or fewer than the payload length says. A payload length of
 * zero with a Hop-by-Hop header first is a jumbogram (RFC 2675), not supported: "jumbogram".
 */
export type Ipv6Error = "truncated" | "bad-version" | "jumbogram";

/** The meaning of an IPv6 fixed header. */
export interface Ipv6Repr {
  readonly src: Ipv6Address;
  readonly dst: Ipv6Address;
  /** The first header after this one (an extension header or the upper layer). */
  readonly nextHeader: number;
  readonly hopLimit: number;
  /** DSCP << 2 | ECN. */
  readonly trafficClass: number;
  /** 20 bits. */
  readonly flowLabel: number;
  /** Bytes after the 40-byte header, extension headers included. */
  readonly payloadLength: number;
}

/** View over an IPv6 packet; accessors are safe after checkLen() succeeds. */
export class Ipv6Packet {
  constructor(readonly bytes: Uint8Array) {}

  /** Validates the version and that the payload length fits in the buffer. */
  checkLen(): Result<this, Ipv6Error> {
    if (this.bytes.length < IPV6_HEADER_LEN) return err("truncated");
    if (this.version !== 6) return err("bad-version");
    if (this.payloadLength === 0 && this.nextHeader === IPV6_NEXT_HEADER_HOP_BY_HOP && this.bytes.length > IPV6_HEADER_LEN) {
      // RFC 2675 §3: a zero payload length with a Jumbo Payload option; refused, not guessed at.
      return err("jumbogram");
    }
    if (IPV6_HEADER_LEN + this.payloadLength > this.bytes.length) return err("truncated");
    return ok(this);
  }

  get version(): number {
    return this.bytes[IPV6_VER_TC_FLOW]! >>> 4;
  }
  get trafficClass(): number {
    return (readU16(this.bytes, IPV6_VER_TC_FLOW) >>> 4) & 0xff;
  }
  set trafficClass(v: number) {
    const w = readU16(this.bytes, IPV6_VER_TC_FLOW);
    writeU16(this.bytes, IPV6_VER_TC_FLOW, (w & 0xf00f) | ((v & 0xff) << 4));
  }
  get flowLabel(): number {
    return readU32(this.bytes, IPV6_VER_TC_FLOW) & 0xfffff;
  }
  set flowLabel(v: number) {
    const w = readU32(this.bytes, IPV6_VER_TC_FLOW);
    writeU32(this.bytes, IPV6_VER_TC_FLOW, ((w & 0xfff00000) | (v & 0xfffff)) >>> 0);
  }
  get payloadLength(): number {
    return readU16(this.bytes, IPV6_PAYLOAD_LENGTH);
  }
  set payloadLength(v: number) {
    writeU16(this.bytes, IPV6_PAYLOAD_LENGTH, v);
  }
  get nextHeader(): number {
    return this.bytes[IPV6_NEXT_HEADER]!;
  }
  set nextHeader(v: number) {
    this.bytes[IPV6_NEXT_HEADER] = v;
  }
  get hopLimit(): number {
    return this.bytes[IPV6_HOP_LIMIT]!;
  }
  set hopLimit(v: number) {
    this.bytes[IPV6_HOP_LIMIT] = v;
  }
  get src(): Ipv6Address {
    return readIpv6(this.bytes, IPV6_SRC);
  }
  set src(v: Ipv6Address) {
    writeIpv6(this.bytes, IPV6_SRC, v);
  }
  get dst(): Ipv6Address {
    return readIpv6(this.bytes, IPV6_DST);
  }
  set dst(v: Ipv6Address) {
    writeIpv6(this.bytes, IPV6_DST, v);
  }
  /** Bytes after the header up to the payload length (link padding excluded). */
  get payload(): Uint8Array {
    return this.bytes.subarray(IPV6_HEADER_LEN, IPV6_HEADER_LEN + this.payloadLength);
  }
}

/** Parses the fixed header; the payload is bytes.subarray(40, 40 + payloadLength). */
export function parseIpv6(bytes: Uint8Array): Result<Ipv6Repr, Ipv6Error> {
  const p = new Ipv6Packet(bytes);
  const c = p.checkLen();
  if (!c.ok) return c;
  return ok({
    src: p.src,
    dst: p.dst,
    nextHeader: p.nextHeader,
    hopLimit: p.hopLimit,
    trafficClass: p.trafficClass,
    flowLabel: p.flowLabel,
    payloadLength: p.payloadLength,
  });
}

/** Writes the 40-byte header at buf[offset..]; returns 40. */
export function emitIpv6(repr: Ipv6Repr, buf: Uint8Array, offset = 0): number {
  writeU32(buf, offset + IPV6_VER_TC_FLOW, ((6 << 28) | ((repr.trafficClass & 0xff) << 20) | (repr.flowLabel & 0xfffff)) >>> 0);
  writeU16(buf, offset + IPV6_PAYLOAD_LENGTH, repr.payloadLength & 0xffff);
  buf[offset + IPV6_NEXT_HEADER] = repr.nextHeader & 0xff;
  buf[offset + IPV6_HOP_LIMIT] = repr.hopLimit & 0xff;
  writeIpv6(buf, offset + IPV6_SRC, repr.src);
  writeIpv6(buf, offset + IPV6_DST, repr.dst);
  return IPV6_HEADER_LEN;
}

/**
 * RFC 8200 §8.1: partial sum (folded, not complemented) of the pseudo-header: source, final
 * destination (the last address of a Routing header, if any), the upper-layer packet length
 * (32 bits) and the upper-layer protocol in the last byte of a zero-padded 32-bit word.
 */
export function ipv6PseudoHeaderSum(src: Ipv6Address, dst: Ipv6Address, nextHeader: number, upperLayerLength: number): number {
  // Sixteen 16-bit words of addresses, unrolled: this runs twice per TCP segment over v6.
  const sum =
    ((src[0]! << 8) | src[1]!) +
    ((src[2]! << 8) | src[3]!) +
    ((src[4]! << 8) | src[5]!) +
    ((src[6]! << 8) | src[7]!) +
    ((src[8]! << 8) | src[9]!) +
    ((src[10]! << 8) | src[11]!) +
    ((src[12]! << 8) | src[13]!) +
    ((src[14]! << 8) | src[15]!) +
    ((dst[0]! << 8) | dst[1]!) +
    ((dst[2]! << 8) | dst[3]!) +
    ((dst[4]! << 8) | dst[5]!) +
    ((dst[6]! << 8) | dst[7]!) +
    ((dst[8]! << 8) | dst[9]!) +
    ((dst[10]! << 8) | dst[11]!) +
    ((dst[12]! << 8) | dst[13]!) +
    ((dst[14]! << 8) | dst[15]!) +
    Math.floor(upperLayerLength / 65536) +
    (upperLayerLength & 0xffff) +
    (nextHeader & 0xff);
  return fold(sum);
}
