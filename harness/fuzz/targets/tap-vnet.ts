// Fuzz target: the tap device's virtio_net_hdr handling (harness/tap/vnet-header.ts) and the
// checksum completion a csumBlank frame later gets (stack/link/checksum-offload.ts). The input
// is a 10-byte header followed by a frame.
// Receive (kernel -> netlab): parseVnetReceive reads the header through a guarded view of
//   exactly 10 bytes; it is accepted or refused exactly as an independent statement of the rules
//   says (NEEDS_CSUM needs csum_start + csum_offset + 2 inside the frame; GSO only TCPv4, with a
//   gso_size and NEEDS_CSUM; the ECN bit ignored), with the flags mapped as virtio_net.h says. A
//   frame accepted with NEEDS_CSUM is completed (through a guarded view): if completion succeeds
//   the TCP/UDP checksum verifies with an RFC 1071 sum over pseudo-header and segment computed
//   here, and only the two checksum bytes changed; it refuses exactly the frames that are no
//   unfragmented IPv4 TCP/UDP, nor IPv6 with TCP/UDP right after the fixed header, with
//   consistent lengths.
// Transmit (netlab -> kernel): the header's flag byte chooses an offload request (csumBlank,
//   dataValidated, gsoSize from the header's gso_size); writeVnetHeader over a guarded frame is
//   accepted exactly when the request is expressible (IPv4 with IHL >= 5, TCP or UDP, the
//   checksum field inside the frame, GSO only TCP with its header inside the frame); an accepted
//   header points csum_start/csum_offset at that field, asks GSO_TCPV4 only with NEEDS_CSUM and
//   the requested size, and a virtio-style completion (sum from csum_start, stored at
//   csum_start + csum_offset) of the frame then verifies with the independent sum.
import { completeChecksum } from "../../../stack/link/checksum-offload.ts";
import type { FrameOffload } from "../../../stack/link/types.ts";
import { parseVnetReceive, VNET_HDR_LEN, writeVnetHeader } from "../../tap/vnet-header.ts";
import { fail, guarded, sameValue, show } from "../oracles.ts";

const rd16le = (b: Uint8Array, o: number): number => b[o]! | (b[o + 1]! << 8);
const rd16 = (b: Uint8Array, o: number): number => (b[o]! << 8) | b[o + 1]!;

/** RFC 1071: one's-complement sum of 16-bit big-endian words (odd byte padded), folded. */
function sum16(b: Uint8Array, start: number, end: number, initial = 0): number {
  let s = initial;
  for (let i = start; i < end; i += 2) s += (b[i]! << 8) | (i + 1 < end ? b[i + 1]! : 0);
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  return s;
}

interface Ip {
  l3: number;
  /** Bytes from l3 to the transport header (IPv4: IHL × 4; IPv6: the fixed 40). */
  ihl: number;
  /** Bytes from l3 to the end of the datagram. */
  total: number;
  proto: number;
  fragment: boolean;
  /** Where the source and destination addresses lie (the pseudo-header's addresses). */
  addrStart: number;
  addrEnd: number;
}

/** The ethertype and where the network header starts, after Ethernet and at most one 802.1Q tag when allowed. */
function network(f: Uint8Array, allowVlan: boolean): { type: number; l3: number } | undefined {
  if (f.length < 14) return undefined;
  const type = rd16(f, 12);
  if (!allowVlan || type !== 0x8100) return { type, l3: 14 };
  return f.length < 18 ? undefined : { type: rd16(f, 16), l3: 18 };
}

/** IPv4 after Ethernet (and, as completion accepts, one 802.1Q tag), read independently. */
function ipv4(f: Uint8Array, allowVlan: boolean): Ip | undefined {
  const n = network(f, allowVlan);
  if (n === undefined) return undefined;
  const { type, l3 } = n;
  if (type !== 0x0800 || f.length < l3 + 20 || f[l3]! >> 4 !== 4) return undefined;
  return {
    l3,
    ihl: (f[l3]! & 15) * 4,
    total: rd16(f, l3 + 2),
    proto: f[l3 + 9]!,
    fragment: (rd16(f, l3 + 6) & 0x3fff) !== 0,
    addrStart: l3 + 12,
    addrEnd: l3 + 20,
  };
}

/** IPv6 after Ethernet (and one 802.1Q tag), read independently; its transport is what the fixed header's Next Header names. */
function ipv6(f: Uint8Array): Ip | undefined {
  const n = network(f, true);
  if (n === undefined) return undefined;
  const { type, l3 } = n;
  if (type !== 0x86dd || f.length < l3 + 40 || f[l3]! >> 4 !== 6) return undefined;
  const proto = f[l3 + 6]!;
  return { l3, ihl: 40, total: 40 + rd16(f, l3 + 4), proto, fragment: proto === 44, addrStart: l3 + 8, addrEnd: l3 + 40 };
}

/** Whether the L4 checksum of an IPv4 TCP/UDP frame verifies (RFC 1071 over pseudo-header + segment). */
function verifies(f: Uint8Array, ip: Ip): boolean {
  const { l3, ihl, total, proto } = ip;
  const ph = sum16(f, ip.addrStart, ip.addrEnd) + proto + (total - ihl);
  return sum16(f, l3 + ihl, l3 + total, ph) === 0xffff;
}

function receive(input: Uint8Array, hdr: Uint8Array, frame: Uint8Array): void {
  const flags = hdr[0]!,
    gsoType = hdr[1]! & 0x7f,
    gsoSize = rd16le(hdr, 4),
    start = rd16le(hdr, 6),
    offset = rd16le(hdr, 8);
  const needsCsum = (flags & 1) !== 0;
  let want: string | FrameOffload | undefined;
  if (needsCsum && start + offset + 2 > frame.length) want = "csum-outside-frame";
  else if (gsoType !== 0 && gsoType !== 1) want = "gso-unsupported";
  else if (gsoType !== 0 && gsoSize === 0) want = "gso-without-size";
  else if (gsoType !== 0 && !needsCsum) want = "gso-without-csum";
  else if (!needsCsum && (flags & 2) === 0 && gsoType === 0) want = undefined;
  else want = { ...(needsCsum ? { csumBlank: true } : {}), ...((flags & 2) !== 0 ? { dataValidated: true } : {}), ...(gsoType !== 0 ? { gsoSize } : {}) };
  const got = parseVnetReceive(guarded(hdr.slice(), "virtio_net_hdr"), frame.length);
  const gotValue = got.ok ? got.value : got.error;
  if (!sameValue(gotValue, want)) fail("vnet-rx", `header read as ${show(gotValue)}, the rules say ${show(want)}`, input);
  if (!got.ok || got.value?.csumBlank !== true) return;

  const copy = frame.slice();
  const done = completeChecksum(guarded(copy, "frame"));
  const ip = ipv4(frame, true) ?? ipv6(frame);
  const l4Field = ip === undefined ? -1 : ip.proto === 6 ? 16 : ip.proto === 17 ? 6 : -1;
  const completable =
    ip !== undefined &&
    ip.ihl >= 20 &&
    ip.total >= ip.ihl &&
    frame.length >= ip.l3 + ip.total &&
    !ip.fragment &&
    l4Field >= 0 &&
    ip.total - ip.ihl >= l4Field + 2;
  if (done.ok !== completable)
    fail(
      "completion",
      `completion ${done.ok ? "succeeded" : `refused (${done.error})`} but the frame is ${completable ? "" : "not "}unfragmented IPv4 TCP/UDP or IPv6 with TCP/UDP after the fixed header`,
      input,
    );
  if (!done.ok || ip === undefined) return;
  const at = ip.l3 + ip.ihl + l4Field;
  for (let i = 0; i < frame.length; i++)
    if (i !== at && i !== at + 1 && copy[i] !== frame[i]) fail("completion", `byte ${i} changed (the checksum field is at ${at})`, input);
  // NIC semantics: the complement of the sum over the segment, checksum field (whatever it holds) included.
  let expect = ~sum16(frame, ip.l3 + ip.ihl, ip.l3 + ip.total) & 0xffff;
  if (expect === 0 && ip.proto === 17) expect = 0xffff;
  if (rd16(copy, at) !== expect) fail("completion", `completed checksum ${rd16(copy, at).toString(16)}, the RFC 1071 sum says ${expect.toString(16)}`, input);
  // With the pseudo-header sum in the field (the sender's side of the contract) the result verifies.
  const prepared = frame.slice();
  const ph = sum16(prepared, ip.addrStart, ip.addrEnd) + ip.proto + (ip.total - ip.ihl);
  const folded = (ph & 0xffff) + (ph >>> 16);
  prepared[at] = (folded & 0xffff) >> 8;
  prepared[at + 1] = folded & 0xff;
  if (!completeChecksum(prepared).ok || !verifies(prepared, ip))
    fail("completion", `the completed checksum ${rd16(prepared, at).toString(16)} does not verify`, input);
}

function transmit(input: Uint8Array, hdrIn: Uint8Array, frame: Uint8Array): void {
  const sel = hdrIn[0]!;
  const requested = rd16le(hdrIn, 4);
  const offload: FrameOffload | undefined =
    sel & 8
      ? undefined
      : {
          ...(sel & 1 ? { csumBlank: true } : {}),
          ...(sel & 2 ? { dataValidated: true } : {}),
          ...(sel & 4 ? { gsoSize: requested } : {}),
        };
  const gso = offload?.gsoSize !== undefined && offload.gsoSize > 0;
  const csum = offload?.csumBlank === true || gso;
  const ip = ipv4(frame, false);
  const field = ip === undefined ? -1 : ip.proto === 6 ? 16 : ip.proto === 17 ? 6 : -1;
  const l4 = ip === undefined ? 0 : 14 + ip.ihl;
  const doff = field === 16 && frame.length > l4 + 12 ? (frame[l4 + 12]! >> 4) * 4 : 0;
  const expressible =
    !csum || (ip !== undefined && ip.ihl >= 20 && field >= 0 && frame.length >= l4 + field + 2 && (!gso || (field === 16 && frame.length >= l4 + doff)));
  // The stack's contract for csumBlank: the field holds the pseudo-header sum (set it so a completion can verify).
  const sane = expressible && csum && ip !== undefined && ip.total - ip.ihl >= field + 2 && 14 + ip.total <= frame.length;
  const f = frame.slice();
  if (sane && offload?.csumBlank === true) {
    const ph = sum16(f, 26, 34) + ip.proto + (ip.total - ip.ihl);
    const v = ph % 0xffff === 0 && ph !== 0 ? 0xffff : ((ph & 0xffff) + (ph >>> 16)) & 0xffff;
    f[l4 + field] = v >> 8;
    f[l4 + field + 1] = v & 0xff;
  }
  const hdr = new Uint8Array(VNET_HDR_LEN).fill(0xee);
  const r = writeVnetHeader(hdr, guarded(f, "frame"), offload);
  if (r.ok !== expressible)
    fail(
      "vnet-tx",
      `writeVnetHeader ${r.ok ? "accepted" : `refused (${r.error})`} a request that is ${expressible ? "" : "not "}expressible: ${show(offload)}`,
      input,
    );
  if (!r.ok) return;
  const flags = hdr[0]!,
    gsoType = hdr[1]!,
    start = rd16le(hdr, 6),
    offset = rd16le(hdr, 8);
  if (!csum) {
    if (!sameValue(hdr, Uint8Array.from([offload?.dataValidated === true ? 2 : 0, 0, 0, 0, 0, 0, 0, 0, 0, 0])))
      fail("vnet-tx", `header ${show(hdr)} for ${show(offload)}`, input);
    return;
  }
  if (flags !== 1 || start !== l4 || offset !== field || start + offset + 2 > f.length)
    fail("vnet-tx", `header ${show(hdr)}: expected NEEDS_CSUM at ${l4}+${field}`, input);
  if (gso !== (gsoType !== 0)) fail("vnet-tx", `gso_type ${gsoType} for ${show(offload)}`, input);
  if (gso && (gsoType !== 1 || rd16le(hdr, 4) !== offload!.gsoSize || rd16le(hdr, 2) !== l4 + doff || rd16le(hdr, 2) > f.length))
    fail("vnet-tx", `GSO header ${show(hdr)} for ${show(offload)} (hdr_len should be ${l4 + doff})`, input);
  if (sane && ip !== undefined) {
    // virtio: checksum from csum_start to the end of the packet (here: of the IP datagram), stored at csum_start + csum_offset.
    const c = f.slice();
    const v = ~sum16(c, start, 14 + ip.total) & 0xffff;
    c[start + offset] = v >> 8;
    c[start + offset + 1] = v & 0xff;
    if (!verifies(c, ip)) fail("vnet-tx", `completing from csum_start ${start} at +${offset} gives a checksum that does not verify`, input);
  }
}

export function fuzz(data: Buffer): void {
  const input = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  if (input.length < VNET_HDR_LEN) return;
  const hdr = input.subarray(0, VNET_HDR_LEN),
    frame = input.subarray(VNET_HDR_LEN);
  receive(input, hdr, frame);
  transmit(input, hdr, frame);
}

/** A TCP or UDP frame 192.0.2.2 -> 192.0.2.1 with `payload` bytes. */
function frame(proto: 6 | 17, payload: number, vlan = false): Uint8Array {
  const l4 = proto === 6 ? 20 : 8,
    ipLen = 20 + l4 + payload,
    e = vlan ? 18 : 14;
  const f = new Uint8Array(e + ipLen);
  f.set([2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2]);
  if (vlan) f.set([0x81, 0, 0, 5], 12);
  f.set([8, 0, 0x45, 0, ipLen >> 8, ipLen & 0xff, 0, 1, 0x40, 0, 64, proto], e - 2);
  f.set([192, 0, 2, 2, 192, 0, 2, 1, 0xc0, 1, 0, 80], e + 12);
  if (proto === 6) f[e + 32] = 0x50;
  else {
    f[e + 24] = (8 + payload) >> 8;
    f[e + 25] = (8 + payload) & 0xff;
  }
  for (let i = e + 20 + l4; i < f.length; i++) f[i] = i * 7;
  return f;
}
const hdr = (h: string): Uint8Array => Uint8Array.from(Buffer.from(h, "hex"));
const cat = (a: Uint8Array, b: Uint8Array): Uint8Array => Uint8Array.from([...a, ...b]);

/** Seeds: the headers the kernel sends (NEEDS_CSUM TCP/UDP, TSO4, DATA_VALID), VLAN, fragments, bad offsets. */
export function seeds(): Uint8Array[] {
  const fragment = frame(17, 30);
  fragment[20] = 0x20;
  return [
    cat(hdr("01000000000022001000"), frame(6, 40)),
    cat(hdr("01000000000022000600"), frame(17, 33)),
    cat(hdr("05013600a80522001000"), frame(6, 3000)),
    cat(hdr("02000000000000000000"), frame(6, 0)),
    cat(hdr("01000000000026001000"), frame(6, 10, true)),
    cat(hdr("01000000000022000600"), fragment),
    cat(hdr("01000000000022002000"), frame(6, 2)),
    cat(hdr("07833600e80322001000"), frame(6, 1000)),
    cat(hdr("09000000000000000000"), frame(17, 0)),
  ];
}
