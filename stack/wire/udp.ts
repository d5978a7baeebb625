// UDP (RFC 768) with the IPv4 pseudo-header checksum.
// UdpPacket: view; UdpRepr: meaning (ports + payload); parseUdp/emitUdp convert;
// UDP_HEADER_LEN is the header size. A transmitted checksum that computes to 0 is sent as
// 0xffff; a received checksum of 0 means "none" (RFC 768).
import { type Result, ok, err } from "../result.ts";
import type { Ipv4Address } from "./address.ts";
import { readU16, writeU16 } from "./bytes.ts";
import { checksumAdd, checksumFinish, pseudoHeaderSum } from "./checksum.ts";

export const UDP_SRC_PORT = 0;
export const UDP_DST_PORT = 2;
export const UDP_LENGTH = 4;
export const UDP_CHECKSUM = 6;
export const UDP_HEADER_LEN = 8;
const IP_PROTOCOL_UDP = 17;

export type UdpError = "truncated" | "bad-length" | "bad-checksum" | "bad-port";

/** The meaning of a UDP datagram. */
export interface UdpRepr {
  readonly srcPort: number;
  readonly dstPort: number;
  readonly payload: Uint8Array;
}

/** View over a UDP datagram; accessors are safe after checkLen() succeeds. */
export class UdpPacket {
  constructor(readonly bytes: Uint8Array) {}

  /** Checks the header fits and 8 <= length field <= buffer length. */
  checkLen(): Result<this, "truncated" | "bad-length"> {
    if (this.bytes.length < UDP_HEADER_LEN) return err("truncated");
    const len = this.length;
    return len < UDP_HEADER_LEN || len > this.bytes.length ? err("bad-length") : ok(this);
  }

  get srcPort(): number {
    return readU16(this.bytes, UDP_SRC_PORT);
  }
  set srcPort(v: number) {
    writeU16(this.bytes, UDP_SRC_PORT, v);
  }
  get dstPort(): number {
    return readU16(this.bytes, UDP_DST_PORT);
  }
  set dstPort(v: number) {
    writeU16(this.bytes, UDP_DST_PORT, v);
  }
  get length(): number {
    return readU16(this.bytes, UDP_LENGTH);
  }
  set length(v: number) {
    writeU16(this.bytes, UDP_LENGTH, v);
  }
  get checksum(): number {
    return readU16(this.bytes, UDP_CHECKSUM);
  }
  set checksum(v: number) {
    writeU16(this.bytes, UDP_CHECKSUM, v);
  }
  get payload(): Uint8Array {
    return this.bytes.subarray(UDP_HEADER_LEN, this.length);
  }
  /** True when the checksum is absent (0) or correct for this pseudo-header. */
  verifyChecksum(src: Ipv4Address, dst: Ipv4Address): boolean {
    if (this.checksum === 0) return true;
    const len = this.length;
    return checksumFinish(checksumAdd(this.bytes.subarray(0, len), pseudoHeaderSum(src, dst, IP_PROTOCOL_UDP, len))) === 0;
  }
}

/** Parses a UDP datagram carried from src to dst. A zero destination port is rejected. */
export function parseUdp(bytes: Uint8Array, src: Ipv4Address, dst: Ipv4Address, options?: { readonly verifyChecksum?: boolean }): Result<UdpRepr, UdpError> {
  const p = new UdpPacket(bytes);
  const c = p.checkLen();
  if (!c.ok) return c;
  if (options?.verifyChecksum !== false && !p.verifyChecksum(src, dst)) return err("bad-checksum");
  const dstPort = p.dstPort;
  if (dstPort === 0) return err("bad-port");
  return ok({ srcPort: p.srcPort, dstPort, payload: p.payload });
}

/** How emitUdp fills the checksum: computed, left 0 (none), or pseudo-header sum for offload. */
export type UdpChecksumMode = "full" | "none" | "partial";

/** Bytes the repr emits. */
export function udpReprLength(repr: UdpRepr): number {
  return UDP_HEADER_LEN + repr.payload.length;
}

/**
 * Writes header and payload at buf[offset..]; returns the datagram length. The payload is not
 * copied when it already sits at buf[offset + 8]. "partial" stores the folded pseudo-header sum
 * (not complemented) for a device that completes checksums (csum_blank).
 */
export function emitUdp(repr: UdpRepr, buf: Uint8Array, offset: number, src: Ipv4Address, dst: Ipv4Address, mode: UdpChecksumMode = "full"): number {
  const len = UDP_HEADER_LEN + repr.payload.length;
  writeU16(buf, offset + UDP_SRC_PORT, repr.srcPort);
  writeU16(buf, offset + UDP_DST_PORT, repr.dstPort);
  writeU16(buf, offset + UDP_LENGTH, len);
  writeU16(buf, offset + UDP_CHECKSUM, 0);
  const start = offset + UDP_HEADER_LEN;
  const body = repr.payload;
  if (!(body.buffer === buf.buffer && body.byteOffset === buf.byteOffset + start)) buf.set(body, start);
  if (mode === "full") {
    const c = checksumFinish(checksumAdd(buf.subarray(offset, offset + len), pseudoHeaderSum(src, dst, IP_PROTOCOL_UDP, len)));
    writeU16(buf, offset + UDP_CHECKSUM, c === 0 ? 0xffff : c);
  } else if (mode === "partial") {
    writeU16(buf, offset + UDP_CHECKSUM, pseudoHeaderSum(src, dst, IP_PROTOCOL_UDP, len));
  }
  return len;
}
