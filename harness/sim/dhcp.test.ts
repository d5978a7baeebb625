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
  it("splits clients over segments behind relay agents: frame deliveries grow linearly, not as N²", () => {
    const r = runDhcpSim({ clients: 60, seed: 2, segmentSize: 20 });
    expect(r).toMatchObject({ ok: true, bound: 60, uniqueAddresses: 60, segments: 3, relays: { requestsRelayed: 120, repliesRelayed: 120, dropped: 0 } });
    const twice = runDhcpSim({ clients: 120, seed: 2, segmentSize: 20 });
    expect(twice).toMatchObject({ ok: true, bound: 120, segments: 6 });
    expect(twice.frameDeliveries / r.frameDeliveries).toBeLessThan(2.3);
    const flat = runDhcpSim({ clients: 60, seed: 2, segmentSize: 0 });
    expect(flat).toMatchObject({ ok: true, segments: 1 });
    expect(flat.relays).toBeUndefined();
    expect(flat.frameDeliveries).toBeGreaterThan(2 * r.frameDeliveries);
  });

  it("a lossy segmented network still binds every client once", () => {
    const r = runDhcpSim({ clients: 90, loss: 0.05, seed: 4, segmentSize: 30 });
    expect(r).toMatchObject({ ok: true, bound: 90, uniqueAddresses: 90, duplicates: [], misconfigured: 0, serverLeases: 90, segments: 3 });
  });
});
