import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { ReassemblyQueue } from "./reassembly.ts";
import { seqAdd } from "./seq.ts";

describe("ReassemblyQueue", () => {
  it("reassembles any overlapping, duplicated, reordered set of pieces into the original stream", () => {
    fc.assert(fc.property(fc.nat({ max: 0xffffffff }), fc.array(fc.tuple(fc.nat({ max: 3000 }), fc.integer({ min: 1, max: 600 })), { minLength: 1, maxLength: 40 }), (isn, pieces) => {
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
          for (let d = q.takeInOrder(rcvNxt); d !== undefined; d = q.takeInOrder(rcvNxt)) { out.push(...d); rcvNxt = seqAdd(rcvNxt, d.length); }
        } else {
          q.insert(seqAdd(isn, from), stream.subarray(from, end));
        }
      }
      expect(out.length).toBe(total);
      expect(out.every((v, i) => v === stream[i])).toBe(true);
      expect(q.bytes).toBe(0);
    }), { numRuns: 150 });
  });

  it("reports SACK blocks with the most recently changed block first (RFC 2018 §4)", () => {
    const q = new ReassemblyQueue(10_000);
    q.insert(100, new Uint8Array(10));
    q.insert(300, new Uint8Array(10));
    q.insert(200, new Uint8Array(10));
    expect(q.sackBlocks(4)).toEqual([{ left: 200, right: 210 }, { left: 100, right: 110 }, { left: 300, right: 310 }]);
    q.insert(110, new Uint8Array(90));
    expect(q.sackBlocks(4)).toEqual([{ left: 100, right: 210 }, { left: 300, right: 310 }]);
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
