// Driving a VirtualClock until something happens: the one kit for tests, fuzz targets and tools
// (every layer may import it; there were a dozen private copies with four behaviours).
//   settle(clock, promise)               pure virtual time: between timers a few microtask turns
//                                        for promise continuations, then time moves to the next
//                                        timer; no host event loop, so it runs the same anywhere
//   pumpUntil(clock, done)               fires due timers in batches and yields to the host between
//                                        them (setImmediate where it exists, else a microtask),
//                                        for simulated hypervisors and drivers whose work crosses
//                                        rings and event channels; resolves done()
//   settleByPumping(clock, promise)      pumpUntil until the promise settles; its value, its
//                                        rejection, or an Error with a stable code when it stalls
// Neither reads a host clock nor sets a host timer: virtual time stays deterministic. Code that
// also waits for real I/O (files, node:http) needs withClockPump() in netlab/harness instead.
import type { VirtualClock } from "./time.ts";
import { NetlabError } from "./error.ts";

/** Options of settle(). */
export interface SettleOptions {
  /** Give up after this much virtual time from the start [600000 ms]. */
  readonly maxVirtualMs?: number;
  /** Microtask turns granted to promise continuations before time moves on [16]. */
  readonly idleTurns?: number;
}

/**
 * Runs `clock` until `p` settles and returns (or rethrows) its outcome. Throws an Error with
 * code ERR_NETLAB_SETTLE when no timer is left or `maxVirtualMs` passes first.
 */
export async function settle<T>(clock: VirtualClock, p: Promise<T> | (() => Promise<T>), options: SettleOptions = {}): Promise<T> {
  const promise = typeof p === "function" ? p() : p;
  let done = false;
  promise.then(
    () => {
      done = true;
    },
    () => {
      done = true;
    },
  );
  const deadline = clock.now() + (options.maxVirtualMs ?? 600_000);
  const idleTurns = options.idleTurns ?? 16;
  for (;;) {
    for (let i = 0; i < idleTurns && !done; i++) await undefined;
    if (done) return promise;
    const next = clock.nextDeadline();
    if (next === undefined || next > deadline) {
      const why = next === undefined ? "no timer is left" : `virtual time would pass ${deadline} ms`;
      throw new NetlabError("ERR_NETLAB_SETTLE", `settle: the promise is still pending and ${why} (now ${clock.now()} ms)`);
    }
    clock.run(next);
  }
}

/** Options of pumpUntil. */
export interface PumpOptions {
  /** Give up once virtual time passes this instant (default: never). */
  readonly untilMs?: number;
  /** Most iterations (each runs due timers, then yields to promise continuations; default 1e6). */
  readonly maxIterations?: number;
  /** Timers fired per iteration at most (default 4096). */
  readonly batch?: number;
  /** Yields to the host event loop (default: setImmediate if present, else a microtask). */
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

/** Options of settleByPumping(): pumpUntil's, and what a stall says. */
export interface SettleByPumpingOptions extends PumpOptions {
  /** Names the step in the stall error's message (default "settleByPumping"). */
  readonly what?: string;
  /** The stall error's code [ERR_NETLAB_SETTLE]. */
  readonly code?: string;
}

/**
 * Runs pumpUntil() until `p` settles and returns (or rethrows) its outcome. Throws an Error with
 * `options.code` (ERR_NETLAB_SETTLE) when the pump stops first (no work left, untilMs, maxIterations).
 */
export async function settleByPumping<T>(clock: VirtualClock, p: Promise<T>, options: SettleByPumpingOptions = {}): Promise<T> {
  let done = false;
  p.then(
    () => {
      done = true;
    },
    () => {
      done = true;
    },
  );
  if (!(await pumpUntil(clock, () => done, options))) {
    throw new NetlabError(
      options.code ?? "ERR_NETLAB_SETTLE",
      `${options.what ?? "settleByPumping"}: the promise did not settle on the virtual clock (now ${clock.now()} ms)`,
    );
  }
  return p;
}
