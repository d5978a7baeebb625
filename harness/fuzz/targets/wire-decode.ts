// Fuzz target: the wire decoders from Ethernet down to ICMP/UDP/TCP, with a re-emit oracle:
// every header that parses must emit back to the very same bytes.
import {
  parseEthernet, emitEthernet, ethernetHeaderLength, ETHERTYPE_ARP, ETHERTYPE_IPV4,
  parseArp, emitArp, parseIpv4, emitIpv4, ipv4HeaderLength, parseIcmp, parseUdp,
  IP_PROTOCOL_ICMP, IP_PROTOCOL_TCP, IP_PROTOCOL_UDP, emitIcmp, icmpReprLength,
} from "../../../stack/wire/index.ts";
import { parseTcp } from "../../../stack/wire/tcp.ts";
import { emitUdpEcho, sampleFrames } from "../samples.ts";

function same(a: Uint8Array, b: Uint8Array, what: string): void {
  if (a.length !== b.length || a.some((x, i) => x !== b[i])) {
    throw new Error(`${what}: re-emitted bytes differ\n  in:  ${Buffer.from(a).toString("hex")}\n  out: ${Buffer.from(b).toString("hex")}`);
  }
}

export function fuzz(data: Buffer): void {
  const frame = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  const eth = parseEthernet(frame);
  if (!eth.ok) return;
  const hl = ethernetHeaderLength(eth.value);
  const out = new Uint8Array(hl);
  emitEthernet(eth.value, out, 0);
  same(frame.subarray(0, hl), out, "ethernet");
  const payload = frame.subarray(hl);
  if (eth.value.ethertype === ETHERTYPE_ARP) {
    const arp = parseArp(payload);
    if (arp.ok) {
      const b = new Uint8Array(28);
      emitArp(arp.value, b, 0);
      same(payload.subarray(0, 28), b, "arp");
    }
    return;
  }
  if (eth.value.ethertype !== ETHERTYPE_IPV4) return;
  const ip = parseIpv4(payload);
  if (!ip.ok) return;
  const ihl = ipv4HeaderLength(ip.value);
  const header = new Uint8Array(ihl);
  emitIpv4(ip.value, header, 0);
  same(payload.subarray(0, ihl), header, "ipv4");
  if (ip.value.fragmentOffset !== 0 || ip.value.moreFragments) return;
  const body = payload.subarray(ihl, ihl + ip.value.payloadLength);
  if (ip.value.protocol === IP_PROTOCOL_ICMP) {
    const icmp = parseIcmp(body);
    // Only echo messages carry every byte in their repr (errors zero the unused word).
    if (icmp.ok && (icmp.value.kind === "echo-request" || icmp.value.kind === "echo-reply")) {
      const b = new Uint8Array(icmpReprLength(icmp.value));
      emitIcmp(icmp.value, b, 0);
      same(body.subarray(0, b.length), b, "icmp");
    }
  } else if (ip.value.protocol === IP_PROTOCOL_UDP) {
    parseUdp(body, ip.value.src, ip.value.dst);
  } else if (ip.value.protocol === IP_PROTOCOL_TCP) {
    parseTcp(body, { src: ip.value.src, dst: ip.value.dst });
  }
}

/** Seed inputs: well-formed frames of each kind. */
export function seeds(): Uint8Array[] {
  return [...sampleFrames(), emitUdpEcho()];
}
