// Field-by-field comparison of frames for conversation and golden replay. dissect() turns a
// frame into an ordered list of named fields with stack/wire's parsers; diffFields() compares
// two dissections and names every field that differs. What "field by field" covers:
//   eth:  dst, src, type, frame length
//   arp:  op, sender mac/ip, target mac/ip
//   ipv4: tos, length, ident, df, mf, fragment offset, ttl, protocol, src, dst, options;
//         the header checksum is compared as its verdict (valid/bad), not its value
//   icmp: type, code, ident, seq, data; checksum verdict
//   udp:  ports, length, checksum verdict ("absent" for 0); payload, or for ports 67/68 the
//         DHCP fields op, htype, hlen, hops, xid, secs, flags, ciaddr, yiaddr, siaddr, giaddr,
//         chaddr, sname, file and every option by code (hex)
//   tcp:  ports, seq, ack, flags, window, urgent, options (mss, wscale, sack-permitted, TSval,
//         TSecr, SACK blocks), payload (length, first differing byte); checksum verdict
// Undecodable frames fall back to their bytes.
//   dissect(frame)            -> Dissection
//   diffFields(exp, got, tol) -> FieldDiff[]
//   describeFrame(d)          one line ("tcp 192.0.2.2:80 > 192.0.2.1:41000 [S.] seq 1 ack 2 len 0")
import {
  ETHERTYPE_ARP,
  ETHERTYPE_IPV4,
  IP_PROTOCOL_ICMP,
  IP_PROTOCOL_TCP,
  IP_PROTOCOL_UDP,
  formatIpv4,
  formatMac,
  parseArp,
  parseDhcp,
  parseEthernet,
  parseIcmp,
  parseIpv4,
  parseUdp,
  ethernetHeaderLength,
  ipv4HeaderLength,
  Ipv4Packet,
  UdpPacket,
  IcmpPacket,
} from "../../stack/wire/index.ts";
import { parseTcp, verifyTcpChecksum, TCP_FLAG_ACK, TCP_FLAG_FIN, TCP_FLAG_PSH, TCP_FLAG_RST, TCP_FLAG_SYN, TCP_FLAG_URG } from "../../stack/wire/tcp.ts";
import { isDhcpPorts } from "./decode.ts";

/** A field's value. Bytes compare by content. */
export type FieldValue = number | string | boolean | Uint8Array;

/** A frame as named fields, plus what identifies its flow. */
export interface Dissection {
  readonly fields: Map<string, FieldValue>;
  /** "tcp"/"udp"/"icmp"/"arp"/"ipv4"/"other". */
  readonly kind: string;
  /** Flow key from the frame's point of view: "src:sport>dst:dport" (TCP/UDP). */
  readonly flow?: string;
}

/** One differing field. */
export interface FieldDiff {
  readonly field: string;
  readonly expected: string;
  readonly got: string;
}

const hex = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString("hex");

/** TCP flags in tcpdump's letters (S F R P U and . for ACK). */
export function tcpFlagString(flags: number): string {
  let s = "";
  if (flags & TCP_FLAG_SYN) s += "S";
  if (flags & TCP_FLAG_FIN) s += "F";
  if (flags & TCP_FLAG_RST) s += "R";
  if (flags & TCP_FLAG_PSH) s += "P";
  if (flags & TCP_FLAG_URG) s += "U";
  if (flags & TCP_FLAG_ACK) s += ".";
  return s === "" ? "none" : s;
}

/** Splits a frame into named fields. */
export function dissect(data: Uint8Array): Dissection {
  const f = new Map<string, FieldValue>();
  const eth = parseEthernet(data);
  if (!eth.ok) {
    f.set("frame.bytes", data);
    return { fields: f, kind: "other" };
  }
  f.set("eth.dst", formatMac(eth.value.dst));
  f.set("eth.src", formatMac(eth.value.src));
  f.set("eth.type", `0x${eth.value.ethertype.toString(16).padStart(4, "0")}`);
  f.set("frame.length", data.length);
  const l3 = data.subarray(ethernetHeaderLength(eth.value));
  if (eth.value.ethertype === ETHERTYPE_ARP) {
    const arp = parseArp(l3);
    if (!arp.ok) {
      f.set("arp.bytes", l3);
      return { fields: f, kind: "arp" };
    }
    const a = arp.value;
    f.set("arp.op", a.operation);
    f.set("arp.sender-mac", formatMac(a.senderMac));
    f.set("arp.sender-ip", formatIpv4(a.senderIp));
    f.set("arp.target-mac", formatMac(a.targetMac));
    f.set("arp.target-ip", formatIpv4(a.targetIp));
    return { fields: f, kind: "arp" };
  }
  if (eth.value.ethertype !== ETHERTYPE_IPV4) {
    f.set("eth.payload", l3);
    return { fields: f, kind: "other" };
  }
  const ip = parseIpv4(l3, { verifyChecksum: false });
  if (!ip.ok) {
    f.set("ipv4.bytes", l3);
    return { fields: f, kind: "ipv4" };
  }
  const r = ip.value;
  const hl = ipv4HeaderLength(r);
  f.set("ipv4.tos", r.tos);
  f.set("ipv4.length", hl + r.payloadLength);
  f.set("ipv4.ident", r.ident);
  f.set("ipv4.df", r.dontFragment);
  f.set("ipv4.mf", r.moreFragments);
  f.set("ipv4.frag-offset", r.fragmentOffset);
  f.set("ipv4.ttl", r.ttl);
  f.set("ipv4.protocol", r.protocol);
  f.set("ipv4.src", formatIpv4(r.src));
  f.set("ipv4.dst", formatIpv4(r.dst));
  if (r.options.length > 0) f.set("ipv4.options", r.options);
  f.set("ipv4.checksum", new Ipv4Packet(l3).verifyChecksum() ? "valid" : "bad");
  const body = l3.subarray(hl, hl + r.payloadLength);
  if (r.moreFragments || r.fragmentOffset !== 0) {
    f.set("ipv4.payload", body);
    return { fields: f, kind: "ipv4" };
  }
  const src = formatIpv4(r.src),
    dst = formatIpv4(r.dst);
  if (r.protocol === IP_PROTOCOL_ICMP) {
    const icmp = parseIcmp(body, { verifyChecksum: false });
    if (!icmp.ok) {
      f.set("icmp.bytes", body);
      return { fields: f, kind: "icmp" };
    }
    const p = new IcmpPacket(body);
    f.set("icmp.type", p.type);
    f.set("icmp.code", p.code);
    const m = icmp.value;
    if (m.kind === "echo-request" || m.kind === "echo-reply") {
      f.set("icmp.ident", m.ident);
      f.set("icmp.seq", m.seq);
      f.set("icmp.data", m.data);
    } else {
      f.set("icmp.rest", body.subarray(4));
    }
    f.set("icmp.checksum", p.verifyChecksum() ? "valid" : "bad");
    return { fields: f, kind: "icmp" };
  }
  if (r.protocol === IP_PROTOCOL_UDP) {
    const udp = parseUdp(body, r.src, r.dst, { verifyChecksum: false });
    if (!udp.ok) {
      f.set("udp.bytes", body);
      return { fields: f, kind: "udp" };
    }
    const u = udp.value;
    const p = new UdpPacket(body);
    f.set("udp.src-port", u.srcPort);
    f.set("udp.dst-port", u.dstPort);
    f.set("udp.length", p.length);
    f.set("udp.checksum", p.checksum === 0 ? "absent" : p.verifyChecksum(r.src, r.dst) ? "valid" : "bad");
    const flow = `${src}:${u.srcPort}>${dst}:${u.dstPort}`;
    if (isDhcpPorts(u.srcPort, u.dstPort)) {
      const d = parseDhcp(u.payload);
      if (d.ok) {
        const m = d.value;
        f.set("dhcp.op", m.op);
        f.set("dhcp.htype", m.htype);
        f.set("dhcp.hlen", m.chaddr.length);
        f.set("dhcp.hops", m.hops);
        f.set("dhcp.xid", m.xid);
        f.set("dhcp.secs", m.secs);
        f.set("dhcp.flags", m.flags);
        f.set("dhcp.ciaddr", formatIpv4(m.ciaddr));
        f.set("dhcp.yiaddr", formatIpv4(m.yiaddr));
        f.set("dhcp.siaddr", formatIpv4(m.siaddr));
        f.set("dhcp.giaddr", formatIpv4(m.giaddr));
        f.set("dhcp.chaddr", m.chaddr);
        f.set("dhcp.sname", m.sname);
        f.set("dhcp.file", m.file);
        f.set("dhcp.options", m.options.map((o) => o.code).join(","));
        for (const o of m.options) f.set(`dhcp.option.${o.code}`, o.data);
        return { fields: f, kind: "udp", flow };
      }
    }
    f.set("udp.payload", u.payload);
    return { fields: f, kind: "udp", flow };
  }
  if (r.protocol === IP_PROTOCOL_TCP) {
    const tcp = parseTcp(body);
    if (!tcp.ok) {
      f.set("tcp.bytes", body);
      return { fields: f, kind: "tcp" };
    }
    const t = tcp.value;
    f.set("tcp.src-port", t.srcPort);
    f.set("tcp.dst-port", t.dstPort);
    f.set("tcp.seq", t.seq);
    f.set("tcp.ack", t.ack);
    f.set("tcp.flags", tcpFlagString(t.flags));
    f.set("tcp.window", t.window);
    f.set("tcp.urgent", t.urgent);
    const o = t.options;
    if (o.mss !== undefined) f.set("tcp.option.mss", o.mss);
    if (o.windowScale !== undefined) f.set("tcp.option.wscale", o.windowScale);
    if (o.sackPermitted) f.set("tcp.option.sack-permitted", true);
    if (o.tsVal !== undefined) f.set("tcp.option.tsval", o.tsVal);
    if (o.tsEcr !== undefined) f.set("tcp.option.tsecr", o.tsEcr);
    if (o.sackBlocks !== undefined)
      o.sackBlocks.forEach((b, i) => {
        f.set(`tcp.option.sack.${i}.left`, b.left);
        f.set(`tcp.option.sack.${i}.right`, b.right);
      });
    f.set("tcp.payload.length", t.payload.length);
    f.set("tcp.payload", t.payload);
    f.set("tcp.checksum", verifyTcpChecksum(body, r.src, r.dst) ? "valid" : "bad");
    return { fields: f, kind: "tcp", flow: `${src}:${t.srcPort}>${dst}:${t.dstPort}` };
  }
  f.set("ipv4.payload", body);
  return { fields: f, kind: "ipv4" };
}

function show(v: FieldValue | undefined): string {
  if (v === undefined) return "(absent)";
  if (v instanceof Uint8Array) return v.length <= 16 ? `${v.length} bytes ${hex(v)}` : `${v.length} bytes ${hex(v.subarray(0, 16))}…`;
  return String(v);
}

function bytesDiff(field: string, a: Uint8Array, b: Uint8Array): FieldDiff | undefined {
  const n = Math.min(a.length, b.length);
  let i = 0;
  while (i < n && a[i] === b[i]) i++;
  if (i === n && a.length === b.length) return undefined;
  if (i === n) return { field, expected: `${a.length} bytes`, got: `${b.length} bytes (equal up to ${n})` };
  const printable = (x: Uint8Array): string => {
    const s = Buffer.from(x.buffer, x.byteOffset + i, Math.min(24, x.length - i)).toString("latin1");
    return /^[\x20-\x7e\r\n\t]*$/.test(s) ? JSON.stringify(s) : hex(x.subarray(i, i + 12));
  };
  return { field: `${field}[${i}]`, expected: printable(a), got: printable(b) };
}

/** Per-field numeric tolerances (|expected - got| <= tolerance is equal). */
export type Tolerances = ReadonlyMap<string, number>;

/** Fields of `expected` and `got` that differ, in the order of the expected frame. */
export function diffFields(expected: Dissection, got: Dissection, tolerances: Tolerances = new Map()): FieldDiff[] {
  const out: FieldDiff[] = [];
  const keys = [...expected.fields.keys()];
  for (const k of got.fields.keys()) if (!expected.fields.has(k)) keys.push(k);
  for (const k of keys) {
    const a = expected.fields.get(k),
      b = got.fields.get(k);
    if (a instanceof Uint8Array && b instanceof Uint8Array) {
      const d = bytesDiff(k, a, b);
      if (d) out.push(d);
      continue;
    }
    if (a === b) continue;
    const tol = tolerances.get(k);
    if (tol !== undefined && typeof a === "number" && typeof b === "number" && Math.abs((a - b) | 0) <= tol) continue;
    out.push({ field: k, expected: show(a), got: show(b) });
  }
  return out;
}

/** One line describing a dissected frame. */
export function describeFrame(d: Dissection): string {
  const f = d.fields;
  switch (d.kind) {
    case "tcp":
      return `tcp ${f.get("ipv4.src")}:${f.get("tcp.src-port")} > ${f.get("ipv4.dst")}:${f.get("tcp.dst-port")} [${f.get("tcp.flags")}] seq ${f.get("tcp.seq")} ack ${f.get("tcp.ack")} win ${f.get("tcp.window")} len ${f.get("tcp.payload.length")}`;
    case "udp":
      return f.has("dhcp.xid")
        ? `dhcp ${f.get("ipv4.src")} > ${f.get("ipv4.dst")} type ${show(f.get("dhcp.option.53"))} xid 0x${(f.get("dhcp.xid") as number).toString(16)}`
        : `udp ${f.get("ipv4.src")}:${f.get("udp.src-port")} > ${f.get("ipv4.dst")}:${f.get("udp.dst-port")} len ${f.get("udp.length")}`;
    case "icmp":
      return `icmp ${f.get("ipv4.src")} > ${f.get("ipv4.dst")} type ${f.get("icmp.type")} code ${f.get("icmp.code")}${f.has("icmp.seq") ? ` id ${f.get("icmp.ident")} seq ${f.get("icmp.seq")}` : ""}`;
    case "arp":
      return `arp ${f.get("arp.op")} ${f.get("arp.sender-ip")} (${f.get("arp.sender-mac")}) > ${f.get("arp.target-ip")}`;
    case "ipv4":
      return `ipv4 ${f.get("ipv4.src")} > ${f.get("ipv4.dst")} proto ${f.get("ipv4.protocol")}`;
    default:
      return `frame of ${show(f.get("frame.bytes") ?? f.get("frame.length"))}`;
  }
}
