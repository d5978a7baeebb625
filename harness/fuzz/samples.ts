// Well-formed frames built with the wire emitters: seeds for the frame-level fuzz targets.
import {
  emitEthernet,
  emitArp,
  emitIpv4,
  emitIcmp,
  emitUdp,
  ETHERTYPE_ARP,
  ETHERTYPE_IPV4,
  IP_PROTOCOL_ICMP,
  IP_PROTOCOL_UDP,
  IP_PROTOCOL_TCP,
  type Ipv4Repr,
} from "../../stack/wire/index.ts";
import { emitTcp, tcpHeaderLength, type TcpRepr } from "../../stack/wire/tcp.ts";

export const HOST_A_MAC = 0x020000000001;
export const HOST_B_MAC = 0x020000000002;
export const HOST_A_IP = 0xc0000201; // 192.0.2.1
export const HOST_B_IP = 0xc0000202; // 192.0.2.2

function ipFrame(protocol: number, payloadLength: number, fill: (buf: Uint8Array, offset: number) => void, vlan = false): Uint8Array {
  const ethLen = vlan ? 18 : 14;
  const frame = new Uint8Array(ethLen + 20 + payloadLength);
  emitEthernet({ dst: HOST_B_MAC, src: HOST_A_MAC, ethertype: ETHERTYPE_IPV4, ...(vlan ? { vlan: { pcp: 3, dei: false, vid: 42 } } : {}) }, frame, 0);
  const ip: Ipv4Repr = {
    src: HOST_A_IP,
    dst: HOST_B_IP,
    protocol,
    ttl: 64,
    tos: 0,
    ident: 0x1234,
    dontFragment: true,
    moreFragments: false,
    fragmentOffset: 0,
    payloadLength,
    options: new Uint8Array(0),
  };
  emitIpv4(ip, frame, ethLen);
  fill(frame, ethLen + 20);
  return frame;
}

/** An ARP request, an ICMP echo request, a VLAN-tagged echo, a TCP SYN with Linux's options. */
export function sampleFrames(): Uint8Array[] {
  const arp = new Uint8Array(42);
  emitEthernet({ dst: 0xffffffffffff, src: HOST_A_MAC, ethertype: ETHERTYPE_ARP }, arp, 0);
  emitArp({ operation: "request", senderMac: HOST_A_MAC, senderIp: HOST_A_IP, targetMac: 0, targetIp: HOST_B_IP }, arp, 14);
  const echo = { kind: "echo-request" as const, ident: 7, seq: 1, data: new TextEncoder().encode("netlab ping payload") };
  const ping = ipFrame(IP_PROTOCOL_ICMP, 8 + echo.data.length, (b, o) => {
    emitIcmp(echo, b, o);
  });
  const tagged = ipFrame(
    IP_PROTOCOL_ICMP,
    8 + echo.data.length,
    (b, o) => {
      emitIcmp(echo, b, o);
    },
    true,
  );
  const syn: TcpRepr = {
    srcPort: 49152,
    dstPort: 80,
    seq: 0x01020304,
    ack: 0,
    flags: 0x02,
    window: 64240,
    urgent: 0,
    options: { mss: 1460, sackPermitted: true, tsVal: 1000, tsEcr: 0, windowScale: 7 },
    payload: new Uint8Array(0),
  };
  const tcp = ipFrame(IP_PROTOCOL_TCP, tcpHeaderLength(syn), (b, o) => {
    emitTcp(syn, b, o, { src: HOST_A_IP, dst: HOST_B_IP });
  });
  return [arp, ping, tagged, tcp];
}

/** A UDP datagram to the echo port. */
export function emitUdpEcho(): Uint8Array {
  const payload = new TextEncoder().encode("hello, netlab");
  return ipFrame(IP_PROTOCOL_UDP, 8 + payload.length, (b, o) => {
    emitUdp({ srcPort: 40000, dstPort: 7, payload }, b, o, HOST_A_IP, HOST_B_IP);
  });
}
