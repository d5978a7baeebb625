// The queue discipline interface: what a rate-limited link (or a router's egress) holds its
// waiting frames in. A discipline decides which packet leaves next and which are dropped or
// CE-marked (RFC 3168 §5); it never owns a timer: the link calls enqueue() when a frame arrives
// and dequeue() when the line is free, passing the time, so every discipline runs in virtual time.

/** What a discipline queues: the frame bytes (replaced by a marked copy when it marks) and its arrival time. */
export interface QueuedItem {
  data: Uint8Array;
  enqueuedAt: number;
}

/** Live counters of one queue (see QueueStatsSnapshot for the derived figures). */
export interface QueueCounters {
  enqueued: number;
  enqueuedBytes: number;
  dequeued: number;
  dequeuedBytes: number;
  dropped: number;
  droppedBytes: number;
  /** CE marks set instead of a drop (or at a marking threshold). */
  marked: number;
  /** Drops by reason ("overlimit", "codel", "red-early", "red-forced", "fattest-flow"). */
  readonly dropsByReason: Record<string, number>;
}

/** One point of the backlog series: the backlog when the interval ended and its maximum within. */
export interface BacklogSample {
  readonly at: number;
  readonly packets: number;
  readonly bytes: number;
  readonly maxPackets: number;
  readonly maxBytes: number;
  /** Packets dequeued in the interval, and their mean sojourn time (0 when none). */
  readonly dequeued: number;
  readonly sojournMeanMs: number;
}

/** Statistics of a queue at one moment. Sojourn times are from enqueue to dequeue, in ms. */
export interface QueueStatsSnapshot extends Omit<QueueCounters, "dropsByReason"> {
  readonly kind: string;
  readonly dropsByReason: Readonly<Record<string, number>>;
  readonly backlogPackets: number;
  readonly backlogBytes: number;
  readonly maxBacklogPackets: number;
  readonly maxBacklogBytes: number;
  readonly sojournMs: {
    readonly samples: number;
    readonly mean: number;
    readonly min: number;
    readonly max: number;
    readonly p50: number;
    readonly p90: number;
    readonly p99: number;
  };
  readonly backlog: readonly BacklogSample[];
}

/** A queue discipline. */
export interface QueueDiscipline<T extends QueuedItem = QueuedItem> {
  /** "drop-tail", "red", "codel", "fq-codel". */
  readonly kind: string;
  /** True when the discipline serves FIFO and makes every decision at enqueue (drop-tail, RED):
   * a link may then compute each frame's departure when it arrives (see impairments.ts). */
  readonly decidesAtEnqueue: boolean;
  /** Offers an item at `now`; false when the item itself was dropped. The discipline may drop
   * other items (FQ-CoDel drops from the fattest flow) and may replace item.data with a CE-marked copy. */
  enqueue(item: T, now: number): boolean;
  /** The next item to send at `now`, or undefined when empty; may drop (or mark) on the way (CoDel). */
  dequeue(now: number): T | undefined;
  readonly packets: number;
  readonly bytes: number;
  readonly counters: Readonly<QueueCounters>;
  stats(): QueueStatsSnapshot;
}

/** Options every discipline's statistics take. */
export interface QueueStatsOptions {
  /** Length of one backlog sample interval in ms (default 100). */
  readonly backlogIntervalMs?: number;
  /** Most backlog samples kept; older ones are merged pairwise (default 4096). */
  readonly maxBacklogSamples?: number;
}

/** Drop-tail: FIFO, the arriving packet dropped when the limit is reached. */
export interface DropTailSpec extends QueueStatsOptions {
  readonly kind: "drop-tail";
  /** Packets queued (including the one in transmission on a FIFO link) before drops (default 1000). */
  readonly limitPackets?: number;
  /** Bytes queued before drops (default: no byte limit). */
  readonly limitBytes?: number;
  /** Step ECN marking: an ECT packet that finds this many packets queued is marked CE (default: none). */
  readonly ecnMarkPackets?: number;
}

/** RED (Floyd & Jacobson 1993), optionally "gentle"; thresholds in packets or bytes. */
export interface RedSpec extends QueueStatsOptions {
  readonly kind: "red";
  readonly minThreshold: number;
  readonly maxThreshold: number;
  /** "packets" (default) or "bytes": the unit of the thresholds and of limit. */
  readonly unit?: "packets" | "bytes";
  /** Hard limit in `unit` (default 4 x maxThreshold). */
  readonly limit?: number;
  /** Drop probability at maxThreshold (default 0.1). */
  readonly maxProbability?: number;
  /** EWMA weight of the average queue (default 0.002). */
  readonly weight?: number;
  /** Gentle RED: probability rises from maxProbability to 1 between maxThreshold and 2 x maxThreshold (default false). */
  readonly gentle?: boolean;
  /** Mark ECT packets CE instead of an early drop (default false). */
  readonly ecn?: boolean;
  /** Transmission time of a typical packet, for decaying the average over idle periods (default 1 ms). */
  readonly idlePacketTimeMs?: number;
}

/** CoDel (RFC 8289). */
export interface CodelSpec extends QueueStatsOptions {
  readonly kind: "codel";
  /** Acceptable standing queue delay (default 5 ms). */
  readonly targetMs?: number;
  /** Sliding window of the minimum delay (default 100 ms). */
  readonly intervalMs?: number;
  /** Packets before tail drop (default 1000). */
  readonly limitPackets?: number;
  /** Largest packet (bytes): a backlog at most this size is never "above target" (default 1514). */
  readonly maxPacketBytes?: number;
  /** Mark ECT packets CE instead of dropping them (default false). */
  readonly ecn?: boolean;
}

/** FQ-CoDel (RFC 8290). */
export interface FqCodelSpec extends QueueStatsOptions {
  readonly kind: "fq-codel";
  /** Flow queues (default 1024). */
  readonly flows?: number;
  /** Bytes a flow may send per round (default 1514). */
  readonly quantum?: number;
  /** Packets in all queues before the fattest flow loses its head (default 10240). */
  readonly limitPackets?: number;
  readonly targetMs?: number;
  readonly intervalMs?: number;
  readonly maxPacketBytes?: number;
  /** Mark ECT packets CE instead of dropping them (default true, as in Linux). */
  readonly ecn?: boolean;
}

/** A discipline by its configuration (what links and topology files carry). */
export type QueueDisciplineSpec = DropTailSpec | RedSpec | CodelSpec | FqCodelSpec;
