// Multicast Listener Discovery v2 (RFC 3810 §5): the Version 2 Multicast Listener Report
// (type 143) and the Multicast Listener Query (type 130, v2 form of at least 28 bytes); and
// MLDv1 (RFC 2710 §3) query, report (131) and done (132), which a v2 node must understand
// (RFC 3810 §8).
// The checksum is ICMPv6's (pseudo-header included). The IPv6 layer's rules (link-local
// source, hop limit 1, Router Alert) are the caller's.
import { type Result, ok, err } from "../result.ts";
import { readU16, writeU16 } from "./bytes.ts";
import { type Ipv6Address, readIpv6, writeIpv6 } from "./ipv6-address.ts";
import { ICMPV6_CODE, ICMPV6_TYPE, ICMPV6_TYPE_MLDV2_REPORT, ICMPV6_TYPE_MLD_QUERY, fillIcmpv6Checksum, verifyIcmpv6Checksum } from "./icmpv6.ts";

export const MLD_REPORT_RESERVED = 4;
export const MLD_REPORT_RECORD_COUNT = 6;
export const MLD_REPORT_RECORDS = 8;
export const MLD_REPORT_HEADER_LEN = 8;
/** Offsets inside a multicast address record (RFC 3810 §5.2.4). */
export const MLD_RECORD_TYPE = 0;
export const MLD_RECORD_AUX_LEN = 1;
export const MLD_RECORD_SOURCE_COUNT = 2;
export const MLD_RECORD_ADDRESS = 4;
export const MLD_RECORD_SOURCES = 20;
export const MLD_RECORD_HEADER_LEN = 20;
export const MLD_QUERY_MAX_RESPONSE = 4;
export const MLD_QUERY_ADDRESS = 8;
export const MLD_QUERY_FLAGS = 24;
export const MLD_QUERY_QQIC = 25;
export const MLD_QUERY_SOURCE_COUNT = 26;
export const MLD_QUERY_SOURCES = 28;
export const MLDV2_QUERY_MIN_LEN = 28;
/** RFC 2710 §3: every MLDv1 message. */
export const MLDV1_LEN = 24;
export const ICMPV6_TYPE_MLDV1_REPORT = 131;
export const ICMPV6_TYPE_MLDV1_DONE = 132;

/** RFC 3810 §5.2.12 record types. */
export const MLD_MODE_IS_INCLUDE = 1;
export const MLD_MODE_IS_EXCLUDE = 2;
export const MLD_CHANGE_TO_INCLUDE = 3;
export const MLD_CHANGE_TO_EXCLUDE = 4;
export const MLD_ALLOW_NEW_SOURCES = 5;
export const MLD_BLOCK_OLD_SOURCES = 6;

/**
 * - "truncated": shorter than its fixed part, or a record/source list runs past the message.
 * - "unsupported-type": not an MLD type (130, 131, 132, 143).
 * RFC 3810 §8.1: a query of 24 bytes is MLDv1, of 28 or more MLDv2; 25 to 27 bytes: "truncated".
 */
export type MldError = "truncated" | "bad-checksum" | "unsupported-type";

/** One multicast address record. Unknown record types are kept (RFC 3810 §5.2.12: ignored by routers). */
export interface MldRecord {
  readonly recordType: number;
  readonly multicastAddress: Ipv6Address;
  readonly sources: readonly Ipv6Address[];
  /** Auxiliary data (a multiple of 4 bytes); RFC 3810 defines none, receivers ignore it. */
  readonly auxData: Uint8Array;
}

export type MldRepr =
  | { readonly kind: "report"; readonly records: readonly MldRecord[] }
  | {
      readonly kind: "query";
      /** The raw Maximum Response Code (RFC 3810 §5.1.3; see mldMaxResponseDelay). */
      readonly maxResponseCode: number;
      /** :: for a general query. */
      readonly multicastAddress: Ipv6Address;
      /** Suppress router-side processing (S flag). */
      readonly suppress: boolean;
      /** Querier's robustness variable (3 bits). */
      readonly robustness: number;
      /** Querier's query interval code. */
      readonly qqic: number;
      readonly sources: readonly Ipv6Address[];
    }
  /** MLDv1 (RFC 2710 §3): maxResponseDelay in milliseconds (queries; 0 in reports and done). */
  | { readonly kind: "v1-query" | "v1-report" | "v1-done"; readonly maxResponseDelay: number; readonly multicastAddress: Ipv6Address };

/** True for the ICMPv6 types parseMld decodes. */
export function isMldType(type: number): boolean {
  return type === ICMPV6_TYPE_MLD_QUERY || type === ICMPV6_TYPE_MLDV1_REPORT || type === ICMPV6_TYPE_MLDV1_DONE || type === ICMPV6_TYPE_MLDV2_REPORT;
}

/** RFC 3810 §5.1.3: the Maximum Response Delay in milliseconds from its code. */
export function mldMaxResponseDelay(code: number): number {
  if (code < 0x8000) return code;
  return ((code & 0x0fff) | 0x1000) << (((code >>> 12) & 0x7) + 3);
}

/** Parses an MLDv2 report or query (the whole ICMPv6 message) sent from src to dst. */
export function parseMld(bytes: Uint8Array, src: Ipv6Address, dst: Ipv6Address, options?: { readonly verifyChecksum?: boolean }): Result<MldRepr, MldError> {
  if (bytes.length < MLD_REPORT_HEADER_LEN) return err("truncated");
  const type = bytes[ICMPV6_TYPE]!;
  if (type === ICMPV6_TYPE_MLD_QUERY) {
    if (bytes.length < MLDV2_QUERY_MIN_LEN && bytes.length !== MLDV1_LEN) return err("truncated");
    if (options?.verifyChecksum !== false && !verifyIcmpv6Checksum(bytes, src, dst)) return err("bad-checksum");
    if (bytes.length === MLDV1_LEN)
      return ok({ kind: "v1-query", maxResponseDelay: readU16(bytes, MLD_QUERY_MAX_RESPONSE), multicastAddress: readIpv6(bytes, MLD_QUERY_ADDRESS) });
    const n = readU16(bytes, MLD_QUERY_SOURCE_COUNT);
    if (MLD_QUERY_SOURCES + 16 * n > bytes.length) return err("truncated");
    const sources: Ipv6Address[] = [];
    for (let k = 0; k < n; k++) sources.push(readIpv6(bytes, MLD_QUERY_SOURCES + 16 * k));
    const flags = bytes[MLD_QUERY_FLAGS]!;
    return ok({
      kind: "query",
      maxResponseCode: readU16(bytes, MLD_QUERY_MAX_RESPONSE),
      multicastAddress: readIpv6(bytes, MLD_QUERY_ADDRESS),
      suppress: (flags & 0x08) !== 0,
      robustness: flags & 0x07,
      qqic: bytes[MLD_QUERY_QQIC]!,
      sources,
    });
  }
  if (type === ICMPV6_TYPE_MLDV1_REPORT || type === ICMPV6_TYPE_MLDV1_DONE) {
    if (bytes.length < MLDV1_LEN) return err("truncated");
    if (options?.verifyChecksum !== false && !verifyIcmpv6Checksum(bytes, src, dst)) return err("bad-checksum");
    return ok({
      kind: type === ICMPV6_TYPE_MLDV1_REPORT ? "v1-report" : "v1-done",
      maxResponseDelay: readU16(bytes, MLD_QUERY_MAX_RESPONSE),
      multicastAddress: readIpv6(bytes, MLD_QUERY_ADDRESS),
    });
  }
  if (type !== ICMPV6_TYPE_MLDV2_REPORT) return err("unsupported-type");
  if (options?.verifyChecksum !== false && !verifyIcmpv6Checksum(bytes, src, dst)) return err("bad-checksum");
  const count = readU16(bytes, MLD_REPORT_RECORD_COUNT);
  const records: MldRecord[] = [];
  let at = MLD_REPORT_RECORDS;
  for (let r = 0; r < count; r++) {
    if (at + MLD_RECORD_HEADER_LEN > bytes.length) return err("truncated", `record ${r}`);
    const aux = bytes[at + MLD_RECORD_AUX_LEN]! * 4;
    const n = readU16(bytes, at + MLD_RECORD_SOURCE_COUNT);
    const end = at + MLD_RECORD_SOURCES + 16 * n + aux;
    if (end > bytes.length) return err("truncated", `record ${r}`);
    const sources: Ipv6Address[] = [];
    for (let k = 0; k < n; k++) sources.push(readIpv6(bytes, at + MLD_RECORD_SOURCES + 16 * k));
    records.push({
      recordType: bytes[at + MLD_RECORD_TYPE]!,
      multicastAddress: readIpv6(bytes, at + MLD_RECORD_ADDRESS),
      sources,
      auxData: bytes.subarray(end - aux, end),
    });
    at = end;
  }
  return ok({ kind: "report", records });
}

/** Bytes the repr emits. */
export function mldReprLength(repr: MldRepr): number {
  if ("maxResponseDelay" in repr) return MLDV1_LEN;
  if (repr.kind === "query") return MLD_QUERY_SOURCES + 16 * repr.sources.length;
  return repr.records.reduce((n, r) => n + MLD_RECORD_HEADER_LEN + 16 * r.sources.length + ((r.auxData.length + 3) & ~3), MLD_REPORT_HEADER_LEN);
}

/** Writes the message with its checksum at buf[offset..]; returns its length. Reserved fields are zero. */
export function emitMld(repr: MldRepr, buf: Uint8Array, offset: number, src: Ipv6Address, dst: Ipv6Address): number {
  const len = mldReprLength(repr);
  buf.fill(0, offset, offset + len);
  if ("maxResponseDelay" in repr) {
    buf[offset + ICMPV6_TYPE] =
      repr.kind === "v1-query" ? ICMPV6_TYPE_MLD_QUERY : repr.kind === "v1-report" ? ICMPV6_TYPE_MLDV1_REPORT : ICMPV6_TYPE_MLDV1_DONE;
    writeU16(buf, offset + MLD_QUERY_MAX_RESPONSE, repr.maxResponseDelay);
    writeIpv6(buf, offset + MLD_QUERY_ADDRESS, repr.multicastAddress);
  } else if (repr.kind === "query") {
    buf[offset + ICMPV6_TYPE] = ICMPV6_TYPE_MLD_QUERY;
    writeU16(buf, offset + MLD_QUERY_MAX_RESPONSE, repr.maxResponseCode);
    writeIpv6(buf, offset + MLD_QUERY_ADDRESS, repr.multicastAddress);
    buf[offset + MLD_QUERY_FLAGS] = (repr.suppress ? 0x08 : 0) | (repr.robustness & 0x07);
    buf[offset + MLD_QUERY_QQIC] = repr.qqic;
    writeU16(buf, offset + MLD_QUERY_SOURCE_COUNT, repr.sources.length);
    repr.sources.forEach((s, k) => writeIpv6(buf, offset + MLD_QUERY_SOURCES + 16 * k, s));
  } else {
    buf[offset + ICMPV6_TYPE] = ICMPV6_TYPE_MLDV2_REPORT;
    buf[offset + ICMPV6_CODE] = 0;
    writeU16(buf, offset + MLD_REPORT_RECORD_COUNT, repr.records.length);
    let at = offset + MLD_REPORT_RECORDS;
    for (const r of repr.records) {
      const aux = (r.auxData.length + 3) & ~3;
      buf[at + MLD_RECORD_TYPE] = r.recordType;
      buf[at + MLD_RECORD_AUX_LEN] = aux / 4;
      writeU16(buf, at + MLD_RECORD_SOURCE_COUNT, r.sources.length);
      writeIpv6(buf, at + MLD_RECORD_ADDRESS, r.multicastAddress);
      r.sources.forEach((s, k) => writeIpv6(buf, at + MLD_RECORD_SOURCES + 16 * k, s));
      buf.set(r.auxData, at + MLD_RECORD_SOURCES + 16 * r.sources.length);
      at += MLD_RECORD_HEADER_LEN + 16 * r.sources.length + aux;
    }
  }
  fillIcmpv6Checksum(buf, src, dst, offset, offset + len);
  return len;
}
