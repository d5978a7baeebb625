// Fuzz target: dom0's netback fed hostile ring contents by a connected frontend. The input
// fills tx slots (12 bytes each) and rx slots (8 bytes each) and picks the producer indices
// (near the real ones, or anywhere); with mode bit 0x10 the frontend also sets up a control
// ring and the input fills its request slots (16 bytes each) and producer; with 0x80 the vif
// has two queues and the slots go to queue 1. The frontend kicks
// and time runs. Oracles: no exception; dom0 never disconnects a frontend silently (every
// disconnect comes with a reported peer error); after a fatal error dom0 holds no mapping of
// the guest's pages; on a connected control ring every published request is answered.
import { createRng, createVirtualClock } from "../../../stack/time.ts";
import { createToolstack } from "../../../xen-sim/toolstack/index.ts";
import { pumpUntil } from "../../../xen-sim/toolstack/pump.ts";
import { createBridge } from "../../../xen-sim/net/bridge.ts";
import { createNetback } from "../../../xen-sim/net/netback.ts";
import type { NetPeerError } from "../../../xen-sim/net/types.ts";
import { XenbusState } from "../../../xen-sim/xenbus/types.ts";
import { connectFakeFrontend, txRequest } from "../../../test/xen/fake-frontend.ts";

export async function fuzz(data: Buffer): Promise<void> {
  if (data.length < 4) return;
  const clock = createVirtualClock();
  const ts = createToolstack({ clock, rng: createRng(1) }, {});
  const bridge = createBridge({ clock });
  const errors: NetPeerError[] = [];
  const nb = createNetback({ dom0: ts.dom0, xs: ts.xs, clock, bridges: (n) => (n === bridge.name ? bridge : undefined) }, { maxQueues: 2 });
  nb.onPeerError((e) => errors.push(e));
  let guest: Awaited<ReturnType<typeof ts.createDomain>> | undefined;
  void ts.createDomain({ name: "hostile" }).then((g) => { guest = g; });
  await pumpUntil(clock, () => guest !== undefined);
  if (!guest?.ok) throw new Error("domain creation failed");
  const g = guest.value;
  let dev: Awaited<ReturnType<typeof ts.addVif>> | undefined;
  void ts.addVif(g.id, { mac: 0x00163e0000ee }).then((d) => { dev = d; });
  await pumpUntil(clock, () => dev !== undefined);
  if (!dev?.ok) throw new Error("addVif failed");
  const withCtrl = ((data[2] ?? 0) & 0x10) !== 0;
  const twoQueues = ((data[2] ?? 0) & 0x80) !== 0;
  const ff0 = await connectFakeFrontend(clock, ts, g, dev.value, { ctrl: withCtrl, queues: twoQueues ? 2 : 1 });
  // With two queues, the hostile slots go to queue 1.
  const ff = twoQueues ? { ...ff0, ...ff0.queues[1]!, ctrl: ff0.ctrl, grantPage: ff0.grantPage } : ff0;
  const vif = nb.vif(g.id, 0);
  if (vif === undefined || !vif.connected) throw new Error("netback did not connect a well-behaved frontend");

  const refs = [ff.grantPage(0x11), ff.grantPage(0x22)];
  const nTx = data[0]! % 24, nRx = data[1]! % 16, mode = data[2]!;
  let at = 3;
  const tx: Uint8Array[] = [];
  for (let i = 0; i < nTx && at + 12 <= data.length; i++, at += 12) {
    const s = data.slice(at, at + 12);
    // Half the time, point the slot at a granted page so validation reaches past the gref check.
    if (mode & 1) new DataView(s.buffer, s.byteOffset).setUint32(0, refs[i & 1]!, true);
    tx.push(s);
  }
  if (tx.length === 0 && (mode & 2)) tx.push(txRequest(refs[0]!, 0, 0, 0, 60));
  const rx: Uint8Array[] = [];
  for (let i = 0; i < nRx && at + 8 <= data.length; i++, at += 8) rx.push(data.slice(at, at + 8));
  ff.writeTxSlots(0, tx);
  ff.writeRxSlots(0, rx);
  const prodDelta = (data[at] ?? 0) << 24 >> 24;
  ff.setTxReqProd(mode & 4 ? (tx.length + prodDelta) >>> 0 : tx.length);
  ff.setRxReqProd(mode & 8 ? (rx.length + ((data[at + 1] ?? 0) << 24 >> 24)) >>> 0 : rx.length);
  let ctrlProd = 0;
  if (ff.ctrl !== undefined) {
    const nCtrl = (data[at + 2] ?? 0) % 12;
    at += 3;
    const slots = new Uint8Array(ff.ctrl.page.buffer, ff.ctrl.page.byteOffset, 4096);
    for (let i = 0; i < nCtrl && at + 16 <= data.length; i++, at += 16) {
      const s = data.slice(at, at + 16);
      // Keep the type small half the time so that real requests are reached.
      if (mode & 0x20) s[3] = 0, s[2] = s[2]! % 9;
      slots.set(s, 64 + i * 16);
      ctrlProd++;
    }
    if (mode & 0x40) ctrlProd = (ctrlProd + ((data[at] ?? 0) << 24 >> 24)) >>> 0;
    Atomics.store(new Uint32Array(ff.ctrl.page.buffer, ff.ctrl.page.byteOffset, 4), 0, ctrlProd);
    ff.ctrl.kick();
  }
  ff.kick();
  await pumpUntil(clock, () => false, { untilMs: clock.now() + 2000, maxIterations: 2000 });
  if (ff.ctrl !== undefined && vif.connected && !errors.some((e) => e.fatal)) {
    const rspProd = Atomics.load(new Uint32Array(ff.ctrl.page.buffer, ff.ctrl.page.byteOffset, 4), 2);
    if (rspProd !== ctrlProd) throw new Error(`control ring: ${ctrlProd} requests published, ${rspProd} answered`);
  }

  if (vif.state === XenbusState.Closed || !vif.connected) {
    if (errors.length === 0) throw new Error("netback disconnected a frontend without reporting why");
    if (errors.some((e) => e.fatal) && ts.dom0.grants.mappingCount !== 0) {
      throw new Error(`after a fatal peer error dom0 still maps ${ts.dom0.grants.mappingCount} guest page(s)`);
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
    Uint8Array.from([0, 0, 0x30, 0, 0, 3,
      0, 0, 7, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
      1, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
      2, 0, 99, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]),
    // A control ring whose producer runs far past the ring.
    Uint8Array.from([0, 0, 0x50, 0, 0, 0, 255]),
  ];
}
