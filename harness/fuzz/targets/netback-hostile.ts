// Fuzz target: dom0's netback fed hostile ring contents by a connected frontend. The input
// fills tx slots (12 bytes each) and rx slots (8 bytes each) and picks the producer indices
// (near the real ones, or anywhere); with mode bit 0x10 the frontend also sets up a control
// ring and the input fills its request slots (16 bytes each) and producer; with 0x80 the vif
// has two queues and the slots go to queue 1. The frontend kicks
// and time runs. Oracles: no exception; dom0 never disconnects a frontend silently (every
// disconnect comes with a reported peer error); after a fatal error dom0 holds no mapping of
// the guest's pages; on a connected control ring every published request is answered.
// Oracle for a hostile tx producer: a tx req_prod more than a ring's worth past the (fresh) ring's
// start must be reported as a fatal peer error, and the vif disconnected.
// Speed: the hypervisor, dom0's netback and one guest per vif shape (control ring or not, one
// or two queues), each with its vif connected, are built once per process on the first input.
// Each input then gets a fresh connection. After an input that left the vif Connected, the fake
// frontend zeroes and re-initialises its ring pages and netback re-attaches its rings there
// (NetbackVif.reattachRings: fresh private positions, no queued frames, no hash settings), with
// no xenstore traffic; after a disconnect the fake frontend goes through Initialising and
// Connected again over the same pages, grants and ports. The two data pages are refilled. Ring
// work runs on the virtual clock synchronously; only an input that made netback disconnect
// (xenstore writes follow) pumps promises too. So an input's result never depends on earlier
// inputs (checked by netback-hostile.test.ts). Dom0 keeps the other shapes' rings mapped, so
// "no mapping of the guest's pages" reads: dom0 maps exactly what it mapped before the input
// minus this vif's rings.
import { unwrap } from "../../../stack/result.ts";
import { createRng, createVirtualClock, type VirtualClock } from "../../../stack/time.ts";
import { createToolstack } from "../../../xen-sim/toolstack/index.ts";
import type { GuestDomain, Toolstack } from "../../../xen-sim/toolstack/types.ts";
import { pumpUntil, settleByPumping } from "../../../stack/settle.ts";
import { createBridge } from "../../../xen-sim/net/bridge.ts";
import { ringSize } from "../../../xen-sim/abi/ring.ts";
import { NETIF_TX_SLOT_SIZE } from "../../../xen-sim/abi/netif.ts";
import { createNetback } from "../../../xen-sim/net/netback.ts";
import type { Netback, NetbackVif, NetPeerError } from "../../../xen-sim/net/types.ts";
import { XenbusState } from "../../../xen-sim/xenbus/types.ts";
import { connectFakeFrontend, txRequest, type FakeFrontend } from "../../xen/fake-frontend.ts";

/**
 * The code under attack, the only code Jazzer.js instruments for this target (runner.ts
 * bundleTarget): the hypervisor, xenstore and toolstack around it run uninstrumented.
 */
export const instrumentOnly = [
  "xen-sim/net/netback.ts",
  "xen-sim/net/netif-ctrl.ts",
  "xen-sim/net/frame-pool.ts",
  "xen-sim/net/gso.ts",
  "xen-sim/ring/",
  "xen-sim/abi/",
  "xen-sim/xenbus/",
];

/** One guest with one connected vif of a given shape. */
interface Shape {
  readonly guest: GuestDomain;
  readonly ff: FakeFrontend;
  readonly vif: NetbackVif;
  /** The two granted data pages (refilled before every input) and their refs. */
  readonly pages: readonly Uint8Array[];
  readonly refs: readonly number[];
  /** Dom0's mappings of this vif while connected (two rings per queue, the control ring). */
  readonly mappings: number;
  /** An input ran on the connection since it was made. */
  used: boolean;
}

interface World {
  readonly clock: VirtualClock;
  readonly ts: Toolstack;
  readonly nb: Netback;
  readonly errors: NetPeerError[];
  /** By shape: bit 0 control ring, bit 1 two queues. */
  readonly shapes: readonly Shape[];
}

/** Slots of the tx ring (one page). */
const RING_SIZE_NET_TX = ringSize(4096, NETIF_TX_SLOT_SIZE);

let world: Promise<World> | undefined;
/** Whether outcomes are recorded (tests only: the page dumps cost more than an input). */
let recording = false;

/** Drops the world: the next input builds a new one (tests compare against a fresh process); turns outcome recording on. */
export function resetForTest(): void {
  world = undefined;
  recording = true;
}

let outcome = "";
/** What the last input observably did: peer errors, vif state, every response slot dom0 wrote (after resetForTest). */
export function lastOutcomeForTest(): string {
  return outcome;
}

/** Fires the clock's timers up to `until` synchronously (at most `cap`); time stops at the last timer, as pumpUntil leaves it. */
function runClock(clock: VirtualClock, until: number, cap: number): void {
  let fired = 0;
  for (let next = clock.nextDeadline(); next !== undefined && next <= until && fired < cap; next = clock.nextDeadline()) {
    fired += clock.run(next, cap - fired);
  }
}

const settled = <T>(clock: VirtualClock, p: Promise<T>): Promise<T> => settleByPumping(clock, p, { what: "netback-hostile: a setup step" });

async function buildWorld(): Promise<World> {
  const clock = createVirtualClock();
  const ts = createToolstack({ clock, rng: createRng(1) }, {});
  const errors: NetPeerError[] = [];
  const nb = createNetback({ dom0: ts.dom0, xs: ts.xs, clock, bridges: (n) => createBridge({ clock }, { name: n }) }, { maxQueues: 2 });
  nb.onPeerError((e) => errors.push(e));
  const shapes: Shape[] = [];
  // Every shape is built, in a fixed order, before the first input: refs, ports and frames never depend on the inputs.
  for (let k = 0; k < 4; k++) {
    const guest = unwrap(await settled(clock, ts.createDomain({ name: `hostile-${k}` })));
    const dev = unwrap(await settled(clock, ts.addVif(guest.id, { mac: 0x00163e0000ee, bridge: `xenbr${k}` })));
    const ctrl = (k & 1) !== 0,
      queues = k & 2 ? 2 : 1;
    const ff = await connectFakeFrontend(clock, ts, guest, dev, { ctrl, queues });
    const vif = nb.vif(guest.id, dev.devid);
    if (vif === undefined || !vif.connected) throw new Error("netback did not connect a well-behaved frontend");
    const pages: Uint8Array[] = [],
      refs: number[] = [];
    for (let i = 0; i < 2; i++) {
      const frame = unwrap(guest.domain.memory.allocPage());
      pages.push(unwrap(guest.domain.memory.page(frame)));
      refs.push(unwrap(guest.domain.grants.grantAccess(0, frame)));
    }
    shapes.push({ guest, ff, vif, pages, refs, mappings: 2 * queues + (ctrl ? 1 : 0), used: false });
  }
  return { clock, ts, nb, errors, shapes };
}

export async function fuzz(data: Buffer): Promise<void> {
  outcome = "";
  if (data.length < 4) return;
  const w = await (world ??= buildWorld());
  const { clock, ts, errors } = w;
  const withCtrl = ((data[2] ?? 0) & 0x10) !== 0;
  const twoQueues = ((data[2] ?? 0) & 0x80) !== 0;
  const shape = w.shapes[(withCtrl ? 1 : 0) | (twoQueues ? 2 : 0)]!;
  // A fresh connection: rings re-initialised on both sides; after a disconnect, the backend
  // through InitWait and Connected again.
  if (shape.used) {
    if (shape.vif.connected && shape.vif.state === XenbusState.Connected && clock.nextDeadline() === undefined) {
      shape.ff.resetRings();
      if (!shape.vif.reattachRings()) throw new Error("netback did not re-attach the rings of a connected vif");
    } else if (!(await shape.ff.reconnect())) throw new Error("netback did not reconnect a well-behaved frontend");
  }
  shape.used = true;
  const { ff: ff0, vif } = shape;
  if (!vif.connected) throw new Error("netback did not connect a well-behaved frontend");
  shape.pages[0]!.fill(0x11);
  shape.pages[1]!.fill(0x22);
  errors.length = 0;
  const mappedBefore = ts.dom0.grants.mappingCount;
  // With two queues, the hostile slots go to queue 1.
  const ff = twoQueues ? { ...ff0, ...ff0.queues[1]!, ctrl: ff0.ctrl } : ff0;

  const refs = shape.refs;
  const nTx = data[0]! % 24,
    nRx = data[1]! % 16,
    mode = data[2]!;
  let at = 3;
  const tx: Uint8Array[] = [];
  for (let i = 0; i < nTx && at + 12 <= data.length; i++, at += 12) {
    const s = data.slice(at, at + 12);
    // Half the time, point the slot at a granted page so validation reaches past the gref check.
    if (mode & 1) new DataView(s.buffer, s.byteOffset).setUint32(0, refs[i & 1]!, true);
    tx.push(s);
  }
  if (tx.length === 0 && mode & 2) tx.push(txRequest(refs[0]!, 0, 0, 0, 60));
  const rx: Uint8Array[] = [];
  for (let i = 0; i < nRx && at + 8 <= data.length; i++, at += 8) rx.push(data.slice(at, at + 8));
  ff.writeTxSlots(0, tx);
  ff.writeRxSlots(0, rx);
  const prodDelta = ((data[at] ?? 0) << 24) >> 24;
  const txProd = mode & 4 ? (tx.length + prodDelta) >>> 0 : tx.length;
  ff.setTxReqProd(txProd);
  ff.setRxReqProd(mode & 8 ? (rx.length + (((data[at + 1] ?? 0) << 24) >> 24)) >>> 0 : rx.length);
  let ctrlProd = 0;
  if (ff.ctrl !== undefined) {
    const nCtrl = (data[at + 2] ?? 0) % 12;
    at += 3;
    const slots = new Uint8Array(ff.ctrl.page.buffer, ff.ctrl.page.byteOffset, 4096);
    for (let i = 0; i < nCtrl && at + 16 <= data.length; i++, at += 16) {
      const s = data.slice(at, at + 16);
      // Keep the type small half the time so that real requests are reached.
      if (mode & 0x20) (s[3] = 0), (s[2] = s[2]! % 9);
      slots.set(s, 64 + i * 16);
      ctrlProd++;
    }
    if (mode & 0x40) ctrlProd = (ctrlProd + (((data[at] ?? 0) << 24) >> 24)) >>> 0;
    Atomics.store(new Uint32Array(ff.ctrl.page.buffer, ff.ctrl.page.byteOffset, 4), 0, ctrlProd);
    ff.ctrl.kick();
  }
  ff.kick();
  const until = clock.now() + 2000;
  runClock(clock, until, 100_000);
  // A disconnect writes to xenstore: let those promises (and the timers they set) run.
  if (!vif.connected || errors.some((e) => e.fatal)) await pumpUntil(clock, () => false, { untilMs: until, maxIterations: 2000 });
  if (recording) {
    const hex = (p: Uint8Array): string => Buffer.from(p).toString("hex");
    outcome = JSON.stringify({
      errors: errors.map((e) => `${e.reason}${e.fatal ? "!" : ""}`),
      state: vif.state,
      connected: vif.connected,
      rings: [...ff0.queues.flatMap((q) => [hex(q.txPage), hex(q.rxPage)]), ...(ff0.ctrl === undefined ? [] : [hex(ff0.ctrl.page)])],
      mapped: ts.dom0.grants.mappingCount - mappedBefore,
    });
  }
  // The tx ring started at 0: a producer more than a ring's worth ahead is an ill-behaved peer.
  if (txProd > RING_SIZE_NET_TX && (vif.connected || !errors.some((e) => e.fatal))) {
    throw new Error(
      `tx req_prod ${txProd} beyond a ${RING_SIZE_NET_TX}-slot ring was not reported as fatal and disconnected (${errors.map((e) => e.reason).join(",") || "no report"})`,
    );
  }
  if (ff.ctrl !== undefined && vif.connected && !errors.some((e) => e.fatal)) {
    const rspProd = Atomics.load(new Uint32Array(ff.ctrl.page.buffer, ff.ctrl.page.byteOffset, 4), 2);
    if (rspProd !== ctrlProd) throw new Error(`control ring: ${ctrlProd} requests published, ${rspProd} answered`);
  }

  if (vif.state === XenbusState.Closed || !vif.connected) {
    if (errors.length === 0) throw new Error("netback disconnected a frontend without reporting why");
    if (errors.some((e) => e.fatal) && ts.dom0.grants.mappingCount !== mappedBefore - shape.mappings) {
      throw new Error(`after a fatal peer error dom0 still maps ${ts.dom0.grants.mappingCount - (mappedBefore - shape.mappings)} guest page(s)`);
    }
  }
}

/** Seeds: one good frame, a producer index beyond the ring, a slot crossing the page end. */
export function seeds(): Uint8Array[] {
  const good = txRequest(0, 0, 0, 0, 60);
  return [
    Uint8Array.from([1, 0, 1, ...good, 0]),
    Uint8Array.from([1, 0, 5, ...good, 100]),
    Uint8Array.from([1, 0, 1, ...txRequest(0, 4000, 0, 0, 200), 0]),
    Uint8Array.from([0, 0, 2, 0]),
    // A control ring: set the Toeplitz algorithm, ask for the flags, an unknown type.
    Uint8Array.from([
      0, 0, 0x30, 0, 0, 3, 0, 0, 7, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0, 99, 0, 0, 0, 0, 0, 0, 0, 0, 0,
      0, 0, 0, 0,
    ]),
    // A control ring whose producer runs far past the ring.
    Uint8Array.from([0, 0, 0x50, 0, 0, 0, 255]),
  ];
}
