import { describe, expect, it } from "vitest";
import { ETHERNET_HEADER_LEN, ETHERTYPE_IPV4, emitEthernet } from "../../stack/wire/ethernet.ts";
import { IP_PROTOCOL_TCP, IPV4_HEADER_LEN, emitIpv4 } from "../../stack/wire/ipv4.ts";
import { TCP_FLAG_ACK, TCP_FLAG_PSH, TCP_FLAG_SYN, emitTcp, tcpHeaderLength, type TcpRepr } from "../../stack/wire/tcp.ts";
import type { DrillTcpPacket } from "./model.ts";
import {
  buildInboundFrame,
  createDrillMapping,
  decodeTcpFrame,
  flagBits,
  ipVersionMapping,
  matchOutboundFrame,
  scriptIpVersion,
  type DrillMapping,
} from "./packets.ts";
import { parseDrillScript } from "./parser.ts";
import { checksumFinish, checksumRange } from "../../stack/wire/checksum.ts";
import { ipv6PseudoHeaderSum } from "../../stack/wire/ipv6.ts";
import { ipv6 } from "../../stack/wire/ipv6-address.ts";

function packetOf(line: string): DrillTcpPacket {
  const r = parseDrillScript(`0 ${line}\n`, "t.pkt");
  if (!r.ok) throw new Error(r.error.message);
  const b = r.value.events[0]?.body;
  if (b?.kind !== "packet" || b.packet.protocol !== "tcp") throw new Error("not a tcp packet");
  return b.packet;
}

/** A frame the stack would send (stack -> script side). */
function stackFrame(m: DrillMapping, t: Partial<TcpRepr>): Uint8Array {
  const repr: TcpRepr = {
    srcPort: 8080,
    dstPort: m.scriptPort,
    seq: 0,
    ack: 0,
    flags: TCP_FLAG_ACK,
    window: 65535,
    urgent: 0,
    options: {},
    payload: new Uint8Array(0),
    ...t,
  };
  const len = tcpHeaderLength(repr) + repr.payload.length;
  const f = new Uint8Array(ETHERNET_HEADER_LEN + IPV4_HEADER_LEN + len);
  emitEthernet({ dst: m.scriptMac, src: m.stackMac, ethertype: ETHERTYPE_IPV4 }, f, 0);
  emitIpv4(
    {
      src: m.stackIp,
      dst: m.scriptIp,
      protocol: IP_PROTOCOL_TCP,
      ttl: 64,
      tos: 0,
      ident: 0,
      dontFragment: true,
      moreFragments: false,
      fragmentOffset: 0,
      payloadLength: len,
      options: new Uint8Array(0),
    },
    f,
    ETHERNET_HEADER_LEN,
  );
  emitTcp(repr, f, ETHERNET_HEADER_LEN + IPV4_HEADER_LEN, { src: m.stackIp, dst: m.scriptIp });
  return f;
}

describe("drill packet mapping", () => {
  it("buildInboundFrame() maps seq to the script ISN, ack to the stack ISN, and keeps win raw", () => {
    const m = createDrillMapping({ scriptIsn: 1_000_000, stackIsn: 5000, stackPort: 8080, tsOffset: 300 });
    const f = buildInboundFrame(packetOf("< P. 1:101(100) ack 1 win 257 <nop,nop,TS val 7 ecr 20>"), m);
    const d = decodeTcpFrame(f);
    expect(d?.tcp).toMatchObject({
      srcPort: 40000,
      dstPort: 8080,
      seq: 1_000_001,
      ack: 5001,
      flags: TCP_FLAG_PSH | TCP_FLAG_ACK,
      window: 257,
      options: { tsVal: 7, tsEcr: 320 },
    });
    expect(d?.tcp.payload.length).toBe(100);
    expect(d?.ip).toMatchObject({ family: 4, src: "192.0.2.1", dst: "192.168.0.1", ttl: 64, tos: 0 });
  });

  it("buildInboundFrame() over IPv6 emits the v6 header (traffic class from ecn, hop limit from ttl) and a TCP checksum over the v6 pseudo-header", () => {
    const m = createDrillMapping({ family: 6, stackIsn: 1000, scriptIsn: 5000, stackPort: 8080 });
    const frame = buildInboundFrame({ ...packetOf("< P. 1:11(10) ack 1 win 100"), ecn: "ect0", ttl: 9 }, m);
    expect([frame[12], frame[13]]).toEqual([0x86, 0xdd]);
    const d = decodeTcpFrame(frame);
    expect(d?.ip).toEqual({ family: 6, tos: 2, ttl: 9, src: "[fd00::2]", dst: "[fd00::1]" });
    expect(d?.tcp).toMatchObject({ seq: 5001, ack: 1001, srcPort: m.scriptPort, dstPort: 8080 });
    const segment = frame.subarray(54);
    const sum = checksumFinish(checksumRange(segment, 0, segment.length, ipv6PseudoHeaderSum(ipv6("fd00::2"), ipv6("fd00::1"), 6, segment.length)));
    expect(sum, "the checksum verifies over the v6 pseudo-header").toBe(0);
    // A v4 frame is not what a v6 run expects.
    const v4 = buildInboundFrame(packetOf("< . 1:1(0) ack 1 win 100"), createDrillMapping({ stackPort: 8080 }));
    expect(matchOutboundFrame(v4, packetOf("> . 1:1(0) ack 1"), m)).toMatchObject({ kind: "mismatch", difference: expect.stringContaining("not IPv6/TCP") });
  });

  it("buildInboundFrame() emits SYN options and IP extras (ect0, ttl)", () => {
    const m = createDrillMapping({ stackPort: 8080 });
    const d = decodeTcpFrame(buildInboundFrame(packetOf("< [ect0,ttl 9] SEW 0:0(0) win 32792 <mss 1000,sackOK,nop,nop,nop,wscale 7>"), m));
    expect(d?.tcp.options).toEqual({ mss: 1000, sackPermitted: true, windowScale: 7 });
    expect(d?.tcp.flags).toBe(flagBits("SEW"));
    expect((d?.ip.tos ?? 0) & 3).toBe(2);
    expect(d?.ip.ttl).toBe(9);
  });

  it("matchOutboundFrame() learns the stack's ISN, port and TS offset from its SYN-ACK", () => {
    const m = createDrillMapping({ scriptIsn: 100 });
    const f = stackFrame(m, {
      seq: 777,
      ack: 101,
      flags: TCP_FLAG_SYN | TCP_FLAG_ACK,
      options: { mss: 1460, sackPermitted: true, tsVal: 9000, tsEcr: 5, windowScale: 8 },
    });
    expect(matchOutboundFrame(f, packetOf("> S. 0:0(0) ack 1 <mss 1460,sackOK,TS val 100 ecr 5,nop,wscale 8>"), m)).toEqual({ kind: "match" });
    expect(m).toMatchObject({ stackIsn: 777, stackPort: 8080, tsOffset: 8900 });
  });

  it("matchOutboundFrame() explains a difference with relative and absolute numbers", () => {
    const m = createDrillMapping({ scriptIsn: 100, stackIsn: 777, stackPort: 8080 });
    const f = stackFrame(m, { seq: 778, ack: 150, payload: new Uint8Array(10) });
    const r = matchOutboundFrame(f, packetOf("> . 1:1(0) ack 51"), m);
    expect(r.kind).toBe("mismatch");
    const text = r.kind === "mismatch" ? r.difference : "";
    expect(text).toContain("payload 10 bytes, expected 0");
    expect(text).toContain("ack 50 (absolute 150), expected 51 (absolute 151)");
    expect(text).toContain("got: . 1:11(10) ack 50 win 65535 [absolute: seq 778 ack 150");
  });

  it("matchOutboundFrame() checks the option layout and rejects options the line does not list", () => {
    const m = createDrillMapping({ scriptIsn: 0, stackIsn: 0, stackPort: 8080 });
    const syn = stackFrame(m, { seq: 0, flags: TCP_FLAG_SYN | TCP_FLAG_ACK, ack: 1, options: { mss: 1460, sackPermitted: true, windowScale: 7 } });
    expect(matchOutboundFrame(syn, packetOf("> S. 0:0(0) ack 1 <mss 1460,nop,nop,sackOK,nop,wscale 7>"), m).kind).toBe("match");
    expect(matchOutboundFrame(syn, packetOf("> S. 0:0(0) ack 1 <mss 1460,sackOK,nop,nop,nop,wscale 7>"), m)).toMatchObject({
      difference: expect.stringContaining("option layout"),
    });
    expect(matchOutboundFrame(syn, packetOf("> S. 0:0(0) ack 1 <mss 1460,nop,wscale 7>"), m)).toMatchObject({
      difference: expect.stringContaining("unexpected sackOK"),
    });
    expect(matchOutboundFrame(syn, packetOf("> S. 0:0(0) ack 1 <...>"), m).kind).toBe("match");
    expect(matchOutboundFrame(syn, packetOf("> S. 0:0(0) ack 1"), m).kind).toBe("match");
  });

  it("a TSO super-segment matches one segment or its MSS-sized pieces in order", () => {
    const m = createDrillMapping({ scriptIsn: 0, stackIsn: 0, stackPort: 8080 });
    const line = packetOf("> P. 1:2921(2920) ack 1");
    const whole = stackFrame(m, { seq: 1, ack: 1, flags: TCP_FLAG_PSH | TCP_FLAG_ACK, payload: new Uint8Array(2920) });
    expect(matchOutboundFrame(whole, line, m)).toEqual({ kind: "match" });
    const first = stackFrame(m, { seq: 1, ack: 1, flags: TCP_FLAG_ACK, payload: new Uint8Array(1460) });
    const second = stackFrame(m, { seq: 1461, ack: 1, flags: TCP_FLAG_PSH | TCP_FLAG_ACK, payload: new Uint8Array(1460) });
    expect(matchOutboundFrame(first, line, m)).toEqual({ kind: "partial", covered: 1460 });
    expect(matchOutboundFrame(second, line, m, 1460)).toEqual({ kind: "match" });
    expect(matchOutboundFrame(second, line, m).kind).toBe("mismatch");
  });
});

describe("scriptIpVersion", () => {
  it("reads packetdrill's three --ip_version values, falls back to the run's, and refuses others", () => {
    const opt = (v?: string) => new Map(v === undefined ? [] : [["ip_version", v]]);
    expect(scriptIpVersion(opt("ipv4"), 6)).toBe(4);
    expect(scriptIpVersion(opt("ipv6"), 4)).toBe(6);
    expect(scriptIpVersion(opt("ipv4-mapped-ipv6"), 4)).toBe("mapped");
    expect(scriptIpVersion(opt(), "mapped")).toBe("mapped");
    expect(scriptIpVersion(opt("ipv5"), 4)).toBeUndefined();
    // A mapped run's wire is IPv4.
    expect(ipVersionMapping("mapped")).toEqual({ family: 4, mapped: true });
    expect(ipVersionMapping(6)).toEqual({ family: 6, mapped: false });
    expect(ipVersionMapping(4)).toEqual({ family: 4, mapped: false });
  });
});
