// blkfront: the guest's block frontend (Linux drivers/block/xen-blkfront, xen-abi.md §3, §7).
// Handshake: on backend InitWait grants the ring page(s) (ring-page-order = min(ours, the
// backend's max-ring-page-order)), allocates an event channel and writes in one transaction
// ring-ref (or ring-page-order + ring-ref0..N), event-channel, protocol=x86_64-abi,
// feature-persistent, then Initialised; on backend Connected reads sectors, info, sector-size,
// physical-sector-size and the feature-* keys and writes Connected. A later backend Connected
// means re-read `sectors` (resize). When the backend goes to Closing/Closed (it closed, or a
// restarted instance asks for a fresh handshake) the ring is torn down, requests on it are kept,
// the frontend goes Closed then Initialising, and re-issues them once connected again.
// Data pages come from a pool in the guest's memory: with persistent grants (both sides offer
// feature-persistent) each page is granted once, read-write, and reused; without, pages are
// granted per request (read-only for writes) and access is ended on completion. Requests of more
// than 11 segments use indirect descriptors when the backend offers feature-max-indirect-segments.
// Every response is copied out of the ring and validated (rsp_prod within the ring, a known id
// not yet answered, the operation sent); a backend breaking those rules is reported and the
// device fails every request with "disconnected".
//   createBlkfront   the driver for one vbd of a guest

import { err, ok, type Result } from "../../stack/result.ts";
import {
  BLKIF_DISCARD_SECURE,
  BLKIF_MAX_SEGMENTS_PER_REQUEST,
  BLKIF_OP_DISCARD,
  BLKIF_OP_FLUSH_DISKCACHE,
  BLKIF_OP_INDIRECT,
  BLKIF_OP_READ,
  BLKIF_OP_WRITE,
  BLKIF_OP_WRITE_BARRIER,
  BLKIF_RSP_EOPNOTSUPP,
  BLKIF_RSP_OKAY,
  BLKIF_SEGMENTS_PER_INDIRECT_PAGE,
  BLKIF_SLOT_SIZE,
  VDISK_READONLY,
  XEN_IO_PROTO_ABI_X86_64,
  BlkifRequestView,
  BlkifResponseView,
  BlkifSegmentsView,
} from "../abi/blkif.ts";
import type { EvtchnPort } from "../event-channel/types.ts";
import type { Domain } from "../hypervisor/types.ts";
import type { Frame } from "../memory/types.ts";
import { createFrontRing, initSharedRing } from "../ring/ring.ts";
import type { FrontRing } from "../ring/types.ts";
import type { XenstoreClient, XsWatchHandle } from "../xenstore/client.ts";
import type { BlkCallback, BlkError, BlkFault, Blkfront, BlkfrontFeatures, BlkfrontState } from "./types.ts";
import { readState, switchState as switchXenbusState } from "../xenbus/xenbus.ts";
import { XenbusState } from "../xenbus/types.ts";
import { createSerialTask, readUint } from "../xenbus/serial-task.ts";
import { NetlabError } from "../../stack/error.ts";
import { clearShadows, createShadows, type BlkShadow } from "./shadow.ts";
import { freeIdStack } from "../free-ids.ts";

/** Linux xen_blkif_max_segments default. */
export const DEFAULT_FRONT_INDIRECT_SEGMENTS = 32;
/** Data pages the pool may hold by default (4 MiB). */
export const DEFAULT_MAX_DATA_PAGES = 1024;

/** Options of createBlkfront. */
export interface BlkfrontOptions {
  /** `/local/domain/<F>/device/vbd/<id>`. */
  frontendPath: string;
  /** Wanted ring-page-order, capped by the backend's max-ring-page-order (default 0, as Linux). */
  ringPageOrder?: number;
  /** Segments per indirect request wanted (default 32; 0 disables indirect descriptors). */
  maxIndirectSegments?: number;
  /** Offer feature-persistent (default true). */
  persistent?: boolean;
  /** Most data pages in the pool (default 1024); requests wait for pages beyond. */
  maxDataPages?: number;
  /** Reconnect when the backend closes or restarts (default true). */
  reconnect?: boolean;
}

/** What blkfront needs: its guest domain and the guest's xenstore client. */
export interface BlkfrontDeps {
  domain: Domain;
  xs: XenstoreClient;
}

const K_READ = 0;
const K_WRITE = 1;
const K_FLUSH = 2;
const K_DISCARD = 3;
const K_BARRIER = 4;

interface Op {
  kind: number;
  sector: number;
  count: number;
  data: Uint8Array | undefined;
  done: BlkCallback;
  secure: boolean;
  /** Sectors handed to the ring so far. */
  submitted: number;
  outstanding: number;
  error: BlkError | undefined;
}

interface Part {
  op: Op;
  sector: number;
  count: number;
  offset: number;
  seq: number;
}

type Shadow = BlkShadow<Op>;

/** A pool of guest pages granted to the backend. */
interface PagePool {
  pages: Uint8Array[];
  frames: Frame[];
  grefs: number[];
  /** Whether the current grant is read-only. */
  ro: boolean[];
  free: number[];
}

function misuse(message: string): Error {
  const e = new NetlabError("ERR_NETLAB_BLK_ARGS", message);
  return e;
}

const NO_FEATURES: BlkfrontFeatures = {
  flush: false,
  barrier: false,
  discard: false,
  secureDiscard: false,
  discardGranularity: 0,
  discardAlignment: 0,
  persistent: false,
  indirectSegments: 0,
  ringPageOrder: 0,
  readOnly: false,
  physicalSectorSize: 512,
};

/** Creates the frontend of one vbd; call connect() to run the handshake. */
export function createBlkfront(deps: BlkfrontDeps, options: BlkfrontOptions): Blkfront {
  const { domain, xs } = deps;
  const fe = options.frontendPath;
  if (!/^\/local\/domain\/\d+\/device\/vbd\/\d+$/.test(fe)) throw misuse(`bad frontend path ${fe}`);
  const wantOrder = options.ringPageOrder ?? 0;
  const wantIndirect = options.maxIndirectSegments ?? DEFAULT_FRONT_INDIRECT_SEGMENTS;
  const offerPersistent = options.persistent ?? true;
  const maxDataPages = options.maxDataPages ?? DEFAULT_MAX_DATA_PAGES;
  const reconnect = options.reconnect ?? true;
  if (wantOrder < 0 || wantOrder > 4 || wantIndirect < 0 || wantIndirect > 4096 || maxDataPages < 1) throw misuse("bad blkfront limits");

  let state: BlkfrontState = "initialising";
  let xbState: number = XenbusState.Initialising;
  let bePath = "";
  let beId = -1;
  let sectorSize = 512;
  let capacity = 0;
  let features: BlkfrontFeatures = NO_FEATURES;
  let persistentActive = false;
  let segsPerRequest = BLKIF_MAX_SEGMENTS_PER_REQUEST;
  let ring: FrontRing | undefined;
  let ringFrames: Frame[] = [];
  let ringGrefs: number[] = [];
  let port: EvtchnPort = 0;
  let shadows: Shadow[] = [];
  let freeIds: number[] = [];
  let watch: XsWatchHandle | undefined;
  let started: Promise<Result<void, BlkError | "handshake-failed">> | undefined;
  let closing = false;
  let inIrq = false;
  let pumping = false;
  let seq = 0;
  let inFlight = 0;
  const queue: Op[] = [];
  let queueHead = 0;
  let retries: Part[] = [];
  const deferredEnd: { pool: PagePool; index: number }[] = [];
  const readyWaiters: ((r: Result<void, BlkError | "handshake-failed">) => void)[] = [];
  const closeWaiters: (() => void)[] = [];
  const resizeHandlers: ((n: number) => void)[] = [];
  const faultHandlers: ((f: BlkFault) => void)[] = [];
  const stats = { requests: 0, indirectRequests: 0, responses: 0, errors: 0, reissued: 0, connects: 0, grantsIssued: 0, leakedPages: 0 };
  const data: PagePool = { pages: [], frames: [], grefs: [], ro: [], free: [] };
  const ind: PagePool = { pages: [], frames: [], grefs: [], ro: [], free: [] };

  // The request built for the ring and the response copied out of it, through their xen-sim/abi views.
  const reqBuf = new Uint8Array(BLKIF_SLOT_SIZE);
  const req = new BlkifRequestView(reqBuf);
  const rspBuf = new Uint8Array(BLKIF_SLOT_SIZE);
  const rsp = new BlkifResponseView(rspBuf);

  // --- page pools -------------------------------------------------------------------------------

  /** Takes a pool page granted as wanted (persistent: read-write, kept); undefined when none is left. */
  const takePage = (pool: PagePool, limit: number, readonly: boolean): number => {
    let i = pool.free.pop();
    if (i === undefined) {
      if (pool.pages.length >= limit) return -1;
      const f = domain.memory.allocPage();
      if (!f.ok) return -1;
      const p = domain.memory.page(f.value);
      if (!p.ok) return -1;
      i = pool.pages.length;
      pool.pages.push(p.value);
      pool.frames.push(f.value);
      pool.grefs.push(-1);
      pool.ro.push(false);
    }
    const ro = persistentActive ? false : readonly;
    if (pool.grefs[i]! < 0) {
      const g = domain.grants.grantAccess(beId, pool.frames[i]!, ro);
      if (!g.ok) {
        pool.free.push(i);
        return -1;
      }
      pool.grefs[i] = g.value;
      pool.ro[i] = ro;
      stats.grantsIssued++;
    }
    return i;
  };

  /** Ends a page's grant (unless persistent) and returns it to the pool; a busy grant is retried later. */
  const releasePage = (pool: PagePool, i: number, keepGrant: boolean): void => {
    if (keepGrant || pool.grefs[i]! < 0) {
      pool.free.push(i);
      return;
    }
    const r = domain.grants.endAccess(pool.grefs[i]!);
    if (r.ok) {
      pool.grefs[i] = -1;
      pool.free.push(i);
    } else if (r.error === "busy") {
      deferredEnd.push({ pool, index: i });
    } else {
      pool.grefs[i] = -1;
      pool.free.push(i);
    }
  };

  const retryDeferred = (): void => {
    for (let k = deferredEnd.length - 1; k >= 0; k--) {
      const d = deferredEnd[k]!;
      const r = domain.grants.endAccess(d.pool.grefs[d.index]!);
      if (r.ok || r.error !== "busy") {
        d.pool.grefs[d.index] = -1;
        d.pool.free.push(d.index);
        deferredEnd.splice(k, 1);
      }
    }
  };

  /** Ends every grant of a pool (reconnection); a page still mapped by the old backend is given up. */
  const revokePool = (pool: PagePool): void => {
    for (let i = 0; i < pool.pages.length; i++) {
      const g = pool.grefs[i]!;
      if (g < 0) continue;
      const r = domain.grants.endAccess(g);
      if (!r.ok && r.error === "busy") {
        stats.leakedPages++;
        const at = pool.free.indexOf(i);
        if (at >= 0) pool.free.splice(at, 1);
        pool.grefs[i] = -2;
      } else {
        pool.grefs[i] = -1;
      }
    }
  };

  /** Ends every grant of a pool and frees its pages (a page still mapped is given up); the pool is empty after. */
  const dropPool = (pool: PagePool): void => {
    for (let i = 0; i < pool.pages.length; i++) {
      const g = pool.grefs[i]!;
      if (g === -2) continue;
      if (g >= 0) {
        const r = domain.grants.endAccess(g);
        if (!r.ok && r.error === "busy") {
          stats.leakedPages++;
          continue;
        }
      }
      domain.memory.freePage(pool.frames[i]!);
    }
    pool.pages.length = 0;
    pool.frames.length = 0;
    pool.grefs.length = 0;
    pool.ro.length = 0;
    pool.free.length = 0;
  };

  /** Blkfront.resetRing: see its documentation in types.ts. */
  const resetRing = (): boolean => {
    if (state !== "connected" || ring === undefined || inIrq || pumping) return false;
    const pages: Uint8Array[] = [];
    for (const f of ringFrames) {
      const p = domain.memory.page(f);
      if (!p.ok) return false;
      pages.push(p.value);
    }
    const ops = new Set<Op>();
    clearShadows(shadows, ops);
    for (const p of retries) ops.add(p.op);
    for (let i = queueHead; i < queue.length; i++) ops.add(queue[i]!);
    retries = [];
    queue.length = 0;
    queueHead = 0;
    deferredEnd.length = 0;
    dropPool(data);
    dropPool(ind);
    for (const p of pages) p.fill(0);
    initSharedRing(pages[0]!);
    ring = createFrontRing(pages, { slotSize: BLKIF_SLOT_SIZE });
    freeIds = freeIdStack(ring.size);
    for (const op of ops) {
      op.outstanding = 0;
      op.error = "disconnected";
      complete(op);
    }
    return true;
  };

  // --- completion -------------------------------------------------------------------------------

  const complete = (op: Op): void => {
    inFlight--;
    if (op.error !== undefined) op.done(err(op.error));
    else op.done(ok(undefined));
  };

  const failOp = (op: Op, e: BlkError): void => {
    op.error = e;
    op.submitted = op.count;
    if (op.outstanding === 0) complete(op);
  };

  /** Fails everything queued, retried and on the ring, and drops the ring (device dead). */
  const failEverything = (e: BlkError): void => {
    const ops = new Set<Op>();
    for (const s of shadows) if (s.inUse && s.op !== undefined) ops.add(s.op);
    for (const p of retries) ops.add(p.op);
    for (let i = queueHead; i < queue.length; i++) ops.add(queue[i]!);
    teardownRing(false);
    retries = [];
    queue.length = 0;
    queueHead = 0;
    for (const op of ops) {
      op.outstanding = 0;
      op.error = e;
      complete(op);
    }
  };

  /** Fails what is not on the ring; parts on the ring complete (with the error) when answered. */
  const failQueued = (e: BlkError): void => {
    const ops = new Set<Op>();
    for (const p of retries) ops.add(p.op);
    for (let i = queueHead; i < queue.length; i++) ops.add(queue[i]!);
    retries = [];
    queue.length = 0;
    queueHead = 0;
    for (const op of ops) failOp(op, e);
  };

  // --- submission -------------------------------------------------------------------------------

  /** Puts one part on the ring; false when out of ids or pages (try again after completions). */
  const issue = (op: Op, sector: number, count: number, offset: number, partSeq: number): boolean => {
    const r = ring!;
    if (r.freeRequests() === 0 || freeIds.length === 0) return false;
    const id = freeIds[freeIds.length - 1]!;
    const s = shadows[id]!;
    const isData = op.kind === K_READ || op.kind === K_WRITE || op.kind === K_BARRIER;
    const nseg = isData ? (count + 7) >>> 3 : 0;
    const indirect = nseg > BLKIF_MAX_SEGMENTS_PER_REQUEST;
    const nInd = indirect ? Math.ceil(nseg / BLKIF_SEGMENTS_PER_INDIRECT_PAGE) : 0;
    const devWrites = op.kind !== K_READ;
    // Reserve pages first so a shortage leaves nothing half done.
    for (let i = 0; i < nseg; i++) {
      const p = takePage(data, maxDataPages, devWrites);
      if (p < 0) {
        for (let j = 0; j < i; j++) releasePage(data, s.pages[j]!, persistentActive);
        return false;
      }
      s.pages[i] = p;
    }
    for (let i = 0; i < nInd; i++) {
      const p = takePage(ind, 64, true);
      if (p < 0) {
        for (let j = 0; j < nseg; j++) releasePage(data, s.pages[j]!, persistentActive);
        for (let j = 0; j < i; j++) releasePage(ind, s.indirect[j]!, persistentActive);
        return false;
      }
      s.indirect[i] = p;
    }
    freeIds.pop();
    const dataOp =
      op.kind === K_READ
        ? BLKIF_OP_READ
        : op.kind === K_WRITE
          ? BLKIF_OP_WRITE
          : op.kind === K_BARRIER
            ? BLKIF_OP_WRITE_BARRIER
            : op.kind === K_DISCARD
              ? BLKIF_OP_DISCARD
              : features.flush
                ? BLKIF_OP_FLUSH_DISKCACHE
                : BLKIF_OP_WRITE_BARRIER;
    s.inUse = true;
    s.op = op;
    s.sector = sector;
    s.count = count;
    s.offset = offset;
    s.seq = partSeq;
    s.nPages = nseg;
    s.nIndirect = nInd;
    s.dataOp = dataOp;
    s.reqOp = indirect ? BLKIF_OP_INDIRECT : dataOp;
    req.clear();
    req.idLow = id;
    req.sectorNumber = sector;
    if (op.kind === K_DISCARD) {
      req.operation = BLKIF_OP_DISCARD;
      req.discardFlag = op.secure ? BLKIF_DISCARD_SECURE : 0;
      req.discardNrSectors = count;
    } else if (indirect) {
      req.operation = BLKIF_OP_INDIRECT;
      req.indirectOp = dataOp;
      req.indirectNrSegments = nseg;
      for (let i = 0; i < nInd; i++) req.setIndirectGref(i, ind.grefs[s.indirect[i]!]!);
    } else {
      req.operation = dataOp;
      req.nrSegments = nseg;
    }
    let segs = req.segments;
    let left = count;
    let off = offset;
    const src = op.data;
    for (let i = 0; i < nseg; i++) {
      const n = left < 8 ? left : 8;
      const pi = s.pages[i]!;
      if (devWrites && src !== undefined) {
        const page = data.pages[pi]!;
        page.set(src.subarray(off, off + n * 512));
      }
      const gref = data.grefs[pi]!;
      // Indirect: segment i is entry i % 512 of indirect page i / 512 (one view per page).
      if (indirect && (i & (BLKIF_SEGMENTS_PER_INDIRECT_PAGE - 1)) === 0) segs = new BlkifSegmentsView(ind.pages[s.indirect[i >>> 9]!]!);
      segs.set(indirect ? i & (BLKIF_SEGMENTS_PER_INDIRECT_PAGE - 1) : i, gref, 0, n - 1);
      left -= n;
      off += n * 512;
    }
    r.queueRequest(reqBuf);
    op.outstanding++;
    stats.requests++;
    if (indirect) stats.indirectRequests++;
    return true;
  };

  /** Fills the ring from retries then the queue, and notifies the backend if the push asks for it. */
  const pump = (): void => {
    if (state !== "connected" || ring === undefined || inIrq || pumping) return;
    pumping = true;
    try {
      pumpRing(ring);
    } finally {
      pumping = false;
    }
  };

  const pumpRing = (r: FrontRing): void => {
    let queued = false;
    while (retries.length > 0) {
      const p = retries[0]!;
      if (!issue(p.op, p.sector, p.count, p.offset, p.seq)) break;
      retries.shift();
      stats.reissued++;
      queued = true;
    }
    const maxSectors = segsPerRequest * 8;
    while (retries.length === 0 && queueHead < queue.length) {
      const op = queue[queueHead]!;
      if (op.submitted === 0 && op.error === undefined) {
        const bad = checkOp(op);
        if (bad !== undefined) {
          queueHead++;
          failOp(op, bad);
          continue;
        }
      }
      if (op.error !== undefined) {
        queueHead++;
        continue;
      }
      if (op.kind === K_FLUSH && !features.flush && !features.barrier) {
        // No volatile cache on the backend: nothing to flush (Linux treats the disk as write-through).
        queueHead++;
        complete(op);
        continue;
      }
      const isData = op.kind === K_READ || op.kind === K_WRITE || op.kind === K_BARRIER;
      const n = isData ? Math.min(op.count - op.submitted, maxSectors) : op.count;
      // A barrier is one request: its data must fit.
      if (op.kind === K_BARRIER && op.count > maxSectors) {
        queueHead++;
        failOp(op, "bad-argument");
        continue;
      }
      if (!issue(op, op.sector + op.submitted, n, op.submitted * 512, seq++)) {
        // Nothing on the ring will free pages or ids: the guest is out of memory or grant refs.
        if (freeIds.length === shadows.length && deferredEnd.length === 0 && op.outstanding === 0) {
          queueHead++;
          failOp(op, "io-error");
          continue;
        }
        break;
      }
      queued = true;
      op.submitted += isData ? n : op.count;
      if (op.submitted >= op.count) queueHead++;
    }
    if (queueHead > 1024 && queueHead * 2 > queue.length) {
      queue.splice(0, queueHead);
      queueHead = 0;
    }
    if (queued && r.pushRequests()) domain.events.send(port);
  };

  const checkOp = (op: Op): BlkError | undefined => {
    if (op.kind === K_FLUSH) return undefined;
    if (op.kind === K_DISCARD) {
      if (!features.discard || (op.secure && !features.secureDiscard)) return "not-supported";
    } else if (op.kind === K_BARRIER && !features.barrier) {
      return "not-supported";
    }
    if (op.kind !== K_READ && features.readOnly) return "read-only";
    if (op.sector + op.count > capacity) return "out-of-range";
    const align = sectorSize / 512;
    if (align > 1 && (op.sector % align !== 0 || op.count % align !== 0)) return "bad-argument";
    return undefined;
  };

  const submit = (kind: number, sector: number, count: number, bytes: Uint8Array | undefined, done: BlkCallback, secure = false): void => {
    if (
      !Number.isSafeInteger(sector) ||
      sector < 0 ||
      !Number.isSafeInteger(count) ||
      count < 0 ||
      ((kind === K_READ || kind === K_WRITE || kind === K_BARRIER || kind === K_DISCARD) && count === 0)
    ) {
      done(err("bad-argument"));
      return;
    }
    if (state === "error") {
      done(err("disconnected"));
      return;
    }
    if (state === "closed" || closing) {
      done(err("closed"));
      return;
    }
    if (kind === K_FLUSH && state === "connected" && !features.flush && !features.barrier) {
      // No volatile cache on the backend: nothing to flush (Linux treats the disk as write-through).
      done(ok(undefined));
      return;
    }
    inFlight++;
    queue.push({ kind, sector, count, data: bytes, done, secure, submitted: 0, outstanding: 0, error: undefined });
    pump();
  };

  // --- responses --------------------------------------------------------------------------------

  const fatal = (reason: string, detail: string): void => {
    if (state === "error") return;
    const f: BlkFault = { side: "frontend", peer: beId, reason, detail };
    state = "error";
    failEverything("disconnected");
    for (const h of faultHandlers) h(f);
    // Linux xenbus_dev_fatal: error node under the domain's error/ tree, then Closing (on the device's task).
    xbState = XenbusState.Closing;
    void task.run(async () => {
      await xs.write(`${fe.replace(/\/device\/.*/, "")}/error${fe.replace(/^\/local\/domain\/\d+/, "")}/error`, `${reason}: ${detail}`);
      await switchXenbusState(xs, fe, XenbusState.Closing);
    });
    for (const w of readyWaiters.splice(0)) w(err("disconnected"));
  };

  const onResponse = (): boolean => {
    const r = ring;
    if (r === undefined) return false;
    const t = r.takeResponse(rspBuf);
    if (!t.ok) {
      if (t.error !== "empty") fatal("ring-overflow", "rsp_prod beyond the requests sent");
      return false;
    }
    const idLo = rsp.idLow;
    const idHi = rsp.idHigh;
    const rop = rsp.operation;
    const status = rsp.status;
    const s = idHi === 0 && idLo < shadows.length ? shadows[idLo]! : undefined;
    if (s === undefined) {
      fatal("bad-response-id", `id ${idHi * 2 ** 32 + idLo} is not a request slot`);
      return false;
    }
    if (!s.inUse || s.op === undefined) {
      fatal("duplicate-response", `id ${idLo} answered twice or never sent`);
      return false;
    }
    if (rop !== s.reqOp && rop !== s.dataOp) {
      fatal("bad-response-operation", `id ${idLo}: operation ${rop}, sent ${s.reqOp}`);
      return false;
    }
    stats.responses++;
    const op = s.op;
    if (status === BLKIF_RSP_OKAY) {
      if (op.kind === K_READ && op.data !== undefined) {
        let left = s.count;
        let off = s.offset;
        for (let i = 0; i < s.nPages; i++) {
          const n = left < 8 ? left : 8;
          const page = data.pages[s.pages[i]!]!;
          op.data.set(n === 8 ? page : page.subarray(0, n * 512), off);
          left -= n;
          off += n * 512;
        }
      }
    } else {
      stats.errors++;
      if (op.error === undefined) op.error = status === BLKIF_RSP_EOPNOTSUPP ? "not-supported" : "io-error";
    }
    for (let i = 0; i < s.nPages; i++) releasePage(data, s.pages[i]!, persistentActive);
    for (let i = 0; i < s.nIndirect; i++) releasePage(ind, s.indirect[i]!, persistentActive);
    s.inUse = false;
    s.op = undefined;
    freeIds.push(idLo);
    op.outstanding--;
    if (op.outstanding === 0 && op.submitted >= op.count) complete(op);
    return true;
  };

  const irq = (): void => {
    if (ring === undefined || state === "error") return;
    inIrq = true;
    try {
      for (let guard = 0; guard < 1_000_000; guard++) {
        const n = ring.unconsumedResponses();
        if (!n.ok) {
          fatal("ring-overflow", "rsp_prod - rsp_cons exceeds the ring or the requests sent");
          return;
        }
        for (let k = n.value; k > 0; k--) if (!onResponse()) return;
        if (ring === undefined) return;
        const more = ring.finalCheckForResponses();
        if (!more.ok) {
          fatal("ring-overflow", "rsp_prod - rsp_cons exceeds the ring or the requests sent");
          return;
        }
        if (!more.value) break;
      }
    } finally {
      inIrq = false;
    }
    if (deferredEnd.length > 0) retryDeferred();
    pump();
  };

  // --- connection -------------------------------------------------------------------------------

  /** Drops the ring and event channel; requests on it go back to the retry list (or nowhere, when `keep` is false). */
  const teardownRing = (keep: boolean): void => {
    if (ring === undefined) return;
    const parts: Part[] = [];
    // Checked as the walk goes (not a list made first): finishing one request's op may free others.
    for (let id = 0; id < shadows.length; id++) {
      const s = shadows[id]!;
      if (!s.inUse || s.op === undefined) continue;
      if (keep) parts.push({ op: s.op, sector: s.sector, count: s.count, offset: s.offset, seq: s.seq });
      s.op.outstanding--;
      s.inUse = false;
      s.op = undefined;
      for (let i = 0; i < s.nPages; i++) data.free.push(s.pages[i]!);
      for (let i = 0; i < s.nIndirect; i++) ind.free.push(s.indirect[i]!);
    }
    parts.sort((a, b) => a.seq - b.seq);
    retries = keep ? parts.concat(retries) : [];
    for (const d of deferredEnd) d.pool.free.push(d.index);
    deferredEnd.length = 0;
    revokePool(data);
    revokePool(ind);
    domain.events.onEvent(port, undefined);
    domain.events.close(port);
    for (let i = 0; i < ringFrames.length; i++) {
      const r = domain.grants.endAccess(ringGrefs[i]!);
      if (r.ok) domain.memory.freePage(ringFrames[i]!);
      else stats.leakedPages++;
    }
    ring = undefined;
    ringFrames = [];
    ringGrefs = [];
  };

  /** talk_to_blkback: ring, event channel, keys in one transaction, Initialised. */
  const talkToBackend = async (): Promise<Result<void, string>> => {
    teardownRing(true);
    const maxOrder = await readUint(xs, `${bePath}/max-ring-page-order`, 0);
    if (!maxOrder.ok) return err("bad max-ring-page-order");
    const order = Math.min(wantOrder, maxOrder.value);
    const nPages = 1 << order;
    const pages: Uint8Array[] = [];
    const frames: Frame[] = [];
    const grefs: number[] = [];
    for (let i = 0; i < nPages; i++) {
      const f = domain.memory.allocPage();
      if (!f.ok) return err("out of memory");
      const p = domain.memory.page(f.value);
      if (!p.ok) return err("out of memory");
      const g = domain.grants.grantAccess(beId, f.value, false);
      if (!g.ok) return err("no grant refs");
      frames.push(f.value);
      pages.push(p.value);
      grefs.push(g.value);
    }
    initSharedRing(pages[0]!);
    const newRing = createFrontRing(pages, { slotSize: BLKIF_SLOT_SIZE });
    const p = domain.events.allocUnbound(beId);
    if (!p.ok) return err(`event channel: ${p.error}`);
    ring = newRing;
    ringFrames = frames;
    ringGrefs = grefs;
    port = p.value;
    shadows = createShadows(newRing.size, Math.max(BLKIF_MAX_SEGMENTS_PER_REQUEST, wantIndirect));
    freeIds = freeIdStack(newRing.size);
    domain.events.onEvent(port, irq);
    const w = await xs.transaction(async (tx) => {
      const kv: [string, string][] =
        order === 0
          ? [["ring-ref", String(grefs[0])]]
          : [["ring-page-order", String(order)], ...grefs.map((g, i): [string, string] => [`ring-ref${i}`, String(g)])];
      kv.push(["event-channel", String(port)], ["protocol", XEN_IO_PROTO_ABI_X86_64], ["feature-persistent", offerPersistent ? "1" : "0"]);
      for (const [k, v] of kv) {
        const r = await tx.write(`${fe}/${k}`, v);
        if (!r.ok) return r;
      }
      return ok(undefined);
    });
    if (!w.ok) return err(`xenstore: ${w.error}`);
    features = { ...features, ringPageOrder: order };
    xbState = XenbusState.Initialised;
    state = "connecting";
    await switchXenbusState(xs, fe, XenbusState.Initialised);
    return ok(undefined);
  };

  /** blkfront_connect: read the disk's geometry and features, Connected, re-issue. */
  const connectDone = async (): Promise<Result<void, string>> => {
    const sectors = await readUint(xs, `${bePath}/sectors`, -1);
    if (!sectors.ok || sectors.value < 0) return err("missing sectors");
    const info = await readUint(xs, `${bePath}/info`, 0);
    const ss = await readUint(xs, `${bePath}/sector-size`, 512);
    const pss = await readUint(xs, `${bePath}/physical-sector-size`, 512);
    if (!ss.ok || ss.value < 512 || ss.value > 4096 || (ss.value & (ss.value - 1)) !== 0) return err("bad sector-size");
    const flag = async (k: string): Promise<boolean> => {
      const r = await readUint(xs, `${bePath}/${k}`, 0);
      return r.ok && r.value === 1;
    };
    const flush = await flag("feature-flush-cache");
    const barrier = await flag("feature-barrier");
    const discard = await flag("feature-discard");
    const secure = discard && (await flag("discard-secure"));
    const gran = await readUint(xs, `${bePath}/discard-granularity`, 0);
    const align = await readUint(xs, `${bePath}/discard-alignment`, 0);
    const bePersistent = await flag("feature-persistent");
    const beIndirect = await readUint(xs, `${bePath}/feature-max-indirect-segments`, 0);
    if (ring === undefined) return err("ring gone");
    const indirect = beIndirect.ok ? Math.min(wantIndirect, beIndirect.value) : 0;
    persistentActive = offerPersistent && bePersistent;
    // A request never needs more pages than the pool may hold.
    segsPerRequest = Math.min(maxDataPages, indirect > BLKIF_MAX_SEGMENTS_PER_REQUEST ? indirect : BLKIF_MAX_SEGMENTS_PER_REQUEST);
    sectorSize = ss.value;
    capacity = sectors.value;
    features = {
      flush,
      barrier,
      discard,
      secureDiscard: secure,
      discardGranularity: gran.ok ? gran.value : 0,
      discardAlignment: align.ok ? align.value : 0,
      persistent: persistentActive,
      indirectSegments: indirect > BLKIF_MAX_SEGMENTS_PER_REQUEST ? indirect : 0,
      ringPageOrder: features.ringPageOrder,
      readOnly: info.ok && (info.value & VDISK_READONLY) !== 0,
      physicalSectorSize: pss.ok ? pss.value : 512,
    };
    xbState = XenbusState.Connected;
    await switchXenbusState(xs, fe, XenbusState.Connected);
    if (ring === undefined || state === "error") return err("ring gone");
    state = "connected";
    stats.connects++;
    for (const w of readyWaiters.splice(0)) w(ok(undefined));
    pump();
    return ok(undefined);
  };

  /** Linux blkback_changed(), driven by the backend's state. */
  const dead = (): boolean => state === "error" || state === "closed";

  const backendChanged = async (): Promise<void> => {
    if (dead()) return;
    const bs = await readState(xs, bePath);
    if (dead()) return;
    if (closing) {
      if (bs === XenbusState.Closing || bs === XenbusState.Closed) {
        teardownRing(true);
        failQueued("closed");
        state = "closed";
        xbState = XenbusState.Closed;
        await switchXenbusState(xs, fe, XenbusState.Closed);
        for (const w of closeWaiters.splice(0)) w();
      }
      return;
    }
    switch (bs) {
      case XenbusState.InitWait:
        if (xbState === XenbusState.Initialising || xbState === XenbusState.Closed) {
          const r = await talkToBackend();
          if (!r.ok) handshakeFailed(r.error);
        }
        return;
      case XenbusState.Connected:
        if (xbState === XenbusState.Initialised) {
          const r = await connectDone();
          if (!r.ok) handshakeFailed(r.error);
        } else if (xbState === XenbusState.Connected) {
          const sectors = await readUint(xs, `${bePath}/sectors`, -1);
          if (sectors.ok && sectors.value >= 0 && sectors.value !== capacity) {
            capacity = sectors.value;
            for (const h of resizeHandlers) h(capacity);
          }
        }
        return;
      case XenbusState.Closing:
      case XenbusState.Closed:
        if (xbState !== XenbusState.Closed) {
          // blkfront_closing: the backend went away; keep what was on the ring for the next connection.
          teardownRing(true);
          if (state === "connected" || state === "connecting") state = "reconnecting";
          xbState = XenbusState.Closed;
          await switchXenbusState(xs, fe, XenbusState.Closed);
        }
        if (bs === XenbusState.Closed && reconnect && xbState === XenbusState.Closed) {
          // Ask the (restarted) backend for a new connection: it answers Initialising with InitWait.
          xbState = XenbusState.Initialising;
          await switchXenbusState(xs, fe, XenbusState.Initialising);
        }
        return;
      default:
        return;
    }
  };

  const handshakeFailed = (why: string): void => {
    const f: BlkFault = { side: "frontend", peer: beId, reason: "handshake-failed", detail: why };
    for (const h of faultHandlers) h(f);
    for (const w of readyWaiters.splice(0)) w(err("handshake-failed"));
  };

  const task = createSerialTask(backendChanged, (e) => handshakeFailed(String(e)));

  const start = async (): Promise<Result<void, BlkError | "handshake-failed">> => {
    const be = await xs.read(`${fe}/backend`);
    const bid = await readUint(xs, `${fe}/backend-id`, -1);
    if (!be.ok || !bid.ok || bid.value < 0) return err("handshake-failed");
    bePath = be.value;
    beId = bid.value;
    const own = await readState(xs, fe);
    xbState = own === XenbusState.Unknown ? XenbusState.Initialising : own;
    const done = new Promise<Result<void, BlkError | "handshake-failed">>((r) => readyWaiters.push(r));
    const h = await xs.watch(`${bePath}/state`, () => task.trigger(), `blkfront:${fe}`);
    if (!h.ok) return err("handshake-failed");
    watch = h.value;
    return done;
  };

  const api: Blkfront = {
    get state() {
      return state;
    },
    get features() {
      return features;
    },
    get sectorSize() {
      return sectorSize;
    },
    get capacity() {
      return capacity;
    },
    get inFlight() {
      return inFlight;
    },
    stats,
    resetRing,
    connect() {
      if (state === "connected") return Promise.resolve(ok(undefined));
      if (started === undefined) started = start();
      else if (state !== "error" && state !== "closed") return new Promise((r) => readyWaiters.push(r));
      return started;
    },
    onResize(h) {
      resizeHandlers.push(h);
    },
    onFault(h) {
      faultHandlers.push(h);
    },
    submitRead(sector, into, done) {
      if (into.length % 512 !== 0) {
        done(err("bad-argument"));
        return;
      }
      submit(K_READ, sector, into.length / 512, into, done);
    },
    submitWrite(sector, bytes, done) {
      if (bytes.length % 512 !== 0) {
        done(err("bad-argument"));
        return;
      }
      submit(K_WRITE, sector, bytes.length / 512, bytes, done);
    },
    submitBarrier(sector, bytes, done) {
      if (bytes.length % 512 !== 0) {
        done(err("bad-argument"));
        return;
      }
      submit(K_BARRIER, sector, bytes.length / 512, bytes, done);
    },
    submitFlush(done) {
      submit(K_FLUSH, 0, 0, undefined, done);
    },
    submitDiscard(sector, count, done, secure = false) {
      submit(K_DISCARD, sector, count, undefined, done, secure);
    },
    read(sector, count) {
      if (!Number.isSafeInteger(count) || count <= 0 || count > 1 << 21) return Promise.resolve(err("bad-argument"));
      const out = new Uint8Array(count * 512);
      return new Promise((resolve) => api.submitRead(sector, out, (r) => resolve(r.ok ? ok(out) : r)));
    },
    write(sector, bytes) {
      return new Promise((resolve) => api.submitWrite(sector, bytes, resolve));
    },
    flush() {
      return new Promise((resolve) => api.submitFlush(resolve));
    },
    discard(sector, count) {
      return new Promise((resolve) => api.submitDiscard(sector, count, resolve));
    },
    async close() {
      if (state === "closed" || closing) return;
      closing = true;
      failQueued("closed");
      if (state === "error" || started === undefined) {
        state = "closed";
        failEverything("closed");
      } else {
        const done = new Promise<void>((r) => closeWaiters.push(r));
        await task.run(async () => {
          xbState = XenbusState.Closing;
          await switchXenbusState(xs, fe, XenbusState.Closing);
        });
        task.trigger();
        await done;
      }
      task.stop();
      // blkif_free: a closed device gives its data and indirect pages back to the domain (their
      // grants were ended when the ring came down; a page the backend still mapped then stays
      // counted in leakedPages). A blkfront closed after a fault kept them for good before.
      dropPool(data);
      dropPool(ind);
      if (watch !== undefined) await watch.unwatch();
      watch = undefined;
    },
  };
  return api;
}
