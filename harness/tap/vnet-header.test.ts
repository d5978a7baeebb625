import { describe, expect, it } from "vitest";
import { pseudoHeaderSum } from "../../stack/wire/checksum.ts";
import { parseVnetReceive, readVnetHeader, VNET_HDR_LEN, writeVnetHeader } from "./vnet-header.ts";

const hex = (b: Uint8Array): string => Buffer.from(b).toString("hex");

/** Ethernet + IPv4 (192.0.2.2 -> 192.0.2.1) + a 20-byte TCP header (or 8-byte UDP) + payload. */
function frame(protocol: 6 | 17, payloadLen: number): Uint8Array {
  const l4 = protocol === 6 ? 20 : 8;
  const ipLen = 20 + l4 + payloadLen;
  const f = new Uint8Array(14 + ipLen);
  f.set(Buffer.from("02000000000102000000000208004500", "hex"), 0);
  f[16] = ipLen >>> 8;
  f[17] = ipLen & 0xff;
  f[22] = 64;
  f[23] = protocol;
  f.set(Buffer.from("c0000202c0000201", "hex"), 26);
  f.set(Buffer.from("c0010050", "hex"), 34);
  if (protocol === 6) f[46] = 0x50;
  else {
    f[38] = (8 + payloadLen) >>> 8;
    f[39] = (8 + payloadLen) & 0xff;
  }
  return f;
}

describe("readVnetHeader()", () => {
  it("says nothing about a header with no flags and no GSO", () => {
    expect(readVnetHeader(new Uint8Array(VNET_HDR_LEN))).toBeUndefined();
  });

  it("maps DATA_VALID to dataValidated and NEEDS_CSUM with GSO_TCPV4 to csumBlank and gsoSize", () => {
    expect(readVnetHeader(Buffer.from("02000000000000000000", "hex"))).toEqual({ dataValidated: true });
    expect(readVnetHeader(Buffer.from("01013600a8052200 1000".replace(" ", ""), "hex"))).toEqual({ csumBlank: true, gsoSize: 1448 });
  });
});

describe("parseVnetReceive()", () => {
  it("refuses NEEDS_CSUM whose csum_start + csum_offset + 2 lies past the frame, and GSO other than a sized, NEEDS_CSUM TCPv4", () => {
    expect(parseVnetReceive(Buffer.from("01000000000022001000", "hex"), 52)).toEqual({ ok: true, value: { csumBlank: true } });
    expect(parseVnetReceive(Buffer.from("01000000000022001000", "hex"), 51)).toMatchObject({ ok: false, error: "csum-outside-frame" });
    expect(parseVnetReceive(Buffer.from("0100000000fffffff000", "hex"), 1500)).toMatchObject({ ok: false, error: "csum-outside-frame" });
    // A header shorter than virtio_net_hdr is refused, not read as zeros past its end.
    expect(parseVnetReceive(Buffer.from("0100000000", "hex"), 1500)).toMatchObject({ ok: false, error: "truncated-header" });
    expect(parseVnetReceive(Buffer.from("01813600a80522001000", "hex"), 4000)).toEqual({ ok: true, value: { csumBlank: true, gsoSize: 1448 } });
    expect(parseVnetReceive(Buffer.from("01033600a80522000600", "hex"), 4000)).toMatchObject({ ok: false, error: "gso-unsupported" });
    expect(parseVnetReceive(Buffer.from("01013600000022001000", "hex"), 4000)).toMatchObject({ ok: false, error: "gso-without-size" });
    expect(parseVnetReceive(Buffer.from("00013600a80522001000", "hex"), 4000)).toMatchObject({ ok: false, error: "gso-without-csum" });
  });
});

describe("writeVnetHeader()", () => {
  it("writes an all-zero header for a frame without offload metadata", () => {
    const hdr = new Uint8Array(VNET_HDR_LEN).fill(0xee);
    expect(writeVnetHeader(hdr, frame(6, 0), undefined).ok).toBe(true);
    expect(hex(hdr)).toBe("00000000000000000000");
  });

  it("points csum_start/csum_offset at the TCP and UDP checksum fields of a csumBlank frame", () => {
    const hdr = new Uint8Array(VNET_HDR_LEN);
    expect(writeVnetHeader(hdr, frame(6, 10), { csumBlank: true }).ok).toBe(true);
    expect(hex(hdr)).toBe("01000000000022001000");
    expect(writeVnetHeader(hdr, frame(17, 10), { csumBlank: true }).ok).toBe(true);
    expect(hex(hdr)).toBe("01000000000022000600");
  });

  it("asks for GSO_TCPV4 with hdr_len and gso_size, turning a full checksum back into the pseudo-header sum", () => {
    const hdr = new Uint8Array(VNET_HDR_LEN);
    const f = frame(6, 4000);
    f[50] = 0x12;
    f[51] = 0x34;
    expect(writeVnetHeader(hdr, f, { gsoSize: 1448 }).ok).toBe(true);
    expect(hex(hdr)).toBe("01013600a80522001000");
    const expected = pseudoHeaderSum(0xc0000202, 0xc0000201, 6, 20 + 4000);
    expect((f[50]! << 8) | f[51]!).toBe(expected);
  });

  it("keeps the stack's partial checksum when a GSO frame is also csumBlank", () => {
    const hdr = new Uint8Array(VNET_HDR_LEN);
    const f = frame(6, 3000);
    f[50] = 0xab;
    f[51] = 0xcd;
    expect(writeVnetHeader(hdr, f, { csumBlank: true, gsoSize: 1000 }).ok).toBe(true);
    expect(hex(hdr)).toBe("01013600e80322001000");
    expect(hex(f.subarray(50, 52))).toBe("abcd");
  });

  it("refuses offload requests it cannot express", () => {
    const hdr = new Uint8Array(VNET_HDR_LEN);
    const arp = new Uint8Array(42);
    arp[12] = 0x08;
    arp[13] = 0x06;
    expect(writeVnetHeader(hdr, arp, { csumBlank: true })).toMatchObject({ ok: false, error: "not-ipv4" });
    const icmp = frame(6, 0);
    icmp[23] = 1;
    expect(writeVnetHeader(hdr, icmp, { csumBlank: true })).toMatchObject({ ok: false, error: "not-tcp-or-udp" });
    expect(writeVnetHeader(hdr, frame(17, 100), { gsoSize: 50 })).toMatchObject({ ok: false, error: "gso-not-tcp" });
    expect(writeVnetHeader(hdr, frame(6, 0).subarray(0, 40), { csumBlank: true })).toMatchObject({ ok: false, error: "truncated" });
    const noIhl = frame(17, 30);
    noIhl[14] = 0x40;
    expect(writeVnetHeader(hdr, noIhl, { csumBlank: true })).toMatchObject({ ok: false, error: "not-ipv4" });
    const v6 = frame(6, 0);
    v6[14] = 0x65;
    expect(writeVnetHeader(hdr, v6, { csumBlank: true })).toMatchObject({ ok: false, error: "not-ipv4" });
  });

  it("marks dataValidated frames DATA_VALID without asking for a checksum", () => {
    const hdr = new Uint8Array(VNET_HDR_LEN);
    expect(writeVnetHeader(hdr, frame(6, 0), { dataValidated: true }).ok).toBe(true);
    expect(hex(hdr)).toBe("02000000000000000000");
  });
});
