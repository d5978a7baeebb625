// Wire suite: parse and emit rates per protocol (packets/s) on typical packets.
import {
  parseEthernet,
  emitEthernet,
  parseArp,
  emitArp,
  parseIpv4,
  emitIpv4,
  parseIcmp,
  emitIcmp,
  parseUdp,
  emitUdp,
  ETHERTYPE_IPV4,
  type Ipv4Repr,
} from "../../stack/wire/index.ts";
import { parseTcp, emitTcp, type TcpRepr } from "../../stack/wire/tcp.ts";
import type { BenchCase, BenchSuite } from "../../harness/bench/types.ts";

const SRC = 0xc0000201,
  DST = 0xc0000202;

function rateCase(name: string, op: () => unknown): BenchCase {
  let perCpuSecond = 0;
  return {
    suite: "wire",
    name,
    unit: "Mpkt/s",
    higherIsBetter: true,
    measure(ctx) {
      const n = ctx.quick ? 20_000 : 500_000;
      let keep: unknown;
      const cpu0 = process.cpuUsage();
      const t0 = performance.now();
      for (let i = 0; i < n; i++) keep = op();
      const s = (performance.now() - t0) / 1000;
      const cpu = process.cpuUsage(cpu0);
      if (keep === Symbol.iterator) throw new Error("unreachable");
      perCpuSecond = n / ((cpu.user + cpu.system) / 1e6) / 1e6;
      return n / s / 1e6;
    },
    details: () => ({ perCpuSecond }),
  };
}

function cases(): BenchCase[] {
  const frame = new Uint8Array(1514);
  emitEthernet({ dst: 0x020000000002, src: 0x020000000001, ethertype: ETHERTYPE_IPV4 }, frame, 0);
  const ip: Ipv4Repr = {
    src: SRC,
    dst: DST,
    protocol: 6,
    ttl: 64,
    tos: 0,
    ident: 1,
    dontFragment: true,
    moreFragments: false,
    fragmentOffset: 0,
    payloadLength: 1480,
    options: new Uint8Array(0),
  };
  emitIpv4(ip, frame, 14);
  const tcp: TcpRepr = {
    srcPort: 40000,
    dstPort: 80,
    seq: 1,
    ack: 1,
    flags: 0x10,
    window: 500,
    urgent: 0,
    options: { tsVal: 1, tsEcr: 2 },
    payload: new Uint8Array(1448),
  };
  emitTcp(tcp, frame, 34, { src: SRC, dst: DST });
  const seg = frame.subarray(34);
  const arp = new Uint8Array(28);
  emitArp({ operation: "request", senderMac: 1, senderIp: SRC, targetMac: 0, targetIp: DST }, arp, 0);
  const echo = { kind: "echo-request" as const, ident: 1, seq: 1, data: new Uint8Array(56) };
  const icmp = new Uint8Array(64);
  emitIcmp(echo, icmp, 0);
  const udpPayload = new Uint8Array(1472);
  const udp = new Uint8Array(1480);
  emitUdp({ srcPort: 1, dstPort: 2, payload: udpPayload }, udp, 0, SRC, DST);
  const out = new Uint8Array(1514);
  return [
    rateCase("ethernet parse", () => parseEthernet(frame)),
    rateCase("arp parse", () => parseArp(arp)),
    rateCase("arp emit", () => emitArp({ operation: "reply", senderMac: 1, senderIp: SRC, targetMac: 2, targetIp: DST }, out, 0)),
    rateCase("ipv4 parse (checksum verified)", () => parseIpv4(frame.subarray(14))),
    rateCase("ipv4 emit", () => emitIpv4(ip, out, 14)),
    rateCase("icmp echo parse", () => parseIcmp(icmp)),
    rateCase("icmp echo emit", () => emitIcmp(echo, out, 0)),
    rateCase("udp 1472B parse (checksum verified)", () => parseUdp(udp, SRC, DST)),
    rateCase("udp 1472B emit (checksum)", () => emitUdp({ srcPort: 1, dstPort: 2, payload: udpPayload }, out, 0, SRC, DST)),
    rateCase("tcp 1448B parse (checksum verified)", () => parseTcp(seg, { src: SRC, dst: DST })),
    rateCase("tcp 1448B parse (offloaded)", () => parseTcp(seg)),
    rateCase("tcp 1448B emit (checksum)", () => emitTcp(tcp, out, 34, { src: SRC, dst: DST })),
  ];
}

export const suite: BenchSuite = { name: "wire", description: "parse and emit rates per protocol", cases };
