import { describe, expect, it } from "vitest";
import { unwrap } from "../../stack/result.ts";
import { createMemoryStorage } from "./memory-storage.ts";
import { createBlkWorld } from "./sim-world.ts";
import { firstDiff } from "./test-support.ts";

function fill(count: number, seed: number): Uint8Array {
  const b = new Uint8Array(count * 512);
  for (let i = 0; i < b.length; i++) b[i] = (seed + i * 3) & 255;
  return b;
}

describe("blk limits", () => {
  it("beyond maxPersistentGrants the backend maps segments per request and unmaps them after", async () => {
    const w = await createBlkWorld(createMemoryStorage({ sectors: 4096 }), { back: { maxPersistentGrants: 4 } });
    await w.connect();
    const writes = Array.from({ length: 16 }, (_, i) => w.front.write(i * 8, fill(8, i)));
    expect((await w.settle(Promise.all(writes))).every((r) => r.ok)).toBe(true);
    expect(w.back.stats.persistentGrants).toBe(4);
    expect(w.dom0.grants.mappingCount).toBe(1 + 4);
    for (let i = 0; i < 16; i++) expect(firstDiff(unwrap(await w.settle(w.front.read(i * 8, 8))), fill(8, i))).toBe(-1);
  });

  it("the backend serves at most batchLimit requests per turn and comes back for the rest", async () => {
    const w = await createBlkWorld(createMemoryStorage({ sectors: 4096 }), { back: { batchLimit: 4 } });
    await w.connect();
    const before = w.dom0.events.upcallCount;
    const reads = Array.from({ length: 30 }, (_, i) => w.front.read(i * 8, 8));
    expect((await w.settle(Promise.all(reads))).every((r) => r.ok)).toBe(true);
    expect(w.back.stats.requests).toBe(30);
    // One upcall started the work; the other batches ran from the backend's own clock turns.
    expect(w.dom0.events.upcallCount - before).toBeLessThan(30 / 4);
  });

  it("with a data page pool smaller than the queue, requests wait for pages and all complete in order", async () => {
    const w = await createBlkWorld(createMemoryStorage({ sectors: 4096 }), { front: { maxDataPages: 3 } });
    await w.connect();
    const writes = Array.from({ length: 20 }, (_, i) => w.front.write(i * 16, fill(16, i)));
    expect(w.front.inFlight).toBe(20);
    expect((await w.settle(Promise.all(writes))).every((r) => r.ok)).toBe(true);
    expect(w.front.stats.grantsIssued).toBe(3);
    expect(w.front.stats.requests).toBe(20);
    for (let i = 0; i < 20; i++) expect(firstDiff(unwrap(await w.settle(w.front.read(i * 16, 16))), fill(16, i))).toBe(-1);
  });
});

describe("blk limits when memory runs out", () => {
  it("requests are cut to the page pool's size, and a guest out of memory fails the request instead of hanging", async () => {
    const w = await createBlkWorld(createMemoryStorage({ sectors: 4096 }), { front: { maxDataPages: 2 } });
    await w.connect();
    expect(await w.settle(w.front.write(0, fill(64, 1)))).toEqual({ ok: true, value: undefined });
    expect(w.front.stats.requests).toBe(4);
    const tight = await createBlkWorld(createMemoryStorage({ sectors: 4096 }));
    await tight.connect();
    while (tight.guest.memory.allocPage().ok) {
      /* exhaust the guest's pages */
    }
    expect(await tight.settle(tight.front.read(0, 8))).toEqual({ ok: false, error: "io-error" });
    expect(tight.front.inFlight).toBe(0);
  });
});
