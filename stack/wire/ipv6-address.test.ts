import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { unwrap } from "../result.ts";
import {
  formatIpv6,
  ipv6,
  ipv6Equal,
  ipv6EqualAt,
  ipv6MulticastMac,
  isIpv6LinkLocal,
  linkLocalFromMac,
  maskIpv6,
  parseIpv6Address,
  parseIpv6Cidr,
  solicitedNodeAddress,
} from "./ipv6-address.ts";
import { toHex } from "./test-helpers.ts";

describe("ipv6 addresses", () => {
  it("formatIpv6() writes the RFC 5952 canonical form", () => {
    const cases: Array<[string, string]> = [
      // RFC 5952 §4.1 / §4.2.1 / §4.2.2 / §4.2.3 / §4.3 examples
      ["2001:0db8:0000:0000:0000:0000:0000:0001", "2001:db8::1"],
      ["2001:db8:0:0:0:0:2:1", "2001:db8::2:1"],
      ["2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1"],
      ["2001:0:0:1:0:0:0:1", "2001:0:0:1::1"],
      ["2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"],
      ["2001:DB8::AAAA", "2001:db8::aaaa"],
      ["0:0:0:0:0:0:0:0", "::"],
      ["0:0:0:0:0:0:0:1", "::1"],
      ["fe80:0:0:0:0:0:0:0", "fe80::"],
      ["0:0:0:0:0:ffff:c000:0201", "::ffff:192.0.2.1"],
      ["ff02::1:ff00:1", "ff02::1:ff00:1"],
      ["1:2:3:4:5:6:7::", "1:2:3:4:5:6:7:0"],
    ];
    for (const [input, canonical] of cases) expect(formatIpv6(unwrap(parseIpv6Address(input)))).toBe(canonical);
  });

  it("parseIpv6Address() reads an embedded dotted quad and refuses malformed text", () => {
    expect(toHex(ipv6("::ffff:192.0.2.1"))).toBe("00000000000000000000ffffc0000201");
    expect(toHex(ipv6("64:ff9b::192.0.2.33"))).toBe("0064ff9b0000000000000000c0000221");
    for (const bad of [
      "",
      ":",
      ":::",
      "1::2::3",
      "1:2:3:4:5:6:7:8:9",
      "1:2:3:4:5:6:7",
      "12345::",
      "g::",
      "::1.2.3",
      "::256.1.1.1",
      "::01.2.3.4",
      "1.2.3.4::",
      ":1::",
      "1::2:",
      "fe80::1%eth0",
      "2001:db8::/32",
    ]) {
      expect(parseIpv6Address(bad)).toMatchObject({ ok: false, error: "bad-ipv6" });
    }
  });

  it("formatIpv6() and parseIpv6Address() round-trip every address", () => {
    // Addresses with runs of zero groups are the interesting ones.
    const group = fc.oneof(fc.constant(0), fc.constant(0), fc.integer({ min: 0, max: 0xffff }));
    fc.assert(
      fc.property(fc.array(group, { minLength: 8, maxLength: 8 }), (g) => {
        const a = new Uint8Array(16);
        g.forEach((x, i) => {
          a[2 * i] = x >>> 8;
          a[2 * i + 1] = x & 0xff;
        });
        const text = formatIpv6(a);
        expect(unwrap(parseIpv6Address(text))).toEqual(a);
        expect(text).not.toMatch(/(^|:)0[0-9a-f]/);
        // Two zero groups left uncompressed only when a run at least as long is compressed (§4.2.3).
        if (/(^|:)0:0(:|$)/.test(text)) expect(text).toContain("::");
      }),
    );
  });

  it("parseIpv6Address() never throws on arbitrary text", () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 50 }), (s) => {
        parseIpv6Address(s);
      }),
    );
    fc.assert(
      fc.property(fc.stringMatching(/^[0-9a-f:.]{0,45}$/), (s) => {
        parseIpv6Address(s);
      }),
    );
  });

  it("ipv6EqualAt() compares an address with 16 bytes in place and is false where the bytes do not hold 16; ipv6Equal() with a whole address", () => {
    const a = ipv6("2001:db8::1");
    const packet = new Uint8Array(40);
    packet.set(a, 24);
    expect(ipv6EqualAt(a, packet, 24)).toBe(true);
    expect(ipv6EqualAt(a, packet, 8)).toBe(false);
    // The first byte differs: compared from the end, the loop must still reach it.
    const b = ipv6("3001:db8::1");
    expect(ipv6EqualAt(b, packet, 24)).toBe(false);
    // Past the end (a read there would give undefined, never equal, but must not be relied on).
    expect(ipv6EqualAt(a, packet, 25)).toBe(false);
    expect(ipv6EqualAt(a, packet.subarray(0, 39), 24)).toBe(false);
    expect(ipv6EqualAt(a, packet, -1)).toBe(false);
    expect(ipv6EqualAt(a.subarray(0, 15), packet, 24)).toBe(false);
    expect(ipv6Equal(a, ipv6("2001:db8::1"))).toBe(true);
    expect(ipv6Equal(a, b)).toBe(false);
    expect(ipv6Equal(a, packet.subarray(24))).toBe(true);
    expect(ipv6Equal(a, packet.subarray(23))).toBe(false);
  });

  it("derives the solicited-node group, its Ethernet MAC and an EUI-64 link-local address", () => {
    expect(formatIpv6(solicitedNodeAddress(ipv6("2001:db8::abcd:1234:5678")))).toBe("ff02::1:ff34:5678");
    expect(ipv6MulticastMac(ipv6("ff02::1:ff34:5678"))).toBe(0x3333ff345678);
    const ll = linkLocalFromMac(0x020000000001);
    expect(formatIpv6(ll)).toBe("fe80::ff:fe00:1");
    expect(isIpv6LinkLocal(ll)).toBe(true);
  });

  it("parseIpv6Cidr() takes an address with an optional /0..128 (default 128, or required) and refuses the rest; maskIpv6() clears the host bits", () => {
    const c = unwrap(parseIpv6Cidr("2001:db8:1::1/64"));
    expect([formatIpv6(c.address), c.prefixLength]).toEqual(["2001:db8:1::1", 64]);
    expect(unwrap(parseIpv6Cidr("::1")).prefixLength).toBe(128);
    expect(parseIpv6Cidr("::1", { requireLength: true }).ok).toBe(false);
    for (const bad of ["2001:db8::/129", "2001:db8::/-1", "2001:db8::/", "2001:db8::/6a", "2001:db8:::/64", "10.0.0.0/8"])
      expect(parseIpv6Cidr(bad).ok).toBe(false);
    expect(formatIpv6(maskIpv6(ipv6("2001:db8:ffff:ffff::1"), 36))).toBe("2001:db8:f000::");
    expect(formatIpv6(maskIpv6(ipv6("2001:db8::1"), 0))).toBe("::");
    expect(formatIpv6(maskIpv6(ipv6("2001:db8::1"), 128))).toBe("2001:db8::1");
  });
});
