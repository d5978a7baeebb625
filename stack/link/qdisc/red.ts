// RED (Floyd & Jacobson, "Random Early Detection Gateways for Congestion Avoidance", 1993;
// RFC 2309 §3): an exponentially weighted average of the queue, updated at each arrival (and
// decayed over idle time), drops or ECN-marks arrivals with a probability rising linearly from 0 at
// minThreshold to maxProbability at maxThreshold, spread out by the count since the last drop
// (pa = pb / (1 - count·pb)); above maxThreshold every arrival is dropped (gentle RED: the
// probability rises on to 1 at 2·maxThreshold). Every decision is made at enqueue: FIFO.
import type { Rng } from "../../time.ts";
import { markCongestionExperienced } from "../ecn.ts";
import { Fifo } from "./fifo.ts";
import { createQueueStats } from "./stats.ts";
import type { QueueDiscipline, QueuedItem, RedSpec } from "./types.ts";

/** RED's parameters, resolved. */
export interface RedParams {
  readonly minThreshold: number;
  readonly maxThreshold: number;
  readonly maxProbability: number;
  readonly gentle: boolean;
}

/**
 * The probability that an arrival is dropped (or marked) given the average queue `avg` and
 * `count` arrivals since the last drop: pb = maxP·(avg − minTh)/(maxTh − minTh),
 * pa = pb / (1 − count·pb) (1 once count·pb ≥ 1); 1 at or above maxTh (gentle: 2·maxTh).
 */
export function redDropProbability(avg: number, count: number, p: RedParams): number {
  if (avg < p.minThreshold) return 0;
  let pb: number;
  if (avg < p.maxThreshold) pb = (p.maxProbability * (avg - p.minThreshold)) / (p.maxThreshold - p.minThreshold);
  else if (p.gentle && avg < 2 * p.maxThreshold) pb = p.maxProbability + ((1 - p.maxProbability) * (avg - p.maxThreshold)) / p.maxThreshold;
  else return 1;
  if (count * pb >= 1) return 1;
  return pb / (1 - count * pb);
}

/** Creates a RED queue; rng decides the early drops. */
export function createRed<T extends QueuedItem>(deps: { readonly rng: Rng }, spec: Omit<RedSpec, "kind">): QueueDiscipline<T> {
  const bytesUnit = spec.unit === "bytes";
  const params: RedParams = {
    minThreshold: spec.minThreshold,
    maxThreshold: spec.maxThreshold,
    maxProbability: spec.maxProbability ?? 0.1,
    gentle: spec.gentle ?? false,
  };
  const limit = spec.limit ?? 4 * spec.maxThreshold;
  const weight = spec.weight ?? 0.002;
  const idlePacketTime = spec.idlePacketTimeMs ?? 1;
  const ecn = spec.ecn ?? false;
  const fifo = new Fifo<T>();
  let bytes = 0;
  let avg = 0;
  let count = -1;
  let idleSince: number | undefined = 0;
  const stats = createQueueStats("red", spec);
  const size = (): number => (bytesUnit ? bytes : fifo.length);

  return {
    kind: "red",
    decidesAtEnqueue: true,
    enqueue(item, now) {
      const len = item.data.length;
      // The average, decayed over an idle period as if m small packets had left meanwhile.
      if (idleSince !== undefined) {
        const m = Math.max(0, (now - idleSince) / idlePacketTime);
        avg *= (1 - weight) ** m;
        idleSince = undefined;
      }
      avg = (1 - weight) * avg + weight * size();
      const p = redDropProbability(avg, count + 1, params);
      const forced = p >= 1 && avg >= (params.gentle ? 2 * params.maxThreshold : params.maxThreshold);
      if (size() + (bytesUnit ? len : 1) > limit) {
        count = 0;
        stats.dropped("overlimit", len, now, fifo.length, bytes);
        if (fifo.length === 0) idleSince = now;
        return false;
      }
      if (p > 0) {
        count++;
        if (forced || deps.rng.nextFloat() < p) {
          count = 0;
          const marked = ecn && !forced ? markCongestionExperienced(item.data) : undefined;
          if (marked === undefined) {
            stats.dropped(forced ? "red-forced" : "red-early", len, now, fifo.length, bytes);
            if (fifo.length === 0) idleSince = now;
            return false;
          }
          item.data = marked;
          stats.marked();
        }
      } else {
        count = -1;
      }
      fifo.push(item);
      bytes += len;
      stats.enqueued(len, now, fifo.length, bytes);
      return true;
    },
    dequeue(now) {
      const item = fifo.shift();
      if (item === undefined) return undefined;
      bytes -= item.data.length;
      if (fifo.length === 0) idleSince = now;
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
