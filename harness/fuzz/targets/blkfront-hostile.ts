// Fuzz target: a guest's blkfront (xen-sim/blk/blkfront.ts) against a hostile backend driven by
// hand (xen-sim/blk/test-support.ts rawBackend). Byte 0: how many callers (1..4) and the final
// ring-index abuse; then per caller [kind][sector][count] (read, write or flush); then records of
// 3 bytes, each forging one response [pick][status][op]: pick < 0xc0 names a request taken from
// the ring (whose read pages the backend first fills with the true data of its sectors), else a
// raw id (one answered before, a pending request's with the high half of the 64-bit id set, or a
// made-up number); status and op are echoed, or made up. The callers' results are kept.
// Oracles: nothing throws; a read resolved ok holds exactly the data of the sectors that caller
// asked for (never another request's data); a caller never resolves twice or with another
// request's shape; every fault is reported with the device then in "error", and "error" only
// after a reported fault; once in "error" every later request fails with "disconnected".
// Speed: the hypervisor, dom0, the guest and its vbd are built once per process on the first input.
// After an input that left blkfront connected (and the virtual clock idle), blkfront starts over on
// its ring page (Blkfront.resetRing: requests left from the input fail, data pages given back, fresh
// ring, every id free) and the hand-driven backend re-attaches its ring there (RawBackend.reset),
// with no xenstore traffic; after a fault (blkfront in "error" for good) the old blkfront is closed,
// dom0 drops its mapping and a new blkfront goes through the handshake on the same vbd (dom0's
// writes committed as dom0 straight into xenstored's tree: the same tree and watch events, without
// their requests; blkfront keeps its connection). Ring work runs on the virtual clock
// synchronously; only a new handshake pumps promises. So an input's result never depends on
// earlier inputs (checked by blkfront-hostile.test.ts).
import { createMemoryStorage } from "../../../xen-sim/blk/memory-storage.ts";
import { createBlkfront } from "../../../xen-sim/blk/blkfront.ts";
import { createBlkWorld, type BlkWorld } from "../../../xen-sim/blk/sim-world.ts";
import { finishKeptGrant, rawBackend, responseBytes, type RawBackend } from "../../../xen-sim/blk/test-support.ts";
import { pumpUntil } from "../../../stack/settle.ts";
import { XenbusState } from "../../../xen-sim/xenbus/types.ts";
import { BLKIF_OP_READ, BLKIF_RSP_EOPNOTSUPP, BLKIF_RSP_ERROR, BLKIF_RSP_OKAY } from "../../../xen-sim/abi/blkif.ts";
import type { BlkFault, Blkfront } from "../../../xen-sim/blk/types.ts";
import { firstDifference } from "../oracles.ts";
import { commitAs, peekText } from "../kit/target-world.ts";

/**
 * The code under attack, the only code Jazzer.js instruments for this target (runner.ts
 * bundleTarget): the hypervisor, xenstore and toolstack around it run uninstrumented.
 */
export const instrumentOnly = ["xen-sim/blk/blkfront.ts", "xen-sim/ring/", "xen-sim/abi/", "xen-sim/xenbus/"];

const SECTORS = 256;
const byteOf = (sector: number, i: number): number => (sector * 37 + i * 11 + (i >> 8)) & 255;
/** The 512 bytes of a sector, built once (a byte loop per input is instrumented per byte under Jazzer.js). */
const SECTOR_DATA = new Map<number, Uint8Array>();
const sectorData = (sector: number): Uint8Array => {
  let d = SECTOR_DATA.get(sector);
  if (d === undefined) {
    d = Uint8Array.from({ length: 512 }, (_, i) => byteOf(sector, i));
    if (SECTOR_DATA.size < 4096) SECTOR_DATA.set(sector, d);
  }
  return d;
};

function fail(what: string, input: Uint8Array): never {
  throw new Error(`blkfront-hostile: ${what}\n  in: ${Buffer.from(input).toString("hex")}`);
}

interface World {
  readonly w: BlkWorld;
  front: Blkfront;
  be: RawBackend;
  readonly faults: BlkFault[];
  used: boolean;
}

let world: Promise<World> | undefined;
/** Whether outcomes are recorded (tests only). */
let recording = false;

/** Drops the world: the next input builds a new one (tests compare against a fresh process); turns outcome recording on. */
export function resetForTest(): void {
  world = undefined;
  recording = true;
}

let outcome = "";
/** What the last input observably did: callers' results, faults, device state, requests taken without grant refs (after resetForTest). */
export function lastOutcomeForTest(): string {
  return outcome;
}

/** Connects `front` to a new hand-driven backend (the frontend's handshake). */
async function handshake(w: BlkWorld, front: Blkfront, faults: BlkFault[]): Promise<RawBackend> {
  front.onFault((f) => faults.push(f));
  const ready = front.connect();
  const be = await rawBackend(w, SECTORS, {}, { direct: true });
  if (!(await w.settle(ready)).ok) throw new Error("blkfront-hostile: did not connect to a well-behaved backend");
  return be;
}

async function buildWorld(): Promise<World> {
  const w = await createBlkWorld(createMemoryStorage());
  const faults: BlkFault[] = [];
  return { w, front: w.front, be: await handshake(w, w.front, faults), faults, used: false };
}

/** After a fault: the dead blkfront is closed, dom0 lets go of its ring, the toolstack resets the vbd and a new blkfront connects. */
async function reconnect(x: World): Promise<void> {
  const { w } = x;
  // Let the fault's xenstore writes (error node, Closing) finish first: done once Closing is in
  // the tree and no timer is left (the reply to that commit has reached the guest); a frontend
  // that did not fault runs until the clock stays idle.
  const closingWritten = (): boolean =>
    x.front.state === "error" &&
    w.clock.nextDeadline() === undefined &&
    peekText(w.toolstack.daemon.server, `${w.frontendPath}/state`) === String(XenbusState.Closing);
  await pumpUntil(w.clock, closingWritten, { maxIterations: 2000 });
  await w.settle(x.front.close());
  x.be.close();
  // A faulting blkfront tears its ring down while the backend still maps it: the grant cannot end
  // and the page is kept (stats.leakedPages). Linux's gnttab frees it once the backend unmaps (a
  // deferred free); the backend has now unmapped, and the harness finishes that free, as
  // xenbus-blkfront-hostile does (without it the guest ran out of its 16,384 pages after ~6,500
  // reconnects, and every campaign stopped on a handshake that could not allocate a ring).
  const ring = w.guest.grants.entry(x.be.ringRef);
  if (ring !== undefined) finishKeptGrant(w.guest, x.be.ringRef, ring.frame);
  // The error node the fault wrote (absent in a fresh world); the vbd's frontend state as the toolstack left it.
  // (dom0's writes, committed as dom0 straight into xenstored's tree: no requests.)
  const server = w.toolstack.daemon.server;
  const error = `${w.frontendPath.replace(/\/device\/.*/, "")}/error`;
  commitAs(server, 0, [
    ...(server.peek(error) === undefined ? [] : [{ path: error }]),
    { path: `${w.frontendPath}/state`, value: String(XenbusState.Initialising) },
  ]);
  x.front = createBlkfront({ domain: w.guest, xs: w.guestXs }, { frontendPath: w.frontendPath });
  x.be = await handshake(w, x.front, x.faults);
}

export async function fuzz(data: Buffer): Promise<void> {
  outcome = "";
  if (data.length < 1) return;
  const input = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  const mode = input[0]!;
  const x = await (world ??= buildWorld());
  const { w, faults } = x;
  // A fresh connection: the ring re-initialised on both sides; after a fault, a new frontend and handshake.
  if (x.used) {
    if (x.front.state === "connected" && w.clock.nextDeadline() === undefined && x.front.resetRing()) x.be.reset();
    else await reconnect(x);
  }
  x.used = true;
  const { front, be } = x;
  faults.length = 0;
  // Runs every due event (responses are handled synchronously in blkfront's event handler).
  const tick = (): void => {
    w.clock.run(Infinity, 100_000);
  };

  interface Caller {
    kind: "read" | "write" | "flush";
    sector: number;
    count: number;
    settled: number;
    result?: { ok: boolean; error?: string; value?: Uint8Array };
  }
  const callers: Caller[] = [];
  let at = 1;
  const n = 1 + (mode & 3);
  for (let i = 0; i < n && at + 3 <= input.length; i++, at += 3) {
    const k = input[at]! % 3;
    const c: Caller = {
      kind: k === 0 ? "read" : k === 1 ? "write" : "flush",
      sector: input[at + 1]! % (SECTORS - 16),
      count: 1 + (input[at + 2]! % 16),
      settled: 0,
    };
    callers.push(c);
    const p =
      c.kind === "read" ? front.read(c.sector, c.count) : c.kind === "write" ? front.write(c.sector, new Uint8Array(c.count * 512).fill(0xee)) : front.flush();
    void p.then((r) => {
      c.settled++;
      c.result = r.ok ? { ok: true, ...(r.value instanceof Uint8Array ? { value: r.value } : {}) } : { ok: false, error: r.error };
    });
  }
  tick();

  // Forge responses.
  const answered: number[] = [];
  for (let forged = 0; at + 3 <= input.length && forged < 64; at += 3, forged++) {
    be.poll();
    const reqs = be.requests();
    const [pick, st, opSel] = [input[at]!, input[at + 1]!, input[at + 2]!];
    const req = pick < 0xc0 && reqs.length > 0 ? reqs[pick % reqs.length]! : undefined;
    const rv = req && new DataView(req.buffer, req.byteOffset, req.byteLength);
    // raw ids: one answered before, a pending request's id with the high half of the 64-bit id
    // set (naming no request: blkfront must not take it for that one), or a made-up number
    const pending = pick & 0x10 && reqs.length > 0 ? reqs[pick % reqs.length]! : undefined;
    const id = rv
      ? rv.getUint32(8, true) + rv.getUint32(12, true) * 2 ** 32
      : pick & 0x20 && answered.length > 0
        ? answered[pick % answered.length]!
        : pending !== undefined
          ? ((pending[8]! | (pending[9]! << 8) | (pending[10]! << 16) | (pending[11]! << 24)) >>> 0) + 2 ** 32 * (1 + (pick & 7))
          : pick * 977;
    const op = opSel < 0xe0 && req ? req[0]! : opSel & 7;
    const status = st < 0xd0 ? BLKIF_RSP_OKAY : st < 0xe0 ? BLKIF_RSP_ERROR : st < 0xf0 ? BLKIF_RSP_EOPNOTSUPP : (st << 24) >> 24;
    if (rv && req![0] === BLKIF_OP_READ) {
      // The backend reads the disk truthfully into the request's pages.
      let s = Number(rv.getBigUint64(16, true));
      for (let i = 0; i < req![1]! && i < 11; i++) {
        const gref = rv.getUint32(24 + 8 * i, true),
          first = req![28 + 8 * i]!,
          last = req![29 + 8 * i]!;
        const m = w.dom0.grants.map(w.guest.id, gref);
        if (!m.ok) continue;
        for (let sec = first; sec <= last && sec < 8; sec++, s++) m.value.page.set(sectorData(s), sec * 512);
        w.dom0.grants.unmap(m.value.handle);
      }
    }
    be.forgeResponse(responseBytes(id, op, status));
    answered.push(id);
    if (pick & 1) tick();
  }
  tick();
  if (front.state !== "error" && mode & 0x0c) {
    be.setRspProd(mode & 4 ? 40 + (mode >> 4) : 0);
    tick();
  }
  for (let i = 0; i < 5; i++) tick();
  // The callers' promises resolve in microtasks.
  await new Promise<void>((r) => setImmediate(r));

  if (recording) {
    const hex = (b: Uint8Array): string => Buffer.from(b).toString("hex");
    outcome = JSON.stringify({
      callers: callers.map((c) => ({ settled: c.settled, ok: c.result?.ok, error: c.result?.error, value: c.result?.value && hex(c.result.value) })),
      faults: faults.map((f) => f.reason),
      state: front.state,
      requests: be.requests().map((r) => {
        const c = r.slice();
        for (let i = 0; i < 11; i++) c.fill(0, 24 + 8 * i, 28 + 8 * i);
        return hex(c);
      }),
    });
  }
  for (const [i, c] of callers.entries()) {
    if (c.settled > 1) fail(`caller ${i} settled ${c.settled} times`, input);
    if (!c.result?.ok) continue;
    if (c.kind !== "read") {
      if (c.result.value !== undefined) fail(`${c.kind} caller ${i} resolved with data`, input);
      continue;
    }
    const v = c.result.value;
    if (v === undefined || v.length !== c.count * 512) fail(`read caller ${i} got ${v?.length} bytes for ${c.count} sectors`, input);
    for (let k = 0; k < c.count; k++) {
      const j = firstDifference(v.subarray(k * 512, k * 512 + 512), sectorData(c.sector + k));
      if (j >= 0)
        fail(`read caller ${i} (sectors ${c.sector}+${c.count}) got byte ${k * 512 + j} = ${v[k * 512 + j]}, not the data of sector ${c.sector + k}`, input);
    }
  }
  if (faults.length > 0 && front.state !== "error") fail(`fault ${faults[0]!.reason} reported but the device is ${front.state}`, input);
  if (front.state === "error") {
    if (faults.length === 0) fail("the device went to error without reporting a fault", input);
    const later = await w.settle(front.read(0, 1));
    if (later.ok || later.error !== "disconnected") fail(`a request after the fault gave ${JSON.stringify(later)}`, input);
  }
}

/** Seeds: truthful answers in order, reversed, duplicated, with another op, with error statuses. */
export function seeds(): Uint8Array[] {
  return [
    Uint8Array.from([1, 0, 0, 8, 0, 16, 4, 0, 0, 0, 1, 0, 0]),
    Uint8Array.from([2, 0, 10, 3, 1, 40, 2, 2, 0, 0, 1, 0, 0, 0, 0, 0, 2, 0, 0]),
    Uint8Array.from([1, 0, 0, 16, 0, 32, 16, 1, 0, 0, 0x21, 0, 0]),
    Uint8Array.from([0, 0, 5, 5, 1, 0xd5, 0]),
    Uint8Array.from([1, 0, 0, 1, 2, 0, 0, 0, 0, 0xe1, 3, 0xe5, 0]),
    Uint8Array.from([4, 0, 0, 8]),
  ];
}
