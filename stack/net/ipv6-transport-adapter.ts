// Runs a transport written against the IPv4 layer's interface (TCP: addresses as 32-bit numbers,
// the v4 pseudo-header in its checksums, ICMP errors with v4 quotes) over IPv6, without touching
// it: IPv6 addresses are given 32-bit handles (a bounded table, least recently used first out),
// each outgoing segment's checksum is moved from the handles' v4 pseudo-header to the real v6 one
// by an O(1) one's-complement update (RFC 1624), incoming segments are verified against the v6
// pseudo-header here and handed up as validated, the path MTU is reported 20 bytes lower (the v6
// header is 20 bytes longer, so an MSS computed as mtu - 40 comes out as mtu - 60), the traffic
// class goes where the v4 TOS byte was (ECN), and ICMPv6 errors come up as ICMP ones (Packet Too
// Big as fragmentation-needed). Sockets over it are v6-only, in a port space of their own.
// Limit: maxHandles distinct addresses (default 65536), evicted by second chance (an address
// used since the eviction hand last passed stays); an address evicted while a connection to it
// is idle loses that connection (its next segment finds no route).
// TCP's ISNs (RFC 6528) and SYN cookies hash the handles, not the addresses. ISNs stay
// unguessable (the key is secret; a handle is as good an input as an address) and distinct tuples
// never share handles, but a peer whose handle was evicted and made again gets a new ISN offset
// (as after a key change). SYN cookies are weaker: a cookie is bound to the handle the SYN got,
// so when a flood from more than maxHandles sources (one /64 has 2^64) evicts a legitimate
// client's handle before its ACK returns, the ACK gets a new handle and its cookie fails. The same
// churn can evict idle connections' peers, and TIME-WAIT records keyed by an evicted handle no
// longer match their peer. A TCP on 128-bit addresses (or handles pinned while in use) removes this.
// createIpv6TransportAdapter(deps, options) -> Ipv6TransportAdapter.
import { type Result, ok, err } from "../result.ts";
import { NetlabError } from "../error.ts";
import { readU16, writeU16 } from "../wire/bytes.ts";
import { checksumAdd, checksumFinish, checksumRange, fold, pseudoHeaderSum } from "../wire/checksum.ts";
import { type Ipv6Address, ipv6EqualAt, ipv6Key } from "../wire/ipv6-address.ts";
import { IPV6_DST, IPV6_HEADER_LEN, IPV6_SRC, ipv6PseudoHeaderSum } from "../wire/ipv6.ts";
import { createCounters } from "./counters.ts";
import type { Icmpv6Layer, Ipv6Delivery, Ipv6SendOptions, Ipv6Stack } from "./ipv6-types.ts";
import { HEADROOM } from "./types.ts";
import type { IcmpErrorReport, Ipv4Delivery, Ipv4Layer, Ipv4SendError, Ipv4SendOptions, LayerCounters } from "./types.ts";

export interface Ipv6TransportAdapterOptions {
  /** Distinct addresses with a handle at once (default 65536). */
  readonly maxHandles?: number;
  /** Offset of the transport's checksum field (16 for TCP). */
  readonly checksumOffset: number;
  /** Free bytes the transport leaves before each payload (Ipv6SendOptions.headroom): 54 or more lets IPv6 write its header in place. */
  readonly headroom?: number;
}

export interface Ipv6TransportAdapterDeps {
  readonly ipv6: Ipv6Stack;
  readonly icmpv6: Icmpv6Layer;
}

/** What a v4-typed transport is given, and the way back from its handles to addresses. */
export interface Ipv6TransportAdapter {
  readonly ip: Ipv4Layer & { confirmReachable(dst: number): void };
  readonly icmp: { onError(protocol: number, handler: (e: IcmpErrorReport) => void): void };
  /** The handle of an address (made on first use). */
  handleOf(a: Ipv6Address): number;
  /** The address behind a handle, if it is still held. */
  addressOf(handle: number): Ipv6Address | undefined;
  counters(): LayerCounters;
}

/** ICMPv6 Destination Unreachable codes (RFC 4443 §3.1) as ICMPv4 ones: no route -> net, admin -> admin (13), address -> host, port -> port. */
const UNREACHABLE_CODES: Readonly<Record<number, number>> = { 0: 0, 1: 13, 2: 1, 3: 1, 4: 3 };

const keyOf = ipv6Key;

/** Segments handed up are verified here (the v6 checksum): the transport does not check again. */
const VALIDATED = Object.freeze({ dataValidated: true });

interface HandleEntry {
  readonly handle: number;
  readonly address: Ipv6Address;
  readonly key: string;
  used: boolean;
}

/**
 * RFC 8200 §8.1: the upper-layer checksum over the v6 pseudo-header and the payload. When the
 * payload follows the fixed header directly (no extension headers), the two addresses and the
 * payload are summed in one pass from byte 8 of the packet on.
 */
function checksumValid(d: Ipv6Delivery, protocol: number, len: number): boolean {
  const { packet, payload } = d;
  if (packet.buffer === payload.buffer && payload.byteOffset - packet.byteOffset === IPV6_HEADER_LEN && len < 0x10000) {
    return checksumFinish(checksumRange(packet, IPV6_SRC, IPV6_HEADER_LEN + len, len + protocol)) === 0;
  }
  return checksumFinish(checksumAdd(payload, ipv6PseudoHeaderSum(d.src, d.dst, protocol, len))) === 0;
}

/** Creates the adapter for one upper-layer protocol (6 for TCP). */
export function createIpv6TransportAdapter(deps: Ipv6TransportAdapterDeps, options: Ipv6TransportAdapterOptions): Ipv6TransportAdapter {
  const { ipv6, icmpv6 } = deps;
  const maxHandles = options.maxHandles ?? 65536;
  const at = options.checksumOffset;
  // Entries in insertion order; `used` marks a use since the eviction hand last passed.
  const byKey = new Map<string, HandleEntry>();
  const byHandle = new Map<number, HandleEntry>();
  // The two entries used last (a connection's segments name the same two addresses over and
  // over): compared byte by byte, no key is built for them.
  let recent0: HandleEntry | undefined;
  let recent1: HandleEntry | undefined;
  let next = 1;
  const counters = createCounters(["handles", "evicted", "rx", "tx"] as const);
  const c = counters.c;

  // Second chance (CLOCK, an approximation of least recently used): the oldest entry goes unless
  // it was used since it last came round, in which case it moves to the end with its mark cleared.
  const evictOne = (): void => {
    for (;;) {
      const first = byKey.values().next();
      if (first.done) return;
      const e = first.value;
      byKey.delete(e.key);
      if (e.used) {
        e.used = false;
        byKey.set(e.key, e);
        continue;
      }
      byHandle.delete(e.handle);
      if (recent0 === e) recent0 = undefined;
      if (recent1 === e) recent1 = undefined;
      c.evicted++;
      return;
    }
  };

  /**
   * The handle of the address at bytes[at..at+16] (a packet's, read in place), made on first
   * sight. The two addresses used last are compared byte by byte; the rest are looked up by key.
   */
  const handleAt = (bytes: Uint8Array, at: number): number => {
    const r0 = recent0;
    if (r0 !== undefined && ipv6EqualAt(r0.address, bytes, at)) {
      r0.used = true;
      return r0.handle;
    }
    const r1 = recent1;
    if (r1 !== undefined && ipv6EqualAt(r1.address, bytes, at)) {
      r1.used = true;
      recent1 = r0;
      recent0 = r1;
      return r1.handle;
    }
    const a = bytes.slice(at, at + 16);
    const k = keyOf(a);
    let e = byKey.get(k);
    if (e === undefined) {
      if (byKey.size >= maxHandles) evictOne();
      // Handles are never reused while the counter lasts (2^32 - 1 of them).
      e = { handle: next, address: a, key: k, used: false };
      next = next >= 0xfffffffe ? 1 : next + 1;
      byKey.set(k, e);
      byHandle.set(e.handle, e);
      c.handles++;
    } else {
      e.used = true;
    }
    recent1 = recent0;
    recent0 = e;
    return e.handle;
  };
  const handleOf = (a: Ipv6Address): number => handleAt(a, 0);
  const addressOf = (handle: number): Ipv6Address | undefined => byHandle.get(handle)?.address;
  // What the transport reads of a v4 header (the TOS byte at offset 1, for ECN), one per traffic class.
  const headers: (Uint8Array | undefined)[] = [];
  const headroom = options.headroom ?? HEADROOM;
  // The checksum adjustment of the last pair of handles sent with (see send).
  let deltaSrc = -1;
  let deltaDst = -1;
  let delta = 0;

  const ip: Ipv6TransportAdapter["ip"] = {
    get cidr() {
      const src = ipv6.ndp.addresses().find((x) => x.state === "preferred" || x.state === "deprecated");
      return src === undefined ? undefined : { address: handleOf(src.address), prefixLength: 32 };
    },
    gateway: undefined,
    configure() {
      throw new NetlabError("ERR_NETLAB_MISUSE", "the IPv6 transport adapter has no IPv4 configuration");
    },
    send(dstHandle, protocol, payload, opts?: Ipv4SendOptions): Result<void, Ipv4SendError> {
      const dst = addressOf(dstHandle);
      if (dst === undefined) return err("no-route");
      const srcHandle = opts?.src;
      const src = srcHandle === undefined ? ipv6.sourceFor(dst) : addressOf(srcHandle);
      if (src === undefined) return err("no-address");
      if (payload.length >= at + 2) {
        const len = payload.length;
        if (opts?.offload?.csumBlank === true) {
          // The field holds the partial (v4 pseudo-header) sum: finish the checksum here.
          writeU16(payload, at, 0);
          const full = checksumFinish(checksumAdd(payload, ipv6PseudoHeaderSum(src, dst, protocol, len)));
          writeU16(payload, at, full);
        } else {
          // RFC 1624: HC' = ~(~HC + ~m + m'), m the v4 pseudo-header of the handles, m' the v6 one.
          // Protocol and length enter both alike, so only the addresses differ: m' - m is kept
          // for the last pair of handles (a connection sends every segment with the same two).
          const s = srcHandle ?? handleOf(src);
          if (s !== deltaSrc || dstHandle !== deltaDst) {
            deltaSrc = s;
            deltaDst = dstHandle;
            delta = fold((~pseudoHeaderSum(s, dstHandle, 0, 0) & 0xffff) + ipv6PseudoHeaderSum(src, dst, 0, 0));
          }
          const old = readU16(payload, at);
          writeU16(payload, at, ~fold((~old & 0xffff) + delta) & 0xffff);
        }
      }
      c.tx++;
      // One object shape per call in the common case (no TTL given): no spreads on the per-segment path.
      const sendOptions: Ipv6SendOptions =
        opts?.ttl === undefined
          ? { src, trafficClass: opts?.tos ?? 0, headroom, dontFragment: opts?.dontFragment === true }
          : { src, trafficClass: opts.tos ?? 0, headroom, dontFragment: opts.dontFragment === true, hopLimit: opts.ttl };
      const r = ipv6.send(dst, protocol, payload, sendOptions);
      return r.ok ? ok(undefined) : err(r.error === "unresolved-queue-full" ? "unresolved-queue-full" : r.error);
    },
    registerProtocol(protocol, handler: (d: Ipv4Delivery) => void) {
      ipv6.registerProtocol(protocol, (d: Ipv6Delivery) => {
        c.rx++;
        // read in place (a multicast address starts with 0xff): d.dst would copy the address out
        if (d.packet[IPV6_DST] === 0xff) return counters.drop("multicast-destination");
        const len = d.payload.length;
        if (len < at + 2) return counters.drop("truncated");
        if (d.offload?.dataValidated !== true && !checksumValid(d, protocol, len)) return counters.drop("bad-checksum");
        handler({
          src: handleAt(d.packet, IPV6_SRC),
          dst: handleAt(d.packet, IPV6_DST),
          protocol,
          ttl: d.hopLimit,
          payload: d.payload,
          // Only the traffic class byte is read above (ECN); it sits where IPv4 keeps its TOS.
          header: (headers[d.trafficClass] ??= Uint8Array.of(0x60, d.trafficClass)),
          offload: VALIDATED,
        });
      });
    },
    mtuTo(dstHandle) {
      const dst = addressOf(dstHandle);
      return (dst === undefined ? ipv6.ndp.linkMtu : ipv6.mtuTo(dst)) - 20;
    },
    sourceFor(dstHandle) {
      const dst = addressOf(dstHandle);
      const src = dst === undefined ? undefined : ipv6.sourceFor(dst);
      return src === undefined ? undefined : handleOf(src);
    },
    confirmReachable(dstHandle) {
      const dst = addressOf(dstHandle);
      if (dst !== undefined) ipv6.ndp.confirmReachable(dst);
    },
  };

  return {
    ip,
    icmp: {
      onError(protocol, handler) {
        icmpv6.onError(protocol, (e) => {
          const tooBig = e.kind === "packet-too-big";
          handler({
            kind: tooBig
              ? "dst-unreachable"
              : e.kind === "time-exceeded"
                ? "time-exceeded"
                : e.kind === "parameter-problem"
                  ? "parameter-problem"
                  : "dst-unreachable",
            // Packet Too Big reads as fragmentation needed (code 4), with the MTU as the v4 path would see it.
            code: tooBig ? 4 : e.kind === "dst-unreachable" ? (UNREACHABLE_CODES[e.code] ?? 1) : e.code,
            from: handleOf(e.from),
            nextHopMtu: tooBig ? Math.max(0, e.mtu - 20) : 0,
            quote: { src: handleOf(e.quote.src), dst: handleOf(e.quote.dst), protocol: e.quote.nextHeader, ident: 0, transport: e.quote.transport },
          });
        });
      },
    },
    handleOf,
    addressOf,
    counters: () => counters.snapshot(),
  };
}
