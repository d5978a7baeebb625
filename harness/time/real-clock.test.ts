import { describe, expect, it } from "vitest";
import { createRealClock, createSeededRng } from "./real-clock.ts";

describe("createRealClock()", () => {
  it("fires timers in deadline order, not before their time, and forgets fired ones", async () => {
    const clock = createRealClock();
    const start = clock.now();
    const fired: Array<[string, number]> = [];
    clock.setTimer(start + 30, () => fired.push(["late", clock.now() - start]));
    clock.setTimer(start + 5, () => fired.push(["early", clock.now() - start]));
    expect(clock.pending()).toBe(2);
    await new Promise((r) => setTimeout(r, 60));
    expect(fired.map((f) => f[0])).toEqual(["early", "late"]);
    expect(fired[0]![1]).toBeGreaterThanOrEqual(4);
    expect(fired[1]![1]).toBeGreaterThanOrEqual(29);
    expect(clock.pending()).toBe(0);
  });

  it("runs a timer whose time has passed as soon as possible, and cancel() and close() stop timers", async () => {
    const clock = createRealClock();
    const fired: string[] = [];
    clock.setTimer(clock.now() - 1000, () => fired.push("past"));
    const id = clock.setTimer(clock.now() + 5, () => fired.push("cancelled"));
    clock.setTimer(clock.now() + 5, () => fired.push("closed"));
    clock.cancel(id);
    clock.cancel(9999);
    await new Promise((r) => setTimeout(r, 1));
    clock.close();
    await new Promise((r) => setTimeout(r, 20));
    expect(fired).toEqual(["past"]);
    expect(clock.pending()).toBe(0);
  });

  it("maps its time to wall-clock time through epochMs", () => {
    const clock = createRealClock();
    expect(Math.abs(clock.epochMs + clock.now() - Date.now())).toBeLessThan(50);
  });
});

describe("createSeededRng()", () => {
  it("replays the same stream from a reported seed", () => {
    const a = createSeededRng();
    const b = createSeededRng(a.seed);
    const xs = Array.from({ length: 8 }, () => a.nextU32());
    expect(Array.from({ length: 8 }, () => b.nextU32())).toEqual(xs);
    expect(new Set(xs).size).toBe(8);
  });
});
