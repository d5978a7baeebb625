import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { unwrap } from "../../stack/result.ts";
import {
  BLKIF_OP_DISCARD,
  BLKIF_OP_FLUSH_DISKCACHE,
  BLKIF_OP_INDIRECT,
  BLKIF_OP_READ,
  BLKIF_OP_RESERVED_1,
  BLKIF_OP_WRITE,
  BLKIF_RSP_EOPNOTSUPP,
  BLKIF_RSP_ERROR,
  BLKIF_RSP_OKAY,
  BLKIF_SLOT_SIZE,
} from "../abi/blkif.ts";
import { createMemoryStorage } from "./memory-storage.ts";
import { createBlkWorld } from "./sim-world.ts";
import { rawFrontend, requestBytes } from "./test-support.ts";

const SECTORS = 1024;

/** A world whose backend is started and whose frontend side is driven by hand. */
async function hostileWorld(options: { protocol?: string } = {}) {
  const storage = createMemoryStorage({ sectors: SECTORS });
  for (let i = 0; i < storage.bytes.length; i++) storage.bytes[i] = (i >> 9) & 255;
  const w = await createBlkWorld(storage);
  unwrap(await w.settle(w.back.start()));
  const fe = await rawFrontend(w, options);
  const frame = unwrap(w.guest.memory.allocPage());
  const page = unwrap(w.guest.memory.page(frame));
  const gref = unwrap(w.guest.grants.grantAccess(0, frame));
  const roFrame = unwrap(w.guest.memory.allocPage());
  const roGref = unwrap(w.guest.grants.grantAccess(0, roFrame, true));
  // Let the backend connect.
  for (let i = 0; i < 100 && w.back.state !== "connected" && w.back.faults.length === 0; i++) await w.settle(w.dom0Xs.read("/"));
  return { w, fe, storage, page, gref, roGref };
}

const decode = (r: Uint8Array) => {
  const v = new DataView(r.buffer, r.byteOffset, 16);
  return { id: Number(v.getBigUint64(0, true)), op: v.getUint8(8), status: v.getInt16(10, true) };
};

describe("blkback against a hostile frontend", () => {
  it("answers every malformed request with its id and ERROR or EOPNOTSUPP, then still serves good ones", async () => {
    const { w, fe, page, gref, roGref } = await hostileWorld();
    expect(w.back.state).toBe("connected");
    const indirectZero = requestBytes({ op: BLKIF_OP_INDIRECT, id: 12, sector: 0 });
    indirectZero[1] = BLKIF_OP_READ; // indirect_op READ, nr_segments (u16 at 2) = 0
    const indirectBadOp = requestBytes({ op: BLKIF_OP_INDIRECT, id: 13, sector: 0 });
    indirectBadOp[1] = BLKIF_OP_DISCARD;
    indirectBadOp[2] = 1;
    const discardBeyond = requestBytes({ op: BLKIF_OP_DISCARD, id: 14, sector: SECTORS - 4 });
    new DataView(discardBeyond.buffer).setBigUint64(24, 8n, true);
    fe.send([
      requestBytes({ op: BLKIF_OP_READ, id: 1, sector: 0, segs: [[gref, 3, 2]] }),
      requestBytes({ op: BLKIF_OP_READ, id: 2, sector: 0, segs: [[gref, 0, 8]] }),
      requestBytes({ op: BLKIF_OP_READ, id: 3, sector: SECTORS - 4, segs: [[gref, 0, 7]] }),
      requestBytes({ op: BLKIF_OP_READ, id: 4, sector: 0, nseg: 12 }),
      requestBytes({ op: BLKIF_OP_READ, id: 5, sector: 0, nseg: 0 }),
      requestBytes({ op: BLKIF_OP_READ, id: 6, sector: 0, segs: [[4000, 0, 7]] }),
      requestBytes({ op: BLKIF_OP_READ, id: 7, sector: 0, segs: [[roGref, 0, 7]] }),
      requestBytes({ op: BLKIF_OP_RESERVED_1, id: 8, sector: 0 }),
      requestBytes({ op: 77, id: 9, sector: 0 }),
      requestBytes({ op: BLKIF_OP_WRITE, id: 10, sector: 2 ** 60, segs: [[gref, 0, 0]] }),
      requestBytes({ op: BLKIF_OP_READ, id: 11, sector: 0, segs: [[0, 0, 7]] }),
      indirectZero,
      indirectBadOp,
      discardBeyond,
      requestBytes({ op: BLKIF_OP_READ, id: 15, sector: 16, segs: [[gref, 0, 7]] }),
      requestBytes({ op: BLKIF_OP_FLUSH_DISKCACHE, id: 16, sector: 0 }),
    ]);
    await w.settle(w.dom0Xs.read("/"));
    expect(fe.responses().map(decode)).toEqual([
      { id: 1, op: BLKIF_OP_READ, status: BLKIF_RSP_ERROR }, // first_sect > last_sect
      { id: 2, op: BLKIF_OP_READ, status: BLKIF_RSP_ERROR }, // last_sect > 7
      { id: 3, op: BLKIF_OP_READ, status: BLKIF_RSP_ERROR }, // beyond capacity
      { id: 4, op: BLKIF_OP_READ, status: BLKIF_RSP_ERROR }, // 12 segments
      { id: 5, op: BLKIF_OP_READ, status: BLKIF_RSP_ERROR }, // no segment
      { id: 6, op: BLKIF_OP_READ, status: BLKIF_RSP_ERROR }, // ref not granted
      { id: 7, op: BLKIF_OP_READ, status: BLKIF_RSP_ERROR }, // read into a read-only grant
      { id: 8, op: BLKIF_OP_RESERVED_1, status: BLKIF_RSP_EOPNOTSUPP },
      { id: 9, op: 77, status: BLKIF_RSP_EOPNOTSUPP },
      { id: 10, op: BLKIF_OP_WRITE, status: BLKIF_RSP_ERROR }, // sector 2^60
      { id: 11, op: BLKIF_OP_READ, status: BLKIF_RSP_ERROR }, // reserved console ref, never granted
      { id: 12, op: BLKIF_OP_READ, status: BLKIF_RSP_ERROR }, // indirect, 0 segments
      { id: 13, op: BLKIF_OP_INDIRECT, status: BLKIF_RSP_ERROR }, // indirect_op DISCARD
      { id: 14, op: BLKIF_OP_DISCARD, status: BLKIF_RSP_ERROR }, // discard beyond capacity
      { id: 15, op: BLKIF_OP_READ, status: BLKIF_RSP_OKAY },
      { id: 16, op: BLKIF_OP_FLUSH_DISKCACHE, status: BLKIF_RSP_OKAY },
    ]);
    expect([page[0], page[511], page[512], page[4095]]).toEqual([16, 16, 17, 23]);
    expect(w.back.faults).toEqual([]);
    expect(w.back.state).toBe("connected");
    expect(w.hv.refusals.byDomain.get(0)).toBeGreaterThanOrEqual(2);
  });

  it("random bytes in ring slots get one well-formed answer each (or a reported fault), never an exception", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(fc.integer({ min: 0, max: 8 }), fc.uint8Array({ minLength: BLKIF_SLOT_SIZE, maxLength: BLKIF_SLOT_SIZE })), {
          minLength: 1,
          maxLength: 32,
        }),
        async (slots) => {
          const { w, fe, gref } = await hostileWorld();
          const reqs = slots.map(([op, bytes], i) => {
            const b = bytes.slice();
            b[0] = op;
            new DataView(b.buffer).setUint32(8, i, true);
            new DataView(b.buffer).setUint32(12, 0, true);
            return b;
          });
          fe.send(reqs);
          await w.settle(w.dom0Xs.read("/"));
          if (w.back.faults.length === 0) {
            const rs = fe.responses().map(decode);
            expect(rs.map((r) => r.id)).toEqual(reqs.map((_, i) => i));
            for (const r of rs) expect([BLKIF_RSP_OKAY, BLKIF_RSP_ERROR, BLKIF_RSP_EOPNOTSUPP]).toContain(r.status);
            fe.send([requestBytes({ op: BLKIF_OP_READ, id: 99, sector: 5, segs: [[gref, 0, 0]] })]);
            await w.settle(w.dom0Xs.read("/"));
            expect(fe.responses().map(decode).at(-1)).toEqual({ id: 99, op: BLKIF_OP_READ, status: BLKIF_RSP_OKAY });
          } else {
            expect(w.back.state).toBe("faulted");
          }
        },
      ),
      { numRuns: 25, seed: 66 },
    );
  });

  it("a producer index beyond the ring disconnects the frontend: reported, Closing, error node, mappings dropped", async () => {
    const { w, fe } = await hostileWorld();
    const before = w.dom0.grants.mappingCount;
    expect(before).toBe(1);
    fe.setReqProd(33);
    await w.settle(w.dom0Xs.read("/"));
    for (let i = 0; i < 20; i++) await w.settle(w.dom0Xs.read("/"));
    expect(w.back.faults).toEqual([{ side: "backend", peer: w.guest.id, reason: "ring-overflow", detail: "req_prod - rsp_prod_pvt exceeds the ring size" }]);
    expect(w.back.state).toBe("faulted");
    expect(w.dom0.grants.mappingCount).toBe(0);
    expect(unwrap(await w.settle(w.dom0Xs.read(`${w.backendPath}/state`)))).toBe("5");
    expect(unwrap(await w.settle(w.dom0Xs.read(`/local/domain/0/error/backend/vbd/${w.guest.id}/51712/error`)))).toMatch(/^ring-overflow/);
    fe.send([requestBytes({ op: BLKIF_OP_READ, id: 1, sector: 0 })]);
    await w.settle(w.dom0Xs.read("/"));
    expect(w.back.stats.requests).toBe(0);
  });

  it("an unknown protocol is refused at connection and reported", async () => {
    const { w } = await hostileWorld({ protocol: "x86_32-abi" });
    expect(w.back.faults.map((f) => [f.reason, f.detail])).toEqual([["unknown-protocol", "x86_32-abi"]]);
    expect(w.dom0.grants.mappingCount).toBe(0);
  });
});

describe("blkback against a frontend writing bad ring keys", () => {
  for (const [name, keys, reason] of [
    ["a ring-page-order above max-ring-page-order", { "ring-page-order": "5", "ring-ref0": "8" }, "bad-ring-page-order"],
    ["a ring-ref that is not a number", { "ring-ref": "eight" }, "bad-ring-ref"],
    ["a ring-ref that grants nothing", { "ring-ref": "4000" }, "bad-ring-ref"],
    ["an event channel that is not unbound for dom0", { "ring-ref": "RING", "event-channel": "77" }, "bad-event-channel"],
  ] as [string, Record<string, string>, string][]) {
    it(`${name} is refused, reported, and leaves no mapping`, async () => {
      const w = await createBlkWorld(createMemoryStorage({ sectors: SECTORS }));
      unwrap(await w.settle(w.back.start()));
      const frame = unwrap(w.guest.memory.allocPage());
      const ring = String(unwrap(w.guest.grants.grantAccess(0, frame)));
      const port = String(unwrap(w.guest.events.allocUnbound(0)));
      const all = { "event-channel": port, protocol: "x86_64-abi", ...keys };
      for (const [k, v] of Object.entries(all)) unwrap(await w.settle(w.guestXs.write(`${w.frontendPath}/${k}`, v === "RING" ? ring : v)));
      unwrap(await w.settle(w.guestXs.write(`${w.frontendPath}/state`, "3")));
      for (let i = 0; i < 30 && w.back.faults.length === 0; i++) await w.settle(w.dom0Xs.read("/"));
      expect(w.back.faults.map((f) => f.reason)).toEqual([reason]);
      expect(w.back.state).toBe("faulted");
      expect(w.dom0.grants.mappingCount).toBe(0);
    });
  }
});
