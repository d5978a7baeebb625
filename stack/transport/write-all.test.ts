import { describe, expect, it } from "vitest";
import { createVirtualClock } from "../time.ts";
import { createStreamPair } from "./stream-pair.ts";
import { writeAll } from "./write-all.ts";

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
