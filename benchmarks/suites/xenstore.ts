// xenstore suite: operations/s of the simulated xenstored through the client library over the
// in-process transport (every operation is encoded, parsed, executed and answered on the
// xenstore wire format), with 32 operations in flight; reads, writes, directory listings and
// transactions (start, two writes, commit).
import type { BenchCase, BenchSuite } from "../../harness/bench/types.ts";
import { connectInProcess, createXenstoreClient, createXenstoreServer, type XenstoreClient } from "../../xen-sim/xenstore/index.ts";
import { cpuMsSince } from "../lib/sim.ts";

const IN_FLIGHT = 32;

function opsCase(name: string, op: (c: XenstoreClient, i: number, worker: number) => Promise<{ ok: boolean }>, opsPerCall: number): BenchCase {
  let details: Record<string, unknown> = {};
  return {
    suite: "xenstore",
    name,
    unit: "op/s",
    higherIsBetter: true,
    async measure(ctx) {
      const calls = ctx.quick ? 500 : 40_000 / opsPerCall;
      const server = createXenstoreServer();
      const c = createXenstoreClient(connectInProcess(server, 0));
      for (let i = 0; i < 64; i++) {
        const r = await c.write(`/local/domain/1/device/vif/${i}/state`, "4");
        if (!r.ok) throw new Error(`setup write: ${r.error}`);
        if (i < IN_FLIGHT) for (const leaf of ["a", "b"]) await c.write(`/local/domain/2/tx/${i}/${leaf}`, "0");
      }
      let next = 0,
        failed = 0;
      const worker = async (_: unknown, w: number): Promise<void> => {
        while (next < calls) {
          const i = next++;
          const r = await op(c, i, w);
          if (!r.ok) failed++;
        }
      };
      const cpu0 = process.cpuUsage();
      const t0 = performance.now();
      await Promise.all(Array.from({ length: IN_FLIGHT }, worker));
      const wallMs = performance.now() - t0;
      c.close();
      if (failed > 0) throw new Error(`${failed} of ${calls} calls failed`);
      const cpuMs = cpuMsSince(cpu0);
      details = {
        operations: calls * opsPerCall,
        inFlight: IN_FLIGHT,
        wallMs: Math.round(wallMs),
        cpuMs: Math.round(cpuMs),
        perCpuSecond: (calls * opsPerCall) / (cpuMs / 1000),
      };
      return (calls * opsPerCall) / (wallMs / 1000);
    },
    details: () => details,
  };
}

export const suite: BenchSuite = {
  name: "xenstore",
  description: "simulated xenstored operations/s through the client library (in-process transport, 32 in flight)",
  cases: () => [
    opsCase("read", (c, i) => c.read(`/local/domain/1/device/vif/${i & 63}/state`), 1),
    opsCase("write", (c, i) => c.write(`/local/domain/1/device/vif/${i & 63}/state`, String(i & 7)), 1),
    opsCase("directory (64 children)", (c) => c.directory("/local/domain/1/device/vif"), 1),
    // Each worker touches its own nodes, so commits do not conflict; 4 messages per call.
    opsCase(
      "transaction (start, 2 writes, commit)",
      (c, i, w) =>
        c.transaction(async (tx) => {
          const a = await tx.write(`/local/domain/2/tx/${w}/a`, String(i & 7));
          if (!a.ok) return a;
          return tx.write(`/local/domain/2/tx/${w}/b`, "2");
        }),
      4,
    ),
  ],
};
