// Xenbus helpers the block drivers use (xen-abi.md §7): state names, a state switch in its own
// transaction (Linux xenbus_switch_state), reads of optional integer keys, and a serial
// re-runnable task so watch callbacks never run a handshake step twice at once.
//   XenbusState        the states as numbers
//   readXenbusState    a state node (missing or garbage → Unknown, as xenbus_read_driver_state)
//   switchXenbusState  writes `<dir>/state` in a transaction (EAGAIN retried by the client)
//   readUint           an optional unsigned decimal key
//   createSerialTask   runs an async step; triggers while it runs coalesce into one more run

import { err, ok, type Result } from "../../stack/result.ts";
import type { XenstoreClient, XsOps } from "../xenstore/client.ts";
import type { XsClientError } from "../xenstore/types.ts";

export const XenbusState = {
  Unknown: 0, Initialising: 1, InitWait: 2, Initialised: 3, Connected: 4, Closing: 5, Closed: 6,
  Reconfiguring: 7, Reconfigured: 8,
} as const;
export type XenbusStateValue = (typeof XenbusState)[keyof typeof XenbusState];

/** Reads `<dir>/state`; a missing node or a non-number reads as Unknown. */
export async function readXenbusState(xs: XsOps, dir: string): Promise<number> {
  const r = await xs.read(`${dir}/state`);
  if (!r.ok || !/^[0-9]{1,2}$/.test(r.value)) return XenbusState.Unknown;
  return Number(r.value);
}

/** Switches `<dir>/state` in its own transaction (as Linux xenbus_switch_state). */
export async function switchXenbusState(xs: XenstoreClient, dir: string, state: number): Promise<Result<void, XsClientError>> {
  return xs.transaction(async (tx) => tx.write(`${dir}/state`, String(state)));
}

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
