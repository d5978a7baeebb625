// netfront: a guest's Xen network device (Linux drivers/net/xen-netfront.c) as a NetDevice.
// Handshake (xen-abi.md §7): on the backend's InitWait (feature-rx-copy required) it grants one
// tx and one rx ring page, allocates the event channel(s), writes tx-ring-ref, rx-ring-ref,
// event-channel (or -tx/-rx), request-rx-copy, feature-rx-notify, feature-sg and
// feature-gso-tcpv4 in one transaction, then switches straight to Connected (never
// Initialised). A backend that comes back through InitWait (restart) makes it drop its rings,
// go back to Initialising and connect again; frames in flight are lost, queued ones are sent.
// Closing or Closed close it; other states (Initialised, Unknown: a missing or malformed node)
// are ignored, as Linux's netback_changed does. A page whose grant the backend still maps when
// it is freed is retried every second until the backend lets go (gnttab's deferred free).
// Tx: each frame is copied into our pages, one page per slot, each granted read-only for the
// request's lifetime; the first slot's size is the whole frame (more_data chains the rest);
// Frame.offload maps to NETTXF_csum_blank|data_validated and a GSO extra-info slot.
// Rx: pages pre-posted (request id = ring slot), refilled after each batch; responses are
// copied out of shared memory once and validated (id, status, offset + status within the page,
// slot count, extra types) before anything is used. Notifications follow the ring's event
// fields (push-and-check-notify, final check before sleeping).
//   createNetfront(deps, options)   reads the device dir, returns the NetDevice, starts the handshake

import { err, ok, type Result } from "../../stack/result.ts";
import type { Frame, FrameOffload, Offloads } from "../../stack/link/types.ts";
import type { Clock, TimerId } from "../../stack/time.ts";
import { parseMac, type MacAddress } from "../../stack/wire/address.ts";
import {
  NETIF_RSP_NULL,
  NETIF_TX_SLOT_SIZE,
  NETIF_RX_SLOT_SIZE,
  NETRXF_csum_blank,
  NETRXF_data_validated,
  NETRXF_extra_info,
  NETRXF_more_data,
  NETTXF_csum_blank,
  NETTXF_data_validated,
  NETTXF_extra_info,
  NETTXF_more_data,
  XEN_NETIF_EXTRA_FLAG_MORE,
  XEN_NETIF_EXTRA_TYPE_GSO,
  XEN_NETIF_EXTRA_TYPE_MAX,
  XEN_NETIF_GSO_TYPE_TCPV4,
  XEN_NETIF_MAX_TX_SIZE,
  NetifExtraInfoView,
  NetifRxRequestView,
  NetifRxResponseView,
  NetifTxRequestView,
  NetifTxResponseView,
} from "../abi/netif.ts";
import { PAGE_SIZE, type DomainId } from "../abi/xen.ts";
import type { EvtchnPort } from "../event-channel/types.ts";
import type { Domain } from "../hypervisor/types.ts";
import type { Frame as PageFrame } from "../memory/types.ts";
import { createFrontRing, initSharedRing } from "../ring/ring.ts";
import type { FrontRing } from "../ring/types.ts";
import type { XenstoreClient } from "../xenstore/client.ts";
import type { XsClientError } from "../xenstore/types.ts";
import { XenbusState, type XenbusStateValue } from "../xenbus/types.ts";
import { createSerialTask } from "../xenbus/serial-task.ts";
import { readKeys, readState, switchState, writeKeys } from "../xenbus/xenbus.ts";
import { createFramePool } from "./frame-pool.ts";
import { segmentTcpv4 } from "./gso.ts";
import { freeIdStack } from "../free-ids.ts";
import type { NetfrontOptions, NetfrontStats, Netfront, NetPeerError } from "./types.ts";

/** Linux's deferred grant free retries every second (gnttab_handle_deferred). */
const DEFERRED_RETRY_MS = 1000;
/** Retries of one arming before a page the backend never unmaps is left (counted in deferredGrants). */
const DEFERRED_TRIES = 600;

/** Why createNetfront failed. */
export type NetfrontError = "no-device" | "bad-mac" | "bad-backend" | XsClientError;

interface Buf {
  frame: PageFrame;
  page: Uint8Array;
  /** The grant ref, or NO_REF while the backend has no access. */
  ref: number;
}

/**
 * Buf.ref of a buffer not granted. Tested with ===, not `< 0`: a fuzz build instruments this module
 * and pays a native comparison hook for every comparison with a numeric literal (a reconnect
 * revokes 256 rx buffers).
 */
const NO_REF = -1;

interface Rings {
  readonly tx: FrontRing;
  readonly rx: FrontRing;
  readonly txRing: Buf;
  readonly rxRing: Buf;
  readonly txPort: EvtchnPort;
  readonly rxPort: EvtchnPort;
  readonly txBufs: (Buf | undefined)[];
  readonly txFree: number[];
  readonly rxBufs: (Buf | undefined)[];
  readonly gso: boolean;
  readonly sg: boolean;
  scheduled: boolean;
}

const MAX_EXTRAS = XEN_NETIF_EXTRA_TYPE_MAX - 1;
const RX_CSUM_BLANK: FrameOffload = Object.freeze({ csumBlank: true, dataValidated: true });
const RX_VALIDATED: FrameOffload = Object.freeze({ dataValidated: true });

/** Reads device/vif/<devid>, creates the device and starts the handshake with its backend. */
export async function createNetfront(
  deps: { readonly domain: Domain; readonly xs: XenstoreClient; readonly clock: Clock },
  options: NetfrontOptions = {},
): Promise<Result<Netfront, NetfrontError>> {
  const { domain, xs, clock } = deps;
  const devid = options.devid ?? 0;
  const frontendPath = `device/vif/${devid}`;
  const keys = await readKeys(xs, frontendPath, ["backend", "backend-id", "mac", "state"]);
  if (!keys.ok) return keys;
  const k = keys.value;
  if (k.backend === undefined || k["backend-id"] === undefined || k.state === undefined) return err("no-device");
  if (!/^[0-9]{1,5}$/.test(k["backend-id"]) || !k.backend.startsWith("/")) return err("bad-backend");
  const mac = parseMac(k.mac ?? "");
  if (!mac.ok) return err("bad-mac");
  return ok(netfront({ domain, xs, clock }, options, devid, frontendPath, k.backend, Number(k["backend-id"]), mac.value));
}

function netfront(
  deps: { readonly domain: Domain; readonly xs: XenstoreClient; readonly clock: Clock },
  options: NetfrontOptions,
  devid: number,
  frontendPath: string,
  backendPath: string,
  backendId: DomainId,
  mac: MacAddress,
): Netfront {
  const { domain, xs, clock } = deps;
  const wantCsum = options.checksumOffload ?? true;
  const wantGso = options.gso ?? true;
  const budget = options.budget ?? 64;
  const maxRxSlots = options.maxRxSlots ?? 19;
  const queueLimit = options.txQueueLimit ?? 1024;
  const offloads: Offloads = Object.freeze({ txChecksum: wantCsum, tso: wantCsum && wantGso, maxGsoFrame: wantCsum && wantGso ? XEN_NETIF_MAX_TX_SIZE : 0 });
  const stats: NetfrontStats = {
    txFrames: 0,
    txBytes: 0,
    txSlots: 0,
    txDropped: 0,
    txErrors: 0,
    txSoftwareSegmented: 0,
    rxFrames: 0,
    rxBytes: 0,
    rxDropped: 0,
    notificationsSent: 0,
    events: 0,
    connects: 0,
    peerErrors: 0,
    deferredGrants: 0,
  };
  let receive: (f: Frame) => void = () => {};
  let stateHandler: (s: XenbusStateValue, c: boolean) => void = () => {};
  let peerHandler: (e: NetPeerError) => void = () => {};
  let state: XenbusStateValue = XenbusState.Initialising;
  let backendConnected = false;
  let rings: Rings | undefined;
  let closed = false;
  const queue: Frame[] = [];
  let queueHead = 0;
  const deferred: Buf[] = [];

  // Requests built for the rings and responses copied out of them, each through its xen-sim/abi view.
  const txSlot = new Uint8Array(NETIF_TX_SLOT_SIZE);
  const txReq = new NetifTxRequestView(txSlot);
  const txExtra = new NetifExtraInfoView(txSlot);
  const rxSlot = new Uint8Array(NETIF_RX_SLOT_SIZE);
  const rxReq = new NetifRxRequestView(rxSlot);
  const rspCopy = new Uint8Array(NETIF_TX_SLOT_SIZE);
  const txRsp = new NetifTxResponseView(rspCopy);
  const rxRsp = new NetifRxResponseView(rspCopy.subarray(0, NETIF_RX_SLOT_SIZE));
  const rxExtra = new NetifExtraInfoView(rspCopy.subarray(0, NETIF_RX_SLOT_SIZE));
  const parts: number[] = [];
  const taken: number[] = [];
  const pool = createFramePool();
  const consumed: number[] = [];

  // ---- pages and grants -------------------------------------------------------------------
  const allocBuf = (readonly: boolean): Buf | undefined => {
    const f = domain.memory.allocPage();
    if (!f.ok) return undefined;
    const p = domain.memory.page(f.value);
    if (!p.ok) return undefined;
    const b: Buf = { frame: f.value, page: p.value, ref: NO_REF };
    if (!grant(b, readonly)) {
      domain.memory.freePage(f.value);
      return undefined;
    }
    return b;
  };
  const grant = (b: Buf, readonly: boolean): boolean => {
    const r = domain.grants.grantAccess(backendId, b.frame, readonly);
    if (!r.ok) return false;
    b.ref = r.value;
    return true;
  };
  /** Ends access to a buffer's grant; false when the backend still holds it (then the buffer is set aside). */
  const revoke = (b: Buf): boolean => {
    if (b.ref === NO_REF) return true;
    const r = domain.grants.endAccess(b.ref);
    if (r.ok) {
      b.ref = NO_REF;
      return true;
    }
    deferred.push(b);
    stats.deferredGrants++;
    armDeferred();
    return false;
  };
  // Linux gnttab_end_foreign_access: a page the backend still maps goes on a deferred list that a
  // timer retries every second (gnttab_handle_deferred) until the backend lets go, even after the
  // device is gone. Without it a backend that closes with the rings mapped would keep the pages
  // and grant refs forever. Bounded here: DEFERRED_TRIES retries per arming.
  let deferredTimer: TimerId | undefined;
  let deferredTries = 0;
  const armDeferred = (): void => {
    deferredTries = 0;
    if (deferredTimer === undefined) deferredTimer = clock.setTimer(clock.now() + DEFERRED_RETRY_MS, deferredTick);
  };
  const deferredTick = (): void => {
    deferredTimer = undefined;
    retryDeferred();
    if (deferred.length > 0 && ++deferredTries < DEFERRED_TRIES) deferredTimer = clock.setTimer(clock.now() + DEFERRED_RETRY_MS, deferredTick);
  };
  const free = (b: Buf): void => {
    if (revoke(b)) domain.memory.freePage(b.frame);
  };
  const retryDeferred = (): void => {
    for (let i = deferred.length - 1; i >= 0; i--) {
      const b = deferred[i]!;
      if (domain.grants.endAccess(b.ref).ok) {
        deferred.splice(i, 1);
        domain.memory.freePage(b.frame);
      }
    }
  };

  // ---- rings --------------------------------------------------------------------------------
  const report = (reason: string, fatal: boolean, detail?: string): void => {
    stats.peerErrors++;
    peerHandler({ domid: backendId, devid, reason, fatal, ...(detail === undefined ? {} : { detail }) });
    // Like Linux's info->broken: stop using the rings; a backend that comes back through InitWait is served again.
    if (fatal) teardown();
  };

  const notify = (port: EvtchnPort): void => {
    stats.notificationsSent++;
    domain.events.send(port);
  };

  const setupRings = (gso: boolean, sg: boolean, split: boolean): Result<Rings, "out-of-memory" | "no-port"> => {
    const txRing = allocBuf(false);
    const rxRing = allocBuf(false);
    if (!txRing || !rxRing) {
      if (txRing) free(txRing);
      if (rxRing) free(rxRing);
      return err("out-of-memory");
    }
    initSharedRing(txRing.page);
    initSharedRing(rxRing.page);
    const tx = createFrontRing([txRing.page], { slotSize: NETIF_TX_SLOT_SIZE });
    const rx = createFrontRing([rxRing.page], { slotSize: NETIF_RX_SLOT_SIZE });
    const txPort = domain.events.allocUnbound(backendId);
    const rxPort = split && txPort.ok ? domain.events.allocUnbound(backendId) : txPort;
    if (!txPort.ok || !rxPort.ok) {
      if (txPort.ok) domain.events.close(txPort.value);
      free(txRing);
      free(rxRing);
      return err("no-port");
    }
    const r: Rings = {
      tx,
      rx,
      txRing,
      rxRing,
      txPort: txPort.value,
      rxPort: rxPort.value,
      txBufs: new Array<Buf | undefined>(tx.size).fill(undefined),
      txFree: freeIdStack(tx.size),
      rxBufs: new Array<Buf | undefined>(rx.size).fill(undefined),
      gso,
      sg,
      scheduled: false,
    };
    domain.events.onEvent(r.txPort, () => poll(r));
    if (r.rxPort !== r.txPort) domain.events.onEvent(r.rxPort, () => poll(r));
    return ok(r);
  };

  const teardown = (): void => {
    const r = rings;
    if (r === undefined) return;
    rings = undefined;
    backendConnected = false;
    domain.events.onEvent(r.txPort, undefined);
    domain.events.close(r.txPort);
    if (r.rxPort !== r.txPort) {
      domain.events.onEvent(r.rxPort, undefined);
      domain.events.close(r.rxPort);
    }
    for (const b of r.txBufs) if (b) free(b);
    for (const b of r.rxBufs) if (b) free(b);
    free(r.txRing);
    free(r.rxRing);
    retryDeferred();
  };

  /** Posts rx buffers up to the target (request id = ring slot of the request). */
  const refill = (r: Rings): void => {
    const target = Math.min(options.rxBuffers ?? r.rx.size, r.rx.size);
    let posted = false;
    while (r.rx.size - r.rx.freeRequests() < target) {
      const id = r.rx.reqProdPvt & (r.rx.size - 1);
      let b = r.rxBufs[id];
      if (b === undefined || b.ref === NO_REF) {
        if (b !== undefined && !grant(b, false)) break;
        if (b === undefined) {
          const nb = allocBuf(false);
          if (nb === undefined) break;
          b = nb;
          r.rxBufs[id] = b;
        }
      }
      rxReq.id = id;
      rxReq.pad = 0;
      rxReq.gref = b.ref;
      if (!r.rx.queueRequest(rxSlot).ok) break;
      posted = true;
    }
    if (posted && r.rx.pushRequests()) notify(r.rxPort);
  };

  // ---- tx -------------------------------------------------------------------------------------
  const slotsFor = (len: number, gso: boolean): number => Math.ceil(len / PAGE_SIZE) + (gso ? 1 : 0);

  /** Puts one frame on the ring; false when the ring lacks room (the frame stays with the caller). */
  const transmit = (r: Rings, frame: Frame): boolean => {
    const data = frame.data;
    const len = data.length;
    const off = frame.offload;
    const gsoSize = off?.gsoSize ?? 0;
    if (len < 14 || len > XEN_NETIF_MAX_TX_SIZE || (gsoSize > 0 && !offloads.tso)) {
      stats.txDropped++;
      return true;
    }
    if (gsoSize > 0 && !(r.gso && r.sg)) {
      // The backend cannot take GSO: segment here (as Linux's stack does for a device without TSO).
      const segs: Uint8Array[] = [];
      const s = segmentTcpv4(data, gsoSize, (seg) => segs.push(seg));
      if (!s.ok) {
        stats.txDropped++;
        return true;
      }
      let need = 0;
      for (const seg of segs) need += slotsFor(seg.length, false);
      if (r.tx.freeRequests() < need || r.txFree.length < need) return false;
      stats.txSoftwareSegmented++;
      for (const seg of segs) transmit(r, { data: seg });
      frame.release?.();
      return true;
    }
    if (!r.sg && len > PAGE_SIZE) {
      stats.txDropped++;
      return true;
    }
    const gso = gsoSize > 0;
    const need = slotsFor(len, gso);
    if (r.tx.freeRequests() < need || r.txFree.length < need) return false;
    let flags = 0;
    if (off?.csumBlank === true) flags |= NETTXF_csum_blank | NETTXF_data_validated;
    else if (off?.dataValidated === true) flags |= NETTXF_data_validated;
    // Take every id, page and grant first, so that a failure leaves nothing half-queued.
    const dataSlots = Math.max(1, Math.ceil(len / PAGE_SIZE));
    taken.length = 0;
    for (let k = 0; k < dataSlots; k++) {
      const id = r.txFree.pop()!;
      let b = r.txBufs[id];
      const ok = b === undefined ? (b = allocBuf(true)) !== undefined : grant(b, true);
      if (!ok || b === undefined) {
        r.txFree.push(id);
        for (const t of taken) {
          const tb = r.txBufs[t]!;
          if (!revoke(tb)) r.txBufs[t] = undefined;
          r.txFree.push(t);
        }
        stats.txDropped++;
        return true;
      }
      r.txBufs[id] = b;
      taken.push(id);
    }
    let pos = 0;
    for (let k = 0; k < dataSlots; k++) {
      const id = taken[k]!;
      const b = r.txBufs[id]!;
      const chunk = Math.min(PAGE_SIZE, len - pos);
      b.page.set(chunk === len ? data : data.subarray(pos, pos + chunk), 0);
      pos += chunk;
      const more = pos < len;
      const first = k === 0;
      txReq.gref = b.ref;
      txReq.offset = 0;
      txReq.flags = (first ? flags | (gso ? NETTXF_extra_info : 0) : 0) | (more ? NETTXF_more_data : 0);
      txReq.id = id;
      txReq.size = first ? len : chunk;
      r.tx.queueRequest(txSlot);
      stats.txSlots++;
      if (first && gso) {
        txExtra.clear();
        txExtra.type = XEN_NETIF_EXTRA_TYPE_GSO;
        txExtra.gsoSize = gsoSize;
        txExtra.gsoType = XEN_NETIF_GSO_TYPE_TCPV4;
        r.tx.queueRequest(txSlot);
        stats.txSlots++;
      }
    }
    stats.txFrames++;
    stats.txBytes += len;
    // The bytes are in the granted pages now: a recycled buffer can go back to its producer.
    frame.release?.();
    if (r.tx.pushRequests()) notify(r.txPort);
    return true;
  };

  const enqueueOrSend = (frame: Frame): boolean => {
    const r = rings;
    if (r !== undefined && queueHead === queue.length && transmit(r, frame)) return true;
    if (queue.length - queueHead >= queueLimit) {
      stats.txDropped++;
      return false;
    }
    queue.push(frame);
    return true;
  };

  const flushQueue = (r: Rings): void => {
    while (queueHead < queue.length && rings === r) {
      if (!transmit(r, queue[queueHead]!)) break;
      queue[queueHead++] = undefined as unknown as Frame;
    }
    if (queueHead === queue.length) {
      queue.length = 0;
      queueHead = 0;
    } else if (queueHead > 1024) {
      queue.splice(0, queueHead);
      queueHead = 0;
    }
  };

  /** Takes tx responses and releases their buffers; false when the backend broke the ring. */
  const txGc = (r: Rings): boolean => {
    for (;;) {
      for (;;) {
        const t = r.tx.takeResponse(rspCopy);
        if (!t.ok) {
          if (t.error === "empty") break;
          report("ill-behaved-peer", true, "tx rsp_prod");
          return false;
        }
        const id = txRsp.id;
        const status = txRsp.status;
        if (status === NETIF_RSP_NULL) continue;
        const b = id < r.txBufs.length ? r.txBufs[id] : undefined;
        if (b === undefined || b.ref === NO_REF) {
          report("bad-tx-response-id", true, `id ${id}`);
          return false;
        }
        if (!revoke(b)) r.txBufs[id] = undefined;
        r.txFree.push(id);
        if (status < 0) stats.txErrors++;
      }
      const more = r.tx.finalCheckForResponses();
      if (!more.ok) {
        report("ill-behaved-peer", true, "tx rsp_prod");
        return false;
      }
      if (!more.value) return true;
    }
  };

  // ---- rx -------------------------------------------------------------------------------------
  /** Takes the next rx response into rspCopy; returns its ring slot, -1 when none, -2 when the ring is broken. */
  const takeRx = (r: Rings): number => {
    const slot = r.rx.rspCons & (r.rx.size - 1);
    const t = r.rx.takeResponse(rspCopy);
    if (t.ok) return slot;
    if (t.error === "empty") return -1;
    report("ill-behaved-peer", true, "rx rsp_prod");
    return -2;
  };

  /** Receives up to `budget` frames; returns whether more work remains, or null when the ring broke. */
  const rxPoll = (r: Rings): boolean | null => {
    let frames = 0;
    consumed.length = 0;
    let broken = false;
    outer: while (frames < budget) {
      let slot = takeRx(r);
      if (slot === -2) {
        broken = true;
        break;
      }
      if (slot === -1) {
        const more = r.rx.finalCheckForResponses();
        if (!more.ok) {
          report("ill-behaved-peer", true, "rx rsp_prod");
          broken = true;
          break;
        }
        if (!more.value) break;
        continue;
      }
      frames++;
      parts.length = 0;
      let good = true;
      let why = "";
      let slots = 1;
      let gsoSize = 0;
      consumed.push(slot);
      const id0 = rxRsp.id;
      const flags = rxRsp.flags;
      if (id0 !== slot) {
        report("bad-rx-response-id", true, `id ${id0} in slot ${slot}`);
        broken = true;
        break;
      }
      const pushPart = (s: number): void => {
        const offset = rxRsp.offset;
        const status = rxRsp.status;
        if (status < 0 || offset + status > PAGE_SIZE) {
          good = false;
          why = status < 0 ? "error-status" : "beyond-page";
        } else parts.push(s, offset, status);
      };
      pushPart(slot);
      if (flags & NETRXF_extra_info) {
        for (let n = 0; ; n++) {
          slot = takeRx(r);
          if (slot === -2) {
            broken = true;
            break outer;
          }
          if (slot === -1) {
            good = false;
            why = "missing-extra";
            break;
          }
          consumed.push(slot);
          const type = rxExtra.type;
          const xflags = rxExtra.flags;
          if (type === 0 || type >= XEN_NETIF_EXTRA_TYPE_MAX || n >= MAX_EXTRAS) {
            good = false;
            why = "bad-extra";
          } else if (type === XEN_NETIF_EXTRA_TYPE_GSO) {
            const size = rxExtra.gsoSize;
            if (rxExtra.gsoType !== XEN_NETIF_GSO_TYPE_TCPV4 || size === 0) {
              good = false;
              why = "bad-gso";
            } else gsoSize = size;
          }
          if (!(xflags & XEN_NETIF_EXTRA_FLAG_MORE) || n >= MAX_EXTRAS) break;
        }
      }
      let more = (flags & NETRXF_more_data) !== 0;
      while (more) {
        slot = takeRx(r);
        if (slot === -2) {
          broken = true;
          break outer;
        }
        if (slot === -1) {
          good = false;
          why = "missing-slots";
          break;
        }
        consumed.push(slot);
        if (rxRsp.id !== slot) {
          report("bad-rx-response-id", true, `slot ${slot}`);
          broken = true;
          break outer;
        }
        slots++;
        if (slots > maxRxSlots) {
          good = false;
          why = "too-many-slots";
        } else pushPart(slot);
        more = (rxRsp.flags & NETRXF_more_data) !== 0;
      }
      if (!good) {
        stats.rxDropped++;
        report(why, false);
        continue;
      }
      let total = 0;
      for (let i = 2; i < parts.length; i += 3) total += parts[i]!;
      const data = pool.alloc(total);
      let at = 0;
      for (let i = 0; i < parts.length; i += 3) {
        const b = r.rxBufs[parts[i]!]!;
        const o = parts[i + 1]!;
        const n = parts[i + 2]!;
        data.set(b.page.subarray(o, o + n), at);
        at += n;
      }
      const offload: FrameOffload | undefined =
        gsoSize > 0
          ? flags & NETRXF_csum_blank
            ? { csumBlank: true, dataValidated: true, gsoSize }
            : flags & NETRXF_data_validated
              ? { dataValidated: true, gsoSize }
              : { gsoSize }
          : flags & NETRXF_csum_blank
            ? RX_CSUM_BLANK
            : flags & NETRXF_data_validated
              ? RX_VALIDATED
              : undefined;
      stats.rxFrames++;
      stats.rxBytes += total;
      receive(offload === undefined ? { data } : { data, offload });
      if (rings !== r) return null;
    }
    // Copy-mode buffers: end the backend's access, then grant again when re-posting.
    for (const s of consumed) {
      const b = r.rxBufs[s];
      if (b !== undefined && !revoke(b)) r.rxBufs[s] = undefined;
    }
    consumed.length = 0;
    if (broken || rings !== r) return null;
    refill(r);
    return frames >= budget;
  };

  const poll = (r: Rings): void => {
    if (rings !== r) return;
    r.scheduled = false;
    stats.events++;
    if (!txGc(r)) return;
    const more = rxPoll(r);
    if (more === null || rings !== r) return;
    flushQueue(r);
    if (more && !r.scheduled) {
      r.scheduled = true;
      clock.setTimer(clock.now(), () => poll(r));
    }
  };

  // ---- handshake --------------------------------------------------------------------------

  const setState = async (s: XenbusStateValue): Promise<void> => {
    const r = await switchState(xs, frontendPath, s);
    if (r.ok) {
      state = s;
      stateHandler(s, rings !== undefined && backendConnected);
    }
  };

  const connect = async (): Promise<void> => {
    retryDeferred();
    const f = await readKeys(xs, backendPath, ["feature-rx-copy", "feature-sg", "feature-gso-tcpv4", "feature-split-event-channels"]);
    if (!f.ok || closed) return;
    if (f.value["feature-rx-copy"] !== "1") {
      await writeKeys(xs, frontendPath, { error: "backend does not support copying receive path" });
      await setState(XenbusState.Closing);
      return;
    }
    const sg = f.value["feature-sg"] === "1";
    const gso = wantGso && f.value["feature-gso-tcpv4"] === "1";
    const split = (options.splitEventChannels ?? false) && f.value["feature-split-event-channels"] === "1";
    teardown();
    const rr = setupRings(gso, sg, split);
    if (!rr.ok) {
      await setState(XenbusState.Closing);
      return;
    }
    const r = rr.value;
    rings = r;
    refill(r);
    const w = await writeKeys(xs, frontendPath, {
      "tx-ring-ref": r.txRing.ref,
      "rx-ring-ref": r.rxRing.ref,
      ...(split ? { "event-channel-tx": r.txPort, "event-channel-rx": r.rxPort } : { "event-channel": r.txPort }),
      "request-rx-copy": 1,
      "feature-rx-notify": 1,
      "feature-sg": 1,
      "feature-gso-tcpv4": wantGso ? 1 : 0,
      // As Linux's netfront: IPv6 csum_blank frames from the backend are taken (the stack treats them as validated).
      "feature-ipv6-csum-offload": options.ipv6ChecksumOffload === false ? 0 : 1,
    });
    if (!w.ok || rings !== r) {
      teardown();
      return;
    }
    stats.connects++;
    await setState(XenbusState.Connected);
    flushQueue(r);
  };

  /** Linux netback_changed(), run by the device's serial task with the backend's state as it is now. */
  const backendChanged = async (): Promise<void> => {
    if (closed) return;
    const s = await readState(xs, backendPath);
    if (closed) return;
    switch (s) {
      case XenbusState.InitWait:
        if (state === XenbusState.Initialising) await connect();
        else if (state === XenbusState.Connected && rings !== undefined && !backendConnected) {
          // InitWait before the backend ever reached Connected on these rings: either the event of
          // its InitWait answering our reset, or a backend restarted before connecting. Our rings are
          // intact; say Connected again so that a new backend (which ignores the state it found) maps them.
          await setState(XenbusState.Connected);
        } else if (state === XenbusState.Connected || state === XenbusState.Closed || state === XenbusState.Closing) {
          // The backend restarted after serving us: start over (xenbus_reset_state ends in Initialising too).
          teardown();
          await setState(XenbusState.Initialising);
          await connect();
        }
        break;
      case XenbusState.Connected:
        if (state === XenbusState.Connected && rings !== undefined && !backendConnected) {
          backendConnected = true;
          stateHandler(state, true);
          poll(rings);
        }
        break;
      case XenbusState.Closing:
      case XenbusState.Closed:
        backendConnected = false;
        if (state !== XenbusState.Closed) {
          teardown();
          await setState(XenbusState.Closed);
        }
        break;
      default:
        // Linux netback_changed ignores Initialising, Initialised, Reconfiguring, Reconfigured and
        // Unknown (a missing or malformed state node reads as Unknown): the connection, if any,
        // stays; only InitWait (a restart), Closing and Closed change it.
        break;
    }
  };

  const task = createSerialTask(backendChanged, (e) => report("internal", false, String(e)));
  let unwatch: (() => void) | undefined;
  void xs
    .watch(`${backendPath}/state`, () => task.trigger(), `netfront:${frontendPath}`)
    .then((r) => {
      if (!r.ok) return;
      if (closed) void r.value.unwatch();
      else unwatch = () => void r.value.unwatch();
    });

  /** Fresh front rings over the same pages, ports and rx buffers (see Netfront.resetRings). */
  const resetRings = (): boolean => {
    const r = rings;
    if (r === undefined || !backendConnected || state !== XenbusState.Connected || closed) return false;
    for (let id = 0; id < r.txBufs.length; id++) {
      const b = r.txBufs[id];
      if (b !== undefined) free(b);
    }
    retryDeferred();
    for (let i = queueHead; i < queue.length; i++) queue[i]!.release?.();
    queue.length = 0;
    queueHead = 0;
    r.txRing.page.fill(0);
    r.rxRing.page.fill(0);
    initSharedRing(r.txRing.page);
    initSharedRing(r.rxRing.page);
    const tx = createFrontRing([r.txRing.page], { slotSize: NETIF_TX_SLOT_SIZE });
    const rx = createFrontRing([r.rxRing.page], { slotSize: NETIF_RX_SLOT_SIZE });
    const nr: Rings = {
      ...r,
      tx,
      rx,
      txBufs: new Array<Buf | undefined>(tx.size).fill(undefined),
      txFree: freeIdStack(tx.size),
      // Posted buffers stay granted; a slot whose buffer was set aside (grant still held) gets a new page.
      rxBufs: r.rxBufs,
      scheduled: false,
    };
    // The old Rings object is dead: a poll it scheduled finds rings !== r and returns.
    rings = nr;
    domain.events.onEvent(nr.txPort, () => poll(nr));
    if (nr.rxPort !== nr.txPort) domain.events.onEvent(nr.rxPort, () => poll(nr));
    refill(nr);
    return true;
  };

  const dev: Netfront = {
    mac,
    mtu: 1500,
    offloads,
    devid,
    frontendPath,
    backendPath,
    backendId,
    get state() {
      return state;
    },
    get connected() {
      return rings !== undefined && backendConnected;
    },
    send(frame) {
      enqueueOrSend(frame);
    },
    onReceive(h) {
      receive = h;
    },
    onStateChange(h) {
      stateHandler = h;
    },
    onPeerError(h) {
      peerHandler = h;
    },
    stats: () => stats,
    resetRings,
    async close() {
      if (closed) return;
      await task.run(() => setState(XenbusState.Closing));
      // The backend answers Closing; backendChanged then writes Closed (xenbus_frontend_closed).
      for (let i = 0; i < 1000 && state !== XenbusState.Closed; i++) await new Promise<void>((res) => clock.setTimer(clock.now() + 10, res));
      closed = true;
      task.stop();
      unwatch?.();
      teardown();
      if (state !== XenbusState.Closed) await setState(XenbusState.Closed);
    },
  };
  return dev;
}
