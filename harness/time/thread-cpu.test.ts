import { Worker } from "node:worker_threads";
import { describe, expect, it } from "vitest";
import { threadCpuMs } from "./thread-cpu.ts";

const linux = process.platform === "linux";

describe("threadCpuMs()", () => {
  it.skipIf(!linux)("grows by about the CPU time this thread burns", () => {
    // A busy loop of 120 ms wall time: on a loaded machine the thread gets only part of it, so
    // the figure is held against the process's own CPU time over the same loop (this thread is
    // nearly all of it), not against the wall clock.
    const before = threadCpuMs()!;
    const process0 = process.cpuUsage();
    const until = performance.now() + 120;
    let x = 0;
    while (performance.now() < until) x += Math.sqrt(x + 1);
    const spent = threadCpuMs()! - before;
    const p = process.cpuUsage(process0);
    const processMs = (p.user + p.system) / 1000;
    expect(x).toBeGreaterThan(0);
    expect(spent).toBeGreaterThan(5);
    expect(spent).toBeLessThanOrEqual(processMs + 5);
    expect(spent).toBeGreaterThanOrEqual(processMs * 0.6);
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
