// `netlab sim http`: concurrent, pipelined requests over netlab TCP, every response checked.
import { describe, expect, it } from "vitest";
import { runHttpSim } from "./http.ts";

describe("netlab sim http", () => {
  it("60 requests over 3 connections pipelining 3 deep at 3% loss all come back with the right bytes", async () => {
    const r = await runHttpSim({ requests: 60, concurrency: 3, pipeline: 3, bytes: 20_000, loss: 0.03, seed: 2 });
    expect(r).toMatchObject({ ok: true, requests: 60, responsesOk: 60, failures: 0, serverRequests: 60, bytesReceived: 60 * 20_000 });
    expect(r.connectionsOpened).toBeLessThanOrEqual(3);
    expect(r.retransmits).toBeGreaterThan(0);
  });
});
