import { describe, expect, it } from "vitest";
import { unwrap } from "../../stack/result.ts";
import { pumpUntil } from "../../xen-sim/toolstack/pump.ts";
import { XenbusState } from "../../xen-sim/xenbus/types.ts";
import { connectFakeFrontend, txRequest } from "./fake-frontend.ts";
import { dom0World, settle } from "./helpers.ts";

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
