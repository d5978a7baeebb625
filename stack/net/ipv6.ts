// The IPv6 layer (RFC 8200) of a host with one interface: input validation (version, payload
// length, source, destination: our unicast addresses and the groups we listen to), the
// extension header chain walked with explicit limits (wire/ipv6-ext.ts; unknown options by the
// two high bits of their type, RFC 8200 §4.2; routing type 0 refused, RFC 5095), upper-layer
// dispatch by Next Header with Parameter Problem for an unknown one (RFC 8200 §4), output with
// the hop limit (an RA's Cur Hop Limit) and next hop from Neighbor Discovery, local delivery,
// a bounded path MTU cache lowered by Packet Too Big (RFC 8201), fragmentation of what we send
// over the path MTU (RFC 8200 §4.5, random identification, RFC 7739), reassembly with bounded
// memory (reassembly.ts: overlaps drop the datagram, RFC 5722; atomic fragments delivered at
// once, RFC 6946; Time Exceeded code 1 on timeout), and counters per drop reason. No jumbograms.
// createIpv6(deps, options) -> Ipv6Stack; it registers itself for EtherType 0x86dd.
import { type Ok, type Result, ok, err } from "../result.ts";
import type { Clock, Rng } from "../time.ts";
import type { FrameOffload } from "../link/types.ts";
import { isMulticastMac } from "../wire/address.ts";
import { ETHERTYPE_IPV6 } from "../wire/ethernet.ts";
import { type Ipv6Address, ipv6Key, isIpv6Multicast, ipv6MulticastMac, readIpv6 } from "../wire/ipv6-address.ts";
import { writeU16 } from "../wire/bytes.ts";
import {
  IPV6_DST,
  IPV6_HEADER_LEN,
  IPV6_MIN_MTU,
  IPV6_NEXT_HEADER,
  IPV6_NEXT_HEADER_FRAGMENT,
  IPV6_NEXT_HEADER_NONE,
  IPV6_PAYLOAD_LENGTH,
  IPV6_SRC,
  Ipv6Packet,
  emitIpv6,
} from "../wire/ipv6.ts";
import {
  type Ipv6ChainLimits,
  IPV6_FRAGMENT_HEADER_LEN,
  IPV6_FRAGMENT_OFFSET_FLAGS,
  IPV6_OPTION_ROUTER_ALERT,
  emitIpv6Fragment,
  isIpv6ExtensionHeader,
  walkIpv6Chain,
  type Ipv6Chain,
  type Ipv6ExtSummary,
} from "../wire/ipv6-ext.ts";
import { type ReassemblyOptions, createReassembler } from "./reassembly.ts";
import { createCounters } from "./counters.ts";
import { type EthernetLayer, HEADROOM } from "./types.ts";
import type { Ipv6Delivery, Ipv6SendError, Ipv6SendOptions, Ipv6Stack, NdpLayer } from "./ipv6-types.ts";

export interface Ipv6Options {
  /** Extension header limits (defaults 8 headers, 1024 bytes; RFC 8504 §5.3). */
  readonly maxExtensionHeaders?: number;
  readonly maxChainLength?: number;
  /** Lifetime of a learned path MTU (default 600 000 ms; RFC 8201 §4 suggests 10 minutes). */
  readonly pmtuTimeoutMs?: number;
  /** Most path MTU entries (default 256; the oldest goes). */
  readonly maxPmtuEntries?: number;
  /** Reassembly limits (timeout default 60 000 ms, RFC 8200 §4.5). */
  readonly reassembly?: ReassemblyOptions;
  /** An interface of a router (stack/router.ts): packets not for this interface go to `forward`
   * instead of being dropped, and what we originate to a destination no route of this interface
   * reaches goes to `output` (the shared forwarding plane, net/forward6.ts). */
  readonly forwarding?: Ipv6ForwardingHooks;
}

/** How a router's interface hands packets to the forwarding plane. */
export interface Ipv6ForwardingHooks {
  /** A packet (header to payload length) to a unicast address not ours, or to a group we do not listen to. */
  forward(packet: Uint8Array, linkMulticast: boolean): void;
  /** A packet we originate (header complete) to a destination off every link of this interface. */
  output(packet: Uint8Array): Result<void, Ipv6SendError>;
  /** Gives the forwarding plane this interface's input, for packets to our address that came in by another. */
  attach(receive: (packet: Uint8Array) => void): void;
}

export interface Ipv6Deps {
  readonly clock: Clock;
  readonly rng: Rng;
  readonly ethernet: EthernetLayer;
  readonly ndp: NdpLayer;
}

/** Hop-by-hop options this node implements (Router Alert is understood and otherwise ignored by a host). */
const knownOption = (type: number): boolean => type === IPV6_OPTION_ROUTER_ALERT;

const keyOf = ipv6Key;

const NO_HEADERS: readonly Ipv6ExtSummary[] = Object.freeze([]);
/** The chain of a packet without extension headers, one per upper-layer protocol (built on first use). */
const SIMPLE_CHAINS: Ok<Ipv6Chain>[] = [];

/**
 * What a protocol handler is given. The addresses are copied out of the packet when first read,
 * so a handler that reads them in place from `packet` (the TCP adapter, per segment) allocates nothing.
 */
class Delivery implements Ipv6Delivery {
  #src: Ipv6Address | undefined;
  #dst: Ipv6Address | undefined;
  readonly offload?: FrameOffload;
  constructor(
    readonly packet: Uint8Array,
    readonly payload: Uint8Array,
    readonly nextHeader: number,
    readonly hopLimit: number,
    readonly trafficClass: number,
    readonly linkMulticast: boolean,
    offload: FrameOffload | undefined,
  ) {
    if (offload !== undefined) this.offload = offload;
  }
  get src(): Ipv6Address {
    this.#src ??= readIpv6(this.packet, IPV6_SRC);
    return this.#src;
  }
  get dst(): Ipv6Address {
    this.#dst ??= readIpv6(this.packet, IPV6_DST);
    return this.#dst;
  }
}
const VALIDATED = Object.freeze({ dataValidated: true });

/** Creates the IPv6 layer over Ethernet and Neighbor Discovery. */
export function createIpv6(deps: Ipv6Deps, options: Ipv6Options = {}): Ipv6Stack {
  const { clock, rng, ethernet, ndp } = deps;
  const limits: Ipv6ChainLimits = {
    knownOption,
    ...(options.maxExtensionHeaders === undefined ? {} : { maxHeaders: options.maxExtensionHeaders }),
    ...(options.maxChainLength === undefined ? {} : { maxChainLength: options.maxChainLength }),
  };
  const forwarding = options.forwarding;
  const pmtuTimeout = options.pmtuTimeoutMs ?? 600_000;
  const maxPmtu = options.maxPmtuEntries ?? 256;
  const pmtu = new Map<string, { mtu: number; expiresAt: number }>();
  const handlers = new Map<number, (d: Ipv6Delivery) => void>();
  let reporter: Parameters<Ipv6Stack["setErrorReporter"]>[0] | undefined;
  const counters = createCounters([
    "rxPackets",
    "rxBytes",
    "delivered",
    "txPackets",
    "txBytes",
    "localDelivered",
    "copies",
    "tooBig",
    "pmtuUpdates",
    "rxFragments",
    "reassembled",
    "atomicFragments",
    "txFragments",
    "fragmentedDatagrams",
  ] as const);
  const c = counters.c;
  const reassembler = createReassembler(
    {
      clock,
      // RFC 8200 §4.5: Time Exceeded code 1 when the first fragment came but the datagram did not complete.
      onTimeout: (unfragmentable, first) => {
        const quote = new Uint8Array(unfragmentable.length + first.length);
        quote.set(unfragmentable);
        quote.set(first, unfragmentable.length);
        writeU16(quote, IPV6_PAYLOAD_LENGTH, quote.length - IPV6_HEADER_LEN);
        reporter?.({ kind: "reassembly-timeout" }, { packet: quote, dst: quote.subarray(24, 40), linkMulticast: false });
      },
    },
    // RFC 8200 §4.5: the reassembled payload length (unfragmentable extension headers and the
    // fragmentable part, not the 40-byte fixed header) may reach 65535.
    { timeoutMs: 60_000, ...options.reassembly, maxDatagramLength: 65535 + IPV6_HEADER_LEN },
  );

  const pathMtu = (dst: Ipv6Address): number => {
    const link = ndp.linkMtu;
    if (pmtu.size === 0) return link;
    const k = keyOf(dst);
    const e = pmtu.get(k);
    if (e === undefined) return link;
    if (e.expiresAt <= clock.now()) {
      pmtu.delete(k);
      return link;
    }
    return Math.min(e.mtu, link);
  };

  const receive = (bytes: Uint8Array, offload: FrameOffload | undefined, linkMulticast: boolean, reassembled = false): void => {
    if (!reassembled) {
      c.rxPackets++;
      c.rxBytes += bytes.length;
    }
    const p = new Ipv6Packet(bytes);
    const chk = p.checkLen();
    if (!chk.ok) return counters.drop(chk.error);
    // The addresses are read in place (a multicast address starts with 0xff, RFC 4291 §2.7);
    // views of them are made only on the paths that need one (anything kept is copied: see Delivery).
    // RFC 4291 §2.7: a multicast address is never a source.
    if (bytes[IPV6_SRC] === 0xff) return counters.drop("multicast-source");
    const dstMulticast = bytes[IPV6_DST] === 0xff;
    if (dstMulticast) {
      if (!ndp.isListening(bytes.subarray(IPV6_DST, IPV6_DST + 16))) {
        if (forwarding !== undefined) return forwarding.forward(bytes.subarray(0, IPV6_HEADER_LEN + p.payloadLength), linkMulticast);
        return counters.drop("not-listening");
      }
    } else if (!ndp.isOurAddress(bytes, IPV6_DST)) {
      // RFC 4862 §5.4: packets to a tentative address are discarded (DAD uses multicast).
      if (ndp.isTentative(bytes.subarray(IPV6_DST, IPV6_DST + 16))) return counters.drop("tentative-destination");
      if (forwarding !== undefined) return forwarding.forward(bytes.subarray(0, IPV6_HEADER_LEN + p.payloadLength), linkMulticast);
      return counters.drop("not-for-us");
    }
    const packet = bytes.subarray(0, IPV6_HEADER_LEN + p.payloadLength);
    // Most packets carry no extension header: the walker (and what it allocates) only for those that do.
    const firstNext = packet[IPV6_NEXT_HEADER]!;
    const chain = isIpv6ExtensionHeader(firstNext)
      ? walkIpv6Chain(packet, limits)
      : (SIMPLE_CHAINS[firstNext] ??= Object.freeze(ok<Ipv6Chain>(Object.freeze({ upperLayer: firstNext, offset: IPV6_HEADER_LEN, headers: NO_HEADERS }))));
    if (!chain.ok) {
      counters.drop(chain.error);
      // RFC 8200 §4.2: "10" options always answer; "11" only when the destination was not multicast.
      const icmp = chain.action === "discard-icmp" || (chain.action === "discard-icmp-unless-multicast" && !dstMulticast);
      if (icmp)
        reporter?.(
          { kind: "parameter-problem", code: chain.icmpCode, pointer: chain.pointer },
          { packet, dst: packet.subarray(IPV6_DST, IPV6_DST + 16), linkMulticast },
        );
      return;
    }
    const { upperLayer, offset, headers, fragment } = chain.value;
    // RFC 8200 §4.4: a routing header of a type we do not know (every type, for a host) with
    // segments left: Parameter Problem code 0 at its type field.
    for (let i = 0; i < headers.length; i++) {
      const x = headers[i]!;
      if (x.kind === "routing" && x.segmentsLeft > 0) {
        counters.drop("routing-segments-left");
        reporter?.({ kind: "parameter-problem", code: 0, pointer: x.offset + 2 }, { packet, dst: packet.subarray(IPV6_DST, IPV6_DST + 16), linkMulticast });
        return;
      }
    }
    if (fragment !== undefined) {
      const at = headers.findIndex((x) => x.kind === "fragment");
      const fh = headers[at]!.offset;
      const data = packet.subarray(fh + IPV6_FRAGMENT_HEADER_LEN);
      // RFC 6946: an atomic fragment (offset 0, M clear) is delivered at once, outside reassembly.
      if (fragment.fragmentOffset === 0 && !fragment.moreFragments) {
        c.atomicFragments++;
      } else {
        c.rxFragments++;
        // RFC 8200 §4.5: a non-final fragment whose length is not a multiple of 8, or a fragment
        // reaching past 65535 bytes: Parameter Problem code 0 (at the payload length, at the offset).
        if (fragment.moreFragments && (data.length === 0 || (data.length & 7) !== 0)) {
          counters.drop("bad-fragment-length");
          reporter?.(
            { kind: "parameter-problem", code: 0, pointer: IPV6_PAYLOAD_LENGTH },
            { packet, dst: packet.subarray(IPV6_DST, IPV6_DST + 16), linkMulticast },
          );
          return;
        }
        if (fragment.fragmentOffset + data.length > 0xffff) {
          counters.drop("fragment-too-long");
          reporter?.(
            { kind: "parameter-problem", code: 0, pointer: fh + IPV6_FRAGMENT_OFFSET_FLAGS },
            { packet, dst: packet.subarray(IPV6_DST, IPV6_DST + 16), linkMulticast },
          );
          return;
        }
        // The unfragmentable part, with the Next Header that named the fragment header now naming what follows it.
        const unfragmentable = packet.slice(0, fh);
        unfragmentable[at === 0 ? IPV6_NEXT_HEADER : headers[at - 1]!.offset] = fragment.nextHeader;
        const r = reassembler.add(
          unfragmentable,
          keyOf(packet.subarray(IPV6_SRC, IPV6_SRC + 16)),
          keyOf(packet.subarray(IPV6_DST, IPV6_DST + 16)),
          0,
          fragment.ident,
          fragment.fragmentOffset,
          fragment.moreFragments,
          data,
        );
        if (r === undefined) return;
        if (r.header.length + r.payload.length - IPV6_HEADER_LEN > 0xffff) return counters.drop("reassembled-too-long");
        c.reassembled++;
        const whole = new Uint8Array(r.header.length + r.payload.length);
        whole.set(r.header);
        whole.set(r.payload, r.header.length);
        writeU16(whole, IPV6_PAYLOAD_LENGTH, whole.length - IPV6_HEADER_LEN);
        receive(whole, undefined, linkMulticast, true);
        return;
      }
    }
    if (upperLayer === IPV6_NEXT_HEADER_NONE) return counters.drop("no-next-header");
    const h = handlers.get(upperLayer);
    if (h === undefined) {
      counters.drop("unknown-next-header");
      // RFC 8200 §4: Parameter Problem code 1, pointing at the Next Header field that named it.
      const last = headers[headers.length - 1];
      reporter?.(
        { kind: "parameter-problem", code: 1, pointer: last === undefined ? IPV6_NEXT_HEADER : last.offset },
        { packet, dst: packet.subarray(IPV6_DST, IPV6_DST + 16), linkMulticast },
      );
      return;
    }
    c.delivered++;
    const payload = packet.subarray(offset);
    // A csumBlank frame (Linux CHECKSUM_PARTIAL: built on this host or vouched for by the device,
    // e.g. a tap's NEEDS_CSUM) carries a checksum still to be finished: its data counts as
    // validated, as in the IPv4 layer and Linux's skb_csum_unnecessary().
    const validated = offload?.dataValidated === true || offload?.csumBlank === true;
    h(new Delivery(packet, payload, upperLayer, p.hopLimit, p.trafficClass, linkMulticast, validated ? VALIDATED : undefined));
  };

  /** RFC 8200 §4.5: the source fragments; every fragment but the last carries a multiple of 8 bytes. */
  const sendFragments = (
    src: Ipv6Address,
    dst: Ipv6Address,
    nextHeader: number,
    payload: Uint8Array,
    hopLimit: number,
    trafficClass: number,
    multicast: boolean,
    nextHop: Ipv6Address,
  ): Result<void, Ipv6SendError> => {
    const per = (pathMtu(dst) - IPV6_HEADER_LEN - IPV6_FRAGMENT_HEADER_LEN) & ~7;
    // RFC 7739: an unpredictable identification per datagram.
    const ident = rng.nextU32();
    const hl = ethernet.headerLength;
    c.fragmentedDatagrams++;
    for (let off = 0; off < payload.length; off += per) {
      const n = Math.min(per, payload.length - off);
      const buf = new Uint8Array(hl + IPV6_HEADER_LEN + IPV6_FRAGMENT_HEADER_LEN + n);
      const packet = buf.subarray(hl);
      emitIpv6({ src, dst, nextHeader: IPV6_NEXT_HEADER_FRAGMENT, hopLimit, trafficClass, flowLabel: 0, payloadLength: IPV6_FRAGMENT_HEADER_LEN + n }, packet);
      emitIpv6Fragment({ nextHeader, fragmentOffset: off, moreFragments: off + n < payload.length, ident }, packet, IPV6_HEADER_LEN);
      packet.set(payload.subarray(off, off + n), IPV6_HEADER_LEN + IPV6_FRAGMENT_HEADER_LEN);
      c.txFragments++;
      c.txPackets++;
      c.txBytes += packet.length;
      if (multicast) ethernet.send(ipv6MulticastMac(dst), ETHERTYPE_IPV6, packet);
      else {
        const r = ndp.output(nextHop, packet);
        if (!r.ok) return err(r.error);
      }
    }
    return ok(undefined);
  };

  ethernet.registerEthertype(ETHERTYPE_IPV6, (payload, frame, _src, dstMac) => receive(payload, frame.offload, isMulticastMac(dstMac)));
  forwarding?.attach((packet) => receive(packet, undefined, false, true));

  const layer: Ipv6Stack = {
    ndp,
    send(dst, nextHeader, payload, opts?: Ipv6SendOptions): Result<void, Ipv6SendError> {
      const src = opts?.src ?? ndp.sourceFor(dst);
      if (src === undefined) return err("no-address");
      const multicast = isIpv6Multicast(dst);
      const local = !multicast && ndp.isOurAddress(dst);
      let nextHop: Ipv6Address | undefined;
      if (!local && !multicast) {
        nextHop = ndp.nextHop(dst);
        if (nextHop === undefined && forwarding === undefined) return err("no-route");
      }
      const total = IPV6_HEADER_LEN + payload.length;
      if (payload.length > 0xffff || (opts?.dontFragment === true && !local && total > pathMtu(dst))) {
        c.tooBig++;
        return err("too-big");
      }
      const hopLimitOut = opts?.hopLimit ?? (multicast ? 1 : ndp.hopLimit);
      // A router's interface: off its links, the forwarding plane routes it (no fragmentation there).
      const routed = !local && !multicast && nextHop === undefined;
      if (!routed && !local && total > pathMtu(dst))
        return sendFragments(src, dst, nextHeader, payload, hopLimitOut, opts?.trafficClass ?? 0, multicast, nextHop!);
      const hl = ethernet.headerLength;
      let packet: Uint8Array;
      // In place only within the headroom the caller reserved (HEADROOM unless it says more):
      // byteOffset alone does not prove the bytes before a payload free (TCP packs segments into
      // one slab, 42 bytes apart: writing 54 overwrote the previous segment's tail).
      if (IPV6_HEADER_LEN + hl <= (opts?.headroom ?? HEADROOM) && payload.byteOffset >= IPV6_HEADER_LEN + hl) {
        packet = new Uint8Array(payload.buffer, payload.byteOffset - IPV6_HEADER_LEN, total);
      } else {
        const buf = new Uint8Array(hl + total);
        buf.set(payload, hl + IPV6_HEADER_LEN);
        packet = buf.subarray(hl);
        c.copies++;
      }
      emitIpv6({ src, dst, nextHeader, hopLimit: hopLimitOut, trafficClass: opts?.trafficClass ?? 0, flowLabel: 0, payloadLength: payload.length }, packet);
      if (local) {
        c.localDelivered++;
        const copy = packet.slice();
        clock.setTimer(clock.now(), () => receive(copy, undefined, false));
        return ok(undefined);
      }
      if (routed) return forwarding!.output(packet);
      c.txPackets++;
      c.txBytes += packet.length;
      // Offloads of the v4 path (csum_blank, GSO) are not used here: transports give finished checksums.
      if (multicast) {
        // Our own multicast is not looped back to us (Linux's IPV6_MULTICAST_LOOP default is on; not here).
        ethernet.send(ipv6MulticastMac(dst), ETHERTYPE_IPV6, packet);
        return ok(undefined);
      }
      const r = ndp.output(nextHop!, packet);
      return r.ok ? r : err(r.error);
    },
    registerProtocol(nextHeader, handler) {
      handlers.set(nextHeader, handler);
    },
    mtuTo: pathMtu,
    sourceFor: (dst) => ndp.sourceFor(dst),
    isLocal: (dst) => ndp.isOurAddress(dst),
    setErrorReporter(r) {
      reporter = r;
    },
    updatePathMtu(dst, mtu) {
      // RFC 8201 §4: never below the IPv6 minimum link MTU; a PTB never raises the estimate.
      const m = Math.max(IPV6_MIN_MTU, Math.min(mtu, ndp.linkMtu));
      if (m >= pathMtu(dst)) return;
      const k = keyOf(dst);
      if (!pmtu.has(k) && pmtu.size >= maxPmtu) {
        const first = pmtu.keys().next();
        if (!first.done) pmtu.delete(first.value);
      }
      c.pmtuUpdates++;
      pmtu.set(k, { mtu: m, expiresAt: clock.now() + pmtuTimeout });
    },
    counters: () => counters.snapshot(),
    reassemblyCounters: () => reassembler.counters(),
    reassemblyUsage: () => ({ datagrams: reassembler.size(), bytes: reassembler.bytes() }),
  };
  return layer;
}
