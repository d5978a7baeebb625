// Fuzz target: the wire decoders from Ethernet down to ICMP/UDP/TCP, on the input and on the
// input with its checksums repaired. Oracles:
// - every parser reads its input through a guarded view: a read past the end, or a subarray
//   that only a silent clamp kept inside the buffer, is a finding;
// - a shadow of each header's length rules, computed here from the raw bytes, agrees with the
//   parser's verdict (a header the shadow refuses must not parse);
// - tail independence: bytes past a header's declared end (IPv4 padding, TCP/UDP payload,
//   IPv4 payload) never change what the header parsed to;
// - re-emit: Ethernet, ARP, IPv4, ICMP echo give back the very bytes (RFC 1071: a checksum of
//   0xffff and 0x0000 are the same one's-complement zero; the emitter writes the computed
//   form); TCP and UDP round-trip through emitTcp/emitUdp to the same repr.
// IPv6 (ethertype 0x86dd) is checked the same way: the fixed header against a shadow of RFC
// 8200's length rule, tail independence and byte-exact re-emit; the extension chain walked
// with its limits, each header re-emitted (options, routing: the same bytes; fragment: the same
// repr); ICMPv6, NDP and MLD messages parsed and round-tripped through their emitters (echo to
// the same bytes). The input is also tried with its ICMPv6 checksum repaired.
import {
  parseEthernet,
  emitEthernet,
  ethernetHeaderLength,
  ETHERTYPE_ARP,
  ETHERTYPE_IPV4,
  parseArp,
  emitArp,
  parseIpv4,
  emitIpv4,
  ipv4HeaderLength,
  parseIcmp,
  parseUdp,
  emitUdp,
  IP_PROTOCOL_ICMP,
  IP_PROTOCOL_TCP,
  IP_PROTOCOL_UDP,
  emitIcmp,
  icmpReprLength,
  type Ipv4Repr,
  ETHERTYPE_IPV6,
  parseIpv6,
  emitIpv6,
  walkIpv6Chain,
  parseIpv6OptionsHeader,
  emitIpv6OptionsHeader,
  ipv6OptionsHeaderLength,
  parseIpv6Routing,
  emitIpv6Routing,
  ipv6RoutingHeaderLength,
  parseIpv6Fragment,
  emitIpv6Fragment,
  parseIcmpv6,
  emitIcmpv6,
  icmpv6ReprLength,
  parseNdp,
  emitNdp,
  ndpReprLength,
  isNdpType,
  parseMld,
  emitMld,
  mldReprLength,
  fillIcmpv6Checksum,
  ipv6,
  ndpMacOption,
  IPV6_NEXT_HEADER_ICMPV6,
  IPV6_OPTION_ROUTER_ALERT,
  isMldType,
  type Ipv6Repr,
} from "../../../stack/wire/index.ts";
import { parseTcp, emitTcp, tcpHeaderLength, type TcpRepr } from "../../../stack/wire/tcp.ts";
import { emitUdpEcho, sampleFrames } from "../samples.ts";
import { fixChecksums } from "../fixup.ts";
import { checkTailIndependent, fail, guarded, sameValue, show } from "../oracles.ts";

function same(a: Uint8Array, b: Uint8Array, what: string, input: Uint8Array, ignore?: (i: number, x: number, y: number) => boolean): void {
  if (a.length !== b.length || a.some((x, i) => x !== b[i] && !(ignore?.(i, x, b[i]!) ?? false))) {
    fail("re-emit", `${what}: re-emitted bytes differ\n  was: ${Buffer.from(a).toString("hex")}\n  now: ${Buffer.from(b).toString("hex")}`, input);
  }
}

/** Independent statement of RFC 791's length rules: the header's end and the datagram's end, or why it is refused. */
function shadowIpv4(b: Uint8Array): { headerEnd: number; end: number } | "refused" {
  if (b.length < 20 || b[0]! >> 4 !== 4) return "refused";
  const headerEnd = (b[0]! & 15) * 4;
  const end = b[2]! * 256 + b[3]!;
  if (headerEnd < 20 || headerEnd > b.length || end < headerEnd || end > b.length) return "refused";
  return { headerEnd, end };
}

/** RFC 9293 §3.1: data offset in 32-bit words, at least 5, inside the segment. */
function shadowTcpHeaderEnd(b: Uint8Array): number | "refused" {
  if (b.length < 20) return "refused";
  const end = (b[12]! >> 4) * 4;
  return end < 20 || end > b.length ? "refused" : end;
}

/** RFC 768: the length field covers header and data, at least 8, inside the IP payload. */
function shadowUdpEnd(b: Uint8Array): number | "refused" {
  if (b.length < 8) return "refused";
  const end = b[4]! * 256 + b[5]!;
  return end < 8 || end > b.length ? "refused" : end;
}

const withoutPayload = ({ payload: _p, ...rest }: TcpRepr): unknown => rest;

function checkTcp(body: Uint8Array, ip: Ipv4Repr, input: Uint8Array): void {
  const addresses = { src: ip.src, dst: ip.dst };
  const tcp = parseTcp(guarded(body, "tcp"), addresses);
  const shadow = shadowTcpHeaderEnd(body);
  if (!tcp.ok) return;
  if (shadow === "refused") fail("shadow", `tcp: data offset ${body[12]! >> 4} accepted in a ${body.length}-byte segment`, input);
  // The re-parses read the same extent as the guarded first parse: no guard needed (it is costly).
  const unchecked = (b: Uint8Array): TcpRepr | undefined => {
    const r = parseTcp(b);
    return r.ok ? r.value : undefined;
  };
  checkTailIndependent("tcp header", body, shadow, tcp.value, unchecked, withoutPayload);
  const out = new Uint8Array(tcpHeaderLength(tcp.value) + tcp.value.payload.length);
  emitTcp(tcp.value, out, 0, addresses);
  const again = parseTcp(out, addresses);
  if (!again.ok || !sameValue(again.value, tcp.value)) {
    fail(
      "round-trip",
      `tcp: emitTcp(parseTcp(x)) parses ${again.ok ? "differently" : `as ${again.error}`}\n  was: ${show(withoutPayload(tcp.value))}\n  now: ${again.ok ? show(withoutPayload(again.value)) : ""}`,
      input,
    );
  }
}

function checkUdp(body: Uint8Array, ip: Ipv4Repr, input: Uint8Array): void {
  const udp = parseUdp(guarded(body, "udp"), ip.src, ip.dst);
  const shadow = shadowUdpEnd(body);
  if (!udp.ok) return;
  if (shadow === "refused") fail("shadow", `udp: length ${body.length >= 6 ? body[4]! * 256 + body[5]! : "?"} accepted in ${body.length} bytes`, input);
  if (udp.value.payload.length !== shadow - 8) fail("shadow", `udp: payload of ${udp.value.payload.length} bytes, the length field says ${shadow - 8}`, input);
  checkTailIndependent(
    "udp",
    body,
    shadow,
    udp.value,
    (b) => {
      const r = parseUdp(b, ip.src, ip.dst, { verifyChecksum: false });
      return r.ok ? r.value : undefined;
    },
    (v) => v,
  );
  const out = new Uint8Array(8 + udp.value.payload.length);
  emitUdp(udp.value, out, 0, ip.src, ip.dst);
  const again = parseUdp(out, ip.src, ip.dst);
  if (!again.ok || !sameValue(again.value, udp.value)) fail("round-trip", "udp: emitUdp(parseUdp(x)) parses differently", input);
}

export function fuzz(data: Buffer): void {
  const input = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  check(input);
  // Checksums stop a mutation-based search at the door: the same frame with its IPv4 and
  // ICMP/UDP/TCP checksums repaired reaches the decoders behind them.
  const fixed = input.slice();
  fixChecksums(fixed);
  fixIcmpv6Checksum(fixed);
  if (!sameValue(fixed, input)) check(fixed);
}

/** Recomputes the ICMPv6 checksum of an Ethernet/IPv6 frame in place, where its chain allows. */
function fixIcmpv6Checksum(frame: Uint8Array): void {
  if (frame.length < 14 + 40 || frame[12] !== 0x86 || frame[13] !== 0xdd) return;
  const packet = frame.subarray(14);
  const ip = parseIpv6(packet);
  if (!ip.ok) return;
  const end = 40 + ip.value.payloadLength;
  const chain = walkIpv6Chain(packet.subarray(0, end), { knownOption: () => true });
  if (!chain.ok || chain.value.upperLayer !== IPV6_NEXT_HEADER_ICMPV6 || chain.value.fragment || end - chain.value.offset < 4) return;
  fillIcmpv6Checksum(packet, ip.value.src, ip.value.dst, chain.value.offset, end);
}

/** Independent statement of RFC 8200 §3's length rule: the packet's end, or why it is refused. */
function shadowIpv6(b: Uint8Array): number | "refused" {
  if (b.length < 40 || b[0]! >> 4 !== 6) return "refused";
  const end = 40 + b[4]! * 256 + b[5]!;
  // RFC 2675 jumbograms (payload length 0 with Hop-by-Hop) are refused by netlab.
  if (end === 40 && b[6] === 0 && b.length > 40) return "refused";
  return end > b.length ? "refused" : end;
}

/** The extension headers of the chain, each parsed and re-emitted. */
function checkIpv6Chain(packet: Uint8Array, input: Uint8Array): { upperLayer: number; offset: number; fragmented: boolean } | undefined {
  const chain = walkIpv6Chain(guarded(packet, "ipv6 chain"), { knownOption: (t) => t === IPV6_OPTION_ROUTER_ALERT });
  if (!chain.ok) {
    if (chain.pointer < 0 || chain.pointer >= packet.length)
      fail("shadow", `ipv6 chain: ${chain.error} points at byte ${chain.pointer} of ${packet.length}`, input);
    return undefined;
  }
  let at = 40;
  for (const h of chain.value.headers) {
    if (h.offset !== at || h.offset + h.length > packet.length)
      fail("shadow", `ipv6 chain: ${h.kind} header at ${h.offset}+${h.length}, expected at ${at} inside ${packet.length}`, input);
    const bytes = packet.subarray(h.offset, h.offset + h.length);
    if (h.kind === "hop-by-hop" || h.kind === "destination") {
      const r = parseIpv6OptionsHeader(bytes);
      if (!r.ok) {
        fail("round-trip", `ipv6 ${h.kind}: the walker took a header parseIpv6OptionsHeader refuses (${r.error})`, input);
      }
      const out = new Uint8Array(ipv6OptionsHeaderLength(r.value));
      emitIpv6OptionsHeader(r.value, out, 0);
      same(bytes, out, `ipv6 ${h.kind}`, input);
    } else if (h.kind === "routing") {
      const r = parseIpv6Routing(bytes);
      if (!r.ok) {
        fail("round-trip", `ipv6 routing: the walker took a header parseIpv6Routing refuses (${r.error})`, input);
      }
      const out = new Uint8Array(ipv6RoutingHeaderLength(r.value));
      emitIpv6Routing(r.value, out, 0);
      same(bytes, out, "ipv6 routing", input);
    } else if (h.kind === "fragment") {
      const out = new Uint8Array(8);
      emitIpv6Fragment(h.fragment, out, 0);
      const again = parseIpv6Fragment(out);
      if (!again.ok || !sameValue(again.value, h.fragment))
        fail("round-trip", "ipv6 fragment: emitIpv6Fragment(parseIpv6Fragment(x)) parses differently", input);
    }
    at += h.length;
  }
  if (chain.value.offset !== at || at > packet.length)
    fail("shadow", `ipv6 chain: upper layer at ${chain.value.offset}, the headers end at ${at} of ${packet.length}`, input);
  const f = chain.value.fragment;
  return { upperLayer: chain.value.upperLayer, offset: chain.value.offset, fragmented: f !== undefined && (f.fragmentOffset !== 0 || f.moreFragments) };
}

function checkIcmpv6(body: Uint8Array, ip: Ipv6Repr, input: Uint8Array): void {
  if (body.length < 1) return;
  const type = body[0]!;
  const { src, dst } = ip;
  const roundTrip = <T>(
    what: string,
    parsed: T,
    emit: (b: Uint8Array) => number,
    length: number,
    parse: (b: Uint8Array) => { ok: boolean; value?: T },
  ): Uint8Array => {
    const out = new Uint8Array(length);
    emit(out);
    const again = parse(out);
    if (!again.ok || !sameValue(again.value, parsed))
      fail(
        "round-trip",
        `${what}: emit(parse(x)) parses ${again.ok ? "differently" : "as an error"}\n  was: ${show(parsed)}\n  now: ${again.ok ? show(again.value) : ""}`,
        input,
      );
    return out;
  };
  if (isNdpType(type)) {
    const r = parseNdp(guarded(body, "ndp"), src, dst);
    if (r.ok)
      roundTrip(
        "ndp",
        r.value,
        (b) => emitNdp(r.value, b, 0, src, dst),
        ndpReprLength(r.value),
        (b) => parseNdp(b, src, dst),
      );
  } else if (isMldType(type)) {
    const r = parseMld(guarded(body, "mld"), src, dst);
    if (r.ok)
      roundTrip(
        "mld",
        r.value,
        (b) => emitMld(r.value, b, 0, src, dst),
        mldReprLength(r.value),
        (b) => parseMld(b, src, dst),
      );
  } else {
    const r = parseIcmpv6(guarded(body, "icmpv6"), src, dst);
    if (!r.ok) return;
    const out = roundTrip(
      "icmpv6",
      r.value,
      (b) => emitIcmpv6(r.value, b, 0, src, dst),
      icmpv6ReprLength(r.value),
      (b) => parseIcmpv6(b, src, dst),
    );
    if (r.value.kind === "echo-request" || r.value.kind === "echo-reply") {
      // RFC 1071: 0xffff and 0x0000 are both a zero sum; the emitter writes the computed 0x0000.
      same(body, out, "icmpv6 echo", input, (i, x, y) => (i === 2 || i === 3) && ((x === 0xff && y === 0) || (x === 0 && y === 0xff)) && body[2] === body[3]);
    }
  }
}

function checkIpv6(payload: Uint8Array, input: Uint8Array): void {
  const ip = parseIpv6(guarded(payload, "ipv6"));
  const shadow = shadowIpv6(payload);
  if (!ip.ok) {
    if (shadow !== "refused") fail("shadow", `ipv6: refused (${ip.error}) a header RFC 8200's lengths accept`, input);
    return;
  }
  if (shadow === "refused") fail("shadow", "ipv6: a header whose lengths RFC 8200 refuses was accepted", input);
  if (40 + ip.value.payloadLength !== shadow) fail("shadow", `ipv6: payload of ${ip.value.payloadLength} bytes, the header says ${shadow - 40}`, input);
  // The fixed header is all of its repr: the payload and link padding may change freely.
  checkTailIndependent(
    "ipv6 header",
    payload,
    40,
    ip.value,
    (b) => {
      const r = parseIpv6(b);
      return r.ok ? r.value : undefined;
    },
    (v) => v,
  );
  const header = new Uint8Array(40);
  emitIpv6(ip.value, header, 0);
  same(payload.subarray(0, 40), header, "ipv6", input);
  const packet = payload.subarray(0, shadow);
  const chain = checkIpv6Chain(packet, input);
  if (!chain || chain.fragmented) return;
  if (chain.upperLayer === IPV6_NEXT_HEADER_ICMPV6) checkIcmpv6(packet.subarray(chain.offset), ip.value, input);
}

function check(input: Uint8Array): void {
  const frame = guarded(input, "frame");
  const eth = parseEthernet(frame);
  if (!eth.ok) return;
  const hl = ethernetHeaderLength(eth.value);
  const out = new Uint8Array(hl);
  emitEthernet(eth.value, out, 0);
  same(input.subarray(0, hl), out, "ethernet", input);
  const payload = input.subarray(hl);
  if (eth.value.ethertype === ETHERTYPE_ARP) {
    const arp = parseArp(guarded(payload, "arp"));
    if (arp.ok) {
      const b = new Uint8Array(28);
      emitArp(arp.value, b, 0);
      same(payload.subarray(0, 28), b, "arp", input);
    }
    return;
  }
  if (eth.value.ethertype === ETHERTYPE_IPV6) {
    checkIpv6(payload, input);
    return;
  }
  if (eth.value.ethertype !== ETHERTYPE_IPV4) return;
  const ip = parseIpv4(guarded(payload, "ipv4"));
  const shadow = shadowIpv4(payload);
  if (!ip.ok) return;
  if (shadow === "refused") fail("shadow", "ipv4: a header whose lengths RFC 791 refuses was accepted", input);
  if (ipv4HeaderLength(ip.value) !== shadow.headerEnd || ip.value.payloadLength !== shadow.end - shadow.headerEnd) {
    fail(
      "shadow",
      `ipv4: header ${ipv4HeaderLength(ip.value)} + payload ${ip.value.payloadLength} bytes, the header says ${shadow.headerEnd} + ${shadow.end - shadow.headerEnd}`,
      input,
    );
  }
  // The header checksum covers the header only: the datagram's payload and the link's padding
  // may change without changing anything parsed.
  checkTailIndependent(
    "ipv4 header",
    payload,
    shadow.headerEnd,
    ip.value,
    (b) => {
      const r = parseIpv4(b);
      return r.ok ? r.value : undefined;
    },
    (v) => v,
  );
  const ihl = ipv4HeaderLength(ip.value);
  const header = new Uint8Array(ihl);
  emitIpv4(ip.value, header, 0);
  same(payload.subarray(0, ihl), header, "ipv4", input);
  if (ip.value.fragmentOffset !== 0 || ip.value.moreFragments) return;
  const body = payload.subarray(ihl, ihl + ip.value.payloadLength);
  if (ip.value.protocol === IP_PROTOCOL_ICMP) {
    const icmp = parseIcmp(guarded(body, "icmp"));
    // Only echo messages carry every byte in their repr (errors zero the unused word).
    if (icmp.ok && (icmp.value.kind === "echo-request" || icmp.value.kind === "echo-reply")) {
      const b = new Uint8Array(icmpReprLength(icmp.value));
      emitIcmp(icmp.value, b, 0);
      // RFC 1071: 0xffff and 0x0000 are both a zero sum; the emitter writes the computed 0x0000.
      same(
        body.subarray(0, b.length),
        b,
        "icmp",
        input,
        (i, x, y) => (i === 2 || i === 3) && ((x === 0xff && y === 0) || (x === 0 && y === 0xff)) && body[2] === body[3],
      );
    }
  } else if (ip.value.protocol === IP_PROTOCOL_UDP) {
    checkUdp(body, ip.value, input);
  } else if (ip.value.protocol === IP_PROTOCOL_TCP) {
    checkTcp(body, ip.value, input);
  }
}

/** IPv6 seeds: a router advertisement, a neighbor solicitation (DAD) and an echo request behind a Destination Options header. */
function ipv6Seeds(): Uint8Array[] {
  const router = ipv6("fe80::1");
  const frame = (dstMac: number, ip: Omit<Ipv6Repr, "payloadLength">, length: number, body: (b: Uint8Array, at: number) => void): Uint8Array => {
    const b = new Uint8Array(14 + 40 + length);
    emitEthernet({ dst: dstMac, src: 0x020000000001, ethertype: ETHERTYPE_IPV6 }, b, 0);
    emitIpv6({ ...ip, payloadLength: length }, b, 14);
    body(b, 54);
    return b;
  };
  const ra = {
    kind: "router-advertisement" as const,
    curHopLimit: 64,
    flags: 0x40,
    routerLifetime: 1800,
    reachableTime: 0,
    retransTimer: 0,
    options: [
      ndpMacOption("source-link-layer-address", 0x020000000001),
      { kind: "mtu" as const, mtu: 1500 },
      { kind: "prefix-information" as const, prefixLength: 64, flags: 0xc0, validLifetime: 86400, preferredLifetime: 14400, prefix: ipv6("2001:db8:1::") },
      { kind: "rdnss" as const, lifetime: 600, servers: [ipv6("2001:db8::53")] },
    ],
  };
  const allNodes = ipv6("ff02::1");
  const raFrame = frame(
    0x333300000001,
    { src: router, dst: allNodes, nextHeader: 58, hopLimit: 255, trafficClass: 0, flowLabel: 0 },
    ndpReprLength(ra),
    (b, at) => {
      emitNdp(ra, b, at, router, allNodes);
    },
  );
  const ns = { kind: "neighbor-solicitation" as const, target: ipv6("2001:db8:1::1"), options: [] };
  const solicited = ipv6("ff02::1:ff00:1");
  const nsFrame = frame(
    0x3333ff000001,
    { src: ipv6("::"), dst: solicited, nextHeader: 58, hopLimit: 255, trafficClass: 0, flowLabel: 0 },
    ndpReprLength(ns),
    (b, at) => {
      emitNdp(ns, b, at, ipv6("::"), solicited);
    },
  );
  const a = ipv6("2001:db8::1"),
    z = ipv6("2001:db8::2");
  const echo = { kind: "echo-request" as const, ident: 7, seq: 1, data: new TextEncoder().encode("netlab ping6") };
  const dopts = { nextHeader: 58, options: [{ type: 0x1e, data: Uint8Array.of(1, 2) }] };
  const dlen = ipv6OptionsHeaderLength(dopts);
  const echoFrame = frame(
    0x020000000002,
    { src: a, dst: z, nextHeader: 60, hopLimit: 64, trafficClass: 0, flowLabel: 0x12345 },
    dlen + icmpv6ReprLength(echo),
    (b, at) => {
      emitIpv6OptionsHeader(dopts, b, at);
      emitIcmpv6(echo, b, at + dlen, a, z);
    },
  );
  return [raFrame, nsFrame, echoFrame];
}

/** Seed inputs: well-formed frames of each kind. */
export function seeds(): Uint8Array[] {
  return [...sampleFrames(), emitUdpEcho(), ...ipv6Seeds()];
}
