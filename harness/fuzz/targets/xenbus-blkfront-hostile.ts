// Fuzz target: a guest's blkfront (xen-sim/blk/blkfront.ts) during the xenbus handshake, against a
// dom0 that writes hostile values into the backend's xenstore directory. For every key blkfront
// reads (max-ring-page-order, feature-max-indirect-segments, sectors, info, sector-size,
// physical-sector-size, feature-flush-cache, feature-barrier, feature-discard, discard-secure,
// discard-granularity, discard-alignment, feature-persistent) one input byte picks: absent, the
// right value (max-ring-page-order 0..4 from the byte), or a hostile one (empty, negative,
// hexadecimal, padded, trailing garbage, 2^32, 20 digits, 2^53 + 1, a long string, bytes above
// 0x7f, a number near the right one, a power of two, a number from the input); the keys and
// InitWait go in one transaction. A new blkfront (ring-page-order wanted: 3, 32 indirect
// segments, persistent grants) connects; once it is Initialised dom0 checks its keys, maps its
// ring and binds its port as blkback does, then writes a backend state (Connected mostly, or
// Closing, or nonsense).
// Oracles: nothing throws; the frontend's ring-page-order is at most the 3 it wants and at most
// the backend's max-ring-page-order under any reading of the digits (exactly min(3, n) when the
// value is a plain number n), with ring-page-order absent and ring-ref for one page, else
// ring-ref0..N; every ring ref is one the guest granted to dom0 writable, on distinct frames; the
// event channel is a port the guest allocated for dom0; protocol x86_64-abi. A blkfront that
// connects has the capacity and sector size the keys say (a power of two 512..4096), indirect
// segments at most its own 32 and the backend's, persistent grants only when both offered,
// read-only exactly when info says so; a blkfront that stops short (not Initialised, or not
// connected after Connected) reported a fault, and one that saw only plainly right values
// connected. After the blkfront closes, every grant and page it took is given back.
// Speed: the hypervisor, dom0, the guest and its vbd are built once per process; each input
// writes only the backend keys that differ from the previous input's (removing the ones it
// drops), and after it dom0 lets go of the ring, removes the frontend's keys and resets its state
// to Initialising, as for a fresh device (checked by xenbus-blkfront-hostile.test.ts). dom0's
// writes (the harness plays the backend) are committed as dom0 straight into xenstored's tree
// (commitAs: the same tree and watch events, without their requests).
import type { VirtualClock } from "../../../stack/time.ts";
import { pumpUntil } from "../../../stack/settle.ts";
import { createMemoryStorage } from "../../../xen-sim/blk/memory-storage.ts";
import { createBlkfront } from "../../../xen-sim/blk/blkfront.ts";
import { createBlkWorld, type BlkWorld } from "../../../xen-sim/blk/sim-world.ts";
import type { BlkFault } from "../../../xen-sim/blk/types.ts";
import { VDISK_READONLY } from "../../../xen-sim/abi/blkif.ts";
import { GTF_permit_access, GTF_readonly, GTF_type_mask } from "../../../xen-sim/abi/grant-table.ts";
import type { GrantMapping } from "../../../xen-sim/grant-table/types.ts";
import { XenbusState } from "../../../xen-sim/xenbus/types.ts";
import { fail } from "../oracles.ts";
import { HOSTILE_VALUE_MODULE, hostileValue, type HostileShapes } from "../kit/hostile-value.ts";
import { commitAs, createTargetWorld, keyChanges, peekNumber, peekText, untilQuiet, xenstoreSettler } from "../kit/target-world.ts";
import { finishKeptGrant } from "../../../xen-sim/blk/test-support.ts";

/**
 * The code under attack, the only code Jazzer.js instruments for this target (runner.ts
 * bundleTarget): the hypervisor, xenstore and toolstack around it run uninstrumented.
 */
export const instrumentOnly = ["xen-sim/blk/blkfront.ts", "xen-sim/ring/", "xen-sim/abi/", "xen-sim/xenbus/", HOSTILE_VALUE_MODULE];

const WANT_ORDER = 3;
const WANT_INDIRECT = 32;
const PROTOCOL = "x86_64-abi";
/** The frontend keys dom0 removes between inputs (what a fresh device's directory lacks). */
const FRONT_KEYS = ["ring-ref", "ring-page-order", ...Array.from({ length: 16 }, (_, i) => `ring-ref${i}`), "event-channel", "protocol", "feature-persistent"];

/** Backend keys blkfront reads, with the right value ("order": 0..4 from the pick). */
const KEYS: readonly (readonly [string, string])[] = [
  ["max-ring-page-order", "order"],
  ["feature-max-indirect-segments", "256"],
  ["sectors", "2048"],
  ["info", "0"],
  ["sector-size", "512"],
  ["physical-sector-size", "4096"],
  ["feature-flush-cache", "1"],
  ["feature-barrier", "1"],
  ["feature-discard", "1"],
  ["discard-secure", "0"],
  ["discard-granularity", "4096"],
  ["discard-alignment", "0"],
  ["feature-persistent", "1"],
];

interface World {
  readonly w: BlkWorld;
  readonly clock: VirtualClock;
  /** Backend keys (and values) the previous input left. */
  written: Map<string, string>;
  /** The guest's free grant refs and dom0's mappings with no blkfront connected. */
  readonly freeRefs: number;
  readonly mapped: number;
}

const world = createTargetWorld(buildWorld);
/** Drops the world: the next input builds a new one (tests). */
export const resetForTest = (): void => world.reset();
/** The last input's observable outcome (tests). */
export const lastOutcomeForTest = (): string => world.lastOutcome;

const settled = xenstoreSettler("xenbus-blkfront-hostile");

const nodeText = (w: BlkWorld, path: string): string | undefined => peekText(w.toolstack.daemon.server, path);

async function buildWorld(): Promise<World> {
  const w = await createBlkWorld(createMemoryStorage());
  // The vbd's own blkfront and blkback are never started: dom0 is driven by hand here.
  return { w, clock: w.clock, written: new Map(), freeRefs: w.guest.grants.freeRefs, mapped: w.dom0.grants.mappingCount };
}

/** hostileValue's shapes of this target: a shorter long string, a power of two. */
const SHAPES: HostileShapes = {
  7: (_good, next) => "7".repeat(20 + next()),
  14: (_good, next) => String(2 ** (next() % 16)),
};

/** The value a key gets from one input byte (and maybe more bytes); undefined: absent. */
function valueFor(key: string, right: string, pick: number, next: () => number): string | undefined {
  return hostileValue(key, right === "order" ? String(pick % 5) : right, pick, next, SHAPES);
}

/** The number a lenient reader (scanf %u, parseInt) would take from a value; absent: NaN. */
const lenient = (v: string | undefined): number => (v === undefined ? NaN : Number.parseInt(v, 10));
/** A value any reader takes as the same unsigned number. */
const plain = (v: string | undefined): v is string => v !== undefined && /^(0|[1-9][0-9]{0,8})$/.test(v);

export const mode = "async";

export async function fuzz(data: Buffer): Promise<void> {
  await world.run((x, report) => run(x, data, report));
}

async function run(x: World, data: Buffer, report: (outcome: unknown) => void): Promise<void> {
  const { w, clock } = x;
  const be = w.backendPath,
    fe = w.frontendPath;

  let at = 0;
  const next = (): number => data[at++] ?? 0;
  const values = new Map<string, string>();
  for (const [key, right] of KEYS) {
    const v = valueFor(key, right, next(), next);
    if (v !== undefined) values.set(key, v);
  }
  const s = next();
  const connectState = s < 0xc0 ? String(XenbusState.Connected) : (["5", "6", "", "4x", "9", "04", "4 ", "2"] as const)[s & 7]!;

  // dom0's writes (the harness plays the backend) are committed as dom0 straight into xenstored's
  // tree: the same tree and watch events, without their requests; blkfront keeps its connection.
  const server = w.toolstack.daemon.server;
  commitAs(server, 0, [...keyChanges(be, Object.fromEntries(values), x.written), { path: `${be}/state`, value: String(XenbusState.InitWait) }]);
  x.written = values;

  const faults: BlkFault[] = [];
  const front = createBlkfront(
    { domain: w.guest, xs: w.guestXs },
    { frontendPath: fe, ringPageOrder: WANT_ORDER, maxIndirectSegments: WANT_INDIRECT, persistent: true },
  );
  front.onFault((f) => faults.push(f));
  let ready: string | undefined;
  void front.connect().then((r) => {
    ready = r.ok ? "ok" : r.error;
  });
  const frontState = (): string | undefined => nodeText(w, `${fe}/state`);
  const statePath = `${fe}/state`;
  const frontIs = (state: number): boolean => peekNumber(server, statePath) === state && frontState() === String(state);
  await pumpUntil(clock, () => frontIs(XenbusState.Initialised) || faults.length > 0 || ready !== undefined, {
    maxIterations: 5000,
    untilMs: clock.now() + 10_000,
  });
  const summary: Record<string, unknown> = { initialised: frontState() === String(XenbusState.Initialised) };
  const maps: GrantMapping[] = [];
  /** Ring refs dom0 mapped, with their frames. */
  const ringRefs: { ref: number; frame: number }[] = [];
  let dom0Port: number | undefined;
  try {
    const maxText = values.get("max-ring-page-order");
    if (frontState() !== String(XenbusState.Initialised)) {
      if (faults.length === 0) fail("silent", `blkfront did not reach Initialised (state ${JSON.stringify(frontState())}) and reported nothing`, data);
      if (maxText === undefined || plain(maxText))
        fail("refused", `blkfront gave up on max-ring-page-order ${JSON.stringify(maxText)} (${faults.map((f) => f.detail).join(", ")})`, data);
    } else {
      // The frontend's keys, as blkback reads them.
      const orderText = nodeText(w, `${fe}/ring-page-order`);
      const order = orderText === undefined ? 0 : Number(orderText);
      summary.order = order;
      if (orderText !== undefined && !/^[1-9][0-9]*$/.test(orderText))
        fail("keys", `ring-page-order ${JSON.stringify(orderText)} (order 0 is written as ring-ref alone)`, data);
      if (order > WANT_ORDER) fail("keys", `ring-page-order ${order} above the ${WANT_ORDER} blkfront wants`, data);
      const maxOrder = maxText === undefined ? 0 : lenient(maxText);
      if (order > 0 && !(order <= maxOrder)) fail("keys", `ring-page-order ${order} above the backend's max-ring-page-order ${JSON.stringify(maxText)}`, data);
      if ((maxText === undefined || plain(maxText)) && order !== Math.min(WANT_ORDER, maxOrder))
        fail("keys", `ring-page-order ${order}, expected min(${WANT_ORDER}, ${maxOrder})`, data);
      const refKeys = order === 0 ? ["ring-ref"] : Array.from({ length: 2 ** order }, (_, i) => `ring-ref${i}`);
      const frames = new Set<number>();
      for (const k of refKeys) {
        const t = nodeText(w, `${fe}/${k}`);
        const ref = t !== undefined && /^[0-9]{1,9}$/.test(t) ? Number(t) : NaN;
        const e = Number.isNaN(ref) ? undefined : w.guest.grants.entry(ref);
        if (e === undefined || (e.flags & GTF_type_mask) !== GTF_permit_access || (e.flags & GTF_readonly) !== 0 || e.domid !== 0)
          fail("keys", `${k} = ${JSON.stringify(t)} names no page granted to dom0 writable`, data);
        if (frames.has(e.frame)) fail("keys", `${k} names frame ${e.frame} a second time`, data);
        frames.add(e.frame);
        const m = w.dom0.grants.map(w.guest.id, ref);
        if (!m.ok) fail("keys", `dom0 cannot map ${k} = ${ref}: ${m.error}`, data);
        maps.push(m.value);
        ringRefs.push({ ref, frame: e.frame });
      }
      const portText = nodeText(w, `${fe}/event-channel`);
      const port = portText !== undefined && /^[0-9]{1,9}$/.test(portText) ? Number(portText) : NaN;
      const st = w.guest.events.status(port);
      if (st.state !== "unbound" || st.remoteDom !== 0)
        fail("keys", `event-channel ${JSON.stringify(portText)} is no port the guest allocated for dom0 (${st.state})`, data);
      const bound = w.dom0.events.bindInterdomain(w.guest.id, port);
      if (!bound.ok) fail("keys", `dom0 cannot bind event-channel ${port}: ${bound.error}`, data);
      dom0Port = bound.value;
      if (nodeText(w, `${fe}/protocol`) !== PROTOCOL) fail("keys", `protocol ${JSON.stringify(nodeText(w, `${fe}/protocol`))}`, data);

      commitAs(server, 0, [{ path: `${be}/state`, value: connectState }]);
      await pumpUntil(clock, () => front.state === "connected" || faults.length > 0 || front.state === "error", {
        maxIterations: 5000,
        untilMs: clock.now() + 5000,
      });
      summary.state = front.state;
      summary.faults = faults.map((f) => f.reason);
      const v = (k: string): string | undefined => values.get(k);
      if (front.state === "connected") {
        summary.features = front.features;
        summary.capacity = front.capacity;
        if (connectState !== String(XenbusState.Connected) && lenient(connectState) !== XenbusState.Connected)
          fail("connect", `connected after the backend wrote state ${JSON.stringify(connectState)}`, data);
        if (front.capacity !== lenient(v("sectors"))) fail("connect", `capacity ${front.capacity} from sectors ${JSON.stringify(v("sectors"))}`, data);
        const ss = front.sectorSize;
        if (!(ss >= 512 && ss <= 4096 && (ss & (ss - 1)) === 0) || (v("sector-size") === undefined ? ss !== 512 : ss !== lenient(v("sector-size"))))
          fail("connect", `sector size ${ss} from sector-size ${JSON.stringify(v("sector-size"))}`, data);
        const f = front.features;
        if (f.ringPageOrder !== order) fail("connect", `features say ring-page-order ${f.ringPageOrder}, the frontend wrote ${order}`, data);
        if (f.indirectSegments > WANT_INDIRECT || (f.indirectSegments > 0 && !(f.indirectSegments <= lenient(v("feature-max-indirect-segments")))))
          fail(
            "connect",
            `${f.indirectSegments} indirect segments (wanted ${WANT_INDIRECT}, backend ${JSON.stringify(v("feature-max-indirect-segments"))})`,
            data,
          );
        if (f.persistent && lenient(v("feature-persistent")) !== 1)
          fail("connect", `persistent grants on with feature-persistent ${JSON.stringify(v("feature-persistent"))}`, data);
        const ro = (lenient(v("info")) & VDISK_READONLY) !== 0;
        if (plain(v("info")) && f.readOnly !== ro) fail("connect", `read-only ${f.readOnly} with info ${JSON.stringify(v("info"))}`, data);
        if (f.readOnly && !ro) fail("connect", `read-only with info ${JSON.stringify(v("info"))}`, data);
      } else {
        if (faults.length === 0 && connectState === String(XenbusState.Connected))
          fail("silent", `the backend wrote Connected, blkfront is ${front.state} and reported nothing`, data);
        const allPlain =
          KEYS.every(([k]) => v(k) === undefined || plain(v(k))) &&
          v("sectors") !== undefined &&
          [512, 1024, 2048, 4096].includes(v("sector-size") === undefined ? 512 : Number(v("sector-size")));
        if (allPlain && connectState === String(XenbusState.Connected))
          fail("refused", `blkfront refused a backend whose keys are all plainly right (${faults.map((f) => f.detail).join(", ")})`, data);
      }
    }
  } finally {
    // Teardown, as for a fresh device: blkfront closes (dom0 answers Closed), dom0 lets go of the
    // ring, the frontend's keys go and its state is Initialising again.
    const closed = front.close();
    await pumpUntil(clock, () => frontIs(XenbusState.Closing) || frontIs(XenbusState.Closed) || front.state === "closed", {
      maxIterations: 2000,
      untilMs: clock.now() + 5000,
    });
    // dom0 unmaps and unbinds on the frontend's Closing (blkback's disconnect), then says Closed.
    for (const m of maps) w.dom0.grants.unmap(m.handle);
    if (dom0Port !== undefined) w.dom0.events.close(dom0Port);
    commitAs(server, 0, [{ path: `${be}/state`, value: String(XenbusState.Closed) }]);
    await settled(clock, closed);
    await pumpUntil(clock, () => clock.nextDeadline() === undefined, { maxIterations: 2000, untilMs: clock.now() + 60_000 });
    const home = `${fe.replace(/\/device\/.*/, "")}/error`;
    commitAs(server, 0, [
      ...FRONT_KEYS.filter((k) => server.peek(`${fe}/${k}`) !== undefined).map((k) => ({ path: `${fe}/${k}` })),
      ...(server.peek(home) === undefined ? [] : [{ path: home }]),
      { path: `${fe}/state`, value: String(XenbusState.Initialising) },
    ]);
    // The next input's commit finds everything this one started done.
    await untilQuiet(clock, () => true, { maxIterations: 2000 });
  }
  // A grant blkfront could not end because dom0 still mapped it (a backend that said Closed with
  // the ring mapped) is kept and counted in leakedPages; Linux frees it once the backend unmaps
  // (gnttab's deferred free), which dom0 has done: the harness does that here.
  const deficit = x.freeRefs - w.guest.grants.freeRefs;
  summary.leaked = front.stats.leakedPages;
  report(summary);
  if (deficit !== front.stats.leakedPages)
    fail("leak", `after blkfront closed the guest has ${deficit} grant ref(s) fewer, blkfront counted ${front.stats.leakedPages} kept`, data);
  for (const { ref, frame } of ringRefs) finishKeptGrant(w.guest, ref, frame);
  if (w.guest.grants.freeRefs !== x.freeRefs)
    fail("leak", `the guest has ${x.freeRefs - w.guest.grants.freeRefs} grant ref(s) fewer after the deferred frees`, data);
  if (w.dom0.grants.mappingCount !== x.mapped) fail("leak", `dom0 still maps ${w.dom0.grants.mappingCount - x.mapped} page(s)`, data);
}

/** Seeds: plainly right backends at orders 0-4, a read-only disk, and single bad keys. */
export function seeds(): Uint8Array[] {
  const backend = (order: number, hostile: Record<string, number[]> = {}, state = 0x10): Uint8Array => {
    const b = KEYS.flatMap(([k]) => hostile[k] ?? [k === "max-ring-page-order" ? 0x50 + order : 0x50]);
    return Uint8Array.from([...b, state]);
  };
  return [
    backend(0),
    backend(1),
    backend(3),
    backend(4),
    backend(2, { info: [0xae, 2] }),
    backend(3, { "max-ring-page-order": [0xa4] }),
    backend(3, { "max-ring-page-order": [0xa1] }),
    backend(0, { "sector-size": [0xae, 13] }),
    backend(0, { "sector-size": [0xab, 3, 0xe8] }),
    backend(1, { sectors: [0x00] }),
    backend(1, { sectors: [0xa9] }),
    backend(2, { "feature-max-indirect-segments": [0xa6] }),
    backend(2, { "feature-persistent": [0xa4] }),
    backend(0, {}, 0xc1),
  ];
}
