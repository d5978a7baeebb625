// Xen shared rings (xen/io/ring.h) over one or more pages (ring-page-order): header at offset 0
// of the first page, slots from byte 64 of the logical concatenation, slot = idx & (size - 1).
// Indices are free-running u32s published with Atomics on a Uint32Array over the shared page.
// Atomics.load/store/exchange are sequentially consistent, so each one used below is at least
// the barrier ring.h places there; the comments name which barrier it stands for.
// initSharedRing: SHARED_RING_INIT. createFrontRing / createBackRing: the two halves.
// shouldNotify: the notify rule. ringSlots: slot count for a ring of n pages.
// sharedResponseProducer: the rsp_prod a page shows (where BACK_RING_ATTACH starts).

import { err, ok, type Result } from "../../stack/result.ts";
import { RING_HEADER_SIZE, RING_REQ_EVENT, RING_REQ_PROD, RING_RSP_EVENT, RING_RSP_PROD, ringSize } from "../abi/ring.ts";
import { PAGE_SIZE } from "../abi/xen.ts";
import type { BackRing, FrontRing, RingError, RingOptions } from "./types.ts";
import { NetlabError } from "../../stack/error.ts";

const REQ_PROD = RING_REQ_PROD / 4;
const REQ_EVENT = RING_REQ_EVENT / 4;
const RSP_PROD = RING_RSP_PROD / 4;
const RSP_EVENT = RING_RSP_EVENT / 4;

/**
 * The notify rule of RING_PUSH_*_AND_CHECK_NOTIFY: notify iff the peer's event index lies in
 * (old, new], i.e. (new - event) mod 2^32 < (new - old) mod 2^32.
 */
export function shouldNotify(oldIndex: number, newIndex: number, event: number): boolean {
  return (newIndex - event) >>> 0 < (newIndex - oldIndex) >>> 0;
}

/** Slots of a ring spanning `pages` pages with `slotSize`-byte slots (__CONST_RING_SIZE). */
export function ringSlots(pages: number, slotSize: number): number {
  return ringSize(pages * PAGE_SIZE, slotSize);
}

/** SHARED_RING_INIT: req_prod = rsp_prod = 0, req_event = rsp_event = 1, private and padding bytes zeroed. */
export function initSharedRing(firstPage: Uint8Array): void {
  firstPage.fill(0, RING_RSP_EVENT + 4, RING_HEADER_SIZE);
  const idx = indexView(firstPage);
  Atomics.store(idx, REQ_EVENT, 1);
  Atomics.store(idx, RSP_EVENT, 1);
  Atomics.store(idx, REQ_PROD, 0);
  Atomics.store(idx, RSP_PROD, 0);
}

/** The response producer index published in a ring page (a backend re-attaching starts there). */
export function sharedResponseProducer(firstPage: Uint8Array): number {
  return Atomics.load(indexView(firstPage), RSP_PROD);
}

function indexView(firstPage: Uint8Array): Uint32Array {
  return new Uint32Array(firstPage.buffer, firstPage.byteOffset, RING_HEADER_SIZE / 4);
}

function misuse(message: string): Error {
  const e = new NetlabError("ERR_NETLAB_RING_ARGS", message);
  return e;
}

/** Slot storage over possibly non-contiguous pages: copies in and out, splitting at page ends. */
function createSlots(pages: readonly Uint8Array[], slotSize: number) {
  if (pages.length === 0) throw misuse("a ring needs at least one page");
  if (pages.some((p) => p.length < PAGE_SIZE)) throw misuse("ring pages must be 4096 bytes");
  if (!Number.isInteger(slotSize) || slotSize <= 0) throw misuse("bad slot size");
  const size = ringSlots(pages.length, slotSize);
  if (size < 1) throw misuse("slot larger than the ring");
  const mask = size - 1;
  // Decided once per ring, not per copy: a fuzz build that instruments this module pays a native
  // comparison hook for every comparison with a literal it evaluates.
  const bulk = slotSize >= 64;
  const copy = (slot: number, buf: Uint8Array, toShared: boolean): void => {
    let at = RING_HEADER_SIZE + (slot & mask) * slotSize;
    let off = at & (PAGE_SIZE - 1);
    if (off + slotSize <= PAGE_SIZE) {
      // Fast path: the slot lies within one page (always so for single-page rings). Small slots
      // (netif's 8 and 12 bytes) by a byte loop, where a view costs more; larger ones (blkif's 112)
      // with set(): no per-byte loop, which a coverage-instrumented build pays for at every byte.
      const page = pages[at >>> 12]!;
      if (bulk) {
        if (toShared) page.set(slotSize === buf.length ? buf : buf.subarray(0, slotSize), off);
        else buf.set(page.subarray(off, off + slotSize));
      } else if (toShared) for (let i = 0; i < slotSize; i++) page[off + i] = buf[i]!;
      else for (let i = 0; i < slotSize; i++) buf[i] = page[off + i]!;
      return;
    }
    let done = 0;
    while (done < slotSize) {
      const page = pages[at >>> 12]!;
      off = at & (PAGE_SIZE - 1);
      const n = Math.min(slotSize - done, PAGE_SIZE - off);
      if (toShared) page.set(buf.subarray(done, done + n), off);
      else buf.set(page.subarray(off, off + n), done);
      done += n;
      at += n;
    }
  };
  return { size, read: (slot: number, out: Uint8Array) => copy(slot, out, false), write: (slot: number, src: Uint8Array) => copy(slot, src, true) };
}

/** The frontend half. Call initSharedRing on a fresh ring first (FRONT_RING_INIT), or attach with startIndex. */
export function createFrontRing(pages: readonly Uint8Array[], options: RingOptions): FrontRing {
  const { slotSize } = options;
  const slots = createSlots(pages, slotSize);
  const size = slots.size;
  const idx = indexView(pages[0]!);
  const scratch = new Uint8Array(slotSize);
  const copyOut = new Uint8Array(slotSize);
  let reqProdPvt = (options.startIndex ?? 0) >>> 0;
  let reqPublished = reqProdPvt;
  let rspCons = reqProdPvt;

  const unconsumedResponses = (): Result<number, RingError> => {
    // Read barrier: the response slots are read only after this load of rsp_prod.
    const rspProd = Atomics.load(idx, RSP_PROD);
    const avail = (rspProd - rspCons) >>> 0;
    // RING_RESPONSE_PROD_OVERFLOW, and no response may answer a request never queued.
    if (avail > size || avail > (reqProdPvt - rspCons) >>> 0) return err("ill-behaved-peer");
    return ok(avail);
  };

  const takeResponse = (out: Uint8Array): Result<Uint8Array, "empty" | RingError> => {
    if (out.length < slotSize) throw misuse("response buffer smaller than a slot");
    const n = unconsumedResponses();
    if (!n.ok) return n;
    if (n.value === 0) return err("empty");
    slots.read(rspCons, out);
    rspCons = (rspCons + 1) >>> 0;
    return ok(out.length === slotSize ? out : out.subarray(0, slotSize));
  };

  return {
    size,
    slotSize,
    get reqProdPvt() {
      return reqProdPvt;
    },
    get rspCons() {
      return rspCons;
    },
    freeRequests: () => size - ((reqProdPvt - rspCons) >>> 0),
    queueRequest(request) {
      if ((reqProdPvt - rspCons) >>> 0 >= size) return err("ring-full");
      if (request.length > slotSize) throw misuse("request larger than a slot");
      if (request.length === slotSize) slots.write(reqProdPvt, request);
      else {
        scratch.fill(0);
        scratch.set(request);
        slots.write(reqProdPvt, scratch);
      }
      reqProdPvt = (reqProdPvt + 1) >>> 0;
      return ok(undefined);
    },
    pushRequests() {
      const oldIndex = reqPublished;
      const newIndex = reqProdPvt;
      // Write barrier (wmb): the backend sees the request slots before the new req_prod.
      Atomics.store(idx, REQ_PROD, newIndex);
      reqPublished = newIndex;
      // Full barrier (mb): req_event is read after req_prod is visible (seq-cst store then load).
      return shouldNotify(oldIndex, newIndex, Atomics.load(idx, REQ_EVENT));
    },
    unconsumedResponses,
    takeResponse,
    consumeResponse(parse) {
      const r = takeResponse(copyOut);
      return r.ok ? parse(r.value) : r;
    },
    finalCheckForResponses() {
      const first = unconsumedResponses();
      if (!first.ok || first.value > 0) return first.ok ? ok(true) : first;
      Atomics.store(idx, RSP_EVENT, (rspCons + 1) >>> 0);
      // Full barrier (mb): re-read rsp_prod after publishing rsp_event, closing the lost-wakeup race.
      const again = unconsumedResponses();
      return again.ok ? ok(again.value > 0) : again;
    },
  };
}

/** The backend half (BACK_RING_INIT, or BACK_RING_ATTACH with startIndex). */
export function createBackRing(pages: readonly Uint8Array[], options: RingOptions): BackRing {
  const { slotSize } = options;
  const slots = createSlots(pages, slotSize);
  const size = slots.size;
  const idx = indexView(pages[0]!);
  const scratch = new Uint8Array(slotSize);
  const copyOut = new Uint8Array(slotSize);
  let reqCons = (options.startIndex ?? 0) >>> 0;
  let rspProdPvt = reqCons;
  let rspPublished = reqCons;

  const unconsumedRequests = (): Result<number, RingError> => {
    // Read barrier: the request slots are read only after this load of req_prod.
    const reqProd = Atomics.load(idx, REQ_PROD);
    // RING_REQUEST_PROD_OVERFLOW: a frontend cannot have more than `size` requests outstanding.
    if ((reqProd - rspProdPvt) >>> 0 > size) return err("ill-behaved-peer");
    const unconsumed = (reqProd - reqCons) >>> 0;
    const room = size - ((reqCons - rspProdPvt) >>> 0);
    return ok(Math.min(unconsumed, room));
  };

  const takeRequest = (out: Uint8Array): Result<Uint8Array, "empty" | RingError> => {
    if (out.length < slotSize) throw misuse("request buffer smaller than a slot");
    const n = unconsumedRequests();
    if (!n.ok) return n;
    if (n.value === 0) return err("empty");
    slots.read(reqCons, out);
    reqCons = (reqCons + 1) >>> 0;
    return ok(out.length === slotSize ? out : out.subarray(0, slotSize));
  };

  return {
    size,
    slotSize,
    get reqCons() {
      return reqCons;
    },
    get rspProdPvt() {
      return rspProdPvt;
    },
    unconsumedRequests,
    takeRequest,
    consumeRequest(parse) {
      const r = takeRequest(copyOut);
      return r.ok ? parse(r.value) : r;
    },
    queueResponse(response) {
      if (rspProdPvt === reqCons) return err("ring-full");
      if (response.length > slotSize) throw misuse("response larger than a slot");
      if (response.length === slotSize) slots.write(rspProdPvt, response);
      else {
        scratch.fill(0);
        scratch.set(response);
        slots.write(rspProdPvt, scratch);
      }
      rspProdPvt = (rspProdPvt + 1) >>> 0;
      return ok(undefined);
    },
    pushResponses() {
      const oldIndex = rspPublished;
      const newIndex = rspProdPvt;
      // Write barrier (wmb): the frontend sees the response slots before the new rsp_prod.
      Atomics.store(idx, RSP_PROD, newIndex);
      rspPublished = newIndex;
      // Full barrier (mb): rsp_event is read after rsp_prod is visible.
      return shouldNotify(oldIndex, newIndex, Atomics.load(idx, RSP_EVENT));
    },
    requestsAvailable(needed) {
      // Linux xenvif_rx_ring_slots_available: while short, ask to be woken at the next request
      // (req_event = req_prod + 1) and look again unless req_prod moved meanwhile.
      for (let round = 0; round < 4; round++) {
        const a = unconsumedRequests();
        if (!a.ok || a.value >= needed) return a;
        const prod = Atomics.load(idx, REQ_PROD);
        Atomics.store(idx, REQ_EVENT, (prod + 1) >>> 0);
        // Full barrier (mb): req_prod is re-read after req_event is visible.
        if (Atomics.load(idx, REQ_PROD) === prod) return a;
      }
      return ok(0);
    },
    finalCheckForRequests() {
      const first = unconsumedRequests();
      if (!first.ok || first.value > 0) return first.ok ? ok(true) : first;
      Atomics.store(idx, REQ_EVENT, (reqCons + 1) >>> 0);
      // Full barrier (mb): re-read req_prod after publishing req_event, closing the lost-wakeup race.
      const again = unconsumedRequests();
      return again.ok ? ok(again.value > 0) : again;
    },
  };
}
