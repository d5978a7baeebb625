import { describe, expect, it } from "vitest";
import { createDropTail } from "./drop-tail.ts";
import { udpFrame } from "./test-frames.ts";
import type { QueuedItem } from "./types.ts";

describe("drop-tail", () => {
  it("drops the arriving packet at a byte limit and keeps FIFO order", () => {
    const q = createDropTail<QueuedItem>({ limitBytes: 3000 });
    expect(q.enqueue({ data: udpFrame(1500, 1), enqueuedAt: 0 }, 0)).toBe(true);
    expect(q.enqueue({ data: udpFrame(1500, 2), enqueuedAt: 0 }, 0)).toBe(true);
    expect(q.enqueue({ data: udpFrame(100, 3), enqueuedAt: 0 }, 0)).toBe(false);
    expect(q.dequeue(5)?.data[35]).toBe(1);
    expect(q.enqueue({ data: udpFrame(100, 3), enqueuedAt: 5 }, 5)).toBe(true);
    expect(q.stats()).toMatchObject({
      kind: "drop-tail",
      enqueued: 3,
      dropped: 1,
      droppedBytes: 100,
      backlogPackets: 2,
      backlogBytes: 1600,
      dropsByReason: { overlimit: 1 },
    });
  });

  it("marks ECT packets CE at the step threshold, with the header checksum still valid", () => {
    const q = createDropTail<QueuedItem>({ ecnMarkPackets: 1 });
    const first = { data: udpFrame(200, 1, 0x02), enqueuedAt: 0 };
    const second = { data: udpFrame(200, 1, 0x02), enqueuedAt: 0 };
    q.enqueue(first, 0);
    q.enqueue(second, 0);
    expect(first.data[15]! & 3).toBe(2);
    expect(second.data[15]! & 3).toBe(3);
    let sum = 0;
    for (let i = 14; i < 34; i += 2) sum += (second.data[i]! << 8) | second.data[i + 1]!;
    while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
    expect(sum).toBe(0xffff);
    expect(q.counters.marked).toBe(1);
  });

  it("reports sojourn percentiles within 2% and the backlog per interval", () => {
    const q = createDropTail<QueuedItem>({ backlogIntervalMs: 10 });
    for (let i = 0; i < 100; i++) q.enqueue({ data: udpFrame(100, 1), enqueuedAt: 0 }, 0);
    for (let i = 1; i <= 100; i++) q.dequeue(i);
    const s = q.stats();
    expect(s.sojournMs.samples).toBe(100);
    expect(s.sojournMs.min).toBe(1);
    expect(s.sojournMs.max).toBe(100);
    expect(s.sojournMs.mean).toBe(50.5);
    expect(Math.abs(s.sojournMs.p50 - 50) / 50).toBeLessThan(0.02);
    expect(Math.abs(s.sojournMs.p90 - 90) / 90).toBeLessThan(0.02);
    expect(s.backlog.slice(0, 3)).toEqual([
      { at: 10, packets: 91, bytes: 9100, maxPackets: 100, maxBytes: 10000, dequeued: 9, sojournMeanMs: 5 },
      { at: 20, packets: 81, bytes: 8100, maxPackets: 91, maxBytes: 9100, dequeued: 10, sojournMeanMs: 14.5 },
      { at: 30, packets: 71, bytes: 7100, maxPackets: 81, maxBytes: 8100, dequeued: 10, sojournMeanMs: 24.5 },
    ]);
  });
});

describe("a rate-limited channel's queue", () => {
  it("is drop-tail of queueLimitFrames by default, reports its stats, and refuses queue with queueLimitFrames", async () => {
    const { createImpairedChannel } = await import("../impairments.ts");
    const { createRng, createVirtualClock } = await import("../../time.ts");
    const clock = createVirtualClock();
    const got: number[] = [];
    const ch = createImpairedChannel({ clock, rng: createRng(1) }, { rateBitsPerSecond: 1e6, queueLimitFrames: 3 }, (f) => got.push(f.data[35]!));
    for (let i = 1; i <= 5; i++) ch.offer({ data: udpFrame(125, i) });
    clock.run();
    expect(got).toEqual([1, 2, 3]);
    expect(ch.stats.queueDrops).toBe(2);
    expect(ch.queueStats()).toMatchObject({ kind: "drop-tail", enqueued: 3, dequeued: 3, dropped: 2, maxBacklogPackets: 3 });
    // 125 bytes at 1 Mb/s = 1 ms each: the third waited 2 ms and left at 3 ms.
    expect(ch.queueStats()!.sojournMs.max).toBe(3);
    expect(() =>
      createImpairedChannel({ clock, rng: createRng(1) }, { rateBitsPerSecond: 1e6, queueLimitFrames: 3, queue: { kind: "codel" } }, () => {}),
    ).toThrow(/either queue or queueLimitFrames/);
  });
});
