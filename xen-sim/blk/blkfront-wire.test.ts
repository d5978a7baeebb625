import { describe, expect, it } from "vitest";
import { ok, unwrap } from "../../stack/result.ts";
import {
  BLKIF_OP_DISCARD,
  BLKIF_OP_FLUSH_DISKCACHE,
  BLKIF_OP_INDIRECT,
  BLKIF_OP_READ,
  BLKIF_OP_WRITE,
  BLKIF_OP_WRITE_BARRIER,
  BLKIF_RSP_OKAY,
  parseBlkifRequest,
  parseBlkifSegment,
} from "../abi/blkif.ts";
import { GTF_permit_access, GTF_readonly } from "../abi/grant-table.ts";
import { createMemoryStorage } from "./memory-storage.ts";
import { createBlkWorld } from "./sim-world.ts";
import { rawBackend, responseBytes } from "./test-support.ts";

async function capture(features: { indirect?: number; discard?: boolean }, front: { maxIndirectSegments?: number } = {}) {
  const w = await createBlkWorld(createMemoryStorage(), { front: { persistent: false, ...front } });
  const ready = w.front.connect();
  const be = await rawBackend(w, 2048, features);
  expect(await w.settle(ready)).toEqual(ok(undefined));
  return { w, be };
}

describe("blkfront requests on the wire", () => {
  it("READ, WRITE, FLUSH_DISKCACHE, WRITE_BARRIER and DISCARD slots carry Linux's fields", async () => {
    const { w, be } = await capture({ discard: true });
    w.front.read(100, 12);
    w.front.write(7, new Uint8Array(3 * 512).fill(0xab));
    w.front.flush();
    w.front.submitBarrier(40, new Uint8Array(512), () => {});
    w.front.discard(200, 1000);
    await w.settle(w.guestXs.read("device"));
    const reqs = be.requests().map((b) => unwrap(parseBlkifRequest(b)));
    expect(reqs.map((r) => [r.kind, r.operation, Number(r.id) < 32, r.sectorNumber])).toEqual([
      ["direct", BLKIF_OP_READ, true, 100],
      ["direct", BLKIF_OP_WRITE, true, 7],
      ["direct", BLKIF_OP_FLUSH_DISKCACHE, true, 0],
      ["direct", BLKIF_OP_WRITE_BARRIER, true, 40],
      ["discard", BLKIF_OP_DISCARD, true, 200],
    ]);
    const [read, write, flush, barrier, discard] = reqs;
    if (read?.kind !== "direct" || write?.kind !== "direct" || flush?.kind !== "direct" || barrier?.kind !== "direct" || discard?.kind !== "discard")
      throw new Error("kinds");
    // 12 sectors: a full page then 4 sectors, each segment starting at the page's first sector.
    expect(read.segments.map((s) => [s.firstSect, s.lastSect])).toEqual([
      [0, 7],
      [0, 3],
    ]);
    expect(write.segments.map((s) => [s.firstSect, s.lastSect])).toEqual([[0, 2]]);
    expect(flush.segments).toEqual([]);
    expect(barrier.segments.map((s) => [s.firstSect, s.lastSect])).toEqual([[0, 0]]);
    expect([discard.nrSectors, discard.flag, discard.handle]).toEqual([1000, 0, 0]);
    // Without persistent grants, data read by the backend is granted read-only, data it writes read-write.
    const flags = (ref: number) => w.guest.grants.entry(ref)!.flags & (GTF_permit_access | GTF_readonly);
    expect(read.segments.map((s) => flags(s.gref))).toEqual([GTF_permit_access, GTF_permit_access]);
    expect(flags(write.segments[0]!.gref)).toBe(GTF_permit_access | GTF_readonly);
    const page = unwrap(w.guest.memory.page(w.guest.grants.entry(write.segments[0]!.gref)!.frame));
    expect(page.subarray(0, 3 * 512).every((b) => b === 0xab)).toBe(true);
    // Unused bytes of a slot are zero.
    expect(
      be
        .requests()[2]!
        .subarray(24)
        .every((b) => b === 0),
    ).toBe(true);
  });

  it("an indirect request lists its segments in granted indirect pages, read-only to the backend", async () => {
    const { w, be } = await capture({ indirect: 256 }, { maxIndirectSegments: 64 });
    const done = w.front.read(64, 64 * 8);
    await w.settle(w.guestXs.read("device"));
    const [req] = be.requests().map((b) => unwrap(parseBlkifRequest(b)));
    if (req?.kind !== "indirect") throw new Error("not indirect");
    expect([req.operation, req.indirectOp, req.nrSegments, req.sectorNumber, req.handle, req.indirectGrefs.length]).toEqual([
      BLKIF_OP_INDIRECT,
      BLKIF_OP_READ,
      64,
      64,
      0,
      1,
    ]);
    const ind = w.guest.grants.entry(req.indirectGrefs[0]!)!;
    expect(ind.flags & (GTF_permit_access | GTF_readonly)).toBe(GTF_permit_access | GTF_readonly);
    const table = unwrap(w.guest.memory.page(ind.frame));
    const segs = Array.from({ length: 64 }, (_, i) => unwrap(parseBlkifSegment(table.subarray(i * 8, i * 8 + 8))));
    expect(segs.every((s) => s.firstSect === 0 && s.lastSect === 7)).toBe(true);
    expect(new Set(segs.map((s) => s.gref)).size).toBe(64);
    be.respond([responseBytes(Number(req.id), BLKIF_OP_READ, BLKIF_RSP_OKAY)]);
    expect((await w.settle(done)).ok).toBe(true);
    // Access to every page is ended once the response arrived.
    expect(segs.every((s) => w.guest.grants.entry(s.gref)!.flags === 0)).toBe(true);
  });
});
