// Driving a VirtualClock from Node's event loop, so that code on real timers and
// microtasks (node:http, streams, promises) and a stack in virtual time run together.
//
// startClockPump(clock)  every event-loop turn (setImmediate) lets I/O, nextTicks and
//                        promises settle, then moves virtual time on by at most `stepMs`
//                        (to the next timer if that is nearer). Virtual time therefore only
//                        advances when the JavaScript side has nothing left to do in this turn,
//                        and a slow turn never makes virtual timeouts fire early: the stack's
//                        RTOs, delayed ACKs and socket timeouts see the same ordering as in a
//                        pure simulation. When no timer is pending the pump idles on a real
//                        1 ms timer instead of spinning.
import type { VirtualClock } from "../../stack/time.ts";

/** Options of startClockPump(). */
export interface ClockPumpOptions {
  /** Most virtual milliseconds per event-loop turn [1]. */
  readonly stepMs?: number;
  /** Timers fired per turn at most (keeps the loop responsive) [10000]. */
  readonly maxEventsPerTurn?: number;
}

/** A running pump. */
export interface ClockPump {
  /** Stops the pump (idempotent). */
  stop(): void;
  /** Event-loop turns so far. */
  readonly turns: number;
}

/** Starts pumping `clock`; call stop() when done (it keeps the process alive meanwhile). */
export function startClockPump(clock: VirtualClock, options: ClockPumpOptions = {}): ClockPump {
  const stepMs = options.stepMs ?? 1;
  const maxEvents = options.maxEventsPerTurn ?? 10_000;
  let stopped = false;
  let turns = 0;
  let handle: NodeJS.Immediate | NodeJS.Timeout | undefined;
  const turn = (): void => {
    handle = undefined;
    if (stopped) return;
    turns++;
    const next = clock.nextDeadline();
    if (next === undefined) {
      handle = setTimeout(turn, 1);
      return;
    }
    const limit = clock.now() + stepMs;
    if (next <= limit) clock.run(next, maxEvents);
    else clock.run(limit, maxEvents);
    handle = setImmediate(turn);
  };
  handle = setImmediate(turn);
  return {
    stop() {
      stopped = true;
      if (handle !== undefined) {
        clearImmediate(handle as NodeJS.Immediate);
        clearTimeout(handle as NodeJS.Timeout);
      }
    },
    get turns() {
      return turns;
    },
  };
}

/**
 * Pumps `clock` until `p` settles, then stops; rejects with ERR_NETLAB_PUMP_TIMEOUT after
 * `maxVirtualMs` of virtual time [600000] or `maxWallMs` of real time [30000].
 */
export async function withClockPump<T>(
  clock: VirtualClock,
  p: Promise<T> | (() => Promise<T>),
  options: ClockPumpOptions & { maxVirtualMs?: number; maxWallMs?: number } = {},
): Promise<T> {
  const pump = startClockPump(clock, options);
  const deadline = clock.now() + (options.maxVirtualMs ?? 600_000);
  const wallDeadline = performance.now() + (options.maxWallMs ?? 30_000);
  let watchdog: NodeJS.Timeout | undefined;
  try {
    const promise = typeof p === "function" ? p() : p;
    const timeout = new Promise<never>((_, reject) => {
      const check = (): void => {
        if (clock.now() > deadline)
          reject(Object.assign(new Error(`virtual time passed ${deadline} ms before the promise settled`), { code: "ERR_NETLAB_PUMP_TIMEOUT" }));
        else if (performance.now() > wallDeadline)
          reject(
            Object.assign(
              new Error(`still unsettled after ${options.maxWallMs ?? 30_000} ms of real time (virtual ${clock.now()} ms, ${clock.pending()} timers pending)`),
              { code: "ERR_NETLAB_PUMP_TIMEOUT" },
            ),
          );
        else watchdog = setTimeout(check, 5);
      };
      watchdog = setTimeout(check, 5);
    });
    return await Promise.race([promise, timeout]);
  } finally {
    if (watchdog !== undefined) clearTimeout(watchdog);
    pump.stop();
  }
}
