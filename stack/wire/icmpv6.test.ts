import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { unwrap } from "../result.ts";
import { formatIpv6, ipv6 } from "./ipv6-address.ts";
import { type Icmpv6Repr, emitIcmpv6, icmpv6Checksum, icmpv6ReprLength, parseIcmpv6, parseIcmpv6Quote, verifyIcmpv6Checksum } from "./icmpv6.ts";
import { parseIpv6 } from "./ipv6.ts";
import { guard } from "./test-guard.ts";
import { hex, toHex } from "./test-helpers.ts";

// Golden packets built with scapy 2.5.0 (IPv6()/ICMPv6...; bytes(p).hex()), IPv6 header included.
const ECHO = hex("6b81234500103a4020010db800000000000000000000000120010db800000000000000000000000280008075123400016162636465666768");
const PTB = hex(
  "60000000003a3a4020010db80000000000000000000000fe20010db800000000000000000000000102002a740000057860000000000a113f20010db800000000000000000000000120010db800000000000000000000009914e90035000a26476869",
);
const UNREACH = hex(
  "6000000000383a4020010db80000000000000000000000fe20010db8000000000000000000000001010430e900000000600000000008114020010db800000000000000000000000120010db80000000000000000000000fe03e807d0000897b5",
);
const TIME_EXCEEDED = hex(
  "6000000000303a4020010db80000000000000000000000fe20010db80000000000000000000000010300a916000000006000000000003b0120010db800000000000000000000000120010db8000000000000000000000099",
);
const PARAM = hex(
  "6000000000303a4020010db80000000000000000000000fe20010db80000000000000000000000010401a749000000286000000000003b4020010db800000000000000000000000120010db80000000000000000000000fe",
);

/** The addresses and the ICMPv6 message of a golden packet. */
function split(packet: Uint8Array): { src: Uint8Array; dst: Uint8Array; msg: Uint8Array } {
  const ip = unwrap(parseIpv6(packet));
  return { src: ip.src, dst: ip.dst, msg: packet.subarray(40, 40 + ip.payloadLength) };
}

/** parse, then emit into a fresh buffer: the bytes must be the golden ones. */
function reemit(packet: Uint8Array): Icmpv6Repr {
  const { src, dst, msg } = split(packet);
  const r = unwrap(parseIcmpv6(msg, src, dst));
  const out = new Uint8Array(icmpv6ReprLength(r));
  expect(emitIcmpv6(r, out, 0, src, dst)).toBe(msg.length);
  expect(toHex(out)).toBe(toHex(msg));
  return r;
}

describe("icmpv6", () => {
  it("parseIcmpv6() deconstructs scapy's echo request and emitIcmpv6() constructs it with the v6 pseudo-header checksum", () => {
    const r = reemit(ECHO);
    expect(r).toEqual({ kind: "echo-request", ident: 0x1234, seq: 1, data: new TextEncoder().encode("abcdefgh") });
  });

  it("icmpv6Checksum() computes the field scapy wrote, whatever the field holds now", () => {
    for (const p of [ECHO, PTB, UNREACH, TIME_EXCEEDED, PARAM]) {
      const { src, dst, msg } = split(p);
      const want = (msg[2]! << 8) | msg[3]!;
      expect(icmpv6Checksum(msg, src, dst)).toBe(want);
      const zeroed = msg.slice();
      zeroed[2] = 0x12;
      zeroed[3] = 0x34;
      expect(icmpv6Checksum(zeroed, src, dst)).toBe(want);
    }
  });

  it("reads Packet Too Big with its MTU and the quoted packet", () => {
    const r = reemit(PTB);
    if (r.kind !== "packet-too-big") throw new Error(r.kind);
    expect(r.mtu).toBe(1400);
    // The quote is the whole invoking packet here (it fits in the minimum MTU).
    const quoted = unwrap(parseIpv6(r.original));
    expect([formatIpv6(quoted.dst), quoted.nextHeader, quoted.hopLimit]).toEqual(["2001:db8::99", 17, 63]);
  });

  it("reads destination unreachable (port), time exceeded and parameter problem with its 32-bit pointer", () => {
    expect(reemit(UNREACH)).toMatchObject({ kind: "dst-unreachable", code: 4 });
    expect(reemit(TIME_EXCEEDED)).toMatchObject({ kind: "time-exceeded", code: 0 });
    expect(reemit(PARAM)).toMatchObject({ kind: "parameter-problem", code: 1, pointer: 40 });
  });

  it("parseIcmpv6Quote() finds the quoted addresses and UDP ports, also in a quote cut short", () => {
    const r = unwrap(parseIcmpv6(split(UNREACH).msg, split(UNREACH).src, split(UNREACH).dst));
    if (r.kind !== "dst-unreachable") throw new Error(r.kind);
    const q = unwrap(parseIcmpv6Quote(r.original));
    expect([formatIpv6(q.src), formatIpv6(q.dst), q.nextHeader, toHex(q.transport.subarray(0, 4))]).toEqual(["2001:db8::1", "2001:db8::fe", 17, "03e807d0"]);
    expect(unwrap(parseIcmpv6Quote(r.original.subarray(0, 44))).transport.length).toBe(4);
    expect(parseIcmpv6Quote(r.original.subarray(0, 39))).toMatchObject({ ok: false, error: "truncated" });
    const v4 = r.original.slice();
    v4[0] = 0x45;
    expect(parseIcmpv6Quote(v4)).toMatchObject({ ok: false, error: "bad-version" });
  });

  it("parseIcmpv6() keeps an error of unknown type for the upper layer and drops unknown informational types (RFC 4443 §2.4(b))", () => {
    const { src, dst, msg } = split(TIME_EXCEEDED);
    const odd = msg.slice();
    odd[0] = 42;
    odd[4] = 7;
    const r = unwrap(parseIcmpv6(odd, src, dst, { verifyChecksum: false }));
    expect(r).toMatchObject({ kind: "unknown-error", type: 42, code: 0, rest: 0x07000000 });
    const out = new Uint8Array(icmpv6ReprLength(r));
    emitIcmpv6(r, out, 0, src, dst);
    expect(toHex(out.subarray(4))).toBe(toHex(odd.subarray(4)));
    const info = msg.slice();
    info[0] = 200;
    expect(parseIcmpv6(info, src, dst, { verifyChecksum: false })).toMatchObject({ ok: false, error: "unsupported-type" });
  });

  it("emitIcmpv6() writes an echo reply in place without copying the data", () => {
    const { src, dst, msg } = split(ECHO);
    const buf = msg.slice();
    const req = unwrap(parseIcmpv6(buf, src, dst));
    if (req.kind !== "echo-request") throw new Error(req.kind);
    emitIcmpv6({ kind: "echo-reply", ident: req.ident, seq: req.seq, data: req.data }, buf, 0, dst, src);
    expect(buf[0]).toBe(129);
    expect(verifyIcmpv6Checksum(buf, dst, src)).toBe(true);
    expect(toHex(buf.subarray(4))).toBe(toHex(msg.subarray(4)));
  });

  it("parseIcmpv6() rejects truncated messages, a checksum for other addresses, and NDP/MLD/unknown types", () => {
    const { src, dst, msg } = split(ECHO);
    expect(parseIcmpv6(msg.subarray(0, 7), src, dst)).toMatchObject({ ok: false, error: "truncated" });
    expect(parseIcmpv6(msg, src, ipv6("2001:db8::3"))).toMatchObject({ ok: false, error: "bad-checksum" });
    expect(parseIcmpv6(msg, src, ipv6("2001:db8::3"), { verifyChecksum: false }).ok).toBe(true);
    const ns = msg.slice();
    ns[0] = 135;
    expect(parseIcmpv6(ns, src, dst, { verifyChecksum: false })).toMatchObject({ ok: false, error: "unsupported-type" });
  });

  it("parseIcmpv6(emitIcmpv6(repr)) gives back repr", () => {
    const u16 = fc.integer({ min: 0, max: 0xffff });
    const u32 = fc.integer({ min: 0, max: 0xffffffff });
    const bytes = fc.uint8Array({ maxLength: 64 });
    const addr = fc.uint8Array({ minLength: 16, maxLength: 16 });
    const repr: fc.Arbitrary<Icmpv6Repr> = fc.oneof(
      fc.record({ kind: fc.constantFrom("echo-request" as const, "echo-reply" as const), ident: u16, seq: u16, data: bytes }),
      fc.record({
        kind: fc.constantFrom("echo-request" as const, "echo-reply" as const),
        ident: u16,
        seq: u16,
        data: bytes,
        code: fc.integer({ min: 1, max: 255 }),
      }),
      fc.record({ kind: fc.constant("dst-unreachable" as const), code: fc.integer({ min: 0, max: 255 }), original: bytes }),
      fc.record({ kind: fc.constant("packet-too-big" as const), mtu: u32, original: bytes }),
      fc.record({ kind: fc.constant("packet-too-big" as const), mtu: u32, original: bytes, code: fc.integer({ min: 1, max: 255 }) }),
      fc.record({ kind: fc.constant("time-exceeded" as const), code: fc.integer({ min: 0, max: 255 }), original: bytes }),
      fc.record({ kind: fc.constant("parameter-problem" as const), code: fc.integer({ min: 0, max: 255 }), pointer: u32, original: bytes }),
      fc.record({
        kind: fc.constant("unknown-error" as const),
        type: fc.integer({ min: 5, max: 126 }),
        code: fc.integer({ min: 0, max: 255 }),
        rest: u32,
        original: bytes,
      }),
    );
    fc.assert(
      fc.property(repr, addr, addr, (r, src, dst) => {
        const buf = new Uint8Array(icmpv6ReprLength(r));
        emitIcmpv6(r, buf, 0, src, dst);
        expect(unwrap(parseIcmpv6(buf, src, dst))).toEqual(r);
      }),
    );
  });

  it("parseIcmpv6() never throws nor reads outside its input on arbitrary bytes", () => {
    const src = ipv6("fe80::1"),
      dst = ipv6("fe80::2");
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 80 }), (b) => {
        parseIcmpv6(guard(b), src, dst);
        parseIcmpv6(guard(b), src, dst, { verifyChecksum: false });
        parseIcmpv6Quote(guard(b));
      }),
    );
    const quoteish = fc
      .tuple(fc.uint8Array({ minLength: 40, maxLength: 40 }), fc.uint8Array({ maxLength: 60 }), fc.constantFrom(0, 43, 44, 60, 17))
      .map(([h, rest, nh]) => {
        const b = new Uint8Array(40 + rest.length);
        b.set(h);
        b.set(rest, 40);
        b[0] = 0x60;
        b[6] = nh;
        return b;
      });
    fc.assert(
      fc.property(quoteish, (b) => {
        parseIcmpv6Quote(guard(b));
      }),
    );
  });
});
