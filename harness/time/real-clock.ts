// The real Clock and Rng, for stacks attached to real devices (taps). Everything else runs
// in virtual time (stack/time.ts).
// createRealClock(): Clock over performance.now() and setTimeout; epochMs maps its times to
//   wall-clock time (for pcap timestamps); close() cancels every pending timer.
// createSeededRng(): the stack's seeded Rng with a seed drawn from node:crypto (printed so a
//   run's random choices can be reproduced).
import { randomBytes } from "node:crypto";
import { createRng, type Clock, type Rng, type TimerId } from "../../stack/time.ts";

/** A Clock backed by the process's monotonic clock and Node timers. */
export interface RealClock extends Clock {
  /** Wall-clock time (ms since 1970) of this clock's time 0. */
  readonly epochMs: number;
  /** Number of pending timers. */
  pending(): number;
  /** Cancels every pending timer. */
  close(): void;
}

/** Options of createRealClock(). */
export interface RealClockOptions {
  /** Timers do not keep the process alive (default false). */
  readonly unref?: boolean;
}

/** Creates a real clock; now() is performance.now() (ms since the process started). */
export function createRealClock(options: RealClockOptions = {}): RealClock {
  const timers = new Map<TimerId, NodeJS.Timeout>();
  let nextId = 1;
  return {
    epochMs: performance.timeOrigin,
    now: () => performance.now(),
    setTimer(at, fn) {
      const id = nextId++;
      // Node timers have 1 ms granularity and may fire up to 1 ms early: re-arm until `at` has passed.
      const arm = (): void => {
        const handle = setTimeout(
          () => {
            if (performance.now() < at) {
              arm();
              return;
            }
            timers.delete(id);
            fn();
          },
          Math.max(0, Math.ceil(at - performance.now())),
        );
        if (options.unref) handle.unref();
        timers.set(id, handle);
      };
      arm();
      return id;
    },
    cancel(id) {
      const handle = timers.get(id);
      if (handle !== undefined) {
        clearTimeout(handle);
        timers.delete(id);
      }
    },
    pending: () => timers.size,
    close() {
      for (const handle of timers.values()) clearTimeout(handle);
      timers.clear();
    },
  };
}

/** An Rng and the seed it was created with. */
export interface SeededRng extends Rng {
  readonly seed: number;
}

/** The stack's xoshiro128** Rng seeded from node:crypto (or from `seed` to replay a run). */
export function createSeededRng(seed: number = randomBytes(4).readUInt32LE(0)): SeededRng {
  return Object.assign(createRng(seed), { seed });
}
