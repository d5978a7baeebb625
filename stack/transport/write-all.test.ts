import { describe, expect, it } from "vitest";
import { createVirtualClock } from "../time.ts";
import { createStreamPair } from "./stream-pair.ts";
import { writeAll, writeBuffer } from "./write-all.ts";

describe("writeAll()", () => {
  it("delivers exactly `total` bytes through backpressure and then ends the stream", () => {
    const clock = createVirtualClock();
    const [a, b] = createStreamPair(clock);
    let received = 0, ended = false;
    b.onData((d) => { received += d.length; });
    b.onEnd(() => { ended = true; });
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
    b.onData((d) => { got.push(d.slice()); });
    b.onEnd(() => { ended = true; });
    const writes: number[] = [];
    const write = a.write.bind(a);
    a.write = (d: Uint8Array) => { writes.push(d.length); return write(d); };
    const queued = writeBuffer(a, buffer, { connected: true, sliceBytes: 40_000 });
    clock.run();
    expect(queued()).toBe(300_001);
    expect(Math.max(...writes)).toBe(40_000);
    const joined = new Uint8Array(300_001);
    let at = 0;
    for (const c of got) { joined.set(c, at); at += c.length; }
    expect(at).toBe(300_001);
    expect(joined).toEqual(buffer);
    expect(ended).toBe(true);
  });
});
