// Fuzz target: frames between guests through dom0's bridge (xen-sim/net/bridge.ts). Two guests'
// netfronts (GSO and checksum offload on), their vifs on netback, and two plain ports on the same
// bridge: `eth0`, a NIC without offloads, and `tso0`, one with TSO up to 9000-byte frames and
// checksum offload. The input is a list of frame records, each sent from guest A, guest B (with
// offload metadata: gsoSize, csum_blank) or received on eth0 (plain): raw frames, or TCPv4 and
// UDP frames built from the record (lengths, flags, payload; a partial checksum as a stack sets
// it for csum_blank), with source and destination MACs from a small set (the guests', two hosts
// behind eth0, broadcast, multicast). Each frame goes all the way (netfront, tx ring, netback,
// bridge, netback, rx ring, netfront) before the next is sent.
// Oracles: a shadow 802.1D learning table says which ports each frame reaches (unicast to a
// learned MAC only there, never back out of its own port, else every other port); exactly those
// ports get it, once. What a port gets is the frame adapted to the port, checked independently of
// the bridge's code: unchanged when the port takes the offloads; on eth0 a GSO frame arrives as
// segments (each at most gsoSize payload bytes, sequence numbers and payload bytes continuing the
// original's, FIN/PSH only on the last, IPv4 and TCP checksums verified with an RFC 1071 sum
// written here) and a csum_blank frame with its checksum completed (only the checksum field
// changed, and it verifies); a non-GSO frame longer than the port's MTU + 18 (Ethernet header
// and a VLAN tag; Linux's is_skb_forwardable) and a frame that cannot be segmented or completed
// arrive nowhere that needs them, and then that port's `dropped` counter and the counter of that
// reason (and only they) count it: every frame is delivered intact (adapted) or dropped with a
// counted reason. The counters agree with what was
// seen: each bridge port's txFrames grows by the frames it handed its device, a receiving
// guest's vif by the frames its netfront got (rxDropped unchanged), a sending guest's vif takes
// exactly its one frame (txErrors unchanged). Nothing arrives that no input frame explains. No
// peer error. Nothing throws.
// Speed: the hypervisor, dom0, netback, the bridge and both guests are built once per process on
// the first input; each input starts 301 s of virtual time later, so every MAC the bridge learned
// before has aged out (802.1D: 300 s) and the bridge forwards as a fresh one would.
import { createRng, createVirtualClock, type VirtualClock } from "../../../stack/time.ts";
import type { Frame, NetDevice, Offloads } from "../../../stack/link/types.ts";
import { buildXenNetwork, type XenNetwork } from "../../../xen-sim/net/network.ts";
import { fail } from "../oracles.ts";

const ETH0_HOSTS = [0x020000000e01, 0x020000000e02];
const BROADCAST = 0xffffffffffff;
const MULTICAST = 0x01005e000001;
const PORTS = ["A", "B", "eth0", "tso0"] as const;
type PortName = (typeof PORTS)[number];

interface Sent {
  readonly from: PortName;
  readonly frame: Frame;
}
interface Got {
  readonly port: PortName;
  readonly frame: Frame;
}

interface World {
  readonly clock: VirtualClock;
  readonly net: XenNetwork;
  readonly got: Got[];
  /** The bridge's handler for frames received on eth0. */
  readonly eth0In: (f: Frame) => void;
  readonly macs: Record<PortName, number>;
  readonly offloads: Record<PortName, Offloads>;
  readonly mtu: Record<PortName, number>;
  /** The bridge's name of each port (the guests' are netback's vifs). */
  readonly portNames: Record<PortName, string>;
}

let world: Promise<World> | undefined;

/** A plain device on the bridge whose sends are recorded. */
function plainPort(name: PortName, mac: number, offloads: Offloads, got: Got[]): NetDevice & { handler: (f: Frame) => void } {
  const dev = {
    mac,
    mtu: 1500,
    offloads,
    handler: (_f: Frame): void => {},
    send(frame: Frame) {
      got.push({ port: name, frame: { data: frame.data.slice(), ...(frame.offload === undefined ? {} : { offload: frame.offload }) } });
    },
    onReceive(h: (f: Frame) => void) {
      dev.handler = h;
    },
  };
  return dev;
}

async function buildWorld(): Promise<World> {
  const clock = createVirtualClock();
  const built = await buildXenNetwork({ clock, rng: createRng(7) }, { guests: 2 });
  if (!built.ok) throw new Error(`bridge-guests: ${built.error}`);
  const net = built.value;
  const got: Got[] = [];
  // The guests' stacks step aside: what their netfronts receive is recorded.
  net.guests.forEach((g, i) =>
    g.netfront.onReceive((f) => {
      got.push({ port: i === 0 ? "A" : "B", frame: { data: f.data.slice(), ...(f.offload === undefined ? {} : { offload: f.offload }) } });
    }),
  );
  const eth0 = plainPort("eth0", 0x020000000e00, { txChecksum: false, tso: false, maxGsoFrame: 0 }, got);
  const tso0 = plainPort("tso0", 0x020000000f00, { txChecksum: true, tso: true, maxGsoFrame: 9000 }, got);
  net.bridge.attach(eth0, { name: "eth0" });
  net.bridge.attach(tso0, { name: "tso0" });
  // The guests' stacks announce themselves (gratuitous ARP) once after start-up: let that pass.
  clock.run(clock.now() + 3_600_000, 100_000);
  settle(clock);
  got.length = 0;
  return {
    clock,
    net,
    got,
    eth0In: (f) => eth0.handler(f),
    macs: { A: net.guests[0]!.netfront.mac, B: net.guests[1]!.netfront.mac, eth0: ETH0_HOSTS[0]!, tso0: 0x020000000f01 },
    offloads: { A: net.guests[0]!.netfront.offloads, B: net.guests[1]!.netfront.offloads, eth0: eth0.offloads, tso0: tso0.offloads },
    mtu: { A: vifDevice(net, 0).mtu, B: vifDevice(net, 1).mtu, eth0: eth0.mtu, tso0: tso0.mtu },
    portNames: { A: vifName(net, 0), B: vifName(net, 1), eth0: "eth0", tso0: "tso0" },
  };
}

const vifName = (net: XenNetwork, i: number): string => `vif${net.guests[i]!.guest.id}.${net.guests[i]!.vif.devid}`;

/** The bridge's device for guest i's vif (netback's side of it). */
function vifDevice(net: XenNetwork, i: number): NetDevice {
  const g = net.guests[i]!;
  const v = net.netback.vif(g.guest.id, g.vif.devid);
  if (v === undefined) throw new Error(`bridge-guests: netback serves no vif for guest ${i}`);
  return v.device;
}

/** Why a port dropped frames, as the bridge counts them. */
type DropReason = "over-mtu" | "unsegmentable" | "uncompletable";
const DROP_REASONS: readonly DropReason[] = ["over-mtu", "unsegmentable", "uncompletable"];

/** The counters the oracles read: each bridge port's tx and drops, each guest vif's netback counters. */
interface Counts {
  readonly port: Record<PortName, { readonly tx: number; readonly dropped: number; readonly drops: Readonly<Record<DropReason, number>> }>;
  readonly vif: Record<"A" | "B", { readonly tx: number; readonly txErrors: number; readonly rx: number; readonly rxDropped: number }>;
}

function counts(w: World): Counts {
  const byName = new Map(w.net.bridge.ports().map((p) => [p.name, p.stats()]));
  const port = {} as Counts["port"];
  for (const p of PORTS) {
    const st = byName.get(w.portNames[p]);
    if (st === undefined) throw new Error(`bridge-guests: no bridge port ${w.portNames[p]}`);
    port[p] = { tx: st.txFrames, dropped: st.dropped, drops: { ...st.drops } };
  }
  const vif = {} as Counts["vif"];
  for (const [i, g] of (["A", "B"] as const).entries()) {
    const guest = w.net.guests[i]!;
    const st = w.net.netback.vif(guest.guest.id, guest.vif.devid)?.stats();
    if (st === undefined) throw new Error(`bridge-guests: netback serves no vif for guest ${g}`);
    vif[g] = { tx: st.txFrames, txErrors: st.txErrors, rx: st.rxFrames, rxDropped: st.rxDropped };
  }
  return { port, vif };
}

/** Runs the clock until nothing is due (bounded). */
function settle(clock: VirtualClock): void {
  for (let i = 0, next = clock.nextDeadline(); next !== undefined && i < 10_000; i++, next = clock.nextDeadline()) clock.run(next, 10_000);
}

// ---- Independent statements of the wire rules the oracles need ----

const u16 = (b: Uint8Array, at: number): number => (b[at]! << 8) | b[at + 1]!;
const u32 = (b: Uint8Array, at: number): number => ((b[at]! << 24) | (b[at + 1]! << 16) | (b[at + 2]! << 8) | b[at + 3]!) >>> 0;
const macAt = (b: Uint8Array, at: number): number => b[at]! * 2 ** 40 + b[at + 1]! * 2 ** 32 + u32(b, at + 2);

/** RFC 1071 one's-complement sum of bytes [start, end), plus `initial`, folded. */
function sum16(b: Uint8Array, start: number, end: number, initial = 0): number {
  let s = initial;
  for (let i = start; i < end; i += 2) s += (b[i]! << 8) | (i + 1 < end ? b[i + 1]! : 0);
  while (s > 0xffff) s = (s & 0xffff) + Math.floor(s / 0x10000);
  return s;
}

/** An untagged Ethernet/IPv4 packet's offsets, when its lengths hold. */
function ipv4Of(b: Uint8Array): { ihl: number; total: number; proto: number; l4: number } | undefined {
  if (b.length < 34 || u16(b, 12) !== 0x0800 || b[14]! >> 4 !== 4) return undefined;
  const ihl = (b[14]! & 15) * 4,
    total = u16(b, 16);
  if (ihl < 20 || total < ihl || 14 + total > b.length) return undefined;
  return { ihl, total, proto: b[23]!, l4: 14 + ihl };
}

/** The TCP or UDP checksum of the packet verifies (RFC 9293 §3.1, RFC 768). */
function l4ChecksumOk(b: Uint8Array, ip: { ihl: number; total: number; proto: number; l4: number }): boolean {
  const len = ip.total - ip.ihl;
  const pseudo = sum16(b, 26, 34, ip.proto + len);
  return sum16(b, ip.l4, ip.l4 + len, pseudo) === 0xffff;
}

/** What segmentation of `f` must give, or undefined when it cannot be segmented (not TCPv4, fragment, bad lengths). */
function segmentable(b: Uint8Array): { ip: { ihl: number; total: number; proto: number; l4: number }; thl: number } | undefined {
  const ip = ipv4Of(b);
  if (ip === undefined || ip.proto !== 6 || (u16(b, 20) & 0x3fff) !== 0 || ip.total < ip.ihl + 20) return undefined;
  const thl = (b[ip.l4 + 12]! >> 4) * 4;
  return thl < 20 || ip.ihl + thl > ip.total ? undefined : { ip, thl };
}

/** Checks `segs` against the segmentation of `orig` into gsoSize-byte payloads; a message or undefined. */
function checkSegments(orig: Uint8Array, gsoSize: number, segs: Uint8Array[]): string | undefined {
  const s = segmentable(orig)!;
  const headers = s.ip.l4 + s.thl,
    payload = s.ip.total - s.ip.ihl - s.thl;
  const count = Math.max(1, Math.ceil(payload / gsoSize));
  if (segs.length !== count) return `${segs.length} segments, expected ${count}`;
  const seq = u32(orig, s.ip.l4 + 4),
    flags = orig[s.ip.l4 + 13]!;
  for (let i = 0; i < count; i++) {
    const g = segs[i]!,
      len = Math.min(gsoSize, payload - i * gsoSize);
    const ip = ipv4Of(g);
    if (ip === undefined || g.length !== headers + len || ip.total !== s.ip.ihl + s.thl + len)
      return `segment ${i}: length ${g.length}, expected ${headers + len}`;
    if (sum16(g, 14, s.ip.l4) !== 0xffff) return `segment ${i}: IPv4 header checksum fails`;
    if (!l4ChecksumOk(g, ip)) return `segment ${i}: TCP checksum fails`;
    if (u32(g, s.ip.l4 + 4) !== (seq + i * gsoSize) >>> 0) return `segment ${i}: seq ${u32(g, s.ip.l4 + 4)}`;
    const want = flags & ~(i < count - 1 ? 0x09 : 0) & ~(i > 0 ? 0x80 : 0);
    if (g[s.ip.l4 + 13] !== want) return `segment ${i}: flags 0x${g[s.ip.l4 + 13]!.toString(16)}, expected 0x${want.toString(16)}`;
    if (Buffer.compare(g.subarray(headers), orig.subarray(headers + i * gsoSize, headers + i * gsoSize + len)) !== 0)
      return `segment ${i}: payload bytes differ`;
    // Everything else in the headers is the original's: MACs, addresses, ports, ack, window, options.
    const same = (a: number, b: number): boolean => Buffer.compare(g.subarray(a, b), orig.subarray(a, b)) === 0;
    if (
      !same(0, 16) ||
      !same(20, 24) ||
      !same(26, s.ip.l4) ||
      !same(s.ip.l4, s.ip.l4 + 4) ||
      !same(s.ip.l4 + 8, s.ip.l4 + 13) ||
      !same(s.ip.l4 + 14, s.ip.l4 + 16) ||
      !same(s.ip.l4 + 18, headers)
    ) {
      return `segment ${i}: a header field other than length, id, checksums, seq or flags changed`;
    }
  }
  return undefined;
}

/**
 * Checks a checksum-completed copy of `orig` (csum_blank): only the L4 checksum changed, and it is
 * the complement of the sum over the L4 bytes with the partial sum the sender left in the field
 * (RFC 1071; for UDP a computed 0 is sent as 0xffff, RFC 768).
 */
function checkCompleted(orig: Uint8Array, got: Uint8Array): string | undefined {
  const ip = ipv4Of(orig);
  if (ip === undefined || (ip.proto !== 6 && ip.proto !== 17)) return "a frame that cannot be completed arrived";
  const at = ip.l4 + (ip.proto === 6 ? 16 : 6);
  if (got.length !== orig.length) return "length changed";
  if (Buffer.compare(got.subarray(0, at), orig.subarray(0, at)) !== 0 || Buffer.compare(got.subarray(at + 2), orig.subarray(at + 2)) !== 0)
    return "bytes other than the checksum changed";
  let want = ~sum16(orig, ip.l4, ip.l4 + ip.total - ip.ihl) & 0xffff;
  if (ip.proto === 17 && want === 0) want = 0xffff;
  const v = (got[at]! << 8) | got[at + 1]!;
  return v === want ? undefined : `completed checksum 0x${v.toString(16)}, expected 0x${want.toString(16)}`;
}

// ---- Input decoding ----

class Reader {
  at = 0;
  constructor(readonly b: Uint8Array) {}
  get done(): boolean {
    return this.at >= this.b.length;
  }
  u8(): number {
    return this.b[this.at++] ?? 0;
  }
  u16(): number {
    return (this.u8() << 8) | this.u8();
  }
}

function pickMac(w: World, b: number): number {
  return [w.macs.A, w.macs.B, ETH0_HOSTS[0]!, ETH0_HOSTS[1]!, BROADCAST, MULTICAST, w.macs.tso0, 0x020000000bad][b & 7]!;
}

function putMac(b: Uint8Array, at: number, mac: number): void {
  const hi = Math.floor(mac / 2 ** 32),
    lo = mac >>> 0;
  b[at] = hi >>> 8;
  b[at + 1] = hi & 0xff;
  b[at + 2] = lo >>> 24;
  b[at + 3] = (lo >>> 16) & 0xff;
  b[at + 4] = (lo >>> 8) & 0xff;
  b[at + 5] = lo & 0xff;
}

/** One frame record: [port:2 kind:2 csum:1 gso:1 badsum:1 -][dst][src] and the kind's bytes. */
function decode(w: World, r: Reader): Sent {
  const h = r.u8();
  const from: PortName = (["A", "B", "eth0", "A"] as const)[h & 3]!;
  const kind = (h >> 2) & 3;
  const dst = pickMac(w, r.u8()),
    src = pickMac(w, r.u8());
  let data: Uint8Array;
  let gsoSize = 0,
    csumBlank = false;
  if (kind === 0) {
    data = new Uint8Array(Math.max(14, r.u8()));
    for (let i = 12; i < data.length && !r.done; i++) data[i] = r.u8();
  } else {
    const udp = kind === 3;
    const payload = udp ? r.u8() * 3 : r.u16() % 9000;
    const ihl = 20 + 4 * (r.u8() % 3),
      thl = udp ? 8 : 20 + 4 * (r.u8() % 4);
    const total = ihl + thl + payload;
    data = new Uint8Array(14 + total);
    data[12] = 0x08;
    data[13] = 0x00;
    const ip = 14;
    data[ip] = 0x40 | (ihl / 4);
    data[ip + 2] = total >> 8;
    data[ip + 3] = total & 0xff;
    data[ip + 4] = r.u8();
    data[ip + 5] = r.u8();
    data[ip + 6] = h & 0x80 ? r.u8() & 0x3f : 0x40;
    data[ip + 8] = 64;
    data[ip + 9] = udp ? 17 : 6;
    data.set([192, 0, 2, 1, 192, 0, 2, 2], ip + 12);
    const l4 = ip + ihl;
    data[l4] = 0x30;
    data[l4 + 1] = 0x39;
    data[l4 + 2] = 0x00;
    data[l4 + 3] = 0x50;
    if (udp) {
      data[l4 + 4] = (thl + payload) >> 8;
      data[l4 + 5] = (thl + payload) & 0xff;
    } else {
      for (let i = 4; i < 12; i++) data[l4 + i] = r.u8();
      data[l4 + 12] = (thl / 4) << 4;
      data[l4 + 13] = r.u8();
      data[l4 + 14] = 0xff;
      data[l4 + 15] = 0xff;
    }
    const fill = r.u8();
    for (let i = 0; i < payload; i++) data[l4 + thl + i] = (fill + i * 7) & 0xff;
    let c = 0;
    for (let i = ip; i < ip + ihl; i += 2) c += (data[i]! << 8) | data[i + 1]!;
    while (c > 0xffff) c = (c & 0xffff) + (c >>> 16);
    const hc = ~c & 0xffff;
    data[ip + 10] = hc >> 8;
    data[ip + 11] = hc & 0xff;
    const len = thl + payload,
      at = l4 + (udp ? 6 : 16);
    const pseudo = sum16(data, 26, 34, (udp ? 17 : 6) + len);
    csumBlank = from !== "eth0" && (h & 0x10) !== 0;
    // csum_blank: the field holds the pseudo-header sum (as a stack leaves it for offload).
    const v = csumBlank ? pseudo : ~sum16(data, l4, l4 + len, pseudo) & 0xffff;
    data[at] = v >> 8;
    data[at + 1] = v & 0xff;
    if (h & 0x40) data[at] ^= 0x5a;
    if (!udp && from !== "eth0" && (h & 0x20) !== 0) gsoSize = 1 + (r.u16() % 2000);
  }
  putMac(data, 0, dst);
  putMac(data, 6, src);
  const offload = gsoSize > 0 || csumBlank ? { ...(gsoSize > 0 ? { gsoSize } : {}), ...(csumBlank ? { csumBlank: true } : {}) } : undefined;
  return { from, frame: { data, ...(offload === undefined ? {} : { offload }) } };
}

function send(w: World, s: Sent): void {
  if (s.from === "eth0") w.eth0In(s.frame);
  else
    w.net.guests[s.from === "A" ? 0 : 1]!.netfront.send({ data: s.frame.data.slice(), ...(s.frame.offload === undefined ? {} : { offload: s.frame.offload }) });
}

/**
 * What `port` must receive of `s` (a frame it accepts as is, segments, a completed copy) or
 * nothing; a drop reason when the frame must not go out of the port (it must count the drop).
 */
function checkArrival(w: World, s: Sent, port: PortName, arrived: Frame[], input: Uint8Array): "delivered" | DropReason {
  const orig = s.frame.data,
    gso = s.frame.offload?.gsoSize ?? 0,
    blank = s.frame.offload?.csumBlank === true;
  const off = w.offloads[port];
  const where = `frame from ${s.from} (${orig.length} bytes${gso ? `, gso ${gso}` : ""}${blank ? ", csum_blank" : ""}) on ${port}`;
  // Linux br_dev_queue_push_xmit: is_skb_forwardable allows mtu + ETH_HLEN (14) + VLAN_HLEN (4) bytes, or any GSO skb.
  if (gso === 0 && orig.length > w.mtu[port] + 14 + 4) {
    if (arrived.length > 0) fail("mtu", `${where}: longer than the port's MTU ${w.mtu[port]} + 18, yet ${arrived.length} frame(s) arrived`, input);
    return "over-mtu";
  }
  if (gso > 0 && !(off.tso && orig.length <= off.maxGsoFrame)) {
    if (segmentable(orig) === undefined) {
      if (arrived.length > 0) fail("bridge", `${where}: cannot be segmented, yet ${arrived.length} frame(s) arrived`, input);
      return "unsegmentable";
    }
    const why = checkSegments(
      orig,
      gso,
      arrived.map((f) => f.data),
    );
    if (why !== undefined) fail("gso", `${where}: ${why}`, input);
    return "delivered";
  }
  if (blank && !off.txChecksum) {
    const ip = ipv4Of(orig);
    // RFC 791: a fragment's L4 checksum spans other frames; it cannot be completed here.
    if (ip === undefined || (ip.proto !== 6 && ip.proto !== 17) || (u16(orig, 20) & 0x3fff) !== 0) {
      if (arrived.length > 0) fail("bridge", `${where}: cannot be completed, yet it arrived`, input);
      return "uncompletable";
    }
    if (arrived.length !== 1) fail("bridge", `${where}: ${arrived.length} copies arrived`, input);
    const why = checkCompleted(orig, arrived[0]!.data);
    if (why !== undefined) fail("checksum", `${where}: ${why}`, input);
    return "delivered";
  }
  if (arrived.length !== 1) fail("bridge", `${where}: ${arrived.length} copies arrived`, input);
  if (Buffer.compare(arrived[0]!.data, orig) !== 0) fail("bridge", `${where}: bytes changed`, input);
  const ao = arrived[0]!.offload;
  if ((ao?.gsoSize ?? 0) !== gso) fail("bridge", `${where}: arrived with gso ${ao?.gsoSize ?? 0}`, input);
  if (blank && ao?.csumBlank !== true) fail("checksum", `${where}: arrived without csum_blank and with its checksum still partial`, input);
  return "delivered";
}

export const mode = "async";

export async function fuzz(data: Buffer): Promise<void> {
  const input = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  const w = await (world ??= buildWorld());
  // Every MAC learned before this input ages out.
  w.clock.run(w.clock.now() + 301_000, 100_000);
  settle(w.clock);
  w.got.length = 0;
  const errorsBefore = w.net.peerErrors.length;
  const learned = new Map<number, PortName>();
  const r = new Reader(input);
  for (let n = 0; n < 12 && !r.done; n++) {
    const s = decode(w, r);
    const before = counts(w);
    send(w, s);
    settle(w.clock);
    // Shadow 802.1D: learn the source, forward to a learned destination, else flood.
    const src = macAt(s.frame.data, 6),
      dst = macAt(s.frame.data, 0);
    const multicast = (m: number): boolean => Math.floor(m / 2 ** 40) % 2 === 1;
    if (!multicast(src)) learned.set(src, s.from);
    const known = multicast(dst) ? undefined : learned.get(dst);
    const targets = new Set<PortName>(known === undefined ? PORTS.filter((p) => p !== s.from) : known === s.from ? [] : [known]);
    const arrivals = w.got.splice(0);
    const after = counts(w);
    for (const port of PORTS) {
      if (port === s.from) continue;
      const arrived = arrivals.filter((g) => g.port === port).map((g) => g.frame);
      let verdict: "delivered" | DropReason | "not sent" = "not sent";
      if (!targets.has(port)) {
        if (arrived.length > 0) fail("learning", `frame ${n} from ${s.from} to ${dst.toString(16)} (learned on ${known ?? "-"}) reached ${port}`, input);
      } else verdict = checkArrival(w, s, port, arrived, input);
      // Delivered intact or dropped with a counted reason, and the counters say what happened.
      const dropped = after.port[port].dropped - before.port[port].dropped,
        tx = after.port[port].tx - before.port[port].tx;
      const wantDropped = verdict === "delivered" || verdict === "not sent" ? 0 : 1;
      if (dropped !== wantDropped)
        fail("counters", `frame ${n} from ${s.from} on ${port} (${verdict}): the port counted ${dropped} drop(s), expected ${wantDropped}`, input);
      for (const reason of DROP_REASONS) {
        const got = after.port[port].drops[reason] - before.port[port].drops[reason];
        if (got !== (verdict === reason ? 1 : 0))
          fail("counters", `frame ${n} from ${s.from} on ${port} (${verdict}): the port counted ${got} drop(s) for ${reason}`, input);
      }
      const handed = port === "A" || port === "B" ? (verdict === "delivered" ? 1 : 0) : arrived.length;
      if (tx !== handed)
        fail("counters", `frame ${n} from ${s.from} on ${port} (${verdict}): the port counted ${tx} frame(s) sent, its device got ${handed}`, input);
      if (port === "A" || port === "B") {
        const rx = after.vif[port].rx - before.vif[port].rx,
          rxDropped = after.vif[port].rxDropped - before.vif[port].rxDropped;
        if (rx !== arrived.length || rxDropped !== 0)
          fail(
            "counters",
            `frame ${n} from ${s.from} to guest ${port}: netback counted ${rx} delivered and ${rxDropped} dropped, the guest got ${arrived.length}`,
            input,
          );
      }
    }
    if (s.from === "A" || s.from === "B") {
      const tx = after.vif[s.from].tx - before.vif[s.from].tx,
        txErrors = after.vif[s.from].txErrors - before.vif[s.from].txErrors;
      if (tx !== 1 || txErrors !== 0) fail("counters", `frame ${n} from guest ${s.from}: netback counted ${tx} frame(s) taken and ${txErrors} error(s)`, input);
    }
    const back = arrivals.filter((g) => g.port === s.from);
    if (back.length > 0) fail("learning", `frame ${n} from ${s.from} came back out of its own port`, input);
  }
  if (w.net.peerErrors.length !== errorsBefore) {
    fail(
      "peer",
      `well-behaved guests reported peer errors: ${w.net.peerErrors
        .slice(errorsBefore)
        .map((e) => e.reason)
        .join(",")}`,
      input,
    );
  }
}

/** Seeds: a TCP frame A to B, learned replies, a GSO frame from A to a host behind eth0, csum_blank UDP. */
export function seeds(): Uint8Array[] {
  return [
    // A -> B TCP; B -> A TCP (A learned); eth0 host -> A.
    [
      0x04, 1, 0, 0, 100, 0, 0, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 0x18, 9, 0x05, 0, 1, 0, 50, 0, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 0x10, 3, 0x06, 0, 2, 0, 20, 0,
      0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10, 4,
    ],
    // A -> eth0 host: GSO (3000 payload, gso 1448) with csum_blank; then the host answers.
    [0x34, 2, 0, 0x0b, 0xb8, 0, 0, 7, 7, 1, 1, 1, 1, 0, 0, 0, 0, 0x18, 5, 0x05, 0xa8, 0x06, 0, 2, 0, 30, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10, 1],
    // B broadcasts UDP with csum_blank; A sends raw bytes to an unknown MAC.
    [0x1d, 4, 1, 40, 0, 0, 0, 0x5a, 0x00, 7, 0, 60, 0x08, 0x06, 0, 1, 8, 0, 6, 4],
    // GSO from B to tso0 (no segmentation there) and an unsegmentable GSO frame to eth0.
    [0x25, 6, 1, 0x07, 0xd0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10, 3, 0x02, 0x00, 0xa4, 2, 0, 0, 0x06, 0x40, 0, 0],
  ].map((a) => Uint8Array.from(a));
}

/** Drops the world: the next input builds a new one (tests). */
export function resetForTest(): void {
  world = undefined;
}
