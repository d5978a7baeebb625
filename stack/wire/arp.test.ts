import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { unwrap } from "../result.ts";
import { ARP_PACKET_LEN, type ArpRepr, emitArp, parseArp } from "./arp.ts";
import { hex, toHex } from "./test-helpers.ts";

// "Who has 24.166.173.159? Tell 24.166.172.1" (a classic capture), with 18 bytes of Ethernet padding.
const REQUEST = hex("0001 0800 06 04 0001 00070daff454 18a6ac01 000000000000 18a6ad9f" + "00".repeat(18));
const REQUEST_REPR: ArpRepr = { operation: "request", senderMac: 0x00070daff454, senderIp: 0x18a6ac01, targetMac: 0, targetIp: 0x18a6ad9f };

describe("arp", () => {
  it("parseArp() deconstructs a padded request", () => {
    expect(unwrap(parseArp(REQUEST))).toEqual(REQUEST_REPR);
  });

  it("emitArp() constructs a reply byte for byte", () => {
    const buf = new Uint8Array(ARP_PACKET_LEN);
    emitArp({ operation: "reply", senderMac: 0x525400000002, senderIp: 0xc0000202, targetMac: 0x525400000001, targetIp: 0xc0000201 }, buf);
    expect(toHex(buf)).toBe("0001080006040002" + "525400000002c0000202" + "525400000001c0000201");
  });

  it("parseArp() rejects truncated packets and foreign hardware, protocol, lengths and opcodes", () => {
    expect(parseArp(REQUEST.subarray(0, 27))).toEqual({ ok: false, error: "truncated" });
    const bad = (i: number, v: number): Uint8Array => {
      const b = REQUEST.slice();
      b[i] = v;
      return b;
    };
    expect(parseArp(bad(1, 6))).toEqual({ ok: false, error: "unsupported-hardware" });
    expect(parseArp(bad(2, 0x86))).toEqual({ ok: false, error: "unsupported-protocol" });
    expect(parseArp(bad(4, 8))).toEqual({ ok: false, error: "bad-address-length" });
    expect(parseArp(bad(5, 16))).toEqual({ ok: false, error: "bad-address-length" });
    expect(parseArp(bad(7, 3))).toEqual({ ok: false, error: "bad-operation" });
  });

  it("parseArp(emitArp(repr)) gives back repr", () => {
    const mac = fc.integer({ min: 0, max: 2 ** 48 - 1 });
    const ip = fc.integer({ min: 0, max: 0xffffffff });
    fc.assert(
      fc.property(
        fc.record({ operation: fc.constantFrom("request" as const, "reply" as const), senderMac: mac, senderIp: ip, targetMac: mac, targetIp: ip }),
        (r) => {
          const buf = new Uint8Array(ARP_PACKET_LEN);
          emitArp(r, buf);
          expect(unwrap(parseArp(buf))).toEqual(r);
        },
      ),
    );
  });

  it("parseArp() never throws on arbitrary bytes", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (b) => {
        const r = parseArp(b);
        if (r.ok) expect(b.length).toBeGreaterThanOrEqual(ARP_PACKET_LEN);
      }),
    );
  });
});
