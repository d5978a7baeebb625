import { describe, expect, it } from "vitest";
import { err, ok, unwrap } from "../../stack/result.ts";
import { BLKIF_OP_FLUSH_DISKCACHE, BLKIF_OP_READ, BLKIF_OP_WRITE, BLKIF_RSP_EOPNOTSUPP, BLKIF_RSP_ERROR, BLKIF_RSP_OKAY } from "../abi/blkif.ts";
import { createMemoryStorage } from "./memory-storage.ts";
import { createBlkWorld } from "./sim-world.ts";
import { rawBackend, responseBytes } from "./test-support.ts";
import type { BlkFault } from "./types.ts";

/** A connected blkfront whose backend is driven by hand. */
async function hostileBackend() {
  const w = await createBlkWorld(createMemoryStorage());
  const ready = w.front.connect();
  const be = await rawBackend(w, 2048);
  expect(await w.settle(ready)).toEqual(ok(undefined));
  const faults: BlkFault[] = [];
  w.front.onFault((f) => faults.push(f));
  const idOf = (req: Uint8Array) => new DataView(req.buffer, req.byteOffset).getUint32(8, true);
  return { w, be, faults, idOf };
}

describe("blkfront against a hostile backend", () => {
  it("maps ERROR and EOPNOTSUPP to io-error and not-supported and stays connected", async () => {
    const { w, be, faults, idOf } = await hostileBackend();
    const a = w.front.read(0, 8);
    const b = w.front.flush();
    await w.settle(w.guestXs.read("device"));
    const [ra, rb] = be.requests();
    expect([ra![0], rb![0]]).toEqual([BLKIF_OP_READ, BLKIF_OP_FLUSH_DISKCACHE]);
    be.respond([responseBytes(idOf(ra!), BLKIF_OP_READ, BLKIF_RSP_ERROR), responseBytes(idOf(rb!), BLKIF_OP_FLUSH_DISKCACHE, BLKIF_RSP_EOPNOTSUPP)]);
    expect(await w.settle(a)).toEqual(err("io-error"));
    expect(await w.settle(b)).toEqual(err("not-supported"));
    expect(w.front.state).toBe("connected");
    expect(faults).toEqual([]);
  });

  it("an unknown response id disconnects: reported, every request fails, Closing in the store", async () => {
    const { w, be, faults } = await hostileBackend();
    const a = w.front.read(0, 8);
    const later = w.front.write(8, new Uint8Array(512));
    await w.settle(w.guestXs.read("device"));
    be.respond([responseBytes(999, BLKIF_OP_READ, BLKIF_RSP_OKAY)]);
    expect(await w.settle(a)).toEqual(err("disconnected"));
    expect(await w.settle(later)).toEqual(err("disconnected"));
    expect(faults).toEqual([{ side: "frontend", peer: 0, reason: "bad-response-id", detail: "id 999 is not a request slot" }]);
    expect(w.front.state).toBe("error");
    expect(await w.settle(w.front.read(0, 1))).toEqual(err("disconnected"));
    for (let i = 0; i < 10; i++) await w.settle(w.guestXs.read("device"));
    expect(unwrap(await w.settle(w.dom0Xs.read(`${w.frontendPath}/state`)))).toBe("5");
  });

  it("closed after a fault, blkfront gives its data pages back (blkif_free); the ring page the backend still mapped is kept in leakedPages until the harness frees it", async () => {
    const { w, be } = await hostileBackend();
    const before = w.guest.memory.pageCount;
    const a = w.front.read(0, 64); // eight data pages from the pool
    await w.settle(w.guestXs.read("device"));
    be.respond([responseBytes(999, BLKIF_OP_READ, BLKIF_RSP_OKAY)]);
    expect(await w.settle(a)).toEqual(err("disconnected"));
    expect(w.front.state).toBe("error");
    expect(w.guest.memory.pageCount).toBe(before + 8);
    await w.settle(w.front.close());
    // the data pages are back; the ring page (mapped by the backend at the fault) is the one kept
    expect(w.front.stats.leakedPages).toBe(1);
    expect(w.guest.memory.pageCount).toBe(before);
    be.close();
    const ring = w.guest.grants.entry(be.ringRef)!;
    expect(unwrap(w.guest.grants.endAccess(be.ringRef))).toBeUndefined();
    unwrap(w.guest.memory.freePage(ring.frame));
    expect(w.guest.memory.pageCount).toBe(before - 1);
  });

  it("a duplicate response disconnects after the first answer completed its request", async () => {
    const { w, be, faults, idOf } = await hostileBackend();
    const a = w.front.read(0, 8);
    const b = w.front.read(8, 8);
    await w.settle(w.guestXs.read("device"));
    const id = idOf(be.requests()[0]!);
    be.respond([responseBytes(id, BLKIF_OP_READ, BLKIF_RSP_OKAY)]);
    expect((await w.settle(a)).ok).toBe(true);
    be.forgeResponse(responseBytes(id, BLKIF_OP_READ, BLKIF_RSP_OKAY));
    expect(await w.settle(b)).toEqual(err("disconnected"));
    expect(faults.map((f) => f.reason)).toEqual(["duplicate-response"]);
    expect(w.front.state).toBe("error");
  });

  it("a response with another operation than the request's disconnects", async () => {
    const { w, be, faults, idOf } = await hostileBackend();
    const a = w.front.read(0, 8);
    await w.settle(w.guestXs.read("device"));
    be.respond([responseBytes(idOf(be.requests()[0]!), BLKIF_OP_WRITE, BLKIF_RSP_OKAY)]);
    expect(await w.settle(a)).toEqual(err("disconnected"));
    expect(faults.map((f) => f.reason)).toEqual(["bad-response-operation"]);
  });

  it("rsp_prod beyond the ring (or beyond the requests sent) disconnects", async () => {
    const { w, be, faults } = await hostileBackend();
    const a = w.front.read(0, 8);
    await w.settle(w.guestXs.read("device"));
    be.setRspProd(40);
    expect(await w.settle(a)).toEqual(err("disconnected"));
    expect(faults.map((f) => f.reason)).toEqual(["ring-overflow"]);
    expect(w.guest.grants.freeRefs).toBeGreaterThan(0);
  });
});
