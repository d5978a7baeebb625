import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { createRng, createVirtualClock } from "./time.ts";

describe("createVirtualClock()", () => {
  it("fires timers in time order, ties in insertion order", () => {
    const clock = createVirtualClock();
    const fired: string[] = [];
    clock.setTimer(20, () => fired.push("b"));
    clock.setTimer(10, () => fired.push("a"));
    clock.setTimer(20, () => fired.push("c"));
    expect(clock.run()).toBe(3);
    expect(fired).toEqual(["a", "b", "c"]);
    expect(clock.now()).toBe(20);
  });

  it("does not fire cancelled timers and stops at the given instant", () => {
    const clock = createVirtualClock(100);
    const fired: number[] = [];
    const id = clock.setTimer(150, () => fired.push(150));
    clock.setTimer(180, () => fired.push(180));
    clock.setTimer(300, () => fired.push(300));
    clock.cancel(id);
    clock.run(200);
    expect(fired).toEqual([180]);
    expect(clock.now()).toBe(200);
    expect(clock.pending()).toBe(1);
    expect(clock.nextDeadline()).toBe(300);
  });

  it("runs timers scheduled by timers, and clamps past deadlines to now", () => {
    const clock = createVirtualClock();
    const times: number[] = [];
    clock.setTimer(5, () => {
      times.push(clock.now());
      clock.setTimer(1, () => times.push(clock.now()));
      clock.setTimer(7, () => times.push(clock.now()));
    });
    clock.advance(10);
    expect(times).toEqual([5, 5, 7]);
    expect(clock.now()).toBe(10);
  });

  it("honours maxEvents", () => {
    const clock = createVirtualClock();
    for (let i = 0; i < 5; i++) clock.setTimer(i, () => undefined);
    expect(clock.run(Infinity, 2)).toBe(2);
    expect(clock.pending()).toBe(3);
  });

  it("fires any set of timers in sorted order (property)", () => {
    fc.assert(
      fc.property(fc.array(fc.nat(1000)), (deadlines) => {
        const clock = createVirtualClock();
        const seen: number[] = [];
        for (const d of deadlines) clock.setTimer(d, () => seen.push(clock.now()));
        clock.run();
        expect(seen).toEqual([...deadlines].sort((a, b) => a - b));
      }),
    );
  });

  it("fires exactly the timers not cancelled, in (time, insertion) order, whatever is cancelled when; stale ids do nothing (property)", () => {
    const op = fc.oneof(
      fc.record({ kind: fc.constant("set" as const), at: fc.nat(50) }),
      fc.record({ kind: fc.constant("cancel" as const), pick: fc.nat() }),
      fc.record({ kind: fc.constant("stale" as const), pick: fc.nat() }),
      fc.record({ kind: fc.constant("run" as const), until: fc.nat(50) }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 200 }), (ops) => {
        const clock = createVirtualClock();
        const fired: number[] = [];
        const model: { at: number; n: number; id: number }[] = [];
        const expected: number[] = [];
        const gone: number[] = [];
        let n = 0;
        for (const o of ops) {
          if (o.kind === "set") {
            const k = n++;
            const at = Math.max(o.at, clock.now());
            model.push({ at, n: k, id: clock.setTimer(o.at, () => fired.push(k)) });
          } else if (o.kind === "cancel") {
            if (model.length === 0) continue;
            const [m] = model.splice(o.pick % model.length, 1);
            clock.cancel(m!.id);
            gone.push(m!.id);
          } else if (o.kind === "stale") {
            // ids of fired or cancelled timers (their slots may hold newer timers) are ignored
            if (gone.length > 0) clock.cancel(gone[o.pick % gone.length]!);
            clock.cancel(0);
            clock.cancel(-1);
          } else {
            model.sort((a, b) => a.at - b.at || a.n - b.n);
            while (model.length > 0 && model[0]!.at <= o.until) {
              const m = model.shift()!;
              expected.push(m.n);
              gone.push(m.id);
            }
            clock.run(o.until);
          }
          expect(clock.pending()).toBe(model.length);
        }
        expect(fired).toEqual(expected);
        model.sort((a, b) => a.at - b.at || a.n - b.n);
        expect(clock.nextDeadline()).toBe(model[0]?.at);
      }),
    );
  });
});

describe("createRng()", () => {
  it("reproduces the same stream from the same seed and differs across seeds", () => {
    const a = createRng(42),
      b = createRng(42),
      c = createRng(43);
    const sa = Array.from({ length: 8 }, () => a.nextU32());
    const sb = Array.from({ length: 8 }, () => b.nextU32());
    const sc = Array.from({ length: 8 }, () => c.nextU32());
    expect(sa).toEqual(sb);
    expect(sa).not.toEqual(sc);
    for (const x of sa) expect(x >>> 0).toBe(x);
  });

  it("draws roughly uniform floats and bounded integers", () => {
    const rng = createRng(7);
    let sum = 0;
    const buckets = new Array<number>(10).fill(0);
    for (let i = 0; i < 100_000; i++) {
      const f = rng.nextFloat();
      expect(f >= 0 && f < 1).toBe(true);
      sum += f;
      const k = rng.nextInt(10);
      buckets[k] = buckets[k]! + 1;
    }
    expect(sum / 100_000).toBeCloseTo(0.5, 2);
    for (const n of buckets) expect(Math.abs(n - 10_000)).toBeLessThan(500);
  });

  it("fills buffers of any length deterministically", () => {
    const x = new Uint8Array(13),
      y = new Uint8Array(13);
    createRng(1).fill(x);
    createRng(1).fill(y);
    expect(x).toEqual(y);
    expect(x.some((v) => v !== 0)).toBe(true);
  });
});
