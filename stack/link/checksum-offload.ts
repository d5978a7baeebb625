// Checksum completion as a NIC does it for frames sent with csumBlank (Linux CHECKSUM_PARTIAL,
// Xen NETTXF_csum_blank, virtio NEEDS_CSUM): the TCP/UDP checksum field holds the folded
// pseudo-header sum, so summing the whole transport segment (that field included) and
// complementing gives the checksum. Unfragmented IPv4 TCP/UDP, and IPv6 whose fixed header is
// followed by TCP/UDP directly (without csum_start, the first byte of the transport header after
// extension headers is not known here), in Ethernet with at most one 802.1Q tag, qualify.
import { type Result, ok, err } from "../result.ts";
import { checksumAdd, checksumFinish } from "../wire/checksum.ts";

export type ChecksumCompletionError = "not-ip" | "truncated" | "fragment" | "unsupported-protocol";

const ETHERTYPE_IPV4 = 0x0800,
  ETHERTYPE_IPV6 = 0x86dd,
  ETHERTYPE_VLAN = 0x8100;
const TCP_CHECKSUM = 16,
  UDP_CHECKSUM = 6;
const IPV6_HEADER_LEN = 40,
  IPV6_NEXT_HEADER_FRAGMENT = 44;

/** Completes the L4 checksum of a csumBlank frame in place. */
export function completeChecksum(frame: Uint8Array): Result<void, ChecksumCompletionError> {
  if (frame.length < 14) return err("truncated");
  let l3 = 14;
  let type = (frame[12]! << 8) | frame[13]!;
  if (type === ETHERTYPE_VLAN) {
    if (frame.length < 18) return err("truncated");
    type = (frame[16]! << 8) | frame[17]!;
    l3 = 18;
  }
  let protocol: number;
  let l4: Uint8Array;
  if (type === ETHERTYPE_IPV4) {
    if (frame.length < l3 + 20 || frame[l3]! >> 4 !== 4) return err("not-ip");
    const ihl = (frame[l3]! & 0x0f) * 4;
    const total = (frame[l3 + 2]! << 8) | frame[l3 + 3]!;
    if (ihl < 20 || total < ihl || frame.length < l3 + total) return err("truncated");
    // RFC 791: MF set or a non-zero offset means this is a fragment; its checksum spans other frames.
    if ((((frame[l3 + 6]! << 8) | frame[l3 + 7]!) & 0x3fff) !== 0) return err("fragment");
    protocol = frame[l3 + 9]!;
    l4 = frame.subarray(l3 + ihl, l3 + total);
  } else if (type === ETHERTYPE_IPV6) {
    if (frame.length < l3 + IPV6_HEADER_LEN || frame[l3]! >> 4 !== 6) return err("not-ip");
    const end = l3 + IPV6_HEADER_LEN + ((frame[l3 + 4]! << 8) | frame[l3 + 5]!);
    if (frame.length < end) return err("truncated");
    protocol = frame[l3 + 6]!;
    // RFC 8200 §4.5: a fragment's upper-layer checksum spans the whole datagram.
    if (protocol === IPV6_NEXT_HEADER_FRAGMENT) return err("fragment");
    l4 = frame.subarray(l3 + IPV6_HEADER_LEN, end);
  } else return err("not-ip");
  const field = protocol === 6 ? TCP_CHECKSUM : protocol === 17 ? UDP_CHECKSUM : -1;
  if (field < 0) return err("unsupported-protocol");
  if (l4.length < field + 2) return err("truncated");
  let sum = checksumFinish(checksumAdd(l4));
  // RFC 768, RFC 8200 §8.1: a computed UDP checksum of zero is sent as all ones.
  if (sum === 0 && protocol === 17) sum = 0xffff;
  l4[field] = sum >>> 8;
  l4[field + 1] = sum & 0xff;
  return ok(undefined);
}
