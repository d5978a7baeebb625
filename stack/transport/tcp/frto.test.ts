// F-RTO (RFC 5682, the SACK-enhanced variant of Linux's tcp_process_loss) at segment level: a
// scripted peer sends exact ACKs after a retransmission timeout, the tests assert what the
// sender emits and whether the timeout's reduction stays.
import { describe, expect, it } from "vitest";
import { unwrap } from "../../result.ts";
import { TCP_FLAG_ACK as A, TCP_FLAG_SYN as S } from "../../wire/tcp.ts";
import type { SackBlock } from "../../wire/tcp.ts";
import { createTcpTestPeer, flagString, type TcpTestPeer } from "./test-peer.ts";
import type { TcpConnection } from "./connection.ts";
import type { TcpLayerOptions } from "./types.ts";

const PEER_ISN = 1000;
const MSS = 1000;

interface Sender {
  peer: TcpTestPeer;
  conn: TcpConnection;
  /** The peer ACKs `ack` (relative) with SACK blocks (relative). */
  ack(ack: number, sack?: [number, number][]): void;
  /** [flags, offset from the first data byte, length] of each segment emitted since the last call. */
  emitted(): [string, number, number][];
}

/** A listener's connection with a SACK-permitting peer without timestamps (so Eifel cannot
 * decide: only F-RTO can), MSS 1000, a 256 KiB window, 100 ms handshake RTT, no tail loss probe. */
function sender(opts: TcpLayerOptions = {}): Sender {
  const peer = createTcpTestPeer({ tailLossProbe: false, ...opts });
  let conn: TcpConnection | undefined;
  unwrap(peer.tcp.listen(80)).onConnection((s) => {
    conn = s as TcpConnection;
  });
  peer.inject({ flags: S, seq: PEER_ISN, window: 32792, options: { mss: MSS, sackPermitted: true, windowScale: 7 } });
  const synAck = peer.next();
  peer.clock.advance(100);
  peer.inject({ flags: A, seq: PEER_ISN + 1, ack: synAck.seq + 1, window: 2048 });
  const base = synAck.seq + 1;
  return {
    peer,
    conn: conn!,
    ack(ack, sack) {
      const sackBlocks: SackBlock[] | undefined = sack?.map(([l, r]) => ({ left: base + l, right: base + r }));
      peer.inject({ flags: A, seq: PEER_ISN + 1, ack: base + ack, window: 2048, options: sackBlocks === undefined ? {} : { sackBlocks } });
    },
    emitted: () => peer.drain().map((x) => [flagString(x.flags), x.seq - base, x.payload.length]),
  };
}

/** 20 segments queued, the first 10 (IW10) sent, then the RTO: segment 0 is resent with cwnd 1. */
function afterTimeout(opts: TcpLayerOptions = {}): Sender {
  const s = sender(opts);
  s.conn.write(new Uint8Array(20 * MSS));
  expect(s.emitted()).toHaveLength(10);
  s.peer.clock.advance(300);
  expect(s.emitted()).toEqual([["A", 0, MSS]]);
  expect(s.conn.info()).toMatchObject({ cwnd: MSS, ssthresh: 7 * MSS });
  return s;
}

describe("F-RTO (RFC 5682)", () => {
  it("the first ACK after the timeout sends two new segments instead of retransmissions; an ACK of originals then undoes the timeout", () => {
    const s = afterTimeout();
    // the ACK of the retransmission: step 2b, new data (segments 10 and 11), not segment 1
    s.ack(MSS);
    expect(s.emitted()).toEqual([
      ["A", 10 * MSS, MSS],
      ["A", 11 * MSS, MSS],
    ]);
    expect(s.peer.tcp.stats).toMatchObject({ frtoProbes: 1, frtoSpurious: 0, undos: 0 });
    // segments 1 and 2, never retransmitted, arrive: the timeout was spurious (step 3b)
    s.ack(3 * MSS);
    expect(s.peer.tcp.stats).toMatchObject({ timeouts: 1, frtoProbes: 1, frtoSpurious: 1, spuriousRtos: 1, undos: 1 });
    // the window before the timeout is back, then slow start counts the two segments (as Linux:
    // corpora/drill/frto-spurious-rto.pkt); 9 segments in flight: room for three, of new data,
    // never segments 3..9 again
    expect(s.conn.info()).toMatchObject({ cwnd: 12 * MSS, ssthresh: 0x7fffffff, spuriousRtos: 1 });
    expect(s.emitted()).toEqual([
      ["A", 12 * MSS, MSS],
      ["A", 13 * MSS, MSS],
      ["A", 14 * MSS, MSS],
    ]);
    s.ack(5 * MSS);
    expect(s.emitted().map(([, off]) => off)).toEqual([15 * MSS, 16 * MSS, 17 * MSS, 18 * MSS]);
  });

  it("an ACK that SACKs only the new data shows the loss real: go-back-N from the oldest unacknowledged segment, window kept reduced", () => {
    const s = afterTimeout();
    s.ack(MSS);
    expect(s.emitted()).toEqual([
      ["A", 10 * MSS, MSS],
      ["A", 11 * MSS, MSS],
    ]);
    s.ack(MSS, [[10 * MSS, 11 * MSS]]);
    // step 3a: cwnd 2 (slow start after the timeout), segments 1 and 2 resent
    expect(s.emitted()).toEqual([
      ["A", MSS, MSS],
      ["A", 2 * MSS, MSS],
    ]);
    s.ack(2 * MSS, [[10 * MSS, 11 * MSS]]);
    expect(s.emitted().map(([, off]) => off)).toEqual([3 * MSS, 4 * MSS]);
    expect(s.peer.tcp.stats).toMatchObject({ frtoProbes: 1, frtoSpurious: 0, spuriousRtos: 0, undos: 0 });
    expect(s.conn.info().ssthresh).toBe(7 * MSS);
  });

  it("an ACK covering originals at once (the first after the timeout) is enough: undone, no probe needed", () => {
    const s = afterTimeout();
    s.ack(2 * MSS);
    expect(s.peer.tcp.stats).toMatchObject({ frtoProbes: 0, frtoSpurious: 1, spuriousRtos: 1 });
    expect(s.conn.info().cwnd).toBe(12 * MSS);
    expect(s.emitted().map(([, off]) => off)).toEqual([10 * MSS, 11 * MSS, 12 * MSS, 13 * MSS]);
  });

  it("SACK-enhanced: a duplicate ACK SACKing an original segment shows the timeout spurious", () => {
    const s = afterTimeout();
    s.ack(0, [[5 * MSS, 6 * MSS]]);
    expect(s.peer.tcp.stats).toMatchObject({ frtoSpurious: 1, spuriousRtos: 1 });
    expect(s.conn.info().cwnd).toBe(10 * MSS);
  });

  it("with nothing new to send the first ACK goes on with go-back-N (step 2a)", () => {
    const s = sender();
    s.conn.write(new Uint8Array(4 * MSS));
    s.emitted();
    s.peer.clock.advance(300);
    expect(s.emitted()).toEqual([["A", 0, MSS]]);
    s.ack(MSS);
    expect(s.emitted().map(([, off]) => off)).toEqual([MSS, 2 * MSS]);
    expect(s.peer.tcp.stats.frtoProbes).toBe(0);
  });

  it("off (frto: false), the same ACKs get go-back-N and the reduction stays", () => {
    const s = afterTimeout({ frto: false });
    s.ack(MSS);
    expect(s.emitted()).toEqual([
      ["A", MSS, MSS],
      ["A", 2 * MSS, MSS],
    ]);
    s.ack(3 * MSS);
    expect(s.peer.tcp.stats).toMatchObject({ frtoProbes: 0, frtoSpurious: 0, spuriousRtos: 0, undos: 0 });
    expect(s.conn.info().ssthresh).toBe(7 * MSS);
  });

  it("a first timeout during fast recovery does not use F-RTO (its retransmissions would blur the test)", () => {
    const s = sender();
    s.conn.write(new Uint8Array(20 * MSS));
    s.emitted();
    for (const r of [2, 3, 4]) s.ack(0, [[MSS, r * MSS]]);
    expect(s.emitted()).toContainEqual(["A", 0, MSS]);
    s.peer.clock.advance(300);
    expect(s.peer.tcp.stats.timeouts).toBe(1);
    s.emitted();
    s.ack(5 * MSS);
    expect(s.peer.tcp.stats).toMatchObject({ frtoProbes: 0, frtoSpurious: 0 });
  });
});
