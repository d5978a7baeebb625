import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { ReassemblyQueue } from "./reassembly.ts";
import { seqAdd } from "./seq.ts";

describe("ReassemblyQueue", () => {
  it("reassembles any overlapping, duplicated, reordered set of pieces into the original stream", () => {
    fc.assert(
      fc.property(
        fc.nat({ max: 0xffffffff }),
        fc.array(fc.tuple(fc.nat({ max: 3000 }), fc.integer({ min: 1, max: 600 })), { minLength: 1, maxLength: 40 }),
        (isn, pieces) => {
          const total = 3600;
          const stream = Uint8Array.from({ length: total }, (_, i) => (i * 13) & 0xff);
          const q = new ReassemblyQueue(1 << 20);
          let rcvNxt = isn;
          const out: number[] = [];
          const all = [...pieces, [0, total] as [number, number]];
          for (const [off, len] of all) {
            const end = Math.min(total, off + len);
            const rel = (rcvNxt - isn) >>> 0;
            if (end <= rel) continue;
            const from = Math.max(off, rel);
            if (from === rel) {
              out.push(...stream.subarray(from, end));
              rcvNxt = seqAdd(isn, end);
              for (let d = q.takeInOrder(rcvNxt); d !== undefined; d = q.takeInOrder(rcvNxt)) {
                out.push(...d);
                rcvNxt = seqAdd(rcvNxt, d.length);
              }
            } else {
              q.insert(seqAdd(isn, from), stream.subarray(from, end));
            }
          }
          expect(out.length).toBe(total);
          expect(out.every((v, i) => v === stream[i])).toBe(true);
          expect(q.bytes).toBe(0);
        },
      ),
      { numRuns: 150 },
    );
  });

  it("reports SACK blocks by recency: the most recently changed block first, then the others as last changed (RFC 2018 §4)", () => {
    const q = new ReassemblyQueue(10_000);
    q.insert(100, new Uint8Array(10));
    q.insert(300, new Uint8Array(10));
    q.insert(200, new Uint8Array(10));
    expect(q.sackBlocks(4)).toEqual([
      { left: 200, right: 210 },
      { left: 300, right: 310 },
      { left: 100, right: 110 },
    ]);
    q.insert(110, new Uint8Array(90));
    expect(q.sackBlocks(4)).toEqual([
      { left: 100, right: 210 },
      { left: 300, right: 310 },
    ]);
  });

  it("lists blocks no longer remembered after the recent ones, in sequence order, and drops delivered ones", () => {
    const q = new ReassemblyQueue(100_000);
    for (let i = 10; i >= 0; i--) q.insert(1000 + i * 100, new Uint8Array(10));
    expect(q.sackBlocks(4).map((b) => b.left)).toEqual([1000, 1100, 1200, 1300]);
    q.insert(1510, new Uint8Array(10));
    expect(q.sackBlocks(3).map((b) => b.left)).toEqual([1500, 1000, 1100]);
    expect(q.takeInOrder(1000)?.length).toBe(10);
    expect(q.sackBlocks(3).map((b) => b.left)).toEqual([1500, 1100, 1200]);
  });

  it("reports the first part of an insert that was already held (D-SACK, RFC 2883)", () => {
    const q = new ReassemblyQueue(10_000);
    q.insert(100, new Uint8Array(10));
    expect(q.duplicate()).toBeUndefined();
    q.insert(105, new Uint8Array(10));
    expect(q.duplicate()).toEqual({ left: 105, right: 110 });
    q.insert(100, new Uint8Array(15));
    expect(q.duplicate()).toEqual({ left: 100, right: 115 });
    q.insert(90, new Uint8Array(40));
    expect(q.duplicate()).toEqual({ left: 100, right: 115 });
    q.insert(200, new Uint8Array(5));
    expect(q.duplicate()).toBeUndefined();
    expect(q.sackBlocks(4)).toEqual([
      { left: 200, right: 205 },
      { left: 90, right: 130 },
    ]);
  });

  it("refuses pieces beyond its piece limit", () => {
    const q = new ReassemblyQueue(1 << 20, 4);
    for (let i = 0; i < 4; i++) expect(q.insert(100 + i * 10, new Uint8Array(1))).toBe(true);
    expect(q.insert(200, new Uint8Array(1))).toBe(false);
    // data already held is accepted (it adds nothing)
    expect(q.insert(110, new Uint8Array(1))).toBe(true);
    expect(q.count).toBe(4);
  });

  it("refuses data beyond its byte budget", () => {
    const q = new ReassemblyQueue(100);
    expect(q.insert(10, new Uint8Array(60))).toBe(true);
    expect(q.insert(100, new Uint8Array(60))).toBe(false);
    expect(q.bytes).toBe(60);
  });
});
