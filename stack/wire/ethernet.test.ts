import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { unwrap } from "../result.ts";
import {
  ETHERTYPE_ARP,
  ETHERTYPE_IPV4,
  ETHERTYPE_IPV6,
  EthernetPacket,
  type EthernetRepr,
  emitEthernet,
  ethernetHeaderLength,
  parseEthernet,
} from "./ethernet.ts";
import { hex, toHex } from "./test-helpers.ts";

// A broadcast ARP request frame as captured (header + start of ARP).
const ARP_FRAME = hex("ffffffffffff 00070daff454 0806 0001 0800 0604 0001");
// An IPv6 frame tagged VLAN 100, PCP 5, DEI 1.
const TAGGED_FRAME = hex("333300000001 525400123456 8100 b064 86dd 6000");

describe("ethernet", () => {
  it("parseEthernet() deconstructs an untagged ARP broadcast", () => {
    const r = unwrap(parseEthernet(ARP_FRAME));
    expect(r).toEqual({ dst: 0xffffffffffff, src: 0x00070daff454, ethertype: ETHERTYPE_ARP });
    const p = new EthernetPacket(ARP_FRAME);
    expect(p.headerLength).toBe(14);
    expect(toHex(p.payload)).toBe("000108000604" + "0001");
  });

  it("parseEthernet() deconstructs an 802.1Q tagged frame into pcp, dei and vid", () => {
    const r = unwrap(parseEthernet(TAGGED_FRAME));
    expect(r).toEqual({ dst: 0x333300000001, src: 0x525400123456, ethertype: ETHERTYPE_IPV6, vlan: { pcp: 5, dei: true, vid: 100 } });
    expect(toHex(new EthernetPacket(TAGGED_FRAME).payload)).toBe("6000");
  });

  it("emitEthernet() constructs the exact header bytes, tagged and untagged", () => {
    const buf = new Uint8Array(20);
    expect(emitEthernet({ dst: 0xffffffffffff, src: 0x00070daff454, ethertype: ETHERTYPE_ARP }, buf, 2)).toBe(14);
    expect(toHex(buf.subarray(2, 16))).toBe("ffffffffffff00070daff4540806");
    const t = new Uint8Array(18);
    expect(emitEthernet({ dst: 0x333300000001, src: 0x525400123456, ethertype: ETHERTYPE_IPV6, vlan: { pcp: 5, dei: true, vid: 100 } }, t)).toBe(18);
    expect(toHex(t)).toBe("3333000000015254001234568100b06486dd");
  });

  it("parseEthernet() rejects a frame shorter than its header, including a cut VLAN tag", () => {
    expect(parseEthernet(ARP_FRAME.subarray(0, 13))).toEqual({ ok: false, error: "truncated" });
    expect(parseEthernet(TAGGED_FRAME.subarray(0, 17))).toEqual({ ok: false, error: "truncated" });
    expect(parseEthernet(new Uint8Array(0))).toEqual({ ok: false, error: "truncated" });
  });

  it("parseEthernet() rejects an IEEE 802.3 length field in place of an EtherType", () => {
    const f = hex("ffffffffffff 00070daff454 05dc 0000");
    expect(parseEthernet(f)).toEqual({ ok: false, error: "length-field" });
  });

  it("parseEthernet(emitEthernet(repr)) gives back repr", () => {
    const mac = fc.integer({ min: 0, max: 2 ** 48 - 1 });
    const repr = fc
      .record({
        dst: mac,
        src: mac,
        ethertype: fc.integer({ min: 0x600, max: 0xffff }).filter((t) => t !== 0x8100),
        vlan: fc.option(fc.record({ pcp: fc.integer({ min: 0, max: 7 }), dei: fc.boolean(), vid: fc.integer({ min: 0, max: 4095 }) }), { nil: undefined }),
      })
      .map((r): EthernetRepr => (r.vlan === undefined ? { dst: r.dst, src: r.src, ethertype: r.ethertype } : { ...r, vlan: r.vlan }));
    fc.assert(
      fc.property(repr, (r) => {
        const buf = new Uint8Array(ethernetHeaderLength(r));
        emitEthernet(r, buf);
        expect(unwrap(parseEthernet(buf))).toEqual(r);
      }),
    );
  });

  it("parseEthernet() never throws on arbitrary bytes", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 40 }), (b) => {
        const r = parseEthernet(b);
        if (r.ok) expect(b.length).toBeGreaterThanOrEqual(ethernetHeaderLength(r.value));
      }),
    );
  });

  it("ETHERTYPE constants have their IEEE values", () => {
    expect([ETHERTYPE_IPV4, ETHERTYPE_ARP, ETHERTYPE_IPV6]).toEqual([0x0800, 0x0806, 0x86dd]);
  });
});
