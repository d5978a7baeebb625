// Runs a transport written against the IPv4 layer's interface (TCP: addresses as 32-bit numbers,
// the v4 pseudo-header in its checksums, ICMP errors with v4 quotes) over IPv6, without touching
// it: IPv6 addresses are given 32-bit handles (a bounded table, least recently used first out),
// each outgoing segment's checksum is moved from the handles' v4 pseudo-header to the real v6 one
// by an O(1) one's-complement update (RFC 1624), incoming segments are verified against the v6
// pseudo-header here and handed up as validated, the path MTU is reported 20 bytes lower (the v6
// header is 20 bytes longer, so an MSS computed as mtu - 40 comes out as mtu - 60), the traffic
// class goes where the v4 TOS byte was (ECN), and ICMPv6 errors come up as ICMP ones (Packet Too
// Big as fragmentation-needed). Sockets over it are v6-only, in a port space of their own.
// Limit: maxHandles distinct addresses (default 65536); an address evicted while a connection
// to it is idle loses that connection (its next segment finds no route).
// createIpv6TransportAdapter(deps, options) -> Ipv6TransportAdapter.
import { type Result, ok, err } from "../result.ts";
import { NetlabError } from "../error.ts";
import { readU16, writeU16 } from "../wire/bytes.ts";
import { checksumAdd, checksumFinish, fold, pseudoHeaderSum } from "../wire/checksum.ts";
import { type Ipv6Address, isIpv6Multicast } from "../wire/ipv6-address.ts";
import { ipv6PseudoHeaderSum } from "../wire/ipv6.ts";
import { createCounters } from "./counters.ts";
import type { Icmpv6Layer, Ipv6Delivery, Ipv6Stack } from "./ipv6-types.ts";
import type { IcmpErrorReport, Ipv4Delivery, Ipv4Layer, Ipv4SendError, Ipv4SendOptions, LayerCounters } from "./types.ts";

export interface Ipv6TransportAdapterOptions {
  /** Distinct addresses with a handle at once (default 65536). */
  readonly maxHandles?: number;
  /** Offset of the transport's checksum field (16 for TCP). */
  readonly checksumOffset: number;
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

function keyOf(a: Ipv6Address): string {
  let s = "";
  for (let i = 0; i < 16; i++) s += String.fromCharCode(a[i] ?? 0);
  return s;
}

/** Creates the adapter for one upper-layer protocol (6 for TCP). */
export function createIpv6TransportAdapter(deps: Ipv6TransportAdapterDeps, options: Ipv6TransportAdapterOptions): Ipv6TransportAdapter {
  const { ipv6, icmpv6 } = deps;
  const maxHandles = options.maxHandles ?? 65536;
  const at = options.checksumOffset;
  const byKey = new Map<string, number>();
  const byHandle = new Map<number, Ipv6Address>();
  let next = 1;
  const counters = createCounters(["handles", "evicted", "rx", "tx"] as const);
  const c = counters.c;

  const handleOf = (a: Ipv6Address): number => {
    const k = keyOf(a);
    const h = byKey.get(k);
    if (h !== undefined) {
      // Least recently used first out: a use moves the entry to the end.
      byKey.delete(k);
      byKey.set(k, h);
      return h;
    }
    if (byKey.size >= maxHandles) {
      const oldest = byKey.entries().next();
      if (!oldest.done) {
        byKey.delete(oldest.value[0]);
        byHandle.delete(oldest.value[1]);
        c.evicted++;
      }
    }
    // Handles are never reused while the counter lasts (2^32 - 1 of them).
    const fresh = next;
    next = next >= 0xfffffffe ? 1 : next + 1;
    byKey.set(k, fresh);
    byHandle.set(fresh, a.slice());
    c.handles++;
    return fresh;
  };

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
      const dst = byHandle.get(dstHandle);
      if (dst === undefined) return err("no-route");
      const srcHandle = opts?.src;
      const src = srcHandle === undefined ? ipv6.sourceFor(dst) : byHandle.get(srcHandle);
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
          const v4 = pseudoHeaderSum(srcHandle ?? handleOf(src), dstHandle, protocol, len);
          const v6 = ipv6PseudoHeaderSum(src, dst, protocol, len);
          const old = readU16(payload, at);
          writeU16(payload, at, ~fold((~old & 0xffff) + (~v4 & 0xffff) + v6) & 0xffff);
        }
      }
      c.tx++;
      const r = ipv6.send(dst, protocol, payload, {
        src, trafficClass: opts?.tos ?? 0,
        ...(opts?.ttl === undefined ? {} : { hopLimit: opts.ttl }),
        ...(opts?.dontFragment === true ? { dontFragment: true } : {}),
      });
      return r.ok ? ok(undefined) : err(r.error === "unresolved-queue-full" ? "unresolved-queue-full" : r.error);
    },
    registerProtocol(protocol, handler: (d: Ipv4Delivery) => void) {
      ipv6.registerProtocol(protocol, (d: Ipv6Delivery) => {
        c.rx++;
        if (isIpv6Multicast(d.dst)) return counters.drop("multicast-destination");
        const len = d.payload.length;
        if (len < at + 2) return counters.drop("truncated");
        if (d.offload?.dataValidated !== true && checksumFinish(checksumAdd(d.payload, ipv6PseudoHeaderSum(d.src, d.dst, protocol, len))) !== 0) return counters.drop("bad-checksum");
        handler({
          src: handleOf(d.src), dst: handleOf(d.dst), protocol, ttl: d.hopLimit, payload: d.payload,
          // Only the traffic class byte is read above (ECN); it sits where IPv4 keeps its TOS.
          header: Uint8Array.of(0x60, d.trafficClass),
          offload: { dataValidated: true },
        });
      });
    },
    mtuTo(dstHandle) {
      const dst = byHandle.get(dstHandle);
      return (dst === undefined ? ipv6.ndp.linkMtu : ipv6.mtuTo(dst)) - 20;
    },
    sourceFor(dstHandle) {
      const dst = byHandle.get(dstHandle);
      const src = dst === undefined ? undefined : ipv6.sourceFor(dst);
      return src === undefined ? undefined : handleOf(src);
    },
    confirmReachable(dstHandle) {
      const dst = byHandle.get(dstHandle);
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
            kind: tooBig ? "dst-unreachable" : e.kind === "time-exceeded" ? "time-exceeded" : e.kind === "parameter-problem" ? "parameter-problem" : "dst-unreachable",
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
    addressOf: (h) => byHandle.get(h),
    counters: () => counters.snapshot(),
  };
}
