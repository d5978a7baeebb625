// Runs a domain's code in its own worker thread. The domain's pages are SharedArrayBuffers, so
// passing them in `data` shares (not copies) them: the worker and the other domains touch the same
// memory, with ring indices published by Atomics and events delivered through shared_info
// (xen-sim/event-channel/two-level.ts). runInWorker: starts the worker and resolves with the
// value its module's `run(data)` returns; rejects with code ERR_NETLAB_WORKER on failure, timeout
// or `terminate` (the worker is terminated in each case).

import { Worker } from "node:worker_threads";
import { NetlabError } from "../../stack/error.ts";

/** Options of runInWorker. */
export interface RunInWorkerOptions {
  /** Kill the worker and reject after this long (default 60 s). */
  timeoutMs?: number;
  /** Kill the worker and reject (ERR_NETLAB_WORKER) when this aborts. */
  terminate?: AbortSignal;
}

function workerError(message: string): Error {
  const e = new NetlabError("ERR_NETLAB_WORKER", message);
  return e;
}

/** Runs `export function run(data)` of the module at `entry` (a file URL or absolute path) in a new worker thread. */
export function runInWorker<T>(entry: URL | string, data: unknown, options: RunInWorkerOptions = {}): Promise<T> {
  const timeoutMs = options.timeoutMs ?? 60_000;
  const worker = new Worker(new URL("./worker-boot.mjs", import.meta.url), {
    workerData: { entry: entry.toString(), data },
  });
  return new Promise<T>((resolve, reject) => {
    let settled = false;
    const onTerminate = (): void => finish(() => reject(workerError(`worker ${entry.toString()} terminated`)));
    const finish = (f: () => void): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      options.terminate?.removeEventListener("abort", onTerminate);
      f();
      void worker.terminate();
    };
    const timer = setTimeout(() => finish(() => reject(workerError(`worker ${entry.toString()} timed out after ${timeoutMs} ms`))), timeoutMs);
    if (options.terminate?.aborted === true) onTerminate();
    else options.terminate?.addEventListener("abort", onTerminate, { once: true });
    worker.on("message", (m: { ok: boolean; value?: T; error?: string }) =>
      finish(() => (m.ok ? resolve(m.value as T) : reject(workerError(m.error ?? "worker failed")))),
    );
    worker.on("error", (e) => finish(() => reject(workerError(e.message))));
    worker.on("exit", (code) => finish(() => reject(workerError(`worker exited with code ${code} before reporting`))));
  });
}
