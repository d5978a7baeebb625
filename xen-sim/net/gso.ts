// Software segmentation of TCPv4 GSO frames (what Linux's skb_gso_segment does for a device
// without TSO) and the checksum completion that goes with it. A GSO frame is one Ethernet
// frame carrying an IPv4/TCP packet whose payload exceeds gsoSize; it is cut into gsoSize-byte
// payloads, each with its own IPv4 header (total length, id + i, header checksum) and TCP
// header (seq advanced; FIN/PSH only on the last segment, CWR only on the first, RFC 3168 §6.1.2
// as Linux applies it) and a complete TCP checksum (RFC 9293 §3.1).
//   segmentTcpv4(frame, gsoSize, emit)   emits each segment (fresh buffers); Result = count

import { err, ok, type Result } from "../../stack/result.ts";
import { checksumAdd, checksumFinish, pseudoHeaderSum } from "../../stack/wire/checksum.ts";

/** Why a frame could not be segmented. */
export type GsoError = "not-ipv4" | "not-tcp" | "truncated" | "fragment" | "bad-gso-size";

const ETHERTYPE_IPV4 = 0x0800;
const ETHERTYPE_VLAN = 0x8100;
const IP_TOTAL_LENGTH = 2,
  IP_IDENT = 4,
  IP_FRAG = 6,
  IP_PROTOCOL = 9,
  IP_CHECKSUM = 10,
  IP_SRC = 12,
  IP_DST = 16;
const TCP_SEQ = 4,
  TCP_DATA_OFFSET = 12,
  TCP_FLAGS = 13,
  TCP_CHECKSUM = 16;
const TCP_FIN = 0x01,
  TCP_PSH = 0x08,
  TCP_CWR = 0x80;

const u16 = (b: Uint8Array, at: number): number => (b[at]! << 8) | b[at + 1]!;
const put16 = (b: Uint8Array, at: number, v: number): void => {
  b[at] = (v >>> 8) & 0xff;
  b[at + 1] = v & 0xff;
};
const u32 = (b: Uint8Array, at: number): number => ((b[at]! << 24) | (b[at + 1]! << 16) | (b[at + 2]! << 8) | b[at + 3]!) >>> 0;
const put32 = (b: Uint8Array, at: number, v: number): void => {
  put16(b, at, v >>> 16);
  put16(b, at + 2, v & 0xffff);
};

/**
 * Cuts an Ethernet/IPv4/TCP frame into segments of at most `gsoSize` payload bytes with
 * complete IPv4 and TCP checksums (whatever the input's TCP checksum field held). Emits one
 * segment when the payload already fits. Returns the number of segments.
 */
export function segmentTcpv4(frame: Uint8Array, gsoSize: number, emit: (segment: Uint8Array) => void): Result<number, GsoError> {
  if (!Number.isInteger(gsoSize) || gsoSize <= 0) return err("bad-gso-size");
  if (frame.length < 14) return err("truncated");
  let l3 = 14;
  let type = u16(frame, 12);
  if (type === ETHERTYPE_VLAN) {
    if (frame.length < 18) return err("truncated");
    type = u16(frame, 16);
    l3 = 18;
  }
  if (type !== ETHERTYPE_IPV4) return err("not-ipv4");
  if (frame.length < l3 + 20 || frame[l3]! >> 4 !== 4) return err("not-ipv4");
  const ihl = (frame[l3]! & 0x0f) * 4;
  const total = u16(frame, l3 + IP_TOTAL_LENGTH);
  if (ihl < 20 || total < ihl || frame.length < l3 + total) return err("truncated");
  if ((u16(frame, l3 + IP_FRAG) & 0x3fff) !== 0) return err("fragment");
  if (frame[l3 + IP_PROTOCOL] !== 6) return err("not-tcp");
  const l4 = l3 + ihl;
  if (total < ihl + 20) return err("truncated");
  const thl = (frame[l4 + TCP_DATA_OFFSET]! >> 4) * 4;
  if (thl < 20 || ihl + thl > total) return err("truncated");
  const headers = l4 + thl;
  const payloadLen = total - ihl - thl;
  const src = u32(frame, l3 + IP_SRC);
  const dst = u32(frame, l3 + IP_DST);
  const ident = u16(frame, l3 + IP_IDENT);
  const seq = u32(frame, l4 + TCP_SEQ);
  const flags = frame[l4 + TCP_FLAGS]!;
  const count = Math.max(1, Math.ceil(payloadLen / gsoSize));
  for (let i = 0; i < count; i++) {
    const off = i * gsoSize;
    const len = Math.min(gsoSize, payloadLen - off);
    const seg = new Uint8Array(headers + len);
    seg.set(frame.subarray(0, headers));
    seg.set(frame.subarray(headers + off, headers + off + len), headers);
    put16(seg, l3 + IP_TOTAL_LENGTH, ihl + thl + len);
    put16(seg, l3 + IP_IDENT, (ident + i) & 0xffff);
    put16(seg, l3 + IP_CHECKSUM, 0);
    put16(seg, l3 + IP_CHECKSUM, checksumFinish(checksumAdd(seg.subarray(l3, l4))));
    put32(seg, l4 + TCP_SEQ, (seq + off) >>> 0);
    let f = flags;
    if (i < count - 1) f &= ~(TCP_FIN | TCP_PSH);
    if (i > 0) f &= ~TCP_CWR;
    seg[l4 + TCP_FLAGS] = f;
    put16(seg, l4 + TCP_CHECKSUM, 0);
    const sum = checksumAdd(seg.subarray(l4), pseudoHeaderSum(src, dst, 6, thl + len));
    put16(seg, l4 + TCP_CHECKSUM, checksumFinish(sum));
    emit(seg);
  }
  return ok(count);
}
