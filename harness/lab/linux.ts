// Linux hosts of a lab: the kernel's stack in a network namespace of its own, attached to the
// lab's link by a tap (the tap's frames go onto the link end, the link's into the tap), so the
// kernel sits on netlab's simulated links and routers (its impairments are netlab's: this
// kernel has no netem). Needs root, /dev/net/tun, ip and python3; the namespace and the tap are
// removed by close(), which the runner calls on every exit.
//   linuxSkipReason()            why linux nodes cannot run here, or undefined
//   attachLinuxHost(options)     namespace + tap + addresses + default route
//   startLinuxBulkSender(...)    a python3 TCP sender in the namespace (congestion control pinned
//                                with TCP_CONGESTION), sampling cwnd and RTT from TCP_INFO
import { existsSync } from "node:fs";
import { createNetns, missingTools, type Netns, type NetnsProcess } from "../netns/index.ts";
import { openTap, type TapDevice } from "../tap/index.ts";
import type { NetDevice } from "../../stack/link/types.ts";

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

/** Debian's python3 (pyenv's shim, first on PATH here, takes seconds to start under load). */
const PYTHON = existsSync("/usr/bin/python3") ? "/usr/bin/python3" : "python3";

/** Starts a kernel TCP sender in the host's namespace now; it connects to dst:port `inMs` from now and sends for `seconds`. */
export function startLinuxBulkSender(host: LinuxHost, o: { dst: string; port: number; inMs: number; seconds: number; congestionControl: string; intervalMs: number }): {
  process: NetnsProcess;
  result(): LinuxSenderResult;
} {
  const startAt = Number(process.hrtime.bigint()) / 1e9 + Math.max(0, o.inMs) / 1000;
  const p = host.ns.spawn(PYTHON, ["-c", SENDER, o.dst, String(o.port), String(o.seconds), o.congestionControl, String(o.intervalMs), startAt.toFixed(6)]);
  return {
    process: p,
    result() {
      const out = p.output().stdout;
      const done = /^done (\d+) (\S+)$/m.exec(out);
      const samples = [...out.matchAll(/^s (\d+) (\d+) (\d+)$/gm)].map((m) => ({ t: Number(m[1]), cwnd: Number(m[2]), srttMs: Number(m[3]) / 1000 }));
      const error = p.output().stderr.trim().split("\n").pop();
      return {
        connected: /^connected$/m.test(out), retransmits: done === null ? 0 : Number(done[1]), congestionControl: done?.[2] ?? o.congestionControl, samples,
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
export function startLinuxTraceroute(host: LinuxHost, o: { dst: string; inMs: number; maxHops: number }): {
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
