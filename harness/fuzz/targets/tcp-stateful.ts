// Fuzz target: stateful TCP. The input is a program for a scripted peer and the local socket:
// byte 0 picks the opening (passive: the peer's SYN to a listener; active: connect() and the
// peer's SYN-ACK) and the peer's SYN options; then 4-byte ops inject segments whose sequence
// and acknowledgment numbers are drawn near the connection's real window (with SACK negotiated,
// one kind also carries a SACK block, plausible or hostile), write/end/destroy/
// pause/resume the socket, or advance virtual time; an odd-length input gets a 4 KiB receive
// buffer. Oracles, on every emitted segment:
//  - it parses with a correct checksum (the test peer checks);
//  - it never acknowledges data the peer never sent;
//  - the right edge of the advertised receive window never moves left (RFC 9293 §3.8.6.2.2);
//  - snd.una ≤ snd.nxt (bytes in flight never negative);
//  - it never acknowledges past the right edge of the window it advertised before (data beyond
//    the window is trimmed, RFC 9293 §3.10.7.4);
//  - its payload is exactly the bytes the application wrote at that sequence offset;
//  - virtual time cannot be consumed by runaway timers.
// And on the receive side: the peer's bytes are a function of their sequence number, so every
// byte the application reads is checked against the byte the peer sent at that offset (in
// order, nothing lost in the middle, nothing twice).
import { createTcpTestPeer, LOCAL_ADDR, PEER_ADDR, type Captured } from "../../../stack/transport/tcp/test-peer.ts";
import type { ByteStream } from "../../../stack/transport/types.ts";
import type { TcpConnection } from "../../../stack/transport/tcp/connection.ts";
import { TCP_FLAG_ACK, TCP_FLAG_FIN, TCP_FLAG_RST, TCP_FLAG_SYN, type TcpOptions } from "../../../stack/wire/tcp.ts";

const PEER_ISN = 0x7fff_ff00; // close to a sign flip of the 32-bit space
const MAX_EVENTS = 50_000;

const sdiff = (a: number, b: number): number => (a - b) | 0;
/** The peer's byte at sequence number `seq` (any retransmission carries the same bytes). */
const peerByte = (seq: number): number => (Math.imul(seq, 0x9e3779b1) >>> 24) & 0xff;

export function fuzz(data: Buffer): void {
  if (data.length < 1) return;
  const head = data[0]!;
  const active = (head & 1) === 1;
  const synOptions: TcpOptions = {
    ...(head & 2 ? { mss: 536 + (head >> 5) * 128 } : {}),
    ...(head & 4 ? { windowScale: (head >> 4) & 15 } : {}),
    ...(head & 8 ? { sackPermitted: true } : {}),
    ...(head & 16 ? { tsVal: 1, tsEcr: 0 } : {}),
  };
  // Odd-length inputs run with a 4 KiB receive buffer, so a few segments fill the window
  // (zero windows, window probes, data past the right edge).
  const peer = createTcpTestPeer({ seed: data.length, ...(data.length & 1 ? { receiveBufferSize: 4096 } : {}) });
  const streams: ByteStream[] = [];
  let peerMaxEnd = PEER_ISN; // highest sequence end the peer ever sent (signed order)
  let peerWs = synOptions.windowScale !== undefined;
  let localWs = 0;
  let rightEdge: number | undefined;
  let localNext = 0; // stack's highest sequence end seen
  let localIsn = 0;
  let acceptedFrom = (PEER_ISN + 1) >>> 0; // what the stack's last SYN-ACK acknowledged: a passive connection's first data byte
  const written: number[] = []; // every byte the application wrote, in order
  /** A reader for a connection whose peer data starts at `first`. */
  const reader = (first: number) => {
    let readSeq = first >>> 0;
    return (d: Uint8Array): void => {
      for (let k = 0; k < d.length; k++) {
        if (d[k] !== peerByte(readSeq)) throw new Error(`application read byte ${d[k]} at seq ${readSeq}, the peer sent ${peerByte(readSeq)}`);
        readSeq = (readSeq + 1) >>> 0;
      }
    };
  };

  const check = (s: Captured): void => {
    if (s.flags & TCP_FLAG_SYN) {
      if (s.flags & TCP_FLAG_ACK) acceptedFrom = s.ack;
      localIsn = s.seq;
      localWs = peerWs && s.options.windowScale !== undefined ? s.options.windowScale : 0;
      rightEdge = undefined;
    }
    const end = (s.seq + s.payload.length + (s.flags & TCP_FLAG_SYN ? 1 : 0) + (s.flags & TCP_FLAG_FIN ? 1 : 0)) >>> 0;
    if (sdiff(end, localNext) > 0 || localNext === 0) localNext = end;
    if (s.payload.length > 0 && !(s.flags & TCP_FLAG_SYN)) {
      const offset = sdiff(s.seq, (localIsn + 1) >>> 0);
      for (let k = 0; k < s.payload.length; k++) {
        if (s.payload[k] !== written[offset + k])
          throw new Error(`sent byte ${s.payload[k]} at stream offset ${offset + k}, the application wrote ${written[offset + k] ?? "nothing"}`);
      }
    }
    if (s.flags & TCP_FLAG_ACK && !(s.flags & TCP_FLAG_RST)) {
      if (rightEdge !== undefined && !(s.flags & TCP_FLAG_SYN) && sdiff(s.ack, rightEdge) > 0) {
        throw new Error(`stack acknowledged ${sdiff(s.ack, rightEdge)} byte(s) past the right edge ${rightEdge} it advertised`);
      }
      if (sdiff(s.ack, peerMaxEnd) > 0) {
        throw new Error(`stack acknowledged ${sdiff(s.ack, peerMaxEnd)} byte(s) the peer never sent (ack ${s.ack}, peer sent up to ${peerMaxEnd})`);
      }
      const scale = s.flags & TCP_FLAG_SYN ? 0 : localWs;
      const edge = (s.ack + s.window * 2 ** scale) >>> 0;
      if (rightEdge !== undefined && !(s.flags & TCP_FLAG_SYN) && sdiff(edge, rightEdge) < 0) {
        throw new Error(`receive window shrank: right edge ${rightEdge} -> ${edge} (ack ${s.ack} window ${s.window} << ${scale})`);
      }
      if (rightEdge === undefined || sdiff(edge, rightEdge) > 0) rightEdge = edge;
    }
  };
  const drain = (): void => {
    for (const s of peer.drain()) check(s);
    for (const st of streams) {
      const info = (st as TcpConnection).info?.();
      if (info !== undefined && info.bytesInFlight < 0) throw new Error(`snd.una beyond snd.nxt (in flight ${info.bytesInFlight})`);
    }
  };
  const run = (ms: number): void => {
    const fired = peer.clock.run(peer.clock.now() + ms, MAX_EVENTS);
    if (fired >= MAX_EVENTS) throw new Error(`hang: ${fired} timer events within ${ms} ms`);
    drain();
  };
  const sendFromPeer = (flags: number, seq: number, ack: number, window: number, payload: Uint8Array, options: TcpOptions = {}): void => {
    const end = (seq + payload.length + (flags & TCP_FLAG_SYN ? 1 : 0) + (flags & TCP_FLAG_FIN ? 1 : 0)) >>> 0;
    if (!(flags & TCP_FLAG_RST) && sdiff(end, peerMaxEnd) > 0) peerMaxEnd = end;
    if (flags & TCP_FLAG_SYN) {
      peerWs = options.windowScale !== undefined;
      if (sdiff(end, peerMaxEnd) < 0) peerMaxEnd = Math.max(peerMaxEnd, end) >>> 0;
    }
    peer.inject({ flags, seq, ack, window, payload, options });
    drain();
  };

  if (active) {
    const c = peer.tcp.connect(PEER_ADDR, 40000, { localPort: 80 });
    if (!c.ok) return;
    streams.push(c.value);
    c.value.onData(reader(PEER_ISN + 1));
    drain();
    sendFromPeer(TCP_FLAG_SYN | TCP_FLAG_ACK, PEER_ISN, (localIsn + 1) >>> 0, 65535, new Uint8Array(0), synOptions);
  } else {
    const l = peer.tcp.listen(80);
    if (!l.ok) return;
    l.value.onConnection((s) => {
      streams.push(s);
      s.onData(reader(acceptedFrom));
    });
    sendFromPeer(TCP_FLAG_SYN, PEER_ISN, 0, 65535, new Uint8Array(0), synOptions);
    sendFromPeer(
      TCP_FLAG_ACK,
      (PEER_ISN + 1) >>> 0,
      (localIsn + 1) >>> 0,
      65535,
      new Uint8Array(0),
      synOptions.tsVal !== undefined ? { tsVal: 2, tsEcr: 0 } : {},
    );
  }
  let peerSeq = (PEER_ISN + 1) >>> 0;
  let ended = false; // write() after end() is programmer misuse (it throws ERR_STREAM_WRITE_AFTER_END)
  const payloadBytes = new Uint8Array(4096).map((_, i) => i & 0xff);
  for (let i = 1; i + 4 <= data.length && i < 1 + 4 * 200; i += 4) {
    const op = data[i]!,
      a = data[i + 1]!,
      b = data[i + 2]!,
      c = data[i + 3]!;
    const stream = streams[0];
    switch (op & 7) {
      case 0:
      case 1:
      case 2: {
        // a segment from the peer near the real window
        const flags = [
          TCP_FLAG_ACK,
          TCP_FLAG_ACK,
          TCP_FLAG_ACK | 0x08,
          TCP_FLAG_ACK | TCP_FLAG_FIN,
          TCP_FLAG_RST,
          TCP_FLAG_RST | TCP_FLAG_ACK,
          TCP_FLAG_SYN,
          0,
        ][op >> 5]!;
        const seq = (peerSeq + ((a << 24) >> 24) * (op & 8 ? 1 : 97)) >>> 0;
        const ack = (localNext + ((b << 24) >> 24) * (op & 16 ? 1 : 1448)) >>> 0;
        const len = flags & (TCP_FLAG_RST | TCP_FLAG_SYN) ? 0 : c & 0x80 ? c * 12 : c & 0x3f;
        const payload = new Uint8Array(Math.min(len, 4096));
        for (let k = 0; k < payload.length; k++) payload[k] = peerByte((seq + k) >>> 0);
        const window = c & 0x40 ? 0 : 1024 * ((c & 0x3f) + 1);
        // Op 2 on a SACK connection also carries a SACK block near what the stack sent, anywhere
        // from plausible to hostile (reversed, beyond snd.nxt, below snd.una).
        const sack =
          (op & 7) === 2 && synOptions.sackPermitted === true
            ? {
                sackBlocks: [{ left: (localNext - (b & 0x3f) * 1448 + ((a << 24) >> 24)) >>> 0, right: (localNext - (b >> 6) * 1448 + (c & 0x3f) - 16) >>> 0 }],
              }
            : {};
        sendFromPeer(flags, seq, ack, window, payload, { ...(synOptions.tsVal !== undefined ? { tsVal: 100 + i, tsEcr: 0 } : {}), ...sack });
        if (seq === peerSeq && !(flags & TCP_FLAG_RST)) peerSeq = (peerSeq + payload.length + (flags & TCP_FLAG_FIN ? 1 : 0)) >>> 0;
        break;
      }
      case 3:
        if (!ended && stream !== undefined) {
          const chunk = payloadBytes.subarray(0, a * 16 + b);
          for (const x of chunk) written.push(x);
          stream.write(chunk);
        }
        drain();
        break;
      case 4:
        if (a & 1) {
          stream?.end();
          ended = stream !== undefined;
        } else if (a & 2) stream?.destroy();
        else if (a & 4) stream?.pause();
        else stream?.resume();
        drain();
        break;
      case 5:
      case 6:
        run(a * 8 + b);
        break;
      default:
        run(((a << 8) | b) * 16);
        break;
    }
  }
  run(10 * 60_000);
  void LOCAL_ADDR;
}

/** Seeds: passive and active openings with Linux's options, data both ways, a FIN. */
export function seeds(): Uint8Array[] {
  const seg = (flagsSel: number, exactSeq: boolean, exactAck: boolean, a: number, b: number, c: number): number[] => [
    (flagsSel << 5) | (exactSeq ? 8 : 0) | (exactAck ? 16 : 0),
    a,
    b,
    c,
  ];
  const body = [
    ...seg(0, true, true, 0, 0, 0x10), // peer: 16 bytes
    3,
    0,
    64,
    0, // local: write 64 bytes
    5,
    1,
    0,
    0, // 8 ms
    ...seg(0, true, true, 0, 0, 0x3f),
    ...seg(3, true, true, 0, 0, 0), // FIN
    4,
    1,
    0,
    0, // local end()
    7,
    0,
    10,
    0, // 2.5 s
  ];
  return [0x1e, 0x1f, 0x00, 0x01].map((h) => Uint8Array.from([h, ...body]));
}
