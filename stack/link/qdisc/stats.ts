// Statistics every queue discipline keeps: counters, sojourn times (a log-bucketed histogram with
// 2% resolution, so percentiles cost constant memory however long the run) and the backlog over
// time (one sample per interval: the backlog at its end and the largest within it).
import type { BacklogSample, QueueCounters, QueueStatsOptions, QueueStatsSnapshot } from "./types.ts";

const BUCKET_BASE_MS = 0.001;
const BUCKET_GROWTH = Math.log(1.02);

/** The recorder a discipline owns. */
export interface QueueStatsRecorder {
  readonly counters: QueueCounters;
  /** After an item was queued; packets/bytes are the backlog after it. */
  enqueued(size: number, now: number, packets: number, bytes: number): void;
  /** After an item left for the line. */
  dequeued(size: number, sojournMs: number, now: number, packets: number, bytes: number): void;
  /** After an item was dropped (the arriving one, or one taken out of the queue). */
  dropped(reason: string, size: number, now: number, packets: number, bytes: number): void;
  marked(): void;
  snapshot(packets: number, bytes: number): QueueStatsSnapshot;
}

/** Creates a recorder for one queue. */
export function createQueueStats(kind: string, options: QueueStatsOptions = {}): QueueStatsRecorder {
  const interval = options.backlogIntervalMs ?? 100;
  const maxSamples = options.maxBacklogSamples ?? 4096;
  const counters: QueueCounters = { enqueued: 0, enqueuedBytes: 0, dequeued: 0, dequeuedBytes: 0, dropped: 0, droppedBytes: 0, marked: 0, dropsByReason: {} };
  const histogram: number[] = [];
  let sojournSum = 0;
  let sojournMin = Infinity;
  let sojournMax = 0;
  let maxPackets = 0;
  let maxBytes = 0;
  let samples: BacklogSample[] = [];
  let sampleWidth = interval;
  let current = 0;
  let curMaxPackets = 0;
  let curMaxBytes = 0;
  let lastPackets = 0;
  let lastBytes = 0;
  let curDequeued = 0;
  let curSojournSum = 0;

  const advance = (now: number): void => {
    const index = Math.floor(now / sampleWidth);
    if (index <= current) return;
    // Close the interval that was open, then idle ones (same backlog) up to now.
    const closeUpTo = Math.min(index, current + maxSamples);
    for (let k = current; k < closeUpTo; k++) {
      const open = k === current;
      samples.push({
        at: (k + 1) * sampleWidth,
        packets: lastPackets,
        bytes: lastBytes,
        maxPackets: open ? curMaxPackets : lastPackets,
        maxBytes: open ? curMaxBytes : lastBytes,
        dequeued: open ? curDequeued : 0,
        sojournMeanMs: open && curDequeued > 0 ? curSojournSum / curDequeued : 0,
      });
    }
    curDequeued = 0;
    curSojournSum = 0;
    current = index;
    curMaxPackets = lastPackets;
    curMaxBytes = lastBytes;
    if (samples.length > maxSamples) {
      // Halve the resolution: merge neighbours (the later backlog, the larger maximum).
      const merged: BacklogSample[] = [];
      for (let i = 1; i < samples.length; i += 2) {
        const a = samples[i - 1]!;
        const b = samples[i]!;
        const dequeued = a.dequeued + b.dequeued;
        merged.push({
          at: b.at,
          packets: b.packets,
          bytes: b.bytes,
          maxPackets: Math.max(a.maxPackets, b.maxPackets),
          maxBytes: Math.max(a.maxBytes, b.maxBytes),
          dequeued,
          sojournMeanMs: dequeued === 0 ? 0 : (a.sojournMeanMs * a.dequeued + b.sojournMeanMs * b.dequeued) / dequeued,
        });
      }
      samples = merged;
      sampleWidth *= 2;
      current = Math.floor(now / sampleWidth);
    }
  };
  const observe = (now: number, packets: number, bytes: number): void => {
    advance(now);
    lastPackets = packets;
    lastBytes = bytes;
    if (packets > curMaxPackets) curMaxPackets = packets;
    if (bytes > curMaxBytes) curMaxBytes = bytes;
    if (packets > maxPackets) maxPackets = packets;
    if (bytes > maxBytes) maxBytes = bytes;
  };

  const percentile = (q: number, n: number): number => {
    if (n === 0) return 0;
    const rank = Math.ceil(q * n);
    let seen = 0;
    for (let i = 0; i < histogram.length; i++) {
      seen += histogram[i] ?? 0;
      if (seen >= rank) {
        const value = i === 0 ? 0 : BUCKET_BASE_MS * Math.exp((i - 0.5) * BUCKET_GROWTH);
        return Math.min(sojournMax, Math.max(sojournMin, value));
      }
    }
    return sojournMax;
  };

  return {
    counters,
    enqueued(size, now, packets, bytes) {
      counters.enqueued++;
      counters.enqueuedBytes += size;
      observe(now, packets, bytes);
    },
    dequeued(size, sojourn, now, packets, bytes) {
      counters.dequeued++;
      counters.dequeuedBytes += size;
      const bucket = sojourn < BUCKET_BASE_MS ? 0 : 1 + Math.floor(Math.log(sojourn / BUCKET_BASE_MS) / BUCKET_GROWTH);
      histogram[bucket] = (histogram[bucket] ?? 0) + 1;
      sojournSum += sojourn;
      if (sojourn < sojournMin) sojournMin = sojourn;
      if (sojourn > sojournMax) sojournMax = sojourn;
      observe(now, packets, bytes);
      curDequeued++;
      curSojournSum += sojourn;
    },
    dropped(reason, size, now, packets, bytes) {
      counters.dropped++;
      counters.droppedBytes += size;
      counters.dropsByReason[reason] = (counters.dropsByReason[reason] ?? 0) + 1;
      observe(now, packets, bytes);
    },
    marked() {
      counters.marked++;
    },
    snapshot(packets, bytes) {
      const n = counters.dequeued;
      return {
        kind,
        ...counters,
        dropsByReason: { ...counters.dropsByReason },
        backlogPackets: packets,
        backlogBytes: bytes,
        maxBacklogPackets: maxPackets,
        maxBacklogBytes: maxBytes,
        sojournMs: {
          samples: n,
          mean: n === 0 ? 0 : sojournSum / n,
          min: n === 0 ? 0 : sojournMin,
          max: sojournMax,
          p50: percentile(0.5, n),
          p90: percentile(0.9, n),
          p99: percentile(0.99, n),
        },
        backlog: samples.slice(),
      };
    },
  };
}
