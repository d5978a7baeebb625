// Impairments of one direction of a simulated wire, driven only by the injected Clock and Rng.
// A channel takes frames in, applies (in this order) link state, offload policy, MTU, loss
// (independent, and bursty per the Gilbert-Elliott model), corruption,
// duplication, rate limit with a bounded FIFO (tail drop), then delay + jitter (order kept)
// or reordering (held back outside the FIFO), and delivers them from Clock timers, never
// synchronously, so a receive handler that replies cannot recurse into the sender.
//
// Offload policy: a "wire" channel (links, switch ports) offers no offloads by default. A frame
// with csumBlank or gsoSize reaching it is dropped and counted (offloadDrops): completing
// checksums and segmenting belong to the sender or its device. With completeChecksums (the
// end offers txChecksum) the channel completes csumBlank checksums on entry, as a NIC does on
// transmit, so the wire carries correct checksums. Offload metadata never crosses a wire,
// except with checksumUnnecessary (a veth-like wire, Linux's CHECKSUM_UNNECESSARY): csumBlank
// frames cross as they are (their checksum field holds only the pseudo-header sum, as a capture
// of a real veth shows) and every frame is delivered marked dataValidated, so neither end pays
// for checksums; a frame the channel corrupts loses the mark, and the receiver's check drops it.
// A "pass-through" channel (withImpairments around a device) keeps the metadata, except that a
// corrupted frame loses dataValidated so the receiver checks it.
import type { Clock, Rng } from "../time.ts";
import { type DeviceCounters, type Frame, type FrameOffload, type NetDevice, withoutRelease } from "./types.ts";
import { completeChecksum } from "./checksum-offload.ts";
import { markCongestionExperienced } from "./ecn.ts";
import { type QueueDiscipline, type QueueDisciplineSpec, type QueueStatsSnapshot, type QueuedItem, createQueueDiscipline } from "./qdisc/index.ts";
import { NetlabError } from "../error.ts";

export { markCongestionExperienced };

/** Impairments of one direction. Probabilities are in [0, 1]; times in ms. */
export interface ImpairmentOptions {
  /** Fixed one-way latency. */
  readonly delayMs?: number;
  /** Uniform variation in [-jitterMs, +jitterMs] added to delayMs (clamped at 0); FIFO order is kept. */
  readonly jitterMs?: number;
  /** Probability that a frame is dropped. */
  readonly loss?: number;
  /** Bursty loss (Gilbert-Elliott): a two-state chain stepped once per frame; frames are lost with
   * probability lossInBad (default 1) while in the bad state. */
  readonly burstLoss?: BurstLossOptions;
  /** Probability that a frame is delivered twice (the copy gets its own delay). */
  readonly duplicate?: number;
  /** Probability that a frame is held back reorderDelayMs outside the FIFO, letting later frames pass. */
  readonly reorder?: number;
  /** Extra hold-back of a reordered frame (default max(1, delayMs)). */
  readonly reorderDelayMs?: number;
  /** Probability that one random bit of the frame is flipped. */
  readonly corrupt?: number;
  /** Line rate in bit/s; each frame occupies the line for its serialization time (0 = unlimited). */
  readonly rateBitsPerSecond?: number;
  /** Frames waiting for or in serialization before tail drop (with a rate limit; default 1000). */
  readonly queueLimitFrames?: number;
  /** With a rate limit: an ECN-capable IPv4 packet (ECT(0) or ECT(1), RFC 3168 §5) that finds at least
   * this many frames queued is marked CE instead of passing unmarked (a step marking threshold, like
   * DCTCP's K on a switch); packets that are not ECN-capable are only tail-dropped (default: no marking). */
  readonly ecnMarkFrames?: number;
  /** IP MTU of the wire: frames longer than mtu + 14 (+ 4 with an 802.1Q tag) are dropped. */
  readonly mtu?: number;
  /** With a rate limit: the queue discipline frames wait in (default: drop-tail of queueLimitFrames
   * packets with the ecnMarkFrames threshold; giving both queue and those two is a misuse). */
  readonly queue?: QueueDisciplineSpec;
}

/** Gilbert-Elliott loss: mean burst length 1/leaveBad frames, long-run loss enterBad/(enterBad+leaveBad)·lossInBad. */
export interface BurstLossOptions {
  /** Probability per frame of going from the good to the bad state. */
  readonly enterBad: number;
  /** Probability per frame of going from the bad back to the good state. */
  readonly leaveBad: number;
  /** Loss probability in the bad state (default 1). */
  readonly lossInBad?: number;
}

/** What a channel did, counted per frame. */
export interface ImpairmentStats {
  offered: number;
  offeredBytes: number;
  delivered: number;
  deliveredBytes: number;
  /** Lost to `loss` or `burstLoss`. */
  lost: number;
  /** Of `lost`, frames lost in a burst. */
  burstLost: number;
  /** Dropped because the link was down. */
  linkDownDrops: number;
  duplicated: number;
  corrupted: number;
  reordered: number;
  mtuDrops: number;
  queueDrops: number;
  /** ECN-capable IPv4 packets marked CE at the ecnMarkFrames threshold. */
  ceMarked: number;
  offloadDrops: number;
  /** csumBlank frames whose checksum the wire completed. */
  checksumsCompleted: number;
  /** Largest number of frames queued behind the rate limiter. */
  maxQueueFrames: number;
  /** Sum, min and max of (delivery time - offer time) over delivered frames. */
  latencySumMs: number;
  latencyMinMs: number;
  latencyMaxMs: number;
}

/** One direction of a wire. */
export interface ImpairedChannel {
  /** Offers a frame; the channel owns frame.data from now on. */
  offer(frame: Frame): void;
  readonly stats: Readonly<ImpairmentStats>;
  /** Frames accepted but not yet delivered. */
  inFlight(): number;
  /** Statistics of the rate limiter's queue discipline (undefined without a rate limit). */
  queueStats(): QueueStatsSnapshot | undefined;
  /** Takes the link down (frames offered while down are dropped and counted; frames already on
   * the wire still arrive) or back up. */
  setLinkUp(up: boolean): void;
  isLinkUp(): boolean;
}

/** Dependencies of channels, links, switches. */
export interface LinkDeps {
  readonly clock: Clock;
  readonly rng: Rng;
}

const ETHERNET_HEADER_LEN = 14;
const VLAN_TAG_LEN = 4;
const ETHERTYPE_VLAN = 0x8100;
const DEFAULT_QUEUE_LIMIT_FRAMES = 1000;

/** Fresh zeroed stats. */
export function emptyImpairmentStats(): ImpairmentStats {
  return {
    offered: 0,
    offeredBytes: 0,
    delivered: 0,
    deliveredBytes: 0,
    lost: 0,
    burstLost: 0,
    linkDownDrops: 0,
    duplicated: 0,
    corrupted: 0,
    reordered: 0,
    mtuDrops: 0,
    queueDrops: 0,
    ceMarked: 0,
    offloadDrops: 0,
    checksumsCompleted: 0,
    maxQueueFrames: 0,
    latencySumMs: 0,
    latencyMinMs: Infinity,
    latencyMaxMs: 0,
  };
}

/** Largest Ethernet frame (without FCS) a wire with IP MTU `mtu` carries, given the frame's tag. */
export function maxFrameLength(mtu: number, frame: Uint8Array): number {
  const tagged = frame.length >= ETHERNET_HEADER_LEN && ((frame[12]! << 8) | frame[13]!) === ETHERTYPE_VLAN;
  return mtu + ETHERNET_HEADER_LEN + (tagged ? VLAN_TAG_LEN : 0);
}

interface Pending {
  at: number;
  offeredAt: number;
  frame: Frame;
}

/** A frame in the rate limiter's queue discipline. */
interface Queued extends QueuedItem {
  readonly frame: Frame;
}

/** How a channel treats offload metadata. */
export interface ChannelBehaviour {
  /** "wire" (default) drops offload frames it cannot serve and strips metadata; "pass-through" keeps it. */
  readonly mode?: "wire" | "pass-through";
  /** Wire mode: complete the checksum of csumBlank frames instead of dropping them. */
  readonly completeChecksums?: boolean;
  /** Wire mode, veth-like: pass csumBlank frames without completing them and deliver every
   * frame marked dataValidated (Linux veth's CHECKSUM_UNNECESSARY). */
  readonly checksumUnnecessary?: boolean;
}

/** What a veth-like channel marks its frames with. */
const VALIDATED: FrameOffload = Object.freeze({ dataValidated: true });

/** Creates one direction of a wire delivering to `deliver`. */
export function createImpairedChannel(
  deps: LinkDeps,
  options: ImpairmentOptions,
  deliver: (frame: Frame) => void,
  behaviour: ChannelBehaviour = {},
): ImpairedChannel {
  const mode = behaviour.mode ?? "wire";
  const completeChecksums = behaviour.completeChecksums ?? false;
  const checksumUnnecessary = mode === "wire" && behaviour.checksumUnnecessary === true;
  const { clock, rng } = deps;
  const delayMs = options.delayMs ?? 0;
  const jitterMs = options.jitterMs ?? 0;
  const loss = options.loss ?? 0;
  const burst = options.burstLoss;
  let bad = false;
  let up = true;
  const duplicate = options.duplicate ?? 0;
  const reorder = options.reorder ?? 0;
  const reorderDelayMs = options.reorderDelayMs ?? Math.max(1, delayMs);
  const corrupt = options.corrupt ?? 0;
  const rate = options.rateBitsPerSecond ?? 0;
  const mtu = options.mtu ?? Infinity;
  checkOptions(options);
  const queue: QueueDiscipline<Queued> | undefined =
    rate > 0
      ? createQueueDiscipline<Queued>(
          options.queue ?? {
            kind: "drop-tail",
            limitPackets: options.queueLimitFrames ?? DEFAULT_QUEUE_LIMIT_FRAMES,
            ...(options.ecnMarkFrames === undefined ? {} : { ecnMarkPackets: options.ecnMarkFrames }),
          },
          { rng },
        )
      : undefined;
  // A discipline that serves FIFO and decides everything at enqueue (drop-tail, RED) lets the
  // channel compute a frame's departure when it arrives and dequeue it lazily once that time has
  // passed (no timer per frame); the others (CoDel, FQ-CoDel) are served by a transmit timer that
  // dequeues the next frame whenever the line falls idle.
  const fifoAtEnqueue = queue?.decidesAtEnqueue ?? true;
  let transmitting = false;

  const stats = emptyImpairmentStats();
  let fifo: (Pending | undefined)[] = [];
  let head = 0;
  let timer: number | undefined;
  let timerAt = Infinity;
  let lastFifoAt = -Infinity;
  let busyUntil = -Infinity;
  let departures: number[] = [];
  let depHead = 0;
  let heldBack = 0;

  const hand = (p: Pending): void => {
    const latency = clock.now() - p.offeredAt;
    stats.delivered++;
    stats.deliveredBytes += p.frame.data.length;
    stats.latencySumMs += latency;
    if (latency < stats.latencyMinMs) stats.latencyMinMs = latency;
    if (latency > stats.latencyMaxMs) stats.latencyMaxMs = latency;
    deliver(p.frame);
  };

  const arm = (): void => {
    const next = fifo[head];
    if (next === undefined) return;
    if (timer !== undefined && timerAt <= next.at) return;
    if (timer !== undefined) clock.cancel(timer);
    timerAt = next.at;
    timer = clock.setTimer(next.at, fire);
  };

  const fire = (): void => {
    timer = undefined;
    timerAt = Infinity;
    const now = clock.now();
    for (;;) {
      const p = fifo[head];
      if (p === undefined || p.at > now) break;
      fifo[head++] = undefined;
      hand(p);
    }
    if (head === fifo.length) {
      fifo = [];
      head = 0;
    } else if (head > 1024 && head * 2 > fifo.length) {
      fifo = fifo.slice(head);
      head = 0;
    }
    arm();
  };

  /** Lazily dequeues, at their departure times, the frames whose last bit has left. */
  const queueDepth = (now: number): number => {
    while (depHead < departures.length && departures[depHead]! <= now) queue!.dequeue(departures[depHead++]!);
    if (depHead > 1024 && depHead * 2 > departures.length) {
      departures = departures.slice(depHead);
      depHead = 0;
    }
    return departures.length - depHead;
  };

  /** A frame's trip after its last bit left at `departure`: delay and jitter, or reordering. */
  const propagate = (frame: Frame, offeredAt: number, departure: number): void => {
    let latency = delayMs;
    if (jitterMs > 0) latency = Math.max(0, latency + (rng.nextFloat() * 2 - 1) * jitterMs);
    if (reorder > 0 && rng.nextFloat() < reorder) {
      stats.reordered++;
      heldBack++;
      const p: Pending = { at: departure + latency + reorderDelayMs, offeredAt, frame };
      clock.setTimer(p.at, () => {
        heldBack--;
        hand(p);
      });
      return;
    }
    const at = Math.max(departure + latency, lastFifoAt);
    lastFifoAt = at;
    fifo.push({ at, offeredAt, frame });
    arm();
  };

  const syncQueueCounters = (q: QueueDiscipline<Queued>): void => {
    stats.queueDrops = q.counters.dropped;
    stats.ceMarked = q.counters.marked;
  };

  /** Event-driven service: the line takes the next frame the discipline gives at `now`. */
  const transmitNext = (q: QueueDiscipline<Queued>, now: number): void => {
    const item = q.dequeue(now);
    syncQueueCounters(q);
    if (item === undefined) {
      transmitting = false;
      return;
    }
    transmitting = true;
    const departure = now + (item.data.length * 8 * 1000) / rate;
    const frame = item.data === item.frame.data ? item.frame : { ...item.frame, data: item.data };
    clock.setTimer(departure, () => {
      propagate(frame, item.enqueuedAt, departure);
      transmitNext(q, departure);
    });
  };

  const schedule = (offered: Frame, offeredAt: number): void => {
    const now = clock.now();
    if (queue === undefined) return propagate(offered, offeredAt, now);
    const item: Queued = { data: offered.data, enqueuedAt: now, frame: offered };
    if (!fifoAtEnqueue) {
      queue.enqueue(item, now);
      syncQueueCounters(queue);
      const backlog = queue.packets + (transmitting ? 1 : 0);
      if (backlog > stats.maxQueueFrames) stats.maxQueueFrames = backlog;
      if (!transmitting) transmitNext(queue, now);
      return;
    }
    const depth = queueDepth(now);
    const accepted = queue.enqueue(item, now);
    syncQueueCounters(queue);
    if (!accepted) return;
    const frame = item.data === offered.data ? offered : { ...offered, data: item.data };
    const departure = Math.max(now, busyUntil) + (frame.data.length * 8 * 1000) / rate;
    busyUntil = departure;
    departures.push(departure);
    if (depth + 1 > stats.maxQueueFrames) stats.maxQueueFrames = depth + 1;
    propagate(frame, offeredAt, departure);
  };

  const offer = (offered: Frame): void => {
    // The channel keeps the frame (and may deliver it twice): never pass its release on.
    const frame = withoutRelease(offered);
    const data = frame.data;
    stats.offered++;
    stats.offeredBytes += data.length;
    if (!up) {
      stats.linkDownDrops++;
      return;
    }
    const off = frame.offload;
    if (mode === "wire" && off !== undefined && (off.csumBlank === true || (off.gsoSize ?? 0) > 0)) {
      if ((off.gsoSize ?? 0) > 0) {
        stats.offloadDrops++;
        return;
      }
      if (!checksumUnnecessary) {
        if (!completeChecksums || !completeChecksum(data).ok) {
          stats.offloadDrops++;
          return;
        }
        stats.checksumsCompleted++;
      }
    }
    if (data.length > maxFrameLength(mtu, data)) {
      stats.mtuDrops++;
      return;
    }
    if (loss > 0 && rng.nextFloat() < loss) {
      stats.lost++;
      return;
    }
    if (burst !== undefined) {
      bad = bad ? rng.nextFloat() >= burst.leaveBad : rng.nextFloat() < burst.enterBad;
      if (bad && (burst.lossInBad === undefined || burst.lossInBad >= 1 || rng.nextFloat() < burst.lossInBad)) {
        stats.lost++;
        stats.burstLost++;
        return;
      }
    }
    let out: Frame = checksumUnnecessary ? { data, offload: VALIDATED } : mode === "wire" && off !== undefined ? { data } : frame;
    if (corrupt > 0 && data.length > 0 && rng.nextFloat() < corrupt) {
      stats.corrupted++;
      const copy = data.slice();
      const bit = rng.nextInt(copy.length * 8);
      copy[bit >>> 3] = copy[bit >>> 3]! ^ (1 << (bit & 7));
      const rest = out.offload === undefined ? undefined : { ...out.offload, dataValidated: false };
      out = rest === undefined ? { data: copy } : { data: copy, offload: rest };
    }
    const now = clock.now();
    if (duplicate > 0 && rng.nextFloat() < duplicate) {
      stats.duplicated++;
      schedule(out, now);
      const copy: Frame = out.offload === undefined ? { data: out.data.slice() } : { data: out.data.slice(), offload: out.offload };
      schedule(copy, now);
      return;
    }
    schedule(out, now);
  };

  return {
    offer,
    stats,
    inFlight: () => fifo.length - head + heldBack + (fifoAtEnqueue ? 0 : (queue?.packets ?? 0) + (transmitting ? 1 : 0)),
    queueStats() {
      if (queue === undefined) return undefined;
      if (fifoAtEnqueue) queueDepth(clock.now());
      return queue.stats();
    },
    setLinkUp(value) {
      up = value;
    },
    isLinkUp: () => up,
  };
}

function checkOptions(o: ImpairmentOptions): void {
  for (const key of ["loss", "duplicate", "reorder", "corrupt"] as const) {
    const v = o[key];
    if (v !== undefined && !(v >= 0 && v <= 1)) throw misuse(`impairment ${key} must be a probability in [0, 1], got ${v}`);
  }
  for (const key of ["delayMs", "jitterMs", "reorderDelayMs", "rateBitsPerSecond", "mtu"] as const) {
    const v = o[key];
    if (v !== undefined && !(v >= 0)) throw misuse(`impairment ${key} must be >= 0, got ${v}`);
  }
  if (o.burstLoss !== undefined) {
    for (const key of ["enterBad", "leaveBad", "lossInBad"] as const) {
      const v = o.burstLoss[key];
      if ((v !== undefined || key !== "lossInBad") && !(v !== undefined && v >= 0 && v <= 1))
        throw misuse(`burstLoss.${key} must be a probability in [0, 1], got ${v}`);
    }
  }
  if (o.queueLimitFrames !== undefined && !(Number.isInteger(o.queueLimitFrames) && o.queueLimitFrames >= 1)) {
    throw misuse(`queueLimitFrames must be an integer >= 1, got ${o.queueLimitFrames}`);
  }
  if (o.ecnMarkFrames !== undefined && !(Number.isInteger(o.ecnMarkFrames) && o.ecnMarkFrames >= 0)) {
    throw misuse(`ecnMarkFrames must be an integer >= 0, got ${o.ecnMarkFrames}`);
  }
  if (o.queue !== undefined && (o.queueLimitFrames !== undefined || o.ecnMarkFrames !== undefined)) {
    throw misuse("give either queue or queueLimitFrames/ecnMarkFrames, not both");
  }
}

/** An Error with a stable code for programmer misuse of link factories. */
export function misuse(message: string): Error {
  const e = new NetlabError("ERR_NETLAB_LINK_OPTIONS", message);
  return e;
}

/** Impairments of a wrapped device, per direction. */
export interface DeviceImpairments {
  /** Applied to frames the user sends, before the inner device gets them. */
  readonly tx?: ImpairmentOptions;
  /** Applied to frames the inner device receives, before the user's handler gets them. */
  readonly rx?: ImpairmentOptions;
}

/** A NetDevice wrapped with impairments, exposing both directions' stats. */
export interface ImpairedDevice extends NetDevice {
  readonly txStats: Readonly<ImpairmentStats>;
  readonly rxStats: Readonly<ImpairmentStats>;
}

/**
 * Wraps any NetDevice with per-direction impairments. Offload metadata passes through
 * (the inner device keeps its offloads); only a wire channel strips it.
 */
export function withImpairments(device: NetDevice, deps: LinkDeps, impairments: DeviceImpairments): ImpairedDevice {
  let handler: (frame: Frame) => void = () => {};
  const tx = createImpairedChannel(deps, impairments.tx ?? {}, (f) => device.send(f), { mode: "pass-through" });
  const rx = createImpairedChannel(deps, impairments.rx ?? {}, (f) => handler(f), { mode: "pass-through" });
  device.onReceive((f) => rx.offer(f));
  return {
    mac: device.mac,
    mtu: device.mtu,
    offloads: device.offloads,
    send: (f) => tx.offer(f),
    onReceive(h) {
      handler = h;
    },
    txStats: tx.stats,
    rxStats: rx.stats,
  };
}

/** Sums the counters of a device's two directions (tx = frames it sent, rx = frames it received). */
export function countersOf(txStats: Readonly<ImpairmentStats>, rxStats: Readonly<ImpairmentStats>): DeviceCounters {
  const dropped = (s: Readonly<ImpairmentStats>): number => s.lost + s.linkDownDrops + s.mtuDrops + s.queueDrops + s.offloadDrops;
  return {
    txFrames: txStats.offered,
    txBytes: txStats.offeredBytes,
    rxFrames: rxStats.delivered,
    rxBytes: rxStats.deliveredBytes,
    dropped: dropped(txStats) + dropped(rxStats),
  };
}
