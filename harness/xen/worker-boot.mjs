// Worker thread bootstrap: imports the domain module named in workerData.entry (TypeScript
// through tsx in the repository, compiled JavaScript in the package), runs its
// `run(workerData.data)` and posts { ok, value } or { ok: false, error }.
import { parentPort, workerData } from "node:worker_threads";

if (String(workerData.entry).endsWith(".ts")) {
  const { register } = await import("tsx/esm/api");
  register();
}
try {
  const mod = await import(workerData.entry);
  const value = await mod.run(workerData.data);
  parentPort.postMessage({ ok: true, value });
} catch (e) {
  parentPort.postMessage({ ok: false, error: e instanceof Error ? `${e.stack ?? e.message}` : String(e) });
}
