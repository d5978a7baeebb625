import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { createRng } from "../../time.ts";
import { createTcpSecrets, halfSipHash, initialSequenceNumber } from "./isn.ts";
import { COOKIE_SLOT_MS, cookieTimestamp, decodeCookieOptions, decodeSynCookie, encodeCookieOptions, encodeSynCookie } from "./syn-cookie.ts";

const tuple = { localAddr: 0xc0000201, localPort: 80, remoteAddr: 0xc0000202, remotePort: 40000 };

describe("ISN and SYN cookies", () => {
  it("HalfSipHash-2-4 matches the reference vector for key 00..07 and an empty message", () => {
    // reference implementation (veorq/SipHash halfsiphash.c, 32-bit output), k = 00 01 .. 07, m = ""
    expect(halfSipHash(0x03020100, 0x07060504, [])).toBe(0x5b9f35a9);
  });

  it("the ISN advances by 250 per millisecond for the same 4-tuple", () => {
    const s = createTcpSecrets(createRng(1));
    const a = initialSequenceNumber(s, 0, 1, 2, 3, 4);
    expect((initialSequenceNumber(s, 4, 1, 2, 3, 4) - a) >>> 0).toBe(1000);
  });

  it("a cookie decodes to the largest table MSS not above the client's, within two time slots, for its 4-tuple and ISN only", () => {
    fc.assert(
      fc.property(fc.nat({ max: 0xffffffff }), fc.integer({ min: 536, max: 9000 }), fc.nat({ max: 1e9 }), (peerIsn, mss, now) => {
        const s = createTcpSecrets(createRng(7));
        const c = encodeSynCookie(s, now, tuple, peerIsn, mss);
        const got = decodeSynCookie(s, now + COOKIE_SLOT_MS, tuple, peerIsn, c);
        expect(got).toBeDefined();
        expect(got!).toBeLessThanOrEqual(mss);
        expect(decodeSynCookie(s, now + 2 * COOKIE_SLOT_MS + COOKIE_SLOT_MS, tuple, peerIsn, c)).toBeUndefined();
        expect(decodeSynCookie(s, now, { ...tuple, remotePort: 40001 }, peerIsn, c)).toBeUndefined();
        expect(decodeSynCookie(s, now, tuple, (peerIsn + 1) >>> 0, c)).toBeUndefined();
      }),
      { numRuns: 200 },
    );
  });

  it("window scale and SACK-permitted round-trip through the TSval bits", () => {
    expect(decodeCookieOptions(encodeCookieOptions(7, true))).toEqual({ windowScale: 7, sackPermitted: true });
    expect(decodeCookieOptions(encodeCookieOptions(undefined, false))).toEqual({ windowScale: undefined, sackPermitted: false });
    expect(decodeCookieOptions(0)).toBeUndefined();
  });

  it("the cookie TSval carries the bits, is never ahead of the clock and at most 64 ticks behind (as Linux's cookie_init_timestamp)", () => {
    fc.assert(
      fc.property(fc.nat({ max: 0xffffffff }), fc.nat({ max: 63 }), (now, bits) => {
        const ts = cookieTimestamp(now, bits);
        expect(ts & 63).toBe(bits);
        const behind = (now - ts) >>> 0;
        expect(behind).toBeGreaterThanOrEqual(0);
        expect(behind).toBeLessThan(64);
      }),
      { numRuns: 500 },
    );
    expect(cookieTimestamp(0x1000, 0x2f)).toBe(0x0fef);
    expect(cookieTimestamp(0x1030, 0x2f)).toBe(0x102f);
    expect(cookieTimestamp(5, 0x2f)).toBe(0xffffffef);
  });
});
