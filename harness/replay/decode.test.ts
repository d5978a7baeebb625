import { describe, expect, it } from "vitest";
import fc from "fast-check";
import {
  ETHERTYPE_IPV4, IP_PROTOCOL_TCP, emitEthernet, emitIpv4, IPV4_CHECKSUM, ETHERNET_HEADER_LEN, emitArp,
  ETHERTYPE_ARP,
} from "../../stack/wire/index.ts";
import { emitTcp, tcpHeaderLength, type TcpRepr } from "../../stack/wire/tcp.ts";
import { hex } from "../../stack/wire/test-helpers.ts";
import { decodeCapture, decodeFrame } from "./decode.ts";

const A = 0xc0000201, B = 0xc0000202;

function tcpFrame(repr: TcpRepr): Uint8Array {
  const tcpLen = tcpHeaderLength(repr) + repr.payload.length;
  const f = new Uint8Array(ETHERNET_HEADER_LEN + 20 + tcpLen);
  emitEthernet({ dst: 0x020000000002, src: 0x020000000001, ethertype: ETHERTYPE_IPV4 }, f, 0);
  emitIpv4({ src: A, dst: B, protocol: IP_PROTOCOL_TCP, ttl: 64, tos: 0, ident: 7, dontFragment: true, moreFragments: false, fragmentOffset: 0, payloadLength: tcpLen, options: new Uint8Array(0) }, f, ETHERNET_HEADER_LEN);
  emitTcp(repr, f, ETHERNET_HEADER_LEN + 20, { src: A, dst: B });
  return f;
}

const SYN: TcpRepr = {
  srcPort: 40000, dstPort: 80, seq: 1000, ack: 0, flags: 0x02, window: 65535, urgent: 0,
  options: { mss: 1460, sackPermitted: true, tsVal: 1, tsEcr: 0, windowScale: 7 }, payload: new Uint8Array(0),
};

describe("decode mode", () => {
  it("decodeFrame() re-emits a Linux-layout SYN byte for byte", () => {
    const d = decodeFrame(tcpFrame(SYN));
    expect(d).toEqual({ status: "ok", layers: ["ethernet", "ipv4", "tcp"], padding: 0 });
  });

  it("decodeFrame() reports a re-emit mismatch with layer and offset for a non-Linux option order", () => {
    const f = tcpFrame({ ...SYN, options: { windowScale: 7 } });
    // Rewrite the options to "WS NOP" (3 bytes + pad) where emitTcpOptions writes "NOP WS".
    const opt = ETHERNET_HEADER_LEN + 20 + 20;
    f.set([3, 3, 7, 1], opt);
    const tcpStart = ETHERNET_HEADER_LEN + 20;
    f[tcpStart + 16] = 0; f[tcpStart + 17] = 0;
    // fix the checksum so only the layout differs
    let sum = 0xc000 + 0x0201 + 0xc000 + 0x0202 + 6 + (f.length - tcpStart);
    for (let i = tcpStart; i < f.length; i += 2) sum += (f[i]! << 8) | (f[i + 1] ?? 0);
    while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
    const c = ~sum & 0xffff;
    f[tcpStart + 16] = c >>> 8; f[tcpStart + 17] = c & 0xff;
    const d = decodeFrame(f);
    expect(d.status).toBe("reemit-mismatch");
    if (d.status !== "reemit-mismatch") return;
    expect(d.layer).toBe("tcp");
    expect(d.offset).toBe(opt);
    expect(d.expected).toBe(3);
    expect(d.got).toBe(1);
  });

  it("decodeFrame() classifies a bad IPv4 header checksum, a short frame and IPv6, and decodes a fragment up to IPv4", () => {
    const f = tcpFrame(SYN);
    f[ETHERNET_HEADER_LEN + IPV4_CHECKSUM]! ^= 0xff;
    expect(decodeFrame(f)).toMatchObject({ status: "error", errorClass: "ipv4/bad-checksum" });
    expect(decodeFrame(hex("ffffffffffff0200000000"))).toMatchObject({ status: "error", errorClass: "ethernet/truncated" });
    expect(decodeFrame(hex("333300000001020000000001 86dd 6000000000003aff"))).toMatchObject({ status: "error", errorClass: "ethernet/unsupported-ethertype-0x86dd" });
    const frag = new Uint8Array(ETHERNET_HEADER_LEN + 28);
    emitEthernet({ dst: 0x020000000002, src: 0x020000000001, ethertype: ETHERTYPE_IPV4 }, frag, 0);
    emitIpv4({ src: A, dst: B, protocol: 17, ttl: 64, tos: 0, ident: 9, dontFragment: false, moreFragments: true, fragmentOffset: 0, payloadLength: 8, options: new Uint8Array(0) }, frag, ETHERNET_HEADER_LEN);
    expect(decodeFrame(frag)).toEqual({ status: "ok", layers: ["ethernet", "ipv4"], padding: 0 });
  });

  it("decodeFrame() counts link padding after an ARP packet without calling it a mismatch", () => {
    const f = new Uint8Array(60);
    emitEthernet({ dst: 0xffffffffffff, src: 0x020000000001, ethertype: ETHERTYPE_ARP }, f, 0);
    emitArp({ operation: "request", senderMac: 0x020000000001, senderIp: A, targetMac: 0, targetIp: B }, f, ETHERNET_HEADER_LEN);
    expect(decodeFrame(f)).toEqual({ status: "ok", layers: ["ethernet", "arp"], padding: 60 - 14 - 28 });
  });

  it("decodeFrame() never throws and classifies every arbitrary frame", () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
      const d = decodeFrame(bytes);
      if (d.status === "error") expect(d.errorClass).toMatch(/^(ethernet|arp|ipv4|icmp|udp|dhcp|tcp)\//);
      return true;
    }));
  });

  it("decodeCapture() counts classes and mismatches", () => {
    const bad = tcpFrame(SYN);
    bad[ETHERNET_HEADER_LEN + IPV4_CHECKSUM]! ^= 1;
    const r = decodeCapture([tcpFrame(SYN), bad, tcpFrame(SYN)]);
    expect(r.frames).toBe(3);
    expect(r.ok).toBe(2);
    expect(r.errors).toEqual({ "ipv4/bad-checksum": 1 });
    expect(r.reemitMismatches).toEqual({});
  });
});

describe("decode mode link types", () => {
  it("decodeCapture() classifies frames of a non-Ethernet link type (e.g. Linux cooked capture, 113) without parsing them", () => {
    const r = decodeCapture([tcpFrame(SYN), tcpFrame(SYN)], [1, 113]);
    expect(r.ok).toBe(1);
    expect(r.errors).toEqual({ "link/unsupported-linktype-113": 1 });
  });
});
