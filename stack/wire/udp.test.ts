import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { unwrap } from "../result.ts";
import { UDP_HEADER_LEN, UdpPacket, emitUdp, parseUdp, udpReprLength } from "./udp.ts";
import { checksumAdd, checksumFinish, pseudoHeaderSum } from "./checksum.ts";
import { hex, toHex } from "./test-helpers.ts";

const SRC = 0xc0000201; // 192.0.2.1
const DST = 0xc0000202; // 192.0.2.2
// 192.0.2.1:5353 -> 192.0.2.2:53 "hello"
const HELLO = hex("14e90035000d22e068656c6c6f");

describe("udp", () => {
  it("parseUdp() deconstructs a datagram and checks the pseudo-header checksum", () => {
    expect(unwrap(parseUdp(HELLO, SRC, DST))).toEqual({ srcPort: 5353, dstPort: 53, payload: new TextEncoder().encode("hello") });
    expect(parseUdp(HELLO, SRC, DST + 1)).toEqual({ ok: false, error: "bad-checksum" });
  });

  it("emitUdp() constructs the golden datagram", () => {
    const buf = new Uint8Array(13);
    expect(emitUdp({ srcPort: 5353, dstPort: 53, payload: new TextEncoder().encode("hello") }, buf, 0, SRC, DST)).toBe(13);
    expect(toHex(buf)).toBe(toHex(HELLO));
  });

  it("emitUdp() sends a checksum that computes to zero as 0xffff (RFC 768)", () => {
    const buf = new Uint8Array(10);
    emitUdp({ srcPort: 1000, dstPort: 2000, payload: new Uint8Array(2) }, buf, 0, SRC, DST);
    const c = new UdpPacket(buf).checksum;
    const payload = new Uint8Array([c >>> 8, c & 0xff]);
    emitUdp({ srcPort: 1000, dstPort: 2000, payload }, buf, 0, SRC, DST);
    expect(new UdpPacket(buf).checksum).toBe(0xffff);
    expect(unwrap(parseUdp(buf, SRC, DST)).payload).toEqual(payload);
  });

  it("parseUdp() accepts a zero checksum as absent", () => {
    const b = HELLO.slice();
    b[6] = 0;
    b[7] = 0;
    expect(unwrap(parseUdp(b, SRC, 0x01020304)).dstPort).toBe(53);
  });

  it("emitUdp() in 'partial' mode leaves the pseudo-header sum for the device to complete", () => {
    const buf = new Uint8Array(13);
    emitUdp({ srcPort: 5353, dstPort: 53, payload: new TextEncoder().encode("hello") }, buf, 0, SRC, DST, "partial");
    expect(new UdpPacket(buf).checksum).toBe(pseudoHeaderSum(SRC, DST, 17, 13));
    const completed = checksumFinish(checksumAdd(buf));
    expect(completed).toBe(0x22e0);
    emitUdp({ srcPort: 5353, dstPort: 53, payload: new Uint8Array(5) }, buf, 0, SRC, DST, "none");
    expect(new UdpPacket(buf).checksum).toBe(0);
  });

  it("emitUdp() does not copy a payload that already sits behind the header", () => {
    const buf = new Uint8Array(40 + 13);
    buf.set(new TextEncoder().encode("hello"), 48);
    emitUdp({ srcPort: 5353, dstPort: 53, payload: buf.subarray(48) }, buf, 40, SRC, DST);
    expect(toHex(buf.subarray(40))).toBe(toHex(HELLO));
  });

  it("parseUdp() rejects impossible lengths and a zero destination port", () => {
    expect(parseUdp(HELLO.subarray(0, 7), SRC, DST)).toEqual({ ok: false, error: "truncated" });
    expect(parseUdp(HELLO.subarray(0, 12), SRC, DST)).toEqual({ ok: false, error: "bad-length" });
    const short = HELLO.slice();
    short[5] = 7;
    expect(parseUdp(short, SRC, DST, { verifyChecksum: false })).toEqual({ ok: false, error: "bad-length" });
    const zero = HELLO.slice();
    zero[2] = 0;
    zero[3] = 0;
    zero[6] = 0;
    zero[7] = 0;
    expect(parseUdp(zero, SRC, DST)).toEqual({ ok: false, error: "bad-port" });
  });

  it("parseUdp() ignores bytes beyond the length field", () => {
    const padded = new Uint8Array(20);
    padded.set(HELLO);
    expect(unwrap(parseUdp(padded, SRC, DST)).payload.length).toBe(5);
  });

  it("parseUdp(emitUdp(repr)) gives back repr", () => {
    const port = fc.integer({ min: 0, max: 0xffff });
    fc.assert(
      fc.property(
        port,
        fc.integer({ min: 1, max: 0xffff }),
        fc.uint8Array({ maxLength: 100 }),
        fc.integer({ min: 0, max: 0xffffffff }),
        fc.integer({ min: 0, max: 0xffffffff }),
        (sp, dp, payload, s, d) => {
          const r = { srcPort: sp, dstPort: dp, payload };
          const buf = new Uint8Array(udpReprLength(r));
          emitUdp(r, buf, 0, s, d);
          expect(unwrap(parseUdp(buf, s, d))).toEqual(r);
        },
      ),
    );
  });

  it("parseUdp() never throws on arbitrary bytes", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 40 }), (b) => {
        const r = parseUdp(b, SRC, DST);
        if (r.ok) expect(b.length).toBeGreaterThanOrEqual(UDP_HEADER_LEN + r.value.payload.length);
      }),
    );
  });
});
