// Clock and Rng: the only ways stack/ and xen-sim/ learn the time or draw chance.
// VirtualClock is a discrete-event scheduler: run() advances time from timer to timer,
// so simulations run as fast as the CPU allows and a seed reproduces them exactly.

/** Time in milliseconds (fractional allowed) since the clock's epoch. */
export type Instant = number;

/** Handle of a scheduled timer. */
export type TimerId = number;

/** The injected clock. All protocol timers go through it. */
export interface Clock {
  /** Current time in milliseconds. */
  now(): Instant;
  /** Runs fn once at absolute time `at` (or as soon as possible if `at` is past). */
  setTimer(at: Instant, fn: () => void): TimerId;
  /** Cancels a timer; unknown or fired ids are ignored. */
  cancel(id: TimerId): void;
}

/** The injected source of randomness. */
export interface Rng {
  /** Uniform 32-bit unsigned integer. */
  nextU32(): number;
  /** Uniform float in [0, 1). */
  nextFloat(): number;
  /** Uniform integer in [0, n). */
  nextInt(n: number): number;
  /** Fills a buffer with random bytes. */
  fill(bytes: Uint8Array): void;
}

interface TimerEntry {
  at: Instant;
  seq: number;
  id: TimerId;
  fn: () => void;
  /** Position in the heap (kept in step by every move, so cancel removes in O(log n)). */
  index: number;
}

/** A discrete-event clock: timers fire in (time, insertion) order when run. */
export interface VirtualClock extends Clock {
  /** Fires due timers up to `until` (default: until none remain); returns timers fired. */
  run(until?: Instant, maxEvents?: number): number;
  /** Fires timers due at or before now + ms, then sets now to now + ms. */
  advance(ms: number): number;
  /** Number of pending timers. */
  pending(): number;
  /** Time of the next pending timer, or undefined. */
  nextDeadline(): Instant | undefined;
}

/** Creates a VirtualClock starting at `start` ms. */
export function createVirtualClock(start: Instant = 0): VirtualClock {
  let now = start;
  let seq = 0;
  let nextId = 1;
  // A binary min-heap of live timers only: cancel removes its entry at once, so timers
  // re-armed per request (and cancelled long before they are due) never pile up in it.
  const heap: TimerEntry[] = [];
  const live = new Map<TimerId, TimerEntry>();

  const less = (a: TimerEntry, b: TimerEntry): boolean => a.at < b.at || (a.at === b.at && a.seq < b.seq);
  /** Moves e up from position i to where it belongs. */
  const siftUp = (e: TimerEntry, i: number): void => {
    while (i > 0) {
      const p = (i - 1) >> 1;
      const pe = heap[p]!;
      if (!less(e, pe)) break;
      heap[i] = pe;
      pe.index = i;
      i = p;
    }
    heap[i] = e;
    e.index = i;
  };
  /** Moves e down from position i to where it belongs. */
  const siftDown = (e: TimerEntry, i: number): void => {
    const n = heap.length;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      const c = r < n && less(heap[r]!, heap[l]!) ? r : l;
      const ce = heap[c]!;
      if (!less(ce, e)) break;
      heap[i] = ce;
      ce.index = i;
      i = c;
    }
    heap[i] = e;
    e.index = i;
  };
  /** Takes the entry at position i out of the heap. */
  const removeAt = (i: number): void => {
    const last = heap.pop()!;
    if (i === heap.length) return;
    const p = (i - 1) >> 1;
    if (i > 0 && less(last, heap[p]!)) siftUp(last, i);
    else siftDown(last, i);
  };

  const clock: VirtualClock = {
    now: () => now,
    setTimer(at, fn) {
      const id = nextId++;
      const e: TimerEntry = { at: at < now ? now : at, seq: seq++, id, fn, index: heap.length };
      live.set(id, e);
      heap.push(e);
      siftUp(e, heap.length - 1);
      return id;
    },
    cancel(id) {
      const e = live.get(id);
      if (e !== undefined) {
        live.delete(id);
        removeAt(e.index);
      }
    },
    run(until = Infinity, maxEvents = Infinity) {
      let fired = 0;
      for (;;) {
        const top = heap[0];
        if (top === undefined || top.at > until || fired >= maxEvents) break;
        removeAt(0);
        live.delete(top.id);
        if (top.at > now) now = top.at;
        fired++;
        top.fn();
      }
      if (until !== Infinity && until > now && fired < maxEvents) now = until;
      return fired;
    },
    advance(ms) {
      return clock.run(now + ms);
    },
    pending: () => live.size,
    nextDeadline() {
      return heap[0]?.at;
    },
  };
  return clock;
}

/** Creates a seeded PRNG (xoshiro128**, seeded through splitmix32). Same seed, same stream. */
export function createRng(seed: number): Rng {
  let sm = seed >>> 0;
  const splitmix = (): number => {
    sm = (sm + 0x9e3779b9) >>> 0;
    let z = sm;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return (z ^ (z >>> 16)) >>> 0;
  };
  let a = splitmix(),
    b = splitmix(),
    c = splitmix(),
    d = splitmix();
  if ((a | b | c | d) === 0) a = 1;
  const nextU32 = (): number => {
    const result = Math.imul(rotl(Math.imul(b, 5) >>> 0, 7), 9) >>> 0;
    const t = (b << 9) >>> 0;
    c ^= a;
    d ^= b;
    b ^= c;
    a ^= d;
    c = (c ^ t) >>> 0;
    d = rotl(d, 11);
    a >>>= 0;
    b >>>= 0;
    c >>>= 0;
    return result;
  };
  return {
    nextU32,
    nextFloat: () => nextU32() / 4294967296,
    nextInt: (n) => Math.floor((nextU32() / 4294967296) * n),
    fill(bytes) {
      let i = 0;
      for (; i + 4 <= bytes.length; i += 4) {
        const v = nextU32();
        bytes[i] = v & 0xff;
        bytes[i + 1] = (v >>> 8) & 0xff;
        bytes[i + 2] = (v >>> 16) & 0xff;
        bytes[i + 3] = v >>> 24;
      }
      if (i < bytes.length) {
        let v = nextU32();
        for (; i < bytes.length; i++) {
          bytes[i] = v & 0xff;
          v >>>= 8;
        }
      }
    },
  };
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}
