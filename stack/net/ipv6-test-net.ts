// Test-only helpers for the IPv6 layer tests: a netlab stack facing a raw device end (the test
// plays the peer byte by byte), frame builders, and a reader of what the stack sent.
import { createDevicePair, type DevicePair } from "../link/pair.ts";
import type { FrameOffload } from "../link/types.ts";
import { createRng, createVirtualClock, type VirtualClock } from "../time.ts";
import { createStack, type Stack, type StackOptions } from "../index.ts";
import { type MacAddress, writeMac } from "../wire/address.ts";
import { readU16, writeU16 } from "../wire/bytes.ts";
import { type Ipv6Address, ipv6 } from "../wire/ipv6-address.ts";
import { IPV6_HEADER_LEN, type Ipv6Repr, emitIpv6, ipv6PseudoHeaderSum, parseIpv6 } from "../wire/ipv6.ts";
import { fold } from "../wire/checksum.ts";
import { walkIpv6Chain } from "../wire/ipv6-ext.ts";
import { type NdpRepr, emitNdp, ndpReprLength, parseNdp } from "../wire/ndp.ts";
import { type Icmpv6Repr, emitIcmpv6, icmpv6ReprLength, parseIcmpv6 } from "../wire/icmpv6.ts";
import { type MldRepr, parseMld } from "../wire/mld.ts";

export const A_MAC = 0x020000000001;
export const PEER_MAC = 0x020000000002;
/** fe80::ff:fe00:1, the link-local address of A_MAC (02 xor 02 = 00). */
export const A_LL = ipv6("fe80::ff:fe00:1");
export const PEER_LL = ipv6("fe80::ff:fe00:2");

export interface RawPeer {
  readonly clock: VirtualClock;
  readonly pair: DevicePair;
  readonly stack: Stack;
  /** Frames the stack sent, as IPv6 packets (Ethernet header removed). */
  sent(): { readonly dstMac: MacAddress; readonly packet: Uint8Array; readonly ip: Ipv6Repr; readonly at: number }[];
  /** Injects an IPv6 packet from the peer's MAC, with the device's offload metadata if given. */
  inject(packet: Uint8Array, dstMac?: MacAddress, offload?: FrameOffload): void;
}

/** A stack on pair.a with IPv6 on (DAD off unless asked), and nothing on pair.b but the test. */
export function createRawPeer(options: StackOptions = {}, startup: { readonly keep?: boolean; readonly run?: boolean } = {}): RawPeer {
  const clock = createVirtualClock();
  const pair = createDevicePair(clock, { macA: A_MAC, macB: PEER_MAC });
  const stack = createStack({ device: pair.a, clock, rng: createRng(7) }, { name: "a", ipv6: { dadTransmits: 0, routerSolicitations: false }, ...options });
  pair.b.onReceive(() => {});
  // The start-up MLD report (and DAD, when on) are the NDP tests' business: start from a quiet wire
  // unless asked to keep them; run: false leaves the start-up timers pending.
  if (startup.run !== false) clock.run(options.ipv6?.dadTransmits === undefined || options.ipv6.dadTransmits === 0 ? 0 : undefined);
  if (startup.keep !== true) pair.log.length = 0;
  return {
    clock,
    pair,
    stack,
    sent: () =>
      pair.log
        .filter((l) => l.from === "a" && readU16(l.frame.data, 12) === 0x86dd)
        .map((l) => {
          const packet = l.frame.data.subarray(14);
          const ip = parseIpv6(packet);
          if (!ip.ok) throw new Error(`the stack sent a bad IPv6 packet: ${ip.error}`);
          let dstMac = 0;
          for (let i = 0; i < 6; i++) dstMac = dstMac * 256 + l.frame.data[i]!;
          return { dstMac, packet, ip: ip.value, at: l.at };
        }),
    inject(packet, dstMac = A_MAC, offload) {
      const f = new Uint8Array(14 + packet.length);
      writeMac(f, 0, dstMac);
      writeMac(f, 6, PEER_MAC);
      writeU16(f, 12, 0x86dd);
      f.set(packet, 14);
      pair.b.send(offload === undefined ? { data: f } : { data: f, offload });
    },
  };
}

/** An IPv6 packet: header + the given bytes after it. */
export function ipv6Packet(src: Ipv6Address, dst: Ipv6Address, nextHeader: number, hopLimit: number, payload: Uint8Array): Uint8Array {
  const p = new Uint8Array(IPV6_HEADER_LEN + payload.length);
  emitIpv6({ src, dst, nextHeader, hopLimit, trafficClass: 0, flowLabel: 0, payloadLength: payload.length }, p);
  p.set(payload, IPV6_HEADER_LEN);
  return p;
}

/**
 * An IPv6 packet holding a UDP datagram from port 40000 whose checksum field holds only the folded
 * pseudo-header sum: what the kernel hands a tap with TUN_F_CSUM on (virtio NEEDS_CSUM, Linux
 * CHECKSUM_PARTIAL), to be finished by whoever delivers it (or taken as validated).
 */
export function partialChecksumUdp6(src: Ipv6Address, dst: Ipv6Address, dstPort: number, payload: Uint8Array): Uint8Array {
  const datagram = new Uint8Array(8 + payload.length);
  writeU16(datagram, 0, 40000);
  writeU16(datagram, 2, dstPort);
  writeU16(datagram, 4, datagram.length);
  datagram.set(payload, 8);
  writeU16(datagram, 6, fold(ipv6PseudoHeaderSum(src, dst, 17, datagram.length)));
  return ipv6Packet(src, dst, 17, 64, datagram);
}

/** An ND message in an IPv6 packet (hop limit 255 unless given). */
export function ndPacket(src: Ipv6Address, dst: Ipv6Address, repr: NdpRepr, hopLimit = 255): Uint8Array {
  const m = new Uint8Array(ndpReprLength(repr));
  emitNdp(repr, m, 0, src, dst);
  return ipv6Packet(src, dst, 58, hopLimit, m);
}

/** An ICMPv6 message in an IPv6 packet. */
export function icmpPacket(src: Ipv6Address, dst: Ipv6Address, repr: Icmpv6Repr, hopLimit = 64): Uint8Array {
  const m = new Uint8Array(icmpv6ReprLength(repr));
  emitIcmpv6(repr, m, 0, src, dst);
  return ipv6Packet(src, dst, 58, hopLimit, m);
}

/** The upper-layer bytes of a packet the stack sent (extension headers walked). */
export function upper(packet: Uint8Array): { readonly nextHeader: number; readonly bytes: Uint8Array } {
  const w = walkIpv6Chain(packet, { knownOption: () => true });
  if (!w.ok) throw new Error(`bad chain: ${w.error}`);
  return { nextHeader: w.value.upperLayer, bytes: packet.subarray(w.value.offset) };
}

/** Decodes an ND message the stack sent (throws when it is not one). */
export function asNd(p: { packet: Uint8Array; ip: Ipv6Repr }): NdpRepr {
  const r = parseNdp(upper(p.packet).bytes, p.ip.src, p.ip.dst);
  if (!r.ok) throw new Error(`not ND: ${r.error}`);
  return r.value;
}

export function asIcmp(p: { packet: Uint8Array; ip: Ipv6Repr }): Icmpv6Repr {
  const r = parseIcmpv6(upper(p.packet).bytes, p.ip.src, p.ip.dst);
  if (!r.ok) throw new Error(`not ICMPv6: ${r.error}`);
  return r.value;
}

export function asMld(p: { packet: Uint8Array; ip: Ipv6Repr }): MldRepr {
  const r = parseMld(upper(p.packet).bytes, p.ip.src, p.ip.dst);
  if (!r.ok) throw new Error(`not MLD: ${r.error}`);
  return r.value;
}

export function icmpType(p: { packet: Uint8Array }): number | undefined {
  const u = upper(p.packet);
  return u.nextHeader === 58 ? u.bytes[0] : undefined;
}

/** The echo and error messages (not ND, not MLD) among what the stack sent. */
export function icmpMessages(t: RawPeer): Icmpv6Repr[] {
  return t
    .sent()
    .filter((s) => {
      const type = icmpType(s);
      return type !== undefined && (type < 128 || type === 128 || type === 129);
    })
    .map(asIcmp);
}
