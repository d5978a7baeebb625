import { describe, expect, it } from "vitest";
import { createRng } from "../../time.ts";
import { createRed, redDropProbability } from "./red.ts";
import { udpFrame } from "./test-frames.ts";
import type { QueuedItem } from "./types.ts";

const params = { minThreshold: 10, maxThreshold: 30, maxProbability: 0.1, gentle: false };

describe("red", () => {
  it("redDropProbability() rises linearly between the thresholds and is spread by the count since the last drop", () => {
    expect(redDropProbability(9.99, 0, params)).toBe(0);
    expect(redDropProbability(20, 0, params)).toBeCloseTo(0.05, 12);
    expect(redDropProbability(20, 10, params)).toBeCloseTo(0.05 / (1 - 0.5), 12);
    expect(redDropProbability(20, 20, params)).toBe(1);
    expect(redDropProbability(30, 0, params)).toBe(1);
    expect(redDropProbability(45, 0, { ...params, gentle: true })).toBeCloseTo(0.1 + 0.9 * 0.5, 12);
    expect(redDropProbability(60, 0, { ...params, gentle: true })).toBe(1);
  });

  it("drops arrivals at a steady average queue at the rate the count-spread probability gives", () => {
    // weight 1: the average is the instantaneous queue, held at 20 packets (pb = 0.05).
    // With pa = pb/(1 - count·pb) the gap between drops is uniform on 1..1/pb, so the drop
    // fraction is 2·pb/(1 + pb) = 0.0952.
    const red = createRed<QueuedItem>({ rng: createRng(11) }, { minThreshold: 10, maxThreshold: 30, weight: 1 });
    while (red.packets < 20) red.enqueue({ data: udpFrame(100, 1), enqueuedAt: 0 }, 0);
    const before = red.counters.dropped;
    let arrivals = 0;
    for (let t = 1; t <= 20000; t++) {
      arrivals++;
      if (red.enqueue({ data: udpFrame(100, 1), enqueuedAt: t }, t)) red.dequeue(t);
    }
    const fraction = (red.counters.dropped - before) / arrivals;
    expect(fraction).toBeGreaterThan(0.0952 * 0.93);
    expect(fraction).toBeLessThan(0.0952 * 1.07);
    expect(red.counters.dropsByReason["red-early"]).toBe(red.counters.dropped);
  });

  it("with ECN marks ECT arrivals instead of an early drop, and drops Not-ECT ones", () => {
    const red = createRed<QueuedItem>({ rng: createRng(3) }, { minThreshold: 1, maxThreshold: 1000, maxProbability: 1, weight: 1, ecn: true });
    for (let i = 0; i < 200; i++) red.enqueue({ data: udpFrame(100, 1, 0x01), enqueuedAt: 0 }, 0);
    expect(red.counters.dropped).toBe(0);
    expect(red.counters.marked).toBeGreaterThan(10);
    red.enqueue({ data: udpFrame(100, 1, 0x00), enqueuedAt: 0 }, 0);
    for (let i = 0; i < 50; i++) red.enqueue({ data: udpFrame(100, 1, 0x00), enqueuedAt: 0 }, 0);
    expect(red.counters.dropped).toBeGreaterThan(0);
  });
});
