// A hand-driven netfront for hostile-peer tests: it performs the handshake like Linux, then
// lets the test write arbitrary bytes into the ring slots and indices and kick the backend.
import { unwrap } from "../../stack/result.ts";
import type { VirtualClock } from "../../stack/time.ts";
import { initSharedRing } from "../../xen-sim/ring/ring.ts";
import type { GuestDomain, Toolstack, DeviceInfo } from "../../xen-sim/toolstack/types.ts";
import { pumpUntil } from "../../xen-sim/toolstack/pump.ts";
import { XenbusState } from "../../xen-sim/xenbus/types.ts";
import { readState, switchState, writeKeys } from "../../xen-sim/xenbus/xenbus.ts";
import { settle } from "./helpers.ts";

export interface FakeFrontend {
  readonly txPage: Uint8Array;
  readonly rxPage: Uint8Array;
  readonly port: number;
  /** Grants one of the guest's pages to dom0 and returns its ref. */
  grantPage(fill?: number): number;
  /** Writes 12-byte tx slots from index `at`. */
  writeTxSlots(at: number, slots: readonly Uint8Array[]): void;
  /** Writes 8-byte rx slots from index `at`. */
  writeRxSlots(at: number, slots: readonly Uint8Array[]): void;
  setTxReqProd(v: number): void;
  setRxReqProd(v: number): void;
  txRspProd(): number;
  kick(): void;
  /** With { ctrl: true }: the control ring page and its event channel. */
  readonly ctrl?: { readonly page: Uint8Array; readonly port: number; kick(): void };
}

/** Options of connectFakeFrontend. */
export interface FakeFrontendOptions {
  /** Also set up a control ring (ctrl-ring-ref, event-channel-ctrl). */
  readonly ctrl?: boolean;
  /** Replace the ctrl keys with these raw values (tests of bad keys). */
  readonly ctrlKeys?: Record<string, string>;
}

export async function connectFakeFrontend(clock: VirtualClock, ts: Toolstack, g: GuestDomain, dev: DeviceInfo, options: FakeFrontendOptions = {}): Promise<FakeFrontend> {
  await pumpUntil(clock, () => ts.daemon.server.peek(`${dev.backendPath}/state`)?.[0] === 0x32);
  const alloc = () => {
    const f = unwrap(g.domain.memory.allocPage());
    return { frame: f, page: unwrap(g.domain.memory.page(f)) };
  };
  const tx = alloc();
  const rx = alloc();
  initSharedRing(tx.page);
  initSharedRing(rx.page);
  const txRef = unwrap(g.domain.grants.grantAccess(0, tx.frame));
  const rxRef = unwrap(g.domain.grants.grantAccess(0, rx.frame));
  const port = unwrap(g.domain.events.allocUnbound(0));
  let ctrl: FakeFrontend["ctrl"];
  let ctrlKeys: Record<string, string | number> = options.ctrlKeys ?? {};
  if (options.ctrl === true) {
    const c = alloc();
    initSharedRing(c.page);
    const ctrlPort = unwrap(g.domain.events.allocUnbound(0));
    ctrlKeys = { "ctrl-ring-ref": unwrap(g.domain.grants.grantAccess(0, c.frame)), "event-channel-ctrl": ctrlPort, ...ctrlKeys };
    ctrl = { page: c.page, port: ctrlPort, kick: () => { g.domain.events.send(ctrlPort); } };
  }
  unwrap(await settle(clock, writeKeys(g.xs, "device/vif/0", {
    "tx-ring-ref": txRef, "rx-ring-ref": rxRef, "event-channel": port, "request-rx-copy": 1, "feature-rx-notify": 1, "feature-sg": 1, "feature-gso-tcpv4": 1,
    ...ctrlKeys,
  })));
  unwrap(await settle(clock, switchState(g.xs, "device/vif/0", XenbusState.Connected)));
  let st = 0;
  await pumpUntil(clock, () => st === XenbusState.Connected, { maxIterations: 200 });
  st = await settle(clock, readState(g.xs, dev.backendPath));
  if (options.ctrlKeys === undefined) await pumpUntil(clock, () => ts.daemon.server.peek(`${dev.backendPath}/state`)?.[0] === 0x34);
  const u32 = (p: Uint8Array) => new Uint32Array(p.buffer, p.byteOffset, 4);
  return {
    txPage: tx.page,
    rxPage: rx.page,
    port,
    grantPage(fill = 0) {
      const b = alloc();
      b.page.fill(fill);
      return unwrap(g.domain.grants.grantAccess(0, b.frame));
    },
    writeTxSlots(at, slots) {
      slots.forEach((s, i) => tx.page.set(s.subarray(0, 12), 64 + (((at + i) & 255) * 12)));
    },
    writeRxSlots(at, slots) {
      slots.forEach((s, i) => rx.page.set(s.subarray(0, 8), 64 + (((at + i) & 255) * 8)));
    },
    setTxReqProd(v) { Atomics.store(u32(tx.page), 0, v >>> 0); },
    setRxReqProd(v) { Atomics.store(u32(rx.page), 0, v >>> 0); },
    txRspProd: () => Atomics.load(u32(tx.page), 2),
    kick() { g.domain.events.send(port); },
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
