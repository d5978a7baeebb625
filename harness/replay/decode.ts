// Decode mode: every frame of a capture is parsed layer by layer with stack/wire's parsers
// (Ethernet, ARP, IPv4, ICMP, UDP, DHCP, TCP; IPv6 with its extension headers, ICMPv6, NDP,
// MLD, UDP, DHCPv6 and TCP over IPv6) and either fails with a classified error ("<layer>/<code>", e.g.
// "ipv4/bad-checksum", "ethernet/unsupported-ethertype-0x88cc") or is re-emitted with the
// emitters from its Reprs, and the re-emitted bytes must equal the captured ones (link padding
// after the IPv4 total length / IPv6 payload length / the ARP packet is not re-emitted). IPv4
// and IPv6 fragments decode up to the IP layer (and IPv6's extension headers).
//   decodeFrame(data)          one frame -> FrameDecode
//   decodeCapture(frames, lt)  all frames -> DecodeReport (counts by class and layer); frames of
//                              non-Ethernet link types are classified "link/unsupported-linktype-N"
//   summariseLayers(decode)    "eth/ipv4/tcp" style stack of a decoded frame
import {
  ETHERTYPE_ARP,
  ETHERTYPE_IPV4,
  IP_PROTOCOL_ICMP,
  IP_PROTOCOL_TCP,
  IP_PROTOCOL_UDP,
  UDP_HEADER_LEN,
  emitArp,
  emitEthernet,
  emitIcmp,
  emitIpv4,
  emitUdp,
  parseArp,
  parseEthernet,
  parseIcmp,
  parseIpv4,
  parseUdp,
  ARP_PACKET_LEN,
  DHCP_CLIENT_PORT,
  DHCP_SERVER_PORT,
  emitDhcp,
  parseDhcp,
  IPV4_CHECKSUM,
  ICMP_CHECKSUM,
  UDP_CHECKSUM,
} from "../../stack/wire/index.ts";
import { emitTcp, parseTcp, TCP_CHECKSUM } from "../../stack/wire/tcp.ts";
import { ETHERTYPE_IPV6 } from "../../stack/wire/ethernet.ts";
import { checksumFinish, checksumRange } from "../../stack/wire/checksum.ts";
import { writeU16 } from "../../stack/wire/bytes.ts";
import type { Ipv6Address } from "../../stack/wire/ipv6-address.ts";
import {
  IPV6_HEADER_LEN,
  IPV6_NEXT_HEADER_ICMPV6,
  IPV6_NEXT_HEADER_TCP,
  IPV6_NEXT_HEADER_UDP,
  emitIpv6,
  ipv6PseudoHeaderSum,
  parseIpv6,
} from "../../stack/wire/ipv6.ts";
import {
  emitIpv6Fragment,
  emitIpv6OptionsHeader,
  emitIpv6Routing,
  parseIpv6Fragment,
  parseIpv6OptionsHeader,
  parseIpv6Routing,
  walkIpv6Chain,
} from "../../stack/wire/ipv6-ext.ts";
import { ICMPV6_CHECKSUM, emitIcmpv6, parseIcmpv6 } from "../../stack/wire/icmpv6.ts";
import { emitNdp, isNdpType, parseNdp } from "../../stack/wire/ndp.ts";
import { emitMld, isMldType, parseMld } from "../../stack/wire/mld.ts";
import { emitUdp6, parseUdp6 } from "../../stack/wire/udp6.ts";
import { DHCP6_CLIENT_PORT, DHCP6_SERVER_PORT, emitDhcp6, parseDhcp6 } from "../../stack/wire/dhcp6.ts";

/** The protocol layers decode mode knows. */
export type DecodeLayer = "ethernet" | "arp" | "ipv4" | "icmp" | "udp" | "dhcp" | "tcp" | "ipv6" | "icmpv6" | "ndp" | "mld" | "dhcp6";

/** Outcome of decoding one frame. */
export type FrameDecode =
  | { readonly status: "ok"; readonly layers: readonly DecodeLayer[]; readonly padding: number }
  | { readonly status: "error"; readonly layers: readonly DecodeLayer[]; readonly errorClass: string; readonly detail?: string }
  | {
      readonly status: "reemit-mismatch";
      readonly layers: readonly DecodeLayer[];
      readonly layer: DecodeLayer;
      readonly offset: number;
      readonly expected: number;
      readonly got: number;
    };

/** Summary of decode mode over a capture. */
export interface DecodeReport {
  readonly frames: number;
  readonly ok: number;
  /** Classified errors: class -> count. */
  readonly errors: Readonly<Record<string, number>>;
  /** Re-emit mismatches: layer -> count. */
  readonly reemitMismatches: Readonly<Record<string, number>>;
  /** Per frame, in capture order. */
  readonly perFrame: readonly FrameDecode[];
}

const errorOf = (layers: DecodeLayer[], layer: DecodeLayer, code: string, detail?: string): FrameDecode =>
  detail === undefined ? { status: "error", layers, errorClass: `${layer}/${code}` } : { status: "error", layers, errorClass: `${layer}/${code}`, detail };

function firstDifference(a: Uint8Array, b: Uint8Array, from: number, to: number): number {
  for (let i = from; i < to; i++) if (a[i] !== b[i]) return i;
  return -1;
}

/** Decodes one Ethernet frame and checks that its Reprs re-emit the captured bytes. */
export function decodeFrame(data: Uint8Array): FrameDecode {
  const layers: DecodeLayer[] = ["ethernet"];
  const eth = parseEthernet(data);
  if (!eth.ok) return errorOf(layers, "ethernet", eth.error);
  const out = new Uint8Array(data.length);
  const ethLen = emitEthernet(eth.value, out, 0);
  // The first differing byte outside the checksum field (at checksumAt, 2 bytes), else the checksum.
  const check = (layer: DecodeLayer, from: number, to: number, checksumAt = -1): FrameDecode | undefined => {
    let at =
      checksumAt < 0
        ? firstDifference(data, out, from, to)
        : ([firstDifference(data, out, from, checksumAt), firstDifference(data, out, checksumAt + 2, to)].find((x) => x >= 0) ?? -1);
    if (at < 0 && checksumAt >= 0) at = firstDifference(data, out, checksumAt, checksumAt + 2);
    return at < 0 ? undefined : { status: "reemit-mismatch", layers, layer, offset: at, expected: data[at]!, got: out[at]! };
  };
  const ethMismatch = check("ethernet", 0, ethLen);
  if (ethMismatch) return ethMismatch;
  const payload = data.subarray(ethLen);
  if (eth.value.ethertype === ETHERTYPE_ARP) {
    layers.push("arp");
    const arp = parseArp(payload);
    if (!arp.ok) return errorOf(layers, "arp", arp.error);
    emitArp(arp.value, out, ethLen);
    return check("arp", ethLen, ethLen + ARP_PACKET_LEN) ?? { status: "ok", layers, padding: payload.length - ARP_PACKET_LEN };
  }
  if (eth.value.ethertype === ETHERTYPE_IPV6) return decodeIpv6(data, payload, out, ethLen, layers, check);
  if (eth.value.ethertype !== ETHERTYPE_IPV4) {
    return errorOf(layers, "ethernet", `unsupported-ethertype-0x${eth.value.ethertype.toString(16).padStart(4, "0")}`);
  }
  layers.push("ipv4");
  const ip = parseIpv4(payload);
  if (!ip.ok) return errorOf(layers, "ipv4", ip.error);
  const ipr = ip.value;
  const ipLen = emitIpv4(ipr, out, ethLen);
  const ipMismatch = check("ipv4", ethLen, ethLen + ipLen, ethLen + IPV4_CHECKSUM);
  if (ipMismatch) return ipMismatch;
  const start = ethLen + ipLen;
  const end = start + ipr.payloadLength;
  const padding = data.length - end;
  const body = data.subarray(start, end);
  // A fragment is a well-formed IPv4 packet whose payload is a piece of a transport message:
  // decoded (and re-emitted) up to IPv4, as tshark shows it before reassembly; not an error.
  if (ipr.moreFragments || ipr.fragmentOffset !== 0) return { status: "ok", layers, padding };
  switch (ipr.protocol) {
    case IP_PROTOCOL_ICMP: {
      layers.push("icmp");
      const icmp = parseIcmp(body);
      if (!icmp.ok) return errorOf(layers, "icmp", icmp.error);
      emitIcmp(icmp.value, out, start);
      return check("icmp", start, end, start + ICMP_CHECKSUM) ?? { status: "ok", layers, padding };
    }
    case IP_PROTOCOL_UDP: {
      layers.push("udp");
      const udp = parseUdp(body, ipr.src, ipr.dst);
      if (!udp.ok) return errorOf(layers, "udp", udp.error);
      const u = udp.value;
      const checksumAbsent = body[6] === 0 && body[7] === 0;
      emitUdp(u, out, start, ipr.src, ipr.dst, checksumAbsent ? "none" : "full");
      const udpMismatch = check("udp", start, end, start + UDP_CHECKSUM);
      if (udpMismatch) return udpMismatch;
      if (isDhcpPorts(u.srcPort, u.dstPort)) {
        layers.push("dhcp");
        const dhcp = parseDhcp(u.payload);
        if (!dhcp.ok) return errorOf(layers, "dhcp", dhcp.error, dhcp.detail);
        const again = emitDhcp(dhcp.value);
        const captured = u.payload;
        const n = Math.max(again.length, captured.length);
        for (let i = 0; i < n; i++) {
          if (again[i] !== captured[i]) {
            return { status: "reemit-mismatch", layers, layer: "dhcp", offset: start + UDP_HEADER_LEN + i, expected: captured[i] ?? -1, got: again[i] ?? -1 };
          }
        }
      }
      return { status: "ok", layers, padding };
    }
    case IP_PROTOCOL_TCP: {
      layers.push("tcp");
      const tcp = parseTcp(body, { src: ipr.src, dst: ipr.dst });
      if (!tcp.ok) return errorOf(layers, "tcp", tcp.error, tcp.detail);
      emitTcp(tcp.value, out, start, { src: ipr.src, dst: ipr.dst });
      return check("tcp", start, end, start + TCP_CHECKSUM) ?? { status: "ok", layers, padding };
    }
    default:
      return errorOf(layers, "ipv4", `unsupported-protocol-${ipr.protocol}`);
  }
}

type Checker = (layer: DecodeLayer, from: number, to: number, checksumAt?: number) => FrameDecode | undefined;

/** Writes the RFC 8200 §8.1 checksum of out[start, end) (upper layer `nextHeader`) at `at`. */
function fillIpv6Checksum(out: Uint8Array, start: number, end: number, at: number, src: Ipv6Address, dst: Ipv6Address, nextHeader: number): void {
  writeU16(out, at, 0);
  writeU16(out, at, checksumFinish(checksumRange(out, start, end, ipv6PseudoHeaderSum(src, dst, nextHeader, end - start))));
}

/** The IPv6 part of decodeFrame: header, extension headers, then ICMPv6 (NDP, MLD), UDP or TCP. */
function decodeIpv6(data: Uint8Array, payload: Uint8Array, out: Uint8Array, ethLen: number, layers: DecodeLayer[], check: Checker): FrameDecode {
  layers.push("ipv6");
  const ip = parseIpv6(payload);
  if (!ip.ok) return errorOf(layers, "ipv6", ip.error);
  const ipr = ip.value;
  emitIpv6(ipr, out, ethLen);
  const ipMismatch = check("ipv6", ethLen, ethLen + IPV6_HEADER_LEN);
  if (ipMismatch) return ipMismatch;
  const packet = payload.subarray(0, IPV6_HEADER_LEN + ipr.payloadLength);
  const end = ethLen + packet.length;
  const padding = data.length - end;
  const chain = walkIpv6Chain(packet, { knownOption: () => true });
  if (!chain.ok) return errorOf(layers, "ipv6", chain.error);
  for (const h of chain.value.headers) {
    const bytes = packet.subarray(h.offset, h.offset + h.length);
    const at = ethLen + h.offset;
    if (h.kind === "hop-by-hop" || h.kind === "destination") {
      const r = parseIpv6OptionsHeader(bytes);
      if (!r.ok) return errorOf(layers, "ipv6", `${h.kind}-${r.error}`);
      emitIpv6OptionsHeader(r.value, out, at);
    } else if (h.kind === "fragment") {
      const r = parseIpv6Fragment(bytes);
      if (!r.ok) return errorOf(layers, "ipv6", `fragment-${r.error}`);
      emitIpv6Fragment(r.value, out, at);
    } else if (h.kind === "routing") {
      const r = parseIpv6Routing(bytes);
      if (!r.ok) return errorOf(layers, "ipv6", `routing-${r.error}`);
      emitIpv6Routing(r.value, out, at);
    } else {
      return errorOf(layers, "ipv6", "unsupported-extension-authentication");
    }
    const m = check("ipv6", at, at + h.length);
    if (m) return m;
  }
  // A fragment decodes up to IPv6 and its extension headers, as tshark shows it before reassembly.
  if (chain.value.fragment !== undefined) return { status: "ok", layers, padding };
  const start = ethLen + chain.value.offset;
  const body = data.subarray(start, end);
  const { src, dst } = ipr;
  switch (chain.value.upperLayer) {
    case IPV6_NEXT_HEADER_ICMPV6: {
      const type = body[0] ?? -1;
      if (isNdpType(type)) {
        layers.push("ndp");
        const r = parseNdp(body, src, dst);
        if (!r.ok) return errorOf(layers, "ndp", r.error);
        emitNdp(r.value, out, start, src, dst);
        return check("ndp", start, end, start + ICMPV6_CHECKSUM) ?? { status: "ok", layers, padding };
      }
      if (isMldType(type)) {
        layers.push("mld");
        const r = parseMld(body, src, dst);
        if (!r.ok) return errorOf(layers, "mld", r.error);
        emitMld(r.value, out, start, src, dst);
        return check("mld", start, end, start + ICMPV6_CHECKSUM) ?? { status: "ok", layers, padding };
      }
      layers.push("icmpv6");
      const r = parseIcmpv6(body, src, dst);
      if (!r.ok) return errorOf(layers, "icmpv6", r.error);
      emitIcmpv6(r.value, out, start, src, dst);
      return check("icmpv6", start, end, start + ICMPV6_CHECKSUM) ?? { status: "ok", layers, padding };
    }
    case IPV6_NEXT_HEADER_UDP: {
      layers.push("udp");
      const r = parseUdp6(body, src, dst);
      if (!r.ok) return errorOf(layers, "udp", r.error);
      emitUdp6(r.value, out, start, src, dst);
      const udpMismatch = check("udp", start, end, start + UDP_CHECKSUM);
      if (udpMismatch) return udpMismatch;
      if (isDhcp6Ports(r.value.srcPort, r.value.dstPort)) {
        layers.push("dhcp6");
        const m = parseDhcp6(r.value.payload);
        if (!m.ok) return errorOf(layers, "dhcp6", m.error, m.detail);
        const again = emitDhcp6(m.value);
        const captured = r.value.payload;
        for (let i = 0; i < Math.max(again.length, captured.length); i++) {
          if (again[i] !== captured[i]) {
            return { status: "reemit-mismatch", layers, layer: "dhcp6", offset: start + UDP_HEADER_LEN + i, expected: captured[i] ?? -1, got: again[i] ?? -1 };
          }
        }
      }
      return { status: "ok", layers, padding };
    }
    case IPV6_NEXT_HEADER_TCP: {
      layers.push("tcp");
      const r = parseTcp(body);
      if (!r.ok) return errorOf(layers, "tcp", r.error, r.detail);
      const verify = new Uint8Array(body);
      fillIpv6Checksum(verify, 0, verify.length, TCP_CHECKSUM, src, dst, IPV6_NEXT_HEADER_TCP);
      if (verify[TCP_CHECKSUM] !== body[TCP_CHECKSUM] || verify[TCP_CHECKSUM + 1] !== body[TCP_CHECKSUM + 1]) return errorOf(layers, "tcp", "bad-checksum");
      emitTcp(r.value, out, start);
      fillIpv6Checksum(out, start, end, start + TCP_CHECKSUM, src, dst, IPV6_NEXT_HEADER_TCP);
      return check("tcp", start, end, start + TCP_CHECKSUM) ?? { status: "ok", layers, padding };
    }
    default:
      return errorOf(layers, "ipv6", `unsupported-protocol-${chain.value.upperLayer}`);
  }
}

/** True for the BOOTP/DHCP port pair (67/68 either way). */
export function isDhcpPorts(srcPort: number, dstPort: number): boolean {
  return (srcPort === DHCP_CLIENT_PORT && dstPort === DHCP_SERVER_PORT) || (srcPort === DHCP_SERVER_PORT && dstPort === DHCP_CLIENT_PORT);
}

/** True for the DHCPv6 port pair (546/547 either way, or 547 to 547 between relays and servers). */
export function isDhcp6Ports(srcPort: number, dstPort: number): boolean {
  return (
    (srcPort === DHCP6_CLIENT_PORT || srcPort === DHCP6_SERVER_PORT) &&
    (dstPort === DHCP6_CLIENT_PORT || dstPort === DHCP6_SERVER_PORT) &&
    srcPort + dstPort !== 2 * DHCP6_CLIENT_PORT
  );
}

const LINKTYPE_ETHERNET = 1;

/** Decodes every frame (link types other than Ethernet are classified, not parsed); counts outcomes. */
export function decodeCapture(frames: readonly Uint8Array[], linkTypes?: readonly number[]): DecodeReport {
  const errors: Record<string, number> = {};
  const reemitMismatches: Record<string, number> = {};
  const perFrame: FrameDecode[] = [];
  let ok = 0;
  for (const [i, f] of frames.entries()) {
    const linkType = linkTypes?.[i] ?? LINKTYPE_ETHERNET;
    const d: FrameDecode =
      linkType === LINKTYPE_ETHERNET ? decodeFrame(f) : { status: "error", layers: [], errorClass: `link/unsupported-linktype-${linkType}` };
    perFrame.push(d);
    if (d.status === "ok") ok++;
    else if (d.status === "error") errors[d.errorClass] = (errors[d.errorClass] ?? 0) + 1;
    else reemitMismatches[d.layer] = (reemitMismatches[d.layer] ?? 0) + 1;
  }
  return { frames: frames.length, ok, errors, reemitMismatches, perFrame };
}

/** The layer stack of a decoded frame, e.g. "ethernet/ipv4/tcp". */
export function summariseLayers(d: FrameDecode): string {
  return d.layers.join("/");
}
