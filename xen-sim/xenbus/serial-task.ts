// How every split driver runs its xenbus side (netfront, netback, blkfront, blkback): one serial
// task per device. A watch on the other end's state only triggers the task's step, which reads
// the state itself when it runs (as Linux's otherend_changed reads it in the xenwatch thread);
// triggers that arrive while the step is queued coalesce. Local xenbus work (a state switch on a
// fatal error, probe, close) is queued on the same task with run(), so no two pieces of a
// device's xenbus work ever interleave. Plus the optional-integer key read the drivers share.
//   readUint           an optional unsigned decimal key
//   createSerialTask   the per-device task: trigger() the step, run() an action, idle(), stop()

import { err, ok, type Result } from "../../stack/result.ts";
import type { XsOps } from "../xenstore/client.ts";

/** Reads an unsigned decimal key: missing → `fallback`; present but malformed → "bad-value". */
export async function readUint(xs: XsOps, path: string, fallback: number): Promise<Result<number, "bad-value">> {
  const r = await xs.read(path);
  if (!r.ok) return ok(fallback);
  const v = r.value.trim();
  if (!/^[0-9]{1,16}$/.test(v)) return err("bad-value");
  const n = Number(v);
  return Number.isSafeInteger(n) ? ok(n) : err("bad-value");
}

/**
 * A device's xenbus work, one piece at a time, in the order asked for. trigger() queues the step
 * unless a run of it is already queued (one that has started does not count: a trigger during a
 * run always brings one more run); run(action) queues an action and resolves when it has run.
 */
export interface SerialTask {
  trigger(): void;
  /** Queues `action`; resolves once it has run (at once, without running it, after stop()). */
  run(action: () => Promise<void>): Promise<void>;
  /** Resolves when nothing runs and nothing is queued. */
  idle(): Promise<void>;
  /** Nothing queued or triggered afterwards runs; a piece already running finishes. */
  stop(): void;
}

/** The task; `onError` hears what the step or an action threw (the task keeps going). */
export function createSerialTask(step: () => Promise<void>, onError: (e: unknown) => void): SerialTask {
  const STEP = null;
  type Item = typeof STEP | { readonly action: () => Promise<void>; readonly done: () => void };
  const queue: Item[] = [];
  let running = false;
  let stopped = false;
  let waiters: (() => void)[] = [];
  const release = (): void => {
    for (const item of queue.splice(0)) item?.done();
  };
  const loop = async (): Promise<void> => {
    running = true;
    try {
      while (!stopped && queue.length > 0) {
        const item = queue.shift() as Item;
        try {
          await (item === STEP ? step() : item.action());
        } catch (e) {
          onError(e);
        } finally {
          if (item !== STEP) item.done();
        }
      }
    } finally {
      running = false;
      release();
      const w = waiters;
      waiters = [];
      for (const f of w) f();
    }
  };
  const enqueue = (item: Item): void => {
    queue.push(item);
    if (!running) void loop();
  };
  return {
    trigger() {
      if (stopped || queue.includes(STEP)) return;
      enqueue(STEP);
    },
    run(action) {
      if (stopped) return Promise.resolve();
      return new Promise<void>((done) => enqueue({ action, done }));
    },
    idle: () => (running ? new Promise<void>((r) => waiters.push(r)) : Promise.resolve()),
    stop() {
      stopped = true;
    },
  };
}
