import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { err, ok, unwrap } from "../../stack/result.ts";
import { BLKIF_SLOT_SIZE } from "../abi/blkif.ts";
import { NETIF_CTRL_SLOT_SIZE, NETIF_RX_SLOT_SIZE, NETIF_TX_SLOT_SIZE } from "../abi/netif.ts";
import { createBackRing, createFrontRing, initSharedRing, ringSlots, shouldNotify } from "./ring.ts";

const newPages = (n: number): Uint8Array[] => Array.from({ length: n }, () => new Uint8Array(new SharedArrayBuffer(4096)));
const u32 = (page: Uint8Array, at: number): number => new DataView(page.buffer, page.byteOffset).getUint32(at, true);
const setU32 = (page: Uint8Array, at: number, v: number): void => new DataView(page.buffer, page.byteOffset).setUint32(at, v >>> 0, true);
const slot = (n: number, size = 8): Uint8Array => {
  const b = new Uint8Array(size);
  new DataView(b.buffer).setUint32(0, n >>> 0, true);
  return b;
};
const val = (b: Uint8Array): number => new DataView(b.buffer, b.byteOffset).getUint32(0, true);

/** A ring whose shared indices and both halves sit at `start` (as after 2^32 - start round trips). */
function ringAt(start: number, slotSize = 8, pages = newPages(1)) {
  initSharedRing(pages[0]!);
  const p = pages[0]!;
  setU32(p, 0, start);
  setU32(p, 8, start);
  setU32(p, 4, start + 1);
  setU32(p, 12, start + 1);
  return {
    page: p,
    front: createFrontRing(pages, { slotSize, startIndex: start }),
    back: createBackRing(pages, { slotSize, startIndex: start }),
  };
}

describe("shared rings", () => {
  it("initSharedRing() writes req_prod 0, req_event 1, rsp_prod 0, rsp_event 1 and zeroes the 64-byte header", () => {
    const [p] = newPages(1);
    p!.fill(0xff);
    initSharedRing(p!);
    expect([...p!.subarray(0, 64)]).toEqual([0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, ...new Array(48).fill(0)]);
    expect(p![64]).toBe(0xff);
  });

  it("slot counts follow __CONST_RING_SIZE: net tx/rx 256, blk 32..512 by page order, ctrl 128", () => {
    expect(ringSlots(1, NETIF_TX_SLOT_SIZE)).toBe(256);
    expect(ringSlots(1, NETIF_RX_SLOT_SIZE)).toBe(256);
    expect(ringSlots(1, NETIF_CTRL_SLOT_SIZE)).toBe(128);
    expect([1, 2, 4, 8, 16].map((n) => ringSlots(n, BLKIF_SLOT_SIZE))).toEqual([32, 64, 128, 256, 512]);
    expect(createFrontRing(newPages(1), { slotSize: 12 }).size).toBe(256);
  });

  it("the notify rule matches every example of xen-abi.md", () => {
    const cases: [number, number, number, boolean][] = [
      [5, 8, 6, true],
      [5, 8, 8, true],
      [5, 8, 5, false],
      [5, 8, 9, false],
      [0xfffffffe, 2, 0xffffffff, true],
      [0xfffffffe, 2, 1, true],
      [0xfffffffe, 2, 3, false],
    ];
    for (const [o, n, ev, want] of cases) expect(shouldNotify(o, n, ev)).toBe(want);
  });

  it("pushRequests() returns the notify rule's answer for each example when driven through the shared page", () => {
    const cases: [number, number, number, boolean][] = [
      [5, 8, 6, true],
      [5, 8, 8, true],
      [5, 8, 5, false],
      [5, 8, 9, false],
      [0xfffffffe, 2, 0xffffffff, true],
      [0xfffffffe, 2, 1, true],
      [0xfffffffe, 2, 3, false],
    ];
    for (const [o, n, ev, want] of cases) {
      const r = ringAt(o);
      setU32(r.page, 4, ev);
      for (let i = 0; i < (n - o) >>> 0; i++) unwrap(r.front.queueRequest(slot(i)));
      expect(r.front.pushRequests()).toBe(want);
      expect(u32(r.page, 0)).toBe(n);
      // The same rule on the response side.
      for (let i = 0; i < (n - o) >>> 0; i++) unwrap(r.back.takeRequest(new Uint8Array(8)));
      setU32(r.page, 12, ev);
      for (let i = 0; i < (n - o) >>> 0; i++) unwrap(r.back.queueResponse(slot(i)));
      expect(r.back.pushResponses()).toBe(want);
      expect(u32(r.page, 8)).toBe(n);
    }
  });

  it("requests and responses keep order across the 2^32 index wrap", () => {
    const r = ringAt(0xfffffff0);
    const out = new Uint8Array(8);
    let sent = 0;
    let answered = 0;
    for (let round = 0; round < 10; round++) {
      for (let i = 0; i < 5; i++) unwrap(r.front.queueRequest(slot(sent++)));
      r.front.pushRequests();
      for (let i = 0; i < 5; i++) {
        const got = val(unwrap(r.back.takeRequest(out)));
        unwrap(r.back.queueResponse(slot(got * 2)));
      }
      r.back.pushResponses();
      for (let i = 0; i < 5; i++) expect(val(unwrap(r.front.takeResponse(out)))).toBe(2 * answered++);
    }
    expect(r.front.reqProdPvt).toBe((0xfffffff0 + 50) >>> 0);
    expect(u32(r.page, 0)).toBe(34);
    expect(u32(r.page, 8)).toBe(34);
  });

  it("slots live at 64 + (idx & (size - 1)) * slotSize", () => {
    const r = ringAt(0xffffffff, 12);
    unwrap(r.front.queueRequest(new Uint8Array([1, 2, 3])));
    unwrap(r.front.queueRequest(new Uint8Array([4, 5, 6])));
    expect([...r.page.subarray(64 + 255 * 12, 64 + 255 * 12 + 4)]).toEqual([1, 2, 3, 0]);
    expect([...r.page.subarray(64, 67)]).toEqual([4, 5, 6]);
  });

  it("a full ring refuses requests; the backend cannot answer requests it did not take", () => {
    const r = ringAt(0);
    for (let i = 0; i < 256; i++) unwrap(r.front.queueRequest(slot(i)));
    expect(r.front.queueRequest(slot(0))).toEqual(err("ring-full"));
    expect(r.front.freeRequests()).toBe(0);
    expect(r.back.queueResponse(slot(0))).toEqual(err("ring-full"));
    r.front.pushRequests();
    expect(unwrap(r.back.unconsumedRequests())).toBe(256);
  });

  it("the backend's unconsumed count is min(req_prod - req_cons, size - (req_cons - rsp_prod_pvt))", () => {
    const r = ringAt(100);
    for (let i = 0; i < 10; i++) unwrap(r.front.queueRequest(slot(i)));
    r.front.pushRequests();
    for (let i = 0; i < 4; i++) unwrap(r.back.takeRequest(new Uint8Array(8)));
    expect(unwrap(r.back.unconsumedRequests())).toBe(Math.min(10 - 4, 256 - 4));
    expect(r.back.reqCons).toBe(104);
  });

  it("a backend detects req_prod - rsp_prod_pvt > size and refuses to read", () => {
    const r = ringAt(0xfffffff0);
    setU32(r.page, 0, 0xfffffff0 + 257);
    expect(r.back.unconsumedRequests()).toEqual(err("ill-behaved-peer"));
    expect(r.back.takeRequest(new Uint8Array(8))).toEqual(err("ill-behaved-peer"));
    expect(r.back.finalCheckForRequests()).toEqual(err("ill-behaved-peer"));
    setU32(r.page, 0, 0xfffffff0 + 256);
    expect(unwrap(r.back.unconsumedRequests())).toBe(256);
    setU32(r.page, 0, 0xfffffff0 - 1);
    expect(r.back.unconsumedRequests()).toEqual(err("ill-behaved-peer"));
  });

  it("a frontend detects rsp_prod - rsp_cons > size, and responses to requests never sent", () => {
    const r = ringAt(7);
    setU32(r.page, 8, 7 + 257);
    expect(r.front.unconsumedResponses()).toEqual(err("ill-behaved-peer"));
    expect(r.front.takeResponse(new Uint8Array(8))).toEqual(err("ill-behaved-peer"));
    setU32(r.page, 8, 8);
    expect(r.front.unconsumedResponses()).toEqual(err("ill-behaved-peer"));
    unwrap(r.front.queueRequest(slot(1)));
    expect(unwrap(r.front.unconsumedResponses())).toBe(1);
  });

  it("takeRequest() returns a private copy: the frontend rewriting the slot afterwards changes nothing", () => {
    const r = ringAt(0);
    unwrap(r.front.queueRequest(slot(0x11111111)));
    r.front.pushRequests();
    const copy = unwrap(r.back.takeRequest(new Uint8Array(8)));
    r.page.set([0x22, 0x22, 0x22, 0x22], 64);
    expect(val(copy)).toBe(0x11111111);
    expect(copy.buffer).not.toBe(r.page.buffer);
  });

  it("consumeRequest() parses the copy and passes parse errors through", () => {
    const r = ringAt(0);
    unwrap(r.front.queueRequest(slot(5)));
    unwrap(r.front.queueRequest(slot(500)));
    r.front.pushRequests();
    const parse = (b: Uint8Array) => (val(b) < 100 ? ok(val(b)) : err("too-big" as const));
    expect(r.back.consumeRequest(parse)).toEqual(ok(5));
    expect(r.back.consumeRequest(parse)).toEqual(err("too-big"));
    expect(r.back.consumeRequest(parse)).toEqual(err("empty"));
  });

  it("final check arms req_event = req_cons + 1, so the next push notifies; with work pending it reports true", () => {
    const r = ringAt(41);
    expect(r.back.finalCheckForRequests()).toEqual(ok(false));
    expect(u32(r.page, 4)).toBe(42);
    unwrap(r.front.queueRequest(slot(1)));
    expect(r.front.pushRequests()).toBe(true);
    unwrap(r.front.queueRequest(slot(2)));
    expect(r.front.pushRequests()).toBe(false);
    expect(r.back.finalCheckForRequests()).toEqual(ok(true));
    expect(r.front.finalCheckForResponses()).toEqual(ok(false));
    expect(u32(r.page, 12)).toBe(42);
  });

  it("final check catches a request pushed between the first emptiness test and arming the event", () => {
    const r = ringAt(0);
    // Frontend pushes while req_event is still stale (1 <= old index): no notification is sent...
    unwrap(r.front.queueRequest(slot(1)));
    r.front.pushRequests();
    unwrap(r.back.takeRequest(new Uint8Array(8)));
    unwrap(r.front.queueRequest(slot(2)));
    expect(r.front.pushRequests()).toBe(false);
    // ...and the backend's final check re-reads req_prod after arming, so it still sees the work.
    expect(r.back.finalCheckForRequests()).toEqual(ok(true));
  });

  it("a blk ring over 4 pages carries a slot that straddles a page boundary", () => {
    const pages = newPages(4);
    const r = ringAt(0, BLKIF_SLOT_SIZE, pages);
    expect(r.front.size).toBe(128);
    // Slot 72 spans bytes 8128..8240: pages 1 and 2.
    const req = new Uint8Array(112).map((_, i) => i + 1);
    for (let i = 0; i < 73; i++) unwrap(r.front.queueRequest(i === 72 ? req : slot(i, 112)));
    r.front.pushRequests();
    const out = new Uint8Array(112);
    for (let i = 0; i < 72; i++) unwrap(r.back.takeRequest(out));
    expect([...unwrap(r.back.takeRequest(out))]).toEqual([...req]);
    expect([pages[1]![4032], pages[1]![4095], pages[2]![0], pages[2]![47]]).toEqual([1, 64, 65, 112]);
  });

  it("random interleavings never lose, duplicate or reorder entries, never read beyond the producer, never lose a wakeup", () => {
    type Step = "produce" | "push" | "consume" | "respond" | "pushResponses" | "take";
    const stepArb = fc.constantFrom<Step>("produce", "push", "consume", "respond", "pushResponses", "take");
    fc.assert(
      fc.property(fc.nat(300), fc.array(stepArb, { maxLength: 400 }), (back, steps) => {
        const start = (0x100000000 - back) >>> 0;
        const r = ringAt(start, 8);
        const out = new Uint8Array(8);
        let produced = 0,
          published = 0,
          consumed = 0,
          responded = 0,
          respPublished = 0,
          taken = 0;
        const pendingResponses: number[] = [];
        let backAsleep = false,
          frontAsleep = false;
        const run = (s: Step): void => {
          switch (s) {
            case "produce":
              if (r.front.queueRequest(slot(produced)).ok) produced++;
              else expect(produced - taken).toBe(256);
              break;
            case "push": {
              const notify = r.front.pushRequests();
              if (backAsleep && produced > published) expect(notify).toBe(true);
              if (notify) backAsleep = false;
              published = produced;
              break;
            }
            case "consume": {
              const got = r.back.takeRequest(out);
              if (got.ok) {
                expect(val(got.value)).toBe(consumed);
                expect(consumed).toBeLessThan(published);
                pendingResponses.push(consumed++);
              } else {
                expect(got.error).toBe("empty");
                expect(consumed).toBe(published);
                const more = unwrap(r.back.finalCheckForRequests());
                if (!more) backAsleep = true;
              }
              break;
            }
            case "respond": {
              const id = pendingResponses.shift();
              if (id !== undefined) {
                unwrap(r.back.queueResponse(slot(id)));
                responded++;
              }
              break;
            }
            case "pushResponses": {
              const notify = r.back.pushResponses();
              if (frontAsleep && responded > respPublished) expect(notify).toBe(true);
              if (notify) frontAsleep = false;
              respPublished = responded;
              break;
            }
            case "take": {
              const got = r.front.takeResponse(out);
              if (got.ok) {
                expect(val(got.value)).toBe(taken);
                expect(taken).toBeLessThan(respPublished);
                taken++;
              } else {
                expect(got.error).toBe("empty");
                if (!unwrap(r.front.finalCheckForResponses())) frontAsleep = true;
              }
            }
          }
        };
        steps.forEach(run);
        expect(unwrap(r.back.unconsumedRequests())).toBe(published - consumed);
        expect(unwrap(r.front.unconsumedResponses())).toBe(respPublished - taken);
      }),
      { numRuns: 300 },
    );
  });

  it("consumeResponse() parses a copy of the response slot on the frontend side", () => {
    const r = ringAt(9);
    unwrap(r.front.queueRequest(slot(1)));
    r.front.pushRequests();
    unwrap(r.back.takeRequest(new Uint8Array(8)));
    unwrap(r.back.queueResponse(slot(0xabcd)));
    expect(r.back.pushResponses()).toBe(true);
    expect(r.front.consumeResponse((b) => ok(val(b)))).toEqual(ok(0xabcd));
    expect(r.front.consumeResponse((b) => ok(val(b)))).toEqual(err("empty"));
    expect([r.front.rspCons, r.back.rspProdPvt]).toEqual([10, 10]);
  });

  it("programmer misuse (no page, short page, oversized slot or entry, short buffer) throws ERR_NETLAB_RING_ARGS", () => {
    const code = (f: () => unknown): unknown => {
      try {
        f();
      } catch (e) {
        return (e as { code?: string }).code;
      }
      return "no throw";
    };
    expect(code(() => createFrontRing([], { slotSize: 8 }))).toBe("ERR_NETLAB_RING_ARGS");
    expect(code(() => createBackRing([new Uint8Array(100)], { slotSize: 8 }))).toBe("ERR_NETLAB_RING_ARGS");
    expect(code(() => createBackRing(newPages(1), { slotSize: 5000 }))).toBe("ERR_NETLAB_RING_ARGS");
    expect(code(() => createBackRing(newPages(1), { slotSize: 0 }))).toBe("ERR_NETLAB_RING_ARGS");
    const r = ringAt(0);
    expect(code(() => r.front.queueRequest(new Uint8Array(9)))).toBe("ERR_NETLAB_RING_ARGS");
    expect(code(() => r.back.takeRequest(new Uint8Array(4)))).toBe("ERR_NETLAB_RING_ARGS");
    expect(code(() => r.front.takeResponse(new Uint8Array(4)))).toBe("ERR_NETLAB_RING_ARGS");
  });

  it("requestsAvailable() arms req_event at req_prod + 1 only while fewer requests than needed are published", () => {
    const { page, front, back } = ringAt(0xfffffffe, NETIF_RX_SLOT_SIZE);
    for (let i = 0; i < 3; i++) unwrap(front.queueRequest(slot(i)));
    front.pushRequests();
    const before = u32(page, 4);
    expect(unwrap(back.requestsAvailable(3))).toBe(3);
    expect(u32(page, 4)).toBe(before);
    expect(unwrap(back.requestsAvailable(4))).toBe(3);
    // req_prod wrapped to 1: the next request (index 1) must notify.
    expect(u32(page, 4)).toBe(2);
    unwrap(front.queueRequest(slot(3)));
    expect(front.pushRequests()).toBe(true);
    expect(unwrap(back.requestsAvailable(4))).toBe(4);
    setU32(page, 0, 0xfffffffe + 300);
    expect(back.requestsAvailable(1)).toEqual(err("ill-behaved-peer"));
  });
});
