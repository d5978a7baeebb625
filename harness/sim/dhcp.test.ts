// `netlab sim dhcp`: many clients on a lossy switch all bind, each to its own address.
import { describe, expect, it } from "vitest";
import { runDhcpSim } from "./dhcp.ts";

describe("netlab sim dhcp", () => {
  it("40 clients on a switch losing 5% of frames each way all bind, no address twice, every stack configured", () => {
    const r = runDhcpSim({ clients: 40, loss: 0.05, seed: 3 });
    expect(r).toMatchObject({ ok: true, clients: 40, bound: 40, uniqueAddresses: 40, duplicates: [], misconfigured: 0, serverLeases: 40 });
    expect(r.framesLost).toBeGreaterThan(0);
    expect(r.discovers).toBeGreaterThanOrEqual(40);
  });

  it("without loss every client needs exactly one DISCOVER and one REQUEST", () => {
    const r = runDhcpSim({ clients: 10, seed: 1 });
    expect(r).toMatchObject({ ok: true, bound: 10, discovers: 10, requests: 10, server: { offers: 10, acks: 10, naks: 0 } });
  });
});
