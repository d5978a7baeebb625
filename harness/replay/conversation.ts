// Conversation mode: netlab takes the role of one captured endpoint. Frames the endpoint
// received are fed to a fresh netlab endpoint (same configuration and seed as recorded) at
// their captured times on a VirtualClock; the frames netlab sends are compared, in order,
// field by field (compare.ts) with the frames the endpoint sent in the capture, after the
// declared normalisations (expect.ts NORMALISATIONS):
//   tcp-isn         per connection, offset = netlab's ISN - captured ISN (learned from netlab's
//                   SYN or SYN-ACK); netlab's seq is compared minus the offset, and the peer's
//                   ack and SACK blocks are rewritten plus the offset before they are fed
//   tcp-timestamps  TSval is clock-driven, and a recorded endpoint spent real time computing
//                   (JIT warm-up: its first SYN-ACK may leave 10 ms after the SYN) that virtual
//                   time does not pass; so TSval is compared as "TSval - floor(send time)" (the
//                   per-connection clock offset), mapped back to captured values, within ±
//                   tsToleranceMs; the peer's TSecr is rewritten to the TSval netlab actually
//                   sent in the frame paired with the captured one it echoes
//   dhcp-xid        netlab's n-th transaction id maps to the captured n-th; the peer's replies
//                   are rewritten to netlab's xid before they are fed
//   ip-id, tcp-window, dhcp-secs   not compared; http-date  Date header values masked
//   offload-checksums  checksum verdicts not compared; fed frames marked dataValidated
// Fed frames that were rewritten get fresh checksums. Nothing else is tolerated: a frame
// netlab sends that the capture lacks (or the reverse) is a diff on field "frame".
//   replayConversation(capture, expectation, options) -> ModeReport
import { createRng, createVirtualClock, type Clock } from "../../stack/time.ts";
import type { Frame, NetDevice } from "../../stack/link/types.ts";
import { NO_OFFLOADS } from "../../stack/link/types.ts";
import { createByteCollector, createPcapngWriter, type ParsedCapture } from "../../stack/link/pcap/index.ts";
import {
  ETHERTYPE_IPV4,
  IP_PROTOCOL_TCP,
  IP_PROTOCOL_UDP,
  UDP_HEADER_LEN,
  UdpPacket,
  ethernetHeaderLength,
  formatIpv4,
  parseEthernet,
  parseIpv4,
  parseMac,
  readMac,
  ipv4HeaderLength,
  DHCP_XID,
  checksumAdd,
  checksumFinish,
  pseudoHeaderSum,
} from "../../stack/wire/index.ts";
import { TcpPacket, TCP_FLAG_ACK, TCP_OPT_EOL, TCP_OPT_NOP, TCP_OPT_SACK, TCP_OPT_TIMESTAMP, tcpChecksum } from "../../stack/wire/tcp.ts";
import { writeCaptureFile } from "../pcap/files.ts";
import { describeFrame, diffFields, dissect, type Dissection, type FieldValue } from "./compare.ts";
import { buildEndpoint } from "./endpoint.ts";
import type { Expectation } from "./expect.ts";
import { isDhcpPorts } from "./decode.ts";
import type { ModeReport, ReplayDiff } from "./report.ts";
import { NetlabError } from "../../stack/error.ts";

/** Options of replayConversation. */
export interface ConversationOptions {
  /** Where netlab's side is written (pcapng). */
  readonly netlabPcap: string;
  /** Diffs kept in the report (default 50). */
  readonly maxDiffs?: number;
}

const MAX_TIMERS_PER_GAP = 100_000;

/** Per connection: offsets (netlab - captured) of the ISN and of the SYN's TSval. */
interface Offsets {
  isn: number;
  ts: number | undefined;
}

const u32 = (n: number): number => n >>> 0;

/** Where the TCP segment and the UDP datagram of an IPv4 frame start (or undefined). */
function l4(data: Uint8Array): { ipOff: number; l4Off: number; l4Len: number; protocol: number; src: number; dst: number } | undefined {
  const eth = parseEthernet(data);
  if (!eth.ok || eth.value.ethertype !== ETHERTYPE_IPV4) return undefined;
  const ipOff = ethernetHeaderLength(eth.value);
  const ip = parseIpv4(data.subarray(ipOff), { verifyChecksum: false });
  if (!ip.ok || ip.value.moreFragments || ip.value.fragmentOffset !== 0) return undefined;
  const l4Off = ipOff + ipv4HeaderLength(ip.value);
  return { ipOff, l4Off, l4Len: ip.value.payloadLength, protocol: ip.value.protocol, src: ip.value.src, dst: ip.value.dst };
}

function tcpFlow(src: number, sport: number, dst: number, dport: number): string {
  return `${formatIpv4(src)}:${sport}>${formatIpv4(dst)}:${dport}`;
}

/** Adds `delta` to the SACK block edges and maps a nonzero TSecr in raw TCP option bytes. */
function rewriteTcpOptions(opts: Uint8Array, delta: number, mapEcr: ((ecr: number) => number) | undefined): void {
  const v = new DataView(opts.buffer, opts.byteOffset, opts.byteLength);
  let i = 0;
  while (i < opts.length) {
    const kind = opts[i]!;
    if (kind === TCP_OPT_EOL) return;
    if (kind === TCP_OPT_NOP) {
      i++;
      continue;
    }
    const len = opts[i + 1];
    if (len === undefined || len < 2 || i + len > opts.length) return;
    if (kind === TCP_OPT_SACK) {
      for (let j = i + 2; j + 8 <= i + len; j += 4) v.setUint32(j, u32(v.getUint32(j) + delta));
    } else if (kind === TCP_OPT_TIMESTAMP && len === 10 && mapEcr !== undefined) {
      const ecr = v.getUint32(i + 6);
      if (ecr !== 0) v.setUint32(i + 6, mapEcr(ecr));
    }
    i += len;
  }
}

/** Replays `capture` with netlab as the expectation's endpoint. */
export async function replayConversation(capture: ParsedCapture, exp: Expectation, options: ConversationOptions): Promise<ModeReport> {
  const started = performance.now();
  const conv = exp.conversation!;
  const ep = exp.endpoint!;
  const maxDiffs = options.maxDiffs ?? 50;
  const norm = new Set(conv.normalise);
  const macR = parseMac(ep.mac);
  if (!macR.ok) throw new NetlabError("ERR_REPLAY_EXPECTATION", `bad endpoint MAC ${ep.mac}`);
  const mac = macR.value;

  // Split the capture into what the endpoint sent (to compare) and what it received (to feed).
  const outbound: { index: number; at: number; data: Uint8Array }[] = [];
  const inbound: { index: number; at: number; data: Uint8Array; batch: string | undefined }[] = [];
  const capturedSyn = new Map<string, { isn: number; tsVal: number | undefined }>();
  const capturedXids: number[] = [];
  capture.packets.forEach((p, i) => {
    const isOut = p.data.length >= 12 && readMac(p.data, 6) === mac;
    if (!isOut) {
      inbound.push({ index: i, at: p.timestampMs - conv.epochMs, data: p.data, batch: p.comments?.find((c) => c.startsWith("batch "))?.slice(6) });
      return;
    }
    outbound.push({ index: i, at: p.timestampMs - conv.epochMs, data: p.data });
    const d = dissect(p.data);
    if (d.kind === "tcp" && d.flow !== undefined && String(d.fields.get("tcp.flags")).includes("S") && !capturedSyn.has(d.flow)) {
      const ts = d.fields.get("tcp.option.tsval");
      capturedSyn.set(d.flow, { isn: d.fields.get("tcp.seq") as number, tsVal: typeof ts === "number" ? ts : undefined });
    }
    const xid = d.fields.get("dhcp.xid");
    if (typeof xid === "number" && !capturedXids.includes(xid)) capturedXids.push(xid);
  });

  // netlab on a replay device, virtual clock starting where the recorded endpoint started. The
  // endpoint's clock never goes back: inside a batch it shows each frame's time while timers
  // wait (the recording's event loop was busy), and those timers then fire at the batch's end.
  const vclock = createVirtualClock(conv.clockStartMs);
  let floor = conv.clockStartMs;
  const clock: Clock = {
    now: () => Math.max(vclock.now(), floor),
    setTimer: (at, fn) => vclock.setTimer(at, fn),
    cancel: (id) => vclock.cancel(id),
  };
  const sent: { at: number; data: Uint8Array }[] = [];
  const offsets = new Map<string, Offsets>();
  const xidMap = new Map<number, number>(); // netlab xid -> captured xid
  const xidBack = new Map<number, number>(); // captured xid -> netlab xid
  const tsMap = new Map<number, number>(); // captured TSval -> netlab's TSval in the paired frame
  const learn = (data: Uint8Array): void => {
    const d = dissect(data);
    const paired = outbound[sent.length - 1];
    const gotTs = d.fields.get("tcp.option.tsval");
    if (paired !== undefined && typeof gotTs === "number") {
      const capTs = dissect(paired.data).fields.get("tcp.option.tsval");
      if (typeof capTs === "number") tsMap.set(capTs, gotTs);
    }
    if (d.kind === "tcp" && d.flow !== undefined && String(d.fields.get("tcp.flags")).includes("S") && !offsets.has(d.flow)) {
      const cap = capturedSyn.get(d.flow);
      if (cap !== undefined) {
        const ts = d.fields.get("tcp.option.tsval");
        const hasTs = typeof ts === "number" && cap.tsVal !== undefined;
        offsets.set(d.flow, {
          isn: u32((d.fields.get("tcp.seq") as number) - cap.isn),
          ts: hasTs ? u32((ts as number) - cap.tsVal!) : undefined,
        });
      }
    }
    const xid = d.fields.get("dhcp.xid");
    if (typeof xid === "number" && !xidMap.has(xid)) {
      const capturedXid = capturedXids[xidMap.size];
      if (capturedXid !== undefined) {
        xidMap.set(xid, capturedXid);
        xidBack.set(capturedXid, xid);
      }
    }
  };
  let receive: (f: Frame) => void = () => undefined;
  const device: NetDevice = {
    mac,
    mtu: 1500,
    offloads: NO_OFFLOADS,
    send(frame) {
      const data = frame.data.slice();
      sent.push({ at: clock.now(), data });
      learn(data);
    },
    onReceive(handler) {
      receive = handler;
    },
  };
  const endpoint = buildEndpoint({ device, clock, rng: createRng(ep.seed) }, ep, { epochMs: conv.epochMs });

  // Inbound frames, rewritten into netlab's number spaces where declared.
  const fed: { at: number; data: Uint8Array; direction: "in" | "out" }[] = [];
  const rewrite = (data: Uint8Array): Uint8Array => {
    const at = l4(data);
    if (at === undefined) return data;
    if (at.protocol === IP_PROTOCOL_TCP && (norm.has("tcp-isn") || norm.has("tcp-timestamps"))) {
      const seg = new TcpPacket(data.subarray(at.l4Off, at.l4Off + at.l4Len));
      if (!seg.checkLen().ok) return data;
      const o = offsets.get(tcpFlow(at.dst, seg.dstPort, at.src, seg.srcPort));
      if (o === undefined) return data;
      const copy = data.slice();
      const s = new TcpPacket(copy.subarray(at.l4Off, at.l4Off + at.l4Len));
      const delta = norm.has("tcp-isn") ? o.isn : 0;
      if ((s.flags & TCP_FLAG_ACK) !== 0) s.ack = u32(s.ack + delta);
      rewriteTcpOptions(s.optionBytes, delta, norm.has("tcp-timestamps") ? (ecr) => tsMap.get(ecr) ?? u32(ecr + (o.ts ?? 0)) : undefined);
      s.checksum = 0;
      s.checksum = tcpChecksum(s.bytes, at.src, at.dst);
      return copy;
    }
    if (at.protocol === IP_PROTOCOL_UDP && norm.has("dhcp-xid")) {
      const u = new UdpPacket(data.subarray(at.l4Off, at.l4Off + at.l4Len));
      if (!u.checkLen().ok || !isDhcpPorts(u.srcPort, u.dstPort) || u.length < UDP_HEADER_LEN + DHCP_XID + 4) return data;
      const copy = data.slice();
      const c = new UdpPacket(copy.subarray(at.l4Off, at.l4Off + at.l4Len));
      const v = new DataView(c.bytes.buffer, c.bytes.byteOffset + UDP_HEADER_LEN + DHCP_XID, 4);
      const mapped = xidBack.get(v.getUint32(0));
      if (mapped === undefined) return data;
      v.setUint32(0, mapped);
      if (c.checksum !== 0) {
        c.checksum = 0;
        const sum = checksumFinish(checksumAdd(c.bytes.subarray(0, c.length), pseudoHeaderSum(at.src, at.dst, IP_PROTOCOL_UDP, c.length)));
        c.checksum = sum === 0 ? 0xffff : sum;
      }
      return copy;
    }
    return data;
  };

  let sentSeen = 0;
  const drainSent = (): void => {
    for (; sentSeen < sent.length; sentSeen++) fed.push({ ...sent[sentSeen]!, direction: "out" });
  };
  // Timers fire one at a time with promise callbacks run after each, as on the real event loop.
  const runUntil = async (t: number): Promise<void> => {
    for (let guard = 0; guard < MAX_TIMERS_PER_GAP; guard++) {
      const next = vclock.nextDeadline();
      if (next === undefined || next > t) break;
      vclock.run(next, 1);
      await new Promise((r) => setImmediate(r));
    }
    vclock.run(t);
  };
  // Frames of one recorded batch (pcapng comment "batch N") are fed back to back, with no
  // timers or promise turns between, each at its own time; other frames one event each.
  const sameBatch = (a: (typeof inbound)[number] | undefined, b: (typeof inbound)[number] | undefined): boolean =>
    a !== undefined && b !== undefined && a.batch !== undefined && a.batch === b.batch;
  for (const [k, f] of inbound.entries()) {
    if (sameBatch(inbound[k - 1], f)) floor = Math.max(floor, f.at);
    else await runUntil(Math.max(f.at, vclock.now()));
    drainSent();
    const data = rewrite(f.data);
    fed.push({ at: clock.now(), data, direction: "in" });
    receive(norm.has("offload-checksums") ? { data, offload: { dataValidated: true } } : { data });
    if (!sameBatch(f, inbound[k + 1])) await new Promise((r) => setImmediate(r));
    drainSent();
  }
  const last = capture.packets.length > 0 ? capture.packets[capture.packets.length - 1]!.timestampMs - conv.epochMs : conv.clockStartMs;
  await runUntil(Math.max(clock.now(), last) + conv.tailMs);
  await new Promise((r) => setImmediate(r));
  drainSent();
  endpoint.stop();

  // Compare netlab's frames with the captured ones, in order.
  const diffs: ReplayDiff[] = [];
  let diffCount = 0;
  let matched = 0;
  const tolerances = new Map<string, number>(norm.has("tcp-timestamps") ? [["tcp.option.tsval", conv.tsToleranceMs]] : []);
  const n = Math.max(outbound.length, sent.length);
  const tsFixed = tsClockOffsets(outbound, sent);
  for (let i = 0; i < n; i++) {
    const exp = outbound[i],
      got = sent[i];
    const e = exp === undefined ? undefined : dissect(exp.data);
    const g = got === undefined ? undefined : dissect(got.data);
    let frameDiffs;
    if (e === undefined || g === undefined) {
      frameDiffs = [{ field: "frame", expected: e === undefined ? "(no frame)" : describeFrame(e), got: g === undefined ? "(no frame)" : describeFrame(g) }];
    } else {
      normalise(e, g, { expectedAt: exp!.at, gotAt: got!.at }, norm, offsets, tsFixed, xidMap);
      frameDiffs = diffFields(e, g, tolerances);
    }
    if (frameDiffs.length === 0) {
      matched++;
      continue;
    }
    diffCount += frameDiffs.length;
    for (const d of frameDiffs) {
      if (diffs.length >= maxDiffs) break;
      diffs.push({
        frame: i,
        ...(exp !== undefined ? { captureFrame: exp.index + 1 } : {}),
        ...d,
        ...(e !== undefined ? { expectedFrame: describeFrame(e) } : {}),
        ...(g !== undefined ? { gotFrame: describeFrame(g) } : {}),
      });
    }
  }

  // netlab's side as fed and sent, in virtual time placed at the captured wall-clock times.
  const collector = createByteCollector();
  const writer = createPcapngWriter(collector.write, { timeOffsetMs: conv.epochMs });
  const iface = writer.addInterface({ name: "replay", description: `netlab as ${ep.mac} replaying ${exp.capture}` });
  for (const f of fed) writer.record({ interfaceId: iface, timestampMs: f.at, data: f.data, direction: f.direction });
  writeCaptureFile(options.netlabPcap, collector.bytes());

  const ok = diffCount === 0;
  const details = {
    isnOffsets: Object.fromEntries([...offsets].map(([flow, o]) => [flow, o.isn])),
    tsClockOffsets: Object.fromEntries(tsFixed),
    dhcpXids: Object.fromEntries([...xidMap].map(([mine, captured]) => [`0x${mine.toString(16)}`, `0x${captured.toString(16)}`])),
  };
  return {
    mode: "conversation",
    ok,
    frames: inbound.length + outbound.length,
    diffs,
    diffCount,
    netlabPcap: options.netlabPcap,
    details,
    summary:
      `${inbound.length} frames fed, ${matched}/${outbound.length} of netlab's frames match` +
      `${sent.length !== outbound.length ? ` (netlab sent ${sent.length})` : ""}${ok ? "" : `, ${diffCount} field diffs`}` +
      `${norm.size > 0 ? ` [normalised: ${[...norm].join(", ")}]` : ""}`,
    durationMs: performance.now() - started,
  };
}

const DATE_RE = /\r\nDate: [^\r]*\r\n/gi;

function maskHttpDate(f: Map<string, FieldValue>): void {
  const p = f.get("tcp.payload");
  if (!(p instanceof Uint8Array) || p.length === 0) return;
  const s = Buffer.from(p.buffer, p.byteOffset, p.byteLength).toString("latin1");
  if (!DATE_RE.test(s)) return;
  DATE_RE.lastIndex = 0;
  f.set(
    "tcp.payload",
    new Uint8Array(
      Buffer.from(
        s.replace(DATE_RE, (m) => `\r\nDate: ${"x".repeat(m.length - 10)}\r\n`),
        "latin1",
      ),
    ),
  );
}

/** Applies the declared normalisations to a captured (e) and a netlab (g) dissection. */
/**
 * Per flow, the most common difference between netlab's and the capture's TSval clock offsets
 * (TSval - floor(send time)) over the paired frames. A mode, not the SYN's value: a SYN's
 * TSval is taken when a (late-firing, real) timer calls connect but it leaves after ARP.
 */
function tsClockOffsets(expected: readonly { at: number; data: Uint8Array }[], got: readonly { at: number; data: Uint8Array }[]): Map<string, number> {
  const votes = new Map<string, Map<number, number>>();
  for (let i = 0; i < Math.min(expected.length, got.length); i++) {
    const e = dissect(expected[i]!.data),
      g = dissect(got[i]!.data);
    const te = e.fields.get("tcp.option.tsval"),
      tg = g.fields.get("tcp.option.tsval");
    if (g.flow === undefined || g.flow !== e.flow || typeof te !== "number" || typeof tg !== "number") continue;
    const d = u32(tg - Math.floor(got[i]!.at) - (te - Math.floor(expected[i]!.at)));
    const flowVotes = votes.get(g.flow) ?? new Map<number, number>();
    flowVotes.set(d, (flowVotes.get(d) ?? 0) + 1);
    votes.set(g.flow, flowVotes);
  }
  const out = new Map<string, number>();
  for (const [flow, flowVotes] of votes) {
    let best = 0,
      bestCount = -1;
    for (const [d, c] of flowVotes)
      if (c > bestCount) {
        best = d;
        bestCount = c;
      }
    out.set(flow, best);
  }
  return out;
}

function normalise(
  e: Dissection,
  g: Dissection,
  times: { expectedAt: number; gotAt: number },
  norm: ReadonlySet<string>,
  offsets: ReadonlyMap<string, Offsets>,
  tsFixed: ReadonlyMap<string, number>,
  xidMap: ReadonlyMap<number, number>,
): void {
  const drop = (k: string): void => {
    e.fields.delete(k);
    g.fields.delete(k);
  };
  if (norm.has("ip-id")) drop("ipv4.ident");
  if (norm.has("tcp-window")) drop("tcp.window");
  if (norm.has("dhcp-secs")) drop("dhcp.secs");
  if (norm.has("offload-checksums")) for (const k of ["ipv4.checksum", "icmp.checksum", "udp.checksum", "tcp.checksum"]) drop(k);
  if (norm.has("http-date")) {
    maskHttpDate(e.fields);
    maskHttpDate(g.fields);
  }
  if (g.kind === "tcp" && g.flow !== undefined) {
    const o = offsets.get(g.flow);
    if (o !== undefined) {
      const seq = g.fields.get("tcp.seq");
      if (norm.has("tcp-isn") && typeof seq === "number") g.fields.set("tcp.seq", u32(seq - o.isn));
    }
    const ts = g.fields.get("tcp.option.tsval");
    const fixed = tsFixed.get(g.flow);
    if (norm.has("tcp-timestamps") && typeof ts === "number" && fixed !== undefined) {
      g.fields.set("tcp.option.tsval", u32(ts - Math.floor(times.gotAt) + Math.floor(times.expectedAt) - fixed));
    }
  }
  const xid = g.fields.get("dhcp.xid");
  if (norm.has("dhcp-xid") && typeof xid === "number") {
    const mapped = xidMap.get(xid);
    if (mapped !== undefined) g.fields.set("dhcp.xid", mapped);
  }
}
