import { describe, expect, it } from "vitest";
import { ETHERTYPE_IPV4, IP_PROTOCOL_ICMP, emitEthernet, emitIcmp, emitIpv4, ETHERNET_HEADER_LEN } from "../../stack/wire/index.ts";
import { describeFrame, diffFields, dissect } from "./compare.ts";

function ping(ttl: number, seq: number, data: string): Uint8Array {
  const body = new TextEncoder().encode(data);
  const f = new Uint8Array(ETHERNET_HEADER_LEN + 20 + 8 + body.length);
  emitEthernet({ dst: 0x020000000002, src: 0x020000000001, ethertype: ETHERTYPE_IPV4 }, f, 0);
  emitIpv4(
    {
      src: 0xc0000201,
      dst: 0xc0000202,
      protocol: IP_PROTOCOL_ICMP,
      ttl,
      tos: 0,
      ident: 1,
      dontFragment: false,
      moreFragments: false,
      fragmentOffset: 0,
      payloadLength: 8 + body.length,
      options: new Uint8Array(0),
    },
    f,
    ETHERNET_HEADER_LEN,
  );
  emitIcmp({ kind: "echo-request", ident: 5, seq, data: body }, f, ETHERNET_HEADER_LEN + 20);
  return f;
}

describe("field-by-field comparison", () => {
  it("diffFields() names each differing field with expected and got, checksums as verdicts", () => {
    const d = diffFields(dissect(ping(64, 1, "abcdef")), dissect(ping(32, 2, "abcXef")));
    expect(d).toEqual([
      { field: "ipv4.ttl", expected: "64", got: "32" },
      { field: "icmp.seq", expected: "1", got: "2" },
      { field: "icmp.data[3]", expected: '"def"', got: '"Xef"' },
    ]);
  });

  it("diffFields() accepts a numeric field within its tolerance and reports one outside it", () => {
    const e = dissect(ping(64, 1, "x")),
      g = dissect(ping(63, 1, "x"));
    expect(diffFields(e, g, new Map([["ipv4.ttl", 1]]))).toEqual([]);
    expect(diffFields(e, dissect(ping(61, 1, "x")), new Map([["ipv4.ttl", 2]]))).toEqual([{ field: "ipv4.ttl", expected: "64", got: "61" }]);
  });

  it("describeFrame() gives one line per frame", () => {
    expect(describeFrame(dissect(ping(64, 3, "x")))).toBe("icmp 192.0.2.1 > 192.0.2.2 type 8 code 0 id 5 seq 3");
  });
});
