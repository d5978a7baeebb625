import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { ETHERTYPE_IPV4, IP_PROTOCOL_TCP, emitEthernet, emitIpv4, IPV4_CHECKSUM, ETHERNET_HEADER_LEN, emitArp, ETHERTYPE_ARP } from "../../stack/wire/index.ts";
import { emitTcp, tcpHeaderLength, type TcpRepr } from "../../stack/wire/tcp.ts";
import { hex } from "../../stack/wire/test-helpers.ts";
import { decodeCapture, decodeFrame } from "./decode.ts";
import { createTwoStacksOnLink } from "../../stack/net/test-net.ts";
import { createPcapWriter } from "../../stack/link/pcap/pcap.ts";
import { createByteCollector } from "../../stack/link/pcap/types.ts";
import { parseCapture } from "../../stack/link/pcap/index.ts";
import { ipv6 } from "../../stack/wire/ipv6-address.ts";
import { unwrap } from "../../stack/result.ts";

const A = 0xc0000201,
  B = 0xc0000202;

function tcpFrame(repr: TcpRepr): Uint8Array {
  const tcpLen = tcpHeaderLength(repr) + repr.payload.length;
  const f = new Uint8Array(ETHERNET_HEADER_LEN + 20 + tcpLen);
  emitEthernet({ dst: 0x020000000002, src: 0x020000000001, ethertype: ETHERTYPE_IPV4 }, f, 0);
  emitIpv4(
    {
      src: A,
      dst: B,
      protocol: IP_PROTOCOL_TCP,
      ttl: 64,
      tos: 0,
      ident: 7,
      dontFragment: true,
      moreFragments: false,
      fragmentOffset: 0,
      payloadLength: tcpLen,
      options: new Uint8Array(0),
    },
    f,
    ETHERNET_HEADER_LEN,
  );
  emitTcp(repr, f, ETHERNET_HEADER_LEN + 20, { src: A, dst: B });
  return f;
}

const SYN: TcpRepr = {
  srcPort: 40000,
  dstPort: 80,
  seq: 1000,
  ack: 0,
  flags: 0x02,
  window: 65535,
  urgent: 0,
  options: { mss: 1460, sackPermitted: true, tsVal: 1, tsEcr: 0, windowScale: 7 },
  payload: new Uint8Array(0),
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
    f[tcpStart + 16] = 0;
    f[tcpStart + 17] = 0;
    // fix the checksum so only the layout differs
    let sum = 0xc000 + 0x0201 + 0xc000 + 0x0202 + 6 + (f.length - tcpStart);
    for (let i = tcpStart; i < f.length; i += 2) sum += (f[i]! << 8) | (f[i + 1] ?? 0);
    while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
    const c = ~sum & 0xffff;
    f[tcpStart + 16] = c >>> 8;
    f[tcpStart + 17] = c & 0xff;
    const d = decodeFrame(f);
    expect(d.status).toBe("reemit-mismatch");
    if (d.status !== "reemit-mismatch") return;
    expect(d.layer).toBe("tcp");
    expect(d.offset).toBe(opt);
    expect(d.expected).toBe(3);
    expect(d.got).toBe(1);
  });

  it("decodeFrame() classifies a bad IPv4 header checksum, a short frame, a truncated IPv6 header and an unknown ethertype, and decodes a fragment up to IPv4", () => {
    const f = tcpFrame(SYN);
    f[ETHERNET_HEADER_LEN + IPV4_CHECKSUM]! ^= 0xff;
    expect(decodeFrame(f)).toMatchObject({ status: "error", errorClass: "ipv4/bad-checksum" });
    expect(decodeFrame(hex("ffffffffffff0200000000"))).toMatchObject({ status: "error", errorClass: "ethernet/truncated" });
    expect(decodeFrame(hex("333300000001020000000001 86dd 6000000000003aff"))).toMatchObject({ status: "error", errorClass: "ipv6/truncated" });
    expect(decodeFrame(hex("0180c200000e020000000001 88cc 0000"))).toMatchObject({ status: "error", errorClass: "ethernet/unsupported-ethertype-0x88cc" });
    const frag = new Uint8Array(ETHERNET_HEADER_LEN + 28);
    emitEthernet({ dst: 0x020000000002, src: 0x020000000001, ethertype: ETHERTYPE_IPV4 }, frag, 0);
    emitIpv4(
      {
        src: A,
        dst: B,
        protocol: 17,
        ttl: 64,
        tos: 0,
        ident: 9,
        dontFragment: false,
        moreFragments: true,
        fragmentOffset: 0,
        payloadLength: 8,
        options: new Uint8Array(0),
      },
      frag,
      ETHERNET_HEADER_LEN,
    );
    expect(decodeFrame(frag)).toEqual({ status: "ok", layers: ["ethernet", "ipv4"], padding: 0 });
  });

  it("decodeFrame() counts link padding after an ARP packet without calling it a mismatch", () => {
    const f = new Uint8Array(60);
    emitEthernet({ dst: 0xffffffffffff, src: 0x020000000001, ethertype: ETHERTYPE_ARP }, f, 0);
    emitArp({ operation: "request", senderMac: 0x020000000001, senderIp: A, targetMac: 0, targetIp: B }, f, ETHERNET_HEADER_LEN);
    expect(decodeFrame(f)).toEqual({ status: "ok", layers: ["ethernet", "arp"], padding: 60 - 14 - 28 });
  });

  it("decodeFrame() never throws and classifies every arbitrary frame", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        const d = decodeFrame(bytes);
        if (d.status === "error") expect(d.errorClass).toMatch(/^(ethernet|arp|ipv4|icmp|udp|dhcp|tcp)\//);
        return true;
      }),
    );
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

describe("decode mode over IPv6", () => {
  /** The frames two dual-stack stacks exchange: DAD, MLD, NDP, ping6, UDP and TCP over IPv6 (a's side). */
  function ipv6Frames(): Uint8Array[] {
    const capture = createByteCollector();
    const { clock, a, b } = createTwoStacksOnLink({
      seed: 3,
      captureA: createPcapWriter((c) => capture.write(c)),
      a: { ipv6: { addresses: ["2001:db8::a/64"] } },
      b: { ipv6: { addresses: ["2001:db8::b/64"], advertise: { prefixes: ["2001:db8:1::/64"] } } },
    });
    clock.run(3000);
    a.icmpv6!.ping(ipv6("2001:db8::b"), { size: 56, timeoutMs: 1000 }, () => {});
    unwrap(unwrap(b.udp6!.bind(7)).sendTo(ipv6("2001:db8::a"), 9, new Uint8Array(100).fill(7)));
    unwrap(b.tcp6!.listen(80)).onConnection((s) => s.onData(() => {}));
    const c = unwrap(a.tcp6!.connect(ipv6("2001:db8::b"), 80));
    c.onConnect(() => {
      c.write(new Uint8Array(5000).fill(1));
      c.end();
    });
    clock.run(clock.now() + 2000);
    const parsed = parseCapture(capture.bytes());
    if (!parsed.ok) throw new Error(parsed.error);
    return parsed.value.packets.map((p) => p.data);
  }

  it("decodeFrame() parses and re-emits IPv6 with its hop-by-hop header, NDP, MLD, ICMPv6 echo, UDP and TCP byte for byte", () => {
    const frames = ipv6Frames();
    const report = decodeCapture(frames);
    expect(report.errors).toEqual({});
    expect(report.reemitMismatches).toEqual({});
    expect(report.ok).toBe(frames.length);
    const stacks = new Set(report.perFrame.map((d) => d.layers.join("/")));
    for (const l of ["ethernet/ipv6/ndp", "ethernet/ipv6/mld", "ethernet/ipv6/icmpv6", "ethernet/ipv6/udp", "ethernet/ipv6/tcp"]) expect(stacks).toContain(l);
  });

  it("decodeFrame() classifies a bad TCP-over-IPv6 checksum and a bad ICMPv6 checksum; a changed byte of the pseudo-header's address is a bad checksum too", () => {
    const frames = ipv6Frames();
    const report = decodeCapture(frames);
    const firstOf = (layers: string): Uint8Array => frames[report.perFrame.findIndex((d) => d.layers.join("/") === layers)]!.slice();
    const tcp = firstOf("ethernet/ipv6/tcp");
    tcp[ETHERNET_HEADER_LEN + 40 + 16]! ^= 0x01;
    expect(decodeFrame(tcp)).toMatchObject({ status: "error", errorClass: "tcp/bad-checksum" });
    const echo = firstOf("ethernet/ipv6/icmpv6");
    echo[ETHERNET_HEADER_LEN + 8 + 15]! ^= 0x01; // the source address's last byte
    expect(decodeFrame(echo)).toMatchObject({ status: "error", errorClass: "icmpv6/bad-checksum" });
  });
});

describe("decode mode link types", () => {
  it("decodeCapture() classifies frames of a non-Ethernet link type (e.g. Linux cooked capture, 113) without parsing them", () => {
    const r = decodeCapture([tcpFrame(SYN), tcpFrame(SYN)], [1, 113]);
    expect(r.ok).toBe(1);
    expect(r.errors).toEqual({ "link/unsupported-linktype-113": 1 });
  });
});
