import { describe, expect, it } from "vitest";
import { createVirtualClock } from "../time.ts";
import { createStreamPair } from "./stream-pair.ts";

const bytes = (n: number, v = 1): Uint8Array => new Uint8Array(n).fill(v);

describe("createStreamPair()", () => {
  it("delivers bytes in order after the latency, copying the writer's buffer", () => {
    const clock = createVirtualClock();
    const [a, b] = createStreamPair(clock, { latencyMs: 5 });
    const got: number[] = [];
    b.onData((d) => got.push(...d));
    const buf = new Uint8Array([1, 2, 3]);
    a.write(buf);
    buf[0] = 9;
    a.write(new Uint8Array([4]));
    clock.advance(4);
    expect(got).toEqual([]);
    clock.advance(1);
    expect(got).toEqual([1, 2, 3, 4]);
  });

  it("returns false at the high-water mark and drains once the paused reader resumes", () => {
    const clock = createVirtualClock();
    const [a, b] = createStreamPair(clock, { highWaterMark: 100 });
    let received = 0;
    let drains = 0;
    b.onData((d) => {
      received += d.length;
    });
    a.onDrain(() => {
      drains++;
    });
    b.pause();
    expect(a.write(bytes(60))).toBe(true);
    expect(a.write(bytes(60))).toBe(false);
    expect(a.bufferedAmount).toBe(120);
    clock.run();
    expect([received, drains]).toEqual([0, 0]);
    b.resume();
    clock.run();
    expect([received, drains, a.bufferedAmount]).toEqual([120, 1, 0]);
  });

  it("half-closes: the peer sees onEnd after the data and can still answer; both close after both FINs", () => {
    const clock = createVirtualClock();
    const [a, b] = createStreamPair(clock);
    const log: string[] = [];
    b.onData((d) => log.push(`b data ${d.length}`));
    b.onEnd(() => {
      log.push("b end");
      b.write(bytes(2));
      b.end();
    });
    a.onData((d) => log.push(`a data ${d.length}`));
    a.onEnd(() => log.push("a end"));
    a.onClose((e) => log.push(`a close ${e ?? "ok"}`));
    b.onClose((e) => log.push(`b close ${e ?? "ok"}`));
    a.write(bytes(3));
    a.end();
    expect(a.write(bytes(1))).toBe(false);
    clock.run();
    expect(log).toEqual(["b data 3", "b end", "a data 2", "a end", "a close ok", "b close ok"]);
  });

  it("destroy() discards queued data and resets the peer", () => {
    const clock = createVirtualClock();
    const [a, b] = createStreamPair(clock, { latencyMs: 1 });
    const log: string[] = [];
    b.onData(() => log.push("b data"));
    b.onClose((e) => log.push(`b close ${e ?? "ok"}`));
    a.onClose((e) => log.push(`a close ${e ?? "ok"}`));
    a.write(bytes(10));
    a.destroy();
    clock.run();
    expect(log).toEqual(["a close ok", "b close ECONNRESET"]);
  });

  it("limits bytes per delivery when asked", () => {
    const clock = createVirtualClock();
    const [a, b] = createStreamPair(clock, { maxBytesPerDelivery: 4 });
    const sizes: number[] = [];
    b.onData((d) => sizes.push(d.length));
    a.write(bytes(10));
    clock.run();
    expect(sizes).toEqual([4, 4, 2]);
  });
});
