// Fuzz target: dom0's blkback (xen-sim/blk/blkback.ts) during the xenbus handshake, against a
// frontend that writes hostile values into its xenstore directory, multi-page rings included.
// For every key blkback reads (ring-page-order, ring-ref, ring-ref0..ring-ref15, event-channel,
// protocol, feature-persistent) one input byte picks: absent, the right value (for
// ring-page-order: 0..3 from the byte), or a hostile one (empty, negative, hexadecimal, padded,
// trailing garbage, 2^32, 20 digits, a long string, bytes above 0x7f, another ring page's ref,
// a ref granted read-only, a port, a number from the input, an order past the backend's
// max-ring-page-order 3); then the frontend writes its state (Initialised mostly, or Connected,
// or nonsense), in the same transaction, and time runs. After a connect, one or two ring's worth
// of one-segment reads go through the ring the keys name (up to 8 pages, 256 slots of 112 bytes,
// slots across page ends).
// Oracles: nothing throws; the backend's state node always holds a valid XenbusState; a backend
// that connects does so only for a frontend state that reads as Initialised, a ring-page-order
// of at most 3 and ring refs the guest granted to dom0 writable, the event channel the guest
// allocated for dom0 and protocol x86_64-abi or none, as the keys say under any reading of the
// digits (parseInt), and maps exactly 2^order ring pages; over a ring of distinct pages it
// answers every request once, OKAY, with its id, and the data page ends up as the reads in
// response order say; a frontend that wrote Initialised is connected or gets a reported fault
// (and the backend goes Closing), and one whose keys are all plainly right is connected; a
// refused handshake, and the frontend's Closed after a connect, leave dom0 holding no mapping of
// the guest's pages; the next input's Initialising always brings the backend back to InitWait.
// Speed: the hypervisor, dom0, the guest, its vbd and blkback are built once per process, with
// the guest's 16 ring pages, a read-only page and a data page granted and three ports allocated
// once; each input writes only the keys that differ from the previous input's (removing the
// ones it drops) and the state in one transaction, and a connected one is closed before it ends,
// so its outcome does not depend on earlier inputs (checked by xenbus-blk-hostile.test.ts); an
// input that fails an oracle drops the world. The guest's writes (the harness plays the frontend)
// are committed as the guest straight into xenstored's tree (commitAs: the same tree and watch
// events, without their requests); blkback keeps its connection.
import { unwrap } from "../../../stack/result.ts";
import { GTF_permit_access, GTF_readonly, GTF_type_mask } from "../../../xen-sim/abi/grant-table.ts";
import type { VirtualClock } from "../../../stack/time.ts";
import { pumpUntil } from "../../../stack/settle.ts";
import { createMemoryStorage } from "../../../xen-sim/blk/memory-storage.ts";
import { createBlkWorld, type BlkWorld } from "../../../xen-sim/blk/sim-world.ts";
import { BLKIF_OP_READ, BLKIF_RSP_OKAY, BLKIF_SLOT_SIZE } from "../../../xen-sim/abi/blkif.ts";
import { createFrontRing, initSharedRing } from "../../../xen-sim/ring/ring.ts";
import type { FrontRing } from "../../../xen-sim/ring/types.ts";
import { XenbusState } from "../../../xen-sim/xenbus/types.ts";
import { fail, firstDifference } from "../oracles.ts";
import { HOSTILE_VALUE_MODULE, hostileValue, type HostileShapes } from "../kit/hostile-value.ts";
import { commitAs, createTargetWorld, keyChanges, peekNumber, untilQuiet, xenstoreSettler } from "../kit/target-world.ts";

/**
 * The code under attack, the only code Jazzer.js instruments for this target (runner.ts
 * bundleTarget): the hypervisor, xenstore and toolstack around it run uninstrumented.
 */
export const instrumentOnly = ["xen-sim/blk/blkback.ts", "xen-sim/ring/", "xen-sim/abi/", "xen-sim/xenbus/", HOSTILE_VALUE_MODULE];

/** The backend's max-ring-page-order: orders up to 3 (8 pages) connect, 4 must not. */
const MAX_ORDER = 3;
/** Ring pages the guest grants (enough for an order-4 ring a buggy backend would accept). */
const POOL = 16;
const SECTORS = 64;
const PROTOCOL = "x86_64-abi";

/** Keys blkback reads, with what the right value is (a ref, a port, an order, or a fixed text). */
const KEYS: readonly (readonly [string, string])[] = [
  ["ring-page-order", "order"],
  ["ring-ref", "ref:0"],
  ...Array.from({ length: POOL }, (_, i) => [`ring-ref${i}`, `ref:${i}`] as const),
  ["event-channel", "port:0"],
  ["protocol", PROTOCOL],
  ["feature-persistent", "1"],
];

interface World {
  readonly w: BlkWorld;
  readonly clock: VirtualClock;
  readonly pool: readonly Uint8Array[];
  /** Refs of the pool pages (writable, to dom0). */
  readonly refs: readonly number[];
  /** A page granted to dom0 read-only. */
  readonly roRef: number;
  /** The page the reads fill, granted writable. */
  readonly data: Uint8Array;
  readonly dataRef: number;
  /** Ports: 0 and 2 unbound for dom0, 1 unbound for domain 7. */
  readonly ports: readonly number[];
  /** hostileValue's shapes of this target: other refs and ports, x86_32-abi, orders past the maximum. */
  readonly shapes: HostileShapes;
  /** Keys (and values) the previous input left in the frontend's directory. */
  written: Map<string, string>;
  /** The ring the current input drives, and the responses the guest took from it. */
  ring: FrontRing | undefined;
  readonly got: Uint8Array[];
  /** dom0's mappings when no vbd ring is mapped. */
  readonly mappedAtRest: number;
}

const world = createTargetWorld(buildWorld);
/** Drops the world: the next input builds a new one (tests). */
export const resetForTest = (): void => world.reset();
/** The last input's observable outcome (tests). */
export const lastOutcomeForTest = (): string => world.lastOutcome;

const DISK = Uint8Array.from({ length: SECTORS * 512 }, (_, i) => ((i >> 9) * 29 + i * 7) & 255);
const DATA_FILL = Uint8Array.from({ length: 4096 }, (_, i) => (i * 13 + 5) & 255);

/** Fires the clock's timers synchronously until none is due (at most `cap`). */
function runClock(clock: VirtualClock, cap = 100_000): void {
  let fired = 0;
  for (let next = clock.nextDeadline(); next !== undefined && fired < cap; next = clock.nextDeadline()) fired += clock.run(next, cap - fired);
}

const settled = xenstoreSettler("xenbus-blk-hostile");

function backendState(w: BlkWorld): number | undefined {
  return peekNumber(w.toolstack.daemon.server, `${w.backendPath}/state`);
}

async function waitBackend(x: World, states: readonly number[]): Promise<void> {
  await pumpUntil(x.clock, () => states.includes(backendState(x.w) ?? -1), { maxIterations: 5000, untilMs: x.clock.now() + 10_000 });
}

async function buildWorld(): Promise<World> {
  const storage = createMemoryStorage({ sectors: SECTORS });
  storage.bytes.set(DISK);
  const w = await createBlkWorld(storage, { back: { maxRingPageOrder: MAX_ORDER } });
  const { guest } = w;
  const page = (readonly = false): { page: Uint8Array; ref: number } => {
    const f = unwrap(guest.memory.allocPage());
    return { page: unwrap(guest.memory.page(f)), ref: unwrap(guest.grants.grantAccess(0, f, readonly)) };
  };
  const pool: Uint8Array[] = [],
    refs: number[] = [];
  for (let i = 0; i < POOL; i++) {
    const p = page();
    pool.push(p.page);
    refs.push(p.ref);
  }
  const ro = page(true);
  const data = page();
  const ports = [unwrap(guest.events.allocUnbound(0)), unwrap(guest.events.allocUnbound(7)), unwrap(guest.events.allocUnbound(0))];
  const x: World = {
    w,
    clock: w.clock,
    pool,
    refs,
    roRef: ro.ref,
    data: data.page,
    dataRef: data.ref,
    ports,
    shapes: {
      9: (_good, next) => String(refs[next() % POOL]),
      10: (_good, next) => String(ports[next() % 3]),
      13: (_good, _next, key) => (key === "protocol" ? "x86_32-abi" : "0"),
      14: (_good, next, key) => (key === "ring-page-order" ? String(MAX_ORDER + 1 + (next() & 1)) : String(ro.ref)),
      15: (good, next, key) => (key === "ring-page-order" ? String(next() % 6) : `+${good}`),
    },
    written: new Map(),
    ring: undefined,
    got: [],
    mappedAtRest: w.dom0.grants.mappingCount,
  };
  const drain = (): void => {
    const ring = x.ring;
    if (ring === undefined) return;
    for (let i = 0; i < 4096; i++) {
      const r = ring.takeResponse(new Uint8Array(BLKIF_SLOT_SIZE));
      if (r.ok) x.got.push(r.value.slice(0, 16));
      else if (r.error !== "empty") break;
      else {
        const more = ring.finalCheckForResponses();
        if (!more.ok || !more.value) break;
      }
    }
  };
  for (const p of [ports[0]!, ports[2]!]) guest.events.onEvent(p, drain);
  unwrap(await settled(w.clock, w.back.start()));
  await waitBackend(x, [XenbusState.InitWait]);
  return x;
}

/**
 * Whether the guest's grant table lets dom0 map `ref` writable: the pool's pages, the data page,
 * and pages granted outside this target too (the xenstore page, GNTTAB_RESERVED_XENSTORE).
 */
function writableToDom0(x: World, ref: number): boolean {
  const e = Number.isSafeInteger(ref) ? x.w.guest.grants.entry(ref) : undefined;
  return e !== undefined && (e.flags & GTF_type_mask) === GTF_permit_access && (e.flags & GTF_readonly) === 0 && e.domid === 0;
}

/** The value a key gets from one input byte (and maybe more bytes); undefined: absent. */
function valueFor(x: World, key: string, right: string, pick: number, next: () => number): string | undefined {
  const good =
    right === "order"
      ? String(pick % (MAX_ORDER + 1))
      : right.startsWith("ref:")
        ? String(x.refs[Number(right.slice(4))])
        : right.startsWith("port:")
          ? String(x.ports[Number(right.slice(5))])
          : right;
  return hostileValue(key, good, pick, next, x.shapes);
}

/** The number a lenient reader (scanf %u, parseInt) would take from a value; absent: NaN. */
const lenient = (v: string | undefined): number => (v === undefined ? NaN : Number.parseInt(v, 10));

export const mode = "async";

export async function fuzz(data: Buffer): Promise<void> {
  await world.run((x, report) => run(x, data, report));
}

async function run(x: World, data: Buffer, report: (outcome: unknown) => void): Promise<void> {
  const { w, clock } = x;
  const back = w.back;
  const fe = w.frontendPath;
  // A fresh start: a backend that left InitWait (Closed after a connect, Closing after a fault) is
  // brought back by Initialising.
  // The guest's writes (the harness plays the frontend) are committed as the guest straight into
  // xenstored's tree: the same tree and watch events, without their requests. Before the keys go
  // in, blkback is done with everything before (untilQuiet), as when each write took its requests.
  const server = w.toolstack.daemon.server;
  if (backendState(w) !== XenbusState.InitWait) {
    if (backendState(w) !== XenbusState.Closed && backendState(w) !== XenbusState.Closing) {
      commitAs(server, w.guest.id, [{ path: `${fe}/state`, value: String(XenbusState.Closed) }]);
      await waitBackend(x, [XenbusState.Closed]);
    }
    commitAs(server, w.guest.id, [{ path: `${fe}/state`, value: String(XenbusState.Initialising) }]);
  }
  await untilQuiet(clock, () => backendState(w) === XenbusState.InitWait, { maxIterations: 5000, untilMs: clock.now() + 10_000 });
  if (backendState(w) !== XenbusState.InitWait)
    fail("liveness", `after Closed and Initialising the backend is in state ${backendState(w)}, not InitWait`, data);
  x.ring = undefined;
  x.got.length = 0;
  for (const p of x.pool) {
    p.fill(0);
    initSharedRing(p);
  }
  x.data.set(DATA_FILL);
  const faultsBefore = back.faults.length;
  const mappedBefore = w.dom0.grants.mappingCount;

  let at = 0;
  const next = (): number => data[at++] ?? 0;
  const values = new Map<string, string>();
  for (const [key, right] of KEYS) {
    const v = valueFor(x, key, right, next(), next);
    if (v !== undefined) values.set(key, v);
  }
  const s = next();
  const stateText =
    s < 0xb0
      ? String(XenbusState.Initialised)
      : s < 0xd0
        ? String(XenbusState.Connected)
        : (["9", "", "3x", "-1", "Initialised", "03", "3 ", "0"] as const)[s & 7]!;
  const rounds = 1 + (next() & 1);
  // Keys and state in one transaction: the backend's watch sees them together.
  commitAs(server, w.guest.id, [...keyChanges(fe, Object.fromEntries(values), x.written), { path: `${fe}/state`, value: stateText }]);
  x.written = values;
  await waitBackend(x, [XenbusState.Connected, XenbusState.Closing, XenbusState.Closed]);

  const state = backendState(w);
  const connected = back.state === "connected";
  const faults = back.faults.slice(faultsBefore).map((f) => f.reason);
  const mapped = w.dom0.grants.mappingCount - mappedBefore;
  const summary: Record<string, unknown> = { state, connected, faults, mapped };
  report(summary);
  if (state === undefined || !Number.isInteger(state) || state < XenbusState.Initialising || state > XenbusState.Closed)
    fail("state", `backend state node holds ${String(state)}`, data);

  const orderText = values.get("ring-page-order");
  const order = orderText === undefined ? 0 : lenient(orderText);
  const refKeys = order === 0 ? ["ring-ref"] : Array.from({ length: 2 ** Math.min(Math.max(order, 0), 4) }, (_, i) => `ring-ref${i}`);
  const granted = new Set([...x.refs, x.dataRef]);
  const dom0Ports = new Set([x.ports[0]!, x.ports[2]!]);
  const proto = values.get("protocol");
  if (connected) {
    if (lenient(stateText) !== XenbusState.Initialised) fail("handshake", `connected for a frontend in state ${JSON.stringify(stateText)}`, data);
    if (!(order >= 0 && order <= MAX_ORDER))
      fail("handshake", `connected with ring-page-order ${JSON.stringify(orderText)} (max-ring-page-order is ${MAX_ORDER})`, data);
    for (const k of refKeys) {
      if (!writableToDom0(x, lenient(values.get(k))))
        fail("handshake", `connected with ${k} = ${JSON.stringify(values.get(k))}, which names no page the guest granted dom0 writable`, data);
    }
    if (!dom0Ports.has(lenient(values.get("event-channel"))))
      fail(
        "handshake",
        `connected with event-channel = ${JSON.stringify(values.get("event-channel"))}, which names no port the guest allocated for dom0`,
        data,
      );
    if (proto !== undefined && proto !== PROTOCOL) fail("handshake", `connected with protocol ${JSON.stringify(proto)}`, data);
    if (mapped !== 2 ** order) fail("mappings", `connected with a ring of ${2 ** order} page(s) and ${mapped} new mapping(s)`, data);
    const pages = refKeys.map((k) => x.refs.indexOf(lenient(values.get(k))));
    if (pages.every((p) => p >= 0) && new Set(pages).size === pages.length) {
      summary.io = await ringIo(
        x,
        pages.map((p) => x.pool[p]!),
        lenient(values.get("event-channel")),
        rounds,
        data,
      );
      report(summary);
    }
    // The frontend closes: the backend unmaps its ring and every persistent grant.
    commitAs(server, w.guest.id, [{ path: `${fe}/state`, value: String(XenbusState.Closed) }]);
    await waitBackend(x, [XenbusState.Closed]);
    if (backendState(w) !== XenbusState.Closed) fail("liveness", `after the frontend closed the backend is in state ${backendState(w)}, not Closed`, data);
    if (w.dom0.grants.mappingCount !== x.mappedAtRest)
      fail("mappings", `a close after a connect left dom0 with ${w.dom0.grants.mappingCount - x.mappedAtRest} mapping(s) of the guest's pages`, data);
  } else {
    const plainlyRight =
      stateText === String(XenbusState.Initialised) &&
      (orderText === undefined || /^[0-3]$/.test(orderText)) &&
      refKeys.every((k) => {
        const v = values.get(k);
        return v !== undefined && /^[1-9][0-9]*$/.test(v) && granted.has(Number(v));
      }) &&
      new Set(refKeys.map((k) => values.get(k))).size === refKeys.length &&
      [...dom0Ports].some((p) => values.get("event-channel") === String(p)) &&
      (proto === undefined || proto === PROTOCOL) &&
      (values.get("feature-persistent") === undefined || /^[0-9]{1,9}$/.test(values.get("feature-persistent")!));
    if (plainlyRight) fail("refused", `a handshake whose keys are all right was refused (faults ${JSON.stringify(faults)})`, data);
    if (stateText === String(XenbusState.Initialised)) {
      if (faults.length === 0) fail("silent", `the frontend wrote Initialised, the backend is in state ${state} and reported nothing`, data);
      if (state !== XenbusState.Closing) fail("fatal", `a handshake fault (${faults.join(", ")}) left the backend in state ${state}, not Closing`, data);
    }
    // Whatever the refusal left to do in the next second (at most 20 turns).
    const horizon = clock.now() + 1000;
    await untilQuiet(clock, () => true, { maxIterations: 20, untilMs: horizon, horizonMs: horizon });
    if (w.dom0.grants.mappingCount !== mappedBefore)
      fail("mappings", `a refused handshake left dom0 with ${w.dom0.grants.mappingCount - mappedBefore} more mapping(s)`, data);
  }
}

/**
 * `rounds` ring's worth of one-segment reads through the ring over `pages` (the frontend's side,
 * built here): every request answered once, OKAY, with its id; the data page as the reads in
 * response order leave it. Returns a digest of what happened (for the determinism test).
 */
async function ringIo(x: World, pages: Uint8Array[], port: number, rounds: number, input: Uint8Array): Promise<string> {
  const ring = createFrontRing(pages, { slotSize: BLKIF_SLOT_SIZE });
  x.ring = ring;
  const sectorOf = (id: number): number => (id * 5) % SECTORS;
  const expect = DATA_FILL.slice();
  let answered = 0;
  for (let r = 0; r < rounds; r++) {
    const base = r * ring.size;
    for (let i = 0; i < ring.size; i++) {
      const id = base + i + 1;
      const slot = new Uint8Array(BLKIF_SLOT_SIZE);
      const v = new DataView(slot.buffer);
      v.setUint8(0, BLKIF_OP_READ);
      v.setUint8(1, 1);
      v.setUint32(8, id, true);
      v.setBigUint64(16, BigInt(sectorOf(id)), true);
      v.setUint32(24, x.dataRef, true);
      v.setUint8(28, id & 7);
      v.setUint8(29, id & 7);
      const q = ring.queueRequest(slot);
      if (!q.ok) fail("ring", `queueing request ${id} of ${ring.size}: ${q.error}`, input);
    }
    ring.pushRequests();
    x.w.guest.events.send(port);
    runClock(x.clock);
    const got = x.got.slice(answered);
    answered = x.got.length;
    if (got.length !== ring.size) fail("ring", `round ${r}: ${got.length} responses to ${ring.size} requests over a ${pages.length}-page ring`, input);
    const seen = new Set<number>();
    for (const g of got) {
      const v = new DataView(g.buffer, g.byteOffset, 16);
      const id = v.getUint32(0, true);
      if (v.getUint32(4, true) !== 0 || id <= base || id > base + ring.size || seen.has(id))
        fail("ring", `round ${r}: a response with id ${v.getBigUint64(0, true)}`, input);
      seen.add(id);
      if (v.getUint8(8) !== BLKIF_OP_READ || v.getInt16(10, true) !== BLKIF_RSP_OKAY)
        fail("ring", `request ${id} answered op ${v.getUint8(8)} status ${v.getInt16(10, true)}`, input);
      const s = id & 7;
      expect.set(DISK.subarray(sectorOf(id) * 512, sectorOf(id) * 512 + 512), s * 512);
    }
  }
  const d = firstDifference(x.data, expect);
  if (d >= 0) fail("ring", `after the reads data page byte ${d} = ${x.data[d]}, expected ${expect[d]}`, input);
  x.ring = undefined;
  await Promise.resolve();
  return `${pages.length}x${ring.size}x${rounds}`;
}

/** Seeds: good one-, two-, four- and eight-page handshakes, an order past the maximum, and single bad keys. */
export function seeds(): Uint8Array[] {
  // Bytes: one pick per key (KEYS order; a hostile pick may take more bytes), then state and rounds.
  const handshake = (order: number, hostile: Record<string, number[]> = {}, state = 0x10, rounds = 0): Uint8Array => {
    const b = KEYS.flatMap(([k]) => {
      const h = hostile[k];
      if (h !== undefined) return h;
      if (k === "ring-page-order") return [order === 0 ? 0 : 0x40 + order];
      if (k === "ring-ref") return [order === 0 ? 0x50 : 0];
      const m = /^ring-ref(\d+)$/.exec(k);
      if (m !== null) return [order > 0 && Number(m[1]) < 2 ** order ? 0x50 : 0];
      return [0x50];
    });
    return Uint8Array.from([...b, state, rounds]);
  };
  return [
    handshake(0),
    handshake(1),
    handshake(2, {}, 0x10, 1),
    handshake(3),
    // An order past the maximum (4), with sixteen good refs.
    handshake(3, { "ring-page-order": [0xae, 0], ...Object.fromEntries(Array.from({ length: 16 }, (_, i) => [`ring-ref${i}`, [0x50]])) }),
    // Another pool page as ring-ref2 (distinct: still a good ring), a read-only page as ring-ref1.
    handshake(2, { "ring-ref2": [0xa9, 9] }),
    handshake(1, { "ring-ref1": [0xae] }),
    handshake(0, { "event-channel": [0xaa, 1] }),
    handshake(0, { protocol: [0xad] }),
    handshake(2, { "ring-ref3": [0xa4] }),
    handshake(0, {}, 0xc0),
    handshake(1, { "ring-ref1": [0] }),
    // A ref nobody granted as ring-ref2 of four: two pages mapped, then refused.
    handshake(2, { "ring-ref2": [0xab, 0x0f, 0xa0] }),
  ];
}
