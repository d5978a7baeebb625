// Worker thread bootstrap: loads TypeScript through tsx, imports the domain module named in
// workerData.entry, runs its `run(workerData.data)` and posts { ok, value } or { ok: false, error }.
import { register } from "tsx/esm/api";
import { parentPort, workerData } from "node:worker_threads";

register();
try {
  const mod = await import(workerData.entry);
  const value = await mod.run(workerData.data);
  parentPort.postMessage({ ok: true, value });
} catch (e) {
  parentPort.postMessage({ ok: false, error: e instanceof Error ? `${e.stack ?? e.message}` : String(e) });
}
