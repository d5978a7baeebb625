// `netlab sim transfer --bytes N [--loss P --delay MS --jitter MS --reorder P --dup P
// --corrupt P --rate BPS --mtu N --buffer BYTES --cc cubic|newreno --seed S --pcap FILE --json]`:
// two full stacks (192.0.2.1 sends, 192.0.2.2 receives) on a point-to-point wire impaired
// the same way in both directions; N seeded pseudo-random bytes cross one TCP connection in
// virtual time. Data are generated and hashed (sha256, node:crypto) in 64 KiB chunks on both
// sides, so N may exceed memory. Reports whether what arrived equals what was sent, virtual
// and wall time, goodput over each, and retransmissions; progress goes to stderr.
//   runTransfer(options)   the scenario as a function (tests, bench)
//   parseTransferArgs()    the CLI options
//   run(args)              the CLI entry: exit 0 when intact, 1 on any mismatch or failure
import { createHash } from "node:crypto";
import { performance } from "node:perf_hooks";
import { createStack } from "../../stack/index.ts";
import { createPointToPointLink, withCapture, type ImpairmentOptions } from "../../stack/link/index.ts";
import type { NetDevice } from "../../stack/link/types.ts";
import { createRng, createVirtualClock } from "../../stack/time.ts";
import { createCaptureFile, type CaptureFile } from "../pcap/files.ts";

export const summary = "TCP bulk transfer between two stacks over an impaired wire, sha256-checked (--bytes N [--loss P --delay MS ... --json])";

/** Options of runTransfer (probabilities in [0, 1]). */
export interface TransferOptions {
  readonly bytes: number;
  readonly loss?: number;
  readonly delayMs?: number;
  readonly jitterMs?: number;
  readonly reorder?: number;
  readonly duplicate?: number;
  readonly corrupt?: number;
  /** Line rate in bit/s (0 = unlimited). */
  readonly rateBitsPerSecond?: number;
  readonly mtu?: number;
  readonly congestionControl?: "cubic" | "newreno";
  /** Send and receive buffer of both sockets in bytes (TcpLayerOptions.sendBufferSize and
   * receiveBufferSize of both stacks); the sender also writes at most this much at a time. */
  readonly bufferBytes?: number;
  /** TcpLayerOptions.fillWindowEdge on both stacks (send the sub-MSS rest of a small open window, as smoltcp). */
  readonly fillWindowEdge?: boolean;
  /** ECN on both stacks (TcpLayerOptions.ecn "on"). */
  readonly ecn?: boolean;
  /** With a rate limit: ECN-capable packets that find this many frames queued are marked CE (ImpairmentOptions.ecnMarkFrames). */
  readonly ecnMarkFrames?: number;
  /** With a rate limit: frames queued before tail drop (ImpairmentOptions.queueLimitFrames, default 1000). */
  readonly queueFrames?: number;
  readonly seed?: number;
  /** Write a pcapng of the sender's interface here. */
  readonly pcap?: string;
  /** Give up after this much virtual time [3600 s]. */
  readonly maxVirtualSeconds?: number;
  /** Called about every `progressEveryMs` of wall time with a progress line. */
  readonly onProgress?: (line: string) => void;
  readonly progressEveryMs?: number;
}

/** What runTransfer measured. */
export interface TransferReport {
  readonly ok: boolean;
  readonly bytes: number;
  readonly received: number;
  readonly sha256Match: boolean;
  readonly sha256Sent: string;
  readonly sha256Received: string;
  /** From connect() to the receiver seeing the sender's FIN. */
  readonly virtualSeconds: number;
  /** From connect() to the receiver holding the last byte (smoltcp's netsim measure); null if it never did. */
  readonly lastByteVirtualSeconds: number | null;
  readonly wallSeconds: number;
  /** Process CPU time (user + system) of the run: the wall figure without a loaded machine's waits. */
  readonly cpuSeconds: number;
  /** bytes·8 / virtualSeconds: how well TCP uses the simulated wire; null when virtual time did not
   * advance (a wire without delay or rate limit delivers everything at the same instant). */
  readonly goodputBitsPerSecond: number | null;
  /** bytes·8 / wallSeconds and bytes·8 / cpuSeconds: how fast the simulation runs. */
  readonly wallGoodputBitsPerSecond: number;
  readonly cpuGoodputBitsPerSecond: number;
  readonly retransmits: number;
  readonly fastRetransmits: number;
  readonly timeouts: number;
  readonly segmentsSent: number;
  readonly congestionControl: "cubic" | "newreno";
  /** The socket buffer size given (null: the layer defaults, 1 MiB). */
  readonly bufferBytes: number | null;
  readonly seed: number;
  /** Every counter of both TCP layers at the end (recoveries, TLPs, D-SACKs... as the layer has them). */
  readonly tcpStats: { readonly sender: Readonly<Record<string, number>>; readonly receiver: Readonly<Record<string, number>> };
  /** Frames offered to the wire and what the impairments did to them (both directions). */
  readonly link: { readonly mtu: number; readonly framesOffered: number; readonly lost: number; readonly duplicated: number; readonly corrupted: number; readonly queueDrops: number; readonly ceMarked: number };
  readonly pcap?: string;
  readonly error?: string;
}

const PORT = 5001;
const CHUNK = 64 * 1024;
const ADDR_B = 0xc0000202;

/** Runs the transfer on a VirtualClock; synchronous apart from progress callbacks. */
export function runTransfer(options: TransferOptions): TransferReport {
  const seed = options.seed ?? 1;
  const mtu = options.mtu ?? 1500;
  const cc = options.congestionControl ?? "cubic";
  const total = options.bytes;
  const clock = createVirtualClock(0);
  const impairments: ImpairmentOptions = {
    ...(options.delayMs === undefined ? {} : { delayMs: options.delayMs }),
    ...(options.jitterMs === undefined ? {} : { jitterMs: options.jitterMs }),
    ...(options.loss === undefined ? {} : { loss: options.loss }),
    ...(options.reorder === undefined ? {} : { reorder: options.reorder }),
    ...(options.duplicate === undefined ? {} : { duplicate: options.duplicate }),
    ...(options.corrupt === undefined ? {} : { corrupt: options.corrupt }),
    ...(options.rateBitsPerSecond === undefined ? {} : { rateBitsPerSecond: options.rateBitsPerSecond }),
    ...(options.ecnMarkFrames === undefined ? {} : { ecnMarkFrames: options.ecnMarkFrames }),
    ...(options.queueFrames === undefined ? {} : { queueLimitFrames: options.queueFrames }),
  };
  const link = createPointToPointLink({ clock, rng: createRng(seed ^ 0x7a3b9c1d) }, {
    a: { mac: 0x020000000001, mtu, impairments },
    b: { mac: 0x020000000002, mtu, impairments },
  });
  let capture: CaptureFile | undefined;
  let devA: NetDevice = link.a;
  if (options.pcap !== undefined) {
    capture = createCaptureFile(options.pcap);
    devA = withCapture(link.a, capture.sink, { clock, name: "sender" });
  }
  const tcp = {
    tcp: {
      ...(options.bufferBytes === undefined ? {} : { sendBufferSize: options.bufferBytes, receiveBufferSize: options.bufferBytes }),
      ...(options.fillWindowEdge === undefined ? {} : { fillWindowEdge: options.fillWindowEdge }),
      ...(options.ecn === true ? { ecn: "on" as const } : {}),
    },
  };
  const a = createStack({ device: devA, clock, rng: createRng(seed * 2 + 1) }, { name: "sender", ipv4: { cidr: "192.0.2.1/24" }, ...tcp });
  const b = createStack({ device: link.b, clock, rng: createRng(seed * 2 + 2) }, { name: "receiver", ipv4: { cidr: "192.0.2.2/24" }, ...tcp });
  const writeSize = Math.min(CHUNK, options.bufferBytes ?? CHUNK);

  // Payload: chunk k is a 64 KiB window of a 1 MiB seeded xorshift32 pool at offset k·4099 mod 1 MiB
  // (4099 is odd, so offsets do not repeat for 2^20 chunks): unique per seed and position, and
  // produced at memcpy speed so that the measurement is of TCP, not of the generator.
  const POOL = 1 << 20;
  const pool = new Uint8Array(POOL + CHUNK);
  {
    let x = (createRng(seed ^ 0x5a5a5a5a).nextU32() | 1) >>> 0;
    const words = new Uint32Array(pool.buffer);
    for (let i = 0; i < words.length; i++) {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      words[i] = x >>> 0;
    }
  }
  let chunkIndex = 0;
  const nextChunk = (n: number): Uint8Array => {
    const off = (chunkIndex++ * 4099) % POOL;
    return pool.slice(off, off + n);
  };

  const sent = createHash("sha256");
  const got = createHash("sha256");
  let received = 0;
  let ended = false;
  let endedAt = 0;
  let lastByteAt: number | undefined;
  let error: string | undefined;

  const listener = b.tcp.listen(PORT);
  if (!listener.ok) throw Object.assign(new Error(`listen: ${listener.error}`), { code: "ERR_NETLAB_SIM" });
  listener.value.onConnection((s) => {
    s.onData((d) => { got.update(d); received += d.length; if (received === total) lastByteAt = clock.now(); });
    s.onEnd(() => { ended = true; endedAt = clock.now(); s.end(); });
    s.onClose((e) => { if (e !== undefined && error === undefined) error = `receiver: ${e}`; });
  });
  const t0 = clock.now();
  const c = a.tcp.connect(ADDR_B, PORT, { congestionControl: cc });
  if (!c.ok) throw Object.assign(new Error(`connect: ${c.error}`), { code: "ERR_NETLAB_SIM" });
  const stream = c.value;
  let queued = 0;
  const pushData = (): void => {
    while (queued < total) {
      const chunk = nextChunk(Math.min(writeSize, total - queued));
      sent.update(chunk);
      queued += chunk.length;
      if (!stream.write(chunk)) return;
    }
    stream.end();
  };
  stream.onConnect(pushData);
  stream.onDrain(pushData);
  stream.onClose((e) => { if (e !== undefined && error === undefined) error = `sender: ${e}`; });

  const limit = t0 + (options.maxVirtualSeconds ?? 3600) * 1000;
  const every = options.progressEveryMs ?? 2000;
  const wall0 = performance.now();
  const cpu0 = process.cpuUsage();
  let nextProgress = wall0 + every;
  try {
    while (!ended && error === undefined && clock.now() < limit) {
      const fired = clock.run(limit, 20_000);
      if (fired === 0) break;
      if (options.onProgress !== undefined && !ended) {
        const now = performance.now();
        if (now >= nextProgress) {
          nextProgress = now + every;
          const wallS = (now - wall0) / 1000;
          options.onProgress(`transfer: ${(received / 1e6).toFixed(1)}/${(total / 1e6).toFixed(1)} MB (${((100 * received) / Math.max(1, total)).toFixed(1)}%), ` +
            `virtual ${((clock.now() - t0) / 1000).toFixed(3)} s, wall ${wallS.toFixed(1)} s, ${((received * 8) / wallS / 1e9).toFixed(3)} Gbit/s wall, ` +
            `${a.tcp.stats.retransmits} retransmissions`);
        }
      }
    }
  } finally {
    capture?.close();
  }
  const wallSeconds = (performance.now() - wall0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const cpuSeconds = (cpu.user + cpu.system) / 1e6;
  if (!ended && error === undefined) error = clock.now() >= limit ? "virtual time limit reached" : "transfer stalled (no timers left)";
  const virtualSeconds = ((ended ? endedAt : clock.now()) - t0) / 1000;
  const sha256Sent = sent.digest("hex");
  const sha256Received = got.digest("hex");
  const sha256Match = queued === total && received === total && sha256Sent === sha256Received;
  const st = a.tcp.stats;
  const txStats = [link.a.txStats, link.b.txStats];
  const sum = (f: (s: (typeof txStats)[number]) => number): number => txStats.reduce((n, s) => n + f(s), 0);
  return {
    ok: sha256Match && ended && error === undefined,
    bytes: total,
    received,
    sha256Match,
    sha256Sent,
    sha256Received,
    virtualSeconds,
    lastByteVirtualSeconds: lastByteAt === undefined ? null : (lastByteAt - t0) / 1000,
    wallSeconds: Math.round(wallSeconds * 1000) / 1000,
    cpuSeconds: Math.round(cpuSeconds * 1000) / 1000,
    goodputBitsPerSecond: virtualSeconds > 0 ? Math.round((received * 8) / virtualSeconds) : null,
    wallGoodputBitsPerSecond: wallSeconds > 0 ? Math.round((received * 8) / wallSeconds) : 0,
    cpuGoodputBitsPerSecond: cpuSeconds > 0 ? Math.round((received * 8) / cpuSeconds) : 0,
    retransmits: st.retransmits,
    fastRetransmits: st.fastRetransmits,
    timeouts: st.timeouts,
    segmentsSent: st.segmentsSent,
    congestionControl: cc,
    bufferBytes: options.bufferBytes ?? null,
    seed,
    tcpStats: { sender: { ...st }, receiver: { ...b.tcp.stats } },
    link: { mtu, framesOffered: sum((s) => s.offered), lost: sum((s) => s.lost + s.burstLost), duplicated: sum((s) => s.duplicated), corrupted: sum((s) => s.corrupted), queueDrops: sum((s) => s.queueDrops), ceMarked: sum((s) => s.ceMarked) },
    ...(options.pcap === undefined ? {} : { pcap: options.pcap }),
    ...(error === undefined ? {} : { error }),
  };
}

/** Parsed CLI options. */
export interface TransferArgs extends TransferOptions {
  readonly json: boolean;
  readonly quiet: boolean;
  readonly help: boolean;
}

const SIZE_SUFFIX: Record<string, number> = { "": 1, k: 1e3, m: 1e6, g: 1e9, ki: 1024, mi: 1024 ** 2, gi: 1024 ** 3 };

function parseSize(v: string | undefined): number | undefined {
  const m = v === undefined ? null : /^([0-9]+(?:\.[0-9]+)?)(k|m|g|ki|mi|gi)?$/i.exec(v);
  if (m === null) return undefined;
  const n = Number(m[1]) * SIZE_SUFFIX[(m[2] ?? "").toLowerCase()]!;
  return Number.isFinite(n) ? Math.round(n) : undefined;
}

function parseProbability(v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const pct = v.endsWith("%");
  const n = Number(pct ? v.slice(0, -1) : v) / (pct ? 100 : 1);
  return Number.isFinite(n) && n >= 0 && n <= 1 ? n : undefined;
}

/** Parses argv; returns an error message for bad input. */
export function parseTransferArgs(args: string[]): TransferArgs | string {
  const o: { -readonly [K in keyof TransferArgs]: TransferArgs[K] } = { bytes: 10_000_000, json: false, quiet: false, help: false };
  for (let i = 0; i < args.length; i++) {
    const flag = args[i]!;
    const value = (): string | undefined => args[++i];
    const number = (min: number): number | string => {
      const raw = value();
      const n = Number(raw);
      return raw !== undefined && Number.isFinite(n) && n >= min ? n : `${flag} needs a number >= ${min}, got ${raw}`;
    };
    const prob = (): number | string => {
      const raw = value();
      return parseProbability(raw) ?? `${flag} needs a probability in [0, 1] (or a percentage), got ${raw}`;
    };
    let r: number | string | undefined;
    switch (flag) {
      case "--bytes": { const n = parseSize(value()); if (n === undefined || n < 0) return `--bytes needs a size (e.g. 1000000, 50M, 1G)`; o.bytes = n; break; }
      case "--loss": r = prob(); if (typeof r === "number") o.loss = r; break;
      case "--reorder": r = prob(); if (typeof r === "number") o.reorder = r; break;
      case "--dup": r = prob(); if (typeof r === "number") o.duplicate = r; break;
      case "--corrupt": r = prob(); if (typeof r === "number") o.corrupt = r; break;
      case "--delay": r = number(0); if (typeof r === "number") o.delayMs = r; break;
      case "--jitter": r = number(0); if (typeof r === "number") o.jitterMs = r; break;
      case "--rate": { const n = parseSize(value()); if (n === undefined) return `--rate needs bits per second (e.g. 100M)`; o.rateBitsPerSecond = n; break; }
      case "--mtu": r = number(576); if (typeof r === "number") { if (!Number.isInteger(r) || r > 65535) return "--mtu needs an integer in 576..65535"; o.mtu = r; } break;
      case "--buffer": { const n = parseSize(value()); if (n === undefined || n < 536 || n > 1 << 30) return "--buffer needs a size in 536..1Gi bytes (e.g. 32768, 64Ki)"; o.bufferBytes = n; break; }
      case "--cc": { const v = value(); if (v !== "cubic" && v !== "newreno") return "--cc needs cubic or newreno"; o.congestionControl = v; break; }
      case "--seed": r = number(0); if (typeof r === "number") { if (!Number.isInteger(r)) return "--seed needs an integer"; o.seed = r; } break;
      case "--pcap": { const v = value(); if (v === undefined) return "--pcap needs a file name"; o.pcap = v; break; }
      case "--max-virtual-seconds": r = number(0.001); if (typeof r === "number") o.maxVirtualSeconds = r; break;
      case "--fill-window-edge": o.fillWindowEdge = true; break;
      case "--ecn": o.ecn = true; break;
      case "--queue": r = number(1); if (typeof r === "number") { if (!Number.isInteger(r)) return "--queue needs a whole number of frames"; o.queueFrames = r; } break;
      case "--ecn-mark": r = number(0); if (typeof r === "number") { if (!Number.isInteger(r)) return "--ecn-mark needs a whole number of frames"; o.ecnMarkFrames = r; } break;
      case "--json": o.json = true; break;
      case "--quiet": case "-q": o.quiet = true; break;
      case "--help": case "-h": o.help = true; break;
      default: return `unknown option ${flag}`;
    }
    if (typeof r === "string") return r;
  }
  return o;
}

const USAGE = "usage: netlab sim transfer --bytes N [--loss P] [--delay MS] [--jitter MS] [--reorder P] [--dup P] [--corrupt P]\n" +
  "                            [--rate BPS] [--mtu N] [--buffer BYTES] [--fill-window-edge] [--ecn] [--ecn-mark FRAMES] [--queue FRAMES] [--cc cubic|newreno] [--seed S] [--pcap FILE]\n" +
  "                            [--max-virtual-seconds S] [--quiet] [--json]\n" +
  "sizes and rates take k/M/G (decimal) or Ki/Mi/Gi suffixes; probabilities are fractions or percentages (5%)\n";

export async function run(args: string[]): Promise<number> {
  const o = parseTransferArgs(args);
  if (typeof o === "string") {
    process.stderr.write(`netlab sim transfer: ${o}\n${USAGE}`);
    return 2;
  }
  if (o.help) {
    process.stdout.write(`${USAGE}${summary}\n`);
    return 0;
  }
  const { json, quiet, help: _help, ...options } = o;
  const r = runTransfer({ ...options, ...(quiet ? {} : { onProgress: (line: string) => process.stderr.write(`${line}\n`) }) });
  if (json) process.stdout.write(`${JSON.stringify(r)}\n`);
  else {
    process.stdout.write(
      `transfer: ${r.received}/${r.bytes} bytes, sha256 ${r.sha256Match ? "matches" : "MISMATCH"} (${r.sha256Received.slice(0, 16)}…), ` +
      `virtual ${r.virtualSeconds.toFixed(3)} s (${r.goodputBitsPerSecond === null ? "no virtual time passed: zero-delay unlimited wire" : `${(r.goodputBitsPerSecond / 1e6).toFixed(1)} Mbit/s`}), ` +
      `wall ${r.wallSeconds.toFixed(3)} s (${(r.wallGoodputBitsPerSecond / 1e9).toFixed(3)} Gbit/s), ` +
      `cpu ${r.cpuSeconds.toFixed(3)} s (${(r.cpuGoodputBitsPerSecond / 1e9).toFixed(3)} Gbit/s), ` +
      `${r.retransmits} retransmissions (${r.fastRetransmits} fast, ${r.timeouts} timeouts), ${r.congestionControl}, seed ${r.seed}` +
      `${r.pcap === undefined ? "" : `, capture ${r.pcap}`}${r.error === undefined ? "" : `, error: ${r.error}`}\n`,
    );
  }
  return r.ok ? 0 : 1;
}
