// ARP (RFC 826) for one Ethernet interface: a cache with expiry and a size bound, a bounded
// queue of packets per unresolved next hop, request retries then drop, replies for our
// address, static entries, and RFC 5227 probe/announce (used by DHCP and on address change).
// createArp(deps, options) -> ArpLayer; it registers itself for EtherType 0x0806.
import { type Result, ok, err } from "../result.ts";
import type { FrameOffload } from "../link/types.ts";
import type { Clock, Rng, TimerId } from "../time.ts";
import { BROADCAST_MAC, IPV4_ANY, type Ipv4Address, type MacAddress, ZERO_MAC } from "../wire/address.ts";
import { ARP_PACKET_LEN, type ArpRepr, emitArp, parseArp } from "../wire/arp.ts";
import { ETHERTYPE_ARP, ETHERTYPE_IPV4 } from "../wire/ethernet.ts";
import { createCounters } from "./counters.ts";
import type { ArpCacheEntry, ArpLayer, ArpOutputError, ArpTask, EthernetLayer } from "./types.ts";

export interface ArpOptions {
  /** Lifetime of a learned entry (default 60 000 ms). */
  readonly cacheTimeoutMs?: number;
  /** An entry used within this long of its expiry is re-validated by a unicast request (default 5000 ms, RFC 1122 §2.3.2.1). */
  readonly refreshBeforeMs?: number;
  /** Most entries kept; the oldest dynamic one is evicted (default 512). */
  readonly maxEntries?: number;
  /** Packets queued per unresolved next hop; more are dropped (default 48: the 45 fragments of a 64 KiB datagram fit). */
  readonly queuePerDestination?: number;
  /** Next hops being resolved at once; more fail with unresolved-queue-full (default 32). */
  readonly maxPendingDestinations?: number;
  /** Requests sent before giving up (default 3). */
  readonly requests?: number;
  /** Time between requests, and after the last before dropping (default 1000 ms). */
  readonly requestIntervalMs?: number;
  /** RFC 5227 §1.1 timing constants (defaults: 1000, 3, 1000, 2000, 2000, 2, 2000 ms). */
  readonly probeWaitMs?: number;
  readonly probeNum?: number;
  readonly probeMinMs?: number;
  readonly probeMaxMs?: number;
  readonly announceWaitMs?: number;
  readonly announceNum?: number;
  readonly announceIntervalMs?: number;
  /** Called with the packets dropped when resolution of `ip` failed (e.g. to send ICMP host unreachable). */
  readonly onResolutionFailed?: (ip: Ipv4Address, packets: readonly Uint8Array[]) => void;
  /** Called when another host uses our address (RFC 5227 §2.4), e.g. for DHCP to decline it. */
  readonly onAddressConflict?: (ip: Ipv4Address, mac: MacAddress) => void;
}

export interface ArpDeps {
  readonly clock: Clock;
  readonly rng: Rng;
  readonly ethernet: EthernetLayer;
}

interface Entry {
  mac: MacAddress;
  expiresAt: number;
  readonly static: boolean;
  /** Time of the last unicast refresh request, or -Infinity. */
  refreshedAt: number;
}

interface Pending {
  readonly queue: { packet: Uint8Array; offload: FrameOffload | undefined }[];
  sent: number;
  timer: TimerId;
}

interface Probe {
  readonly ip: Ipv4Address;
  readonly cb: (conflict: boolean) => void;
  timer: TimerId | undefined;
  done: boolean;
}

/** Creates ARP over an Ethernet layer. */
export function createArp(deps: ArpDeps, options: ArpOptions = {}): ArpLayer {
  const { clock, rng, ethernet } = deps;
  const cacheTimeout = options.cacheTimeoutMs ?? 60_000;
  const refreshBefore = Math.min(options.refreshBeforeMs ?? 5000, cacheTimeout / 2);
  const maxEntries = options.maxEntries ?? 512;
  const queueLimit = options.queuePerDestination ?? 48;
  const maxPending = options.maxPendingDestinations ?? 32;
  const requests = options.requests ?? 3;
  const requestInterval = options.requestIntervalMs ?? 1000;
  const probeWait = options.probeWaitMs ?? 1000;
  const probeNum = options.probeNum ?? 3;
  const probeMin = options.probeMinMs ?? 1000;
  const probeMax = options.probeMaxMs ?? 2000;
  const announceWait = options.announceWaitMs ?? 2000;
  const announceNum = options.announceNum ?? 2;
  const announceInterval = options.announceIntervalMs ?? 2000;
  const mac = ethernet.mac;
  const cache = new Map<Ipv4Address, Entry>();
  const pending = new Map<Ipv4Address, Pending>();
  const probes = new Set<Probe>();
  let address: Ipv4Address | undefined;
  const counters = createCounters(["rx", "requestsSent", "repliesSent", "requestsReceived", "repliesReceived", "resolved", "queued", "evicted", "conflicts", "probesSent", "announcementsSent", "refreshesSent"] as const);
  const c = counters.c;

  const sendArp = (dstMac: MacAddress, repr: ArpRepr): void => {
    const hl = ethernet.headerLength;
    const buf = new Uint8Array(hl + ARP_PACKET_LEN);
    emitArp(repr, buf, hl);
    ethernet.send(dstMac, ETHERTYPE_ARP, buf.subarray(hl));
  };

  const sendRequest = (target: Ipv4Address): void => {
    c.requestsSent++;
    sendArp(BROADCAST_MAC, { operation: "request", senderMac: mac, senderIp: address ?? IPV4_ANY, targetMac: ZERO_MAC, targetIp: target });
  };

  const fresh = (ip: Ipv4Address): Entry | undefined => {
    const e = cache.get(ip);
    if (e === undefined) return undefined;
    if (e.expiresAt <= clock.now()) {
      cache.delete(ip);
      return undefined;
    }
    return e;
  };

  const learn = (ip: Ipv4Address, hw: MacAddress, create: boolean): void => {
    const e = cache.get(ip);
    if (e !== undefined) {
      if (e.static) return;
      e.mac = hw;
      e.expiresAt = clock.now() + cacheTimeout;
    } else if (create) {
      if (cache.size >= maxEntries) {
        for (const [k, v] of cache) {
          if (!v.static) {
            cache.delete(k);
            c.evicted++;
            break;
          }
        }
        if (cache.size >= maxEntries) return;
      }
      cache.set(ip, { mac: hw, expiresAt: clock.now() + cacheTimeout, static: false, refreshedAt: -Infinity });
    } else {
      return;
    }
    const p = pending.get(ip);
    if (p !== undefined) {
      pending.delete(ip);
      clock.cancel(p.timer);
      c.resolved++;
      for (const q of p.queue) ethernet.send(hw, ETHERTYPE_IPV4, q.packet, q.offload);
    }
  };

  const retry = (ip: Ipv4Address): void => {
    const p = pending.get(ip);
    if (p === undefined) return;
    if (p.sent < requests) {
      p.sent++;
      sendRequest(ip);
      p.timer = clock.setTimer(clock.now() + requestInterval, () => retry(ip));
      return;
    }
    pending.delete(ip);
    for (let i = 0; i < p.queue.length; i++) counters.drop("resolution-failed");
    options.onResolutionFailed?.(ip, p.queue.map((q) => q.packet));
  };

  const finishProbe = (pr: Probe, conflict: boolean): void => {
    if (pr.done) return;
    pr.done = true;
    if (pr.timer !== undefined) clock.cancel(pr.timer);
    probes.delete(pr);
    pr.cb(conflict);
  };

  ethernet.registerEthertype(ETHERTYPE_ARP, (payload) => {
    c.rx++;
    const r = parseArp(payload);
    if (!r.ok) return counters.drop(r.error);
    const a = r.value;
    if (a.senderMac === mac) return counters.drop("own");
    if (a.operation === "request") c.requestsReceived++;
    else c.repliesReceived++;
    // RFC 5227 §2.1.1: a packet from our probed address, or another host's probe for it, is a conflict.
    for (const pr of probes) {
      if (a.senderIp === pr.ip || (a.senderIp === IPV4_ANY && a.operation === "request" && a.targetIp === pr.ip)) {
        c.conflicts++;
        finishProbe(pr, true);
      }
    }
    if (a.senderIp === IPV4_ANY) {
      if (address !== undefined && a.operation === "request" && a.targetIp === address) {
        // RFC 5227 §2.1.1: another host probes our address; answering tells it the address is in use.
        c.repliesSent++;
        sendArp(a.senderMac, { operation: "reply", senderMac: mac, senderIp: address, targetMac: a.senderMac, targetIp: IPV4_ANY });
      }
      return;
    }
    if (address !== undefined && a.senderIp === address) {
      c.conflicts++;
      counters.drop("address-conflict");
      options.onAddressConflict?.(address, a.senderMac);
      return;
    }
    // RFC 826 "merge": update a known sender; add it when the packet is for us or answers our request.
    const forUs = address !== undefined && a.targetIp === address;
    learn(a.senderIp, a.senderMac, forUs || pending.has(a.senderIp));
    if (forUs && a.operation === "request") {
      c.repliesSent++;
      sendArp(a.senderMac, { operation: "reply", senderMac: mac, senderIp: address!, targetMac: a.senderMac, targetIp: a.senderIp });
    }
  });

  const layer: ArpLayer = {
    output(nextHop, packet, offload, release): Result<void, ArpOutputError> {
      const e = fresh(nextHop);
      if (e !== undefined) {
        const now = clock.now();
        if (e.expiresAt - now <= refreshBefore && now - e.refreshedAt >= requestInterval) {
          e.refreshedAt = now;
          c.refreshesSent++;
          sendArp(e.mac, { operation: "request", senderMac: mac, senderIp: address ?? IPV4_ANY, targetMac: ZERO_MAC, targetIp: nextHop });
        }
        ethernet.send(e.mac, ETHERTYPE_IPV4, packet, offload, release);
        return ok(undefined);
      }
      // A packet that waits for resolution is kept here: its buffer is not recycled.
      const p = pending.get(nextHop);
      if (p !== undefined) {
        if (p.queue.length >= queueLimit) {
          counters.drop("queue-full");
          return err("unresolved-queue-full");
        }
        p.queue.push({ packet, offload });
        c.queued++;
        return ok(undefined);
      }
      if (pending.size >= maxPending) {
        counters.drop("too-many-pending");
        return err("unresolved-queue-full");
      }
      const np: Pending = { queue: [{ packet, offload }], sent: 1, timer: 0 };
      c.queued++;
      pending.set(nextHop, np);
      sendRequest(nextHop);
      np.timer = clock.setTimer(clock.now() + requestInterval, () => retry(nextHop));
      return ok(undefined);
    },
    lookup: (ip) => fresh(ip)?.mac,
    addStatic(ip, hw) {
      cache.delete(ip);
      cache.set(ip, { mac: hw, expiresAt: Infinity, static: true, refreshedAt: -Infinity });
      learn(ip, hw, false);
    },
    remove(ip) {
      cache.delete(ip);
    },
    entries(): ArpCacheEntry[] {
      const now = clock.now();
      const out: ArpCacheEntry[] = [];
      for (const [ip, e] of cache) if (e.expiresAt > now) out.push({ ip, mac: e.mac, expiresAt: e.expiresAt, static: e.static });
      return out;
    },
    setAddress(ip) {
      address = ip;
    },
    probe(ip, cb): ArpTask {
      const pr: Probe = { ip, cb, timer: undefined, done: false };
      probes.add(pr);
      let sent = 0;
      const step = (): void => {
        if (pr.done) return;
        if (sent < probeNum) {
          sent++;
          c.probesSent++;
          sendArp(BROADCAST_MAC, { operation: "request", senderMac: mac, senderIp: IPV4_ANY, targetMac: ZERO_MAC, targetIp: ip });
          const delay = sent < probeNum ? probeMin + rng.nextFloat() * (probeMax - probeMin) : announceWait;
          pr.timer = clock.setTimer(clock.now() + delay, step);
        } else {
          finishProbe(pr, false);
        }
      };
      pr.timer = clock.setTimer(clock.now() + rng.nextFloat() * probeWait, step);
      return { cancel: () => { pr.done = true; if (pr.timer !== undefined) clock.cancel(pr.timer); probes.delete(pr); } };
    },
    announce(ip?: Ipv4Address): ArpTask {
      const target = ip ?? address;
      let timer: TimerId | undefined;
      let sent = 0;
      const step = (): void => {
        if (target === undefined) return;
        sent++;
        c.announcementsSent++;
        sendArp(BROADCAST_MAC, { operation: "request", senderMac: mac, senderIp: target, targetMac: ZERO_MAC, targetIp: target });
        if (sent < announceNum) timer = clock.setTimer(clock.now() + announceInterval, step);
      };
      step();
      return { cancel: () => { if (timer !== undefined) clock.cancel(timer); } };
    },
    counters: () => counters.snapshot(),
  };
  return layer;
}
