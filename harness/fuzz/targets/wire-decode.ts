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
import {
  parseEthernet, emitEthernet, ethernetHeaderLength, ETHERTYPE_ARP, ETHERTYPE_IPV4,
  parseArp, emitArp, parseIpv4, emitIpv4, ipv4HeaderLength, parseIcmp, parseUdp, emitUdp,
  IP_PROTOCOL_ICMP, IP_PROTOCOL_TCP, IP_PROTOCOL_UDP, emitIcmp, icmpReprLength,
  type Ipv4Repr,
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
    fail("round-trip", `tcp: emitTcp(parseTcp(x)) parses ${again.ok ? "differently" : `as ${again.error}`}\n  was: ${show(withoutPayload(tcp.value))}\n  now: ${again.ok ? show(withoutPayload(again.value)) : ""}`, input);
  }
}

function checkUdp(body: Uint8Array, ip: Ipv4Repr, input: Uint8Array): void {
  const udp = parseUdp(guarded(body, "udp"), ip.src, ip.dst);
  const shadow = shadowUdpEnd(body);
  if (!udp.ok) return;
  if (shadow === "refused") fail("shadow", `udp: length ${body.length >= 6 ? body[4]! * 256 + body[5]! : "?"} accepted in ${body.length} bytes`, input);
  if (udp.value.payload.length !== shadow - 8) fail("shadow", `udp: payload of ${udp.value.payload.length} bytes, the length field says ${shadow - 8}`, input);
  checkTailIndependent("udp", body, shadow, udp.value, (b) => {
    const r = parseUdp(b, ip.src, ip.dst, { verifyChecksum: false });
    return r.ok ? r.value : undefined;
  }, (v) => v);
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
  if (!sameValue(fixed, input)) check(fixed);
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
  if (eth.value.ethertype !== ETHERTYPE_IPV4) return;
  const ip = parseIpv4(guarded(payload, "ipv4"));
  const shadow = shadowIpv4(payload);
  if (!ip.ok) return;
  if (shadow === "refused") fail("shadow", "ipv4: a header whose lengths RFC 791 refuses was accepted", input);
  if (ipv4HeaderLength(ip.value) !== shadow.headerEnd || ip.value.payloadLength !== shadow.end - shadow.headerEnd) {
    fail("shadow", `ipv4: header ${ipv4HeaderLength(ip.value)} + payload ${ip.value.payloadLength} bytes, the header says ${shadow.headerEnd} + ${shadow.end - shadow.headerEnd}`, input);
  }
  // The header checksum covers the header only: the datagram's payload and the link's padding
  // may change without changing anything parsed.
  checkTailIndependent("ipv4 header", payload, shadow.headerEnd, ip.value, (b) => {
    const r = parseIpv4(b);
    return r.ok ? r.value : undefined;
  }, (v) => v);
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
      same(body.subarray(0, b.length), b, "icmp", input, (i, x, y) => (i === 2 || i === 3) && ((x === 0xff && y === 0) || (x === 0 && y === 0xff)) && body[2] === body[3]);
    }
  } else if (ip.value.protocol === IP_PROTOCOL_UDP) {
    checkUdp(body, ip.value, input);
  } else if (ip.value.protocol === IP_PROTOCOL_TCP) {
    checkTcp(body, ip.value, input);
  }
}

/** Seed inputs: well-formed frames of each kind. */
export function seeds(): Uint8Array[] {
  return [...sampleFrames(), emitUdpEcho()];
}
