// Drop-tail: a FIFO that drops the arriving packet once a packet (or byte) limit is reached,
// with an optional step ECN threshold (an ECT packet finding that many queued is marked CE,
// RFC 3168 §5, like DCTCP's K). Every decision is made at enqueue.
import { markCongestionExperienced } from "../ecn.ts";
import { Fifo } from "./fifo.ts";
import { createQueueStats } from "./stats.ts";
import type { DropTailSpec, QueueDiscipline, QueuedItem } from "./types.ts";

/** Creates a drop-tail queue. */
export function createDropTail<T extends QueuedItem>(spec: Omit<DropTailSpec, "kind"> = {}): QueueDiscipline<T> {
  const limitPackets = spec.limitPackets ?? 1000;
  const limitBytes = spec.limitBytes ?? Infinity;
  const markAt = spec.ecnMarkPackets ?? Infinity;
  const fifo = new Fifo<T>();
  let bytes = 0;
  const stats = createQueueStats("drop-tail", spec);
  return {
    kind: "drop-tail",
    decidesAtEnqueue: true,
    enqueue(item, now) {
      const size = item.data.length;
      if (fifo.length >= limitPackets || bytes + size > limitBytes) {
        stats.dropped("overlimit", size, now, fifo.length, bytes);
        return false;
      }
      if (fifo.length >= markAt) {
        const marked = markCongestionExperienced(item.data);
        if (marked !== undefined) {
          item.data = marked;
          stats.marked();
        }
      }
      fifo.push(item);
      bytes += size;
      stats.enqueued(size, now, fifo.length, bytes);
      return true;
    },
    dequeue(now) {
      const item = fifo.shift();
      if (item === undefined) return undefined;
      bytes -= item.data.length;
      stats.dequeued(item.data.length, now - item.enqueuedAt, now, fifo.length, bytes);
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
