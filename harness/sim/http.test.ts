// `netlab sim http`: concurrent, pipelined requests over netlab TCP (IPv4 or IPv6), every response checked.
import { describe, expect, it } from "vitest";
import { runHttpSim } from "./http.ts";

describe("netlab sim http", () => {
  it("60 requests over 3 connections pipelining 3 deep at 3% loss all come back with the right bytes", async () => {
    const r = await runHttpSim({ requests: 60, concurrency: 3, pipeline: 3, bytes: 20_000, loss: 0.03, seed: 2 });
    expect(r).toMatchObject({ ok: true, requests: 60, responsesOk: 60, failures: 0, serverRequests: 60, bytesReceived: 60 * 20_000 });
    expect(r.connectionsOpened).toBeLessThanOrEqual(3);
    expect(r.retransmits).toBeGreaterThan(0);
  });

  it("--ipv6: the same over TCP over IPv6 (2% loss, pipelined), and the report names the family", async () => {
    const r = await runHttpSim({ requests: 40, concurrency: 2, pipeline: 2, bytes: 15_000, loss: 0.02, seed: 3, ipv6: true });
    expect(r).toMatchObject({ ok: true, family: "ipv6", responsesOk: 40, failures: 0, serverRequests: 40, bytesReceived: 40 * 15_000 });
    expect(r.connectionsOpened).toBeLessThanOrEqual(2);
    expect(r.retransmits).toBeGreaterThan(0);
    expect((await runHttpSim({ requests: 2, bytes: 100 })).family).toBe("ipv4");
  });
});
