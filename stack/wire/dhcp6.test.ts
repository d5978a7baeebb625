import { describe, it, expect } from "vitest";
import fc from "fast-check";
import { unwrap } from "../result.ts";
import { formatIpv6, ipv6 } from "./ipv6-address.ts";
import { hex, toHex } from "./test-helpers.ts";
import { guard } from "./test-guard.ts";
import {
  type Dhcp6Option,
  type Dhcp6Repr,
  Dhcp6MessageType,
  Dhcp6Status,
  parseDhcp6,
  emitDhcp6,
  findDhcp6Option,
  dhcp6StatusOf,
  duidLl,
  duidLlt,
  duidHex,
  dhcp6ReprLength,
} from "./dhcp6.ts";

// Golden messages built by scapy 2.x (scapy.layers.dhcp6), e.g.
//   DHCP6_Solicit(trid=0x123456)/DHCP6OptClientId(duid=DUID_LL(lladdr="02:00:00:00:00:01"))/DHCP6OptElapsedTime()
//     /DHCP6OptRapidCommit()/DHCP6OptIA_NA(iaid=1)/DHCP6OptOptReq(reqopts=[23,24])
const SOLICIT = hex("011234560001000a00030001020000000001000800020000000e00000003000c0000000100000000000000000006000400170018");
// ADVERTISE: SERVERID DUID-LLT(time 0x2b3c4d5e), CLIENTID, IA_NA(iaid 1, T1 1800, T2 2880, IAADDR 2001:db8::100
// pref 3600 valid 7200), PREFERENCE 255, DNS_SERVERS 2001:db8::53, 2001:db8::54.
const ADVERTISE = hex(
  "021234560002000e000100012b3c4d5e0200000000020001000a0003000102000000000100030028000000010000070800000b400005001820010db800000000000000000000010000000e1000001c2000070001ff0017002020010db800000000000000000000005320010db8000000000000000000000054",
);
// REPLY with an IA_NA holding STATUS_CODE NoAddrsAvail "no addresses".
const REPLY_NOADDRS = hex(
  "07abcdef0002000e000100012b3c4d5e0200000000020001000a000300010200000000010003001e000000010000000000000000000d000e00026e6f20616464726573736573",
);
// INFORMATION-REQUEST: CLIENTID, ELAPSED_TIME 150, ORO [23].
const INFO_REQUEST = hex("0b0000010001000a00030001020000000001000800020096000600020017");
// RELEASE: CLIENTID, SERVERID, ELAPSED_TIME 0, IA_NA with IAADDR 2001:db8::100 lifetimes 0.
const RELEASE = hex(
  "080a0b0c0001000a000300010200000000010002000e000100012b3c4d5e020000000002000800020000000300280000000100000000000000000005001820010db80000000000000000000001000000000000000000",
);
// RELAY-FORW from link 2001:db8:1::1, peer fe80::1, carrying a SOLICIT with a CLIENTID.
const RELAY_FORW = hex("0c0020010db8000100000000000000000001fe80000000000000000000000000000100090012010000010001000a00030001020000000001");

const CLIENT_DUID = "00030001020000000001";
const SERVER_DUID = "000100012b3c4d5e020000000002";

const message = (r: Dhcp6Repr): Extract<Dhcp6Repr, { kind: "message" }> => {
  if (r.kind !== "message") throw new Error("not a client/server message");
  return r;
};

describe("parseDhcp6() on scapy's messages", () => {
  it("parses a SOLICIT with rapid commit, an empty IA_NA and an ORO", () => {
    const m = message(unwrap(parseDhcp6(SOLICIT)));
    expect(m.msgType).toBe(Dhcp6MessageType.SOLICIT);
    expect(m.transactionId).toBe(0x123456);
    expect(m.options.map((o) => o.kind)).toEqual(["client-id", "elapsed-time", "rapid-commit", "ia-na", "oro"]);
    expect(toHex(findDhcp6Option(m.options, "client-id")!.duid)).toBe(CLIENT_DUID);
    expect(findDhcp6Option(m.options, "ia-na")).toEqual({ kind: "ia-na", iaid: 1, t1: 0, t2: 0, options: [] });
    expect(findDhcp6Option(m.options, "oro")!.codes).toEqual([23, 24]);
  });

  it("parses an ADVERTISE's IA_NA with its IAADDR, the preference and the DNS servers", () => {
    const m = message(unwrap(parseDhcp6(ADVERTISE)));
    expect(m.msgType).toBe(Dhcp6MessageType.ADVERTISE);
    expect(toHex(findDhcp6Option(m.options, "server-id")!.duid)).toBe(SERVER_DUID);
    const ia = findDhcp6Option(m.options, "ia-na")!;
    expect([ia.iaid, ia.t1, ia.t2]).toEqual([1, 1800, 2880]);
    const addr = findDhcp6Option(ia.options, "ia-addr")!;
    expect([formatIpv6(addr.address), addr.preferredLifetime, addr.validLifetime]).toEqual(["2001:db8::100", 3600, 7200]);
    expect(findDhcp6Option(m.options, "preference")!.value).toBe(255);
    expect(findDhcp6Option(m.options, "dns-servers")!.servers.map(formatIpv6)).toEqual(["2001:db8::53", "2001:db8::54"]);
    expect(dhcp6StatusOf(m.options)).toBe(Dhcp6Status.SUCCESS);
  });

  it("reads a status code nested in an IA_NA", () => {
    const m = message(unwrap(parseDhcp6(REPLY_NOADDRS)));
    const ia = findDhcp6Option(m.options, "ia-na")!;
    expect(findDhcp6Option(ia.options, "status-code")).toEqual({ kind: "status-code", status: Dhcp6Status.NO_ADDRS_AVAIL, message: "no addresses" });
    expect(dhcp6StatusOf(ia.options)).toBe(2);
  });

  it("parses an INFORMATION-REQUEST and a RELEASE", () => {
    const i = message(unwrap(parseDhcp6(INFO_REQUEST)));
    expect([i.msgType, i.transactionId]).toEqual([Dhcp6MessageType.INFORMATION_REQUEST, 1]);
    expect(findDhcp6Option(i.options, "elapsed-time")!.centiseconds).toBe(150);
    const r = message(unwrap(parseDhcp6(RELEASE)));
    const addr = findDhcp6Option(findDhcp6Option(r.options, "ia-na")!.options, "ia-addr")!;
    expect([formatIpv6(addr.address), addr.validLifetime]).toEqual(["2001:db8::100", 0]);
  });

  it("parses a RELAY-FORW and the message it carries", () => {
    const r = unwrap(parseDhcp6(RELAY_FORW));
    if (r.kind !== "relay") throw new Error("not a relay message");
    expect([r.msgType, r.hopCount, formatIpv6(r.linkAddress), formatIpv6(r.peerAddress)]).toEqual([12, 0, "2001:db8:1::1", "fe80::1"]);
    const inner = message(unwrap(parseDhcp6(findDhcp6Option(r.options, "relay-message")!.message)));
    expect([inner.msgType, inner.transactionId]).toEqual([Dhcp6MessageType.SOLICIT, 1]);
  });

  it.each([
    ["SOLICIT", SOLICIT],
    ["ADVERTISE", ADVERTISE],
    ["REPLY", REPLY_NOADDRS],
    ["INFORMATION-REQUEST", INFO_REQUEST],
    ["RELEASE", RELEASE],
    ["RELAY-FORW", RELAY_FORW],
  ])("re-emits scapy's %s byte for byte", (_name, golden) => {
    expect(toHex(emitDhcp6(unwrap(parseDhcp6(golden))))).toBe(toHex(golden));
  });
});

describe("emitDhcp6()", () => {
  it("builds scapy's SOLICIT from a repr, after the headroom", () => {
    const repr: Dhcp6Repr = {
      kind: "message",
      msgType: Dhcp6MessageType.SOLICIT,
      transactionId: 0x123456,
      options: [
        { kind: "client-id", duid: duidLl(0x020000000001) },
        { kind: "elapsed-time", centiseconds: 0 },
        { kind: "rapid-commit" },
        { kind: "ia-na", iaid: 1, t1: 0, t2: 0, options: [] },
        { kind: "oro", codes: [23, 24] },
      ],
    };
    const b = emitDhcp6(repr, { headroom: 62 });
    expect(b.byteOffset).toBe(62);
    expect(toHex(b)).toBe(toHex(SOLICIT));
    expect(dhcp6ReprLength(repr)).toBe(SOLICIT.length);
  });

  it("builds DUID-LL and DUID-LLT as scapy does", () => {
    expect(duidHex(duidLl(0x020000000001))).toBe(CLIENT_DUID);
    expect(duidHex(duidLlt(0x020000000002, 0x2b3c4d5e))).toBe(SERVER_DUID);
  });

  it("writes a status message as UTF-8", () => {
    const b = emitDhcp6({ kind: "message", msgType: 7, transactionId: 1, options: [{ kind: "status-code", status: 0, message: "é" }] });
    expect(toHex(b)).toBe("07000001" + "000d0004" + "0000" + "c3a9");
  });
});

describe("parseDhcp6() rejects", () => {
  it.each([
    ["three bytes", "011234", "truncated"],
    ["message type 0", "00000001", "bad-msg-type"],
    ["message type 14", "0e000001", "bad-msg-type"],
    ["a relay message shorter than 34 bytes", "0c00" + "00".repeat(31), "truncated"],
    ["an option header cut short", "01000001" + "000100", "truncated-option"],
    ["an option running past the message", "01000001" + "00010006" + "0003000102", "truncated-option"],
    ["a 2-byte DUID", "01000001" + "00010002" + "0003", "bad-option-length"],
    ["a 131-byte DUID", "01000001" + "00010083" + "00".repeat(131), "bad-option-length"],
    ["an 11-byte IA_NA", "01000001" + "0003000b" + "00".repeat(11), "bad-option-length"],
    ["a 23-byte IAADDR in an IA_NA", "01000001" + "00030027" + "00".repeat(12) + "00050017" + "00".repeat(23), "bad-option-length"],
    ["an IAADDR running past its IA_NA", "01000001" + "00030010" + "00".repeat(12) + "00050018" + "00".repeat(24), "truncated-option"],
    ["an odd ORO", "01000001" + "00060003" + "001700", "bad-option-length"],
    ["a 2-byte PREFERENCE", "02000001" + "00070002" + "ff00", "bad-option-length"],
    ["a 1-byte ELAPSED_TIME", "01000001" + "00080001" + "00", "bad-option-length"],
    ["a 1-byte STATUS_CODE", "07000001" + "000d0001" + "00", "bad-option-length"],
    ["a RAPID_COMMIT with data", "01000001" + "000e0001" + "00", "bad-option-length"],
    ["DNS_SERVERS of 17 bytes", "07000001" + "00170011" + "00".repeat(17), "bad-option-length"],
    [
      "IA_NAs nested four deep",
      "01000001" + "00030030" + "00".repeat(12) + "00030020" + "00".repeat(12) + "00030010" + "00".repeat(12) + "00030000",
      "too-deep",
    ],
    [
      "IAADDRs nested past the depth limit",
      "01000001" + "0005006c" + "00".repeat(24) + "00050050" + "00".repeat(24) + "00050034" + "00".repeat(24) + "00050018" + "00".repeat(24),
      "too-deep",
    ],
  ])("%s", (_name, bytes, code) => {
    const r = parseDhcp6(guard(hex(bytes)));
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error).toBe(code);
  });

  it("keeps an unknown option's bytes and re-emits them", () => {
    const b = hex("07000001" + "00180005" + "0361626300" + "fff00000");
    const m = message(unwrap(parseDhcp6(b)));
    expect(m.options).toEqual([
      { kind: "unknown", code: 24, data: hex("0361626300") },
      { kind: "unknown", code: 0xfff0, data: new Uint8Array(0) },
    ]);
    expect(toHex(emitDhcp6(m))).toBe(toHex(b));
  });
});

const u32 = fc.nat({ max: 0xffffffff });
const address = fc.uint8Array({ minLength: 16, maxLength: 16 });
const duid = fc.uint8Array({ minLength: 3, maxLength: 130 });
const status: fc.Arbitrary<Dhcp6Option> = fc.record({
  kind: fc.constant("status-code" as const),
  status: fc.nat({ max: 0xffff }),
  message: fc.string({ maxLength: 40 }),
});
const iaAddr: fc.Arbitrary<Dhcp6Option> = fc.record({
  kind: fc.constant("ia-addr" as const),
  address,
  preferredLifetime: u32,
  validLifetime: u32,
  options: fc.array(status, { maxLength: 1 }),
});
const leaf: fc.Arbitrary<Dhcp6Option> = fc.oneof(
  fc.record({ kind: fc.constantFrom("client-id" as const, "server-id" as const), duid }),
  fc.record({ kind: fc.constant("oro" as const), codes: fc.array(fc.nat({ max: 0xffff }), { maxLength: 8 }) }),
  fc.record({ kind: fc.constant("preference" as const), value: fc.nat({ max: 255 }) }),
  fc.record({ kind: fc.constant("elapsed-time" as const), centiseconds: fc.nat({ max: 0xffff }) }),
  fc.record({ kind: fc.constant("relay-message" as const), message: fc.uint8Array({ maxLength: 40 }) }),
  fc.constant({ kind: "rapid-commit" as const }),
  fc.record({ kind: fc.constant("dns-servers" as const), servers: fc.array(address, { maxLength: 3 }) }),
  fc.record({
    kind: fc.constant("unknown" as const),
    code: fc.integer({ min: 15, max: 0xffff }).filter((c) => c !== 18 && c !== 23),
    data: fc.uint8Array({ maxLength: 40 }),
  }),
  status,
  iaAddr,
);
const option: fc.Arbitrary<Dhcp6Option> = fc.oneof(
  leaf,
  fc.record({
    kind: fc.constant("ia-na" as const),
    iaid: u32,
    t1: u32,
    t2: u32,
    options: fc.array(fc.oneof(iaAddr, status), { maxLength: 3 }),
  }),
);
const arbRepr: fc.Arbitrary<Dhcp6Repr> = fc.oneof(
  fc.record({
    kind: fc.constant("message" as const),
    msgType: fc.integer({ min: 1, max: 11 }),
    transactionId: fc.nat({ max: 0xffffff }),
    options: fc.array(option, { maxLength: 6 }),
  }),
  fc.record({
    kind: fc.constant("relay" as const),
    msgType: fc.constantFrom(12 as const, 13 as const),
    hopCount: fc.nat({ max: 255 }),
    linkAddress: address,
    peerAddress: address,
    options: fc.array(option, { maxLength: 4 }),
  }),
);

describe("properties", () => {
  it("parse(emit(x)) == x", () => {
    fc.assert(
      fc.property(arbRepr, (repr) => {
        expect(parseDhcp6(emitDhcp6(repr))).toEqual({ ok: true, value: repr });
      }),
      { numRuns: 500 },
    );
  });

  it("arbitrary bytes never throw nor read past the message, and what parses re-emits to the same bytes", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), fc.boolean(), (bytes, plausible) => {
        if (plausible && bytes.length >= 8) {
          // A valid type and an option header that fits, so that the option parsers get exercised.
          bytes[0] = 1 + (bytes[0]! % 11);
          bytes[4] = 0;
          bytes[5] = bytes[5]! % 26;
          bytes[6] = 0;
          bytes[7] = Math.min(bytes[7]!, bytes.length - 8);
        }
        const r = parseDhcp6(guard(bytes));
        if (r.ok && !hasStatus(r.value.options)) expect(toHex(emitDhcp6(r.value))).toBe(toHex(bytes));
      }),
      { numRuns: 3000 },
    );
  });
});

/** Status messages re-encode only when they were valid UTF-8: the byte-identity check skips them. */
function hasStatus(options: readonly Dhcp6Option[]): boolean {
  return options.some((o) => o.kind === "status-code" || ((o.kind === "ia-na" || o.kind === "ia-addr") && hasStatus(o.options)));
}

describe("all-relay-agents group", () => {
  it("is ff02::1:2", async () => {
    const { ALL_DHCP_RELAY_AGENTS_AND_SERVERS } = await import("./dhcp6.ts");
    expect(ALL_DHCP_RELAY_AGENTS_AND_SERVERS).toEqual(ipv6("ff02::1:2"));
  });
});
