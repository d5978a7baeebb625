import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { ipv6 } from "./ipv6-address.ts";
import { emitUdp6, parseUdp6 } from "./udp6.ts";
import { hex, toHex } from "./test-helpers.ts";

// Golden bytes from scapy: IPv6(src, dst)/UDP(sport, dport)/payload, bytes(p)[40:].
describe("udp6 wire", () => {
  it("emitUdp6() writes scapy's bytes (v6 pseudo-header checksum)", () => {
    const buf = new Uint8Array(13);
    emitUdp6({ srcPort: 1234, dstPort: 5678, payload: new TextEncoder().encode("hello") }, buf, 0, ipv6("2001:db8::a"), ipv6("2001:db8::b"));
    expect(toHex(buf)).toBe("04d2162e000d457b68656c6c6f");
    const b2 = new Uint8Array(10);
    emitUdp6({ srcPort: 0xffff, dstPort: 7, payload: Uint8Array.of(0x12, 0x34) }, b2, 0, ipv6("fe80::1"), ipv6("fe80::2"));
    expect(toHex(b2)).toBe("ffff0007000af09a1234");
  });

  it("parseUdp6() reads scapy's datagram and refuses a bad checksum, a zero checksum (RFC 8200 §8.1) and a bad length", () => {
    const src = ipv6("2001:db8::a"),
      dst = ipv6("2001:db8::b");
    const good = hex("04d2162e000d457b68656c6c6f");
    expect(parseUdp6(good, src, dst)).toEqual({ ok: true, value: { srcPort: 1234, dstPort: 5678, payload: new TextEncoder().encode("hello") } });
    expect(parseUdp6(good, dst, src).ok).toBe(true); // the sum is symmetric in src and dst
    expect(parseUdp6(good, src, ipv6("2001:db8::c"))).toEqual({ ok: false, error: "bad-checksum" });
    expect(parseUdp6(hex("04d2162e000d000068656c6c6f"), src, dst)).toEqual({ ok: false, error: "zero-checksum" });
    expect(parseUdp6(hex("04d2162e000e457b68656c6c6f"), src, dst)).toEqual({ ok: false, error: "bad-length" });
    expect(parseUdp6(hex("04d2162e"), src, dst)).toEqual({ ok: false, error: "truncated" });
  });

  it("round-trips any datagram and never throws on any bytes", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 65535 }), fc.integer({ min: 1, max: 65535 }), fc.uint8Array({ maxLength: 300 }), (sp, dp, payload) => {
        const buf = new Uint8Array(8 + payload.length);
        const src = ipv6("2001:db8::1"),
          dst = ipv6("ff02::fb");
        emitUdp6({ srcPort: sp, dstPort: dp, payload }, buf, 0, src, dst);
        expect(parseUdp6(buf, src, dst)).toEqual({ ok: true, value: { srcPort: sp, dstPort: dp, payload } });
      }),
    );
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
        parseUdp6(bytes, ipv6("::1"), ipv6("::2"));
      }),
    );
  });
});
