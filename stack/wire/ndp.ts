// Neighbor Discovery (RFC 4861 §4): Router Solicitation and Advertisement, Neighbor
// Solicitation and Advertisement, Redirect, and their options: source/target link-layer
// address, prefix information, redirected header, MTU (§4.6) and RDNSS (RFC 8106 §5.1).
// Unknown options are kept ("unknown") as RFC 4861 §4.6 asks receivers to skip them. parseNdp
// checks the message's own bytes; checkNdpValidity adds the rules that involve the IPv6 header
// (hop limit 255, source and destination addresses), for the neighbour layer to call.
import { type Result, ok, err } from "../result.ts";
import { type MacAddress, readMac, writeMac } from "./address.ts";
import { readU16, readU32, writeU16, writeU32 } from "./bytes.ts";
import { type Ipv6Address, ipv6Equal, isIpv6LinkLocal, isIpv6Multicast, isIpv6Unspecified, readIpv6, solicitedNodeAddress, writeIpv6 } from "./ipv6-address.ts";
import {
  ICMPV6_CODE,
  ICMPV6_TYPE,
  ICMPV6_TYPE_NEIGHBOR_ADVERTISEMENT,
  ICMPV6_TYPE_NEIGHBOR_SOLICITATION,
  ICMPV6_TYPE_REDIRECT,
  ICMPV6_TYPE_ROUTER_ADVERTISEMENT,
  ICMPV6_TYPE_ROUTER_SOLICITATION,
  fillIcmpv6Checksum,
  verifyIcmpv6Checksum,
} from "./icmpv6.ts";

/** RS, NS, NA, redirect: the 32-bit word after the checksum (reserved, or NA flags). */
export const NDP_FLAGS_WORD = 4;
export const NDP_RA_CUR_HOP_LIMIT = 4;
export const NDP_RA_FLAGS = 5;
export const NDP_RA_ROUTER_LIFETIME = 6;
export const NDP_RA_REACHABLE_TIME = 8;
export const NDP_RA_RETRANS_TIMER = 12;
export const NDP_TARGET = 8;
export const NDP_REDIRECT_DESTINATION = 24;
export const NDP_RS_LEN = 8;
export const NDP_RA_LEN = 16;
export const NDP_NS_LEN = 24;
export const NDP_NA_LEN = 24;
export const NDP_REDIRECT_LEN = 40;

export const NDP_RA_FLAG_MANAGED = 0x80;
export const NDP_RA_FLAG_OTHER = 0x40;
export const NDP_NA_FLAG_ROUTER = 0x80000000;
export const NDP_NA_FLAG_SOLICITED = 0x40000000;
export const NDP_NA_FLAG_OVERRIDE = 0x20000000;

export const NDP_OPTION_SOURCE_LLA = 1;
export const NDP_OPTION_TARGET_LLA = 2;
export const NDP_OPTION_PREFIX_INFORMATION = 3;
export const NDP_OPTION_REDIRECTED_HEADER = 4;
export const NDP_OPTION_MTU = 5;
/** RFC 8106 §5.1. */
export const NDP_OPTION_RDNSS = 25;
/** Prefix information flags (RFC 4861 §4.6.2). */
export const NDP_PREFIX_FLAG_ON_LINK = 0x80;
export const NDP_PREFIX_FLAG_AUTONOMOUS = 0x40;
/** Prefix information option layout (offsets within the option). */
export const NDP_PREFIX_LENGTH = 2;
export const NDP_PREFIX_FLAGS = 3;
export const NDP_PREFIX_VALID_LIFETIME = 4;
export const NDP_PREFIX_PREFERRED_LIFETIME = 8;
export const NDP_PREFIX_PREFIX = 16;
/** Lifetimes of all ones mean infinity (RFC 4861 §4.6.2). */
export const NDP_INFINITE_LIFETIME = 0xffffffff;

/**
 * - "bad-code": RFC 4861 §6.1 and on: every ND message has code 0.
 * - "zero-length-option": RFC 4861 §4.6, an option of length 0; the message must be discarded.
 * - "truncated-option": an option runs past the message.
 * - "bad-option-length": a prefix information (length 4), MTU (1) or RDNSS (odd, at least 3) option
 *   of another length.
 */
export type NdpError = "truncated" | "bad-checksum" | "bad-code" | "unsupported-type" | "zero-length-option" | "truncated-option" | "bad-option-length";

export type NdpOption =
  /** address: the option's bytes after type and length (6 for Ethernet, RFC 2464 §8). */
  | { readonly kind: "source-link-layer-address" | "target-link-layer-address"; readonly address: Uint8Array }
  | {
      readonly kind: "prefix-information";
      readonly prefixLength: number;
      /** The flags byte: NDP_PREFIX_FLAG_ON_LINK, NDP_PREFIX_FLAG_AUTONOMOUS, and others as received. */
      readonly flags: number;
      readonly validLifetime: number;
      readonly preferredLifetime: number;
      readonly prefix: Ipv6Address;
    }
  /** data: the quoted IP header and data (after the 8 bytes of type, length and reserved). */
  | { readonly kind: "redirected-header"; readonly data: Uint8Array }
  | { readonly kind: "mtu"; readonly mtu: number }
  | { readonly kind: "rdnss"; readonly lifetime: number; readonly servers: readonly Ipv6Address[] }
  /** data: the bytes after type and length (8 * length - 2). */
  | { readonly kind: "unknown"; readonly type: number; readonly data: Uint8Array };

export type NdpRepr =
  | { readonly kind: "router-solicitation"; readonly options: readonly NdpOption[] }
  | {
      readonly kind: "router-advertisement";
      readonly curHopLimit: number;
      /** The flags byte: NDP_RA_FLAG_MANAGED, NDP_RA_FLAG_OTHER, and others as received (RFC 4191 preference, ...). */
      readonly flags: number;
      readonly routerLifetime: number;
      readonly reachableTime: number;
      readonly retransTimer: number;
      readonly options: readonly NdpOption[];
    }
  | { readonly kind: "neighbor-solicitation"; readonly target: Ipv6Address; readonly options: readonly NdpOption[] }
  | {
      readonly kind: "neighbor-advertisement";
      readonly router: boolean;
      readonly solicited: boolean;
      readonly override: boolean;
      readonly target: Ipv6Address;
      readonly options: readonly NdpOption[];
    }
  | { readonly kind: "redirect"; readonly target: Ipv6Address; readonly destination: Ipv6Address; readonly options: readonly NdpOption[] };

/** The MAC in a link-layer address option when it is an Ethernet one (6 bytes). */
export function ndpOptionMac(o: NdpOption): MacAddress | undefined {
  if ((o.kind === "source-link-layer-address" || o.kind === "target-link-layer-address") && o.address.length === 6) return readMac(o.address, 0);
  return undefined;
}

/** A link-layer address option for an Ethernet MAC. */
export function ndpMacOption(kind: "source-link-layer-address" | "target-link-layer-address", mac: MacAddress): NdpOption {
  const address = new Uint8Array(6);
  writeMac(address, 0, mac);
  return { kind, address };
}

/** Parses the options in bytes[start..end) (RFC 4861 §4.6); never reads outside it. */
export function parseNdpOptions(
  bytes: Uint8Array,
  start = 0,
  end = bytes.length,
): Result<NdpOption[], "zero-length-option" | "truncated-option" | "bad-option-length"> {
  const out: NdpOption[] = [];
  let i = start;
  while (i < end) {
    if (i + 2 > end) return err("truncated-option");
    const type = bytes[i]!;
    const units = bytes[i + 1]!;
    if (units === 0) return err("zero-length-option", `option ${type} at ${i}`);
    const len = units * 8;
    if (i + len > end) return err("truncated-option", `option ${type} at ${i}: ${len} bytes`);
    const o = bytes.subarray(i, i + len);
    switch (type) {
      case NDP_OPTION_SOURCE_LLA:
      case NDP_OPTION_TARGET_LLA:
        out.push({ kind: type === NDP_OPTION_SOURCE_LLA ? "source-link-layer-address" : "target-link-layer-address", address: o.subarray(2) });
        break;
      case NDP_OPTION_PREFIX_INFORMATION:
        if (units !== 4) return err("bad-option-length", `prefix information of ${units} units`);
        out.push({
          kind: "prefix-information",
          prefixLength: o[NDP_PREFIX_LENGTH]!,
          flags: o[NDP_PREFIX_FLAGS]!,
          validLifetime: readU32(o, NDP_PREFIX_VALID_LIFETIME),
          preferredLifetime: readU32(o, NDP_PREFIX_PREFERRED_LIFETIME),
          prefix: readIpv6(o, NDP_PREFIX_PREFIX),
        });
        break;
      case NDP_OPTION_REDIRECTED_HEADER:
        out.push({ kind: "redirected-header", data: o.subarray(8) });
        break;
      case NDP_OPTION_MTU:
        if (units !== 1) return err("bad-option-length", `MTU of ${units} units`);
        out.push({ kind: "mtu", mtu: readU32(o, 4) });
        break;
      case NDP_OPTION_RDNSS: {
        // RFC 8106 §5.1: length 3 + 2n for n >= 1 addresses.
        if (units < 3 || units % 2 === 0) return err("bad-option-length", `RDNSS of ${units} units`);
        const servers: Ipv6Address[] = [];
        for (let j = 8; j < len; j += 16) servers.push(readIpv6(o, j));
        out.push({ kind: "rdnss", lifetime: readU32(o, 4), servers });
        break;
      }
      default:
        out.push({ kind: "unknown", type, data: o.subarray(2) });
    }
    i += len;
  }
  return ok(out);
}

/** Bytes an option takes on the wire (a multiple of 8). */
export function ndpOptionLength(o: NdpOption): number {
  switch (o.kind) {
    case "source-link-layer-address":
    case "target-link-layer-address":
      return (2 + o.address.length + 7) & ~7;
    case "prefix-information":
      return 32;
    case "redirected-header":
      return (8 + o.data.length + 7) & ~7;
    case "mtu":
      return 8;
    case "rdnss":
      return 8 + 16 * o.servers.length;
    case "unknown":
      return (2 + o.data.length + 7) & ~7;
  }
}

/** Writes one option at buf[offset..] (zero-padded to 8 bytes); returns its length. */
export function emitNdpOption(o: NdpOption, buf: Uint8Array, offset: number): number {
  const len = ndpOptionLength(o);
  buf.fill(0, offset, offset + len);
  buf[offset + 1] = len / 8;
  switch (o.kind) {
    case "source-link-layer-address":
    case "target-link-layer-address":
      buf[offset] = o.kind === "source-link-layer-address" ? NDP_OPTION_SOURCE_LLA : NDP_OPTION_TARGET_LLA;
      buf.set(o.address, offset + 2);
      break;
    case "prefix-information":
      buf[offset] = NDP_OPTION_PREFIX_INFORMATION;
      buf[offset + NDP_PREFIX_LENGTH] = o.prefixLength;
      buf[offset + NDP_PREFIX_FLAGS] = o.flags;
      writeU32(buf, offset + NDP_PREFIX_VALID_LIFETIME, o.validLifetime >>> 0);
      writeU32(buf, offset + NDP_PREFIX_PREFERRED_LIFETIME, o.preferredLifetime >>> 0);
      writeIpv6(buf, offset + NDP_PREFIX_PREFIX, o.prefix);
      break;
    case "redirected-header":
      buf[offset] = NDP_OPTION_REDIRECTED_HEADER;
      buf.set(o.data, offset + 8);
      break;
    case "mtu":
      buf[offset] = NDP_OPTION_MTU;
      writeU32(buf, offset + 4, o.mtu >>> 0);
      break;
    case "rdnss":
      buf[offset] = NDP_OPTION_RDNSS;
      writeU32(buf, offset + 4, o.lifetime >>> 0);
      o.servers.forEach((s, k) => writeIpv6(buf, offset + 8 + 16 * k, s));
      break;
    case "unknown":
      buf[offset] = o.type;
      buf.set(o.data, offset + 2);
      break;
  }
  return len;
}

function fixedLength(kind: NdpRepr["kind"]): number {
  switch (kind) {
    case "router-solicitation":
      return NDP_RS_LEN;
    case "router-advertisement":
      return NDP_RA_LEN;
    case "neighbor-solicitation":
      return NDP_NS_LEN;
    case "neighbor-advertisement":
      return NDP_NA_LEN;
    case "redirect":
      return NDP_REDIRECT_LEN;
  }
}

/** True for the ICMPv6 types parseNdp decodes (133-137). */
export function isNdpType(type: number): boolean {
  return type >= ICMPV6_TYPE_ROUTER_SOLICITATION && type <= ICMPV6_TYPE_REDIRECT;
}

/** Parses an ND message (the whole ICMPv6 message) sent from src to dst. */
export function parseNdp(bytes: Uint8Array, src: Ipv6Address, dst: Ipv6Address, options?: { readonly verifyChecksum?: boolean }): Result<NdpRepr, NdpError> {
  if (bytes.length < 4) return err("truncated");
  const type = bytes[ICMPV6_TYPE]!;
  let kind: NdpRepr["kind"];
  switch (type) {
    case ICMPV6_TYPE_ROUTER_SOLICITATION:
      kind = "router-solicitation";
      break;
    case ICMPV6_TYPE_ROUTER_ADVERTISEMENT:
      kind = "router-advertisement";
      break;
    case ICMPV6_TYPE_NEIGHBOR_SOLICITATION:
      kind = "neighbor-solicitation";
      break;
    case ICMPV6_TYPE_NEIGHBOR_ADVERTISEMENT:
      kind = "neighbor-advertisement";
      break;
    case ICMPV6_TYPE_REDIRECT:
      kind = "redirect";
      break;
    default:
      return err("unsupported-type");
  }
  const fixed = fixedLength(kind);
  if (bytes.length < fixed) return err("truncated");
  if (options?.verifyChecksum !== false && !verifyIcmpv6Checksum(bytes, src, dst)) return err("bad-checksum");
  if (bytes[ICMPV6_CODE] !== 0) return err("bad-code");
  const opts = parseNdpOptions(bytes, fixed, bytes.length);
  if (!opts.ok) return opts;
  const o = opts.value;
  switch (kind) {
    case "router-solicitation":
      return ok({ kind, options: o });
    case "router-advertisement":
      return ok({
        kind,
        curHopLimit: bytes[NDP_RA_CUR_HOP_LIMIT]!,
        flags: bytes[NDP_RA_FLAGS]!,
        routerLifetime: readU16(bytes, NDP_RA_ROUTER_LIFETIME),
        reachableTime: readU32(bytes, NDP_RA_REACHABLE_TIME),
        retransTimer: readU32(bytes, NDP_RA_RETRANS_TIMER),
        options: o,
      });
    case "neighbor-solicitation":
      return ok({ kind, target: readIpv6(bytes, NDP_TARGET), options: o });
    case "neighbor-advertisement": {
      const w = readU32(bytes, NDP_FLAGS_WORD);
      return ok({
        kind,
        router: (w & NDP_NA_FLAG_ROUTER) !== 0,
        solicited: (w & NDP_NA_FLAG_SOLICITED) !== 0,
        override: (w & NDP_NA_FLAG_OVERRIDE) !== 0,
        target: readIpv6(bytes, NDP_TARGET),
        options: o,
      });
    }
    case "redirect":
      return ok({ kind, target: readIpv6(bytes, NDP_TARGET), destination: readIpv6(bytes, NDP_REDIRECT_DESTINATION), options: o });
  }
}

/** Bytes the repr emits. */
export function ndpReprLength(repr: NdpRepr): number {
  return repr.options.reduce((n, o) => n + ndpOptionLength(o), fixedLength(repr.kind));
}

/** Writes the message with its checksum at buf[offset..]; returns its length. Reserved bits are zero. */
export function emitNdp(repr: NdpRepr, buf: Uint8Array, offset: number, src: Ipv6Address, dst: Ipv6Address): number {
  const fixed = fixedLength(repr.kind);
  buf.fill(0, offset, offset + fixed);
  switch (repr.kind) {
    case "router-solicitation":
      buf[offset + ICMPV6_TYPE] = ICMPV6_TYPE_ROUTER_SOLICITATION;
      break;
    case "router-advertisement":
      buf[offset + ICMPV6_TYPE] = ICMPV6_TYPE_ROUTER_ADVERTISEMENT;
      buf[offset + NDP_RA_CUR_HOP_LIMIT] = repr.curHopLimit;
      buf[offset + NDP_RA_FLAGS] = repr.flags;
      writeU16(buf, offset + NDP_RA_ROUTER_LIFETIME, repr.routerLifetime);
      writeU32(buf, offset + NDP_RA_REACHABLE_TIME, repr.reachableTime >>> 0);
      writeU32(buf, offset + NDP_RA_RETRANS_TIMER, repr.retransTimer >>> 0);
      break;
    case "neighbor-solicitation":
      buf[offset + ICMPV6_TYPE] = ICMPV6_TYPE_NEIGHBOR_SOLICITATION;
      writeIpv6(buf, offset + NDP_TARGET, repr.target);
      break;
    case "neighbor-advertisement":
      buf[offset + ICMPV6_TYPE] = ICMPV6_TYPE_NEIGHBOR_ADVERTISEMENT;
      writeU32(
        buf,
        offset + NDP_FLAGS_WORD,
        ((repr.router ? NDP_NA_FLAG_ROUTER : 0) | (repr.solicited ? NDP_NA_FLAG_SOLICITED : 0) | (repr.override ? NDP_NA_FLAG_OVERRIDE : 0)) >>> 0,
      );
      writeIpv6(buf, offset + NDP_TARGET, repr.target);
      break;
    case "redirect":
      buf[offset + ICMPV6_TYPE] = ICMPV6_TYPE_REDIRECT;
      writeIpv6(buf, offset + NDP_TARGET, repr.target);
      writeIpv6(buf, offset + NDP_REDIRECT_DESTINATION, repr.destination);
      break;
  }
  let at = offset + fixed;
  for (const o of repr.options) at += emitNdpOption(o, buf, at);
  fillIcmpv6Checksum(buf, src, dst, offset, at);
  return at - offset;
}

/**
 * What RFC 4861 asks of a received ND message beyond its own bytes (§6.1.1, §6.1.2, §7.1.1,
 * §7.1.2, §8.1): a message failing them is silently discarded.
 * - "hop-limit": the IPv6 hop limit is not 255 (the message came from off-link);
 * - "source-not-link-local": an RA or redirect not from a link-local address;
 * - "multicast-target": an NS/NA target, or a redirect destination, that is multicast;
 * - "unspecified-source": from :: an NS not to a solicited-node group, or an RS/NS with a source link-layer address;
 * - "solicited-to-multicast": an NA to a multicast destination with the Solicited flag;
 * - "bad-redirect-target": a redirect target neither link-local nor the destination itself.
 */
export type NdpValidityError =
  | "hop-limit"
  | "source-not-link-local"
  | "multicast-target"
  | "unspecified-source"
  | "solicited-to-multicast"
  | "bad-redirect-target";

/** Checks a parsed ND message against its IPv6 header (src, dst, hop limit). */
export function checkNdpValidity(
  repr: NdpRepr,
  ip: { readonly src: Ipv6Address; readonly dst: Ipv6Address; readonly hopLimit: number },
): Result<NdpRepr, NdpValidityError> {
  if (ip.hopLimit !== 255) return err("hop-limit");
  const fromUnspecified = isIpv6Unspecified(ip.src);
  const hasSourceLla = repr.options.some((o) => o.kind === "source-link-layer-address");
  switch (repr.kind) {
    case "router-solicitation":
      if (fromUnspecified && hasSourceLla) return err("unspecified-source");
      break;
    case "router-advertisement":
      if (!isIpv6LinkLocal(ip.src)) return err("source-not-link-local");
      break;
    case "neighbor-solicitation":
      if (isIpv6Multicast(repr.target)) return err("multicast-target");
      // RFC 4861 §7.1.1: DAD probes go to the target's solicited-node group and carry no SLLA.
      if (fromUnspecified && (hasSourceLla || !ipv6Equal(ip.dst, solicitedNodeAddress(repr.target)))) return err("unspecified-source");
      break;
    case "neighbor-advertisement":
      if (isIpv6Multicast(repr.target)) return err("multicast-target");
      if (repr.solicited && isIpv6Multicast(ip.dst)) return err("solicited-to-multicast");
      break;
    case "redirect":
      if (!isIpv6LinkLocal(ip.src)) return err("source-not-link-local");
      if (isIpv6Multicast(repr.destination)) return err("multicast-target");
      if (!isIpv6LinkLocal(repr.target) && !ipv6Equal(repr.target, repr.destination)) return err("bad-redirect-target");
      break;
  }
  return ok(repr);
}
