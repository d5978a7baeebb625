// ICMPv6 (RFC 4443): echo request/reply, destination unreachable, packet too big, time
// exceeded, parameter problem. The checksum covers the IPv6 pseudo-header (RFC 8200 §8.1)
// and the whole message, so parse and emit take the source and destination addresses.
// NDP (133-137) is in ndp.ts and MLD (130, 143) in mld.ts; parseIcmpv6 refuses them as
// "unsupported-type" so that each message is decoded by one parser.
import { type Result, ok, err } from "../result.ts";
import { readU16, readU32, writeU16, writeU32 } from "./bytes.ts";
import { checksumFinish, checksumRange } from "./checksum.ts";
import { type Ipv6Address, readIpv6 } from "./ipv6-address.ts";
import { IPV6_DST, IPV6_HEADER_LEN, IPV6_NEXT_HEADER_ICMPV6, IPV6_SRC, ipv6PseudoHeaderSum } from "./ipv6.ts";
import { IPV6_DEFAULT_MAX_HEADERS, walkIpv6Chain } from "./ipv6-ext.ts";

export const ICMPV6_TYPE = 0;
export const ICMPV6_CODE = 1;
export const ICMPV6_CHECKSUM = 2;
/** Echo identifier; the first half of the 32-bit word of error messages. */
export const ICMPV6_IDENT = 4;
export const ICMPV6_SEQ = 6;
/** Packet Too Big: MTU (32 bits). */
export const ICMPV6_MTU = 4;
/** Parameter Problem: pointer (32 bits). */
export const ICMPV6_POINTER = 4;
export const ICMPV6_DATA = 8;
export const ICMPV6_HEADER_LEN = 8;

export const ICMPV6_TYPE_DST_UNREACHABLE = 1;
export const ICMPV6_TYPE_PACKET_TOO_BIG = 2;
export const ICMPV6_TYPE_TIME_EXCEEDED = 3;
export const ICMPV6_TYPE_PARAMETER_PROBLEM = 4;
export const ICMPV6_TYPE_ECHO_REQUEST = 128;
export const ICMPV6_TYPE_ECHO_REPLY = 129;
export const ICMPV6_TYPE_MLD_QUERY = 130;
export const ICMPV6_TYPE_ROUTER_SOLICITATION = 133;
export const ICMPV6_TYPE_ROUTER_ADVERTISEMENT = 134;
export const ICMPV6_TYPE_NEIGHBOR_SOLICITATION = 135;
export const ICMPV6_TYPE_NEIGHBOR_ADVERTISEMENT = 136;
export const ICMPV6_TYPE_REDIRECT = 137;
export const ICMPV6_TYPE_MLDV2_REPORT = 143;

export const ICMPV6_UNREACH_NO_ROUTE = 0;
export const ICMPV6_UNREACH_ADMIN = 1;
export const ICMPV6_UNREACH_BEYOND_SCOPE = 2;
export const ICMPV6_UNREACH_ADDRESS = 3;
export const ICMPV6_UNREACH_PORT = 4;
export const ICMPV6_TIME_EXCEEDED_HOP_LIMIT = 0;
export const ICMPV6_TIME_EXCEEDED_REASSEMBLY = 1;
export const ICMPV6_PARAM_HEADER_FIELD = 0;
export const ICMPV6_PARAM_NEXT_HEADER = 1;
export const ICMPV6_PARAM_OPTION = 2;
/** RFC 4443 §2.4(c): an error message carries as much of the invoking packet as fits in 1280 bytes. */
export const ICMPV6_ERROR_MAX_LEN = 1280 - 40;

export type Icmpv6Error = "truncated" | "bad-checksum" | "unsupported-type";

export type Icmpv6Repr =
  | {
      readonly kind: "echo-request" | "echo-reply";
      readonly ident: number;
      readonly seq: number;
      readonly data: Uint8Array /** Present only when nonzero. */;
      readonly code?: number;
    }
  | { readonly kind: "dst-unreachable"; readonly code: number; readonly original: Uint8Array }
  | {
      readonly kind: "packet-too-big";
      readonly mtu: number;
      readonly original: Uint8Array /** Present only when nonzero (RFC 4443 §3.2 sends 0). */;
      readonly code?: number;
    }
  | { readonly kind: "time-exceeded"; readonly code: number; readonly original: Uint8Array }
  | { readonly kind: "parameter-problem"; readonly code: number; readonly pointer: number; readonly original: Uint8Array }
  /**
   * RFC 4443 §2.4(b): an error message (type below 128) of an unknown type must still reach the
   * upper layer of the packet it quotes. rest: the 32-bit word after the checksum.
   */
  | { readonly kind: "unknown-error"; readonly type: number; readonly code: number; readonly rest: number; readonly original: Uint8Array };

/** Options: skip the checksum when the link already validated it. */
export interface Icmpv6ParseOptions {
  readonly verifyChecksum?: boolean;
}

/** The checksum field value for a message (its own checksum field counted as zero). */
export function icmpv6Checksum(message: Uint8Array, src: Ipv6Address, dst: Ipv6Address, start = 0, end = message.length): number {
  const pseudo = ipv6PseudoHeaderSum(src, dst, IPV6_NEXT_HEADER_ICMPV6, end - start);
  const field = end - start >= 4 ? readU16(message, start + ICMPV6_CHECKSUM) : 0;
  // Subtracting the field in one's complement: add its complement.
  return checksumFinish(checksumRange(message, start, end, pseudo + (~field & 0xffff)));
}

/** True when the message (whole ICMPv6 payload) carries a correct checksum. */
export function verifyIcmpv6Checksum(message: Uint8Array, src: Ipv6Address, dst: Ipv6Address): boolean {
  const pseudo = ipv6PseudoHeaderSum(src, dst, IPV6_NEXT_HEADER_ICMPV6, message.length);
  return checksumFinish(checksumRange(message, 0, message.length, pseudo)) === 0;
}

/** Writes the checksum of buf[start, end) (an ICMPv6 message) into its field. */
export function fillIcmpv6Checksum(buf: Uint8Array, src: Ipv6Address, dst: Ipv6Address, start = 0, end = buf.length): void {
  writeU16(buf, start + ICMPV6_CHECKSUM, 0);
  const pseudo = ipv6PseudoHeaderSum(src, dst, IPV6_NEXT_HEADER_ICMPV6, end - start);
  writeU16(buf, start + ICMPV6_CHECKSUM, checksumFinish(checksumRange(buf, start, end, pseudo)));
}

/** View over an ICMPv6 message; accessors are safe after checkLen() succeeds. */
export class Icmpv6Packet {
  constructor(readonly bytes: Uint8Array) {}

  checkLen(): Result<this, "truncated"> {
    return this.bytes.length < ICMPV6_HEADER_LEN ? err("truncated") : ok(this);
  }

  get type(): number {
    return this.bytes[ICMPV6_TYPE]!;
  }
  set type(v: number) {
    this.bytes[ICMPV6_TYPE] = v;
  }
  get code(): number {
    return this.bytes[ICMPV6_CODE]!;
  }
  set code(v: number) {
    this.bytes[ICMPV6_CODE] = v;
  }
  get checksum(): number {
    return readU16(this.bytes, ICMPV6_CHECKSUM);
  }
  set checksum(v: number) {
    writeU16(this.bytes, ICMPV6_CHECKSUM, v);
  }
  get ident(): number {
    return readU16(this.bytes, ICMPV6_IDENT);
  }
  get seq(): number {
    return readU16(this.bytes, ICMPV6_SEQ);
  }
  get mtu(): number {
    return readU32(this.bytes, ICMPV6_MTU);
  }
  get pointer(): number {
    return readU32(this.bytes, ICMPV6_POINTER);
  }
  get data(): Uint8Array {
    return this.bytes.subarray(ICMPV6_DATA);
  }
}

/** Parses an ICMPv6 message (the whole upper-layer payload) sent from src to dst. */
export function parseIcmpv6(bytes: Uint8Array, src: Ipv6Address, dst: Ipv6Address, options?: Icmpv6ParseOptions): Result<Icmpv6Repr, Icmpv6Error> {
  const p = new Icmpv6Packet(bytes);
  const c = p.checkLen();
  if (!c.ok) return c;
  if (options?.verifyChecksum !== false && !verifyIcmpv6Checksum(bytes, src, dst)) return err("bad-checksum");
  const data = p.data;
  switch (p.type) {
    case ICMPV6_TYPE_ECHO_REQUEST:
    case ICMPV6_TYPE_ECHO_REPLY: {
      const kind = p.type === ICMPV6_TYPE_ECHO_REQUEST ? "echo-request" : "echo-reply";
      const code = p.code;
      return ok(code === 0 ? { kind, ident: p.ident, seq: p.seq, data } : { kind, ident: p.ident, seq: p.seq, data, code });
    }
    case ICMPV6_TYPE_DST_UNREACHABLE:
      return ok({ kind: "dst-unreachable", code: p.code, original: data });
    case ICMPV6_TYPE_PACKET_TOO_BIG: {
      const code = p.code;
      return ok(code === 0 ? { kind: "packet-too-big", mtu: p.mtu, original: data } : { kind: "packet-too-big", mtu: p.mtu, original: data, code });
    }
    case ICMPV6_TYPE_TIME_EXCEEDED:
      return ok({ kind: "time-exceeded", code: p.code, original: data });
    case ICMPV6_TYPE_PARAMETER_PROBLEM:
      return ok({ kind: "parameter-problem", code: p.code, pointer: p.pointer, original: data });
    default:
      // RFC 4443 §2.4(b): unknown informational messages are discarded; unknown errors are not.
      if (p.type < 128 && p.type !== 0 && p.type !== 127)
        return ok({ kind: "unknown-error", type: p.type, code: p.code, rest: readU32(bytes, 4), original: data });
      return err("unsupported-type");
  }
}

/** What an ICMPv6 error tells about the packet it quotes (RFC 4443 §2.4(c): as much as fits). */
export interface Icmpv6Quote {
  readonly src: Ipv6Address;
  readonly dst: Ipv6Address;
  /** The upper-layer protocol, found by walking the quoted extension headers. */
  readonly nextHeader: number;
  /** The quoted upper-layer bytes (the ports, for UDP/TCP, when present). */
  readonly transport: Uint8Array;
}

/**
 * Reads the quoted IPv6 header and walks its extension headers as far as the quote goes. The
 * quoted payload length may exceed the quote (that is normal). Unknown options do not matter
 * here, only the lengths; a type 0 routing header or a chain over the limits is "bad-chain".
 */
export function parseIcmpv6Quote(original: Uint8Array): Result<Icmpv6Quote, "truncated" | "bad-version" | "bad-chain"> {
  if (original.length < IPV6_HEADER_LEN) return err("truncated");
  if (original[0]! >>> 4 !== 6) return err("bad-version");
  const chain = walkIpv6Chain(original, { knownOption: () => true, maxHeaders: IPV6_DEFAULT_MAX_HEADERS });
  if (!chain.ok) return chain.error === "truncated" ? err("truncated") : err("bad-chain", chain.error);
  const upper = chain.value;
  return ok({ src: readIpv6(original, IPV6_SRC), dst: readIpv6(original, IPV6_DST), nextHeader: upper.upperLayer, transport: original.subarray(upper.offset) });
}

/** Bytes the repr emits (8 + data/original). */
export function icmpv6ReprLength(repr: Icmpv6Repr): number {
  return ICMPV6_HEADER_LEN + ("data" in repr ? repr.data.length : repr.original.length);
}

/**
 * Writes the message with its checksum at buf[offset..]; returns its length. The data is not
 * copied when it already sits at buf[offset + 8] (emit in place). Unused words are zero.
 */
export function emitIcmpv6(repr: Icmpv6Repr, buf: Uint8Array, offset: number, src: Ipv6Address, dst: Ipv6Address): number {
  let body: Uint8Array;
  writeU16(buf, offset + ICMPV6_CHECKSUM, 0);
  switch (repr.kind) {
    case "echo-request":
    case "echo-reply":
      buf[offset + ICMPV6_TYPE] = repr.kind === "echo-request" ? ICMPV6_TYPE_ECHO_REQUEST : ICMPV6_TYPE_ECHO_REPLY;
      buf[offset + ICMPV6_CODE] = repr.code ?? 0;
      writeU16(buf, offset + ICMPV6_IDENT, repr.ident);
      writeU16(buf, offset + ICMPV6_SEQ, repr.seq);
      body = repr.data;
      break;
    case "dst-unreachable":
      buf[offset + ICMPV6_TYPE] = ICMPV6_TYPE_DST_UNREACHABLE;
      buf[offset + ICMPV6_CODE] = repr.code;
      writeU32(buf, offset + 4, 0);
      body = repr.original;
      break;
    case "packet-too-big":
      buf[offset + ICMPV6_TYPE] = ICMPV6_TYPE_PACKET_TOO_BIG;
      buf[offset + ICMPV6_CODE] = repr.code ?? 0;
      writeU32(buf, offset + ICMPV6_MTU, repr.mtu >>> 0);
      body = repr.original;
      break;
    case "time-exceeded":
      buf[offset + ICMPV6_TYPE] = ICMPV6_TYPE_TIME_EXCEEDED;
      buf[offset + ICMPV6_CODE] = repr.code;
      writeU32(buf, offset + 4, 0);
      body = repr.original;
      break;
    case "parameter-problem":
      buf[offset + ICMPV6_TYPE] = ICMPV6_TYPE_PARAMETER_PROBLEM;
      buf[offset + ICMPV6_CODE] = repr.code;
      writeU32(buf, offset + ICMPV6_POINTER, repr.pointer >>> 0);
      body = repr.original;
      break;
    case "unknown-error":
      buf[offset + ICMPV6_TYPE] = repr.type;
      buf[offset + ICMPV6_CODE] = repr.code;
      writeU32(buf, offset + 4, repr.rest >>> 0);
      body = repr.original;
      break;
  }
  const start = offset + ICMPV6_DATA;
  if (!(body.buffer === buf.buffer && body.byteOffset === buf.byteOffset + start)) buf.set(body, start);
  const end = start + body.length;
  fillIcmpv6Checksum(buf, src, dst, offset, end);
  return end - offset;
}
