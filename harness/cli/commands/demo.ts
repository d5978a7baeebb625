// netlab demo: three hosts (full stacks from createStack) on a simulated learning switch with
// delay, jitter, loss, a little duplication and a rate-limited port. They ping each other,
// exchange UDP echoes and a datagram that must be fragmented, and h1 sends 256 KiB over TCP
// to h3 (the lossiest port), all in virtual time; every
// NIC is captured into one pcapng (one interface per host). runDemo() is deterministic in
// its seed (same seed, same pcapng bytes); run() adds argument parsing, files and printing.
import { performance } from "node:perf_hooks";
import { resolve } from "node:path";
import { createStack } from "../../../stack/index.ts";
import { createRng, createVirtualClock } from "../../../stack/time.ts";
import type { Rng } from "../../../stack/time.ts";
import { createSwitch } from "../../../stack/link/switch.ts";
import type { SwitchPortOptions, SwitchStats } from "../../../stack/link/switch.ts";
import { withCapture } from "../../../stack/link/capture.ts";
import { createByteCollector, createPcapngWriter } from "../../../stack/link/pcap/index.ts";
import type { ImpairmentOptions, ImpairmentStats } from "../../../stack/link/impairments.ts";
import { formatIpv4, formatMac } from "../../../stack/wire/address.ts";
import type { Ipv4Address } from "../../../stack/wire/address.ts";
import type { UdpDatagram } from "../../../stack/transport/types.ts";
import { writeCaptureFile } from "../../pcap/files.ts";

export const summary = "simulated network of three hosts with impairments: ping, UDP echo, fragmentation; writes a pcapng";

/** Virtual time 0 of the demo is placed at this date in the capture (reproducible timestamps). */
export const DEMO_EPOCH_MS = Date.UTC(2026, 0, 1);
export const DEFAULT_PCAP = "out/demo.pcapng";
const SUBNET = 0xc0000200; // 192.0.2.0/24 (RFC 5737 TEST-NET-1)
const UDP_ECHO_PORT = 7;
const PINGS_PER_PAIR = 10;
const PING_INTERVAL_MS = 200;
const UDP_ECHO_COUNT = 20;
const UDP_ECHO_SIZE = 100;
const FRAGMENTED_SIZE = 4000;
const FRAGMENTED_ATTEMPTS = 5;
const TCP_PORT = 9;
const TCP_BYTES = 256 * 1024;
const TCP_START_MS = 8000;
const END_MS = 20_000;

/** Options of one demo run. */
export interface DemoOptions {
  readonly seed: number;
  /** Called with a line of progress when a slice of the run took long in wall time. */
  readonly onProgress?: (line: string) => void;
}

/** Per-host figures. */
export interface DemoHostReport {
  readonly name: string;
  readonly ip: string;
  readonly mac: string;
  readonly txFrames: number;
  readonly txBytes: number;
  readonly rxFrames: number;
  readonly rxBytes: number;
  /** Frames the wire dropped on this host's port (both directions). */
  readonly wireDrops: number;
  readonly pingsSent: number;
  readonly pingReplies: number;
  readonly ipv4: Readonly<Record<string, unknown>>;
}

/** Round-trip statistics. */
export interface RttReport {
  readonly count: number;
  readonly minMs: number;
  readonly avgMs: number;
  readonly maxMs: number;
}

/** One check of the run; the demo fails when any check fails. */
export interface DemoCheck {
  readonly name: string;
  readonly ok: boolean;
  readonly detail: string;
}

/** Everything the demo measured. */
export interface DemoReport {
  readonly seed: number;
  readonly virtualTimeMs: number;
  readonly hosts: DemoHostReport[];
  readonly ping: { readonly pairs: { from: string; to: string; sent: number; replies: number; rtt: RttReport }[]; readonly rtt: RttReport };
  readonly udpEcho: { readonly sent: number; readonly echoed: number; readonly rtt: RttReport };
  readonly fragmented: { readonly size: number; readonly sent: number; readonly echoed: number; readonly intact: number; readonly fragmentsSent: number; readonly reassembled: number };
  readonly tcp: { readonly bytes: number; readonly received: number; readonly intact: boolean; readonly durationMs: number; readonly goodputMbps: number; readonly retransmits: number; readonly error?: string };
  readonly switch: Readonly<SwitchStats>;
  readonly impairments: { readonly port: string; readonly direction: "to-switch" | "from-switch"; readonly stats: ImpairmentStats }[];
  readonly impairmentTotals: { offered: number; delivered: number; lost: number; duplicated: number; queueDrops: number; mtuDrops: number };
  readonly capture: { readonly packets: number; readonly bytes: number };
  readonly checks: DemoCheck[];
  readonly ok: boolean;
}

/** Derives independent seeds for the network and each host from the run's seed. */
function subRng(seed: number, stream: number): Rng {
  return createRng((Math.imul(seed >>> 0, 0x9e3779b1) ^ Math.imul(stream + 1, 0x85ebca77)) >>> 0);
}

function rttOf(samples: number[]): RttReport {
  if (samples.length === 0) return { count: 0, minMs: 0, avgMs: 0, maxMs: 0 };
  let min = Infinity, max = -Infinity, sum = 0;
  for (const s of samples) {
    if (s < min) min = s;
    if (s > max) max = s;
    sum += s;
  }
  const r3 = (x: number): number => Math.round(x * 1000) / 1000;
  return { count: samples.length, minMs: r3(min), avgMs: r3(sum / samples.length), maxMs: r3(max) };
}

const HOSTS = [
  { name: "h1", port: { toSwitch: { delayMs: 1, jitterMs: 0.5, loss: 0.01 }, fromSwitch: { delayMs: 1, jitterMs: 0.5, loss: 0.01 } } },
  { name: "h2", port: { toSwitch: { delayMs: 2, jitterMs: 1, loss: 0.01, duplicate: 0.01 }, fromSwitch: { delayMs: 2, jitterMs: 1, loss: 0.01, rateBitsPerSecond: 10_000_000, queueLimitFrames: 64 } } },
  { name: "h3", port: { toSwitch: { delayMs: 5, jitterMs: 2, loss: 0.02 }, fromSwitch: { delayMs: 5, jitterMs: 2, loss: 0.02 } } },
] as const satisfies readonly { name: string; port: { toSwitch: ImpairmentOptions; fromSwitch: ImpairmentOptions } }[];

/** Runs the demo network; returns the report and the pcapng bytes. */
export function runDemo(options: DemoOptions): DemoReport & { readonly pcap: Uint8Array } {
  const { seed } = options;
  const clock = createVirtualClock();
  const sw = createSwitch({ clock, rng: subRng(seed, 0) });
  const capture = createByteCollector();
  const pcap = createPcapngWriter(capture.write, { timeOffsetMs: DEMO_EPOCH_MS, application: "netlab demo" });

  // The first frame a phase sends carries a pcapng comment naming the phase.
  let note: string | undefined;
  const takeNote = (_frame: unknown, direction: "in" | "out"): string | undefined => {
    if (direction !== "out" || note === undefined) return undefined;
    const n = note;
    note = undefined;
    return n;
  };

  const hosts = HOSTS.map((h, i) => {
    const ip: Ipv4Address = (SUBNET + 11 + i) >>> 0;
    const mac = 0x020000000001 + i;
    const portOptions: SwitchPortOptions = { mac, name: h.name, toSwitch: h.port.toSwitch, fromSwitch: h.port.fromSwitch };
    const port = sw.addPort(portOptions);
    const device = withCapture(port, pcap, { clock, name: h.name, description: `${h.name} ${formatIpv4(ip)}/24 on switch port ${i}`, annotate: takeNote });
    const stack = createStack({ device, clock, rng: subRng(seed, i + 1) }, { ipv4: { cidr: { address: ip, prefixLength: 24 } } });
    return { name: h.name, ip, mac, port, stack, pingsSent: 0, pingReplies: 0 };
  });
  const [h1, h2, h3] = hosts as [typeof hosts[0], typeof hosts[0], typeof hosts[0]];

  // UDP echo service on h2 (RFC 862).
  const echo = h2.stack.udp.bind(UDP_ECHO_PORT);
  if (!echo.ok) throw new Error(`demo: cannot bind UDP ${UDP_ECHO_PORT} on h2: ${echo.error}`);
  echo.value.onMessage((d: UdpDatagram) => {
    echo.value.sendTo(d.src, d.srcPort, d.payload.slice());
  });

  // Pings: every host pings every other host.
  const pairs: { from: string; to: string; sent: number; replies: number; rtts: number[] }[] = [];
  let pairIndex = 0;
  for (const src of hosts) {
    for (const dst of hosts) {
      if (src === dst) continue;
      const pair = { from: src.name, to: dst.name, sent: 0, replies: 0, rtts: [] as number[] };
      pairs.push(pair);
      const start = 100 + pairIndex * 20;
      const pairIndexAtStart = pairIndex;
      pairIndex++;
      for (let n = 0; n < PINGS_PER_PAIR; n++) {
        clock.setTimer(start + n * PING_INTERVAL_MS, () => {
          if (pairIndexAtStart === 0 && n === 0) note = `phase 1: every host pings every other host ${PINGS_PER_PAIR} times, ${PING_INTERVAL_MS} ms apart`;
          pair.sent++;
          src.pingsSent++;
          src.stack.icmp.ping(dst.ip, { seq: n + 1, timeoutMs: 1000 }, (r) => {
            if (!r.ok) return;
            pair.replies++;
            src.pingReplies++;
            pair.rtts.push(r.value.rttMs);
          });
        });
      }
    }
  }

  // UDP echo from h1: each datagram carries its index; RTT measured on the virtual clock.
  const udpSentAt = new Map<number, number>();
  const udpRtts: number[] = [];
  const udpClient = h1.stack.udp.bind(0);
  if (!udpClient.ok) throw new Error(`demo: cannot bind a UDP port on h1: ${udpClient.error}`);
  udpClient.value.onMessage((d) => {
    if (d.payload.length !== UDP_ECHO_SIZE) return;
    const index = new DataView(d.payload.buffer, d.payload.byteOffset).getUint32(0);
    const at = udpSentAt.get(index);
    if (at === undefined) return;
    udpSentAt.delete(index);
    udpRtts.push(clock.now() - at);
  });
  let udpSent = 0;
  for (let n = 0; n < UDP_ECHO_COUNT; n++) {
    clock.setTimer(3000 + n * 50, () => {
      if (n === 0) note = `phase 2: h1 sends ${UDP_ECHO_COUNT} UDP datagrams of ${UDP_ECHO_SIZE} bytes to the echo service (RFC 862) on h2:${UDP_ECHO_PORT}`;
      const payload = new Uint8Array(UDP_ECHO_SIZE);
      new DataView(payload.buffer).setUint32(0, n);
      for (let i = 4; i < payload.length; i++) payload[i] = (n + i) & 0xff;
      udpSentAt.set(n, clock.now());
      udpSent++;
      udpClient.value.sendTo(h2.ip, UDP_ECHO_PORT, payload);
    });
  }

  // A datagram larger than the MTU from h3: fragmented on the way out and on the echo back.
  const big = h3.stack.udp.bind(0);
  if (!big.ok) throw new Error(`demo: cannot bind a UDP port on h3: ${big.error}`);
  const expected = new Uint8Array(FRAGMENTED_SIZE);
  for (let i = 0; i < expected.length; i++) expected[i] = (i * 7 + 3) & 0xff;
  let bigSent = 0, bigEchoed = 0, bigIntact = 0;
  big.value.onMessage((d) => {
    bigEchoed++;
    if (d.payload.length === expected.length && d.payload.every((b, i) => b === expected[i])) bigIntact++;
  });
  for (let n = 0; n < FRAGMENTED_ATTEMPTS; n++) {
    clock.setTimer(5000 + n * 500, () => {
      if (n === 0) note = `phase 3: h3 sends a ${FRAGMENTED_SIZE}-byte UDP datagram to h2:${UDP_ECHO_PORT} (fragmented), ${FRAGMENTED_ATTEMPTS} times 500 ms apart`;
      bigSent++;
      big.value.sendTo(h2.ip, UDP_ECHO_PORT, expected.slice());
    });
  }

  // TCP bulk transfer h1 -> h3 (discard service, RFC 863), checked byte by byte.
  const pattern = (i: number): number => (i * 31 + 7) & 0xff;
  const tcp = { received: 0, intact: true, startAt: -1, endAt: -1, error: undefined as string | undefined };
  const sink = h3.stack.tcp.listen(TCP_PORT);
  if (!sink.ok) throw new Error(`demo: cannot listen on TCP ${TCP_PORT} on h3: ${sink.error}`);
  sink.value.onConnection((s) => {
    s.onData((d) => {
      for (let i = 0; i < d.length; i++) if (d[i] !== pattern(tcp.received + i)) tcp.intact = false;
      tcp.received += d.length;
    });
    s.onEnd(() => {
      tcp.endAt = clock.now();
      s.end();
    });
  });
  clock.setTimer(TCP_START_MS, () => {
    note = `phase 4: h1 sends ${TCP_BYTES} bytes over TCP to the discard service on h3:${TCP_PORT}`;
    const c = h1.stack.tcp.connect(h3.ip, TCP_PORT);
    if (!c.ok) {
      tcp.error = c.error;
      return;
    }
    const stream = c.value;
    let sent = 0;
    const pump = (): void => {
      while (sent < TCP_BYTES) {
        const n = Math.min(16384, TCP_BYTES - sent);
        const chunk = new Uint8Array(n);
        for (let i = 0; i < n; i++) chunk[i] = pattern(sent + i);
        sent += n;
        if (!stream.write(chunk)) return;
      }
      stream.end();
    };
    stream.onConnect(() => {
      tcp.startAt = clock.now();
      pump();
    });
    stream.onDrain(pump);
    stream.onClose((e) => {
      if (e !== undefined) tcp.error = e;
    });
  });

  // Run in slices so a slow machine shows progress.
  const wallStart = performance.now();
  let lastReport = wallStart;
  for (let t = 0; t < END_MS; t += 500) {
    clock.run(t + 500, 5_000_000);
    const now = performance.now();
    if (options.onProgress !== undefined && now - lastReport > 1000) {
      lastReport = now;
      options.onProgress(`demo: virtual ${(t + 500) / 1000} s of ${END_MS / 1000} s (${Math.round(now - wallStart)} ms wall)`);
    }
  }

  const ipv4Counters = (s: typeof h1.stack): Record<string, unknown> => {
    const c = s.ipv4.counters() as Record<string, unknown>;
    const pick: Record<string, unknown> = {};
    for (const k of ["txPackets", "rxPackets", "txFragments", "rxFragments", "reassembled", "delivered"]) if (k in c) pick[k] = c[k];
    return pick;
  };
  const hostReports: DemoHostReport[] = hosts.map((h) => {
    const s = h.port.stats();
    return {
      name: h.name,
      ip: formatIpv4(h.ip),
      mac: formatMac(h.mac),
      txFrames: s.txFrames,
      txBytes: s.txBytes,
      rxFrames: s.rxFrames,
      rxBytes: s.rxBytes,
      wireDrops: s.dropped,
      pingsSent: h.pingsSent,
      pingReplies: h.pingReplies,
      ipv4: ipv4Counters(h.stack),
    };
  });
  const impairments = hosts.flatMap((h) => {
    const s = h.port.stats();
    return [
      { port: h.name, direction: "to-switch" as const, stats: { ...s.toSwitch } },
      { port: h.name, direction: "from-switch" as const, stats: { ...s.fromSwitch } },
    ];
  });
  const totals = { offered: 0, delivered: 0, lost: 0, duplicated: 0, queueDrops: 0, mtuDrops: 0 };
  for (const { stats } of impairments) {
    totals.offered += stats.offered;
    totals.delivered += stats.delivered;
    totals.lost += stats.lost;
    totals.duplicated += stats.duplicated;
    totals.queueDrops += stats.queueDrops;
    totals.mtuDrops += stats.mtuDrops;
  }
  const allRtts = pairs.flatMap((p) => p.rtts);
  const pingSent = pairs.reduce((n, p) => n + p.sent, 0);
  const h3Ip = h3.stack.ipv4.counters() as Record<string, unknown>;
  const h2Ip = h2.stack.ipv4.counters() as Record<string, unknown>;
  const num = (x: unknown): number => (typeof x === "number" ? x : 0);
  const fragmented = {
    size: FRAGMENTED_SIZE,
    sent: bigSent,
    echoed: bigEchoed,
    intact: bigIntact,
    fragmentsSent: num(h3Ip["txFragments"]),
    reassembled: num(h2Ip["reassembled"]),
  };
  const tcpDuration = tcp.endAt >= 0 && tcp.startAt >= 0 ? tcp.endAt - tcp.startAt : 0;
  const tcpReport = {
    bytes: TCP_BYTES,
    received: tcp.received,
    intact: tcp.intact && tcp.received === TCP_BYTES,
    durationMs: Math.round(tcpDuration * 1000) / 1000,
    goodputMbps: tcpDuration > 0 ? Math.round((tcp.received * 8) / tcpDuration / 10) / 100 : 0,
    retransmits: h1.stack.tcp.stats.retransmits,
    ...(tcp.error === undefined ? {} : { error: tcp.error }),
  };
  const checks: DemoCheck[] = [
    { name: "ping replies", ok: allRtts.length > 0, detail: `${allRtts.length}/${pingSent} echo requests answered` },
    { name: "every pair reachable", ok: pairs.every((p) => p.replies > 0), detail: pairs.filter((p) => p.replies === 0).map((p) => `${p.from}->${p.to}`).join(", ") || "all 6 pairs answered" },
    { name: "UDP echo", ok: udpRtts.length > 0, detail: `${udpRtts.length}/${udpSent} datagrams echoed` },
    { name: "fragmented datagram", ok: bigIntact > 0 && fragmented.fragmentsSent > 0, detail: `${bigIntact}/${bigSent} ${FRAGMENTED_SIZE}-byte datagrams came back intact (${fragmented.fragmentsSent} fragments sent by h3)` },
    { name: "TCP transfer", ok: tcpReport.intact && tcp.endAt >= 0, detail: `${tcp.received}/${TCP_BYTES} bytes ${tcpReport.intact ? "arrived intact" : "did not arrive intact"}${tcp.endAt >= 0 ? ` in ${tcpReport.durationMs} ms` : ""}${tcp.error === undefined ? "" : ` (error ${tcp.error})`}` },
  ];
  const pcapBytes = capture.bytes();
  return {
    seed,
    virtualTimeMs: clock.now(),
    hosts: hostReports,
    ping: { pairs: pairs.map((p) => ({ from: p.from, to: p.to, sent: p.sent, replies: p.replies, rtt: rttOf(p.rtts) })), rtt: rttOf(allRtts) },
    udpEcho: { sent: udpSent, echoed: udpRtts.length, rtt: rttOf(udpRtts) },
    fragmented,
    tcp: tcpReport,
    switch: { ...sw.stats },
    impairments,
    impairmentTotals: totals,
    capture: { packets: pcap.packets, bytes: pcapBytes.length },
    checks,
    ok: checks.every((c) => c.ok),
    pcap: pcapBytes,
  };
}

interface DemoArgs {
  seed: number;
  pcapPath: string;
  json: boolean;
}

const USAGE = "usage: netlab demo [--seed N] [--pcap FILE] [--json]\n";

function parseArgs(args: string[]): DemoArgs | string {
  const out: DemoArgs = { seed: 1, pcapPath: DEFAULT_PCAP, json: false };
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    const [flag, inline] = a.startsWith("--") && a.includes("=") ? [a.slice(0, a.indexOf("=")), a.slice(a.indexOf("=") + 1)] : [a, undefined];
    const value = (): string | undefined => inline ?? args[++i];
    if (flag === "--json") out.json = true;
    else if (flag === "--seed") {
      const v = value();
      if (v === undefined || !/^\d+$/.test(v) || Number(v) > 0xffffffff) return `--seed needs an integer in 0..4294967295, got ${v ?? "nothing"}`;
      out.seed = Number(v);
    } else if (flag === "--pcap") {
      const v = value();
      if (v === undefined || v === "") return "--pcap needs a file name";
      out.pcapPath = v;
    } else return `unknown argument '${a}'`;
  }
  return out;
}

const pad = (s: string | number, n: number): string => String(s).padStart(n);
const fmtRtt = (r: RttReport): string => (r.count === 0 ? "no replies" : `min/avg/max ${r.minMs.toFixed(3)}/${r.avgMs.toFixed(3)}/${r.maxMs.toFixed(3)} ms (${r.count})`);

function printReport(r: DemoReport, pcapPath: string, wallMs: number): void {
  const w = (s: string): void => void process.stdout.write(`${s}\n`);
  w(`netlab demo — seed ${r.seed}, ${r.virtualTimeMs / 1000} s of virtual time in ${wallMs.toFixed(0)} ms`);
  w("");
  w("hosts on a learning switch (192.0.2.0/24):");
  w(`  ${"host".padEnd(5)} ${"address".padEnd(12)} ${"mac".padEnd(17)} ${pad("tx frm", 7)} ${pad("tx bytes", 9)} ${pad("rx frm", 7)} ${pad("rx bytes", 9)} ${pad("wire drop", 9)} ${pad("pings", 6)} ${pad("replies", 7)}`);
  for (const h of r.hosts) {
    w(`  ${h.name.padEnd(5)} ${h.ip.padEnd(12)} ${h.mac.padEnd(17)} ${pad(h.txFrames, 7)} ${pad(h.txBytes, 9)} ${pad(h.rxFrames, 7)} ${pad(h.rxBytes, 9)} ${pad(h.wireDrops, 9)} ${pad(h.pingsSent, 6)} ${pad(h.pingReplies, 7)}`);
  }
  w("");
  w("ping:");
  for (const p of r.ping.pairs) w(`  ${`${p.from} -> ${p.to}`.padEnd(10)} ${pad(p.replies, 2)}/${p.sent} replies  ${fmtRtt(p.rtt)}`);
  w(`  all        rtt ${fmtRtt(r.ping.rtt)}`);
  w(`UDP echo h1 -> h2:7: ${r.udpEcho.echoed}/${r.udpEcho.sent} echoed, rtt ${fmtRtt(r.udpEcho.rtt)}`);
  w(`fragmented ${r.fragmented.size}-byte datagram h3 -> h2:7 and back: ${r.fragmented.intact}/${r.fragmented.sent} intact (h3 sent ${r.fragmented.fragmentsSent} fragments, h2 reassembled ${r.fragmented.reassembled})`);
  const t4 = r.tcp;
  w(`TCP h1 -> h3:${TCP_PORT}: ${t4.received}/${t4.bytes} bytes ${t4.intact ? "intact" : "NOT intact"}, ${t4.durationMs} ms, goodput ${t4.goodputMbps} Mbit/s, ${t4.retransmits} retransmissions${t4.error === undefined ? "" : `, error ${t4.error}`}`);
  w("");
  w("impairments per port and direction:");
  w(`  ${"port".padEnd(5)} ${"direction".padEnd(11)} ${pad("offered", 7)} ${pad("delivered", 9)} ${pad("lost", 5)} ${pad("dup", 4)} ${pad("q-drop", 6)} ${pad("latency min/avg/max ms", 24)}`);
  for (const { port, direction, stats: s } of r.impairments) {
    const lat = s.delivered === 0 ? "-" : `${s.latencyMinMs.toFixed(2)}/${(s.latencySumMs / s.delivered).toFixed(2)}/${s.latencyMaxMs.toFixed(2)}`;
    w(`  ${port.padEnd(5)} ${direction.padEnd(11)} ${pad(s.offered, 7)} ${pad(s.delivered, 9)} ${pad(s.lost, 5)} ${pad(s.duplicated, 4)} ${pad(s.queueDrops, 6)} ${pad(lat, 24)}`);
  }
  const sw = r.switch;
  w(`switch: ${sw.received} frames in, ${sw.forwarded} forwarded, ${sw.flooded} flooded, ${sw.learned} MACs learned`);
  w("");
  w(`capture: ${pcapPath} (${r.capture.packets} packets, ${r.capture.bytes} bytes, pcapng, one interface per host)`);
  w(`  look at it with: tshark -r ${pcapPath}   or   wireshark ${pcapPath}`);
  w("");
  const t = r.impairmentTotals;
  w(`wire: ${t.offered} frames offered, ${t.delivered} delivered, ${t.lost} lost, ${t.duplicated} duplicated, ${t.queueDrops} queue drops`);
  for (const c of r.checks) w(`${c.ok ? "ok  " : "FAIL"} ${c.name}: ${c.detail}`);
  w(r.ok ? "demo passed" : "demo FAILED");
}

/** `netlab demo [--seed N] [--pcap FILE] [--json]` */
export async function run(args: string[]): Promise<number> {
  if (args.includes("--help") || args.includes("-h")) {
    process.stdout.write(USAGE);
    return 0;
  }
  const parsed = parseArgs(args);
  if (typeof parsed === "string") {
    process.stderr.write(`netlab demo: ${parsed}\n${USAGE}`);
    return 2;
  }
  const started = performance.now();
  const report = runDemo({ seed: parsed.seed, onProgress: (line) => void process.stderr.write(`${line}\n`) });
  const wallMs = performance.now() - started;
  const pcapPath = resolve(parsed.pcapPath);
  writeCaptureFile(pcapPath, report.pcap);
  const { pcap: _bytes, ...rest } = report;
  if (parsed.json) process.stdout.write(`${JSON.stringify({ ...rest, pcapPath, wallTimeMs: Math.round(wallMs) })}\n`);
  else printReport(rest, parsed.pcapPath, wallMs);
  return report.ok ? 0 : 1;
}
