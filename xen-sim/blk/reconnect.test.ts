import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ok, unwrap } from "../../stack/result.ts";
import { createMemoryStorage } from "./memory-storage.ts";
import { createBlkWorld } from "./sim-world.ts";
import { firstDiff } from "./test-support.ts";

const SECTORS = 2048;

function fill(count: number, seed: number): Uint8Array {
  const b = new Uint8Array(count * 512);
  for (let i = 0; i < b.length; i++) b[i] = (seed * 31 + i * 13) & 255;
  return b;
}

describe("backend crash and restart", () => {
  it("a write acknowledged after a flush survives a crash; requests on the ring are re-issued after the new handshake", async () => {
    const storage = createMemoryStorage({ sectors: SECTORS });
    const w = await createBlkWorld(storage, { back: { serviceDelayMs: 1 } });
    await w.connect();
    const a = fill(16, 1);
    expect(await w.settle(w.front.write(0, a))).toEqual(ok(undefined));
    expect(await w.settle(w.front.flush())).toEqual(ok(undefined));
    // Ten writes and a read go on the ring; the backend dies before serving them.
    const writes = Array.from({ length: 10 }, (_, i) => w.front.write(100 + i * 8, fill(8, 10 + i)));
    const read = w.front.read(0, 16);
    expect(w.front.inFlight).toBe(11);
    const oldBack = w.back;
    const next = await w.restartBackend(createMemoryStorage({ image: storage.bytes }));
    expect(oldBack.state).toBe("crashed");
    expect((await w.settle(Promise.all(writes))).every((r) => r.ok)).toBe(true);
    expect(firstDiff(unwrap(await w.settle(read)), a)).toBe(-1);
    expect(w.front.state).toBe("connected");
    expect(next.state).toBe("connected");
    expect(w.front.stats.connects).toBe(2);
    expect(w.front.stats.reissued).toBe(11);
    expect(w.front.stats.leakedPages).toBe(0);
    expect(firstDiff(storage.bytes.subarray(0, 16 * 512), a)).toBe(-1);
    for (let i = 0; i < 10; i++) expect(firstDiff(storage.bytes.subarray((100 + i * 8) * 512, (108 + i * 8) * 512), fill(8, 10 + i))).toBe(-1);
    // The states went Closed → Initialising → ... → Connected again on both sides.
    expect(unwrap(await w.settle(w.dom0Xs.read(`${w.frontendPath}/state`)))).toBe("4");
    expect(unwrap(await w.settle(w.dom0Xs.read(`${w.backendPath}/state`)))).toBe("4");
  });

  it("whenever the backend dies mid-I/O, every request completes after the restart and the disk matches the model", async () => {
    let reissued = 0;
    let answeredBeforeCrash = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: 60 }),
        fc.array(fc.record({ sector: fc.nat(SECTORS - 64), count: fc.integer({ min: 1, max: 64 }), write: fc.boolean() }), { minLength: 1, maxLength: 40 }),
        async (crashAtTenths, ops) => {
          const storage = createMemoryStorage({ sectors: SECTORS });
          const w = await createBlkWorld(storage, { back: { serviceDelayMs: 0.5 }, events: { upcallLatencyMs: 0.2 } });
          await w.connect();
          const model = new Uint8Array(SECTORS * 512);
          const start = w.clock.now();
          const pending = ops.map((op, i) => {
            if (op.write) {
              const d = fill(op.count, i);
              model.set(d, op.sector * 512);
              return w.front.write(op.sector, d).then((r) => r.ok);
            }
            const expected = model.slice(op.sector * 512, (op.sector + op.count) * 512);
            return w.front.read(op.sector, op.count).then((r) => r.ok && firstDiff(r.value, expected) === -1);
          });
          w.clock.run(start + crashAtTenths / 10);
          await w.restartBackend(createMemoryStorage({ image: storage.bytes }));
          expect(await w.settle(Promise.all(pending))).toEqual(ops.map(() => true));
          expect(firstDiff(storage.bytes, model)).toBe(-1);
          expect(w.front.inFlight).toBe(0);
          reissued += w.front.stats.reissued;
          answeredBeforeCrash += w.front.stats.responses - w.front.stats.reissued > 0 ? 1 : 0;
        },
      ),
      { numRuns: 20, seed: 5005 },
    );
    // Both kinds of crash happened: with requests re-issued, and after some were answered.
    expect(reissued).toBeGreaterThan(0);
    expect(answeredBeforeCrash).toBeGreaterThan(0);
  });

  it("a second crash during the reconnection handshake is survived too", async () => {
    const storage = createMemoryStorage({ sectors: SECTORS });
    const w = await createBlkWorld(storage, { back: { serviceDelayMs: 1 } });
    await w.connect();
    const p = w.front.write(8, fill(8, 3));
    w.back.crash();
    w.back = (await import("./blkback.ts")).createBlkback(
      { domain: w.dom0, xs: w.dom0Xs, storage: createMemoryStorage({ image: storage.bytes }), clock: w.clock },
      { backendPath: w.backendPath, serviceDelayMs: 1 },
    );
    void w.back.start();
    for (let i = 0; i < 3; i++) await Promise.resolve();
    await w.restartBackend(createMemoryStorage({ image: storage.bytes }));
    expect(await w.settle(p)).toEqual(ok(undefined));
    expect(firstDiff(storage.bytes.subarray(8 * 512, 16 * 512), fill(8, 3))).toBe(-1);
    expect(w.front.state).toBe("connected");
  });
});
