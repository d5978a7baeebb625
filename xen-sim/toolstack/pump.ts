// Drives a single-threaded simulation: fires the VirtualClock's due timers (event-channel
// upcalls, protocol timers) and lets promise continuations (xenstore replies) run in between,
// so asynchronous driver code (xenbus handshakes) and Clock-driven data paths both progress.
//   pumpUntil(clock, done, options)   runs until done() or no work remains; resolves done()

import type { VirtualClock } from "../../stack/time.ts";

/** Options of pumpUntil. */
export interface PumpOptions {
  /** Give up once virtual time passes this instant (default: never). */
  readonly untilMs?: number;
  /** Most iterations (each runs due timers, then yields to promise continuations; default 1e6). */
  readonly maxIterations?: number;
  /** Timers fired per iteration at most (default 4096). */
  readonly batch?: number;
  /** Yields to the host event loop (default: a macrotask via setTimeout 0 if present, else a resolved promise chain). */
  readonly yieldToHost?: () => Promise<void>;
}

/**
 * Runs `clock` until `done()` holds. Timers due now run first; virtual time only advances to
 * the next deadline when nothing is due and pending promise work has settled. Returns done().
 */
export async function pumpUntil(clock: VirtualClock, done: () => boolean, options: PumpOptions = {}): Promise<boolean> {
  const max = options.maxIterations ?? 1_000_000;
  const batch = options.batch ?? 4096;
  const until = options.untilMs ?? Infinity;
  const yieldToHost = options.yieldToHost ?? defaultYield;
  let idle = 0;
  for (let i = 0; i < max && !done(); i++) {
    const fired = clock.run(clock.now(), batch);
    await yieldToHost();
    if (done()) break;
    if (fired > 0) {
      idle = 0;
      continue;
    }
    const next = clock.nextDeadline();
    if (next !== undefined && next <= clock.now()) continue;
    // Nothing due now: give pending promise chains a few turns before moving time on.
    if (idle++ < 2) continue;
    idle = 0;
    if (next === undefined || next > until) break;
    clock.run(next, batch);
  }
  return done();
}

function defaultYield(): Promise<void> {
  return new Promise((resolve) => {
    const g = globalThis as { setImmediate?: (fn: () => void) => void };
    if (g.setImmediate) g.setImmediate(resolve);
    else queueMicrotask(resolve);
  });
}
