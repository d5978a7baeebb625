// netif ABI (xen/io/netif.h): tx/rx request/response and extra info structs, flags, status.
// NETIF_*: offsets and sizes. Netif*View: packet views over a slot copy (never over live shared
// memory), the only way the drivers read or write these structs: getters and setters at the
// named offsets, safe once checkLen() succeeded. parse*/emit*: Reprs through the same views.
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
export const NETIF_RX_REQUEST_PAD = 2;
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
/** struct xen_netif_ctrl_request: id u16, type u16, data[3] u32; and xen_netif_ctrl_response. */
export const NETIF_CTRL_REQUEST_SIZE = 16;
export const NETIF_CTRL_REQUEST_ID = 0;
export const NETIF_CTRL_REQUEST_TYPE = 2;
export const NETIF_CTRL_REQUEST_DATA = 4;
export const NETIF_CTRL_RESPONSE_SIZE = 12;
export const NETIF_CTRL_RESPONSE_ID = 0;
export const NETIF_CTRL_RESPONSE_TYPE = 2;
export const NETIF_CTRL_RESPONSE_STATUS = 4;
export const NETIF_CTRL_RESPONSE_DATA = 8;

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

export interface NetifTxRequest {
  gref: number;
  offset: number;
  flags: number;
  id: number;
  size: number;
}
export interface NetifTxResponse {
  id: number;
  status: number;
}
export interface NetifRxRequest {
  id: number;
  gref: number;
}
export interface NetifRxResponse {
  id: number;
  offset: number;
  flags: number;
  status: number;
}
/** Extra info; `gso` for type GSO, `mcastAddr` (48-bit) for MCAST_ADD/DEL, `hash` for HASH, `raw` otherwise. */
export interface NetifExtraInfo {
  type: number;
  flags: number;
  gso?: { size: number; type: number; features: number };
  mcastAddr?: number;
  hash?: { type: number; algorithm: number; value: number };
  raw?: Uint8Array;
}

const whole = (b: Uint8Array): DataView => new DataView(b.buffer, b.byteOffset, b.byteLength);

/** struct netif_tx_request over a slot copy. */
export class NetifTxRequestView {
  readonly #v: DataView;
  constructor(readonly bytes: Uint8Array) {
    this.#v = whole(bytes);
  }
  checkLen(): Result<this, NetifParseError> {
    return this.bytes.length < NETIF_TX_REQUEST_SIZE ? err("truncated") : ok(this);
  }
  get gref(): number {
    return this.#v.getUint32(NETIF_TX_REQUEST_GREF, true);
  }
  set gref(x: number) {
    this.#v.setUint32(NETIF_TX_REQUEST_GREF, x >>> 0, true);
  }
  get offset(): number {
    return this.#v.getUint16(NETIF_TX_REQUEST_OFFSET, true);
  }
  set offset(x: number) {
    this.#v.setUint16(NETIF_TX_REQUEST_OFFSET, x, true);
  }
  get flags(): number {
    return this.#v.getUint16(NETIF_TX_REQUEST_FLAGS, true);
  }
  set flags(x: number) {
    this.#v.setUint16(NETIF_TX_REQUEST_FLAGS, x, true);
  }
  get id(): number {
    return this.#v.getUint16(NETIF_TX_REQUEST_ID, true);
  }
  set id(x: number) {
    this.#v.setUint16(NETIF_TX_REQUEST_ID, x, true);
  }
  /** The frame's whole size in a first slot, this slot's bytes in the others. */
  get size(): number {
    return this.#v.getUint16(NETIF_TX_REQUEST_SIZE_FIELD, true);
  }
  set size(x: number) {
    this.#v.setUint16(NETIF_TX_REQUEST_SIZE_FIELD, x, true);
  }
}

/** struct netif_tx_response over a slot copy. */
export class NetifTxResponseView {
  readonly #v: DataView;
  constructor(readonly bytes: Uint8Array) {
    this.#v = whole(bytes);
  }
  checkLen(): Result<this, NetifParseError> {
    return this.bytes.length < NETIF_TX_RESPONSE_SIZE ? err("truncated") : ok(this);
  }
  get id(): number {
    return this.#v.getUint16(NETIF_TX_RESPONSE_ID, true);
  }
  set id(x: number) {
    this.#v.setUint16(NETIF_TX_RESPONSE_ID, x, true);
  }
  /** NETIF_RSP_* (signed). */
  get status(): number {
    return this.#v.getInt16(NETIF_TX_RESPONSE_STATUS, true);
  }
  set status(x: number) {
    this.#v.setInt16(NETIF_TX_RESPONSE_STATUS, x, true);
  }
}

/** struct netif_rx_request over a slot copy. */
export class NetifRxRequestView {
  readonly #v: DataView;
  constructor(readonly bytes: Uint8Array) {
    this.#v = whole(bytes);
  }
  checkLen(): Result<this, NetifParseError> {
    return this.bytes.length < NETIF_RX_REQUEST_SIZE ? err("truncated") : ok(this);
  }
  get id(): number {
    return this.#v.getUint16(NETIF_RX_REQUEST_ID, true);
  }
  set id(x: number) {
    this.#v.setUint16(NETIF_RX_REQUEST_ID, x, true);
  }
  get pad(): number {
    return this.#v.getUint16(NETIF_RX_REQUEST_PAD, true);
  }
  set pad(x: number) {
    this.#v.setUint16(NETIF_RX_REQUEST_PAD, x, true);
  }
  get gref(): number {
    return this.#v.getUint32(NETIF_RX_REQUEST_GREF, true);
  }
  set gref(x: number) {
    this.#v.setUint32(NETIF_RX_REQUEST_GREF, x >>> 0, true);
  }
}

/** struct netif_rx_response over a slot copy. */
export class NetifRxResponseView {
  readonly #v: DataView;
  constructor(readonly bytes: Uint8Array) {
    this.#v = whole(bytes);
  }
  checkLen(): Result<this, NetifParseError> {
    return this.bytes.length < NETIF_RX_RESPONSE_SIZE ? err("truncated") : ok(this);
  }
  get id(): number {
    return this.#v.getUint16(NETIF_RX_RESPONSE_ID, true);
  }
  set id(x: number) {
    this.#v.setUint16(NETIF_RX_RESPONSE_ID, x, true);
  }
  get offset(): number {
    return this.#v.getUint16(NETIF_RX_RESPONSE_OFFSET, true);
  }
  set offset(x: number) {
    this.#v.setUint16(NETIF_RX_RESPONSE_OFFSET, x, true);
  }
  get flags(): number {
    return this.#v.getUint16(NETIF_RX_RESPONSE_FLAGS, true);
  }
  set flags(x: number) {
    this.#v.setUint16(NETIF_RX_RESPONSE_FLAGS, x, true);
  }
  /** Bytes received (>= 0) or NETIF_RSP_* (< 0). */
  get status(): number {
    return this.#v.getInt16(NETIF_RX_RESPONSE_STATUS, true);
  }
  set status(x: number) {
    this.#v.setInt16(NETIF_RX_RESPONSE_STATUS, x, true);
  }
}

/** struct xen_netif_ctrl_request over a slot copy. */
export class NetifCtrlRequestView {
  readonly #v: DataView;
  constructor(readonly bytes: Uint8Array) {
    this.#v = whole(bytes);
  }
  checkLen(): Result<this, NetifParseError> {
    return this.bytes.length < NETIF_CTRL_REQUEST_SIZE ? err("truncated") : ok(this);
  }
  get id(): number {
    return this.#v.getUint16(NETIF_CTRL_REQUEST_ID, true);
  }
  set id(x: number) {
    this.#v.setUint16(NETIF_CTRL_REQUEST_ID, x, true);
  }
  /** XEN_NETIF_CTRL_TYPE_*. */
  get type(): number {
    return this.#v.getUint16(NETIF_CTRL_REQUEST_TYPE, true);
  }
  set type(x: number) {
    this.#v.setUint16(NETIF_CTRL_REQUEST_TYPE, x, true);
  }
  /** data[i], i < 3. */
  data(i: number): number {
    return this.#v.getUint32(NETIF_CTRL_REQUEST_DATA + 4 * i, true);
  }
  setData(i: number, x: number): void {
    this.#v.setUint32(NETIF_CTRL_REQUEST_DATA + 4 * i, x >>> 0, true);
  }
}

/** struct xen_netif_ctrl_response over a slot copy. */
export class NetifCtrlResponseView {
  readonly #v: DataView;
  constructor(readonly bytes: Uint8Array) {
    this.#v = whole(bytes);
  }
  checkLen(): Result<this, NetifParseError> {
    return this.bytes.length < NETIF_CTRL_RESPONSE_SIZE ? err("truncated") : ok(this);
  }
  /** Zeroes every byte of the view. */
  clear(): void {
    this.bytes.fill(0);
  }
  get id(): number {
    return this.#v.getUint16(NETIF_CTRL_RESPONSE_ID, true);
  }
  set id(x: number) {
    this.#v.setUint16(NETIF_CTRL_RESPONSE_ID, x, true);
  }
  get type(): number {
    return this.#v.getUint16(NETIF_CTRL_RESPONSE_TYPE, true);
  }
  set type(x: number) {
    this.#v.setUint16(NETIF_CTRL_RESPONSE_TYPE, x, true);
  }
  /** XEN_NETIF_CTRL_STATUS_*. */
  get status(): number {
    return this.#v.getUint32(NETIF_CTRL_RESPONSE_STATUS, true);
  }
  set status(x: number) {
    this.#v.setUint32(NETIF_CTRL_RESPONSE_STATUS, x >>> 0, true);
  }
  get data(): number {
    return this.#v.getUint32(NETIF_CTRL_RESPONSE_DATA, true);
  }
  set data(x: number) {
    this.#v.setUint32(NETIF_CTRL_RESPONSE_DATA, x >>> 0, true);
  }
}

/** struct netif_extra_info over a slot copy (tx or rx ring): the union's members by type. */
export class NetifExtraInfoView {
  readonly #v: DataView;
  constructor(readonly bytes: Uint8Array) {
    this.#v = whole(bytes);
  }
  checkLen(): Result<this, NetifParseError> {
    return this.bytes.length < NETIF_EXTRA_INFO_SIZE ? err("truncated") : ok(this);
  }
  /** Zeroes every byte of the view (a whole slot when the view spans one). */
  clear(): void {
    this.bytes.fill(0);
  }
  get type(): number {
    return this.#v.getUint8(NETIF_EXTRA_TYPE);
  }
  set type(x: number) {
    this.#v.setUint8(NETIF_EXTRA_TYPE, x);
  }
  /** XEN_NETIF_EXTRA_FLAG_*. */
  get flags(): number {
    return this.#v.getUint8(NETIF_EXTRA_FLAGS);
  }
  set flags(x: number) {
    this.#v.setUint8(NETIF_EXTRA_FLAGS, x);
  }
  get gsoSize(): number {
    return this.#v.getUint16(NETIF_EXTRA_GSO_SIZE, true);
  }
  set gsoSize(x: number) {
    this.#v.setUint16(NETIF_EXTRA_GSO_SIZE, x, true);
  }
  /** XEN_NETIF_GSO_TYPE_*. */
  get gsoType(): number {
    return this.#v.getUint8(NETIF_EXTRA_GSO_TYPE);
  }
  set gsoType(x: number) {
    this.#v.setUint8(NETIF_EXTRA_GSO_TYPE, x);
  }
  get gsoFeatures(): number {
    return this.#v.getUint16(NETIF_EXTRA_GSO_FEATURES, true);
  }
  set gsoFeatures(x: number) {
    this.#v.setUint16(NETIF_EXTRA_GSO_FEATURES, x, true);
  }
  /** The multicast MAC (u.mcast.addr) as a 48-bit number, first byte most significant. */
  get mcastAddr(): number {
    let mac = 0;
    for (let i = 0; i < 6; i++) mac = mac * 256 + this.#v.getUint8(NETIF_EXTRA_MCAST_ADDR + i);
    return mac;
  }
  set mcastAddr(x: number) {
    let mac = x;
    for (let i = 5; i >= 0; i--) {
      this.#v.setUint8(NETIF_EXTRA_MCAST_ADDR + i, mac % 256);
      mac = Math.floor(mac / 256);
    }
  }
  /** _XEN_NETIF_CTRL_HASH_TYPE_* of u.hash. */
  get hashType(): number {
    return this.#v.getUint8(NETIF_EXTRA_HASH_TYPE);
  }
  set hashType(x: number) {
    this.#v.setUint8(NETIF_EXTRA_HASH_TYPE, x);
  }
  get hashAlgorithm(): number {
    return this.#v.getUint8(NETIF_EXTRA_HASH_ALGORITHM);
  }
  set hashAlgorithm(x: number) {
    this.#v.setUint8(NETIF_EXTRA_HASH_ALGORITHM, x);
  }
  get hashValue(): number {
    return this.#v.getUint32(NETIF_EXTRA_HASH_VALUE, true);
  }
  set hashValue(x: number) {
    this.#v.setUint32(NETIF_EXTRA_HASH_VALUE, x >>> 0, true);
  }
}

export function parseNetifTxRequest(b: Uint8Array): Result<NetifTxRequest, NetifParseError> {
  const c = new NetifTxRequestView(b).checkLen();
  if (!c.ok) return c;
  const v = c.value;
  return ok({ gref: v.gref, offset: v.offset, flags: v.flags, id: v.id, size: v.size });
}
export function emitNetifTxRequest(r: NetifTxRequest, out: Uint8Array): void {
  const v = new NetifTxRequestView(out.subarray(0, NETIF_TX_REQUEST_SIZE));
  v.gref = r.gref;
  v.offset = r.offset;
  v.flags = r.flags;
  v.id = r.id;
  v.size = r.size;
}
export function parseNetifTxResponse(b: Uint8Array): Result<NetifTxResponse, NetifParseError> {
  const c = new NetifTxResponseView(b).checkLen();
  return c.ok ? ok({ id: c.value.id, status: c.value.status }) : c;
}
export function emitNetifTxResponse(r: NetifTxResponse, out: Uint8Array): void {
  const v = new NetifTxResponseView(out.subarray(0, NETIF_TX_RESPONSE_SIZE));
  v.id = r.id;
  v.status = r.status;
}
export function parseNetifRxRequest(b: Uint8Array): Result<NetifRxRequest, NetifParseError> {
  const c = new NetifRxRequestView(b).checkLen();
  return c.ok ? ok({ id: c.value.id, gref: c.value.gref }) : c;
}
export function emitNetifRxRequest(r: NetifRxRequest, out: Uint8Array): void {
  const v = new NetifRxRequestView(out.subarray(0, NETIF_RX_REQUEST_SIZE));
  v.id = r.id;
  v.pad = 0;
  v.gref = r.gref;
}
export function parseNetifRxResponse(b: Uint8Array): Result<NetifRxResponse, NetifParseError> {
  const c = new NetifRxResponseView(b).checkLen();
  if (!c.ok) return c;
  const v = c.value;
  return ok({ id: v.id, offset: v.offset, flags: v.flags, status: v.status });
}
export function emitNetifRxResponse(r: NetifRxResponse, out: Uint8Array): void {
  const v = new NetifRxResponseView(out.subarray(0, NETIF_RX_RESPONSE_SIZE));
  v.id = r.id;
  v.offset = r.offset;
  v.flags = r.flags;
  v.status = r.status;
}
export function parseNetifExtraInfo(b: Uint8Array): Result<NetifExtraInfo, NetifParseError> {
  const c = new NetifExtraInfoView(b).checkLen();
  if (!c.ok) return c;
  const v = c.value;
  const type = v.type;
  const flags = v.flags;
  switch (type) {
    case XEN_NETIF_EXTRA_TYPE_GSO:
      return ok({ type, flags, gso: { size: v.gsoSize, type: v.gsoType, features: v.gsoFeatures } });
    case XEN_NETIF_EXTRA_TYPE_MCAST_ADD:
    case XEN_NETIF_EXTRA_TYPE_MCAST_DEL:
      return ok({ type, flags, mcastAddr: v.mcastAddr });
    case XEN_NETIF_EXTRA_TYPE_HASH:
      return ok({ type, flags, hash: { type: v.hashType, algorithm: v.hashAlgorithm, value: v.hashValue } });
    default:
      return ok({ type, flags, raw: b.slice(2, NETIF_EXTRA_INFO_SIZE) });
  }
}
export function emitNetifExtraInfo(r: NetifExtraInfo, out: Uint8Array): void {
  const v = new NetifExtraInfoView(out.subarray(0, NETIF_EXTRA_INFO_SIZE));
  v.clear();
  v.type = r.type;
  v.flags = r.flags;
  if (r.gso) {
    v.gsoSize = r.gso.size;
    v.gsoType = r.gso.type;
    v.gsoFeatures = r.gso.features;
  } else if (r.mcastAddr !== undefined) {
    v.mcastAddr = r.mcastAddr;
  } else if (r.hash) {
    v.hashType = r.hash.type;
    v.hashAlgorithm = r.hash.algorithm;
    v.hashValue = r.hash.value;
  } else if (r.raw) {
    out.set(r.raw.subarray(0, 6), 2);
  }
}
