// `netlab sim transfer --bytes N [--loss P --delay MS --jitter MS --reorder P --dup P
// --corrupt P --rate BPS --mtu N --buffer BYTES --cc cubic|newreno|bbr --seed S --pcap FILE --ipv6 --json]`:
// two full stacks (192.0.2.1 sends, 192.0.2.2 receives; with --ipv6 2001:db8::1 and 2001:db8::2,
// v6 only, TCP over stack.tcp6) on a point-to-point wire impaired the same way in both
// directions; N seeded pseudo-random bytes cross one TCP connection in virtual time. Data are generated and hashed (sha256, node:crypto) in 64 KiB chunks on both
// sides, so N may exceed memory. Reports whether what arrived equals what was sent, virtual
// and wall time, goodput over each, and retransmissions; progress goes to stderr. --json is
// iperf3's shape (transferJson: start / intervals / end, and units).
//   runTransfer(options)   the scenario as a function (tests, bench)
//   parseTransferArgs()    the CLI options
//   runTransferInterruptible(options, signal)   the same in slices, stoppable by an AbortSignal
//   run(args)              the CLI entry: exit 0 when intact, 1 on any mismatch or failure, 130 / 143
//                          after SIGINT / SIGTERM (with the partial summary); a usage error throws
//                          UsageError (the dispatcher prints it and exits 2)
import { createHash } from "node:crypto";
import { performance } from "node:perf_hooks";
import { createStack } from "../../stack/index.ts";
import { createPointToPointLink, withCapture, type ImpairmentOptions } from "../../stack/link/index.ts";
import type { NetDevice } from "../../stack/link/types.ts";
import type { TcpInfo } from "../../stack/transport/tcp/types.ts";
import { createRng, createVirtualClock } from "../../stack/time.ts";
import { ipv6 } from "../../stack/wire/ipv6-address.ts";
import { createCaptureFile, type CaptureFile } from "../pcap/files.ts";
import {
  choice,
  flagReader,
  helpText,
  parseCommandLine,
  parseDuration,
  parseInteger,
  parseProbability,
  parseRate,
  parseSeed,
  parseSize,
  UsageError,
} from "../cli/args.ts";
import { transferReportPage } from "./transfer-report.ts";
import { checkReportPath, writeHtmlReport } from "../report/html.ts";
import { formatBinary, formatSi } from "../report/format.ts";
import { runStart, withUnits, type RunStart, type Units } from "../report/json.ts";
import type { XenTransferInterval } from "./xen-transfer.ts";

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
  readonly congestionControl?: "cubic" | "newreno" | "bbr";
  /** Run TCP over IPv6 (2001:db8::1 -> 2001:db8::2, addresses set by hand, DAD off) instead of IPv4. */
  readonly ipv6?: boolean;
  /** Send and receive buffer of both sockets in bytes (TcpLayerOptions.sendBufferSize and
   * receiveBufferSize of both stacks); the sender also writes at most this much at a time. */
  readonly bufferBytes?: number;
  /** TcpLayerOptions.fillWindowEdge on both stacks (send the sub-MSS rest of a small open window, as smoltcp). */
  readonly fillWindowEdge?: boolean;
  /** TcpLayerOptions.timestamps on both stacks [true]: false sends no RFC 7323 timestamps, so RTT
   * samples come only from segments never retransmitted (Karn), as smoltcp's default socket. */
  readonly timestamps?: boolean;
  /** TcpLayerOptions.ackCoalescing on both stacks (GRO-like: a received burst of in-order data ACKed once, up to 64 KiB) [false]. */
  readonly ackCoalescing?: boolean;
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
  /** Sample the sender every this many virtual ms (iperf3's --interval, on the virtual clock);
   * the samples go to `onInterval` as they are taken and to the report's `intervals`. */
  readonly intervalMs?: number;
  readonly onInterval?: (sample: TransferInterval) => void;
}

/** One interval of the transfer, on the virtual clock (iperf3's interval report). */
export interface TransferInterval {
  /** Virtual seconds since connect() at the interval's start and end. */
  readonly startSeconds: number;
  readonly endSeconds: number;
  /** Bytes the receiver got in the interval, and that over the interval's virtual length. */
  readonly bytes: number;
  readonly virtualGoodputBitsPerSecond: number;
  /** Bytes received since connect(), at the interval's end. */
  readonly receivedTotal: number;
  /** Retransmitted segments in the interval. */
  readonly retransmits: number;
  /** The sender's connection at the interval's end (TcpInfo): cwnd and ssthresh in bytes, smoothed RTT. */
  readonly cwndBytes: number;
  readonly ssthreshBytes: number;
  readonly srttMs: number;
  readonly bytesInFlight: number;
}

/** An interval's figures apart from its goodput, whose name says the clock (iperf3's interval report). */
export type IntervalFigures = Omit<TransferInterval, "virtualGoodputBitsPerSecond">;

/**
 * iperf3's interval bookkeeping on any clock (ms): sample(at) closes the interval that ends at `at`
 * with what `read` says then (bytes received so far, the sender's retransmissions so far, its
 * TcpInfo); `make` names the goodput by its clock. Times count from `t0`.
 */
export function createIntervalSampler<T>(
  t0: number,
  read: () => { readonly received: number; readonly retransmits: number; readonly info: TcpInfo },
  make: (figures: IntervalFigures, goodputBitsPerSecond: number) => T,
  onSample?: (sample: T) => void,
): { readonly intervals: T[]; sample(at: number): void; sampledAt(): number } {
  const intervals: T[] = [];
  let sampledAt = t0,
    sampledBytes = 0,
    sampledRetransmits = 0;
  const sample = (at: number): void => {
    const { received, retransmits, info } = read();
    const s = make(
      {
        startSeconds: (sampledAt - t0) / 1000,
        endSeconds: (at - t0) / 1000,
        bytes: received - sampledBytes,
        receivedTotal: received,
        retransmits: retransmits - sampledRetransmits,
        cwndBytes: info.cwnd,
        ssthreshBytes: info.ssthresh,
        srttMs: info.srttMs,
        bytesInFlight: info.bytesInFlight,
      },
      at > sampledAt ? Math.round(((received - sampledBytes) * 8 * 1000) / (at - sampledAt)) : 0,
    );
    intervals.push(s);
    onSample?.(s);
    sampledAt = at;
    sampledBytes = received;
    sampledRetransmits = retransmits;
  };
  return { intervals, sample, sampledAt: () => sampledAt };
}

/** What runTransfer measured. */
export interface TransferReport {
  readonly ok: boolean;
  /** The network layer the connection ran over. */
  readonly family: "ipv4" | "ipv6";
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
  readonly virtualGoodputBitsPerSecond: number | null;
  /** bytes·8 / wallSeconds and bytes·8 / cpuSeconds: how fast the simulation runs. */
  readonly wallGoodputBitsPerSecond: number;
  readonly cpuGoodputBitsPerSecond: number;
  readonly retransmits: number;
  readonly fastRetransmits: number;
  readonly timeouts: number;
  readonly segmentsSent: number;
  readonly congestionControl: "cubic" | "newreno" | "bbr";
  /** The socket buffer size given (null: the layer defaults, 1 MiB). */
  readonly bufferBytes: number | null;
  /** RFC 7323 timestamps offered by both stacks. */
  readonly timestamps: boolean;
  /** GRO-like ACK coalescing on both stacks. */
  readonly ackCoalescing: boolean;
  readonly seed: number;
  /** The sender's MSS (TcpInfo.sendMss at the end: payload bytes per segment with options, as Linux's tcpi_snd_mss) and the virtual time of connect() (interval times count from it). */
  readonly mss: number;
  readonly virtualOriginSeconds: number;
  /** Every counter of both TCP layers at the end (recoveries, TLPs, D-SACKs... as the layer has them). */
  readonly tcpStats: { readonly sender: Readonly<Record<string, number>>; readonly receiver: Readonly<Record<string, number>> };
  /** Frames offered to the wire and what the impairments did to them (both directions). */
  readonly link: {
    readonly mtu: number;
    readonly framesOffered: number;
    readonly lost: number;
    readonly duplicated: number;
    readonly corrupted: number;
    readonly queueDrops: number;
    readonly ceMarked: number;
  };
  readonly pcap?: string;
  /** The samples, when intervalMs was given. */
  readonly intervals?: readonly TransferInterval[];
  /** What stopped the run before its end (e.g. "SIGINT"); the figures are then partial. */
  readonly interrupted?: string;
  readonly error?: string;
}

const PORT = 5001;
const CHUNK = 64 * 1024;
const ADDR_B = 0xc0000202;
const ADDR_B6 = "2001:db8::2";

/** Runs the transfer on a VirtualClock; synchronous apart from progress callbacks. */
export function runTransfer(options: TransferOptions): TransferReport {
  const run = startTransfer(options);
  while (!run.step(Infinity)) {
    /* one step runs to the end */
  }
  return run.finish();
}

/**
 * Runs the transfer in slices of about 50 ms of wall time, yielding to the event loop between
 * them, so a signal can stop it: once `signal` is aborted the run ends where it is and the report
 * says so (`interrupted`, with the abort reason), the capture closed and valid.
 */
export async function runTransferInterruptible(options: TransferOptions, signal: AbortSignal): Promise<TransferReport> {
  const run = startTransfer(options);
  while (!run.step(50)) {
    await new Promise<void>((resolve) => setImmediate(resolve));
    if (signal.aborted) return run.finish(String(signal.reason ?? "aborted"));
  }
  return run.finish();
}

/** A transfer under way: step() runs it for about budgetMs of wall time (true once it is over). */
interface TransferRun {
  step(budgetMs: number): boolean;
  /** Closes the capture and measures; `interrupted` names what stopped an unfinished run. */
  finish(interrupted?: string): TransferReport;
}

function startTransfer(options: TransferOptions): TransferRun {
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
  const link = createPointToPointLink(
    { clock, rng: createRng(seed ^ 0x7a3b9c1d) },
    {
      a: { mac: 0x020000000001, mtu, impairments },
      b: { mac: 0x020000000002, mtu, impairments },
    },
  );
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
      ...(options.timestamps === undefined ? {} : { timestamps: options.timestamps }),
      ...(options.ackCoalescing === true ? { ackCoalescing: true } : {}),
      ...(options.ecn === true ? { ecn: "on" as const } : {}),
    },
  };
  const v6 = options.ipv6 === true;
  // Over IPv6 the addresses are set by hand on a two-host link: no DAD, no router solicitations.
  const net = (v4: string, v6addr: string) =>
    v6 ? { ipv6: { addresses: [`${v6addr}/64`], dadTransmits: 0, routerSolicitations: false } } : { ipv4: { cidr: `${v4}/24` } };
  const a = createStack({ device: devA, clock, rng: createRng(seed * 2 + 1) }, { name: "sender", ...net("192.0.2.1", "2001:db8::1"), ...tcp });
  const b = createStack({ device: link.b, clock, rng: createRng(seed * 2 + 2) }, { name: "receiver", ...net("192.0.2.2", ADDR_B6), ...tcp });
  const tcpA = v6 ? a.tcp6!.layer : a.tcp;
  const tcpB = v6 ? b.tcp6!.layer : b.tcp;
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

  const listener = tcpB.listen(PORT);
  if (!listener.ok) throw Object.assign(new Error(`listen: ${listener.error}`), { code: "ERR_NETLAB_SIM" });
  listener.value.onConnection((s) => {
    s.onData((d) => {
      got.update(d);
      received += d.length;
      if (received === total) lastByteAt = clock.now();
    });
    s.onEnd(() => {
      ended = true;
      endedAt = clock.now();
      s.end();
    });
    s.onClose((e) => {
      if (e !== undefined && error === undefined) error = `receiver: ${e}`;
    });
  });
  const t0 = clock.now();
  const c = v6 ? a.tcp6!.connect(ipv6(ADDR_B6), PORT, { congestionControl: cc }) : a.tcp.connect(ADDR_B, PORT, { congestionControl: cc });
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
  stream.onClose((e) => {
    if (e !== undefined && error === undefined) error = `sender: ${e}`;
  });

  const limit = t0 + (options.maxVirtualSeconds ?? 3600) * 1000;
  const every = options.progressEveryMs ?? 1000;
  const wall0 = performance.now();
  const cpu0 = process.cpuUsage();
  let nextProgress = wall0 + every;
  // Sampling steps the clock to each interval's end; no stack code runs there (only timers run
  // code), so a run with intervals is the same run, byte for byte.
  const intervalMs = options.intervalMs;
  let nextSample = intervalMs === undefined ? Infinity : t0 + intervalMs;
  const {
    intervals,
    sample,
    sampledAt: lastSampleAt,
  } = createIntervalSampler(
    t0,
    () => ({ received, retransmits: tcpA.stats.retransmits, info: stream.info() }),
    (base, goodput): TransferInterval => ({ ...base, virtualGoodputBitsPerSecond: goodput }),
    options.onInterval,
  );
  let over = false;
  const step = (budgetMs: number): boolean => {
    const stopAt = performance.now() + budgetMs;
    while (!ended && error === undefined && clock.now() < limit) {
      const fired = clock.run(Math.min(limit, nextSample), budgetMs === Infinity ? 20_000 : 2000);
      if (ended) break;
      if (clock.now() >= nextSample) {
        sample(nextSample);
        nextSample += intervalMs!;
      } else if (fired === 0 && (intervalMs === undefined || clock.nextDeadline() === undefined)) break;
      if (options.onProgress !== undefined && !ended) {
        const now = performance.now();
        if (now >= nextProgress) {
          nextProgress = now + every;
          const wallS = (now - wall0) / 1000;
          options.onProgress(
            `transfer: ${formatSi(received, "B")}/${formatSi(total, "B")} (${((100 * received) / Math.max(1, total)).toFixed(1)}%), ` +
              `virtual ${((clock.now() - t0) / 1000).toFixed(3)} s, wall ${wallS.toFixed(1)} s, ${formatSi((received * 8) / wallS, "bit/s")} wall, ` +
              `${tcpA.stats.retransmits} retransmissions`,
          );
        }
      }
      if (performance.now() >= stopAt) return false;
    }
    over = true;
    return true;
  };
  const finish = (interrupted?: string): TransferReport => {
    capture?.close();
    // The last, partial interval (iperf3 reports it too).
    const endAt = ended ? endedAt : clock.now();
    if (intervalMs !== undefined && endAt > lastSampleAt()) sample(endAt);
    const wallSeconds = (performance.now() - wall0) / 1000;
    const cpu = process.cpuUsage(cpu0);
    const cpuSeconds = (cpu.user + cpu.system) / 1e6;
    if (!ended && error === undefined) {
      error =
        interrupted !== undefined && !over
          ? `interrupted (${interrupted})`
          : clock.now() >= limit
            ? "virtual time limit reached"
            : "transfer stalled (no timers left)";
    }
    const virtualSeconds = ((ended ? endedAt : clock.now()) - t0) / 1000;
    const sha256Sent = sent.digest("hex");
    const sha256Received = got.digest("hex");
    const sha256Match = queued === total && received === total && sha256Sent === sha256Received;
    const st = tcpA.stats;
    const txStats = [link.a.txStats, link.b.txStats];
    const sum = (f: (s: (typeof txStats)[number]) => number): number => txStats.reduce((n, s) => n + f(s), 0);
    return {
      ok: sha256Match && ended && error === undefined,
      family: v6 ? "ipv6" : "ipv4",
      bytes: total,
      received,
      sha256Match,
      sha256Sent,
      sha256Received,
      virtualSeconds,
      lastByteVirtualSeconds: lastByteAt === undefined ? null : (lastByteAt - t0) / 1000,
      wallSeconds: Math.round(wallSeconds * 1000) / 1000,
      cpuSeconds: Math.round(cpuSeconds * 1000) / 1000,
      virtualGoodputBitsPerSecond: virtualSeconds > 0 ? Math.round((received * 8) / virtualSeconds) : null,
      wallGoodputBitsPerSecond: wallSeconds > 0 ? Math.round((received * 8) / wallSeconds) : 0,
      cpuGoodputBitsPerSecond: cpuSeconds > 0 ? Math.round((received * 8) / cpuSeconds) : 0,
      retransmits: st.retransmits,
      fastRetransmits: st.fastRetransmits,
      timeouts: st.timeouts,
      segmentsSent: st.segmentsSent,
      congestionControl: cc,
      bufferBytes: options.bufferBytes ?? null,
      timestamps: options.timestamps ?? true,
      ackCoalescing: options.ackCoalescing === true,
      seed,
      mss: stream.info().sendMss,
      virtualOriginSeconds: t0 / 1000,
      tcpStats: { sender: { ...st }, receiver: { ...tcpB.stats } },
      link: {
        mtu,
        framesOffered: sum((s) => s.offered),
        lost: sum((s) => s.lost + s.burstLost),
        duplicated: sum((s) => s.duplicated),
        corrupted: sum((s) => s.corrupted),
        queueDrops: sum((s) => s.queueDrops),
        ceMarked: sum((s) => s.ceMarked),
      },
      ...(options.pcap === undefined ? {} : { pcap: options.pcap }),
      ...(intervalMs === undefined ? {} : { intervals }),
      ...(interrupted !== undefined && !over ? { interrupted } : {}),
      ...(error === undefined ? {} : { error }),
    };
  };
  return { step, finish };
}

/** The `--json` output, organised as iperf3's: what was run, the interval samples, the summary. */
export interface TransferJson {
  readonly start: RunStart & {
    readonly family: "ipv4" | "ipv6";
    /** The connection as iperf3's `connected`: the sender's address (its port is the stack's ephemeral pick) and the receiver's. */
    readonly connected: { readonly senderAddress: string; readonly receiverAddress: string; readonly receiverPort: number };
    readonly mss: number;
    readonly congestionControl: "cubic" | "newreno" | "bbr";
    readonly bufferBytes: number | null;
    readonly seed: number;
    /** What was asked: the wire's MTU and impairments, the interval length (null without --interval). */
    readonly test: {
      readonly mtu: number;
      readonly intervalSeconds: number | null;
      readonly impairments: Readonly<Record<string, number>>;
      readonly maxVirtualSeconds: number;
    };
  };
  /** One per --interval (empty without it). */
  readonly intervals: readonly TransferInterval[];
  /** The summary: what TransferReport measured, without what `start` says. */
  readonly end: Omit<TransferReport, "intervals" | "family" | "mss" | "congestionControl" | "bufferBytes" | "seed" | "virtualOriginSeconds">;
  readonly units: Units;
}

/** The units of TransferJson's fields whose names do not carry one (README: JSON output). */
export const TRANSFER_UNITS: Units = {
  bytes: "B",
  received: "B",
  receivedTotal: "B",
  bytesInFlight: "B",
  mss: "B",
  mtu: "B",
  loss: "fraction",
  reorder: "fraction",
  duplicate: "fraction",
  corrupt: "fraction",
};

/** The iperf3-shaped JSON of a run (`args` as typed after `netlab sim transfer`, `startedAt` its wall-clock start). */
export function transferJson(r: TransferReport, o: TransferOptions, args: readonly string[], startedAt: Date): TransferJson {
  const { intervals, family, mss, congestionControl, bufferBytes, seed, virtualOriginSeconds, ...end } = r;
  const impairments: Record<string, number> = {};
  for (const k of ["loss", "delayMs", "jitterMs", "reorder", "duplicate", "corrupt", "rateBitsPerSecond", "ecnMarkFrames", "queueFrames"] as const) {
    const v = o[k];
    if (v !== undefined) impairments[k] = v;
  }
  const v6 = family === "ipv6";
  return withUnits(
    {
      start: {
        ...runStart("sim transfer", args, startedAt, virtualOriginSeconds),
        family,
        connected: { senderAddress: v6 ? "2001:db8::1" : "192.0.2.1", receiverAddress: v6 ? ADDR_B6 : "192.0.2.2", receiverPort: PORT },
        mss,
        congestionControl,
        bufferBytes,
        seed,
        test: {
          mtu: r.link.mtu,
          intervalSeconds: o.intervalMs === undefined ? null : o.intervalMs / 1000,
          impairments,
          maxVirtualSeconds: o.maxVirtualSeconds ?? 3600,
        },
      },
      intervals: o.intervalMs === undefined ? [] : (intervals ?? []),
      end,
    },
    TRANSFER_UNITS,
  );
}

/** Parsed CLI options. */
export interface TransferArgs extends TransferOptions {
  /** Where --report writes its page. */
  readonly report?: string;
  readonly json: boolean;
  readonly quiet: boolean;
  readonly help: boolean;
}

/** The command line of `netlab sim transfer` (args.ts's rules). */
export const TRANSFER_SPEC = {
  command: "sim transfer",
  usage:
    "usage: netlab sim transfer --bytes SIZE [--loss P] [--delay MS] [--jitter MS] [--reorder P] [--dup P] [--corrupt P]\n" +
    "                            [--rate BPS] [--mtu N] [--buffer SIZE] [--fill-window-edge] [--no-timestamps] [--ack-coalescing] [--ecn] [--ecn-mark FRAMES] [--queue FRAMES] [--cc cubic|newreno|bbr] [--seed S] [--pcap FILE|-] [--ipv6]\n" +
    "                            [--max-virtual-seconds S] [--interval S] [--report FILE.html] [--quiet] [--json]\n" +
    `${summary}\n` +
    "  --bytes SIZE is required; defaults: no impairment, unlimited rate, MTU 1500, cubic, seed 1, --max-virtual-seconds 3600\n" +
    "  --no-timestamps     both stacks without RFC 7323 timestamps (RTT only from never-retransmitted segments, as smoltcp)\n" +
    "  --ack-coalescing    GRO-like ACKs on both stacks: a burst of in-order data taken in at one instant is ACKed once (per 64 KiB)\n" +
    '  --ipv6              TCP over IPv6 (2001:db8::1 -> 2001:db8::2) instead of IPv4; --json: "family"\n' +
    '  --interval S        a line per S virtual seconds, as iperf3\'s (bytes, goodput, retransmissions, cwnd, srtt); --json: "intervals"\n' +
    '  --json              one object as iperf3\'s: "start" (version, command, seed, addresses, MSS, cc, timestamp), "intervals",\n' +
    '                      "end" (bytes, goodputs by clock, retransmissions, cpu, ok/interrupted/error) and "units"\n' +
    "  --report FILE.html  one self-contained page: summary, impairments, charts over time (goodput, cwnd, srtt, bytes), counters\n",
  options: {
    bytes: { type: "string" },
    loss: { type: "string" },
    delay: { type: "string" },
    jitter: { type: "string" },
    reorder: { type: "string" },
    dup: { type: "string" },
    corrupt: { type: "string" },
    rate: { type: "string" },
    mtu: { type: "string" },
    buffer: { type: "string" },
    "fill-window-edge": { type: "boolean" },
    "no-timestamps": { type: "boolean" },
    "ack-coalescing": { type: "boolean" },
    ecn: { type: "boolean" },
    "ecn-mark": { type: "string" },
    queue: { type: "string" },
    cc: { type: "string" },
    seed: { type: "string" },
    pcap: { type: "string" },
    "max-virtual-seconds": { type: "string" },
    interval: { type: "string" },
    report: { type: "string" },
    ipv6: { type: "boolean" },
    quiet: { type: "boolean", short: "q" },
    json: { type: "boolean" },
  },
  required: ["bytes"],
} as const;

/** Parses argv (args.ts's rules); throws UsageError for bad input. */
export function parseTransferArgs(args: readonly string[]): TransferArgs {
  const { values: v, help } = parseCommandLine(TRANSFER_SPEC, args);
  const get = flagReader(TRANSFER_SPEC.command, v);
  const o: { -readonly [K in keyof TransferArgs]: TransferArgs[K] } = {
    bytes: get("bytes", (t) => parseSize(t)) ?? 0,
    json: v.json === true,
    quiet: v.quiet === true,
    help,
  };
  const set = <K extends keyof TransferArgs>(key: K, value: TransferArgs[K] | undefined): void => {
    if (value !== undefined) o[key] = value;
  };
  set("loss", get("loss", parseProbability));
  set("reorder", get("reorder", parseProbability));
  set("duplicate", get("dup", parseProbability));
  set("corrupt", get("corrupt", parseProbability));
  set(
    "delayMs",
    get("delay", (t) => parseDuration(t, "ms")),
  );
  set(
    "jitterMs",
    get("jitter", (t) => parseDuration(t, "ms")),
  );
  set(
    "rateBitsPerSecond",
    get("rate", (t) => parseRate(t)),
  );
  set(
    "mtu",
    get("mtu", (t) => parseInteger(t, 576, 65535)),
  );
  set(
    "bufferBytes",
    get("buffer", (t) => parseSize(t, 536, 2 ** 30)),
  );
  set("congestionControl", get("cc", choice("cubic", "newreno", "bbr")));
  set("seed", get("seed", parseSeed));
  set("pcap", v.pcap);
  const maxMs = get("max-virtual-seconds", (t) => parseDuration(t, "s", 1));
  set("maxVirtualSeconds", maxMs === undefined ? undefined : maxMs / 1000);
  set(
    "intervalMs",
    get("interval", (t) => parseDuration(t, "s", 1)),
  );
  set("report", v.report);
  if (v["fill-window-edge"] === true) o.fillWindowEdge = true;
  if (v["no-timestamps"] === true) o.timestamps = false;
  if (v["ack-coalescing"] === true) o.ackCoalescing = true;
  if (v.ecn === true) o.ecn = true;
  if (v.ipv6 === true) {
    o.ipv6 = true;
    // RFC 8200 §5: every IPv6 link has an MTU of at least 1280.
    if (o.mtu !== undefined && o.mtu < 1280) throw new UsageError(TRANSFER_SPEC.command, `--mtu ${o.mtu} is below IPv6's minimum link MTU of 1280`);
  }
  set(
    "queueFrames",
    get("queue", (t) => parseInteger(t, 1)),
  );
  set(
    "ecnMarkFrames",
    get("ecn-mark", (t) => parseInteger(t, 0)),
  );
  return o;
}

export async function run(args: string[]): Promise<number> {
  const o = parseTransferArgs(args);
  if (o.help) {
    process.stdout.write(helpText(TRANSFER_SPEC));
    return 0;
  }
  const { json, quiet, help: _help, report, ...options } = o;
  // --pcap - streams the capture to stdout: the summary and interval lines go to stderr then.
  const toStdout = options.pcap === "-";
  if (toStdout && json) throw new UsageError("sim transfer", "--pcap - and --json both write to standard output; give --pcap a file");
  const print = (text: string): void => {
    (toStdout ? process.stderr : process.stdout).write(text);
  };
  if (report !== undefined) checkReportPath(report);
  // SIGINT / SIGTERM end the run where it is: the partial summary, a closed capture, exit 130 / 143.
  const abort = new AbortController();
  const onSignal = (sig: NodeJS.Signals): void => abort.abort(sig);
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  const startedAt = new Date();
  const r = await runTransferInterruptible(
    {
      ...options,
      // The report's charts need samples: 100 virtual ms unless --interval says otherwise.
      ...(report !== undefined && options.intervalMs === undefined ? { intervalMs: 100 } : {}),
      ...(quiet ? {} : { onProgress: (line: string) => process.stderr.write(`${line}\n`) }),
      ...(options.intervalMs !== undefined && !json ? { onInterval: (i: TransferInterval) => print(`${formatInterval(i)}\n`) } : {}),
    },
    abort.signal,
  ).finally(() => {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  });
  if (report !== undefined) {
    writeHtmlReport(report, transferReportPage(r, `netlab sim transfer ${args.join(" ")}`, options));
    if (!quiet) process.stderr.write(`report: ${report}\n`);
  }
  if (json) process.stdout.write(`${JSON.stringify(transferJson(r, options, args, startedAt))}\n`);
  else print(`${formatTransferSummary(r)}\n`);
  if (r.interrupted !== undefined) return r.interrupted === "SIGTERM" ? 143 : 130;
  return r.ok ? 0 : 1;
}

/** The text summary of a run (one line; figures with the shared SI formatter). */
export function formatTransferSummary(r: TransferReport): string {
  return (
    `transfer${r.family === "ipv6" ? " over IPv6" : ""}: ${r.received}/${r.bytes} bytes, sha256 ${r.sha256Match ? "matches" : "MISMATCH"} (${r.sha256Received.slice(0, 16)}…), ` +
    `virtual ${r.virtualSeconds.toFixed(3)} s (${r.virtualGoodputBitsPerSecond === null ? "no virtual time passed: zero-delay unlimited wire" : formatSi(r.virtualGoodputBitsPerSecond, "bit/s")}), ` +
    `wall ${r.wallSeconds.toFixed(3)} s (${formatSi(r.wallGoodputBitsPerSecond, "bit/s")}), ` +
    `cpu ${r.cpuSeconds.toFixed(3)} s (${formatSi(r.cpuGoodputBitsPerSecond, "bit/s")}), ` +
    `${r.retransmits} retransmissions (${r.fastRetransmits} fast, ${r.timeouts} timeouts), ${r.congestionControl}, seed ${r.seed}` +
    `${r.pcap === undefined ? "" : `, capture ${r.pcap}`}${r.error === undefined ? "" : `, error: ${r.error}`}`
  );
}

/** One iperf3-style interval line (virtual seconds for sim transfer, wall seconds for xen-transfer): "[   0.00-   1.00 s]   1.25 MB   10.0 Mbit/s  retr    0  cwnd  64.0 KiB  srtt 20.1 ms". */
export function formatInterval(i: TransferInterval | XenTransferInterval): string {
  const goodput = "virtualGoodputBitsPerSecond" in i ? i.virtualGoodputBitsPerSecond : i.wallGoodputBitsPerSecond;
  return (
    `[${i.startSeconds.toFixed(2).padStart(7)}-${i.endSeconds.toFixed(2).padStart(7)} s]  ${formatSi(i.bytes, "B").padStart(8)}  ` +
    `${formatSi(goodput, "bit/s").padStart(12)}  retr ${String(i.retransmits).padStart(4)}  ` +
    `cwnd ${formatBinary(i.cwndBytes).padStart(9)}  srtt ${i.srttMs.toFixed(1)} ms`
  );
}
