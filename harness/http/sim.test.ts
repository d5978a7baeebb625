import { describe, expect, it } from "vitest";
import { runHttpSimulation } from "./sim.ts";

describe("runHttpSimulation()", () => {
  it("answers every request correctly over a clean wire with pipelining", async () => {
    const r = await runHttpSimulation({ requests: 60, concurrency: 2, pipeline: 4, bytes: 3000, seed: 1 });
    expect(r).toMatchObject({ ok: true, requests: 60, responses: 60, correct: 60, errors: {}, bodyBytes: 180_000, connections: 2 });
  });

  it("answers every request correctly under 3% loss, and the same seed gives the same run", async () => {
    const o = { requests: 40, concurrency: 3, pipeline: 2, bytes: 20_000, loss: 0.03, seed: 42 };
    const r1 = await runHttpSimulation(o);
    const r2 = await runHttpSimulation(o);
    expect(r1).toMatchObject({ ok: true, correct: 40, errors: {} });
    expect(r1.retransmits).toBeGreaterThan(0);
    expect([r2.virtualMs, r2.retransmits]).toEqual([r1.virtualMs, r1.retransmits]);
  });
});
