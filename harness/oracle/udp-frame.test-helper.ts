// Hand-built Ethernet/IPv4/UDP frames for oracle and file tests (independent of stack/wire emitters;
// the IPv6 TCP ACK takes its header from emitIpv6).
import { checksumAdd, checksumFinish, internetChecksum, pseudoHeaderSum } from "../../stack/wire/checksum.ts";
import { type Ipv6Address, ipv6 } from "../../stack/wire/ipv6-address.ts";
import { emitIpv6, ipv6PseudoHeaderSum } from "../../stack/wire/ipv6.ts";

/** An Ethernet + 20-byte IPv4 header (TTL 64, checksum set) in front of `transportBytes` zero bytes. */
function ethernetIpv4(protocol: number, src: number, dst: number, transportBytes: number, ident: number): { f: Uint8Array; v: DataView } {
  const f = new Uint8Array(14 + 20 + transportBytes);
  const v = new DataView(f.buffer);
  f.set([0x02, 0, 0, 0, 0, 2, 0x02, 0, 0, 0, 0, 1, 0x08, 0x00]);
  const ip = 14;
  f[ip] = 0x45;
  v.setUint16(ip + 2, 20 + transportBytes);
  v.setUint16(ip + 4, ident);
  f[ip + 8] = 64;
  f[ip + 9] = protocol;
  v.setUint32(ip + 12, src);
  v.setUint32(ip + 16, dst);
  v.setUint16(ip + 10, internetChecksum(f.subarray(ip, ip + 20)));
  return { f, v };
}

/** A 192.0.2.1:1000 -> 192.0.2.2:7 UDP frame; `badChecksum` breaks the UDP checksum. */
export function udpFrame(payload: Uint8Array, options: { badChecksum?: boolean } = {}): Uint8Array {
  const src = 0xc0000201,
    dst = 0xc0000202;
  const { f, v } = ethernetIpv4(17, src, dst, 8 + payload.length, 0x1234);
  const udp = 14 + 20;
  v.setUint16(udp, 1000);
  v.setUint16(udp + 2, 7);
  v.setUint16(udp + 4, 8 + payload.length);
  f.set(payload, udp + 8);
  let c = checksumFinish(checksumAdd(f.subarray(udp), pseudoHeaderSum(src, dst, 17, 8 + payload.length)));
  if (c === 0) c = 0xffff;
  v.setUint16(udp + 6, options.badChecksum === true ? c ^ 0x0101 : c);
  return f;
}

/**
 * A src:40000 -> 192.0.2.2:80 TCP ACK (or, with an IPv6 source, src -> 2001:db8:1::2) whose
 * checksum field is 0xFFFF, the form Linux's skb_checksum_help writes (CSUM_MANGLED_0) when the
 * one's-complement sum folds to 0x0000. The window is searched for one that makes the true
 * checksum 0x0000; `bad` breaks it instead.
 */
export function tcpAckChecksumFfff(src: number | Ipv6Address, options: { bad?: boolean } = {}): Uint8Array {
  let f: Uint8Array, v: DataView, tcp: number, pseudo: number;
  if (typeof src === "number") {
    const dst = 0xc0000202;
    ({ f, v } = ethernetIpv4(6, src, dst, 20, 0));
    tcp = 14 + 20;
    pseudo = pseudoHeaderSum(src, dst, 6, 20);
  } else {
    const dst = ipv6("2001:db8:1::2");
    f = new Uint8Array(14 + 40 + 20);
    v = new DataView(f.buffer);
    f.set([0x02, 0, 0, 0, 0, 2, 0x02, 0, 0, 0, 0, 1, 0x86, 0xdd]);
    emitIpv6({ src, dst, nextHeader: 6, hopLimit: 64, trafficClass: 0, flowLabel: 0, payloadLength: 20 }, f.subarray(14));
    tcp = 14 + 40;
    pseudo = ipv6PseudoHeaderSum(src, dst, 6, 20);
  }
  v.setUint16(tcp, 40000);
  v.setUint16(tcp + 2, 80);
  v.setUint32(tcp + 4, 1000);
  v.setUint32(tcp + 8, 2000);
  f[tcp + 12] = 5 << 4;
  f[tcp + 13] = 0x10;
  for (let window = 0; window < 0x10000; window++) {
    v.setUint16(tcp + 14, window);
    v.setUint16(tcp + 16, 0);
    if (checksumFinish(checksumAdd(f.subarray(tcp), pseudo)) === 0) {
      v.setUint16(tcp + 16, options.bad === true ? 0xfefe : 0xffff);
      return f;
    }
  }
  throw new Error("no window gives a zero TCP checksum");
}
