import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { unwrap } from "../result.ts";
import { formatIpv6, ipv6 } from "./ipv6-address.ts";
import { walkIpv6Chain, IPV6_OPTION_ROUTER_ALERT } from "./ipv6-ext.ts";
import { parseIpv6 } from "./ipv6.ts";
import { MLD_CHANGE_TO_EXCLUDE, MLD_MODE_IS_INCLUDE, type MldRepr, emitMld, mldMaxResponseDelay, mldReprLength, parseMld } from "./mld.ts";
import { guard } from "./test-guard.ts";
import { hex, toHex } from "./test-helpers.ts";

// Built with scapy 2.5.0: IPv6(hlim=1)/IPv6ExtHdrHopByHop(options=[RouterAlert()])/ICMPv6MLReport2(records=[
//   CHANGE_TO_EXCLUDE ff02::1:ff00:1, MODE_IS_INCLUDE ff05::fb from 2001:db8::1 and 2001:db8::2]).
const REPORT = hex(
  "6000000000580001fe800000000000000000000000000001ff0200000000000000000000000000163a000502000001008f00145a0000000204000000ff0200000000000000000001ff00000101000002ff0500000000000000000000000000fb20010db800000000000000000000000120010db8000000000000000000000002",
);
// ICMPv6MLQuery2(mrd=10000, QRV=2, QQIC=125): a general query.
const QUERY = hex(
  "6000000000240001fe800000000000000000000000000001ff0200000000000000000000000000013a00050200000100820056962710000000000000000000000000000000000000027d0000",
);

/** Walks to the ICMPv6 message behind the Hop-by-Hop header (Router Alert known). */
function split(packet: Uint8Array): { src: Uint8Array; dst: Uint8Array; msg: Uint8Array } {
  const ip = unwrap(parseIpv6(packet));
  const chain = unwrap(walkIpv6Chain(packet.subarray(0, 40 + ip.payloadLength), { knownOption: (t) => t === IPV6_OPTION_ROUTER_ALERT }));
  expect(chain.upperLayer).toBe(58);
  return { src: ip.src, dst: ip.dst, msg: packet.subarray(chain.offset, 40 + ip.payloadLength) };
}

describe("mld", () => {
  it("parseMld() deconstructs scapy's MLDv2 report and emitMld() gives back its bytes", () => {
    const { src, dst, msg } = split(REPORT);
    const r = unwrap(parseMld(msg, src, dst));
    if (r.kind !== "report") throw new Error(r.kind);
    expect(r.records.map((x) => [x.recordType, formatIpv6(x.multicastAddress), x.sources.map(formatIpv6), x.auxData.length])).toEqual([
      [MLD_CHANGE_TO_EXCLUDE, "ff02::1:ff00:1", [], 0],
      [MLD_MODE_IS_INCLUDE, "ff05::fb", ["2001:db8::1", "2001:db8::2"], 0],
    ]);
    const out = new Uint8Array(mldReprLength(r));
    emitMld(r, out, 0, src, dst);
    expect(toHex(out)).toBe(toHex(msg));
  });

  it("parseMld() reads an MLDv2 general query and emitMld() gives back its bytes", () => {
    const { src, dst, msg } = split(QUERY);
    const q = unwrap(parseMld(msg, src, dst));
    expect(q).toMatchObject({ kind: "query", maxResponseCode: 10000, suppress: false, robustness: 2, qqic: 125, sources: [] });
    const out = new Uint8Array(mldReprLength(q));
    emitMld(q, out, 0, src, dst);
    expect(toHex(out)).toBe(toHex(msg));
    expect(mldMaxResponseDelay(10000)).toBe(10000);
    // RFC 3810 §5.1.3: 0x8000 is mant 0, exp 0: (0x1000) << 3.
    expect(mldMaxResponseDelay(0x8000)).toBe(0x8000);
  });

  it("parseMld() refuses records or sources past the message, bad checksums, MLDv1 queries and other types", () => {
    const { src, dst, msg } = split(REPORT);
    expect(parseMld(msg.subarray(0, msg.length - 1), src, dst, { verifyChecksum: false })).toMatchObject({ ok: false, error: "truncated" });
    const more = msg.slice();
    more[7] = 3;
    expect(parseMld(more, src, dst, { verifyChecksum: false })).toMatchObject({ ok: false, error: "truncated" });
    expect(parseMld(msg, src, ipv6("ff02::2"))).toMatchObject({ ok: false, error: "bad-checksum" });
    const q = split(QUERY);
    expect(parseMld(q.msg.subarray(0, 26), q.src, q.dst, { verifyChecksum: false })).toMatchObject({ ok: false, error: "truncated" });
    const echo = msg.slice();
    echo[0] = 128;
    expect(parseMld(echo, src, dst)).toMatchObject({ ok: false, error: "unsupported-type" });
  });

  it("parseMld() reads MLDv1 (RFC 2710) query, report and done; a 24-byte query is v1 (RFC 3810 §8.1)", () => {
    // scapy: ICMPv6MLReport(mladdr="ff02::1:ff00:1") from fe80::1 to ff02::1:ff00:1 (no Hop-by-Hop here).
    const src = ipv6("fe80::1"),
      dst = ipv6("ff02::1:ff00:1");
    const v1 = hex("8300821f00000000ff0200000000000000000001ff000001");
    const r = unwrap(parseMld(v1, src, dst));
    expect(r.kind === "v1-report" && formatIpv6(r.multicastAddress)).toBe("ff02::1:ff00:1");
    const out = new Uint8Array(mldReprLength(r));
    emitMld(r, out, 0, src, dst);
    expect(toHex(out)).toBe(toHex(v1));
    const q = split(QUERY);
    const v1q = q.msg.slice(0, 24);
    v1q[2] = 0;
    v1q[3] = 0;
    const query = unwrap(parseMld(v1q, q.src, q.dst, { verifyChecksum: false }));
    expect(query).toMatchObject({ kind: "v1-query", maxResponseDelay: 10000 });
  });

  it("parseMld(emitMld(repr)) gives back repr", () => {
    const addr = fc.uint8Array({ minLength: 16, maxLength: 16 });
    const record = fc.record({
      recordType: fc.integer({ min: 0, max: 255 }),
      multicastAddress: addr,
      sources: fc.array(addr, { maxLength: 3 }),
      auxData: fc.integer({ min: 0, max: 3 }).chain((n) => fc.uint8Array({ minLength: 4 * n, maxLength: 4 * n })),
    });
    const repr: fc.Arbitrary<MldRepr> = fc.oneof(
      fc.record({ kind: fc.constant("report" as const), records: fc.array(record, { maxLength: 4 }) }),
      fc.record({
        kind: fc.constant("query" as const),
        maxResponseCode: fc.integer({ min: 0, max: 0xffff }),
        multicastAddress: addr,
        suppress: fc.boolean(),
        robustness: fc.integer({ min: 0, max: 7 }),
        qqic: fc.integer({ min: 0, max: 255 }),
        sources: fc.array(addr, { maxLength: 3 }),
      }),
      fc.record({
        kind: fc.constantFrom("v1-query" as const, "v1-report" as const, "v1-done" as const),
        maxResponseDelay: fc.integer({ min: 0, max: 0xffff }),
        multicastAddress: addr,
      }),
    );
    fc.assert(
      fc.property(repr, addr, addr, (r, src, dst) => {
        const buf = new Uint8Array(mldReprLength(r));
        emitMld(r, buf, 0, src, dst);
        expect(unwrap(parseMld(buf, src, dst))).toEqual(r);
      }),
    );
  });

  it("parseMld() never throws nor reads outside its input on arbitrary bytes", () => {
    const src = ipv6("fe80::1"),
      dst = ipv6("ff02::16");
    const mldish = fc
      .tuple(fc.constantFrom(130, 131, 132, 143), fc.uint8Array({ maxLength: 120 }))
      .map(([t, b]) => Uint8Array.of(t, 0, 0, 0, 0, 0, 0, b.length % 4, ...b));
    fc.assert(
      fc.property(fc.oneof(fc.uint8Array({ maxLength: 80 }), mldish), (b) => {
        parseMld(guard(b), src, dst);
        parseMld(guard(b), src, dst, { verifyChecksum: false });
      }),
      { numRuns: 500 },
    );
  });
});
