// IPv6 extension headers (RFC 8200 §4): Hop-by-Hop and Destination Options (TLV options,
// §4.2), Routing (§4.4; type 0 refused, RFC 5095), Fragment (§4.5), and a walker over the
// chain that finds the upper-layer header with explicit limits. Options are kept in order,
// padding included, so that emit gives back the bytes that were parsed.
import { type Result, type Ok, type Err, ok, err } from "../result.ts";
import { readU16, readU32, writeU16, writeU32 } from "./bytes.ts";
import {
  IPV6_HEADER_LEN,
  IPV6_NEXT_HEADER,
  IPV6_NEXT_HEADER_AH,
  IPV6_NEXT_HEADER_DESTINATION,
  IPV6_NEXT_HEADER_FRAGMENT,
  IPV6_NEXT_HEADER_HOP_BY_HOP,
  IPV6_NEXT_HEADER_ROUTING,
} from "./ipv6.ts";

export const IPV6_EXT_NEXT_HEADER = 0;
/** Length of the header in 8-octet units, not counting the first 8 (RFC 8200 §4.3). */
export const IPV6_EXT_LENGTH = 1;
export const IPV6_EXT_OPTIONS = 2;
export const IPV6_ROUTING_TYPE = 2;
export const IPV6_ROUTING_SEGMENTS_LEFT = 3;
/** The type-specific data (its first 4 bytes are the reserved word of most types). */
export const IPV6_ROUTING_DATA = 4;
export const IPV6_FRAGMENT_RESERVED = 1;
export const IPV6_FRAGMENT_OFFSET_FLAGS = 2;
export const IPV6_FRAGMENT_IDENT = 4;
export const IPV6_FRAGMENT_HEADER_LEN = 8;
/** The shortest extension header. */
export const IPV6_EXT_MIN_LEN = 8;

export const IPV6_OPTION_PAD1 = 0;
export const IPV6_OPTION_PADN = 1;
/** RFC 2711: Router Alert (MLD messages carry it in a Hop-by-Hop header). */
export const IPV6_OPTION_ROUTER_ALERT = 5;
/** RFC 2675: Jumbo Payload. */
export const IPV6_OPTION_JUMBO = 0xc2;

/** RFC 5095: the deprecated source route. */
export const IPV6_ROUTING_TYPE_0 = 0;

export const IPV6_FRAGMENT_MF = 0x0001;
export const IPV6_FRAGMENT_OFFSET_MASK = 0xfff8;

export type Ipv6ExtError = "truncated" | "bad-option";

/** One TLV option: Pad1 has no length byte and no data (its data is empty). */
export interface Ipv6Option {
  readonly type: number;
  readonly data: Uint8Array;
}

/** Hop-by-Hop or Destination Options header. */
export interface Ipv6OptionsRepr {
  readonly nextHeader: number;
  /** Every option in order, Pad1 and PadN included; together 2 + their sizes is a multiple of 8. */
  readonly options: readonly Ipv6Option[];
}

export interface Ipv6RoutingRepr {
  readonly nextHeader: number;
  readonly routingType: number;
  readonly segmentsLeft: number;
  /** Everything after the first 4 bytes (reserved word and addresses for types 0/2). */
  readonly data: Uint8Array;
}

export interface Ipv6FragmentRepr {
  readonly nextHeader: number;
  /** In bytes (a multiple of 8). */
  readonly fragmentOffset: number;
  readonly moreFragments: boolean;
  readonly ident: number;
}

/**
 * RFC 8200 §4.2: what a node that does not recognise an option must do, from the two high bits
 * of its type: 00 skip it; 01 discard the packet; 10 discard and send Parameter Problem code 2
 * pointing at the type; 11 the same, but no ICMP when the destination was multicast.
 */
export type Ipv6OptionAction = "skip" | "discard" | "discard-icmp" | "discard-icmp-unless-multicast";

/** The action for an unrecognised option type. */
export function ipv6OptionAction(type: number): Ipv6OptionAction {
  switch (type >>> 6) {
    case 0:
      return "skip";
    case 1:
      return "discard";
    case 2:
      return "discard-icmp";
    default:
      return "discard-icmp-unless-multicast";
  }
}

/** RFC 8200 §4.2: bit 3 (0x20) of the type says the data may change en route. */
export function ipv6OptionMayChange(type: number): boolean {
  return (type & 0x20) !== 0;
}

/** Bytes an option takes on the wire. */
export function ipv6OptionSize(o: Ipv6Option): number {
  return o.type === IPV6_OPTION_PAD1 ? 1 : 2 + o.data.length;
}

/** View over an extension header with the common next-header/length prefix. */
export class Ipv6ExtPacket {
  constructor(readonly bytes: Uint8Array) {}

  /** Validates that the whole header (8 * (length + 1) bytes) is present. */
  checkLen(): Result<this, "truncated"> {
    if (this.bytes.length < IPV6_EXT_MIN_LEN) return err("truncated");
    return this.headerLength > this.bytes.length ? err("truncated") : ok(this);
  }

  get nextHeader(): number {
    return this.bytes[IPV6_EXT_NEXT_HEADER]!;
  }
  set nextHeader(v: number) {
    this.bytes[IPV6_EXT_NEXT_HEADER] = v;
  }
  /** The header's size in bytes. */
  get headerLength(): number {
    return (this.bytes[IPV6_EXT_LENGTH]! + 1) * 8;
  }
  get routingType(): number {
    return this.bytes[IPV6_ROUTING_TYPE]!;
  }
  get segmentsLeft(): number {
    return this.bytes[IPV6_ROUTING_SEGMENTS_LEFT]!;
  }
  set segmentsLeft(v: number) {
    this.bytes[IPV6_ROUTING_SEGMENTS_LEFT] = v;
  }
  get header(): Uint8Array {
    return this.bytes.subarray(0, this.headerLength);
  }
}

/** Parses the TLV area bytes[start, end) (the options of one header); never reads outside it. */
export function parseIpv6Options(bytes: Uint8Array, start = 0, end = bytes.length): Result<Ipv6Option[], "bad-option"> {
  const out: Ipv6Option[] = [];
  let i = start;
  while (i < end) {
    const type = bytes[i]!;
    if (type === IPV6_OPTION_PAD1) {
      out.push({ type, data: new Uint8Array(0) });
      i += 1;
      continue;
    }
    if (i + 2 > end) return err("bad-option", `option ${type} at ${i}: no length byte`);
    const len = bytes[i + 1]!;
    if (i + 2 + len > end) return err("bad-option", `option ${type} at ${i}: ${len} bytes past the header`);
    out.push({ type, data: bytes.subarray(i + 2, i + 2 + len) });
    i += 2 + len;
  }
  return ok(out);
}

/** Parses a Hop-by-Hop or Destination Options header at the start of bytes. */
export function parseIpv6OptionsHeader(bytes: Uint8Array): Result<Ipv6OptionsRepr, Ipv6ExtError> {
  const p = new Ipv6ExtPacket(bytes);
  const c = p.checkLen();
  if (!c.ok) return c;
  const options = parseIpv6Options(bytes, IPV6_EXT_OPTIONS, p.headerLength);
  if (!options.ok) return options;
  return ok({ nextHeader: p.nextHeader, options: options.value });
}

/** Header size the repr emits: 2 + its options, padded to a multiple of 8. */
export function ipv6OptionsHeaderLength(repr: Ipv6OptionsRepr): number {
  const n = repr.options.reduce((s, o) => s + ipv6OptionSize(o), 2);
  return (n + 7) & ~7;
}

/**
 * Writes an options header at buf[offset..]; returns its length. Options that do not end on an
 * 8-byte boundary are followed by Pad1 or PadN (RFC 8200 §4.2). Option data over 255 bytes is a
 * programmer error.
 */
export function emitIpv6OptionsHeader(repr: Ipv6OptionsRepr, buf: Uint8Array, offset = 0): number {
  const len = ipv6OptionsHeaderLength(repr);
  buf[offset + IPV6_EXT_NEXT_HEADER] = repr.nextHeader & 0xff;
  buf[offset + IPV6_EXT_LENGTH] = len / 8 - 1;
  let i = offset + IPV6_EXT_OPTIONS;
  for (const o of repr.options) {
    buf[i] = o.type;
    if (o.type === IPV6_OPTION_PAD1) {
      i += 1;
      continue;
    }
    buf[i + 1] = o.data.length;
    buf.set(o.data, i + 2);
    i += 2 + o.data.length;
  }
  const pad = offset + len - i;
  if (pad === 1) buf[i] = IPV6_OPTION_PAD1;
  else if (pad > 1) {
    buf[i] = IPV6_OPTION_PADN;
    buf[i + 1] = pad - 2;
    buf.fill(0, i + 2, i + pad);
  }
  return len;
}

/**
 * The first option in `options` that the node does not know and whose action is not "skip",
 * with its offset from the start of the options area (add the header's offset + 2 for a
 * Parameter Problem pointer). Pad1 and PadN are always known.
 */
export function firstUnknownIpv6Option(
  options: readonly Ipv6Option[],
  known: (type: number) => boolean,
): { readonly type: number; readonly offset: number; readonly action: Exclude<Ipv6OptionAction, "skip"> } | undefined {
  let at = 0;
  for (const o of options) {
    if (o.type !== IPV6_OPTION_PAD1 && o.type !== IPV6_OPTION_PADN && !known(o.type)) {
      const action = ipv6OptionAction(o.type);
      if (action !== "skip") return { type: o.type, offset: at, action };
    }
    at += ipv6OptionSize(o);
  }
  return undefined;
}

/** Parses a Routing header of any type (the walker, not this parser, refuses type 0). */
export function parseIpv6Routing(bytes: Uint8Array): Result<Ipv6RoutingRepr, "truncated"> {
  const p = new Ipv6ExtPacket(bytes);
  const c = p.checkLen();
  if (!c.ok) return c;
  return ok({ nextHeader: p.nextHeader, routingType: p.routingType, segmentsLeft: p.segmentsLeft, data: bytes.subarray(IPV6_ROUTING_DATA, p.headerLength) });
}

/** Header size the repr emits: 4 + data, rounded up to a multiple of 8. */
export function ipv6RoutingHeaderLength(repr: Ipv6RoutingRepr): number {
  return (IPV6_ROUTING_DATA + repr.data.length + 7) & ~7;
}

/** Writes a Routing header (data zero-padded to 8 bytes); returns its length. */
export function emitIpv6Routing(repr: Ipv6RoutingRepr, buf: Uint8Array, offset = 0): number {
  const len = ipv6RoutingHeaderLength(repr);
  buf[offset + IPV6_EXT_NEXT_HEADER] = repr.nextHeader & 0xff;
  buf[offset + IPV6_EXT_LENGTH] = len / 8 - 1;
  buf[offset + IPV6_ROUTING_TYPE] = repr.routingType & 0xff;
  buf[offset + IPV6_ROUTING_SEGMENTS_LEFT] = repr.segmentsLeft & 0xff;
  buf.set(repr.data, offset + IPV6_ROUTING_DATA);
  buf.fill(0, offset + IPV6_ROUTING_DATA + repr.data.length, offset + len);
  return len;
}

/**
 * Parses a Fragment header. RFC 8200 §4.5: the reserved fields are ignored on reception (and
 * written as zero). Its length byte is reserved too: the header is always 8 bytes.
 */
export function parseIpv6Fragment(bytes: Uint8Array): Result<Ipv6FragmentRepr, "truncated"> {
  if (bytes.length < IPV6_FRAGMENT_HEADER_LEN) return err("truncated");
  const w = readU16(bytes, IPV6_FRAGMENT_OFFSET_FLAGS);
  return ok({
    nextHeader: bytes[IPV6_EXT_NEXT_HEADER]!,
    fragmentOffset: w & IPV6_FRAGMENT_OFFSET_MASK,
    moreFragments: (w & IPV6_FRAGMENT_MF) !== 0,
    ident: readU32(bytes, IPV6_FRAGMENT_IDENT),
  });
}

/** Writes a Fragment header; returns 8. */
export function emitIpv6Fragment(repr: Ipv6FragmentRepr, buf: Uint8Array, offset = 0): number {
  buf[offset + IPV6_EXT_NEXT_HEADER] = repr.nextHeader & 0xff;
  buf[offset + IPV6_FRAGMENT_RESERVED] = 0;
  writeU16(buf, offset + IPV6_FRAGMENT_OFFSET_FLAGS, (repr.fragmentOffset & IPV6_FRAGMENT_OFFSET_MASK) | (repr.moreFragments ? IPV6_FRAGMENT_MF : 0));
  writeU32(buf, offset + IPV6_FRAGMENT_IDENT, repr.ident >>> 0);
  return IPV6_FRAGMENT_HEADER_LEN;
}

/** True for the next-header values the walker steps over. */
export function isIpv6ExtensionHeader(nextHeader: number): boolean {
  return (
    nextHeader === IPV6_NEXT_HEADER_HOP_BY_HOP ||
    nextHeader === IPV6_NEXT_HEADER_ROUTING ||
    nextHeader === IPV6_NEXT_HEADER_FRAGMENT ||
    nextHeader === IPV6_NEXT_HEADER_DESTINATION ||
    nextHeader === IPV6_NEXT_HEADER_AH
  );
}

/** One header the walker stepped over; offset is from the start of the IPv6 header. */
export type Ipv6ExtSummary =
  | { readonly kind: "hop-by-hop" | "destination"; readonly offset: number; readonly length: number; readonly options: readonly Ipv6Option[] }
  | { readonly kind: "routing"; readonly offset: number; readonly length: number; readonly routingType: number; readonly segmentsLeft: number }
  | { readonly kind: "fragment"; readonly offset: number; readonly length: number; readonly fragment: Ipv6FragmentRepr }
  | { readonly kind: "authentication"; readonly offset: number; readonly length: number };

/** Where the chain ends. */
export interface Ipv6Chain {
  /** The upper-layer protocol (or 59, No Next Header; or the protocol after a non-first fragment). */
  readonly upperLayer: number;
  /** Offset of the upper-layer header from the start of the IPv6 header. */
  readonly offset: number;
  readonly headers: readonly Ipv6ExtSummary[];
  /** The Fragment header when there was one: then the upper layer begins only in offset 0. */
  readonly fragment?: Ipv6FragmentRepr;
}

export interface Ipv6ChainLimits {
  /** Extension headers at most (default 8). */
  readonly maxHeaders?: number;
  /** Bytes of extension headers at most (default 1024). */
  readonly maxChainLength?: number;
  /** Option types the node implements; others are judged by ipv6OptionAction (default: none). */
  readonly knownOption?: (type: number) => boolean;
}

export const IPV6_DEFAULT_MAX_HEADERS = 8;
export const IPV6_DEFAULT_MAX_CHAIN_LENGTH = 1024;

/**
 * - "truncated": a header runs past the payload; discard silently.
 * - "bad-option": an option runs past its header; Parameter Problem code 0 at the header.
 * - "hop-by-hop-not-first": RFC 8200 §4.1, Hop-by-Hop only right after the IPv6 header; code 1.
 * - "routing-type-0": RFC 5095 §3, a type 0 header with segments left; code 0 at the type field.
 * - "unknown-option": an option the node does not know, whose high bits ask to discard; code 2.
 * - "too-many-headers", "chain-too-long": over the limits; discard (RFC 8504 §5.3 lets a host
 *   set such limits).
 */
export type Ipv6ChainError = "truncated" | "bad-option" | "hop-by-hop-not-first" | "routing-type-0" | "unknown-option" | "too-many-headers" | "chain-too-long";

/** A refused chain: the error code, what the receiver must do, and for ICMP its code and pointer. */
export type Ipv6ChainFailure = Err<Ipv6ChainError> & {
  readonly action: Exclude<Ipv6OptionAction, "skip">;
  /** RFC 4443 §3.4 Parameter Problem code (0 header field, 1 next header, 2 option) when action asks for ICMP. */
  readonly icmpCode: number;
  /** Offset from the start of the IPv6 header of the byte at fault (always inside the packet). */
  readonly pointer: number;
};

function fail(error: Ipv6ChainError, action: Exclude<Ipv6OptionAction, "skip">, icmpCode: number, pointer: number): Ipv6ChainFailure {
  return { ...err(error), action, icmpCode, pointer };
}

/**
 * Walks the extension headers of an IPv6 packet (`packet` starts at the IPv6 header and ends at
 * 40 + payload length). Never reads outside `packet`. A routing header of a type other than 0
 * is surfaced with its segments left: forwarding along it is the caller's business.
 */
export function walkIpv6Chain(packet: Uint8Array, limits?: Ipv6ChainLimits): Ok<Ipv6Chain> | Ipv6ChainFailure {
  const maxHeaders = limits?.maxHeaders ?? IPV6_DEFAULT_MAX_HEADERS;
  const maxChain = limits?.maxChainLength ?? IPV6_DEFAULT_MAX_CHAIN_LENGTH;
  const known = limits?.knownOption ?? ((): boolean => false);
  if (packet.length < IPV6_HEADER_LEN) return fail("truncated", "discard", 0, 0);
  let next = packet[IPV6_NEXT_HEADER]!;
  let nextAt = IPV6_NEXT_HEADER;
  let at = IPV6_HEADER_LEN;
  const headers: Ipv6ExtSummary[] = [];
  let fragment: Ipv6FragmentRepr | undefined;
  while (isIpv6ExtensionHeader(next)) {
    if (next === IPV6_NEXT_HEADER_HOP_BY_HOP && at !== IPV6_HEADER_LEN) return fail("hop-by-hop-not-first", "discard-icmp", 1, nextAt);
    if (headers.length >= maxHeaders) return fail("too-many-headers", "discard", 0, nextAt);
    // a header that does not even begin inside the payload: the fault is the Next Header field naming it
    if (at + IPV6_EXT_MIN_LEN > packet.length) return fail("truncated", "discard", 0, at < packet.length ? at : nextAt);
    let length: number;
    if (next === IPV6_NEXT_HEADER_FRAGMENT) length = IPV6_FRAGMENT_HEADER_LEN;
    else if (next === IPV6_NEXT_HEADER_AH)
      length = (packet[at + IPV6_EXT_LENGTH]! + 2) * 4; // RFC 4302 §2.2: 4-octet units, minus 2
    else length = (packet[at + IPV6_EXT_LENGTH]! + 1) * 8;
    if (at + length > packet.length) return fail("truncated", "discard", 0, at);
    if (at + length - IPV6_HEADER_LEN > maxChain) return fail("chain-too-long", "discard", 0, at);
    const header = packet.subarray(at, at + length);
    if (next === IPV6_NEXT_HEADER_HOP_BY_HOP || next === IPV6_NEXT_HEADER_DESTINATION) {
      const options = parseIpv6Options(header, IPV6_EXT_OPTIONS, length);
      if (!options.ok) return fail("bad-option", "discard-icmp", 0, at + IPV6_EXT_LENGTH);
      const unknown = firstUnknownIpv6Option(options.value, known);
      if (unknown) return fail("unknown-option", unknown.action, 2, at + IPV6_EXT_OPTIONS + unknown.offset);
      headers.push({ kind: next === IPV6_NEXT_HEADER_HOP_BY_HOP ? "hop-by-hop" : "destination", offset: at, length, options: options.value });
    } else if (next === IPV6_NEXT_HEADER_ROUTING) {
      const routingType = header[IPV6_ROUTING_TYPE]!;
      const segmentsLeft = header[IPV6_ROUTING_SEGMENTS_LEFT]!;
      // RFC 5095 §3 / RFC 8200 §4.4: with no segments left an unrecognised type is ignored.
      if (routingType === IPV6_ROUTING_TYPE_0 && segmentsLeft > 0) return fail("routing-type-0", "discard-icmp", 0, at + IPV6_ROUTING_TYPE);
      headers.push({ kind: "routing", offset: at, length, routingType, segmentsLeft });
    } else if (next === IPV6_NEXT_HEADER_FRAGMENT) {
      const f = parseIpv6Fragment(header);
      if (!f.ok) return fail("truncated", "discard", 0, at);
      fragment = f.value;
      headers.push({ kind: "fragment", offset: at, length, fragment: f.value });
      if (f.value.fragmentOffset !== 0) {
        // Later fragments carry no headers to walk: the chain ends here for now.
        return ok({ upperLayer: f.value.nextHeader, offset: at + length, headers, fragment });
      }
    } else {
      headers.push({ kind: "authentication", offset: at, length });
    }
    next = header[IPV6_EXT_NEXT_HEADER]!;
    nextAt = at + IPV6_EXT_NEXT_HEADER;
    at += length;
  }
  return ok(fragment ? { upperLayer: next, offset: at, headers, fragment } : { upperLayer: next, offset: at, headers });
}
