import { describe, expect, it } from "vitest";
import { BLKIF_OP_READ, BLKIF_RSP_OKAY } from "../abi/blkif.ts";
import { createMemoryStorage } from "./memory-storage.ts";
import { createBlkWorld } from "./sim-world.ts";
import { rawBackend, rawFrontend, requestBytes, responseBytes } from "./test-support.ts";

describe("Blkback.reattachRing()", () => {
  it("serves a re-initialised ring page from slot 0 again, as after a reconnect, and refuses when not connected", async () => {
    const w = await createBlkWorld(createMemoryStorage({ sectors: 16 }));
    await w.settle(w.back.start());
    const fe = await rawFrontend(w);
    for (let i = 0; i < 100 && w.back.state !== "connected"; i++) await w.settle(w.dom0Xs.read("/"));
    expect(w.back.state).toBe("connected");
    const frame = w.guest.memory.allocPage();
    if (!frame.ok) throw new Error("no page");
    const gref = w.guest.grants.grantAccess(0, frame.value);
    if (!gref.ok) throw new Error("no grant");
    const read = (id: number) => requestBytes({ op: BLKIF_OP_READ, id, sector: 0, segs: [[gref.value, 0, 0]] });
    fe.send([read(1), read(2)]);
    w.clock.run();
    expect(fe.responses().map((r) => new DataView(r.buffer, r.byteOffset).getInt16(10, true))).toEqual([BLKIF_RSP_OKAY, BLKIF_RSP_OKAY]);
    fe.reset();
    expect(w.back.reattachRing()).toBe(true);
    // The persistently mapped data page went with the old connection; the ring stays mapped.
    expect(w.back.stats.persistentGrants).toBe(0);
    expect(w.dom0.grants.mappingCount).toBe(1);
    // Without reattachRing blkback would wait for req_prod 3 before answering.
    fe.send([read(3)]);
    w.clock.run();
    expect(fe.responses().map((r) => new DataView(r.buffer, r.byteOffset).getUint32(0, true))).toEqual([3]);
    fe.setReqProd(1000);
    w.clock.run();
    expect(w.back.state).toBe("faulted");
    expect(w.back.reattachRing()).toBe(false);
  });
});

describe("Blkfront.resetRing()", () => {
  it("fails what was left on the ring, gives the data pages back and starts a fresh ring in place; refuses after a fault", async () => {
    const w = await createBlkWorld(createMemoryStorage({ sectors: 16 }));
    const ready = w.front.connect();
    const be = await rawBackend(w, 64);
    expect((await w.settle(ready)).ok).toBe(true);
    const pagesAtConnect = w.guest.memory.pageCount;
    const freeRefs = w.guest.grants.freeRefs;
    const left = [w.front.read(0, 8), w.front.write(8, new Uint8Array(1024).fill(7))];
    w.clock.run();
    be.poll();
    expect(be.requests().map((r) => new DataView(r.buffer, r.byteOffset).getUint32(8, true))).toEqual([0, 1]);
    expect(w.guest.memory.pageCount).toBe(pagesAtConnect + 2);
    expect(w.front.resetRing()).toBe(true);
    expect(await Promise.all(left)).toEqual([
      { ok: false, error: "disconnected" },
      { ok: false, error: "disconnected" },
    ]);
    expect(w.front.inFlight).toBe(0);
    expect(w.guest.memory.pageCount).toBe(pagesAtConnect);
    expect(w.guest.grants.freeRefs).toBe(freeRefs);
    expect([...new Uint32Array(be.page.buffer, be.page.byteOffset, 4)]).toEqual([0, 1, 0, 1]);
    // The backend re-attaches; the next request takes id 0 in slot 0 again, on a zeroed page.
    be.reset();
    const again = w.front.read(3, 1);
    w.clock.run();
    be.poll();
    const req = be.requests()[0]!;
    const rv = new DataView(req.buffer, req.byteOffset);
    expect([be.requests().length, rv.getUint32(8, true)]).toEqual([1, 0]);
    const m = w.dom0.grants.map(w.guest.id, rv.getUint32(24, true));
    if (!m.ok) throw new Error("no mapping");
    expect(m.value.page.every((b) => b === 0)).toBe(true);
    m.value.page.fill(0x5a, 0, 512);
    w.dom0.grants.unmap(m.value.handle);
    be.respond([responseBytes(0, BLKIF_OP_READ, BLKIF_RSP_OKAY)]);
    w.clock.run();
    expect(await again).toEqual({ ok: true, value: new Uint8Array(512).fill(0x5a) });
    // A response nobody asked for: the device is dead and no longer resets.
    be.forgeResponse(responseBytes(5, BLKIF_OP_READ, BLKIF_RSP_OKAY));
    w.clock.run();
    expect(w.front.state).toBe("error");
    expect(w.front.resetRing()).toBe(false);
  });
});
