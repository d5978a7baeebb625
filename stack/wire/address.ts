// MAC and IPv4 addresses as plain numbers: cheap to compare, hash and copy.
// MacAddress is a 48-bit unsigned integer (exact in a double); Ipv4Address is a u32.
import { type Result, ok, err } from "../result.ts";

/** A 48-bit MAC address as an integer (0 .. 2^48-1). */
export type MacAddress = number;
/** An IPv4 address as an unsigned 32-bit integer in network (big-endian) order of significance. */
export type Ipv4Address = number;

export const BROADCAST_MAC: MacAddress = 0xffffffffffff;
export const ZERO_MAC: MacAddress = 0;
export const IPV4_ANY: Ipv4Address = 0;
export const IPV4_BROADCAST: Ipv4Address = 0xffffffff;

/** Reads a MAC at offset. Caller guarantees 6 bytes are present. */
export function readMac(b: Uint8Array, off: number): MacAddress {
  return b[off]! * 0x10000000000 + b[off + 1]! * 0x100000000 + ((b[off + 2]! << 24) >>> 0) + (b[off + 3]! << 16) + (b[off + 4]! << 8) + b[off + 5]!;
}

/** Writes a MAC at offset. */
export function writeMac(b: Uint8Array, off: number, mac: MacAddress): void {
  const hi = Math.floor(mac / 0x100000000);
  const lo = mac >>> 0;
  b[off] = hi >>> 8;
  b[off + 1] = hi & 0xff;
  b[off + 2] = lo >>> 24;
  b[off + 3] = (lo >>> 16) & 0xff;
  b[off + 4] = (lo >>> 8) & 0xff;
  b[off + 5] = lo & 0xff;
}

/** Reads a big-endian IPv4 address at offset. */
export function readIpv4(b: Uint8Array, off: number): Ipv4Address {
  return ((b[off]! << 24) | (b[off + 1]! << 16) | (b[off + 2]! << 8) | b[off + 3]!) >>> 0;
}

/** Writes a big-endian IPv4 address at offset. */
export function writeIpv4(b: Uint8Array, off: number, a: Ipv4Address): void {
  b[off] = a >>> 24;
  b[off + 1] = (a >>> 16) & 0xff;
  b[off + 2] = (a >>> 8) & 0xff;
  b[off + 3] = a & 0xff;
}

/** True for group (multicast/broadcast) MACs. */
export function isMulticastMac(mac: MacAddress): boolean {
  return (Math.floor(mac / 0x10000000000) & 1) === 1;
}

/** "aa:bb:cc:dd:ee:ff" */
export function formatMac(mac: MacAddress): string {
  const b = new Uint8Array(6);
  writeMac(b, 0, mac);
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join(":");
}

/** Parses "aa:bb:cc:dd:ee:ff" (or with '-'). */
export function parseMac(s: string): Result<MacAddress, "bad-mac"> {
  const m = /^([0-9a-f]{2})[:-]([0-9a-f]{2})[:-]([0-9a-f]{2})[:-]([0-9a-f]{2})[:-]([0-9a-f]{2})[:-]([0-9a-f]{2})$/i.exec(s);
  if (!m) return err("bad-mac", s);
  const b = Uint8Array.from(m.slice(1), (x) => parseInt(x, 16));
  return ok(readMac(b, 0));
}

/** "192.0.2.1" */
export function formatIpv4(a: Ipv4Address): string {
  return `${a >>> 24}.${(a >>> 16) & 0xff}.${(a >>> 8) & 0xff}.${a & 0xff}`;
}

/** Parses dotted-quad IPv4. */
export function parseIpv4(s: string): Result<Ipv4Address, "bad-ipv4"> {
  const parts = s.split(".");
  if (parts.length !== 4) return err("bad-ipv4", s);
  let a = 0;
  for (const p of parts) {
    if (!/^(0|[1-9][0-9]{0,2})$/.test(p)) return err("bad-ipv4", s);
    const n = Number(p);
    if (n > 255) return err("bad-ipv4", s);
    a = a * 256 + n;
  }
  return ok(a >>> 0);
}

/** An address with its prefix length. */
export interface Ipv4Cidr {
  readonly address: Ipv4Address;
  readonly prefixLength: number;
}

/** Netmask for a prefix length (0..32). */
export function prefixToMask(prefixLength: number): Ipv4Address {
  return prefixLength === 0 ? 0 : (0xffffffff << (32 - prefixLength)) >>> 0;
}

/** Parses "192.0.2.10/24". */
export function parseCidr(s: string): Result<Ipv4Cidr, "bad-cidr"> {
  const [ip, len, extra] = s.split("/");
  if (ip === undefined || len === undefined || extra !== undefined || !/^\d{1,2}$/.test(len)) return err("bad-cidr", s);
  const addr = parseIpv4(ip);
  const prefixLength = Number(len);
  if (!addr.ok || prefixLength > 32) return err("bad-cidr", s);
  return ok({ address: addr.value, prefixLength });
}

/** "192.0.2.10/24" */
export function formatCidr(c: Ipv4Cidr): string {
  return `${formatIpv4(c.address)}/${c.prefixLength}`;
}
