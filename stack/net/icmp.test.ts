import { describe, expect, it } from "vitest";
import { unwrap } from "../result.ts";
import { parseEthernet } from "../wire/ethernet.ts";
import { emitIcmp, parseIcmp } from "../wire/icmp.ts";
import { Ipv4Packet, parseIpv4 } from "../wire/ipv4.ts";
import { toHex } from "../wire/test-helpers.ts";
import type { PingError, PingReply } from "./types.ts";
import type { Result } from "../result.ts";
import { HEADROOM } from "./types.ts";
import { A_IP, B_IP, createTwoStacks } from "./test-net.ts";

function icmpFrom(t: ReturnType<typeof createTwoStacks>, from: "a" | "b") {
  return t.pair.log
    .filter((l) => l.from === from && unwrap(parseEthernet(l.frame.data)).ethertype === 0x0800)
    .map((l) => new Ipv4Packet(l.frame.data.subarray(14)))
    .filter((p) => p.protocol === 1)
    .map((p) => ({ ip: unwrap(parseIpv4(p.bytes)), icmp: unwrap(parseIcmp(p.payload)), bytes: p.payload }));
}

describe("icmp", () => {
  it("ping() reports the round-trip time on the virtual clock, including ARP resolution", () => {
    const t = createTwoStacks({ pair: { latencyMs: 5 } });
    t.clock.run();
    const results: Result<PingReply, PingError>[] = [];
    t.a.icmp.ping(B_IP, { size: 56, ident: 0x1234, seq: 1 }, (r) => results.push(r));
    t.clock.run();
    t.a.icmp.ping(B_IP, { size: 100, ident: 0x1234, seq: 2 }, (r) => results.push(r));
    t.clock.run();
    expect(results).toEqual([
      { ok: true, value: { from: B_IP, ident: 0x1234, seq: 1, bytes: 56, ttl: 64, rttMs: 20 } },
      { ok: true, value: { from: B_IP, ident: 0x1234, seq: 2, bytes: 100, ttl: 64, rttMs: 10 } },
    ]);
  });

  it("ping() of our own address is answered through local delivery without touching the wire", () => {
    const t = createTwoStacks();
    t.clock.run();
    t.pair.log.length = 0;
    const results: Result<PingReply, PingError>[] = [];
    t.a.icmp.ping(A_IP, {}, (r) => results.push(r));
    t.clock.run();
    expect(results[0]).toMatchObject({ ok: true, value: { from: A_IP, rttMs: 0 } });
    expect(t.pair.log).toEqual([]);
  });

  it("the echo request and reply carry identical ident, seq and data (RFC 792)", () => {
    const t = createTwoStacks();
    t.clock.run();
    t.a.icmp.ping(B_IP, { size: 8, ident: 0x0102, seq: 0x0304 }, () => {});
    t.clock.run();
    const req = icmpFrom(t, "a")[0]!;
    const rep = icmpFrom(t, "b")[0]!;
    expect(toHex(req.bytes)).toMatch(/^0800....010203040001020304050607$/);
    expect(toHex(rep.bytes)).toMatch(/^0000....010203040001020304050607$/);
    expect(rep.ip).toMatchObject({ src: B_IP, dst: A_IP });
  });

  it("ping() times out when no reply comes, and late replies are ignored", () => {
    let drop = true;
    const t = createTwoStacks({ pair: { filter: (_f, from) => !(drop && from === "b") } });
    t.a.arp.addStatic(B_IP, 0x020000000002);
    const results: Result<PingReply, PingError>[] = [];
    t.a.icmp.ping(B_IP, { timeoutMs: 500 }, (r) => results.push(r));
    t.clock.run();
    expect(results).toEqual([{ ok: false, error: "timeout" }]);
    expect(t.a.counters().icmp).toMatchObject({ pingTimeouts: 1 });
    drop = false;
  });

  it("ping() reports a send failure at once (DF and too big)", () => {
    const t = createTwoStacks();
    const results: Result<PingReply, PingError>[] = [];
    t.a.icmp.ping(B_IP, { size: 1473, dontFragment: true }, (r) => results.push(r));
    expect(results).toEqual([{ ok: false, error: "too-big" }]);
  });

  it("ping() of a 3000-byte echo works through fragmentation and reassembly", () => {
    const t = createTwoStacks();
    const results: Result<PingReply, PingError>[] = [];
    t.a.icmp.ping(B_IP, { size: 3000 }, (r) => results.push(r));
    t.clock.run();
    expect(results[0]).toMatchObject({ ok: true, value: { bytes: 3000 } });
  });

  it("ping() fails with unreachable when an ICMP error quotes the echo request", () => {
    const t = createTwoStacks();
    t.clock.run();
    const results: Result<PingReply, PingError>[] = [];
    t.a.arp.addStatic(B_IP, 0x020000000002);
    t.a.icmp.ping(B_IP, { ident: 9, seq: 9 }, (r) => results.push(r));
    const req = icmpFrom(t, "a")[0]!;
    const quoted = t.pair.log.at(-1)!.frame.data.subarray(14, 14 + 28);
    expect(req.icmp.kind).toBe("echo-request");
    t.b.icmp.sendError("host-unreachable", quoted.subarray(0, 20), quoted.subarray(20));
    t.clock.run();
    expect(results[0]).toMatchObject({ ok: false, error: "unreachable" });
  });

  it("ping() of an on-link host that never answers ARP fails with unreachable when ARP gives up", () => {
    const t = createTwoStacks();
    const results: [number, Result<PingReply, PingError>][] = [];
    t.a.icmp.ping(0xc0000263, { timeoutMs: 10_000 }, (r) => results.push([t.clock.now(), r]));
    t.clock.run();
    expect(results).toEqual([[3000, { ok: false, error: "unreachable", detail: expect.stringContaining("code 1") }]]);
    expect(t.a.counters().icmp).toMatchObject({ localErrors: 1 });
  });

  it("does not answer echo requests sent to broadcast (like Linux icmp_echo_ignore_broadcasts)", () => {
    const t = createTwoStacks();
    t.clock.run();
    const results: Result<PingReply, PingError>[] = [];
    t.a.icmp.ping(0xc00002ff, { timeoutMs: 100 }, (r) => results.push(r));
    t.clock.run();
    expect(results).toEqual([{ ok: false, error: "timeout" }]);
    expect(t.b.counters().icmp.drops).toEqual({ "broadcast-echo": 1 });
    const u = createTwoStacks({ b: { icmp: { replyToBroadcastEcho: true } } });
    const r2: Result<PingReply, PingError>[] = [];
    u.a.icmp.ping(0xffffffff, {}, (r) => r2.push(r));
    u.clock.run();
    expect(r2[0]).toMatchObject({ ok: true, value: { from: B_IP } });
  });

  it("rate-limits errors with a token bucket on the clock", () => {
    const t = createTwoStacks({ b: { icmp: { errorsPerSecond: 10, errorBurst: 3 } } });
    t.a.arp.addStatic(B_IP, 0x020000000002);
    t.b.arp.addStatic(A_IP, 0x020000000001);
    const send = (): boolean => {
      const buf = new Uint8Array(HEADROOM + 8);
      const p = buf.subarray(HEADROOM);
      p[0] = 0x11;
      return t.a.ipv4.send(B_IP, 99, p).ok;
    };
    for (let i = 0; i < 10; i++) send();
    t.clock.run(t.clock.now());
    expect(t.b.counters().icmp).toMatchObject({ errorsSent: 3, rateLimited: 7 });
    t.clock.advance(100);
    for (let i = 0; i < 3; i++) send();
    t.clock.run(t.clock.now());
    expect(t.b.counters().icmp).toMatchObject({ errorsSent: 4, rateLimited: 9 });
  });

  it("never sends errors about ICMP errors, broadcasts or non-initial fragments (RFC 1122 §3.2.2)", () => {
    const t = createTwoStacks();
    const hdr = (dst: number, fragOffset8: number, protocol: number): Uint8Array => {
      const h = new Uint8Array(20);
      h[0] = 0x45;
      h[9] = protocol;
      h[6] = fragOffset8 >> 8;
      h[7] = fragOffset8 & 0xff;
      h[12] = 192;
      h[13] = 0;
      h[14] = 2;
      h[15] = 11; // src 192.0.2.11
      h[16] = dst >>> 24;
      h[17] = (dst >>> 16) & 0xff;
      h[18] = (dst >>> 8) & 0xff;
      h[19] = dst & 0xff;
      return h;
    };
    const icmpErr = new Uint8Array(8 + 28);
    emitIcmp({ kind: "dst-unreachable", code: 3, nextHopMtu: 0, original: new Uint8Array(28) }, icmpErr);
    expect(t.a.icmp.sendError("port-unreachable", hdr(A_IP, 0, 1), icmpErr)).toBe(false);
    expect(t.a.icmp.sendError("port-unreachable", hdr(0xffffffff, 0, 17), new Uint8Array(8))).toBe(false);
    expect(t.a.icmp.sendError("port-unreachable", hdr(A_IP, 5, 17), new Uint8Array(8))).toBe(false);
    expect(t.a.icmp.sendError("port-unreachable", hdr(A_IP, 0, 17), new Uint8Array(8))).toBe(true);
    expect(t.a.counters().icmp.drops).toEqual({ "error-about-error": 1, "error-about-broadcast-or-fragment": 2 });
  });

  it("an error quotes at most 576 - 28 bytes of the offending datagram (RFC 1812 §4.3.2.3)", () => {
    const t = createTwoStacks();
    t.clock.run();
    const big = new Uint8Array(HEADROOM + 1000);
    t.a.ipv4.send(B_IP, 99, big.subarray(HEADROOM));
    t.clock.run();
    const err = icmpFrom(t, "b")[0]!;
    expect(err.ip.payloadLength).toBe(576 - 20);
    if (err.icmp.kind !== "dst-unreachable") throw new Error(err.icmp.kind);
    expect(err.icmp.original.length).toBe(548);
  });

  it("frag-needed from the path lowers the path MTU and reaches the protocol's error handler", () => {
    const t = createTwoStacks();
    t.clock.run();
    const reports: unknown[] = [];
    t.a.icmp.onError(6, (e) => reports.push({ kind: e.kind, code: e.code, mtu: e.nextHopMtu, dst: e.quote.dst, from: e.from }));
    const dgram = new Uint8Array(20 + 8);
    dgram[0] = 0x45;
    dgram[9] = 6;
    dgram.set([192, 0, 2, 10], 12);
    dgram.set([192, 0, 2, 11], 16);
    t.b.icmp.sendError("frag-needed", dgram.subarray(0, 20), dgram.subarray(20), 1280);
    t.clock.run();
    expect(reports).toEqual([{ kind: "dst-unreachable", code: 4, mtu: 1280, dst: B_IP, from: B_IP }]);
    expect(t.a.ipv4.mtuTo(B_IP)).toBe(1280);
  });

  it("drops corrupted ICMP messages by checksum", () => {
    const t = createTwoStacks();
    t.clock.run();
    const buf = new Uint8Array(HEADROOM + 16);
    const m = buf.subarray(HEADROOM);
    emitIcmp({ kind: "echo-request", ident: 1, seq: 1, data: new Uint8Array(8) }, m);
    m[9] = m[9]! ^ 1;
    t.a.ipv4.send(B_IP, 1, m);
    t.clock.run();
    expect(t.b.counters().icmp.drops).toEqual({ "bad-checksum": 1 });
  });
});
