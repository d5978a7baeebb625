// netback: dom0's driver for guest vifs (Linux drivers/net/xen-netback), serving every device
// that appears under /local/domain/<dom0>/backend/vif. Handshake (xen-abi.md §7): advertise
// the features and switch to InitWait; on the frontend's Connected read its keys, map the two
// ring pages, bind the event channel(s), and write Connected once hotplug-status reads
// "connected". A frontend that resets (Initialising) is served again from InitWait. A restarted
// backend ignores the frontend state it finds at start (the watch's initial event) and waits for
// the frontend to go through Initialising again.
// The frontend is never trusted: each slot is copied out of the ring once and validated (the
// ill-behaved-peer index check, slot count, first-slot size covering the others, offset + size
// within the page, extra-info types, GSO size/type) before use; a violation is reported and
// disconnects the frontend (Closing, Closed, rings unmapped). A grant the hypervisor refuses
// drops the frame (RSP_ERROR) and is reported without disconnecting, as Linux does.
// Guest tx: each slot is copied with GNTTABOP_copy (source gref) into a fresh frame of dom0's
// handed to the bridge. Guest rx: frames are copied with GNTTABOP_copy (dest gref) straight from
// dom0's frame into the frontend's posted pages.
//   createNetback(deps, options)   the driver

import { err, ok, type Result } from "../../stack/result.ts";
import type { Frame, FrameOffload, NetDevice, Offloads } from "../../stack/link/types.ts";
import type { Clock } from "../../stack/time.ts";
import { completeChecksum } from "../../stack/link/checksum-offload.ts";
import {
  NETIF_RSP_ERROR,
  NETIF_RSP_NULL,
  NETIF_RSP_OKAY,
  NETIF_RX_RESPONSE_SIZE,
  NETIF_RX_SLOT_SIZE,
  NETIF_TX_RESPONSE_SIZE,
  NETIF_TX_SLOT_SIZE,
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
  XEN_NETIF_GSO_TYPE_TCPV6,
  XEN_NETIF_MAX_TX_SIZE,
  XEN_NETIF_NR_SLOTS_MIN,
  XEN_NETIF_EXTRA_TYPE_HASH,
  NetifExtraInfoView,
  NetifRxRequestView,
  NetifRxResponseView,
  NetifTxRequestView,
  NetifTxResponseView,
} from "../abi/netif.ts";
import { PAGE_SIZE, type DomainId } from "../abi/xen.ts";
import type { EvtchnPort } from "../event-channel/types.ts";
import type { GrantMapping } from "../grant-table/types.ts";
import type { Domain } from "../hypervisor/types.ts";
import { createBackRing, sharedResponseProducer } from "../ring/ring.ts";
import type { BackRing } from "../ring/types.ts";
import type { XenstoreClient } from "../xenstore/client.ts";
import { createSerialTask } from "../xenbus/serial-task.ts";
import { XenbusState, type XenbusStateValue } from "../xenbus/types.ts";
import { readKeys, readState, switchState, writeKeys } from "../xenbus/xenbus.ts";
import type { Bridge, BridgePort } from "./bridge.ts";
import { createFramePool } from "./frame-pool.ts";
import { createBufferRecycler } from "../../stack/link/recycler.ts";
import { createCtrlServer, createHashState, frameHash, HASH_TYPES_SUPPORTED, XEN_NETIF_CTRL_HASH_ALGORITHM_TOEPLITZ, type CtrlServer } from "./netif-ctrl.ts";
import { segmentTcpv4 } from "./gso.ts";
import type { Netback, NetbackOptions, NetbackVif, NetbackVifStats, NetPeerError } from "./types.ts";

/** Features netback writes before InitWait (Linux netback_probe). */
export const NETBACK_FEATURES = [
  "feature-sg",
  "feature-gso-tcpv4",
  "feature-gso-tcpv6",
  "feature-ipv6-csum-offload",
  "feature-rx-copy",
  "feature-rx-flip",
  "feature-split-event-channels",
  "multi-queue-max-queues",
  "feature-ctrl-ring",
] as const;

/** The frame is IPv6 in Ethernet, untagged or with one 802.1Q tag. */
function isIpv6(data: Uint8Array): boolean {
  const type = (data[12]! << 8) | data[13]!;
  return type === 0x86dd || (type === 0x8100 && ((data[16]! << 8) | data[17]!) === 0x86dd);
}

interface Connection {
  /** Replaced only by reattachRings (same pages, fresh private positions). */
  tx: BackRing;
  rx: BackRing;
  readonly txMap: GrantMapping;
  readonly rxMap: GrantMapping;
  readonly txPort: EvtchnPort;
  readonly rxPort: EvtchnPort;
  readonly gso: boolean;
  readonly sg: boolean;
  readonly csum: boolean;
  /** The frontend wrote feature-ipv6-csum-offload = 1: IPv6 csum_blank frames may go to it as they are. */
  readonly ipv6Csum: boolean;
  scheduled: boolean;
  /** False once disconnected: work scheduled for a dead connection is dropped. */
  live: boolean;
  /** Frames from the bridge waiting for this queue's rx requests. */
  readonly rxQueue: Frame[];
  rxHead: number;
  /** The control ring, when the frontend set one up (ctrl-ring-ref, event-channel-ctrl); on queue 0. */
  ctrl?: { readonly server: CtrlServer; readonly map: GrantMapping; readonly port: EvtchnPort };
}

/** Queue steering without the frontend's hash settings: Toeplitz over every hash type with a fixed key (one flow, one queue). */
const FLOW_HASH = (() => {
  const h = createHashState();
  h.algorithm = XEN_NETIF_CTRL_HASH_ALGORITHM_TOEPLITZ;
  h.flags = HASH_TYPES_SUPPORTED;
  for (let i = 0; i < h.key.length; i++) h.key[i] = (i * 0x9d + 0x5a) & 0xff;
  return h;
})();

/** Tx frames above this size (GSO) use recycled buffers; smaller ones are carved from slabs. */
const RECYCLE_MIN = 16384;
const CSUM_VALID = Object.freeze({ csumBlank: true, dataValidated: true });
const CSUM = Object.freeze({ csumBlank: true });
const VALID = Object.freeze({ dataValidated: true });
/** A GSO frame's offload: object literals, not spreads (this runs once per frame). */
function gsoOffload(csum: boolean, valid: boolean, gsoSize: number): FrameOffload {
  if (csum) return valid ? { csumBlank: true, dataValidated: true, gsoSize } : { csumBlank: true, gsoSize };
  return valid ? { dataValidated: true, gsoSize } : { gsoSize };
}

const DECIMAL_U32 = /^[0-9]{1,10}$/;
const parseU32 = (s: string | undefined): number | undefined => {
  if (s === undefined || !DECIMAL_U32.test(s)) return undefined;
  const n = Number(s);
  return n <= 0xffffffff ? n : undefined;
};

/** Creates dom0's netback driver; it serves existing and future vif backend dirs. */
export function createNetback(
  deps: {
    readonly dom0: Domain;
    readonly xs: XenstoreClient;
    readonly clock: Clock;
    /** The bridge a vif joins, by the name in its `bridge` key (the hotplug script's job). */
    readonly bridges: (name: string) => Bridge | undefined;
  },
  options: NetbackOptions = {},
): Netback {
  const { dom0, xs, clock } = deps;
  const root = `/local/domain/${dom0.id}/backend/vif`;
  const vifs = new Map<string, VifImpl>();
  let peerHandler: (e: NetPeerError) => void = () => {};
  let stateHandler: (v: NetbackVif, s: XenbusStateValue) => void = () => {};
  let stopped = false;
  let rootWatch: (() => void) | undefined;

  const rescan = async (): Promise<void> => {
    if (stopped) return;
    const fes = await xs.directory(root);
    const present = new Set<string>();
    if (fes.ok) {
      for (const fe of fes.value) {
        const ids = await xs.directory(`${root}/${fe}`);
        if (!ids.ok) continue;
        for (const id of ids.value) {
          if (!/^[0-9]{1,5}$/.test(fe) || !/^[0-9]{1,9}$/.test(id)) continue;
          const key = `${fe}/${id}`;
          present.add(key);
          if (!vifs.has(key) && !stopped) {
            const v = createVif(Number(fe), Number(id), `${root}/${key}`);
            vifs.set(key, v);
            void v.probe();
          }
        }
      }
    }
    for (const [key, v] of vifs) {
      if (!present.has(key)) {
        vifs.delete(key);
        v.remove();
      }
    }
  };

  /** Serves one vif dir found (or not) in `${root}/${fe}`'s listing `ids`; as rescan does for each. */
  const serveIfPresent = (fe: string, id: string, present: boolean): void => {
    const key = `${fe}/${id}`;
    const v = vifs.get(key);
    if (present) {
      if (v === undefined && !stopped) {
        const nv = createVif(Number(fe), Number(id), `${root}/${key}`);
        vifs.set(key, nv);
        void nv.probe();
      }
    } else if (v !== undefined) {
      vifs.delete(key);
      v.remove();
    }
  };

  /** Rescan of one frontend domain's dir (an event on `${root}/<fe>` itself): its vifs only. */
  const rescanFrontend = async (fe: string): Promise<void> => {
    if (stopped) return;
    const ids = await xs.directory(`${root}/${fe}`);
    const present = new Set<string>();
    if (ids.ok) {
      for (const id of ids.value) {
        if (!/^[0-9]{1,9}$/.test(id)) continue;
        present.add(id);
        serveIfPresent(fe, id, true);
      }
    }
    for (const key of [...vifs.keys()]) {
      const slash = key.indexOf("/");
      if (key.slice(0, slash) === fe && !present.has(key.slice(slash + 1))) serveIfPresent(fe, key.slice(slash + 1), false);
    }
  };

  /** An event under one device (`${root}/<fe>/<id>[/...]`): that device only (Linux xenbus's per-device otherend/backend watch). */
  const rescanDevice = async (fe: string, id: string): Promise<void> => {
    if (stopped) return;
    const ids = await xs.directory(`${root}/${fe}`);
    serveIfPresent(fe, id, ids.ok && ids.value.includes(id));
  };

  // The bus's own serial task (xen-sim/xenbus/serial-task): its step is the full rescan, so
  // root events that need one while one is queued coalesce; narrower rescans are queued actions.
  const bus = createSerialTask(rescan, () => {});

  /** Routes a root-watch event: to its device, its frontend domain's dir, or (root itself, anything else) a full rescan. */
  const onRootEvent = (p: string): void => {
    if (p.startsWith(`${root}/`)) {
      const parts = p.slice(root.length + 1).split("/");
      const fe = parts[0]!;
      if (/^[0-9]{1,5}$/.test(fe)) {
        if (parts.length === 1) {
          void bus.run(() => rescanFrontend(fe));
          return;
        }
        const id = parts[1]!;
        if (/^[0-9]{1,9}$/.test(id)) {
          void bus.run(() => rescanDevice(fe, id));
          return;
        }
      }
    }
    bus.trigger();
  };

  void xs
    .watch(root, (p) => onRootEvent(p))
    .then((r) => {
      if (r.ok) {
        if (stopped) void r.value.unwatch();
        else rootWatch = () => void r.value.unwatch();
      }
    });

  interface VifImpl extends NetbackVif {
    probe(): Promise<void>;
    remove(): void;
    crash(): void;
    shutdown(): Promise<void>;
  }

  function createVif(fe: DomainId, devid: number, path: string): VifImpl {
    const rxQueueLimit = options.rxQueueLimit ?? 512;
    const maxQueues = Math.max(1, Math.min(options.maxQueues ?? 1, 64));
    const budget = options.budget ?? 64;
    const maxTxSlots = options.maxTxSlots ?? XEN_NETIF_NR_SLOTS_MIN;
    const stats: NetbackVifStats = {
      txFrames: 0,
      txBytes: 0,
      txErrors: 0,
      rxFrames: 0,
      rxBytes: 0,
      rxDropped: 0,
      txBuffersReused: 0,
      rxHashes: 0,
      notificationsSent: 0,
      events: 0,
      peerErrors: 0,
      connects: 0,
    };
    let state: XenbusStateValue = XenbusState.Initialising;
    /** One connection per queue (multi-queue-num-queues); empty while disconnected. */
    let conns: Connection[] = [];
    /** Queue 0: the features and the control ring are per vif. */
    const first = (): Connection | undefined => conns[0];
    let frontendPath = "";
    let receive: (f: Frame) => void = () => {};
    let port: BridgePort | undefined;
    let frontUnwatch: (() => void) | undefined;
    let hotplugWatch: (() => void) | undefined;
    let gone = false;
    let firstFrontEvent = true;
    /** Called by the first run of frontendChanged (or a failed watch): probe goes on. */
    let firstFrontRun: () => void = () => {};
    const pool = createFramePool();
    // Large tx frames (GSO) come from buffers that the consumer gives back once it has copied
    // them out (Frame.release: another vif's rx or a tap; a simulated link port never gives them back), so they stay hot in cache.
    // keep 64: a receiver's ring of 256 rx slots takes about 15 GSO frames, and a full tx ring
    // plus the frames queued behind it for a slow receiver hold a few dozen more.
    const recycler = createBufferRecycler({ capacity: 65536, keep: 64, poison: options.poisonReleasedBuffers === true });

    // The request copied out of a ring (tx: a request or an extra-info slot; rx: a request) and
    // the response built for one, each seen through its xen-sim/abi view.
    const slot = new Uint8Array(NETIF_TX_SLOT_SIZE);
    const txReq = new NetifTxRequestView(slot);
    const txExtra = new NetifExtraInfoView(slot);
    const rxReq = new NetifRxRequestView(slot.subarray(0, NETIF_RX_SLOT_SIZE));
    const txResponse = new Uint8Array(NETIF_TX_RESPONSE_SIZE);
    const txRsp = new NetifTxResponseView(txResponse);
    const rxResponse = new Uint8Array(NETIF_RX_RESPONSE_SIZE);
    const rxRsp = new NetifRxResponseView(rxResponse);
    const rxExtra = new NetifExtraInfoView(rxResponse);
    const txReqs: number[] = []; // per data slot: gref, offset, size, id (flattened)

    const offloads: Offloads = {
      get txChecksum() {
        return first()?.csum ?? true;
      },
      get tso() {
        const c = first();
        return c !== undefined && c.gso && c.sg;
      },
      get maxGsoFrame() {
        const c = first();
        return c !== undefined && c.gso && c.sg ? XEN_NETIF_MAX_TX_SIZE : 0;
      },
    };

    const device: NetDevice = {
      // Linux gives every vif fe:ff:ff:ff:ff:ff; the bridge never uses its own ports' MACs.
      mac: 0xfeffffffffff,
      mtu: 1500,
      offloads,
      send(frame) {
        toGuest(frame);
      },
      onReceive(h) {
        receive = h;
      },
    };

    const setState = async (s: XenbusStateValue): Promise<void> => {
      if (gone) return;
      const r = await switchState(xs, path, s);
      if (r.ok) {
        state = s;
        stateHandler(vif, s);
      }
    };

    const report = (reason: string, fatal: boolean, detail?: string): void => {
      stats.peerErrors++;
      peerHandler({ domid: fe, devid, reason, fatal, ...(detail === undefined ? {} : { detail }) });
      if (fatal) {
        disconnect();
        void task.run(async () => {
          await setState(XenbusState.Closing);
          await setState(XenbusState.Closed);
        });
      }
    };

    const disconnect = (): void => {
      hotplugWatch?.();
      hotplugWatch = undefined;
      const all = conns;
      if (all.length === 0) return;
      conns = [];
      for (const c of all) {
        c.live = false;
        dom0.events.onEvent(c.txPort, undefined);
        dom0.events.close(c.txPort);
        if (c.rxPort !== c.txPort) {
          dom0.events.onEvent(c.rxPort, undefined);
          dom0.events.close(c.rxPort);
        }
        dom0.grants.unmap(c.txMap.handle);
        dom0.grants.unmap(c.rxMap.handle);
        if (c.ctrl !== undefined) {
          dom0.events.onEvent(c.ctrl.port, undefined);
          dom0.events.close(c.ctrl.port);
          dom0.grants.unmap(c.ctrl.map.handle);
        }
        for (let i = c.rxHead; i < c.rxQueue.length; i++) c.rxQueue[i]!.release?.();
        c.rxQueue.length = 0;
        c.rxHead = 0;
      }
    };

    const notify = (p: EvtchnPort): void => {
      stats.notificationsSent++;
      dom0.events.send(p);
    };

    // ---- guest tx -> bridge ------------------------------------------------------------------
    /** Takes the next tx slot into `slot`; false when the frontend has published no more. */
    const take = (c: Connection): "ok" | "empty" | "broken" => {
      const r = c.tx.takeRequest(slot);
      if (r.ok) return "ok";
      if (r.error === "empty") return "empty";
      report("ill-behaved-peer", true, "tx req_prod beyond the ring");
      return "broken";
    };

    const respondTx = (c: Connection, id: number, status: number): void => {
      txRsp.id = id;
      txRsp.status = status;
      c.tx.queueResponse(txResponse);
    };

    /** Handles one frame whose first slot is in `slot`; false when the frontend was disconnected. */
    const txFrame = (c: Connection): boolean => {
      const firstGref = txReq.gref;
      const firstOffset = txReq.offset;
      const firstFlags = txReq.flags;
      const firstId = txReq.id;
      const frameSize = txReq.size;
      let gsoSize = 0;
      let extras = 0;
      if (firstFlags & NETTXF_extra_info) {
        for (;;) {
          const t = take(c);
          if (t === "broken") return false;
          if (t === "empty") {
            report("missing-extra-info", true);
            return false;
          }
          extras++;
          const type = txExtra.type;
          const xflags = txExtra.flags;
          if (type === 0 || type >= XEN_NETIF_EXTRA_TYPE_MAX || extras >= XEN_NETIF_EXTRA_TYPE_MAX) {
            report("bad-extra-info", true, `type ${type}`);
            return false;
          }
          if (type === XEN_NETIF_EXTRA_TYPE_GSO) {
            const size = txExtra.gsoSize;
            const gtype = txExtra.gsoType;
            if (size === 0) {
              report("bad-gso", true, "size 0");
              return false;
            }
            if (gtype !== XEN_NETIF_GSO_TYPE_TCPV4 && gtype !== XEN_NETIF_GSO_TYPE_TCPV6) {
              report("bad-gso", true, `type ${gtype}`);
              return false;
            }
            gsoSize = gtype === XEN_NETIF_GSO_TYPE_TCPV4 ? size : -1;
          }
          if (!(xflags & XEN_NETIF_EXTRA_FLAG_MORE)) break;
        }
      }
      txReqs.length = 0;
      txReqs.push(firstGref, firstOffset, 0, firstId);
      let more = (firstFlags & NETTXF_more_data) !== 0;
      let rest = frameSize;
      while (more) {
        if (txReqs.length / 4 >= maxTxSlots) {
          report("too-many-slots", true, `more than ${maxTxSlots}`);
          return false;
        }
        const t = take(c);
        if (t === "broken") return false;
        if (t === "empty") {
          report("missing-slots", true, "more_data beyond req_prod");
          return false;
        }
        const size = txReq.size;
        if (size > rest) {
          report("frame-size", true, "slots exceed the first slot's size");
          return false;
        }
        rest -= size;
        txReqs.push(txReq.gref, txReq.offset, size, txReq.id);
        more = (txReq.flags & NETTXF_more_data) !== 0;
      }
      txReqs[2] = rest;
      for (let i = 0; i < txReqs.length; i += 4) {
        if (txReqs[i + 1]! + txReqs[i + 2]! > PAGE_SIZE) {
          report("cross-page", true, `offset ${txReqs[i + 1]} size ${txReqs[i + 2]}`);
          return false;
        }
      }
      // From here on the frame is well formed; grant failures and runts only drop it.
      let status: number = NETIF_RSP_OKAY;
      let data: Uint8Array | undefined;
      let release: (() => void) | undefined;
      if (frameSize < 14 || gsoSize < 0) {
        status = NETIF_RSP_ERROR;
      } else {
        const loan = frameSize > RECYCLE_MIN ? recycler.take(frameSize) : undefined;
        if (loan !== undefined) {
          release = loan.release;
          if (loan.reused) stats.txBuffersReused++;
        }
        data = loan === undefined ? pool.alloc(frameSize) : loan.data;
        let at = 0;
        for (let i = 0; i < txReqs.length; i += 4) {
          const size = txReqs[i + 2]!;
          if (size === 0) continue;
          const m = dom0.grants.copyFromGrant(fe, txReqs[i]!, txReqs[i + 1]!, size, data, at);
          if (!m.ok) {
            status = NETIF_RSP_ERROR;
            report("bad-grant", false, `${m.error} ref ${txReqs[i]}`);
            break;
          }
          at += size;
        }
      }
      respondTx(c, firstId, status);
      for (let e = 0; e < extras; e++) respondTx(c, 0, NETIF_RSP_NULL);
      for (let i = 4; i < txReqs.length; i += 4) respondTx(c, txReqs[i + 3]!, status);
      if (status !== NETIF_RSP_OKAY || data === undefined) {
        release?.();
        stats.txErrors++;
        return true;
      }
      stats.txFrames++;
      stats.txBytes += frameSize;
      const csum = (firstFlags & NETTXF_csum_blank) !== 0;
      const valid = (firstFlags & NETTXF_data_validated) !== 0;
      const offload = gsoSize > 0 ? gsoOffload(csum, valid, gsoSize) : csum ? (valid ? CSUM_VALID : CSUM) : valid ? VALID : undefined;
      if (release === undefined) receive(offload === undefined ? { data } : { data, offload });
      else receive(offload === undefined ? { data, release } : { data, offload, release });
      return true;
    };

    const processTx = (c: Connection): boolean => {
      let frames = 0;
      for (;;) {
        while (frames < budget) {
          const t = take(c);
          if (t === "broken") return false;
          if (t === "empty") break;
          frames++;
          if (!txFrame(c)) return false;
          if (!c.live) return false;
        }
        if (!c.live) return false;
        if (c.tx.pushResponses()) notify(c.txPort);
        if (frames >= budget) return true;
        const more = c.tx.finalCheckForRequests();
        if (!more.ok) {
          report("ill-behaved-peer", true, "tx req_prod beyond the ring");
          return false;
        }
        if (!more.value) return false;
      }
    };

    // ---- bridge -> guest rx --------------------------------------------------------------------
    const toGuest = (frame: Frame): void => {
      const c = conns.length === 1 ? conns[0] : conns[selectQueue(frame.data)];
      if (c === undefined || (state !== XenbusState.Connected && state !== XenbusState.InitWait)) {
        stats.rxDropped++;
        frame.release?.();
        return;
      }
      // Linux xenvif_fix_features: without feature-ipv6-csum-offload the vif lacks NETIF_F_IPV6_CSUM,
      // so an IPv6 partial checksum is finished in dom0 (skb_checksum_help) and goes up without flags.
      // (GSO over IPv6 is not segmented here, as before: nothing in the lab produces it.)
      const off = frame.offload;
      if (off?.csumBlank === true && (off.gsoSize ?? 0) === 0 && !c.ipv6Csum && isIpv6(frame.data)) {
        if (!completeChecksum(frame.data).ok) {
          stats.rxDropped++;
          frame.release?.();
          return;
        }
        toGuest(frame.release === undefined ? { data: frame.data } : { data: frame.data, release: frame.release });
        return;
      }
      const gso = frame.offload?.gsoSize ?? 0;
      if (gso > 0 && !(c.gso && c.sg)) {
        segmentTcpv4(frame.data, gso, (seg) => toGuest({ data: seg }));
        frame.release?.();
        return;
      }
      if (c.rxQueue.length - c.rxHead >= rxQueueLimit) {
        stats.rxDropped++;
        frame.release?.();
        return;
      }
      c.rxQueue.push(frame);
      processRx(c);
    };

    /**
     * The queue a frame to the guest takes (Linux xenvif_select_queue): with Toeplitz hashing on,
     * the mapping table's entry for the hash (or the hash modulo the queues); otherwise a flow
     * hash of the addresses and ports, so that one flow keeps to one queue.
     */
    const selectQueue = (data: Uint8Array): number => {
      const n = conns.length;
      const hash = conns[0]?.ctrl?.server.hash;
      if (hash !== undefined && hash.algorithm === XEN_NETIF_CTRL_HASH_ALGORITHM_TOEPLITZ) {
        const h = frameHash(hash, data)?.value ?? 0;
        return hash.mappingSize === 0 ? h % n : hash.mapping[h % hash.mappingSize]! % n;
      }
      return (frameHash(FLOW_HASH, data)?.value ?? 0) % n;
    };

    /** Requests available on the rx ring; arms req_event (Linux xenvif_rx_ring_slots_available) when short. */
    const rxAvailable = (c: Connection, need: number): number | null => {
      const a = c.rx.requestsAvailable(need);
      return a.ok ? a.value : null;
    };

    const takeRx = (c: Connection): boolean => {
      const r = c.rx.takeRequest(slot);
      return r.ok;
    };

    const processRx = (c: Connection): void => {
      let produced = false;
      const rxQueue = c.rxQueue;
      while (c.rxHead < rxQueue.length && c.live) {
        const frame = rxQueue[c.rxHead]!;
        const data = frame.data;
        const len = data.length;
        const gso = (frame.offload?.gsoSize ?? 0) > 0;
        // The frontend asked for hashes (control ring, on queue 0 for the whole vif): one more extra-info slot (Linux rx.c).
        const ctl = conns[0]?.ctrl;
        const hash = ctl === undefined ? undefined : frameHash(ctl.server.hash, data);
        const dataSlots = Math.max(1, Math.ceil(len / PAGE_SIZE));
        const need = dataSlots + (gso ? 1 : 0) + (hash === undefined ? 0 : 1);
        if (len === 0 || (!c.sg && dataSlots > 1) || need > XEN_NETIF_NR_SLOTS_MIN + 1) {
          stats.rxDropped++;
          c.rxHead++;
          frame.release?.();
          continue;
        }
        const avail = rxAvailable(c, need);
        if (avail === null) {
          report("ill-behaved-peer", true, "rx req_prod beyond the ring");
          return;
        }
        if (avail < need) break;
        c.rxHead++;
        const off = frame.offload;
        let flags = off?.csumBlank === true ? NETRXF_csum_blank | NETRXF_data_validated : off?.dataValidated === true ? NETRXF_data_validated : 0;
        if (gso || hash !== undefined) flags |= NETRXF_extra_info;
        let pos = 0;
        let failed = false;
        for (let k = 0; k < dataSlots; k++) {
          takeRx(c);
          const id = rxReq.id;
          const gref = rxReq.gref;
          const n = Math.min(PAGE_SIZE, len - pos);
          const r = dom0.grants.copyToGrant(data, pos, n, fe, gref, 0);
          if (!r.ok && !failed) {
            failed = true;
            report("bad-grant", false, `rx copy ${r.error} ref ${gref}`);
          }
          pos += n;
          rxRsp.id = id;
          rxRsp.offset = 0;
          rxRsp.flags = (k === 0 ? flags : 0) | (pos < len ? NETRXF_more_data : 0);
          rxRsp.status = r.ok ? n : NETIF_RSP_ERROR;
          c.rx.queueResponse(rxResponse);
          if (k === 0 && gso) {
            takeRx(c);
            rxExtra.clear();
            rxExtra.type = XEN_NETIF_EXTRA_TYPE_GSO;
            rxExtra.flags = hash === undefined ? 0 : XEN_NETIF_EXTRA_FLAG_MORE;
            rxExtra.gsoSize = off!.gsoSize!;
            rxExtra.gsoType = XEN_NETIF_GSO_TYPE_TCPV4;
            c.rx.queueResponse(rxResponse);
          }
          if (k === 0 && hash !== undefined) {
            takeRx(c);
            rxExtra.clear();
            rxExtra.type = XEN_NETIF_EXTRA_TYPE_HASH;
            rxExtra.hashType = hash.type;
            rxExtra.hashAlgorithm = XEN_NETIF_CTRL_HASH_ALGORITHM_TOEPLITZ;
            rxExtra.hashValue = hash.value;
            c.rx.queueResponse(rxResponse);
            stats.rxHashes++;
          }
        }
        produced = true;
        // Every byte is in the guest's pages (or failed to get there): the buffer can go back.
        frame.release?.();
        if (failed) stats.rxDropped++;
        else {
          stats.rxFrames++;
          stats.rxBytes += len;
        }
      }
      if (c.rxHead === rxQueue.length) {
        rxQueue.length = 0;
        c.rxHead = 0;
      } else if (c.rxHead > 256) {
        rxQueue.splice(0, c.rxHead);
        c.rxHead = 0;
      }
      if (produced && c.live && c.rx.pushResponses()) notify(c.rxPort);
    };

    const kick = (c: Connection): void => {
      if (!c.live) return;
      c.scheduled = false;
      stats.events++;
      const more = processTx(c);
      if (!c.live) return;
      processRx(c);
      if (more && !c.scheduled) {
        c.scheduled = true;
        clock.setTimer(clock.now(), () => kick(c));
      }
    };

    // ---- handshake ---------------------------------------------------------------------------
    const connect = async (): Promise<void> => {
      const k = await readKeys(xs, frontendPath, [
        "tx-ring-ref",
        "rx-ring-ref",
        "event-channel",
        "event-channel-tx",
        "event-channel-rx",
        "request-rx-copy",
        "feature-rx-notify",
        "feature-sg",
        "feature-gso-tcpv4",
        "feature-no-csum-offload",
        "feature-ipv6-csum-offload",
        "ctrl-ring-ref",
        "event-channel-ctrl",
        "multi-queue-num-queues",
      ]);
      if (!k.ok || gone || state === XenbusState.Connected || conns.length > 0) return;
      const v = k.value;
      if (v["request-rx-copy"] !== "1") {
        report("no-rx-copy", true, "frontend does not request rx-copy");
        return;
      }
      if (v["feature-rx-notify"] !== "1") {
        report("no-rx-notify", true, "feature-rx-notify is mandatory");
        return;
      }
      // Linux connect(): multi-queue-num-queues (default 1) up to what we advertised; one queue
      // keeps its keys in the frontend's directory, several in queue-0/, queue-1/, ...
      const queues = v["multi-queue-num-queues"] === undefined ? 1 : parseU32(v["multi-queue-num-queues"]);
      if (queues === undefined || queues < 1 || queues > maxQueues) {
        report("bad-keys", true, `multi-queue-num-queues ${v["multi-queue-num-queues"]} (at most ${maxQueues})`);
        return;
      }
      const perQueue: Record<string, string | undefined>[] = [];
      if (queues === 1) perQueue.push(v);
      else {
        for (let q = 0; q < queues; q++) {
          const qk = await readKeys(xs, `${frontendPath}/queue-${q}`, ["tx-ring-ref", "rx-ring-ref", "event-channel", "event-channel-tx", "event-channel-rx"]);
          if (!qk.ok || gone || (state as XenbusStateValue) === XenbusState.Connected || conns.length > 0) return;
          perQueue.push(qk.value);
        }
      }
      const rings: { txRef: number; rxRef: number; txEvt: number; rxEvt: number; split: boolean }[] = [];
      for (const [q, qv] of perQueue.entries()) {
        const txRef = parseU32(qv["tx-ring-ref"]);
        const rxRef = parseU32(qv["rx-ring-ref"]);
        const split = qv["event-channel-tx"] !== undefined;
        const txEvt = parseU32(split ? qv["event-channel-tx"] : qv["event-channel"]);
        const rxEvt = parseU32(split ? qv["event-channel-rx"] : qv["event-channel"]);
        if (txRef === undefined || rxRef === undefined || txEvt === undefined || rxEvt === undefined) {
          report("bad-keys", true, queues === 1 ? "ring refs / event channel" : `queue-${q}: ring refs / event channel`);
          return;
        }
        rings.push({ txRef, rxRef, txEvt, rxEvt, split });
      }
      // Linux connect_ctrl_ring: no ctrl-ring-ref, no control ring (event-channel-ctrl alone is
      // ignored); a ref without a readable event channel is fatal.
      const hasCtrl = v["ctrl-ring-ref"] !== undefined;
      const ctrlRef = parseU32(v["ctrl-ring-ref"]);
      const ctrlEvt = parseU32(v["event-channel-ctrl"]);
      if (hasCtrl && (ctrlRef === undefined || ctrlEvt === undefined)) {
        report("bad-keys", true, "ctrl-ring-ref / event-channel-ctrl");
        return;
      }
      const mapped: Connection[] = [];
      for (const r of rings) {
        const c = mapRings(
          r.txRef,
          r.rxRef,
          r.txEvt,
          r.rxEvt,
          r.split,
          v["feature-gso-tcpv4"] === "1",
          v["feature-sg"] === "1",
          v["feature-no-csum-offload"] !== "1",
          v["feature-ipv6-csum-offload"] === "1",
        );
        if (!c.ok) {
          // disconnect() (through report) undoes the queues mapped so far.
          conns = mapped;
          report(c.error, true);
          return;
        }
        mapped.push(c.value);
      }
      if (hasCtrl) {
        const m = mapCtrl(mapped[0]!, ctrlRef!, ctrlEvt!, mapped.length);
        if (!m.ok) {
          conns = mapped;
          report(m.error, true);
          return;
        }
      }
      conns = mapped;
      stats.connects++;
      const c0 = mapped[0]!;
      // Control requests published before the ring was mapped get their answers now.
      pollCtrl(c0);
      if (!c0.live) return;
      // Write Connected once the hotplug script has reported the vif connected.
      const hp = await xs.watch(
        `${path}/hotplug-status`,
        () =>
          void task.run(async () => {
            if (!c0.live || state === XenbusState.Connected) return;
            const s = await xs.read(`${path}/hotplug-status`);
            if (s.ok && s.value === "connected" && c0.live && (state as XenbusStateValue) !== XenbusState.Connected) {
              hotplugWatch?.();
              hotplugWatch = undefined;
              await setState(XenbusState.Connected);
            }
          }),
      );
      if (hp.ok) {
        if (!c0.live) void hp.value.unwatch();
        else hotplugWatch = () => void hp.value.unwatch();
      }
      for (const c of mapped) kick(c);
    };

    const mapRings = (
      txRef: number,
      rxRef: number,
      txEvt: number,
      rxEvt: number,
      split: boolean,
      gso: boolean,
      sg: boolean,
      csum: boolean,
      ipv6Csum: boolean,
    ): Result<Connection, "bad-ring-ref" | "bad-event-channel"> => {
      const txMap = dom0.grants.map(fe, txRef);
      if (!txMap.ok) return err("bad-ring-ref");
      const rxMap = dom0.grants.map(fe, rxRef);
      if (!rxMap.ok) {
        dom0.grants.unmap(txMap.value.handle);
        return err("bad-ring-ref");
      }
      const unmapBoth = (): void => {
        dom0.grants.unmap(txMap.value.handle);
        dom0.grants.unmap(rxMap.value.handle);
      };
      const txPort = dom0.events.bindInterdomain(fe, txEvt);
      if (!txPort.ok) {
        unmapBoth();
        return err("bad-event-channel");
      }
      const rxPort = split ? dom0.events.bindInterdomain(fe, rxEvt) : txPort;
      if (!rxPort.ok) {
        dom0.events.close(txPort.value);
        unmapBoth();
        return err("bad-event-channel");
      }
      const txPage = txMap.value.page;
      const rxPage = rxMap.value.page;
      // BACK_RING_ATTACH at the response producer the page shows.
      const c: Connection = {
        tx: createBackRing([txPage], { slotSize: NETIF_TX_SLOT_SIZE, startIndex: sharedResponseProducer(txPage) }),
        rx: createBackRing([rxPage], { slotSize: NETIF_RX_SLOT_SIZE, startIndex: sharedResponseProducer(rxPage) }),
        txMap: txMap.value,
        rxMap: rxMap.value,
        txPort: txPort.value,
        rxPort: rxPort.value,
        gso,
        sg,
        csum,
        ipv6Csum,
        scheduled: false,
        live: true,
        rxQueue: [],
        rxHead: 0,
      };
      dom0.events.onEvent(c.txPort, () => kick(c));
      if (c.rxPort !== c.txPort) dom0.events.onEvent(c.rxPort, () => kick(c));
      return ok(c);
    };

    /** Maps the control ring and binds its event channel (Linux connect_ctrl_ring); requests are answered on every event. */
    const mapCtrl = (c: Connection, ref: number, evt: number, queues: number): Result<void, "bad-ctrl-ring-ref" | "bad-event-channel"> => {
      const map = dom0.grants.map(fe, ref);
      if (!map.ok) return err("bad-ctrl-ring-ref");
      const port = dom0.events.bindInterdomain(fe, evt);
      if (!port.ok) {
        dom0.grants.unmap(map.value.handle);
        return err("bad-event-channel");
      }
      c.ctrl = { server: ctrlServer(map.value.page, queues), map: map.value, port: port.value };
      dom0.events.onEvent(port.value, () => pollCtrl(c));
      return ok(undefined);
    };

    /** A control ring server attached at the response producer the page shows (no hash settings yet). */
    const ctrlServer = (page: Uint8Array, queues: number): CtrlServer =>
      createCtrlServer({
        page,
        startIndex: sharedResponseProducer(page),
        queues,
        copyFromGrant: (gref, offset, len, dst) => dom0.grants.copyFromGrant(fe, gref, offset, len, dst, 0),
      });

    /** Answers a ring's worth of control requests; more wait for the next clock turn (like kick's budget). */
    const pollCtrl = (c: Connection): void => {
      const ctl = c.ctrl;
      if (!c.live || ctl === undefined) return;
      const r = ctl.server.poll();
      if (!r.ok) {
        report("ill-behaved-peer", true, "ctrl req_prod beyond the ring");
        return;
      }
      if (r.value.notify) notify(ctl.port);
      if (r.value.more) clock.setTimer(clock.now(), () => pollCtrl(c));
    };

    /** Linux netback frontend_changed(), run by the vif's serial task with the frontend's state as it is now. */
    const frontendChanged = async (): Promise<void> => {
      if (gone) return;
      const s = await readState(xs, frontendPath);
      if (gone) return;
      if (firstFrontEvent) {
        // The run the watch's registration event brings: the state found at start may be a
        // previous backend's Connected, so wait for a change.
        firstFrontEvent = false;
        firstFrontRun();
        return;
      }
      switch (s) {
        case XenbusState.Initialising:
          if (state === XenbusState.Connected || state === XenbusState.Closed || state === XenbusState.Closing) {
            disconnect();
            await setState(XenbusState.InitWait);
          }
          break;
        case XenbusState.Connected:
          // Linux set_backend_state: from any state but Connected, (re)connect to the frontend's rings.
          if (state !== XenbusState.Connected && conns.length === 0) await connect();
          break;
        case XenbusState.Closing:
          disconnect();
          if (state !== XenbusState.Closing && state !== XenbusState.Closed) await setState(XenbusState.Closing);
          break;
        case XenbusState.Closed:
          disconnect();
          if (state !== XenbusState.Closed) await setState(XenbusState.Closed);
          break;
        case XenbusState.Unknown:
          disconnect();
          break;
        default:
          break;
      }
    };

    // Every piece of this vif's xenbus work runs on this task, one at a time.
    const task = createSerialTask(frontendChanged, (e) => report("internal", false, String(e)));

    const detach = (): void => {
      gone = true;
      disconnect();
      task.stop();
      frontUnwatch?.();
      frontUnwatch = undefined;
      firstFrontRun(); // a probe still waiting for the first run goes on, sees the vif gone and stops
      port?.detach();
      port = undefined;
    };

    const vif: VifImpl = {
      frontendId: fe,
      devid,
      backendPath: path,
      device,
      get state() {
        return state;
      },
      get connected() {
        return conns.length > 0;
      },
      get queues() {
        return conns.length;
      },
      stats: () => stats,
      async probe() {
        const k = await readKeys(xs, path, ["frontend", "frontend-id", "mac", "bridge", "online"]);
        if (!k.ok || gone) return;
        if (k.value.frontend === undefined || k.value["frontend-id"] !== String(fe)) return;
        frontendPath = k.value.frontend;
        const bridge = deps.bridges(k.value.bridge ?? "xenbr0");
        if (bridge !== undefined) port = bridge.attach(device, { name: `vif${fe}.${devid}` });
        await new Promise<void>((resolve) => {
          firstFrontRun = resolve;
          void xs
            .watch(`${frontendPath}/state`, () => task.trigger(), `netback:${path}`)
            .then((r) => {
              if (!r.ok) {
                resolve();
                return;
              }
              if (gone) void r.value.unwatch();
              else frontUnwatch = () => void r.value.unwatch();
            });
        });
        if (gone) return;
        const values: Record<string, string | number> = {
          "feature-sg": 1,
          "feature-gso-tcpv4": 1,
          "feature-gso-tcpv6": 1,
          "feature-ipv6-csum-offload": 1,
          "feature-rx-copy": 1,
          "feature-rx-flip": 0,
          "feature-split-event-channels": 1,
          "multi-queue-max-queues": maxQueues,
          "feature-ctrl-ring": 1,
        };
        const w = await writeKeys(xs, path, values);
        if (!w.ok || gone) return;
        await task.run(() => setState(XenbusState.InitWait));
      },
      reattachRings() {
        if (conns.length === 0 || state !== XenbusState.Connected) return false;
        for (const c of conns) {
          c.tx = createBackRing([c.txMap.page], { slotSize: NETIF_TX_SLOT_SIZE, startIndex: sharedResponseProducer(c.txMap.page) });
          c.rx = createBackRing([c.rxMap.page], { slotSize: NETIF_RX_SLOT_SIZE, startIndex: sharedResponseProducer(c.rxMap.page) });
          for (let i = c.rxHead; i < c.rxQueue.length; i++) c.rxQueue[i]!.release?.();
          c.rxQueue.length = 0;
          c.rxHead = 0;
          if (c.ctrl !== undefined) c.ctrl = { ...c.ctrl, server: ctrlServer(c.ctrl.map.page, conns.length) };
        }
        return true;
      },
      remove: detach,
      crash: detach,
      async shutdown() {
        await task.run(async () => {
          disconnect();
          await setState(XenbusState.Closing);
          await setState(XenbusState.Closed);
        });
        detach();
      },
    };
    return vif;
  }

  return {
    vifs: () => [...vifs.values()],
    vif: (fe, devid) => vifs.get(`${fe}/${devid}`),
    onPeerError(h) {
      peerHandler = h;
    },
    onVifState(h) {
      stateHandler = h;
    },
    crash() {
      stopped = true;
      bus.stop();
      rootWatch?.();
      for (const v of vifs.values()) v.crash();
      vifs.clear();
    },
    async shutdown() {
      stopped = true;
      bus.stop();
      rootWatch?.();
      for (const v of vifs.values()) await v.shutdown();
      vifs.clear();
    },
  };
}
