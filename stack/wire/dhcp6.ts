// DHCPv6 messages (RFC 8415 §8, §9) and options (RFC 8415 §21, DNS servers RFC 3646 §3).
//
// Dhcp6Repr       a client/server message (msg-type, transaction-id, options) or a relay
//                 message (RELAY-FORW / RELAY-REPL: hop-count, link-address, peer-address, options).
// Dhcp6Option     the meaning of one option: CLIENTID/SERVERID (a DUID), IA_NA (with nested
//                 IAADDR / STATUS_CODE), IAADDR, ORO, PREFERENCE, ELAPSED_TIME, RELAY_MSG,
//                 STATUS_CODE, RAPID_COMMIT, DNS_SERVERS; anything else kept as "unknown" bytes.
// parseDhcp6      untrusted bytes -> Result<Dhcp6Repr>; never throws, never reads past the
//                 length it checked; nesting is bounded (IA_NA > IAADDR > STATUS_CODE).
// emitDhcp6       Dhcp6Repr -> bytes (with optional headroom for the UDP/IP headers).
// find*/duid*     typed accessors and DUID constructors (DUID-LL, DUID-LLT, RFC 8415 §11).
import { type Result, ok, err } from "../result.ts";
import { NetlabError } from "../error.ts";
import { type MacAddress, writeMac } from "./address.ts";
import { readU16, readU32, writeU16, writeU32 } from "./bytes.ts";
import { type Ipv6Address, readIpv6, writeIpv6, ipv6 } from "./ipv6-address.ts";

/** RFC 8415 §7.1: UDP ports. */
export const DHCP6_CLIENT_PORT = 546,
  DHCP6_SERVER_PORT = 547;
/** RFC 8415 §7.1: All_DHCP_Relay_Agents_and_Servers (link-scoped). */
export const ALL_DHCP_RELAY_AGENTS_AND_SERVERS: Ipv6Address = ipv6("ff02::1:2");

/** RFC 8415 §7.3 message types. */
export const Dhcp6MessageType = {
  SOLICIT: 1,
  ADVERTISE: 2,
  REQUEST: 3,
  CONFIRM: 4,
  RENEW: 5,
  REBIND: 6,
  REPLY: 7,
  RELEASE: 8,
  DECLINE: 9,
  RECONFIGURE: 10,
  INFORMATION_REQUEST: 11,
  RELAY_FORW: 12,
  RELAY_REPL: 13,
} as const;
export type Dhcp6MessageTypeValue = (typeof Dhcp6MessageType)[keyof typeof Dhcp6MessageType];

/** RFC 8415 §21 option codes (and RFC 3646 DNS_SERVERS) this file knows by name. */
export const Dhcp6OptionCode = {
  CLIENTID: 1,
  SERVERID: 2,
  IA_NA: 3,
  IA_TA: 4,
  IAADDR: 5,
  ORO: 6,
  PREFERENCE: 7,
  ELAPSED_TIME: 8,
  RELAY_MSG: 9,
  AUTH: 11,
  UNICAST: 12,
  STATUS_CODE: 13,
  RAPID_COMMIT: 14,
  INTERFACE_ID: 18,
  DNS_SERVERS: 23,
  DOMAIN_LIST: 24,
} as const;

/** RFC 8415 §21.13 status codes. */
export const Dhcp6Status = {
  SUCCESS: 0,
  UNSPEC_FAIL: 1,
  NO_ADDRS_AVAIL: 2,
  NO_BINDING: 3,
  NOT_ON_LINK: 4,
  USE_MULTICAST: 5,
  NO_PREFIX_AVAIL: 6,
} as const;

/** RFC 8415 §11: DUID types. */
export const DUID_LLT = 1,
  DUID_EN = 2,
  DUID_LL = 3,
  DUID_UUID = 4;
/** RFC 8415 §11.1: a DUID is the 2-byte type plus 1..128 bytes. */
export const DUID_MAX_LEN = 130;
/** RFC 8415 §11.2: DUID-LLT times count from 2000-01-01 00:00 UTC. */
export const DUID_EPOCH_UNIX_SECONDS = 946_684_800;

/** Fixed headers: client/server message 4 bytes, relay message 34 (RFC 8415 §8, §9). */
export const DHCP6_HEADER_LEN = 4,
  DHCP6_RELAY_HEADER_LEN = 34;
/** Option header: code and length (RFC 8415 §21.1). */
export const DHCP6_OPTION_HEADER_LEN = 4;
/** Fixed parts of IA_NA (IAID, T1, T2) and IAADDR (address, lifetimes). */
export const DHCP6_IA_NA_LEN = 12,
  DHCP6_IAADDR_LEN = 24;
/** Deepest option nesting parsed (IA_NA > IAADDR > STATUS_CODE). */
export const DHCP6_MAX_DEPTH = 3;
/** RFC 8415 §7.7: lifetimes of 0xffffffff are infinite. */
export const DHCP6_INFINITY = 0xffffffff;

export type Dhcp6Option =
  | { readonly kind: "client-id"; readonly duid: Uint8Array }
  | { readonly kind: "server-id"; readonly duid: Uint8Array }
  | { readonly kind: "ia-na"; readonly iaid: number; readonly t1: number; readonly t2: number; readonly options: readonly Dhcp6Option[] }
  | {
      readonly kind: "ia-addr";
      readonly address: Ipv6Address;
      readonly preferredLifetime: number;
      readonly validLifetime: number;
      readonly options: readonly Dhcp6Option[];
    }
  | { readonly kind: "oro"; readonly codes: readonly number[] }
  | { readonly kind: "preference"; readonly value: number }
  /** Hundredths of a second (0xffff: longer than that). */
  | { readonly kind: "elapsed-time"; readonly centiseconds: number }
  /** The relayed message, raw (parse it with parseDhcp6). */
  | { readonly kind: "relay-message"; readonly message: Uint8Array }
  /** message: UTF-8 (RFC 8415 §21.13), decoded without failing (bad sequences become U+FFFD). */
  | { readonly kind: "status-code"; readonly status: number; readonly message: string }
  | { readonly kind: "rapid-commit" }
  | { readonly kind: "dns-servers"; readonly servers: readonly Ipv6Address[] }
  | { readonly kind: "unknown"; readonly code: number; readonly data: Uint8Array };

export type Dhcp6Repr =
  | { readonly kind: "message"; readonly msgType: number; readonly transactionId: number; readonly options: readonly Dhcp6Option[] }
  | {
      readonly kind: "relay";
      readonly msgType: 12 | 13;
      readonly hopCount: number;
      readonly linkAddress: Ipv6Address;
      readonly peerAddress: Ipv6Address;
      readonly options: readonly Dhcp6Option[];
    };

/**
 * Why bytes are not a DHCPv6 message:
 * - "truncated": shorter than the fixed header (4, or 34 for a relay message);
 * - "bad-msg-type": 0 or above 13 (unassigned; RFC 8415 §7.3 stops at 13 for what this parses);
 * - "truncated-option": an option header or body runs past its enclosing area;
 * - "bad-option-length": a known option of an impossible length (a DUID outside 3..130 bytes,
 *   IA_NA under 12, IAADDR under 24, an odd ORO, PREFERENCE not 1, ELAPSED_TIME not 2,
 *   STATUS_CODE under 2, RAPID_COMMIT not 0, DNS_SERVERS not a multiple of 16);
 * - "too-deep": options nested deeper than DHCP6_MAX_DEPTH.
 */
export type Dhcp6ParseError = "truncated" | "bad-msg-type" | "truncated-option" | "bad-option-length" | "too-deep";

const utf8 = new TextDecoder("utf-8", { fatal: false });
const utf8Encoder = new TextEncoder();

function parseOptions(b: Uint8Array, start: number, end: number, depth: number): Result<Dhcp6Option[], Dhcp6ParseError> {
  if (depth > DHCP6_MAX_DEPTH && start < end) return err("too-deep");
  const out: Dhcp6Option[] = [];
  let i = start;
  while (i < end) {
    if (i + DHCP6_OPTION_HEADER_LEN > end) return err("truncated-option", `option header at ${i}`);
    const code = readU16(b, i);
    const len = readU16(b, i + 2);
    const at = i + DHCP6_OPTION_HEADER_LEN;
    if (at + len > end) return err("truncated-option", `option ${code} at ${i}: ${len} bytes`);
    const o = parseOption(b, code, at, len, depth);
    if (!o.ok) return o;
    out.push(o.value);
    i = at + len;
  }
  return ok(out);
}

function parseOption(b: Uint8Array, code: number, at: number, len: number, depth: number): Result<Dhcp6Option, Dhcp6ParseError> {
  const bad = (): Result<Dhcp6Option, Dhcp6ParseError> => err("bad-option-length", `option ${code}: ${len} bytes`);
  switch (code) {
    case Dhcp6OptionCode.CLIENTID:
    case Dhcp6OptionCode.SERVERID:
      // RFC 8415 §11.1: 2-byte type and 1..128 bytes of identifier.
      if (len < 3 || len > DUID_MAX_LEN) return bad();
      return ok(code === Dhcp6OptionCode.CLIENTID ? { kind: "client-id", duid: b.slice(at, at + len) } : { kind: "server-id", duid: b.slice(at, at + len) });
    case Dhcp6OptionCode.IA_NA: {
      if (len < DHCP6_IA_NA_LEN) return bad();
      const inner = parseOptions(b, at + DHCP6_IA_NA_LEN, at + len, depth + 1);
      if (!inner.ok) return inner;
      return ok({ kind: "ia-na", iaid: readU32(b, at), t1: readU32(b, at + 4), t2: readU32(b, at + 8), options: inner.value });
    }
    case Dhcp6OptionCode.IAADDR: {
      if (len < DHCP6_IAADDR_LEN) return bad();
      const inner = parseOptions(b, at + DHCP6_IAADDR_LEN, at + len, depth + 1);
      if (!inner.ok) return inner;
      return ok({
        kind: "ia-addr",
        address: readIpv6(b, at),
        preferredLifetime: readU32(b, at + 16),
        validLifetime: readU32(b, at + 20),
        options: inner.value,
      });
    }
    case Dhcp6OptionCode.ORO: {
      if (len % 2 !== 0) return bad();
      const codes: number[] = [];
      for (let k = 0; k < len; k += 2) codes.push(readU16(b, at + k));
      return ok({ kind: "oro", codes });
    }
    case Dhcp6OptionCode.PREFERENCE:
      return len === 1 ? ok({ kind: "preference", value: b[at]! }) : bad();
    case Dhcp6OptionCode.ELAPSED_TIME:
      return len === 2 ? ok({ kind: "elapsed-time", centiseconds: readU16(b, at) }) : bad();
    case Dhcp6OptionCode.RELAY_MSG:
      return ok({ kind: "relay-message", message: b.slice(at, at + len) });
    case Dhcp6OptionCode.STATUS_CODE:
      if (len < 2) return bad();
      return ok({ kind: "status-code", status: readU16(b, at), message: utf8.decode(b.slice(at + 2, at + len)) });
    case Dhcp6OptionCode.RAPID_COMMIT:
      return len === 0 ? ok({ kind: "rapid-commit" }) : bad();
    case Dhcp6OptionCode.DNS_SERVERS: {
      if (len % 16 !== 0) return bad();
      const servers: Ipv6Address[] = [];
      for (let k = 0; k < len; k += 16) servers.push(readIpv6(b, at + k));
      return ok({ kind: "dns-servers", servers });
    }
    default:
      return ok({ kind: "unknown", code, data: b.slice(at, at + len) });
  }
}

/** Parses a DHCPv6 message (the UDP payload). Never throws. */
export function parseDhcp6(bytes: Uint8Array): Result<Dhcp6Repr, Dhcp6ParseError> {
  if (bytes.length < DHCP6_HEADER_LEN) return err("truncated");
  const msgType = bytes[0]!;
  if (msgType === 0 || msgType > Dhcp6MessageType.RELAY_REPL) return err("bad-msg-type", `type ${msgType}`);
  if (msgType === Dhcp6MessageType.RELAY_FORW || msgType === Dhcp6MessageType.RELAY_REPL) {
    if (bytes.length < DHCP6_RELAY_HEADER_LEN) return err("truncated");
    const options = parseOptions(bytes, DHCP6_RELAY_HEADER_LEN, bytes.length, 1);
    if (!options.ok) return options;
    return ok({
      kind: "relay",
      msgType,
      hopCount: bytes[1]!,
      linkAddress: readIpv6(bytes, 2),
      peerAddress: readIpv6(bytes, 18),
      options: options.value,
    });
  }
  const options = parseOptions(bytes, DHCP6_HEADER_LEN, bytes.length, 1);
  if (!options.ok) return options;
  return ok({ kind: "message", msgType, transactionId: ((bytes[1]! << 16) | (bytes[2]! << 8) | bytes[3]!) >>> 0, options: options.value });
}

// ---- emit ----

function optionBodyLength(o: Dhcp6Option): number {
  switch (o.kind) {
    case "client-id":
    case "server-id":
      return o.duid.length;
    case "ia-na":
      return DHCP6_IA_NA_LEN + dhcp6OptionsLength(o.options);
    case "ia-addr":
      return DHCP6_IAADDR_LEN + dhcp6OptionsLength(o.options);
    case "oro":
      return 2 * o.codes.length;
    case "preference":
      return 1;
    case "elapsed-time":
      return 2;
    case "relay-message":
      return o.message.length;
    case "status-code":
      return 2 + utf8Encoder.encode(o.message).length;
    case "rapid-commit":
      return 0;
    case "dns-servers":
      return 16 * o.servers.length;
    case "unknown":
      return o.data.length;
  }
}

/** Bytes a list of options takes on the wire. */
export function dhcp6OptionsLength(options: readonly Dhcp6Option[]): number {
  let n = 0;
  for (const o of options) n += DHCP6_OPTION_HEADER_LEN + optionBodyLength(o);
  return n;
}

const CODE_OF: Record<Exclude<Dhcp6Option["kind"], "unknown">, number> = {
  "client-id": Dhcp6OptionCode.CLIENTID,
  "server-id": Dhcp6OptionCode.SERVERID,
  "ia-na": Dhcp6OptionCode.IA_NA,
  "ia-addr": Dhcp6OptionCode.IAADDR,
  oro: Dhcp6OptionCode.ORO,
  preference: Dhcp6OptionCode.PREFERENCE,
  "elapsed-time": Dhcp6OptionCode.ELAPSED_TIME,
  "relay-message": Dhcp6OptionCode.RELAY_MSG,
  "status-code": Dhcp6OptionCode.STATUS_CODE,
  "rapid-commit": Dhcp6OptionCode.RAPID_COMMIT,
  "dns-servers": Dhcp6OptionCode.DNS_SERVERS,
};

function emitOptions(options: readonly Dhcp6Option[], b: Uint8Array, offset: number): number {
  let i = offset;
  for (const o of options) {
    const len = optionBodyLength(o);
    if (len > 0xffff) throw new NetlabError("ERR_DHCP6_OPTION_TOO_LONG", `DHCPv6 option ${o.kind} of ${len} bytes`);
    writeU16(b, i, o.kind === "unknown" ? o.code : CODE_OF[o.kind]);
    writeU16(b, i + 2, len);
    const at = i + DHCP6_OPTION_HEADER_LEN;
    switch (o.kind) {
      case "client-id":
      case "server-id":
        b.set(o.duid, at);
        break;
      case "ia-na":
        writeU32(b, at, o.iaid);
        writeU32(b, at + 4, o.t1);
        writeU32(b, at + 8, o.t2);
        emitOptions(o.options, b, at + DHCP6_IA_NA_LEN);
        break;
      case "ia-addr":
        writeIpv6(b, at, o.address);
        writeU32(b, at + 16, o.preferredLifetime);
        writeU32(b, at + 20, o.validLifetime);
        emitOptions(o.options, b, at + DHCP6_IAADDR_LEN);
        break;
      case "oro":
        o.codes.forEach((c, k) => writeU16(b, at + 2 * k, c));
        break;
      case "preference":
        b[at] = o.value;
        break;
      case "elapsed-time":
        writeU16(b, at, o.centiseconds);
        break;
      case "relay-message":
        b.set(o.message, at);
        break;
      case "status-code":
        writeU16(b, at, o.status);
        b.set(utf8Encoder.encode(o.message), at + 2);
        break;
      case "rapid-commit":
        break;
      case "dns-servers":
        o.servers.forEach((s, k) => writeIpv6(b, at + 16 * k, s));
        break;
      case "unknown":
        b.set(o.data, at);
        break;
    }
    i = at + len;
  }
  return i;
}

/** Bytes the message takes on the wire. */
export function dhcp6ReprLength(repr: Dhcp6Repr): number {
  return (repr.kind === "relay" ? DHCP6_RELAY_HEADER_LEN : DHCP6_HEADER_LEN) + dhcp6OptionsLength(repr.options);
}

/**
 * Emits a DHCPv6 message; the returned view starts at msg-type and has `headroom` free bytes
 * before it in its buffer. Throws ERR_DHCP6_OPTION_TOO_LONG (programmer misuse) for an option over 65535 bytes.
 */
export function emitDhcp6(repr: Dhcp6Repr, options: { readonly headroom?: number } = {}): Uint8Array {
  const headroom = options.headroom ?? 0;
  const len = dhcp6ReprLength(repr);
  const buf = new Uint8Array(headroom + len);
  const b = buf.subarray(headroom);
  b[0] = repr.msgType;
  if (repr.kind === "relay") {
    b[1] = repr.hopCount;
    writeIpv6(b, 2, repr.linkAddress);
    writeIpv6(b, 18, repr.peerAddress);
    emitOptions(repr.options, b, DHCP6_RELAY_HEADER_LEN);
  } else {
    b[1] = (repr.transactionId >>> 16) & 0xff;
    b[2] = (repr.transactionId >>> 8) & 0xff;
    b[3] = repr.transactionId & 0xff;
    emitOptions(repr.options, b, DHCP6_HEADER_LEN);
  }
  return b;
}

// ---- accessors and constructors ----

/** The first option of a kind in a list. */
export function findDhcp6Option<K extends Dhcp6Option["kind"]>(options: readonly Dhcp6Option[], kind: K): Extract<Dhcp6Option, { kind: K }> | undefined {
  for (const o of options) if (o.kind === kind) return o as Extract<Dhcp6Option, { kind: K }>;
  return undefined;
}

/** Every option of a kind in a list. */
export function findDhcp6Options<K extends Dhcp6Option["kind"]>(options: readonly Dhcp6Option[], kind: K): Extract<Dhcp6Option, { kind: K }>[] {
  return options.filter((o): o is Extract<Dhcp6Option, { kind: K }> => o.kind === kind);
}

/** The status in a list (RFC 8415 §21.13: absent means Success). */
export function dhcp6StatusOf(options: readonly Dhcp6Option[]): number {
  return findDhcp6Option(options, "status-code")?.status ?? Dhcp6Status.SUCCESS;
}

/** DUID-LL for an Ethernet MAC (RFC 8415 §11.4: type 3, hardware type 1). */
export function duidLl(mac: MacAddress): Uint8Array {
  const d = new Uint8Array(10);
  writeU16(d, 0, DUID_LL);
  writeU16(d, 2, 1);
  writeMac(d, 4, mac);
  return d;
}

/** DUID-LLT for an Ethernet MAC and a time in seconds since 2000-01-01 UTC (RFC 8415 §11.2). */
export function duidLlt(mac: MacAddress, seconds: number): Uint8Array {
  const d = new Uint8Array(14);
  writeU16(d, 0, DUID_LLT);
  writeU16(d, 2, 1);
  writeU32(d, 4, seconds >>> 0);
  writeMac(d, 8, mac);
  return d;
}

/** True when two DUIDs are the same bytes (RFC 8415 §11: DUIDs compare as opaque values). */
export function duidEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Lower-case hex of a DUID (a map key, a lease store field). */
export function duidHex(d: Uint8Array): string {
  let s = "";
  for (const x of d) s += x.toString(16).padStart(2, "0");
  return s;
}
