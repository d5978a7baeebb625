// blkfront over blkback serving a raw image file: random I/O checked against a model and the
// file's bytes, and a backend crash/restart with no acknowledged write lost.
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { afterEach, describe, expect, it } from "vitest";
import { ok, unwrap } from "../../stack/result.ts";
import { createBlkWorld } from "../../xen-sim/blk/sim-world.ts";
import { firstDiff } from "../../xen-sim/blk/test-support.ts";
import { createFileStorage } from "../../harness/blk/file-backend.ts";

const SECTORS = 2048;
const dirs: string[] = [];
const tempImage = (): string => {
  const d = mkdtempSync(join(tmpdir(), "netlab-blk-"));
  dirs.push(d);
  return join(d, "disk.img");
};
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function fill(count: number, seed: number): Uint8Array {
  const b = new Uint8Array(count * 512);
  for (let i = 0; i < b.length; i++) b[i] = (seed * 17 + i * 5) & 255;
  return b;
}

describe("blkfront with a raw image file behind blkback", () => {
  it("random reads, writes, flushes and discards match a model of the disk and the image file's bytes", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.record({
            kind: fc.constantFrom("read", "write", "write", "flush", "discard"),
            sector: fc.nat(SECTORS - 1),
            count: fc.integer({ min: 1, max: 200 }),
          }),
          { minLength: 1, maxLength: 30 },
        ),
        async (ops) => {
          const path = tempImage();
          const storage = createFileStorage(path, { createSectors: SECTORS });
          const w = await createBlkWorld(storage);
          await w.connect();
          const model = new Uint8Array(SECTORS * 512);
          const pending = ops.map((op, i) => {
            const n = Math.min(op.count, SECTORS - op.sector);
            switch (op.kind) {
              case "read": {
                const expected = model.slice(op.sector * 512, (op.sector + n) * 512);
                return w.front.read(op.sector, n).then((r) => r.ok && firstDiff(r.value, expected) === -1);
              }
              case "write": {
                const d = fill(n, i);
                model.set(d, op.sector * 512);
                return w.front.write(op.sector, d).then((r) => r.ok);
              }
              case "discard":
                model.fill(0, op.sector * 512, (op.sector + n) * 512);
                return w.front.discard(op.sector, n).then((r) => r.ok);
              default:
                return w.front.flush().then((r) => r.ok);
            }
          });
          expect(await w.settle(Promise.all(pending))).toEqual(ops.map(() => true));
          await w.settle(w.front.close());
          await w.settle(w.back.close());
          expect(firstDiff(new Uint8Array(readFileSync(path)), model)).toBe(-1);
        },
      ),
      { numRuns: 15, seed: 4242 },
    );
  });

  it("a write acknowledged after a flush survives a backend crash and restart; in-flight writes are re-issued", async () => {
    const path = tempImage();
    const first = createFileStorage(path, { createSectors: SECTORS });
    const w = await createBlkWorld(first, { back: { serviceDelayMs: 1 } });
    await w.connect();
    const acked = fill(64, 1);
    expect(await w.settle(w.front.write(0, acked))).toEqual(ok(undefined));
    expect(await w.settle(w.front.flush())).toEqual(ok(undefined));
    expect(first.fsyncs).toBe(1);
    const inFlight = Array.from({ length: 8 }, (_, i) => w.front.write(512 + i * 16, fill(16, 2 + i)));
    // The backend dies with the writes on the ring: its mappings, event channel and file go.
    const second = createFileStorage(path);
    await w.restartBackend(second);
    expect(first.read(0, new Uint8Array(512)).ok).toBe(false);
    expect((await w.settle(Promise.all(inFlight))).every((r) => r.ok)).toBe(true);
    expect(await w.settle(w.front.flush())).toEqual(ok(undefined));
    expect(second.fsyncs).toBe(1);
    expect(firstDiff(unwrap(await w.settle(w.front.read(0, 64))), acked)).toBe(-1);
    const image = new Uint8Array(readFileSync(path));
    expect(firstDiff(image.subarray(0, 64 * 512), acked)).toBe(-1);
    for (let i = 0; i < 8; i++) expect(firstDiff(image.subarray((512 + i * 16) * 512, (528 + i * 16) * 512), fill(16, 2 + i))).toBe(-1);
    expect(w.front.stats.reissued).toBe(8);
    await w.settle(w.front.close());
    await w.settle(w.back.close());
  });
});
