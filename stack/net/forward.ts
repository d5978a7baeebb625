// The IPv4 forwarding plane of a stack with several interfaces (RFC 1812): validates a datagram
// that is not for us, looks its destination up in the routing table, decrements the TTL (RFC 1624
// incremental checksum update), fragments it for the outgoing link or, with DF set, answers
// fragmentation-needed with the next-hop MTU (RFC 1191 §4), and hands it to the outgoing
// interface's ARP. It also routes datagrams the stack itself originates to off-link destinations.
// ICMP errors it sends are rate-limited (token bucket, RFC 1812 §4.3.2.8), come from the address
// of the interface they leave by (§4.3.2.4) and quote at most 576 bytes in all (§4.3.2.3).
// Every drop is counted by its reason.
// createForwarder(deps, options) -> Forwarder.
import { type Result, ok, err } from "../result.ts";
import type { Clock, Rng } from "../time.ts";
import { IPV4_BROADCAST, type Ipv4Address, prefixToMask, readIpv4 } from "../wire/address.ts";
import { readU16, writeU16 } from "../wire/bytes.ts";
import { checksumFinish, checksumRange, checksumUpdate16 } from "../wire/checksum.ts";
import {
  ICMP_HEADER_LEN,
  ICMP_TIME_EXCEEDED_TTL,
  ICMP_TYPE_DST_UNREACHABLE,
  ICMP_TYPE_PARAMETER_PROBLEM,
  ICMP_TYPE_REDIRECT,
  ICMP_TYPE_TIME_EXCEEDED,
  ICMP_UNREACH_FRAG_NEEDED,
  ICMP_UNREACH_HOST,
  ICMP_UNREACH_NET,
  emitIcmp,
} from "../wire/icmp.ts";
import {
  IPV4_CHECKSUM,
  IPV4_FLAG_DF,
  IPV4_FLAG_MF,
  IPV4_FLAGS_FRAG,
  IPV4_FRAG_MASK,
  IPV4_HEADER_LEN,
  IPV4_LENGTH,
  IPV4_TTL,
  IP_PROTOCOL_ICMP,
} from "../wire/ipv4.ts";
import { createCounters } from "./counters.ts";
import type { RoutingTable } from "./route.ts";
import type { ArpLayer, EthernetLayer, Ipv4SendError, Ipv4Stack, LayerCounters } from "./types.ts";
import { createTokenBucket } from "./rate-limit.ts";

/** One interface as the forwarding plane sees it. */
export interface ForwardingInterface {
  readonly name: string;
  readonly ipv4: Ipv4Stack;
  readonly arp: ArpLayer;
  readonly ethernet: EthernetLayer;
  /** Hands a datagram addressed to this interface to its IPv4 input. */
  readonly deliver: (packet: Uint8Array) => void;
}

export interface ForwarderOptions {
  /** Forward datagrams between interfaces (default true; false: a multihomed host, RFC 1122 §3.3.4.2). */
  readonly forwarding?: boolean;
  /** ICMP errors per second (token refill rate, default 100). */
  readonly errorsPerSecond?: number;
  /** Token bucket depth (default 50). */
  readonly errorBurst?: number;
  /** Largest ICMP error datagram, IP header included (default 576, RFC 1812 §4.3.2.3). */
  readonly maxErrorDatagram?: number;
  /** TTL of the ICMP errors we originate (default 64). */
  readonly errorTtl?: number;
}

export interface ForwarderDeps {
  readonly clock: Clock;
  readonly rng: Rng;
  readonly table: RoutingTable;
  readonly interfaces: readonly ForwardingInterface[];
}

/** The errors the forwarding plane sends about a datagram. */
export type ForwardingErrorKind = "net-unreachable" | "host-unreachable" | "ttl-exceeded" | "frag-needed";

/** The forwarding plane. */
export interface Forwarder {
  /** A datagram received on interface `inIndex` that is addressed to none of ours. */
  forward(packet: Uint8Array, inIndex: number, linkBroadcast: boolean): void;
  /** A datagram we originate (header complete, checksum set) to an off-link destination. */
  output(packet: Uint8Array): Result<void, Ipv4SendError>;
  /** Sends an ICMP error about `datagram` to its source (subject to RFC 1812 §4.3.2.7 and the rate limit). */
  sendError(kind: ForwardingErrorKind, datagram: Uint8Array, nextHopMtu?: number): boolean;
  /** True when `a` is the address of one of the interfaces. */
  isLocal(a: Ipv4Address): boolean;
  /** Re-reads the interfaces' addresses after one was reconfigured. */
  refresh(): void;
  counters(): LayerCounters;
}

const ERROR_TYPES: Record<ForwardingErrorKind, readonly [number, number]> = {
  "net-unreachable": [ICMP_TYPE_DST_UNREACHABLE, ICMP_UNREACH_NET],
  "host-unreachable": [ICMP_TYPE_DST_UNREACHABLE, ICMP_UNREACH_HOST],
  "frag-needed": [ICMP_TYPE_DST_UNREACHABLE, ICMP_UNREACH_FRAG_NEEDED],
  "ttl-exceeded": [ICMP_TYPE_TIME_EXCEEDED, ICMP_TIME_EXCEEDED_TTL],
};

/** RFC 1812 §4.3.2.5: ICMP errors carry precedence 6 (internetwork control). */
const ERROR_TOS = 0xc0;

const isErrorType = (t: number): boolean =>
  t === ICMP_TYPE_DST_UNREACHABLE || t === ICMP_TYPE_REDIRECT || t === ICMP_TYPE_TIME_EXCEEDED || t === ICMP_TYPE_PARAMETER_PROBLEM || t === 4;

/** 0/8 ("this network"), 127/8 (loopback), 224/4 (multicast), 240/4 (reserved, and the limited broadcast). */
const isMartian = (a: Ipv4Address): boolean => {
  const top = a >>> 24;
  return top === 0 || top === 127 || top >= 224;
};
/** RFC 3927 §2.7: 169.254/16 is never forwarded, as source or destination. */
const isLinkLocal = (a: Ipv4Address): boolean => a >>> 16 === 0xa9fe;

/** Creates the forwarding plane over interfaces and a table. */
export function createForwarder(deps: ForwarderDeps, options: ForwarderOptions = {}): Forwarder {
  const { clock, rng, table, interfaces } = deps;
  const forwarding = options.forwarding ?? true;
  const rate = options.errorsPerSecond ?? 100;
  const burst = options.errorBurst ?? 50;
  const maxErrorDatagram = options.maxErrorDatagram ?? 576;
  const errorTtl = options.errorTtl ?? 64;
  const errorTokens = createTokenBucket(clock, rate, burst);
  let ident = rng.nextU32() & 0xffff;
  const counters = createCounters([
    "forwarded",
    "forwardedBytes",
    "deliveredAcross",
    "fragmentedDatagrams",
    "fragmentsSent",
    "originated",
    "icmpErrorsSent",
    "icmpRateLimited",
  ] as const);
  const c = counters.c;

  // The interfaces' addresses and directed broadcasts, cached (refresh() after reconfiguring one).
  let localAddresses: Ipv4Address[] = [];
  let localIndexes: number[] = [];
  let broadcasts: Ipv4Address[] = [];
  const refresh = (): void => {
    localAddresses = [];
    localIndexes = [];
    broadcasts = [];
    interfaces.forEach((i, index) => {
      const cidr = i.ipv4.cidr;
      if (cidr === undefined) return;
      localAddresses.push(cidr.address);
      localIndexes.push(index);
      if (cidr.prefixLength >= 31) return;
      const mask = prefixToMask(cidr.prefixLength);
      broadcasts.push(((cidr.address & mask) | ~mask) >>> 0);
    });
  };
  refresh();
  /** The index of the interface whose address `a` is, or -1. */
  const localIndex = (a: Ipv4Address): number => {
    for (let k = 0; k < localAddresses.length; k++) if (localAddresses[k] === a) return localIndexes[k]!;
    return -1;
  };
  const isLocal = (a: Ipv4Address): boolean => localIndex(a) >= 0;
  /** The directed broadcast address of a connected subnet of one of our interfaces. */
  const isDirectedBroadcast = (a: Ipv4Address): boolean => {
    for (let k = 0; k < broadcasts.length; k++) if (broadcasts[k] === a) return true;
    return false;
  };

  const takeToken = (): boolean => errorTokens.take();

  /** Hands a complete datagram to the outgoing interface, fragmenting it when it allows. */
  const transmit = (packet: Uint8Array, out: ForwardingInterface, nextHop: Ipv4Address): Result<void, Ipv4SendError> => {
    const total = packet.length;
    if (total <= out.ethernet.mtu) {
      const r = out.arp.output(nextHop, packet);
      return r.ok ? r : err(r.error);
    }
    return fragment(packet, out, nextHop);
  };

  // RFC 791 §3.2 / RFC 1812 §5.2.6: fragments keep the original's MF on the last one and its
  // offset as a base; only options with the copied flag go into fragments after the first.
  const fragment = (packet: Uint8Array, out: ForwardingInterface, nextHop: Ipv4Address): Result<void, Ipv4SendError> => {
    const hl = (packet[0]! & 0x0f) * 4;
    const flagsFrag = readU16(packet, IPV4_FLAGS_FRAG);
    const baseOffset = (flagsFrag & IPV4_FRAG_MASK) * 8;
    const lastMore = (flagsFrag & IPV4_FLAG_MF) !== 0;
    const payload = packet.subarray(hl);
    const laterOptions = copiedOptions(packet.subarray(IPV4_HEADER_LEN, hl));
    const headroom = out.ethernet.headerLength;
    const mtu = out.ethernet.mtu;
    c.fragmentedDatagrams++;
    for (let off = 0; off < payload.length; ) {
      const fhl = off === 0 ? hl : IPV4_HEADER_LEN + laterOptions.length;
      const per = (mtu - fhl) & ~7;
      if (per < 8) return err("too-big");
      const n = Math.min(per, payload.length - off);
      const more = off + n < payload.length || lastMore;
      const buf = new Uint8Array(headroom + fhl + n);
      const f = buf.subarray(headroom);
      f.set(packet.subarray(0, IPV4_HEADER_LEN));
      if (off === 0) f.set(packet.subarray(IPV4_HEADER_LEN, hl), IPV4_HEADER_LEN);
      else f.set(laterOptions, IPV4_HEADER_LEN);
      f[0] = 0x40 | (fhl >>> 2);
      f.set(payload.subarray(off, off + n), fhl);
      writeU16(f, IPV4_LENGTH, fhl + n);
      writeU16(f, IPV4_FLAGS_FRAG, (flagsFrag & IPV4_FLAG_DF) | (more ? IPV4_FLAG_MF : 0) | (((baseOffset + off) >>> 3) & IPV4_FRAG_MASK));
      writeU16(f, IPV4_CHECKSUM, 0);
      writeU16(f, IPV4_CHECKSUM, checksumFinish(checksumRange(f, 0, fhl)));
      c.fragmentsSent++;
      const r = out.arp.output(nextHop, f);
      if (!r.ok) return err(r.error);
      off += n;
    }
    return ok(undefined);
  };

  const sendError = (kind: ForwardingErrorKind, datagram: Uint8Array, nextHopMtu = 0): boolean => {
    if (datagram.length < IPV4_HEADER_LEN) return false;
    const hl = (datagram[0]! & 0x0f) * 4;
    const src = readIpv4(datagram, 12);
    const dst = readIpv4(datagram, 16);
    // RFC 1812 §4.3.2.7: never about an ICMP error, a datagram to a broadcast or multicast
    // address, a non-initial fragment, or a datagram whose source is not one unicast host.
    if (datagram[9] === IP_PROTOCOL_ICMP && (datagram.length <= hl || isErrorType(datagram[hl]!))) return (counters.drop("no-error-about-error"), false);
    if (dst === IPV4_BROADCAST || dst >>> 28 === 14 || isDirectedBroadcast(dst)) return (counters.drop("no-error-about-broadcast"), false);
    if ((readU16(datagram, IPV4_FLAGS_FRAG) & IPV4_FRAG_MASK) !== 0) return (counters.drop("no-error-about-fragment"), false);
    if (isMartian(src) || isDirectedBroadcast(src)) return (counters.drop("no-error-to-bad-source"), false);
    // Our own datagrams (ARP failed for one we originated): nobody to tell but ourselves.
    if (isLocal(src)) return (counters.drop("no-error-to-self"), false);
    const route = table.lookup(src);
    if (route === undefined) return (counters.drop("no-route-for-error"), false);
    const out = interfaces[route.interfaceIndex];
    const from = out?.ipv4.cidr?.address;
    if (out === undefined || from === undefined) return (counters.drop("no-route-for-error"), false);
    if (!takeToken()) {
      c.icmpRateLimited++;
      return false;
    }
    const quoteLen = Math.min(datagram.length, maxErrorDatagram - IPV4_HEADER_LEN - ICMP_HEADER_LEN);
    const total = IPV4_HEADER_LEN + ICMP_HEADER_LEN + quoteLen;
    const headroom = out.ethernet.headerLength;
    const buf = new Uint8Array(headroom + total);
    const packet = buf.subarray(headroom);
    const original = datagram.subarray(0, quoteLen);
    const [type, code] = ERROR_TYPES[kind];
    emitIcmp(
      type === ICMP_TYPE_TIME_EXCEEDED
        ? { kind: "time-exceeded", code, original }
        : { kind: "dst-unreachable", code, nextHopMtu: kind === "frag-needed" ? nextHopMtu : 0, original },
      packet,
      IPV4_HEADER_LEN,
    );
    writeHeader(packet, total, ident, ERROR_TOS, errorTtl, IP_PROTOCOL_ICMP, from, src);
    ident = (ident + 1) & 0xffff;
    const r = out.arp.output(route.nextHop ?? src, packet);
    if (!r.ok) return (counters.drop(`error-${r.error}`), false);
    c.icmpErrorsSent++;
    return true;
  };

  const forward = (received: Uint8Array, _inIndex: number, linkBroadcast: boolean): void => {
    const dst = readIpv4(received, 16);
    // RFC 1122 §3.3.4.2 / RFC 1812 §4.2.2.11: any of our addresses is ours, whatever interface it came in by.
    const local = localIndex(dst);
    if (local >= 0) {
      c.deliveredAcross++;
      return interfaces[local]!.deliver(received);
    }
    if (!forwarding) return counters.drop("forwarding-disabled");
    // RFC 1812 §5.3.4: a datagram that came as a link-layer broadcast or multicast is not forwarded.
    if (linkBroadcast) return counters.drop("link-broadcast");
    const src = readIpv4(received, 12);
    // RFC 1812 §5.3.7: martian sources; RFC 3927 §2.7: link-local sources and destinations.
    if (isMartian(src) || isDirectedBroadcast(src)) return counters.drop("martian-source");
    if (isLinkLocal(src) || isLinkLocal(dst)) return counters.drop("link-local");
    if (dst === IPV4_BROADCAST) return counters.drop("broadcast");
    if (dst >>> 28 === 14) return counters.drop("multicast");
    if (isMartian(dst)) return counters.drop("martian-destination");
    const route = table.lookup(dst);
    const out = route === undefined ? undefined : interfaces[route.interfaceIndex];
    if (route === undefined || out === undefined) {
      counters.drop("no-route");
      sendError("net-unreachable", received);
      return;
    }
    // RFC 1812 §5.3.5.2: directed broadcasts are not forwarded by default.
    if (isDirectedBroadcast(dst)) return counters.drop("directed-broadcast");
    // RFC 1812 §5.3.1: a datagram whose TTL would reach zero is discarded with time exceeded.
    const ttl = received[IPV4_TTL]!;
    if (ttl <= 1) {
      counters.drop("ttl-exceeded");
      sendError("ttl-exceeded", received);
      return;
    }
    const df = (readU16(received, IPV4_FLAGS_FRAG) & IPV4_FLAG_DF) !== 0;
    if (received.length > out.ethernet.mtu && df) {
      // RFC 1191 §4: the next-hop MTU goes in the low 16 bits of the unused field.
      counters.drop("frag-needed");
      sendError("frag-needed", received, out.ethernet.mtu);
      return;
    }
    // A copy: the received buffer belongs to the device (and captures may hold it), and the
    // copy leaves headroom for the outgoing link's header.
    const headroom = out.ethernet.headerLength;
    const buf = new Uint8Array(headroom + received.length);
    const packet = buf.subarray(headroom);
    packet.set(received);
    // RFC 1624 eqn. 3 over the 16-bit word holding TTL and protocol.
    const word = readU16(packet, IPV4_TTL);
    packet[IPV4_TTL] = ttl - 1;
    writeU16(packet, IPV4_CHECKSUM, checksumUpdate16(readU16(packet, IPV4_CHECKSUM), word, word - 0x100));
    const r = transmit(packet, out, route.nextHop ?? dst);
    if (!r.ok) return counters.drop(r.error);
    c.forwarded++;
    c.forwardedBytes += received.length;
  };

  return {
    forward,
    output(packet) {
      const dst = readIpv4(packet, 16);
      const route = table.lookup(dst);
      const out = route === undefined ? undefined : interfaces[route.interfaceIndex];
      if (route === undefined || out === undefined) return err("no-route");
      if (packet.length > out.ethernet.mtu && (readU16(packet, IPV4_FLAGS_FRAG) & IPV4_FLAG_DF) !== 0) return err("too-big");
      c.originated++;
      return transmit(packet, out, route.nextHop ?? dst);
    },
    sendError,
    isLocal,
    refresh,
    counters: () => counters.snapshot(),
  };
}

function writeHeader(b: Uint8Array, total: number, id: number, tos: number, ttl: number, protocol: number, src: Ipv4Address, dst: Ipv4Address): void {
  b[0] = 0x45;
  b[1] = tos;
  writeU16(b, IPV4_LENGTH, total);
  writeU16(b, 4, id);
  writeU16(b, IPV4_FLAGS_FRAG, 0);
  b[IPV4_TTL] = ttl;
  b[9] = protocol;
  writeU16(b, IPV4_CHECKSUM, 0);
  for (let i = 0; i < 4; i++) {
    b[12 + i] = (src >>> (24 - 8 * i)) & 0xff;
    b[16 + i] = (dst >>> (24 - 8 * i)) & 0xff;
  }
  writeU16(b, IPV4_CHECKSUM, checksumFinish(checksumRange(b, 0, IPV4_HEADER_LEN)));
}

/** RFC 791 §3.1: the options whose copied flag is set, padded to a multiple of 4 with end-of-list. */
function copiedOptions(options: Uint8Array): Uint8Array {
  const kept: number[] = [];
  for (let i = 0; i < options.length; ) {
    const type = options[i]!;
    if (type === 0) break;
    if (type === 1) {
      i++;
      continue;
    }
    const len = options[i + 1] ?? 0;
    if (len < 2 || i + len > options.length) break;
    if ((type & 0x80) !== 0) for (let k = 0; k < len; k++) kept.push(options[i + k]!);
    i += len;
  }
  while (kept.length % 4 !== 0) kept.push(0);
  return Uint8Array.from(kept);
}
