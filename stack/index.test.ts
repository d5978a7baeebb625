import { describe, expect, it } from "vitest";
import { createDevicePair } from "./link/pair.ts";
import { createRng, createVirtualClock } from "./time.ts";
import { createStack } from "./index.ts";

describe("createStack", () => {
  it("assembles a configured stack from strings and reports per-layer counters", () => {
    const clock = createVirtualClock();
    const pair = createDevicePair(clock);
    const s = createStack({ device: pair.a, clock, rng: createRng(1) }, { name: "h1", ipv4: { cidr: "192.0.2.10/24", gateway: "192.0.2.1" } });
    expect(s.name).toBe("h1");
    expect(s.ipv4.cidr).toEqual({ address: 0xc000020a, prefixLength: 24 });
    expect(s.ipv4.gateway).toBe(0xc0000201);
    expect(Object.keys(s.counters()).sort()).toEqual(["arp", "ethernet", "icmp", "ipv4", "reassembly", "udp"]);
    expect(s.counters().arp).toMatchObject({ announcementsSent: 1 });
  });

  it("starts unconfigured without ipv4 options, and configure() later announces the address", () => {
    const clock = createVirtualClock();
    const pair = createDevicePair(clock);
    const s = createStack({ device: pair.a, clock, rng: createRng(1) });
    expect(s.ipv4.cidr).toBeUndefined();
    expect(pair.log).toEqual([]);
    s.ipv4.configure({ address: 0xc000020a, prefixLength: 24 });
    expect(pair.log.length).toBe(1);
  });

  it("throws ERR_NETLAB_CONFIG on a malformed address string", () => {
    const clock = createVirtualClock();
    const pair = createDevicePair(clock);
    expect(() => createStack({ device: pair.a, clock, rng: createRng(1) }, { ipv4: { cidr: "192.0.2.300/24" } })).toThrow(
      expect.objectContaining({ code: "ERR_NETLAB_CONFIG" }),
    );
    expect(() => createStack({ device: pair.b, clock, rng: createRng(1) }, { ipv4: { cidr: "192.0.2.3/24", gateway: "nope" } })).toThrow(
      expect.objectContaining({ code: "ERR_NETLAB_CONFIG" }),
    );
  });

  it("two stacks in one process do not interfere", () => {
    const clock = createVirtualClock();
    const p1 = createDevicePair(clock);
    const p2 = createDevicePair(clock);
    const s1 = createStack({ device: p1.a, clock, rng: createRng(1) }, { ipv4: { cidr: "192.0.2.10/24" } });
    const s2 = createStack({ device: p2.a, clock, rng: createRng(1) }, { ipv4: { cidr: "192.0.2.10/24" } });
    expect(s1.udp.bind(53).ok).toBe(true);
    expect(s2.udp.bind(53).ok).toBe(true);
    s1.arp.addStatic(1, 2);
    expect(s2.arp.lookup(1)).toBeUndefined();
  });
});
