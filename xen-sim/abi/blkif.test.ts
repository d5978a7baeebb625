import { describe, expect, it } from "vitest";
import { unwrap } from "../../stack/result.ts";
import {
  BLKIF_OP_DISCARD,
  BLKIF_OP_INDIRECT,
  BLKIF_OP_READ,
  BLKIF_OP_WRITE,
  BLKIF_RSP_EOPNOTSUPP,
  emitBlkifRequest,
  emitBlkifResponse,
  parseBlkifRequest,
  parseBlkifResponse,
  type BlkifRequest,
  BlkifRequestView,
  BlkifResponseView,
  BlkifSegmentsView,
} from "./blkif.ts";

describe("blkif structs", () => {
  it("a direct request is op 0, nr_segments 1, handle 2, id 8, sector 16, seg[i] at 24 + 8i (gref, first, last)", () => {
    const req: BlkifRequest = {
      kind: "direct",
      operation: BLKIF_OP_WRITE,
      handle: 0x0102,
      id: 0x1122334455667788n,
      sectorNumber: 0x123456,
      segments: [
        { gref: 0xaabbccdd, firstSect: 0, lastSect: 7 },
        { gref: 9, firstSect: 2, lastSect: 3 },
      ],
    };
    const b = new Uint8Array(112).fill(0xee);
    emitBlkifRequest(req, b);
    expect([...b.subarray(0, 40)]).toEqual([
      1, 2, 2, 1, 0, 0, 0, 0, 0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11, 0x56, 0x34, 0x12, 0, 0, 0, 0, 0, 0xdd, 0xcc, 0xbb, 0xaa, 0, 7, 0, 0, 9, 0, 0, 0,
      2, 3, 0, 0,
    ]);
    expect(b.subarray(40).every((x) => x === 0)).toBe(true);
    expect(unwrap(parseBlkifRequest(b))).toEqual(req);
  });

  it("a direct request with 12 segments, or a segment with first_sect > last_sect or last_sect > 7, is rejected", () => {
    const b = new Uint8Array(112);
    b[0] = BLKIF_OP_READ;
    b[1] = 12;
    expect(parseBlkifRequest(b)).toMatchObject({ ok: false, error: "bad-segment-count" });
    b[1] = 1;
    b[24 + 4] = 3;
    b[24 + 5] = 2;
    expect(parseBlkifRequest(b)).toMatchObject({ ok: false, error: "bad-segment" });
    b[24 + 4] = 0;
    b[24 + 5] = 8;
    expect(parseBlkifRequest(b)).toMatchObject({ ok: false, error: "bad-segment" });
    b[24 + 5] = 7;
    expect(parseBlkifRequest(b).ok).toBe(true);
    expect(parseBlkifRequest(b.subarray(0, 111))).toMatchObject({ ok: false, error: "truncated" });
    b.fill(0xff, 16, 24);
    expect(parseBlkifRequest(b)).toMatchObject({ ok: false, error: "sector-too-large" });
  });

  it("a discard request is op 0, flag 1, handle 2, id 8, sector 16, nr_sectors 24", () => {
    const req: BlkifRequest = { kind: "discard", operation: BLKIF_OP_DISCARD, flag: 1, handle: 5, id: 7n, sectorNumber: 8, nrSectors: 0x10000 };
    const b = new Uint8Array(112);
    emitBlkifRequest(req, b);
    expect([...b.subarray(0, 32)]).toEqual([5, 1, 5, 0, 0, 0, 0, 0, 7, 0, 0, 0, 0, 0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0]);
    expect(unwrap(parseBlkifRequest(b))).toEqual(req);
  });

  it("an indirect request is op 0, indirect_op 1, nr_segments 2, id 8, sector 16, handle 24, grefs at 28", () => {
    const req: BlkifRequest = {
      kind: "indirect",
      operation: BLKIF_OP_INDIRECT,
      indirectOp: BLKIF_OP_READ,
      nrSegments: 513,
      id: 1n,
      sectorNumber: 2,
      handle: 3,
      indirectGrefs: [0x11, 0x22],
    };
    const b = new Uint8Array(112);
    emitBlkifRequest(req, b);
    expect([...b.subarray(0, 36)]).toEqual([6, 0, 1, 2, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, 0x11, 0, 0, 0, 0x22, 0, 0, 0]);
    expect(unwrap(parseBlkifRequest(b))).toEqual(req);
    b[2] = 0;
    b[3] = 0;
    expect(parseBlkifRequest(b)).toMatchObject({ ok: false, error: "bad-segment-count" });
    b[2] = 0x01;
    b[3] = 0x10;
    expect(parseBlkifRequest(b)).toMatchObject({ ok: false, error: "bad-segment-count" });
    b[2] = 1;
    b[3] = 0;
    b[1] = BLKIF_OP_DISCARD;
    expect(parseBlkifRequest(b)).toMatchObject({ ok: false, error: "bad-indirect-op" });
  });

  it("a response is id 0, operation 8, signed status 10 (16 bytes)", () => {
    const b = new Uint8Array(16).fill(0xaa);
    emitBlkifResponse({ id: 0xffffffffffffffffn, operation: 3, status: BLKIF_RSP_EOPNOTSUPP }, b);
    expect([...b]).toEqual([255, 255, 255, 255, 255, 255, 255, 255, 3, 0, 0xfe, 0xff, 0, 0, 0, 0]);
    expect(unwrap(parseBlkifResponse(b))).toEqual({ id: 0xffffffffffffffffn, operation: 3, status: -2 });
  });

  it("the views read what emitBlkifRequest wrote and write the same bytes; sectors above 2^53 - 1 read as Infinity", () => {
    const req: BlkifRequest = {
      kind: "direct",
      operation: BLKIF_OP_READ,
      handle: 7,
      id: 0x0000000500000006n,
      sectorNumber: 2 ** 40 + 3,
      segments: [{ gref: 0xfedcba98, firstSect: 1, lastSect: 6 }],
    };
    const want = new Uint8Array(112);
    emitBlkifRequest(req, want);
    const v = new BlkifRequestView(want);
    expect(unwrap(v.checkLen())).toBe(v);
    expect([v.operation, v.nrSegments, v.handle, v.idLow, v.idHigh, v.sectorNumber]).toEqual([BLKIF_OP_READ, 1, 7, 6, 5, 2 ** 40 + 3]);
    expect([v.segments.gref(0), v.segments.firstSect(0), v.segments.lastSect(0)]).toEqual([0xfedcba98, 1, 6]);
    const b = new Uint8Array(112).fill(0xaa);
    const w = new BlkifRequestView(b);
    w.clear();
    w.operation = BLKIF_OP_READ;
    w.nrSegments = 1;
    w.handle = 7;
    w.idLow = 6;
    w.idHigh = 5;
    w.sectorNumber = 2 ** 40 + 3;
    w.segments.set(0, 0xfedcba98, 1, 6);
    expect([...b]).toEqual([...want]);
    b.fill(0xff, 16, 24);
    expect(w.sectorNumber).toBe(Infinity);
    expect(new BlkifRequestView(b.subarray(0, 111)).checkLen()).toMatchObject({ ok: false, error: "truncated" });
  });

  it("an indirect page view addresses entry i at 8i; the response view writes id, operation and status with zeroed padding", () => {
    const page = new Uint8Array(4096).fill(0xcc);
    new BlkifSegmentsView(page).set(511, 0x01020304, 0, 7);
    expect([...page.subarray(4088)]).toEqual([4, 3, 2, 1, 0, 7, 0, 0]);
    expect(new BlkifSegmentsView(page).checkLen(513)).toMatchObject({ ok: false, error: "truncated" });
    const want = new Uint8Array(16);
    emitBlkifResponse({ id: 0x0000000900000008n, operation: BLKIF_OP_INDIRECT, status: BLKIF_RSP_EOPNOTSUPP }, want);
    const b = new Uint8Array(16).fill(0x55);
    const r = new BlkifResponseView(b);
    r.clear();
    r.idLow = 8;
    r.idHigh = 9;
    r.operation = BLKIF_OP_INDIRECT;
    r.status = BLKIF_RSP_EOPNOTSUPP;
    expect([...b]).toEqual([...want]);
    expect([r.idLow, r.idHigh, r.operation, r.status]).toEqual([8, 9, BLKIF_OP_INDIRECT, -2]);
  });
});
