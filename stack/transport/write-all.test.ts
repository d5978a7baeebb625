import { describe, expect, it } from "vitest";
import { createVirtualClock } from "../time.ts";
import { createStreamPair } from "./stream-pair.ts";
import { writeAll, writeBuffer } from "./write-all.ts";

describe("writeAll()", () => {
  it("delivers exactly `total` bytes through backpressure and then ends the stream", () => {
    const clock = createVirtualClock();
    const [a, b] = createStreamPair(clock);
    let received = 0,
      ended = false;
    b.onData((d) => {
      received += d.length;
    });
    b.onEnd(() => {
      ended = true;
    });
    const queued = writeAll(a, 1_000_003, new Uint8Array(65536).fill(7), { connected: true });
    clock.run();
    expect(queued()).toBe(1_000_003);
    expect(received).toBe(1_000_003);
    expect(ended).toBe(true);
  });
});

describe("writeBuffer()", () => {
  it("delivers the buffer's bytes in order in slices of at most sliceBytes, then ends the stream", () => {
    const clock = createVirtualClock();
    const [a, b] = createStreamPair(clock);
    const buffer = new Uint8Array(300_001).map((_, i) => (i * 31) & 0xff);
    const got: Uint8Array[] = [];
    let ended = false;
    b.onData((d) => {
      got.push(d.slice());
    });
    b.onEnd(() => {
      ended = true;
    });
    const writes: number[] = [];
    const write = a.write.bind(a);
    a.write = (d: Uint8Array) => {
      writes.push(d.length);
      return write(d);
    };
    const queued = writeBuffer(a, buffer, { connected: true, sliceBytes: 40_000 });
    clock.run();
    expect(queued()).toBe(300_001);
    expect(Math.max(...writes)).toBe(40_000);
    const joined = new Uint8Array(300_001);
    let at = 0;
    for (const c of got) {
      joined.set(c, at);
      at += c.length;
    }
    expect(at).toBe(300_001);
    expect(joined).toEqual(buffer);
    expect(ended).toBe(true);
  });
});

describe("writeAll() with sliceBytes", () => {
  it("cycles a pattern in slices that never cross its end, byte for byte", () => {
    const clock = createVirtualClock();
    const [a, b] = createStreamPair(clock);
    const pattern = new Uint8Array(10_007).map((_, i) => (i * 13 + 5) & 0xff);
    const total = 3 * 10_007 + 4_321;
    const writes: { length: number; first: number }[] = [];
    const write = a.write.bind(a);
    a.write = (d: Uint8Array) => {
      writes.push({ length: d.length, first: d[0]! });
      return write(d);
    };
    const got: number[] = [];
    let ended = false;
    b.onData((d) => {
      for (const x of d) got.push(x);
    });
    b.onEnd(() => {
      ended = true;
    });
    const queued = writeAll(a, total, pattern, { connected: true, sliceBytes: 4096 });
    clock.run();
    expect(queued()).toBe(total);
    expect(ended).toBe(true);
    expect(got.length).toBe(total);
    for (let i = 0; i < total; i++) if (got[i] !== pattern[i % pattern.length]) throw new Error(`byte ${i} differs`);
    expect(Math.max(...writes.map((w) => w.length))).toBe(4096);
    // Slices end at the pattern's end: 10_007 = 2·4096 + 1815, so the third write of each round is short.
    expect(writes.slice(0, 4).map((w) => w.length)).toEqual([4096, 4096, 1815, 4096]);
  });

  it("refuses an empty chunk with a non-zero total instead of looping forever", () => {
    const clock = createVirtualClock();
    const [a] = createStreamPair(clock);
    expect(() => writeAll(a, 10, new Uint8Array(0), { connected: true })).toThrow(RangeError);
  });
});
