import { describe, expect, it } from "vitest";
import { unwrap } from "../../stack/result.ts";
import { pumpUntil, settleByPumping as settle } from "../../stack/settle.ts";
import { XenbusState } from "../../xen-sim/xenbus/types.ts";
import { createNetfront } from "../../xen-sim/net/netfront.ts";
import { connectFakeFrontend, txRequest } from "./fake-frontend.ts";
import { dom0World } from "./helpers.ts";

describe("NetbackVif.reattachRings()", () => {
  it("serves re-initialised ring pages from slot 0 again, as after a reconnect, and refuses a disconnected vif", async () => {
    const w = dom0World(3);
    const nb = w.startNetback();
    const g = unwrap(await settle(w.clock, w.ts.createDomain({ name: "again" })));
    const dev = unwrap(await settle(w.clock, w.ts.addVif(g.id, { mac: 0x00163e0000ef })));
    const ff = await connectFakeFrontend(w.clock, w.ts, g, dev);
    const vif = nb.vif(g.id, 0)!;
    const ref = ff.grantPage(0x42);
    const sendTwo = async (): Promise<void> => {
      ff.writeTxSlots(0, [txRequest(ref, 0, 0, 7, 60), txRequest(ref, 0, 0, 8, 60)]);
      ff.setTxReqProd(2);
      ff.kick();
      await pumpUntil(w.clock, () => ff.txRspProd() === 2, { maxIterations: 200 });
    };
    await sendTwo();
    expect(vif.stats().txFrames).toBe(2);
    const responses = ff.txPage.slice(64, 64 + 24);
    // The frontend starts over on fresh pages; without reattachRings netback would wait for req_prod 3.
    ff.resetRings();
    expect(vif.reattachRings()).toBe(true);
    await sendTwo();
    expect(vif.stats().txFrames).toBe(4);
    expect(ff.txPage.slice(64, 64 + 24)).toEqual(responses);
    expect(w.peerErrors).toEqual([]);
    // A producer 300 past a ring re-attached at 0 is still caught; a disconnected vif is not re-attached.
    ff.resetRings();
    expect(vif.reattachRings()).toBe(true);
    ff.setTxReqProd(300);
    ff.kick();
    await pumpUntil(w.clock, () => vif.state === XenbusState.Closed);
    expect(w.peerErrors.map((e) => e.reason)).toEqual(["ill-behaved-peer"]);
    expect(vif.reattachRings()).toBe(false);
  });
});

describe("Netfront.resetRings()", () => {
  it("re-initialises both rings in place, releases tx buffers, posts rx buffers from slot 0 again, and refuses when not connected", async () => {
    const w = dom0World(4);
    const nb = w.startNetback();
    const g = unwrap(await settle(w.clock, w.ts.createDomain({ name: "reset" })));
    const dev = unwrap(await settle(w.clock, w.ts.addVif(g.id, { mac: 0x00163e0000f1 })));
    const nf = unwrap(await settle(w.clock, createNetfront({ domain: g.domain, xs: g.xs, clock: w.clock })));
    await pumpUntil(w.clock, () => nf.connected);
    const vif = nb.vif(g.id, 0)!;
    const peek = (k: string): number => Number(new TextDecoder().decode(w.ts.daemon.server.peek(`${dev.frontendPath}/${k}`)));
    const txMap = unwrap(w.ts.dom0.grants.map(g.id, peek("tx-ring-ref")));
    const rxMap = unwrap(w.ts.dom0.grants.map(g.id, peek("rx-ring-ref")));
    const idx = (page: Uint8Array): number[] => [...new Uint32Array(page.buffer, page.byteOffset, 4)];
    const pagesAtConnect = g.domain.memory.pageCount;
    const rxAtConnect = idx(rxMap.page);
    const send = async (n: number): Promise<void> => {
      const before = vif.stats().txFrames;
      for (let i = 0; i < n; i++) nf.send({ data: new Uint8Array(60 + i).fill(i + 1) });
      await pumpUntil(w.clock, () => vif.stats().txFrames === before + n, { maxIterations: 500 });
    };
    await send(3);
    expect(vif.stats().txFrames).toBe(3);
    expect(g.domain.memory.pageCount).toBe(pagesAtConnect + 3);
    expect(nf.resetRings()).toBe(true);
    // Tx ring at 0 with its tx pages given back; rx ring posted 0..255 again (id = slot), as connect() leaves them.
    expect(idx(txMap.page)).toEqual([0, 1, 0, 1]);
    expect(idx(rxMap.page)).toEqual(rxAtConnect);
    expect(g.domain.memory.pageCount).toBe(pagesAtConnect);
    const rx = new DataView(rxMap.page.buffer, rxMap.page.byteOffset, 4096);
    for (let k = 0; k < 256; k++) {
      expect(rx.getUint16(64 + 8 * k, true)).toBe(k);
      const m = w.ts.dom0.grants.map(g.id, rx.getUint32(64 + 8 * k + 4, true));
      expect(m.ok).toBe(true);
      if (m.ok) w.ts.dom0.grants.unmap(m.value.handle);
    }
    // Netback re-attached at 0 serves the same frames again (without it, it would wait for req_prod 4).
    expect(vif.reattachRings()).toBe(true);
    await send(2);
    expect(vif.stats().txFrames).toBe(5);
    expect(w.peerErrors).toEqual([]);
    w.ts.dom0.grants.unmap(txMap.handle);
    w.ts.dom0.grants.unmap(rxMap.handle);
    await settle(w.clock, nf.close());
    expect(nf.resetRings()).toBe(false);
  });
});
