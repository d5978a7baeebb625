// Segment-level tests of loss detection and recovery (RFC 6675, RFC 2883, RFC 8985 §7):
// a scripted peer sends exact ACKs, the tests assert exactly what the sender emits.
import { describe, expect, it } from "vitest";
import { unwrap } from "../../result.ts";
import { TCP_FLAG_ACK as A, TCP_FLAG_SYN as S } from "../../wire/tcp.ts";
import type { SackBlock } from "../../wire/tcp.ts";
import { createTcpPathPair, createTcpTestPeer, flagString, stallAfterSends, type TcpTestPeer } from "./test-peer.ts";
import type { TcpConnection } from "./connection.ts";
import type { TcpLayerOptions } from "./types.ts";

const PEER_ISN = 1000;
const MSS = 1000;

interface Sender {
  peer: TcpTestPeer;
  conn: TcpConnection;
  base: number;
  /** The peer ACKs `ack` (relative) with SACK blocks (relative), echoing `tsEcr` when timestamps are on. */
  ack(ack: number, sack?: [number, number][], tsEcr?: number): void;
}

/** A listener's connection with a SACK-permitting peer (MSS 1000, window 257 << 7, timestamps if asked), 100 ms RTT. */
function sender(opts: TcpLayerOptions = {}, peerTimestamps = false): Sender {
  const peer = createTcpTestPeer(opts);
  const l = unwrap(peer.tcp.listen(80));
  let conn: TcpConnection | undefined;
  l.onConnection((s) => {
    conn = s as TcpConnection;
  });
  peer.inject({
    flags: S,
    seq: PEER_ISN,
    window: 32792,
    options: { mss: MSS, sackPermitted: true, windowScale: 7, ...(peerTimestamps ? { tsVal: 1, tsEcr: 0 } : {}) },
  });
  const synAck = peer.next();
  peer.clock.advance(100);
  const synAckTs = synAck.options.tsVal ?? 0;
  peer.inject({ flags: A, seq: PEER_ISN + 1, ack: synAck.seq + 1, window: 257, options: peerTimestamps ? { tsVal: 2, tsEcr: synAckTs } : {} });
  const base = synAck.seq + 1;
  return {
    peer,
    conn: conn!,
    base,
    ack(ack, sack, tsEcr) {
      const sackBlocks: SackBlock[] | undefined = sack?.map(([l, r]) => ({ left: base + l, right: base + r }));
      peer.inject({
        flags: A,
        seq: PEER_ISN + 1,
        ack: base + ack,
        window: 257,
        options: { ...(sackBlocks === undefined ? {} : { sackBlocks }), ...(peerTimestamps ? { tsVal: 3, tsEcr: tsEcr ?? synAckTs } : {}) },
      });
    },
  };
}

/** [flags, offset from the first data byte, length] of each segment emitted since the last call. */
function emitted(s: Sender): [string, number, number][] {
  return s.peer.drain().map((x) => [flagString(x.flags), x.seq - s.base, x.payload.length]);
}

describe("duplicate ACKs with SACK (RFC 6675 §2)", () => {
  it("ACKs that report no new SACKed data (duplicated by the network) never count: no fast retransmit, no limited transmit", () => {
    const s = sender();
    s.conn.write(new Uint8Array(12 * MSS));
    expect(emitted(s)).toHaveLength(10);
    for (let i = 0; i < 6; i++) s.ack(0);
    for (let i = 0; i < 4; i++) s.ack(0, [[MSS, 2 * MSS]]);
    // only the first of the SACKing ACKs is a duplicate ACK: one segment of limited transmit (pipe 9 < cwnd 10)
    expect(emitted(s)).toEqual([["A", 10 * MSS, MSS]]);
    expect(s.peer.tcp.stats.fastRetransmits).toBe(0);
  });

  it("three ACKs each SACKing new data start recovery with the first segment", () => {
    const s = sender();
    s.conn.write(new Uint8Array(4 * MSS));
    emitted(s);
    s.ack(0, [[MSS, 2 * MSS]]);
    s.ack(0, [[MSS, 3 * MSS]]);
    expect(emitted(s)).toEqual([]);
    s.ack(0, [[MSS, 4 * MSS]]);
    expect(emitted(s)).toEqual([["A", 0, MSS]]);
    expect(s.peer.tcp.stats.fastRetransmits).toBe(1);
  });

  it("a D-SACK for a segment that arrived twice is no duplicate ACK", () => {
    const s = sender();
    s.conn.write(new Uint8Array(10 * MSS));
    emitted(s);
    s.ack(2 * MSS);
    for (let i = 0; i < 4; i++) s.ack(2 * MSS, [[MSS, 2 * MSS]]);
    expect(emitted(s).filter(([, off]) => off < 10 * MSS)).toEqual([]);
    expect(s.peer.tcp.stats.fastRetransmits).toBe(0);
  });

  it("a transfer over a path that duplicates half the segments makes no retransmission at all", () => {
    const p = createTcpPathPair({ seed: 3, impair: { delayMs: 2, duplicate: 0.5 } });
    const l = unwrap(p.b.listen(80));
    let received = 0;
    l.onConnection((c) =>
      c.onData((d) => {
        received += d.length;
      }),
    );
    const c = unwrap(p.a.connect(p.addrB, 80));
    c.onConnect(() => {
      c.write(new Uint8Array(1 << 20));
      c.end();
    });
    p.clock.run(10_000);
    expect(received).toBe(1 << 20);
    expect(p.a.stats).toMatchObject({ retransmits: 0, fastRetransmits: 0, timeouts: 0 });
    expect(p.b.stats.dsackSent).toBeGreaterThan(0);
  });
});

describe("a SACKed segment is never retransmitted", () => {
  it("after an RTO, go-back-N stops at the SACKed block and skips it", () => {
    // (without RACK, which would find [0, 500) lost 25 ms after the SACK: see the RACK tests)
    const s = sender({ tailLossProbe: false, rack: false });
    s.conn.write(new Uint8Array(4 * MSS));
    emitted(s);
    // one SACKed block [500, 1700): too little for DupThresh; the RTO fires
    s.ack(0, [[500, 1700]]);
    expect(emitted(s)).toEqual([]);
    s.peer.clock.advance(300);
    // cwnd is one MSS after the timeout: the 500 bytes before the block, then 500 after it
    expect(emitted(s)).toEqual([
      ["A", 0, 500],
      ["A", 1700, 500],
    ]);
    expect(s.peer.tcp.stats.timeouts).toBe(1);
  });

  it("a tail loss probe resends the last segment not SACKed", () => {
    // (without RACK, which would find the segments before the SACKed one lost first)
    const s = sender({ rack: false });
    s.conn.write(new Uint8Array(MSS));
    emitted(s);
    s.peer.clock.advance(100);
    s.ack(MSS);
    s.conn.write(new Uint8Array(4 * MSS));
    expect(emitted(s)).toHaveLength(4);
    s.ack(MSS, [[4 * MSS, 5 * MSS]]);
    s.peer.clock.advance(300);
    expect(emitted(s)).toEqual([["A", 3 * MSS, MSS]]);
    expect(s.peer.tcp.stats.tailLossProbes).toBe(1);
  });
});

describe("undo of spurious reductions", () => {
  it("D-SACKs for every retransmission of a fast recovery restore the window (as Linux's tcp_try_undo_dsack)", () => {
    const s = sender();
    s.conn.write(new Uint8Array(10 * MSS));
    emitted(s);
    s.ack(0, [[MSS, 2 * MSS]]);
    s.ack(0, [[MSS, 3 * MSS]]);
    s.ack(0, [[MSS, 4 * MSS]]);
    expect(emitted(s)).toEqual([["A", 0, MSS]]);
    expect(s.conn.info()).toMatchObject({ cwnd: 7 * MSS, ssthresh: 7 * MSS });
    // the original was only delayed: everything is ACKed, then the retransmission is reported a duplicate
    s.ack(10 * MSS);
    expect(s.conn.info().cwnd).toBe(7 * MSS);
    s.ack(10 * MSS, [[0, MSS]]);
    expect(s.conn.info()).toMatchObject({ cwnd: 10 * MSS, dsackReceived: 1, undos: 1 });
    expect(s.peer.tcp.stats).toMatchObject({ dsackReceived: 1, undos: 1, spuriousRtos: 0 });
  });

  it("an undo raises DupThresh to the reordering it measured: the same reordering then causes no retransmission", () => {
    const s = sender();
    s.conn.write(new Uint8Array(10 * MSS));
    emitted(s);
    for (const r of [2, 3, 4, 5]) s.ack(0, [[MSS, r * MSS]]);
    expect(emitted(s)).toEqual([["A", 0, MSS]]);
    // segment 0 arrives late, after 4 later segments (the fast retransmit's D-SACK follows)
    s.ack(10 * MSS);
    s.ack(10 * MSS, [[0, MSS]]);
    expect(s.conn.info()).toMatchObject({ undos: 1, reordering: 5 });
    s.conn.write(new Uint8Array(10 * MSS));
    expect(emitted(s)).toHaveLength(10);
    // the same reordering again: four SACKed segments above the hole are not enough now
    for (const r of [12, 13, 14, 15]) s.ack(10 * MSS, [[11 * MSS, r * MSS]]);
    expect(emitted(s).filter(([, off]) => off < 20 * MSS)).toEqual([]);
    expect(s.peer.tcp.stats.fastRetransmits).toBe(1);
    s.ack(16 * MSS);
    expect(s.peer.tcp.stats.fastRetransmits).toBe(1);
  });

  it("with undo: false the D-SACK is counted and the window stays reduced", () => {
    const s = sender({ undo: false });
    s.conn.write(new Uint8Array(10 * MSS));
    emitted(s);
    for (const r of [2, 3, 4]) s.ack(0, [[MSS, r * MSS]]);
    s.ack(10 * MSS);
    s.ack(10 * MSS, [[0, MSS]]);
    expect(s.conn.info()).toMatchObject({ cwnd: 7 * MSS, dsackReceived: 1, undos: 0 });
  });

  it("a D-SACK from a duplicating network, with no retransmission behind it, undoes nothing", () => {
    const s = sender();
    s.conn.write(new Uint8Array(10 * MSS));
    emitted(s);
    for (const r of [3, 4, 5]) s.ack(0, [[2 * MSS, r * MSS]]);
    emitted(s);
    s.ack(MSS, [[2 * MSS, 5 * MSS]]);
    s.ack(MSS, [
      [2 * MSS, 3 * MSS],
      [2 * MSS, 5 * MSS],
    ]);
    expect(s.conn.info()).toMatchObject({ dsackReceived: 1, undos: 0 });
  });

  it("Eifel (RFC 3522): an ACK echoing the original's timestamp after an RTO undoes it and resumes with new data (RFC 4015)", () => {
    const s = sender({ tailLossProbe: false }, true);
    const mss = s.conn.info().sendMss;
    s.peer.clock.advance(5);
    s.conn.write(new Uint8Array(4 * mss));
    const first = s.peer.drain();
    expect(first).toHaveLength(4);
    const originalTs = first[0]!.options.tsVal!;
    s.peer.clock.advance(300);
    expect(emitted(s)).toEqual([["A", 0, mss]]);
    expect(s.conn.info().cwnd).toBe(mss);
    s.ack(2 * mss, undefined, originalTs);
    expect(s.peer.tcp.stats).toMatchObject({ timeouts: 1, undos: 1, spuriousRtos: 1 });
    // IW10 restored, then slow start counts the two segments this ACK covers
    expect(s.conn.info().cwnd).toBe(12 * mss);
    // segments 2 and 3 were sent once and are not sent again
    expect(emitted(s)).toEqual([]);
    s.conn.write(new Uint8Array(mss));
    expect(emitted(s)).toEqual([["PA", 4 * mss, mss]]);
  });

  it("an ACK echoing the retransmission's timestamp keeps the timeout's reduction", () => {
    const s = sender({ tailLossProbe: false }, true);
    const mss = s.conn.info().sendMss;
    s.peer.clock.advance(5);
    s.conn.write(new Uint8Array(4 * mss));
    s.peer.drain();
    s.peer.clock.advance(300);
    const rtx = s.peer.drain();
    expect(rtx).toHaveLength(1);
    s.ack(mss, undefined, rtx[0]!.options.tsVal!);
    expect(s.peer.tcp.stats).toMatchObject({ timeouts: 1, undos: 0, spuriousRtos: 0 });
    // go-back-N goes on: slow start from one segment
    expect(emitted(s).map(([, off]) => off)).toEqual([mss, 2 * mss]);
  });
});

describe("proportional rate reduction (RFC 6937)", () => {
  /** cwnd 20 segments; the first of them lost, 40 more queued; the peer SACKs one more segment per ACK. What each ACK lets out. */
  function recoveryPattern(prr: boolean): number[] {
    const s = sender({ prr });
    s.conn.write(new Uint8Array(70 * MSS));
    expect(emitted(s)).toHaveLength(10);
    s.peer.clock.advance(100);
    s.ack(10 * MSS);
    expect(emitted(s)).toHaveLength(20);
    // the SACKs come one RTT later, all within RACK's reordering window: DupThresh decides
    s.peer.clock.advance(100);
    const perAck: number[] = [];
    for (let r = 12; r <= 30; r++) {
      s.ack(10 * MSS, [[11 * MSS, r * MSS]]);
      perAck.push(emitted(s).length);
    }
    return perAck;
  }

  it("sends ssthresh/RecoverFS (0.7 with CUBIC) of what is delivered while pipe is above ssthresh, instead of nothing", () => {
    const perAck = recoveryPattern(true);
    // two ACKs of limited transmit, then from the fast retransmit on 7 segments per 10 delivered,
    // ceil(0.7 k) - out in whole segments as Linux's tcp_cwnd_reduction counts packets (1 1 1 0 1 1 0 1 1 0)
    expect(perAck.join("")).toBe("1111101101101110010");
    expect(perAck.slice(2, 12).reduce((a, b) => a + b, 0)).toBe(7);
  });

  it("with prr: false the window drops to ssthresh at once: nothing is sent until pipe falls below it", () => {
    const perAck = recoveryPattern(false);
    expect(perAck.join("")).toBe("1110000011111111110");
  });
});

describe("RACK (RFC 8985 §6)", () => {
  /** Two segments sent one RTT after the handshake; the peer SACKs the second one RTT later. */
  function smallWindowLoss(opts: TcpLayerOptions): Sender {
    const s = sender(opts);
    s.conn.setNoDelay(true);
    s.conn.write(new Uint8Array(2 * MSS));
    expect(emitted(s)).toEqual([
      ["A", 0, MSS],
      ["PA", MSS, MSS],
    ]);
    s.peer.clock.advance(100);
    s.ack(0, [[MSS, 2 * MSS]]);
    return s;
  }

  it("a hole below SACKed data is lost once RACK.rtt + min_rtt/4 passed since it was sent: retransmitted by the reorder timer", () => {
    const s = smallWindowLoss({});
    s.peer.clock.advance(24);
    expect(emitted(s)).toEqual([]);
    s.peer.clock.advance(1);
    expect(s.peer.drain().map((x) => [x.seq - s.base, x.payload.length, x.at])).toEqual([[0, MSS, 225]]);
    expect(s.peer.tcp.stats).toMatchObject({ rackRecoveries: 1, fastRetransmits: 1, tailLossProbes: 0, timeouts: 0 });
  });

  it("stamps a segment in the transmit log before the device has it: a sender that lost the CPU right after writing the newer of two segments does not take the older for lost when the newer is SACKed", () => {
    const s = sender();
    s.conn.setNoDelay(true);
    // 30 ms lost after the device took the second segment (a real clock on a busy machine)
    stallAfterSends(s.peer, 30, 2);
    s.conn.write(new Uint8Array(2 * MSS));
    expect(emitted(s)).toEqual([
      ["A", 0, MSS],
      ["PA", MSS, MSS],
    ]);
    // the SACK comes 100 ms after both left; the clock reads 200
    s.peer.clock.advance(70);
    s.ack(0, [[MSS, 2 * MSS]]);
    // stamped after the write, the second looked 30 ms younger, RACK.rtt 70 ms, and the first,
    // sent at the same instant, was lost at once; it has RACK.rtt + min_rtt/4 to arrive
    expect(emitted(s)).toEqual([]);
    expect(s.peer.tcp.stats.fastRetransmits).toBe(0);
  });

  it("with rack: false the same loss waits for the tail loss probe", () => {
    const s = smallWindowLoss({ rack: false });
    s.peer.clock.advance(200);
    const out = s.peer.drain();
    expect(out.map((x) => [x.seq - s.base, x.payload.length])).toEqual([[0, MSS]]);
    expect(out[0]!.at).toBe(300);
    expect(s.peer.tcp.stats).toMatchObject({ rackRecoveries: 0, tailLossProbes: 1 });
  });

  it("once reordering was seen, a D-SACK widens the window: the same hole waits 2·min_rtt/4", () => {
    const s = sender();
    s.conn.setNoDelay(true);
    // reordering seen: a hole filled by its first transmission
    s.conn.write(new Uint8Array(2 * MSS));
    emitted(s);
    s.peer.clock.advance(100);
    s.ack(0, [[MSS, 2 * MSS]]);
    s.ack(2 * MSS);
    // a D-SACK (for data the peer got twice)
    s.ack(2 * MSS, [[0, MSS]]);
    expect(s.conn.info().dsackReceived).toBe(1);
    s.conn.write(new Uint8Array(2 * MSS));
    emitted(s);
    s.peer.clock.advance(100);
    s.ack(2 * MSS, [[3 * MSS, 4 * MSS]]);
    s.peer.clock.advance(49);
    expect(emitted(s)).toEqual([]);
    s.peer.clock.advance(1);
    expect(emitted(s)).toEqual([["A", 2 * MSS, MSS]]);
  });
});

/** A sender (no Nagle) that has seen reordering: segment 0 delivered after 1 at 100 ms, then both ACKed. */
function senderAfterReordering(): ReturnType<typeof sender> {
  const s = sender();
  s.conn.setNoDelay(true);
  s.conn.write(new Uint8Array(2 * MSS));
  emitted(s);
  s.peer.clock.advance(100);
  // 0 arrives after 1, and nothing else is outstanding
  s.ack(0, [[MSS, 2 * MSS]]);
  s.ack(2 * MSS);
  return s;
}

describe("RACK with reordering (RFC 8985 §6.2, as Linux's tcp_recovery.c)", () => {
  it("a segment delivered later from a burst sent at one instant refreshes RACK.rtt (a tie broken by sequence, as tcp_rack_sent_after): the hole below waits for it", () => {
    const s = sender();
    s.conn.setNoDelay(true);
    s.conn.write(new Uint8Array(4 * MSS));
    expect(emitted(s)).toHaveLength(4);
    s.peer.clock.advance(100);
    // RACK.rtt 100: 0 would be lost at 100 + 100 + min_rtt/4 = 225
    s.ack(0, [[MSS, 2 * MSS]]);
    s.peer.clock.advance(20);
    // 2 left with 1 and arrived 20 ms later: RACK.rtt 120, 0 is lost at 245
    s.ack(0, [[MSS, 3 * MSS]]);
    s.peer.clock.advance(24);
    expect(emitted(s)).toEqual([]);
    s.peer.clock.advance(1);
    expect(s.peer.drain().map((x) => [x.seq - s.base, x.payload.length, x.at])).toEqual([[0, MSS, 245]]);
  });

  it("reordering shown by the ACK that fills the only hole is remembered: in recovery a second hole still waits min_rtt/4", () => {
    const s = senderAfterReordering();
    s.conn.write(new Uint8Array(8 * MSS));
    expect(emitted(s)).toHaveLength(8);
    s.peer.clock.advance(100);
    s.ack(2 * MSS, [[3 * MSS, 4 * MSS]]);
    s.peer.clock.advance(25);
    expect(emitted(s)).toEqual([["A", 2 * MSS, MSS]]);
    // 5 is missing too: sent at 200, RACK.rtt 125, lost at 350 (not at once, as without reordering)
    s.ack(2 * MSS, [
      [6 * MSS, 7 * MSS],
      [3 * MSS, 5 * MSS],
    ]);
    s.peer.clock.advance(24);
    expect(emitted(s)).toEqual([]);
    s.peer.clock.advance(1);
    expect(emitted(s)).toEqual([["A", 5 * MSS, MSS]]);
  });

  it("a retransmission with data sent after it SACKed is lost only RACK.rtt + the reordering window after its resend (Linux times retransmissions as RACK does originals)", () => {
    const s = sender();
    s.conn.setNoDelay(true);
    s.conn.write(new Uint8Array(8 * MSS));
    emitted(s);
    s.peer.clock.advance(100);
    s.ack(0, [[MSS, 2 * MSS]]);
    s.ack(2 * MSS);
    s.peer.clock.advance(100);
    s.ack(2 * MSS, [[3 * MSS, 5 * MSS]]);
    s.peer.clock.advance(25);
    expect(emitted(s)).toEqual([["A", 2 * MSS, MSS]]);
    s.ack(2 * MSS, [[3 * MSS, 6 * MSS]]);
    s.conn.write(new Uint8Array(2 * MSS));
    s.ack(2 * MSS, [[3 * MSS, 7 * MSS]]);
    expect(emitted(s)).toEqual([["A", 8 * MSS, MSS]]);
    s.peer.clock.advance(100);
    // 8, sent after the retransmission of 2 (at 325), arrived and 2 did not: RACK.rtt 100, lost at 450
    s.ack(2 * MSS, [[3 * MSS, 9 * MSS]]);
    expect(emitted(s)).toEqual([["PA", 9 * MSS, MSS]]);
    s.peer.clock.advance(24);
    expect(emitted(s)).toEqual([]);
    s.peer.clock.advance(1);
    expect(emitted(s)).toEqual([["A", 2 * MSS, MSS]]);
    expect(s.peer.tcp.stats).toMatchObject({ lostRetransmits: 1, timeouts: 0 });
  });
});

describe("RACK with reordering: losses by time only, every retransmission tracked (as Linux)", () => {
  it("once reordering was seen, DupThresh SACKed segments above a hole do not make it lost: it waits RACK.rtt + min_rtt/4 (Linux marks by time only, tcp_rack_mark_lost)", () => {
    const s = senderAfterReordering();
    s.conn.write(new Uint8Array(6 * MSS));
    expect(emitted(s)).toHaveLength(6);
    s.peer.clock.advance(100);
    // four segments SACKed above 2: lost by RFC 6675 IsLost, but 2 may still arrive (sent at 200, lost at 325)
    s.ack(2 * MSS, [[3 * MSS, 7 * MSS]]);
    expect(emitted(s)).toEqual([]);
    s.peer.clock.advance(24);
    expect(emitted(s)).toEqual([]);
    s.peer.clock.advance(1);
    expect(emitted(s)).toEqual([["A", 2 * MSS, MSS]]);
    expect(s.peer.tcp.stats).toMatchObject({ fastRetransmits: 1, rackRecoveries: 1 });
  });

  it("a lost retransmission is found when a retransmission sent after it is delivered, with no new data to send (Linux's RACK orders all transmissions by time)", () => {
    const s = sender({ tailLossProbe: false });
    s.conn.setNoDelay(true);
    s.conn.write(new Uint8Array(10 * MSS));
    expect(emitted(s)).toHaveLength(10);
    s.peer.clock.advance(100);
    // 0 and 5 lost: both retransmitted at 200, 0 first
    s.ack(0, [[MSS, 5 * MSS]]);
    s.ack(0, [
      [6 * MSS, 10 * MSS],
      [MSS, 5 * MSS],
    ]);
    expect(emitted(s)).toEqual([
      ["A", 0, MSS],
      ["A", 5 * MSS, MSS],
    ]);
    s.peer.clock.advance(100);
    // the retransmission of 5 arrived, that of 0 did not: it was lost, 100 ms after it left
    s.ack(0, [[MSS, 10 * MSS]]);
    expect(emitted(s)).toEqual([["A", 0, MSS]]);
    expect(s.peer.tcp.stats).toMatchObject({ lostRetransmits: 1, timeouts: 0 });
  });

  it("an ACK echoing the delayed original of the first retransmission does not undo a fast recovery while another retransmission is out (Linux's tcp_try_undo_partial)", () => {
    const s = sender({}, true);
    // (timestamps take 12 bytes of each segment)
    const SEG = MSS - 12;
    s.conn.write(new Uint8Array(10 * SEG));
    const sent = s.peer.drain();
    expect(sent).toHaveLength(10);
    s.peer.clock.advance(100);
    s.ack(0, [[SEG, 5 * SEG]]);
    s.ack(0, [
      [6 * SEG, 10 * SEG],
      [SEG, 5 * SEG],
    ]);
    expect(emitted(s).map(([, off]) => off / SEG)).toEqual([0, 5]);
    const reduced = s.conn.info().cwnd;
    s.peer.clock.advance(10);
    // 0 was only delayed: its original fills the hole and its timestamp is echoed; 5 is still missing
    s.ack(5 * SEG, [[6 * SEG, 10 * SEG]], sent[0]!.options.tsVal);
    expect(s.peer.tcp.stats.undos).toBe(0);
    expect(s.conn.info().cwnd).toBeLessThanOrEqual(reduced);
  });
});

describe("a recovery that begins with the ACK ending the previous one", () => {
  // 0, 5, 10 and 12 lost (timestamps on: 988-byte segments); 10 and 12 were sent after the first
  // recovery began and are retransmitted in it; the ACK of 10's retransmission ends that recovery
  // with 12 still missing, so the same ACK starts the next one
  const run = () => {
    const s = sender({ rack: false, tailLossProbe: false }, true);
    const SEG = 988;
    const tsOf = new Map<number, number>();
    const out = (): number[] =>
      s.peer.drain().map((x) => {
        const n = (x.seq - s.base) / SEG;
        tsOf.set(n, x.options.tsVal ?? 0);
        return n;
      });
    const ack = (a: number, sack: [number, number][], ts?: number) =>
      s.ack(
        a * SEG,
        sack.map(([l, r]) => [l * SEG, r * SEG]),
        ts,
      );
    s.conn.write(new Uint8Array(40 * SEG));
    out();
    s.peer.clock.advance(100);
    ack(0, [[1, 2]]);
    ack(0, [[1, 3]]);
    ack(0, [[1, 4]]);
    ack(0, [[1, 5]]);
    ack(0, [
      [6, 7],
      [1, 5],
    ]);
    ack(0, [
      [6, 8],
      [1, 5],
    ]);
    ack(0, [
      [6, 9],
      [1, 5],
    ]);
    ack(0, [
      [6, 10],
      [1, 5],
    ]);
    // PRR in whole segments (Linux): the third ACK of recovery lets 13 out (ceil(0.7 * 3) - 2), 5 is lost a SACK later
    expect(out()).toEqual([10, 11, 0, 12, 13, 5, 14]);
    s.peer.clock.advance(50);
    ack(10, [[11, 12]], tsOf.get(5));
    ack(10, [
      [13, 14],
      [11, 12],
    ]);
    ack(10, [
      [13, 15],
      [11, 12],
    ]);
    s.peer.clock.advance(10);
    ack(10, [
      [13, 16],
      [11, 12],
    ]);
    s.peer.clock.advance(10);
    ack(10, [
      [13, 17],
      [11, 12],
    ]);
    // (PRR-SSRB adds its extra segment only on the ACK that advanced SND.UNA, as Linux)
    expect(out()).toEqual([15, 16, 17, 18, 10, 19, 12, 20]);
    expect(s.peer.tcp.stats.fastRetransmits).toBe(1);
    const firstRtx12 = tsOf.get(12)!;
    s.peer.clock.advance(40);
    ack(12, [[13, 17]], tsOf.get(10));
    return { s, out, ack, firstRtx12 };
  };

  it("does not resend the hole the previous recovery retransmitted (in flight, not found lost)", () => {
    const { s, out } = run();
    expect(s.peer.tcp.stats.fastRetransmits).toBe(2);
    // PRR's one segment on entering recovery (forced, as Linux's) is new data, not the hole 12
    expect(out()).toEqual([21]);
    expect(s.peer.tcp.stats.retransmits).toBe(4);
  });

  it("an ACK echoing the previous recovery's retransmission does not undo the new reduction (Eifel needs this episode's first retransmission)", () => {
    const { s, out, ack, firstRtx12 } = run();
    const cwnd = s.conn.info().cwnd;
    s.peer.clock.advance(40);
    ack(22, [], firstRtx12);
    expect(s.peer.tcp.stats.undos).toBe(0);
    expect(s.conn.info().cwnd).toBeLessThan(cwnd);
    expect(out()).toEqual([21, 22, 23, 24, 25]);
  });
});
