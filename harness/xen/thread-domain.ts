// A domU run by a worker thread (xen-transfer --threads): its vcpu is this thread. The
// hypervisor objects stay in the main thread; what a guest does itself happens here on the
// shared pages: grant entries are written into its own grant table pages (refs reserved for it),
// pages come from a pool the toolstack allocated, events are raised with setPending2l/kickVcpu
// on dom0's shared_info (peer ports mirrored by the main thread into `portDir`) and taken with
// takeEvents2l after waitForUpcall. The netfront and the stack are the ordinary ones.
//   run(data)   connects xenstore, brings up netfront + stack, sends or receives, reports

import { performance } from "node:perf_hooks";
import { createStack } from "../../stack/index.ts";
import { err, ok } from "../../stack/result.ts";
import { createRng, createVirtualClock } from "../../stack/time.ts";
import { writeAll } from "../../stack/transport/write-all.ts";
import { parseIpv4 } from "../../stack/wire/address.ts";
import { GRANT_ENTRIES_PER_PAGE, GTF_permit_access, GTF_readonly, GTF_reading, GTF_writing } from "../../xen-sim/abi/grant-table.ts";
import { kickVcpu, setPending2l, sharedInfoView, takeEvents2l, waitForUpcall } from "../../xen-sim/event-channel/two-level.ts";
import type { Domain } from "../../xen-sim/hypervisor/types.ts";
import { createNetfront } from "../../xen-sim/net/netfront.ts";
import { connectGuestXenstore } from "../../xen-sim/xenstore/domain.ts";
import { threadCpuMs } from "../time/thread-cpu.ts";

/** What the main thread hands a guest thread. */
export interface ThreadDomainData {
  readonly role: "sender" | "receiver";
  readonly domid: number;
  readonly pages: readonly { readonly frame: number; readonly page: Uint8Array }[];
  readonly xenstore: { readonly frame: number; readonly port: number; readonly page: Uint8Array };
  readonly grantTable: readonly Uint8Array[];
  readonly refs: readonly number[];
  readonly ports: readonly number[];
  /** peer (dom0) port of each of our ports, -1 when unbound; written by the main thread. */
  readonly portDir: Int32Array;
  readonly sharedInfo: Uint8Array;
  readonly dom0SharedInfo: Uint8Array;
  /**
   * [CONTROL_DONE]: set to 1 by the receiver when the transfer is complete; [CONTROL_UP]: guests whose
   * stack is up; [CONTROL_STOP]: set to 1 by dom0 to end the run where it is (Ctrl-C);
   * [CONTROL_RECEIVED_KIB]: the receiver's byte count / 1024 (dom0's progress line).
   */
  readonly control: Int32Array;
  readonly cidr: string;
  readonly peer: string;
  readonly port: number;
  readonly bytes: number;
  /** The payload pattern (a SharedArrayBuffer the main thread filled): the sender cycles it up to `bytes`, the receiver compares every byte with it at its offset modulo its length. */
  readonly payload: Uint8Array;
  /** TCP send and receive buffer size of this guest's stack. */
  readonly socketBufferBytes: number;
  /** Receiver: mark the time once this many bytes have arrived (0: no mark). */
  readonly omitBytes: number;
  /** Sender: flip one bit of its copy of the pattern at this stream offset modulo its length (a test of the receiver's check). */
  readonly corruptAt?: number;
  readonly gso: boolean;
  readonly checksumOffload: boolean;
  readonly seed: number;
  readonly timeoutMs: number;
}

/** Indices into ThreadDomainData.control (an Int32Array over a SharedArrayBuffer of CONTROL_WORDS words). */
export const CONTROL_DONE = 0,
  CONTROL_UP = 1,
  CONTROL_STOP = 2,
  CONTROL_RECEIVED_KIB = 3,
  CONTROL_WORDS = 4;

/** What a guest thread reports. */
export interface ThreadDomainReport {
  readonly role: "sender" | "receiver";
  readonly ok: boolean;
  readonly bytes: number;
  /** Receiver: bytes that arrived equal to the payload at their offset (all of them, or up to the first difference). */
  readonly verifiedBytes: number;
  /** Receiver: ms from the accepted connection to the end of the stream. */
  readonly transferMs: number;
  /** Receiver: bytes received and ms since the accepted connection when omitBytes was first reached. */
  readonly omitMark?: { readonly bytes: number; readonly at: number };
  /** This thread's CPU ms over the transfer (receiver: accepted to end of stream; sender: connect to done); undefined off Linux. */
  readonly transferCpuMs: number | undefined;
  readonly frames: number;
  readonly notifications: number;
  readonly retransmits: number;
  /** TCP segments sent from recycled buffers. */
  readonly segmentBuffersReused: number;
  readonly error?: string;
}

/** The hypercall surface netfront and the xenstore client use, done by this thread on shared memory. */
function guestShim(d: ThreadDomainData, handlers: Map<number, (port: number) => void>): Domain {
  const pages = new Map<number, Uint8Array>();
  const free: number[] = [];
  for (const p of d.pages) {
    pages.set(p.frame, p.page);
    free.push(p.frame);
  }
  pages.set(d.xenstore.frame, d.xenstore.page);
  const u16 = d.grantTable.map((p) => new Uint16Array(p.buffer, p.byteOffset, 2048));
  const u32 = d.grantTable.map((p) => new Uint32Array(p.buffer, p.byteOffset, 1024));
  const refs = [...d.refs];
  const ports = [...d.ports];
  const dom0 = sharedInfoView(d.dom0SharedInfo);
  const loc = (ref: number) => ({ t: Math.floor(ref / GRANT_ENTRIES_PER_PAGE), e: ref % GRANT_ENTRIES_PER_PAGE });
  const shim = {
    id: d.domid,
    privileged: false,
    memory: {
      domid: d.domid,
      allocPage: () => {
        const f = free.pop();
        return f === undefined ? err("out-of-memory" as const) : ok(f);
      },
      freePage: (f: number) => {
        if (pages.has(f)) free.push(f);
        return ok(undefined);
      },
      page: (f: number) => {
        const p = pages.get(f);
        return p === undefined ? err("bad-frame" as const) : ok(p);
      },
      get pageCount() {
        return pages.size - free.length;
      },
      maxPages: pages.size,
    },
    grants: {
      grantAccess(grantee: number, frame: number, readonly = false) {
        const ref = refs.pop();
        if (ref === undefined) return err("no-free-refs" as const);
        const { t, e } = loc(ref);
        u16[t]![e * 4 + 1] = grantee;
        u32[t]![e * 2 + 1] = frame >>> 0;
        // Write barrier: domid and frame are visible before the flags make the entry valid.
        Atomics.store(u16[t]!, e * 4, GTF_permit_access | (readonly ? GTF_readonly : 0));
        return ok(ref);
      },
      endAccess(ref: number) {
        const { t, e } = loc(ref);
        const a = u16[t]!;
        const flags = Atomics.load(a, e * 4);
        if (flags & (GTF_reading | GTF_writing)) return err("busy" as const);
        if (Atomics.compareExchange(a, e * 4, flags, 0) !== flags) return err("busy" as const);
        refs.push(ref);
        return ok(undefined);
      },
    },
    events: {
      allocUnbound: () => {
        const p = ports.pop();
        return p === undefined ? err("ENOSPC" as const) : ok(p);
      },
      send(port: number) {
        const peer = Atomics.load(d.portDir, port);
        if (peer >= 0 && setPending2l(dom0, peer)) kickVcpu(dom0);
        return ok(undefined);
      },
      close: (port: number) => {
        handlers.delete(port);
        return ok(undefined);
      },
      onEvent(port: number, h: ((p: number) => void) | undefined) {
        if (h === undefined) handlers.delete(port);
        else handlers.set(port, h);
      },
    },
  };
  return shim as unknown as Domain;
}

/** Data phase: the event loop gets a turn at least this often, ms. */
const YIELD_MS = 2;
export async function run(d: ThreadDomainData): Promise<ThreadDomainReport> {
  const handlers = new Map<number, (port: number) => void>();
  const domain = guestShim(d, handlers);
  const si = sharedInfoView(d.sharedInfo);
  const clock = createVirtualClock();
  const t0 = performance.now();
  const tick = (): number => clock.run(performance.now() - t0, 4096);
  const yieldHost = () => new Promise<void>((r) => setImmediate(r));
  let stop = false;
  /** Set once the stack is up: from then on timers and events drive everything (no promise work). */
  let dataPhase = false;
  const onPort = (p: number): void => handlers.get(p)?.(p);
  /**
   * The vcpu loop: timers, event upcalls, promise continuations; sleeps in waitForUpcall when
   * idle. During setup (xenstore, the handshake: promise chains) an idle vcpu lets the event loop
   * drain first; in the data phase only microtasks run between turns, the event loop gets a
   * turn every YIELD_MS.
   */
  const loop = async (until: () => boolean): Promise<boolean> => {
    const deadline = performance.now() + d.timeoutMs;
    let lastYield = performance.now();
    while (!until() && !stop) {
      if (Atomics.load(d.control, CONTROL_STOP) !== 0) return false;
      const fired = tick();
      const seen = takeEvents2l(si, onPort);
      const now = performance.now();
      if (now > deadline) return false;
      if (!dataPhase && fired === 0 && seen === 0) await yieldHost();
      else if (now - lastYield >= YIELD_MS) {
        await yieldHost();
        lastYield = performance.now();
      } else await null;
      if (fired !== 0 || seen !== 0 || until() || tick() !== 0 || Atomics.load(d.control, CONTROL_DONE) !== 0) continue;
      const next = clock.nextDeadline();
      const wait = next === undefined ? 2 : Math.max(0, Math.min(2, next - (performance.now() - t0)));
      waitForUpcall(si, wait);
    }
    return until();
  };

  const conn = connectGuestXenstore(domain, { frame: d.xenstore.frame, port: d.xenstore.port });
  if (!conn.ok) throw new Error(`xenstore: ${conn.error}`);
  const xs = conn.value.client;
  let nfResult: Awaited<ReturnType<typeof createNetfront>> | undefined;
  void createNetfront({ domain, xs, clock }, { gso: d.gso, checksumOffload: d.checksumOffload }).then((r) => {
    nfResult = r;
  });
  const stopped = (): boolean => Atomics.load(d.control, CONTROL_STOP) !== 0;
  if (!(await loop(() => nfResult !== undefined)) || nfResult === undefined || !nfResult.ok)
    throw new Error(stopped() ? "interrupted during setup" : `netfront: ${nfResult && !nfResult.ok ? nfResult.error : "timeout"}`);
  const nf = nfResult.value;
  if (!(await loop(() => nf.connected))) throw new Error(stopped() ? "interrupted during setup" : "netfront did not connect");
  const stack = createStack(
    { device: nf, clock, rng: createRng(d.seed + d.domid) },
    { name: `domU-${d.domid}`, ipv4: { cidr: d.cidr }, tcp: { receiveBufferSize: d.socketBufferBytes, sendBufferSize: d.socketBufferBytes } },
  );
  // Tell dom0 this guest is up: its data path needs no more promise work.
  dataPhase = true;
  Atomics.add(d.control, CONTROL_UP, 1);
  let bytes = 0;
  let verifiedBytes = 0;
  let done = false;
  let error: string | undefined;
  let transferMs = 0;
  let cpuStart: number | undefined;
  let cpuEnd: number | undefined;
  let omitMark: { bytes: number; at: number } | undefined;
  if (d.role === "receiver") {
    const pattern = d.payload;
    /** True when `chunk` equals the pattern cycled from stream offset `at`. */
    const matches = (chunk: Uint8Array, at: number): boolean => {
      let i = 0;
      while (i < chunk.length) {
        const off = (at + i) % pattern.length;
        const n = Math.min(chunk.length - i, pattern.length - off);
        if (Buffer.compare(chunk.subarray(i, i + n), pattern.subarray(off, off + n)) !== 0) return false;
        i += n;
      }
      return true;
    };
    const l = stack.tcp.listen(d.port);
    if (!l.ok) throw new Error(`listen: ${l.error}`);
    let start = 0;
    l.value.onConnection((s) => {
      start = performance.now();
      cpuStart = threadCpuMs();
      s.onData((chunk) => {
        // memcmp against the payload: a check at memory speed, so the measurement is of the path, not of a hash.
        if (verifiedBytes === bytes && bytes + chunk.length <= d.bytes && matches(chunk, bytes)) verifiedBytes += chunk.length;
        bytes += chunk.length;
        Atomics.store(d.control, CONTROL_RECEIVED_KIB, Math.floor(bytes / 1024));
        if (omitMark === undefined && d.omitBytes > 0 && bytes >= d.omitBytes) omitMark = { bytes, at: performance.now() - start };
      });
      s.onEnd(() => {
        transferMs = performance.now() - start;
        cpuEnd = threadCpuMs();
        done = true;
        Atomics.store(d.control, CONTROL_DONE, 1);
        s.end();
      });
      s.onClose((e) => {
        if (e !== undefined) error = e;
      });
    });
    await loop(() => done || error !== undefined);
    if (!done && error === undefined && stopped()) {
      error = "interrupted";
      if (start > 0) transferMs = performance.now() - start;
    }
    // Let the FIN exchange finish so the sender sees its close.
    const until = performance.now() + 20;
    await loop(() => performance.now() > until);
  } else {
    // A private copy of the pattern: TCP copies from it into segments at any alignment, which
    // V8 does at memcpy speed in unshared memory only.
    const payload = new Uint8Array(d.payload.length);
    payload.set(d.payload);
    // The pattern repeats, so the flipped bit does too: the receiver reports the first.
    if (d.corruptAt !== undefined && d.corruptAt >= 0 && d.corruptAt < d.bytes) payload[d.corruptAt % payload.length]! ^= 1;
    // Give the receiver time to listen.
    const until = performance.now() + 50;
    await loop(() => performance.now() > until);
    const peer = parseIpv4(d.peer);
    const c = stack.tcp.connect(peer.ok ? peer.value : 0, d.port);
    if (!c.ok) throw new Error(`connect: ${c.error}`);
    const s = c.value;
    cpuStart = threadCpuMs();
    const queued = writeAll(s, d.bytes, payload, { sliceBytes: 65536 });
    s.onClose((e) => {
      if (e !== undefined) error = e;
      done = true;
    });
    s.onEnd(() => {
      done = true;
    });
    await loop(() => done || Atomics.load(d.control, CONTROL_DONE) === 1 || error !== undefined);
    if (!done && error === undefined && Atomics.load(d.control, CONTROL_DONE) !== 1 && stopped()) error = "interrupted";
    cpuEnd = threadCpuMs();
    bytes = queued();
    const grace = performance.now() + 20;
    await loop(() => performance.now() > grace);
  }
  stop = true;
  const st = nf.stats();
  return {
    role: d.role,
    ok: error === undefined && (d.role === "sender" || done),
    bytes,
    verifiedBytes,
    transferMs,
    ...(omitMark === undefined ? {} : { omitMark }),
    transferCpuMs: cpuStart === undefined || cpuEnd === undefined ? undefined : cpuEnd - cpuStart,
    frames: d.role === "sender" ? st.txFrames : st.rxFrames,
    notifications: st.notificationsSent,
    retransmits: stack.tcp.stats.retransmits,
    segmentBuffersReused: stack.tcp.stats.segmentBuffersReused,
    ...(error === undefined ? {} : { error }),
  };
}
