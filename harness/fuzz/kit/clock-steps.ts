// Driving a fuzz target's virtual clock in steps, with the callbacks the code under test deferred
// run between them. A module of its own so that under Jazzer.js these loops run uninstrumented
// (runner.ts bundleTarget instruments a target and its `instrumentOnly` only): written in a target,
// every loop test was a comparison hook, ~100 per http-client input.
//   createDeferQueue()                            { defer, drain }: deferred callbacks, run in order
//   stepClock(clock, steps, stepMs, between)      `steps` steps of `stepMs`, between() after each
//   settleClock(clock, maxSteps, stepMs, between) the same, stopping once no timer was pending
//                                                 after two steps in a row
import type { VirtualClock } from "../../../stack/time.ts";

/** Callbacks deferred by the code under test (its deps.defer), run by drain() in order. */
export interface DeferQueue {
  readonly defer: (fn: () => void) => void;
  /** Runs the queued callbacks, those they defer included, and empties the queue. */
  readonly drain: () => void;
}

export function createDeferQueue(): DeferQueue {
  const queued: (() => void)[] = [];
  return {
    defer: (fn) => {
      queued.push(fn);
    },
    drain: () => {
      for (let i = 0; i < queued.length; i++) queued[i]!();
      queued.length = 0;
    },
  };
}

/** Advances `clock` by `stepMs` `steps` times, calling `between` after each step. */
export function stepClock(clock: VirtualClock, steps: number, stepMs: number, between: () => void): void {
  for (let i = 0; i < steps; i++) {
    clock.run(clock.now() + stepMs);
    between();
  }
}

/**
 * Advances `clock` by `stepMs` at most `maxSteps` times, calling `between` after each step, and
 * stops once no timer was pending after two steps in a row: nothing can happen any more.
 */
export function settleClock(clock: VirtualClock, maxSteps: number, stepMs: number, between: () => void): void {
  for (let t = 0, idle = 0; t < maxSteps && idle < 2; t++) {
    clock.run(clock.now() + stepMs);
    between();
    idle = clock.nextDeadline() === undefined ? idle + 1 : 0;
  }
}
