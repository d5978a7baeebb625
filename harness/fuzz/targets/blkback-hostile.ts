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
// every disconnect is reported, and after it dom0 holds no mapping of the guest's pages (of this
// vbd); a direct request declaring more than BLKIF_MAX_SEGMENTS_PER_REQUEST (11) segments, or an
// indirect one more than feature-max-indirect-segments, is never answered OKAY.
// Speed: the hypervisor, the guest, two vbds (one per persistent-grants choice, each with its
// blkback and raw frontend connected) and the four guest pages are built once per process on
// the first input. After an input that left its vbd connected, the next input on it gets the
// same backend with its ring re-attached (Blkback.reattachRing: fresh positions, no persistent
// grants) over the raw frontend's re-initialised ring page, and the disk refilled: no xenstore
// traffic. After a disconnect the vbd gets a fresh disk and a fresh blkback instance: the
// previous one is crashed, the raw frontend's ring page, grant and port are given back, the
// frontend goes to Initialising and does the handshake again (the raw frontend's writes committed
// as the guest straight into xenstored's tree: the same tree and watch events, without requests). The guest pages are refilled for
// every input, and requests are served on the virtual clock synchronously. So an input's result
// never depends on earlier inputs (checked by blkback-hostile.test.ts); dom0 keeps the other
// vbd's ring mapped, so mapping counts are read relative to the input's start.
import { unwrap } from "../../../stack/result.ts";
import { createMemoryStorage } from "../../../xen-sim/blk/memory-storage.ts";
import { createBlkWorld, XVDA, type BlkWorld } from "../../../xen-sim/blk/sim-world.ts";
import { createBlkback } from "../../../xen-sim/blk/blkback.ts";
import { rawFrontend, type RawFrontend } from "../../../xen-sim/blk/test-support.ts";
import { XenbusState } from "../../../xen-sim/xenbus/types.ts";
import { BLKIF_SLOT_SIZE, BLKIF_RSP_OKAY, BLKIF_MAX_SEGMENTS_PER_REQUEST } from "../../../xen-sim/abi/blkif.ts";
import { DEFAULT_MAX_INDIRECT_SEGMENTS } from "../../../xen-sim/blk/blkback.ts";
import type { Blkback } from "../../../xen-sim/blk/types.ts";
import type { VirtualClock } from "../../../stack/time.ts";
import { firstDifference } from "../oracles.ts";
import { commitAs, untilQuiet } from "../kit/target-world.ts";
import { pumpUntil } from "../../../stack/settle.ts";

/**
 * The code under attack, the only code Jazzer.js instruments for this target (runner.ts
 * bundleTarget): the hypervisor, xenstore and toolstack around it run uninstrumented.
 */
export const instrumentOnly = ["xen-sim/blk/blkback.ts", "xen-sim/ring/", "xen-sim/abi/", "xen-sim/xenbus/"];

const SECTORS = 64;
/** Requests per input at most (each is answered before the next: a per-input time bound). */
const MAX_REQUESTS = 48;

function fail(what: string, input: Uint8Array): never {
  throw new Error(`blkback-hostile: ${what}\n  in: ${Buffer.from(input).toString("hex")}`);
}

interface Seg {
  page: number;
  first: number;
  last: number;
}

/** One vbd: the world seen through its paths, its backend, disk and raw frontend. */
interface Vbd {
  readonly view: BlkWorld;
  back: Blkback;
  storage: ReturnType<typeof createMemoryStorage>;
  fe: RawFrontend;
  readonly persistent: boolean;
}

interface World {
  readonly w: BlkWorld;
  /** Guest pages 0, 1 writable, 2 read-only, 3 the indirect segment table, and their refs. */
  readonly pages: readonly Uint8Array[];
  readonly refs: readonly number[];
  /** dom0's mapForeign calls (the hook is installed once). */
  foreignMaps: number;
  /** By persistent-grants choice (input bit 0). */
  readonly vbds: readonly Vbd[];
}

let world: Promise<World> | undefined;
let recording = false;

/** Drops the world: the next input builds a new one (tests compare against a fresh process); turns outcome recording on. */
export function resetForTest(): void {
  world = undefined;
  recording = true;
}

/** The disk every input starts with, and the guest pages' contents. */
const DISK = Uint8Array.from({ length: SECTORS * 512 }, (_, i) => (i >> 9) * 7 + (i & 255));
const PAGE_FILL = Array.from({ length: 4 }, (_, p) => Uint8Array.from({ length: 4096 }, (_, i) => (p * 61 + i * 13) & 255));

/** Fires the clock's timers synchronously until none is due (at most `cap`). */
function runClock(clock: VirtualClock, cap = 100_000): void {
  let fired = 0;
  for (let next = clock.nextDeadline(); next !== undefined && fired < cap; next = clock.nextDeadline()) fired += clock.run(next, cap - fired);
}

/** A fresh disk and blkback instance for the vbd and the raw frontend's handshake (the previous instance crashed, its frontend's ring given back). */
async function handshake(vbd: Vbd, first: boolean): Promise<void> {
  const w = vbd.view;
  const storage = createMemoryStorage({ sectors: SECTORS });
  if (!first) {
    vbd.back.crash();
    const old = vbd.fe;
    w.guest.events.onEvent(old.port, undefined);
    w.guest.events.close(old.port);
    unwrap(w.guest.grants.endAccess(old.ref));
    unwrap(w.guest.memory.freePage(old.frame));
    // The guest's writes (the harness plays the frontend) go straight into xenstored's tree as the
    // guest (commitAs): the same tree and watch events, without their requests.
    commitAs(w.toolstack.daemon.server, w.guest.id, [{ path: `${w.frontendPath}/state`, value: String(XenbusState.Initialising) }]);
  }
  vbd.storage = storage;
  vbd.back = createBlkback({ domain: w.dom0, xs: w.dom0Xs, storage, clock: w.clock }, { backendPath: w.backendPath });
  unwrap(await w.settle(vbd.back.start()));
  vbd.fe = await rawFrontend(w, { persistent: vbd.persistent, direct: true });
  await pumpUntil(w.clock, () => vbd.back.state === "connected" || vbd.back.faults.length > 0, { maxIterations: 5000 });
  if (vbd.back.state !== "connected") throw new Error(`blkback-hostile: a well-behaved frontend did not connect (${vbd.back.state})`);
}

let outcome = "";
/** What the last input observably did: responses, backend state and faults, disk and guest pages. */
export function lastOutcomeForTest(): string {
  return outcome;
}

async function buildWorld(): Promise<World> {
  const w = await createBlkWorld(createMemoryStorage({ sectors: SECTORS }));
  const pages: Uint8Array[] = [];
  const refs: number[] = [];
  for (let p = 0; p < 4; p++) {
    const frame = unwrap(w.guest.memory.allocPage());
    pages.push(unwrap(w.guest.memory.page(frame)));
    refs.push(unwrap(w.guest.grants.grantAccess(0, frame, p === 2)));
  }
  const vbds: Vbd[] = [];
  for (const persistent of [false, true]) {
    let view: BlkWorld = w;
    if (persistent) {
      const dev = unwrap(await w.settle(w.toolstack.addVbd(w.guest.id, { virtualDevice: XVDA + 16, params: "memory" })));
      view = { ...w, device: dev, frontendPath: dev.frontendPath, backendPath: dev.backendPath };
    }
    const vbd = { view, persistent } as Vbd;
    await handshake(vbd, true);
    vbds.push(vbd);
  }
  const world: World = { w, pages, refs, foreignMaps: 0, vbds };
  const mapForeign = w.dom0.mapForeign.bind(w.dom0);
  (w.dom0 as { mapForeign: typeof mapForeign }).mapForeign = (d, f) => {
    world.foreignMaps++;
    return mapForeign(d, f);
  };
  return world;
}

export async function fuzz(data: Buffer): Promise<void> {
  outcome = "";
  if (data.length < 1) return;
  const input = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  const mode = input[0]!;
  const world_ = await (world ??= buildWorld());
  const { pages, refs } = world_;
  const vbd = world_.vbds[mode & 1]!;
  const w = vbd.view;
  // A fresh connection: the ring re-attached on both sides, or after a disconnect a new instance and handshake.
  if (vbd.back.state === "connected" && w.clock.nextDeadline() === undefined) {
    vbd.fe.reset();
    if (!vbd.back.reattachRing()) fail("blkback did not re-attach the ring of a connected vbd", input);
  } else await handshake(vbd, false);
  vbd.storage.bytes.set(DISK);
  const { fe, storage } = vbd;
  const back = vbd.back;
  const faultsBefore = back.faults.length;
  world_.foreignMaps = 0;
  const tick = (): void => {
    runClock(w.clock);
  };
  for (let p = 0; p < 4; p++) pages[p]!.set(PAGE_FILL[p]!);
  const mappedBefore = w.dom0.grants.mappingCount;

  const grefOf = (pick: number): number => (pick < 3 ? refs[pick]! : 4000);
  const seg = (b: number): Seg => ({ page: b >> 6, first: b & 7, last: (b >> 3) & 7 });

  let at = 1,
    id = 0;
  while (at + 4 <= input.length && back.state === "connected" && id < MAX_REQUESTS) {
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
    let write = false,
      discard = 0,
      declared = 0;
    if (op === 6) {
      // Indirect: b1 bit 0 picks WRITE, bit 1 a bogus indirect op; the table goes in page 3.
      const nseg = Math.min(flags & 0x3f, input.length - at);
      segs = Array.from(input.subarray(at, at + nseg), seg);
      at += nseg;
      const table = new DataView(pages[3]!.buffer, pages[3]!.byteOffset, 4096);
      segs.forEach((s, i) => {
        table.setUint32(8 * i, grefOf(s.page), true);
        table.setUint8(8 * i + 4, s.first);
        table.setUint8(8 * i + 5, s.last);
      });
      write = (b1 & 1) === 1;
      v.setUint8(1, b1 & 2 ? b1 : write ? 1 : 0);
      v.setUint16(2, flags & 0x40 ? nseg + 600 : nseg, true);
      declared = flags & 0x40 ? nseg + 600 : nseg;
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
      declared = b1 % 13;
      segs.slice(0, 11).forEach((s, i) => {
        v.setUint32(24 + 8 * i, grefOf(s.page), true);
        v.setUint8(28 + 8 * i, s.first);
        v.setUint8(29 + 8 * i, s.last);
      });
      write = op === 1 || op === 2 || op === 3;
    }

    const diskBefore = storage.bytes.slice();
    const pagesBefore = pages.map((p) => p.slice());
    const refusedBefore = w.hv.refusals.byDomain.get(0) ?? 0;
    const answered = fe.responses().length;
    fe.send([slot]);
    tick();
    if (back.state !== "connected") break;
    const rs = fe.responses().slice(answered);
    if (rs.length !== 1) fail(`request ${reqId} got ${rs.length} responses`, input);
    const rv = new DataView(rs[0]!.buffer, rs[0]!.byteOffset, 16);
    if (rv.getUint32(0, true) !== reqId || rv.getUint32(4, true) !== 0) fail(`request ${reqId} answered with id ${rv.getBigUint64(0, true)}`, input);
    const okay = rv.getInt16(10, true) === BLKIF_RSP_OKAY;
    const refused = (w.hv.refusals.byDomain.get(0) ?? 0) - refusedBefore;
    if (okay && refused > 0) fail(`request ${reqId} answered OKAY although ${refused} access(es) were refused`, input);
    if (!okay) {
      if (firstDifference(storage.bytes, diskBefore) >= 0) fail(`request ${reqId} failed but changed the disk`, input);
      continue;
    }
    const rop = v.getUint8(0);
    if (rop <= 3 && declared > BLKIF_MAX_SEGMENTS_PER_REQUEST) fail(`request ${reqId} (op ${rop}) declaring ${declared} segments answered OKAY`, input);
    if (rop === 6 && declared > DEFAULT_MAX_INDIRECT_SEGMENTS) fail(`indirect request ${reqId} declaring ${declared} segments answered OKAY`, input);
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
    const d = firstDifference(storage.bytes, disk);
    if (d >= 0) fail(`request ${reqId} (op ${rop}, sector ${sector}) left disk byte ${d} (sector ${d >> 9}) = ${storage.bytes[d]}, expected ${disk[d]}`, input);
    for (let p = 0; p < 3; p++) {
      const e = firstDifference(pages[p]!, expectPages[p]!);
      if (e >= 0) fail(`request ${reqId} (op ${rop}) left guest page ${p} byte ${e} = ${pages[p]![e]}, expected ${expectPages[p]![e]}`, input);
    }
  }

  if (back.state === "connected" && mode & 6) {
    fe.setReqProd(mode & 2 ? fe.ring.reqProdPvt + 33 + (mode >> 3) : fe.ring.reqProdPvt - 1);
    tick();
  }
  const hex = (p: Uint8Array): string => Buffer.from(p).toString("hex");
  if (recording) {
    outcome = JSON.stringify({
      responses: fe.responses().map(hex),
      state: back.state,
      faults: back.faults.slice(faultsBefore).map((f) => JSON.stringify(f)),
      disk: hex(storage.bytes),
      pages: pages.map(hex),
      ring: hex(fe.page),
      mapped: w.dom0.grants.mappingCount - mappedBefore,
    });
  }
  if (world_.foreignMaps > 0) fail(`dom0 mapped ${world_.foreignMaps} guest frame(s) outside grants`, input);
  if (back.state !== "connected") {
    if (back.faults.length === faultsBefore) fail(`blkback went ${back.state} without reporting a fault`, input);
    // Everything the disconnect set going runs to its end (every timer, every continuation).
    await untilQuiet(w.clock, () => true, { maxIterations: 5000, horizonMs: Infinity });
    // This vbd's ring (the only mapping it held at the start) and everything mapped since are gone.
    const left = w.dom0.grants.mappingCount - (mappedBefore - 1);
    if (left !== 0) fail(`after the disconnect dom0 still maps ${left} guest page(s)`, input);
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
