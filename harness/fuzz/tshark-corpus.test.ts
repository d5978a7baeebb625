// A batch differential against tshark over the wire-decode corpus: every frame whose headers
// netlab's decoders accept (Ethernet, IPv4 with a good header checksum, and a TCP/UDP/ICMP body
// with a good checksum) is written to one pcap, and tshark, with checksum validation on, must find
// none of them malformed, in expert error or with a bad checksum. IPv6 frames count when their
// extension chain walks to an ICMPv6, NDP or MLD message that parses with a good checksum. Frames netlab refuses are not
// compared (tshark dissects what it can of anything). Known differences, each with its reason,
// are in TSHARK_STRICTER. Skips without tshark.
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { createByteCollector, createPcapWriter } from "../../stack/link/pcap/index.ts";
import {
  ETHERTYPE_IPV4,
  IP_PROTOCOL_ICMP,
  IP_PROTOCOL_TCP,
  IP_PROTOCOL_UDP,
  ethernetHeaderLength,
  ipv4HeaderLength,
  parseEthernet,
  parseIcmp,
  parseIpv4,
  parseUdp,
  ETHERTYPE_IPV6,
  parseIpv6,
  walkIpv6Chain,
  IPV6_NEXT_HEADER_ICMPV6,
  IPV6_OPTION_ROUTER_ALERT,
  isNdpType,
  parseNdp,
  parseMld,
  parseIcmpv6,
  isMldType,
} from "../../stack/wire/index.ts";
import { parseTcp } from "../../stack/wire/tcp.ts";
import { fixChecksums } from "./fixup.ts";
import { tsharkFields, tsharkMissingReason, TSHARK_WELLFORMED_FILTER } from "../oracle/tshark.ts";

/**
 * tshark expert errors that are not netlab's to refuse. RFC 9293 §3.1 asks a sender to zero the
 * option space after End of Option List; a receiver ignores it (Linux does, and so does netlab).
 */
const TSHARK_STRICTER: ReadonlySet<string> = new Set(["Non-zero header padding"]);
/** _ws.expert.severity of an error (tshark's PI_ERROR). */
const EXPERT_ERROR = 8388608;

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");

/** True when netlab's decoders accept the whole frame, checksums included. */
function netlabAccepts(frame: Uint8Array): boolean {
  const eth = parseEthernet(frame);
  if (eth.ok && eth.value.ethertype === ETHERTYPE_IPV6) return netlabAcceptsIpv6(frame.subarray(ethernetHeaderLength(eth.value)));
  if (!eth.ok || eth.value.ethertype !== ETHERTYPE_IPV4) return false;
  const ipBytes = frame.subarray(ethernetHeaderLength(eth.value));
  const ip = parseIpv4(ipBytes);
  if (!ip.ok || ip.value.fragmentOffset !== 0 || ip.value.moreFragments) return false;
  const hl = ipv4HeaderLength(ip.value);
  const body = ipBytes.subarray(hl, hl + ip.value.payloadLength);
  switch (ip.value.protocol) {
    case IP_PROTOCOL_TCP:
      return parseTcp(body, { src: ip.value.src, dst: ip.value.dst }).ok;
    case IP_PROTOCOL_UDP:
      return parseUdp(body, ip.value.src, ip.value.dst).ok;
    case IP_PROTOCOL_ICMP:
      return parseIcmp(body).ok;
    default:
      return false;
  }
}

/** True when netlab's v6 decoders accept the packet down to an ICMPv6/NDP/MLD message. */
function netlabAcceptsIpv6(packet: Uint8Array): boolean {
  const ip = parseIpv6(packet);
  if (!ip.ok) return false;
  const chain = walkIpv6Chain(packet.subarray(0, 40 + ip.value.payloadLength), { knownOption: (t) => t === IPV6_OPTION_ROUTER_ALERT });
  if (!chain.ok || chain.value.fragment || chain.value.upperLayer !== IPV6_NEXT_HEADER_ICMPV6) return false;
  const body = packet.subarray(chain.value.offset, 40 + ip.value.payloadLength);
  const { src, dst } = ip.value;
  const type = body[0] ?? 0;
  if (isNdpType(type)) return parseNdp(body, src, dst).ok;
  if (isMldType(type)) return parseMld(body, src, dst).ok;
  return parseIcmpv6(body, src, dst).ok;
}

function corpusFrames(): Array<{ name: string; frame: Uint8Array }> {
  const out: Array<{ name: string; frame: Uint8Array }> = [];
  const walk = (dir: string): void => {
    for (const f of readdirSync(dir)) {
      const p = path.join(dir, f);
      if (statSync(p).isDirectory()) {
        if (f !== "open") walk(p);
        continue;
      }
      const raw = new Uint8Array(readFileSync(p));
      // As the target does: the frame as is and with its checksums repaired.
      const fixed = raw.slice();
      fixChecksums(fixed);
      out.push({ name: path.relative(root, p), frame: raw }, { name: `${path.relative(root, p)} (checksums repaired)`, frame: fixed });
    }
  };
  walk(path.join(root, "corpora/wire-decode"));
  return out;
}

describe("wire-decode corpus against tshark", () => {
  const skip = tsharkMissingReason();
  it.skipIf(skip !== undefined)(`tshark finds nothing wrong in a frame netlab accepts${skip ? ` (skipped: ${skip})` : ""}`, () => {
    const accepted = corpusFrames().filter((x) => netlabAccepts(x.frame));
    expect(accepted.length).toBeGreaterThan(10);
    expect(accepted.filter((x) => x.frame[12] === 0x86 && x.frame[13] === 0xdd).length, "IPv6 frames accepted").toBeGreaterThan(10);
    const bytes = createByteCollector();
    const w = createPcapWriter(bytes.write, {});
    const id = w.addInterface({});
    accepted.forEach((x, k) => w.record({ interfaceId: id, timestampMs: k, data: x.frame }));
    const dir = mkdtempSync(path.join(os.tmpdir(), "netlab-tshark-corpus-"));
    try {
      const file = path.join(dir, "accepted.pcap");
      writeFileSync(file, bytes.bytes());
      const fields = [
        "frame.number",
        "_ws.col.Info",
        "_ws.malformed",
        "ip.checksum.status",
        "tcp.checksum.status",
        "udp.checksum.status",
        "icmpv6.checksum.status",
        "_ws.expert.message",
        "_ws.expert.severity",
      ];
      const bad = tsharkFields(file, fields, `${TSHARK_WELLFORMED_FILTER} || icmpv6.checksum.status == "Bad"`).filter(
        ([, , malformed, ipSum, tcpSum, udpSum, icmpv6Sum, messages, severities]) => {
          if ((malformed ?? "") !== "" || [ipSum, tcpSum, udpSum, icmpv6Sum].some((x) => x === "0" || x === "Bad")) return true;
          const sev = (severities ?? "").split(",").map(Number);
          return (messages ?? "").split(",").some((m, k) => sev[k] !== undefined && sev[k]! >= EXPERT_ERROR && !TSHARK_STRICTER.has(m));
        },
      );
      const named = bad.map(([n, info, , , , , , messages]) => `${accepted[Number(n) - 1]?.name ?? n}: ${info ?? ""} [${messages ?? ""}]`);
      expect(named, "frames netlab accepts that tshark calls malformed or bad").toEqual([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
