// ARP (RFC 826) for one Ethernet interface over a NUD neighbour cache (neighbour.ts): bounded
// queues and a bounded table of resolutions in progress (the oldest is abandoned for a new one,
// so spoofed on-link sources cannot lock out legitimate clients), FAILED entries that hold no
// packets, reachability confirmation from upper layers (confirm) and unicast probes of stale
// entries, a lock time against spoofed changes of a known address, counted and reported
// changes of a known address's MAC; replies for our address, static entries, and RFC 5227
// probe/announce (used by DHCP and on address change).
// createArp(deps, options) -> ArpLayer; it registers itself for EtherType 0x0806.
import { type Result, ok, err } from "../result.ts";
import type { FrameOffload } from "../link/types.ts";
import type { Clock, Rng, TimerId } from "../time.ts";
import { BROADCAST_MAC, IPV4_ANY, type Ipv4Address, type MacAddress, ZERO_MAC } from "../wire/address.ts";
import { ARP_PACKET_LEN, type ArpRepr, emitArp, parseArp } from "../wire/arp.ts";
import { ETHERTYPE_ARP, ETHERTYPE_IPV4 } from "../wire/ethernet.ts";
import { createCounters } from "./counters.ts";
import { createNeighbourCache } from "./neighbour.ts";
import type { ArpCacheEntry, ArpLayer, ArpOutputError, ArpTask, EthernetLayer } from "./types.ts";

export interface ArpOptions {
  /** An entry neither used nor confirmed for this long is removed (default 60 000 ms, Linux gc_staletime). */
  readonly cacheTimeoutMs?: number;
  /** Base reachable time after a confirmation (default 30 000 ms; each address gets 0.5–1.5 times it). */
  readonly reachableMs?: number;
  /** A stale entry in use waits this long for a confirmation before unicast probes (default 5000 ms). */
  readonly delayFirstProbeMs?: number;
  /** Unicast probes of a stale entry before it is re-resolved by broadcast (default 3). */
  readonly unicastProbes?: number;
  /** A change of a known address's MAC is refused this soon after its last change or confirmation (default 1000 ms, Linux locktime). */
  readonly lockTimeMs?: number;
  /** Packets to a next hop whose resolution failed are dropped at once for this long (default 3000 ms). */
  readonly failedHoldMs?: number;
  /** Most resolved entries kept; the oldest not known reachable is evicted (default 512). */
  readonly maxEntries?: number;
  /** Packets queued per unresolved next hop; more are dropped (default 48: the 45 fragments of a 64 KiB datagram fit). */
  readonly queuePerDestination?: number;
  /** Next hops being resolved at once; a new one abandons the oldest (default 256). */
  readonly maxPendingDestinations?: number;
  /** FAILED entries kept (default 512). */
  readonly maxFailedEntries?: number;
  /** Broadcast requests sent before giving up (default 3). */
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
  /** Called when a known address moves to another MAC (a failover, or a spoofer); counted as addressChanges. */
  readonly onAddressChange?: (ip: Ipv4Address, from: MacAddress, to: MacAddress) => void;
  /** Called when another host uses our address (RFC 5227 §2.4), e.g. for DHCP to decline it. */
  readonly onAddressConflict?: (ip: Ipv4Address, mac: MacAddress) => void;
}

export interface ArpDeps {
  readonly clock: Clock;
  readonly rng: Rng;
  readonly ethernet: EthernetLayer;
}

interface Queued {
  readonly packet: Uint8Array;
  readonly offload: FrameOffload | undefined;
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
  const probeWait = options.probeWaitMs ?? 1000;
  const probeNum = options.probeNum ?? 3;
  const probeMin = options.probeMinMs ?? 1000;
  const probeMax = options.probeMaxMs ?? 2000;
  const announceWait = options.announceWaitMs ?? 2000;
  const announceNum = options.announceNum ?? 2;
  const announceInterval = options.announceIntervalMs ?? 2000;
  const mac = ethernet.mac;
  const probes = new Set<Probe>();
  let address: Ipv4Address | undefined;
  const counters = createCounters([
    "rx",
    "requestsSent",
    "repliesSent",
    "requestsReceived",
    "repliesReceived",
    "conflicts",
    "probesSent",
    "announcementsSent",
  ] as const);
  const c = counters.c;

  const sendArp = (dstMac: MacAddress, repr: ArpRepr): void => {
    const hl = ethernet.headerLength;
    const buf = new Uint8Array(hl + ARP_PACKET_LEN);
    emitArp(repr, buf, hl);
    ethernet.send(dstMac, ETHERTYPE_ARP, buf.subarray(hl));
  };

  const neighbours = createNeighbourCache<Ipv4Address, MacAddress, Queued>(
    {
      clock,
      // RFC 1122 §2.3.2.1: a unicast request re-validates a cached address (a NUD probe).
      solicit(target, to) {
        c.requestsSent++;
        sendArp(to ?? BROADCAST_MAC, { operation: "request", senderMac: mac, senderIp: address ?? IPV4_ANY, targetMac: ZERO_MAC, targetIp: target });
      },
      transmit: (hw, q) => ethernet.send(hw, ETHERTYPE_IPV4, q.packet, q.offload),
      onFailed: (ip, queued) => {
        if (queued.length > 0)
          options.onResolutionFailed?.(
            ip,
            queued.map((q) => q.packet),
          );
      },
      onChange: (ip, from, to) => options.onAddressChange?.(ip, from, to),
      // A fixed spread per address (Knuth's multiplicative hash): reachable times differ between
      // neighbours without drawing from the stack's Rng.
      jitter: (ip) => (Math.imul(ip, 0x9e3779b1) >>> 0) / 2 ** 32,
    },
    {
      ...(options.cacheTimeoutMs === undefined ? {} : { staleTimeoutMs: options.cacheTimeoutMs }),
      ...(options.reachableMs === undefined ? {} : { reachableMs: options.reachableMs }),
      ...(options.delayFirstProbeMs === undefined ? {} : { delayFirstProbeMs: options.delayFirstProbeMs }),
      ...(options.unicastProbes === undefined ? {} : { unicastSolicits: options.unicastProbes }),
      ...(options.lockTimeMs === undefined ? {} : { lockTimeMs: options.lockTimeMs }),
      ...(options.failedHoldMs === undefined ? {} : { failedHoldMs: options.failedHoldMs }),
      ...(options.maxEntries === undefined ? {} : { maxEntries: options.maxEntries }),
      ...(options.queuePerDestination === undefined ? {} : { queuePerDestination: options.queuePerDestination }),
      ...(options.maxPendingDestinations === undefined ? {} : { maxIncomplete: options.maxPendingDestinations }),
      ...(options.maxFailedEntries === undefined ? {} : { maxFailed: options.maxFailedEntries }),
      ...(options.requests === undefined ? {} : { multicastSolicits: options.requests }),
      ...(options.requestIntervalMs === undefined ? {} : { retransMs: options.requestIntervalMs }),
    },
  );

  const finishProbe = (pr: Probe, conflict: boolean): void => {
    if (pr.done) return;
    pr.done = true;
    if (pr.timer !== undefined) clock.cancel(pr.timer);
    probes.delete(pr);
    pr.cb(conflict);
  };

  ethernet.registerEthertype(ETHERTYPE_ARP, (payload, _frame, _src, dst) => {
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
    // RFC 826 "merge": update a known sender; add it when the packet is for us. Only a reply
    // unicast to us confirms reachability (Linux arp_process: requests and broadcast replies
    // leave an entry STALE); the cache refuses a new MAC within the lock time.
    const forUs = address !== undefined && a.targetIp === address;
    neighbours.update(a.senderIp, a.senderMac, { reply: a.operation === "reply" && dst === mac, create: forUs });
    if (forUs && a.operation === "request") {
      c.repliesSent++;
      sendArp(a.senderMac, { operation: "reply", senderMac: mac, senderIp: address!, targetMac: a.senderMac, targetIp: a.senderIp });
    }
  });

  const layer: ArpLayer = {
    output(nextHop, packet, offload, release): Result<void, ArpOutputError> {
      const hw = neighbours.resolve(nextHop);
      if (hw !== undefined) {
        ethernet.send(hw, ETHERTYPE_IPV4, packet, offload, release);
        return ok(undefined);
      }
      // A packet that waits for resolution is kept here: its buffer is not recycled.
      const r = neighbours.enqueue(nextHop, { packet, offload });
      return r.ok ? r : err("unresolved-queue-full");
    },
    confirm: (ip) => neighbours.confirm(ip),
    lookup: (ip) => neighbours.lookup(ip),
    state: (ip) => neighbours.state(ip),
    addStatic: (ip, hw) => neighbours.addPermanent(ip, hw),
    remove: (ip) => neighbours.remove(ip),
    entries(): ArpCacheEntry[] {
      const out: ArpCacheEntry[] = [];
      for (const e of neighbours.entries()) {
        if (e.lladdr !== undefined) out.push({ ip: e.key, mac: e.lladdr, state: e.state, expiresAt: e.expiresAt, static: e.state === "permanent" });
      }
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
      return {
        cancel: () => {
          pr.done = true;
          if (pr.timer !== undefined) clock.cancel(pr.timer);
          probes.delete(pr);
        },
      };
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
      return {
        cancel: () => {
          if (timer !== undefined) clock.cancel(timer);
        },
      };
    },
    counters() {
      const own = counters.snapshot();
      const cache = neighbours.counters();
      return { ...own, ...cache, drops: { ...own.drops, ...cache.drops } };
    },
  };
  return layer;
}
