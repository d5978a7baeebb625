// The netif control ring (xen/include/public/io/netif.h, "Control ring"), backend side, as
// Linux's netback serves it (drivers/net/xen-netback/hash.c): the frontend chooses a hash
// algorithm (Toeplitz or none), the hash types, a key of up to 40 bytes and a hash-to-queue
// mapping of up to 128 entries; netback then computes the hash of every frame it passes to
// the guest and delivers it in an XEN_NETIF_EXTRA_TYPE_HASH extra-info slot.
//   createCtrlServer(deps)   serves one mapped ctrl ring; poll() answers every pending request
//   toeplitzHash(key, data)  the hash of netif.h's xen_netif_toeplitz_hash
//   frameHash(state, frame)  the hash netback gives a frame (undefined: none applies); one
//                            scratch buffer per module, so not reentrant (netback calls it synchronously)

import { err, ok, type Result } from "../../stack/result.ts";
import { NETIF_CTRL_REQUEST_SIZE, NETIF_CTRL_RESPONSE_SIZE, NETIF_CTRL_SLOT_SIZE, NetifCtrlRequestView, NetifCtrlResponseView } from "../abi/netif.ts";
import { createBackRing } from "../ring/ring.ts";
import type { BackRing } from "../ring/types.ts";

export const XEN_NETIF_CTRL_TYPE_INVALID = 0;
export const XEN_NETIF_CTRL_TYPE_GET_HASH_FLAGS = 1;
export const XEN_NETIF_CTRL_TYPE_SET_HASH_FLAGS = 2;
export const XEN_NETIF_CTRL_TYPE_SET_HASH_KEY = 3;
export const XEN_NETIF_CTRL_TYPE_GET_HASH_MAPPING_SIZE = 4;
export const XEN_NETIF_CTRL_TYPE_SET_HASH_MAPPING_SIZE = 5;
export const XEN_NETIF_CTRL_TYPE_SET_HASH_MAPPING = 6;
export const XEN_NETIF_CTRL_TYPE_SET_HASH_ALGORITHM = 7;
export const XEN_NETIF_CTRL_STATUS_SUCCESS = 0;
export const XEN_NETIF_CTRL_STATUS_NOT_SUPPORTED = 1;
export const XEN_NETIF_CTRL_STATUS_INVALID_PARAMETER = 2;
export const XEN_NETIF_CTRL_STATUS_BUFFER_OVERFLOW = 3;
export const XEN_NETIF_CTRL_HASH_ALGORITHM_NONE = 0;
export const XEN_NETIF_CTRL_HASH_ALGORITHM_TOEPLITZ = 1;
/** Bit numbers (_XEN_NETIF_CTRL_HASH_TYPE_*): what an extra-info hash slot carries as its type. */
export const HASH_TYPE_IPV4 = 0;
export const HASH_TYPE_IPV4_TCP = 1;
export const HASH_TYPE_IPV6 = 2;
export const HASH_TYPE_IPV6_TCP = 3;
/** Every hash type netback computes (XEN_NETIF_CTRL_HASH_TYPE_* bits). */
export const HASH_TYPES_SUPPORTED = (1 << HASH_TYPE_IPV4) | (1 << HASH_TYPE_IPV4_TCP) | (1 << HASH_TYPE_IPV6) | (1 << HASH_TYPE_IPV6_TCP);
/** Linux's XEN_NETBK_MAX_HASH_KEY_SIZE and XEN_NETBK_MAX_HASH_MAPPING_SIZE. */
export const MAX_HASH_KEY_SIZE = 40;
export const MAX_HASH_MAPPING_SIZE = 128;
/** Request: id u16 @0, type u16 @2, data[3] u32 @4; response: id u16 @0, type u16 @2, status u32 @4, data u32 @8. */
export const CTRL_REQUEST_SIZE = NETIF_CTRL_REQUEST_SIZE;
export const CTRL_RESPONSE_SIZE = NETIF_CTRL_RESPONSE_SIZE;

/** The hash configuration the frontend set (all of it starts off: algorithm none). */
export interface HashState {
  algorithm: number;
  /** XEN_NETIF_CTRL_HASH_TYPE_* bits. */
  flags: number;
  readonly key: Uint8Array;
  /** Entries in use of `mapping` (0: the backend steers by hash modulo the queue count). */
  mappingSize: number;
  readonly mapping: Uint32Array;
}

export function createHashState(): HashState {
  return {
    algorithm: XEN_NETIF_CTRL_HASH_ALGORITHM_NONE,
    flags: 0,
    key: new Uint8Array(MAX_HASH_KEY_SIZE),
    mappingSize: 0,
    mapping: new Uint32Array(MAX_HASH_MAPPING_SIZE),
  };
}

/** What the ctrl server needs from dom0: a grant copy from the frontend (the key and the mapping table). */
export interface CtrlServerDeps {
  /** The mapped ctrl ring page. */
  readonly page: Uint8Array;
  /** Where the ring's response producer stands (BACK_RING_ATTACH). */
  readonly startIndex: number;
  /** Queues the vif has (mapping entries must be below it). */
  readonly queues: number;
  copyFromGrant(ref: number, offset: number, len: number, dst: Uint8Array): Result<void, string>;
}

/** What one poll did: notify (the frontend wants an event), more (requests are left for the next poll). */
export interface CtrlPoll {
  readonly notify: boolean;
  readonly more: boolean;
}

export interface CtrlServer {
  readonly hash: HashState;
  /**
   * Answers up to `budget` published requests (default one ring's worth, so a frontend that keeps
   * publishing cannot hold dom0 in one call); an error for a producer index beyond the ring.
   */
  poll(budget?: number): Result<CtrlPoll, "ill-behaved-peer">;
  /** Requests answered so far. */
  readonly answered: number;
}

export function createCtrlServer(deps: CtrlServerDeps): CtrlServer {
  const ring: BackRing = createBackRing([deps.page], { slotSize: NETIF_CTRL_SLOT_SIZE, startIndex: deps.startIndex });
  const hash = createHashState();
  const req = new Uint8Array(NETIF_CTRL_SLOT_SIZE);
  const reqView = new NetifCtrlRequestView(req);
  const rsp = new Uint8Array(NETIF_CTRL_SLOT_SIZE);
  const rspView = new NetifCtrlResponseView(rsp);
  const staging = new Uint8Array(4096);
  let answered = 0;

  /** One request, answered as Linux's process_ctrl_request does: [status, data]. */
  const answer = (type: number, d0: number, d1: number, d2: number): [number, number] => {
    switch (type) {
      case XEN_NETIF_CTRL_TYPE_SET_HASH_ALGORITHM:
        if (d0 !== XEN_NETIF_CTRL_HASH_ALGORITHM_NONE && d0 !== XEN_NETIF_CTRL_HASH_ALGORITHM_TOEPLITZ) return [XEN_NETIF_CTRL_STATUS_INVALID_PARAMETER, 0];
        hash.algorithm = d0;
        return [XEN_NETIF_CTRL_STATUS_SUCCESS, 0];
      case XEN_NETIF_CTRL_TYPE_GET_HASH_FLAGS:
        if (hash.algorithm === XEN_NETIF_CTRL_HASH_ALGORITHM_NONE) return [XEN_NETIF_CTRL_STATUS_NOT_SUPPORTED, 0];
        return [XEN_NETIF_CTRL_STATUS_SUCCESS, HASH_TYPES_SUPPORTED];
      case XEN_NETIF_CTRL_TYPE_SET_HASH_FLAGS:
        if ((d0 & ~HASH_TYPES_SUPPORTED) !== 0 || hash.algorithm === XEN_NETIF_CTRL_HASH_ALGORITHM_NONE) return [XEN_NETIF_CTRL_STATUS_INVALID_PARAMETER, 0];
        hash.flags = d0;
        return [XEN_NETIF_CTRL_STATUS_SUCCESS, 0];
      case XEN_NETIF_CTRL_TYPE_SET_HASH_KEY: {
        // netif.h suggests BUFFER_OVERFLOW for a key that is too long; Linux answers INVALID_PARAMETER.
        if (d1 > MAX_HASH_KEY_SIZE) return [XEN_NETIF_CTRL_STATUS_INVALID_PARAMETER, 0];
        if (d1 > 0 && !deps.copyFromGrant(d0, 0, d1, staging).ok) return [XEN_NETIF_CTRL_STATUS_INVALID_PARAMETER, 0];
        // A shorter key is padded with zeroes; a zero length clears it.
        hash.key.fill(0);
        hash.key.set(staging.subarray(0, d1));
        return [XEN_NETIF_CTRL_STATUS_SUCCESS, 0];
      }
      case XEN_NETIF_CTRL_TYPE_GET_HASH_MAPPING_SIZE:
        return [XEN_NETIF_CTRL_STATUS_SUCCESS, MAX_HASH_MAPPING_SIZE];
      case XEN_NETIF_CTRL_TYPE_SET_HASH_MAPPING_SIZE:
        if (d0 > MAX_HASH_MAPPING_SIZE) return [XEN_NETIF_CTRL_STATUS_INVALID_PARAMETER, 0];
        hash.mappingSize = d0;
        hash.mapping.fill(0);
        return [XEN_NETIF_CTRL_STATUS_SUCCESS, 0];
      case XEN_NETIF_CTRL_TYPE_SET_HASH_MAPPING: {
        // data[0] gref, data[1] entries, data[2] first entry to set.
        const len = d1,
          at = d2;
        if (at + len > hash.mappingSize || len > 4096 / 4) return [XEN_NETIF_CTRL_STATUS_INVALID_PARAMETER, 0];
        if (len > 0 && !deps.copyFromGrant(d0, 0, len * 4, staging).ok) return [XEN_NETIF_CTRL_STATUS_INVALID_PARAMETER, 0];
        const view = new DataView(staging.buffer, 0, len * 4);
        // Every entry names an existing queue, or the table is left as it was.
        for (let i = 0; i < len; i++) if (view.getUint32(i * 4, true) >= deps.queues) return [XEN_NETIF_CTRL_STATUS_INVALID_PARAMETER, 0];
        for (let i = 0; i < len; i++) hash.mapping[at + i] = view.getUint32(i * 4, true);
        return [XEN_NETIF_CTRL_STATUS_SUCCESS, 0];
      }
      default:
        return [XEN_NETIF_CTRL_STATUS_NOT_SUPPORTED, 0];
    }
  };

  return {
    hash,
    get answered() {
      return answered;
    },
    poll(budget = ring.size) {
      let notify = false;
      let done = 0;
      for (;;) {
        while (done < budget) {
          const r = ring.takeRequest(req);
          if (!r.ok) {
            if (r.error === "empty") break;
            return err("ill-behaved-peer");
          }
          const id = reqView.id;
          const type = reqView.type;
          const [status, data] = answer(type, reqView.data(0), reqView.data(1), reqView.data(2));
          rspView.clear();
          rspView.id = id;
          rspView.type = type;
          rspView.status = status;
          rspView.data = data;
          // A request slot was taken, so its response slot is free.
          ring.queueResponse(rsp);
          answered++;
          done++;
        }
        if (ring.pushResponses()) notify = true;
        if (done >= budget) return ok({ notify, more: true });
        const more = ring.finalCheckForRequests();
        if (!more.ok) return err("ill-behaved-peer");
        if (!more.value) return ok({ notify, more: false });
      }
    },
  };
}

/** netif.h's xen_netif_toeplitz_hash: for every set bit of `data`, XOR in the 32 key bits starting there. */
export function toeplitzHash(key: Uint8Array, data: Uint8Array): number {
  let hash = 0;
  let window = (((key[0] ?? 0) << 24) | ((key[1] ?? 0) << 16) | ((key[2] ?? 0) << 8) | (key[3] ?? 0)) >>> 0;
  for (let i = 0; i < data.length; i++) {
    const b = data[i]!;
    const next = key[i + 4] ?? 0;
    for (let bit = 7; bit >= 0; bit--) {
      if ((b >> bit) & 1) hash = (hash ^ window) >>> 0;
      window = ((window << 1) | ((next >> bit) & 1)) >>> 0;
    }
  }
  return hash;
}

/** The hash and its type (a HASH_TYPE_* bit number) for a frame on its way to the guest, as Linux's xenvif_set_skb_hash picks them. */
const hashInput = new Uint8Array(36);
export function frameHash(state: HashState, frame: Uint8Array): { value: number; type: number } | undefined {
  if (state.algorithm !== XEN_NETIF_CTRL_HASH_ALGORITHM_TOEPLITZ || state.flags === 0 || frame.length < 14) return undefined;
  const ethertype = (frame[12]! << 8) | frame[13]!;
  const want = (t: number): boolean => (state.flags & (1 << t)) !== 0;
  if (ethertype === 0x0800) {
    if (frame.length < 34 || frame[14]! >> 4 !== 4) return undefined;
    const ihl = (frame[14]! & 15) * 4;
    // A header length below 20 or past the frame: the flow dissector gives up, no hash.
    if (ihl < 20 || frame.length < 14 + ihl) return undefined;
    const fragment = (((frame[20]! << 8) | frame[21]!) & 0x3fff) !== 0;
    const tcp = frame[23] === 6 && !fragment && frame.length >= 14 + ihl + 4;
    if (tcp && want(HASH_TYPE_IPV4_TCP)) {
      hashInput.set(frame.subarray(26, 34));
      hashInput.set(frame.subarray(14 + ihl, 14 + ihl + 4), 8);
      return { value: toeplitzHash(state.key, hashInput.subarray(0, 12)), type: HASH_TYPE_IPV4_TCP };
    }
    if (want(HASH_TYPE_IPV4)) return { value: toeplitzHash(state.key, frame.subarray(26, 34)), type: HASH_TYPE_IPV4 };
    return undefined;
  }
  if (ethertype === 0x86dd) {
    if (frame.length < 54 || frame[14]! >> 4 !== 6) return undefined;
    // Only a TCP header right after the fixed header counts as TCP (no extension headers).
    const tcp = frame[20] === 6 && frame.length >= 58;
    if (tcp && want(HASH_TYPE_IPV6_TCP)) {
      hashInput.set(frame.subarray(22, 54));
      hashInput.set(frame.subarray(54, 58), 32);
      return { value: toeplitzHash(state.key, hashInput), type: HASH_TYPE_IPV6_TCP };
    }
    if (want(HASH_TYPE_IPV6)) return { value: toeplitzHash(state.key, frame.subarray(22, 54)), type: HASH_TYPE_IPV6 };
  }
  return undefined;
}
