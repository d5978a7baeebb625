// CoDel (RFC 8289): drops (or, with ECN, CE-marks) at dequeue once the sojourn time of packets
// has stayed above `target` for at least `interval`, then at intervals shrinking as
// interval / sqrt(count) (the control law) until the delay falls below target again.
// The state machine (codelDequeue) works on any packet source, so FQ-CoDel runs one per flow.
import { markCongestionExperienced } from "../ecn.ts";
import { Fifo } from "./fifo.ts";
import { createQueueStats, type QueueStatsRecorder } from "./stats.ts";
import type { CodelSpec, QueueDiscipline, QueuedItem } from "./types.ts";

/** CoDel's parameters (RFC 8289 §4.3-4.4), times in ms. */
export interface CodelParams {
  readonly target: number;
  readonly interval: number;
  readonly maxPacket: number;
  readonly ecn: boolean;
}

/** CoDel's per-queue variables (RFC 8289 §5.2). */
export interface CodelState {
  firstAboveTime: number;
  dropNext: number;
  count: number;
  lastCount: number;
  dropping: boolean;
  /** Scratch: what the last doDequeue() decided. */
  okToDrop: boolean;
}

/** What codelDequeue needs from the queue it controls. */
export interface CodelQueue<T extends QueuedItem> {
  /** Takes the head packet out (undefined when empty). */
  pop(): T | undefined;
  /** Bytes still queued after the pop (the queue's, or the whole discipline's: Linux fq_codel uses the latter). */
  backlogBytes(): number;
  /** Reports a packet CoDel dropped. */
  drop(item: T): void;
  /** Reports a packet CoDel marked CE (item.data already replaced). */
  mark(item: T): void;
}

/** Fresh CoDel variables. */
export function createCodelState(): CodelState {
  return { firstAboveTime: 0, dropNext: 0, count: 0, lastCount: 0, dropping: false, okToDrop: false };
}

/** RFC 8289 §5.5: the time of the next drop. */
export function controlLaw(t: number, count: number, interval: number): number {
  return t + interval / Math.sqrt(count);
}

/** Marks item CE when ECN is on and it is ECN-capable; true when it did. */
function tryMark<T extends QueuedItem>(params: CodelParams, item: T): boolean {
  if (!params.ecn) return false;
  const marked = markCongestionExperienced(item.data);
  if (marked === undefined) return false;
  item.data = marked;
  return true;
}

/** RFC 8289 §5.4 dodequeue(): the head packet; s.okToDrop says whether the delay has been above target for an interval. */
function doDequeue<T extends QueuedItem>(s: CodelState, params: CodelParams, q: CodelQueue<T>, now: number): T | undefined {
  s.okToDrop = false;
  const p = q.pop();
  if (p === undefined) {
    s.firstAboveTime = 0;
    return undefined;
  }
  const sojourn = now - p.enqueuedAt;
  if (sojourn < params.target || q.backlogBytes() <= params.maxPacket) {
    s.firstAboveTime = 0;
  } else if (s.firstAboveTime === 0) {
    s.firstAboveTime = now + params.interval;
  } else if (now >= s.firstAboveTime) {
    s.okToDrop = true;
  }
  return p;
}

/** RFC 8289 §5.5 dequeue: the packet to send (undefined when the queue ran empty). */
export function codelDequeue<T extends QueuedItem>(s: CodelState, params: CodelParams, q: CodelQueue<T>, now: number): T | undefined {
  let p = doDequeue(s, params, q, now);
  if (p === undefined) {
    s.dropping = false;
    return undefined;
  }
  if (s.dropping) {
    if (!s.okToDrop) s.dropping = false;
    while (p !== undefined && now >= s.dropNext && s.dropping) {
      s.count++;
      if (tryMark(params, p)) {
        // Linux codel: a marked packet is sent and ends this round of the drop state.
        q.mark(p);
        s.dropNext = controlLaw(s.dropNext, s.count, params.interval);
        return p;
      }
      q.drop(p);
      p = doDequeue(s, params, q, now);
      if (!s.okToDrop) s.dropping = false;
      else s.dropNext = controlLaw(s.dropNext, s.count, params.interval);
    }
  } else if (s.okToDrop) {
    if (tryMark(params, p)) q.mark(p);
    else {
      q.drop(p);
      p = doDequeue(s, params, q, now);
    }
    s.dropping = true;
    // RFC 8289 §5.5: restart near the previous drop rate if the last drop state was recent.
    const delta = s.count - s.lastCount;
    s.count = 1;
    if (delta > 1 && now - s.dropNext < 16 * params.interval) s.count = delta;
    s.dropNext = controlLaw(now, s.count, params.interval);
    s.lastCount = s.count;
  }
  return p;
}

/** Resolves a spec's CoDel parameters. */
export function codelParams(spec: { targetMs?: number; intervalMs?: number; maxPacketBytes?: number; ecn?: boolean }, ecnDefault: boolean): CodelParams {
  return { target: spec.targetMs ?? 5, interval: spec.intervalMs ?? 100, maxPacket: spec.maxPacketBytes ?? 1514, ecn: spec.ecn ?? ecnDefault };
}

/** Creates a single-queue CoDel discipline with a packet limit (tail drop beyond it). */
export function createCodel<T extends QueuedItem>(spec: Omit<CodelSpec, "kind"> = {}): QueueDiscipline<T> {
  const params = codelParams(spec, false);
  const limit = spec.limitPackets ?? 1000;
  const fifo = new Fifo<T>();
  const state = createCodelState();
  let bytes = 0;
  let clock = 0;
  const stats: QueueStatsRecorder = createQueueStats("codel", spec);
  const source: CodelQueue<T> = {
    pop() {
      const item = fifo.shift();
      if (item !== undefined) bytes -= item.data.length;
      return item;
    },
    backlogBytes: () => bytes,
    drop(item) {
      stats.dropped("codel", item.data.length, clock, fifo.length, bytes);
    },
    mark() {
      stats.marked();
    },
  };
  return {
    kind: "codel",
    decidesAtEnqueue: false,
    enqueue(item, now) {
      const size = item.data.length;
      if (fifo.length >= limit) {
        stats.dropped("overlimit", size, now, fifo.length, bytes);
        return false;
      }
      fifo.push(item);
      bytes += size;
      stats.enqueued(size, now, fifo.length, bytes);
      return true;
    },
    dequeue(now) {
      clock = now;
      const item = codelDequeue(state, params, source, now);
      if (item !== undefined) stats.dequeued(item.data.length, now - item.enqueuedAt, now, fifo.length, bytes);
      return item;
    },
    get packets() {
      return fifo.length;
    },
    get bytes() {
      return bytes;
    },
    counters: stats.counters,
    stats: () => stats.snapshot(fifo.length, bytes),
  };
}
