// One impaired path between two TCP endpoints, each either the Linux kernel or a netlab stack,
// so that netlab and Linux senders are measured through the very same impairment element. This
// kernel has no netem: delay, loss, reordering and an optional bottleneck rate are netlab's
// point-to-point link (stack/link, on the real clock) in this process, the element; each end of
// the link is bridged frame by frame to a tap of its own (the tap's frames go onto the link and
// the link's frames into the tap), whatever the endpoint behind it:
//   Linux:  the tap's kernel end, in a namespace of its own, is the endpoint (python3 sockets);
//   netlab: a child Node process (impaired-endpoint.ts) runs the stack on a second tap, and a
//           Linux bridge in the side's namespace joins the two taps' kernel ends.
// So a netlab endpoint never shares a JS thread with the element (at BBR's rates it used to:
// the element then took CPU from the sender it measured), at the cost of one kernel bridge hop.
// A = 192.0.2.1 (sender), B = 192.0.2.2 (receiver).
//   impairedTransfer(options)   one bulk transfer A -> B; wall seconds, goodput, retransmissions, RTOs
//   impairedPathSkipReason()    why it cannot run here (not root, no /dev/net/tun, no python3)
import { existsSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { createRealClock } from "../../harness/time/real-clock.ts";
import { createNetns, missingTools, sweepStaleNetns, type Netns, type NetnsProcess } from "../../harness/netns/index.ts";
import { openTap, type TapDevice } from "../../harness/tap/index.ts";
import { createPointToPointLink, type ImpairmentOptions } from "../../stack/link/index.ts";
import { createRng } from "../../stack/time.ts";
import type { EndpointDone, EndpointSpec } from "./impaired-endpoint.ts";

export type Endpoint = "linux" | "netlab";

export interface ImpairedTransferOptions {
  readonly sender: Endpoint;
  readonly receiver: Endpoint;
  readonly bytes: number;
  /** One-way delay of each direction (RTT = 2·delayMs). */
  readonly delayMs: number;
  /** Random loss of each direction. */
  readonly loss: number;
  /** Probability a frame is held back one delay, letting later frames pass (each direction). */
  readonly reorder?: number;
  /** A bottleneck: each direction's line rate in bit/s (the link's rateBitsPerSecond; default none). */
  readonly rateBitsPerSecond?: number;
  /** With a rate: frames queued at the bottleneck before tail drop (the link's queueLimitFrames). */
  readonly queueFrames?: number;
  /** Congestion control of the sender, pinned on the kernel socket (TCP_CONGESTION) or netlab's. */
  readonly congestionControl: "cubic" | "newreno" | "bbr";
  readonly seed?: number;
  /** Give up after this many wall seconds. */
  readonly timeoutSeconds?: number;
}

export interface ImpairedTransferReport {
  readonly sender: Endpoint;
  readonly receiver: Endpoint;
  readonly bytes: number;
  /** From connect() until the sender saw the receiver close after the last byte. */
  readonly seconds: number;
  readonly wallGoodputBitsPerSecond: number;
  /** What the kernel socket reported (TCP_CONGESTION) or netlab's connection used. */
  readonly congestionControl: string;
  /** Segments retransmitted by the sender (tcpi_total_retrans, or the netlab layer's count). */
  readonly retransmits: number;
  /** Retransmission timeouts of the sender (TcpExt TCPTimeouts of its namespace, or netlab's). */
  readonly timeouts: number;
  /** Frames the link dropped (both directions) and held back. */
  readonly framesLost: number;
  readonly framesReordered: number;
  /** The bottleneck rate (0: none) and the frames its queue dropped (both directions). */
  readonly rateBitsPerSecond: number;
  readonly queueDrops: number;
  /** CPU seconds of the element's process (its tap reader threads included) during the transfer. */
  readonly elementCpuSeconds: number;
  /** A netlab sender's TCP layer counters and its connection's TcpInfo at the end (BBR's model among them). */
  readonly senderStats?: Readonly<Record<string, number>>;
  /** CPU seconds of the netlab sender's process during the transfer (near `seconds`: it had a core's worth). */
  readonly senderCpuSeconds?: number;
  readonly senderInfo?: Readonly<Record<string, unknown>>;
  /** A netlab receiver's TCP layer counters at the end (PAWS drops, D-SACKs sent, ...). */
  readonly receiverStats?: Readonly<Record<string, number>>;
}

const ADDR = ["192.0.2.1", "192.0.2.2"] as const;
const PORT = 5201;

/** Why the Linux ends cannot be built here, or undefined. */
export function impairedPathSkipReason(): string | undefined {
  if (process.platform !== "linux") return "Linux only";
  if (process.getuid?.() !== 0) return "needs root (taps and namespaces)";
  if (!existsSync("/dev/net/tun")) return "no /dev/net/tun";
  const missing = missingTools(["ip", "bridge", "python3"]);
  return missing.length > 0 ? `missing ${missing.join(", ")}` : undefined;
}

const SINK = `
import socket, sys
l = socket.socket(); l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
l.bind((sys.argv[1], int(sys.argv[2]))); l.listen(1); print("ready", flush=True)
c, _ = l.accept(); n = 0
while True:
    b = c.recv(1 << 20)
    if not b: break
    n += len(b)
c.close(); print("got", n, flush=True)
`;

// TCP_CONGESTION = 13, TCP_INFO = 11; tcpi_total_retrans is the u32 at offset 100 of struct tcp_info.
const SOURCE = `
import socket, sys, time, struct
s = socket.socket()
s.setsockopt(socket.IPPROTO_TCP, 13, sys.argv[4].encode())
t0 = time.monotonic()
s.connect((sys.argv[1], int(sys.argv[2])))
left = int(sys.argv[3]); buf = bytes(range(256)) * 256
while left > 0:
    n = s.send(buf[:min(len(buf), left)]); left -= n
s.shutdown(socket.SHUT_WR)
while s.recv(65536): pass
t = time.monotonic() - t0
cc = s.getsockopt(socket.IPPROTO_TCP, 13, 16).split(b"\\0")[0].decode()
info = s.getsockopt(socket.IPPROTO_TCP, 11, 232)
print("done", t, cc, struct.unpack_from("I", info, 100)[0], flush=True)
`;

async function tcpTimeouts(ns: Netns): Promise<number> {
  const text = await ns.execChecked("cat", ["/proc/net/netstat"]);
  const lines = text.split("\n").filter((l) => l.startsWith("TcpExt:"));
  const names = lines[0]?.split(/\s+/) ?? [];
  const values = lines[1]?.split(/\s+/) ?? [];
  const i = names.indexOf("TCPTimeouts");
  return i < 0 ? 0 : Number(values[i]);
}

const ENDPOINT = path.join(path.dirname(fileURLToPath(import.meta.url)), "impaired-endpoint.ts");
/** tsx's loader, resolved from here so that the child does not depend on the working directory. */
const TSX = ((): string => {
  try {
    return import.meta.resolve("tsx");
  } catch {
    return "tsx";
  }
})();

const ADDRESS = [0xc0000201, 0xc0000202] as const;

/** The child's last JSON line: its result, or its error thrown. */
function endpointResult(p: NetnsProcess): EndpointDone {
  const lines = p
    .output()
    .stdout.split("\n")
    .filter((l) => l.startsWith("{"));
  const last = JSON.parse(lines[lines.length - 1] ?? "{}") as { event?: string; message?: string };
  if (last.event !== "done") throw new Error(`netlab endpoint: ${last.message ?? "no result"} ${p.output().stderr.trim()}`);
  return last as EndpointDone;
}

/**
 * Resolves once the bridge of `ns` forwards frames of the tap `device` (a port starts "disabled"
 * until a process attaches to its tap): a sender must not start before, or its SYN is lost.
 */
async function forwarding(ns: Netns, device: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    const ports = JSON.parse(await ns.execChecked("bridge", ["-j", "link", "show", "dev", device])) as { state?: string }[];
    if (ports[0]?.state === "forwarding") return;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`the bridge port of ${device} does not forward after 2 s`);
}

/** Runs one transfer A -> B through a fresh impaired path; cleans up everything. */
export async function impairedTransfer(o: ImpairedTransferOptions): Promise<ImpairedTransferReport> {
  await sweepStaleNetns().catch(() => undefined);
  const seed = o.seed ?? 1;
  const clock = createRealClock();
  const rate = o.rateBitsPerSecond ?? 0;
  const impairments: ImpairmentOptions = {
    delayMs: o.delayMs,
    loss: o.loss,
    ...(o.reorder === undefined ? {} : { reorder: o.reorder }),
    ...(rate > 0 ? { rateBitsPerSecond: rate, ...(o.queueFrames === undefined ? {} : { queueLimitFrames: o.queueFrames }) } : {}),
  };
  const link = createPointToPointLink(
    { clock, rng: createRng(seed ^ 0x3c6ef372) },
    {
      a: { mac: 0x020000000a01, mtu: 1500, impairments },
      b: { mac: 0x020000000a02, mtu: 1500, impairments },
    },
  );
  const ends = [link.a, link.b] as const;
  const namespaces: Netns[] = [];
  const taps: TapDevice[] = [];
  const processes: NetnsProcess[] = [];
  const sideNs: Netns[] = [];
  const timeoutMs = (o.timeoutSeconds ?? 300) * 1000;
  const tapName = (side: number, role: string): string =>
    `nlp${role}${side}${process.pid.toString(36)}${Math.floor(Math.random() * 1296).toString(36)}`.slice(0, 15);
  /** The netlab endpoint of `side` in a child process on the tap `tap` of that side's namespace. */
  const spawnEndpoint = (side: 0 | 1, tap: string): NetnsProcess => {
    const spec: EndpointSpec = {
      role: side === 0 ? "sender" : "receiver",
      tap,
      address: ADDRESS[side],
      peer: ADDRESS[1 - side]!,
      port: PORT,
      bytes: o.bytes,
      congestionControl: o.congestionControl,
      seed: seed * 2 + side,
      timeoutMs,
    };
    const p = sideNs[side]!.spawn(process.execPath, ["--import", TSX, ENDPOINT, JSON.stringify(spec)]);
    processes.push(p);
    return p;
  };
  const endpointTaps: string[] = [];
  try {
    for (const side of [0, 1] as const) {
      const kind = side === 0 ? o.sender : o.receiver;
      const ns = await createNetns();
      namespaces.push(ns);
      sideNs[side] = ns;
      const name = tapName(side, "e");
      const tap = await openTap({ name });
      taps.push(tap);
      await ns.adoptLink(name);
      if (kind === "linux") {
        await ns.configureLink(name, { addresses: [`${ADDR[side]}/24`], offloadsOff: true });
      } else {
        // The child's tap (persistent, so that the bridge is up before the child attaches to it) and
        // a bridge joining it to the element's tap.
        const child = tapName(side, "n");
        endpointTaps[side] = child;
        await ns.ip("tuntap", "add", "dev", child, "mode", "tap");
        await ns.ip("link", "add", "br0", "type", "bridge", "forward_delay", "0");
        for (const dev of [name, child]) {
          await ns.configureLink(dev, { offloadsOff: true });
          await ns.ip("link", "set", dev, "master", "br0");
        }
        await ns.configureLink("br0");
      }
      // The bridge: frames of the tap go onto the impaired link, the link's into the tap.
      const end = ends[side];
      tap.onReceive((f) => end.send({ data: f.data }));
      end.onReceive((f) => tap.send({ data: f.data }));
    }
    // The receiver.
    let receiverDone: Promise<number>;
    let receiverStats: Readonly<Record<string, number>> | undefined;
    if (o.receiver === "linux") {
      const sink = sideNs[1]!.spawn("python3", ["-c", SINK, ADDR[1], String(PORT)]);
      processes.push(sink);
      await sink.waitFor(/ready/, 10_000);
      receiverDone = sink.waitFor(/got \d+/, timeoutMs).then(() => Number(/got (\d+)/.exec(sink.output().stdout)![1]));
    } else {
      const child = spawnEndpoint(1, endpointTaps[1]!);
      await child.waitFor(/"event":"(ready|error)"/, 30_000);
      await forwarding(sideNs[1]!, endpointTaps[1]!);
      receiverDone = child.waitFor(/"event":"(done|error)"/, timeoutMs).then(() => {
        const r = endpointResult(child);
        receiverStats = r.stats;
        return r.received;
      });
    }
    // Awaited below; a receiver failing while the sender runs is reported there, not as unhandled.
    receiverDone.catch(() => undefined);
    // The sender.
    const cpu0 = process.cpuUsage();
    const elementCpu = (): number => {
      const d = process.cpuUsage(cpu0);
      return (d.user + d.system) / 1e6;
    };
    if (o.sender === "linux") {
      const before = await tcpTimeouts(sideNs[0]!);
      const src = sideNs[0]!.spawn("python3", ["-c", SOURCE, ADDR[1], String(PORT), String(o.bytes), o.congestionControl]);
      processes.push(src);
      await src.waitFor(/done \S+ \S+ \d+/, timeoutMs);
      const received = await receiverDone;
      const m = /done (\S+) (\S+) (\d+)/.exec(src.output().stdout)!;
      return {
        ...report(o, Number(m[1]), m[2]!, Number(m[3]), (await tcpTimeouts(sideNs[0]!)) - before, received, link, elementCpu()),
        ...(receiverStats === undefined ? {} : { receiverStats }),
      };
    }
    const child = spawnEndpoint(0, endpointTaps[0]!);
    await child.waitFor(/"event":"(done|error)"/, timeoutMs + 30_000);
    const r = endpointResult(child);
    const received = await receiverDone;
    const stats = r.stats;
    return {
      ...report(o, r.seconds, o.congestionControl, stats["retransmits"] ?? 0, stats["timeouts"] ?? 0, received, link, elementCpu()),
      senderStats: stats,
      senderCpuSeconds: r.cpuSeconds,
      ...(r.info === undefined ? {} : { senderInfo: r.info }),
      ...(receiverStats === undefined ? {} : { receiverStats }),
    };
  } finally {
    for (const p of processes) await p.stop("SIGKILL", 500).catch(() => undefined);
    clock.close();
    for (const t of taps) await t.close().catch(() => undefined);
    for (const ns of namespaces) await ns.remove();
  }
}

function report(
  o: ImpairedTransferOptions,
  seconds: number,
  cc: string,
  retransmits: number,
  timeouts: number,
  received: number,
  link: ReturnType<typeof createPointToPointLink>,
  elementCpuSeconds: number,
): ImpairedTransferReport {
  if (received !== o.bytes) throw new Error(`receiver got ${received} of ${o.bytes} bytes`);
  const stats = [link.a.txStats, link.b.txStats];
  return {
    sender: o.sender,
    receiver: o.receiver,
    bytes: o.bytes,
    seconds,
    wallGoodputBitsPerSecond: (o.bytes * 8) / seconds,
    congestionControl: cc,
    retransmits,
    timeouts,
    framesLost: stats.reduce((n, s) => n + s.lost, 0),
    framesReordered: stats.reduce((n, s) => n + s.reordered, 0),
    rateBitsPerSecond: o.rateBitsPerSecond ?? 0,
    queueDrops: stats.reduce((n, s) => n + s.queueDrops, 0),
    elementCpuSeconds,
  };
}
