// `netlab sim xen-transfer --bytes N [--gso] [--no-csum] [--threads] [--seed S] [--json]`:
// two domUs, each a netlab stack on a netfront, joined by dom0's netback and bridge on the
// simulated hypervisor; domU-1 sends N seeded pseudo-random bytes over TCP to domU-2, which
// checks their sha256 (--threads: compares every byte with the payload). Reports goodput over wall time (the simulation runs as fast as the CPU
// allows, virtual time is reported too). Single-threaded and deterministic for a seed.
//   runXenTransfer(options)                          the scenario as a function (tests, bench)
//   xenTransferReportPage(r, samples, command, when)  the --report page: figures, goodput and bytes over wall time
//   run(args)                                        the CLI entry (usage errors throw UsageError: exit 2)

import { createHash } from "node:crypto";
import { performance } from "node:perf_hooks";
import { createRng, createVirtualClock } from "../../stack/time.ts";
import { buildXenNetwork } from "../../xen-sim/net/network.ts";
import { pumpUntil } from "../../stack/settle.ts";
import { memmoveTunablesEnv, probeMemmove } from "../bench/memmove.ts";
import {
  SAMPLE_EVERY_MS,
  steadyGoodput,
  XEN_TRANSFER_SOCKET_BUFFER,
  XEN_TRANSFER_SOCKET_BUFFER_THREADS,
  type SteadyGoodput,
  type XenTransferSample,
} from "../xen/transfer-measure.ts";
import { runXenTransferThreads, type XenTransferThreadsReport } from "../xen/xen-transfer-threads.ts";
import { flagReader, helpText, parseCommandLine, parseDuration, parseSeed, parseSize, UsageError } from "../cli/args.ts";
import { formatSi } from "../report/format.ts";
import { runStart, withUnits, type RunStart, type Units } from "../report/json.ts";
import { createIntervalSampler, formatInterval, type IntervalFigures } from "./transfer.ts";
import { NetlabError } from "../../stack/error.ts";
import { everyWallSecond, exitStatusOf, interruptible } from "../cli/run-control.ts";
import { checkReportPath, writeHtmlReport } from "../report/html.ts";
import { summaryReportPage } from "../report/summary-page.ts";
import type { HtmlReport } from "../report/html.ts";
import { lineChart } from "../lab/svg.ts";

export const summary =
  "TCP transfer between two Xen domUs over netfront/netback/bridge (--bytes SIZE [--gso] [--threads] [--omit SIZE] [--socket-buffer SIZE] [--seed S] [--json])";

/** Options of runXenTransfer. */
export interface XenTransferOptions {
  readonly bytes: number;
  /** TSO/GSO through the rings (default false: the stack sends MSS-sized segments). */
  readonly gso?: boolean;
  /** Checksum offload (csum_blank) through the rings (default true). */
  readonly checksumOffload?: boolean;
  /** TCP over IPv6 (2001:db8::1 to 2001:db8::2, v6-only stacks; default false). The v6 TCP layer
   * sends finished, MSS-sized segments: neither GSO nor csum_blank is used over IPv6 yet, so gso
   * must be false and the report says checksumOffload false. */
  readonly ipv6?: boolean;
  readonly seed?: number;
  /** Restart netback once this many bytes have arrived (tests of reconnection). */
  readonly restartBackendAt?: number;
  /** Give up after this much virtual time (default 600 s). */
  readonly maxVirtualMs?: number;
  /** Poison every recycled frame buffer when it is released (TCP's and netback's): a consumer
   * that gives a buffer back before it is done shows up as a sha256 mismatch (tests). */
  readonly poisonReleasedBuffers?: boolean;
  /** Rx buffers each netfront keeps posted (default: the ring's 256); fewer make netback queue frames. */
  readonly rxBuffers?: number;
  /** Both domUs' TCP send and receive buffer size (default XEN_TRANSFER_SOCKET_BUFFER). */
  readonly socketBufferBytes?: number;
  /** Leave the first N received bytes out of `steady` (slow start, JIT warm-up; iperf3's --omit, in bytes). Default 0. */
  readonly omitBytes?: number;
  /** Timers fired between two turns of the event loop (pumpUntil's batch, default 4096). At
   * virtual time 0 each moves a ring's worth of frames: 4096 of them hold the loop for seconds on
   * a loaded machine, so the CLI takes 256 for its progress lines and Ctrl-C. */
  readonly pumpBatch?: number;
  /** Ends the run where it is (the report is then partial, with `interrupted`). */
  readonly signal?: AbortSignal;
  /** Called with a progress line every `progressEveryMs` [1000] of wall time. */
  readonly onProgress?: (line: string) => void;
  readonly progressEveryMs?: number;
  /** When given, the bytes received so far are appended here every SAMPLE_EVERY_MS of wall time (the --report charts). */
  readonly samples?: XenTransferSample[];
  /** Sample the sender about every this many ms of wall time (iperf3's --interval; the run's virtual
   * clock hardly moves: a ring's worth of frames crosses in one instant). The samples go to
   * `onInterval` as they are taken and to the report's `intervals`. Taken when the run yields to
   * the event loop (every pumpBatch timers), so an interval may be a little longer than asked. */
  readonly intervalMs?: number;
  readonly onInterval?: (sample: XenTransferInterval) => void;
}

/** One interval of the transfer on the wall clock (iperf3's interval report): sim transfer's figures, goodput over wall time. */
export type XenTransferInterval = IntervalFigures & { readonly wallGoodputBitsPerSecond: number };

/** What runXenTransfer measured. */
export interface XenTransferReport {
  readonly ok: boolean;
  readonly bytes: number;
  readonly received: number;
  readonly sha256Match: boolean;
  readonly sha256: string;
  readonly wallGoodputBitsPerSecond: number;
  readonly wallSeconds: number;
  /** CPU time of this process during the transfer (stable on a loaded machine, unlike wall time). */
  readonly cpuSeconds: number;
  /** received * 8 / cpuSeconds. */
  readonly cpuGoodputBitsPerSecond: number;
  readonly virtualSeconds: number;
  readonly gso: boolean;
  readonly checksumOffload: boolean;
  /** The address family the transfer ran over. */
  readonly family: "ipv4" | "ipv6";
  readonly seed: number;
  readonly retransmits: number;
  readonly backendRestarts: number;
  readonly peerErrors: number;
  readonly frames: { readonly tx: number; readonly rx: number };
  /** Event-channel notifications the sender's netfront and all of netback sent (ring notification avoidance). */
  readonly notifications: { readonly netfront: number; readonly netback: number };
  /** Frames sent from recycled buffers: the sender's TCP GSO segments, netback's tx copies (Frame.release). */
  readonly buffersReused?: { readonly tcpSegments: number; readonly netbackTx: number };
  /** The domUs' TCP buffer size. */
  readonly socketBufferBytes?: number;
  /** The sender's MSS (TcpInfo.sendMss: payload bytes per segment with options) and congestion control. */
  readonly mss?: number;
  readonly congestionControl?: string;
  /** The samples, when intervalMs was given. */
  readonly intervals?: readonly XenTransferInterval[];
  /** Goodput without the first omitBytes (present when omitBytes was given and passed). */
  readonly steady?: SteadyGoodput;
  /** What stopped the run before its end (e.g. "SIGINT"); the figures are then partial. */
  readonly interrupted?: string;
  readonly error?: string;
}

const PORT = 5001;
const CHUNK = 64 * 1024;
/** Largest transfer whose payload is generated and hashed outside the timed window. */
const PREGENERATE_MAX = 512 * 1024 * 1024;

/** Runs the transfer in one thread on a VirtualClock. */
export async function runXenTransfer(options: XenTransferOptions): Promise<XenTransferReport> {
  const seed = options.seed ?? 1;
  const v6 = options.ipv6 === true;
  const gso = options.gso ?? false;
  if (v6 && gso) throw new NetlabError("ERR_NETLAB_SIM", "GSO is used by TCP over IPv4 only: TCP over IPv6 sends MSS-sized segments");
  // Over IPv6 the stacks write every checksum (nothing goes out csum_blank), whatever netfront negotiated.
  const checksumOffload = !v6 && (options.checksumOffload ?? true);
  const clock = createVirtualClock();
  const rng = createRng(seed);
  const poison = options.poisonReleasedBuffers === true;
  const socketBufferBytes = options.socketBufferBytes ?? XEN_TRANSFER_SOCKET_BUFFER;
  const omitBytes = options.omitBytes ?? 0;
  const built = await buildXenNetwork(
    { clock, rng },
    {
      guests: 2,
      netfront: { gso, checksumOffload, ...(options.rxBuffers === undefined ? {} : { rxBuffers: options.rxBuffers }) },
      ...(poison ? { netback: { poisonReleasedBuffers: true } } : {}),
      stack: (i: number, g: { name: string }) => ({
        name: g.name,
        ...(v6 ? { ipv6: { addresses: [`2001:db8::${i + 1}/64`], routerSolicitations: false } } : { ipv4: { cidr: `192.0.2.${i + 1}/24` } }),
        tcp: { receiveBufferSize: socketBufferBytes, sendBufferSize: socketBufferBytes, ...(poison ? { poisonReleasedBuffers: true } : {}) },
      }),
    },
  );
  const base = { bytes: options.bytes, gso, checksumOffload, family: v6 ? ("ipv6" as const) : ("ipv4" as const), seed };
  if (!built.ok) {
    return {
      ...base,
      ok: false,
      received: 0,
      sha256Match: false,
      sha256: "",
      wallGoodputBitsPerSecond: 0,
      wallSeconds: 0,
      cpuSeconds: 0,
      cpuGoodputBitsPerSecond: 0,
      virtualSeconds: 0,
      retransmits: 0,
      backendRestarts: 0,
      peerErrors: 0,
      frames: { tx: 0, rx: 0 },
      notifications: { netfront: 0, netback: 0 },
      error: built.error,
    };
  }
  const net = built.value;
  const [a, b] = net.guests as [(typeof net.guests)[0], (typeof net.guests)[0]];
  // Payload: xorshift32 words, seeded. Up to PREGENERATE_MAX it is generated and hashed before
  // the clock starts and the receiver hashes after it stops, so goodput measures the transfer only.
  let x = (createRng(seed ^ 0x5a5a5a5a).nextU32() | 1) >>> 0;
  const fill = (chunk: Uint8Array): void => {
    const words = new Uint32Array(chunk.buffer, chunk.byteOffset, chunk.length >>> 2);
    for (let i = 0; i < words.length; i++) {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      words[i] = x;
    }
    for (let i = words.length * 4; i < chunk.length; i++) chunk[i] = i & 0xff;
  };
  const pregenerated = options.bytes <= PREGENERATE_MAX;
  const sent = createHash("sha256");
  const got = createHash("sha256");
  let payload: Uint8Array | undefined;
  let sink: Uint8Array | undefined;
  if (pregenerated) {
    payload = new Uint8Array(options.bytes);
    for (let off = 0; off < payload.length; off += CHUNK) fill(payload.subarray(off, Math.min(off + CHUNK, payload.length)));
    sent.update(payload);
    // Touch every page of the sink now: its first-touch page faults would otherwise be timed.
    sink = new Uint8Array(options.bytes).fill(0);
  }
  let received = 0;
  let ended = false;
  let endAt = 0;
  let mark: { bytes: number; at: number } | undefined;
  let error: string | undefined;
  let restarts = 0;

  if (v6) {
    // DAD (one NS, a second of virtual time) before either address takes traffic.
    const ready = (g: typeof a): boolean => g.stack.ipv6!.ndp.addresses().some((x) => x.origin === "static" && x.state === "preferred");
    await pumpUntil(clock, () => ready(a) && ready(b), { untilMs: clock.now() + 10_000 });
  }
  const tcpOf = (g: typeof a) => (v6 ? g.stack.tcp6!.layer : g.stack.tcp);
  const listener = tcpOf(b).listen(PORT);
  if (!listener.ok) throw new NetlabError("ERR_NETLAB_SIM", `listen: ${listener.error}`);
  listener.value.onConnection((s) => {
    s.onData((d) => {
      if (sink !== undefined) {
        if (received + d.length <= sink.length) sink.set(d, received);
        else error = "receiver: more bytes than sent";
      } else got.update(d);
      received += d.length;
      if (mark === undefined && omitBytes > 0 && received >= omitBytes) mark = { bytes: received, at: performance.now() };
      if (options.restartBackendAt !== undefined && restarts === 0 && received >= options.restartBackendAt) {
        restarts++;
        net.restartNetback();
      }
    });
    s.onEnd(() => {
      ended = true;
      endAt = performance.now();
      s.end();
    });
    s.onClose((e) => {
      if (e !== undefined) error = `receiver: ${e}`;
    });
  });
  const t0v = clock.now();
  const c = v6
    ? a.stack.tcp6!.connect(b.stack.ipv6!.ndp.addresses().find((x) => x.origin === "static")!.address, PORT)
    : a.stack.tcp.connect(b.stack.ipv4.cidr?.address ?? 0, PORT);
  if (!c.ok) throw new NetlabError("ERR_NETLAB_SIM", `connect: ${c.error}`);
  const stream = c.value;
  let queued = 0;
  const buf = new Uint8Array(CHUNK);
  const pushData = (): void => {
    while (queued < options.bytes) {
      const n = Math.min(CHUNK, options.bytes - queued);
      let chunk: Uint8Array;
      if (payload !== undefined) chunk = payload.subarray(queued, queued + n);
      else {
        chunk = buf.slice(0, n);
        fill(chunk);
        sent.update(chunk);
      }
      queued += n;
      if (!stream.write(chunk)) return;
    }
    stream.end();
  };
  stream.onConnect(pushData);
  stream.onDrain(pushData);
  stream.onClose((e) => {
    if (e !== undefined) error = `sender: ${e}`;
  });
  const wallStart = performance.now();
  const cpuStart = process.cpuUsage();
  const { intervals, sample, sampledAt } = createIntervalSampler(
    wallStart,
    () => ({ received, retransmits: tcpOf(a).stats.retransmits, info: stream.info() }),
    (figures, goodput): XenTransferInterval => ({ ...figures, wallGoodputBitsPerSecond: goodput }),
    options.onInterval,
  );
  const stopIntervals = everyWallSecond(options.intervalMs === undefined ? undefined : () => sample(performance.now()), options.intervalMs);
  const stopProgress = everyWallSecond(
    options.onProgress === undefined
      ? undefined
      : () => {
          const wallS = (performance.now() - wallStart) / 1000;
          options.onProgress!(
            `xen-transfer: ${formatSi(received, "B")}/${formatSi(options.bytes, "B")} (${((100 * received) / options.bytes).toFixed(1)}%), ` +
              `virtual ${((clock.now() - t0v) / 1000).toFixed(3)} s, wall ${wallS.toFixed(1)} s, ${formatSi((received * 8) / Math.max(wallS, 1e-9), "bit/s")} wall, ` +
              `${tcpOf(a).stats.retransmits} retransmissions`,
          );
        },
    options.progressEveryMs,
  );
  const samples = options.samples;
  const stopSampling = everyWallSecond(
    samples === undefined ? undefined : () => samples.push({ wallSeconds: (performance.now() - wallStart) / 1000, receivedBytes: received }),
    SAMPLE_EVERY_MS,
  );
  await pumpUntil(clock, () => ended || error !== undefined || options.signal?.aborted === true, {
    untilMs: t0v + (options.maxVirtualMs ?? 600_000),
    maxIterations: 1e9,
    ...(options.pumpBatch === undefined ? {} : { batch: options.pumpBatch }),
  }).finally(() => {
    stopProgress();
    stopSampling();
    stopIntervals();
  });
  // The last, partial interval (iperf3 reports it too).
  const stoppedAt = ended ? endAt : performance.now();
  if (options.intervalMs !== undefined && stoppedAt > sampledAt()) sample(stoppedAt);
  const interrupted = !ended && error === undefined && options.signal?.aborted === true ? String(options.signal.reason ?? "aborted") : undefined;
  if (interrupted !== undefined) error = `interrupted (${interrupted})`;
  const wallSeconds = (performance.now() - wallStart) / 1000;
  samples?.push({ wallSeconds, receivedBytes: received });
  const cpu = process.cpuUsage(cpuStart);
  const cpuSeconds = (cpu.user + cpu.system) / 1e6;
  const virtualSeconds = (clock.now() - t0v) / 1000;
  if (sink !== undefined) got.update(sink.subarray(0, received));
  const sha = got.digest("hex");
  const expected = sent.digest("hex");
  const match = received === options.bytes && sha === expected && queued === options.bytes;
  const steady = match && ended ? steadyGoodput(omitBytes, mark, received, endAt) : undefined;
  return {
    ...base,
    ok: match && ended,
    received,
    sha256Match: match,
    sha256: sha,
    wallGoodputBitsPerSecond: wallSeconds > 0 ? Math.round((received * 8) / wallSeconds) : 0,
    wallSeconds: Math.round(wallSeconds * 1000) / 1000,
    cpuSeconds: Math.round(cpuSeconds * 1000) / 1000,
    cpuGoodputBitsPerSecond: cpuSeconds > 0 ? Math.round((received * 8) / cpuSeconds) : 0,
    virtualSeconds: Math.round(virtualSeconds * 1e6) / 1e6,
    retransmits: tcpOf(a).stats.retransmits,
    backendRestarts: restarts,
    peerErrors: net.peerErrors.length,
    frames: { tx: a.netfront.stats().txFrames, rx: b.netfront.stats().rxFrames },
    notifications: { netfront: a.netfront.stats().notificationsSent, netback: net.netback.vifs().reduce((n, v) => n + v.stats().notificationsSent, 0) },
    buffersReused: { tcpSegments: tcpOf(a).stats.segmentBuffersReused, netbackTx: net.netback.vifs().reduce((n, v) => n + v.stats().txBuffersReused, 0) },
    socketBufferBytes,
    mss: stream.info().sendMss,
    congestionControl: stream.info().congestionControl,
    ...(options.intervalMs === undefined ? {} : { intervals }),
    ...(steady === undefined ? {} : { steady }),
    ...(interrupted === undefined ? {} : { interrupted }),
    ...(error === undefined ? (ended ? {} : { error: "transfer did not finish" }) : { error }),
  };
}

/** The --report page: the verdict and figures, then goodput and bytes received over wall time (virtual time stays at 0: the rings move without timers). */
export function xenTransferReportPage(
  r: XenTransferReport | XenTransferThreadsReport,
  samples: readonly XenTransferSample[],
  command: string,
  when: string,
): HtmlReport {
  const verdict = r.ok
    ? `Every byte arrived intact (${r.received} bytes, sha256 checked).`
    : `The transfer did not complete intact${r.error === undefined ? "" : `: ${r.error}`}.`;
  const page = summaryReportPage("netlab sim xen-transfer", command, when, verdict, { ...r });
  if (samples.length < 2) return page;
  // From the start (0 bytes at 0 s), so the first interval has its point too: a run of under two
  // sampling periods (0.55 s for 60 MB on a fast host) still draws a line.
  const from: readonly XenTransferSample[] = [{ wallSeconds: 0, receivedBytes: 0 }, ...samples];
  const goodput: [number, number][] = [];
  for (let i = 1; i < from.length; i++) {
    const a = from[i - 1]!,
      b = from[i]!;
    const dt = b.wallSeconds - a.wallSeconds;
    if (dt > 0) goodput.push([b.wallSeconds, ((b.receivedBytes - a.receivedBytes) * 8) / dt / 1e9]);
  }
  const charts = [
    lineChart({ title: "Goodput per interval", xLabel: "wall time (s)", yLabel: "Gbit/s", series: [{ name: "goodput", points: goodput }] }),
    lineChart({
      title: "Bytes received",
      xLabel: "wall time (s)",
      yLabel: "MB",
      series: [{ name: "received", points: [[0, 0], ...samples.map((x): [number, number] => [x.wallSeconds, x.receivedBytes / 1e6])] }],
    }),
  ];
  return {
    ...page,
    sections: [
      ...page.sections,
      {
        heading: "Over time",
        text: `The receiver's byte count sampled every ${SAMPLE_EVERY_MS} ms of wall time${"threads" in r && r.threads ? " (from its worker thread, to 1 KiB; start-up of the threads included)" : ""}.`,
        charts,
      },
    ],
  };
}

/** The `--json` output, organised as iperf3's (as `sim transfer`'s): what was run, the samples, the summary. */
export interface XenTransferJson {
  readonly start: RunStart & {
    readonly family: "ipv4" | "ipv6";
    readonly connected: { readonly senderAddress: string; readonly receiverAddress: string; readonly receiverPort: number };
    /** null with --threads (the sender's connection lives in a worker). */
    readonly mss: number | null;
    readonly congestionControl: string | null;
    readonly socketBufferBytes: number | null;
    readonly seed: number;
    readonly test: {
      readonly gso: boolean;
      readonly checksumOffload: boolean;
      readonly threads: boolean;
      readonly omitBytes: number;
      readonly intervalSeconds: number | null;
    };
  };
  readonly intervals: readonly XenTransferInterval[];
  readonly end: Record<string, unknown>;
  readonly units: Units;
}

/** The units of XenTransferJson's fields whose names do not carry one. */
export const XEN_TRANSFER_UNITS: Units = { bytes: "B", received: "B", receivedTotal: "B", bytesInFlight: "B", mss: "B", omittedBytes: "B" };

type AnyXenTransferReport = XenTransferReport | (Omit<XenTransferReport, "virtualSeconds" | "backendRestarts" | "intervals"> & { readonly threads: true });

/** The iperf3-shaped JSON of a run (`args` as typed after `netlab sim xen-transfer`). */
export function xenTransferJson(
  r: AnyXenTransferReport & { readonly threads: boolean },
  test: { readonly omitBytes: number; readonly intervalMs?: number | undefined },
  args: readonly string[],
  startedAt: Date,
): XenTransferJson {
  const { mss, congestionControl, socketBufferBytes, seed, gso, checksumOffload, threads, family, ...rest } = r;
  const { intervals, ...end } = rest as typeof rest & { intervals?: readonly XenTransferInterval[] };
  return withUnits(
    {
      start: {
        ...runStart("sim xen-transfer", args, startedAt, "virtualSeconds" in r ? 0 : null),
        family,
        connected:
          family === "ipv6"
            ? { senderAddress: "2001:db8::1", receiverAddress: "2001:db8::2", receiverPort: PORT }
            : { senderAddress: "192.0.2.1", receiverAddress: "192.0.2.2", receiverPort: PORT },
        mss: mss ?? null,
        congestionControl: congestionControl ?? null,
        socketBufferBytes: socketBufferBytes ?? null,
        seed,
        test: { gso, checksumOffload, threads, omitBytes: test.omitBytes, intervalSeconds: test.intervalMs === undefined ? null : test.intervalMs / 1000 },
      },
      intervals: intervals ?? [],
      end,
    },
    XEN_TRANSFER_UNITS,
  );
}

/** The command line of `netlab sim xen-transfer` (args.ts's rules). */
const XEN_TRANSFER_SPEC = {
  command: "sim xen-transfer",
  usage:
    "usage: netlab sim xen-transfer --bytes SIZE [--gso] [--no-csum] [--threads] [--omit SIZE] [--socket-buffer SIZE] [--seed S] [--json] [--quiet]\n" +
    "                              [--interval S] [--report FILE.html] [--ipv6]\n" +
    `${summary}\n` +
    "  --bytes SIZE          required (10Mi = 10 MiB, 10M = 10^7 bytes)\n" +
    "  --omit SIZE           also report goodput without the first SIZE bytes (slow start, JIT warm-up), like iperf3 --omit\n" +
    `  --socket-buffer SIZE  both domUs' TCP send and receive buffers, 4Ki..1Gi (default ${XEN_TRANSFER_SOCKET_BUFFER / 1024 / 1024}Mi, with --threads --gso ${XEN_TRANSFER_SOCKET_BUFFER_THREADS / 1024 / 1024}Mi)\n` +
    "  --seed S              default 1\n" +
    "  --interval S          a line per S seconds of wall time, as iperf3's (bytes, goodput, retransmissions, cwnd, srtt); not with --threads\n" +
    '  --json                one object as iperf3\'s: "start", "intervals", "end", "units" (as sim transfer\'s)\n' +
    "  --ipv6                TCP over IPv6 (2001:db8::1 -> 2001:db8::2); not with --gso or --threads (TCP over IPv6 sends\n" +
    "                        finished MSS-sized segments: no GSO, no csum_blank through the rings)\n" +
    "  progress on stderr every second (--quiet: none); Ctrl-C or SIGTERM ends the run with the partial summary\n" +
    "  (exit 130 / 143); with --threads the guest threads stop and report, or are terminated after 5 s\n" +
    "  --report FILE.html  also write one self-contained page: the figures, goodput and bytes received over wall time\n",
  options: {
    bytes: { type: "string" },
    omit: { type: "string" },
    "socket-buffer": { type: "string" },
    seed: { type: "string" },
    interval: { type: "string" },
    gso: { type: "boolean" },
    "no-csum": { type: "boolean" },
    threads: { type: "boolean" },
    ipv6: { type: "boolean" },
    json: { type: "boolean" },
    quiet: { type: "boolean" },
    report: { type: "string" },
  },
  required: ["bytes"],
} as const;

export async function run(args: string[]): Promise<number> {
  const { values: v, help } = parseCommandLine(XEN_TRANSFER_SPEC, args);
  if (help) {
    process.stdout.write(helpText(XEN_TRANSFER_SPEC));
    return 0;
  }
  const get = flagReader(XEN_TRANSFER_SPEC.command, v);
  const o = {
    bytes: get("bytes", (t) => parseSize(t, 1))!,
    omit: get("omit", (t) => parseSize(t)) ?? 0,
    socketBuffer: get("socket-buffer", (t) => parseSize(t, 4096, 1024 ** 3)) ?? 0,
    seed: get("seed", parseSeed) ?? 1,
    intervalMs: get("interval", (t) => parseDuration(t, "s", 1)),
    gso: v.gso === true,
    csum: v["no-csum"] !== true,
    threads: v.threads === true,
    ipv6: v.ipv6 === true,
    json: v.json === true,
    quiet: v.quiet === true,
  };
  if (o.ipv6 && (o.gso || o.threads))
    throw new UsageError(
      XEN_TRANSFER_SPEC.command,
      `--ipv6 does not take ${o.gso ? "--gso" : "--threads"}: TCP over IPv6 uses neither GSO nor worker threads yet`,
    );
  if (o.threads && o.intervalMs !== undefined)
    throw new UsageError(XEN_TRANSFER_SPEC.command, "--interval samples the sender's connection, which --threads runs in a worker: give one of them");
  if (o.omit >= o.bytes && o.omit > 0) throw new UsageError(XEN_TRANSFER_SPEC.command, `--omit (${o.omit}) must be less than --bytes (${o.bytes})`);
  const common = {
    bytes: o.bytes,
    gso: o.gso,
    checksumOffload: o.csum,
    seed: o.seed,
    omitBytes: o.omit,
    ...(o.ipv6 ? { ipv6: true } : {}),
    ...(o.socketBuffer > 0 ? { socketBufferBytes: o.socketBuffer } : {}),
  };
  if (v.report !== undefined) checkReportPath(v.report);
  // Progress on stderr each second of wall time, and SIGINT / SIGTERM end the run with the partial
  // summary (exit 130 / 143); with --threads the guest threads stop and report (or are terminated).
  const samples: XenTransferSample[] = [];
  const onProgress = {
    ...(o.quiet ? {} : { onProgress: (line: string) => process.stderr.write(`${line}\n`) }),
    ...(v.report === undefined ? {} : { samples }),
  };
  const startedAt = new Date();
  const { value: r, interrupted } = await interruptible(async (signal) =>
    o.threads
      ? await runXenTransferThreads({ ...common, signal, ...onProgress })
      : {
          ...(await runXenTransfer({
            ...common,
            pumpBatch: 256,
            signal,
            ...onProgress,
            ...(o.intervalMs === undefined ? {} : { intervalMs: o.intervalMs }),
            ...(o.intervalMs !== undefined && !o.json ? { onInterval: (i: XenTransferInterval) => process.stdout.write(`${formatInterval(i)}\n`) } : {}),
          })),
          threads: false as const,
        },
  );
  if (o.json) process.stdout.write(`${JSON.stringify(xenTransferJson(r, { omitBytes: o.omit, intervalMs: o.intervalMs }, args, startedAt))}\n`);
  else {
    process.stdout.write(
      `xen-transfer${r.family === "ipv6" ? " (IPv6)" : ""}: ${r.received}/${r.bytes} bytes, sha256 ${r.sha256Match ? "matches" : "MISMATCH"}, ` +
        `goodput ${formatSi(r.wallGoodputBitsPerSecond, "bit/s")} (wall ${r.wallSeconds} s, cpu ${r.cpuSeconds} s → ${formatSi(r.cpuGoodputBitsPerSecond, "bit/s")} per cpu-second${"virtualSeconds" in r ? `, virtual ${r.virtualSeconds} s` : ", worker threads"}), ` +
        `gso ${r.gso ? "on" : "off"}, csum offload ${r.checksumOffload ? "on" : "off"}, ${r.retransmits} retransmissions, ` +
        `${r.frames.tx} frames${r.error === undefined ? "" : `, error: ${r.error}`}\n`,
    );
    if (r.steady !== undefined) {
      process.stdout.write(
        `  steady: ${formatSi(r.steady.wallGoodputBitsPerSecond, "bit/s")} over the last ${formatSi(r.steady.bytes, "B")} (${r.steady.seconds} s), the first ${formatSi(r.steady.omittedBytes, "B")} omitted\n`,
      );
    }
    const cpu = "threadCpuMs" in r ? r.threadCpuMs : undefined;
    if (cpu !== undefined) {
      const perMb = (ms: number): string => (r.received > 0 ? `${formatSi((ms * 1e6) / r.received)} ms/MB` : "-");
      process.stdout.write(
        `  cpu per thread: dom0 ${cpu.dom0} ms (${perMb(cpu.dom0)}), sender ${cpu.sender} ms (${perMb(cpu.sender)}), receiver ${cpu.receiver} ms (${perMb(cpu.receiver)})\n`,
      );
    }
    const tunables = memmoveTunablesEnv(process.env["GLIBC_TUNABLES"]);
    if (tunables !== undefined) {
      const m = probeMemmove();
      if (m.penalty >= 3)
        process.stdout.write(
          `  note: memmove is ${m.penalty}x slower at short distances on this machine; for figures comparable with \`netlab bench\` run with GLIBC_TUNABLES=${tunables}\n`,
        );
    }
  }
  if (v.report !== undefined) {
    writeHtmlReport(v.report, xenTransferReportPage(r, samples, `netlab sim xen-transfer ${args.join(" ")}`.trim(), new Date().toISOString()));
    if (!o.quiet) process.stderr.write(`report: ${v.report}\n`);
  }
  if (interrupted !== undefined) return exitStatusOf(interrupted);
  return r.ok ? 0 : 1;
}
