// A hand-driven netfront for hostile-peer tests and fuzz targets (no test framework): it performs
// the handshake like Linux, then lets the caller write arbitrary bytes into the ring slots and
// indices and kick the backend; reconnect() goes through Initialising again over the same pages,
// grants and ports (a fresh connection without a new device); resetRings() only re-initialises
// the ring pages (for a backend told by other means, e.g. NetbackVif.reattachRings()).
//   connectFakeFrontend(clock, ts, g, dev, options)   the connected frontend
//   txRequest(gref, offset, flags, id, size)          a 12-byte tx request
import { unwrap } from "../../stack/result.ts";
import type { VirtualClock } from "../../stack/time.ts";
import { initSharedRing } from "../../xen-sim/ring/ring.ts";
import type { GuestDomain, Toolstack, DeviceInfo } from "../../xen-sim/toolstack/types.ts";
import { pumpUntil, settleByPumping } from "../../stack/settle.ts";
import { XenbusState } from "../../xen-sim/xenbus/types.ts";
import { readState, switchState, writeKeys } from "../../xen-sim/xenbus/xenbus.ts";

/** One queue's rings and event channel (queue 0's are also the FakeFrontend's own fields). */
export interface FakeQueue {
  readonly txPage: Uint8Array;
  readonly rxPage: Uint8Array;
  readonly port: number;
  writeTxSlots(at: number, slots: readonly Uint8Array[]): void;
  writeRxSlots(at: number, slots: readonly Uint8Array[]): void;
  setTxReqProd(v: number): void;
  setRxReqProd(v: number): void;
  txRspProd(): number;
  rxRspProd(): number;
  kick(): void;
}

/** Queue 0's rings and methods, plus every queue, page grants and the control ring. */
export interface FakeFrontend extends Omit<FakeQueue, "rxRspProd"> {
  /** Every queue (one unless options.queues asked for more). */
  readonly queues: readonly FakeQueue[];
  /** Grants one of the guest's pages to dom0 and returns its ref. */
  grantPage(fill?: number): number;
  /** With { ctrl: true }: the control ring page and its event channel. */
  readonly ctrl?: { readonly page: Uint8Array; readonly port: number; kick(): void };
  /** Every ref this frontend granted (rings, ctrl ring, grantPage pages). */
  readonly grantRefs: readonly number[];
  /**
   * Goes to Initialising, waits for the backend's InitWait, re-initialises every ring page (same
   * pages, grants, ports and keys), goes to Connected and waits for the backend's Connected.
   * False when the backend did not connect again.
   */
  reconnect(): Promise<boolean>;
  /** Zeroes every ring page and re-initialises its shared indices (no xenstore: the backend is not told). */
  resetRings(): void;
}

/** Options of connectFakeFrontend. */
export interface FakeFrontendOptions {
  /** Also set up a control ring (ctrl-ring-ref, event-channel-ctrl). */
  readonly ctrl?: boolean;
  /** Replace the ctrl keys with these raw values (tests of bad keys). */
  readonly ctrlKeys?: Record<string, string>;
  /** Queues to connect: more than one writes multi-queue-num-queues and per-queue keys under queue-N/. */
  readonly queues?: number;
  /** Write this multi-queue-num-queues instead (tests of a bad count); the backend is not waited for. */
  readonly numQueuesKey?: string;
}

const settle = <T>(clock: VirtualClock, p: Promise<T>): Promise<T> => settleByPumping(clock, p, { what: "fake frontend: a xenstore operation" });

export async function connectFakeFrontend(
  clock: VirtualClock,
  ts: Toolstack,
  g: GuestDomain,
  dev: DeviceInfo,
  options: FakeFrontendOptions = {},
): Promise<FakeFrontend> {
  await pumpUntil(clock, () => ts.daemon.server.peek(`${dev.backendPath}/state`)?.[0] === 0x32);
  const alloc = () => {
    const f = unwrap(g.domain.memory.allocPage());
    return { frame: f, page: unwrap(g.domain.memory.page(f)) };
  };
  const u32 = (p: Uint8Array) => new Uint32Array(p.buffer, p.byteOffset, 4);
  const fe = dev.frontendPath;
  const rings: Uint8Array[] = [];
  const grantRefs: number[] = [];
  const grant = (frame: number): number => {
    const ref = unwrap(g.domain.grants.grantAccess(0, frame));
    grantRefs.push(ref);
    return ref;
  };
  const backendState = (): number | undefined => ts.daemon.server.peek(`${dev.backendPath}/state`)?.[0];
  const n = options.queues ?? 1;
  const queues: FakeQueue[] = [];
  const queueKeys: Record<string, string | number> = {};
  for (let q = 0; q < n; q++) {
    const tx = alloc();
    const rx = alloc();
    initSharedRing(tx.page);
    initSharedRing(rx.page);
    rings.push(tx.page, rx.page);
    const txRef = grant(tx.frame);
    const rxRef = grant(rx.frame);
    const qport = unwrap(g.domain.events.allocUnbound(0));
    const prefix = n === 1 ? "" : `queue-${q}/`;
    queueKeys[`${prefix}tx-ring-ref`] = txRef;
    queueKeys[`${prefix}rx-ring-ref`] = rxRef;
    queueKeys[`${prefix}event-channel`] = qport;
    queues.push({
      txPage: tx.page,
      rxPage: rx.page,
      port: qport,
      writeTxSlots(at, slots) {
        slots.forEach((sl, i) => tx.page.set(sl.subarray(0, 12), 64 + ((at + i) & 255) * 12));
      },
      writeRxSlots(at, slots) {
        slots.forEach((sl, i) => rx.page.set(sl.subarray(0, 8), 64 + ((at + i) & 255) * 8));
      },
      setTxReqProd(v) {
        Atomics.store(u32(tx.page), 0, v >>> 0);
      },
      setRxReqProd(v) {
        Atomics.store(u32(rx.page), 0, v >>> 0);
      },
      txRspProd: () => Atomics.load(u32(tx.page), 2),
      rxRspProd: () => Atomics.load(u32(rx.page), 2),
      kick() {
        g.domain.events.send(qport);
      },
    });
  }
  if (n > 1 || options.numQueuesKey !== undefined) queueKeys["multi-queue-num-queues"] = options.numQueuesKey ?? n;
  const q0 = queues[0]!;
  let ctrl: FakeFrontend["ctrl"];
  let ctrlKeys: Record<string, string | number> = options.ctrlKeys ?? {};
  if (options.ctrl === true) {
    const c = alloc();
    initSharedRing(c.page);
    rings.push(c.page);
    const ctrlPort = unwrap(g.domain.events.allocUnbound(0));
    ctrlKeys = { "ctrl-ring-ref": grant(c.frame), "event-channel-ctrl": ctrlPort, ...ctrlKeys };
    ctrl = {
      page: c.page,
      port: ctrlPort,
      kick: () => {
        g.domain.events.send(ctrlPort);
      },
    };
  }
  unwrap(
    await settle(
      clock,
      writeKeys(g.xs, fe, {
        ...queueKeys,
        "request-rx-copy": 1,
        "feature-rx-notify": 1,
        "feature-sg": 1,
        "feature-gso-tcpv4": 1,
        ...ctrlKeys,
      }),
    ),
  );
  unwrap(await settle(clock, switchState(g.xs, fe, XenbusState.Connected)));
  let st = 0;
  await pumpUntil(clock, () => st === XenbusState.Connected, { maxIterations: 200 });
  st = await settle(clock, readState(g.xs, dev.backendPath));
  if (options.ctrlKeys === undefined && options.numQueuesKey === undefined)
    await pumpUntil(clock, () => ts.daemon.server.peek(`${dev.backendPath}/state`)?.[0] === 0x34);
  const resetRings = (): void => {
    for (const p of rings) {
      p.fill(0);
      initSharedRing(p);
    }
  };
  return {
    queues,
    txPage: q0.txPage,
    rxPage: q0.rxPage,
    port: q0.port,
    grantPage(fill = 0) {
      const b = alloc();
      b.page.fill(fill);
      return grant(b.frame);
    },
    grantRefs,
    async reconnect() {
      unwrap(await settle(clock, switchState(g.xs, fe, XenbusState.Initialising)));
      await pumpUntil(clock, () => backendState() === 0x30 + XenbusState.InitWait, { maxIterations: 2000 });
      if (backendState() !== 0x30 + XenbusState.InitWait) return false;
      resetRings();
      unwrap(await settle(clock, switchState(g.xs, fe, XenbusState.Connected)));
      await pumpUntil(clock, () => backendState() === 0x30 + XenbusState.Connected, { maxIterations: 2000 });
      return backendState() === 0x30 + XenbusState.Connected;
    },
    resetRings,
    writeTxSlots: q0.writeTxSlots,
    writeRxSlots: q0.writeRxSlots,
    setTxReqProd: q0.setTxReqProd,
    setRxReqProd: q0.setRxReqProd,
    txRspProd: q0.txRspProd,
    kick: q0.kick,
    ...(ctrl === undefined ? {} : { ctrl }),
  };
}

/** A 12-byte tx request. */
export function txRequest(gref: number, offset: number, flags: number, id: number, size: number): Uint8Array {
  const b = new Uint8Array(12);
  const v = new DataView(b.buffer);
  v.setUint32(0, gref, true);
  v.setUint16(4, offset, true);
  v.setUint16(6, flags, true);
  v.setUint16(8, id, true);
  v.setUint16(10, size, true);
  return b;
}
