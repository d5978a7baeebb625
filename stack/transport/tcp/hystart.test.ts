// HyStart++ (RFC 9406): the state machine alone, a sender driven round by round by a scripted
// peer whose ACKs set the RTT of each round, and two stacks over a path with a bottleneck queue.
import { describe, expect, it } from "vitest";
import { unwrap } from "../../result.ts";
import { TCP_FLAG_ACK as A, TCP_FLAG_SYN as S } from "../../wire/tcp.ts";
import type { TcpConnectionOptions } from "../types.ts";
import type { TcpConnection } from "./connection.ts";
import { CSS_ROUNDS, HyStart, type HyStartCounters } from "./hystart.ts";
import { createTcpPathPair, createTcpTestPeer, type TcpTestPeer } from "./test-peer.ts";
import type { TcpLayerOptions } from "./types.ts";

const PEER_ISN = 1000;

function counters(): HyStartCounters {
  return { hystartExits: 0, hystartResumes: 0, hystartCssRounds: 0 };
}

describe("HyStart++ state (RFC 9406 §4.2)", () => {
  /** A sender whose rounds are exact: every segment is 100 bytes, each ACK covers one, the round
   * ends with the last ACK of the previous round's data (SND.MAX when that round began). */
  function rounds(h: HyStart, first: number): (n: number, rtt: number, next: number) => number[] {
    let una = 0;
    h.onAck(0, 100, 0, first * 100, undefined);
    return (n, rtt, next) => {
      const out: number[] = [];
      for (let i = 1; i <= n; i++) out.push(h.onAck(100, 100, una + i * 100, una + (n + next) * 100, rtt));
      una += n * 100;
      return out;
    };
  }

  it("leaves slow start once 8 samples of a round are RttThresh above the last round's minimum, then grows by a quarter", () => {
    const k = counters();
    const h = new HyStart(k);
    const round = rounds(h, 10);
    expect(round(10, 100, 20)).toEqual(Array(10).fill(100));
    // RttThresh = max(4, min(100 / 8, 16)) = 12.5: 112 is below it
    expect(round(20, 112, 40)).toEqual(Array(20).fill(100));
    expect(h.phase).toBe("slow-start");
    // measured from the last round's minimum, 112: RttThresh 14, and 125 < 126
    expect(round(40, 125, 80)).toEqual(Array(40).fill(100));
    const growth = round(80, 150, 100);
    // the 8th sample decides; that ACK still grows as slow start, the next ones by 100 / 4
    expect(growth).toEqual([...Array(8).fill(100), ...Array(72).fill(25)]);
    expect(h.phase).toBe("css");
    expect(k).toEqual({ hystartExits: 1, hystartResumes: 0, hystartCssRounds: 1 });
  });

  it("returns to slow start when the RTT falls below the CSS baseline; ends in congestion avoidance after CSS_ROUNDS rounds", () => {
    const k = counters();
    const h = new HyStart(k);
    const round = rounds(h, 10);
    round(10, 50, 10);
    round(10, 60, 10);
    expect([h.phase, k.hystartCssRounds]).toEqual(["css", 1]);
    round(10, 59, 10);
    expect([h.phase, k.hystartResumes]).toEqual(["slow-start", 1]);
    round(10, 80, 10);
    expect(h.phase).toBe("css");
    const growth: number[] = [];
    for (let r = 0; r < CSS_ROUNDS - 1; r++) growth.push(...round(10, 80, 10));
    // the CSS entered in the 80 ms round counted that round; four more end it: the last ACK says -1
    expect(growth.at(-1)).toBe(-1);
    expect(growth.slice(0, -1).every((g) => g === 25)).toBe(true);
    expect(h.phase).toBe("done");
    expect(h.onAck(100, 100, 99_999, 99_999, 500)).toBe(100);
    expect(k).toEqual({ hystartExits: 2, hystartResumes: 1, hystartCssRounds: 1 + CSS_ROUNDS });
  });

  it("an ACK adds at most L = 8 segments; fewer than 8 samples in a round never decide", () => {
    const h = new HyStart(counters());
    expect(h.onAck(5000, 100, 5000, 10_000, 10)).toBe(800);
    h.onAck(100, 100, 10_000, 20_000, 10);
    for (let i = 0; i < 7; i++) h.onAck(100, 100, 10_100 + i, 20_000, 500);
    expect(h.phase).toBe("slow-start");
  });
});

interface Sender {
  peer: TcpTestPeer;
  conn: TcpConnection;
  mss: number;
  /** Runs the transfer: the peer ACKs each data segment (numbered from 1) on its own, `rtt(k)` ms
   * after it left, echoing its timestamp; `onAck(k)` after each ACK; segments above `last` are not ACKed. */
  run(rtt: (k: number) => number, last: number, onAck?: (k: number) => void): void;
}

/** A listener's connection to a timestamp-using peer (MSS 1000, an 8 MiB window), 100 ms handshake RTT. */
function sender(opts: TcpLayerOptions = {}, conn: TcpConnectionOptions = {}): Sender {
  const peer = createTcpTestPeer(opts);
  let stream: TcpConnection | undefined;
  unwrap(peer.tcp.listen(80, conn)).onConnection((s) => {
    stream = s as TcpConnection;
  });
  peer.inject({ flags: S, seq: PEER_ISN, window: 65535, options: { mss: 1000, sackPermitted: true, windowScale: 7, tsVal: 1, tsEcr: 0 } });
  const synAck = peer.next();
  peer.clock.advance(100);
  peer.inject({ flags: A, seq: PEER_ISN + 1, ack: synAck.seq + 1, window: 65535, options: { tsVal: 2, tsEcr: synAck.options.tsVal! } });
  const c = stream!;
  const mss = c.info().sendMss;
  const base = synAck.seq + 1;
  return {
    peer,
    conn: c,
    mss,
    run(rtt, last, onAck) {
      const schedule = (): void => {
        for (const x of peer.drain()) {
          if (x.payload.length === 0) continue;
          const k = (x.seq - base) / mss + 1;
          if (k > last) continue;
          peer.clock.setTimer(x.at + rtt(k), () => {
            peer.inject({ flags: A, seq: PEER_ISN + 1, ack: x.seq + x.payload.length, window: 65535, options: { tsVal: 3, tsEcr: x.options.tsVal! } });
            onAck?.(k);
            schedule();
          });
        }
      };
      schedule();
      peer.clock.run(peer.clock.now() + 60_000);
    },
  };
}

/** Segment k's ACK and the state after it. */
interface Step {
  k: number;
  hystart: string;
  cwnd: number;
  ssthresh: number;
}

function trace(s: Sender, rtt: (k: number) => number, last: number): Step[] {
  const steps: Step[] = [];
  s.run(rtt, last, (k) => {
    const i = s.conn.info();
    steps.push({ k, hystart: i.hystart, cwnd: i.cwnd / s.mss, ssthresh: i.ssthresh });
  });
  return steps;
}

describe("HyStart++ in CUBIC's slow start, at segment level", () => {
  // With one ACK per segment, slow start sends two segments per ACK: segment k's ACK releases
  // segments 10 + 2k - 1 and 10 + 2k. HyStart++ starts following rounds at the first ACK (8 or
  // more segments in flight): round 1 ends with segment 10 (SND.NXT then: 28), round 2 with
  // segment 28 (then 64), round 3 with 64 (then 136).

  it("with a flat RTT slow start doubles the window on every round trip and never leaves", () => {
    const s = sender();
    s.conn.write(new Uint8Array(1 << 21));
    const steps = trace(s, () => 100, 630);
    expect(steps.every((x) => x.hystart === "slow-start")).toBe(true);
    expect(steps.at(-1)).toMatchObject({ k: 630, cwnd: 640 });
    expect(s.peer.tcp.stats.hystartExits).toBe(0);
  });

  it("an RTT that rises by RttThresh leaves for CSS (a quarter of the growth), then congestion avoidance at ssthresh = cwnd after 5 rounds", () => {
    const s = sender();
    s.conn.write(new Uint8Array(1 << 22));
    // a queue: from segment 31 on every segment takes 20 ms more
    const steps = trace(s, (k) => (k <= 30 ? 100 : 120), 1000);
    // round 3 (29..64) still had two 100 ms samples; round 4 (65..136) decides at its 8th: segment 72
    const exit = steps.findIndex((x) => x.hystart === "css");
    expect(steps[exit]).toMatchObject({ k: 72, cwnd: 82 });
    // then a quarter segment per ACK
    expect(steps[exit + 8]).toMatchObject({ k: 80, cwnd: 84, hystart: "css" });
    const done = steps.findIndex((x) => x.hystart === "done");
    expect(steps[done]!.ssthresh).toBe(Math.floor(steps[done]!.cwnd * s.mss));
    expect(steps.slice(done).every((x) => x.hystart === "done")).toBe(true);
    expect(s.conn.info()).toMatchObject({ hystartExits: 1, hystartCssRounds: 5 });
    expect(s.peer.tcp.stats).toMatchObject({ hystartExits: 1, hystartResumes: 0, hystartCssRounds: 5 });
  });

  it("a fall of the RTT during CSS resumes slow start", () => {
    const s = sender();
    s.conn.write(new Uint8Array(1 << 22));
    // the 20 ms rise lasts from segment 31 to 150 (those sent after the ACK of 71 see none)
    const steps = trace(s, (k) => (k <= 30 || k > 150 ? 100 : 120), 400);
    const exit = steps.findIndex((x) => x.hystart === "css");
    expect(steps[exit]!.k).toBe(72);
    const resume = steps.findIndex((x, i) => i > exit && x.hystart === "slow-start");
    // round 5 begins with segment 137 (SND.NXT when 136 was ACKed): it has its 8 samples when
    // the first one below the baseline comes
    expect(steps[resume]!.k).toBe(151);
    expect(s.peer.tcp.stats).toMatchObject({ hystartExits: 1, hystartResumes: 1 });
    // slow start again: one segment per ACK
    expect(steps[resume + 10]!.cwnd - steps[resume]!.cwnd).toBe(10);
  });

  it("off for the layer (hystart: false) or for one listener's connections, slow start ignores the RTT", () => {
    for (const [layer, conn] of [
      [{ hystart: false }, {}],
      [{}, { hystart: false }],
    ] as const) {
      const s = sender(layer, conn);
      s.conn.write(new Uint8Array(1 << 21));
      const steps = trace(s, (k) => (k <= 30 ? 100 : 200), 300);
      expect(steps.every((x) => x.hystart === "off")).toBe(true);
      expect(steps.at(-1)).toMatchObject({ k: 300, cwnd: 310 });
    }
  });

  it("a loss in slow start ends HyStart++ (the reduction sets ssthresh)", () => {
    const s = sender();
    s.conn.write(new Uint8Array(1 << 21));
    const initial = s.peer.drain();
    s.peer.clock.advance(100);
    for (const x of initial)
      s.peer.inject({ flags: A, seq: PEER_ISN + 1, ack: x.seq + x.payload.length, window: 65535, options: { tsVal: 3, tsEcr: x.options.tsVal! } });
    const segs = s.peer.drain().filter((x) => x.payload.length > 0);
    expect(segs).toHaveLength(20);
    expect(s.conn.info().hystart).toBe("slow-start");
    // the first of them is lost: the next four are SACKed
    const first = segs[0]!;
    for (let i = 1; i <= 4; i++) {
      s.peer.inject({
        flags: A,
        seq: PEER_ISN + 1,
        ack: first.seq,
        window: 65535,
        options: { tsVal: 3, tsEcr: segs[i]!.options.tsVal!, sackBlocks: [{ left: segs[1]!.seq, right: segs[i]!.seq + s.mss }] },
      });
    }
    expect(s.peer.tcp.stats.fastRetransmits).toBe(1);
    expect(s.conn.info().hystart).toBe("done");
  });
});

describe("HyStart++ between two stacks", () => {
  /** 4 MiB from a to b with 20 ms of propagation delay each way; `queued`: through a 10 Mbit/s
   * bottleneck with a 1 MB drop-tail queue (20 BDPs: slow start's overshoot fills it all the same). */
  function transfer(
    hystart: boolean,
    queued: boolean,
  ): { stats: ReturnType<typeof createTcpPathPair>["a"]["stats"]; dropped: number; elapsed: number; info: ReturnType<TcpConnection["info"]> } {
    const p = createTcpPathPair({ seed: 7, impair: queued ? { delayMs: 20, rateBps: 10_000_000, queueBytes: 1_000_000 } : { delayMs: 20 }, a: { hystart } });
    const total = 4 << 20;
    let received = 0;
    let done = -1;
    unwrap(p.b.listen(80)).onConnection((c) =>
      c.onData((d) => {
        received += d.length;
        if (received === total) done = p.clock.now();
      }),
    );
    const c = unwrap(p.a.connect(p.addrB, 80)) as TcpConnection;
    c.onConnect(() => {
      c.write(new Uint8Array(total));
      c.end();
    });
    p.clock.run(60_000);
    expect(received).toBe(total);
    return { stats: p.a.stats, dropped: p.counters.dropped, elapsed: done, info: c.info() };
  }

  it("over a bottleneck whose queue grows, slow start ends on the RTT rise, before the queue overflows; without HyStart++ it overflows", () => {
    const on = transfer(true, true);
    const off = transfer(false, true);
    expect(on.stats.hystartExits).toBeGreaterThanOrEqual(1);
    expect(on.info.hystart).toBe("done");
    expect(on.dropped).toBe(0);
    expect(on.stats.retransmits).toBe(0);
    expect(off.stats.hystartExits).toBe(0);
    expect(off.dropped).toBeGreaterThan(0);
    expect(off.stats.retransmits).toBeGreaterThan(0);
    expect(on.elapsed).toBeLessThan(off.elapsed);
  });

  it("over a path with a flat RTT slow start never ends early", () => {
    const flat = transfer(true, false);
    expect(flat.stats).toMatchObject({ hystartExits: 0, retransmits: 0 });
    expect(flat.info.hystart).toBe("slow-start");
  });
});
