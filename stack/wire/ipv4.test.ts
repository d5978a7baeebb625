import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { unwrap } from "../result.ts";
import { IPV4_HEADER_LEN, Ipv4Packet, type Ipv4Repr, emitIpv4, ipv4HeaderLength, parseIpv4, scanIpv4Options } from "./ipv4.ts";
import { hex, toHex } from "./test-helpers.ts";

// 192.0.2.1 -> 192.0.2.2, UDP, id 0xabcd, DF, TTL 64, carrying a 13-byte UDP datagram.
const UDP_DATAGRAM = hex("45000021abcd400040110afbc0000201c0000202 14e90035000d22e068656c6c6f");
// IGMP-style header with a Router Alert option (RFC 2113), IHL 6.
const WITH_OPTIONS = hex("4600001800010000010282c7c0000201e000001694040000");

const BASE: Ipv4Repr = {
  src: 0xc0000201,
  dst: 0xc0000202,
  protocol: 17,
  ttl: 64,
  tos: 0,
  ident: 0xabcd,
  dontFragment: true,
  moreFragments: false,
  fragmentOffset: 0,
  payloadLength: 13,
  options: new Uint8Array(0),
};

describe("ipv4", () => {
  it("parseIpv4() deconstructs a UDP datagram and verifies its checksum", () => {
    expect(unwrap(parseIpv4(UDP_DATAGRAM))).toEqual(BASE);
    const p = new Ipv4Packet(UDP_DATAGRAM);
    expect(toHex(p.payload)).toBe("14e90035000d22e068656c6c6f");
    expect(p.checksum).toBe(0x0afb);
  });

  it("parseIpv4() keeps options as raw bytes", () => {
    const r = unwrap(parseIpv4(WITH_OPTIONS));
    expect(toHex(r.options)).toBe("94040000");
    expect(r).toMatchObject({ protocol: 2, ttl: 1, dst: 0xe0000016, payloadLength: 0, ident: 1, dontFragment: false });
  });

  it("emitIpv4() constructs the golden header, checksum included", () => {
    const buf = new Uint8Array(24);
    expect(emitIpv4(BASE, buf, 4)).toBe(20);
    expect(toHex(buf.subarray(4))).toBe("45000021abcd400040110afbc0000201c0000202");
    const o = new Uint8Array(24);
    expect(
      emitIpv4(
        { ...BASE, src: 0xc0000201, dst: 0xe0000016, protocol: 2, ttl: 1, ident: 1, dontFragment: false, payloadLength: 0, options: hex("94040000") },
        o,
      ),
    ).toBe(24);
    expect(toHex(o)).toBe("4600001800010000010282c7c0000201e000001694040000");
  });

  it("emitIpv4() writes MF and the fragment offset in 8-byte units", () => {
    const buf = new Uint8Array(20 + 13);
    emitIpv4({ ...BASE, dontFragment: false, moreFragments: true, fragmentOffset: 1480 }, buf);
    expect(toHex(buf.subarray(6, 8))).toBe("20b9");
    const r = unwrap(parseIpv4(buf));
    expect(r).toMatchObject({ moreFragments: true, fragmentOffset: 1480, dontFragment: false });
  });

  it("parseIpv4() rejects a bad checksum unless told the link validated it", () => {
    const b = UDP_DATAGRAM.slice();
    b[8] = 63;
    expect(parseIpv4(b)).toEqual({ ok: false, error: "bad-checksum" });
    expect(unwrap(parseIpv4(b, { verifyChecksum: false })).ttl).toBe(63);
  });

  it("parseIpv4() rejects impossible lengths and versions", () => {
    const set = (i: number, v: number): Uint8Array => {
      const b = UDP_DATAGRAM.slice();
      b[i] = v;
      return b;
    };
    expect(parseIpv4(UDP_DATAGRAM.subarray(0, 19))).toEqual({ ok: false, error: "truncated" });
    expect(parseIpv4(set(0, 0x65))).toEqual({ ok: false, error: "bad-version" });
    expect(parseIpv4(set(0, 0x44))).toEqual({ ok: false, error: "bad-header-length" });
    expect(parseIpv4(set(0, 0x4f))).toEqual({ ok: false, error: "truncated" });
    expect(parseIpv4(set(3, 0x13))).toEqual({ ok: false, error: "bad-length" });
    expect(parseIpv4(set(3, 0x22))).toEqual({ ok: false, error: "truncated" });
    expect(parseIpv4(UDP_DATAGRAM.subarray(0, 32))).toEqual({ ok: false, error: "truncated" });
  });

  it("parseIpv4() ignores link padding after total length", () => {
    const padded = new Uint8Array(46);
    padded.set(UDP_DATAGRAM);
    expect(unwrap(parseIpv4(padded))).toEqual(BASE);
    expect(new Ipv4Packet(padded).payload.length).toBe(13);
  });

  it("setters and fillChecksum() keep the header valid", () => {
    const b = UDP_DATAGRAM.slice();
    const p = new Ipv4Packet(b);
    p.ttl = 1;
    p.src = 0xcb007101;
    p.setFragment(false, true, 8);
    p.fillChecksum();
    expect(p.verifyChecksum()).toBe(true);
    expect(unwrap(parseIpv4(b))).toMatchObject({ ttl: 1, src: 0xcb007101, moreFragments: true, fragmentOffset: 8, dontFragment: false });
  });

  it("parseIpv4(emitIpv4(repr)) gives back repr", () => {
    const repr = fc.record({
      src: fc.integer({ min: 0, max: 0xffffffff }),
      dst: fc.integer({ min: 0, max: 0xffffffff }),
      protocol: fc.integer({ min: 0, max: 255 }),
      ttl: fc.integer({ min: 0, max: 255 }),
      tos: fc.integer({ min: 0, max: 255 }),
      ident: fc.integer({ min: 0, max: 0xffff }),
      dontFragment: fc.boolean(),
      moreFragments: fc.boolean(),
      fragmentOffset: fc.integer({ min: 0, max: 0x1fff }).map((x) => x * 8),
      payloadLength: fc.integer({ min: 0, max: 64 }),
      options: fc.integer({ min: 0, max: 10 }).chain((n) => fc.uint8Array({ minLength: 4 * n, maxLength: 4 * n })),
    });
    fc.assert(
      fc.property(repr, (r) => {
        const buf = new Uint8Array(ipv4HeaderLength(r) + r.payloadLength);
        emitIpv4(r, buf);
        expect(unwrap(parseIpv4(buf))).toEqual(r);
      }),
    );
  });

  it("parseIpv4() never throws on arbitrary bytes, and an accepted header fits the buffer", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 80 }), fc.boolean(), (b, v) => {
        if (b.length > 0) b[0] = 0x40 | (b[0]! & 0x0f);
        const r = parseIpv4(b, { verifyChecksum: v });
        if (r.ok) expect(ipv4HeaderLength(r.value) + r.value.payloadLength).toBeLessThanOrEqual(b.length);
      }),
    );
  });

  it("IPV4_HEADER_LEN is 20", () => {
    expect(IPV4_HEADER_LEN).toBe(20);
  });
});

describe("parseIpv4() and the reserved flag", () => {
  it("rejects a header with the reserved flag bit set (RFC 791 §3.1), which no repr could re-emit", () => {
    const b = new Uint8Array(20);
    emitIpv4(
      {
        src: 1,
        dst: 2,
        protocol: 17,
        ttl: 64,
        tos: 0,
        ident: 0x1234,
        dontFragment: false,
        moreFragments: false,
        fragmentOffset: 0,
        payloadLength: 0,
        options: new Uint8Array(0),
      },
      b,
      0,
    );
    expect(parseIpv4(b).ok).toBe(true);
    b[6] = b[6]! | 0x80;
    b[10] = 0;
    b[11] = 0;
    const view = new Ipv4Packet(b);
    view.fillChecksum();
    expect(parseIpv4(b)).toEqual({ ok: false, error: "reserved-flag" });
  });

  it("scanIpv4Options() finds a source route, accepts other options, and rejects bad lengths, short source routes and a second one", () => {
    expect(scanIpv4Options(WITH_OPTIONS.subarray(20, 24))).toEqual({ ok: true, value: { sourceRoute: false } });
    expect(scanIpv4Options(Uint8Array.of(1, 0x83, 7, 4, 10, 0, 0, 1))).toEqual({ ok: true, value: { sourceRoute: true } });
    expect(scanIpv4Options(Uint8Array.of(0x89, 3, 4, 0))).toEqual({ ok: true, value: { sourceRoute: true } });
    expect(scanIpv4Options(Uint8Array.of(0, 0x83, 1, 1))).toEqual({ ok: true, value: { sourceRoute: false } });
    expect(scanIpv4Options(Uint8Array.of(1, 1, 1, 0x44))).toMatchObject({ ok: false, error: "bad-option-length" });
    expect(scanIpv4Options(Uint8Array.of(0x44, 1, 0, 0))).toMatchObject({ ok: false, error: "bad-option-length" });
    expect(scanIpv4Options(Uint8Array.of(0x44, 5, 0, 0))).toMatchObject({ ok: false, error: "bad-option-length" });
    expect(scanIpv4Options(Uint8Array.of(0x83, 2, 1, 1))).toMatchObject({ ok: false, error: "bad-source-route" });
    expect(scanIpv4Options(Uint8Array.of(0x83, 3, 3, 0))).toMatchObject({ ok: false, error: "bad-source-route" });
    expect(scanIpv4Options(Uint8Array.of(0x83, 3, 4, 0x89, 3, 4, 0, 0))).toMatchObject({ ok: false, error: "bad-source-route" });
  });

  it("scanIpv4Options() never throws and reads nothing past the option bytes", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 40 }), (bytes) => {
        const buf = new Uint8Array(bytes.length + 8).fill(0x83);
        buf.set(bytes);
        const inside = scanIpv4Options(buf.subarray(0, bytes.length));
        expect(scanIpv4Options(Uint8Array.from(bytes))).toEqual(inside);
      }),
      { numRuns: 2000 },
    );
  });
});
