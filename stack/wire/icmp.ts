// ICMPv4 (RFC 792): echo, destination unreachable (with RFC 1191 next-hop MTU), redirect,
// time exceeded, parameter problem. The checksum covers the whole ICMP message.
// IcmpPacket: view; IcmpRepr: meaning; parseIcmp/emitIcmp convert; icmpReprLength(repr) sizes it;
// parseIcmpQuote reads the original datagram quoted by an error message.
import { type Result, ok, err } from "../result.ts";
import { type Ipv4Address, readIpv4, writeIpv4 } from "./address.ts";
import { readU16, writeU16 } from "./bytes.ts";
import { checksumAdd, checksumFinish } from "./checksum.ts";

export const ICMP_TYPE = 0;
export const ICMP_CODE = 1;
export const ICMP_CHECKSUM = 2;
/** Echo identifier / first half of the "rest of header" word. */
export const ICMP_IDENT = 4;
/** Echo sequence number / RFC 1191 next-hop MTU. */
export const ICMP_SEQ = 6;
export const ICMP_NEXT_HOP_MTU = 6;
export const ICMP_POINTER = 4;
export const ICMP_GATEWAY = 4;
export const ICMP_DATA = 8;
export const ICMP_HEADER_LEN = 8;

export const ICMP_TYPE_ECHO_REPLY = 0;
export const ICMP_TYPE_DST_UNREACHABLE = 3;
export const ICMP_TYPE_REDIRECT = 5;
export const ICMP_TYPE_ECHO_REQUEST = 8;
export const ICMP_TYPE_TIME_EXCEEDED = 11;
export const ICMP_TYPE_PARAMETER_PROBLEM = 12;

export const ICMP_UNREACH_NET = 0;
export const ICMP_UNREACH_HOST = 1;
export const ICMP_UNREACH_PROTOCOL = 2;
export const ICMP_UNREACH_PORT = 3;
/** RFC 1191: fragmentation needed and DF set; the next-hop MTU is in bytes 6-7. */
export const ICMP_UNREACH_FRAG_NEEDED = 4;
export const ICMP_TIME_EXCEEDED_TTL = 0;
export const ICMP_TIME_EXCEEDED_REASSEMBLY = 1;

export type IcmpError = "truncated" | "bad-checksum" | "unsupported-type";

export type IcmpRepr =
  | {
      readonly kind: "echo-request" | "echo-reply";
      readonly ident: number;
      readonly seq: number;
      readonly data: Uint8Array /** Present only when nonzero (RFC 792 sends 0). */;
      readonly code?: number;
    }
  | { readonly kind: "dst-unreachable"; readonly code: number; readonly nextHopMtu: number; readonly original: Uint8Array }
  | { readonly kind: "redirect"; readonly code: number; readonly gateway: Ipv4Address; readonly original: Uint8Array }
  | { readonly kind: "time-exceeded"; readonly code: number; readonly original: Uint8Array }
  | { readonly kind: "parameter-problem"; readonly pointer: number; readonly original: Uint8Array };

/** View over an ICMP message; accessors are safe after checkLen() succeeds. */
export class IcmpPacket {
  constructor(readonly bytes: Uint8Array) {}

  checkLen(): Result<this, "truncated"> {
    return this.bytes.length < ICMP_HEADER_LEN ? err("truncated") : ok(this);
  }

  get type(): number {
    return this.bytes[ICMP_TYPE]!;
  }
  set type(v: number) {
    this.bytes[ICMP_TYPE] = v;
  }
  get code(): number {
    return this.bytes[ICMP_CODE]!;
  }
  set code(v: number) {
    this.bytes[ICMP_CODE] = v;
  }
  get checksum(): number {
    return readU16(this.bytes, ICMP_CHECKSUM);
  }
  set checksum(v: number) {
    writeU16(this.bytes, ICMP_CHECKSUM, v);
  }
  get ident(): number {
    return readU16(this.bytes, ICMP_IDENT);
  }
  get seq(): number {
    return readU16(this.bytes, ICMP_SEQ);
  }
  get nextHopMtu(): number {
    return readU16(this.bytes, ICMP_NEXT_HOP_MTU);
  }
  get pointer(): number {
    return this.bytes[ICMP_POINTER]!;
  }
  get gateway(): Ipv4Address {
    return readIpv4(this.bytes, ICMP_GATEWAY);
  }
  get data(): Uint8Array {
    return this.bytes.subarray(ICMP_DATA);
  }
  verifyChecksum(): boolean {
    return checksumFinish(checksumAdd(this.bytes)) === 0;
  }
  fillChecksum(): void {
    this.checksum = 0;
    this.checksum = checksumFinish(checksumAdd(this.bytes));
  }
}

/** Parses an ICMP message (the whole IP payload). */
export function parseIcmp(bytes: Uint8Array, options?: { readonly verifyChecksum?: boolean }): Result<IcmpRepr, IcmpError> {
  const p = new IcmpPacket(bytes);
  if (bytes.length < ICMP_HEADER_LEN) return err("truncated");
  if (options?.verifyChecksum !== false && !p.verifyChecksum()) return err("bad-checksum");
  const data = p.data;
  switch (p.type) {
    case ICMP_TYPE_ECHO_REQUEST:
    case ICMP_TYPE_ECHO_REPLY: {
      const kind = p.type === ICMP_TYPE_ECHO_REQUEST ? "echo-request" : "echo-reply";
      const code = p.code;
      return ok(code === 0 ? { kind, ident: p.ident, seq: p.seq, data } : { kind, ident: p.ident, seq: p.seq, data, code });
    }
    case ICMP_TYPE_DST_UNREACHABLE:
      return ok({ kind: "dst-unreachable", code: p.code, nextHopMtu: p.nextHopMtu, original: data });
    case ICMP_TYPE_REDIRECT:
      return ok({ kind: "redirect", code: p.code, gateway: p.gateway, original: data });
    case ICMP_TYPE_TIME_EXCEEDED:
      return ok({ kind: "time-exceeded", code: p.code, original: data });
    case ICMP_TYPE_PARAMETER_PROBLEM:
      return ok({ kind: "parameter-problem", pointer: p.pointer, original: data });
    default:
      return err("unsupported-type");
  }
}

/** Bytes the repr emits (8 + data/original). */
export function icmpReprLength(repr: IcmpRepr): number {
  return ICMP_HEADER_LEN + ("data" in repr ? repr.data.length : repr.original.length);
}

/**
 * Writes the message with its checksum at buf[offset..]; returns its length. The data is not
 * copied when it already sits at buf[offset + 8] (emit in place).
 */
export function emitIcmp(repr: IcmpRepr, buf: Uint8Array, offset = 0): number {
  let body: Uint8Array;
  writeU16(buf, offset + ICMP_CHECKSUM, 0);
  switch (repr.kind) {
    case "echo-request":
    case "echo-reply":
      buf[offset + ICMP_TYPE] = repr.kind === "echo-request" ? ICMP_TYPE_ECHO_REQUEST : ICMP_TYPE_ECHO_REPLY;
      buf[offset + ICMP_CODE] = repr.code ?? 0;
      writeU16(buf, offset + ICMP_IDENT, repr.ident);
      writeU16(buf, offset + ICMP_SEQ, repr.seq);
      body = repr.data;
      break;
    case "dst-unreachable":
      buf[offset + ICMP_TYPE] = ICMP_TYPE_DST_UNREACHABLE;
      buf[offset + ICMP_CODE] = repr.code;
      writeU16(buf, offset + ICMP_IDENT, 0);
      writeU16(buf, offset + ICMP_NEXT_HOP_MTU, repr.nextHopMtu);
      body = repr.original;
      break;
    case "redirect":
      buf[offset + ICMP_TYPE] = ICMP_TYPE_REDIRECT;
      buf[offset + ICMP_CODE] = repr.code;
      writeIpv4(buf, offset + ICMP_GATEWAY, repr.gateway);
      body = repr.original;
      break;
    case "time-exceeded":
      buf[offset + ICMP_TYPE] = ICMP_TYPE_TIME_EXCEEDED;
      buf[offset + ICMP_CODE] = repr.code;
      writeU16(buf, offset + ICMP_IDENT, 0);
      writeU16(buf, offset + ICMP_SEQ, 0);
      body = repr.original;
      break;
    case "parameter-problem":
      buf[offset + ICMP_TYPE] = ICMP_TYPE_PARAMETER_PROBLEM;
      buf[offset + ICMP_CODE] = 0;
      buf[offset + ICMP_POINTER] = repr.pointer;
      buf[offset + ICMP_POINTER + 1] = 0;
      writeU16(buf, offset + ICMP_SEQ, 0);
      body = repr.original;
      break;
  }
  const start = offset + ICMP_DATA;
  if (!(body.buffer === buf.buffer && body.byteOffset === buf.byteOffset + start)) buf.set(body, start);
  const end = start + body.length;
  writeU16(buf, offset + ICMP_CHECKSUM, checksumFinish(checksumAdd(buf.subarray(offset, end))));
  return end - offset;
}

/** What an ICMP error tells about the datagram it quotes (RFC 792: IP header + first 8 bytes). */
export interface IcmpQuote {
  readonly src: Ipv4Address;
  readonly dst: Ipv4Address;
  readonly protocol: number;
  readonly ident: number;
  /** The quoted transport bytes (at least the ports for UDP/TCP when present). */
  readonly transport: Uint8Array;
}

/** Reads the quoted IPv4 header (whose total length may exceed the quote; that is normal). */
export function parseIcmpQuote(original: Uint8Array): Result<IcmpQuote, "truncated" | "bad-version" | "bad-header-length"> {
  if (original.length < 20) return err("truncated");
  if (original[0]! >>> 4 !== 4) return err("bad-version");
  const hl = (original[0]! & 0x0f) * 4;
  if (hl < 20) return err("bad-header-length");
  if (hl > original.length) return err("truncated");
  return ok({
    src: readIpv4(original, 12),
    dst: readIpv4(original, 16),
    protocol: original[9]!,
    ident: readU16(original, 4),
    transport: original.subarray(hl),
  });
}
