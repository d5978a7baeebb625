import { describe, expect, it } from "vitest";
import { createImpairedChannel } from "../impairments.ts";
import { createRng, createVirtualClock } from "../../time.ts";
import { createFqCodel, flowHash } from "./fq-codel.ts";
import { portOf, seqOf, udpFrame } from "./test-frames.ts";
import type { QueueDisciplineSpec, QueuedItem } from "./types.ts";

/**
 * A 10 Mb/s line: a bulk flow (port 1) offers 1514-byte frames at 20 Mb/s for 2 s; a sparse
 * flow (port 2) sends a 100-byte frame every 50 ms. Returns each flow's one-way delays (ms).
 */
function bulkAndSparse(queue: QueueDisciplineSpec) {
  const clock = createVirtualClock();
  const delays = new Map<number, number[]>([
    [1, []],
    [2, []],
  ]);
  const sentAt = new Map<number, number>();
  const ch = createImpairedChannel({ clock, rng: createRng(5) }, { rateBitsPerSecond: 10e6, queue }, (f) => {
    delays.get(portOf(f.data))!.push(clock.now() - sentAt.get(seqOf(f.data))!);
  });
  let seq = 0;
  const send = (size: number, port: number): void => {
    sentAt.set(seq, clock.now());
    ch.offer({ data: udpFrame(size, port, 0, seq++) });
  };
  for (let t = 0; t < 2000; t += (1514 * 8) / 20e3) clock.setTimer(t, () => send(1514, 1));
  for (let t = 1; t < 2000; t += 50) clock.setTimer(t, () => send(100, 2));
  clock.run();
  return { delays, stats: ch.queueStats()!, channel: ch };
}

describe("fq-codel (RFC 8290)", () => {
  it("keeps a sparse flow's packets from waiting behind a bulk flow's queue, which drop-tail does not", () => {
    const fq = bulkAndSparse({ kind: "fq-codel" });
    const sparse = fq.delays.get(2)!;
    expect(sparse).toHaveLength(40);
    // At most the frame in transmission (1514 B at 10 Mb/s = 1.21 ms) plus its own 0.08 ms.
    expect(Math.max(...sparse)).toBeLessThan(1.4);
    // CoDel drops from the unresponsive bulk flow (its control law needs time to match a 2x overload).
    expect(fq.stats.dropsByReason.codel).toBeGreaterThan(0);

    const tail = bulkAndSparse({ kind: "drop-tail", limitPackets: 1000 });
    expect(Math.max(...tail.delays.get(2)!)).toBeGreaterThan(300);
    expect(tail.stats.sojournMs.p50).toBeGreaterThan(300);
    expect(tail.stats.dropsByReason.overlimit).toBeGreaterThan(0);
  });

  it("serves two bulk flows in turn by their quantum (deficit round robin)", () => {
    const q = createFqCodel<QueuedItem>({ rng: createRng(1) }, { targetMs: 1e9 });
    for (let i = 0; i < 6; i++) {
      q.enqueue({ data: udpFrame(1514, 1, 0, i), enqueuedAt: 0 }, 0);
      q.enqueue({ data: udpFrame(1514, 2, 0, 100 + i), enqueuedAt: 0 }, 0);
    }
    const order: number[] = [];
    for (let item = q.dequeue(0); item !== undefined; item = q.dequeue(0)) order.push(portOf(item.data));
    expect(order).toEqual([1, 2, 1, 2, 1, 2, 1, 2, 1, 2, 1, 2]);
    expect(q.stats()).toMatchObject({ enqueued: 12, dequeued: 12, dropped: 0, backlogPackets: 0 });
  });

  it("at its packet limit drops from the head of the fattest flow, not the arriving sparse packet", () => {
    const q = createFqCodel<QueuedItem>({ rng: createRng(1) }, { limitPackets: 4 });
    for (let i = 0; i < 4; i++) q.enqueue({ data: udpFrame(1514, 1, 0, i), enqueuedAt: 0 }, 0);
    expect(q.enqueue({ data: udpFrame(100, 2, 0, 9), enqueuedAt: 0 }, 0)).toBe(true);
    expect(q.counters.dropsByReason).toEqual({ "fattest-flow": 1 });
    const seqs: number[] = [];
    for (let item = q.dequeue(0); item !== undefined; item = q.dequeue(0)) seqs.push(seqOf(item.data));
    expect(seqs.sort()).toEqual([1, 2, 3, 9]);
  });

  it("flowHash() separates flows by port and depends on the perturbation", () => {
    const a = udpFrame(100, 1);
    const b = udpFrame(100, 2);
    expect(flowHash(a, 7)).not.toBe(flowHash(b, 7));
    expect(flowHash(a, 7)).toBe(flowHash(udpFrame(900, 1), 7));
    expect(flowHash(a, 7)).not.toBe(flowHash(a, 8));
  });
});
