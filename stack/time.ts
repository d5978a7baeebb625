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
  fn: (() => void) | null;
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
  const heap: TimerEntry[] = [];
  const live = new Map<TimerId, TimerEntry>();

  const less = (a: TimerEntry, b: TimerEntry): boolean => a.at < b.at || (a.at === b.at && a.seq < b.seq);
  const push = (e: TimerEntry): void => {
    heap.push(e);
    let i = heap.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      const pe = heap[p]!;
      if (!less(e, pe)) break;
      heap[i] = pe;
      i = p;
    }
    heap[i] = e;
  };
  const pop = (): TimerEntry | undefined => {
    const top = heap[0];
    const last = heap.pop();
    if (top === undefined || last === undefined || heap.length === 0) return top;
    let i = 0;
    const n = heap.length;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      const c = r < n && less(heap[r]!, heap[l]!) ? r : l;
      if (!less(heap[c]!, last)) break;
      heap[i] = heap[c]!;
      i = c;
    }
    heap[i] = last;
    return top;
  };
  const dropCancelled = (): void => {
    while (heap.length > 0 && heap[0]!.fn === null) pop();
  };

  const clock: VirtualClock = {
    now: () => now,
    setTimer(at, fn) {
      const id = nextId++;
      const e: TimerEntry = { at: at < now ? now : at, seq: seq++, id, fn };
      live.set(id, e);
      push(e);
      return id;
    },
    cancel(id) {
      const e = live.get(id);
      if (e) {
        e.fn = null;
        live.delete(id);
      }
    },
    run(until = Infinity, maxEvents = Infinity) {
      let fired = 0;
      for (;;) {
        dropCancelled();
        const top = heap[0];
        if (top === undefined || top.at > until || fired >= maxEvents) break;
        pop();
        const fn = top.fn;
        live.delete(top.id);
        top.fn = null;
        if (top.at > now) now = top.at;
        fired++;
        fn!();
      }
      if (until !== Infinity && until > now && fired < maxEvents) now = until;
      return fired;
    },
    advance(ms) {
      return clock.run(now + ms);
    },
    pending: () => live.size,
    nextDeadline() {
      dropCancelled();
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
  let a = splitmix(), b = splitmix(), c = splitmix(), d = splitmix();
  if ((a | b | c | d) === 0) a = 1;
  const nextU32 = (): number => {
    const result = Math.imul(rotl(Math.imul(b, 5) >>> 0, 7), 9) >>> 0;
    const t = (b << 9) >>> 0;
    c ^= a; d ^= b; b ^= c; a ^= d;
    c = (c ^ t) >>> 0;
    d = rotl(d, 11);
    a >>>= 0; b >>>= 0; c >>>= 0;
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
        bytes[i] = v & 0xff; bytes[i + 1] = (v >>> 8) & 0xff; bytes[i + 2] = (v >>> 16) & 0xff; bytes[i + 3] = v >>> 24;
      }
      if (i < bytes.length) {
        let v = nextU32();
        for (; i < bytes.length; i++) { bytes[i] = v & 0xff; v >>>= 8; }
      }
    },
  };
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}
