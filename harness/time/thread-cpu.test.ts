import { Worker } from "node:worker_threads";
import { describe, expect, it } from "vitest";
import { threadCpuMs } from "./thread-cpu.ts";

const linux = process.platform === "linux";

describe("threadCpuMs()", () => {
  it.skipIf(!linux)("grows by about the CPU time this thread burns", () => {
    const before = threadCpuMs()!;
    const until = performance.now() + 120;
    let x = 0;
    while (performance.now() < until) x += Math.sqrt(x + 1);
    const spent = threadCpuMs()! - before;
    expect(x).toBeGreaterThan(0);
    expect(spent).toBeGreaterThanOrEqual(60);
    expect(spent).toBeLessThanOrEqual(400);
  });

  it.skipIf(!linux)("does not count another thread's work", async () => {
    const before = threadCpuMs()!;
    const w = new Worker("const t = performance.now() + 150; let x = 0; while (performance.now() < t) x += Math.sqrt(x + 1);", { eval: true });
    // This thread sleeps in the event loop while the worker spins.
    await new Promise<void>((resolve) => w.on("exit", () => resolve()));
    expect(threadCpuMs()! - before).toBeLessThan(100);
  });
});
