// Listener, SYN-cookie, queue and limit behaviour of the TCP layer, segment by segment.
import { describe, expect, it } from "vitest";
import { unwrap } from "../../result.ts";
import { TCP_FLAG_ACK as A, TCP_FLAG_FIN as F, TCP_FLAG_RST as R, TCP_FLAG_SYN as S } from "../../wire/tcp.ts";
import type { ByteStream } from "../types.ts";
import { PEER_ADDR, createTcpTestPeer, createTcpPathPair, flagString, linuxSynOptions } from "./test-peer.ts";
import type { TcpConnection } from "./connection.ts";

describe("TCP listeners", () => {
  it("listen() refuses a port already listening and a bad port; port 0 picks an ephemeral port", () => {
    const peer = createTcpTestPeer();
    unwrap(peer.tcp.listen(80));
    expect(peer.tcp.listen(80)).toMatchObject({ ok: false, error: "in-use" });
    expect(peer.tcp.listen(70000)).toMatchObject({ ok: false, error: "bad-port" });
    const l = unwrap(peer.tcp.listen(0));
    expect(l.localPort).toBeGreaterThanOrEqual(49152);
  });

  it("connect() picks distinct ephemeral ports in the RFC 6335 range", () => {
    const peer = createTcpTestPeer();
    const ports = new Set<number>();
    for (let i = 0; i < 50; i++) ports.add(unwrap(peer.tcp.connect(PEER_ADDR, 80)).localPort);
    expect(ports.size).toBe(50);
    for (const p of ports) expect(p >= 49152 && p <= 65535).toBe(true);
  });

  it("connect() refuses a bad port and a 4-tuple already in use", () => {
    const peer = createTcpTestPeer({ mslMs: 1000 });
    expect(peer.tcp.connect(PEER_ADDR, 0)).toMatchObject({ ok: false, error: "no-route", detail: "bad port" });
    expect(peer.tcp.connect(PEER_ADDR, 80, { localPort: 70000 })).toMatchObject({ ok: false, error: "no-route", detail: "bad local port" });
    unwrap(peer.tcp.connect(PEER_ADDR, 80, { localPort: 5000 }));
    expect(peer.tcp.connect(PEER_ADDR, 80, { localPort: 5000 })).toMatchObject({ ok: false, error: "no-ephemeral", detail: "4-tuple in use" });
  });

  it("a closed listener answers SYNs with RST and destroys connections waiting in its accept queue", () => {
    const peer = createTcpTestPeer();
    const l = unwrap(peer.tcp.listen(80));
    peer.inject({ flags: S, seq: 1, options: linuxSynOptions(1) });
    const sa = peer.next();
    peer.inject({ flags: A, seq: 2, ack: sa.seq + 1, options: { tsVal: 2, tsEcr: sa.options.tsVal! } });
    l.close();
    expect(peer.next()).toMatchObject({ flags: R | A });
    peer.inject({ flags: S, seq: 1, srcPort: 40001, options: linuxSynOptions(1) });
    expect(peer.next()).toMatchObject({ flags: R | A, ack: 2 });
  });

  it("the accept queue holds at most `backlog` connections while no handler is installed; extra final ACKs and SYNs wait", () => {
    const peer = createTcpTestPeer();
    const l = unwrap(peer.tcp.listen(80, { backlog: 1 }));
    peer.inject({ flags: S, srcPort: 41000, seq: 100, options: linuxSynOptions(1) });
    peer.inject({ flags: S, srcPort: 41001, seq: 100, options: linuxSynOptions(1) });
    const [sa0, sa1] = peer.drain();
    peer.inject({ flags: A, srcPort: 41000, seq: 101, ack: sa0!.seq + 1, options: { tsVal: 2, tsEcr: sa0!.options.tsVal! } });
    // the queue is full: this final ACK is ignored and the connection stays SYN-RECEIVED
    peer.inject({ flags: A, srcPort: 41001, seq: 101, ack: sa1!.seq + 1, options: { tsVal: 2, tsEcr: sa1!.options.tsVal! } });
    // and a new SYN is dropped
    peer.inject({ flags: S, srcPort: 41002, seq: 100, options: linuxSynOptions(1) });
    expect(peer.sent).toEqual([]);
    expect(peer.tcp.stats.synDropped).toBe(1);
    const got: ByteStream[] = [];
    l.onConnection((s) => got.push(s));
    expect(got.map((s) => s.remotePort)).toEqual([41000]);
    peer.clock.advance(1000);
    const rtx = peer.next();
    expect(rtx).toMatchObject({ flags: S | A, dstPort: 41001, seq: sa1!.seq });
    peer.inject({ flags: A, srcPort: 41001, seq: 101, ack: rtx.seq + 1, options: { tsVal: 3, tsEcr: rtx.options.tsVal! } });
    expect(got.map((s) => s.remotePort)).toEqual([41000, 41001]);
  });

  it("a SYN with FIN set is dropped and counted, not answered as a SYN (as Linux)", () => {
    const peer = createTcpTestPeer();
    const l = unwrap(peer.tcp.listen(80));
    let accepted = 0;
    l.onConnection(() => accepted++);
    peer.inject({ flags: S | F, seq: 100, options: linuxSynOptions(1) });
    peer.clock.run(5000);
    expect(peer.sent).toEqual([]);
    expect(peer.tcp.connectionCount).toBe(0);
    expect(peer.tcp.stats.synFinDropped).toBe(1);
    peer.inject({ flags: S, seq: 100, options: linuxSynOptions(1) });
    expect(peer.next()).toMatchObject({ flags: S | A, ack: 101 });
    expect(accepted).toBe(0);
  });

  it("an embryonic connection whose SYN-ACKs go unanswered is dropped after synAckRetries", () => {
    const peer = createTcpTestPeer({ synAckRetries: 2 });
    unwrap(peer.tcp.listen(80));
    peer.inject({ flags: S, seq: 100, options: linuxSynOptions(1) });
    peer.clock.run(60_000);
    expect(peer.drain().map((s) => [flagString(s.flags), s.at])).toEqual([
      ["SA", 0],
      ["SA", 1000],
      ["SA", 3000],
    ]);
    expect(peer.tcp.connectionCount).toBe(0);
  });

  it("maxConnections: connect() fails with connection-limit and further SYNs are dropped", () => {
    const peer = createTcpTestPeer({ maxConnections: 2 });
    unwrap(peer.tcp.listen(80));
    unwrap(peer.tcp.connect(PEER_ADDR, 1));
    unwrap(peer.tcp.connect(PEER_ADDR, 2));
    expect(peer.tcp.connect(PEER_ADDR, 3)).toMatchObject({ ok: false, error: "connection-limit" });
    peer.drain();
    peer.inject({ flags: S, seq: 100, options: linuxSynOptions(1) });
    expect(peer.sent).toEqual([]);
    expect(peer.tcp.stats.synDropped).toBe(1);
  });
});

describe("TCP SYN cookies", () => {
  function floodThenClient(synCookies: boolean) {
    const peer = createTcpTestPeer({ synQueueSize: 8, synCookies });
    const l = unwrap(peer.tcp.listen(80));
    const accepted: ByteStream[] = [];
    l.onConnection((s) => accepted.push(s));
    // a flood of spoofed SYNs that never complete
    for (let i = 0; i < 1000; i++) peer.inject({ flags: S, srcPort: 1024 + i, seq: i * 7919, options: linuxSynOptions(i) });
    peer.drain();
    return { peer, accepted };
  }

  it("with the SYN queue full, a legitimate client still connects through a SYN cookie carrying its MSS, window scale and SACK", () => {
    const { peer, accepted } = floodThenClient(true);
    expect(peer.tcp.connectionCount).toBe(8);
    expect(peer.tcp.stats.synCookiesSent).toBe(992);
    peer.inject({ flags: S, srcPort: 50000, seq: 5000, options: { mss: 1400, sackPermitted: true, tsVal: 77, tsEcr: 0, windowScale: 5 } });
    const sa = peer.next();
    expect(sa).toMatchObject({ flags: S | A, ack: 5001 });
    expect(sa.options).toMatchObject({ mss: 1460, sackPermitted: true, tsEcr: 77, windowScale: 7 });
    peer.inject({ flags: A, srcPort: 50000, seq: 5001, ack: sa.seq + 1, window: 100, options: { tsVal: 78, tsEcr: sa.options.tsVal! } });
    expect(accepted.length).toBe(1);
    const c = accepted[0] as TcpConnection;
    expect(c.info()).toMatchObject({ state: "ESTABLISHED", sendMss: 1400 - 12, sack: true, windowScaling: true, sendWindow: 100 << 5 });
    expect(peer.tcp.stats.synCookiesAccepted).toBe(1);
    c.write(new Uint8Array(10));
    expect(peer.next()).toMatchObject({ seq: sa.seq + 1, ack: 5001, dstPort: 50000 });
  });

  it("a cookie SYN-ACK's TSval is never ahead of the connection's later TSvals, whatever the clock's low bits (a Linux client would drop them as PAWS-old)", () => {
    const { peer, accepted } = floodThenClient(true);
    const start = peer.clock.now();
    for (let i = 0; i < 64; i++) {
      peer.clock.run(start + i);
      peer.drain();
      const port = 50000 + i;
      peer.inject({ flags: S, srcPort: port, seq: 5000, options: linuxSynOptions(100 + i) });
      const sa = peer.next();
      expect(sa.seq).not.toBe(0);
      peer.inject({ flags: A, srcPort: port, seq: 5001, ack: sa.seq + 1, options: { tsVal: 101 + i, tsEcr: sa.options.tsVal! } });
      const c = accepted.at(-1)!;
      expect(c.remotePort).toBe(port);
      c.write(new Uint8Array(1));
      const data = peer.next();
      expect(data.dstPort).toBe(port);
      // RFC 7323 §5.3: the peer rejects a TSval older than its TS.Recent (the SYN-ACK's)
      expect((data.options.tsVal! - sa.options.tsVal!) | 0).toBeGreaterThanOrEqual(0);
      c.destroy();
      peer.drain();
    }
    expect(peer.tcp.stats.synCookiesAccepted).toBe(64);
  });

  it("a SYN cookie without timestamps still connects (MSS only, no window scale or SACK)", () => {
    const { peer, accepted } = floodThenClient(true);
    peer.inject({ flags: S, srcPort: 50000, seq: 5000, options: { mss: 1460 } });
    const sa = peer.next();
    expect(sa.options).toEqual({ mss: 1460 });
    peer.inject({ flags: A, srcPort: 50000, seq: 5001, ack: sa.seq + 1, window: 8000, payload: Uint8Array.of(1, 2, 3) });
    expect(accepted.length).toBe(1);
    expect((accepted[0] as TcpConnection).info()).toMatchObject({ sendMss: 1460, sack: false, windowScaling: false, timestamps: false });
  });

  it("an ACK with a forged or stale cookie gets RST and creates nothing", () => {
    const { peer, accepted } = floodThenClient(true);
    peer.inject({ flags: S, srcPort: 50000, seq: 5000, options: { mss: 1460 } });
    const sa = peer.next();
    peer.inject({ flags: A, srcPort: 50000, seq: 5001, ack: sa.seq + 2 });
    expect(peer.next()).toMatchObject({ flags: R, seq: sa.seq + 2 });
    peer.clock.advance(200_000);
    peer.drain();
    peer.inject({ flags: A, srcPort: 50000, seq: 5001, ack: sa.seq + 1 });
    expect(peer.next()).toMatchObject({ flags: R });
    expect(accepted.length).toBe(0);
  });

  it("300 spoofed SYNs a minute do not fill the SYN queue: retransmitted half-opens are pruned once it is more than half full (as Linux), so no cookies are needed", () => {
    const peer = createTcpTestPeer();
    const l = unwrap(peer.tcp.listen(80));
    const accepted: ByteStream[] = [];
    l.onConnection((s) => accepted.push(s));
    let most = 0;
    for (let i = 0; i < 600; i++) {
      peer.clock.run(i * 200);
      peer.inject({ flags: S, srcPort: 1024 + i, seq: i * 7919, options: linuxSynOptions(i) });
      most = Math.max(most, peer.tcp.connectionCount);
    }
    peer.drain();
    // without pruning each would stay 63 s (6 SYN-ACKs): 256 in the queue after 51 s, cookies after
    expect(most).toBeLessThanOrEqual(256 / 2 + 2);
    expect(peer.tcp.stats.synQueuePruned).toBeGreaterThan(100);
    expect(peer.tcp.stats.synCookiesSent).toBe(0);
    // a legitimate client gets an ordinary (queued) handshake
    peer.inject({ flags: S, srcPort: 50000, seq: 5000, options: linuxSynOptions(9) });
    const sa = peer.next();
    peer.inject({ flags: A, srcPort: 50000, seq: 5001, ack: sa.seq + 1, options: { tsVal: 10, tsEcr: sa.options.tsVal! } });
    expect(accepted.map((c) => c.remotePort)).toEqual([50000]);
    expect(peer.tcp.stats.synCookiesAccepted).toBe(0);
  });

  it("a half-open retransmitted twice survives while the SYN queue is at most half full, and gets all its SYN-ACK retries", () => {
    const peer = createTcpTestPeer({ synQueueSize: 8 });
    unwrap(peer.tcp.listen(80));
    for (let i = 0; i < 4; i++) peer.inject({ flags: S, srcPort: 1024 + i, seq: i, options: linuxSynOptions(i) });
    peer.clock.run(100_000);
    expect(
      peer
        .drain()
        .filter((x) => x.dstPort === 1024)
        .map((x) => x.at),
    ).toEqual([0, 1000, 3000, 7000, 15000, 31000]);
    expect(peer.tcp.stats.synQueuePruned).toBe(0);
    // five of eight is more than half: with nothing young left, the first is pruned after 2
    // retransmissions (at its third timeout, 7 s); the queue is then half full and the rest keep theirs
    for (let i = 0; i < 5; i++) peer.inject({ flags: S, srcPort: 2024 + i, seq: i, options: linuxSynOptions(i) });
    const t = peer.clock.now();
    peer.clock.run(t + 100_000);
    const sent = peer.drain();
    expect(sent.filter((x) => x.dstPort === 2024).map((x) => x.at - t)).toEqual([0, 1000, 3000]);
    expect(sent.filter((x) => x.dstPort === 2025).map((x) => x.at - t)).toEqual([0, 1000, 3000, 7000, 15000, 31000]);
    expect(peer.tcp.stats.synQueuePruned).toBe(1);
    expect(peer.tcp.connectionCount).toBe(0);
  });

  it("without SYN cookies, SYNs beyond the SYN queue are dropped", () => {
    const { peer } = floodThenClient(false);
    expect(peer.tcp.stats.synDropped).toBe(992);
    peer.inject({ flags: S, srcPort: 50000, seq: 5000, options: { mss: 1460 } });
    expect(peer.sent).toEqual([]);
  });

  it("two stacks: a client connects while the server is flooded, and exchanges data", () => {
    const p = createTcpPathPair({ impair: { delayMs: 2 }, b: { synQueueSize: 4 } });
    const l = unwrap(p.b.listen(80));
    let received = 0;
    l.onConnection((s) =>
      s.onData((d) => {
        received += d.length;
      }),
    );
    // half-open connections from the client stack's own ports that never complete: the server's queue fills
    for (let i = 0; i < 4; i++) {
      const s = unwrap(p.a.connect(p.addrB, 80, { localPort: 2000 + i }));
      s.onClose(() => undefined);
    }
    p.tap = (from, _to, seg) => {
      // drop the final ACKs of the first four so they stay embryonic on the server
      if (from === p.addrA && ((seg[0]! << 8) | seg[1]!) >= 2000 && ((seg[0]! << 8) | seg[1]!) < 2004) seg[13] = 0;
    };
    p.clock.run(10);
    p.tap = null;
    const c = unwrap(p.a.connect(p.addrB, 80));
    c.onConnect(() => c.write(new Uint8Array(100_000)));
    p.clock.run(5000);
    expect(received).toBe(100_000);
    expect(p.b.stats.synCookiesAccepted).toBe(1);
  });
});
