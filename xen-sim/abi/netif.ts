// netif ABI (xen/io/netif.h): tx/rx request/response and extra info structs, flags, status.
// NETIF_*: offsets and sizes. parse*/emit*: codecs over a slot copy (never over live shared memory).
// Parsing accepts every bit pattern the C struct can hold; protocol checks belong to the drivers.

import { err, ok, type Result } from "../../stack/result.ts";

export const NETIF_TX_REQUEST_SIZE = 12;
export const NETIF_TX_REQUEST_GREF = 0;
export const NETIF_TX_REQUEST_OFFSET = 4;
export const NETIF_TX_REQUEST_FLAGS = 6;
export const NETIF_TX_REQUEST_ID = 8;
export const NETIF_TX_REQUEST_SIZE_FIELD = 10;
export const NETIF_TX_RESPONSE_SIZE = 4;
export const NETIF_TX_RESPONSE_ID = 0;
export const NETIF_TX_RESPONSE_STATUS = 2;
export const NETIF_RX_REQUEST_SIZE = 8;
export const NETIF_RX_REQUEST_ID = 0;
export const NETIF_RX_REQUEST_GREF = 4;
export const NETIF_RX_RESPONSE_SIZE = 8;
export const NETIF_RX_RESPONSE_ID = 0;
export const NETIF_RX_RESPONSE_OFFSET = 2;
export const NETIF_RX_RESPONSE_FLAGS = 4;
export const NETIF_RX_RESPONSE_STATUS = 6;
export const NETIF_EXTRA_INFO_SIZE = 8;
export const NETIF_EXTRA_TYPE = 0;
export const NETIF_EXTRA_FLAGS = 1;
export const NETIF_EXTRA_GSO_SIZE = 2;
export const NETIF_EXTRA_GSO_TYPE = 4;
export const NETIF_EXTRA_GSO_PAD = 5;
export const NETIF_EXTRA_GSO_FEATURES = 6;
export const NETIF_EXTRA_MCAST_ADDR = 2;
export const NETIF_EXTRA_HASH_TYPE = 2;
export const NETIF_EXTRA_HASH_ALGORITHM = 3;
export const NETIF_EXTRA_HASH_VALUE = 4;
/** Slot sizes: union of request and response. */
export const NETIF_TX_SLOT_SIZE = 12;
export const NETIF_RX_SLOT_SIZE = 8;
export const NETIF_CTRL_SLOT_SIZE = 16;

export const NETTXF_csum_blank = 1;
export const NETTXF_data_validated = 2;
export const NETTXF_more_data = 4;
export const NETTXF_extra_info = 8;
export const NETRXF_data_validated = 1;
export const NETRXF_csum_blank = 2;
export const NETRXF_more_data = 4;
export const NETRXF_extra_info = 8;
export const NETRXF_gso_prefix = 16;
export const XEN_NETIF_MAX_TX_SIZE = 0xffff;
export const XEN_NETIF_NR_SLOTS_MIN = 18;
export const XEN_NETIF_EXTRA_TYPE_NONE = 0;
export const XEN_NETIF_EXTRA_TYPE_GSO = 1;
export const XEN_NETIF_EXTRA_TYPE_MCAST_ADD = 2;
export const XEN_NETIF_EXTRA_TYPE_MCAST_DEL = 3;
export const XEN_NETIF_EXTRA_TYPE_HASH = 4;
export const XEN_NETIF_EXTRA_TYPE_MAX = 5;
export const XEN_NETIF_EXTRA_FLAG_MORE = 1;
export const XEN_NETIF_GSO_TYPE_NONE = 0;
export const XEN_NETIF_GSO_TYPE_TCPV4 = 1;
export const XEN_NETIF_GSO_TYPE_TCPV6 = 2;
export const NETIF_RSP_DROPPED = -2;
export const NETIF_RSP_ERROR = -1;
export const NETIF_RSP_OKAY = 0;
export const NETIF_RSP_NULL = 1;

/** Truncated input: fewer bytes than the struct. */
export type NetifParseError = "truncated";

export interface NetifTxRequest { gref: number; offset: number; flags: number; id: number; size: number }
export interface NetifTxResponse { id: number; status: number }
export interface NetifRxRequest { id: number; gref: number }
export interface NetifRxResponse { id: number; offset: number; flags: number; status: number }
/** Extra info; `gso` for type GSO, `mcastAddr` (48-bit) for MCAST_ADD/DEL, `hash` for HASH, `raw` otherwise. */
export interface NetifExtraInfo {
  type: number;
  flags: number;
  gso?: { size: number; type: number; features: number };
  mcastAddr?: number;
  hash?: { type: number; algorithm: number; value: number };
  raw?: Uint8Array;
}

const view = (b: Uint8Array, n: number): DataView => new DataView(b.buffer, b.byteOffset, n);

export function parseNetifTxRequest(b: Uint8Array): Result<NetifTxRequest, NetifParseError> {
  if (b.length < NETIF_TX_REQUEST_SIZE) return err("truncated");
  const v = view(b, NETIF_TX_REQUEST_SIZE);
  return ok({
    gref: v.getUint32(NETIF_TX_REQUEST_GREF, true),
    offset: v.getUint16(NETIF_TX_REQUEST_OFFSET, true),
    flags: v.getUint16(NETIF_TX_REQUEST_FLAGS, true),
    id: v.getUint16(NETIF_TX_REQUEST_ID, true),
    size: v.getUint16(NETIF_TX_REQUEST_SIZE_FIELD, true),
  });
}
export function emitNetifTxRequest(r: NetifTxRequest, out: Uint8Array): void {
  const v = view(out, NETIF_TX_REQUEST_SIZE);
  v.setUint32(NETIF_TX_REQUEST_GREF, r.gref >>> 0, true);
  v.setUint16(NETIF_TX_REQUEST_OFFSET, r.offset, true);
  v.setUint16(NETIF_TX_REQUEST_FLAGS, r.flags, true);
  v.setUint16(NETIF_TX_REQUEST_ID, r.id, true);
  v.setUint16(NETIF_TX_REQUEST_SIZE_FIELD, r.size, true);
}
export function parseNetifTxResponse(b: Uint8Array): Result<NetifTxResponse, NetifParseError> {
  if (b.length < NETIF_TX_RESPONSE_SIZE) return err("truncated");
  const v = view(b, NETIF_TX_RESPONSE_SIZE);
  return ok({ id: v.getUint16(NETIF_TX_RESPONSE_ID, true), status: v.getInt16(NETIF_TX_RESPONSE_STATUS, true) });
}
export function emitNetifTxResponse(r: NetifTxResponse, out: Uint8Array): void {
  const v = view(out, NETIF_TX_RESPONSE_SIZE);
  v.setUint16(NETIF_TX_RESPONSE_ID, r.id, true);
  v.setInt16(NETIF_TX_RESPONSE_STATUS, r.status, true);
}
export function parseNetifRxRequest(b: Uint8Array): Result<NetifRxRequest, NetifParseError> {
  if (b.length < NETIF_RX_REQUEST_SIZE) return err("truncated");
  const v = view(b, NETIF_RX_REQUEST_SIZE);
  return ok({ id: v.getUint16(NETIF_RX_REQUEST_ID, true), gref: v.getUint32(NETIF_RX_REQUEST_GREF, true) });
}
export function emitNetifRxRequest(r: NetifRxRequest, out: Uint8Array): void {
  const v = view(out, NETIF_RX_REQUEST_SIZE);
  v.setUint16(NETIF_RX_REQUEST_ID, r.id, true);
  v.setUint16(2, 0, true);
  v.setUint32(NETIF_RX_REQUEST_GREF, r.gref >>> 0, true);
}
export function parseNetifRxResponse(b: Uint8Array): Result<NetifRxResponse, NetifParseError> {
  if (b.length < NETIF_RX_RESPONSE_SIZE) return err("truncated");
  const v = view(b, NETIF_RX_RESPONSE_SIZE);
  return ok({
    id: v.getUint16(NETIF_RX_RESPONSE_ID, true),
    offset: v.getUint16(NETIF_RX_RESPONSE_OFFSET, true),
    flags: v.getUint16(NETIF_RX_RESPONSE_FLAGS, true),
    status: v.getInt16(NETIF_RX_RESPONSE_STATUS, true),
  });
}
export function emitNetifRxResponse(r: NetifRxResponse, out: Uint8Array): void {
  const v = view(out, NETIF_RX_RESPONSE_SIZE);
  v.setUint16(NETIF_RX_RESPONSE_ID, r.id, true);
  v.setUint16(NETIF_RX_RESPONSE_OFFSET, r.offset, true);
  v.setUint16(NETIF_RX_RESPONSE_FLAGS, r.flags, true);
  v.setInt16(NETIF_RX_RESPONSE_STATUS, r.status, true);
}
export function parseNetifExtraInfo(b: Uint8Array): Result<NetifExtraInfo, NetifParseError> {
  if (b.length < NETIF_EXTRA_INFO_SIZE) return err("truncated");
  const v = view(b, NETIF_EXTRA_INFO_SIZE);
  const type = v.getUint8(NETIF_EXTRA_TYPE);
  const flags = v.getUint8(NETIF_EXTRA_FLAGS);
  switch (type) {
    case XEN_NETIF_EXTRA_TYPE_GSO:
      return ok({ type, flags, gso: {
        size: v.getUint16(NETIF_EXTRA_GSO_SIZE, true),
        type: v.getUint8(NETIF_EXTRA_GSO_TYPE),
        features: v.getUint16(NETIF_EXTRA_GSO_FEATURES, true),
      } });
    case XEN_NETIF_EXTRA_TYPE_MCAST_ADD:
    case XEN_NETIF_EXTRA_TYPE_MCAST_DEL: {
      let mac = 0;
      for (let i = 0; i < 6; i++) mac = mac * 256 + v.getUint8(NETIF_EXTRA_MCAST_ADDR + i);
      return ok({ type, flags, mcastAddr: mac });
    }
    case XEN_NETIF_EXTRA_TYPE_HASH:
      return ok({ type, flags, hash: {
        type: v.getUint8(NETIF_EXTRA_HASH_TYPE),
        algorithm: v.getUint8(NETIF_EXTRA_HASH_ALGORITHM),
        value: v.getUint32(NETIF_EXTRA_HASH_VALUE, true),
      } });
    default:
      return ok({ type, flags, raw: b.slice(2, NETIF_EXTRA_INFO_SIZE) });
  }
}
export function emitNetifExtraInfo(r: NetifExtraInfo, out: Uint8Array): void {
  out.fill(0, 0, NETIF_EXTRA_INFO_SIZE);
  const v = view(out, NETIF_EXTRA_INFO_SIZE);
  v.setUint8(NETIF_EXTRA_TYPE, r.type);
  v.setUint8(NETIF_EXTRA_FLAGS, r.flags);
  if (r.gso) {
    v.setUint16(NETIF_EXTRA_GSO_SIZE, r.gso.size, true);
    v.setUint8(NETIF_EXTRA_GSO_TYPE, r.gso.type);
    v.setUint16(NETIF_EXTRA_GSO_FEATURES, r.gso.features, true);
  } else if (r.mcastAddr !== undefined) {
    let mac = r.mcastAddr;
    for (let i = 5; i >= 0; i--) { v.setUint8(NETIF_EXTRA_MCAST_ADDR + i, mac % 256); mac = Math.floor(mac / 256); }
  } else if (r.hash) {
    v.setUint8(NETIF_EXTRA_HASH_TYPE, r.hash.type);
    v.setUint8(NETIF_EXTRA_HASH_ALGORITHM, r.hash.algorithm);
    v.setUint32(NETIF_EXTRA_HASH_VALUE, r.hash.value >>> 0, true);
  } else if (r.raw) {
    out.set(r.raw.subarray(0, 6), 2);
  }
}
