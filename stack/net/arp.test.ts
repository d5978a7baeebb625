import { describe, expect, it } from "vitest";
import { createDevicePair } from "../link/pair.ts";
import { createRng, createVirtualClock } from "../time.ts";
import { type ArpRepr, emitArp, parseArp } from "../wire/arp.ts";
import { emitEthernet, parseEthernet } from "../wire/ethernet.ts";
import { toHex } from "../wire/test-helpers.ts";
import { unwrap } from "../result.ts";
import { createArp, type ArpOptions } from "./arp.ts";
import { createEthernet } from "./ethernet.ts";
import { A_IP, B_IP, createTwoStacks } from "./test-net.ts";

const MAC_A = 0x020000000001;
const MAC_B = 0x020000000002;
const PEER_IP = 0xc0000201; // 192.0.2.1

/** ARP on device b; the test plays the peer on device a. */
function setup(options: ArpOptions = {}) {
  const clock = createVirtualClock();
  const pair = createDevicePair(clock);
  const ethernet = createEthernet(pair.b);
  const sentIp: string[] = [];
  ethernet.registerEthertype(0x0800, () => {});
  const arp = createArp({ clock, rng: createRng(3), ethernet }, options);
  arp.setAddress(B_IP);
  const fromB = () =>
    pair.log
      .filter((l) => l.from === "b")
      .map((l) => {
        const eth = unwrap(parseEthernet(l.frame.data));
        return { at: l.at, dst: eth.dst, ethertype: eth.ethertype, data: l.frame.data.subarray(14) };
      });
  const arpFromB = () =>
    fromB()
      .filter((f) => f.ethertype === 0x0806)
      .map((f) => ({ at: f.at, dst: f.dst, arp: unwrap(parseArp(f.data)) }));
  const inject = (repr: ArpRepr, dst = MAC_B): void => {
    const f = new Uint8Array(42);
    emitEthernet({ dst, src: repr.senderMac, ethertype: 0x0806 }, f);
    emitArp(repr, f, 14);
    pair.a.send({ data: f });
    clock.run(clock.now());
  };
  const ipPacket = (n: number) => {
    const b = new Uint8Array(14 + 20);
    b[14] = n;
    return b.subarray(14);
  };
  return { clock, pair, ethernet, arp, fromB, arpFromB, inject, ipPacket, sentIp };
}

describe("arp", () => {
  it("broadcasts a request for an unknown next hop, queues the packet and sends it once the reply arrives", () => {
    const t = setup();
    expect(t.arp.output(PEER_IP, t.ipPacket(1)).ok).toBe(true);
    const req = t.pair.log[0]!.frame.data;
    expect(toHex(req)).toBe("ffffffffffff" + "020000000002" + "0806" + "0001080006040001" + "020000000002" + "c000020b" + "000000000000" + "c0000201");
    t.inject({ operation: "reply", senderMac: MAC_A, senderIp: PEER_IP, targetMac: MAC_B, targetIp: B_IP });
    const ip = t.fromB().filter((f) => f.ethertype === 0x0800);
    expect(ip.map((f) => [f.dst, f.data[0]])).toEqual([[MAC_A, 1]]);
    expect(t.arp.lookup(PEER_IP)).toBe(MAC_A);
  });

  it("answers a request for our address with a unicast reply and learns the asker", () => {
    const t = setup();
    t.inject({ operation: "request", senderMac: MAC_A, senderIp: PEER_IP, targetMac: 0, targetIp: B_IP }, 0xffffffffffff);
    expect(t.arpFromB()).toEqual([{ at: 0, dst: MAC_A, arp: { operation: "reply", senderMac: MAC_B, senderIp: B_IP, targetMac: MAC_A, targetIp: PEER_IP } }]);
    expect(t.arp.lookup(PEER_IP)).toBe(MAC_A);
  });

  it("ignores requests for other addresses and does not learn from them (RFC 826 merge only updates)", () => {
    const t = setup();
    t.inject({ operation: "request", senderMac: MAC_A, senderIp: PEER_IP, targetMac: 0, targetIp: 0xc0000263 }, 0xffffffffffff);
    expect(t.arpFromB()).toEqual([]);
    expect(t.arp.lookup(PEER_IP)).toBeUndefined();
  });

  it("retries the request at the interval, then drops the queued packets and reports them", () => {
    const failed: [number, number][] = [];
    const t = setup({ requests: 3, requestIntervalMs: 1000, onResolutionFailed: (ip, pkts) => failed.push([ip, pkts.length]) });
    t.arp.output(PEER_IP, t.ipPacket(1));
    t.arp.output(PEER_IP, t.ipPacket(2));
    t.clock.run(10_000);
    expect(t.arpFromB().map((r) => r.at)).toEqual([0, 1000, 2000]);
    expect(failed).toEqual([[PEER_IP, 2]]);
    expect(t.arp.counters().drops).toEqual({ "resolution-failed": 2 });
  });

  it("bounds the queue per unresolved destination", () => {
    const t = setup({ queuePerDestination: 2 });
    expect(t.arp.output(PEER_IP, t.ipPacket(1)).ok).toBe(true);
    expect(t.arp.output(PEER_IP, t.ipPacket(2)).ok).toBe(true);
    expect(t.arp.output(PEER_IP, t.ipPacket(3))).toEqual({ ok: false, error: "unresolved-queue-full" });
    t.inject({ operation: "reply", senderMac: MAC_A, senderIp: PEER_IP, targetMac: MAC_B, targetIp: B_IP });
    expect(
      t
        .fromB()
        .filter((f) => f.ethertype === 0x0800)
        .map((f) => f.data[0]),
    ).toEqual([1, 2]);
    expect(t.arp.counters().drops).toEqual({ "queue-full": 1 });
  });

  it("bounds the destinations being resolved at once: a new one abandons the oldest, whose packets are dropped and counted", () => {
    const failed: number[] = [];
    const t = setup({ maxPendingDestinations: 2, onResolutionFailed: (ip) => failed.push(ip) });
    expect(t.arp.output(PEER_IP, t.ipPacket(1)).ok).toBe(true);
    expect(t.arp.output(PEER_IP + 1, t.ipPacket(2)).ok).toBe(true);
    expect(t.arp.output(PEER_IP + 2, t.ipPacket(3)).ok).toBe(true);
    expect(failed).toEqual([PEER_IP]);
    expect([PEER_IP, PEER_IP + 1, PEER_IP + 2].map((ip) => t.arp.state(ip))).toEqual(["failed", "incomplete", "incomplete"]);
    t.inject({ operation: "reply", senderMac: MAC_A, senderIp: PEER_IP + 2, targetMac: MAC_B, targetIp: B_IP });
    expect(
      t
        .fromB()
        .filter((f) => f.ethertype === 0x0800)
        .map((f) => [f.dst, f.data[0]]),
    ).toEqual([[MAC_A, 3]]);
    expect(t.arp.counters()).toMatchObject({ pendingEvicted: 1, pendingDrops: 1, failedEntries: 1, drops: { "pending-evicted": 1 } });
  });

  it("drops packets to a next hop whose resolution just failed without a new request for failedHoldMs, then tries again", () => {
    const t = setup({ failedHoldMs: 3000 });
    t.arp.output(PEER_IP, t.ipPacket(1));
    t.clock.advance(3000);
    expect(t.arp.state(PEER_IP)).toBe("failed");
    expect(t.arp.output(PEER_IP, t.ipPacket(2))).toEqual({ ok: false, error: "unresolved-queue-full" });
    t.clock.advance(2999);
    expect(t.arp.output(PEER_IP, t.ipPacket(3)).ok).toBe(false);
    expect(t.arpFromB().length).toBe(3);
    t.clock.advance(1);
    expect(t.arp.output(PEER_IP, t.ipPacket(4)).ok).toBe(true);
    expect(t.arpFromB().map((r) => r.at)).toEqual([0, 1000, 2000, 6000]);
    t.inject({ operation: "reply", senderMac: MAC_A, senderIp: PEER_IP, targetMac: MAC_B, targetIp: B_IP });
    expect(
      t
        .fromB()
        .filter((f) => f.ethertype === 0x0800)
        .map((f) => f.data[0]),
    ).toEqual([4]);
    expect(t.arp.counters()).toMatchObject({ pendingDrops: 3, failedEntries: 1, drops: { "resolution-failed": 1, "failed-hold": 2 } });
  });

  it("expires learned entries after cacheTimeoutMs and re-resolves", () => {
    const t = setup({ cacheTimeoutMs: 5000 });
    t.inject({ operation: "request", senderMac: MAC_A, senderIp: PEER_IP, targetMac: 0, targetIp: B_IP }, 0xffffffffffff);
    t.clock.advance(4999);
    expect(t.arp.lookup(PEER_IP)).toBe(MAC_A);
    t.clock.advance(1);
    expect(t.arp.lookup(PEER_IP)).toBeUndefined();
    t.arp.output(PEER_IP, t.ipPacket(1));
    expect(t.arpFromB().at(-1)!.arp).toMatchObject({ operation: "request", targetIp: PEER_IP });
  });

  it("re-validates a stale entry in use: DELAY, then a unicast request after delayFirstProbeMs, traffic flowing meanwhile (RFC 4861 §7.3.3)", () => {
    const t = setup({ delayFirstProbeMs: 5000 });
    t.inject({ operation: "request", senderMac: MAC_A, senderIp: PEER_IP, targetMac: 0, targetIp: B_IP }, 0xffffffffffff);
    t.pair.log.length = 0;
    expect(t.arp.state(PEER_IP)).toBe("stale");
    t.clock.advance(10_000);
    t.arp.output(PEER_IP, t.ipPacket(1));
    expect(t.arp.state(PEER_IP)).toBe("delay");
    t.clock.advance(4999);
    t.arp.output(PEER_IP, t.ipPacket(2));
    expect(t.arpFromB()).toEqual([]);
    t.clock.advance(1);
    expect(t.arp.state(PEER_IP)).toBe("probe");
    t.arp.output(PEER_IP, t.ipPacket(3));
    expect(t.arpFromB()).toEqual([
      { at: 15_000, dst: MAC_A, arp: { operation: "request", senderMac: MAC_B, senderIp: B_IP, targetMac: 0, targetIp: PEER_IP } },
    ]);
    t.inject({ operation: "reply", senderMac: MAC_A, senderIp: PEER_IP, targetMac: MAC_B, targetIp: B_IP });
    expect(t.arp.state(PEER_IP)).toBe("reachable");
    t.clock.advance(10_000);
    t.arp.output(PEER_IP, t.ipPacket(4));
    expect(
      t
        .fromB()
        .filter((f) => f.ethertype === 0x0800)
        .map((f) => f.data[0]),
    ).toEqual([1, 2, 3, 4]);
    expect(t.arp.counters()).toMatchObject({ unicastProbesSent: 1, queued: 0 });
  });

  it("an upper-layer confirmation during DELAY makes the entry REACHABLE without any probe", () => {
    const t = setup();
    t.inject({ operation: "request", senderMac: MAC_A, senderIp: PEER_IP, targetMac: 0, targetIp: B_IP }, 0xffffffffffff);
    t.pair.log.length = 0;
    t.arp.output(PEER_IP, t.ipPacket(1));
    t.clock.advance(2000);
    t.arp.confirm(PEER_IP);
    expect(t.arp.state(PEER_IP)).toBe("reachable");
    t.clock.advance(10_000);
    t.arp.output(PEER_IP, t.ipPacket(2));
    expect(t.arpFromB()).toEqual([]);
    expect(t.arp.counters()).toMatchObject({ reachabilityConfirmed: 1, unicastProbesSent: 0 });
  });

  it("when unicast probes go unanswered, re-resolves by broadcast, holding packets, and fails after the broadcast requests", () => {
    const failed: [number, number][] = [];
    const t = setup({ onResolutionFailed: (ip, p) => failed.push([ip, p.length]) });
    t.inject({ operation: "request", senderMac: MAC_A, senderIp: PEER_IP, targetMac: 0, targetIp: B_IP }, 0xffffffffffff);
    t.pair.log.length = 0;
    t.arp.output(PEER_IP, t.ipPacket(1));
    t.clock.advance(8000);
    expect(t.arp.state(PEER_IP)).toBe("incomplete");
    expect(t.arp.output(PEER_IP, t.ipPacket(2)).ok).toBe(true);
    t.clock.advance(10_000);
    expect(t.arpFromB().map((r) => [r.at, r.dst])).toEqual([
      [5000, MAC_A],
      [6000, MAC_A],
      [7000, MAC_A],
      [8000, 0xffffffffffff],
      [9000, 0xffffffffffff],
      [10_000, 0xffffffffffff],
    ]);
    expect(t.arp.state(PEER_IP)).toBe("failed");
    expect(failed).toEqual([[PEER_IP, 1]]);
    expect(
      t
        .fromB()
        .filter((f) => f.ethertype === 0x0800)
        .map((f) => f.data[0]),
    ).toEqual([1]);
  });

  it("keeps static entries forever and never overwrites them from the wire", () => {
    const t = setup({ cacheTimeoutMs: 10 });
    t.arp.addStatic(PEER_IP, 0x02000000aaaa);
    t.inject({ operation: "request", senderMac: MAC_A, senderIp: PEER_IP, targetMac: 0, targetIp: B_IP }, 0xffffffffffff);
    t.clock.advance(1_000_000);
    expect(t.arp.lookup(PEER_IP)).toBe(0x02000000aaaa);
    expect(t.arp.entries()).toEqual([{ ip: PEER_IP, mac: 0x02000000aaaa, state: "permanent", expiresAt: Infinity, static: true }]);
    t.arp.remove(PEER_IP);
    expect(t.arp.lookup(PEER_IP)).toBeUndefined();
  });

  it("evicts the oldest dynamic entry when the cache is full", () => {
    const t = setup({ maxEntries: 2 });
    for (let i = 1; i <= 3; i++)
      t.inject({ operation: "request", senderMac: 0x02000000a000 + i, senderIp: PEER_IP + i, targetMac: 0, targetIp: B_IP }, 0xffffffffffff);
    expect(t.arp.entries().map((e) => e.ip)).toEqual([PEER_IP + 2, PEER_IP + 3]);
    expect(t.arp.counters().evicted).toBe(1);
  });

  it("rejects malformed ARP and counts the reason", () => {
    const t = setup();
    const f = new Uint8Array(42);
    emitEthernet({ dst: MAC_B, src: MAC_A, ethertype: 0x0806 }, f);
    emitArp({ operation: "request", senderMac: MAC_A, senderIp: PEER_IP, targetMac: 0, targetIp: B_IP }, f, 14);
    f[14 + 4] = 8;
    t.pair.a.send({ data: f });
    t.pair.a.send({ data: f.subarray(0, 30) });
    t.clock.run();
    expect(t.arp.counters().drops).toEqual({ "bad-address-length": 1, truncated: 1 });
  });

  it("probe() sends PROBE_NUM probes from 0.0.0.0 and reports no conflict after ANNOUNCE_WAIT (RFC 5227 §2.1.1)", () => {
    const t = setup();
    let result: boolean | undefined;
    let doneAt = -1;
    t.arp.probe(PEER_IP, (c) => {
      result = c;
      doneAt = t.clock.now();
    });
    t.clock.run();
    const probes = t.arpFromB();
    expect(probes.map((p) => p.arp)).toEqual(Array(3).fill({ operation: "request", senderMac: MAC_B, senderIp: 0, targetMac: 0, targetIp: PEER_IP }));
    expect(probes[0]!.at).toBeLessThan(1000);
    expect(probes[1]!.at - probes[0]!.at).toBeGreaterThanOrEqual(1000);
    expect(probes[1]!.at - probes[0]!.at).toBeLessThanOrEqual(2000);
    expect(result).toBe(false);
    expect(doneAt - probes[2]!.at).toBe(2000);
  });

  it("probe() reports a conflict when the address answers, or another host probes it too", () => {
    const t = setup();
    let result: boolean | undefined;
    t.arp.probe(PEER_IP, (c) => {
      result = c;
    });
    t.clock.run(1500);
    t.inject({ operation: "reply", senderMac: MAC_A, senderIp: PEER_IP, targetMac: MAC_B, targetIp: 0 });
    expect(result).toBe(true);
    const u = setup();
    let r2: boolean | undefined;
    u.arp.probe(PEER_IP, (c) => {
      r2 = c;
    });
    u.inject({ operation: "request", senderMac: MAC_A, senderIp: 0, targetMac: 0, targetIp: PEER_IP }, 0xffffffffffff);
    expect(r2).toBe(true);
  });

  it("answers another host's probe for our address so it sees the conflict", () => {
    const t = setup();
    t.inject({ operation: "request", senderMac: MAC_A, senderIp: 0, targetMac: 0, targetIp: B_IP }, 0xffffffffffff);
    expect(t.arpFromB().map((r) => r.arp)).toEqual([{ operation: "reply", senderMac: MAC_B, senderIp: B_IP, targetMac: MAC_A, targetIp: 0 }]);
    expect(t.arp.lookup(0)).toBeUndefined();
  });

  it("reports another host using our address (RFC 5227 §2.4) and does not learn it", () => {
    const conflicts: [number, number][] = [];
    const t = setup({ onAddressConflict: (ip, mac) => conflicts.push([ip, mac]) });
    t.inject({ operation: "request", senderMac: MAC_A, senderIp: B_IP, targetMac: 0, targetIp: B_IP }, 0xffffffffffff);
    expect(conflicts).toEqual([[B_IP, MAC_A]]);
    expect(t.arp.lookup(B_IP)).toBeUndefined();
    expect(t.arp.counters()).toMatchObject({ conflicts: 1, drops: { "address-conflict": 1 } });
  });

  it("announce() sends ANNOUNCE_NUM gratuitous requests ANNOUNCE_INTERVAL apart (RFC 5227 §2.3)", () => {
    const t = setup();
    t.arp.announce();
    t.clock.run();
    expect(t.arpFromB()).toEqual(
      [0, 2000].map((at) => ({ at, dst: 0xffffffffffff, arp: { operation: "request", senderMac: MAC_B, senderIp: B_IP, targetMac: 0, targetIp: B_IP } })),
    );
  });

  it("a gratuitous ARP moves a known address to a new MAC once the lock time has passed; the change is counted, reported and left STALE", () => {
    const changes: [number, number, number][] = [];
    const t = setup({ lockTimeMs: 1000, onAddressChange: (ip, from, to) => changes.push([ip, from, to]) });
    t.inject({ operation: "request", senderMac: MAC_A, senderIp: PEER_IP, targetMac: 0, targetIp: B_IP }, 0xffffffffffff);
    t.clock.advance(999);
    t.inject({ operation: "request", senderMac: 0x02000000beef, senderIp: PEER_IP, targetMac: 0, targetIp: PEER_IP }, 0xffffffffffff);
    expect(t.arp.lookup(PEER_IP)).toBe(MAC_A);
    t.clock.advance(1);
    t.inject({ operation: "request", senderMac: 0x02000000beef, senderIp: PEER_IP, targetMac: 0, targetIp: PEER_IP }, 0xffffffffffff);
    expect(t.arp.lookup(PEER_IP)).toBe(0x02000000beef);
    expect(t.arp.state(PEER_IP)).toBe("stale");
    expect(changes).toEqual([[PEER_IP, MAC_A, 0x02000000beef]]);
    expect(t.arp.counters()).toMatchObject({ addressChanges: 1, lockRefused: 1 });
  });

  it("refuses a new MAC for an address whose traffic was confirmed within the lock time, and an unsolicited unicast reply never makes it REACHABLE", () => {
    const t = setup({ lockTimeMs: 1000 });
    t.arp.output(PEER_IP, t.ipPacket(1));
    t.inject({ operation: "reply", senderMac: MAC_A, senderIp: PEER_IP, targetMac: MAC_B, targetIp: B_IP });
    expect(t.arp.state(PEER_IP)).toBe("reachable");
    t.clock.advance(5000);
    t.arp.confirm(PEER_IP);
    t.clock.advance(500);
    t.inject({ operation: "reply", senderMac: 0x02000000beef, senderIp: PEER_IP, targetMac: MAC_B, targetIp: B_IP });
    expect(t.arp.lookup(PEER_IP)).toBe(MAC_A);
    t.clock.advance(500);
    t.inject({ operation: "reply", senderMac: 0x02000000beef, senderIp: PEER_IP, targetMac: MAC_B, targetIp: B_IP });
    expect(t.arp.lookup(PEER_IP)).toBe(0x02000000beef);
    expect(t.arp.state(PEER_IP)).toBe("stale");
    expect(t.arp.counters()).toMatchObject({ addressChanges: 1, lockRefused: 1 });
  });

  it("configuring an address on a stack sends a gratuitous ARP, and two stacks resolve each other", () => {
    const t = createTwoStacks();
    const grat = t.pair.log.filter((l) => l.from === "a").map((l) => unwrap(parseArp(l.frame.data.subarray(14))));
    expect(grat[0]).toEqual({ operation: "request", senderMac: 0x020000000001, senderIp: A_IP, targetMac: 0, targetIp: A_IP });
    t.clock.run();
    const payload = new Uint8Array(40 + 4);
    expect(t.a.ipv4.send(B_IP, 253, payload.subarray(40)).ok).toBe(true);
    t.clock.run();
    expect(t.a.arp.lookup(B_IP)).toBe(0x020000000002);
    expect(t.b.arp.lookup(A_IP)).toBe(0x020000000001);
  });
});
