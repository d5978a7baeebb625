import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { unwrap } from "../result.ts";
import { ICMP_UNREACH_FRAG_NEEDED, IcmpPacket, type IcmpRepr, emitIcmp, icmpReprLength, parseIcmp, parseIcmpQuote } from "./icmp.ts";
import { hex, toHex } from "./test-helpers.ts";

// Echo request id 0x1234 seq 1 with data "abcdefgh".
const ECHO = hex("08005435123400016162636465666768");
// Fragmentation needed, next-hop MTU 1400, quoting an IPv4 header + the first 8 bytes of UDP.
const FRAG_NEEDED = hex("0304bf7800000578 45000021abcd400040110afbc0000201c0000202 14e90035000d22e0");

describe("icmp", () => {
  it("parseIcmp() deconstructs an echo request", () => {
    const r = unwrap(parseIcmp(ECHO));
    expect(r.kind).toBe("echo-request");
    expect(r).toEqual({ kind: "echo-request", ident: 0x1234, seq: 1, data: new TextEncoder().encode("abcdefgh") });
  });

  it("emitIcmp() constructs the golden echo request and its checksum", () => {
    const buf = new Uint8Array(16);
    expect(emitIcmp({ kind: "echo-request", ident: 0x1234, seq: 1, data: new TextEncoder().encode("abcdefgh") }, buf)).toBe(16);
    expect(toHex(buf)).toBe("08005435123400016162636465666768");
  });

  it("emitIcmp() writes an echo reply in place without copying the data", () => {
    const buf = new Uint8Array(4 + 16);
    buf.set(ECHO, 4);
    const req = unwrap(parseIcmp(buf.subarray(4)));
    if (req.kind !== "echo-request") throw new Error("kind");
    emitIcmp({ kind: "echo-reply", ident: req.ident, seq: req.seq, data: req.data }, buf, 4);
    expect(toHex(buf.subarray(4))).toBe("00005c35123400016162636465666768");
  });

  it("parseIcmp() keeps a nonzero echo code so that re-emitting gives the same bytes", () => {
    const odd = hex("08650595000700016e00746c61622070696e67207061796c6f6164");
    const r = unwrap(parseIcmp(odd));
    expect(r).toMatchObject({ kind: "echo-request", code: 0x65, ident: 7, seq: 1 });
    const out = new Uint8Array(odd.length);
    emitIcmp(r, out);
    expect(toHex(out)).toBe(toHex(odd));
  });

  it("parseIcmp() reads fragmentation-needed with its RFC 1191 next-hop MTU and the quote", () => {
    const r = unwrap(parseIcmp(FRAG_NEEDED));
    if (r.kind !== "dst-unreachable") throw new Error("kind");
    expect(r.code).toBe(ICMP_UNREACH_FRAG_NEEDED);
    expect(r.nextHopMtu).toBe(1400);
    expect(unwrap(parseIcmpQuote(r.original))).toEqual({ src: 0xc0000201, dst: 0xc0000202, protocol: 17, ident: 0xabcd, transport: hex("14e90035000d22e0") });
  });

  it("emitIcmp() constructs the golden fragmentation-needed message", () => {
    const buf = new Uint8Array(FRAG_NEEDED.length);
    emitIcmp({ kind: "dst-unreachable", code: 4, nextHopMtu: 1400, original: FRAG_NEEDED.subarray(8) }, buf);
    expect(toHex(buf)).toBe(toHex(FRAG_NEEDED));
  });

  it("emitIcmp() writes time exceeded (type 11) with a zero unused word", () => {
    const buf = new Uint8Array(8 + 28);
    buf.fill(0xee);
    emitIcmp({ kind: "time-exceeded", code: 1, original: FRAG_NEEDED.subarray(8) }, buf);
    expect(toHex(buf.subarray(0, 2))).toBe("0b01");
    expect(toHex(buf.subarray(4, 8))).toBe("00000000");
    expect(new IcmpPacket(buf).verifyChecksum()).toBe(true);
  });

  it("parseIcmp() rejects truncated messages, bad checksums and unknown types", () => {
    expect(parseIcmp(ECHO.subarray(0, 7))).toEqual({ ok: false, error: "truncated" });
    const bad = ECHO.slice();
    bad[15] = 0;
    expect(parseIcmp(bad)).toEqual({ ok: false, error: "bad-checksum" });
    expect(parseIcmp(bad, { verifyChecksum: false }).ok).toBe(true);
    const ts = hex("0d00f2ff0000000000000000");
    expect(parseIcmp(ts)).toEqual({ ok: false, error: "unsupported-type" });
  });

  it("parseIcmpQuote() rejects quotes too short for an IPv4 header", () => {
    expect(parseIcmpQuote(FRAG_NEEDED.subarray(8, 27))).toEqual({ ok: false, error: "truncated" });
    const q = FRAG_NEEDED.slice(8);
    q[0] = 0x4f;
    expect(parseIcmpQuote(q)).toEqual({ ok: false, error: "truncated" });
    q[0] = 0x65;
    expect(parseIcmpQuote(q)).toEqual({ ok: false, error: "bad-version" });
  });

  it("parseIcmp(emitIcmp(repr)) gives back repr", () => {
    const u16 = fc.integer({ min: 0, max: 0xffff });
    const bytes = fc.uint8Array({ maxLength: 64 });
    const repr: fc.Arbitrary<IcmpRepr> = fc.oneof(
      fc.record({ kind: fc.constantFrom("echo-request" as const, "echo-reply" as const), ident: u16, seq: u16, data: bytes }),
      fc.record({
        kind: fc.constantFrom("echo-request" as const, "echo-reply" as const),
        ident: u16,
        seq: u16,
        data: bytes,
        code: fc.integer({ min: 1, max: 255 }),
      }),
      fc.record({ kind: fc.constant("dst-unreachable" as const), code: fc.integer({ min: 0, max: 15 }), nextHopMtu: u16, original: bytes }),
      fc.record({
        kind: fc.constant("redirect" as const),
        code: fc.integer({ min: 0, max: 3 }),
        gateway: fc.integer({ min: 0, max: 0xffffffff }),
        original: bytes,
      }),
      fc.record({ kind: fc.constant("time-exceeded" as const), code: fc.integer({ min: 0, max: 1 }), original: bytes }),
      fc.record({ kind: fc.constant("parameter-problem" as const), pointer: fc.integer({ min: 0, max: 255 }), original: bytes }),
    );
    fc.assert(
      fc.property(repr, (r) => {
        const buf = new Uint8Array(icmpReprLength(r));
        emitIcmp(r, buf);
        expect(unwrap(parseIcmp(buf))).toEqual(r);
      }),
    );
  });

  it("parseIcmp() and parseIcmpQuote() never throw on arbitrary bytes", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 80 }), (b) => {
        parseIcmp(b);
        parseIcmp(b, { verifyChecksum: false });
        parseIcmpQuote(b);
      }),
    );
  });
});
