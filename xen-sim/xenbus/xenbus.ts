// Xenbus helpers as Linux drivers use them (drivers/xen/xenbus/xenbus_client.c, xenbus_probe.c),
// over a XenstoreClient of the domain running the driver. Every state switch runs in its own
// transaction (retried on EAGAIN by the client); peer states arrive through watches, and waits
// time out on the injected Clock (no real timers).
//   parseState        text of a `state` node → XenbusStateValue (Unknown when unreadable)
//   stateName         "Connected" etc. for logs
//   readState         reads <dir>/state
//   switchState       xenbus_switch_state: read then write <dir>/state in one transaction
//   readKeys          reads several keys of a device dir in one transaction (missing → undefined)
//   writeKeys         writes several keys of a device dir in one transaction
//   watchState        calls back with the state of <dir>/state on every change (in order)
//   waitForState      calls back once when the state satisfies a predicate, or on timeout

import { err, ok, type Result } from "../../stack/result.ts";
import type { Clock } from "../../stack/time.ts";
import type { XenstoreClient, XsOps, XsResult } from "../xenstore/client.ts";
import type { XsClientError } from "../xenstore/types.ts";
import { XenbusState, type StateWatch, type XenbusStateValue } from "./types.ts";

const NAMES = ["Unknown", "Initialising", "InitWait", "Initialised", "Connected", "Closing", "Closed", "Reconfiguring", "Reconfigured"] as const;

/** Parses a state node's text as xenbus_read_driver_state does; anything unreadable is Unknown. */
export function parseState(text: string | undefined): XenbusStateValue {
  if (text === undefined || !/^[0-9]{1,9}$/.test(text)) return XenbusState.Unknown;
  const n = Number(text);
  return n <= XenbusState.Reconfigured ? (n as XenbusStateValue) : XenbusState.Unknown;
}

/** Name of a state ("InitWait"), or "state-N" for a value outside the enum. */
export function stateName(state: number): string {
  return NAMES[state] ?? `state-${state}`;
}

const join = (dir: string, key: string): string => (dir.endsWith("/") ? `${dir}${key}` : `${dir}/${key}`);

/** Reads `<dir>/state`; a missing or malformed node reads as Unknown. */
export async function readState(ops: XsOps, dir: string): Promise<XenbusStateValue> {
  const r = await ops.read(join(dir, "state"));
  return parseState(r.ok ? r.value : undefined);
}

/**
 * xenbus_switch_state: in its own transaction, reads `<dir>/state` (the device must still exist:
 * ENOENT otherwise, nothing written) and writes the new state as decimal text. EAGAIN retries.
 */
export async function switchState(xs: XenstoreClient, dir: string, state: XenbusStateValue): Promise<XsResult<void>> {
  return xs.transaction(async (tx) => {
    const cur = await tx.read(join(dir, "state"));
    if (!cur.ok) return cur;
    return tx.write(join(dir, "state"), String(state));
  });
}

/** Reads `keys` under `dir` in one transaction; a missing key maps to undefined, other errors fail the read. */
export async function readKeys<K extends string>(xs: XenstoreClient, dir: string, keys: readonly K[]): Promise<XsResult<Record<K, string | undefined>>> {
  return xs.transaction(async (tx) => {
    const out = {} as Record<K, string | undefined>;
    for (const k of keys) {
      const r = await tx.read(join(dir, k));
      if (r.ok) out[k] = r.value;
      else if (r.error === "ENOENT") out[k] = undefined;
      else return r;
    }
    return ok(out);
  });
}

/** Writes every entry of `values` under `dir` in one transaction (numbers as decimal text). */
export async function writeKeys(xs: XenstoreClient, dir: string, values: Readonly<Record<string, string | number>>): Promise<XsResult<void>> {
  return xs.transaction(async (tx) => {
    for (const [k, v] of Object.entries(values)) {
      const r = await tx.write(join(dir, k), typeof v === "number" ? String(v) : v);
      if (!r.ok) return r;
    }
    return ok(undefined);
  });
}

/**
 * Watches `<dir>/state` and calls `onState` with the state read after each watch event
 * (including the one the server sends at registration), in event order. `onError` hears a
 * failed registration. The node disappearing reads as Unknown.
 */
export function watchState(xs: XenstoreClient, dir: string, onState: (state: XenbusStateValue) => void, onError?: (error: XsClientError) => void): StateWatch {
  let cancelled = false;
  let chain: Promise<void> = Promise.resolve();
  let unwatch: (() => void) | undefined;
  const path = join(dir, "state");
  void xs
    .watch(path, () => {
      if (cancelled) return;
      chain = chain.then(async () => {
        if (cancelled) return;
        const s = await readState(xs, dir);
        if (!cancelled) onState(s);
      });
    })
    .then((r) => {
      if (!r.ok) {
        if (!cancelled) onError?.(r.error);
        return;
      }
      if (cancelled) void r.value.unwatch();
      else unwatch = () => void r.value.unwatch();
    });
  return {
    get cancelled() {
      return cancelled;
    },
    cancel() {
      if (cancelled) return;
      cancelled = true;
      unwatch?.();
    },
  };
}

/** Why waitForState gave up. */
export type WaitStateError = "timeout" | XsClientError;

/**
 * Calls `done` once: with the first state of `<dir>/state` that satisfies `accept`, or with
 * "timeout" after `timeoutMs` on the Clock (no timeout when omitted). Cancelling stops both.
 */
export function waitForState(
  deps: { readonly xs: XenstoreClient; readonly clock: Clock },
  dir: string,
  accept: (state: XenbusStateValue) => boolean,
  done: (r: Result<XenbusStateValue, WaitStateError>) => void,
  options: { readonly timeoutMs?: number } = {},
): StateWatch {
  let finished = false;
  let timer: number | undefined;
  const finish = (r: Result<XenbusStateValue, WaitStateError>): void => {
    if (finished) return;
    finished = true;
    if (timer !== undefined) deps.clock.cancel(timer);
    w.cancel();
    done(r);
  };
  const w = watchState(
    deps.xs,
    dir,
    (s) => {
      if (accept(s)) finish(ok(s));
    },
    (e) => finish(err(e)),
  );
  if (options.timeoutMs !== undefined) timer = deps.clock.setTimer(deps.clock.now() + options.timeoutMs, () => finish(err("timeout")));
  return {
    get cancelled() {
      return finished;
    },
    cancel() {
      if (finished) return;
      finished = true;
      if (timer !== undefined) deps.clock.cancel(timer);
      w.cancel();
    },
  };
}
