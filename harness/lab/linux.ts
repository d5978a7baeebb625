// Linux hosts of a lab: the kernel's stack in a network namespace of its own, attached to the
// lab's link by a tap (the tap's frames go onto the link end, the link's into the tap), so the
// kernel sits on netlab's simulated links and routers (its impairments are netlab's: this
// kernel has no netem). Needs root, /dev/net/tun, ip and python3; the namespace and the tap are
// removed by close(), which the runner calls on every exit.
//   linuxSkipReason()            why linux nodes cannot run here, or undefined
//   attachLinuxHost(options)     namespace + tap + addresses + default route
//   startLinuxBulkSender(...)    a python3 TCP sender in the namespace (congestion control pinned
//                                with TCP_CONGESTION), sampling cwnd and RTT from TCP_INFO
//   startIperf3Server(...)       iperf3 -s -1 -J in one namespace (ready() once it listens)
//   startIperf3Client(...)       iperf3 -c -J --get-server-output in another; parseIperf3Json()
//                                reads both ends' intervals from its output
//   linuxCongestionControl(cc)   the kernel's name of a topology's algorithm (newreno is "reno")
import { existsSync } from "node:fs";
import { createNetns, missingTools, type Netns, type NetnsProcess } from "../netns/index.ts";
import { openTap, type TapDevice } from "../tap/index.ts";
import type { NetDevice } from "../../stack/link/types.ts";
import { NetlabError } from "../../stack/error.ts";

/** Why linux nodes cannot be built here, or undefined. */
export function linuxSkipReason(): string | undefined {
  if (process.platform !== "linux") return "linux nodes need Linux";
  if (process.getuid?.() !== 0) return "linux nodes need root (network namespaces and tap devices)";
  if (!existsSync("/dev/net/tun")) return "linux nodes need /dev/net/tun";
  const missing = missingTools(["ip", "python3"]);
  return missing.length > 0 ? `linux nodes need ${missing.join(", ")}` : undefined;
}

export interface LinuxHost {
  readonly name: string;
  readonly ns: Netns;
  readonly tap: TapDevice;
  /** Stops its processes, closes the tap, deletes the namespace; never throws. */
  close(): Promise<void>;
}

export interface LinuxHostOptions {
  readonly name: string;
  /** The lab's end of the link the host is plugged into. */
  readonly device: NetDevice;
  /** "10.1.1.2/24". */
  readonly address: string;
  readonly gateway?: string;
  readonly mtu: number;
  /** Distinguishes the taps of one run (kept under IFNAMSIZ). */
  readonly index: number;
}

/** Creates the namespace and the tap, bridges the tap to `device`, configures address and route. */
export async function attachLinuxHost(o: LinuxHostOptions): Promise<LinuxHost> {
  const ns = await createNetns("nl-lab-");
  let tap: TapDevice | undefined;
  try {
    const tapName = `nll${process.pid.toString(36)}x${o.index.toString(36)}`.slice(0, 15);
    tap = await openTap({ name: tapName });
    const t = tap;
    t.onReceive((f) => o.device.send({ data: f.data }));
    o.device.onReceive((f) => t.send({ data: f.data }));
    await ns.adoptLink(tapName);
    await ns.configureLink(tapName, { addresses: [o.address], mtu: o.mtu, offloadsOff: true });
    if (o.gateway !== undefined) await ns.ip("route", "add", "default", "via", o.gateway);
  } catch (e) {
    await tap?.close().catch(() => undefined);
    await ns.remove();
    throw e;
  }
  const t = tap;
  return {
    name: o.name,
    ns,
    tap: t,
    async close() {
      await t.close().catch(() => undefined);
      await ns.remove();
    },
  };
}

// Sleeps until CLOCK_MONOTONIC reaches `start` (s; Node's process.hrtime is the same clock), then
// sends for `seconds` (16 KiB writes), shuts down and drains; prints "s T CWND_BYTES RTT_US"
// at most once per interval while sending and "done RETRANS CC" at the end.
// struct tcp_info: snd_mss u32 at 16, rtt (us) at 68, snd_cwnd (segments) at 80, total_retrans at 100.
const SENDER = `
import socket, sys, time, struct
dst, port, seconds, cc, interval = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), sys.argv[4], float(sys.argv[5]) / 1000
time.sleep(max(0, float(sys.argv[6]) - time.monotonic()))
s = socket.socket()
s.setsockopt(socket.IPPROTO_TCP, 13, cc.encode())
s.connect((dst, port))
t0 = time.monotonic(); nxt = interval; buf = bytes(range(256)) * 64
print("connected", flush=True)
while True:
    t = time.monotonic() - t0
    if t >= seconds: break
    if t >= nxt:
        i = s.getsockopt(socket.IPPROTO_TCP, 11, 232)
        mss, rtt, cwnd = struct.unpack_from("I", i, 16)[0], struct.unpack_from("I", i, 68)[0], struct.unpack_from("I", i, 80)[0]
        print("s", round(nxt * 1000), cwnd * mss, rtt, flush=True)
        nxt += interval
    s.send(buf)
i = s.getsockopt(socket.IPPROTO_TCP, 11, 232)
used = s.getsockopt(socket.IPPROTO_TCP, 13, 16).split(b"\\0")[0].decode()
print("done", struct.unpack_from("I", i, 100)[0], used, flush=True)
s.shutdown(socket.SHUT_WR)
s.settimeout(2)
try:
    while s.recv(65536): pass
except Exception: pass
`;

export interface LinuxSenderResult {
  readonly connected: boolean;
  readonly retransmits: number;
  /** The algorithm the kernel socket reported (TCP_CONGESTION). */
  readonly congestionControl: string;
  /** ms since the connection was made, cwnd in bytes, smoothed RTT in ms. */
  readonly samples: readonly { t: number; cwnd: number; srttMs: number }[];
  /** The sender's last stderr line, if it wrote any (why it failed). */
  readonly error?: string;
}

/** The kernel's name of a topology file's congestion control: Linux's "reno" is NewReno (RFC 6582 recovery). */
export function linuxCongestionControl(cc: string): string {
  return cc === "newreno" ? "reno" : cc;
}

/** Debian's python3 (pyenv's shim, first on PATH here, takes seconds to start under load). */
const PYTHON = existsSync("/usr/bin/python3") ? "/usr/bin/python3" : "python3";

/** Starts a kernel TCP sender in the host's namespace now; it connects to dst:port `inMs` from now and sends for `seconds`. */
export function startLinuxBulkSender(
  host: LinuxHost,
  o: { dst: string; port: number; inMs: number; seconds: number; congestionControl: string; intervalMs: number },
): {
  process: NetnsProcess;
  result(): LinuxSenderResult;
} {
  const startAt = Number(process.hrtime.bigint()) / 1e9 + Math.max(0, o.inMs) / 1000;
  const p = host.ns.spawn(PYTHON, [
    "-c",
    SENDER,
    o.dst,
    String(o.port),
    String(o.seconds),
    linuxCongestionControl(o.congestionControl),
    String(o.intervalMs),
    startAt.toFixed(6),
  ]);
  return {
    process: p,
    result() {
      const out = p.output().stdout;
      const done = /^done (\d+) (\S+)$/m.exec(out);
      const samples = [...out.matchAll(/^s (\d+) (\d+) (\d+)$/gm)].map((m) => ({ t: Number(m[1]), cwnd: Number(m[2]), srttMs: Number(m[3]) / 1000 }));
      const error = p.output().stderr.trim().split("\n").pop();
      return {
        connected: /^connected$/m.test(out),
        retransmits: done === null ? 0 : Number(done[1]),
        congestionControl: done?.[2] ?? o.congestionControl,
        samples,
        ...(error === undefined || error === "" ? {} : { error }),
      };
    },
  };
}

/**
 * Starts the kernel's traceroute(8) in the host's namespace: `inMs` from now, UDP probes (the
 * classic kind, to ports from 33434, so the last hop answers port unreachable), one probe per TTL
 * and one at a time (-q 1 -N 1), 1 s wait, numeric. result() reads its output when the run ends.
 */
export function startLinuxTraceroute(
  host: LinuxHost,
  o: { dst: string; inMs: number; maxHops: number },
): {
  process: NetnsProcess;
  result(): { hops: { ttl: number; from?: string; rttMs?: number; reached: boolean }[]; reached: boolean; error?: string };
} {
  const delay = (Math.max(0, o.inMs) / 1000).toFixed(3);
  const p = host.ns.spawn("sh", ["-c", `sleep ${delay}; exec traceroute -n -q 1 -N 1 -w 1 -m ${o.maxHops} ${o.dst}`]);
  return {
    process: p,
    result() {
      const hops = parseTracerouteOutput(p.output().stdout, o.dst);
      const err = p.output().stderr.trim().split("\n").pop();
      return { hops, reached: hops.some((h) => h.reached), ...(err === undefined || err === "" ? {} : { error: err }) };
    },
  };
}

/** traceroute -n -q 1 lines (" 3  10.0.1.2  0.412 ms", " 4  *") as hops; the hop that is dst is reached. */
export function parseTracerouteOutput(out: string, dst: string): { ttl: number; from?: string; rttMs?: number; reached: boolean }[] {
  const hops: { ttl: number; from?: string; rttMs?: number; reached: boolean }[] = [];
  for (const m of out.matchAll(/^\s*(\d+)\s+(?:(\d+\.\d+\.\d+\.\d+)\s+([\d.]+) ms|\*)/gm)) {
    const ttl = Number(m[1]);
    if (m[2] === undefined) hops.push({ ttl, reached: false });
    else hops.push({ ttl, from: m[2], rttMs: Number(m[3]), reached: m[2] === dst });
  }
  return hops;
}

/** One interval of an iperf3 test: both ends' view of the same time span. */
export interface Iperf3Interval {
  /** End of the interval, ms since the test started (the receiver's clock). */
  readonly t: number;
  /** Bits per second the receiver (iperf3 -s) read in the interval. */
  readonly receivedBitsPerSecond: number;
  readonly receivedBytes: number;
  /** The sender's cwnd (bytes) and smoothed RTT (ms) at the nearest sender interval end (TCP_INFO). */
  readonly cwnd: number;
  readonly srttMs: number;
}

/** What an iperf3 client's -J --get-server-output says about its test. */
export interface Iperf3Result {
  readonly connected: boolean;
  /** iperf3's own error message, or why its output could not be read. */
  readonly error?: string;
  readonly version?: string;
  /** Sender and receiver algorithms as the sockets reported them. */
  readonly senderCongestionControl?: string;
  readonly seconds: number;
  readonly sentBytes: number;
  readonly receivedBytes: number;
  readonly senderBitsPerSecond: number;
  readonly receiverBitsPerSecond: number;
  readonly retransmits: number;
  readonly intervals: readonly Iperf3Interval[];
}

const EMPTY_IPERF3: Iperf3Result = {
  connected: false,
  seconds: 0,
  sentBytes: 0,
  receivedBytes: 0,
  senderBitsPerSecond: 0,
  receiverBitsPerSecond: 0,
  retransmits: 0,
  intervals: [],
};

type Json = Record<string, unknown>;
const obj = (v: unknown): Json => (typeof v === "object" && v !== null && !Array.isArray(v) ? (v as Json) : {});
const arr = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
const numOf = (v: unknown): number => (typeof v === "number" && Number.isFinite(v) ? v : 0);

/**
 * Reads iperf3 -c -J --get-server-output (iperf3 3.x): totals from `end`, per interval the
 * receiver's bytes from `server_output_json.intervals` (the server ran with -J and the same -i)
 * and the sender's cwnd and RTT from the client's own intervals (first stream). Never throws.
 */
export function parseIperf3Json(text: string): Iperf3Result {
  let d: Json;
  try {
    d = obj(JSON.parse(text));
  } catch {
    const first = text.trim().split("\n")[0] ?? "";
    return { ...EMPTY_IPERF3, error: text.trim() === "" ? "iperf3 printed nothing" : `iperf3 output is not JSON: ${first.slice(0, 200)}` };
  }
  const start = obj(d.start);
  const end = obj(d.end);
  const sent = obj(end.sum_sent);
  const received = obj(end.sum_received);
  const senderIntervals = arr(d.intervals).map((i) => {
    const stream = obj(arr(obj(i).streams)[0]);
    return { end: numOf(obj(obj(i).sum).end), cwnd: numOf(stream.snd_cwnd), srttMs: numOf(stream.rtt) / 1000 };
  });
  const server = obj(d.server_output_json);
  const intervals = arr(server.intervals).map((i): Iperf3Interval => {
    const sum = obj(obj(i).sum);
    const endS = numOf(sum.end);
    const near = senderIntervals.findLast((x) => x.end <= endS + 1e-3) ?? senderIntervals[0];
    // iperf3 prints microseconds.
    return {
      t: Math.round(endS * 1e6) / 1e3,
      receivedBitsPerSecond: numOf(sum.bits_per_second),
      receivedBytes: numOf(sum.bytes),
      cwnd: near?.cwnd ?? 0,
      srttMs: near?.srttMs ?? 0,
    };
  });
  const error = typeof d.error === "string" ? d.error : undefined;
  const version = typeof start.version === "string" ? start.version : undefined;
  const cc = typeof end.sender_tcp_congestion === "string" ? end.sender_tcp_congestion : undefined;
  return {
    connected: arr(start.connected).length > 0,
    ...(error === undefined ? {} : { error }),
    ...(version === undefined ? {} : { version }),
    ...(cc === undefined ? {} : { senderCongestionControl: cc }),
    seconds: numOf(received.seconds) || numOf(sent.seconds),
    sentBytes: numOf(sent.bytes),
    receivedBytes: numOf(received.bytes),
    senderBitsPerSecond: numOf(sent.bits_per_second),
    receiverBitsPerSecond: numOf(received.bits_per_second),
    retransmits: numOf(sent.retransmits),
    intervals,
  };
}

/** Starts `iperf3 -s -1 -J` (one test, then it exits) in the host's namespace, bound to `address`; ready() resolves once it listens. */
export function startIperf3Server(
  host: LinuxHost,
  o: { address: string; port: number; intervalMs: number },
): { process: NetnsProcess; ready(timeoutMs: number): Promise<void> } {
  const p = host.ns.spawn("iperf3", ["-s", "-1", "-J", "-B", o.address, "-p", String(o.port), "-i", (o.intervalMs / 1000).toFixed(3)]);
  return {
    process: p,
    async ready(timeoutMs) {
      // With -J the server prints nothing until its test ends: its listening socket is the sign.
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const r = await host.ns.exec("ss", ["-Hltn", `sport = :${o.port}`]);
        if (r.stdout.trim() !== "") return;
        if (p.child.exitCode !== null || Date.now() > deadline) {
          throw new NetlabError(
            "ERR_NETLAB_LAB_IPERF3",
            `iperf3 -s on ${host.name} port ${o.port} did not listen within ${timeoutMs} ms: ${p.output().stdout.trim().slice(0, 300)}${p.output().stderr.trim()}`,
          );
        }
        await new Promise((r2) => setTimeout(r2, 20));
      }
    },
  };
}

/**
 * Starts an iperf3 client in the host's namespace: `inMs` from now it sends to dst:port for
 * `seconds` (whole seconds, iperf3's -t) with the congestion control pinned (-C), intervals of
 * `intervalMs`, and prints one JSON report that includes the server's (--get-server-output).
 * finished() waits for it to exit (bounded); result() parses what it printed.
 */
export function startIperf3Client(
  host: LinuxHost,
  o: { dst: string; port: number; inMs: number; seconds: number; congestionControl: string; intervalMs: number },
): {
  process: NetnsProcess;
  finished(timeoutMs: number): Promise<void>;
  result(): Iperf3Result;
} {
  const delay = (Math.max(0, o.inMs) / 1000).toFixed(3);
  const args = [
    "-c",
    o.dst,
    "-p",
    String(o.port),
    "-t",
    String(o.seconds),
    "-i",
    (o.intervalMs / 1000).toFixed(3),
    "-J",
    "--get-server-output",
    "-C",
    linuxCongestionControl(o.congestionControl),
  ];
  const p = host.ns.spawn("sh", ["-c", `sleep ${delay}; exec iperf3 ${args.join(" ")}`]);
  const exited = new Promise<void>((resolve) => {
    if (p.child.exitCode !== null || p.child.signalCode !== null) resolve();
    else p.child.once("exit", () => resolve());
  });
  return {
    process: p,
    finished: (timeoutMs) => Promise.race([exited, new Promise<void>((r) => setTimeout(r, timeoutMs).unref())]),
    result() {
      const r = parseIperf3Json(p.output().stdout);
      const stderr = p.output().stderr.trim().split("\n").pop();
      return r.error === undefined && stderr !== undefined && stderr !== "" && !r.connected ? { ...r, error: stderr } : r;
    },
  };
}
