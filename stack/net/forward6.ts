// The IPv6 forwarding plane of a stack with several interfaces (RFC 8200 §3 / RFC 4443 / RFC 4861
// router behaviour), beside forward.ts (IPv4) and sharing its family-independent parts: the
// routing table's shape (route.ts, longest-prefix match), the counter bag and the token bucket that
// rate-limits errors (RFC 4443 §2.4(f)). A packet that is not for us is checked (source not
// unspecified/multicast/loopback; link-local sources or destinations never leave their link,
// RFC 4291 §2.5.6, and a link-local source towards a global destination gets Destination
// Unreachable code 2 "beyond scope", as Linux's ip6_forward sends; multicast is not forwarded;
// nor a unicast packet that came as link-layer multicast), looked up (no route: Destination
// Unreachable code 0), its hop limit checked (≤ 1: Time Exceeded code 0) and decremented (no
// checksum in the IPv6 header), and handed to the outgoing interface's Neighbor Discovery; a
// packet larger than the next link's MTU is never fragmented (RFC 8200 §5): Packet Too Big with
// that MTU. A next hop whose resolution fails gets Destination Unreachable code 3 (the router
// wires NDP's onResolutionFailed here). Errors come from an address of the interface they leave
// by, quote as much of the packet as fits in 1280 bytes (§2.4(c)) and follow §2.4(e). Every drop
// is counted by its reason. It also routes packets the router's interfaces originate.
// createForwarder6(deps, options) -> Forwarder6.
import { type Result, ok, err } from "../result.ts";
import type { Clock } from "../time.ts";
import { type Ipv6Address, isIpv6LinkLocal, isIpv6Multicast, isIpv6Unspecified, readIpv6 } from "../wire/ipv6-address.ts";
import { IPV6_DST, IPV6_HEADER_LEN, IPV6_HOP_LIMIT, IPV6_MIN_MTU, IPV6_NEXT_HEADER, IPV6_NEXT_HEADER_ICMPV6, IPV6_SRC, emitIpv6 } from "../wire/ipv6.ts";
import {
  ICMPV6_ERROR_MAX_LEN,
  ICMPV6_HEADER_LEN,
  ICMPV6_TIME_EXCEEDED_HOP_LIMIT,
  ICMPV6_UNREACH_ADDRESS,
  ICMPV6_UNREACH_BEYOND_SCOPE,
  ICMPV6_UNREACH_NO_ROUTE,
  type Icmpv6Repr,
  emitIcmpv6,
} from "../wire/icmpv6.ts";
import { createCounters } from "./counters.ts";
import { createTokenBucket } from "./rate-limit.ts";
import type { RoutingTable6 } from "./route.ts";
import type { EthernetLayer, LayerCounters } from "./types.ts";
import type { Ipv6SendError, Ipv6Stack } from "./ipv6-types.ts";

/** One interface as the IPv6 forwarding plane sees it. */
export interface Forwarding6Interface {
  readonly name: string;
  readonly ipv6: Ipv6Stack;
  readonly ethernet: EthernetLayer;
  /** Hands a packet addressed to this interface to its IPv6 input. */
  readonly deliver: (packet: Uint8Array) => void;
}

export interface Forwarder6Options {
  /** Forward packets between interfaces (default true; false: a multihomed host). */
  readonly forwarding?: boolean;
  /** ICMPv6 errors per second (token refill rate, default 100) and bucket depth (default 50). */
  readonly errorsPerSecond?: number;
  readonly errorBurst?: number;
  /** Hop limit of the errors we originate (default 64, Linux's). */
  readonly errorHopLimit?: number;
}

export interface Forwarder6Deps {
  readonly clock: Clock;
  readonly table: RoutingTable6;
  /** Indexed like the router's interfaces (and the table's interfaceIndex); undefined: no IPv6 there. */
  readonly interfaces: readonly (Forwarding6Interface | undefined)[];
}

/** The errors the IPv6 forwarding plane sends about a packet. */
export type Forwarding6ErrorKind = "no-route" | "beyond-scope" | "address-unreachable" | "hop-limit-exceeded" | "packet-too-big";

/** The IPv6 forwarding plane. */
export interface Forwarder6 {
  /** A packet received on interface `inIndex` that is addressed to none of its addresses or groups. */
  forward(packet: Uint8Array, inIndex: number, linkMulticast: boolean): void;
  /** A packet an interface originates (header complete) to a destination off its links. */
  output(packet: Uint8Array): Result<void, Ipv6SendError>;
  /** Sends an ICMPv6 error about `packet` to its source (RFC 4443 §2.4(e) and the rate limit); true when sent. */
  sendError(kind: Forwarding6ErrorKind, packet: Uint8Array, inIndex?: number, mtu?: number): boolean;
  /** True when `a` is an address of one of the interfaces. */
  isLocal(a: Ipv6Address): boolean;
  counters(): LayerCounters;
}

const ERRORS: Record<Forwarding6ErrorKind, (original: Uint8Array, mtu: number) => Icmpv6Repr> = {
  "no-route": (original) => ({ kind: "dst-unreachable", code: ICMPV6_UNREACH_NO_ROUTE, original }),
  "beyond-scope": (original) => ({ kind: "dst-unreachable", code: ICMPV6_UNREACH_BEYOND_SCOPE, original }),
  "address-unreachable": (original) => ({ kind: "dst-unreachable", code: ICMPV6_UNREACH_ADDRESS, original }),
  "hop-limit-exceeded": (original) => ({ kind: "time-exceeded", code: ICMPV6_TIME_EXCEEDED_HOP_LIMIT, original }),
  "packet-too-big": (original, mtu) => ({ kind: "packet-too-big", mtu, original }),
};

/** ::1 */
const isLoopback = (a: Ipv6Address): boolean => {
  for (let i = 0; i < 15; i++) if (a[i] !== 0) return false;
  return a[15] === 1;
};

/** Creates the IPv6 forwarding plane over interfaces and a table. */
export function createForwarder6(deps: Forwarder6Deps, options: Forwarder6Options = {}): Forwarder6 {
  const { clock, table, interfaces } = deps;
  const forwarding = options.forwarding ?? true;
  const errorTokens = createTokenBucket(clock, options.errorsPerSecond ?? 100, options.errorBurst ?? 50);
  const errorHopLimit = options.errorHopLimit ?? 64;
  const counters = createCounters(["forwarded", "forwardedBytes", "deliveredAcross", "originated", "icmpErrorsSent", "icmpRateLimited"] as const);
  const c = counters.c;

  const localIndex = (a: Ipv6Address): number => {
    for (let k = 0; k < interfaces.length; k++) if (interfaces[k]?.ipv6.ndp.isOurAddress(a) === true) return k;
    return -1;
  };
  const isLocal = (a: Ipv6Address): boolean => localIndex(a) >= 0;

  /** The interface and next hop towards dst (a link-local dst: only by the interface it belongs to). */
  const routeTo = (dst: Ipv6Address): { out: Forwarding6Interface; nextHop: Ipv6Address } | undefined => {
    const route = table.lookup(dst);
    const out = route === undefined ? undefined : interfaces[route.interfaceIndex];
    if (route === undefined || out === undefined) return undefined;
    return { out, nextHop: route.nextHop ?? dst };
  };

  const sendError = (kind: Forwarding6ErrorKind, packet: Uint8Array, inIndex?: number, mtu = IPV6_MIN_MTU): boolean => {
    if (packet.length < IPV6_HEADER_LEN) return false;
    const src = readIpv6(packet, IPV6_SRC);
    const dst = readIpv6(packet, IPV6_DST);
    // RFC 4443 §2.4(e.1): never about an ICMPv6 error message (type < 128).
    if (packet[IPV6_NEXT_HEADER] === IPV6_NEXT_HEADER_ICMPV6 && (packet.length <= IPV6_HEADER_LEN || packet[IPV6_HEADER_LEN]! < 128))
      return (counters.drop("no-error-about-error"), false);
    // §2.4(e.2): not about a packet to a multicast address, except Packet Too Big.
    if (isIpv6Multicast(dst) && kind !== "packet-too-big") return (counters.drop("no-error-about-multicast"), false);
    // §2.4(e.4): nor to a source that does not name one node.
    if (isIpv6Unspecified(src) || isIpv6Multicast(src) || isLoopback(src)) return (counters.drop("no-error-to-bad-source"), false);
    // Our own packets (NUD failed for one we originated): nobody to tell but ourselves.
    if (isLocal(src)) return (counters.drop("no-error-to-self"), false);
    // A link-local source is reached by the interface the packet came in by, and only by it.
    let out: Forwarding6Interface | undefined;
    let nextHop: Ipv6Address = src;
    if (isIpv6LinkLocal(src)) out = inIndex === undefined ? undefined : interfaces[inIndex];
    else {
      const r = routeTo(src);
      out = r?.out;
      if (r !== undefined) nextHop = r.nextHop;
    }
    if (out === undefined) return (counters.drop("no-route-for-error"), false);
    // RFC 4443 §2.2: from an address of the interface the error leaves by, chosen for the destination.
    const from = out.ipv6.sourceFor(src);
    if (from === undefined) return (counters.drop("no-address-for-error"), false);
    if (!errorTokens.take()) {
      c.icmpRateLimited++;
      return false;
    }
    // §2.4(c): as much of the invoking packet as fits in the minimum MTU.
    const original = packet.subarray(0, Math.min(packet.length, ICMPV6_ERROR_MAX_LEN - ICMPV6_HEADER_LEN));
    const msgLen = ICMPV6_HEADER_LEN + original.length;
    const headroom = out.ethernet.headerLength;
    const buf = new Uint8Array(headroom + IPV6_HEADER_LEN + msgLen);
    const reply = buf.subarray(headroom);
    emitIcmpv6(ERRORS[kind](original, mtu), reply, IPV6_HEADER_LEN, from, src);
    emitIpv6(
      { src: from, dst: src, nextHeader: IPV6_NEXT_HEADER_ICMPV6, hopLimit: errorHopLimit, trafficClass: 0, flowLabel: 0, payloadLength: msgLen },
      reply,
    );
    const r = out.ipv6.ndp.output(nextHop, reply);
    if (!r.ok) return (counters.drop(`error-${r.error}`), false);
    c.icmpErrorsSent++;
    return true;
  };

  const forward = (received: Uint8Array, inIndex: number, linkMulticast: boolean): void => {
    const dst = readIpv6(received, IPV6_DST);
    // RFC 4291 §2.7: multicast is not forwarded (no multicast routing here).
    if (isIpv6Multicast(dst)) return counters.drop("multicast");
    // Any of our addresses is ours, whatever interface it came in by (the weak host model, as Linux).
    const local = localIndex(dst);
    if (local >= 0) {
      c.deliveredAcross++;
      return interfaces[local]!.deliver(received);
    }
    if (!forwarding) return counters.drop("forwarding-disabled");
    // A unicast packet sent to a link-layer group address is not ours to forward (Linux: pkt_type != PACKET_HOST).
    if (linkMulticast) return counters.drop("link-multicast");
    const src = readIpv6(received, IPV6_SRC);
    if (isIpv6Unspecified(src) || isIpv6Multicast(src) || isLoopback(src)) return counters.drop("bad-source");
    if (isLoopback(dst) || isIpv6Unspecified(dst)) return counters.drop("bad-destination");
    // RFC 4291 §2.5.6: a router must not forward a packet with a link-local source or destination.
    if (isIpv6LinkLocal(dst)) return counters.drop("link-local");
    if (isIpv6LinkLocal(src)) {
      counters.drop("link-local");
      sendError("beyond-scope", received, inIndex);
      return;
    }
    const r = routeTo(dst);
    if (r === undefined) {
      counters.drop("no-route");
      sendError("no-route", received, inIndex);
      return;
    }
    // RFC 8200 §3: a packet whose hop limit would reach zero is discarded with Time Exceeded code 0.
    const hopLimit = received[IPV6_HOP_LIMIT]!;
    if (hopLimit <= 1) {
      counters.drop("hop-limit-exceeded");
      sendError("hop-limit-exceeded", received, inIndex);
      return;
    }
    // RFC 8200 §5: routers do not fragment; Packet Too Big with the next link's MTU (RFC 4443 §3.2).
    const mtu = r.out.ipv6.ndp.linkMtu;
    if (received.length > mtu) {
      counters.drop("packet-too-big");
      sendError("packet-too-big", received, inIndex, Math.max(IPV6_MIN_MTU, mtu));
      return;
    }
    // A copy: the received buffer belongs to the device (and captures may hold it); headroom for the outgoing link's header.
    const headroom = r.out.ethernet.headerLength;
    const buf = new Uint8Array(headroom + received.length);
    const packet = buf.subarray(headroom);
    packet.set(received);
    packet[IPV6_HOP_LIMIT] = hopLimit - 1;
    const sent = r.out.ipv6.ndp.output(r.nextHop, packet);
    if (!sent.ok) return counters.drop(sent.error);
    c.forwarded++;
    c.forwardedBytes += received.length;
  };

  return {
    forward,
    output(packet) {
      const dst = readIpv6(packet, IPV6_DST);
      const r = routeTo(dst);
      if (r === undefined || isIpv6LinkLocal(dst)) return err("no-route");
      if (packet.length > r.out.ipv6.ndp.linkMtu) return err("too-big");
      // The source must be an address of some interface; a link-local one never leaves its link.
      const src = readIpv6(packet, IPV6_SRC);
      if (isIpv6LinkLocal(src) && !r.out.ipv6.ndp.isOurAddress(src)) return err("no-route");
      const sent = r.out.ipv6.ndp.output(r.nextHop, packet);
      if (!sent.ok) return err(sent.error);
      c.originated++;
      return ok(undefined);
    },
    sendError,
    isLocal,
    counters: () => counters.snapshot(),
  };
}
