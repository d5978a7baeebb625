// The kernel target's packet codec: script-relative <-> real sequence numbers, ports and
// timestamps for one connection (as packetdrill maps them), inbound frames built from packet
// lines, outbound frames matched against them (a TSO super-segment may arrive as MSS-sized
// pieces in order). Interim: written before harness/drill/packets.ts landed; the kernel target
// only uses this interface, so it can be backed by packets.ts.
// createPacketCodec(addresses): the per-script codec.
import type { DrillTcpOption, DrillTcpPacket } from "./model.ts";
import { internetChecksum, pseudoHeaderSum, checksumAdd, checksumFinish } from "../../stack/wire/checksum.ts";

/** Addresses of the two sides. */
export interface CodecAddresses {
  readonly remoteMac: number;
  readonly kernelMac: number;
  readonly remoteIp: string;
  readonly kernelIp: string;
  /** packetdrill's port for bind (kernel side, passive) and connect (remote side, active). */
  readonly scriptPort: number;
}

/** Result of matching one frame against an expected packet. */
export type MatchResult = { ok: true; rest?: DrillTcpPacket } | { ok: false; reason: string };

/** Per-connection codec. */
export interface PacketCodec {
  buildInbound(p: DrillTcpPacket): { ok: true; frame: Uint8Array } | { ok: false; reason: string };
  matchOutbound(p: DrillTcpPacket, frame: Uint8Array): MatchResult;
  /** A frame decoded with both script-relative and real numbers. */
  describe(frame: Uint8Array): string;
  /** A packet line as written. */
  format(p: DrillTcpPacket): string;
}

const FLAG_BITS: Record<string, number> = { F: 0x01, S: 0x02, R: 0x04, P: 0x08, ".": 0x10, U: 0x20, E: 0x40, W: 0x80 };
const ECN_BITS = { noecn: 0, ect1: 1, ect0: 2, ce: 3 } as const;

function ipv4(s: string): number {
  return s.split(".").reduce((a, b) => ((a << 8) | Number(b)) >>> 0, 0);
}

function flagBits(flags: string): number {
  let n = 0;
  for (const c of flags) n |= FLAG_BITS[c] ?? 0;
  return n;
}

function flagText(bits: number): string {
  let s = "";
  for (const c of "SFRPUEW") if (bits & FLAG_BITS[c]!) s += c;
  if (bits & 0x10) s += ".";
  return s || "-";
}

interface ParsedTcp {
  src: number; dst: number; srcPort: number; dstPort: number; seq: number; ack: number; flags: number; window: number;
  urgent: number; tos: number; ttl: number; payloadLength: number; options: DrillTcpOption[];
}

function parseFrame(f: Uint8Array): ParsedTcp | string {
  const v = new DataView(f.buffer, f.byteOffset, f.byteLength);
  if (f.length < 34 || v.getUint16(12) !== 0x0800) return "not IPv4";
  const ihl = (f[14]! & 0x0f) * 4;
  const total = v.getUint16(16);
  if (f[23] !== 6) return `IPv4 protocol ${f[23]}`;
  const t = 14 + ihl;
  if (f.length < t + 20) return "truncated TCP";
  const doff = (f[t + 12]! >> 4) * 4;
  const options: DrillTcpOption[] = [];
  for (let o = t + 20; o < t + doff;) {
    const kind = f[o]!;
    if (kind === 0) { options.push({ kind: "eol" }); o++; continue; }
    if (kind === 1) { options.push({ kind: "nop" }); o++; continue; }
    const len = f[o + 1] ?? 0;
    if (len < 2) break;
    if (kind === 2) options.push({ kind: "mss", value: v.getUint16(o + 2) });
    else if (kind === 3) options.push({ kind: "wscale", value: f[o + 2]! });
    else if (kind === 4) options.push({ kind: "sackOK" });
    else if (kind === 8) options.push({ kind: "TS", val: v.getUint32(o + 2), ecr: v.getUint32(o + 6) });
    else if (kind === 5) {
      const blocks: Array<readonly [number, number]> = [];
      for (let b = o + 2; b + 8 <= o + len; b += 8) blocks.push([v.getUint32(b), v.getUint32(b + 4)]);
      options.push({ kind: "sack", blocks });
    } else options.push({ kind: "other", text: `kind ${kind}` });
    o += len;
  }
  return {
    src: v.getUint32(26), dst: v.getUint32(30), srcPort: v.getUint16(t), dstPort: v.getUint16(t + 2),
    seq: v.getUint32(t + 4), ack: v.getUint32(t + 8), flags: f[t + 13]!, window: v.getUint16(t + 14), urgent: v.getUint16(t + 18),
    tos: f[15]!, ttl: f[22]!, payloadLength: total - ihl - doff, options,
  };
}

function optionText(o: DrillTcpOption): string {
  switch (o.kind) {
    case "mss": return `mss ${o.value}`;
    case "wscale": return `wscale ${o.value}`;
    case "sackOK": return "sackOK";
    case "sack": return `sack ${o.blocks.map(([a, b]) => `${a}:${b}`).join(" ")}`;
    case "TS": return `TS val ${o.val} ecr ${o.ecr}`;
    case "nop": return "nop";
    case "eol": return "eol";
    case "any": return "...";
    case "other": return o.text;
  }
}

const u32 = (n: number): number => n >>> 0;

/** A codec for one script run. */
export function createPacketCodec(addr: CodecAddresses): PacketCodec {
  const remoteIp = ipv4(addr.remoteIp), kernelIp = ipv4(addr.kernelIp);
  // packetdrill's choices: the remote ISN is fixed per run; the kernel's is learned from its SYN.
  const remoteIsn = 0x3a1b2c00;
  let kernelIsn: number | undefined;
  let kernelPort: number | undefined;
  let remotePort: number | undefined;
  let tsOffset: number | undefined;
  let ident = 1;

  const format = (p: DrillTcpPacket): string => {
    let s = `${p.direction === "inbound" ? "<" : ">"} ${p.flags}`;
    if (p.seq) s += ` ${p.seq.start}:${p.seq.end}(${p.seq.length})`;
    if (p.ack !== undefined) s += ` ack ${p.ack}`;
    if (p.window !== undefined) s += ` win ${p.window}`;
    if (p.options) s += ` <${p.options.map(optionText).join(",")}>`;
    return s;
  };

  const describe = (frame: Uint8Array): string => {
    const t = parseFrame(frame);
    if (typeof t === "string") return t;
    const out = t.src === kernelIp;
    const seqBase = out ? kernelIsn : remoteIsn;
    const ackBase = out ? remoteIsn : kernelIsn;
    const rel = (n: number, b: number | undefined): string => (b === undefined ? `?` : String(u32(n - b)));
    let s = `${out ? ">" : "<"} ${flagText(t.flags)} ${rel(t.seq, seqBase)}:${rel(t.seq + t.payloadLength, seqBase)}(${t.payloadLength})`;
    if (t.flags & 0x10) s += ` ack ${rel(t.ack, ackBase)}`;
    s += ` win ${t.window}`;
    if (t.options.length) s += ` <${t.options.map(optionText).join(",")}>`;
    s += ` [real seq ${t.seq} ack ${t.ack}, ports ${t.srcPort}>${t.dstPort}]`;
    return s;
  };

  const buildInbound = (p: DrillTcpPacket): { ok: true; frame: Uint8Array } | { ok: false; reason: string } => {
    if (remotePort === undefined) {
      // Passive open: the remote side connects to the script port from an ephemeral port.
      remotePort = 40000 + Math.floor(Math.random() * 20000);
      kernelPort = addr.scriptPort;
    }
    const flags = flagBits(p.flags);
    if ((flags & 0x10) && p.ack !== undefined && kernelIsn === undefined) {
      return { ok: false, reason: `${format(p)}: an ACK before the kernel sent its SYN (its ISN is unknown)` };
    }
    const opts: number[] = [];
    for (const o of p.options ?? []) {
      switch (o.kind) {
        case "mss": opts.push(2, 4, o.value >> 8, o.value & 0xff); break;
        case "wscale": opts.push(3, 3, o.value); break;
        case "sackOK": opts.push(4, 2); break;
        case "nop": opts.push(1); break;
        case "eol": opts.push(0); break;
        case "TS": {
          const ecr = o.ecr === 0 ? 0 : u32(o.ecr + (tsOffset ?? 0));
          opts.push(8, 10, ...be32(o.val), ...be32(ecr));
          break;
        }
        case "sack":
          opts.push(5, 2 + 8 * o.blocks.length);
          for (const [a, b] of o.blocks) opts.push(...be32(u32(a + (kernelIsn ?? 0))), ...be32(u32(b + (kernelIsn ?? 0))));
          break;
        default: return { ok: false, reason: `${format(p)}: option ${optionText(o)} cannot be sent` };
      }
    }
    while (opts.length % 4) opts.push(0);
    const payload = p.seq?.length ?? 0;
    const tcpLen = 20 + opts.length + payload;
    const f = new Uint8Array(14 + 20 + tcpLen);
    const v = new DataView(f.buffer);
    v.setUint16(0, Math.floor(addr.kernelMac / 0x100000000)); v.setUint32(2, addr.kernelMac >>> 0);
    v.setUint16(6, Math.floor(addr.remoteMac / 0x100000000)); v.setUint32(8, addr.remoteMac >>> 0);
    v.setUint16(12, 0x0800);
    f[14] = 0x45;
    f[15] = (p.tos ?? 0) | (p.ecn && p.ecn !== "ect01" ? ECN_BITS[p.ecn] : 0);
    v.setUint16(16, 20 + tcpLen);
    v.setUint16(18, ident++ & 0xffff);
    v.setUint16(20, 0x4000);
    f[22] = p.ttl ?? 64;
    f[23] = 6;
    v.setUint32(26, remoteIp); v.setUint32(30, kernelIp);
    v.setUint16(24, internetChecksum(f.subarray(14, 34)));
    const t = 34;
    v.setUint16(t, remotePort); v.setUint16(t + 2, kernelPort ?? addr.scriptPort);
    v.setUint32(t + 4, u32(remoteIsn + (p.seq?.start ?? 0)));
    v.setUint32(t + 8, (flags & 0x10) && p.ack !== undefined ? u32(p.ack + (kernelIsn ?? 0)) : 0);
    f[t + 12] = ((20 + opts.length) / 4) << 4;
    f[t + 13] = flags;
    v.setUint16(t + 14, p.window ?? 0);
    v.setUint16(t + 18, p.urgent ?? 0);
    f.set(opts, t + 20);
    const sum = checksumAdd(f.subarray(t, t + tcpLen), pseudoHeaderSum(remoteIp, kernelIp, 6, tcpLen));
    v.setUint16(t + 16, checksumFinish(sum));
    return { ok: true, frame: f };
  };

  const matchOutbound = (p: DrillTcpPacket, frame: Uint8Array): MatchResult => {
    const t = parseFrame(frame);
    if (typeof t === "string") return { ok: false, reason: t };
    if (t.src !== kernelIp || t.dst !== remoteIp) return { ok: false, reason: "not from the kernel's address to the remote's" };
    if (kernelPort === undefined) kernelPort = t.srcPort;
    if (remotePort === undefined) remotePort = t.dstPort;
    if (t.srcPort !== kernelPort || t.dstPort !== remotePort) return { ok: false, reason: `ports ${t.srcPort}>${t.dstPort}, expected ${kernelPort}>${remotePort}` };
    const want = flagBits(p.flags);
    if (t.flags !== want) return { ok: false, reason: `flags ${flagText(t.flags)}, expected ${p.flags}` };
    if ((t.flags & 0x02) && kernelIsn === undefined) kernelIsn = u32(t.seq - (p.seq?.start ?? 0));
    if (kernelIsn === undefined) return { ok: false, reason: "a non-SYN packet before the kernel's SYN" };
    let rest: DrillTcpPacket | undefined;
    if (p.seq) {
      const start = u32(t.seq - kernelIsn);
      if (start !== u32(p.seq.start)) return { ok: false, reason: `seq ${start}, expected ${p.seq.start}` };
      if (t.payloadLength !== p.seq.length) {
        // A TSO super-segment in the script arrives as its pieces, in order.
        if (t.payloadLength > 0 && t.payloadLength < p.seq.length && !(t.flags & 0x01)) {
          const next = p.seq.start + t.payloadLength;
          rest = { ...p, seq: { start: next, end: p.seq.end, length: p.seq.length - t.payloadLength } };
        } else {
          return { ok: false, reason: `length ${t.payloadLength}, expected ${p.seq.length}` };
        }
      }
    }
    if (p.ack !== undefined) {
      const ack = u32(t.ack - remoteIsn);
      if (ack !== u32(p.ack)) return { ok: false, reason: `ack ${ack}, expected ${p.ack}` };
    }
    if (p.window !== undefined && t.window !== p.window) return { ok: false, reason: `win ${t.window}, expected ${p.window}` };
    if (p.urgent !== undefined && t.urgent !== p.urgent) return { ok: false, reason: `urg ${t.urgent}, expected ${p.urgent}` };
    if (p.ecn !== undefined) {
      const e = t.tos & 3;
      const okEcn = p.ecn === "ect01" ? e === 1 || e === 2 : e === ECN_BITS[p.ecn];
      if (!okEcn) return { ok: false, reason: `ECN field ${e}, expected ${p.ecn}` };
    }
    if (p.tos !== undefined && (t.tos & ~3) !== (p.tos & ~3)) return { ok: false, reason: `tos 0x${t.tos.toString(16)}, expected 0x${p.tos.toString(16)}` };
    if (p.ttl !== undefined && t.ttl !== p.ttl) return { ok: false, reason: `ttl ${t.ttl}, expected ${p.ttl}` };
    if (p.options !== undefined && !p.options.some((o) => o.kind === "any")) {
      const got = t.options;
      if (got.length !== p.options.length) return { ok: false, reason: `options <${got.map(optionText).join(",")}>, expected <${p.options.map(optionText).join(",")}>` };
      for (let k = 0; k < got.length; k++) {
        const g = got[k]!, w = p.options[k]!;
        const bad = (): MatchResult => ({ ok: false, reason: `option ${k + 1}: ${optionText(g)}, expected ${optionText(w)}` });
        if (g.kind !== w.kind) return bad();
        if (g.kind === "mss" && w.kind === "mss" && g.value !== w.value) return bad();
        if (g.kind === "wscale" && w.kind === "wscale" && g.value !== w.value) return bad();
        if (g.kind === "TS" && w.kind === "TS") {
          // packetdrill learns the kernel's TS clock from its first TS val; vals are not checked.
          if (tsOffset === undefined) tsOffset = u32(g.val - w.val);
          if (g.ecr !== u32(w.ecr)) return { ok: false, reason: `TS ecr ${g.ecr}, expected ${w.ecr}` };
        }
        if (g.kind === "sack" && w.kind === "sack") {
          const rel = g.blocks.map(([a, b]) => `${u32(a - remoteIsn)}:${u32(b - remoteIsn)}`).join(" ");
          const exp = w.blocks.map(([a, b]) => `${a}:${b}`).join(" ");
          if (rel !== exp) return { ok: false, reason: `sack ${rel}, expected ${exp}` };
        }
      }
    }
    return rest ? { ok: true, rest } : { ok: true };
  };

  return { buildInbound, matchOutbound, describe, format };
}

function be32(n: number): number[] {
  return [(n >>> 24) & 0xff, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff];
}
