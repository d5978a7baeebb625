// DHCP messages (RFC 2131 §2) and options (RFC 2132), with option overload (RFC 2132 §9.3)
// and long options split across instances (RFC 3396).
//
// DhcpPacket      view over the fixed 236-byte BOOTP header + magic cookie; safe after checkLen().
// DhcpRepr        the meaning of a message; options are logical (split instances concatenated,
//                 pad/end/overload consumed), kept in order of first appearance.
// parseDhcp       untrusted bytes -> Result<DhcpRepr>; never throws.
// emitDhcp        DhcpRepr -> bytes; splits options longer than 255 bytes into instances, and
//                 overloads file/sname (option 52) when a maxLength is given and needed.
// option*/read*   constructors and typed accessors for options 1, 3, 6, 12, 15, 28, 50, 51,
//                 53, 54, 55, 57, 58, 59, 61.
import { type Result, ok, err } from "../result.ts";
import { type Ipv4Address, type MacAddress, readIpv4, writeIpv4, readMac, writeMac } from "./address.ts";

export const DHCP_OP = 0,
  DHCP_HTYPE = 1,
  DHCP_HLEN = 2,
  DHCP_HOPS = 3,
  DHCP_XID = 4,
  DHCP_SECS = 8,
  DHCP_FLAGS = 10;
export const DHCP_CIADDR = 12,
  DHCP_YIADDR = 16,
  DHCP_SIADDR = 20,
  DHCP_GIADDR = 24,
  DHCP_CHADDR = 28,
  DHCP_SNAME = 44,
  DHCP_FILE = 108;
export const DHCP_MAGIC = 236,
  DHCP_OPTIONS = 240;
export const DHCP_CHADDR_LEN = 16,
  DHCP_SNAME_LEN = 64,
  DHCP_FILE_LEN = 128;
/** The fixed part (BOOTP header + magic cookie). */
export const DHCP_HEADER_LEN = 240;
/** RFC 2131 §2: the magic cookie 99.130.83.99. */
export const DHCP_MAGIC_COOKIE = 0x63825363;
/** RFC 1542 §3.2.1: BOOTP messages are padded to at least 300 bytes; many relays insist. */
export const BOOTP_MIN_LEN = 300;
/** RFC 2131 §2: the broadcast bit of `flags`. */
export const DHCP_FLAG_BROADCAST = 0x8000;

export const BOOTREQUEST = 1,
  BOOTREPLY = 2;
export const HTYPE_ETHERNET = 1;

export const DHCP_SERVER_PORT = 67,
  DHCP_CLIENT_PORT = 68;

/** DHCP message types (option 53, RFC 2132 §9.6). */
export const DhcpMessageType = {
  DISCOVER: 1,
  OFFER: 2,
  REQUEST: 3,
  DECLINE: 4,
  ACK: 5,
  NAK: 6,
  RELEASE: 7,
  INFORM: 8,
} as const;
export type DhcpMessageTypeValue = (typeof DhcpMessageType)[keyof typeof DhcpMessageType];

/** Option codes (RFC 2132) this stack reads or writes by name. */
export const DhcpOption = {
  PAD: 0,
  SUBNET_MASK: 1,
  ROUTER: 3,
  DNS_SERVER: 6,
  HOST_NAME: 12,
  DOMAIN_NAME: 15,
  BROADCAST_ADDRESS: 28,
  REQUESTED_IP: 50,
  LEASE_TIME: 51,
  OVERLOAD: 52,
  MESSAGE_TYPE: 53,
  SERVER_ID: 54,
  PARAMETER_REQUEST_LIST: 55,
  MESSAGE: 56,
  MAX_MESSAGE_SIZE: 57,
  RENEWAL_TIME: 58,
  REBINDING_TIME: 59,
  CLIENT_ID: 61,
  END: 255,
} as const;

/** One logical option: all instances of a code concatenated (RFC 3396 §7). */
export interface DhcpOptionRepr {
  readonly code: number;
  readonly data: Uint8Array;
}

/** The meaning of a DHCP message. */
export interface DhcpRepr {
  /** 1 BOOTREQUEST, 2 BOOTREPLY. */
  readonly op: number;
  readonly htype: number;
  readonly hops: number;
  readonly xid: number;
  readonly secs: number;
  /** Flags word; DHCP_FLAG_BROADCAST is the only defined bit. */
  readonly flags: number;
  readonly ciaddr: Ipv4Address;
  readonly yiaddr: Ipv4Address;
  readonly siaddr: Ipv4Address;
  readonly giaddr: Ipv4Address;
  /** Client hardware address; its length is `hlen` (0..16). */
  readonly chaddr: Uint8Array;
  /** Server host name (bytes up to the first NUL or the field's end: all 64 when unterminated, latin1); "" when overloaded. */
  readonly sname: string;
  /** Boot file name (bytes up to the first NUL or the field's end, at most 128, latin1); "" when overloaded. */
  readonly file: string;
  /** Logical options in order of first appearance, without pad, end and overload (52). */
  readonly options: readonly DhcpOptionRepr[];
}

export type DhcpParseError = "truncated" | "bad-magic" | "bad-op" | "bad-hlen" | "truncated-option" | "bad-overload";

/** A view over a DHCP message; fixed-header accessors are safe after checkLen() succeeds. */
export class DhcpPacket {
  readonly #view: DataView;
  constructor(readonly bytes: Uint8Array) {
    this.#view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }
  checkLen(): Result<this, "truncated" | "bad-magic"> {
    if (this.bytes.length < DHCP_HEADER_LEN) return err("truncated");
    return this.magic !== DHCP_MAGIC_COOKIE ? err("bad-magic") : ok(this);
  }
  get op(): number {
    return this.bytes[DHCP_OP]!;
  }
  get htype(): number {
    return this.bytes[DHCP_HTYPE]!;
  }
  get hlen(): number {
    return this.bytes[DHCP_HLEN]!;
  }
  get hops(): number {
    return this.bytes[DHCP_HOPS]!;
  }
  get xid(): number {
    return this.#view.getUint32(DHCP_XID);
  }
  get secs(): number {
    return this.#view.getUint16(DHCP_SECS);
  }
  get flags(): number {
    return this.#view.getUint16(DHCP_FLAGS);
  }
  get ciaddr(): Ipv4Address {
    return readIpv4(this.bytes, DHCP_CIADDR);
  }
  get yiaddr(): Ipv4Address {
    return readIpv4(this.bytes, DHCP_YIADDR);
  }
  get siaddr(): Ipv4Address {
    return readIpv4(this.bytes, DHCP_SIADDR);
  }
  get giaddr(): Ipv4Address {
    return readIpv4(this.bytes, DHCP_GIADDR);
  }
  get chaddrField(): Uint8Array {
    return this.bytes.subarray(DHCP_CHADDR, DHCP_CHADDR + DHCP_CHADDR_LEN);
  }
  get snameField(): Uint8Array {
    return this.bytes.subarray(DHCP_SNAME, DHCP_SNAME + DHCP_SNAME_LEN);
  }
  get fileField(): Uint8Array {
    return this.bytes.subarray(DHCP_FILE, DHCP_FILE + DHCP_FILE_LEN);
  }
  get magic(): number {
    return this.#view.getUint32(DHCP_MAGIC);
  }
  get optionsField(): Uint8Array {
    return this.bytes.subarray(DHCP_OPTIONS);
  }
}

interface Instance {
  code: number;
  data: Uint8Array;
}

/** Scans one option area; returns false when an option runs past the area. RFC 2132 §2. */
function scanOptions(area: Uint8Array, out: Instance[]): boolean {
  let i = 0;
  while (i < area.length) {
    const code = area[i]!;
    if (code === DhcpOption.PAD) {
      i++;
      continue;
    }
    if (code === DhcpOption.END) return true;
    if (i + 1 >= area.length) return false;
    const len = area[i + 1]!;
    if (i + 2 + len > area.length) return false;
    out.push({ code, data: area.subarray(i + 2, i + 2 + len) });
    i += 2 + len;
  }
  return true;
}

function decodeLatin1(field: Uint8Array): string {
  let end = field.indexOf(0);
  if (end < 0) end = field.length;
  let s = "";
  for (let i = 0; i < end; i++) s += String.fromCharCode(field[i]!);
  return s;
}

/** Parses a DHCP message (the UDP payload). Never throws. */
export function parseDhcp(bytes: Uint8Array): Result<DhcpRepr, DhcpParseError> {
  const p = new DhcpPacket(bytes);
  const checked = p.checkLen();
  if (!checked.ok) return err(checked.error);
  if (p.op !== BOOTREQUEST && p.op !== BOOTREPLY) return err("bad-op", `op ${p.op}`);
  if (p.hlen > DHCP_CHADDR_LEN) return err("bad-hlen", `hlen ${p.hlen}`);

  const main: Instance[] = [];
  if (!scanOptions(p.optionsField, main)) return err("truncated-option", "options field");
  // RFC 2131 §4.1: options field first, then 'file' (overload 1 or 3), then 'sname' (2 or 3).
  let overload = 0;
  for (const inst of main) {
    if (inst.code !== DhcpOption.OVERLOAD) continue;
    if (inst.data.length !== 1 || inst.data[0]! < 1 || inst.data[0]! > 3) return err("bad-overload");
    overload = inst.data[0]!;
  }
  const all = main;
  if (overload & 1) {
    if (!scanOptions(p.fileField, all)) return err("truncated-option", "file field");
  }
  if (overload & 2) {
    if (!scanOptions(p.snameField, all)) return err("truncated-option", "sname field");
  }

  const options: { code: number; parts: Uint8Array[] }[] = [];
  const byCode = new Map<number, { code: number; parts: Uint8Array[] }>();
  for (const inst of all) {
    if (inst.code === DhcpOption.OVERLOAD) continue;
    const existing = byCode.get(inst.code);
    if (existing) existing.parts.push(inst.data);
    else {
      const entry = { code: inst.code, parts: [inst.data] };
      byCode.set(inst.code, entry);
      options.push(entry);
    }
  }

  return ok({
    op: p.op,
    htype: p.htype,
    hops: p.hops,
    xid: p.xid,
    secs: p.secs,
    flags: p.flags,
    ciaddr: p.ciaddr,
    yiaddr: p.yiaddr,
    siaddr: p.siaddr,
    giaddr: p.giaddr,
    chaddr: bytes.slice(DHCP_CHADDR, DHCP_CHADDR + p.hlen),
    sname: overload & 2 ? "" : decodeLatin1(p.snameField),
    file: overload & 1 ? "" : decodeLatin1(p.fileField),
    options: options.map(({ code, parts }) => ({ code, data: concat(parts) })),
  });
}

function concat(parts: Uint8Array[]): Uint8Array {
  if (parts.length === 1) return parts[0]!.slice();
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** Options for emitDhcp. */
export interface DhcpEmitOptions {
  /**
   * Largest message the receiver accepts (RFC 2132 §9.10 option 57 minus IP and UDP headers,
   * 548 by default on the wire). When the options do not fit, they continue in 'file' and then
   * 'sname' if those are empty (option 52); if they still do not fit the message grows past it.
   */
  readonly maxLength?: number;
  /** Bytes left free in front of the message in the returned view's buffer (for UDP/IP headers). */
  readonly headroom?: number;
}

/** Bytes one logical option takes on the wire when split into 255-byte instances. */
function optionWireLen(o: DhcpOptionRepr): number {
  const n = o.data.length;
  return n === 0 ? 2 : n + 2 * Math.ceil(n / 255);
}

/** Writes option instances into one area (options, file or sname), keeping a byte for End. */
class AreaWriter {
  pos: number;
  constructor(
    readonly buf: Uint8Array,
    readonly start: number,
    readonly end: number,
  ) {
    this.pos = start;
  }
  get room(): number {
    return this.end - this.pos;
  }
  put(code: number, data: Uint8Array): void {
    this.buf[this.pos] = code;
    this.buf[this.pos + 1] = data.length;
    this.buf.set(data, this.pos + 2);
    this.pos += 2 + data.length;
  }
}

/** Packs options into areas in order, splitting instances at area ends (RFC 3396 §5). */
function packOptions(opts: readonly DhcpOptionRepr[], areas: readonly AreaWriter[]): boolean {
  let w = 0;
  for (const o of opts) {
    let rest = o.data;
    let first = true;
    while (first || rest.length > 0) {
      let writer = areas[w];
      while (writer !== undefined && writer.room < 2 + Math.min(1, rest.length)) writer = areas[++w];
      if (writer === undefined) return false;
      const take = Math.min(rest.length, 255, writer.room - 2);
      writer.put(o.code, rest.subarray(0, take));
      rest = rest.subarray(take);
      first = false;
    }
  }
  for (const a of areas) a.buf[a.pos] = DhcpOption.END;
  return true;
}

/** Emits a DHCP message; the returned view starts at the BOOTP header. */
export function emitDhcp(repr: DhcpRepr, options: DhcpEmitOptions = {}): Uint8Array {
  const headroom = options.headroom ?? 0;
  const opts = repr.options.filter((o) => o.code !== DhcpOption.PAD && o.code !== DhcpOption.END && o.code !== DhcpOption.OVERLOAD);
  let optLen = 0;
  for (const o of opts) optLen += optionWireLen(o);
  const plainLen = DHCP_HEADER_LEN + optLen + 1;
  const buf = new Uint8Array(headroom + Math.max(plainLen, BOOTP_MIN_LEN));
  const msg = buf.subarray(headroom);
  const view = new DataView(msg.buffer, msg.byteOffset, msg.byteLength);

  msg[DHCP_OP] = repr.op;
  msg[DHCP_HTYPE] = repr.htype;
  msg[DHCP_HLEN] = Math.min(repr.chaddr.length, DHCP_CHADDR_LEN);
  msg[DHCP_HOPS] = repr.hops;
  view.setUint32(DHCP_XID, repr.xid >>> 0);
  view.setUint16(DHCP_SECS, repr.secs);
  view.setUint16(DHCP_FLAGS, repr.flags);
  writeIpv4(msg, DHCP_CIADDR, repr.ciaddr);
  writeIpv4(msg, DHCP_YIADDR, repr.yiaddr);
  writeIpv4(msg, DHCP_SIADDR, repr.siaddr);
  writeIpv4(msg, DHCP_GIADDR, repr.giaddr);
  msg.set(repr.chaddr.subarray(0, DHCP_CHADDR_LEN), DHCP_CHADDR);
  view.setUint32(DHCP_MAGIC, DHCP_MAGIC_COOKIE);

  const maxLength = options.maxLength ?? Infinity;
  let overload = 0;
  if (plainLen > maxLength && opts.length > 0) {
    if (repr.file === "") overload |= 1;
    if (repr.sname === "") overload |= 2;
  }
  if (overload !== 0) {
    // RFC 2132 §9.3: option 52 sits in the options field; file is used before sname.
    const main = new AreaWriter(msg, DHCP_OPTIONS, Math.max(DHCP_OPTIONS + 3, Math.min(maxLength, msg.length) - 1));
    main.put(DhcpOption.OVERLOAD, Uint8Array.of(overload));
    if (!(overload & 1)) writeLatin1(msg, DHCP_FILE, DHCP_FILE_LEN, repr.file);
    if (!(overload & 2)) writeLatin1(msg, DHCP_SNAME, DHCP_SNAME_LEN, repr.sname);
    const areas = [main];
    if (overload & 1) areas.push(new AreaWriter(msg, DHCP_FILE, DHCP_FILE + DHCP_FILE_LEN - 1));
    if (overload & 2) areas.push(new AreaWriter(msg, DHCP_SNAME, DHCP_SNAME + DHCP_SNAME_LEN - 1));
    if (packOptions(opts, areas)) {
      // Announce only the fields that ended up holding options.
      let used = 0;
      for (const a of areas.slice(1)) {
        const bit = a.start === DHCP_FILE ? 1 : 2;
        if (a.pos > a.start) used |= bit;
        else msg[a.pos] = 0;
      }
      msg[DHCP_OPTIONS + 2] = used;
      if (!(used & 1)) writeLatin1(msg, DHCP_FILE, DHCP_FILE_LEN, repr.file);
      if (!(used & 2)) writeLatin1(msg, DHCP_SNAME, DHCP_SNAME_LEN, repr.sname);
      return buf.subarray(headroom, headroom + Math.max(main.pos + 1, BOOTP_MIN_LEN));
    }
    msg.fill(0, DHCP_SNAME, DHCP_MAGIC);
    msg.fill(0, DHCP_OPTIONS);
  }
  writeLatin1(msg, DHCP_SNAME, DHCP_SNAME_LEN, repr.sname);
  writeLatin1(msg, DHCP_FILE, DHCP_FILE_LEN, repr.file);
  const main = new AreaWriter(msg, DHCP_OPTIONS, msg.length - 1);
  packOptions(opts, [main]);
  return buf.subarray(headroom, headroom + Math.max(main.pos + 1, BOOTP_MIN_LEN));
}

function writeLatin1(b: Uint8Array, off: number, max: number, s: string): void {
  const n = Math.min(s.length, max);
  for (let i = 0; i < n; i++) b[off + i] = s.charCodeAt(i) & 0xff;
}

// ---- option constructors ----

/** An option carrying raw bytes. */
export function optionBytes(code: number, data: Uint8Array): DhcpOptionRepr {
  return { code, data };
}
/** An option carrying one byte. */
export function optionU8(code: number, v: number): DhcpOptionRepr {
  return { code, data: Uint8Array.of(v & 0xff) };
}
/** An option carrying a big-endian u16. */
export function optionU16(code: number, v: number): DhcpOptionRepr {
  return { code, data: Uint8Array.of((v >>> 8) & 0xff, v & 0xff) };
}
/** An option carrying a big-endian u32 (times in seconds). */
export function optionU32(code: number, v: number): DhcpOptionRepr {
  const data = new Uint8Array(4);
  writeIpv4(data, 0, v >>> 0);
  return { code, data };
}
/** An option carrying one IPv4 address. */
export function optionIpv4(code: number, a: Ipv4Address): DhcpOptionRepr {
  return optionU32(code, a);
}
/** An option carrying a list of IPv4 addresses. */
export function optionIpv4List(code: number, list: readonly Ipv4Address[]): DhcpOptionRepr {
  const data = new Uint8Array(4 * list.length);
  list.forEach((a, i) => writeIpv4(data, 4 * i, a));
  return { code, data };
}
/** An option carrying a latin1 string (host name, domain name, message). */
export function optionString(code: number, s: string): DhcpOptionRepr {
  const data = new Uint8Array(s.length);
  writeLatin1(data, 0, s.length, s);
  return { code, data };
}
/** Option 53. */
export function optionMessageType(t: DhcpMessageTypeValue): DhcpOptionRepr {
  return optionU8(DhcpOption.MESSAGE_TYPE, t);
}

// ---- typed accessors (undefined when absent or malformed) ----

/** The logical option with `code`, or undefined. */
export function findOption(repr: DhcpRepr, code: number): Uint8Array | undefined {
  for (const o of repr.options) if (o.code === code) return o.data;
  return undefined;
}
/** A one-byte option. */
export function readOptionU8(repr: DhcpRepr, code: number): number | undefined {
  const d = findOption(repr, code);
  return d !== undefined && d.length === 1 ? d[0]! : undefined;
}
/** A u16 option. */
export function readOptionU16(repr: DhcpRepr, code: number): number | undefined {
  const d = findOption(repr, code);
  return d !== undefined && d.length === 2 ? (d[0]! << 8) | d[1]! : undefined;
}
/** A u32 option (also used for single addresses). */
export function readOptionU32(repr: DhcpRepr, code: number): number | undefined {
  const d = findOption(repr, code);
  return d !== undefined && d.length === 4 ? readIpv4(d, 0) : undefined;
}
/** A list of IPv4 addresses (length a non-zero multiple of 4). */
export function readOptionIpv4List(repr: DhcpRepr, code: number): Ipv4Address[] | undefined {
  const d = findOption(repr, code);
  if (d === undefined || d.length === 0 || d.length % 4 !== 0) return undefined;
  const out: Ipv4Address[] = [];
  for (let i = 0; i < d.length; i += 4) out.push(readIpv4(d, i));
  return out;
}
/** A string option (latin1, trailing NULs dropped: RFC 2132 §2 says not to send them, some do). */
export function readOptionString(repr: DhcpRepr, code: number): string | undefined {
  const d = findOption(repr, code);
  if (d === undefined || d.length === 0) return undefined;
  let end = d.length;
  while (end > 0 && d[end - 1] === 0) end--;
  let s = "";
  for (let i = 0; i < end; i++) s += String.fromCharCode(d[i]!);
  return s;
}

/** Option 53, if present and one of the eight defined types. */
export function messageType(repr: DhcpRepr): DhcpMessageTypeValue | undefined {
  const t = readOptionU8(repr, DhcpOption.MESSAGE_TYPE);
  return t !== undefined && t >= 1 && t <= 8 ? (t as DhcpMessageTypeValue) : undefined;
}
/** Option 1. */
export const subnetMask = (r: DhcpRepr): Ipv4Address | undefined => readOptionU32(r, DhcpOption.SUBNET_MASK);
/** Option 3 (first is the default gateway). */
export const routers = (r: DhcpRepr): Ipv4Address[] | undefined => readOptionIpv4List(r, DhcpOption.ROUTER);
/** Option 6. */
export const dnsServers = (r: DhcpRepr): Ipv4Address[] | undefined => readOptionIpv4List(r, DhcpOption.DNS_SERVER);
/** Option 12. */
export const hostName = (r: DhcpRepr): string | undefined => readOptionString(r, DhcpOption.HOST_NAME);
/** Option 15. */
export const domainName = (r: DhcpRepr): string | undefined => readOptionString(r, DhcpOption.DOMAIN_NAME);
/** Option 28. */
export const broadcastAddress = (r: DhcpRepr): Ipv4Address | undefined => readOptionU32(r, DhcpOption.BROADCAST_ADDRESS);
/** Option 50. */
export const requestedIp = (r: DhcpRepr): Ipv4Address | undefined => readOptionU32(r, DhcpOption.REQUESTED_IP);
/** Option 51, seconds (0xffffffff = infinite). */
export const leaseTime = (r: DhcpRepr): number | undefined => readOptionU32(r, DhcpOption.LEASE_TIME);
/** Option 54. */
export const serverId = (r: DhcpRepr): Ipv4Address | undefined => readOptionU32(r, DhcpOption.SERVER_ID);
/** Option 57. */
export const maxMessageSize = (r: DhcpRepr): number | undefined => readOptionU16(r, DhcpOption.MAX_MESSAGE_SIZE);
/** Option 58, seconds. */
export const renewalTime = (r: DhcpRepr): number | undefined => readOptionU32(r, DhcpOption.RENEWAL_TIME);
/** Option 59, seconds. */
export const rebindingTime = (r: DhcpRepr): number | undefined => readOptionU32(r, DhcpOption.REBINDING_TIME);
/** Option 61 (RFC 2132 §9.14: at least 2 bytes, type then identifier). */
export function clientId(r: DhcpRepr): Uint8Array | undefined {
  const d = findOption(r, DhcpOption.CLIENT_ID);
  return d !== undefined && d.length >= 2 ? d : undefined;
}
/** Option 55 as a list of codes. */
export function parameterRequestList(r: DhcpRepr): number[] | undefined {
  const d = findOption(r, DhcpOption.PARAMETER_REQUEST_LIST);
  return d !== undefined && d.length > 0 ? Array.from(d) : undefined;
}

/** The client MAC when htype is Ethernet and hlen 6. */
export function chaddrMac(r: DhcpRepr): MacAddress | undefined {
  return r.htype === HTYPE_ETHERNET && r.chaddr.length === 6 ? readMac(r.chaddr, 0) : undefined;
}
/** A 6-byte chaddr for a MAC. */
export function macToChaddr(mac: MacAddress): Uint8Array {
  const b = new Uint8Array(6);
  writeMac(b, 0, mac);
  return b;
}
