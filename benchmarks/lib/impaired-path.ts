// One impaired path between two TCP endpoints, each either the Linux kernel (a tap whose kernel
// end lives in a namespace of its own) or a netlab stack, so that netlab and Linux senders are
// measured through the very same impairment element. This kernel has no netem: delay, loss and
// reordering are netlab's point-to-point link (stack/link, on the real clock) in the middle, and
// a Linux end is bridged to its side of that link frame by frame (the tap's frames go onto the
// link and the link's frames into the tap). A = 192.0.2.1 (sender), B = 192.0.2.2 (receiver).
//   impairedTransfer(options)   one bulk transfer A -> B; wall seconds, goodput, retransmissions, RTOs
//   impairedPathSkipReason()    why it cannot run here (not root, no /dev/net/tun, no python3)
import { existsSync } from "node:fs";
import { createRealClock } from "../../harness/time/real-clock.ts";
import { createNetns, missingTools, sweepStaleNetns, type Netns, type NetnsProcess } from "../../harness/netns/index.ts";
import { openTap, type TapDevice } from "../../harness/tap/index.ts";
import { createStack, type Stack } from "../../stack/index.ts";
import { createPointToPointLink, type ImpairmentOptions } from "../../stack/link/index.ts";
import type { NetDevice } from "../../stack/link/types.ts";
import { createRng } from "../../stack/time.ts";

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
}

const ADDR = ["192.0.2.1", "192.0.2.2"] as const;
const PORT = 5201;

/** Why the Linux ends cannot be built here, or undefined. */
export function impairedPathSkipReason(): string | undefined {
  if (process.platform !== "linux") return "Linux only";
  if (process.getuid?.() !== 0) return "needs root (taps and namespaces)";
  if (!existsSync("/dev/net/tun")) return "no /dev/net/tun";
  const missing = missingTools(["ip", "python3"]);
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

/** Runs one transfer A -> B through a fresh impaired path; cleans up everything. */
export async function impairedTransfer(o: ImpairedTransferOptions): Promise<ImpairedTransferReport> {
  await sweepStaleNetns().catch(() => undefined);
  const seed = o.seed ?? 1;
  const clock = createRealClock();
  const impairments: ImpairmentOptions = { delayMs: o.delayMs, loss: o.loss, ...(o.reorder === undefined ? {} : { reorder: o.reorder }) };
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
  const stacks: Stack[] = [];
  let senderNs: Netns | undefined;
  let receiverNs: Netns | undefined;
  try {
    for (const side of [0, 1] as const) {
      const kind = side === 0 ? o.sender : o.receiver;
      const end: NetDevice = ends[side];
      if (kind === "netlab") {
        stacks[side] = createStack(
          { device: end, clock, rng: createRng(seed * 2 + side) },
          { ipv4: { cidr: `${ADDR[side]}/24` }, tcp: { congestionControl: o.congestionControl } },
        );
        continue;
      }
      const ns = await createNetns();
      namespaces.push(ns);
      const name = `nlp${side}${process.pid.toString(36)}${Math.floor(Math.random() * 1296).toString(36)}`.slice(0, 15);
      const tap = await openTap({ name });
      taps.push(tap);
      await ns.adoptLink(name);
      await ns.configureLink(name, { addresses: [`${ADDR[side]}/24`], offloadsOff: true });
      // The bridge: frames of the kernel go onto the impaired link, the link's into the kernel.
      tap.onReceive((f) => end.send({ data: f.data }));
      end.onReceive((f) => tap.send({ data: f.data }));
      if (side === 0) senderNs = ns;
      else receiverNs = ns;
    }
    const timeoutMs = (o.timeoutSeconds ?? 300) * 1000;
    // The receiver.
    let received = 0;
    let receiverDone: Promise<void>;
    if (o.receiver === "linux") {
      const sink = receiverNs!.spawn("python3", ["-c", SINK, ADDR[1], String(PORT)]);
      processes.push(sink);
      await sink.waitFor(/ready/, 10_000);
      receiverDone = sink.waitFor(/got \d+/, timeoutMs).then(() => {
        received = Number(/got (\d+)/.exec(sink.output().stdout)![1]);
      });
    } else {
      const l = stacks[1]!.tcp.listen(PORT);
      if (!l.ok) throw new Error(`listen: ${l.error}`);
      receiverDone = new Promise((resolve) => {
        l.value.onConnection((s) => {
          s.onData((d) => {
            received += d.length;
          });
          s.onEnd(() => {
            s.end();
            resolve();
          });
        });
      });
    }
    // The sender.
    if (o.sender === "linux") {
      const before = await tcpTimeouts(senderNs!);
      const src = senderNs!.spawn("python3", ["-c", SOURCE, ADDR[1], String(PORT), String(o.bytes), o.congestionControl]);
      processes.push(src);
      await src.waitFor(/done \S+ \S+ \d+/, timeoutMs);
      await receiverDone;
      const m = /done (\S+) (\S+) (\d+)/.exec(src.output().stdout)!;
      const seconds = Number(m[1]);
      return report(o, seconds, m[2]!, Number(m[3]), (await tcpTimeouts(senderNs!)) - before, received, link);
    }
    const stack = stacks[0]!;
    const t0 = performance.now();
    const c = stack.tcp.connect(0xc0000202, PORT, { congestionControl: o.congestionControl });
    if (!c.ok) throw new Error(`connect: ${c.error}`);
    const s = c.value;
    const chunk = new Uint8Array(65536).map((_, i) => i & 0xff);
    let left = o.bytes;
    const pump = (): void => {
      while (left > 0) {
        const n = Math.min(chunk.length, left);
        left -= n;
        if (!s.write(n === chunk.length ? chunk : chunk.subarray(0, n))) return;
      }
      s.end();
    };
    s.onConnect(pump);
    s.onDrain(pump);
    // Done when the receiver's FIN arrives after the last byte (Linux's sender: recv() returning 0).
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`netlab sender: no FIN from the receiver after ${timeoutMs} ms`)), timeoutMs);
      s.onEnd(() => {
        clearTimeout(timer);
        resolve();
      });
      s.onClose((e) => {
        if (e !== undefined) {
          clearTimeout(timer);
          reject(new Error(`netlab sender: ${e}`));
        }
      });
    });
    const seconds = (performance.now() - t0) / 1000;
    await receiverDone;
    return report(o, seconds, o.congestionControl, stack.tcp.stats.retransmits, stack.tcp.stats.timeouts, received, link);
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
    framesLost: stats.reduce((n, s) => n + s.lost + s.burstLost, 0),
    framesReordered: stats.reduce((n, s) => n + s.reordered, 0),
  };
}
