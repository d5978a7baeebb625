// UDP over IPv6 (RFC 768 with RFC 8200 §8.1): the same header as over IPv4 (UdpPacket), with
// the v6 pseudo-header in the checksum, and a checksum of zero refused: over IPv6 the UDP
// checksum is mandatory (RFC 8200 §8.1; the RFC 6935/6936 tunnel exception is not taken).
import { type Result, ok, err } from "../result.ts";
import { writeU16 } from "./bytes.ts";
import { checksumAdd, checksumFinish } from "./checksum.ts";
import type { Ipv6Address } from "./ipv6-address.ts";
import { IPV6_NEXT_HEADER_UDP, ipv6PseudoHeaderSum } from "./ipv6.ts";
import { UDP_CHECKSUM, UDP_DST_PORT, UDP_HEADER_LEN, UDP_LENGTH, UDP_SRC_PORT, type UdpError, type UdpRepr, UdpPacket } from "./udp.ts";

/** "zero-checksum": RFC 8200 §8.1, a UDP datagram over IPv6 with no checksum is discarded. */
export type Udp6Error = UdpError | "zero-checksum";

/** True when the datagram's checksum is right for the v6 pseudo-header (zero is never right). */
export function verifyUdp6Checksum(p: UdpPacket, src: Ipv6Address, dst: Ipv6Address): boolean {
  const len = p.length;
  return checksumFinish(checksumAdd(p.bytes.subarray(0, len), ipv6PseudoHeaderSum(src, dst, IPV6_NEXT_HEADER_UDP, len))) === 0;
}

/** Parses a UDP datagram carried over IPv6 from src to dst. */
export function parseUdp6(bytes: Uint8Array, src: Ipv6Address, dst: Ipv6Address, options?: { readonly verifyChecksum?: boolean }): Result<UdpRepr, Udp6Error> {
  const p = new UdpPacket(bytes);
  const c = p.checkLen();
  if (!c.ok) return c;
  if (p.checksum === 0) return err("zero-checksum");
  if (options?.verifyChecksum !== false && !verifyUdp6Checksum(p, src, dst)) return err("bad-checksum");
  const dstPort = p.dstPort;
  if (dstPort === 0) return err("bad-port");
  return ok({ srcPort: p.srcPort, dstPort, payload: p.payload });
}

/** Writes header, payload (not copied when already in place) and checksum at buf[offset..]; returns the length. */
export function emitUdp6(repr: UdpRepr, buf: Uint8Array, offset: number, src: Ipv6Address, dst: Ipv6Address): number {
  const len = UDP_HEADER_LEN + repr.payload.length;
  writeU16(buf, offset + UDP_SRC_PORT, repr.srcPort);
  writeU16(buf, offset + UDP_DST_PORT, repr.dstPort);
  writeU16(buf, offset + UDP_LENGTH, len);
  writeU16(buf, offset + UDP_CHECKSUM, 0);
  const start = offset + UDP_HEADER_LEN;
  const body = repr.payload;
  if (!(body.buffer === buf.buffer && body.byteOffset === buf.byteOffset + start)) buf.set(body, start);
  const c = checksumFinish(checksumAdd(buf.subarray(offset, offset + len), ipv6PseudoHeaderSum(src, dst, IPV6_NEXT_HEADER_UDP, len)));
  // RFC 8200 §8.1: a computed zero is sent as all ones.
  writeU16(buf, offset + UDP_CHECKSUM, c === 0 ? 0xffff : c);
  return len;
}
