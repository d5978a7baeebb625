import { describe, it, expect } from "vitest";
import fc from "fast-check";
import { unwrap } from "../result.ts";
import {
  parseDhcp,
  emitDhcp,
  type DhcpRepr,
  DhcpOption,
  DhcpMessageType,
  DHCP_FLAG_BROADCAST,
  BOOTREQUEST,
  BOOTREPLY,
  messageType,
  subnetMask,
  routers,
  dnsServers,
  hostName,
  domainName,
  broadcastAddress,
  requestedIp,
  leaseTime,
  serverId,
  renewalTime,
  rebindingTime,
  clientId,
  parameterRequestList,
  maxMessageSize,
  chaddrMac,
  findOption,
  optionMessageType,
  optionIpv4,
  optionU32,
  optionIpv4List,
  optionString,
  optionBytes,
  macToChaddr,
  readOptionU32,
} from "./dhcp.ts";

const hex = (s: string): Uint8Array => Uint8Array.from((s.replace(/\s+/g, "").match(/../g) ?? []).map((x) => parseInt(x, 16)));
const zeros = (n: number): string => "00".repeat(n);
const toHex = (b: Uint8Array): string => Buffer.from(b).toString("hex");

/** A BOOTP header as hex: op htype hlen hops xid secs flags ciaddr yiaddr siaddr giaddr chaddr(16) sname file cookie. */
function header(op: string, xid: string, secs: string, flags: string, ci: string, yi: string, si: string, gi: string, mac: string): string {
  return op + "01" + "06" + "00" + xid + secs + flags + ci + yi + si + gi + mac + zeros(10) + zeros(64) + zeros(128) + "63825363";
}
function padTo300(h: string): Uint8Array {
  const b = hex(h);
  const out = new Uint8Array(Math.max(300, b.length));
  out.set(b);
  return out;
}

const MAC = "02005e0010aa";
// dhclient-style DISCOVER: broadcast flag clear, client id, requested ip, host name, PRL.
const DISCOVER = padTo300(
  header("01", "3903f326", "0000", "0000", zeros(4), zeros(4), zeros(4), zeros(4), MAC) +
    "350101" +
    "3d0701" +
    MAC +
    "3204c0000264" +
    "0c056e6f646531" +
    "3709 01031c060f0c1a792a" +
    "39020240" +
    "ff",
);
// OFFER of 192.0.2.100 from server 192.0.2.1, lease 3600 s.
const OFFER = padTo300(
  header("02", "3903f326", "0000", "0000", zeros(4), "c0000264", "c0000201", zeros(4), MAC) +
    "350102" +
    "3604c0000201" +
    "330400000e10" +
    "3a0400000708" +
    "3b0400000c4e" +
    "0104ffffff00" +
    "1c04c00002ff" +
    "0304c0000201" +
    "0608c0000235c0000236" +
    "0f076578616d706c65" +
    "ff",
);
// REQUEST in SELECTING: server id + requested ip, broadcast flag set, secs 3.
const REQUEST = padTo300(
  header("01", "3903f326", "0003", "8000", zeros(4), zeros(4), zeros(4), zeros(4), MAC) +
    "350103" +
    "3d0701" +
    MAC +
    "3204c0000264" +
    "3604c0000201" +
    "0c056e6f646531" +
    "3704010306" +
    "0f" +
    "ff",
);
// ACK relayed through 198.51.100.1 (giaddr), hops 1.
const ACK = padTo300(
  "02010601" +
    "3903f326" +
    "0003" +
    "8000" +
    zeros(4) +
    "c0000264" +
    "c0000201" +
    "c6336401" +
    MAC +
    zeros(10) +
    zeros(64) +
    zeros(128) +
    "63825363" +
    "350105" +
    "3604c0000201" +
    "330400000e10" +
    "0104ffffff00" +
    "0304c0000201" +
    "ff",
);

describe("parseDhcp() on golden messages", () => {
  it("parses a DISCOVER field by field, including the client id, requested address and PRL", () => {
    const r = unwrap(parseDhcp(DISCOVER));
    expect(r.op).toBe(BOOTREQUEST);
    expect(r.htype).toBe(1);
    expect(r.hops).toBe(0);
    expect(r.xid).toBe(0x3903f326);
    expect(r.flags & DHCP_FLAG_BROADCAST).toBe(0);
    expect(toHex(r.chaddr)).toBe(MAC);
    expect(chaddrMac(r)).toBe(0x02005e0010aa);
    expect(messageType(r)).toBe(DhcpMessageType.DISCOVER);
    expect(toHex(clientId(r)!)).toBe("01" + MAC);
    expect(requestedIp(r)).toBe(0xc0000264);
    expect(hostName(r)).toBe("node1");
    expect(parameterRequestList(r)).toEqual([1, 3, 28, 6, 15, 12, 26, 121, 42]);
    expect(maxMessageSize(r)).toBe(576);
    expect(r.options.map((o) => o.code)).toEqual([53, 61, 50, 12, 55, 57]);
    expect(r.sname).toBe("");
    expect(r.file).toBe("");
  });

  it("parses an OFFER with all the server's common options", () => {
    const r = unwrap(parseDhcp(OFFER));
    expect(r.op).toBe(BOOTREPLY);
    expect(messageType(r)).toBe(DhcpMessageType.OFFER);
    expect(r.yiaddr).toBe(0xc0000264);
    expect(r.siaddr).toBe(0xc0000201);
    expect(serverId(r)).toBe(0xc0000201);
    expect(leaseTime(r)).toBe(3600);
    expect(renewalTime(r)).toBe(1800);
    expect(rebindingTime(r)).toBe(3150);
    expect(subnetMask(r)).toBe(0xffffff00);
    expect(broadcastAddress(r)).toBe(0xc00002ff);
    expect(routers(r)).toEqual([0xc0000201]);
    expect(dnsServers(r)).toEqual([0xc0000235, 0xc0000236]);
    expect(domainName(r)).toBe("example");
  });

  it("parses a REQUEST from SELECTING with the broadcast bit and secs", () => {
    const r = unwrap(parseDhcp(REQUEST));
    expect(messageType(r)).toBe(DhcpMessageType.REQUEST);
    expect(r.flags).toBe(DHCP_FLAG_BROADCAST);
    expect(r.secs).toBe(3);
    expect(r.ciaddr).toBe(0);
    expect(serverId(r)).toBe(0xc0000201);
    expect(requestedIp(r)).toBe(0xc0000264);
    expect(parameterRequestList(r)).toEqual([1, 3, 6, 15]);
  });

  it("parses a relayed ACK with giaddr and hops", () => {
    const r = unwrap(parseDhcp(ACK));
    expect(messageType(r)).toBe(DhcpMessageType.ACK);
    expect(r.hops).toBe(1);
    expect(r.giaddr).toBe(0xc6336401);
    expect(r.yiaddr).toBe(0xc0000264);
  });

  it.each([
    ["DISCOVER", DISCOVER],
    ["OFFER", OFFER],
    ["REQUEST", REQUEST],
    ["ACK", ACK],
  ])("re-emits the golden %s byte for byte", (_name, golden) => {
    expect(toHex(emitDhcp(unwrap(parseDhcp(golden))))).toBe(toHex(golden));
  });
});

function baseRepr(options: DhcpRepr["options"], extra: Partial<DhcpRepr> = {}): DhcpRepr {
  return {
    op: BOOTREQUEST,
    htype: 1,
    hops: 0,
    xid: 0x11223344,
    secs: 0,
    flags: 0,
    ciaddr: 0,
    yiaddr: 0,
    siaddr: 0,
    giaddr: 0,
    chaddr: macToChaddr(0x02005e0010aa),
    sname: "",
    file: "",
    options,
    ...extra,
  };
}

describe("emitDhcp()", () => {
  it("builds a DISCOVER from option constructors and pads it to 300 bytes", () => {
    const bytes = emitDhcp(
      baseRepr(
        [optionMessageType(DhcpMessageType.DISCOVER), optionBytes(DhcpOption.CLIENT_ID, hex("01" + MAC)), optionIpv4(DhcpOption.REQUESTED_IP, 0xc0000264)],
        { xid: 0x3903f326, flags: DHCP_FLAG_BROADCAST },
      ),
    );
    expect(bytes.length).toBe(300);
    expect(toHex(bytes.subarray(0, 12))).toBe("010106003903f32600008000");
    expect(toHex(bytes.subarray(28, 34))).toBe(MAC);
    expect(toHex(bytes.subarray(236, 240 + 3 + 9 + 6 + 1))).toBe("63825363" + "350101" + "3d0701" + MAC + "3204c0000264" + "ff");
    expect(bytes.subarray(259).every((b) => b === 0)).toBe(true);
  });

  it("splits a 300-byte option into a 255-byte and a 45-byte instance (RFC 3396)", () => {
    const data = Uint8Array.from({ length: 300 }, (_, i) => i & 0xff);
    const bytes = emitDhcp(baseRepr([optionBytes(224, data)]));
    expect(bytes[240]).toBe(224);
    expect(bytes[241]).toBe(255);
    expect(bytes[240 + 257]).toBe(224);
    expect(bytes[240 + 258]).toBe(45);
    expect(bytes[240 + 259 + 45]).toBe(255);
    expect(bytes.length).toBe(240 + 257 + 47 + 1);
    const back = unwrap(parseDhcp(bytes));
    expect(back.options).toEqual([{ code: 224, data }]);
  });

  it("writes sname and file as NUL-terminated strings", () => {
    const bytes = emitDhcp(baseRepr([], { sname: "boot.example", file: "pxelinux.0" }));
    expect(Buffer.from(bytes.subarray(44, 57)).toString("latin1")).toBe("boot.example\0");
    expect(Buffer.from(bytes.subarray(108, 119)).toString("latin1")).toBe("pxelinux.0\0");
    const r = unwrap(parseDhcp(bytes));
    expect([r.sname, r.file]).toEqual(["boot.example", "pxelinux.0"]);
  });

  it("overloads file then sname (option 52 = 3) when the options exceed maxLength, and parses them back", () => {
    const big = Uint8Array.from({ length: 200 }, (_, i) => (i * 7) & 0xff);
    const repr = baseRepr([optionMessageType(DhcpMessageType.OFFER), optionBytes(224, big), optionString(DhcpOption.DOMAIN_NAME, "lab.example")]);
    const bytes = emitDhcp(repr, { maxLength: 300 });
    expect(bytes.length).toBe(300);
    expect(toHex(bytes.subarray(240, 243))).toBe("340103");
    expect(bytes[299]).toBe(255);
    // the option continues in 'file' (offset 108) with the same code
    expect(bytes[108]).toBe(224);
    expect(unwrap(parseDhcp(bytes))).toEqual(repr);
  });

  it("overloads only file (option 52 = 1) when sname is in use", () => {
    const repr = baseRepr([optionBytes(224, new Uint8Array(150).fill(9))], { sname: "srv" });
    const bytes = emitDhcp(repr, { maxLength: 300 });
    expect(toHex(bytes.subarray(240, 243))).toBe("340101");
    expect(unwrap(parseDhcp(bytes))).toEqual(repr);
  });

  it("grows past maxLength rather than lose options when even file and sname are too small", () => {
    const repr = baseRepr([optionBytes(224, new Uint8Array(600).fill(3))]);
    const bytes = emitDhcp(repr, { maxLength: 300 });
    expect(bytes.length).toBeGreaterThan(300);
    expect(bytes[240]).toBe(224);
    expect(unwrap(parseDhcp(bytes))).toEqual(repr);
  });

  it("leaves headroom in front of the message in its buffer", () => {
    const bytes = emitDhcp(baseRepr([]), { headroom: 48 });
    expect(bytes.byteOffset).toBe(48);
    expect(bytes[0]).toBe(1);
  });
});

describe("parseDhcp() options", () => {
  const withOptions = (opts: string, fileHex = "", snameHex = ""): Uint8Array => {
    const b = padTo300(header("01", "00000001", "0000", "0000", zeros(4), zeros(4), zeros(4), zeros(4), MAC) + opts);
    b.set(hex(snameHex), 44);
    b.set(hex(fileHex), 108);
    return b;
  };

  it("skips pad bytes and stops at end, ignoring what follows it", () => {
    const r = unwrap(parseDhcp(withOptions("00 00 350101 00 ff 3604c0000201")));
    expect(r.options).toEqual([{ code: 53, data: Uint8Array.of(1) }]);
  });

  it("accepts an options field without an end option", () => {
    const b = hex(header("01", "00000001", "0000", "0000", zeros(4), zeros(4), zeros(4), zeros(4), MAC) + "350101");
    expect(unwrap(parseDhcp(b)).options).toEqual([{ code: 53, data: Uint8Array.of(1) }]);
  });

  it("concatenates split instances in order options, file, sname (RFC 3396, RFC 2131 §4.1)", () => {
    const r = unwrap(parseDhcp(withOptions("340103 0f03616263 350101 ff", "0f03646566 ff", "0f01 67 0c0178 ff")));
    expect(domainName(r)).toBe("abcdefg");
    expect(hostName(r)).toBe("x");
    expect(r.options.map((o) => o.code)).toEqual([15, 53, 12]);
    expect(r.sname).toBe("");
    expect(r.file).toBe("");
  });

  it("reads file as a name and ignores options in it when overload is 2 (sname only)", () => {
    const r = unwrap(parseDhcp(withOptions("340102 ff", "41424300", "0c026869ff")));
    expect(r.file).toBe("ABC");
    expect(hostName(r)).toBe("hi");
  });

  it("keeps unknown options in order and re-emits them unchanged", () => {
    const b = withOptions("e00401020304 350101 fa00 7b03aabbcc ff");
    const r = unwrap(parseDhcp(b));
    expect(r.options.map((o) => o.code)).toEqual([224, 53, 250, 123]);
    expect(toHex(emitDhcp(r))).toBe(toHex(b));
  });

  it.each([
    ["a message shorter than the fixed header", hex(zeros(239)), "truncated"],
    [
      "a wrong magic cookie",
      (() => {
        const b = padTo300(header("01", "00000001", "0000", "0000", zeros(4), zeros(4), zeros(4), zeros(4), MAC) + "ff");
        b[239] = 0x64;
        return b;
      })(),
      "bad-magic",
    ],
    [
      "op 3",
      (() => {
        const b = withOptions("ff");
        b[0] = 3;
        return b;
      })(),
      "bad-op",
    ],
    [
      "hlen 17",
      (() => {
        const b = withOptions("ff");
        b[2] = 17;
        return b;
      })(),
      "bad-hlen",
    ],
    [
      "an option running past the message",
      hex(header("01", "00000001", "0000", "0000", zeros(4), zeros(4), zeros(4), zeros(4), MAC) + "0c0541"),
      "truncated-option",
    ],
    ["a lone option code at the end", hex(header("01", "00000001", "0000", "0000", zeros(4), zeros(4), zeros(4), zeros(4), MAC) + "0c"), "truncated-option"],
    ["an option running past the file field", withOptions("340101 ff", "00".repeat(126) + "0c05"), "truncated-option"],
    ["an overload option of length 2", withOptions("34020101 ff"), "bad-overload"],
    ["an overload value of 4", withOptions("340104 ff"), "bad-overload"],
  ])("rejects %s", (_name, bytes, code) => {
    const r = parseDhcp(bytes);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error).toBe(code);
  });

  it("typed accessors return undefined for malformed option lengths", () => {
    const r = unwrap(parseDhcp(withOptions("350209 01 0103ffffff 0305c0000201aa 33020000 3d0101 3700 ff")));
    expect(messageType(r)).toBeUndefined();
    expect(subnetMask(r)).toBeUndefined();
    expect(routers(r)).toBeUndefined();
    expect(leaseTime(r)).toBeUndefined();
    expect(clientId(r)).toBeUndefined();
    expect(parameterRequestList(r)).toBeUndefined();
    expect(findOption(r, 55)).toEqual(new Uint8Array(0));
  });

  it("option constructors and accessors agree", () => {
    const r = baseRepr([
      optionU32(DhcpOption.LEASE_TIME, 0xffffffff),
      optionIpv4List(DhcpOption.DNS_SERVER, [1, 0xfffffffe]),
      optionString(DhcpOption.HOST_NAME, "h\u00e9"),
    ]);
    const back = unwrap(parseDhcp(emitDhcp(r)));
    expect(leaseTime(back)).toBe(0xffffffff);
    expect(readOptionU32(back, DhcpOption.LEASE_TIME)).toBe(0xffffffff);
    expect(dnsServers(back)).toEqual([1, 0xfffffffe]);
    expect(hostName(back)).toBe("h\u00e9");
  });
});

const u32 = fc.nat({ max: 0xffffffff });
const latin1 = (max: number): fc.Arbitrary<string> => fc.array(fc.integer({ min: 1, max: 255 }), { maxLength: max }).map((cs) => String.fromCharCode(...cs));
const arbRepr: fc.Arbitrary<DhcpRepr> = fc.record({
  op: fc.constantFrom(1, 2),
  htype: fc.nat({ max: 255 }),
  hops: fc.nat({ max: 255 }),
  xid: u32,
  secs: fc.nat({ max: 0xffff }),
  flags: fc.nat({ max: 0xffff }),
  ciaddr: u32,
  yiaddr: u32,
  siaddr: u32,
  giaddr: u32,
  chaddr: fc.uint8Array({ maxLength: 16 }),
  sname: fc.oneof(fc.constant(""), latin1(63)),
  file: fc.oneof(fc.constant(""), latin1(127)),
  options: fc.uniqueArray(fc.record({ code: fc.integer({ min: 1, max: 254 }).filter((c) => c !== 52), data: fc.uint8Array({ maxLength: 600 }) }), {
    selector: (o) => o.code,
    maxLength: 8,
  }),
});

describe("properties", () => {
  it("parse(emit(x)) == x, with and without a maxLength forcing overload", () => {
    fc.assert(
      fc.property(arbRepr, fc.option(fc.integer({ min: 240, max: 1500 }), { nil: undefined }), (repr, maxLength) => {
        const bytes = maxLength === undefined ? emitDhcp(repr) : emitDhcp(repr, { maxLength });
        expect(parseDhcp(bytes)).toEqual({ ok: true, value: repr });
      }),
      { numRuns: 400 },
    );
  });

  it("arbitrary bytes never throw, also with a valid cookie and overload", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 700 }), fc.boolean(), (bytes, cookie) => {
        if (cookie && bytes.length >= 243) {
          bytes.set([0x63, 0x82, 0x53, 0x63, 52, 1, 3], 236);
          bytes[0] = 1;
          bytes[2] = bytes[2]! & 15;
        }
        const r = parseDhcp(bytes);
        expect(typeof r.ok).toBe("boolean");
      }),
      { numRuns: 2000 },
    );
  });
});

describe("emitDhcp() on full-length names", () => {
  it("keeps a 64-byte unterminated sname and a 128-byte file (found by Jazzer.js: emitted as 63)", () => {
    const msg = new Uint8Array(300);
    msg[0] = 1;
    msg[1] = 1;
    msg[2] = 6;
    msg.set([99, 130, 83, 99], 236);
    msg[240] = 255;
    msg.fill(0x61, 44, 44 + 64);
    msg.fill(0x62, 108, 108 + 128);
    const repr = unwrap(parseDhcp(msg));
    expect(repr.sname).toBe("a".repeat(64));
    expect(repr.file).toBe("b".repeat(128));
    const again = unwrap(parseDhcp(emitDhcp(repr)));
    expect(again.sname).toBe("a".repeat(64));
    expect(again.file).toBe("b".repeat(128));
  });
});
