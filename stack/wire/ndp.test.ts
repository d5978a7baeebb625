import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { unwrap } from "../result.ts";
import { formatIpv6, ipv6 } from "./ipv6-address.ts";
import { parseIpv6 } from "./ipv6.ts";
import {
  checkNdpValidity,
  NDP_PREFIX_FLAG_AUTONOMOUS,
  NDP_PREFIX_FLAG_ON_LINK,
  NDP_RA_FLAG_OTHER,
  type NdpOption,
  type NdpRepr,
  emitNdp,
  ndpMacOption,
  ndpOptionMac,
  ndpReprLength,
  parseNdp,
} from "./ndp.ts";
import { guard } from "./test-guard.ts";
import { hex, toHex } from "./test-helpers.ts";

// Golden packets built with scapy 2.5.0 (IPv6(hlim=255)/ICMPv6ND_...; bytes(p).hex()), IPv6 header included.
const RS = hex("6000000000103afffe800000000000000000000000000001ff02000000000000000000000000000285007a2c000000000101020000000001");
// RA: hop limit 64, O flag, preference high, lifetime 1800 s, reachable 30000 ms, retrans 1000 ms; SLLA, MTU 1500,
// prefix 2001:db8:1::/64 (L, A, valid 86400, preferred 14400), RDNSS (600 s, two servers).
const RA = hex(
  "6000000000683afffe800000000000000000000000000001ff020000000000000000000000000001860039dc4048070800007530000003e801010200000000fe05010000000005dc030440c000015180000038400000000020010db8000100000000000000000000190500000000025820010db800000000000000000000005320010db8000000000000000000000054",
);
// NS for DAD (from ::, no options) and NS with a source link-layer address.
const NS_DAD = hex("6000000000183aff00000000000000000000000000000000ff0200000000000000000001ff00000187004cec0000000020010db8000100000000000000000001");
const NS = hex(
  "6000000000203afffe800000000000000000000000000001ff0200000000000000000001ff00000287007a9700000000fe8000000000000000000000000000020101020000000001",
);
// NA solicited + override with a target link-layer address.
const NA = hex(
  "6000000000203afffe800000000000000000000000000002fe8000000000000000000000000000018800181a60000000fe8000000000000000000000000000020201020000000002",
);
// Redirect to fe80::3 for 2001:db8:9::9, with TLLA and a redirected header.
const REDIRECT = hex(
  "6000000000603afffe800000000000000000000000000001fe80000000000000000000000000000289007d7800000000fe80000000000000000000000000000320010db8000900000000000000000009020102000000000304060000000000006000000000003b40fe80000000000000000000000000000220010db8000900000000000000000009",
);

function split(packet: Uint8Array): { src: Uint8Array; dst: Uint8Array; msg: Uint8Array } {
  const ip = unwrap(parseIpv6(packet));
  return { src: ip.src, dst: ip.dst, msg: packet.subarray(40, 40 + ip.payloadLength) };
}

function reemit(packet: Uint8Array): NdpRepr {
  const { src, dst, msg } = split(packet);
  const r = unwrap(parseNdp(msg, src, dst));
  const out = new Uint8Array(ndpReprLength(r));
  expect(emitNdp(r, out, 0, src, dst)).toBe(msg.length);
  expect(toHex(out)).toBe(toHex(msg));
  return r;
}

describe("ndp", () => {
  it("parseNdp() deconstructs scapy's router solicitation with a source link-layer address", () => {
    const r = reemit(RS);
    expect(r.kind).toBe("router-solicitation");
    expect(r.options.map(ndpOptionMac)).toEqual([0x020000000001]);
  });

  it("parseNdp() reads a router advertisement with prefix information, MTU and RDNSS options", () => {
    const r = reemit(RA);
    if (r.kind !== "router-advertisement") throw new Error(r.kind);
    // 0x08: RFC 4191 default router preference "high", scapy's default.
    expect(r).toMatchObject({ curHopLimit: 64, flags: NDP_RA_FLAG_OTHER | 0x08, routerLifetime: 1800, reachableTime: 30000, retransTimer: 1000 });
    const [slla, mtu, prefix, rdnss] = r.options;
    expect(ndpOptionMac(slla!)).toBe(0x0200000000fe);
    expect(mtu).toEqual({ kind: "mtu", mtu: 1500 });
    expect(prefix).toMatchObject({
      kind: "prefix-information",
      prefixLength: 64,
      flags: NDP_PREFIX_FLAG_ON_LINK | NDP_PREFIX_FLAG_AUTONOMOUS,
      validLifetime: 86400,
      preferredLifetime: 14400,
    });
    if (prefix?.kind !== "prefix-information" || rdnss?.kind !== "rdnss") throw new Error("options");
    expect(formatIpv6(prefix.prefix)).toBe("2001:db8:1::");
    expect(rdnss.lifetime).toBe(600);
    expect(rdnss.servers.map(formatIpv6)).toEqual(["2001:db8::53", "2001:db8::54"]);
  });

  it("emitNdp() constructs the golden router advertisement from a repr", () => {
    const { src, dst, msg } = split(RA);
    const repr: NdpRepr = {
      kind: "router-advertisement",
      curHopLimit: 64,
      flags: NDP_RA_FLAG_OTHER | 0x08,
      routerLifetime: 1800,
      reachableTime: 30000,
      retransTimer: 1000,
      options: [
        ndpMacOption("source-link-layer-address", 0x0200000000fe),
        { kind: "mtu", mtu: 1500 },
        { kind: "prefix-information", prefixLength: 64, flags: 0xc0, validLifetime: 86400, preferredLifetime: 14400, prefix: ipv6("2001:db8:1::") },
        { kind: "rdnss", lifetime: 600, servers: [ipv6("2001:db8::53"), ipv6("2001:db8::54")] },
      ],
    };
    const out = new Uint8Array(ndpReprLength(repr));
    emitNdp(repr, out, 0, src, dst);
    expect(toHex(out)).toBe(toHex(msg));
  });

  it("parseNdp() reads neighbor solicitations (DAD and with SLLA), a neighbor advertisement and a redirect", () => {
    const dad = reemit(NS_DAD);
    expect(dad.kind === "neighbor-solicitation" && formatIpv6(dad.target)).toBe("2001:db8:1::1");
    expect(dad.options).toEqual([]);
    expect(reemit(NS)).toMatchObject({ kind: "neighbor-solicitation", options: [{ kind: "source-link-layer-address" }] });
    const na = reemit(NA);
    expect(na).toMatchObject({ kind: "neighbor-advertisement", router: false, solicited: true, override: true });
    expect(na.options.map(ndpOptionMac)).toEqual([0x020000000002]);
    const rd = reemit(REDIRECT);
    if (rd.kind !== "redirect") throw new Error(rd.kind);
    expect([formatIpv6(rd.target), formatIpv6(rd.destination)]).toEqual(["fe80::3", "2001:db8:9::9"]);
    const rh = rd.options[1];
    expect(rh?.kind === "redirected-header" && rh.data.length).toBe(40);
  });

  it("parseNdp() refuses an option of length 0 (RFC 4861 §4.6), options past the message and misfit lengths", () => {
    const { src, dst, msg } = split(NS);
    const zero = msg.slice();
    zero[25] = 0;
    expect(parseNdp(zero, src, dst, { verifyChecksum: false })).toMatchObject({ ok: false, error: "zero-length-option" });
    const long = msg.slice();
    long[25] = 2;
    expect(parseNdp(long, src, dst, { verifyChecksum: false })).toMatchObject({ ok: false, error: "truncated-option" });
    const ra = split(RA);
    const mtu = ra.msg.slice();
    mtu[16 + 8 + 1] = 2;
    expect(parseNdp(mtu, ra.src, ra.dst, { verifyChecksum: false })).toMatchObject({ ok: false, error: "bad-option-length" });
    const rdnss = ra.msg.slice();
    rdnss[16 + 48 + 1] = 4;
    expect(parseNdp(rdnss, ra.src, ra.dst, { verifyChecksum: false })).toMatchObject({ ok: false, error: "bad-option-length" });
  });

  it("parseNdp() refuses a bad checksum, a nonzero code, short messages and other types", () => {
    const { src, dst, msg } = split(NA);
    expect(parseNdp(msg, src, ipv6("fe80::3"))).toMatchObject({ ok: false, error: "bad-checksum" });
    const coded = msg.slice();
    coded[1] = 1;
    expect(parseNdp(coded, src, dst, { verifyChecksum: false })).toMatchObject({ ok: false, error: "bad-code" });
    expect(parseNdp(msg.subarray(0, 23), src, dst)).toMatchObject({ ok: false, error: "truncated" });
    const echo = msg.slice();
    echo[0] = 128;
    expect(parseNdp(echo, src, dst)).toMatchObject({ ok: false, error: "unsupported-type" });
  });

  it("checkNdpValidity() passes scapy's messages and refuses what RFC 4861 §6.1/§7.1/§8.1 discards", () => {
    const valid = (packet: Uint8Array, hopLimit = 255, tweak?: (ip: { src: Uint8Array; dst: Uint8Array }) => void) => {
      const { src, dst, msg } = split(packet);
      const ip = { src, dst };
      tweak?.(ip);
      return checkNdpValidity(unwrap(parseNdp(msg, src, dst)), { ...ip, hopLimit });
    };
    for (const p of [RS, RA, NS_DAD, NS, NA, REDIRECT]) expect(valid(p).ok).toBe(true);
    expect(valid(NA, 64)).toMatchObject({ ok: false, error: "hop-limit" });
    expect(
      valid(RA, 255, (ip) => {
        ip.src = ipv6("2001:db8::1");
      }),
    ).toMatchObject({ ok: false, error: "source-not-link-local" });
    expect(
      valid(NS_DAD, 255, (ip) => {
        ip.dst = ipv6("ff02::1");
      }),
    ).toMatchObject({ ok: false, error: "unspecified-source" });
    expect(
      valid(NS, 255, (ip) => {
        ip.src = ipv6("::");
      }),
    ).toMatchObject({ ok: false, error: "unspecified-source" });
    expect(
      valid(NA, 255, (ip) => {
        ip.dst = ipv6("ff02::1");
      }),
    ).toMatchObject({ ok: false, error: "solicited-to-multicast" });
    const { src, dst } = split(NS);
    const mcast: NdpRepr = { kind: "neighbor-solicitation", target: ipv6("ff02::1"), options: [] };
    expect(checkNdpValidity(mcast, { src, dst, hopLimit: 255 })).toMatchObject({ ok: false, error: "multicast-target" });
    const offLink: NdpRepr = { kind: "redirect", target: ipv6("2001:db8::5"), destination: ipv6("2001:db8::6"), options: [] };
    expect(checkNdpValidity(offLink, { src, dst, hopLimit: 255 })).toMatchObject({ ok: false, error: "bad-redirect-target" });
  });

  it("keeps unknown options (RFC 4861 §4.6: skipped, not refused)", () => {
    const { src, dst } = split(NS);
    const repr: NdpRepr = { kind: "router-solicitation", options: [{ kind: "unknown", type: 14, data: hex("0102030405ff") }] };
    const out = new Uint8Array(ndpReprLength(repr));
    emitNdp(repr, out, 0, src, dst);
    expect(toHex(out.subarray(8))).toBe("0e010102030405ff");
    expect(unwrap(parseNdp(out, src, dst))).toEqual(repr);
  });

  it("parseNdp(emitNdp(repr)) gives back repr", () => {
    const addr = fc.uint8Array({ minLength: 16, maxLength: 16 });
    const u32 = fc.integer({ min: 0, max: 0xffffffff });
    const option: fc.Arbitrary<NdpOption> = fc.oneof(
      fc.record({
        kind: fc.constantFrom("source-link-layer-address" as const, "target-link-layer-address" as const),
        address: fc.constantFrom(6, 14).chain((n) => fc.uint8Array({ minLength: n, maxLength: n })),
      }),
      fc.record({
        kind: fc.constant("prefix-information" as const),
        prefixLength: fc.integer({ min: 0, max: 255 }),
        flags: fc.integer({ min: 0, max: 255 }),
        validLifetime: u32,
        preferredLifetime: u32,
        prefix: addr,
      }),
      fc.record({
        kind: fc.constant("redirected-header" as const),
        data: fc.integer({ min: 0, max: 6 }).chain((n) => fc.uint8Array({ minLength: 8 * n, maxLength: 8 * n })),
      }),
      fc.record({ kind: fc.constant("mtu" as const), mtu: u32 }),
      fc.record({ kind: fc.constant("rdnss" as const), lifetime: u32, servers: fc.array(addr, { minLength: 1, maxLength: 3 }) }),
      fc.record({
        kind: fc.constant("unknown" as const),
        type: fc.integer({ min: 6, max: 255 }).filter((t) => t !== 25),
        data: fc.constantFrom(6, 14).chain((n) => fc.uint8Array({ minLength: n, maxLength: n })),
      }),
    );
    const options = fc.array(option, { maxLength: 4 });
    const repr: fc.Arbitrary<NdpRepr> = fc.oneof(
      fc.record({ kind: fc.constant("router-solicitation" as const), options }),
      fc.record({
        kind: fc.constant("router-advertisement" as const),
        curHopLimit: fc.integer({ min: 0, max: 255 }),
        flags: fc.integer({ min: 0, max: 255 }),
        routerLifetime: fc.integer({ min: 0, max: 0xffff }),
        reachableTime: u32,
        retransTimer: u32,
        options,
      }),
      fc.record({ kind: fc.constant("neighbor-solicitation" as const), target: addr, options }),
      fc.record({
        kind: fc.constant("neighbor-advertisement" as const),
        router: fc.boolean(),
        solicited: fc.boolean(),
        override: fc.boolean(),
        target: addr,
        options,
      }),
      fc.record({ kind: fc.constant("redirect" as const), target: addr, destination: addr, options }),
    );
    fc.assert(
      fc.property(repr, addr, addr, (r, src, dst) => {
        const buf = new Uint8Array(ndpReprLength(r));
        emitNdp(r, buf, 0, src, dst);
        expect(unwrap(parseNdp(buf, src, dst))).toEqual(r);
      }),
    );
  });

  it("parseNdp() never throws nor reads outside its input on arbitrary bytes", () => {
    const src = ipv6("fe80::1"),
      dst = ipv6("ff02::1");
    const ndpish = fc.tuple(fc.integer({ min: 133, max: 137 }), fc.uint8Array({ maxLength: 120 })).map(([t, b]) => Uint8Array.of(t, 0, ...b));
    fc.assert(
      fc.property(fc.oneof(fc.uint8Array({ maxLength: 80 }), ndpish), (b) => {
        parseNdp(guard(b), src, dst);
        parseNdp(guard(b), src, dst, { verifyChecksum: false });
      }),
      { numRuns: 500 },
    );
  });
});
