// Segment-level tests in the style of gVisor's packetimpact: a scripted peer injects exact
// segments and the tests assert the exact segments the stack emits, on the virtual clock.
import { describe, expect, it } from "vitest";
import { unwrap } from "../../result.ts";
import { TCP_FLAG_ACK as A, TCP_FLAG_FIN as F, TCP_FLAG_PSH as P, TCP_FLAG_RST as R, TCP_FLAG_SYN as S } from "../../wire/tcp.ts";
import type { ByteStream, StreamErrorCode } from "../types.ts";
import { LOCAL_ADDR, PEER_ADDR, createTcpTestPeer, flagString, linuxSynOptions, type TcpTestPeer } from "./test-peer.ts";
import type { TcpLayerOptions } from "./types.ts";
import type { TcpConnection } from "./connection.ts";

const PEER_ISN = 1000;

interface Established {
  peer: TcpTestPeer;
  stream: ByteStream;
  conn: TcpConnection;
  /** Next sequence number the peer sends. */
  peerSeq: number;
  /** Next sequence number the stack sends (what the peer acknowledges). */
  localSeq: number;
  /** The stack's current TSval (from its last segment). */
  lastTsVal: number;
  events: string[];
}

/** Listens on 80, completes a handshake from the peer with Linux's options (or none). */
/**
 * Listens on 80, completes a handshake from the peer with Linux's options (or none). `unread`: the
 * application does not read (the stream is paused, data stays queued), so ACKs follow the
 * delayed-ACK timer rather than Linux's ACK-on-read.
 */
function establishPassive(opts: TcpLayerOptions & { withOptions?: boolean; peerWindow?: number; mtu?: number; unread?: boolean } = {}): Established {
  const peer = createTcpTestPeer(opts);
  const l = unwrap(peer.tcp.listen(80));
  let stream: ByteStream | undefined;
  const events: string[] = [];
  l.onConnection((s) => {
    stream = s;
    if (opts.unread === true) s.pause();
    s.onData((d) => events.push(`data:${d.length}`));
    s.onEnd(() => events.push("end"));
    s.onClose((e) => events.push(`close:${e ?? ""}`));
  });
  const withOptions = opts.withOptions ?? true;
  peer.inject({ flags: S, seq: PEER_ISN, window: 64240, options: withOptions ? linuxSynOptions(100) : {} });
  const synAck = peer.next();
  expect(flagString(synAck.flags)).toBe("SA");
  peer.clock.advance(1);
  peer.inject({
    flags: A,
    seq: PEER_ISN + 1,
    ack: synAck.seq + 1,
    window: opts.peerWindow ?? 1000,
    options: withOptions ? { tsVal: 101, tsEcr: synAck.options.tsVal ?? 0 } : {},
  });
  expect(stream).toBeDefined();
  expect(peer.sent).toEqual([]);
  return {
    peer,
    stream: stream!,
    conn: stream as TcpConnection,
    peerSeq: PEER_ISN + 1,
    localSeq: synAck.seq + 1,
    lastTsVal: synAck.options.tsVal ?? 0,
    events,
  };
}

function ts(e: Established, tsVal: number): { tsVal: number; tsEcr: number } {
  return { tsVal, tsEcr: e.lastTsVal };
}

describe("TCP handshake", () => {
  it("a listener answers a Linux SYN with a SYN-ACK carrying MSS, SACK-permitted, echoed timestamp and window scale 7", () => {
    const peer = createTcpTestPeer();
    unwrap(peer.tcp.listen(80));
    peer.inject({ flags: S, seq: PEER_ISN, window: 64240, options: linuxSynOptions(0x11223344) });
    const sa = peer.next();
    expect(sa).toMatchObject({ srcPort: 80, dstPort: 40000, ack: PEER_ISN + 1, flags: S | A, window: 65535, urgent: 0 });
    expect(sa.options).toEqual({ mss: 1460, sackPermitted: true, tsVal: sa.options.tsVal, tsEcr: 0x11223344, windowScale: 7 });
    // Linux's layout: MSS, SACK-permitted + TS, NOP + WS
    expect(Array.from(sa.raw.subarray(20, 24))).toEqual([2, 4, 0x05, 0xb4]);
    expect(Array.from(sa.raw.subarray(24, 28))).toEqual([4, 2, 8, 10]);
    expect(Array.from(sa.raw.subarray(36, 40))).toEqual([1, 3, 3, 7]);
  });

  it("a SYN without options gets a SYN-ACK with only MSS, and data then flows in 536-byte segments unscaled", () => {
    const e = establishPassive({ withOptions: false, peerWindow: 65535 });
    e.stream.write(new Uint8Array(2000));
    const segs = e.peer.drain();
    expect(segs.map((s) => s.payload.length)).toEqual([536, 536, 536, 392]);
    expect(segs.map((s) => s.seq - e.localSeq)).toEqual([0, 536, 1072, 1608]);
    expect(segs[0]!.options).toEqual({});
    expect(segs[0]!.window).toBe(65535);
    expect(e.conn.info()).toMatchObject({ windowScaling: false, timestamps: false, sack: false, sendMss: 536 });
  });

  it("connect() sends Linux's SYN: MSS 1460, SACK-permitted, timestamps, window scale, window 65535", () => {
    const peer = createTcpTestPeer();
    unwrap(peer.tcp.connect(PEER_ADDR, 40000, { localPort: 5000 }));
    const syn = peer.next();
    expect(syn).toMatchObject({ srcPort: 5000, dstPort: 40000, ack: 0, flags: S, window: 65535 });
    expect(Array.from(syn.raw.subarray(20, 40))).toEqual([2, 4, 5, 0xb4, 4, 2, 8, 10, ...syn.raw.subarray(28, 32), 0, 0, 0, 0, 1, 3, 3, 7]);
  });

  it("a peer MSS below 88 is raised to 88, so a peer cannot make every byte a segment", () => {
    const peer = createTcpTestPeer();
    const s = unwrap(peer.tcp.connect(PEER_ADDR, 40000, { localPort: 5000 })) as TcpConnection;
    const syn = peer.next();
    peer.inject({ flags: S | A, srcPort: 40000, dstPort: 5000, seq: 7, ack: syn.seq + 1, options: { mss: 1 } });
    expect(s.info().sendMss).toBe(88);
  });

  it("the MSS offered and used is clamped to mtuTo(dst) − 40", () => {
    const peer = createTcpTestPeer({ mtu: 1280 });
    unwrap(peer.tcp.connect(PEER_ADDR, 40000, { localPort: 5000 }));
    const syn = peer.next();
    expect(syn.options.mss).toBe(1240);
    peer.inject({ flags: S | A, srcPort: 40000, dstPort: 5000, seq: 7, ack: syn.seq + 1, options: { mss: 1460 } });
    expect(flagString(peer.next().flags)).toBe("A");
  });

  it("an active open completes on SYN-ACK: ACK sent, onConnect fires, options negotiated", () => {
    const peer = createTcpTestPeer();
    const s = unwrap(peer.tcp.connect(PEER_ADDR, 40000, { localPort: 5000 })) as TcpConnection;
    let connected = false;
    s.onConnect(() => {
      connected = true;
    });
    const syn = peer.next();
    peer.clock.advance(10);
    peer.inject({
      flags: S | A,
      srcPort: 40000,
      dstPort: 5000,
      seq: 7000,
      ack: syn.seq + 1,
      window: 500,
      options: { mss: 1400, sackPermitted: true, windowScale: 2, tsVal: 9, tsEcr: syn.options.tsVal! },
    });
    const ack = peer.next();
    expect(ack).toMatchObject({ flags: A, seq: syn.seq + 1, ack: 7001, options: { tsVal: syn.options.tsVal! + 10, tsEcr: 9 } });
    expect(connected).toBe(true);
    // RFC 7323 §2.2: the SYN-ACK's window (500) is not scaled; later segments' windows are
    expect(s.info()).toMatchObject({ state: "ESTABLISHED", sendMss: 1388, sendWindow: 500, sack: true, timestamps: true, windowScaling: true, srttMs: 10 });
  });

  it("the first flight after an active open stays inside the SYN-ACK's unscaled window (RFC 7323 §2.2, as Linux's tcp_rcv_synsent_state_process)", () => {
    const peer = createTcpTestPeer();
    const s = unwrap(peer.tcp.connect(PEER_ADDR, 40000, { localPort: 5000 })) as TcpConnection;
    const syn = peer.next();
    peer.inject({ flags: S | A, srcPort: 40000, dstPort: 5000, seq: 7000, ack: syn.seq + 1, window: 4096, options: { mss: 1460, windowScale: 7 } });
    expect(flagString(peer.next().flags)).toBe("A");
    s.write(new Uint8Array(20_000));
    const sent: number[] = [];
    while (peer.sent.length > 0) sent.push(peer.next().payload.length);
    // 2 full segments, not IW10 against 4096 << 7 (the 1176 bytes left of the window are less
    // than half of it: sender SWS avoidance holds them, as Linux does)
    expect(sent).toEqual([1460, 1460]);
    expect(s.info().sendWindow).toBe(4096);
  });

  it("with fillWindowEdge the rest of a fully open window smaller than an MSS goes out too, once per window (as smoltcp)", () => {
    const peer = createTcpTestPeer({ fillWindowEdge: true });
    const s = unwrap(peer.tcp.connect(PEER_ADDR, 40000, { localPort: 5000 })) as TcpConnection;
    const syn = peer.next();
    peer.inject({ flags: S | A, srcPort: 40000, dstPort: 5000, seq: 7000, ack: syn.seq + 1, window: 4096, options: { mss: 1460, windowScale: 7 } });
    expect(flagString(peer.next().flags)).toBe("A");
    s.write(new Uint8Array(20_000));
    const sent: number[] = [];
    while (peer.sent.length > 0) sent.push(peer.next().payload.length);
    expect(sent).toEqual([1460, 1460, 1176]);
    // the peer ACKs the first segment only: the window's edge moves 1460 on, a full segment fits
    peer.inject({ flags: A, srcPort: 40000, dstPort: 5000, seq: 7001, ack: syn.seq + 1 + 1460, window: 32 });
    expect(peer.drain().map((x) => x.payload.length)).toEqual([1460]);
  });

  it("simultaneous open: SYN crossing SYN goes through SYN-RECEIVED to ESTABLISHED (RFC 9293 Figure 8)", () => {
    const peer = createTcpTestPeer();
    const s = unwrap(peer.tcp.connect(PEER_ADDR, 40000, { localPort: 5000 })) as TcpConnection;
    let connected = false;
    s.onConnect(() => {
      connected = true;
    });
    const syn = peer.next();
    peer.inject({ flags: S, srcPort: 40000, dstPort: 5000, seq: 300, options: linuxSynOptions(50) });
    const synAck = peer.next();
    expect(synAck).toMatchObject({ flags: S | A, seq: syn.seq, ack: 301 });
    expect(s.stateName).toBe("SYN-RECEIVED");
    peer.inject({ flags: S | A, srcPort: 40000, dstPort: 5000, seq: 300, ack: syn.seq + 1, options: { tsVal: 51, tsEcr: synAck.options.tsVal! } });
    expect(peer.next()).toMatchObject({ flags: A, seq: syn.seq + 1, ack: 301 });
    peer.inject({ flags: A, srcPort: 40000, dstPort: 5000, seq: 301, ack: syn.seq + 1, options: { tsVal: 52, tsEcr: synAck.options.tsVal! } });
    expect(connected).toBe(true);
    expect(s.stateName).toBe("ESTABLISHED");
  });

  it("ISNs follow RFC 6528: different per 4-tuple, advancing with the 4 µs clock, reproducible from the seed", () => {
    const isn = (seed: number, port: number, at: number): number => {
      const peer = createTcpTestPeer({ seed });
      peer.clock.advance(at);
      unwrap(peer.tcp.connect(PEER_ADDR, port, { localPort: 5000 }));
      return peer.next().seq;
    };
    expect(isn(1, 80, 0)).toBe(isn(1, 80, 0));
    expect(isn(1, 80, 0)).not.toBe(isn(1, 81, 0));
    expect(isn(1, 80, 0)).not.toBe(isn(2, 80, 0));
    expect((isn(1, 80, 1000) - isn(1, 80, 0)) >>> 0).toBe(250_000);
  });

  it("the SYN is retransmitted with exponential backoff (1, 2, 4 s) and connect fails with ETIMEDOUT after synRetries", () => {
    const peer = createTcpTestPeer({ synRetries: 3 });
    const s = unwrap(peer.tcp.connect(PEER_ADDR, 40000, { localPort: 5000 }));
    let error: StreamErrorCode | undefined | null = null;
    s.onClose((e) => {
      error = e;
    });
    peer.clock.run(60_000);
    const segs = peer.drain();
    expect(segs.map((x) => [flagString(x.flags), x.at])).toEqual([
      ["S", 0],
      ["S", 1000],
      ["S", 3000],
      ["S", 7000],
    ]);
    expect(new Set(segs.map((x) => x.seq)).size).toBe(1);
    expect(error).toBe("ETIMEDOUT");
    expect(peer.tcp.connectionCount).toBe(0);
  });

  it("an RST acknowledging our SYN fails the connect with ECONNREFUSED; one with a wrong ACK is ignored", () => {
    const peer = createTcpTestPeer();
    const s = unwrap(peer.tcp.connect(PEER_ADDR, 40000, { localPort: 5000 }));
    let error: StreamErrorCode | undefined | null = null;
    s.onClose((e) => {
      error = e;
    });
    const syn = peer.next();
    peer.inject({ flags: R | A, srcPort: 40000, dstPort: 5000, seq: 0, ack: syn.seq + 2 });
    expect(error).toBe(null);
    // an unacceptable ACK in SYN-SENT draws a RST <SEQ=SEG.ACK> only when the segment is not a RST
    peer.inject({ flags: A, srcPort: 40000, dstPort: 5000, seq: 5, ack: syn.seq + 7 });
    expect(peer.next()).toMatchObject({ flags: R, seq: syn.seq + 7 });
    peer.inject({ flags: R | A, srcPort: 40000, dstPort: 5000, seq: 0, ack: syn.seq + 1 });
    expect(error).toBe("ECONNREFUSED");
  });

  it("a SYN to a closed port gets RST|ACK acknowledging it; an ACK gets RST with SEQ = SEG.ACK; a RST gets nothing", () => {
    const peer = createTcpTestPeer();
    peer.inject({ flags: S, seq: 77, dstPort: 81, payload: new Uint8Array(3) });
    expect(peer.next()).toMatchObject({ flags: R | A, seq: 0, ack: 77 + 1 + 3, srcPort: 81, dstPort: 40000, window: 0 });
    peer.inject({ flags: A, seq: 77, ack: 12345, dstPort: 81 });
    expect(peer.next()).toMatchObject({ flags: R, seq: 12345 });
    peer.inject({ flags: R, seq: 77, dstPort: 81 });
    expect(peer.sent).toEqual([]);
  });

  it("a segment with a bad checksum is dropped and counted", () => {
    const peer = createTcpTestPeer();
    unwrap(peer.tcp.listen(80));
    const b = new Uint8Array(20);
    b[0] = 0x9c;
    b[1] = 0x40;
    b[3] = 80;
    b[12] = 0x50;
    b[13] = S;
    b[16] = 0x12;
    peer.injectRaw(b);
    expect(peer.sent).toEqual([]);
    expect(peer.tcp.stats.badSegments).toBe(1);
  });
});

describe("TCP data transfer", () => {
  it("sends IW10 segments of MSS 1448 (1460 − timestamps) and no more until ACKed (RFC 6928)", () => {
    const e = establishPassive({ peerWindow: 1000 });
    e.stream.write(new Uint8Array(30_000));
    const segs = e.peer.drain();
    expect(segs.length).toBe(10);
    expect(segs.every((s) => s.payload.length === 1448)).toBe(true);
    expect(segs.map((s) => s.seq - e.localSeq)).toEqual(Array.from({ length: 10 }, (_, i) => i * 1448));
    expect(segs[0]!).toMatchObject({ flags: A, ack: e.peerSeq, window: 8192 });
  });

  it("without quick-ack mode, acknowledges every second full segment at once and a lone segment after the 40 ms delayed-ACK timer", () => {
    const e = establishPassive({ quickAck: false, unread: true });
    const seg = new Uint8Array(1448);
    e.peer.inject({ flags: A, seq: e.peerSeq, ack: e.localSeq, payload: seg, options: ts(e, 200) });
    expect(e.peer.sent).toEqual([]);
    e.peer.inject({ flags: A, seq: e.peerSeq + 1448, ack: e.localSeq, payload: seg, options: ts(e, 201) });
    expect(e.peer.next()).toMatchObject({ flags: A, ack: e.peerSeq + 2896, options: { tsEcr: 200 } });
    e.peer.inject({ flags: A | P, seq: e.peerSeq + 2896, ack: e.localSeq, payload: new Uint8Array(10), options: ts(e, 202) });
    expect(e.peer.sent).toEqual([]);
    e.peer.clock.advance(39);
    expect(e.peer.sent).toEqual([]);
    e.peer.clock.advance(1);
    expect(e.peer.next()).toMatchObject({ flags: A, ack: e.peerSeq + 2906, at: 41 });
    expect(e.events).toEqual([]);
    e.stream.resume();
    expect(e.events).toEqual(["data:1448", "data:1448", "data:10"]);
  });

  it("ackCoalescing (GRO-like): a burst of in-order segments taken in at one instant draws one ACK when the burst is done, one per 64 KiB at most; out-of-order data is ACKed at once; off by default", () => {
    const e = establishPassive({ ackCoalescing: true });
    const seg = new Uint8Array(1448);
    // five segments at one instant (in quick-ack mode, which would ACK each without coalescing)
    for (let i = 0; i < 5; i++) e.peer.inject({ flags: A, seq: e.peerSeq + i * 1448, ack: e.localSeq, payload: seg, options: ts(e, 200 + i) });
    expect(e.peer.sent).toEqual([]);
    e.peer.clock.run(e.peer.clock.now());
    expect(e.peer.next()).toMatchObject({ flags: A, ack: e.peerSeq + 5 * 1448, options: { tsEcr: 200 } });
    expect(e.peer.sent).toEqual([]);
    expect(e.events).toEqual(Array(5).fill("data:1448"));
    // fifty: the 45th fills a GRO packet (45 x 1448 + 1448 > 65536) and is ACKed at once, the last five at the end
    const base = e.peerSeq + 5 * 1448;
    for (let i = 0; i < 50; i++) e.peer.inject({ flags: A, seq: base + i * 1448, ack: e.localSeq, payload: seg, options: ts(e, 300) });
    expect(e.peer.sent.map((s) => s.ack - base)).toEqual([45 * 1448]);
    e.peer.next();
    e.peer.clock.run(e.peer.clock.now());
    expect(e.peer.next()).toMatchObject({ ack: base + 50 * 1448 });
    // a segment past a hole: the duplicate ACK with its SACK block goes at once
    const next = base + 50 * 1448;
    e.peer.inject({ flags: A, seq: next + 1448, ack: e.localSeq, payload: seg, options: ts(e, 400) });
    expect(e.peer.next()).toMatchObject({ ack: next, options: { sackBlocks: [{ left: next + 1448, right: next + 2896 }] } });
    // without the option the same five segments draw an ACK each (quick-ack mode)
    const off = establishPassive();
    for (let i = 0; i < 5; i++) off.peer.inject({ flags: A, seq: off.peerSeq + i * 1448, ack: off.localSeq, payload: seg, options: ts(off, 200 + i) });
    expect(off.peer.sent.map((s) => s.ack - off.peerSeq)).toEqual([1, 2, 3, 4, 5].map((n) => n * 1448));
  });

  it("ACK-on-read (Linux's tcp_cleanup_rbuf): a short segment the application reads at once is ACKed at once, past the quick-ack phase; a lone full segment still waits for the delayed-ACK timer", () => {
    const e = establishPassive({ quickAck: false });
    e.peer.inject({ flags: A | P, seq: e.peerSeq, ack: e.localSeq, payload: new Uint8Array(10), options: ts(e, 200) });
    expect(e.peer.next()).toMatchObject({ flags: A, ack: e.peerSeq + 10, at: 1 });
    e.peer.inject({ flags: A, seq: e.peerSeq + 10, ack: e.localSeq, payload: new Uint8Array(1448), options: ts(e, 201) });
    expect(e.peer.sent).toEqual([]);
    e.peer.clock.advance(40);
    expect(e.peer.next()).toMatchObject({ flags: A, ack: e.peerSeq + 1458, at: 41 });
    // an unread short segment waits; reading it later sends the ACK then
    const u = establishPassive({ quickAck: false, unread: true });
    u.peer.inject({ flags: A | P, seq: u.peerSeq, ack: u.localSeq, payload: new Uint8Array(10), options: ts(u, 200) });
    u.peer.clock.advance(20);
    expect(u.peer.sent).toEqual([]);
    u.stream.resume();
    expect(u.peer.next()).toMatchObject({ flags: A, ack: u.peerSeq + 10, at: 21 });
  });

  it("a retransmission of data already ACKed up to Last.ACK.sent updates TS.Recent, so the duplicate ACK echoes it (RFC 7323 §4.3, as Linux's tcp_sequence with rcv_wup); an older one does not", () => {
    const e = establishPassive();
    e.peer.inject({ flags: A | P, seq: e.peerSeq, ack: e.localSeq, payload: new Uint8Array(100), options: ts(e, 200) });
    expect(e.peer.next()).toMatchObject({ ack: e.peerSeq + 100, options: { tsEcr: 200 } });
    e.peer.inject({ flags: A | P, seq: e.peerSeq + 100, ack: e.localSeq, payload: new Uint8Array(100), options: ts(e, 201) });
    expect(e.peer.next()).toMatchObject({ ack: e.peerSeq + 200, options: { tsEcr: 201 } });
    // the peer lost that ACK and retransmits [100, 200) (end = Last.ACK.sent): echoed
    e.peer.inject({ flags: A | P, seq: e.peerSeq + 100, ack: e.localSeq, payload: new Uint8Array(100), options: ts(e, 900) });
    expect(e.peer.next()).toMatchObject({ ack: e.peerSeq + 200, options: { tsEcr: 900 } });
    // [0, 100) ends before Last.ACK.sent: the ACK keeps echoing TS.Recent
    e.peer.inject({ flags: A | P, seq: e.peerSeq, ack: e.localSeq, payload: new Uint8Array(100), options: ts(e, 950) });
    expect(e.peer.next()).toMatchObject({ ack: e.peerSeq + 200, options: { tsEcr: 900 } });
  });

  it("a small receive buffer the application has emptied is reopened at once when the sender's window falls under one segment (as Linux's tcp_cleanup_rbuf), not after the delayed-ACK timer", () => {
    const e = establishPassive({ quickAck: false, receiveBufferSize: 2048, windowScaleShift: 0 });
    // 1448 of the 2048-byte window: 600 left, less than a segment, and the reader took the data
    e.peer.inject({ flags: A, seq: e.peerSeq, ack: e.localSeq, payload: new Uint8Array(1448), options: ts(e, 200) });
    expect(e.peer.next()).toMatchObject({ flags: A, ack: e.peerSeq + 1448, window: 2048, at: 1 });
    // a buffer that still leaves the sender a full segment waits for the delayed-ACK timer as before
    const big = establishPassive({ quickAck: false, receiveBufferSize: 8192, windowScaleShift: 0 });
    big.peer.inject({ flags: A, seq: big.peerSeq, ack: big.localSeq, payload: new Uint8Array(1448), options: ts(big, 200) });
    expect(big.peer.sent).toEqual([]);
    big.peer.clock.advance(40);
    expect(big.peer.next()).toMatchObject({ flags: A, ack: big.peerSeq + 1448, at: 41 });
  });

  it("an out-of-order segment draws an immediate duplicate ACK with a SACK block; filling the hole ACKs everything", () => {
    const e = establishPassive();
    e.peer.inject({ flags: A, seq: e.peerSeq + 100, ack: e.localSeq, payload: new Uint8Array(50), options: ts(e, 200) });
    const dup = e.peer.next();
    expect(dup).toMatchObject({ flags: A, ack: e.peerSeq });
    expect(dup.options.sackBlocks).toEqual([{ left: e.peerSeq + 100, right: e.peerSeq + 150 }]);
    e.peer.inject({ flags: A, seq: e.peerSeq + 200, ack: e.localSeq, payload: new Uint8Array(10), options: ts(e, 201) });
    expect(e.peer.next().options.sackBlocks).toEqual([
      { left: e.peerSeq + 200, right: e.peerSeq + 210 },
      { left: e.peerSeq + 100, right: e.peerSeq + 150 },
    ]);
    e.peer.inject({ flags: A, seq: e.peerSeq, ack: e.localSeq, payload: new Uint8Array(100), options: ts(e, 202) });
    const ack = e.peer.next();
    expect(ack.ack).toBe(e.peerSeq + 150);
    expect(ack.options.sackBlocks).toEqual([{ left: e.peerSeq + 200, right: e.peerSeq + 210 }]);
    expect(e.events).toEqual(["data:100", "data:50"]);
  });

  it("D-SACK (RFC 2883): a duplicate is reported once, in the first SACK block, ahead of the blocks by recency; counted in stats and info()", () => {
    const e = establishPassive();
    const p = e.peerSeq;
    e.peer.inject({ flags: A, seq: p, ack: e.localSeq, payload: new Uint8Array(100), options: ts(e, 200) });
    expect(e.peer.next()).toMatchObject({ ack: p + 100 });
    expect(e.peer.sent).toEqual([]);
    // entirely old: ACK at once with the duplicate alone (§4.1.1)
    e.peer.inject({ flags: A, seq: p, ack: e.localSeq, payload: new Uint8Array(100), options: ts(e, 201) });
    const d1 = e.peer.next();
    expect(d1).toMatchObject({ flags: A, ack: p + 100 });
    expect(d1.options.sackBlocks).toEqual([{ left: p, right: p + 100 }]);
    // three out-of-order blocks, then a duplicate of the oldest: D-SACK + two blocks (3 with timestamps)
    for (const [i, off] of [300, 500, 700].entries())
      e.peer.inject({ flags: A, seq: p + off, ack: e.localSeq, payload: new Uint8Array(50), options: ts(e, 202 + i) });
    expect(e.peer.drain().pop()!.options.sackBlocks).toEqual([
      { left: p + 700, right: p + 750 },
      { left: p + 500, right: p + 550 },
      { left: p + 300, right: p + 350 },
    ]);
    e.peer.inject({ flags: A, seq: p + 310, ack: e.localSeq, payload: new Uint8Array(20), options: ts(e, 210) });
    expect(e.peer.next().options.sackBlocks).toEqual([
      { left: p + 310, right: p + 330 },
      { left: p + 300, right: p + 350 },
      { left: p + 700, right: p + 750 },
    ]);
    // the next ACK no longer carries it
    e.peer.inject({ flags: A, seq: p + 900, ack: e.localSeq, payload: new Uint8Array(10), options: ts(e, 211) });
    expect(e.peer.next().options.sackBlocks).toEqual([
      { left: p + 900, right: p + 910 },
      { left: p + 300, right: p + 350 },
      { left: p + 700, right: p + 750 },
    ]);
    expect(e.peer.tcp.stats.dsackSent).toBe(2);
    expect(e.conn.info().dsackSent).toBe(2);
  });

  it("with dsack: false a duplicate draws a plain duplicate ACK", () => {
    const e = establishPassive({ dsack: false });
    e.peer.inject({ flags: A, seq: e.peerSeq, ack: e.localSeq, payload: new Uint8Array(100), options: ts(e, 200) });
    e.peer.drain();
    e.peer.inject({ flags: A, seq: e.peerSeq, ack: e.localSeq, payload: new Uint8Array(100), options: ts(e, 201) });
    const d = e.peer.next();
    expect(d).toMatchObject({ flags: A, ack: e.peerSeq + 100 });
    expect(d.options.sackBlocks).toBeUndefined();
    expect(e.peer.tcp.stats.dsackSent).toBe(0);
  });

  it("the out-of-order queue drops segments beyond its memory budget", () => {
    const e = establishPassive({ outOfOrderBudget: 3000 });
    for (let i = 1; i <= 4; i++)
      e.peer.inject({ flags: A, seq: e.peerSeq + i * 1448, ack: e.localSeq, payload: new Uint8Array(1000), options: ts(e, 200 + i) });
    expect(e.peer.tcp.stats.outOfOrderDropped).toBe(1);
    const last = e.peer.drain().pop()!;
    expect(last.options.sackBlocks?.length).toBe(3);
  });

  it("Nagle holds a second small write until the first is ACKed; setNoDelay(true) sends it at once", () => {
    const e = establishPassive();
    e.stream.write(new Uint8Array(10));
    expect(e.peer.next().payload.length).toBe(10);
    e.stream.write(new Uint8Array(10));
    e.stream.write(new Uint8Array(10));
    expect(e.peer.sent).toEqual([]);
    e.peer.inject({ flags: A, seq: e.peerSeq, ack: e.localSeq + 10, options: ts(e, 200) });
    expect(e.peer.next()).toMatchObject({ seq: e.localSeq + 10, flags: A | P });
    e.stream.setNoDelay(true);
    e.stream.write(new Uint8Array(5));
    expect(e.peer.next()).toMatchObject({ seq: e.localSeq + 30 });
  });

  it("sender SWS avoidance: a usable window smaller than an MSS and half the peer's largest window is not used (RFC 9293 §3.8.6.2.1)", () => {
    const e = establishPassive({ withOptions: false, peerWindow: 1000 });
    e.stream.write(new Uint8Array(3000));
    expect(e.peer.drain().map((s) => s.payload.length)).toEqual([536]);
    e.peer.inject({ flags: A, seq: e.peerSeq, ack: e.localSeq + 536, window: 1000 });
    expect(e.peer.drain().map((s) => s.payload.length)).toEqual([536]);
    // 500 bytes is below an MSS and below half the largest window seen (64240 in the SYN): held,
    // until the persist timer overrides SWS avoidance
    e.peer.inject({ flags: A, seq: e.peerSeq, ack: e.localSeq + 1072, window: 500 });
    expect(e.peer.sent).toEqual([]);
    e.peer.clock.advance(e.conn.info().rtoMs);
    expect(e.peer.drain().map((s) => s.payload.length)).toEqual([500]);
  });

  it("write() reports backpressure above sendBufferSize and onDrain fires once the peer ACKs", () => {
    const e = establishPassive({ sendBufferSize: 4000 });
    expect(e.stream.write(new Uint8Array(3000))).toBe(true);
    expect(e.stream.write(new Uint8Array(3000))).toBe(false);
    expect(e.stream.bufferedAmount).toBe(6000);
    let drained = 0;
    e.stream.onDrain(() => drained++);
    e.peer.drain();
    e.peer.inject({ flags: A, seq: e.peerSeq, ack: e.localSeq + 2896, options: ts(e, 200) });
    expect(drained).toBe(1);
    expect(e.stream.bufferedAmount).toBe(3104);
  });

  it("pausing closes the receive window to zero; a zero-window probe is answered with window 0; resume sends a window update", () => {
    const e = establishPassive({ receiveBufferSize: 8192, windowScaleShift: 0 });
    e.stream.pause();
    let seq = e.peerSeq;
    for (let i = 0; i < 8; i++) {
      e.peer.inject({ flags: A, seq, ack: e.localSeq, payload: new Uint8Array(1024), options: ts(e, 200 + i) });
      seq += 1024;
    }
    e.peer.clock.advance(40);
    const acks = e.peer.drain();
    expect(acks.at(-1)).toMatchObject({ ack: seq, window: 0 });
    // data into a zero window is not accepted: ACK with window 0, RCV.NXT unchanged
    e.peer.inject({ flags: A, seq, ack: e.localSeq, payload: new Uint8Array(1), options: ts(e, 300) });
    expect(e.peer.next()).toMatchObject({ ack: seq, window: 0 });
    e.peer.inject({ flags: A, seq: seq - 1, ack: e.localSeq, options: ts(e, 301) });
    expect(e.peer.next()).toMatchObject({ ack: seq, window: 0 });
    expect(e.events).toEqual([]);
    e.stream.resume();
    expect(e.events.length).toBe(8);
    expect(e.peer.next()).toMatchObject({ ack: seq, window: 8192 });
  });

  it("receiver SWS avoidance: a window reopened by less than an MSS is not advertised; a window update goes out once 2·MSS are free", () => {
    const e = establishPassive({ receiveBufferSize: 8192, windowScaleShift: 0 });
    e.stream.pause();
    let seq = e.peerSeq;
    for (let i = 0; i < 8; i++) {
      e.peer.inject({ flags: A, seq, ack: e.localSeq, payload: new Uint8Array(1024), options: ts(e, 200 + i) });
      seq += 1024;
    }
    e.peer.clock.advance(40);
    expect(e.peer.drain().at(-1)).toMatchObject({ ack: seq, window: 0 });
    // the reader takes one 1024-byte chunk at a time
    let chunks = 0;
    e.stream.onData(() => {
      chunks++;
      e.stream.pause();
    });
    e.stream.resume();
    expect(chunks).toBe(1);
    expect(e.peer.sent).toEqual([]);
    e.stream.resume();
    expect(chunks).toBe(2);
    expect(e.peer.sent).toEqual([]);
    e.stream.resume();
    expect(chunks).toBe(3);
    expect(e.peer.next()).toMatchObject({ flags: A, ack: seq, window: 3072 });
  });

  it("the sender probes a zero window with SEG.SEQ = SND.UNA − 1 on the persist timer, backing off, and resumes when it opens", () => {
    const e = establishPassive();
    e.peer.inject({ flags: A, seq: e.peerSeq, ack: e.localSeq, window: 0, options: ts(e, 200) });
    e.stream.write(new Uint8Array(100));
    expect(e.peer.sent).toEqual([]);
    e.peer.clock.run(e.peer.clock.now() + 5000);
    const probes = e.peer.drain();
    expect(probes.length).toBeGreaterThanOrEqual(3);
    for (const p of probes) expect(p).toMatchObject({ flags: A, seq: (e.localSeq - 1) >>> 0, payload: new Uint8Array(0) });
    const gaps = probes.slice(1).map((p, i) => p.at - probes[i]!.at);
    expect(gaps[1]).toBe(gaps[0]! * 2);
    e.peer.inject({ flags: A, seq: e.peerSeq, ack: e.localSeq, window: 100, options: ts(e, 201) });
    expect(e.peer.next()).toMatchObject({ seq: e.localSeq, payload: new Uint8Array(100) });
  });

  it("the receive window field is the free buffer scaled by the shift we offered (RFC 7323 §2.3)", () => {
    const e = establishPassive({ receiveBufferSize: 256 * 1024 });
    e.peer.inject({ flags: A, seq: e.peerSeq, ack: e.localSeq, payload: new Uint8Array(1448), options: ts(e, 200) });
    e.peer.clock.advance(40);
    expect(e.peer.next().window).toBe((256 * 1024) >> 7);
  });

  it("half-close: after end() the stack sends FIN and still receives data until the peer's FIN", () => {
    const e = establishPassive();
    e.stream.end();
    expect(e.peer.next()).toMatchObject({ flags: F | A, seq: e.localSeq });
    e.peer.inject({ flags: A, seq: e.peerSeq, ack: e.localSeq + 1, options: ts(e, 200) });
    expect(e.conn.stateName).toBe("FIN-WAIT-2");
    e.peer.inject({ flags: A | P, seq: e.peerSeq, ack: e.localSeq + 1, payload: new Uint8Array(30), options: ts(e, 201) });
    expect(e.events).toEqual(["data:30"]);
    // the connection's first data: a quick ACK
    expect(e.peer.next()).toMatchObject({ flags: A, ack: e.peerSeq + 30 });
    e.peer.inject({ flags: F | A, seq: e.peerSeq + 30, ack: e.localSeq + 1, options: ts(e, 202) });
    expect(e.peer.next()).toMatchObject({ flags: A, ack: e.peerSeq + 31 });
    expect(e.events).toEqual(["data:30", "end", "close:"]);
    expect(e.conn.stateName).toBe("TIME-WAIT");
  });

  it("a paused reader keeps data that arrived before the connection closed: data, end and close follow resume()", () => {
    const e = establishPassive();
    e.stream.pause();
    e.peer.inject({ flags: A | P | F, seq: e.peerSeq, ack: e.localSeq, payload: new Uint8Array(10), options: ts(e, 200) });
    e.stream.end();
    e.peer.drain();
    e.peer.inject({ flags: A, seq: e.peerSeq + 11, ack: e.localSeq + 1, options: ts(e, 201) });
    expect(e.conn.stateName).toBe("CLOSED");
    expect(e.events).toEqual([]);
    e.stream.resume();
    expect(e.events).toEqual(["data:10", "end", "close:"]);
  });

  it("destroy() discards data a paused reader has not taken", () => {
    const e = establishPassive();
    e.stream.pause();
    e.peer.inject({ flags: A | P, seq: e.peerSeq, ack: e.localSeq, payload: new Uint8Array(10), options: ts(e, 200) });
    e.stream.destroy();
    e.stream.resume();
    expect(e.events).toEqual(["close:"]);
  });

  it("write() after end() is a programmer error with code ERR_STREAM_WRITE_AFTER_END", () => {
    const e = establishPassive();
    e.stream.end();
    expect(() => e.stream.write(new Uint8Array(1))).toThrow(expect.objectContaining({ code: "ERR_STREAM_WRITE_AFTER_END" }));
  });
});

describe("TCP quick-ack mode (as Linux: tcp_incr_quickack, TCP_MAX_QUICKACKS)", () => {
  /** Injects `n` 100-byte segments from the peer, one per `gapMs`, from sequence offset `from`. */
  function send(e: Established, from: number, n: number, gapMs: number): void {
    for (let i = 0; i < n; i++) {
      if (i > 0) e.peer.clock.advance(gapMs);
      e.peer.inject({ flags: A | P, seq: e.peerSeq + from + 100 * i, ack: e.localSeq, payload: new Uint8Array(100), options: ts(e, 200 + from / 100 + i) });
    }
  }
  const acks = (e: Established): [string, number, number][] => e.peer.drain().map((x) => [flagString(x.flags), x.ack - e.peerSeq, x.at]);

  it("the first 16 data segments of a connection are ACKed at once, the 17th after the 40 ms delayed-ACK timer", () => {
    const e = establishPassive({ unread: true });
    const t0 = e.peer.clock.now();
    send(e, 0, 17, 1);
    expect(acks(e)).toEqual(Array.from({ length: 16 }, (_, i) => ["A", 100 * (i + 1), t0 + i]));
    e.peer.clock.run(t0 + 16 + 39);
    expect(e.peer.sent).toEqual([]);
    e.peer.clock.run(t0 + 16 + 40);
    expect(acks(e)).toEqual([["A", 1700, t0 + 56]]);
  });

  it("the quick ACKs are half the advertised window in full segments: 8192 / (2 · 1448) = 2", () => {
    const e = establishPassive({ receiveBufferSize: 8192, windowScaleShift: 0, unread: true });
    const t0 = e.peer.clock.now();
    send(e, 0, 3, 1);
    e.peer.clock.run(t0 + 100);
    expect(acks(e)).toEqual([
      ["A", 100, t0],
      ["A", 200, t0 + 1],
      ["A", 300, t0 + 42],
    ]);
  });

  it("data after a silence longer than the RTO earns quick ACKs again; a shorter silence does not", () => {
    const e = establishPassive({ receiveBufferSize: 8192, windowScaleShift: 0, unread: true });
    send(e, 0, 3, 1);
    e.peer.clock.advance(100);
    e.peer.drain();
    expect(e.conn.info().rtoMs).toBe(200);
    // 100 ms after the last data (less than the RTO): delayed
    const t1 = e.peer.clock.now();
    send(e, 300, 1, 0);
    e.peer.clock.advance(100);
    expect(acks(e)).toEqual([["A", 400, t1 + 40]]);
    // 300 ms after the last data: two quick ACKs, then delayed again
    e.peer.clock.advance(200);
    const t2 = e.peer.clock.now();
    send(e, 400, 3, 1);
    e.peer.clock.advance(100);
    expect(acks(e)).toEqual([
      ["A", 500, t2],
      ["A", 600, t2 + 1],
      ["A", 700, t2 + 42],
    ]);
  });

  it("a duplicate data segment is ACKed at once and re-enters quick-ack mode", () => {
    const e = establishPassive({ receiveBufferSize: 8192, windowScaleShift: 0, unread: true });
    send(e, 0, 3, 1);
    e.peer.clock.advance(100);
    e.peer.drain();
    const t1 = e.peer.clock.now();
    // (a retransmission reaching Last.ACK.sent updates TS.Recent: its TSval stays below the next data's)
    e.peer.inject({ flags: A | P, seq: e.peerSeq + 200, ack: e.localSeq, payload: new Uint8Array(100), options: ts(e, 202) });
    expect(acks(e)).toEqual([["A", 300, t1]]);
    e.peer.clock.advance(1);
    send(e, 300, 3, 1);
    e.peer.clock.advance(100);
    expect(acks(e)).toEqual([
      ["A", 400, t1 + 1],
      ["A", 500, t1 + 2],
      ["A", 600, t1 + 43],
    ]);
  });

  it("answering data within the delayed-ACK time makes the connection interactive: the next ACK waits and rides on the reply", () => {
    const e = establishPassive();
    const t0 = e.peer.clock.now();
    send(e, 0, 1, 0);
    expect(acks(e)).toEqual([["A", 100, t0]]);
    e.peer.clock.advance(5);
    e.stream.write(new Uint8Array(10));
    expect(e.peer.next()).toMatchObject({ flags: A | P, ack: e.peerSeq + 100, at: t0 + 5 });
    e.peer.clock.advance(5);
    e.peer.inject({ flags: A | P, seq: e.peerSeq + 100, ack: e.localSeq + 10, payload: new Uint8Array(100), options: ts(e, 300) });
    expect(e.peer.sent).toEqual([]);
    e.peer.clock.advance(10);
    e.stream.write(new Uint8Array(10));
    expect(acks(e)).toEqual([["PA", 200, t0 + 20]]);
    // a request with no reply: the delayed ACK goes out at 40 ms and the connection is no longer interactive
    e.peer.inject({ flags: A | P, seq: e.peerSeq + 200, ack: e.localSeq + 20, payload: new Uint8Array(100), options: ts(e, 301) });
    e.peer.clock.advance(40);
    expect(acks(e)).toEqual([["A", 300, t0 + 60]]);
    e.peer.clock.advance(100);
    e.peer.inject({ flags: A | P, seq: e.peerSeq + 300, ack: e.localSeq + 20, payload: new Uint8Array(100), options: ts(e, 302) });
    expect(acks(e)).toEqual([["A", 400, t0 + 160]]);
  });
});

describe("TCP retransmission and recovery", () => {
  it("retransmits unacknowledged data at the RTO, doubling it each time, and fails with ETIMEDOUT after `retries`", () => {
    const e = establishPassive({ retries: 3, tailLossProbe: false });
    e.stream.write(new Uint8Array(100));
    const first = e.peer.next();
    e.peer.clock.run(e.peer.clock.now() + 100_000);
    const rtx = e.peer.drain();
    expect(rtx.map((s) => s.seq)).toEqual([e.localSeq, e.localSeq, e.localSeq]);
    const times = [first.at, ...rtx.map((s) => s.at)];
    const gaps = times.slice(1).map((t, i) => t - times[i]!);
    // RTT sample from the handshake was 1 ms: RTO = max(200, 1 + 4·0.5) = 200 ms, then backoff
    expect(gaps).toEqual([200, 400, 800]);
    expect(e.events).toEqual(["close:ETIMEDOUT"]);
  });

  it("the first RTO before any RTT sample is 1 s (RFC 6298 §2.1): a retransmitted SYN-ACK is not timed (Karn)", () => {
    const peer = createTcpTestPeer();
    const l = unwrap(peer.tcp.listen(80));
    let conn: TcpConnection | undefined;
    l.onConnection((s) => {
      conn = s as TcpConnection;
    });
    peer.inject({ flags: S, seq: PEER_ISN, window: 64240 });
    const synAck = peer.next();
    peer.clock.advance(1000);
    expect(peer.next()).toMatchObject({ flags: S | A, seq: synAck.seq, at: 1000 });
    peer.clock.advance(10);
    peer.inject({ flags: A, seq: PEER_ISN + 1, ack: synAck.seq + 1, window: 1000 });
    expect(conn!.info()).toMatchObject({ state: "ESTABLISHED", srttMs: 0, rtoMs: 1000 });
    conn!.write(new Uint8Array(100));
    const first = peer.next();
    peer.clock.run(peer.clock.now() + 1500);
    expect(peer.next().at - first.at).toBe(1000);
  });

  it("the ACK of a SYN-ACK sent once gives an RTT sample without timestamps (RFC 6298 §2.2): 100 ms, so the first RTO is 300 ms", () => {
    const peer = createTcpTestPeer();
    const l = unwrap(peer.tcp.listen(80));
    let conn: TcpConnection | undefined;
    l.onConnection((s) => {
      conn = s as TcpConnection;
    });
    peer.inject({ flags: S, seq: PEER_ISN, window: 64240, options: { mss: 1000 } });
    const synAck = peer.next();
    peer.clock.advance(100);
    peer.inject({ flags: A, seq: PEER_ISN + 1, ack: synAck.seq + 1, window: 1000 });
    // SRTT 100, RTTVAR 50: RTO = 100 + 4·50 = 300 ms
    expect(conn!.info()).toMatchObject({ srttMs: 100, rtoMs: 300 });
    conn!.write(new Uint8Array(100));
    expect(peer.next()).toMatchObject({ flags: A | P, seq: synAck.seq + 1, at: 100 });
    peer.clock.run(1000);
    expect(peer.drain().map((x) => [flagString(x.flags), x.seq - synAck.seq, x.payload.length, x.at])).toEqual([
      ["PA", 1, 100, 400],
      ["PA", 1, 100, 1000],
    ]);
  });

  it("with SACK, a tail loss probe due with the RTO goes first, and the RTO follows from the probe: +300, +300, +600 ms (as Linux)", () => {
    const peer = createTcpTestPeer();
    const l = unwrap(peer.tcp.listen(80));
    let conn: TcpConnection | undefined;
    l.onConnection((s) => {
      conn = s as TcpConnection;
    });
    peer.inject({ flags: S, seq: PEER_ISN, window: 32792, options: { mss: 1000, sackPermitted: true, windowScale: 7 } });
    const synAck = peer.next();
    peer.clock.advance(100);
    peer.inject({ flags: A, seq: PEER_ISN + 1, ack: synAck.seq + 1, window: 257 });
    conn!.write(new Uint8Array(1000));
    // PTO = min(2·SRTT + 200 ms (one segment in flight), RTO) = min(400, 300)
    peer.clock.run(1300);
    expect(peer.drain().map((x) => [flagString(x.flags), x.seq - synAck.seq, x.payload.length, x.at])).toEqual([
      ["PA", 1, 1000, 100],
      ["PA", 1, 1000, 400],
      ["PA", 1, 1000, 700],
      ["PA", 1, 1000, 1300],
    ]);
    expect(peer.tcp.stats).toMatchObject({ tailLossProbes: 1, timeouts: 2 });
  });

  it("three duplicate ACKs trigger a fast retransmit and NewReno halves cwnd (no SACK)", () => {
    const e = establishPassive({ withOptions: false, peerWindow: 65535, congestionControl: "newreno" });
    e.stream.write(new Uint8Array(536 * 10));
    expect(e.peer.drain().length).toBe(10);
    for (let i = 0; i < 2; i++) e.peer.inject({ flags: A, seq: e.peerSeq, ack: e.localSeq, window: 65535 });
    // limited transmit (RFC 3042) would send new data; there is none
    expect(e.peer.sent).toEqual([]);
    e.peer.inject({ flags: A, seq: e.peerSeq, ack: e.localSeq, window: 65535 });
    expect(e.peer.next()).toMatchObject({ seq: e.localSeq, payload: new Uint8Array(536) });
    expect(e.peer.tcp.stats.fastRetransmits).toBe(1);
    expect(e.conn.info().ssthresh).toBe(536 * 5);
    // partial ACK: the next hole is retransmitted at once (RFC 6582 §3.2 step 5)
    e.peer.inject({ flags: A, seq: e.peerSeq, ack: e.localSeq + 536 * 3, window: 65535 });
    expect(e.peer.next()).toMatchObject({ seq: e.localSeq + 536 * 3, payload: new Uint8Array(536) });
    e.peer.inject({ flags: A, seq: e.peerSeq, ack: e.localSeq + 536 * 10, window: 65535 });
    expect(e.conn.info().cwnd).toBe(536 * 5);
  });

  it("limited transmit sends one new segment on each of the first two duplicate ACKs (RFC 3042)", () => {
    const e = establishPassive({ withOptions: false, peerWindow: 65535 });
    e.stream.write(new Uint8Array(536 * 12));
    expect(e.peer.drain().length).toBe(10);
    e.peer.inject({ flags: A, seq: e.peerSeq, ack: e.localSeq, window: 65535 });
    expect(e.peer.next().seq).toBe(e.localSeq + 536 * 10);
    e.peer.inject({ flags: A, seq: e.peerSeq, ack: e.localSeq, window: 65535 });
    expect(e.peer.next().seq).toBe(e.localSeq + 536 * 11);
  });

  it("SACK-based recovery retransmits only the holes the peer reports (RFC 6675)", () => {
    const e = establishPassive({ peerWindow: 1000 });
    const mss = 1448;
    e.stream.write(new Uint8Array(mss * 10));
    expect(e.peer.drain().length).toBe(10);
    const base = e.localSeq;
    // segments 0 and 4 lost; the peer SACKs 1-3 and 5-9 over three ACKs
    const sack = (blocks: [number, number][], i: number) =>
      e.peer.inject({
        flags: A,
        seq: e.peerSeq,
        ack: base,
        window: 1000,
        options: { ...ts(e, 300 + i), sackBlocks: blocks.map(([l, r]) => ({ left: base + l * mss, right: base + r * mss })) },
      });
    sack([[1, 2]], 0);
    sack([[1, 3]], 1);
    sack([[1, 4]], 2);
    const r1 = e.peer.drain();
    expect(r1.map((s) => s.seq - base)).toEqual([0]);
    // from here the peer echoes the retransmission's timestamp, as a receiver whose hole it filled
    // does (RFC 7323 §4.3): an older echo would show the retransmission spurious (RFC 3522)
    e.lastTsVal = r1[0]!.options.tsVal!;
    sack(
      [
        [5, 10],
        [1, 4],
      ],
      3,
    );
    const r2 = e.peer.drain();
    expect(r2.map((s) => (s.seq - base) / mss)).toEqual([4]);
    e.peer.inject({
      flags: A,
      seq: e.peerSeq,
      ack: base + 4 * mss,
      window: 1000,
      options: { ...ts(e, 310), sackBlocks: [{ left: base + 5 * mss, right: base + 10 * mss }] },
    });
    e.peer.inject({ flags: A, seq: e.peerSeq, ack: base + 10 * mss, window: 1000, options: ts(e, 311) });
    expect(e.peer.tcp.stats.retransmits).toBe(2);
    expect(e.conn.info().bytesInFlight).toBe(0);
  });

  it("a tail loss probe retransmits the last segment max(2·SRTT, 10 ms) after the last send, before the RTO (RFC 8985 §7)", () => {
    const e = establishPassive();
    e.peer.clock.advance(10);
    // an RTT sample of 10 ms
    e.stream.write(new Uint8Array(100));
    e.peer.next();
    e.peer.clock.advance(10);
    e.peer.inject({ flags: A, seq: e.peerSeq, ack: e.localSeq + 100, options: ts(e, 200) });
    const srtt = e.conn.info().srttMs;
    e.stream.write(new Uint8Array(1448 * 4));
    const sent = e.peer.drain();
    expect(sent.length).toBe(4);
    const t0 = e.peer.clock.now();
    const pto = Math.max(2 * srtt, 10);
    e.peer.clock.run(t0 + pto - 0.001);
    expect(e.peer.sent).toEqual([]);
    e.peer.clock.run(t0 + pto);
    expect(e.peer.next()).toMatchObject({ seq: sent[3]!.seq, payload: new Uint8Array(1448) });
    expect(e.peer.tcp.stats.tailLossProbes).toBe(1);
    // the probe's SACK shows the first three missing: SACK recovery starts at once
    e.peer.inject({
      flags: A,
      seq: e.peerSeq,
      ack: e.localSeq + 100,
      options: { ...ts(e, 201), sackBlocks: [{ left: sent[3]!.seq, right: sent[3]!.seq + 1448 }] },
    });
    expect(e.peer.sent.length).toBe(0);
  });

  it("a lost retransmission is detected when the peer SACKs data sent after it, and is resent without waiting for the RTO", () => {
    const e = establishPassive({ peerWindow: 1000 });
    const mss = 1448;
    e.stream.write(new Uint8Array(mss * 20));
    expect(e.peer.drain().length).toBe(10);
    const base = e.localSeq;
    let tsv = 300;
    const sack = (blocks: [number, number][]) => {
      e.peer.inject({
        flags: A,
        seq: e.peerSeq,
        ack: base,
        window: 1000,
        options: { ...ts(e, tsv++), sackBlocks: blocks.map(([l, r]) => ({ left: base + l * mss, right: base + r * mss })) },
      });
      return e.peer.drain().map((x) => (x.seq - base) / mss);
    };
    // limited transmit and recovery send new data along the way; the first retransmission is of 0
    const early = [...sack([[1, 2]]), ...sack([[1, 3]])];
    const atRecovery = sack([[1, 4]]);
    expect(atRecovery[0]).toBe(0);
    expect(early.every((i) => i >= 10)).toBe(true);
    const highAtRetransmission = Math.max(9, ...early, ...atRecovery) + 1;
    // everything sent before the retransmission but 0 arrives: more new data goes out
    const more = sack([[1, highAtRetransmission]]);
    expect(more.length).toBeGreaterThan(0);
    expect(more.every((i) => i >= highAtRetransmission)).toBe(true);
    // the peer now holds data sent after the retransmission of 0, but still not 0 itself
    expect(sack([[1, Math.max(...more) + 1]])).toContain(0);
    expect(e.peer.tcp.stats.lostRetransmits).toBe(1);
    expect(e.peer.tcp.stats.timeouts).toBe(0);
  });

  it("after an RTO pulls the send point back, pure ACKs still carry the highest sequence sent", () => {
    const e = establishPassive({ tailLossProbe: false });
    e.stream.write(new Uint8Array(1448 * 4));
    e.peer.drain();
    e.peer.clock.run(e.peer.clock.now() + 250);
    expect(e.peer.drain().map((x) => x.seq - e.localSeq)).toEqual([0]);
    e.peer.inject({ flags: A, seq: e.peerSeq, ack: e.localSeq, payload: new Uint8Array(10), options: ts(e, 300) });
    e.peer.clock.advance(40);
    expect(e.peer.next()).toMatchObject({ flags: A, seq: e.localSeq + 4 * 1448, ack: e.peerSeq + 10 });
  });

  it("out-of-window pure ACKs are answered at most once per 500 ms; out-of-window data always", () => {
    const e = establishPassive();
    for (let i = 0; i < 5; i++) e.peer.inject({ flags: A, seq: e.peerSeq - 1000, ack: e.localSeq, options: ts(e, 300 + i) });
    expect(e.peer.drain().length).toBe(1);
    for (let i = 0; i < 3; i++) e.peer.inject({ flags: A, seq: e.peerSeq - 1000, ack: e.localSeq, payload: new Uint8Array(10), options: ts(e, 310 + i) });
    expect(e.peer.drain().length).toBe(3);
    e.peer.clock.advance(500);
    e.peer.inject({ flags: A, seq: e.peerSeq - 1000, ack: e.localSeq, options: ts(e, 320) });
    expect(e.peer.drain().length).toBe(1);
  });

  it("an RTO after a loss goes back to SND.UNA with cwnd of one segment", () => {
    const e = establishPassive({ tailLossProbe: false });
    e.stream.write(new Uint8Array(1448 * 4));
    e.peer.drain();
    e.peer.clock.run(e.peer.clock.now() + 250);
    const rtx = e.peer.drain();
    expect(rtx.map((s) => s.seq - e.localSeq)).toEqual([0]);
    expect(e.conn.info().cwnd).toBe(1448);
  });
});

describe("TCP timestamps and PAWS", () => {
  it("a segment whose TSval is older than TS.Recent by more than one tick is dropped and answered with an ACK (RFC 7323 §5.3)", () => {
    const e = establishPassive();
    e.peer.inject({ flags: A, seq: e.peerSeq, ack: e.localSeq, payload: new Uint8Array(10), options: ts(e, 500) });
    e.peer.clock.advance(40);
    e.peer.drain();
    e.peer.inject({ flags: A, seq: e.peerSeq + 10, ack: e.localSeq, payload: new Uint8Array(10), options: ts(e, 498) });
    expect(e.peer.next()).toMatchObject({ flags: A, ack: e.peerSeq + 10, options: { tsEcr: 500 } });
    expect(e.events).toEqual(["data:10"]);
    expect(e.peer.tcp.stats.pawsRejected).toBe(1);
  });

  it("one tick older than TS.Recent passes PAWS, as Linux's TCP_PAWS_WINDOW (tcp_paws_discard), and TS.Recent stays", () => {
    const e = establishPassive();
    e.peer.inject({ flags: A, seq: e.peerSeq, ack: e.localSeq, payload: new Uint8Array(10), options: ts(e, 500) });
    e.peer.clock.advance(40);
    e.peer.drain();
    e.peer.inject({ flags: A, seq: e.peerSeq + 10, ack: e.localSeq, payload: new Uint8Array(10), options: ts(e, 499) });
    e.peer.clock.advance(40);
    expect(e.peer.drain().at(-1)).toMatchObject({ flags: A, ack: e.peerSeq + 20, options: { tsEcr: 500 } });
    expect(e.events).toEqual(["data:10", "data:10"]);
    expect(e.peer.tcp.stats.pawsRejected).toBe(0);
  });

  it("an old duplicate dropped by PAWS is reported in a D-SACK (Linux's tcp_send_dupack): the original of a retransmission that overtook it", () => {
    const e = establishPassive();
    // the retransmission arrives first, then its original, sent 10 ms earlier
    e.peer.inject({ flags: A, seq: e.peerSeq, ack: e.localSeq, payload: new Uint8Array(10), options: ts(e, 510) });
    e.peer.clock.advance(40);
    e.peer.drain();
    e.peer.inject({ flags: A, seq: e.peerSeq, ack: e.localSeq, payload: new Uint8Array(10), options: ts(e, 500) });
    expect(e.peer.next()).toMatchObject({
      flags: A,
      ack: e.peerSeq + 10,
      options: { tsEcr: 510, sackBlocks: [{ left: e.peerSeq, right: e.peerSeq + 10 }] },
    });
    expect(e.peer.tcp.stats).toMatchObject({ pawsRejected: 1, dsackSent: 1 });
  });

  it("a duplicate ACK overtaken by a newer one is processed despite its older TSval (Linux's tcp_disordered_ack): its D-SACK counts, its smaller window does not", () => {
    const e = establishPassive();
    e.stream.write(new Uint8Array(3000));
    e.peer.drain();
    e.peer.inject({ flags: A, seq: e.peerSeq, ack: e.localSeq + 3000, window: 1000, options: ts(e, 300) });
    const window = e.conn.info().sendWindow;
    // sent before the ACK above, with a D-SACK for a duplicate the peer got
    e.peer.inject({
      flags: A,
      seq: e.peerSeq,
      ack: e.localSeq + 3000,
      window: 900,
      options: { ...ts(e, 298), sackBlocks: [{ left: e.localSeq, right: e.localSeq + 1000 }] },
    });
    expect(e.peer.sent).toEqual([]);
    expect(e.conn.info()).toMatchObject({ dsackReceived: 1, sendWindow: window });
    expect(e.peer.tcp.stats.pawsRejected).toBe(0);
  });

  it("pure ACKs dropped by PAWS: one below RCV.NXT goes unanswered, others draw an ACK at most once per 500 ms (as Linux)", () => {
    const e = establishPassive();
    e.peer.inject({ flags: A, seq: e.peerSeq, ack: e.localSeq, payload: new Uint8Array(10), options: ts(e, 300) });
    e.peer.clock.advance(40);
    e.peer.drain();
    e.stream.write(new Uint8Array(2000));
    e.peer.drain();
    e.peer.inject({ flags: A, seq: e.peerSeq + 10, ack: e.localSeq + 2000, window: 1000, options: ts(e, 301) });
    // an ACK sent before the 10 bytes: old
    e.peer.inject({ flags: A, seq: e.peerSeq, ack: e.localSeq, window: 1000, options: ts(e, 290) });
    expect(e.peer.sent).toEqual([]);
    // ACKs at RCV.NXT, older than TS.Recent, acknowledging less than SND.UNA
    for (let i = 0; i < 3; i++) e.peer.inject({ flags: A, seq: e.peerSeq + 10, ack: e.localSeq + 1000, window: 1000, options: ts(e, 295) });
    expect(e.peer.drain()).toHaveLength(1);
    e.peer.clock.advance(500);
    e.peer.inject({ flags: A, seq: e.peerSeq + 10, ack: e.localSeq + 1000, window: 1000, options: ts(e, 295) });
    expect(e.peer.drain()).toHaveLength(1);
    expect(e.peer.tcp.stats.pawsRejected).toBe(5);
  });

  it("every segment after the handshake carries NOP NOP TS with TSecr = TS.Recent", () => {
    const e = establishPassive();
    e.stream.write(new Uint8Array(5));
    const s = e.peer.next();
    expect(Array.from(s.raw.subarray(20, 24))).toEqual([1, 1, 8, 10]);
    expect(s.options.tsEcr).toBe(101);
  });
});

describe("TCP close paths", () => {
  it("active close: FIN-WAIT-1, FIN-WAIT-2, TIME-WAIT for 2·MSL, then CLOSED", () => {
    const e = establishPassive({ mslMs: 1000 });
    e.stream.end();
    const fin = e.peer.next();
    expect(fin).toMatchObject({ flags: F | A, seq: e.localSeq, ack: e.peerSeq });
    expect(e.conn.stateName).toBe("FIN-WAIT-1");
    e.peer.inject({ flags: A, seq: e.peerSeq, ack: e.localSeq + 1, options: ts(e, 200) });
    expect(e.conn.stateName).toBe("FIN-WAIT-2");
    e.peer.inject({ flags: F | A, seq: e.peerSeq, ack: e.localSeq + 1, options: ts(e, 201) });
    expect(e.peer.next()).toMatchObject({ flags: A, seq: e.localSeq + 1, ack: e.peerSeq + 1 });
    expect(e.conn.stateName).toBe("TIME-WAIT");
    const t = e.peer.clock.now();
    e.peer.clock.run(t + 1999);
    expect(e.peer.tcp.connectionCount).toBe(1);
    e.peer.clock.run(t + 2000);
    expect(e.peer.tcp.connectionCount).toBe(0);
    expect(e.events).toEqual(["end", "close:"]);
  });

  it("TIME-WAIT ACKs a retransmitted FIN and restarts its 2·MSL timer", () => {
    const e = establishPassive({ mslMs: 1000 });
    e.stream.end();
    e.peer.drain();
    e.peer.inject({ flags: F | A, seq: e.peerSeq, ack: e.localSeq + 1, options: ts(e, 200) });
    e.peer.drain();
    expect(e.conn.stateName).toBe("TIME-WAIT");
    e.peer.clock.advance(1500);
    e.peer.inject({ flags: F | A, seq: e.peerSeq, ack: e.localSeq + 1, options: ts(e, 201) });
    expect(e.peer.next()).toMatchObject({ flags: A, ack: e.peerSeq + 1 });
    e.peer.clock.advance(1999);
    expect(e.peer.tcp.connectionCount).toBe(1);
    e.peer.clock.advance(1);
    expect(e.peer.tcp.connectionCount).toBe(0);
  });

  it("TIME-WAIT is a record in the layer: it re-ACKs with timestamps, challenges an old SYN and an in-window RST off RCV.NXT, and reads CLOSED once 2·MSL ran out", () => {
    const e = establishPassive({ mslMs: 1000 });
    e.stream.end();
    e.peer.drain();
    e.peer.inject({ flags: F | A, seq: e.peerSeq, ack: e.localSeq + 1, options: ts(e, 200) });
    const lastAck = e.peer.next();
    expect(e.conn.stateName).toBe("TIME-WAIT");
    expect(e.peer.tcp.timeWaitCount).toBe(1);
    expect(e.peer.tcp.stats.timeWaitCount).toBe(1);
    e.peer.clock.advance(10);
    // a SYN without timestamps below RCV.NXT is not a reuse: challenge ACK (RFC 5961 §4.2)
    e.peer.inject({ flags: S, seq: e.peerSeq - 100_000, options: { mss: 1460 } });
    expect(e.peer.next()).toMatchObject({
      flags: A,
      seq: e.localSeq + 1,
      ack: e.peerSeq + 1,
      window: lastAck.window,
      options: { tsVal: lastAck.options.tsVal! + 10, tsEcr: 200 },
    });
    e.peer.clock.advance(500);
    e.peer.inject({ flags: R, seq: e.peerSeq + 3, options: ts(e, 201) });
    expect(e.peer.next()).toMatchObject({ flags: A, ack: e.peerSeq + 1 });
    // PAWS: an old TSval is answered (rate limited) and changes nothing
    e.peer.inject({ flags: A, seq: e.peerSeq + 1, ack: e.localSeq + 1, options: ts(e, 100) });
    expect(e.peer.sent).toEqual([]);
    expect(e.peer.tcp.stats).toMatchObject({ challengeAcks: 2, pawsRejected: 1 });
    e.peer.clock.advance(2000);
    expect(e.conn.stateName).toBe("CLOSED");
    expect(e.conn.info().state).toBe("CLOSED");
    expect(e.peer.tcp.connectionCount).toBe(0);
    expect(e.peer.tcp.timeWaitCount).toBe(0);
    expect(e.peer.clock.pending()).toBe(0);
    expect(e.events).toEqual(["end", "close:"]);
  });

  it("TIME-WAIT answers with the window of the connection's last ACK, so data arriving with the FIN does not move the right edge left (RFC 9293 §3.8.6.2.2; Linux's tw_rcv_wnd)", () => {
    // fuzz finding (issue 15): the record took its window from the right edge advertised before
    // the FIN and its 2000 bytes, ceil((2^20 − 2001) / 128) = 8177, while the ACK of the FIN
    // advertised the reopened 8192 << 7
    const e = establishPassive({ mslMs: 1000 });
    e.stream.end();
    e.peer.drain();
    const data = new Uint8Array(2000).fill(7);
    e.peer.inject({ flags: F | A, seq: e.peerSeq, ack: e.localSeq + 1, payload: data, options: ts(e, 200) });
    const lastAck = e.peer.next();
    expect(e.conn.stateName).toBe("TIME-WAIT");
    expect(lastAck).toMatchObject({ flags: A, ack: e.peerSeq + 2001, window: (1 << 20) >> 7 });
    // data in TIME-WAIT is ignored and ACKed (RFC 9293 §3.10.7.4): the same window, not 8177
    e.peer.clock.advance(10);
    e.peer.inject({ flags: A, seq: e.peerSeq + 2001, ack: e.localSeq + 1, payload: data.subarray(0, 100), options: ts(e, 201) });
    expect(e.peer.next()).toMatchObject({ flags: A, ack: e.peerSeq + 2001, window: lastAck.window });
    expect(e.events).toEqual(["data:2000", "end", "close:"]);
  });

  it("maxTimeWait caps the TIME-WAIT records (as Linux's tcp_max_tw_buckets): beyond it a connection closes at once, counted", () => {
    const peer = createTcpTestPeer({ maxTimeWait: 2 });
    const l = unwrap(peer.tcp.listen(80));
    const streams: ByteStream[] = [];
    l.onConnection((s) => {
      streams.push(s);
      s.end();
    });
    for (let i = 0; i < 4; i++) {
      const port = 41000 + i;
      peer.inject({ flags: S, srcPort: port, seq: PEER_ISN, options: linuxSynOptions(100) });
      const sa = peer.next();
      peer.inject({ flags: A, srcPort: port, seq: PEER_ISN + 1, ack: sa.seq + 1, options: { tsVal: 101, tsEcr: sa.options.tsVal! } });
      expect(peer.next()).toMatchObject({ flags: F | A, dstPort: port });
      peer.inject({ flags: F | A, srcPort: port, seq: PEER_ISN + 1, ack: sa.seq + 2, options: { tsVal: 102, tsEcr: sa.options.tsVal! } });
      expect(peer.next()).toMatchObject({ flags: A, dstPort: port, ack: PEER_ISN + 2 });
    }
    expect(peer.tcp.timeWaitCount).toBe(2);
    expect(peer.tcp.connectionCount).toBe(2);
    expect(peer.tcp.stats.timeWaitDropped).toBe(2);
    expect(streams.map((s) => (s as TcpConnection).stateName)).toEqual(["TIME-WAIT", "TIME-WAIT", "CLOSED", "CLOSED"]);
    // a retransmitted FIN to one that had no room finds no connection: RST
    peer.inject({ flags: F | A, srcPort: 41003, seq: PEER_ISN + 1, ack: 1, options: { tsVal: 103, tsEcr: 0 } });
    expect(peer.next()).toMatchObject({ flags: R, dstPort: 41003 });
    // one ends early (destroy): room for the next
    streams[0]!.destroy();
    expect(peer.tcp.timeWaitCount).toBe(1);
    expect(peer.sent).toEqual([]);
  });

  it("passive close: CLOSE-WAIT after the peer's FIN, LAST-ACK after end(), CLOSED when the FIN is ACKed", () => {
    const e = establishPassive();
    e.peer.inject({ flags: F | A, seq: e.peerSeq, ack: e.localSeq, options: ts(e, 200) });
    expect(e.peer.next()).toMatchObject({ flags: A, ack: e.peerSeq + 1 });
    expect(e.conn.stateName).toBe("CLOSE-WAIT");
    expect(e.events).toEqual(["end"]);
    e.stream.write(new Uint8Array(7));
    e.stream.end();
    expect(e.peer.next()).toMatchObject({ flags: A | P, seq: e.localSeq, payload: new Uint8Array(7) });
    expect(e.peer.next()).toMatchObject({ flags: F | A, seq: e.localSeq + 7 });
    expect(e.conn.stateName).toBe("LAST-ACK");
    e.peer.inject({ flags: A, seq: e.peerSeq + 1, ack: e.localSeq + 8, options: ts(e, 201) });
    expect(e.conn.stateName).toBe("CLOSED");
    expect(e.events).toEqual(["end", "close:"]);
    expect(e.peer.tcp.connectionCount).toBe(0);
  });

  it("simultaneous close: FIN crossing FIN goes through CLOSING to TIME-WAIT", () => {
    const e = establishPassive();
    e.stream.end();
    expect(e.peer.next().flags).toBe(F | A);
    e.peer.inject({ flags: F | A, seq: e.peerSeq, ack: e.localSeq, options: ts(e, 200) });
    expect(e.peer.next()).toMatchObject({ flags: A, seq: e.localSeq + 1, ack: e.peerSeq + 1 });
    expect(e.conn.stateName).toBe("CLOSING");
    e.peer.inject({ flags: A, seq: e.peerSeq + 1, ack: e.localSeq + 1, options: ts(e, 201) });
    expect(e.conn.stateName).toBe("TIME-WAIT");
  });

  it("a lost FIN is retransmitted at the RTO", () => {
    const e = establishPassive();
    e.stream.end();
    const fin = e.peer.next();
    e.peer.clock.advance(200);
    expect(e.peer.next()).toMatchObject({ flags: F | A, seq: fin.seq });
  });

  it("destroy() sends RST|ACK at SND.NXT and reports close without error", () => {
    const e = establishPassive();
    e.stream.destroy();
    expect(e.peer.next()).toMatchObject({ flags: R | A, seq: e.localSeq, ack: e.peerSeq });
    expect(e.events).toEqual(["close:"]);
    expect(e.peer.tcp.connectionCount).toBe(0);
  });

  it("a new SYN with a newer timestamp ends TIME-WAIT and opens a fresh connection (RFC 6191)", () => {
    const e = establishPassive({ mslMs: 30_000 });
    e.stream.end();
    e.peer.drain();
    e.peer.inject({ flags: F | A, seq: e.peerSeq, ack: e.localSeq + 1, options: ts(e, 200) });
    e.peer.drain();
    e.peer.inject({ flags: S, seq: e.peerSeq + 100_000, options: linuxSynOptions(1000) });
    expect(flagString(e.peer.next().flags)).toBe("SA");
  });
});

describe("TCP RST processing (RFC 5961)", () => {
  const states: [string, (e: Established) => void, StreamErrorCode | ""][] = [
    ["ESTABLISHED", () => undefined, "ECONNRESET"],
    [
      "FIN-WAIT-1",
      (e) => {
        e.stream.end();
        e.peer.drain();
      },
      "ECONNRESET",
    ],
    [
      "FIN-WAIT-2",
      (e) => {
        e.stream.end();
        e.peer.drain();
        e.peer.inject({ flags: A, seq: e.peerSeq, ack: e.localSeq + 1, options: ts(e, 150) });
      },
      "ECONNRESET",
    ],
    [
      "CLOSE-WAIT",
      (e) => {
        e.peer.inject({ flags: F | A, seq: e.peerSeq, ack: e.localSeq, options: ts(e, 150) });
        e.peerSeq++;
        e.peer.drain();
      },
      "ECONNRESET",
    ],
    [
      "LAST-ACK",
      (e) => {
        e.peer.inject({ flags: F | A, seq: e.peerSeq, ack: e.localSeq, options: ts(e, 150) });
        e.peerSeq++;
        e.stream.end();
        e.peer.drain();
      },
      "",
    ],
    [
      "CLOSING",
      (e) => {
        e.stream.end();
        e.peer.inject({ flags: F | A, seq: e.peerSeq, ack: e.localSeq, options: ts(e, 150) });
        e.peerSeq++;
        e.peer.drain();
      },
      "",
    ],
  ];
  for (const [name, setup, code] of states) {
    it(`in ${name}, an RST at RCV.NXT closes the connection${code ? ` with ${code}` : " without error"}`, () => {
      const e = establishPassive();
      setup(e);
      expect(e.conn.stateName).toBe(name);
      e.peer.inject({ flags: R, seq: e.peerSeq, options: ts(e, 160) });
      expect(e.conn.stateName).toBe("CLOSED");
      expect(e.events.at(-1)).toBe(`close:${code}`);
      expect(e.peer.sent).toEqual([]);
    });

    it(`in ${name}, an in-window RST not at RCV.NXT draws a challenge ACK and changes nothing`, () => {
      const e = establishPassive();
      setup(e);
      e.peer.inject({ flags: R, seq: e.peerSeq + 5, options: ts(e, 160) });
      expect(e.peer.next()).toMatchObject({ flags: A, ack: e.peerSeq });
      expect(e.conn.stateName).toBe(name);
    });
  }

  it("in TIME-WAIT, an RST at RCV.NXT ends TIME-WAIT early without a second onClose", () => {
    const e = establishPassive();
    e.stream.end();
    e.peer.drain();
    e.peer.inject({ flags: F | A, seq: e.peerSeq, ack: e.localSeq + 1, options: ts(e, 150) });
    e.peer.drain();
    expect(e.conn.stateName).toBe("TIME-WAIT");
    e.peer.inject({ flags: R, seq: e.peerSeq + 1, options: ts(e, 160) });
    expect(e.peer.tcp.connectionCount).toBe(0);
    expect(e.events).toEqual(["end", "close:"]);
  });

  it("in SYN-RECEIVED, an RST at RCV.NXT silently drops the embryonic connection", () => {
    const peer = createTcpTestPeer();
    const l = unwrap(peer.tcp.listen(80));
    let accepted = 0;
    l.onConnection(() => accepted++);
    peer.inject({ flags: S, seq: PEER_ISN, options: linuxSynOptions(1) });
    peer.next();
    peer.inject({ flags: R, seq: PEER_ISN + 1 });
    expect(peer.tcp.connectionCount).toBe(0);
    peer.clock.run(10_000);
    expect(peer.sent).toEqual([]);
    expect(accepted).toBe(0);
  });

  it("an RST outside the window is ignored without reply", () => {
    const e = establishPassive();
    e.peer.inject({ flags: R, seq: e.peerSeq + 10_000_000, options: ts(e, 160) });
    expect(e.peer.sent).toEqual([]);
    expect(e.conn.stateName).toBe("ESTABLISHED");
  });

  it("a SYN on an established connection draws a challenge ACK (RFC 5961 §4.2)", () => {
    const e = establishPassive();
    e.peer.inject({ flags: S, seq: e.peerSeq + 500, options: linuxSynOptions(170) });
    expect(e.peer.next()).toMatchObject({ flags: A, seq: e.localSeq, ack: e.peerSeq });
    expect(e.conn.stateName).toBe("ESTABLISHED");
  });

  it("an ACK for data never sent is answered with an ACK and dropped; one too old draws a challenge ACK (RFC 5961 §5.2)", () => {
    const e = establishPassive();
    e.peer.inject({ flags: A, seq: e.peerSeq, ack: e.localSeq + 50, payload: new Uint8Array(4), options: ts(e, 200) });
    expect(e.peer.next()).toMatchObject({ flags: A, ack: e.peerSeq });
    expect(e.events).toEqual([]);
    e.peer.inject({ flags: A, seq: e.peerSeq, ack: (e.localSeq - 2_000_000) >>> 0, payload: new Uint8Array(4), options: ts(e, 201) });
    expect(e.peer.next()).toMatchObject({ flags: A, ack: e.peerSeq });
    expect(e.events).toEqual([]);
  });

  it("a connection sends at most one challenge ACK per 500 ms (as Linux's tcp_invalid_ratelimit); the rest are counted as suppressed", () => {
    const e = establishPassive();
    for (let i = 0; i < 10; i++) e.peer.inject({ flags: R, seq: e.peerSeq + 1 + i, options: ts(e, 160) });
    expect(e.peer.drain().map((x) => flagString(x.flags))).toEqual(["A"]);
    e.peer.clock.advance(499);
    e.peer.inject({ flags: R, seq: e.peerSeq + 1, options: ts(e, 161) });
    expect(e.peer.drain()).toEqual([]);
    e.peer.clock.advance(1);
    e.peer.inject({ flags: R, seq: e.peerSeq + 1, options: ts(e, 162) });
    expect(e.peer.next()).toMatchObject({ flags: A, ack: e.peerSeq });
    expect(e.peer.tcp.stats).toMatchObject({ challengeAcks: 2, challengeAcksSuppressed: 10 });
    expect(e.conn.stateName).toBe("ESTABLISHED");
  });

  it("the layer's challenge ACK budget per second is challengeAckLimit/2 plus a random part below challengeAckLimit, so its size tells an off-path host nothing (CVE-2016-5696)", () => {
    const limit = 20;
    const peer = createTcpTestPeer({ challengeAckLimit: limit, seed: 5 });
    const l = unwrap(peer.tcp.listen(80));
    l.onConnection(() => undefined);
    const N = 60;
    const isn: number[] = [];
    for (let i = 0; i < N; i++) {
      peer.inject({ flags: S, srcPort: 30000 + i, seq: PEER_ISN, options: linuxSynOptions(100) });
      const sa = peer.next();
      peer.inject({ flags: A, srcPort: 30000 + i, seq: PEER_ISN + 1, ack: sa.seq + 1, options: { tsVal: 101, tsEcr: sa.options.tsVal! } });
      isn.push(sa.seq);
    }
    const perSecond: number[] = [];
    for (let round = 0; round < 8; round++) {
      peer.clock.advance(1000);
      // one in-window RST not at RCV.NXT on every connection: one challenge ACK each, budget allowing
      for (let i = 0; i < N; i++) peer.inject({ flags: R, srcPort: 30000 + i, seq: PEER_ISN + 5, options: { tsVal: 200 + round, tsEcr: 0 } });
      perSecond.push(peer.drain().length);
    }
    for (const n of perSecond) {
      expect(n).toBeGreaterThanOrEqual(limit / 2);
      expect(n).toBeLessThan(limit / 2 + limit);
    }
    expect(new Set(perSecond).size).toBeGreaterThan(1);
    expect(peer.tcp.stats.challengeAcks).toBe(perSecond.reduce((a, b) => a + b, 0));
    expect(peer.tcp.stats.challengeAcksSuppressed).toBe(8 * N - peer.tcp.stats.challengeAcks);
  });

  it("an out-of-window SYN in a synchronized state draws a challenge ACK, rate limited as one (RFC 5961 §4.2)", () => {
    const e = establishPassive();
    e.peer.inject({ flags: S, seq: e.peerSeq + 10_000_000, options: linuxSynOptions(170) });
    expect(e.peer.next()).toMatchObject({ flags: A, seq: e.localSeq, ack: e.peerSeq });
    e.peer.inject({ flags: S, seq: e.peerSeq - 10_000_000, options: linuxSynOptions(171) });
    expect(e.peer.sent).toEqual([]);
    expect(e.peer.tcp.stats).toMatchObject({ challengeAcks: 1, challengeAcksSuppressed: 1 });
    expect(e.conn.stateName).toBe("ESTABLISHED");
  });
});

describe("TCP keepalive", () => {
  it("sends keepalive probes (SEQ = SND.NXT − 1) after the idle time and fails with ETIMEDOUT when none is answered", () => {
    const e = establishPassive({ keepAliveIntervalMs: 1000, keepAliveProbes: 3 });
    e.stream.setKeepAlive(true, 5000);
    const t0 = e.peer.clock.now();
    e.peer.clock.run(t0 + 4999);
    expect(e.peer.sent).toEqual([]);
    e.peer.clock.run(t0 + 5000);
    expect(e.peer.next()).toMatchObject({ flags: A, seq: (e.localSeq - 1) >>> 0, payload: new Uint8Array(0) });
    // an answer resets the count and the idle timer
    e.peer.inject({ flags: A, seq: e.peerSeq, ack: e.localSeq, options: ts(e, 200) });
    e.peer.clock.run(t0 + 20_000);
    expect(e.peer.drain().map((s) => s.at - t0)).toEqual([10_000, 11_000, 12_000]);
    expect(e.events).toEqual(["close:ETIMEDOUT"]);
  });
});

describe("TCP and ICMP errors", () => {
  it("ICMP port unreachable for our SYN fails the connect with ECONNREFUSED", () => {
    const peer = createTcpTestPeer();
    const s = unwrap(peer.tcp.connect(PEER_ADDR, 40000, { localPort: 5000 }));
    let error: StreamErrorCode | undefined | null = null;
    s.onClose((e) => {
      error = e;
    });
    peer.icmpError("dst-unreachable", 3, peer.next());
    expect(error).toBe("ECONNREFUSED");
  });

  it("host unreachable is a soft error: the connect times out and reports EHOSTUNREACH (RFC 1122 §4.2.3.9)", () => {
    const peer = createTcpTestPeer({ synRetries: 1 });
    const s = unwrap(peer.tcp.connect(PEER_ADDR, 40000, { localPort: 5000 }));
    let error: StreamErrorCode | undefined | null = null;
    s.onClose((e) => {
      error = e;
    });
    peer.icmpError("dst-unreachable", 1, peer.next());
    expect(error).toBe(null);
    peer.clock.run(10_000);
    expect(error).toBe("EHOSTUNREACH");
  });

  it("fragmentation needed lowers the MSS to the new path MTU and resends in smaller segments (RFC 1191)", () => {
    const e = establishPassive({ peerWindow: 1000 });
    e.stream.write(new Uint8Array(3000));
    const segs = e.peer.drain();
    expect(segs.map((x) => x.payload.length)).toEqual([1448, 1448, 104]);
    e.peer.ip.mtu = 1000;
    e.peer.icmpError("dst-unreachable", 4, segs[0]!, 1000);
    const again = e.peer.drain();
    expect(again.map((x) => x.payload.length)).toEqual([948, 948, 948, 156]);
    expect(again[0]!.seq).toBe(e.localSeq);
    expect(e.conn.info().sendMss).toBe(948);
  });

  it("an ICMP error quoting a sequence number not in flight is ignored (RFC 5927 §4.1)", () => {
    const peer = createTcpTestPeer();
    const s = unwrap(peer.tcp.connect(PEER_ADDR, 40000, { localPort: 5000 }));
    let closed = false;
    s.onClose(() => {
      closed = true;
    });
    const syn = peer.next();
    const forged = { ...syn, raw: syn.raw.slice() };
    forged.raw[4]! ^= 0x80;
    peer.icmpError("dst-unreachable", 3, forged);
    expect(closed).toBe(false);
  });

  it("every segment is sent with Don't Fragment set", () => {
    const peer = createTcpTestPeer();
    const flags: (boolean | undefined)[] = [];
    const out = peer.ip.out;
    peer.ip.out = (dst, payload, opts) => {
      flags.push(opts?.dontFragment);
      out(dst, payload, opts);
    };
    unwrap(peer.tcp.connect(PEER_ADDR, 40000, { localPort: 5000 }));
    expect(flags).toEqual([true]);
  });
});

describe("TCP addresses", () => {
  it("a stream reports its local and remote address and port", () => {
    const e = establishPassive();
    expect({ la: e.stream.localAddress, lp: e.stream.localPort, ra: e.stream.remoteAddress, rp: e.stream.remotePort }).toEqual({
      la: LOCAL_ADDR,
      lp: 80,
      ra: PEER_ADDR,
      rp: 40000,
    });
  });
});
