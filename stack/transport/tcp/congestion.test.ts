import { describe, expect, it } from "vitest";
import { createCongestionControl, initialWindow } from "./congestion.ts";

const MSS = 1448;

describe("congestion control", () => {
  it("starts with IW10 = min(10·MSS, max(2·MSS, 14600)) (RFC 6928)", () => {
    expect(initialWindow(1448)).toBe(14480);
    expect(initialWindow(1460)).toBe(14600);
    expect(initialWindow(9000)).toBe(18000);
    expect(createCongestionControl("cubic", MSS).cwnd).toBe(14480);
  });

  it("NewReno: slow start doubles per RTT, loss halves, congestion avoidance adds one MSS per RTT", () => {
    const cc = createCongestionControl("newreno", MSS);
    cc.onAck(cc.cwnd, MSS, 0, 10, 0, 0);
    expect(cc.cwnd).toBe(28960);
    cc.onCongestion(28960, MSS, 10);
    expect([cc.ssthresh, cc.cwnd]).toEqual([14480, 14480]);
    cc.onAck(14480, MSS, 20, 10, 0, 0);
    expect(cc.cwnd).toBe(14480 + MSS);
    // half the window (Linux's tcp_reno_ssthresh), whatever the flight passed
    cc.onTimeout(20000, MSS, 30);
    expect([cc.ssthresh, cc.cwnd]).toEqual([Math.floor((14480 + MSS) / 2), MSS]);
  });

  it("CUBIC: reduces by β = 0.7 and regrows past W_max after K; Reno adds one MSS per RTT", () => {
    const cc = createCongestionControl("cubic", MSS);
    cc.cwnd = 100 * MSS;
    cc.onCongestion(100 * MSS, MSS, 0);
    expect(cc.ssthresh).toBe(Math.floor(100 * MSS * 0.7));
    expect(cc.cwnd).toBe(cc.ssthresh);
    const reno = createCongestionControl("newreno", MSS);
    reno.cwnd = 70 * MSS;
    reno.ssthresh = 70 * MSS;
    // 100 RTTs of 50 ms = 5 s, beyond K = cbrt(30/0.4) ≈ 4.2 s
    let t = 0;
    for (let rtt = 0; rtt < 100; rtt++) {
      t += 50;
      const w = cc.cwnd;
      for (let i = 0; i < w / MSS; i++) cc.onAck(MSS, MSS, t, 50, 0, 0);
      const wr = reno.cwnd;
      for (let i = 0; i < wr / MSS; i++) reno.onAck(MSS, MSS, t, 50, 0, 0);
    }
    // after 5 s CUBIC is past W_max = 100 segments (convex probing after K)
    expect(cc.cwnd / MSS).toBeGreaterThan(100);
    // Reno without the reduction grew linearly, one MSS per RTT
    expect(reno.cwnd).toBe(170 * MSS);
    const k = Math.cbrt((100 * 0.3) / 0.4);
    expect(k).toBeCloseTo(4.217, 2);
  });

  it("CUBIC at the plateau stays near W_max around t = K", () => {
    const cc = createCongestionControl("cubic", MSS);
    cc.cwnd = 100 * MSS;
    cc.onCongestion(100 * MSS, MSS, 0);
    let t = 0;
    const samples: number[] = [];
    for (let rtt = 0; rtt < 21; rtt++) {
      t += 200;
      const w = cc.cwnd;
      for (let i = 0; i < w / MSS; i++) cc.onAck(MSS, MSS, t, 200, 0, 0);
      samples.push(cc.cwnd / MSS);
    }
    // around K ≈ 4.2 s (21 RTTs of 200 ms) the window is within a few segments of W_max = 100
    expect(samples.at(-1)!).toBeGreaterThan(95);
    expect(samples.at(-1)!).toBeLessThan(106);
    // concave: growth in the first second is larger than in the fourth
    expect(samples[4]! - samples[0]!).toBeGreaterThan(samples[19]! - samples[15]!);
  });
});
