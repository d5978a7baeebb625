// `netlab sim blk [--image FILE] [--ops N --mix read:write:flush[:discard] --bs BYTES --qd N
// --seed S --json]`: a domU with a blkfront disk (xvda) served by dom0's blkback from memory or a
// raw image file; N random operations by the mix, at most `qd` in flight, every read checked
// against a model of the disk (and, at the end, the whole image). Reports IOPS and MB/s over wall
// time (the simulation runs as fast as the CPU allows) and the virtual time the device model took.
//   runSimBlk(options)   the scenario as a function (tests, bench)
//   run(args)            the CLI entry

import { existsSync, readFileSync } from "node:fs";
import { performance } from "node:perf_hooks";
import { createRng } from "../../stack/time.ts";
import { createMemoryStorage } from "../../xen-sim/blk/memory-storage.ts";
import { createBlkWorld } from "../../xen-sim/blk/sim-world.ts";
import type { BlkfrontFeatures, BlkfrontStats, BlkbackStats, BlockStorage } from "../../xen-sim/blk/types.ts";
import { createFileStorage } from "../blk/file-backend.ts";
import {
  flagReader,
  helpText,
  parseCommandLine,
  parseDuration,
  parseInteger,
  parseNumber,
  parseSeed,
  parseSize,
  UsageError,
  type ValueResult,
} from "../cli/args.ts";
import { NetlabError } from "../../stack/error.ts";
import { err, ok } from "../../stack/result.ts";
import { checkReportPath, writeHtmlReport } from "../report/html.ts";
import { exitStatusOf, interruptible, type StopSignal } from "../cli/run-control.ts";
import { summaryReportPage } from "../report/summary-page.ts";
import { withUnits, type Units } from "../report/json.ts";
import { formatBinary, formatSi } from "../report/format.ts";

export const summary = "random block I/O from a domU through blkfront/blkback, checked against a model (--image FILE --ops N --mix r:w:f --json)";

/** Options of runSimBlk. */
export interface SimBlkOptions {
  /** Raw image file (created with sizeMiB when missing); memory when omitted. */
  readonly image?: string;
  /** Disk size in MiB for memory or a new image (default 64). */
  readonly sizeMiB?: number;
  readonly ops?: number;
  /** Weights of read, write, flush and discard (default 70:25:5:0). */
  readonly mix?: readonly [number, number, number, number];
  /** Bytes per read/write, a multiple of 512 (default 4096). */
  readonly blockSize?: number;
  /** Most operations in flight (default 32). */
  readonly queueDepth?: number;
  readonly seed?: number;
  /** Device service time per ring batch in µs (virtual; default 20). */
  readonly latencyUs?: number;
  /** Event channel upcall latency in µs (virtual; default 1). */
  readonly upcallUs?: number;
  readonly persistent?: boolean;
  readonly ringPageOrder?: number;
  readonly indirectSegments?: number;
  /** Called with a progress line every `progressEveryMs` [1000] of wall time. */
  readonly onProgress?: (line: string) => void;
  readonly progressEveryMs?: number;
  /** Ends the run early: no new operation is issued, those in flight complete, the disk is checked (partial report, `interrupted`). */
  readonly signal?: AbortSignal;
}

/** What runSimBlk measured. */
export interface SimBlkReport {
  readonly ok: boolean;
  readonly backend: "memory" | "file";
  readonly image?: string;
  readonly sizeBytes: number;
  readonly ops: number;
  readonly completed: number;
  readonly reads: number;
  readonly writes: number;
  readonly flushes: number;
  readonly discards: number;
  readonly errors: number;
  readonly mismatches: number;
  readonly imageMatches: boolean;
  readonly bytesRead: number;
  readonly bytesWritten: number;
  readonly wallSeconds: number;
  /** CPU time of this process during the run (stable on a loaded machine, unlike wall time). */
  readonly cpuSeconds: number;
  readonly virtualSeconds: number;
  readonly iops: number;
  /** completed / cpuSeconds. */
  readonly iopsPerCpuSecond: number;
  readonly mbPerSecond: number;
  readonly virtualIops: number;
  readonly blockSize: number;
  readonly queueDepth: number;
  readonly seed: number;
  readonly features: BlkfrontFeatures;
  readonly frontend: BlkfrontStats;
  readonly backendStats: BlkbackStats;
  /** What stopped the run before its `ops` (e.g. "SIGINT"); the figures are then partial. */
  readonly interrupted?: string;
  readonly error?: string;
}

const MAX_SIZE_MIB = 1024;
/** Events fired between two looks at the wall clock. */
const SLICE_EVENTS = 256;
/** With a signal, the event loop gets a turn at least this often (wall ms). */
const YIELD_EVERY_MS = 50;
const DEFAULT_SIZE_MIB = 64;

function misuse(message: string): NetlabError {
  return new NetlabError("ERR_NETLAB_SIM_ARGS", message);
}

/** Runs the scenario in one thread on a VirtualClock. */
export async function runSimBlk(options: SimBlkOptions = {}): Promise<SimBlkReport> {
  const ops = options.ops ?? 10_000;
  const bs = options.blockSize ?? 4096;
  const qd = options.queueDepth ?? 32;
  const seed = options.seed ?? 1;
  const sizeMiB = options.sizeMiB ?? DEFAULT_SIZE_MIB;
  const [wr, ww, wf, wd] = options.mix ?? [70, 25, 5, 0];
  if (!Number.isSafeInteger(ops) || ops < 0) throw misuse("--ops must be a non-negative integer");
  if (!Number.isSafeInteger(bs) || bs <= 0 || bs % 512 !== 0 || bs > 4 << 20) throw misuse("--bs must be a multiple of 512 up to 4 MiB");
  if (!Number.isSafeInteger(qd) || qd < 1 || qd > 4096) throw misuse("--qd must be 1..4096");
  if (!(sizeMiB > 0 && sizeMiB <= MAX_SIZE_MIB)) throw misuse(`--size-mb must be in (0, ${MAX_SIZE_MIB}]`);
  if ([wr, ww, wf, wd].some((x) => !(x >= 0)) || wr + ww + wf + wd <= 0) throw misuse("--mix weights must be non-negative with a positive sum");

  let storage: BlockStorage;
  let model: Uint8Array;
  let memoryBytes: Uint8Array | undefined;
  if (options.image !== undefined) {
    const fresh = !existsSync(options.image);
    storage = createFileStorage(options.image, fresh ? { createSectors: Math.floor(sizeMiB * 2048) } : {});
    if (storage.sectors * 512 > MAX_SIZE_MIB << 20) throw misuse(`image larger than ${MAX_SIZE_MIB} MiB`);
    model = fresh ? new Uint8Array(storage.sectors * 512) : new Uint8Array(readFileSync(options.image));
    model = model.subarray(0, storage.sectors * 512);
  } else {
    const mem = createMemoryStorage({ sectors: Math.floor(sizeMiB * 2048) });
    storage = mem;
    memoryBytes = mem.bytes;
    model = new Uint8Array(mem.bytes.length);
  }
  const sectorsPerBlock = bs / 512;
  const blocks = Math.floor(storage.sectors / sectorsPerBlock);
  if (blocks < 1) throw misuse("disk smaller than one block");

  const w = await createBlkWorld(storage, {
    seed,
    events: { upcallLatencyMs: (options.upcallUs ?? 1) / 1000 },
    back: { serviceDelayMs: (options.latencyUs ?? 20) / 1000 },
    front: {
      ...(options.persistent === undefined ? {} : { persistent: options.persistent }),
      ...(options.ringPageOrder === undefined ? {} : { ringPageOrder: options.ringPageOrder }),
      ...(options.indirectSegments === undefined ? {} : { maxIndirectSegments: options.indirectSegments }),
      maxDataPages: Math.max(1024, qd * Math.ceil(bs / 4096) + 64),
    },
    guestPages: Math.max(16384, qd * Math.ceil(bs / 4096) * 2 + 4096),
  });
  await w.connect();
  const front = w.front;
  const rng = createRng(seed ^ 0x0b1c);
  const total = wr + ww + wf + wd;

  // One preallocated buffer pair per queue slot: no allocation per operation.
  const slotData = Array.from({ length: qd }, () => Buffer.alloc(bs));
  const slotExpected = Array.from({ length: qd }, () => Buffer.alloc(bs));
  const freeSlots = Array.from({ length: qd }, (_, i) => qd - 1 - i);
  let x = (rng.nextU32() | 1) >>> 0;
  const fillRandom = (b: Uint8Array): void => {
    const words = new Uint32Array(b.buffer, b.byteOffset, b.length >>> 2);
    for (let i = 0; i < words.length; i++) {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      words[i] = x;
    }
  };
  // memcmp through Buffer views (the check must not dominate what is measured).
  const same = (a: Uint8Array, b: Uint8Array): boolean => Buffer.from(a.buffer, a.byteOffset, a.length).equals(Buffer.from(b.buffer, b.byteOffset, b.length));

  let issued = 0;
  let completed = 0;
  let reads = 0,
    writes = 0,
    flushes = 0,
    discards = 0,
    errors = 0,
    mismatches = 0;
  let firstError: string | undefined;
  const note = (what: string): void => {
    if (firstError === undefined) firstError = what;
  };

  /** Set when the signal aborts: the operations in flight finish, no new one starts. */
  let draining = false;
  const issue = (): void => {
    while (!draining && issued < ops && freeSlots.length > 0) {
      const slot = freeSlots.pop()!;
      issued++;
      const pick = rng.nextFloat() * total;
      const sector = rng.nextInt(blocks) * sectorsPerBlock;
      if (pick < wr) {
        reads++;
        const expected = slotExpected[slot]!;
        expected.set(model.subarray(sector * 512, sector * 512 + bs));
        front.submitRead(sector, slotData[slot]!, (r) => {
          if (!r.ok) {
            errors++;
            note(`read at ${sector}: ${r.error}`);
          } else if (!slotData[slot]!.equals(expected)) {
            mismatches++;
            note(`read at ${sector}: data differs from the model`);
          }
          done(slot);
        });
      } else if (pick < wr + ww) {
        writes++;
        const data = slotData[slot]!;
        fillRandom(data);
        model.set(data, sector * 512);
        front.submitWrite(sector, data, (r) => {
          if (!r.ok) {
            errors++;
            note(`write at ${sector}: ${r.error}`);
          }
          done(slot);
        });
      } else if (pick < wr + ww + wf) {
        flushes++;
        front.submitFlush((r) => {
          if (!r.ok) {
            errors++;
            note(`flush: ${r.error}`);
          }
          done(slot);
        });
      } else {
        discards++;
        model.fill(0, sector * 512, sector * 512 + bs);
        front.submitDiscard(sector, sectorsPerBlock, (r) => {
          if (!r.ok) {
            errors++;
            note(`discard at ${sector}: ${r.error}`);
          }
          done(slot);
        });
      }
    }
  };
  const done = (slot: number): void => {
    completed++;
    freeSlots.push(slot);
    issue();
  };

  const t0 = performance.now();
  const c0 = process.cpuUsage();
  const v0 = w.clock.now();
  let lastProgress = t0,
    lastYield = t0;
  const everyMs = options.progressEveryMs ?? 1000;
  issue();
  // Slices of events; the wall clock is read between them (the run never waits on the event
  // loop) and the event loop gets a turn every YIELD_EVERY_MS so that a signal can arrive.
  for (let guard = 0; completed < issued || (!draining && completed < ops); guard++) {
    if (guard >= 1e9) break;
    if (!draining && options.signal?.aborted === true) draining = true;
    const fired = w.clock.run(Infinity, SLICE_EVENTS);
    if (fired === 0) break;
    const now = performance.now();
    if (options.onProgress !== undefined && now - lastProgress >= everyMs) {
      lastProgress = now;
      const wallS = (now - t0) / 1000;
      options.onProgress(
        `sim blk: ${completed}/${ops} operations (${((100 * completed) / Math.max(ops, 1)).toFixed(1)}%), ` +
          `${Math.round(completed / wallS).toLocaleString("en-US")} IOPS, virtual ${((w.clock.now() - v0) / 1000).toFixed(4)} s, wall ${wallS.toFixed(1)} s`,
      );
    }
    if (options.signal !== undefined && now - lastYield >= YIELD_EVERY_MS) {
      await new Promise((resolve) => setImmediate(resolve));
      lastYield = performance.now();
    }
  }
  const interrupted = draining ? String(options.signal?.reason ?? "aborted") : undefined;
  const wallSeconds = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(c0);
  const cpuSeconds = (cpu.user + cpu.system) / 1e6;
  const virtualSeconds = (w.clock.now() - v0) / 1000;
  if (interrupted !== undefined) note(`interrupted (${interrupted}) after ${completed} of ${ops} operations`);
  else if (completed < ops) note(`stalled after ${completed} of ${ops} operations (frontend ${front.state})`);

  await w.settle(front.close());
  await w.settle(w.back.close());
  let imageMatches: boolean;
  if (memoryBytes !== undefined) imageMatches = same(memoryBytes, model);
  else imageMatches = same(new Uint8Array(readFileSync(options.image!)).subarray(0, model.length), model);
  if (!imageMatches) note("the image differs from the model at the end");

  const bytesRead = reads * bs;
  const bytesWritten = writes * bs;
  const report: SimBlkReport = {
    ok: firstError === undefined && completed === ops && imageMatches,
    backend: options.image === undefined ? "memory" : "file",
    ...(options.image === undefined ? {} : { image: options.image }),
    sizeBytes: storage.sectors * 512,
    ops,
    completed,
    reads,
    writes,
    flushes,
    discards,
    errors,
    mismatches,
    imageMatches,
    bytesRead,
    bytesWritten,
    // rounded for reading (rates from the unrounded figures): wall and CPU time to the
    // millisecond, virtual time to the microsecond, operation rates to whole numbers
    wallSeconds: roundTo(wallSeconds, 3),
    cpuSeconds: roundTo(cpuSeconds, 3),
    virtualSeconds: roundTo(virtualSeconds, 6),
    iops: wallSeconds > 0 ? Math.round(completed / wallSeconds) : 0,
    iopsPerCpuSecond: cpuSeconds > 0 ? Math.round(completed / cpuSeconds) : 0,
    mbPerSecond: wallSeconds > 0 ? roundTo((bytesRead + bytesWritten) / 1e6 / wallSeconds, 2) : 0,
    virtualIops: virtualSeconds > 0 ? Math.round(completed / virtualSeconds) : 0,
    blockSize: bs,
    queueDepth: qd,
    seed,
    features: front.features,
    frontend: { ...front.stats },
    backendStats: { ...w.back.stats },
    ...(interrupted === undefined ? {} : { interrupted }),
    ...(firstError === undefined ? {} : { error: firstError }),
  };
  return report;
}

interface Parsed extends SimBlkOptions {
  readonly json: boolean;
  /** --overwrite: an existing --image may be written into. */
  readonly overwrite: boolean;
  readonly report: string | undefined;
  readonly quiet: boolean;
  readonly help: boolean;
}

/** The command line of `netlab sim blk` (args.ts's rules). */
const BLK_SPEC = {
  command: "sim blk",
  usage:
    "usage: netlab sim blk [--image FILE [--overwrite]] [--size-mb N] [--ops N] [--mix read:write:flush[:discard]] [--bs SIZE] [--qd N]\n" +
    "                     [--seed S] [--latency-us US] [--upcall-us US] [--ring-order N] [--indirect N] [--no-persistent] [--json]\n" +
    "                     [--quiet] [--report FILE.html]\n" +
    `${summary}\n` +
    "  --image FILE   a raw disk image: a new file of --size-mb MiB (default 64; said on stderr), or with --overwrite an\n" +
    "                 existing one, whose contents are the disk's starting state and are written into (refused without it)\n" +
    "  progress on stderr every second (--quiet: none); Ctrl-C or SIGTERM stops issuing operations, lets those in flight\n" +
    "  finish, checks the disk against the model and prints the partial summary (exit 130 / 143)\n" +
    "  --report FILE.html  also write one self-contained page with the result's figures and tables\n",
  options: {
    image: { type: "string" },
    overwrite: { type: "boolean" },
    report: { type: "string" },
    "size-mb": { type: "string" },
    ops: { type: "string" },
    mix: { type: "string" },
    bs: { type: "string" },
    qd: { type: "string" },
    seed: { type: "string" },
    "latency-us": { type: "string" },
    "upcall-us": { type: "string" },
    "ring-order": { type: "string" },
    indirect: { type: "string" },
    "no-persistent": { type: "boolean" },
    json: { type: "boolean" },
    quiet: { type: "boolean" },
  },
} as const;

/** The read:write:flush[:discard] weights of --mix. */
function parseMix(text: string): ValueResult<readonly [number, number, number, number]> {
  const parts = text.split(":").map((p) => parseNumber(p, 0));
  if (parts.length < 3 || parts.length > 4 || parts.some((p) => !p.ok))
    return err("bad-value", `needs read:write:flush[:discard] weights (5:4:1), got '${text}'`);
  const w = parts.map((p) => (p.ok ? p.value : 0));
  return ok([w[0]!, w[1]!, w[2]!, w[3] ?? 0]);
}

function parseArgs(args: string[]): Parsed {
  const { values: v, help } = parseCommandLine(BLK_SPEC, args);
  const get = flagReader(BLK_SPEC.command, v);
  const o: { -readonly [K in keyof Parsed]?: Parsed[K] } = {};
  const set = <K extends keyof SimBlkOptions>(key: K, value: SimBlkOptions[K] | undefined): void => {
    if (value !== undefined) o[key] = value;
  };
  const micros = (flag: string): number | undefined => {
    const ms = get(flag, (t) => parseDuration(t, "us"));
    return ms === undefined ? undefined : ms * 1000;
  };
  set("image", v.image);
  set(
    "sizeMiB",
    get("size-mb", (t) => parseNumber(t, Number.MIN_VALUE, MAX_SIZE_MIB)),
  );
  set(
    "ops",
    get("ops", (t) => parseInteger(t, 0)),
  );
  set("mix", get("mix", parseMix));
  set(
    "blockSize",
    get("bs", (t) => parseSize(t, 1)),
  );
  set(
    "queueDepth",
    get("qd", (t) => parseInteger(t, 1)),
  );
  set("seed", get("seed", parseSeed));
  set("latencyUs", micros("latency-us"));
  set("upcallUs", micros("upcall-us"));
  set(
    "ringPageOrder",
    get("ring-order", (t) => parseInteger(t, 0)),
  );
  set(
    "indirectSegments",
    get("indirect", (t) => parseInteger(t, 0)),
  );
  if (v["no-persistent"] === true) o.persistent = false;
  return { ...o, json: v.json === true, quiet: v.quiet === true, overwrite: v.overwrite === true, report: v.report, help };
}

/** The units of `sim blk --json` fields whose names do not carry one. */
export const BLK_UNITS: Units = {
  bytesRead: "B",
  bytesWritten: "B",
  blockSize: "B",
  physicalSectorSize: "B",
  discardGranularity: "B",
  discardAlignment: "B",
  mbPerSecond: "MB/s",
  iops: "op/s",
  virtualIops: "op/s",
};

export async function run(args: string[]): Promise<number> {
  const o = parseArgs(args);
  if (o.help) {
    process.stdout.write(helpText(BLK_SPEC));
    return 0;
  }
  if (o.image !== undefined) {
    if (existsSync(o.image) && !o.overwrite) {
      throw new UsageError(BLK_SPEC.command, `--image ${o.image} exists and the run would write into it; give --overwrite to use it as the disk`);
    }
    if (!existsSync(o.image)) process.stderr.write(`sim blk: creating ${o.image}, ${o.sizeMiB ?? DEFAULT_SIZE_MIB} MiB (--size-mb)\n`);
  } else if (o.overwrite) throw new UsageError(BLK_SPEC.command, "--overwrite needs --image FILE");
  if (o.report !== undefined) checkReportPath(o.report);
  // Progress on stderr each second of wall time; SIGINT / SIGTERM stop issuing, let the
  // operations in flight finish, check the disk and print the partial summary (exit 130 / 143).
  let r: SimBlkReport;
  let interrupted: StopSignal | undefined;
  try {
    const run = await interruptible((signal) =>
      runSimBlk({ ...o, signal, ...(o.quiet ? {} : { onProgress: (line: string) => process.stderr.write(`${line}\n`) }) }),
    );
    r = run.value;
    interrupted = run.interrupted;
  } catch (e) {
    if (e instanceof NetlabError && e.code === "ERR_NETLAB_SIM_ARGS") throw new UsageError(BLK_SPEC.command, e.message);
    throw e;
  }
  if (o.report !== undefined) {
    const verdict = r.ok
      ? `All ${r.completed} operations completed; every read matched the model, and so does the image.`
      : `The run did not check out${r.error === undefined ? "" : `: ${r.error}`}.`;
    writeHtmlReport(
      o.report,
      summaryReportPage(
        "netlab sim blk",
        `netlab sim blk ${args.join(" ")}`.trim(),
        new Date().toISOString(),
        verdict,
        { ...r },
        r.image === undefined ? [] : [{ label: "disk image", path: r.image }],
      ),
    );
    if (!o.quiet) process.stderr.write(`report: ${o.report}\n`);
  }
  if (o.json) {
    process.stdout.write(`${JSON.stringify(withUnits(r, BLK_UNITS))}\n`);
  } else {
    const f = r.features;
    process.stdout.write(
      `sim blk: ${r.backend}${r.image === undefined ? "" : ` ${r.image}`} ${formatBinary(r.sizeBytes)}, ` +
        `${r.completed}/${r.ops} ops (${r.reads} read, ${r.writes} write, ${r.flushes} flush, ${r.discards} discard), ` +
        `${formatBinary(r.blockSize)} blocks, queue depth ${r.queueDepth}\n` +
        `  ${formatSi(r.iops, "IOPS")}, ${formatSi(r.mbPerSecond * 1e6, "B/s")} over ${r.wallSeconds.toFixed(3)} s wall ` +
        `(${r.cpuSeconds.toFixed(3)} s CPU: ${formatSi(r.iopsPerCpuSecond, "IOPS")} per CPU second); ` +
        `${r.virtualSeconds.toFixed(4)} s virtual (${formatSi(r.virtualIops, "IOPS")})\n` +
        `  ring ${1 << f.ringPageOrder} page(s), persistent grants ${f.persistent ? "on" : "off"}, indirect ${f.indirectSegments || "off"}, ` +
        `${r.frontend.requests} ring requests, ${r.frontend.grantsIssued} grants issued\n` +
        `  reads checked against the model: ${r.mismatches} mismatches, ${r.errors} errors; image ${r.imageMatches ? "matches" : "DIFFERS from"} the model\n` +
        `  ${r.ok ? "ok" : `${r.interrupted === undefined ? "FAILED" : "partial"}: ${r.error ?? "unknown"}`}\n`,
    );
  }
  if (interrupted !== undefined) return exitStatusOf(interrupted);
  return r.ok ? 0 : 1;
}

/** x rounded to `digits` decimal places. */
function roundTo(x: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}
