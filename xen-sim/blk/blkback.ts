// blkback: the block backend in dom0 (Linux drivers/block/xen-blkback, xen-abi.md §3, §7).
// Handshake: writes feature-max-indirect-segments, multi-queue-max-queues, max-ring-page-order,
// then InitWait; on frontend Initialised maps the ring and binds the event channel, writes the
// disk's features and geometry in one transaction, then Connected. A restarted instance that
// finds the frontend past Initialising goes to Closed first, so the frontend comes back through
// Initialising and writes fresh ring keys (Linux blkback: Closed + frontend Initialising →
// "prepare for reconnect" → InitWait).
// Every request is copied out of the ring once and validated on the copy: operation, segment
// count (1..11 direct, 1..feature-max-indirect-segments indirect), first_sect ≤ last_sect ≤ 7,
// sector range within capacity, writes to a read-only disk, grant access. A bad request gets
// BLKIF_RSP_ERROR, an unknown operation BLKIF_RSP_EOPNOTSUPP; an ill-behaved ring index, an
// unknown protocol or bad ring keys disconnect the frontend and are reported, never trusted.
//   createBlkback   one backend instance for one vbd, serving a BlockStorage

import { err, ok } from "../../stack/result.ts";
import type { Clock, TimerId } from "../../stack/time.ts";
import {
  BLKIF_DISCARD_SECURE,
  BLKIF_MAX_INDIRECT_PAGES_PER_REQUEST,
  BLKIF_MAX_SEGMENTS_PER_REQUEST,
  BLKIF_OP_DISCARD,
  BLKIF_OP_FLUSH_DISKCACHE,
  BLKIF_OP_INDIRECT,
  BLKIF_OP_READ,
  BLKIF_OP_WRITE,
  BLKIF_OP_WRITE_BARRIER,
  BLKIF_RSP_EOPNOTSUPP,
  BLKIF_RSP_ERROR,
  BLKIF_RSP_OKAY,
  BLKIF_RESPONSE_SIZE,
  BLKIF_SEGMENTS_PER_INDIRECT_PAGE,
  BLKIF_SLOT_SIZE,
  BlkifRequestView,
  BlkifResponseView,
  BlkifSegmentsView,
  VDISK_READONLY,
  XEN_IO_PROTO_ABI_X86_64,
} from "../abi/blkif.ts";
import type { EvtchnPort } from "../event-channel/types.ts";
import type { GrantMapping } from "../grant-table/types.ts";
import type { Domain } from "../hypervisor/types.ts";
import { createBackRing } from "../ring/ring.ts";
import type { BackRing } from "../ring/types.ts";
import type { XenstoreClient, XsWatchHandle } from "../xenstore/client.ts";
import type { Blkback, BlkbackState, BlkFault, BlockStorage } from "./types.ts";
import { readState, switchState as switchXenbusState } from "../xenbus/xenbus.ts";
import { XenbusState, type XenbusStateValue } from "../xenbus/types.ts";
import { createSerialTask, readUint } from "../xenbus/serial-task.ts";
import { NetlabError } from "../../stack/error.ts";

/** Linux xen_blkif_max_ring_order default. */
export const DEFAULT_MAX_RING_PAGE_ORDER = 4;
/** Linux MAX_INDIRECT_SEGMENTS. */
export const DEFAULT_MAX_INDIRECT_SEGMENTS = 256;
/** Linux xen_blkif_max_pgrants default. */
export const DEFAULT_MAX_PERSISTENT_GRANTS = 1056;
/** Requests handled per upcall before yielding to the clock (a flooding frontend cannot starve others). */
export const DEFAULT_BATCH_LIMIT = 1024;

/** Options of createBlkback. */
export interface BlkbackOptions {
  /** `/local/domain/<B>/backend/vbd/<F>/<id>`. */
  backendPath: string;
  maxRingPageOrder?: number;
  /** Advertised feature-max-indirect-segments (0: no indirect descriptors). */
  maxIndirectSegments?: number;
  /** Advertise feature-persistent (default true). */
  persistent?: boolean;
  /** Most grants kept mapped persistently; beyond, segments are mapped per request. */
  maxPersistentGrants?: number;
  /** Delay between the event and serving the ring, in ms (models device latency; default 0). */
  serviceDelayMs?: number;
  /** Requests per pass before yielding (default 1024). */
  batchLimit?: number;
}

/** What blkback needs: dom0 (its grants and event channels), its xenstore client, the storage and a clock. */
export interface BlkbackDeps {
  domain: Domain;
  xs: XenstoreClient;
  storage: BlockStorage;
  clock: Clock;
}

interface Connection {
  readonly frontId: number;
  readonly ring: BackRing;
  readonly ringMaps: GrantMapping[];
  readonly port: EvtchnPort;
  readonly persistent: boolean;
  readonly persistentMaps: Map<number, GrantMapping>;
}

const SECTOR = 512;
const TWO32 = 2 ** 32;

function misuse(message: string): Error {
  const e = new NetlabError("ERR_NETLAB_BLK_ARGS", message);
  return e;
}

/** Creates a backend instance; call start() to probe. */
export function createBlkback(deps: BlkbackDeps, options: BlkbackOptions): Blkback {
  const { domain, xs, storage, clock } = deps;
  const be = options.backendPath;
  if (!/^\/local\/domain\/\d+\/backend\/vbd\/\d+\/\d+$/.test(be)) throw misuse(`bad backend path ${be}`);
  const maxOrder = options.maxRingPageOrder ?? DEFAULT_MAX_RING_PAGE_ORDER;
  const maxIndirect = options.maxIndirectSegments ?? DEFAULT_MAX_INDIRECT_SEGMENTS;
  const offerPersistent = options.persistent ?? true;
  const maxPersistent = options.maxPersistentGrants ?? DEFAULT_MAX_PERSISTENT_GRANTS;
  const serviceDelay = options.serviceDelayMs ?? 0;
  const batchLimit = options.batchLimit ?? DEFAULT_BATCH_LIMIT;
  if (maxOrder < 0 || maxOrder > 4 || maxIndirect < 0 || maxIndirect > 4096) throw misuse("bad blkback limits");

  let state: BlkbackState = "closed";
  let xbState: number = XenbusState.Unknown;
  let fePath = "";
  let feId = -1;
  let discardEnabled = true;
  let readOnly = storage.readOnly;
  let conn: Connection | undefined;
  let watch: XsWatchHandle | undefined;
  let timer: TimerId | undefined;
  let dead = false;
  const faults: BlkFault[] = [];
  const faultHandlers: ((f: BlkFault) => void)[] = [];
  const stats = { requests: 0, errors: 0, notSupported: 0, sectorsRead: 0, sectorsWritten: 0, persistentGrants: 0, connects: 0 };

  // Scratch, allocated once: the request copy, the response image (each through its xen-sim/abi
  // view), segment lists.
  const reqBuf = new Uint8Array(BLKIF_SLOT_SIZE);
  const req = new BlkifRequestView(reqBuf);
  const rspBuf = new Uint8Array(BLKIF_RESPONSE_SIZE);
  const rsp = new BlkifResponseView(rspBuf);
  const maxSegs = Math.max(BLKIF_MAX_SEGMENTS_PER_REQUEST, maxIndirect);
  const segGref = new Uint32Array(maxSegs);
  const segFirst = new Uint8Array(maxSegs);
  const segLast = new Uint8Array(maxSegs);
  const segPage: (Uint8Array | undefined)[] = new Array<Uint8Array | undefined>(maxSegs).fill(undefined);
  const transient: GrantMapping[] = [];
  const indirectBytes = new Uint8Array(BLKIF_MAX_INDIRECT_PAGES_PER_REQUEST * 4096);
  const indirectSegments = new BlkifSegmentsView(indirectBytes);

  const report = (reason: string, detail?: string): void => {
    const f: BlkFault = detail === undefined ? { side: "backend", peer: feId, reason } : { side: "backend", peer: feId, reason, detail };
    faults.push(f);
    for (const h of faultHandlers) h(f);
  };

  const switchState = async (s: XenbusStateValue): Promise<void> => {
    if (dead) return;
    xbState = s;
    await switchXenbusState(xs, be, s);
  };

  // --- the data path -------------------------------------------------------------------------

  const unmapTransient = (): void => {
    for (const m of transient) domain.grants.unmap(m.handle);
    transient.length = 0;
  };

  /** Maps a grant of the frontend: persistent (kept, always writable) or for this request only. */
  const mapGrant = (c: Connection, gref: number, readonlyAccess: boolean): Uint8Array | undefined => {
    if (c.persistent) {
      const kept = c.persistentMaps.get(gref);
      if (kept !== undefined) return kept.page;
      if (c.persistentMaps.size < maxPersistent) {
        const m = domain.grants.map(c.frontId, gref);
        if (!m.ok) return undefined;
        c.persistentMaps.set(gref, m.value);
        stats.persistentGrants = c.persistentMaps.size;
        return m.value.page;
      }
    }
    const m = domain.grants.map(c.frontId, gref, { readonly: readonlyAccess && !c.persistent });
    if (!m.ok) return undefined;
    transient.push(m.value);
    return m.value.page;
  };

  const respond = (c: Connection, idLo: number, idHi: number, operation: number, status: number): void => {
    rsp.clear();
    rsp.idLow = idLo;
    rsp.idHigh = idHi;
    rsp.operation = operation;
    rsp.status = status;
    c.ring.queueResponse(rspBuf);
    if (status === BLKIF_RSP_ERROR) stats.errors++;
    else if (status === BLKIF_RSP_EOPNOTSUPP) stats.notSupported++;
  };

  /** Serves READ/WRITE (and the data part of FLUSH/BARRIER) over segs parsed into seg*. */
  const doRw = (c: Connection, write: boolean, sector: number, nseg: number): number => {
    let total = 0;
    for (let i = 0; i < nseg; i++) {
      const first = segFirst[i]!;
      const last = segLast[i]!;
      if (first > last || last > 7) return BLKIF_RSP_ERROR;
      total += last - first + 1;
    }
    if (!(sector + total <= storage.sectors)) return BLKIF_RSP_ERROR;
    if (write && readOnly) return BLKIF_RSP_ERROR;
    for (let i = 0; i < nseg; i++) {
      const page = mapGrant(c, segGref[i]!, write);
      if (page === undefined) return BLKIF_RSP_ERROR;
      segPage[i] = page;
    }
    let s = sector;
    for (let i = 0; i < nseg; i++) {
      const first = segFirst[i]!;
      const last = segLast[i]!;
      const page = segPage[i]!;
      const view = first === 0 && last === 7 ? page : page.subarray(first * SECTOR, (last + 1) * SECTOR);
      const r = write ? storage.write(s, view) : storage.read(s, view);
      if (!r.ok) return BLKIF_RSP_ERROR;
      s += last - first + 1;
    }
    if (write) stats.sectorsWritten += total;
    else stats.sectorsRead += total;
    return BLKIF_RSP_OKAY;
  };

  const handleRequest = (c: Connection): void => {
    stats.requests++;
    const op = req.operation;
    const idLo = req.idLow;
    const idHi = req.idHigh;
    switch (op) {
      case BLKIF_OP_READ:
      case BLKIF_OP_WRITE:
      case BLKIF_OP_FLUSH_DISKCACHE:
      case BLKIF_OP_WRITE_BARRIER: {
        const nseg = req.nrSegments;
        // Sector fields beyond 2^53 read as Infinity (out of range for any disk).
        const sector = req.sectorNumber;
        const needsData = op === BLKIF_OP_READ || op === BLKIF_OP_WRITE;
        if ((op === BLKIF_OP_FLUSH_DISKCACHE || op === BLKIF_OP_WRITE_BARRIER) && !storage.canFlush) {
          respond(c, idLo, idHi, op, BLKIF_RSP_EOPNOTSUPP);
          return;
        }
        if (nseg > BLKIF_MAX_SEGMENTS_PER_REQUEST || (needsData && nseg === 0)) {
          respond(c, idLo, idHi, op, BLKIF_RSP_ERROR);
          return;
        }
        const segs = req.segments;
        for (let i = 0; i < nseg; i++) {
          segGref[i] = segs.gref(i);
          segFirst[i] = segs.firstSect(i);
          segLast[i] = segs.lastSect(i);
        }
        let status: number = BLKIF_RSP_OKAY;
        if (op === BLKIF_OP_WRITE_BARRIER && !storage.flush().ok) status = BLKIF_RSP_ERROR;
        if (status === BLKIF_RSP_OKAY && nseg > 0) status = doRw(c, op !== BLKIF_OP_READ, sector, nseg);
        if (status === BLKIF_RSP_OKAY && (op === BLKIF_OP_FLUSH_DISKCACHE || op === BLKIF_OP_WRITE_BARRIER) && !storage.flush().ok) {
          status = BLKIF_RSP_ERROR;
        }
        unmapTransient();
        respond(c, idLo, idHi, op, status);
        return;
      }
      case BLKIF_OP_INDIRECT: {
        const indirectOp = req.indirectOp;
        const nseg = req.indirectNrSegments;
        const sector = req.sectorNumber;
        const echo = indirectOp === BLKIF_OP_READ || indirectOp === BLKIF_OP_WRITE ? indirectOp : op;
        if (maxIndirect === 0) {
          respond(c, idLo, idHi, echo, BLKIF_RSP_EOPNOTSUPP);
          return;
        }
        if (echo === op || nseg === 0 || nseg > maxIndirect) {
          respond(c, idLo, idHi, echo, BLKIF_RSP_ERROR);
          return;
        }
        const pages = Math.ceil(nseg / BLKIF_SEGMENTS_PER_INDIRECT_PAGE);
        // Copy the segment table out of the frontend's pages once; validate the copy.
        for (let p = 0; p < pages; p++) {
          const page = mapGrant(c, req.indirectGref(p), true);
          if (page === undefined) {
            unmapTransient();
            respond(c, idLo, idHi, echo, BLKIF_RSP_ERROR);
            return;
          }
          const bytes = Math.min(4096, (nseg - p * BLKIF_SEGMENTS_PER_INDIRECT_PAGE) * 8);
          indirectBytes.set(bytes === 4096 ? page : page.subarray(0, bytes), p * 4096);
        }
        unmapTransient();
        for (let i = 0; i < nseg; i++) {
          segGref[i] = indirectSegments.gref(i);
          segFirst[i] = indirectSegments.firstSect(i);
          segLast[i] = indirectSegments.lastSect(i);
        }
        const status = doRw(c, indirectOp === BLKIF_OP_WRITE, sector, nseg);
        unmapTransient();
        respond(c, idLo, idHi, echo, status);
        return;
      }
      case BLKIF_OP_DISCARD: {
        const secure = (req.discardFlag & BLKIF_DISCARD_SECURE) !== 0;
        if (!storage.canDiscard || !discardEnabled || (secure && !storage.canSecureDiscard)) {
          respond(c, idLo, idHi, op, BLKIF_RSP_EOPNOTSUPP);
          return;
        }
        const sector = req.sectorNumber;
        const count = req.discardNrSectors;
        if (!(sector + count <= storage.sectors) || readOnly) {
          respond(c, idLo, idHi, op, BLKIF_RSP_ERROR);
          return;
        }
        const r = storage.discard(sector, count, secure);
        respond(c, idLo, idHi, op, r.ok ? BLKIF_RSP_OKAY : r.error === "not-supported" ? BLKIF_RSP_EOPNOTSUPP : BLKIF_RSP_ERROR);
        return;
      }
      default:
        respond(c, idLo, idHi, op, BLKIF_RSP_EOPNOTSUPP);
    }
  };

  /** Serves the ring until empty (final check closes the lost-wakeup race) or the batch limit. */
  const serve = (): void => {
    timer = undefined;
    const c = conn;
    if (c === undefined || dead) return;
    let budget = batchLimit;
    for (;;) {
      const n = c.ring.unconsumedRequests();
      if (!n.ok) {
        fatal("ring-overflow", "req_prod - rsp_prod_pvt exceeds the ring size");
        return;
      }
      let todo = n.value;
      while (todo-- > 0 && budget-- > 0) {
        const t = c.ring.takeRequest(reqBuf);
        if (!t.ok) break;
        handleRequest(c);
      }
      if (c.ring.pushResponses()) domain.events.send(c.port);
      if (budget <= 0) {
        timer = clock.setTimer(clock.now(), serve);
        return;
      }
      const more = c.ring.finalCheckForRequests();
      if (!more.ok) {
        fatal("ring-overflow", "req_prod - rsp_prod_pvt exceeds the ring size");
        return;
      }
      if (!more.value) return;
    }
  };

  const onEvent = (): void => {
    if (timer !== undefined) return;
    if (serviceDelay > 0) timer = clock.setTimer(clock.now() + serviceDelay, serve);
    else serve();
  };

  // --- connection -----------------------------------------------------------------------------

  const teardown = (): void => {
    if (timer !== undefined) clock.cancel(timer);
    timer = undefined;
    const c = conn;
    conn = undefined;
    if (c === undefined) return;
    domain.events.onEvent(c.port, undefined);
    domain.events.close(c.port);
    for (const m of c.persistentMaps.values()) domain.grants.unmap(m.handle);
    c.persistentMaps.clear();
    for (const m of c.ringMaps) domain.grants.unmap(m.handle);
    unmapTransient();
  };

  const fatal = (reason: string, detail: string): void => {
    if (dead) return;
    report(reason, detail);
    teardown();
    state = "faulted";
    // Linux xenbus_dev_fatal: error node under the domain's error/ tree, then Closing (on the device's task).
    const node = `${be.replace(/\/backend\/.*/, "")}/error${be.replace(/^\/local\/domain\/\d+/, "")}/error`;
    void task.run(async () => {
      await xs.write(node, `${reason}: ${detail}`);
      await switchState(XenbusState.Closing);
    });
  };

  /** connect_ring + connect: map, bind, advertise, Connected. */
  const connect = async (): Promise<void> => {
    teardown();
    const order = await readUint(xs, `${fePath}/ring-page-order`, 0);
    if (!order.ok || order.value > maxOrder) {
      fatal("bad-ring-page-order", `ring-page-order must be at most ${maxOrder}`);
      return;
    }
    const nPages = 1 << order.value;
    const refs: number[] = [];
    for (let i = 0; i < nPages; i++) {
      const key = order.value === 0 ? "ring-ref" : `ring-ref${i}`;
      const r = await readUint(xs, `${fePath}/${key}`, -1);
      if (!r.ok || r.value < 0 || r.value >= TWO32) {
        fatal("bad-ring-ref", `reading ${key}`);
        return;
      }
      refs.push(r.value);
    }
    const port = await readUint(xs, `${fePath}/event-channel`, -1);
    if (!port.ok || port.value <= 0) {
      fatal("bad-event-channel", "reading event-channel");
      return;
    }
    const proto = await xs.read(`${fePath}/protocol`);
    if (proto.ok && proto.value !== XEN_IO_PROTO_ABI_X86_64) {
      fatal("unknown-protocol", proto.value);
      return;
    }
    const fePersistent = await readUint(xs, `${fePath}/feature-persistent`, 0);
    if (dead) return;
    const ringMaps: GrantMapping[] = [];
    for (const ref of refs) {
      const m = domain.grants.map(feId, ref);
      if (!m.ok) {
        for (const x of ringMaps) domain.grants.unmap(x.handle);
        fatal("bad-ring-ref", `mapping ring grant ${ref}: ${m.error}`);
        return;
      }
      ringMaps.push(m.value);
    }
    const local = domain.events.bindInterdomain(feId, port.value);
    if (!local.ok) {
      for (const x of ringMaps) domain.grants.unmap(x.handle);
      fatal("bad-event-channel", `binding port ${port.value}: ${local.error}`);
      return;
    }
    const ring = createBackRing(
      ringMaps.map((m) => m.page),
      { slotSize: BLKIF_SLOT_SIZE },
    );
    conn = {
      frontId: feId,
      ring,
      ringMaps,
      port: local.value,
      persistent: offerPersistent && fePersistent.ok && fePersistent.value === 1,
      persistentMaps: new Map(),
    };
    domain.events.onEvent(local.value, onEvent);
    const discard = storage.canDiscard && discardEnabled;
    const w = await xs.transaction(async (tx) => {
      const kv: [string, string][] = [
        ["feature-flush-cache", storage.canFlush ? "1" : "0"],
        ["feature-discard", discard ? "1" : "0"],
        ...(discard
          ? ([
              ["discard-granularity", String(storage.discardGranularity)],
              ["discard-alignment", "0"],
              ["discard-secure", storage.canSecureDiscard ? "1" : "0"],
            ] as [string, string][])
          : []),
        ["feature-barrier", storage.canFlush ? "1" : "0"],
        ["feature-persistent", offerPersistent ? "1" : "0"],
        ["sectors", String(storage.sectors)],
        ["info", String(readOnly ? VDISK_READONLY : 0)],
        ["sector-size", String(storage.sectorSize)],
        ["physical-sector-size", String(storage.physicalSectorSize)],
      ];
      for (const [k, v] of kv) {
        const r = await tx.write(`${be}/${k}`, v);
        if (!r.ok) return r;
      }
      return ok(undefined);
    });
    if (!w.ok || dead) return;
    stats.connects++;
    state = "connected";
    await switchState(XenbusState.Connected);
    // Requests may have been queued before we were listening.
    onEvent();
  };

  /** Linux blkback frontend_changed(), driven by the frontend's state. */
  const frontendChanged = async (): Promise<void> => {
    if (dead) return;
    const fs = await readState(xs, fePath);
    if (dead) return;
    switch (fs) {
      case XenbusState.Initialising:
        if (xbState === XenbusState.Closed || xbState === XenbusState.Closing || xbState === XenbusState.Initialising) {
          teardown();
          state = "initwait";
          await switchState(XenbusState.InitWait);
        }
        return;
      case XenbusState.Initialised:
        if (xbState === XenbusState.InitWait) await connect();
        return;
      case XenbusState.Connected:
        // Ignored unless we wait for it: a Connected frontend we never connected to is stale.
        return;
      case XenbusState.Closing:
        if (xbState !== XenbusState.Closing && xbState !== XenbusState.Closed) {
          teardown();
          state = "closing";
          await switchState(XenbusState.Closing);
        }
        return;
      case XenbusState.Closed:
        if (xbState !== XenbusState.Closed) {
          teardown();
          state = "closed";
          await switchState(XenbusState.Closed);
        }
        return;
      default:
        return;
    }
  };

  const task = createSerialTask(frontendChanged, (e) => report("internal", String(e)));

  const api: Blkback = {
    get state() {
      return state;
    },
    stats,
    faults,
    onFault(h) {
      faultHandlers.push(h);
    },
    async start() {
      const fe = await xs.read(`${be}/frontend`);
      const fid = await readUint(xs, `${be}/frontend-id`, -1);
      if (!fe.ok || !fid.ok || fid.value < 0) return err("no-frontend");
      fePath = fe.value;
      feId = fid.value;
      const mode = await xs.read(`${be}/mode`);
      if (mode.ok && mode.value === "r") readOnly = true;
      const de = await xs.read(`${be}/discard-enable`);
      discardEnabled = !(de.ok && de.value === "0");
      const w = await xs.transaction(async (tx) => {
        for (const [k, v] of [
          ["feature-max-indirect-segments", String(maxIndirect)],
          ["multi-queue-max-queues", "1"],
          ["max-ring-page-order", String(maxOrder)],
        ] as const) {
          const r = await tx.write(`${be}/${k}`, v);
          if (!r.ok) return r;
        }
        return ok(undefined);
      });
      if (!w.ok) return err("xenstore");
      const fs = await readState(xs, fePath);
      if (fs === XenbusState.Unknown || fs === XenbusState.Initialising) {
        state = "initwait";
        await switchState(XenbusState.InitWait);
      } else {
        // A frontend past Initialising talked to a previous instance: make it start over.
        state = "closed";
        await switchState(XenbusState.Closed);
      }
      const h = await xs.watch(`${fePath}/state`, () => task.trigger(), `blkback:${be}`);
      if (!h.ok) return err("xenstore");
      watch = h.value;
      if (dead) void h.value.unwatch();
      return ok(undefined);
    },
    reattachRing() {
      const c = conn;
      if (dead || state !== "connected" || c === undefined) return false;
      if (timer !== undefined) clock.cancel(timer);
      timer = undefined;
      for (const m of c.persistentMaps.values()) domain.grants.unmap(m.handle);
      unmapTransient();
      stats.persistentGrants = 0;
      conn = {
        ...c,
        ring: createBackRing(
          c.ringMaps.map((m) => m.page),
          { slotSize: BLKIF_SLOT_SIZE },
        ),
        persistentMaps: new Map(),
      };
      return true;
    },
    crash() {
      dead = true;
      task.stop();
      teardown();
      state = "crashed";
      storage.close();
      if (watch !== undefined) void watch.unwatch();
      watch = undefined;
    },
    async close() {
      if (!dead) {
        teardown();
        state = "closed";
        await task.run(() => switchState(XenbusState.Closed));
      }
      dead = true;
      task.stop();
      if (watch !== undefined) await watch.unwatch();
      watch = undefined;
      storage.close();
    },
  };
  return api;
}
