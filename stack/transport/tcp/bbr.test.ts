// BBR v1 (bbr.ts) and delivery-rate estimation with pacing (delivery-rate.ts): the max filter,
// the state machine driven by exact rate samples, the paced departures at segment level, and
// the model a connection builds over a rate-limited path in virtual time.
import { describe, expect, it } from "vitest";
import { unwrap } from "../../result.ts";
import { createRng } from "../../time.ts";
import { TCP_FLAG_ACK as A, TCP_FLAG_SYN as S } from "../../wire/tcp.ts";
import { Bbr, WindowedMax } from "./bbr.ts";
import { DeliveryRate, type RateSample } from "./delivery-rate.ts";
import type { TcpConnection } from "./connection.ts";
import { createTcpPathPair, createTcpTestPeer, stallAfterSends } from "./test-peer.ts";
import type { TcpLayerOptions } from "./types.ts";

const MSS = 1000;

describe("WindowedMax (Nichols' running max)", () => {
  it("holds the best sample for the whole window, then falls to the best measured within it", () => {
    const f = new WindowedMax(10);
    expect(f.update(0, 50)).toBe(50);
    for (let t = 1; t <= 10; t++) expect(f.update(t, t === 6 ? 40 : 20)).toBe(50);
    // the 50 of round 0 is older than 10 rounds: the 40 of round 6 takes over
    expect(f.update(11, 20)).toBe(40);
    expect(f.update(12, 60)).toBe(60);
  });
});

/** Rate samples for a fluid path: `bw` bytes per ms, `rtt` ms; one ACK per round delivering a window. */
function driver(bbr: Bbr, bw: number, rtt: number) {
  let delivered = 0;
  let now = 0;
  return {
    get now() {
      return now;
    },
    /** One round: an ACK delivering what the window sent, sampled over one RTT (app-limited when asked). */
    round(opts: { inflight?: number; appLimited?: boolean; rtt?: number } = {}): void {
      const r = opts.rtt ?? rtt;
      const bytes = Math.min(bbr.cwnd, bw * r);
      const priorDelivered = delivered;
      delivered += bytes;
      now += r;
      const rs: RateSample = {
        delivered: bytes,
        intervalMs: r,
        priorDelivered,
        rttMs: r,
        appLimited: opts.appLimited ?? false,
        ackedSacked: bytes,
        priorInflight: bbr.cwnd,
        inflight: opts.inflight ?? 0,
        totalDelivered: delivered,
        deliveredAt: now,
      };
      bbr.control(rs, 0, MSS, r, now);
    },
    /** One round ACKed in `n` ACKs delivering 0.9 of a window (bw · rtt) in all, evenly spread over the round or (burst) all at its end. */
    acks(n: number, burst: boolean): void {
      const per = (0.9 * bw * rtt) / n;
      const start = now;
      for (let k = 1; k <= n; k++) {
        const at = burst ? start + rtt : start + (k * rtt) / n;
        delivered += per;
        const rs: RateSample = {
          delivered: bw * rtt,
          intervalMs: rtt,
          priorDelivered: delivered - bw * rtt,
          rttMs: rtt,
          appLimited: false,
          ackedSacked: per,
          priorInflight: bw * rtt,
          inflight: bw * rtt - per,
          totalDelivered: delivered,
          deliveredAt: at,
        };
        bbr.control(rs, 0, MSS, rtt, at);
      }
      now = start + rtt;
    },
  };
}

describe("DeliveryRate pacing", () => {
  it("the first 10 data segments go unpaced (as Linux); a timer up to 4 ms late keeps the schedule (what it owes goes at once); after a longer pause it restarts from now", () => {
    const r = new DeliveryRate();
    r.paced(1000, 1, 0, 1); // a first segment: unpaced
    expect(r.held(0)).toBe(false);
    r.paced(9000, 9, 0, 1); // the second to tenth: 1 byte per ms, the next segment at 9000
    expect(r.paceAt).toBe(9000);
    r.paceAt = 0;
    r.paced(1000, 1, 0, 1); // 1 byte per ms: the next segment at 1000
    expect(r.held(999)).toBe(true);
    expect(r.waitAt).toBe(1000);
    // fired 3 ms late: the next departure is still due at 2000, not 2003
    expect(r.held(1003)).toBe(false);
    r.paced(1000, 1, 1003, 1);
    expect(r.paceAt).toBe(2000);
    // 10 ms late: a pause, not timer slack
    r.paced(1000, 1, 2010, 1);
    expect(r.paceAt).toBe(3010);
  });
});

describe("DeliveryRate on a real clock", () => {
  it("a retransmission this ACK's loss detection made counts as not yet in flight even when the clock moved on while the ACK was processed", () => {
    const r = new DeliveryRate();
    r.onSend(1000, 0, true);
    r.onSend(2000, 0, false);
    // the ACK read the clock at 100.0; loss detection retransmitted [0, 1000) at 100.4
    r.onRetransmit(0, 1000, 100.4);
    expect(r.retransmittedAt(100)).toBe(1000);
    // one that left before this ACK was read is in flight
    expect(r.retransmittedAt(100.5)).toBe(0);
  });
});

describe("BBR state machine (tcp_bbr.c)", () => {
  it("STARTUP paces at 2/ln2 of the bandwidth and doubles the window each round until the bandwidth stops growing", () => {
    const bbr = new Bbr(MSS, createRng(1));
    expect(bbr.cwnd).toBe(10 * MSS);
    const d = driver(bbr, 100, 100); // 100 B/ms = 100 kB/s, BDP 10 000 bytes
    d.round({ inflight: 10 * MSS });
    expect(bbr.mode).toBe("startup");
    expect(bbr.bandwidth).toBe(100);
    expect(bbr.pacingRate).toBeCloseTo(2.885 * 100 * 0.99, 6);
    // target = 2.885 · BDP + 3 segments = 31 850; cwnd 10 000 < target: grows by what was delivered
    expect(bbr.cwnd).toBe(20 * MSS);
    // the bandwidth does not grow 25% in three more rounds: the pipe is full, DRAIN
    d.round({ inflight: 20 * MSS });
    d.round({ inflight: 20 * MSS });
    expect(bbr.fullBandwidthReached).toBe(false);
    d.round({ inflight: 20 * MSS });
    expect(bbr.fullBandwidthReached).toBe(true);
    expect(bbr.mode).toBe("drain");
    expect(bbr.pacingGain).toBeCloseTo(1000 / 2885, 9);
    // DRAIN's ssthresh: the BDP plus the quantization allowance (bbr_inflight at gain 1)
    expect(bbr.ssthresh).toBe(10_000 + 3 * MSS);
  });

  it("leaves DRAIN for PROBE_BW once inflight is down to the BDP, in a phase other than 0.75, and cycles one phase per min RTT", () => {
    for (let seed = 1; seed <= 20; seed++) {
      const bbr = new Bbr(MSS, createRng(seed));
      const d = driver(bbr, 100, 100);
      for (let i = 0; i < 4; i++) d.round({ inflight: 30 * MSS });
      expect(bbr.mode).toBe("drain");
      d.round({ inflight: 13 * MSS });
      expect(bbr.mode).toBe("probe-bw");
      expect(bbr.pacingGain).not.toBe(0.75);
      expect(bbr.pacingRate).toBeCloseTo(bbr.pacingGain * 100 * 0.99, 6);
      // the window: min(cwnd + acked, 2·BDP + 3 segments (+2 in the 1.25 phase) + the ACK
      // aggregation allowance: one ACK per round delivers a window at once)
      expect(bbr.extraAcked).toBe(10_000);
      expect(bbr.cwnd).toBeLessThanOrEqual(2 * 10_000 + 5 * MSS + 10_000);
      const gains = new Set<number>();
      for (let i = 0; i < 16; i++) {
        d.round({ inflight: 13 * MSS });
        gains.add(bbr.pacingGain);
      }
      expect([...gains].sort()).toEqual([0.75, 1, 1.25]);
    }
  });

  it("makes room in the window for ACK aggregation (bbr_update_ack_aggregation): ACKs that arrive in a burst raise the target by what they deliver beyond the model's rate", () => {
    const run = (burst: boolean) => {
      const bbr = new Bbr(MSS, createRng(1));
      const d = driver(bbr, 100, 100); // BDP 10 000 bytes
      for (let i = 0; i < 4; i++) d.round({ inflight: 30 * MSS });
      d.round({ inflight: 13 * MSS });
      expect(bbr.mode).toBe("probe-bw");
      // 40 rounds of 10 ACKs: the fluid rounds' estimate ages out of the 5-10 round max filter
      for (let i = 0; i < 40; i++) d.acks(10, burst);
      return bbr;
    };
    const smooth = run(false);
    const burst = run(true);
    // ACKs below the model's rate: each starts a new epoch, only its own 900 bytes are extra
    expect(smooth.extraAcked).toBeCloseTo(900, 9);
    // a round's ten ACKs at one instant: all they deliver is beyond what 0 ms of bandwidth explains
    expect(burst.extraAcked).toBeCloseTo(9000, 9);
    expect(smooth.cwnd).toBeLessThanOrEqual(2 * 10_000 + 5 * MSS + 900);
    expect(burst.cwnd - smooth.cwnd).toBeGreaterThanOrEqual(8100 - 2 * MSS);
    expect(burst.info().extraAckedBytes).toBeCloseTo(9000, 9);
  });

  it("an application-limited sample lowers no estimate; one above the estimate still raises it", () => {
    const bbr = new Bbr(MSS, createRng(1));
    const d = driver(bbr, 100, 100);
    d.round({ inflight: 10 * MSS });
    const rs: RateSample = {
      delivered: 1000,
      intervalMs: 100,
      priorDelivered: 10_000,
      rttMs: 100,
      appLimited: true,
      ackedSacked: 1000,
      priorInflight: 1000,
      inflight: 0,
      totalDelivered: 11_000,
      deliveredAt: 300,
    };
    bbr.control(rs, 0, MSS, 100, 300);
    expect(bbr.bandwidth).toBe(100);
    bbr.control({ ...rs, delivered: 30_000, priorDelivered: 11_000, totalDelivered: 41_000, deliveredAt: 400 }, 0, MSS, 100, 400);
    expect(bbr.bandwidth).toBe(300);
  });

  it("enters PROBE_RTT when the min RTT is 10 s old: 4 segments of window for 200 ms and a round, then back to PROBE_BW with the window restored", () => {
    const bbr = new Bbr(MSS, createRng(2));
    const d = driver(bbr, 100, 100);
    for (let i = 0; i < 5; i++) d.round({ inflight: 13 * MSS });
    expect(bbr.mode).toBe("probe-bw");
    // 10 s of rounds with a longer RTT: the 100 ms minimum ages out
    while (d.now < 10_050) d.round({ inflight: 13 * MSS, rtt: 110 });
    const before = bbr.probeRtts;
    d.round({ inflight: 13 * MSS, rtt: 110 });
    expect(bbr.probeRtts).toBe(before + 1);
    expect(bbr.mode).toBe("probe-rtt");
    expect(bbr.cwnd).toBe(4 * MSS);
    expect(bbr.minRtt).toBe(110);
    d.round({ inflight: 4 * MSS, rtt: 105 }); // inflight at 4 segments: the 200 ms start
    d.round({ inflight: 4 * MSS, rtt: 105 });
    expect(bbr.mode).toBe("probe-rtt");
    d.round({ inflight: 4 * MSS, rtt: 105 });
    expect(bbr.mode).toBe("probe-bw");
    expect(bbr.minRtt).toBe(105);
    expect(bbr.cwnd).toBeGreaterThan(4 * MSS);
  });
});

/** A listener's BBR connection with a SACK-permitting peer (MSS 1000, window 257 << 7), 100 ms RTT. */
function bbrSender(opts: TcpLayerOptions = {}) {
  const peer = createTcpTestPeer({ congestionControl: "bbr", ...opts });
  const l = unwrap(peer.tcp.listen(80));
  let conn: TcpConnection | undefined;
  l.onConnection((s) => {
    conn = s as TcpConnection;
  });
  peer.inject({ flags: S, seq: 1000, window: 32792, options: { mss: MSS, sackPermitted: true, windowScale: 7 } });
  const synAck = peer.next();
  peer.clock.advance(100);
  peer.inject({ flags: A, seq: 1001, ack: synAck.seq + 1, window: 257 });
  return { peer, conn: conn!, base: synAck.seq + 1 };
}

describe("BBR at segment level", () => {
  it("paces at 2/ln2 · IW / SRTT from the start (the initial window itself unpaced, as Linux), then one MSS / pacing rate apart from the first rate sample", () => {
    const s = bbrSender();
    // bbr_init_pacing_rate_from_rtt: the handshake's 100 ms RTT, IW 10 000 bytes
    expect(s.conn.info().bbr!.pacingRateBytesPerSecond).toBeCloseTo((2.885 * 0.99 * 10_000) / 0.1, 6);
    s.conn.write(new Uint8Array(60 * MSS));
    s.peer.clock.advance(50);
    const first = s.peer.drain();
    expect(first).toHaveLength(10);
    // the first 10 data segments leave unpaced, as Linux's (tcp_update_skb_after_send paces from data_segs_out 10)
    expect(first.map((x) => x.at - first[0]!.at)).toEqual(Array.from({ length: 10 }, () => 0));
    s.peer.clock.advance(50);
    s.peer.inject({ flags: A, seq: 1001, ack: s.base + 10 * MSS, window: 257 });
    const info = s.conn.info().bbr!;
    // 10 000 bytes delivered in 100 ms: 100 kB/s; 2.885 · 0.99 of it is the initial rate again
    // (STARTUP never lowers it, bbr_set_pacing_rate)
    expect(info.bandwidthBytesPerSecond).toBeCloseTo(100_000, 6);
    expect(info.pacingRateBytesPerSecond).toBeCloseTo(285_615, 6);
    expect(s.conn.info().cwnd).toBe(20 * MSS);
    s.peer.clock.advance(100);
    const paced = s.peer.drain();
    expect(paced).toHaveLength(20);
    const gapMs = MSS / (info.pacingRateBytesPerSecond / 1000);
    for (let i = 1; i < paced.length; i++) expect(paced[i]!.at - paced[i - 1]!.at).toBeCloseTo(gapMs, 6);
    expect(paced.map((x) => x.seq - s.base)).toEqual(Array.from({ length: 20 }, (_, i) => (10 + i) * MSS));
  });

  it("stamps a segment in the delivery-rate log before the device has it: a sender that loses the CPU right after the write still measures the path's RTT (Linux's skb_mstamp_ns)", () => {
    const s = bbrSender();
    stallAfterSends(s.peer, 3);
    s.conn.write(new Uint8Array(MSS));
    const seg = s.peer.next();
    expect(seg.at).toBe(100);
    // the ACK arrives 100 ms after the segment left (the clock read 103 after the write)
    s.peer.clock.advance(97);
    expect(s.peer.clock.now()).toBe(200);
    s.peer.inject({ flags: A, seq: 1001, ack: s.base + MSS, window: 257 });
    // stamped after the write, the sample was 97 ms: shorter than any the path can give
    expect(s.conn.info().bbr!.minRttMs).toBe(100);
  });

  it("conserves packets in the first round of SACK recovery instead of PRR: the window is what is in flight plus what was delivered", () => {
    const s = bbrSender();
    s.conn.write(new Uint8Array(60 * MSS));
    s.peer.clock.advance(100);
    expect(s.peer.drain()).toHaveLength(10);
    s.peer.inject({ flags: A, seq: 1001, ack: s.base + 10 * MSS, window: 257 });
    s.peer.clock.advance(100);
    expect(s.peer.drain()).toHaveLength(20); // [10, 30) out, cwnd 20 segments
    // segment 10 lost; SACKs for [11, 11+k) arrive one by one
    const sack = (k: number) =>
      s.peer.inject({
        flags: A,
        seq: 1001,
        ack: s.base + 10 * MSS,
        window: 257,
        options: { sackBlocks: [{ left: s.base + 11 * MSS, right: s.base + (11 + k) * MSS }] },
      });
    const segments = () => s.peer.drain().map((x) => (x.seq - s.base) / MSS);
    s.peer.clock.advance(30);
    sack(1);
    sack(2);
    sack(3);
    // the first SACK still grew the window (STARTUP: one new segment); the third starts recovery: segment 10 again
    expect(segments()).toEqual([30, 10]);
    expect(s.peer.tcp.stats.fastRetransmits).toBe(1);
    // bbr_set_cwnd_to_recover_or_restore: cwnd = inflight (tcp_packets_in_flight before the
    // retransmission: 21 − 3 SACKed − 1 lost) + delivered (1)
    expect(s.conn.info().cwnd).toBe(18 * MSS);
    sack(4);
    sack(5);
    sack(6);
    // one in flight less and one delivered more each time: the window holds
    expect(s.conn.info().cwnd).toBe(18 * MSS);
    s.peer.clock.advance(50);
    const later = s.peer.drain();
    // pipe 21 − 6 SACKed − 1 lost + 1 retransmitted = 15: three more, paced
    expect(later.map((x) => (x.seq - s.base) / MSS)).toEqual([31, 32, 33]);
    expect(new Set(later.map((x) => x.at)).size).toBe(3);
  });
});

describe("BBR over a rate-limited path (virtual time)", () => {
  it("measures the bottleneck and the propagation RTT, reaches PROBE_BW, and keeps the queue short where CUBIC fills it", () => {
    const run = (cc: "bbr" | "cubic") => {
      // 10 Mbit/s, 20 ms each way, a 100 kB queue (two BDPs)
      const p = createTcpPathPair({ seed: 1, impair: { delayMs: 20, rateBps: 10_000_000, queueBytes: 100_000 }, a: { congestionControl: cc } });
      const l = unwrap(p.b.listen(80));
      let received = 0;
      l.onConnection((c) =>
        c.onData((d) => {
          received += d.length;
        }),
      );
      const c = unwrap(p.a.connect(p.addrB, 80)) as TcpConnection;
      const total = 4_000_000;
      let srttSum = 0,
        srttN = 0;
      c.onConnect(() => {
        c.write(new Uint8Array(total));
      });
      // the second half of the transfer: steady state
      for (let t = 0; t < 60_000 && received < total; t += 50) {
        p.clock.run(t);
        if (received > total / 2) {
          srttSum += c.info().srttMs;
          srttN++;
        }
      }
      expect(received).toBe(total);
      return { info: c.info(), srtt: srttSum / srttN, stats: p.a.stats };
    };
    const bbr = run("bbr");
    const cubic = run("cubic");
    // the bottleneck's goodput: 1448 payload bytes per 1518 on the wire (timestamps on)
    const bottleneck = (10_000_000 / 8) * (1448 / 1518);
    const b = bbr.info.bbr!;
    expect(b.mode === "probe-bw" || b.mode === "probe-rtt").toBe(true);
    expect(b.bandwidthBytesPerSecond / bottleneck).toBeGreaterThan(0.9);
    expect(b.bandwidthBytesPerSecond / bottleneck).toBeLessThan(1.1);
    // propagation 40 ms plus one 1518-byte serialization
    expect(b.minRttMs).toBeGreaterThanOrEqual(40);
    expect(b.minRttMs).toBeLessThan(44);
    expect(cubic.info.bbr).toBeUndefined();
    expect(bbr.srtt).toBeLessThan(cubic.srtt);
    // (measured: BBR 47 ms and 11 retransmissions, CUBIC 116 ms and 102)
    expect(bbr.stats.retransmits).toBeLessThan(cubic.stats.retransmits);
  });
});
