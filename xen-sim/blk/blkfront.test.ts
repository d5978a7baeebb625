import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { err, ok, type Result, unwrap } from "../../stack/result.ts";
import { createBlockFile } from "./block-file.ts";
import { createMemoryStorage } from "./memory-storage.ts";
import { createBlkWorld, type BlkWorldOptions } from "./sim-world.ts";
import { firstDiff } from "./test-support.ts";
import type { BlkError } from "./types.ts";

const SECTORS = 4096;

type Op =
  | { kind: "read"; sector: number; count: number }
  | { kind: "write"; sector: number; count: number; fill: number }
  | { kind: "flush" }
  | { kind: "discard"; sector: number; count: number };

const opArb = fc.oneof(
  { weight: 4, arbitrary: fc.record({ kind: fc.constant("read" as const), sector: fc.nat(SECTORS - 1), count: fc.integer({ min: 1, max: 400 }) }) },
  {
    weight: 4,
    arbitrary: fc.record({ kind: fc.constant("write" as const), sector: fc.nat(SECTORS - 1), count: fc.integer({ min: 1, max: 400 }), fill: fc.nat(255) }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("flush" as const) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("discard" as const), sector: fc.nat(SECTORS - 1), count: fc.integer({ min: 1, max: 64 }) }) },
);

function pattern(count: number, fill: number, sector: number): Uint8Array {
  const b = new Uint8Array(count * 512);
  for (let i = 0; i < b.length; i++) b[i] = (fill + i * 7 + sector) & 255;
  return b;
}

/** Runs a batch of ops concurrently and checks each against a model applied in submission order. */
async function checkAgainstModel(options: BlkWorldOptions, batches: Op[][]): Promise<void> {
  const storage = createMemoryStorage({ sectors: SECTORS });
  const w = await createBlkWorld(storage, options);
  await w.connect();
  const model = new Uint8Array(SECTORS * 512);
  for (const batch of batches) {
    const pending: Promise<void>[] = [];
    for (const op of batch) {
      const clip = (s: number, c: number) => Math.min(c, SECTORS - s);
      switch (op.kind) {
        case "read": {
          const n = clip(op.sector, op.count);
          const expected = model.slice(op.sector * 512, (op.sector + n) * 512);
          pending.push(w.front.read(op.sector, n).then((r) => expect(firstDiff(unwrap(r), expected)).toBe(-1)));
          break;
        }
        case "write": {
          const n = clip(op.sector, op.count);
          const data = pattern(n, op.fill, op.sector);
          model.set(data, op.sector * 512);
          pending.push(w.front.write(op.sector, data).then((r) => expect(r).toEqual(ok(undefined))));
          break;
        }
        case "flush":
          pending.push(w.front.flush().then((r) => expect(r).toEqual(ok(undefined))));
          break;
        case "discard": {
          const n = clip(op.sector, op.count);
          model.fill(0, op.sector * 512, (op.sector + n) * 512);
          pending.push(w.front.discard(op.sector, n).then((r) => expect(r).toEqual(ok(undefined))));
          break;
        }
      }
    }
    await w.settle(Promise.all(pending));
  }
  expect(firstDiff(storage.bytes, model)).toBe(-1);
  expect(w.front.inFlight).toBe(0);
  expect(w.back.faults).toEqual([]);
}

describe("blkfront over blkback (memory storage)", () => {
  for (const [name, options] of [
    ["persistent grants, indirect descriptors, one ring page", {}],
    ["grants per request, direct segments only", { front: { persistent: false, maxIndirectSegments: 0 } }],
    ["a 4-page ring with a small page pool", { front: { ringPageOrder: 2, maxDataPages: 40 } }],
  ] as [string, BlkWorldOptions][]) {
    it(`random concurrent reads, writes, flushes and discards match a model of the disk: ${name}`, async () => {
      await fc.assert(
        fc.asyncProperty(fc.array(fc.array(opArb, { minLength: 1, maxLength: 24 }), { minLength: 1, maxLength: 4 }), (batches) =>
          checkAgainstModel(options, batches),
        ),
        { numRuns: 12, seed: 6006 },
      );
    });
  }

  it("a 256 KiB write uses indirect requests of 32 segments; without the feature it is split into 11-segment requests", async () => {
    const data = pattern(512, 3, 0);
    const a = await createBlkWorld(createMemoryStorage({ sectors: SECTORS }));
    await a.connect();
    expect(await a.settle(a.front.write(100, data))).toEqual(ok(undefined));
    expect(a.front.stats).toMatchObject({ requests: 2, indirectRequests: 2 });
    expect(firstDiff(unwrap(await a.settle(a.front.read(100, 512))), data)).toBe(-1);
    expect(a.front.stats).toMatchObject({ requests: 4, indirectRequests: 4 });
    const b = await createBlkWorld(createMemoryStorage({ sectors: SECTORS }), { back: { maxIndirectSegments: 0 } });
    await b.connect();
    expect(b.front.features.indirectSegments).toBe(0);
    expect(await b.settle(b.front.write(100, data))).toEqual(ok(undefined));
    expect(b.front.stats).toMatchObject({ requests: 6, indirectRequests: 0 });
    expect(firstDiff(unwrap(await b.settle(b.front.read(100, 512))), data)).toBe(-1);
  });

  it("persistent grants are issued once per pool page and stay mapped by the backend", async () => {
    const w = await createBlkWorld(createMemoryStorage({ sectors: SECTORS }));
    await w.connect();
    for (let round = 0; round < 25; round++) {
      const rs = await w.settle(Promise.all(Array.from({ length: 8 }, (_, i) => w.front.read((round * 8 + i) * 8, 8))));
      expect(rs.every((r) => r.ok)).toBe(true);
    }
    expect(w.front.stats.requests).toBe(200);
    expect(w.front.stats.grantsIssued).toBe(8);
    expect(w.back.stats.persistentGrants).toBe(8);
    expect(w.dom0.grants.mappingCount).toBe(1 + 8);
  });

  it("without persistent grants every segment is granted for its request only, read-only for writes, and ended after", async () => {
    const w = await createBlkWorld(createMemoryStorage({ sectors: SECTORS }), { front: { persistent: false } });
    await w.connect();
    const freeBefore = w.guest.grants.freeRefs;
    const seen: boolean[] = [];
    const stop = w.hv.onRefused(() => {});
    const orig = w.guest.grants.grantAccess.bind(w.guest.grants);
    (w.guest.grants as { grantAccess: typeof orig }).grantAccess = (d, f, ro) => {
      seen.push(ro ?? false);
      return orig(d, f, ro);
    };
    expect(await w.settle(w.front.write(0, pattern(16, 1, 0)))).toEqual(ok(undefined));
    expect(unwrap(await w.settle(w.front.read(0, 16)))).toEqual(pattern(16, 1, 0));
    stop();
    expect(seen).toEqual([true, true, false, false]);
    expect(w.front.features.persistent).toBe(false);
    expect(w.guest.grants.freeRefs).toBe(freeBefore);
    expect(w.dom0.grants.mappingCount).toBe(1);
    expect(w.back.stats.persistentGrants).toBe(0);
  });

  it("flush sends FLUSH_DISKCACHE; a disk without a cache completes flush without a request; a barrier writes in order", async () => {
    const w = await createBlkWorld(createMemoryStorage({ sectors: SECTORS }));
    await w.connect();
    expect(await w.settle(w.front.flush())).toEqual(ok(undefined));
    expect(w.front.stats.requests).toBe(1);
    const barrier = await w.settle(new Promise<Result<void, BlkError>>((r) => w.front.submitBarrier(8, pattern(8, 9, 8), r)));
    expect(barrier).toEqual(ok(undefined));
    expect(unwrap(await w.settle(w.front.read(8, 8)))).toEqual(pattern(8, 9, 8));
    const nc = await createBlkWorld(createMemoryStorage({ sectors: SECTORS, flush: false }));
    await nc.connect();
    expect(nc.front.features).toMatchObject({ flush: false, barrier: false });
    expect(await nc.settle(nc.front.flush())).toEqual(ok(undefined));
    expect(nc.front.stats.requests).toBe(0);
    const nb = await nc.settle(new Promise<Result<void, BlkError>>((r) => nc.front.submitBarrier(8, pattern(8, 9, 8), r)));
    expect(nb).toEqual(err("not-supported"));
  });

  it("discard zeroes sectors; it is refused when not offered, and secure discard when discard-secure is 0", async () => {
    const storage = createMemoryStorage({ sectors: SECTORS });
    const w = await createBlkWorld(storage);
    await w.connect();
    await w.settle(w.front.write(0, pattern(32, 5, 0)));
    expect(await w.settle(w.front.discard(8, 16))).toEqual(ok(undefined));
    expect(storage.bytes.subarray(8 * 512, 24 * 512).every((b) => b === 0)).toBe(true);
    expect(storage.bytes.subarray(24 * 512, 32 * 512)).toEqual(pattern(32, 5, 0).subarray(24 * 512));
    const secure = await w.settle(new Promise<Result<void, BlkError>>((r) => w.front.submitDiscard(0, 8, r, true)));
    expect(secure).toEqual(err("not-supported"));
    const nd = await createBlkWorld(createMemoryStorage({ sectors: SECTORS, discard: false }));
    await nd.connect();
    expect(nd.front.features.discard).toBe(false);
    expect(await nd.settle(nd.front.discard(0, 8))).toEqual(err("not-supported"));
  });

  it("requests beyond the capacity, empty or misaligned buffers, and writes to a read-only disk fail before the ring", async () => {
    const w = await createBlkWorld(createMemoryStorage({ sectors: SECTORS, readOnly: true }));
    await w.connect();
    expect(w.front.features.readOnly).toBe(true);
    expect(await w.settle(w.front.read(SECTORS - 1, 2))).toEqual(err("out-of-range"));
    expect(await w.settle(w.front.read(0, 0))).toEqual(err("bad-argument"));
    expect(await w.settle(w.front.write(0, new Uint8Array(100)))).toEqual(err("bad-argument"));
    expect(await w.settle(w.front.write(0, new Uint8Array(512)))).toEqual(err("read-only"));
    expect(w.front.stats.requests).toBe(0);
    expect(unwrap(await w.settle(w.front.read(SECTORS - 1, 1))).length).toBe(512);
  });

  it("the file wrapper reads and writes at byte offsets, read-modify-writing partial sectors", async () => {
    const storage = createMemoryStorage({ sectors: 64 });
    const w = await createBlkWorld(storage);
    await w.connect();
    const f = createBlockFile(w.front);
    const model = new Uint8Array(64 * 512);
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.record({ offset: fc.nat(64 * 512 - 1), bytes: fc.uint8Array({ minLength: 1, maxLength: 3000 }) }), { minLength: 1, maxLength: 8 }),
        async (writes) => {
          const done = writes.map(({ offset, bytes }) => {
            const b = bytes.subarray(0, 64 * 512 - offset);
            model.set(b, offset);
            return f.writeAt(offset, b);
          });
          expect((await w.settle(Promise.all(done))).every((r) => r.ok)).toBe(true);
          const { offset } = writes[0]!;
          expect(unwrap(await w.settle(f.readAt(offset, Math.min(1000, f.size - offset))))).toEqual(
            model.subarray(offset, offset + Math.min(1000, f.size - offset)),
          );
        },
      ),
      { numRuns: 30, seed: 7 },
    );
    expect(firstDiff(storage.bytes, model)).toBe(-1);
    expect(f.size).toBe(64 * 512);
    expect(await w.settle(f.readAt(f.size - 1, 2))).toEqual(err("out-of-range"));
    expect(await w.settle(f.flush())).toEqual(ok(undefined));
  });
});

describe("blkfront geometry and modes", () => {
  it("a 4096-byte logical sector size requires 8-sector alignment", async () => {
    const w = await createBlkWorld(createMemoryStorage({ sectors: SECTORS, sectorSize: 4096 }));
    await w.connect();
    expect(w.front.sectorSize).toBe(4096);
    expect(await w.settle(w.front.read(4, 8))).toEqual(err("bad-argument"));
    expect(await w.settle(w.front.read(8, 4))).toEqual(err("bad-argument"));
    expect(unwrap(await w.settle(w.front.read(8, 16))).length).toBe(8192);
  });

  it("mode=r from the toolstack makes the backend advertise info=VDISK_READONLY and refuse writes", async () => {
    const w = await createBlkWorld(createMemoryStorage({ sectors: SECTORS }));
    unwrap(await w.settle(w.dom0Xs.write(`${w.backendPath}/mode`, "r")));
    await w.connect();
    expect(unwrap(await w.settle(w.dom0Xs.read(`${w.backendPath}/info`)))).toBe("4");
    expect(w.front.features.readOnly).toBe(true);
    expect(await w.settle(w.front.write(0, new Uint8Array(512)))).toEqual(err("read-only"));
  });
});
