import { describe, expect, it } from "vitest";
import { formatIpv6, ipv6 } from "../wire/ipv6-address.ts";
import type { NdpOption } from "../wire/ndp.ts";
import { emitMld } from "../wire/mld.ts";
import type { StackOptions } from "../index.ts";
import { A_LL, PEER_LL, asMld, asNd, createRawPeer, icmpType, ipv6Packet, ndPacket } from "./ipv6-test-net.ts";

const createRawPeerKeepLog = (options: StackOptions = { ipv6: { dadTransmits: 1, routerSolicitations: false } }, run = true) =>
  createRawPeer(options, { keep: true, run });

const PEER_MAC_BYTES = Uint8Array.of(2, 0, 0, 0, 0, 2);
const sllaPeer: NdpOption = { kind: "source-link-layer-address", address: PEER_MAC_BYTES };
const tllaPeer: NdpOption = { kind: "target-link-layer-address", address: PEER_MAC_BYTES };
const naFromPeer = (target = PEER_LL, solicited = true, override = true, options: NdpOption[] = [tllaPeer]) =>
  ndPacket(PEER_LL, A_LL, { kind: "neighbor-advertisement", router: false, solicited, override, target, options });
const nsFromPeer = (hopLimit = 255) => ndPacket(PEER_LL, A_LL, { kind: "neighbor-solicitation", target: A_LL, options: [sllaPeer] }, hopLimit);

function ra(opts: { src?: Uint8Array; lifetime?: number; hopLimit?: number; curHopLimit?: number; options?: NdpOption[] } = {}) {
  const src = opts.src ?? PEER_LL;
  return ndPacket(
    src,
    ipv6("ff02::1"),
    {
      kind: "router-advertisement",
      curHopLimit: opts.curHopLimit ?? 0,
      flags: 0,
      routerLifetime: opts.lifetime ?? 1800,
      reachableTime: 0,
      retransTimer: 0,
      options: opts.options ?? [sllaPeer],
    },
    opts.hopLimit ?? 255,
  );
}
const pio = (prefix: string, valid = 86400, preferred = 14400, flags = 0xc0, prefixLength = 64): NdpOption => ({
  kind: "prefix-information",
  prefixLength,
  flags,
  validLifetime: valid,
  preferredLifetime: preferred,
  prefix: ipv6(prefix),
});

describe("ndp: DAD and MLD at start-up", () => {
  it("reports the solicited-node group (MLDv2, Router Alert, hop limit 1, from ::), probes with an NS from ::, then uses the address", () => {
    const t = createRawPeerKeepLog();
    const [mld, ns] = t.sent();
    expect(mld!.ip).toMatchObject({ hopLimit: 1, nextHeader: 0 });
    expect(formatIpv6(mld!.ip.src)).toBe("::");
    expect(formatIpv6(mld!.ip.dst)).toBe("ff02::16");
    expect(mld!.packet.subarray(40, 48)).toEqual(Uint8Array.of(58, 0, 5, 2, 0, 0, 1, 0));
    expect(asMld(mld!)).toMatchObject({ kind: "report", records: [{ recordType: 4, sources: [] }] });
    const report = asMld(mld!);
    expect(report.kind === "report" ? report.records.map((r) => formatIpv6(r.multicastAddress)) : []).toEqual(["ff02::1:ff00:1"]);
    expect(ns!.ip).toMatchObject({ hopLimit: 255, nextHeader: 58 });
    expect(ns!.dstMac).toBe(0x3333ff000001);
    expect(formatIpv6(ns!.ip.src)).toBe("::");
    expect(formatIpv6(ns!.ip.dst)).toBe("ff02::1:ff00:1");
    expect(asNd(ns!)).toEqual({ kind: "neighbor-solicitation", target: A_LL, options: [] });
    expect(t.stack.ipv6!.ndp.addresses()[0]!.state).toBe("preferred");
    expect(t.stack.counters().ndp).toMatchObject({ dadStarted: 1, dadSucceeded: 1, dadFailed: 0 });
  });

  it("an NA for the tentative address is a DAD failure, reported once, and the address is not used (RFC 4862 §5.4.5)", () => {
    const failures: string[] = [];
    const results: unknown[] = [];
    const t = createRawPeerKeepLog(
      {
        ipv6: {
          dadTransmits: 1,
          routerSolicitations: false,
          onDadFailure: (a) => failures.push(formatIpv6(a)),
          addresses: ["2001:db8::1/64"],
          onAddressReady: (r) => results.push(r),
        },
      },
      false,
    );
    t.clock.run(1); // DAD under way (both addresses tentative)
    t.inject(
      ndPacket(PEER_LL, ipv6("ff02::1"), {
        kind: "neighbor-advertisement",
        router: false,
        solicited: false,
        override: true,
        target: ipv6("2001:db8::1"),
        options: [tllaPeer],
      }),
    );
    t.clock.run();
    expect(failures).toEqual(["2001:db8::1"]);
    expect(results).toEqual([{ ok: false, error: "duplicate", detail: "another node uses this address (RFC 4862 §5.4.5)" }]);
    const states = t.stack.ipv6!.ndp.addresses().map((a) => [formatIpv6(a.address), a.state]);
    expect(states).toEqual([
      ["fe80::ff:fe00:1", "preferred"],
      ["2001:db8::1", "duplicate"],
    ]);
    expect(t.stack.ipv6!.sourceFor(ipv6("2001:db8::9"))).toEqual(A_LL);
    expect(t.stack.ipv6!.isLocal(ipv6("2001:db8::1"))).toBe(false);
  });

  it("another node's DAD probe (NS from ::) for the tentative address is a DAD failure too", () => {
    const failures: string[] = [];
    const t = createRawPeerKeepLog({ ipv6: { dadTransmits: 1, routerSolicitations: false, onDadFailure: (a) => failures.push(formatIpv6(a)) } }, false);
    t.clock.run(1);
    t.inject(ndPacket(ipv6("::"), ipv6("ff02::1:ff00:1"), { kind: "neighbor-solicitation", target: A_LL, options: [] }));
    t.clock.run();
    expect(failures).toEqual(["fe80::ff:fe00:1"]);
  });
});

describe("ndp: neighbour solicitation and advertisement", () => {
  it("answers an NS for its address with a solicited NA to the sender's MAC and learns the sender STALE", () => {
    const t = createRawPeer();
    t.inject(nsFromPeer());
    t.clock.run();
    const [na] = t.sent();
    expect(na!.dstMac).toBe(0x020000000002);
    expect(na!.ip).toMatchObject({ hopLimit: 255 });
    expect(asNd(na!)).toEqual({
      kind: "neighbor-advertisement",
      router: false,
      solicited: true,
      override: true,
      target: A_LL,
      options: [{ kind: "target-link-layer-address", address: Uint8Array.of(2, 0, 0, 0, 0, 1) }],
    });
    expect(t.stack.ipv6!.ndp.neighbors()).toEqual([{ address: PEER_LL, mac: 0x020000000002, state: "stale", isRouter: false, queued: 0 }]);
  });

  it("ignores ND from off-link (hop limit other than 255), counted", () => {
    const t = createRawPeer();
    t.inject(nsFromPeer(64));
    t.inject(ra({ hopLimit: 254 }));
    t.clock.run();
    expect(t.sent()).toEqual([]);
    expect(t.stack.counters().ndp!.drops).toEqual({ "off-link-hop-limit": 2 });
    expect(t.stack.ipv6!.ndp.routers()).toEqual([]);
  });

  it("answers a DAD probe for its address with an unsolicited NA to all-nodes (RFC 4861 §7.2.4)", () => {
    const t = createRawPeer();
    t.inject(ndPacket(ipv6("::"), ipv6("ff02::1:ff00:1"), { kind: "neighbor-solicitation", target: A_LL, options: [] }));
    t.clock.run();
    const [na] = t.sent();
    expect(formatIpv6(na!.ip.dst)).toBe("ff02::1");
    expect(asNd(na!)).toMatchObject({ kind: "neighbor-advertisement", solicited: false, override: true });
  });

  it("resolution: three multicast NSs a second apart, then the queued packets are dropped and reported", () => {
    const failed: number[] = [];
    const t = createRawPeer({ ipv6: { dadTransmits: 0, routerSolicitations: false, onResolutionFailed: (_a, p) => failed.push(p.length) } });
    for (let i = 0; i < 16; i++) expect(t.stack.ipv6!.send(PEER_LL, 59, new Uint8Array(0)).ok).toBe(true);
    // RFC 4861 §7.2.2: the queue per neighbour is bounded.
    expect(t.stack.ipv6!.send(PEER_LL, 59, new Uint8Array(0))).toEqual({ ok: false, error: "unresolved-queue-full" });
    t.clock.run();
    const ns = t.sent().filter((s) => icmpType(s) === 135);
    expect(ns.map((s) => [s.at, formatIpv6(s.ip.dst)])).toEqual([
      [0, "ff02::1:ff00:2"],
      [1000, "ff02::1:ff00:2"],
      [2000, "ff02::1:ff00:2"],
    ]);
    expect(failed).toEqual([16]);
    expect(t.stack.counters().ndp!.drops).toMatchObject({ "queue-full": 1, "resolution-failed": 16 });
    expect(t.stack.ipv6!.ndp.neighbors()).toEqual([]);
  });

  it("NUD: REACHABLE turns STALE after ReachableTime; use moves it to DELAY, then PROBE with unicast NSs; silence removes it", () => {
    const t = createRawPeer({ ipv6: { dadTransmits: 0, routerSolicitations: false, reachableTimeMs: 10_000 } });
    const ndp = t.stack.ipv6!.ndp;
    t.stack.ipv6!.send(PEER_LL, 59, new Uint8Array(0));
    t.inject(naFromPeer());
    t.clock.run();
    expect(ndp.neighbors()[0]!.state).toBe("reachable");
    t.clock.advance(15_001); // beyond 1.5 x BaseReachableTime
    expect(ndp.neighbors()[0]!.state).toBe("stale");
    t.pair.log.length = 0;
    t.stack.ipv6!.send(PEER_LL, 59, new Uint8Array(0));
    expect(ndp.neighbors()[0]!.state).toBe("delay");
    t.clock.advance(5000);
    expect(ndp.neighbors()[0]!.state).toBe("probe");
    t.clock.run();
    const probes = t.sent().filter((s) => icmpType(s) === 135);
    expect(probes.length).toBe(3);
    expect(probes.every((p) => p.dstMac === 0x020000000002 && formatIpv6(p.ip.dst) === "fe80::ff:fe00:2")).toBe(true);
    expect(ndp.neighbors()).toEqual([]);
  });

  it("NUD: a solicited NA answering a probe makes the entry REACHABLE again", () => {
    const t = createRawPeer({ ipv6: { dadTransmits: 0, routerSolicitations: false } });
    const ndp = t.stack.ipv6!.ndp;
    t.inject(nsFromPeer()); // STALE from the NS's source link-layer address
    t.clock.run();
    t.stack.ipv6!.send(PEER_LL, 59, new Uint8Array(0));
    t.clock.advance(5000);
    expect(ndp.neighbors()[0]!.state).toBe("probe");
    t.inject(naFromPeer(PEER_LL, true, false, []));
    t.clock.advance(1);
    expect(ndp.neighbors()[0]!.state).toBe("reachable");
  });

  it("an NA without Override carrying another MAC does not replace a REACHABLE entry's MAC (RFC 4861 §7.2.5)", () => {
    const t = createRawPeer();
    t.stack.ipv6!.send(PEER_LL, 59, new Uint8Array(0));
    t.inject(naFromPeer());
    t.clock.run();
    t.inject(naFromPeer(PEER_LL, false, false, [{ kind: "target-link-layer-address", address: Uint8Array.of(2, 0, 0, 0, 0, 9) }]));
    t.clock.run();
    expect(t.stack.ipv6!.ndp.neighbors()).toMatchObject([{ mac: 0x020000000002, state: "stale" }]);
  });
});

describe("ndp: router advertisements and SLAAC", () => {
  it("an RA fills the router list, the prefix list, the hop limit and the link MTU, and SLAAC forms prefix + EUI-64 after DAD", () => {
    const t = createRawPeer({ ipv6: { dadTransmits: 1, routerSolicitations: false, slaac: true } });
    t.inject(ra({ curHopLimit: 42, options: [sllaPeer, { kind: "mtu", mtu: 1400 }, pio("2001:db8:1::")] }));
    t.clock.run(t.clock.now() + 1);
    const ndp = t.stack.ipv6!.ndp;
    expect(ndp.addresses().map((a) => [formatIpv6(a.address), a.origin, a.state])).toEqual([
      ["fe80::ff:fe00:1", "link-local", "preferred"],
      ["2001:db8:1::ff:fe00:1", "slaac", "tentative"],
    ]);
    t.clock.run();
    expect(ndp.addresses()[1]!.state).toBe("preferred");
    expect(ndp.routers().map((r) => formatIpv6(r.address))).toEqual(["fe80::ff:fe00:2"]);
    expect(ndp.prefixes().map((p) => `${formatIpv6(p.prefix)}/${p.prefixLength}`)).toEqual(["2001:db8:1::/64"]);
    expect(ndp.hopLimit).toBe(42);
    expect(ndp.linkMtu).toBe(1400);
    expect(ndp.neighbors()).toMatchObject([{ address: PEER_LL, isRouter: true, state: "stale" }]);
    // Off-link destinations go to the default router, from the global address.
    expect(formatIpv6(ndp.nextHop(ipv6("2001:db8:99::1"))!)).toBe("fe80::ff:fe00:2");
    expect(formatIpv6(ndp.nextHop(ipv6("2001:db8:1::7"))!)).toBe("2001:db8:1::7");
    expect(formatIpv6(t.stack.ipv6!.sourceFor(ipv6("2001:db8:99::1"))!)).toBe("2001:db8:1::ff:fe00:1");
    expect(formatIpv6(t.stack.ipv6!.sourceFor(PEER_LL)!)).toBe("fe80::ff:fe00:1");
  });

  it("SLAAC ignores prefixes that are not /64, link-local ones and preferred > valid; without slaac only on-link is learned", () => {
    const t = createRawPeer({ ipv6: { dadTransmits: 0, routerSolicitations: false, slaac: true } });
    t.inject(ra({ options: [pio("2001:db8:2::", 100, 100, 0xc0, 48), pio("fe80::"), pio("2001:db8:3::", 100, 200)] }));
    t.clock.run();
    expect(t.stack.ipv6!.ndp.addresses().length).toBe(1);
    expect(t.stack.counters().ndp!.drops).toEqual({ "prefix-length-not-64": 1, "prefix-link-local-or-bad": 1, "prefix-preferred-over-valid": 1 });
    const u = createRawPeer();
    u.inject(ra({ options: [pio("2001:db8:1::")] }));
    u.clock.run();
    expect(u.stack.ipv6!.ndp.addresses().length).toBe(1);
    expect(u.stack.ipv6!.ndp.prefixes().length).toBe(1);
  });

  it("RFC 4862 §5.5.3(e): a short valid lifetime cannot cut an address's remaining lifetime below two hours", () => {
    const t = createRawPeer({ ipv6: { dadTransmits: 0, routerSolicitations: false, slaac: true } });
    t.inject(ra({ options: [pio("2001:db8:1::", 86400, 3600)] }));
    t.clock.run();
    const start = t.clock.now();
    t.inject(ra({ options: [pio("2001:db8:1::", 10, 0)] }));
    t.clock.run();
    const a = t.stack.ipv6!.ndp.addresses()[1]!;
    expect(a.validUntil - start).toBeCloseTo(2 * 3600 * 1000, -1);
    expect(a.state).toBe("deprecated");
  });

  it("a router lifetime of 0 removes the router; the router and prefix lists and addresses stay bounded under an RA flood", () => {
    const t = createRawPeer({ ipv6: { dadTransmits: 0, routerSolicitations: false, slaac: true } });
    for (let r = 0; r < 20; r++) {
      const src = ipv6(`fe80::${(r + 1).toString(16)}`);
      const prefixes = [0, 1, 2, 3].map((k) => pio(`2001:db8:${(r * 4 + k).toString(16)}::`));
      t.inject(ra({ src, options: prefixes }));
    }
    t.clock.run();
    const ndp = t.stack.ipv6!.ndp;
    expect(ndp.routers().length).toBe(8);
    expect(ndp.prefixes().length).toBe(16);
    expect(ndp.addresses().length).toBe(16);
    expect(t.stack.counters().ndp!.drops).toMatchObject({ "router-list-full": 12, "prefix-list-full": 64, "address-list-full": 65 });
    t.inject(ra({ src: ipv6("fe80::1"), lifetime: 0, options: [] }));
    t.clock.run();
    expect(ndp.routers().length).toBe(7);
  });

  it("a default router configured by hand is used for off-link destinations and survives an RA with lifetime 0", () => {
    const t = createRawPeer({ ipv6: { dadTransmits: 0, routerSolicitations: false, addresses: ["2001:db8::1/64"], gateway: "fe80::ff:fe00:2" } });
    const ndp = t.stack.ipv6!.ndp;
    expect(formatIpv6(ndp.nextHop(ipv6("2001:db8:7::1"))!)).toBe("fe80::ff:fe00:2");
    expect(formatIpv6(ndp.nextHop(ipv6("2001:db8::7"))!)).toBe("2001:db8::7");
    t.inject(ra({ lifetime: 0, options: [] }));
    t.clock.run();
    expect(ndp.routers().map((r) => [formatIpv6(r.address), r.expiresAt])).toEqual([["fe80::ff:fe00:2", Infinity]]);
  });

  it("sends up to three Router Solicitations once the link-local address is usable, and stops at the first RA", () => {
    const t = createRawPeerKeepLog({ ipv6: { dadTransmits: 0 } }, false);
    t.clock.run(5000);
    const rs = t.sent().filter((s) => icmpType(s) === 133);
    expect(rs.length).toBe(2);
    expect(formatIpv6(rs[0]!.ip.dst)).toBe("ff02::2");
    expect(asNd(rs[0]!)).toEqual({ kind: "router-solicitation", options: [{ kind: "source-link-layer-address", address: Uint8Array.of(2, 0, 0, 0, 0, 1) }] });
    t.inject(ra({ options: [] }));
    t.clock.run(60_000);
    expect(t.sent().filter((s) => icmpType(s) === 133).length).toBe(2);
  });

  it("a router joins all-routers (RFC 4861 §6.2.2) and answers a Router Solicitation sent to ff02::2 after its first RA, no sooner than 3 s after it", () => {
    const t = createRawPeerKeepLog({ ipv6: { dadTransmits: 0, advertise: { prefixes: ["2001:db8:1::/64"], intervalMs: 600_000 } } }, false);
    t.clock.run(1000);
    const ras = () => t.sent().filter((s) => icmpType(s) === 134);
    expect(ras().length).toBe(1);
    expect(t.stack.ipv6!.ndp.isListening(ipv6("ff02::2"))).toBe(true);
    const reported = t
      .sent()
      .filter((s) => icmpType(s) === 143)
      .flatMap((s) => {
        const m = asMld(s);
        return m.kind === "report" ? m.records.map((r) => formatIpv6(r.multicastAddress)) : [];
      });
    expect(reported).toContain("ff02::2");
    const firstAt = ras()[0]!.at;
    t.inject(ndPacket(PEER_LL, ipv6("ff02::2"), { kind: "router-solicitation", options: [sllaPeer] }), 0x333300000002);
    t.clock.run(firstAt + 2999);
    expect(ras().length).toBe(1);
    t.clock.run(firstAt + 3001);
    expect(ras().length).toBe(2);
    expect(formatIpv6(ras()[1]!.ip.dst)).toBe("ff02::1");
    expect(t.stack.counters().ndp).toMatchObject({ rsReceived: 1, raSent: 2 });
  });

  it("answers an MLD general query with a report of its groups (not all-nodes)", () => {
    const t = createRawPeer();
    const buf = new Uint8Array(28);
    emitMld(
      { kind: "query", maxResponseCode: 100, multicastAddress: ipv6("::"), suppress: false, robustness: 2, qqic: 125, sources: [] },
      buf,
      0,
      PEER_LL,
      ipv6("ff02::1"),
    );
    t.inject(ipv6Packet(PEER_LL, ipv6("ff02::1"), 58, 1, buf));
    t.clock.run();
    const reports = t.sent().map(asMld);
    expect(reports).toMatchObject([{ kind: "report", records: [{ recordType: 2 }] }]);
  });
});
