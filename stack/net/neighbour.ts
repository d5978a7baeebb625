// A neighbour cache with Neighbour Unreachability Detection, independent of the resolution
// protocol: RFC 4861 §7.3's states (INCOMPLETE, REACHABLE, STALE, DELAY, PROBE) applied to any
// link, as Linux's net/core/neighbour.c applies them to ARP and NDP alike, plus FAILED
// (negative) entries and PERMANENT ones. ARP (arp.ts) uses it; NDP can: the protocol supplies
// how to solicit and how to transmit, and reports what it heard through update().
// The transmit path is resolve(key) (allocation-free) and, when that gives no address, enqueue().
//
// Limits (all options, all counted): packets queued per unresolved destination; resolutions in
// progress (when full, the oldest one is abandoned for the new one, so a flood of unresolvable
// destinations cannot lock out a new legitimate one); FAILED entries kept; resolved entries
// (when full, the oldest not known to be reachable goes first). A lock time refuses a second
// link-address change right after a change or a confirmation (Linux's locktime); unsolicited
// claims never make an entry REACHABLE, so a spoofed one is verified by unicast probes and
// replaced through a broadcast re-probe when the traffic sent to it makes no progress.
// createNeighbourCache(deps, options) -> NeighbourCache.
import { type Result, ok, err } from "../result.ts";
import type { Clock, TimerId } from "../time.ts";
import { createCounters } from "./counters.ts";
import type { LayerCounters } from "./types.ts";

/** NUD states (RFC 4861 §7.3.2) plus Linux's FAILED and PERMANENT. */
export type NudState = "incomplete" | "reachable" | "stale" | "delay" | "probe" | "failed" | "permanent";

/** Why enqueue() did not queue a packet. */
export type NeighbourDropReason = "queue-full" | "too-many-pending" | "failed-hold";

/** What update() did with the link address it was given. */
export type NeighbourUpdateResult = "created" | "resolved" | "confirmed" | "changed" | "unchanged" | "lock-refused" | "ignored";

export interface NeighbourOptions {
  /** BaseReachableTime (default 30 000 ms, RFC 4861 §10); each entry's is 0.5–1.5 times it. */
  readonly reachableMs?: number;
  /** DELAY_FIRST_PROBE_TIME: wait for an upper-layer confirmation before probing (default 5000 ms). */
  readonly delayFirstProbeMs?: number;
  /** RetransTimer: time between solicitations (default 1000 ms). */
  readonly retransMs?: number;
  /** Broadcast/multicast solicitations before resolution fails (default 3, MAX_MULTICAST_SOLICIT). */
  readonly multicastSolicits?: number;
  /** Unicast probes of a known address before it is re-resolved by broadcast (default 3, MAX_UNICAST_SOLICIT). */
  readonly unicastSolicits?: number;
  /** Lock time: a link-address change is refused this soon after the entry last changed or was confirmed (default 1000 ms, Linux locktime). */
  readonly lockTimeMs?: number;
  /** An entry neither used nor confirmed for this long is removed (default 60 000 ms, Linux gc_staletime). */
  readonly staleTimeoutMs?: number;
  /** After resolution failed, packets to the destination are dropped at once for this long (default 3000 ms; FreeBSD holds 20 s). */
  readonly failedHoldMs?: number;
  /** Most resolved and permanent entries (default 512). */
  readonly maxEntries?: number;
  /** Most resolutions in progress; a new one abandons the oldest (default 256). */
  readonly maxIncomplete?: number;
  /** Most FAILED entries kept; the oldest is forgotten (default 512). */
  readonly maxFailed?: number;
  /** Packets queued per unresolved destination; more are dropped (default 48). */
  readonly queuePerDestination?: number;
}

export interface NeighbourDeps<K, L, P> {
  readonly clock: Clock;
  /** Sends a solicitation for key: unicast to `to` (a probe of a known address), or broadcast/multicast when undefined. */
  solicit(key: K, to: L | undefined): void;
  /** Sends a packet that waited for the resolution of its destination. */
  transmit(lladdr: L, packet: P): void;
  /** Receives the packets dropped because the resolution of key failed or was abandoned. */
  onFailed?(key: K, packets: readonly P[]): void;
  /** Told when a known address moves to another link address (a failover, or a spoofer). */
  onChange?(key: K, from: L, to: L): void;
  /** A number in [0, 1) per key that spreads reachable times (RFC 4861 §6.3.2); default 0.5 for all. */
  jitter?(key: K): number;
}

/** One entry as reported by entries(). */
export interface NeighbourEntry<K, L> {
  readonly key: K;
  readonly state: NudState;
  /** Undefined while INCOMPLETE or FAILED. */
  readonly lladdr: L | undefined;
  /** When the entry is removed if nothing uses or confirms it (Infinity for permanent ones). */
  readonly expiresAt: number;
}

/** How update() should treat what was heard. */
export interface NeighbourUpdate {
  /** The packet answers a solicitation and came addressed to us (an ARP reply unicast to us, an NA with S set). */
  readonly reply: boolean;
  /** Create an entry when there is none (e.g. the sender of a request for our address). */
  readonly create: boolean;
}

/** The cache; resolve()/enqueue() are the transmit path, update() and confirm() the inputs. */
export interface NeighbourCache<K, L, P> {
  /** The link address to send to key now (NUD bookkeeping included), or undefined: then enqueue() the packet. Allocation-free. */
  resolve(key: K): L | undefined;
  /** Queues a packet for key while it is resolved (starting the resolution), or says why it was dropped. */
  enqueue(key: K, packet: P): Result<void, NeighbourDropReason>;
  /** Applies a link address heard from key (RFC 4861 §7.2.5, Linux neigh_update). */
  update(key: K, lladdr: L, how: NeighbourUpdate): NeighbourUpdateResult;
  /** Upper-layer reachability confirmation (RFC 4861 §7.3.1), e.g. TCP forward progress. */
  confirm(key: K): void;
  /** The link address of key in any usable state (not INCOMPLETE or FAILED). */
  lookup(key: K): L | undefined;
  state(key: K): NudState | undefined;
  /** Adds a permanent entry (never changed from the wire, never expires). */
  addPermanent(key: K, lladdr: L): void;
  /** Forgets an entry; its queued packets are dropped silently. */
  remove(key: K): void;
  entries(): NeighbourEntry<K, L>[];
  counters(): LayerCounters;
}

interface Entry<L, P> {
  state: NudState;
  lladdr: L | undefined;
  /** Last change of state or link address by update() (Linux neigh->updated). */
  updatedAt: number;
  /** Last reachability confirmation. */
  confirmedAt: number;
  usedAt: number;
  reachableUntil: number;
  /** Solicitations sent in INCOMPLETE or PROBE. */
  sent: number;
  timer: TimerId | undefined;
  queue: P[] | undefined;
  failedAt: number;
}

/** Creates a neighbour cache. */
export function createNeighbourCache<K extends string | number, L, P>(deps: NeighbourDeps<K, L, P>, options: NeighbourOptions = {}): NeighbourCache<K, L, P> {
  const { clock } = deps;
  const reachableMs = options.reachableMs ?? 30_000;
  const delayFirstProbe = options.delayFirstProbeMs ?? 5000;
  const retrans = options.retransMs ?? 1000;
  const multicastSolicits = Math.max(1, options.multicastSolicits ?? 3);
  const unicastSolicits = options.unicastSolicits ?? 3;
  const lockTime = options.lockTimeMs ?? 1000;
  const staleTimeout = options.staleTimeoutMs ?? 60_000;
  const failedHold = options.failedHoldMs ?? 3000;
  const maxEntries = options.maxEntries ?? 512;
  const maxIncomplete = options.maxIncomplete ?? 256;
  const maxFailed = options.maxFailed ?? 512;
  const queueLimit = options.queuePerDestination ?? 48;
  const table = new Map<K, Entry<L, P>>();
  // Insertion-ordered keys of the entries in INCOMPLETE and in FAILED: the oldest goes first.
  const incomplete = new Set<K>();
  const failed = new Set<K>();
  let resolvedCount = 0;
  const counters = createCounters([
    "resolved",
    "queued",
    "evicted",
    "pendingEvicted",
    "pendingDrops",
    "failedEntries",
    "unicastProbesSent",
    "reachabilityConfirmed",
    "addressChanges",
    "lockRefused",
  ] as const);
  const c = counters.c;

  const reachableFor = (key: K): number => reachableMs * (0.5 + (deps.jitter?.(key) ?? 0.5));
  const valid = (s: NudState): boolean => s === "reachable" || s === "stale" || s === "delay" || s === "probe" || s === "permanent";
  const removalTime = (e: Entry<L, P>): number => (e.state === "permanent" ? Infinity : Math.max(e.usedAt, e.confirmedAt, e.updatedAt) + staleTimeout);
  /** REACHABLE ends without a timer: it reads as STALE once reachableUntil passed. */
  const current = (e: Entry<L, P>, now: number): NudState => (e.state === "reachable" && now >= e.reachableUntil ? "stale" : e.state);

  const stopTimer = (e: Entry<L, P>): void => {
    if (e.timer !== undefined) clock.cancel(e.timer);
    e.timer = undefined;
  };

  const forget = (key: K, e: Entry<L, P>): void => {
    stopTimer(e);
    table.delete(key);
    if (e.state === "incomplete") incomplete.delete(key);
    else if (e.state === "failed") failed.delete(key);
    else resolvedCount--;
  };

  /** Leaves INCOMPLETE/FAILED bookkeeping for a resolved state. */
  const becomeResolved = (key: K, e: Entry<L, P>): void => {
    if (e.state === "incomplete") incomplete.delete(key);
    else if (e.state === "failed") failed.delete(key);
    else return;
    resolvedCount++;
    makeRoomForResolved(key);
  };

  const makeRoomForResolved = (keep: K): void => {
    if (resolvedCount <= maxEntries) return;
    const now = clock.now();
    let victim: K | undefined;
    let fallback: K | undefined;
    for (const [k, e] of table) {
      if (k === keep || !valid(e.state) || e.state === "permanent") continue;
      fallback ??= k;
      if (current(e, now) !== "reachable") {
        victim = k;
        break;
      }
    }
    victim ??= fallback;
    if (victim === undefined) return;
    forget(victim, table.get(victim)!);
    c.evicted++;
  };

  const failResolution = (key: K, e: Entry<L, P>, abandoned: boolean): void => {
    stopTimer(e);
    const packets = e.queue ?? [];
    incomplete.delete(key);
    e.state = "failed";
    e.queue = undefined;
    e.lladdr = undefined;
    e.failedAt = clock.now();
    failed.add(key);
    c.failedEntries++;
    c.pendingDrops += packets.length;
    if (abandoned) c.pendingEvicted++;
    for (let i = 0; i < packets.length; i++) counters.drop(abandoned ? "pending-evicted" : "resolution-failed");
    while (failed.size > maxFailed) {
      const oldest = failed.values().next().value as K;
      forget(oldest, table.get(oldest)!);
    }
    deps.onFailed?.(key, packets);
  };

  const solicitTimer = (key: K): void => {
    const e = table.get(key);
    if (e === undefined) return;
    e.timer = undefined;
    if (e.state === "incomplete") {
      if (e.sent < multicastSolicits) {
        e.sent++;
        deps.solicit(key, undefined);
        e.timer = clock.setTimer(clock.now() + retrans, () => solicitTimer(key));
      } else {
        failResolution(key, e, false);
      }
    } else if (e.state === "delay") {
      // RFC 4861 §7.3.3: no confirmation within DELAY_FIRST_PROBE_TIME: probe the cached address.
      if (clock.now() - e.confirmedAt < delayFirstProbe) {
        toReachable(e, key, clock.now());
        return;
      }
      e.state = "probe";
      e.sent = 0;
      probe(key, e);
    } else if (e.state === "probe") {
      probe(key, e);
    }
  };

  const probe = (key: K, e: Entry<L, P>): void => {
    if (e.sent < unicastSolicits && e.lladdr !== undefined) {
      e.sent++;
      c.unicastProbesSent++;
      deps.solicit(key, e.lladdr);
      e.timer = clock.setTimer(clock.now() + retrans, () => solicitTimer(key));
      return;
    }
    // The cached address did not answer: resolve afresh by broadcast (Linux mcast_reprobes),
    // holding new packets rather than sending them to an address that may be a spoofer's.
    resolvedCount--;
    startIncomplete(key, e);
  };

  const toReachable = (e: Entry<L, P>, key: K, now: number): void => {
    stopTimer(e);
    e.state = "reachable";
    e.confirmedAt = now;
    e.reachableUntil = now + reachableFor(key);
  };

  /** Puts e (new, FAILED or leaving PROBE) into INCOMPLETE and sends the first solicitation. */
  const startIncomplete = (key: K, e: Entry<L, P>): void => {
    if (e.state === "failed") failed.delete(key);
    stopTimer(e);
    e.state = "incomplete";
    e.lladdr = undefined;
    e.sent = 1;
    e.queue ??= [];
    incomplete.add(key);
    // Abandon the oldest resolution rather than refuse this one: under a flood of
    // destinations that never answer, each still gets maxIncomplete/rate of time.
    while (incomplete.size > maxIncomplete) {
      const oldest = incomplete.values().next().value as K;
      if (oldest === key) break;
      failResolution(oldest, table.get(oldest)!, true);
    }
    deps.solicit(key, undefined);
    e.timer = clock.setTimer(clock.now() + retrans, () => solicitTimer(key));
  };

  const enqueue = (e: Entry<L, P>, packet: P): Result<void, NeighbourDropReason> => {
    const q = e.queue!;
    if (q.length >= queueLimit) {
      c.pendingDrops++;
      counters.drop("queue-full");
      return err("queue-full");
    }
    q.push(packet);
    c.queued++;
    return ok(undefined);
  };

  const newEntry = (state: NudState, lladdr: L | undefined, now: number): Entry<L, P> => ({
    state,
    lladdr,
    updatedAt: now,
    confirmedAt: -Infinity,
    usedAt: now,
    reachableUntil: -Infinity,
    sent: 0,
    timer: undefined,
    queue: undefined,
    failedAt: -Infinity,
  });

  /** The entry of key, after removing it when it has gone unused past staleTimeout. */
  const live = (key: K, now: number): Entry<L, P> | undefined => {
    const e = table.get(key);
    if (e === undefined) return undefined;
    if (valid(e.state) && e.state !== "delay" && e.state !== "probe" && removalTime(e) <= now) {
      forget(key, e);
      return undefined;
    }
    return e;
  };

  return {
    resolve(key) {
      const now = clock.now();
      const e = live(key, now);
      if (e === undefined) return undefined;
      switch (current(e, now)) {
        case "permanent":
        case "reachable":
        case "delay":
        case "probe":
          e.usedAt = now;
          return e.lladdr;
        case "stale":
          // RFC 4861 §7.3.3: the first use of a STALE entry starts DELAY.
          e.usedAt = now;
          e.state = "delay";
          e.timer = clock.setTimer(now + delayFirstProbe, () => solicitTimer(key));
          return e.lladdr;
        default:
          return undefined;
      }
    },

    enqueue(key, packet) {
      const now = clock.now();
      let e = live(key, now);
      if (e !== undefined && valid(e.state)) {
        // resolve() had an address: hand the packet over at once.
        deps.transmit(e.lladdr as L, packet);
        return ok(undefined);
      }
      if (e === undefined) {
        if (maxIncomplete === 0) {
          c.pendingDrops++;
          counters.drop("too-many-pending");
          return err("too-many-pending");
        }
        e = newEntry("incomplete", undefined, now);
        table.set(key, e);
        e.queue = [packet];
        c.queued++;
        startIncomplete(key, e);
        return ok(undefined);
      }
      e.usedAt = now;
      if (e.state === "incomplete") return enqueue(e, packet);
      if (now - e.failedAt < failedHold) {
        c.pendingDrops++;
        counters.drop("failed-hold");
        return err("failed-hold");
      }
      e.queue = [packet];
      c.queued++;
      startIncomplete(key, e);
      return ok(undefined);
    },

    update(key, lladdr, how) {
      const now = clock.now();
      const e = live(key, now);
      if (e === undefined) {
        if (!how.create) return "ignored";
        // RFC 4861 §7.2.3: an entry created from a solicitation is STALE.
        table.set(key, newEntry("stale", lladdr, now));
        resolvedCount++;
        makeRoomForResolved(key);
        return "created";
      }
      const state = current(e, now);
      if (state === "permanent") return "ignored";
      if (state === "incomplete" || state === "failed") {
        const queue = e.queue ?? [];
        becomeResolved(key, e);
        stopTimer(e);
        e.lladdr = lladdr;
        e.queue = undefined;
        e.updatedAt = now;
        if (how.reply && state === "incomplete") toReachable(e, key, now);
        else e.state = "stale";
        c.resolved++;
        for (const p of queue) deps.transmit(lladdr, p);
        return "resolved";
      }
      if (lladdr === e.lladdr) {
        // Linux neigh_update: the same address heard again leaves the state alone unless it is
        // a reply to us, which confirms reachability.
        if (!how.reply) return "unchanged";
        if (state !== "reachable") e.updatedAt = now;
        toReachable(e, key, now);
        return "confirmed";
      }
      // A different address for a known neighbour. Linux refuses it within locktime of the
      // entry's last update; here a recent confirmation (traffic to the cached address is
      // making progress) locks it too, so a spoofer cannot interrupt a working flow.
      if (now - Math.max(e.updatedAt, e.confirmedAt) < lockTime) {
        c.lockRefused++;
        return "lock-refused";
      }
      const from = e.lladdr as L;
      stopTimer(e);
      e.lladdr = lladdr;
      // Not REACHABLE even for a reply: we did not ask this address, so it must prove itself
      // (RFC 4861 §7.2.5: an unsolicited override makes the entry STALE).
      e.state = "stale";
      e.updatedAt = now;
      e.confirmedAt = -Infinity;
      c.addressChanges++;
      deps.onChange?.(key, from, lladdr);
      return "changed";
    },

    confirm(key) {
      const e = table.get(key);
      if (e === undefined || !valid(e.state) || e.state === "permanent") return;
      const now = clock.now();
      if (current(e, now) !== "reachable") c.reachabilityConfirmed++;
      toReachable(e, key, now);
    },

    lookup(key) {
      const e = live(key, clock.now());
      return e !== undefined && valid(e.state) ? e.lladdr : undefined;
    },

    state(key) {
      const now = clock.now();
      const e = live(key, now);
      return e === undefined ? undefined : current(e, now);
    },

    addPermanent(key, lladdr) {
      const old = table.get(key);
      const queue = old?.queue ?? [];
      if (old !== undefined) forget(key, old);
      const e = newEntry("permanent", lladdr, clock.now());
      table.set(key, e);
      resolvedCount++;
      for (const p of queue) deps.transmit(lladdr, p);
    },

    remove(key) {
      const e = table.get(key);
      if (e !== undefined) forget(key, e);
    },

    entries() {
      const now = clock.now();
      const out: NeighbourEntry<K, L>[] = [];
      for (const [key, e] of table) {
        if (valid(e.state) && removalTime(e) <= now && e.state !== "delay" && e.state !== "probe") continue;
        out.push({ key, state: current(e, now), lladdr: e.lladdr, expiresAt: removalTime(e) });
      }
      return out;
    },

    counters: () => counters.snapshot(),
  };
}
