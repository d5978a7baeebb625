import { describe, expect, it } from "vitest";
import { BLKIF_OP_READ, BLKIF_RSP_OKAY } from "../abi/blkif.ts";
import { createMemoryStorage } from "./memory-storage.ts";
import { createBlkWorld } from "./sim-world.ts";
import { rawFrontend, requestBytes } from "./test-support.ts";

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
