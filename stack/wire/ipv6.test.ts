import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { unwrap } from "../result.ts";
import { checksumFinish, checksumRange } from "./checksum.ts";
import { formatIpv6, ipv6 } from "./ipv6-address.ts";
import { IPV6_NEXT_HEADER_UDP, Ipv6Packet, type Ipv6Repr, emitIpv6, ipv6PseudoHeaderSum, parseIpv6 } from "./ipv6.ts";
import {
  type Ipv6FragmentRepr,
  type Ipv6OptionsRepr,
  type Ipv6RoutingRepr,
  emitIpv6Fragment,
  emitIpv6OptionsHeader,
  emitIpv6Routing,
  ipv6OptionAction,
  ipv6OptionsHeaderLength,
  ipv6RoutingHeaderLength,
  parseIpv6Fragment,
  parseIpv6OptionsHeader,
  parseIpv6Routing,
  walkIpv6Chain,
} from "./ipv6-ext.ts";
import { guard } from "./test-guard.ts";
import { hex, toHex } from "./test-helpers.ts";

// Golden packets built with scapy 2.5.0 (IPv6()/...; bytes(p).hex()).
// ICMPv6 echo request, traffic class 0xb8, flow label 0x12345, hop limit 64.
const ECHO = hex("6b81234500103a4020010db800000000000000000000000120010db800000000000000000000000280008075123400016162636465666768");
// UDP 5000 -> 53 "hello".
const UDP6 = hex("60000000000d114020010db800000000000000000000000120010db800000000000000000000000213880035000d4cd068656c6c6f");
// First fragment (id 0xdeadbeef, M) of a UDP datagram; then a later fragment at offset 24.
const FRAG = hex(
  "6000000000202c4020010db800000000000000000000000120010db800000000000000000000000211000001deadbeef000100020018e08278787878787878787878787878787878",
);
const FRAG2 = hex("6000000000102c4020010db800000000000000000000000120010db800000000000000000000000211000018deadbeef7979797979797979");
// Hop-by-Hop (PadN 4) / Destination Options (Home Address 0xc9, RFC 6275) / Routing type 0 with 0 segments left / UDP.
const CHAIN = hex(
  "600000000032004020010db800000000000000000000000120010db80000000000000000000000023c000104000000002b0201020000c91020010db8000000000000000000000077110000000000000000070007000a34766f6b",
);
// Routing type 0 with one segment left (RFC 5095 deprecates it).
const RH0 = hex(
  "6000000000202b4020010db800000000000000000000000120010db8000000000000000000000002110200010000000020010db8000000000000000000000003000700070008a45a",
);
// Destination Options with an unknown option 0x9e (high bits 10: discard and send ICMP).
const UNKNOWN_OPT = hex("6000000000103c4020010db800000000000000000000000120010db800000000000000000000000211009e0201020100000700070008a45b");

describe("ipv6 header", () => {
  it("parseIpv6() deconstructs the fixed header", () => {
    const r = unwrap(parseIpv6(ECHO));
    expect(formatIpv6(r.src)).toBe("2001:db8::1");
    expect(formatIpv6(r.dst)).toBe("2001:db8::2");
    expect(r).toMatchObject({ nextHeader: 58, hopLimit: 64, trafficClass: 0xb8, flowLabel: 0x12345, payloadLength: 16 });
    expect(new Ipv6Packet(ECHO).payload.length).toBe(16);
  });

  it("emitIpv6() constructs the golden header", () => {
    const buf = new Uint8Array(40);
    const repr: Ipv6Repr = {
      src: ipv6("2001:db8::1"),
      dst: ipv6("2001:db8::2"),
      nextHeader: 58,
      hopLimit: 64,
      trafficClass: 0xb8,
      flowLabel: 0x12345,
      payloadLength: 16,
    };
    expect(emitIpv6(repr, buf)).toBe(40);
    expect(toHex(buf)).toBe(toHex(ECHO.subarray(0, 40)));
  });

  it("the view's setters change only their own bits", () => {
    const b = ECHO.slice();
    const p = new Ipv6Packet(b);
    p.trafficClass = 0x01;
    expect(p.flowLabel).toBe(0x12345);
    p.flowLabel = 0xfffff;
    expect([p.version, p.trafficClass, p.flowLabel]).toEqual([6, 0x01, 0xfffff]);
  });

  it("parseIpv6() rejects short buffers, other versions, a payload past the buffer and jumbograms", () => {
    expect(parseIpv6(ECHO.subarray(0, 39))).toMatchObject({ ok: false, error: "truncated" });
    expect(parseIpv6(ECHO.subarray(0, 55))).toMatchObject({ ok: false, error: "truncated" });
    const v4 = ECHO.slice();
    v4[0] = 0x45;
    expect(parseIpv6(v4)).toMatchObject({ ok: false, error: "bad-version" });
    const jumbo = ECHO.slice();
    jumbo[4] = 0;
    jumbo[5] = 0;
    jumbo[6] = 0;
    expect(parseIpv6(jumbo)).toMatchObject({ ok: false, error: "jumbogram" });
    // Link padding after the payload is allowed.
    const padded = new Uint8Array(ECHO.length + 6);
    padded.set(ECHO);
    expect(unwrap(parseIpv6(padded)).payloadLength).toBe(16);
  });

  it("ipv6PseudoHeaderSum() gives the checksum scapy wrote into a UDP datagram (RFC 8200 §8.1)", () => {
    const r = unwrap(parseIpv6(UDP6));
    const udp = UDP6.slice(40);
    expect(toHex(udp.subarray(6, 8))).toBe("4cd0");
    udp[6] = 0;
    udp[7] = 0;
    expect(checksumFinish(checksumRange(udp, 0, udp.length, ipv6PseudoHeaderSum(r.src, r.dst, IPV6_NEXT_HEADER_UDP, udp.length)))).toBe(0x4cd0);
  });

  it("parseIpv6(emitIpv6(repr)) gives back repr", () => {
    const addr = fc.uint8Array({ minLength: 16, maxLength: 16 });
    const repr = fc.record({
      src: addr,
      dst: addr,
      nextHeader: fc.integer({ min: 1, max: 255 }),
      hopLimit: fc.integer({ min: 0, max: 255 }),
      trafficClass: fc.integer({ min: 0, max: 255 }),
      flowLabel: fc.integer({ min: 0, max: 0xfffff }),
      payloadLength: fc.integer({ min: 0, max: 64 }),
    });
    fc.assert(
      fc.property(repr, (r) => {
        const buf = new Uint8Array(40 + r.payloadLength);
        emitIpv6(r, buf);
        expect(unwrap(parseIpv6(buf))).toEqual(r);
      }),
    );
  });
});

describe("ipv6 extension headers", () => {
  it("parseIpv6OptionsHeader() keeps every option, padding included, and emit gives back the bytes", () => {
    const hbh = CHAIN.subarray(40, 48);
    const r = unwrap(parseIpv6OptionsHeader(hbh));
    expect(r).toEqual({ nextHeader: 60, options: [{ type: 1, data: new Uint8Array(4) }] });
    const dst = CHAIN.subarray(48, 72);
    const d = unwrap(parseIpv6OptionsHeader(dst));
    expect(d.nextHeader).toBe(43);
    expect(d.options.map((o) => [o.type, o.data.length])).toEqual([
      [1, 2],
      [0xc9, 16],
    ]);
    for (const [bytes, repr] of [
      [hbh, r],
      [dst, d],
    ] as const) {
      const out = new Uint8Array(ipv6OptionsHeaderLength(repr));
      emitIpv6OptionsHeader(repr, out);
      expect(toHex(out)).toBe(toHex(bytes));
    }
  });

  it("emitIpv6OptionsHeader() pads a Router Alert to 8 bytes the way the kernel does (PadN 0)", () => {
    const out = new Uint8Array(8);
    expect(emitIpv6OptionsHeader({ nextHeader: 58, options: [{ type: 5, data: new Uint8Array(2) }] }, out)).toBe(8);
    // The MLD report scapy built: 3a00 0502 0000 0100.
    expect(toHex(out)).toBe("3a00050200000100");
  });

  it("parseIpv6OptionsHeader() refuses an option that runs past the header, and a header past the buffer", () => {
    expect(parseIpv6OptionsHeader(hex("3a00 0105 00000000"))).toMatchObject({ ok: false, error: "bad-option" });
    expect(parseIpv6OptionsHeader(hex("3a00 01"))).toMatchObject({ ok: false, error: "truncated" });
    expect(parseIpv6OptionsHeader(hex("3a01 0104 00000000"))).toMatchObject({ ok: false, error: "truncated" });
  });

  it("ipv6OptionAction() follows the two high bits of the type (RFC 8200 §4.2)", () => {
    expect([0x1e, 0x5e, 0x9e, 0xde].map(ipv6OptionAction)).toEqual(["skip", "discard", "discard-icmp", "discard-icmp-unless-multicast"]);
  });

  it("parseIpv6Routing() and parseIpv6Fragment() read scapy's headers; emit gives back the bytes", () => {
    const rh = unwrap(parseIpv6Routing(RH0.subarray(40, 64)));
    expect(rh).toMatchObject({ nextHeader: 17, routingType: 0, segmentsLeft: 1 });
    expect(formatIpv6(rh.data.subarray(4, 20))).toBe("2001:db8::3");
    const rout = new Uint8Array(ipv6RoutingHeaderLength(rh));
    emitIpv6Routing(rh, rout);
    expect(toHex(rout)).toBe(toHex(RH0.subarray(40, 64)));
    const f = unwrap(parseIpv6Fragment(FRAG2.subarray(40, 48)));
    expect(f).toEqual({ nextHeader: 17, fragmentOffset: 24, moreFragments: false, ident: 0xdeadbeef });
    const fout = new Uint8Array(8);
    emitIpv6Fragment(f, fout);
    expect(toHex(fout)).toBe(toHex(FRAG2.subarray(40, 48)));
    expect(parseIpv6Fragment(FRAG2.subarray(40, 47))).toMatchObject({ ok: false, error: "truncated" });
  });

  it("walkIpv6Chain() finds UDP after Hop-by-Hop, Destination Options and an exhausted type 0 Routing header", () => {
    const home = (t: number): boolean => t === 0xc9;
    const r = unwrap(walkIpv6Chain(CHAIN, { knownOption: home }));
    expect(r.upperLayer).toBe(17);
    expect(r.offset).toBe(80);
    expect(r.headers.map((h) => [h.kind, h.offset, h.length])).toEqual([
      ["hop-by-hop", 40, 8],
      ["destination", 48, 24],
      ["routing", 72, 8],
    ]);
    // Home Address (0xc9) unknown: its high bits say discard, and send ICMP unless multicast.
    expect(walkIpv6Chain(CHAIN)).toMatchObject({ ok: false, error: "unknown-option", action: "discard-icmp-unless-multicast", icmpCode: 2, pointer: 54 });
  });

  it("walkIpv6Chain() stops at the Fragment header of a later fragment and walks through a first one", () => {
    expect(unwrap(walkIpv6Chain(FRAG))).toMatchObject({ upperLayer: 17, offset: 48, fragment: { fragmentOffset: 0, moreFragments: true, ident: 0xdeadbeef } });
    expect(unwrap(walkIpv6Chain(FRAG2))).toMatchObject({ upperLayer: 17, offset: 48, fragment: { fragmentOffset: 24, moreFragments: false } });
    expect(unwrap(walkIpv6Chain(ECHO))).toEqual({ upperLayer: 58, offset: 40, headers: [] });
  });

  it("walkIpv6Chain() refuses type 0 routing with segments left (RFC 5095), pointing at the type", () => {
    expect(walkIpv6Chain(RH0)).toMatchObject({ ok: false, error: "routing-type-0", action: "discard-icmp", icmpCode: 0, pointer: 42 });
    const rh2 = RH0.slice();
    rh2[42] = 2;
    expect(unwrap(walkIpv6Chain(rh2)).headers[0]).toMatchObject({ kind: "routing", routingType: 2, segmentsLeft: 1 });
  });

  it("walkIpv6Chain() reports unknown options by their action, with the pointer at the option type", () => {
    expect(walkIpv6Chain(UNKNOWN_OPT)).toMatchObject({ ok: false, error: "unknown-option", action: "discard-icmp", icmpCode: 2, pointer: 42 });
    const skip = UNKNOWN_OPT.slice();
    skip[42] = 0x1e;
    expect(unwrap(walkIpv6Chain(skip)).upperLayer).toBe(17);
    expect(unwrap(walkIpv6Chain(UNKNOWN_OPT, { knownOption: (t) => t === 0x9e })).upperLayer).toBe(17);
  });

  it("walkIpv6Chain() refuses Hop-by-Hop after the first header, truncated headers and chains over its limits", () => {
    // Destination Options whose next header is Hop-by-Hop: RFC 8200 §4.1, code 1 pointing at that next-header byte.
    const late = UNKNOWN_OPT.slice();
    late[42] = 1;
    late[43] = 0;
    late[40] = 0;
    expect(walkIpv6Chain(late)).toMatchObject({ ok: false, error: "hop-by-hop-not-first", icmpCode: 1, pointer: 40 });
    expect(walkIpv6Chain(CHAIN.subarray(0, 70))).toMatchObject({ ok: false, error: "truncated" });
    // a chain that names a header the payload has no room for at all (payload length 0, next header
    // AH): the fault is the fixed header's Next Header field, inside the packet (a fuzzing finding)
    const empty = Uint8Array.from(CHAIN.subarray(0, 40));
    empty[4] = 0;
    empty[5] = 0;
    empty[6] = 51;
    expect(walkIpv6Chain(empty)).toMatchObject({ ok: false, error: "truncated", pointer: 6 });
    const known = { knownOption: (t: number) => t === 0xc9 };
    expect(walkIpv6Chain(CHAIN, { ...known, maxHeaders: 2 })).toMatchObject({ ok: false, error: "too-many-headers" });
    expect(walkIpv6Chain(CHAIN, { ...known, maxChainLength: 16 })).toMatchObject({ ok: false, error: "chain-too-long" });
    // A chain of 100 Destination Options headers stops at the default limit of 8.
    const many = new Uint8Array(40 + 800);
    many.set(UDP6.subarray(0, 40));
    many[6] = 60;
    for (let i = 0; i < 100; i++) {
      many[40 + 8 * i] = 60;
      many[41 + 8 * i] = 0;
      many[42 + 8 * i] = 1;
      many[43 + 8 * i] = 4;
    }
    expect(walkIpv6Chain(many)).toMatchObject({ ok: false, error: "too-many-headers" });
  });

  it("options, routing and fragment headers round-trip through emit and parse", () => {
    const option = fc.oneof(
      fc.record({ type: fc.constant(0), data: fc.constant(new Uint8Array(0)) }),
      fc.record({ type: fc.integer({ min: 1, max: 255 }), data: fc.uint8Array({ maxLength: 20 }) }),
    );
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 255 }), fc.array(option, { maxLength: 6 }), (nextHeader, options) => {
        // Pad the generated options to a multiple of 8 so that parse sees exactly them.
        const used = options.reduce((n, o) => n + (o.type === 0 ? 1 : 2 + o.data.length), 2);
        const pad = ((used + 7) & ~7) - used;
        const all = pad === 0 ? options : [...options, pad === 1 ? { type: 0, data: new Uint8Array(0) } : { type: 1, data: new Uint8Array(pad - 2) }];
        const repr: Ipv6OptionsRepr = { nextHeader, options: all };
        const buf = new Uint8Array(ipv6OptionsHeaderLength(repr));
        emitIpv6OptionsHeader(repr, buf);
        expect(unwrap(parseIpv6OptionsHeader(buf))).toEqual(repr);
      }),
    );
    const routing = fc.record({
      nextHeader: fc.integer({ min: 0, max: 255 }),
      routingType: fc.integer({ min: 0, max: 255 }),
      segmentsLeft: fc.integer({ min: 0, max: 255 }),
      data: fc.integer({ min: 0, max: 6 }).chain((n) => fc.uint8Array({ minLength: 4 + 8 * n, maxLength: 4 + 8 * n })),
    });
    fc.assert(
      fc.property(routing, (r: Ipv6RoutingRepr) => {
        const buf = new Uint8Array(ipv6RoutingHeaderLength(r));
        emitIpv6Routing(r, buf);
        expect(unwrap(parseIpv6Routing(buf))).toEqual(r);
      }),
    );
    const fragment = fc.record({
      nextHeader: fc.integer({ min: 0, max: 255 }),
      fragmentOffset: fc.integer({ min: 0, max: 8191 }).map((x) => x * 8),
      moreFragments: fc.boolean(),
      ident: fc.integer({ min: 0, max: 0xffffffff }),
    });
    fc.assert(
      fc.property(fragment, (f: Ipv6FragmentRepr) => {
        const buf = new Uint8Array(8);
        emitIpv6Fragment(f, buf);
        expect(unwrap(parseIpv6Fragment(buf))).toEqual(f);
      }),
    );
  });

  it("the parsers and the walker never throw nor read outside their input on arbitrary bytes", () => {
    const v6ish = fc
      .tuple(fc.uint8Array({ minLength: 40, maxLength: 40 }), fc.uint8Array({ maxLength: 120 }), fc.constantFrom(0, 43, 44, 51, 60, 17))
      .map(([h, rest, nh]) => {
        const b = new Uint8Array(40 + rest.length);
        b.set(h);
        b.set(rest, 40);
        b[0] = 0x60;
        b[4] = rest.length >>> 8;
        b[5] = rest.length & 0xff;
        b[6] = nh;
        return b;
      });
    fc.assert(
      fc.property(fc.oneof(fc.uint8Array({ maxLength: 160 }), v6ish), (b) => {
        const g = guard(b);
        parseIpv6(g);
        walkIpv6Chain(g);
        walkIpv6Chain(g, { maxHeaders: 2, maxChainLength: 24, knownOption: () => true });
        parseIpv6OptionsHeader(g);
        parseIpv6Routing(g);
        parseIpv6Fragment(g);
      }),
      { numRuns: 500 },
    );
  });
});
