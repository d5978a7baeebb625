// Script-relative <-> real packets, shared by both drill targets (netlab, kernel), the way
// packetdrill maps them: the script side's ISN is the runner's choice, the stack's ISN is
// learned from its first SYN or SYN-ACK; ports likewise (the stack's port from bind/connect or
// its first SYN); inbound TS val is sent as written and inbound TS ecr is shifted by the offset
// learned from the stack's first TS val; `win` is the raw 16-bit field (never scaled).
//   DrillMapping          the addresses, ports, ISNs and TS offset of one run
//   buildInboundFrame     DrillTcpPacket + mapping -> Ethernet/IPv4/TCP bytes (stack/wire emitters)
//   matchOutboundFrame    an outbound frame vs. an expected DrillTcpPacket (TSO pieces allowed)
//   describeOutboundFrame a frame as a script line with relative and absolute numbers

import type { Ipv4Address, MacAddress } from "../../stack/wire/address.ts";
import { formatIpv4 } from "../../stack/wire/address.ts";
import { ETHERNET_HEADER_LEN, ETHERTYPE_IPV4, emitEthernet, parseEthernet } from "../../stack/wire/ethernet.ts";
import { IP_PROTOCOL_TCP, IPV4_HEADER_LEN, emitIpv4, parseIpv4, type Ipv4Repr } from "../../stack/wire/ipv4.ts";
import {
  TCP_FLAG_ACK,
  TCP_FLAG_CWR,
  TCP_FLAG_ECE,
  TCP_FLAG_FIN,
  TCP_FLAG_PSH,
  TCP_FLAG_RST,
  TCP_FLAG_SYN,
  TCP_FLAG_URG,
  TCP_HEADER_LEN,
  TCP_OPT_EOL,
  TCP_OPT_MSS,
  TCP_OPT_NOP,
  TCP_OPT_SACK,
  TCP_OPT_SACK_PERMITTED,
  TCP_OPT_TIMESTAMP,
  TCP_OPT_WSCALE,
  emitTcp,
  parseTcp,
  tcpHeaderLength,
  type TcpOptions,
  type TcpRepr,
} from "../../stack/wire/tcp.ts";
import type { DrillTcpOption, DrillTcpPacket } from "./model.ts";
import { ETHERTYPE_IPV6 } from "../../stack/wire/ethernet.ts";
import { IPV6_HEADER_LEN, IPV6_NEXT_HEADER_TCP, emitIpv6, ipv6PseudoHeaderSum, parseIpv6 } from "../../stack/wire/ipv6.ts";
import { formatIpv6, ipv6, type Ipv6Address } from "../../stack/wire/ipv6-address.ts";
import { checksumFinish, checksumRange } from "../../stack/wire/checksum.ts";
import { writeU16 } from "../../stack/wire/bytes.ts";

/** The per-run mapping between script-relative and real numbers. Mutable: the runner learns. */
export interface DrillMapping {
  /** The stack's (or kernel's) side. */
  stackMac: MacAddress;
  stackIp: Ipv4Address;
  /** The stack's port; undefined until bind() or its first SYN tells. */
  stackPort: number | undefined;
  /** The script's (remote) side. */
  scriptMac: MacAddress;
  scriptIp: Ipv4Address;
  scriptPort: number;
  /** The script side's ISN (real = scriptIsn + relative for inbound seq and outbound ack). */
  scriptIsn: number;
  /** The stack's ISN; undefined until its first SYN/SYN-ACK is matched. */
  stackIsn: number | undefined;
  /** real stack TS val - script TS val, learned from the stack's first TS option. */
  tsOffset: number | undefined;
  /** The run's IP version (packetdrill's --ip_version): 6 sends and expects IPv6 with the v6 addresses. */
  family: 4 | 6;
  /** packetdrill's ipv4-mapped-ipv6: the sockets are AF_INET6 with IPv4-mapped addresses (::ffff:a.b.c.d), the wire IPv4 (family 4). */
  mapped: boolean;
  stackIp6: Ipv6Address;
  scriptIp6: Ipv6Address;
}

/** The IPv6 addresses of a v6 run: the stack fd00::1, the script side fd00::2 (one /64, as the v4 ones share a /24 on the kernel target). */
export const DRILL_STACK_IP6 = "fd00::1";
export const DRILL_SCRIPT_IP6 = "fd00::2";
/** The link MTU of a v6 run: the stack's MSS is then 1460, as in v4 with 1500 and as the scripts write it. */
export const DRILL_V6_MTU = 1520;

/** A run's IP version, as packetdrill's --ip_version: IPv4, IPv6, or AF_INET6 sockets over IPv4 with IPv4-mapped addresses. */
export type DrillIpVersion = 4 | 6 | "mapped";

/** The script's IP version: its `--ip_version=ipv4|ipv6|ipv4-mapped-ipv6` header option, else `fallback`; undefined for another value. */
export function scriptIpVersion(options: ReadonlyMap<string, string>, fallback: DrillIpVersion): DrillIpVersion | undefined {
  const v = options.get("ip_version");
  if (v === undefined) return fallback;
  return v === "ipv4" ? 4 : v === "ipv6" ? 6 : v === "ipv4-mapped-ipv6" ? "mapped" : undefined;
}

/** The mapping fields of a run's IP version: the wire's family and whether the sockets are v4-mapped AF_INET6 ones. */
export function ipVersionMapping(v: DrillIpVersion): { family: 4 | 6; mapped: boolean } {
  return { family: v === 6 ? 6 : 4, mapped: v === "mapped" };
}

/** packetdrill's defaults: the stack is 192.168.0.1:8080, the script side 192.0.2.1. */
export function createDrillMapping(init: Partial<DrillMapping> = {}): DrillMapping {
  return {
    stackMac: 0x02_00_00_00_00_01,
    stackIp: 0xc0a80001,
    stackPort: undefined,
    scriptMac: 0x02_00_00_00_00_02,
    scriptIp: 0xc0000201,
    scriptPort: 40000,
    scriptIsn: 0,
    stackIsn: undefined,
    tsOffset: undefined,
    family: 4,
    mapped: false,
    stackIp6: ipv6(DRILL_STACK_IP6),
    scriptIp6: ipv6(DRILL_SCRIPT_IP6),
    ...init,
  };
}

const FLAG_BITS: Readonly<Record<string, number>> = {
  S: TCP_FLAG_SYN,
  F: TCP_FLAG_FIN,
  R: TCP_FLAG_RST,
  P: TCP_FLAG_PSH,
  ".": TCP_FLAG_ACK,
  E: TCP_FLAG_ECE,
  W: TCP_FLAG_CWR,
  U: TCP_FLAG_URG,
  "-": 0,
};

/** The TCP flag byte of a script's flag letters. */
export function flagBits(flags: string): number {
  let bits = 0;
  for (const c of flags) bits |= FLAG_BITS[c] ?? 0;
  return bits;
}

/** Flag byte -> script letters in packetdrill's order (S F R P . U E W, "-" for none...). */
export function flagLetters(bits: number): string {
  let s = "";
  if (bits & TCP_FLAG_SYN) s += "S";
  if (bits & TCP_FLAG_FIN) s += "F";
  if (bits & TCP_FLAG_RST) s += "R";
  if (bits & TCP_FLAG_PSH) s += "P";
  if (bits & TCP_FLAG_ACK) s += ".";
  if (bits & TCP_FLAG_URG) s += "U";
  if (bits & TCP_FLAG_ECE) s += "E";
  if (bits & TCP_FLAG_CWR) s += "W";
  return s === "" ? "-" : s;
}

const ECN_BITS = { noecn: 0, ect1: 1, ect0: 2, ce: 3 } as const;

const u32 = (n: number): number => n >>> 0;

/** Why a script option list cannot be sent (an option the targets do not model), or null. */
export function unsupportedOption(options: readonly DrillTcpOption[] | undefined): string | null {
  for (const o of options ?? []) {
    if (o.kind === "other") return `TCP option '${o.text}'`;
    if (o.kind === "any") return "'<...>' on an inbound packet";
  }
  return null;
}

/** Script options -> TcpOptions with real numbers (inbound: ecr shifted, SACK in the stack's space). */
function inboundOptions(options: readonly DrillTcpOption[], m: DrillMapping): TcpOptions {
  const o: { -readonly [K in keyof TcpOptions]: TcpOptions[K] } = {};
  for (const opt of options) {
    switch (opt.kind) {
      case "mss":
        o.mss = opt.value;
        break;
      case "wscale":
        o.windowScale = opt.value;
        break;
      case "sackOK":
        o.sackPermitted = true;
        break;
      case "TS":
        o.tsVal = u32(opt.val);
        o.tsEcr = opt.ecr === 0 ? 0 : u32(opt.ecr + (m.tsOffset ?? 0));
        break;
      case "sack":
        o.sackBlocks = opt.blocks.map(([a, b]) => ({ left: u32(a + (m.stackIsn ?? 0)), right: u32(b + (m.stackIsn ?? 0)) }));
        break;
      default:
        break;
    }
  }
  return o;
}

/**
 * Builds the frame the script side sends for an inbound packet line. The caller has checked
 * unsupportedOption(); options are laid out by emitTcp in Linux's order (their meaning, not
 * the script's NOP placement, is what a receiver sees).
 */
export function buildInboundFrame(p: DrillTcpPacket, m: DrillMapping): Uint8Array {
  const seqStart = p.seq?.start ?? 0;
  const length = p.seq?.length ?? 0;
  const hasAck = p.flags.includes(".");
  const repr: TcpRepr = {
    srcPort: m.scriptPort,
    dstPort: m.stackPort ?? 0,
    seq: u32(m.scriptIsn + seqStart),
    ack: hasAck || p.ack !== undefined ? u32((m.stackIsn ?? 0) + (p.ack ?? 0)) : 0,
    flags: flagBits(p.flags),
    window: p.window ?? 65535,
    urgent: p.urgent ?? 0,
    options: inboundOptions(p.options ?? [], m),
    payload: new Uint8Array(length),
  };
  const tcpLen = tcpHeaderLength(repr) + length;
  const tos = ((p.tos ?? 0) & ~3) | (p.ecn !== undefined && p.ecn !== "ect01" ? ECN_BITS[p.ecn] : p.ecn === "ect01" ? 2 : (p.tos ?? 0) & 3);
  if (m.family === 6) {
    // IPv6: the traffic class carries what tos/ecn set; ttl is the hop limit.
    const frame = new Uint8Array(ETHERNET_HEADER_LEN + IPV6_HEADER_LEN + tcpLen);
    emitEthernet({ dst: m.stackMac, src: m.scriptMac, ethertype: ETHERTYPE_IPV6 }, frame, 0);
    emitIpv6(
      { src: m.scriptIp6, dst: m.stackIp6, nextHeader: IPV6_NEXT_HEADER_TCP, hopLimit: p.ttl ?? 64, trafficClass: tos, flowLabel: 0, payloadLength: tcpLen },
      frame,
      ETHERNET_HEADER_LEN,
    );
    const at = ETHERNET_HEADER_LEN + IPV6_HEADER_LEN;
    emitTcp(repr, frame, at);
    writeU16(frame, at + 16, 0);
    writeU16(frame, at + 16, checksumFinish(checksumRange(frame, at, at + tcpLen, ipv6PseudoHeaderSum(m.scriptIp6, m.stackIp6, IPV6_NEXT_HEADER_TCP, tcpLen))));
    return frame;
  }
  const frame = new Uint8Array(ETHERNET_HEADER_LEN + IPV4_HEADER_LEN + tcpLen);
  emitEthernet({ dst: m.stackMac, src: m.scriptMac, ethertype: ETHERTYPE_IPV4 }, frame, 0);
  const ip: Ipv4Repr = {
    src: m.scriptIp,
    dst: m.stackIp,
    protocol: IP_PROTOCOL_TCP,
    ttl: p.ttl ?? 64,
    tos,
    ident: 0,
    dontFragment: true,
    moreFragments: false,
    fragmentOffset: 0,
    payloadLength: tcpLen,
    options: new Uint8Array(0),
  };
  emitIpv4(ip, frame, ETHERNET_HEADER_LEN);
  emitTcp(repr, frame, ETHERNET_HEADER_LEN + IPV4_HEADER_LEN, { src: m.scriptIp, dst: m.stackIp });
  return frame;
}

/** An outbound frame decoded down to TCP; null when it is not IPv4/TCP or IPv6/TCP or does not parse. */
export interface DecodedTcpFrame {
  /** The IP fields a script can check: tos is IPv6's traffic class, ttl its hop limit; addresses as text. */
  readonly ip: { readonly family: 4 | 6; readonly tos: number; readonly ttl: number; readonly src: string; readonly dst: string };
  readonly tcp: TcpRepr;
  /** Option kinds in wire order (to check a script's NOP/EOL layout). */
  readonly optionKinds: readonly number[];
}

/** Decodes an Ethernet/IPv4/TCP frame (checksums not verified: offloads may leave them blank). */
export function decodeTcpFrame(frame: Uint8Array): DecodedTcpFrame | null {
  const eth = parseEthernet(frame);
  if (!eth.ok || (eth.value.ethertype !== ETHERTYPE_IPV4 && eth.value.ethertype !== ETHERTYPE_IPV6)) return null;
  const ipBytes = frame.subarray(eth.value.vlan === undefined ? 14 : 18);
  let segment: Uint8Array;
  let ipFields: DecodedTcpFrame["ip"];
  if (eth.value.ethertype === ETHERTYPE_IPV6) {
    // No extension headers: a stack's TCP segments carry none.
    const ip = parseIpv6(ipBytes);
    if (!ip.ok || ip.value.nextHeader !== IPV6_NEXT_HEADER_TCP) return null;
    segment = ipBytes.subarray(IPV6_HEADER_LEN, IPV6_HEADER_LEN + ip.value.payloadLength);
    ipFields = { family: 6, tos: ip.value.trafficClass, ttl: ip.value.hopLimit, src: `[${formatIpv6(ip.value.src)}]`, dst: `[${formatIpv6(ip.value.dst)}]` };
  } else {
    const ip = parseIpv4(ipBytes, { verifyChecksum: false });
    if (!ip.ok || ip.value.protocol !== IP_PROTOCOL_TCP) return null;
    const hl = IPV4_HEADER_LEN + ip.value.options.length;
    segment = ipBytes.subarray(hl, hl + ip.value.payloadLength);
    ipFields = { family: 4, tos: ip.value.tos, ttl: ip.value.ttl, src: formatIpv4(ip.value.src), dst: formatIpv4(ip.value.dst) };
  }
  const tcp = parseTcp(segment);
  if (!tcp.ok) return null;
  const kinds: number[] = [];
  const dataOffset = ((segment[12] ?? 0) >>> 4) * 4;
  for (let i = TCP_HEADER_LEN; i < dataOffset; ) {
    const k = segment[i] ?? TCP_OPT_EOL;
    kinds.push(k);
    if (k === TCP_OPT_EOL) break;
    if (k === TCP_OPT_NOP) {
      i++;
      continue;
    }
    i += Math.max(2, segment[i + 1] ?? 2);
  }
  return { ip: ipFields, tcp: tcp.value, optionKinds: kinds };
}

const OPTION_KIND: Partial<Record<DrillTcpOption["kind"], number>> = {
  mss: TCP_OPT_MSS,
  wscale: TCP_OPT_WSCALE,
  sackOK: TCP_OPT_SACK_PERMITTED,
  sack: TCP_OPT_SACK,
  TS: TCP_OPT_TIMESTAMP,
  nop: TCP_OPT_NOP,
  eol: TCP_OPT_EOL,
};

/** A frame as a script line, relative numbers first, absolute ones after. */
export function describeOutboundFrame(d: DecodedTcpFrame, m: DrillMapping): string {
  const t = d.tcp;
  const isn = m.stackIsn ?? t.seq;
  const rel = u32(t.seq - isn);
  const len = t.payload.length;
  let s = `${flagLetters(t.flags)} ${rel}:${u32(rel + len)}(${len})`;
  if (t.flags & TCP_FLAG_ACK) s += ` ack ${u32(t.ack - m.scriptIsn)}`;
  s += ` win ${t.window}`;
  if (t.urgent !== 0) s += ` urg ${t.urgent}`;
  const opts = describeOptions(t.options, m, "outbound");
  if (opts !== "") s += ` <${opts}>`;
  s += ` [absolute: seq ${t.seq}${t.flags & TCP_FLAG_ACK ? ` ack ${t.ack}` : ""}, ${d.ip.src}:${t.srcPort} > ${d.ip.dst}:${t.dstPort}]`;
  return s;
}

function describeOptions(o: TcpOptions, m: DrillMapping, dir: "outbound"): string {
  const parts: string[] = [];
  if (o.mss !== undefined) parts.push(`mss ${o.mss}`);
  if (o.sackPermitted) parts.push("sackOK");
  if (o.tsVal !== undefined) parts.push(`TS val ${u32(o.tsVal - (m.tsOffset ?? 0))} ecr ${o.tsEcr ?? 0} (absolute val ${o.tsVal})`);
  if (o.windowScale !== undefined) parts.push(`wscale ${o.windowScale}`);
  if (o.sackBlocks !== undefined && o.sackBlocks.length > 0) {
    parts.push(`sack ${o.sackBlocks.map((b) => `${u32(b.left - m.scriptIsn)}:${u32(b.right - m.scriptIsn)}`).join(" ")}`);
  }
  void dir;
  return parts.join(",");
}

/** The outcome of matching one outbound frame against the expected packet line. */
export type OutboundMatch =
  /** The frame completes the expected packet. */
  | { readonly kind: "match" }
  /** The frame is an MSS-sized piece of an expected TSO super-segment; `covered` bytes so far. */
  | { readonly kind: "partial"; readonly covered: number }
  /** The frame differs; a human-readable account with both sides' numbers. */
  | { readonly kind: "mismatch"; readonly difference: string };

/**
 * Matches an outbound frame against `expected`. `covered` is how many payload bytes of a TSO
 * super-segment earlier pieces matched (0 for a fresh expectation). On a match, the mapping
 * learns the stack's ISN (first SYN/SYN-ACK), its port and its TS offset.
 */
export function matchOutboundFrame(frame: Uint8Array, expected: DrillTcpPacket, m: DrillMapping, covered = 0): OutboundMatch {
  const d = decodeTcpFrame(frame);
  if (d === null || d.ip.family !== m.family) return { kind: "mismatch", difference: `the stack sent a frame that is not IPv${m.family}/TCP` };
  const t = d.tcp;
  const problems: string[] = [];
  const learnIsn = m.stackIsn === undefined && (t.flags & TCP_FLAG_SYN) !== 0;
  const isn = learnIsn ? u32(t.seq - (expected.seq?.start ?? 0)) : (m.stackIsn ?? t.seq);
  if (m.stackPort !== undefined && t.srcPort !== m.stackPort) problems.push(`source port ${t.srcPort}, expected ${m.stackPort}`);
  if (t.dstPort !== m.scriptPort) problems.push(`destination port ${t.dstPort}, expected ${m.scriptPort}`);

  const want = flagBits(expected.flags);
  const len = t.payload.length;
  const expLen = expected.seq?.length ?? len;
  const isPiece = len < expLen || covered > 0;
  const last = covered + len >= expLen;
  // A non-final TSO piece carries neither PSH nor FIN (the kernel sets them on the last piece).
  const pieceMask = isPiece && !last ? ~(TCP_FLAG_PSH | TCP_FLAG_FIN) : ~0;
  const gotFlags = isPiece && !last ? t.flags & ~TCP_FLAG_PSH : t.flags;
  if ((gotFlags & 0xff) !== (want & pieceMask & 0xff)) problems.push(`flags ${flagLetters(t.flags)}, expected ${expected.flags}`);

  const relSeq = u32(t.seq - isn);
  if (expected.seq !== undefined) {
    const wantSeq = u32(expected.seq.start + covered);
    if (relSeq !== wantSeq) problems.push(`seq ${relSeq} (absolute ${t.seq}), expected ${wantSeq} (absolute ${u32(isn + wantSeq)})`);
    if (len > expLen - covered) problems.push(`payload ${len} bytes, expected ${expLen - covered}`);
    else if (len === 0 && expLen - covered > 0) problems.push(`payload 0 bytes, expected ${expLen - covered}`);
  }
  if (expected.ack !== undefined) {
    const relAck = u32(t.ack - m.scriptIsn);
    if ((t.flags & TCP_FLAG_ACK) === 0) problems.push(`no ACK, expected ack ${expected.ack}`);
    else if (relAck !== u32(expected.ack))
      problems.push(`ack ${relAck} (absolute ${t.ack}), expected ${expected.ack} (absolute ${u32(m.scriptIsn + expected.ack)})`);
  }
  if (expected.window !== undefined && t.window !== expected.window) problems.push(`win ${t.window}, expected ${expected.window}`);
  if (expected.urgent !== undefined && t.urgent !== expected.urgent) problems.push(`urg ${t.urgent}, expected ${expected.urgent}`);
  const ecnBits = d.ip.tos & 3;
  if (expected.ecn !== undefined) {
    const ok = expected.ecn === "ect01" ? ecnBits === 1 || ecnBits === 2 : ecnBits === ECN_BITS[expected.ecn];
    if (!ok) problems.push(`IP ECN field ${ecnBits}, expected ${expected.ecn}`);
  }
  if (expected.tos !== undefined && d.ip.tos !== expected.tos) problems.push(`tos 0x${d.ip.tos.toString(16)}, expected 0x${expected.tos.toString(16)}`);
  if (expected.ttl !== undefined && d.ip.ttl !== expected.ttl) problems.push(`ttl ${d.ip.ttl}, expected ${expected.ttl}`);

  let tsOffset = m.tsOffset;
  if (expected.options !== undefined && !(expected.options.length === 1 && expected.options[0]?.kind === "any")) {
    const o = t.options;
    const wantKinds = expected.options.map((x) => OPTION_KIND[x.kind] ?? -1);
    const layoutDiffers = wantKinds.length !== d.optionKinds.length || wantKinds.some((k, i) => k !== d.optionKinds[i]);
    for (const x of expected.options) {
      if (x.kind === "mss" && o.mss !== x.value) problems.push(`mss ${o.mss ?? "absent"}, expected ${x.value}`);
      if (x.kind === "wscale" && o.windowScale !== x.value) problems.push(`wscale ${o.windowScale ?? "absent"}, expected ${x.value}`);
      if (x.kind === "sackOK" && !o.sackPermitted) problems.push("sackOK absent");
      if (x.kind === "TS") {
        if (o.tsVal === undefined) problems.push("TS option absent");
        else {
          // The stack's TS val is free (packetdrill checks it only with --tcp_ts_tick_usecs); the first
          // one fixes the offset that maps script ecr values onto the stack's clock.
          if (tsOffset === undefined) tsOffset = u32(o.tsVal - x.val);
          if (u32(o.tsEcr ?? 0) !== u32(x.ecr)) problems.push(`TS ecr ${o.tsEcr ?? 0}, expected ${x.ecr}`);
        }
      }
      if (x.kind === "sack") {
        const got = (o.sackBlocks ?? []).map((b) => `${u32(b.left - m.scriptIsn)}:${u32(b.right - m.scriptIsn)}`).join(" ");
        const exp = x.blocks.map(([a, b]) => `${a}:${b}`).join(" ");
        if (got !== exp) problems.push(`sack ${got || "absent"}, expected ${exp}`);
      }
      if (x.kind === "other") problems.push(`cannot check TCP option '${x.text}'`);
    }
    if (!expected.options.some((x) => x.kind === "TS") && o.tsVal !== undefined) problems.push("unexpected TS option");
    if (!expected.options.some((x) => x.kind === "sack") && (o.sackBlocks?.length ?? 0) > 0) problems.push("unexpected SACK option");
    if (!expected.options.some((x) => x.kind === "mss") && o.mss !== undefined) problems.push("unexpected mss option");
    if (!expected.options.some((x) => x.kind === "wscale") && o.windowScale !== undefined) problems.push("unexpected wscale option");
    if (!expected.options.some((x) => x.kind === "sackOK") && o.sackPermitted) problems.push("unexpected sackOK option");
    if (problems.length === 0 && layoutDiffers) problems.push("option layout (NOP/EOL placement) differs");
  }

  if (problems.length > 0) {
    const mm: DrillMapping = { ...m, stackIsn: isn, tsOffset };
    return { kind: "mismatch", difference: `${problems.join("; ")}\n    got: ${describeOutboundFrame(d, mm)}` };
  }
  if (learnIsn) m.stackIsn = isn;
  if (m.stackPort === undefined) m.stackPort = t.srcPort;
  m.tsOffset = tsOffset;
  return covered + len < expLen ? { kind: "partial", covered: covered + len } : { kind: "match" };
}
