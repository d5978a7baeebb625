// settle(clock, promise): drives a VirtualClock until a promise settles, for code that
// awaits the stack (a connection, a transfer, an HTTP response) in pure virtual time.
// Between timers it lets pending promise continuations run (a few microtask turns), then
// moves time to the next timer; it needs no host event loop, so it runs the same in Node,
// a browser or a worker. Code that also waits for real I/O (files, node:http) needs a
// pump that yields to the event loop instead: withClockPump() in netlab/harness.
import type { VirtualClock } from "./time.ts";

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
  promise.then(() => { done = true; }, () => { done = true; });
  const deadline = clock.now() + (options.maxVirtualMs ?? 600_000);
  const idleTurns = options.idleTurns ?? 16;
  for (;;) {
    for (let i = 0; i < idleTurns && !done; i++) await undefined;
    if (done) return promise;
    const next = clock.nextDeadline();
    if (next === undefined || next > deadline) {
      const why = next === undefined ? "no timer is left" : `virtual time would pass ${deadline} ms`;
      throw Object.assign(new Error(`settle: the promise is still pending and ${why} (now ${clock.now()} ms)`), { code: "ERR_NETLAB_SETTLE" });
    }
    clock.run(next);
  }
}
