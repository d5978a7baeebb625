// Test-only: Ethernet/IPv4/UDP frames of a chosen size, flow and ECN codepoint.
import { emitEthernet } from "../../wire/ethernet.ts";
import { emitIpv4 } from "../../wire/ipv4.ts";
import { emitUdp } from "../../wire/udp.ts";

/** A UDP frame of `size` bytes (Ethernet header included) from port srcPort, with the given TOS byte. */
export function udpFrame(size: number, srcPort: number, tos = 0, seq = 0): Uint8Array {
  const f = new Uint8Array(Math.max(size, 14 + 20 + 8 + 4));
  const payload = new Uint8Array(f.length - 14 - 20 - 8);
  payload[0] = seq >>> 24;
  payload[1] = (seq >>> 16) & 0xff;
  payload[2] = (seq >>> 8) & 0xff;
  payload[3] = seq & 0xff;
  emitEthernet({ dst: 0x020000000002, src: 0x020000000001, ethertype: 0x0800 }, f);
  const src = 0xc000020a;
  const dst = 0xc000020b;
  emitIpv4(
    {
      src,
      dst,
      protocol: 17,
      ttl: 64,
      tos,
      ident: seq & 0xffff,
      dontFragment: true,
      moreFragments: false,
      fragmentOffset: 0,
      options: new Uint8Array(0),
      payloadLength: 8 + payload.length,
    },
    f,
    14,
  );
  const udp = f.subarray(34);
  emitUdp({ srcPort, dstPort: 9, payload }, udp, 0, src, dst);
  return f;
}

/** The sequence number udpFrame wrote. */
export function seqOf(frame: Uint8Array): number {
  return ((frame[42]! << 24) | (frame[43]! << 16) | (frame[44]! << 8) | frame[45]!) >>> 0;
}

/** The source port of a udpFrame. */
export function portOf(frame: Uint8Array): number {
  return (frame[34]! << 8) | frame[35]!;
}
