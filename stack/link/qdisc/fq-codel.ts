// FQ-CoDel (RFC 8290): packets are hashed by their 5-tuple (with a random perturbation) into
// flow queues, each controlled by its own CoDel; a deficit round robin serves "new" flows (those
// that just became active) before "old" ones, so a sparse flow's packets are not delayed behind
// a bulk flow's queue. When the packet limit is reached the flow with the largest byte backlog
// loses its head packet (§4.1.2). CoDel's "backlog at most one MTU" test uses the whole
// discipline's backlog, as Linux does.
import type { Rng } from "../../time.ts";
import { type CodelQueue, type CodelState, codelDequeue, codelParams, createCodelState } from "./codel.ts";
import { Fifo } from "./fifo.ts";
import { createQueueStats } from "./stats.ts";
import type { FqCodelSpec, QueueDiscipline, QueuedItem } from "./types.ts";

interface Flow<T extends QueuedItem> {
  readonly index: number;
  readonly queue: Fifo<T>;
  bytes: number;
  deficit: number;
  readonly codel: CodelState;
  /** Which list the flow is on. */
  list: "new" | "old" | "none";
  /** The flow's queue as its CoDel sees it. */
  source: CodelQueue<T> | undefined;
}

/**
 * The flow key hash of an Ethernet frame carrying IPv4: addresses, protocol and (unless it is a
 * non-initial fragment) the TCP/UDP ports, mixed with `perturbation` (FNV-1a, then a murmur3 finaliser).
 */
export function flowHash(frame: Uint8Array, perturbation: number): number {
  let h = (0x811c9dc5 ^ perturbation) >>> 0;
  let ip = 14;
  let type = frame.length >= 14 ? (frame[12]! << 8) | frame[13]! : 0;
  if (type === 0x8100 && frame.length >= 18) {
    type = (frame[16]! << 8) | frame[17]!;
    ip = 18;
  }
  h = fnv(fnv(h, type >>> 8), type & 0xff);
  if (type === 0x0800 && frame.length >= ip + 20) {
    for (let i = 12; i < 20; i++) h = fnv(h, frame[ip + i]!);
    const protocol = frame[ip + 9]!;
    h = fnv(h, protocol);
    const hl = (frame[ip]! & 0x0f) * 4;
    const fragOffset = ((frame[ip + 6]! << 8) | frame[ip + 7]!) & 0x1fff;
    if ((protocol === 6 || protocol === 17) && fragOffset === 0 && frame.length >= ip + hl + 4) {
      for (let i = 0; i < 4; i++) h = fnv(h, frame[ip + hl + i]!);
    }
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b) >>> 0;
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35) >>> 0;
  h ^= h >>> 16;
  return h >>> 0;
}

/** One FNV-1a step. */
function fnv(h: number, byte: number): number {
  return Math.imul(h ^ byte, 0x01000193) >>> 0;
}

/** Creates an FQ-CoDel discipline; rng draws the hash perturbation. */
export function createFqCodel<T extends QueuedItem>(deps: { readonly rng: Rng }, spec: Omit<FqCodelSpec, "kind"> = {}): QueueDiscipline<T> {
  const flowCount = spec.flows ?? 1024;
  const quantum = spec.quantum ?? 1514;
  const limit = spec.limitPackets ?? 10240;
  const params = codelParams(spec, true);
  const perturbation = deps.rng.nextU32();
  const flows: (Flow<T> | undefined)[] = new Array(flowCount);
  const newFlows = new Fifo<Flow<T>>();
  const oldFlows = new Fifo<Flow<T>>();
  let packets = 0;
  let bytes = 0;
  let clock = 0;
  const stats = createQueueStats("fq-codel", spec);

  const flowOf = (item: T): Flow<T> => {
    const index = flowHash(item.data, perturbation) % flowCount;
    let f = flows[index];
    if (f === undefined) {
      f = { index, queue: new Fifo<T>(), bytes: 0, deficit: 0, codel: createCodelState(), list: "none", source: undefined };
      flows[index] = f;
    }
    return f;
  };

  const take = (f: Flow<T>): T | undefined => {
    const item = f.queue.shift();
    if (item === undefined) return undefined;
    f.bytes -= item.data.length;
    bytes -= item.data.length;
    packets--;
    return item;
  };

  const sourceOf = (f: Flow<T>): CodelQueue<T> =>
    (f.source ??= {
      pop: () => take(f),
      backlogBytes: () => bytes,
      drop: (item) => stats.dropped("codel", item.data.length, clock, packets, bytes),
      mark: () => stats.marked(),
    });

  /** RFC 8290 §4.1.2: drop from the head of the flow with the largest byte backlog. */
  const dropFromFattest = (now: number): T | undefined => {
    let fattest: Flow<T> | undefined;
    for (const f of flows) if (f !== undefined && (fattest === undefined || f.bytes > fattest.bytes)) fattest = f;
    if (fattest === undefined) return undefined;
    const item = take(fattest);
    if (item !== undefined) stats.dropped("fattest-flow", item.data.length, now, packets, bytes);
    return item;
  };

  return {
    kind: "fq-codel",
    decidesAtEnqueue: false,
    enqueue(item, now) {
      const f = flowOf(item);
      const size = item.data.length;
      f.queue.push(item);
      f.bytes += size;
      bytes += size;
      packets++;
      stats.enqueued(size, now, packets, bytes);
      if (f.list === "none") {
        // RFC 8290 §4.1: a flow that was not active joins the new list with a full quantum.
        f.list = "new";
        f.deficit = quantum;
        newFlows.push(f);
      }
      return packets > limit ? dropFromFattest(now) !== item : true;
    },
    dequeue(now) {
      clock = now;
      for (;;) {
        const fromNew = newFlows.length > 0;
        const f = fromNew ? newFlows.peek() : oldFlows.peek();
        if (f === undefined) return undefined;
        if (f.deficit <= 0) {
          // §4.2: an exhausted flow gets a new quantum at the end of the old list.
          f.deficit += quantum;
          (fromNew ? newFlows : oldFlows).shift();
          f.list = "old";
          oldFlows.push(f);
          continue;
        }
        const item = codelDequeue(f.codel, params, sourceOf(f), now);
        if (item === undefined) {
          (fromNew ? newFlows : oldFlows).shift();
          // §4.2: an emptied new flow goes to the old list (when it has company) so it cannot
          // come back as "new" at once and starve the others; an emptied old flow leaves.
          if (fromNew && oldFlows.length > 0) {
            f.list = "old";
            oldFlows.push(f);
          } else {
            f.list = "none";
          }
          continue;
        }
        f.deficit -= item.data.length;
        stats.dequeued(item.data.length, now - item.enqueuedAt, now, packets, bytes);
        return item;
      }
    },
    get packets() {
      return packets;
    },
    get bytes() {
      return bytes;
    },
    counters: stats.counters,
    stats: () => stats.snapshot(packets, bytes),
  };
}
