// Property: whatever the impairments and the timing of writes, ends, pauses and resumes,
// both directions of a connection deliver exactly the bytes written, then end and close
// cleanly on both sides.
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { unwrap } from "../../stack/result.ts";
import { createTcpPathPair } from "../../stack/transport/tcp/test-peer.ts";
import type { ByteStream } from "../../stack/transport/types.ts";
import { fillPattern, patternByte } from "./helpers.ts";

interface Side {
  stream: ByteStream | undefined;
  received: number;
  mismatch: number;
  ended: boolean;
  closed: string | undefined | null;
}

function attach(side: Side, s: ByteStream, salt: number): void {
  side.stream = s;
  s.onData((d) => {
    if (side.mismatch < 0)
      for (let i = 0; i < d.length; i++)
        if (d[i] !== patternByte(side.received + i + salt)) {
          side.mismatch = side.received + i;
          break;
        }
    side.received += d.length;
  });
  s.onEnd(() => {
    side.ended = true;
  });
  s.onClose((e) => {
    side.closed = e;
  });
}

describe("TCP bidirectional property", () => {
  it("both directions deliver every byte in order and close cleanly under random impairments and timing", () => {
    const plan = fc.record({
      seed: fc.nat({ max: 1_000_000 }),
      loss: fc.double({ min: 0, max: 0.08, noNaN: true }),
      reorder: fc.double({ min: 0, max: 0.05, noNaN: true }),
      duplicate: fc.double({ min: 0, max: 0.03, noNaN: true }),
      corrupt: fc.double({ min: 0, max: 0.03, noNaN: true }),
      receiveBufferSize: fc.constantFrom(4096, 16_384, 1 << 20),
      delayMs: fc.integer({ min: 0, max: 20 }),
      sack: fc.boolean(),
      cc: fc.constantFrom("cubic" as const, "newreno" as const, "bbr" as const),
      writesA: fc.array(fc.tuple(fc.integer({ min: 0, max: 500 }), fc.integer({ min: 1, max: 40_000 })), { maxLength: 8 }),
      writesB: fc.array(fc.tuple(fc.integer({ min: 0, max: 500 }), fc.integer({ min: 1, max: 40_000 })), { maxLength: 8 }),
      pausesB: fc.array(fc.tuple(fc.integer({ min: 0, max: 800 }), fc.integer({ min: 1, max: 300 })), { maxLength: 3 }),
    });
    fc.assert(
      fc.property(plan, (p) => {
        const net = createTcpPathPair({
          seed: p.seed,
          impair: { loss: p.loss, reorder: p.reorder, duplicate: p.duplicate, corrupt: p.corrupt, delayMs: p.delayMs },
          a: { sack: p.sack, congestionControl: p.cc, mslMs: 1000, receiveBufferSize: p.receiveBufferSize },
          b: { sack: p.sack, mslMs: 1000, receiveBufferSize: p.receiveBufferSize },
        });
        const a: Side = { stream: undefined, received: 0, mismatch: -1, ended: false, closed: null };
        const b: Side = { stream: undefined, received: 0, mismatch: -1, ended: false, closed: null };
        const l = unwrap(net.b.listen(80));
        const clock = net.clock;
        // a writes (salt 7 as b checks it), b writes (salt 3 as a checks it), each ends after its last write
        const schedule = (base: number, writes: [number, number][], who: () => ByteStream | undefined, salt: number): number => {
          let offset = 0;
          let t = base;
          for (const [gap, len] of writes) {
            t += gap;
            const start = offset;
            offset += len;
            clock.setTimer(t, () => {
              const buf = new Uint8Array(len);
              fillPattern(buf, start + salt);
              who()?.write(buf);
            });
          }
          clock.setTimer(t + 1, () => who()?.end());
          return offset;
        };
        let totalB = 0;
        l.onConnection((s) => {
          attach(b, s, 7);
          // b's schedule starts when its connection exists
          const now = clock.now();
          totalB = schedule(now, p.writesB, () => b.stream, 3);
          for (const [at, dur] of p.pausesB) {
            clock.setTimer(now + at, () => b.stream?.pause());
            clock.setTimer(now + at + dur, () => b.stream?.resume());
          }
        });
        attach(a, unwrap(net.a.connect(net.addrB, 80)), 3);
        const totalA = schedule(0, p.writesA, () => a.stream, 7);
        clock.run(600_000);
        expect({ got: b.received, mismatch: b.mismatch, ended: b.ended }).toEqual({ got: totalA, mismatch: -1, ended: true });
        expect({ got: a.received, mismatch: a.mismatch, ended: a.ended }).toEqual({ got: totalB, mismatch: -1, ended: true });
        expect([a.closed, b.closed]).toEqual([undefined, undefined]);
        expect(net.a.connectionCount + net.b.connectionCount).toBe(0);
      }),
      { numRuns: 100 },
    );
  }, 120_000);
});
