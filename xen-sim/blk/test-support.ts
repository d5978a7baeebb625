// Test helpers of the block drivers (no test framework imports).
//   recordCommits      turns a xenstore request log into committed write groups, per domain
//   rawFrontend        a hand-driven frontend: Linux's handshake keys, then raw ring slots
//   rawBackend         a hand-driven backend: Linux's handshake keys, then raw response slots
//   RawEndOptions      direct: their xenstore writes committed straight into the tree (no requests)

import { unwrap } from "../../stack/result.ts";
import { NetlabError } from "../../stack/error.ts";
import { pumpUntil } from "../../stack/settle.ts";
import { BLKIF_SLOT_SIZE, XEN_IO_PROTO_ABI_X86_64 } from "../abi/blkif.ts";
import { RING_REQ_PROD, RING_RSP_PROD } from "../abi/ring.ts";
import { createBackRing, createFrontRing, initSharedRing } from "../ring/ring.ts";
import type { BackRing, FrontRing } from "../ring/types.ts";
import { parseState, switchState, writeKeys } from "../xenbus/xenbus.ts";
import { XenbusState, type XenbusStateValue } from "../xenbus/types.ts";
import type { XenstoreClient } from "../xenstore/client.ts";
import type { BlkWorld } from "./sim-world.ts";
import type { Domain } from "../hypervisor/types.ts";

/** One committed group of writes: the writer's domain and `path=value` pairs in order. */
export interface CommitGroup {
  domid: number;
  writes: string[];
}

/**
 * Records what a driver commits through its xenstore client: each plain write, and each committed
 * transaction's writes (of its last, successful attempt) as one group.
 */
export function recordCommits(): { wrap: (xs: XenstoreClient, domid: number) => XenstoreClient; groups: CommitGroup[] } {
  const groups: CommitGroup[] = [];
  return {
    groups,
    wrap(xs, domid) {
      const text = (v: string | Uint8Array): string => (typeof v === "string" ? v : new TextDecoder().decode(v));
      return {
        ...xs,
        async write(path, value) {
          const r = await xs.write(path, value);
          if (r.ok) groups.push({ domid, writes: [`${path}=${text(value)}`] });
          return r;
        },
        async transaction(body, options) {
          let attempt: string[] = [];
          const r = await xs.transaction(async (tx) => {
            attempt = [];
            return body({
              ...tx,
              async write(path, value) {
                const w = await tx.write(path, value);
                if (w.ok) attempt.push(`${path}=${text(value)}`);
                return w;
              },
            });
          }, options);
          if (r.ok && attempt.length > 0) groups.push({ domid, writes: attempt });
          return r;
        },
      };
    },
  };
}

/** A frontend driven by hand over a connected backend. */
export interface RawFrontend {
  /** The current front ring (replaced by reset()). */
  readonly ring: FrontRing;
  readonly page: Uint8Array;
  readonly port: number;
  /** The ring page's frame and grant ref (a caller that reuses the guest gives them back). */
  readonly frame: number;
  readonly ref: number;
  /** Queues raw slot bytes (112) and pushes them; notifies the backend. */
  send(slots: Uint8Array[]): void;
  /** Overwrites the shared req_prod and notifies. */
  setReqProd(value: number): void;
  /** Responses taken so far, as raw 16-byte copies. */
  responses(): Uint8Array[];
  /** Zeroes and re-initialises the ring page, starts a fresh front ring and forgets the responses (the backend is not told). */
  reset(): void;
}

/** Options of the hand-driven ends. */
export interface RawEndOptions {
  /**
   * Commit this end's xenstore writes straight into xenstored's tree as its domain
   * (XenstoreServer.commitAs: the same tree and watch events) and read the other end's keys from
   * the tree, instead of requests over its connection (fuzz targets: no requests of the harness).
   */
  direct?: boolean;
}

/** Does the frontend's half of the handshake by hand (ring-ref, event-channel, protocol, Initialised) and waits for Connected. */
export async function rawFrontend(w: BlkWorld, options: { protocol?: string; persistent?: boolean } & RawEndOptions = {}): Promise<RawFrontend> {
  const { guest, guestXs: xs, frontendPath: fe, backendPath: be } = w;
  await untilState(w, be, XenbusState.InitWait);
  const frame = unwrap(guest.memory.allocPage());
  const page = unwrap(guest.memory.page(frame));
  initSharedRing(page);
  const ref = unwrap(guest.grants.grantAccess(0, frame));
  const port = unwrap(guest.events.allocUnbound(0));
  const keys = {
    "ring-ref": ref,
    "event-channel": port,
    protocol: options.protocol ?? XEN_IO_PROTO_ABI_X86_64,
    "feature-persistent": options.persistent === false ? 0 : 1,
  };
  if (options.direct === true) {
    commitKeys(w, guest.id, fe, keys);
    commitState(w, guest.id, fe, XenbusState.Initialised);
  } else {
    unwrap(await w.settle(writeKeys(xs, fe, keys)));
    unwrap(await w.settle(switchState(xs, fe, XenbusState.Initialised)));
  }
  let ring = createFrontRing([page], { slotSize: BLKIF_SLOT_SIZE });
  const got: Uint8Array[] = [];
  guest.events.onEvent(port, () => {
    for (let i = 0; i < 1024; i++) {
      const r = ring.takeResponse(new Uint8Array(BLKIF_SLOT_SIZE));
      if (r.ok) got.push(r.value.slice(0, 16));
      else if (r.error !== "empty" || !unwrapOr(ring.finalCheckForResponses())) break;
    }
  });
  const idx = new Uint32Array(page.buffer, page.byteOffset, 16);
  return {
    get ring() {
      return ring;
    },
    page,
    port,
    frame,
    ref,
    reset() {
      page.fill(0);
      initSharedRing(page);
      ring = createFrontRing([page], { slotSize: BLKIF_SLOT_SIZE });
      got.length = 0;
    },
    send(slots) {
      for (const s of slots) unwrap(ring.queueRequest(s));
      ring.pushRequests();
      guest.events.send(port);
    },
    setReqProd(value) {
      Atomics.store(idx, RING_REQ_PROD / 4, value >>> 0);
      guest.events.send(port);
    },
    responses: () => got,
  };
}

/** A backend driven by hand: advertises, waits for the frontend's keys, maps the ring. */
export interface RawBackend {
  readonly ring: BackRing;
  readonly page: Uint8Array;
  /** The guest's grant ref of the ring page (read from the frontend's ring-ref). */
  readonly ringRef: number;
  /** Requests taken so far (raw 112-byte copies). */
  requests(): Uint8Array[];
  /** Takes every request now on the ring. */
  poll(): void;
  /** Queues raw 16-byte responses, pushes and notifies. */
  respond(responses: Uint8Array[]): void;
  /** Overwrites the shared rsp_prod and notifies. */
  setRspProd(value: number): void;
  /** Writes a response image into the slot at the shared rsp_prod, bumps rsp_prod and notifies (bypassing the ring's own checks). */
  forgeResponse(response: Uint8Array): void;
  /** A fresh back ring over the same (frontend re-initialised) page, requests forgotten: pairs with Blkfront.resetRing. */
  reset(): void;
  /** Unmaps the ring and closes dom0's event channel (before a new handshake). */
  close(): void;
}

/** Linux blkback's keys by hand, then Connected with `sectors`; the frontend must reach Initialised. */
export async function rawBackend(
  w: BlkWorld,
  sectors: number,
  features: { indirect?: number; discard?: boolean } = {},
  options: RawEndOptions = {},
): Promise<RawBackend> {
  const { dom0, dom0Xs: xs, frontendPath: fe, backendPath: be, guest } = w;
  const direct = options.direct === true;
  const writeAll = async (keys: Readonly<Record<string, string | number>>, state: XenbusStateValue): Promise<void> => {
    if (direct) {
      commitKeys(w, 0, be, keys);
      commitState(w, 0, be, state);
      return;
    }
    unwrap(await w.settle(writeKeys(xs, be, keys)));
    unwrap(await w.settle(switchState(xs, be, state)));
  };
  const read = async (key: string): Promise<number> => {
    if (!direct) return Number(unwrap(await w.settle(xs.read(`${fe}/${key}`))));
    const v = w.toolstack.daemon.server.peek(`${fe}/${key}`);
    if (v === undefined) throw new NetlabError("ERR_NETLAB_RAW_END", `${fe}/${key} is absent`);
    return Number(utf8Text.decode(v));
  };
  await writeAll({ "feature-max-indirect-segments": features.indirect ?? 0, "multi-queue-max-queues": 1, "max-ring-page-order": 0 }, XenbusState.InitWait);
  await untilState(w, fe, XenbusState.Initialised);
  const ref = await read("ring-ref");
  const fport = await read("event-channel");
  const map = unwrap(dom0.grants.map(guest.id, ref));
  const port = unwrap(dom0.events.bindInterdomain(guest.id, fport));
  let ring = createBackRing([map.page], { slotSize: BLKIF_SLOT_SIZE });
  await writeAll(
    {
      "feature-flush-cache": 1,
      "feature-discard": features.discard === true ? 1 : 0,
      "feature-barrier": 1,
      "feature-persistent": 0,
      sectors,
      info: 0,
      "sector-size": 512,
      "physical-sector-size": 512,
    },
    XenbusState.Connected,
  );
  const got: Uint8Array[] = [];
  const poll = (): void => {
    for (let i = 0; i < 1024; i++) {
      const r = ring.takeRequest(new Uint8Array(BLKIF_SLOT_SIZE));
      if (r.ok) got.push(r.value.slice());
      else if (r.error !== "empty" || !unwrapOr(ring.finalCheckForRequests())) break;
    }
  };
  dom0.events.onEvent(port, poll);
  const idx = new Uint32Array(map.page.buffer, map.page.byteOffset, 16);
  return {
    get ring() {
      return ring;
    },
    page: map.page,
    ringRef: ref,
    requests: () => got,
    reset() {
      ring = createBackRing([map.page], { slotSize: BLKIF_SLOT_SIZE });
      got.length = 0;
    },
    close() {
      dom0.events.onEvent(port, undefined);
      dom0.events.close(port);
      dom0.grants.unmap(map.handle);
    },
    poll,
    respond(responses) {
      for (const r of responses) unwrap(ring.queueResponse(r));
      ring.pushResponses();
      dom0.events.send(port);
    },
    setRspProd(value) {
      Atomics.store(idx, RING_RSP_PROD / 4, value >>> 0);
      dom0.events.send(port);
    },
    forgeResponse(response) {
      const at = Atomics.load(idx, RING_RSP_PROD / 4);
      map.page.set(response, 64 + (at % ring.size) * BLKIF_SLOT_SIZE);
      Atomics.store(idx, RING_RSP_PROD / 4, (at + 1) >>> 0);
      dom0.events.send(port);
    },
  };
}

const unwrapOr = (r: { ok: boolean; value?: boolean }): boolean => r.ok && r.value === true;

/** writeKeys() as `domid` straight into xenstored's tree (one transaction, commitAs). */
function commitKeys(w: BlkWorld, domid: number, dir: string, values: Readonly<Record<string, string | number>>): void {
  const r = w.toolstack.daemon.server.commitAs(
    domid,
    Object.entries(values).map(([k, v]) => ({ path: `${dir}/${k}`, value: String(v) })),
  );
  if (!r.ok) throw new NetlabError("ERR_NETLAB_RAW_END", `writing the keys of ${dir} as domain ${domid}: ${r.error}`);
}

/** switchState() as `domid` straight into xenstored's tree: the state node must exist (its transaction reads it first). */
function commitState(w: BlkWorld, domid: number, dir: string, state: XenbusStateValue): void {
  const server = w.toolstack.daemon.server;
  const r =
    server.peek(`${dir}/state`) === undefined
      ? ({ ok: false, error: "ENOENT" } as const)
      : server.commitAs(domid, [{ path: `${dir}/state`, value: String(state) }]);
  if (!r.ok) throw new NetlabError("ERR_NETLAB_RAW_END", `switching ${dir} to ${state} as domain ${domid}: ${r.error}`);
}

const utf8Text = new TextDecoder();

/**
 * Runs the world (pumpUntil: due timers, then a turn of the host) until `<dir>/state` in
 * xenstored's committed tree (what a read outside a transaction returns) holds `state`; throws
 * when it does not get there. Looks at the daemon's tree instead of polling with reads: no
 * xenstore traffic while the other end works its way there.
 */
async function untilState(w: BlkWorld, dir: string, state: XenbusStateValue): Promise<void> {
  const server = w.toolstack.daemon.server;
  const now = (): XenbusStateValue => {
    const v = server.peek(`${dir}/state`);
    return parseState(v === undefined ? undefined : utf8Text.decode(v));
  };
  // A loop of clock runs and microtask turns gave up here after a million turns in blkfront-hostile
  // fuzz runs (a new blkfront mid-handshake after a fault), and the caller then read the keys of a
  // frontend that had not written them: Err(EINVAL) binding a closed event channel.
  if (!(await pumpUntil(w.clock, () => now() === state, { maxIterations: 100_000 })))
    throw new NetlabError("ERR_NETLAB_SETTLE", `${dir}/state is ${now()}, never ${state}: the other end did not get there`);
}

/**
 * Linux's deferred grant free, done by a harness once the backend has unmapped: a page blkfront
 * had to keep because the backend still mapped its grant (stats.leakedPages) is ended and freed.
 * A grant already ended (flags 0) is left alone. True when the page was freed.
 */
export function finishKeptGrant(domain: Domain, ref: number, frame: number): boolean {
  if (domain.grants.entry(ref)?.flags === 0 || !domain.grants.endAccess(ref).ok) return false;
  domain.memory.freePage(frame);
  return true;
}

/** A 16-byte response image. */
export function responseBytes(id: number, operation: number, status: number): Uint8Array {
  const b = new Uint8Array(16);
  const v = new DataView(b.buffer);
  v.setUint32(0, id >>> 0, true);
  v.setUint32(4, Math.floor(id / 2 ** 32), true);
  v.setUint8(8, operation);
  v.setInt16(10, status, true);
  return b;
}

/** A 112-byte request image with the given fields (segments: [gref, first, last]). */
export function requestBytes(fields: { op: number; nseg?: number; id: number; sector: number; segs?: [number, number, number][] }): Uint8Array {
  const b = new Uint8Array(BLKIF_SLOT_SIZE);
  const v = new DataView(b.buffer);
  v.setUint8(0, fields.op);
  v.setUint8(1, fields.nseg ?? fields.segs?.length ?? 0);
  v.setUint32(8, fields.id, true);
  v.setBigUint64(16, BigInt(fields.sector), true);
  (fields.segs ?? []).forEach(([g, f, l], i) => {
    v.setUint32(24 + 8 * i, g, true);
    v.setUint8(28 + 8 * i, f);
    v.setUint8(29 + 8 * i, l);
  });
  return b;
}

/** Index of the first differing byte (or of the length difference), -1 when equal; fast on large images. */
export function firstDiff(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return i;
  return a.length === b.length ? -1 : n;
}
