// Small xenstore helpers of the block drivers (state switching itself is xen-sim/xenbus):
// reads of optional integer keys, and a serial re-runnable task so watch callbacks never run a
// handshake step twice at once.
//   readUint           an optional unsigned decimal key
//   createSerialTask   runs an async step; triggers while it runs coalesce into one more run

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

/** A step that never runs concurrently with itself; trigger() during a run schedules exactly one more run. */
export interface SerialTask {
  trigger(): void;
  /** Resolves when no run is active or pending. */
  idle(): Promise<void>;
  stop(): void;
}

export function createSerialTask(step: () => Promise<void>, onError: (e: unknown) => void): SerialTask {
  let running = false;
  let again = false;
  let stopped = false;
  let waiters: (() => void)[] = [];
  const loop = async (): Promise<void> => {
    running = true;
    try {
      while (again && !stopped) {
        again = false;
        try {
          await step();
        } catch (e) {
          onError(e);
        }
      }
    } finally {
      running = false;
      const w = waiters;
      waiters = [];
      for (const f of w) f();
    }
  };
  return {
    trigger() {
      if (stopped) return;
      again = true;
      if (!running) void loop();
    },
    idle: () => (running ? new Promise<void>((r) => waiters.push(r)) : Promise.resolve()),
    stop() {
      stopped = true;
    },
  };
}
