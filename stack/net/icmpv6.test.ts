import { describe, expect, it } from "vitest";
import { createDevicePair } from "../link/pair.ts";
import { createRng, createVirtualClock } from "../time.ts";
import { createStack, type StackOptions } from "../index.ts";
import type { Result } from "../result.ts";
import { formatIpv6, ipv6 } from "../wire/ipv6-address.ts";
import type { Ping6Error, Ping6Reply } from "./ipv6-types.ts";
import { A_LL, PEER_LL, createRawPeer, icmpMessages, icmpPacket, ipv6Packet, ndPacket } from "./ipv6-test-net.ts";

function twoStacks(a: StackOptions = {}, b: StackOptions = {}, latencyMs = 5) {
  const clock = createVirtualClock();
  const pair = createDevicePair(clock, { latencyMs });
  const sa = createStack({ device: pair.a, clock, rng: createRng(1) }, { ipv6: { addresses: ["2001:db8::a/64"] }, ...a });
  const sb = createStack({ device: pair.b, clock, rng: createRng(2) }, { ipv6: { addresses: ["2001:db8::b/64"] }, ...b });
  clock.run(5000); // DAD
  return { clock, pair, a: sa, b: sb };
}

function resolvePeer(t: ReturnType<typeof createRawPeer>): void {
  t.stack.ipv6!.send(PEER_LL, 59, new Uint8Array(0));
  t.inject(
    ndPacket(PEER_LL, A_LL, {
      kind: "neighbor-advertisement",
      router: false,
      solicited: true,
      override: true,
      target: PEER_LL,
      options: [{ kind: "target-link-layer-address", address: Uint8Array.of(2, 0, 0, 0, 0, 2) }],
    }),
  );
  t.clock.run();
}

describe("icmpv6", () => {
  it("ping6 between two stacks: the RTT includes neighbour resolution the first time, not the second", () => {
    const t = twoStacks();
    const results: Result<Ping6Reply, Ping6Error>[] = [];
    t.a.icmpv6!.ping(ipv6("2001:db8::b"), { ident: 9, seq: 1, size: 100 }, (r) => results.push(r));
    t.clock.run();
    t.a.icmpv6!.ping(ipv6("2001:db8::b"), { ident: 9, seq: 2 }, (r) => results.push(r));
    t.clock.run();
    expect(results).toEqual([
      { ok: true, value: { from: ipv6("2001:db8::b"), ident: 9, seq: 1, bytes: 100, hopLimit: 64, rttMs: 20 } },
      { ok: true, value: { from: ipv6("2001:db8::b"), ident: 9, seq: 2, bytes: 56, hopLimit: 64, rttMs: 10 } },
    ]);
    expect(t.a.ipv6!.ndp.neighbors()).toMatchObject([{ state: "reachable" }]);
  });

  it("ping6 of our own address is delivered locally, without the wire", () => {
    const t = twoStacks();
    t.clock.run(); // the router solicitations run out first
    t.pair.log.length = 0;
    const results: Result<Ping6Reply, Ping6Error>[] = [];
    t.a.icmpv6!.ping(ipv6("2001:db8::a"), {}, (r) => results.push(r));
    t.clock.run();
    expect(results).toMatchObject([{ ok: true, value: { rttMs: 0 } }]);
    expect(t.pair.log).toEqual([]);
  });

  it("ping6 to all-nodes is answered from a unicast address (RFC 4443 §4.2)", () => {
    const t = twoStacks();
    const results: Result<Ping6Reply, Ping6Error>[] = [];
    t.a.icmpv6!.ping(ipv6("ff02::1"), { seq: 5 }, (r) => results.push(r));
    t.clock.run();
    expect(results.length).toBe(1);
    expect(results[0]!.ok && formatIpv6(results[0]!.value.from)).toBe("fe80::ff:fe00:2");
  });

  it("ping6 times out, and fails at once without a route", () => {
    const t = twoStacks({}, { ipv6: { addresses: ["2001:db8::b/64"], icmpv6: { echoReply: false } } });
    const results: Result<Ping6Reply, Ping6Error>[] = [];
    t.a.icmpv6!.ping(ipv6("2001:db8::b"), { timeoutMs: 500 }, (r) => results.push(r));
    t.a.icmpv6!.ping(ipv6("2001:db8:5::1"), {}, (r) => results.push(r));
    t.clock.run();
    expect(results).toEqual([
      { ok: false, error: "no-route" },
      { ok: false, error: "timeout" },
    ]);
    expect(t.b.counters().icmpv6!.drops).toEqual({ "echo-disabled": 1 });
  });

  it("a Destination Unreachable quoting our echo request ends the ping with 'unreachable'", () => {
    const t = createRawPeer();
    resolvePeer(t);
    const results: Result<Ping6Reply, Ping6Error>[] = [];
    t.stack.icmpv6!.ping(PEER_LL, { ident: 3, seq: 4, size: 8 }, (r) => results.push(r));
    t.clock.run(t.clock.now() + 1);
    const request = t.sent().at(-1)!.packet;
    t.inject(icmpPacket(PEER_LL, A_LL, { kind: "dst-unreachable", code: 3, original: request }));
    t.clock.run();
    expect(results).toMatchObject([{ ok: false, error: "unreachable" }]);
  });

  it("errors are rate limited by a token bucket (RFC 4443 §2.4(f)) and never sent about errors or multicast", () => {
    const t = createRawPeer({ ipv6: { dadTransmits: 0, routerSolicitations: false, icmpv6: { errorBurst: 5, errorsPerSecond: 1 } } });
    resolvePeer(t);
    for (let i = 0; i < 20; i++) t.inject(ipv6Packet(PEER_LL, A_LL, 253, 64, new Uint8Array(8)));
    t.clock.run(t.clock.now() + 10);
    expect(icmpMessages(t).length).toBe(5);
    expect(t.stack.counters().icmpv6).toMatchObject({ errorsSent: 5, rateLimited: 15 });
    // An unknown next header sent to all-nodes: no error (§2.4(e.3)); one quoting an ICMPv6 error: none either.
    t.inject(ipv6Packet(PEER_LL, ipv6("ff02::1"), 253, 64, new Uint8Array(8)), 0x333300000001);
    t.clock.advance(10_000);
    const before = icmpMessages(t).length;
    t.stack.icmpv6!.sendError("port-unreachable", icmpPacket(PEER_LL, A_LL, { kind: "dst-unreachable", code: 4, original: new Uint8Array(48) }), {
      dst: A_LL,
      linkMulticast: false,
    });
    t.clock.run();
    expect(icmpMessages(t).length).toBe(before);
    expect(t.stack.counters().icmpv6!.drops).toMatchObject({ "error-about-multicast": 1, "error-about-error": 1 });
  });

  it("an error quotes as much of the packet as fits in 1280 bytes, from the address it was sent to", () => {
    const t = createRawPeer({ ipv6: { dadTransmits: 0, routerSolicitations: false, addresses: ["2001:db8::1/64"] } });
    t.clock.run();
    resolvePeer(t);
    t.inject(ipv6Packet(PEER_LL, ipv6("2001:db8::1"), 253, 64, new Uint8Array(1400)));
    t.clock.run();
    const err = t.sent().at(-1)!;
    expect(err.ip.payloadLength).toBe(1240);
    expect(formatIpv6(err.ip.src)).toBe("2001:db8::1");
  });
});
