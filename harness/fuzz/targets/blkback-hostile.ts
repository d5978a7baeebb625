// Fuzz target: dom0's blkback (xen-sim/blk/blkback.ts) fed hostile ring contents by a frontend
// driven by hand (xen-sim/blk/test-support.ts rawFrontend). Byte 0 picks persistent grants and
// the final ring-index abuse; then each 4-byte record [op][nseg|indirect op][sector][flags],
// followed by one byte per segment [pick:2 last:3 first:3], becomes one request, sent alone and
// answered before the next. Segments name one of two writable guest pages, a read-only one, or
// a ref never granted; indirect requests put their segment table in a granted page.
// Oracles: nothing throws; while connected every request gets exactly one response with its id;
// a request during which the hypervisor refused one of dom0's accesses is not answered OKAY; an
// OKAY read fills the guest pages exactly as the segments say and changes no storage; an OKAY
// write/barrier/discard changes exactly the requested sectors (with the segment data, or zeroes);
// any other answer changes no storage; dom0 never maps guest frames outside grants (mapForeign);
// every disconnect is reported, and after it dom0 holds no mapping of the guest's pages.
// Speed: the hypervisor, the guest, its vbd and the four guest pages are built once per process
// on the first input. Each input then gets a fresh disk and a fresh blkback instance over the
// same vbd: the previous instance is crashed (its mappings and port go), the previous raw
// frontend's ring page, grant and port are given back, the frontend goes to Initialising and
// does the handshake again; the guest pages are refilled. So an input's result never depends
// on earlier inputs (checked by blkback-hostile.test.ts).
import { unwrap } from "../../../stack/result.ts";
import { createMemoryStorage } from "../../../xen-sim/blk/memory-storage.ts";
import { createBlkWorld, type BlkWorld } from "../../../xen-sim/blk/sim-world.ts";
import { createBlkback } from "../../../xen-sim/blk/blkback.ts";
import { rawFrontend, type RawFrontend } from "../../../xen-sim/blk/test-support.ts";
import { switchState } from "../../../xen-sim/xenbus/xenbus.ts";
import { XenbusState } from "../../../xen-sim/xenbus/types.ts";
import { BLKIF_SLOT_SIZE, BLKIF_RSP_OKAY } from "../../../xen-sim/abi/blkif.ts";

const SECTORS = 64;
/** Requests per input at most (each is answered before the next: a per-input time bound). */
const MAX_REQUESTS = 48;

function fail(what: string, input: Uint8Array): never {
  throw new Error(`blkback-hostile: ${what}\n  in: ${Buffer.from(input).toString("hex")}`);
}

interface Seg { page: number; first: number; last: number }

interface World {
  readonly w: BlkWorld;
  /** Guest pages 0, 1 writable, 2 read-only, 3 the indirect segment table, and their refs. */
  readonly pages: readonly Uint8Array[];
  readonly refs: readonly number[];
  /** dom0's mapForeign calls (the hook is installed once). */
  foreignMaps: number;
  /** The raw frontend of the previous input. */
  fe?: RawFrontend | undefined;
}

let world: Promise<World> | undefined;

/** Drops the world: the next input builds a new one (tests compare against a fresh process). */
export function resetForTest(): void { world = undefined; }

let outcome = "";
/** What the last input observably did: responses, backend state and faults, disk and guest pages. */
export function lastOutcomeForTest(): string { return outcome; }

async function buildWorld(): Promise<World> {
  const w = await createBlkWorld(createMemoryStorage({ sectors: SECTORS }));
  const pages: Uint8Array[] = [];
  const refs: number[] = [];
  for (let p = 0; p < 4; p++) {
    const frame = unwrap(w.guest.memory.allocPage());
    pages.push(unwrap(w.guest.memory.page(frame)));
    refs.push(unwrap(w.guest.grants.grantAccess(0, frame, p === 2)));
  }
  const world: World = { w, pages, refs, foreignMaps: 0 };
  const mapForeign = w.dom0.mapForeign.bind(w.dom0);
  (w.dom0 as { mapForeign: typeof mapForeign }).mapForeign = (d, f) => { world.foreignMaps++; return mapForeign(d, f); };
  return world;
}

export async function fuzz(data: Buffer): Promise<void> {
  outcome = "";
  if (data.length < 1) return;
  const input = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  const mode = input[0]!;
  const world_ = await (world ??= buildWorld());
  const { w, pages, refs } = world_;
  const storage = createMemoryStorage({ sectors: SECTORS });
  for (let i = 0; i < storage.bytes.length; i++) storage.bytes[i] = (i >> 9) * 7 + (i & 255);
  // A fresh backend instance and handshake over the same vbd.
  w.back.crash();
  if (world_.fe !== undefined) {
    const old = world_.fe;
    world_.fe = undefined;
    w.guest.events.onEvent(old.port, undefined);
    w.guest.events.close(old.port);
    unwrap(w.guest.grants.endAccess(old.ref));
    unwrap(w.guest.memory.freePage(old.frame));
  }
  unwrap(await w.settle(switchState(w.guestXs, w.frontendPath, XenbusState.Initialising)));
  w.back = createBlkback({ domain: w.dom0, xs: w.dom0Xs, storage, clock: w.clock }, { backendPath: w.backendPath });
  world_.foreignMaps = 0;
  unwrap(await w.settle(w.back.start()));
  const fe = await rawFrontend(w, { persistent: (mode & 1) === 1 });
  world_.fe = fe;
  const tick = async (): Promise<void> => { await w.settle(w.dom0Xs.read("/")); };
  for (let i = 0; i < 100 && w.back.state !== "connected" && w.back.faults.length === 0; i++) await tick();
  if (w.back.state !== "connected") fail(`a well-behaved frontend did not connect (${w.back.state})`, input);
  for (let p = 0; p < 4; p++) for (let i = 0; i < 4096; i++) pages[p]![i] = (p * 61 + i * 13) & 255;

  const grefOf = (pick: number): number => (pick < 3 ? refs[pick]! : 4000);
  const seg = (b: number): Seg => ({ page: b >> 6, first: b & 7, last: (b >> 3) & 7 });

  let at = 1, id = 0;
  while (at + 4 <= input.length && w.back.state === "connected" && id < MAX_REQUESTS) {
    const [b0, b1, b2, flags] = [input[at]!, input[at + 1]!, input[at + 2]!, input[at + 3]!];
    at += 4;
    const op = b0 & 7;
    const sector = b2 < 240 ? b2 % (SECTORS + 8) : b2 === 255 ? 2 ** 60 : 2 ** 32 + b2;
    const slot = new Uint8Array(BLKIF_SLOT_SIZE);
    const v = new DataView(slot.buffer);
    id++;
    const reqId = flags & 0x80 ? 7 : id;
    v.setUint8(0, b0 & 8 ? b0 : op);
    v.setUint32(8, reqId, true);
    v.setBigUint64(16, BigInt(sector), true);
    let segs: Seg[] = [];
    let write = false, discard = 0;
    if (op === 6) {
      // Indirect: b1 bit 0 picks WRITE, bit 1 a bogus indirect op; the table goes in page 3.
      const nseg = Math.min(flags & 0x3f, input.length - at);
      segs = Array.from(input.subarray(at, at + nseg), seg);
      at += nseg;
      const table = new DataView(pages[3]!.buffer, pages[3]!.byteOffset, 4096);
      segs.forEach((s, i) => { table.setUint32(8 * i, grefOf(s.page), true); table.setUint8(8 * i + 4, s.first); table.setUint8(8 * i + 5, s.last); });
      write = (b1 & 1) === 1;
      v.setUint8(1, b1 & 2 ? b1 : write ? 1 : 0);
      v.setUint16(2, flags & 0x40 ? nseg + 600 : nseg, true);
      v.setUint32(28, flags & 0x40 ? 4000 : refs[3]!, true);
    } else if (op === 5) {
      discard = b1 % (SECTORS + 4);
      v.setUint8(1, flags & 1);
      v.setBigUint64(24, BigInt(flags & 0x40 ? 2 ** 40 : discard), true);
    } else {
      const nseg = Math.min(b1 % 13, input.length - at);
      segs = Array.from(input.subarray(at, at + nseg), seg);
      at += nseg;
      v.setUint8(1, b1 % 13);
      segs.slice(0, 11).forEach((s, i) => { v.setUint32(24 + 8 * i, grefOf(s.page), true); v.setUint8(28 + 8 * i, s.first); v.setUint8(29 + 8 * i, s.last); });
      write = op === 1 || op === 2 || op === 3;
    }

    const diskBefore = storage.bytes.slice();
    const pagesBefore = pages.map((p) => p.slice());
    const refusedBefore = w.hv.refusals.byDomain.get(0) ?? 0;
    const answered = fe.responses().length;
    fe.send([slot]);
    await tick();
    if (w.back.state !== "connected") break;
    const rs = fe.responses().slice(answered);
    if (rs.length !== 1) fail(`request ${reqId} got ${rs.length} responses`, input);
    const rv = new DataView(rs[0]!.buffer, rs[0]!.byteOffset, 16);
    if (rv.getUint32(0, true) !== reqId || rv.getUint32(4, true) !== 0) fail(`request ${reqId} answered with id ${rv.getBigUint64(0, true)}`, input);
    const okay = rv.getInt16(10, true) === BLKIF_RSP_OKAY;
    const refused = (w.hv.refusals.byDomain.get(0) ?? 0) - refusedBefore;
    if (okay && refused > 0) fail(`request ${reqId} answered OKAY although ${refused} access(es) were refused`, input);
    if (!okay) {
      if (storage.bytes.some((b, i) => b !== diskBefore[i])) fail(`request ${reqId} failed but changed the disk`, input);
      continue;
    }
    const rop = v.getUint8(0);
    if (segs.some((s) => s.page === 3)) fail(`request ${reqId} OKAY with a segment naming an ungranted ref`, input);
    // Model of what an OKAY request does.
    const disk = diskBefore.slice();
    const expectPages = pagesBefore.map((p) => p.slice());
    if (rop === 5) disk.fill(0, sector * 512, (sector + discard) * 512);
    else if (rop <= 3 || rop === 6) {
      let s = sector;
      for (const g of segs) {
        const len = (g.last - g.first + 1) * 512;
        if (write) disk.set(expectPages[g.page]!.subarray(g.first * 512, g.first * 512 + len), s * 512);
        else expectPages[g.page]!.set(diskBefore.subarray(s * 512, s * 512 + len), g.first * 512);
        s += g.last - g.first + 1;
      }
    }
    const d = storage.bytes.findIndex((b, i) => b !== disk[i]);
    if (d >= 0) fail(`request ${reqId} (op ${rop}, sector ${sector}) left disk byte ${d} (sector ${d >> 9}) = ${storage.bytes[d]}, expected ${disk[d]}`, input);
    for (let p = 0; p < 3; p++) {
      const e = pages[p]!.findIndex((b, i) => b !== expectPages[p]![i]);
      if (e >= 0) fail(`request ${reqId} (op ${rop}) left guest page ${p} byte ${e} = ${pages[p]![e]}, expected ${expectPages[p]![e]}`, input);
    }
  }

  if (w.back.state === "connected" && mode & 6) {
    fe.setReqProd(mode & 2 ? fe.ring.reqProdPvt + 33 + (mode >> 3) : fe.ring.reqProdPvt - 1);
    for (let i = 0; i < 20; i++) await tick();
  }
  const hex = (p: Uint8Array): string => Buffer.from(p).toString("hex");
  outcome = JSON.stringify({
    responses: fe.responses().map(hex), state: w.back.state, faults: w.back.faults.map((f) => JSON.stringify(f)),
    disk: hex(storage.bytes), pages: pages.map(hex), ring: hex(fe.page), mapped: w.dom0.grants.mappingCount,
  });
  if (world_.foreignMaps > 0) fail(`dom0 mapped ${world_.foreignMaps} guest frame(s) outside grants`, input);
  if (w.back.state !== "connected") {
    if (w.back.faults.length === 0) fail(`blkback went ${w.back.state} without reporting a fault`, input);
    for (let i = 0; i < 20; i++) await tick();
    if (w.dom0.grants.mappingCount !== 0) fail(`after the disconnect dom0 still maps ${w.dom0.grants.mappingCount} guest page(s)`, input);
  }
}

/** Seeds: good reads and writes over both pages, a barrier, a discard, an indirect write, and bad shapes. */
export function seeds(): Uint8Array[] {
  const s = (b: number, first: number, last: number): number => (b << 6) | (last << 3) | first;
  return [
    Uint8Array.from([0, 1, 2, 3, 0, s(0, 0, 7), s(1, 2, 3), 0, 2, 8, 0, s(0, 0, 7), s(1, 0, 1), 3, 0, 0, 0]),
    Uint8Array.from([1, 2, 1, 4, 0, s(1, 4, 7), 5, 6, 10, 0, 6, 1, 20, 3, s(0, 0, 7), s(1, 0, 7), s(0, 3, 3), 6, 0, 20, 2, s(1, 0, 7), s(0, 1, 1)]),
    Uint8Array.from([2, 0, 1, 0, 0, s(2, 0, 7), 1, 1, 0, 0, s(3, 0, 0), 0, 1, 62, 0, s(0, 0, 7), 4, 0, 0, 0, 77, 0, 0, 0]),
    Uint8Array.from([0, 0, 12, 0, 0, 6, 2, 0, 0x41, s(0, 0, 7), 5, 3, 255, 0, 0, 1, 250, 0, s(0, 0, 0)]),
  ];
}
