// Fuzz target: dom0's netback fed hostile ring contents by a connected frontend. The input
// fills tx slots (12 bytes each) and rx slots (8 bytes each) and picks the producer indices
// (near the real ones, or anywhere); the frontend kicks and time runs. Oracles: no exception;
// dom0 never disconnects a frontend silently (every disconnect comes with a reported peer
// error); after a fatal error dom0 holds no mapping of the guest's pages.
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
  const nb = createNetback({ dom0: ts.dom0, xs: ts.xs, clock, bridges: (n) => (n === bridge.name ? bridge : undefined) });
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
  const ff = await connectFakeFrontend(clock, ts, g, dev.value);
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
  ff.kick();
  await pumpUntil(clock, () => false, { untilMs: clock.now() + 2000, maxIterations: 2000 });

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
  ];
}
