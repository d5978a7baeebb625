import { describe, expect, it } from "vitest";
import { createVirtualClock } from "../time.ts";
import { createNeighbourCache, type NeighbourOptions } from "./neighbour.ts";

/** A cache keyed by strings (as NDP might key IPv6 addresses) with string link addresses. */
function setup(options: NeighbourOptions = {}) {
  const clock = createVirtualClock();
  const solicits: [number, string, string | undefined][] = [];
  const sent: [string, string][] = [];
  const failed: [string, string[]][] = [];
  const changes: [string, string, string][] = [];
  const cache = createNeighbourCache<string, string, string>(
    {
      clock,
      solicit: (k, to) => solicits.push([clock.now(), k, to]),
      transmit: (l, p) => sent.push([l, p]),
      onFailed: (k, p) => failed.push([k, [...p]]),
      onChange: (k, from, to) => changes.push([k, from, to]),
    },
    options,
  );
  return { clock, cache, solicits, sent, failed, changes };
}

describe("neighbour cache (NUD)", () => {
  it("resolves a new key by broadcast solicitations, queueing up to queuePerDestination packets, and sends them on the answer", () => {
    const t = setup({ queuePerDestination: 2 });
    expect(t.cache.resolve("fe80::1")).toBeUndefined();
    expect(t.cache.enqueue("fe80::1", "p1")).toEqual({ ok: true, value: undefined });
    expect(t.cache.enqueue("fe80::1", "p2").ok).toBe(true);
    expect(t.cache.enqueue("fe80::1", "p3")).toEqual({ ok: false, error: "queue-full" });
    expect(t.cache.update("fe80::1", "aa", { reply: true, create: false })).toBe("resolved");
    expect(t.sent).toEqual([
      ["aa", "p1"],
      ["aa", "p2"],
    ]);
    expect(t.cache.state("fe80::1")).toBe("reachable");
    expect(t.solicits).toEqual([[0, "fe80::1", undefined]]);
    expect(t.cache.counters()).toMatchObject({ pendingDrops: 1, queued: 2, resolved: 1, drops: { "queue-full": 1 } });
  });

  it("a REACHABLE entry reads STALE after its reachable time (0.5-1.5 x reachableMs)", () => {
    const t = setup({ reachableMs: 10_000 });
    t.cache.enqueue("k", "p");
    t.cache.update("k", "aa", { reply: true, create: false });
    t.clock.advance(4999);
    expect(t.cache.state("k")).toBe("reachable");
    t.clock.advance(10_001);
    expect(t.cache.state("k")).toBe("stale");
    expect(t.cache.resolve("k")).toBe("aa");
    expect(t.cache.state("k")).toBe("delay");
  });

  it("keeps at most maxFailed FAILED entries, forgetting the oldest", () => {
    const t = setup({ maxFailed: 2, multicastSolicits: 1 });
    for (const k of ["a", "b", "c"]) t.cache.enqueue(k, `p-${k}`);
    t.clock.advance(1000);
    expect(["a", "b", "c"].map((k) => t.cache.state(k))).toEqual([undefined, "failed", "failed"]);
    expect(t.failed).toEqual([
      ["a", ["p-a"]],
      ["b", ["p-b"]],
      ["c", ["p-c"]],
    ]);
    expect(t.cache.counters()).toMatchObject({ failedEntries: 3, pendingDrops: 3 });
  });

  it("when full of resolved entries, evicts the oldest one not known to be reachable before a reachable one", () => {
    const t = setup({ maxEntries: 2 });
    t.cache.update("a", "aa", { reply: false, create: true });
    t.cache.update("b", "bb", { reply: false, create: true });
    t.cache.confirm("a");
    t.cache.update("c", "cc", { reply: false, create: true });
    expect(t.cache.entries().map((e) => [e.key, e.state])).toEqual([
      ["a", "reachable"],
      ["c", "stale"],
    ]);
    expect(t.cache.counters()).toMatchObject({ evicted: 1 });
  });

  it("never changes a permanent entry and sends what waited for it when it is added", () => {
    const t = setup();
    t.cache.enqueue("k", "p");
    t.cache.addPermanent("k", "pp");
    expect(t.sent).toEqual([["pp", "p"]]);
    t.clock.advance(10_000);
    expect(t.cache.update("k", "xx", { reply: true, create: true })).toBe("ignored");
    expect(t.cache.resolve("k")).toBe("pp");
    expect(t.cache.state("k")).toBe("permanent");
  });

  it("the same address heard again leaves a STALE entry STALE unless it is a reply, which confirms it", () => {
    const t = setup();
    t.cache.update("k", "aa", { reply: false, create: true });
    expect(t.cache.update("k", "aa", { reply: false, create: false })).toBe("unchanged");
    expect(t.cache.state("k")).toBe("stale");
    expect(t.cache.update("k", "aa", { reply: true, create: false })).toBe("confirmed");
    expect(t.cache.state("k")).toBe("reachable");
  });

  it("a change within lockTimeMs of the last update is refused; after it, the change is reported and the entry is STALE", () => {
    const t = setup({ lockTimeMs: 1000 });
    t.cache.update("k", "aa", { reply: false, create: true });
    t.clock.advance(999);
    expect(t.cache.update("k", "bb", { reply: true, create: false })).toBe("lock-refused");
    t.clock.advance(1);
    expect(t.cache.update("k", "bb", { reply: true, create: false })).toBe("changed");
    expect(t.cache.state("k")).toBe("stale");
    expect(t.changes).toEqual([["k", "aa", "bb"]]);
    expect(t.cache.counters()).toMatchObject({ addressChanges: 1, lockRefused: 1 });
  });

  it("with maxIncomplete 0 nothing is resolved: packets for unknown keys are dropped and counted", () => {
    const t = setup({ maxIncomplete: 0 });
    expect(t.cache.enqueue("k", "p")).toEqual({ ok: false, error: "too-many-pending" });
    expect(t.solicits).toEqual([]);
    expect(t.cache.counters()).toMatchObject({ pendingDrops: 1, drops: { "too-many-pending": 1 } });
  });
});
