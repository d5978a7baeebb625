// IPv6 addresses (RFC 4291) as 16-byte Uint8Arrays in network order: the bytes as they sit on
// the wire, so that reading one is a copy and writing one is a set(). Parsers copy addresses
// out of the packet (a repr never aliases the buffer it was parsed from). Text form: RFC 4291
// §2.2 on input, RFC 5952 canonical form on output.
import { type Result, ok, err } from "../result.ts";
import { type MacAddress, writeMac } from "./address.ts";
import { NetlabError } from "../error.ts";

/** An IPv6 address: exactly 16 bytes, network order. */
export type Ipv6Address = Uint8Array;

export const IPV6_ADDRESS_LEN = 16;

/** A fresh :: (the unspecified address). */
export function ipv6Unspecified(): Ipv6Address {
  return new Uint8Array(16);
}

/** Copies the 16-byte address at b[off..]. Caller guarantees 16 bytes are present. */
export function readIpv6(b: Uint8Array, off: number): Ipv6Address {
  return b.slice(off, off + 16);
}

/** Writes a 16-byte address at b[off..]. */
export function writeIpv6(b: Uint8Array, off: number, a: Ipv6Address): void {
  if (a.length !== 16) {
    b.set(a.subarray(0, 16), off);
    return;
  }
  // sixteen stores cost less than TypedArray.prototype.set for so few bytes (twice per packet sent)
  for (let i = 0; i < 16; i++) b[off + i] = a[i]!;
}

/** True when both addresses hold the same 16 bytes. */
export function ipv6Equal(a: Ipv6Address, b: Ipv6Address): boolean {
  return b.length === 16 && ipv6EqualAt(a, b, 0);
}

/**
 * True when address `a` equals the 16 bytes at b[at..at+16] (an address read in place from a
 * packet); false when b does not hold 16 bytes there. Compared from the end: addresses of one
 * link differ in their interface identifiers.
 */
export function ipv6EqualAt(a: Ipv6Address, b: Uint8Array, at: number): boolean {
  if (a.length !== 16 || !(at >= 0) || b.length < at + 16) return false;
  for (let i = 15; i >= 0; i--) if (a[i] !== b[at + i]) return false;
  return true;
}

/** A Map key for an address: its eight 16-bit groups as eight UTF-16 code units (one call, no concatenation). */
export function ipv6Key(a: Ipv6Address): string {
  return String.fromCharCode(
    (a[0]! << 8) | a[1]!,
    (a[2]! << 8) | a[3]!,
    (a[4]! << 8) | a[5]!,
    (a[6]! << 8) | a[7]!,
    (a[8]! << 8) | a[9]!,
    (a[10]! << 8) | a[11]!,
    (a[12]! << 8) | a[13]!,
    (a[14]! << 8) | a[15]!,
  );
}

/** ff00::/8 (RFC 4291 §2.7). */
export function isIpv6Multicast(a: Ipv6Address): boolean {
  return a[0] === 0xff;
}
/** fe80::/10 (RFC 4291 §2.5.6). */
export function isIpv6LinkLocal(a: Ipv6Address): boolean {
  return a[0] === 0xfe && (a[1]! & 0xc0) === 0x80;
}
/** :: */
export function isIpv6Unspecified(a: Ipv6Address): boolean {
  return a.length === 16 && a.every((x) => x === 0);
}

/** RFC 4291 §2.7.1: the solicited-node multicast address ff02::1:ffXX:XXXX of a unicast address. */
export function solicitedNodeAddress(a: Ipv6Address): Ipv6Address {
  const out = new Uint8Array(16);
  out[0] = 0xff;
  out[1] = 0x02;
  out[11] = 0x01;
  out[12] = 0xff;
  out[13] = a[13]!;
  out[14] = a[14]!;
  out[15] = a[15]!;
  return out;
}

/** RFC 2464 §7: the Ethernet destination 33:33:XX:XX:XX:XX of a multicast address. */
export function ipv6MulticastMac(a: Ipv6Address): MacAddress {
  return 0x333300000000 + ((a[12]! << 24) >>> 0) + (a[13]! << 16) + (a[14]! << 8) + a[15]!;
}

/** RFC 4291 Appendix A: a link-local address fe80::/64 with the modified EUI-64 of a MAC. */
export function linkLocalFromMac(mac: MacAddress): Ipv6Address {
  const m = new Uint8Array(6);
  writeMac(m, 0, mac);
  const out = new Uint8Array(16);
  out[0] = 0xfe;
  out[1] = 0x80;
  out[8] = m[0]! ^ 0x02;
  out[9] = m[1]!;
  out[10] = m[2]!;
  out[11] = 0xff;
  out[12] = 0xfe;
  out[13] = m[3]!;
  out[14] = m[4]!;
  out[15] = m[5]!;
  return out;
}

/**
 * RFC 5952 text: lowercase hex, no leading zeros (§4.1), the longest run of two or more zero
 * groups shortened to "::", the first one on a tie (§4.2), and the IPv4-mapped ::ffff:0:0/96
 * written with its dotted quad (§5).
 */
export function formatIpv6(a: Ipv6Address): string {
  const g: number[] = [];
  for (let i = 0; i < 16; i += 2) g.push(((a[i] ?? 0) << 8) | (a[i + 1] ?? 0));
  if (g[0] === 0 && g[1] === 0 && g[2] === 0 && g[3] === 0 && g[4] === 0 && g[5] === 0xffff) {
    return `::ffff:${a[12]}.${a[13]}.${a[14]}.${a[15]}`;
  }
  let bestStart = -1,
    bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (g[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hexes = g.map((x) => x.toString(16));
  if (bestStart < 0) return hexes.join(":");
  return `${hexes.slice(0, bestStart).join(":")}::${hexes.slice(bestStart + bestLen).join(":")}`;
}

export type Ipv6TextError = "bad-ipv6";

/**
 * Parses RFC 4291 §2.2 text: eight groups of 1-4 hex digits, one "::" for a run of zero
 * groups, and an optional trailing dotted quad (§2.2 form 3). No zone ("%eth0") and no prefix.
 */
export function parseIpv6Address(s: string): Result<Ipv6Address, Ipv6TextError> {
  if (s.length === 0 || s.length > 45) return err("bad-ipv6", s);
  const halves = s.split("::");
  if (halves.length > 2) return err("bad-ipv6", s);
  const groups = (part: string): number[] | undefined => {
    if (part === "") return [];
    const out: number[] = [];
    const fields = part.split(":");
    for (let i = 0; i < fields.length; i++) {
      const f = fields[i]!;
      if (i === fields.length - 1 && f.includes(".")) {
        const q = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(f);
        if (!q) return undefined;
        const n = q.slice(1).map(Number);
        if (n.some((x, k) => x > 255 || (q[k + 1]!.length > 1 && q[k + 1]![0] === "0"))) return undefined;
        out.push((n[0]! << 8) | n[1]!, (n[2]! << 8) | n[3]!);
        continue;
      }
      if (!/^[0-9a-fA-F]{1,4}$/.test(f)) return undefined;
      out.push(parseInt(f, 16));
    }
    return out;
  };
  const head = groups(halves[0]!);
  const tail = halves.length === 2 ? groups(halves[1]!) : [];
  if (!head || !tail) return err("bad-ipv6", s);
  // A dotted quad may only end the address.
  if (halves.length === 2 && halves[0]!.includes(".")) return err("bad-ipv6", s);
  const total = head.length + tail.length;
  if (halves.length === 1 ? total !== 8 : total > 7) return err("bad-ipv6", s);
  const all = [...head, ...new Array<number>(8 - total).fill(0), ...tail];
  const out = new Uint8Array(16);
  all.forEach((x, i) => {
    out[2 * i] = x >>> 8;
    out[2 * i + 1] = x & 0xff;
  });
  return ok(out);
}

/** An address with a prefix length ("2001:db8::1/64"). */
export interface Ipv6Cidr {
  readonly address: Ipv6Address;
  readonly prefixLength: number;
}

/** "2001:db8::1/64"; without "/len" the length is 128, or an error with requireLength. */
export function parseIpv6Cidr(s: string, options: { readonly requireLength?: boolean } = {}): Result<Ipv6Cidr, "bad-ipv6-cidr"> {
  const slash = s.indexOf("/");
  const len = slash < 0 ? undefined : s.slice(slash + 1);
  const a = parseIpv6Address(slash < 0 ? s : s.slice(0, slash));
  if (!a.ok || (len !== undefined && !/^\d{1,3}$/.test(len))) return err("bad-ipv6-cidr", s);
  const prefixLength = len === undefined ? (options.requireLength === true ? undefined : 128) : Number(len);
  if (prefixLength === undefined || prefixLength > 128) return err("bad-ipv6-cidr", s);
  return ok({ address: a.value, prefixLength });
}

/** The address with the bits past `len` cleared (a new array). */
export function maskIpv6(a: Ipv6Address, len: number): Ipv6Address {
  const out = new Uint8Array(16);
  const full = len >>> 3;
  out.set(a.subarray(0, full));
  if ((len & 7) !== 0) out[full] = a[full]! & ((0xff << (8 - (len & 7))) & 0xff);
  return out;
}

/** parseIpv6Address for literals the programmer wrote; throws (code ERR_BAD_IPV6) on a typo. */
export function ipv6(s: string): Ipv6Address {
  const r = parseIpv6Address(s);
  if (!r.ok) throw new NetlabError("ERR_BAD_IPV6", `not an IPv6 address: ${s}`);
  return r.value;
}
