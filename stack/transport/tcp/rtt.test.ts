import { describe, expect, it } from "vitest";
import { RttEstimator } from "./rtt.ts";

describe("RttEstimator (RFC 6298)", () => {
  it("starts at the initial RTO, takes SRTT = R and RTTVAR = R/2 from the first sample, then smooths", () => {
    const r = new RttEstimator(1000, 200, 60_000);
    expect(r.rto).toBe(1000);
    r.sample(100);
    expect([r.srtt, r.rttvar, r.rto]).toEqual([100, 50, 300]);
    r.sample(200);
    expect(r.srtt).toBe(112.5);
    expect(r.rttvar).toBe(62.5);
    expect(r.rto).toBe(362.5);
  });

  it("clamps to the minimum, doubles on backoff up to the maximum, and forgets backoff on reset", () => {
    const r = new RttEstimator(1000, 200, 5000);
    r.sample(1);
    expect(r.rto).toBe(200);
    r.backoff();
    r.backoff();
    expect(r.rto).toBe(800);
    for (let i = 0; i < 10; i++) r.backoff();
    expect(r.rto).toBe(5000);
    r.resetBackoff();
    expect(r.rto).toBe(200);
  });
});
