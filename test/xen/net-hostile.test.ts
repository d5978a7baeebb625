import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { unwrap } from "../../stack/result.ts";
import { createRng } from "../../stack/time.ts";
import { parseIpv4 } from "../../stack/wire/address.ts";
import { NETTXF_more_data } from "../../xen-sim/abi/netif.ts";
import { buildXenNetwork } from "../../xen-sim/net/network.ts";
import { pumpUntil, settleByPumping as settle } from "../../stack/settle.ts";
import { createVirtualClock } from "../../stack/time.ts";
import { XenbusState } from "../../xen-sim/xenbus/types.ts";
import { connectFakeFrontend, txRequest } from "./fake-frontend.ts";
import { dom0World } from "./helpers.ts";

async function hostileWorld(seed = 1) {
  const w = dom0World(seed);
  const nb = w.startNetback();
  const g = unwrap(await settle(w.clock, w.ts.createDomain({ name: "evil" })));
  const dev = unwrap(await settle(w.clock, w.ts.addVif(g.id, { mac: 0x00163e0000ee })));
  const ff = await connectFakeFrontend(w.clock, w.ts, g, dev);
  const vif = nb.vif(g.id, 0)!;
  expect(vif.connected).toBe(true);
  return { ...w, nb, g, dev, ff, vif };
}

const ETH_FRAME = 60;

describe("netback against a hostile frontend", () => {
  it("a producer index beyond the ring is reported, the frontend is disconnected (Closing, Closed) and its rings unmapped", async () => {
    const h = await hostileWorld();
    expect(h.ts.dom0.grants.mappingCount).toBe(2);
    h.ff.setTxReqProd(1000);
    h.ff.kick();
    await pumpUntil(h.clock, () => h.vif.state === XenbusState.Closed);
    expect(h.peerErrors).toEqual([{ domid: h.g.id, devid: 0, reason: "ill-behaved-peer", detail: "tx req_prod beyond the ring", fatal: true }]);
    expect(h.vif.connected).toBe(false);
    expect(h.ts.dom0.grants.mappingCount).toBe(0);
  });

  it("more than 18 slots in one frame disconnects the frontend", async () => {
    const h = await hostileWorld();
    const ref = h.ff.grantPage(1);
    const slots = Array.from({ length: 19 }, (_, i) => txRequest(ref, 0, i < 18 ? NETTXF_more_data : 0, i, i === 0 ? 19 * 100 : 100));
    h.ff.writeTxSlots(0, slots);
    h.ff.setTxReqProd(19);
    h.ff.kick();
    await pumpUntil(h.clock, () => h.vif.state === XenbusState.Closed);
    expect(h.peerErrors.map((e) => [e.reason, e.fatal])).toEqual([["too-many-slots", true]]);
  });

  it("a slot crossing the page end, or slots larger than the frame, disconnect the frontend", async () => {
    for (const slots of [[txRequest(8, 4000, 0, 0, 200)], [txRequest(8, 0, NETTXF_more_data, 0, 100), txRequest(8, 0, 0, 1, 200)]]) {
      const h = await hostileWorld();
      const ref = h.ff.grantPage(2);
      h.ff.writeTxSlots(
        0,
        slots.map((s) => {
          new DataView(s.buffer).setUint32(0, ref, true);
          return s;
        }),
      );
      h.ff.setTxReqProd(slots.length);
      h.ff.kick();
      await pumpUntil(h.clock, () => h.vif.state === XenbusState.Closed);
      expect(h.peerErrors.map((e) => e.reason)).toEqual([slots.length === 1 ? "cross-page" : "frame-size"]);
      expect(h.ts.dom0.grants.mappingCount).toBe(0);
    }
  });

  it("a bad grant ref drops the frame with RSP_ERROR and is reported, but the vif stays connected and serves the next frame", async () => {
    const h = await hostileWorld();
    const seen: Uint8Array[] = [];
    const sink = h.bridge.attach({
      mac: 0x020000000001,
      mtu: 1500,
      offloads: { txChecksum: true, tso: true, maxGsoFrame: 65535 },
      send: (f) => seen.push(f.data),
      onReceive: () => {},
    });
    const good = h.ff.grantPage(0xff);
    h.ff.writeTxSlots(0, [txRequest(7777, 0, 0, 5, ETH_FRAME), txRequest(good, 0, 0, 6, ETH_FRAME)]);
    h.ff.setTxReqProd(1);
    h.ff.kick();
    await pumpUntil(h.clock, () => h.ff.txRspProd() === 1);
    expect(new DataView(h.ff.txPage.buffer, h.ff.txPage.byteOffset).getInt16(64 + 2, true)).toBe(-1);
    expect(h.peerErrors).toMatchObject([{ reason: "bad-grant", fatal: false }]);
    h.ff.setTxReqProd(2);
    h.ff.kick();
    await pumpUntil(h.clock, () => h.ff.txRspProd() === 2);
    expect(new DataView(h.ff.txPage.buffer, h.ff.txPage.byteOffset).getInt16(64 + 12 + 2, true)).toBe(0);
    expect(h.vif.connected).toBe(true);
    expect(seen).toEqual([new Uint8Array(ETH_FRAME).fill(0xff)]);
    expect(sink.stats().txFrames).toBe(1);
  });

  it("property: random ring contents never break netback; each case ends served, or reported with the vif Closed and unmapped", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.uint8Array({ minLength: 12, maxLength: 12 }), { maxLength: 40 }),
        fc.oneof(fc.nat(40), fc.nat({ max: 0xffffffff })),
        fc.array(fc.uint8Array({ minLength: 8, maxLength: 8 }), { maxLength: 40 }),
        fc.nat(0xffffffff),
        async (txSlots, txProd, rxSlots, rxProd) => {
          const h = await hostileWorld(txSlots.length + 1);
          const ref = h.ff.grantPage(3);
          // Some slots point at a real grant so that deeper checks are reached too.
          txSlots.forEach((s, i) => {
            if (i % 3 === 0) new DataView(s.buffer).setUint32(0, ref, true);
          });
          h.ff.writeTxSlots(0, txSlots);
          h.ff.writeRxSlots(0, rxSlots);
          h.ff.setRxReqProd(rxProd);
          h.ff.setTxReqProd(txProd);
          h.ff.kick();
          // Also push a frame toward the hostile guest through the bridge.
          h.vif.device.send({ data: new Uint8Array(ETH_FRAME).fill(9) });
          await pumpUntil(h.clock, () => false, { maxIterations: 200 });
          const fatal = h.peerErrors.some((e) => e.fatal);
          if (fatal) {
            await pumpUntil(h.clock, () => h.vif.state === XenbusState.Closed);
            expect(h.vif.state).toBe(XenbusState.Closed);
            expect(h.ts.dom0.grants.mappingCount).toBe(0);
          } else {
            expect(h.vif.connected).toBe(true);
            expect(h.ts.dom0.grants.mappingCount).toBe(2);
          }
          return true;
        },
      ),
      { numRuns: 40, seed: 42 },
    );
  }, 120_000);

  it("other guests keep talking while a hostile guest is disconnected", async () => {
    const clock = createVirtualClock();
    const net = unwrap(await buildXenNetwork({ clock, rng: createRng(3) }, { guests: 2 }));
    const evil = unwrap(await settle(clock, net.toolstack.createDomain({ name: "evil" })));
    const dev = unwrap(await settle(clock, net.toolstack.addVif(evil.id, { mac: 0x00163e0000ef })));
    const ff = await connectFakeFrontend(clock, net.toolstack, evil, dev);
    ff.setTxReqProd(0xdeadbeef);
    ff.kick();
    await pumpUntil(clock, () => net.netback.vif(evil.id, 0)?.state === XenbusState.Closed);
    expect(net.peerErrors.map((e) => [e.domid, e.reason])).toEqual([[evil.id, "ill-behaved-peer"]]);
    const res: unknown[] = [];
    net.guests[0]!.stack.icmp.ping(unwrap(parseIpv4("192.0.2.2")), {}, (r) => res.push(r));
    await pumpUntil(clock, () => res.length > 0);
    expect(res[0]).toMatchObject({ ok: true });
  });
});

describe("netfront against a hostile backend", () => {
  it("a response producer beyond the ring is reported; the frontend survives and reconnects to a restarted backend", async () => {
    const clock = createVirtualClock();
    const net = unwrap(await buildXenNetwork({ clock, rng: createRng(4) }, { guests: 2 }));
    const [a, b] = net.guests as [(typeof net.guests)[0], (typeof net.guests)[0]];
    net.netback.crash();
    // Play a hostile dom0: map a's rx ring, claim 5000 responses, signal a's port.
    const ts = net.toolstack;
    const fe = a.vif.frontendPath;
    const rxRef = Number(new TextDecoder().decode(ts.daemon.server.peek(`${fe}/rx-ring-ref`)!));
    const port = Number(new TextDecoder().decode(ts.daemon.server.peek(`${fe}/event-channel`)!));
    const m = unwrap(ts.dom0.grants.map(a.guest.id, rxRef));
    new Uint32Array(m.page.buffer, m.page.byteOffset, 4)[2] = 5000;
    const local = unwrap(ts.dom0.events.bindInterdomain(a.guest.id, port));
    ts.dom0.events.send(local);
    await pumpUntil(clock, () => net.peerErrors.length > 0);
    expect(net.peerErrors[0]).toEqual({ domid: 0, devid: 0, reason: "ill-behaved-peer", detail: "rx rsp_prod", fatal: true });
    expect(a.netfront.connected).toBe(false);
    ts.dom0.grants.unmap(m.handle);
    ts.dom0.events.close(local);
    net.restartNetback();
    expect(await net.waitConnected()).toBe(true);
    const res: unknown[] = [];
    a.stack.icmp.ping(unwrap(parseIpv4("192.0.2.2")), {}, (r) => res.push(r));
    await pumpUntil(clock, () => res.length > 0);
    expect(res[0]).toMatchObject({ ok: true });
    expect(b.netfront.stats().connects).toBe(2);
  });
});

describe("netfront against random backend responses", () => {
  it("property: random rx/tx response slots and producer indices never break netfront; it reports, and reconnects to a restarted backend", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.uint8Array({ minLength: 8, maxLength: 8 }), { maxLength: 40 }),
        fc.oneof(fc.nat(40), fc.nat({ max: 0xffffffff })),
        fc.array(fc.uint8Array({ minLength: 12, maxLength: 12 }), { maxLength: 20 }),
        fc.oneof(fc.nat(20), fc.nat({ max: 0xffffffff })),
        async (rxSlots, rxProd, txSlots, txProd) => {
          const clock = createVirtualClock();
          const net = unwrap(await buildXenNetwork({ clock, rng: createRng(rxSlots.length + 7) }, { guests: 2 }));
          const [a, b] = net.guests as [(typeof net.guests)[0], (typeof net.guests)[0]];
          // A few frames in flight so that tx responses have requests to answer.
          for (let i = 0; i < 3; i++) a.netfront.send({ data: new Uint8Array(60).fill(i) });
          net.netback.crash();
          const ts = net.toolstack;
          const fe = a.vif.frontendPath;
          const key = (k: string) => Number(new TextDecoder().decode(ts.daemon.server.peek(`${fe}/${k}`)!));
          const rx = unwrap(ts.dom0.grants.map(a.guest.id, key("rx-ring-ref")));
          const tx = unwrap(ts.dom0.grants.map(a.guest.id, key("tx-ring-ref")));
          rxSlots.forEach((s, i) => rx.page.set(s, 64 + i * 8));
          txSlots.forEach((s, i) => tx.page.set(s, 64 + i * 12));
          new Uint32Array(rx.page.buffer, rx.page.byteOffset, 4)[2] = rxProd;
          new Uint32Array(tx.page.buffer, tx.page.byteOffset, 4)[2] = txProd;
          const local = unwrap(ts.dom0.events.bindInterdomain(a.guest.id, key("event-channel")));
          ts.dom0.events.send(local);
          await pumpUntil(clock, () => false, { maxIterations: 100 });
          const st = a.netfront.stats();
          expect(st.rxBytes).toBeLessThanOrEqual(st.rxFrames * 19 * 4096);
          if (net.peerErrors.some((e) => e.fatal)) expect(a.netfront.connected).toBe(false);
          ts.dom0.grants.unmap(rx.handle);
          ts.dom0.grants.unmap(tx.handle);
          ts.dom0.events.close(local);
          net.restartNetback();
          expect(await net.waitConnected()).toBe(true);
          const res: unknown[] = [];
          b.stack.icmp.ping(unwrap(parseIpv4("192.0.2.1")), {}, (r) => res.push(r));
          await pumpUntil(clock, () => res.length > 0);
          expect(res[0]).toMatchObject({ ok: true });
          return true;
        },
      ),
      { numRuns: 25, seed: 7 },
    );
  }, 120_000);
});
