// virtio_net_hdr (the 10-byte header a tap opened with IFF_VNET_HDR puts before every frame)
// <-> netlab's FrameOffload. Layout (include/uapi/linux/virtio_net.h, little-endian on x86):
// flags u8, gso_type u8, hdr_len u16, gso_size u16, csum_start u16, csum_offset u16.
// readVnetHeader: header bytes -> FrameOffload (or undefined when there is nothing to say).
// writeVnetHeader: a frame's FrameOffload -> header bytes; needs the frame to find csum_start.
import type { FrameOffload } from "../../stack/link/types.ts";
import { err, ok, type Result } from "../../stack/result.ts";
import { fold, pseudoHeaderSum } from "../../stack/wire/checksum.ts";

/** Size of struct virtio_net_hdr (without num_buffers). */
export const VNET_HDR_LEN = 10;

const FLAGS = 0,
  GSO_TYPE = 1,
  HDR_LEN = 2,
  GSO_SIZE = 4,
  CSUM_START = 6,
  CSUM_OFFSET = 8;
/** VIRTIO_NET_HDR_F_NEEDS_CSUM: checksum from csum_start is partial (pseudo-header only). */
export const VNET_F_NEEDS_CSUM = 1;
/** VIRTIO_NET_HDR_F_DATA_VALID: checksums were verified. */
export const VNET_F_DATA_VALID = 2;
/** VIRTIO_NET_HDR_GSO_TCPV4. */
export const VNET_GSO_TCPV4 = 1;

const ETH_HEADER = 14,
  ETHERTYPE_IPV4 = 0x0800,
  PROTO_TCP = 6,
  PROTO_UDP = 17;

/** Reads the offload metadata of a received frame's header. */
export function readVnetHeader(hdr: Uint8Array): FrameOffload | undefined {
  const flags = hdr[FLAGS]!;
  const gsoType = hdr[GSO_TYPE]! & 0x7f;
  const csumBlank = (flags & VNET_F_NEEDS_CSUM) !== 0;
  const dataValidated = (flags & VNET_F_DATA_VALID) !== 0;
  const gsoSize = gsoType !== 0 ? hdr[GSO_SIZE]! | (hdr[GSO_SIZE + 1]! << 8) : 0;
  if (!csumBlank && !dataValidated && gsoSize === 0) return undefined;
  return {
    ...(csumBlank ? { csumBlank } : {}),
    ...(dataValidated ? { dataValidated } : {}),
    ...(gsoSize !== 0 ? { gsoSize } : {}),
  };
}

/** Why a received frame's header is refused. */
export type VnetReceiveError = "truncated-header" | "csum-outside-frame" | "gso-unsupported" | "gso-without-size" | "gso-without-csum";

/**
 * Checks a received header against the frame it precedes, then reads it (readVnetHeader). The
 * tap asks the kernel for TSO4 only, so any other gso_type is refused; GSO needs NEEDS_CSUM and
 * a gso_size (virtio 1.2 §5.1.6.4); NEEDS_CSUM needs csum_start + csum_offset + 2 inside the
 * frame (Linux virtio_net_hdr_to_skb refuses the same).
 */
export function parseVnetReceive(hdr: Uint8Array, frameLength: number): Result<FrameOffload | undefined, VnetReceiveError> {
  if (hdr.length < VNET_HDR_LEN) return err("truncated-header");
  const flags = hdr[FLAGS]!;
  const gsoType = hdr[GSO_TYPE]! & 0x7f;
  if ((flags & VNET_F_NEEDS_CSUM) !== 0) {
    const start = hdr[CSUM_START]! | (hdr[CSUM_START + 1]! << 8);
    const offset = hdr[CSUM_OFFSET]! | (hdr[CSUM_OFFSET + 1]! << 8);
    if (start + offset + 2 > frameLength) return err("csum-outside-frame");
  }
  if (gsoType !== 0) {
    if (gsoType !== VNET_GSO_TCPV4) return err("gso-unsupported");
    if ((hdr[GSO_SIZE]! | (hdr[GSO_SIZE + 1]! << 8)) === 0) return err("gso-without-size");
    if ((flags & VNET_F_NEEDS_CSUM) === 0) return err("gso-without-csum");
  }
  return ok(readVnetHeader(hdr));
}

/** Why a frame's offload request cannot be expressed in a virtio_net_hdr. */
export type VnetHeaderError = "not-ipv4" | "truncated" | "not-tcp-or-udp" | "gso-not-tcp";

function put16(b: Uint8Array, off: number, v: number): void {
  b[off] = v & 0xff;
  b[off + 1] = v >>> 8;
}

/**
 * Writes the header for `frame` into `hdr` (VNET_HDR_LEN bytes). csumBlank becomes NEEDS_CSUM
 * with csum_start/csum_offset of the TCP/UDP checksum; gsoSize becomes GSO_TCPV4 (the kernel
 * requires a partial checksum with GSO, so a full checksum in the frame is turned back into
 * the pseudo-header sum in place).
 */
export function writeVnetHeader(hdr: Uint8Array, frame: Uint8Array, offload: FrameOffload | undefined): Result<void, VnetHeaderError> {
  hdr.fill(0, 0, VNET_HDR_LEN);
  if (offload === undefined) return ok(undefined);
  if (offload.dataValidated) hdr[FLAGS] = VNET_F_DATA_VALID;
  const gso = offload.gsoSize !== undefined && offload.gsoSize > 0;
  if (!offload.csumBlank && !gso) return ok(undefined);
  if (frame.length < ETH_HEADER + 20) return err("truncated");
  if (((frame[12]! << 8) | frame[13]!) !== ETHERTYPE_IPV4) return err("not-ipv4");
  const ihl = (frame[ETH_HEADER]! & 0x0f) * 4;
  // RFC 791: version 4 and IHL >= 5, or csum_start would point into the IP header.
  if (frame[ETH_HEADER]! >> 4 !== 4 || ihl < 20) return err("not-ipv4");
  const l4 = ETH_HEADER + ihl;
  const proto = frame[ETH_HEADER + 9]!;
  let csumField: number;
  if (proto === PROTO_TCP) csumField = 16;
  else if (proto === PROTO_UDP) csumField = 6;
  else return err("not-tcp-or-udp");
  if (frame.length < l4 + csumField + 2) return err("truncated");
  if (gso) {
    if (proto !== PROTO_TCP) return err("gso-not-tcp");
    const doff = (frame[l4 + 12]! >>> 4) * 4;
    if (frame.length < l4 + doff) return err("truncated");
    if (!offload.csumBlank) {
      const src = ((frame[ETH_HEADER + 12]! << 24) | (frame[ETH_HEADER + 13]! << 16) | (frame[ETH_HEADER + 14]! << 8) | frame[ETH_HEADER + 15]!) >>> 0;
      const dst = ((frame[ETH_HEADER + 16]! << 24) | (frame[ETH_HEADER + 17]! << 16) | (frame[ETH_HEADER + 18]! << 8) | frame[ETH_HEADER + 19]!) >>> 0;
      const ipTotal = (frame[ETH_HEADER + 2]! << 8) | frame[ETH_HEADER + 3]!;
      const sum = fold(pseudoHeaderSum(src, dst, PROTO_TCP, ipTotal - ihl));
      frame[l4 + csumField] = sum >>> 8;
      frame[l4 + csumField + 1] = sum & 0xff;
    }
    hdr[GSO_TYPE] = VNET_GSO_TCPV4;
    put16(hdr, HDR_LEN, l4 + doff);
    put16(hdr, GSO_SIZE, offload.gsoSize!);
  }
  hdr[FLAGS] = VNET_F_NEEDS_CSUM;
  put16(hdr, CSUM_START, l4);
  put16(hdr, CSUM_OFFSET, csumField);
  return ok(undefined);
}
