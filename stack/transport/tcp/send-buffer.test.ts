import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { SendBuffer } from "./send-buffer.ts";

describe("SendBuffer", () => {
  it("behaves like one concatenated array under any mix of writes, copies and acknowledgements", () => {
    const op = fc.oneof(
      fc.record({ kind: fc.constant("push" as const), len: fc.integer({ min: 0, max: 5000 }) }),
      fc.record({ kind: fc.constant("consume" as const), len: fc.integer({ min: 0, max: 6000 }) }),
      fc.record({ kind: fc.constant("copy" as const), off: fc.nat({ max: 20000 }), len: fc.integer({ min: 0, max: 3000 }) }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 60 }), (ops) => {
        const sb = new SendBuffer();
        let model: number[] = [];
        let counter = 0;
        for (const o of ops) {
          if (o.kind === "push") {
            const d = new Uint8Array(o.len);
            for (let i = 0; i < d.length; i++) d[i] = counter++ & 0xff;
            sb.push(d);
            model.push(...d);
          } else if (o.kind === "consume") {
            sb.consume(o.len);
            model = model.slice(Math.min(o.len, model.length));
          } else {
            const off = Math.min(o.off, model.length);
            const len = Math.min(o.len, model.length - off);
            const out = new Uint8Array(len);
            sb.copyTo(off, len, out, 0);
            expect(Array.from(out)).toEqual(model.slice(off, off + len));
          }
          expect(sb.length).toBe(model.length);
        }
      }),
      { numRuns: 60 },
    );
  });

  it("behaves like one concatenated array when small messages drain it again and again (block reuse)", () => {
    const op = fc.oneof(
      fc.record({ kind: fc.constant("push" as const), len: fc.integer({ min: 0, max: 700 }) }),
      fc.record({ kind: fc.constant("consume" as const), len: fc.integer({ min: 0, max: 900 }) }),
      fc.record({ kind: fc.constant("drain" as const) }),
      fc.record({ kind: fc.constant("copy" as const), off: fc.nat({ max: 3000 }), len: fc.integer({ min: 0, max: 900 }) }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 120 }), (ops) => {
        const sb = new SendBuffer();
        let model: number[] = [];
        let counter = 0;
        for (const o of ops) {
          if (o.kind === "push") {
            const d = new Uint8Array(o.len);
            for (let i = 0; i < d.length; i++) d[i] = counter++ & 0xff;
            sb.push(d);
            d.fill(0xee);
            for (let i = 0; i < o.len; i++) model.push((counter - o.len + i) & 0xff);
          } else if (o.kind === "consume" || o.kind === "drain") {
            const n = o.kind === "drain" ? model.length : o.len;
            sb.consume(n);
            model = model.slice(Math.min(n, model.length));
          } else {
            const off = Math.min(o.off, model.length);
            const len = Math.min(o.len, model.length - off);
            const out = new Uint8Array(len);
            sb.copyTo(off, len, out, 0);
            expect(Array.from(out)).toEqual(model.slice(off, off + len));
          }
          expect(sb.length).toBe(model.length);
        }
        const all = new Uint8Array(model.length);
        sb.copyTo(0, model.length, all, 0);
        expect(Array.from(all)).toEqual(model);
      }),
      { numRuns: 100 },
    );
  });

  it("keeps large writes by reference and coalesces small ones", () => {
    const sb = new SendBuffer();
    const big = new Uint8Array(4096).fill(7);
    sb.push(big);
    big[0] = 9;
    const out = new Uint8Array(1);
    sb.copyTo(0, 1, out, 0);
    expect(out[0]).toBe(9);
    const small = Uint8Array.of(1, 2, 3);
    sb.push(small);
    small[0] = 5;
    sb.copyTo(4096, 1, out, 0);
    expect(out[0]).toBe(1);
  });
});
