// xen-transfer with each domU in its own worker thread (--threads): dom0 (xenstored, netback,
// the bridge) stays in the main thread on a VirtualClock that it pumps while waiting on dom0's
// upcall word with Atomics.waitAsync; each guest thread runs harness/xen/thread-domain.ts. The
// guests' pages, grant tables and shared_info pages are SharedArrayBuffers the threads share,
// ring indices are published with Atomics and events are set/taken on the shared_info bitmaps.
// The main thread mirrors each guest port's peer into a shared port directory (the part of the
// event-channel table the guest would ask Xen for).
//   runXenTransferThreads(options)   the same report as runXenTransfer, threads: true

import { createHash } from "node:crypto";
import { performance } from "node:perf_hooks";
import { createRng, createVirtualClock } from "../../stack/time.ts";
import { GRANT_ENTRIES_PER_PAGE } from "../../xen-sim/abi/grant-table.ts";
import { createBridge } from "../../xen-sim/net/bridge.ts";
import { createNetback } from "../../xen-sim/net/netback.ts";
import type { NetPeerError } from "../../xen-sim/net/types.ts";
import { settleByPumping } from "../../stack/settle.ts";
import { createToolstack } from "../../xen-sim/toolstack/toolstack.ts";
import type { ThreadGuestDomain } from "../../xen-sim/toolstack/types.ts";
import type { XenTransferReport } from "../sim/xen-transfer.ts";
import { SAMPLE_EVERY_MS, steadyGoodput, XEN_TRANSFER_SOCKET_BUFFER, XEN_TRANSFER_SOCKET_BUFFER_THREADS, type XenTransferSample } from "./transfer-measure.ts";
import { threadCpuMs } from "../time/thread-cpu.ts";
import { createPayloadFiller } from "./payload.ts";
import { CONTROL_RECEIVED_KIB, CONTROL_STOP, CONTROL_UP, CONTROL_WORDS, type ThreadDomainData, type ThreadDomainReport } from "./thread-domain.ts";
import { runInWorker } from "./worker-domain.ts";
import { NetlabError } from "../../stack/error.ts";
import { everyWallSecond } from "../cli/run-control.ts";

/** Atomics.waitAsync (ES2024; present in Node 20, missing from this project's lib setting). */
interface AtomicsWaitAsync {
  waitAsync(a: Int32Array, index: number, value: number, timeoutMs: number): { async: false; value: string } | { async: true; value: Promise<string> };
}

/** Pages handed to each guest thread (rings, 256 rx + 256 tx buffers, spare). */
const GUEST_POOL_PAGES = 640;
/** Grant refs reserved for each guest thread. */
const GUEST_REFS = 1024;
/** Unbound ports prepared for each guest (netfront may use two). */
const GUEST_PORTS = 4;
/** Data phase: longest synchronous sleep of dom0 between kicks, ms. */
const WAIT_MS = 1;
/** Data phase: the event loop gets a turn at least this often, ms. */
const YIELD_MS = 2;
/** Data phase: the guests' port directory is refreshed this often, ms (bindings change only on reconnection). */
const MIRROR_MS = 1;
/**
 * Longest payload pattern: a longer transfer cycles it (byte k of the stream is byte k mod the
 * pattern's length), so a transfer of gigabytes needs two patterns' worth of memory, not two
 * transfers' worth. The receiver checks every byte against the pattern at its offset.
 */
export const PAYLOAD_PATTERN_MAX = 256 * 1024 * 1024;

export interface XenTransferThreadsOptions {
  readonly bytes: number;
  readonly gso: boolean;
  readonly checksumOffload: boolean;
  readonly seed: number;
  readonly timeoutMs?: number;
  /** Flip one bit of the sender's pattern at this stream offset, modulo the pattern length, so every cycle carries it (proves the receiver's check). */
  readonly corruptAt?: number;
  /** Both domUs' TCP buffer size (default XEN_TRANSFER_SOCKET_BUFFER_THREADS with GSO, else XEN_TRANSFER_SOCKET_BUFFER). */
  readonly socketBufferBytes?: number;
  /** Leave the first N received bytes out of `steady` (default 0). */
  readonly omitBytes?: number;
  /** Payload pattern length (default min(bytes, PAYLOAD_PATTERN_MAX); tests use short ones). */
  readonly patternBytes?: number;
  /** Ends the run where it is: the guests stop and report (partial report, `interrupted`); a guest that does not within STOP_GRACE_MS is terminated. */
  readonly signal?: AbortSignal;
  /** Called with a progress line every `progressEveryMs` [1000] of wall time. */
  readonly onProgress?: (line: string) => void;
  readonly progressEveryMs?: number;
  /** When given, the receiver's byte count is appended here every SAMPLE_EVERY_MS of wall time (to 1 KiB). */
  readonly samples?: XenTransferSample[];
}

/** After a stop, a guest thread that has not reported within this long is terminated. */
const STOP_GRACE_MS = 5_000;

/** The single-thread report's fields, less what the threaded run cannot see, plus a marker and each thread's CPU time. */
export type XenTransferThreadsReport = Omit<XenTransferReport, "virtualSeconds" | "backendRestarts" | "intervals"> & {
  readonly threads: true;
  /** CPU ms of each thread over the transfer (dom0: from both guests up to the end); absent off Linux. cpuSeconds is their sum where present. */
  readonly threadCpuMs?: { readonly dom0: number; readonly sender: number; readonly receiver: number };
};

export async function runXenTransferThreads(o: XenTransferThreadsOptions): Promise<XenTransferThreadsReport> {
  const clock = createVirtualClock();
  const ts = createToolstack({ clock, rng: createRng(o.seed) });
  const bridge = createBridge({ clock });
  const netback = createNetback({ dom0: ts.dom0, xs: ts.xs, clock, bridges: (n) => (n === bridge.name ? bridge : undefined) });
  const peerErrors: NetPeerError[] = [];
  netback.onPeerError((e) => peerErrors.push(e));
  const settle = <T>(p: Promise<T>): Promise<T> => settleByPumping(clock, p, { what: "xen-transfer setup", code: "ERR_NETLAB_XEN_SETUP" });
  const control = new Int32Array(new SharedArrayBuffer(CONTROL_WORDS * 4));
  // The payload pattern, shared by both guests: the sender cycles it, the receiver compares with it.
  const patternBytes = Math.max(1, Math.min(o.bytes, o.patternBytes ?? PAYLOAD_PATTERN_MAX));
  const payload = new Uint8Array(new SharedArrayBuffer(patternBytes));
  const fill = createPayloadFiller(o.seed);
  for (let off = 0; off < patternBytes; off += 65536) fill(payload.subarray(off, Math.min(off + 65536, patternBytes)));
  const socketBufferBytes = o.socketBufferBytes ?? (o.gso ? XEN_TRANSFER_SOCKET_BUFFER_THREADS : XEN_TRANSFER_SOCKET_BUFFER);
  const omitBytes = o.omitBytes ?? 0;
  const guests: { g: ThreadGuestDomain; data: ThreadDomainData }[] = [];
  for (const [role, ip, peer] of [
    ["receiver", "192.0.2.2", "192.0.2.1"],
    ["sender", "192.0.2.1", "192.0.2.2"],
  ] as const) {
    const r = await settle(ts.createThreadDomain({ name: role }));
    if (!r.ok) throw new NetlabError("ERR_NETLAB_XEN_SETUP", `createThreadDomain: ${r.error}`);
    const g = r.value;
    const vif = await settle(ts.addVif(g.id, { mac: 0x00163e000000 + g.id }));
    if (!vif.ok) throw new NetlabError("ERR_NETLAB_XEN_SETUP", `addVif: ${vif.error}`);
    const mem = g.domain.memory;
    const pages: { frame: number; page: Uint8Array }[] = [];
    for (let i = 0; i < GUEST_POOL_PAGES; i++) {
      const f = mem.allocPage();
      if (!f.ok) break;
      const p = mem.page(f.value);
      if (p.ok) pages.push({ frame: f.value, page: p.value });
    }
    const table = g.domain.grants.tableFrames.map((f) => {
      const p = mem.page(f);
      if (!p.ok) throw new NetlabError("ERR_NETLAB_XEN_SETUP", "grant table page");
      return p.value;
    });
    // Reserve refs in the hypervisor's allocator, then leave their entries invalid for the guest to fill.
    const refs: number[] = [];
    for (let i = 0; i < GUEST_REFS; i++) {
      const ref = g.domain.grants.grantAccess(0, pages[0]!.frame);
      if (!ref.ok) break;
      const t = table[Math.floor(ref.value / GRANT_ENTRIES_PER_PAGE)]!;
      Atomics.store(new Uint16Array(t.buffer, t.byteOffset, 2048), (ref.value % GRANT_ENTRIES_PER_PAGE) * 4, 0);
      refs.push(ref.value);
    }
    const ports: number[] = [];
    for (let i = 0; i < GUEST_PORTS; i++) {
      const p = g.domain.events.allocUnbound(0);
      if (p.ok) ports.push(p.value);
    }
    const xsPage = mem.page(g.xenstore.frame);
    if (!xsPage.ok) throw new NetlabError("ERR_NETLAB_XEN_SETUP", "xenstore page");
    const data: ThreadDomainData = {
      role,
      domid: g.id,
      pages,
      xenstore: { ...g.xenstore, page: xsPage.value },
      grantTable: table,
      refs,
      ports,
      portDir: new Int32Array(new SharedArrayBuffer(4096 * 4)).fill(-1),
      sharedInfo: g.domain.events.sharedInfo,
      dom0SharedInfo: ts.dom0.events.sharedInfo,
      control,
      cidr: `${ip}/24`,
      peer,
      port: 5001,
      bytes: o.bytes,
      payload,
      socketBufferBytes,
      omitBytes,
      ...(role === "sender" && o.corruptAt !== undefined ? { corruptAt: o.corruptAt } : {}),
      gso: o.gso,
      checksumOffload: o.checksumOffload,
      seed: o.seed,
      timeoutMs: o.timeoutMs ?? 120_000,
    };
    guests.push({ g, data });
  }
  const mirror = (): void => {
    for (const { g, data } of guests) {
      for (const p of [...data.ports, data.xenstore.port]) {
        const st = g.domain.events.status(p);
        Atomics.store(data.portDir, p, st.state === "interdomain" ? st.remotePort : -1);
      }
    }
  };
  mirror();
  const dom0Word = new Int32Array(ts.dom0.events.sharedInfo.buffer, ts.dom0.events.sharedInfo.byteOffset, 1);
  const wall0 = performance.now();
  const cpu0 = process.cpuUsage();
  const results: (ThreadDomainReport | Error | undefined)[] = [undefined, undefined];
  // Ctrl-C: the guests see CONTROL_STOP and report what they have; `kill` ends any that do not.
  const kill = new AbortController();
  let interrupted: string | undefined;
  let killTimer: ReturnType<typeof setTimeout> | undefined;
  const stop = (): void => {
    if (interrupted !== undefined) return;
    interrupted = String(o.signal?.reason ?? "aborted");
    Atomics.store(control, CONTROL_STOP, 1);
    killTimer = setTimeout(() => kill.abort(), STOP_GRACE_MS);
  };
  if (o.signal?.aborted === true) stop();
  o.signal?.addEventListener("abort", stop, { once: true });
  guests.forEach(({ data }, i) => {
    runInWorker<ThreadDomainReport>(new URL(`./thread-domain.${import.meta.url.endsWith(".ts") ? "ts" : "js"}`, import.meta.url), data, {
      timeoutMs: (o.timeoutMs ?? 120_000) + 30_000,
      terminate: kill.signal,
    }).then(
      (r) => {
        results[i] = r;
      },
      (e: Error) => {
        results[i] = e;
      },
    );
  });
  // dom0's vcpu. While the guests set up (xenstore, handshakes: promise work on both sides) it
  // waits asynchronously; once both report their stacks up (control[1] === 2) the data path is
  // timers and events only, and it sleeps in a synchronous Atomics.wait on dom0's upcall_pending,
  // which a guest's kick ends at once, giving the event loop a turn every YIELD_MS (workers' messages).
  let spins = 0;
  let lastYield = performance.now();
  let lastMirror = -Infinity;
  let dom0CpuStart: number | undefined;
  const stopProgress = everyWallSecond(
    o.onProgress === undefined
      ? undefined
      : () => {
          const received = Atomics.load(control, CONTROL_RECEIVED_KIB) * 1024;
          const wallS = (performance.now() - wall0) / 1000;
          o.onProgress!(
            `xen-transfer --threads: ${(received / 1e6).toFixed(1)}/${(o.bytes / 1e6).toFixed(1)} MB (${((100 * received) / o.bytes).toFixed(1)}%), ` +
              `wall ${wallS.toFixed(1)} s, ${((received * 8) / Math.max(wallS, 1e-9) / 1e9).toFixed(3)} Gbit/s wall (start-up included)`,
          );
        },
    o.progressEveryMs,
  );
  const samples = o.samples;
  const stopSampling = everyWallSecond(
    samples === undefined
      ? undefined
      : () => samples.push({ wallSeconds: (performance.now() - wall0) / 1000, receivedBytes: Atomics.load(control, CONTROL_RECEIVED_KIB) * 1024 }),
    SAMPLE_EVERY_MS,
  );
  while (results.some((r) => r === undefined)) {
    const now = performance.now();
    const dataPhase = Atomics.load(control, CONTROL_UP) === 2;
    if (!dataPhase || now - lastMirror >= MIRROR_MS) {
      mirror();
      lastMirror = now;
    }
    if ((Atomics.load(dom0Word, 0) & 0xff) !== 0) ts.dom0.events.setUpcallMask(false);
    const fired = clock.run(clock.now(), 4096);
    if (dataPhase) {
      dom0CpuStart ??= threadCpuMs();
      if (fired === 0) {
        const v = Atomics.load(dom0Word, 0);
        if ((v & 0xff) === 0) Atomics.wait(dom0Word, 0, v, WAIT_MS);
      }
      await null;
      if (performance.now() - lastYield >= YIELD_MS) {
        await new Promise<void>((r) => setImmediate(r));
        lastYield = performance.now();
      }
    } else if (fired === 0) {
      const v = Atomics.load(dom0Word, 0);
      if ((v & 0xff) === 0) {
        const w = (Atomics as unknown as AtomicsWaitAsync).waitAsync(dom0Word, 0, v, 2);
        if (w.async) await w.value;
      }
      await new Promise<void>((r) => setImmediate(r));
    } else if (++spins % 16 === 0) await new Promise<void>((r) => setImmediate(r));
  }
  stopProgress();
  stopSampling();
  clearTimeout(killTimer);
  o.signal?.removeEventListener("abort", stop);
  const dom0CpuEnd = threadCpuMs();
  const wallSeconds = (performance.now() - wall0) / 1000;
  const [rx, tx] = results as [ThreadDomainReport | Error, ThreadDomainReport | Error];
  const errorOf = (r: ThreadDomainReport | Error): string | undefined => (r instanceof Error ? r.message : r.error);
  const verified = rx instanceof Error ? 0 : rx.verifiedBytes;
  const error =
    (interrupted === undefined ? undefined : `interrupted (${interrupted})`) ??
    errorOf(rx) ??
    errorOf(tx) ??
    (!(rx instanceof Error) && verified < rx.bytes ? `receiver: the bytes differ from the payload in the chunk after byte ${verified}` : undefined);
  const rxr = rx instanceof Error ? undefined : rx;
  const txr = tx instanceof Error ? undefined : tx;
  const received = rxr?.bytes ?? 0;
  const match = rxr !== undefined && txr !== undefined && received === o.bytes && rxr.verifiedBytes === o.bytes && txr.bytes === o.bytes;
  const seconds = (rxr?.transferMs ?? 0) / 1000;
  const steady = rxr === undefined || !match ? undefined : steadyGoodput(omitBytes, rxr.omitMark, received, rxr.transferMs);
  const threadCpu =
    dom0CpuStart === undefined || dom0CpuEnd === undefined || rxr?.transferCpuMs === undefined || txr?.transferCpuMs === undefined
      ? undefined
      : { dom0: dom0CpuEnd - dom0CpuStart, sender: txr.transferCpuMs, receiver: rxr.transferCpuMs };
  // CPU of the transfer: the three threads' own times where Linux has them (the process's time
  // also counts worker start-up, the payload and its hash), else the process's.
  const processCpu = process.cpuUsage(cpu0);
  const cpuSeconds = threadCpu !== undefined ? (threadCpu.dom0 + threadCpu.sender + threadCpu.receiver) / 1000 : (processCpu.user + processCpu.system) / 1e6;
  // The stream's sha256 (the pattern cycled), computed only for a complete run and after the
  // measurement; in steps that let a signal in (20 GB take a minute).
  let sha256 = "";
  if (match && error === undefined) {
    const hash = createHash("sha256");
    for (let off = 0; off < o.bytes && o.signal?.aborted !== true; off += patternBytes) {
      hash.update(payload.subarray(0, Math.min(patternBytes, o.bytes - off)));
      await new Promise((resolve) => setImmediate(resolve));
    }
    if (o.signal?.aborted !== true) sha256 = hash.digest("hex");
  }
  return {
    ok: match && error === undefined,
    family: "ipv4",
    bytes: o.bytes,
    received,
    sha256Match: match,
    sha256,
    wallGoodputBitsPerSecond: seconds > 0 ? Math.round((received * 8) / seconds) : 0,
    wallSeconds: Math.round(wallSeconds * 1000) / 1000,
    cpuSeconds: Math.round(cpuSeconds * 1000) / 1000,
    cpuGoodputBitsPerSecond: cpuSeconds > 0 ? Math.round((received * 8) / cpuSeconds) : 0,
    gso: o.gso,
    checksumOffload: o.checksumOffload,
    seed: o.seed,
    retransmits: txr?.retransmits ?? 0,
    peerErrors: peerErrors.length,
    frames: { tx: txr?.frames ?? 0, rx: rxr?.frames ?? 0 },
    notifications: { netfront: txr?.notifications ?? 0, netback: netback.vifs().reduce((n, v) => n + v.stats().notificationsSent, 0) },
    buffersReused: { tcpSegments: txr?.segmentBuffersReused ?? 0, netbackTx: netback.vifs().reduce((n, v) => n + v.stats().txBuffersReused, 0) },
    socketBufferBytes,
    ...(steady === undefined ? {} : { steady }),
    threads: true,
    ...(threadCpu === undefined ? {} : { threadCpuMs: threadCpu }),
    ...(interrupted === undefined ? {} : { interrupted }),
    ...(error === undefined ? {} : { error }),
  };
}
