// ECN (RFC 3168) at segment level: negotiation on SYN / SYN-ACK, ECT(0) on new data only, the
// receiver's ECE echo until CWR, and the sender's one reduction per window with CWR after it.
import { describe, expect, it } from "vitest";
import { unwrap } from "../../result.ts";
import { TCP_FLAG_ACK as A, TCP_FLAG_CWR as CWR, TCP_FLAG_ECE as ECE, TCP_FLAG_PSH as P, TCP_FLAG_SYN as S } from "../../wire/tcp.ts";
import type { ByteStream } from "../types.ts";
import type { TcpConnection } from "./connection.ts";
import { PEER_ADDR, createTcpTestPeer, type TcpTestPeer } from "./test-peer.ts";
import type { TcpLayerOptions } from "./types.ts";

const ISN = 1000;
const CE = 3;

/** A listener on 80 and a handshake from a peer whose SYN asks for ECN (ECE|CWR) when `ecnSyn`. */
function passive(opts: TcpLayerOptions, ecnSyn: boolean): { peer: TcpTestPeer; stream: ByteStream; synAckFlags: number; local: number } {
  const peer = createTcpTestPeer(opts);
  let stream: ByteStream | undefined;
  unwrap(peer.tcp.listen(80)).onConnection((s) => {
    stream = s;
  });
  peer.inject({ flags: S | (ecnSyn ? ECE | CWR : 0), seq: ISN, window: 65535, options: { mss: 1460 } });
  const synAck = peer.next();
  peer.inject({ flags: A, seq: ISN + 1, ack: synAck.seq + 1, window: 65535 });
  return { peer, stream: stream!, synAckFlags: synAck.flags, local: synAck.seq + 1 };
}

describe("ECN (RFC 3168)", () => {
  it("a listener answers an ECN-setup SYN with ECE (no CWR); its new data is ECT(0), its pure ACKs and SYN-ACK are not", () => {
    const e = passive({}, true);
    expect(e.synAckFlags).toBe(S | A | ECE);
    e.stream.write(new Uint8Array(3000));
    const data = e.peer.drain();
    expect(data.map((x) => x.payload.length)).toEqual([1460, 1460, 80]);
    expect(data.every((x) => (x.tos & 3) === 2 && (x.flags & (ECE | CWR)) === 0)).toBe(true);
    e.peer.inject({ flags: A | P, seq: ISN + 1, ack: e.local, payload: new Uint8Array(10) });
    const ack = e.peer.next();
    expect(ack.payload.length).toBe(0);
    expect(ack.tos & 3).toBe(0);
  });

  it("with ecn off, or a SYN that does not ask, nothing is ECN: a plain SYN-ACK and Not-ECT data", () => {
    for (const [opts, ask] of [
      [{ ecn: "off" as const }, true],
      [{}, false],
    ] as const) {
      const e = passive(opts, ask);
      expect(e.synAckFlags).toBe(S | A);
      e.stream.write(new Uint8Array(100));
      expect(e.peer.next().tos & 3).toBe(0);
    }
  });

  it("the receiver acknowledges a CE-marked segment at once with ECE, keeps ECE on every ACK, and stops after the peer's CWR", () => {
    const e = passive({ quickAck: false }, true);
    const conn = e.stream as TcpConnection;
    e.peer.inject({ flags: A | P, seq: ISN + 1, ack: e.local, payload: new Uint8Array(100), tos: CE });
    const first = e.peer.next();
    expect(first).toMatchObject({ ack: ISN + 101 });
    expect(first.flags & ECE).toBe(ECE);
    e.peer.inject({ flags: A, seq: ISN + 101, ack: e.local, payload: new Uint8Array(1460), tos: 2 });
    e.peer.inject({ flags: A, seq: ISN + 1561, ack: e.local, payload: new Uint8Array(1460), tos: 2 });
    expect(e.peer.drain().every((x) => (x.flags & ECE) !== 0)).toBe(true);
    e.peer.inject({ flags: A | CWR, seq: ISN + 3021, ack: e.local, payload: new Uint8Array(1460), tos: 2 });
    e.peer.inject({ flags: A, seq: ISN + 4481, ack: e.local, payload: new Uint8Array(1460), tos: 2 });
    const after = e.peer.drain();
    expect(after.length).toBeGreaterThan(0);
    expect(after.every((x) => (x.flags & ECE) === 0)).toBe(true);
    expect(e.peer.tcp.stats.ecnCeReceived).toBe(1);
    expect(conn.info().state).toBe("ESTABLISHED");
  });

  it("the sender reduces cwnd once per window for ECE, sends CWR on its next new data, and ignores more ECE from the same window", () => {
    const e = passive({}, true);
    const conn = e.stream as TcpConnection;
    e.stream.write(new Uint8Array(200_000));
    const flight = e.peer.drain();
    expect(flight.length).toBe(10); // IW10
    const before = conn.info().cwnd;
    // the first segment's ACK carries ECE: one reduction (CUBIC: β = 0.7) that PRR paces, as in
    // Linux's CWR state: that ACK still lets one segment out (pipe 9 > ssthresh 7), with CWR
    e.peer.inject({ flags: A | ECE, seq: ISN + 1, ack: e.local + 1460, window: 65535 });
    const ssthresh = Math.floor(before * 0.7);
    expect(conn.info().ssthresh).toBe(ssthresh);
    expect(e.peer.drain().map((x) => [x.seq - e.local, x.flags & CWR])).toEqual([[14600, CWR]]);
    // more ECE for data sent before the reduction: no second reduction
    e.peer.inject({ flags: A | ECE, seq: ISN + 1, ack: e.local + 2920, window: 65535 });
    expect(conn.info().ssthresh).toBe(ssthresh);
    // the rest of the flight (from the second ECE ACK on): PRR lets 0.7 segment per segment delivered out, none with CWR;
    // the ACK past SND.MAX at the ECE ends the reduction with cwnd at ssthresh
    const next: { flags: number }[] = [];
    for (let k = 3; k <= 10; k++) {
      e.peer.inject({ flags: A, seq: ISN + 1, ack: e.local + 1460 * k, window: 65535 });
      next.push(...e.peer.drain());
    }
    expect(next.length).toBe(6); // 7 of 10 with the CWR segment
    expect(next.every((x) => (x.flags & CWR) === 0)).toBe(true);
    expect(conn.info().cwnd).toBeLessThan(before);
    e.peer.inject({ flags: A, seq: ISN + 1, ack: e.local + 1460 * 11, window: 65535 });
    expect(conn.info().cwnd).toBeGreaterThanOrEqual(ssthresh);
    expect(conn.info().cwnd).toBeLessThan(ssthresh + 1460);
    expect(e.peer.tcp.stats).toMatchObject({ ecnEceReceived: 2, ecnReductions: 1, ecnCwrSent: 1 });
  });

  it("connect() with ecn on sends an ECN-setup SYN (ECE|CWR), a retransmitted SYN without them; an ECE SYN-ACK turns ECN on", () => {
    const peer = createTcpTestPeer({ ecn: "on" });
    const s = unwrap(peer.tcp.connect(PEER_ADDR, 40000, { localPort: 5000 }));
    const syn = peer.next();
    expect(syn.flags).toBe(S | ECE | CWR);
    expect(syn.tos & 3).toBe(0);
    peer.clock.advance(1000);
    expect(peer.next().flags).toBe(S);
    // a second connection whose SYN-ACK comes in time
    const p2 = createTcpTestPeer({ ecn: "on" });
    const s2 = unwrap(p2.tcp.connect(PEER_ADDR, 40000, { localPort: 5000 }));
    const syn2 = p2.next();
    p2.inject({ flags: S | A | ECE, srcPort: 40000, dstPort: 5000, seq: 7000, ack: syn2.seq + 1, window: 65535, options: { mss: 1460 } });
    expect(p2.next().flags).toBe(A);
    s2.write(new Uint8Array(100));
    expect(p2.next().tos & 3).toBe(2);
    expect(s).toBeDefined();
  });
});
