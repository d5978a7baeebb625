// blkif ABI (xen/io/blkif.h): request (direct, discard, indirect), segment and response structs.
// BLKIF_*: offsets, sizes and constants. BlkifRequestView / BlkifSegmentsView / BlkifResponseView:
// packet views over a slot copy or an indirect segment page, the only way the drivers read or
// write these structs (accessors safe once checkLen() succeeded). parseBlkifRequest: decodes a
// slot copy by operation and validates what the struct itself bounds (segment count, sector
// range in a page); emit*: encoders.

import { err, ok, type Result } from "../../stack/result.ts";

export const BLKIF_REQUEST_SIZE = 112;
export const BLKIF_REQUEST_OPERATION = 0;
export const BLKIF_REQUEST_NR_SEGMENTS = 1;
export const BLKIF_REQUEST_HANDLE = 2;
export const BLKIF_REQUEST_ID = 8;
export const BLKIF_REQUEST_SECTOR_NUMBER = 16;
export const BLKIF_REQUEST_SEG = 24;
export const BLKIF_SEGMENT_SIZE = 8;
export const BLKIF_SEGMENT_GREF = 0;
export const BLKIF_SEGMENT_FIRST_SECT = 4;
export const BLKIF_SEGMENT_LAST_SECT = 5;
export const BLKIF_DISCARD_SIZE = 32;
export const BLKIF_DISCARD_FLAG = 1;
export const BLKIF_DISCARD_NR_SECTORS = 24;
export const BLKIF_INDIRECT_SIZE = 64;
export const BLKIF_INDIRECT_OP = 1;
export const BLKIF_INDIRECT_NR_SEGMENTS = 2;
export const BLKIF_INDIRECT_HANDLE = 24;
export const BLKIF_INDIRECT_GREFS = 28;
export const BLKIF_RESPONSE_SIZE = 16;
export const BLKIF_RESPONSE_ID = 0;
export const BLKIF_RESPONSE_OPERATION = 8;
export const BLKIF_RESPONSE_STATUS = 10;
/** Ring slot: union of request and response. */
export const BLKIF_SLOT_SIZE = 112;

export const BLKIF_OP_READ = 0;
export const BLKIF_OP_WRITE = 1;
export const BLKIF_OP_WRITE_BARRIER = 2;
export const BLKIF_OP_FLUSH_DISKCACHE = 3;
export const BLKIF_OP_RESERVED_1 = 4;
export const BLKIF_OP_DISCARD = 5;
export const BLKIF_OP_INDIRECT = 6;
export const BLKIF_RSP_EOPNOTSUPP = -2;
export const BLKIF_RSP_ERROR = -1;
export const BLKIF_RSP_OKAY = 0;
export const BLKIF_MAX_SEGMENTS_PER_REQUEST = 11;
export const BLKIF_MAX_INDIRECT_PAGES_PER_REQUEST = 8;
export const BLKIF_SEGMENTS_PER_INDIRECT_PAGE = 512;
export const BLKIF_DISCARD_SECURE = 1;
/** 512-byte sectors per 4096-byte page. */
export const BLKIF_SECTORS_PER_PAGE = 8;
export const VDISK_CDROM = 1;
export const VDISK_REMOVABLE = 2;
export const VDISK_READONLY = 4;
export const XEN_IO_PROTO_ABI_X86_64 = "x86_64-abi";

export type BlkifParseError = "truncated" | "bad-segment-count" | "bad-segment" | "sector-too-large" | "bad-indirect-op";

export interface BlkifSegment {
  gref: number;
  firstSect: number;
  lastSect: number;
}
/** A direct request (READ, WRITE, WRITE_BARRIER, FLUSH_DISKCACHE or an unknown operation). */
export interface BlkifDirectRequest {
  kind: "direct";
  operation: number;
  handle: number;
  id: bigint;
  sectorNumber: number;
  segments: BlkifSegment[];
}
export interface BlkifDiscardRequest {
  kind: "discard";
  operation: 5;
  flag: number;
  handle: number;
  id: bigint;
  sectorNumber: number;
  nrSectors: number;
}
export interface BlkifIndirectRequest {
  kind: "indirect";
  operation: 6;
  indirectOp: number;
  nrSegments: number;
  id: bigint;
  sectorNumber: number;
  handle: number;
  indirectGrefs: number[];
}
export type BlkifRequest = BlkifDirectRequest | BlkifDiscardRequest | BlkifIndirectRequest;
export interface BlkifResponse {
  id: bigint;
  operation: number;
  status: number;
}

const view = (b: Uint8Array, n: number): DataView => new DataView(b.buffer, b.byteOffset, n);
const whole = (b: Uint8Array): DataView => new DataView(b.buffer, b.byteOffset, b.byteLength);
const TWO32 = 0x1_0000_0000;

/** A u64 as a number; values beyond 2^53 − 1 read as Infinity (out of range for any disk). */
function getU64(v: DataView, at: number): number {
  const hi = v.getUint32(at + 4, true);
  return hi >= 0x200000 ? Infinity : hi * TWO32 + v.getUint32(at, true);
}
function setU64(v: DataView, at: number, x: number): void {
  v.setUint32(at, x % TWO32, true);
  v.setUint32(at + 4, Math.floor(x / TWO32), true);
}

/**
 * An array of struct blkif_request_segment: a direct request's seg[] or an indirect page.
 * Accessors take the segment's index; checkLen(n) says whether n segments fit.
 */
export class BlkifSegmentsView {
  readonly #v: DataView;
  constructor(readonly bytes: Uint8Array) {
    this.#v = whole(bytes);
  }
  checkLen(count: number): Result<this, "truncated"> {
    return this.bytes.length < count * BLKIF_SEGMENT_SIZE ? err("truncated") : ok(this);
  }
  gref(i: number): number {
    return this.#v.getUint32(BLKIF_SEGMENT_SIZE * i + BLKIF_SEGMENT_GREF, true);
  }
  firstSect(i: number): number {
    return this.#v.getUint8(BLKIF_SEGMENT_SIZE * i + BLKIF_SEGMENT_FIRST_SECT);
  }
  lastSect(i: number): number {
    return this.#v.getUint8(BLKIF_SEGMENT_SIZE * i + BLKIF_SEGMENT_LAST_SECT);
  }
  /** Writes segment i whole (its two padding bytes zeroed). */
  set(i: number, gref: number, firstSect: number, lastSect: number): void {
    const at = BLKIF_SEGMENT_SIZE * i;
    this.#v.setUint32(at + BLKIF_SEGMENT_GREF, gref >>> 0, true);
    this.#v.setUint8(at + BLKIF_SEGMENT_FIRST_SECT, firstSect);
    this.#v.setUint8(at + BLKIF_SEGMENT_LAST_SECT, lastSect);
    this.#v.setUint16(at + BLKIF_SEGMENT_LAST_SECT + 1, 0, true);
  }
}

/**
 * struct blkif_request over a slot copy, with the members of its discard and indirect variants
 * (which share operation, id and sector_number). Sector fields are numbers: Infinity above 2^53 − 1.
 */
export class BlkifRequestView {
  readonly #v: DataView;
  /** seg[] of a direct request. */
  readonly segments: BlkifSegmentsView;
  constructor(readonly bytes: Uint8Array) {
    this.#v = whole(bytes);
    this.segments = new BlkifSegmentsView(bytes.subarray(Math.min(BLKIF_REQUEST_SEG, bytes.length)));
  }
  checkLen(): Result<this, "truncated"> {
    return this.bytes.length < BLKIF_REQUEST_SIZE ? err("truncated") : ok(this);
  }
  /** Zeroes the whole struct (unused members and padding). */
  clear(): void {
    this.bytes.fill(0, 0, BLKIF_REQUEST_SIZE);
  }
  get operation(): number {
    return this.#v.getUint8(BLKIF_REQUEST_OPERATION);
  }
  set operation(x: number) {
    this.#v.setUint8(BLKIF_REQUEST_OPERATION, x);
  }
  get nrSegments(): number {
    return this.#v.getUint8(BLKIF_REQUEST_NR_SEGMENTS);
  }
  set nrSegments(x: number) {
    this.#v.setUint8(BLKIF_REQUEST_NR_SEGMENTS, x);
  }
  get handle(): number {
    return this.#v.getUint16(BLKIF_REQUEST_HANDLE, true);
  }
  set handle(x: number) {
    this.#v.setUint16(BLKIF_REQUEST_HANDLE, x, true);
  }
  /** Low and high 32 bits of the u64 id (kept apart: ids are echoed, never computed with). */
  get idLow(): number {
    return this.#v.getUint32(BLKIF_REQUEST_ID, true);
  }
  set idLow(x: number) {
    this.#v.setUint32(BLKIF_REQUEST_ID, x >>> 0, true);
  }
  get idHigh(): number {
    return this.#v.getUint32(BLKIF_REQUEST_ID + 4, true);
  }
  set idHigh(x: number) {
    this.#v.setUint32(BLKIF_REQUEST_ID + 4, x >>> 0, true);
  }
  get sectorNumber(): number {
    return getU64(this.#v, BLKIF_REQUEST_SECTOR_NUMBER);
  }
  set sectorNumber(x: number) {
    setU64(this.#v, BLKIF_REQUEST_SECTOR_NUMBER, x);
  }
  /** blkif_request_discard.flag (BLKIF_DISCARD_SECURE). */
  get discardFlag(): number {
    return this.#v.getUint8(BLKIF_DISCARD_FLAG);
  }
  set discardFlag(x: number) {
    this.#v.setUint8(BLKIF_DISCARD_FLAG, x);
  }
  get discardNrSectors(): number {
    return getU64(this.#v, BLKIF_DISCARD_NR_SECTORS);
  }
  set discardNrSectors(x: number) {
    setU64(this.#v, BLKIF_DISCARD_NR_SECTORS, x);
  }
  /** blkif_request_indirect.indirect_op. */
  get indirectOp(): number {
    return this.#v.getUint8(BLKIF_INDIRECT_OP);
  }
  set indirectOp(x: number) {
    this.#v.setUint8(BLKIF_INDIRECT_OP, x);
  }
  /** blkif_request_indirect.nr_segments (u16). */
  get indirectNrSegments(): number {
    return this.#v.getUint16(BLKIF_INDIRECT_NR_SEGMENTS, true);
  }
  set indirectNrSegments(x: number) {
    this.#v.setUint16(BLKIF_INDIRECT_NR_SEGMENTS, x, true);
  }
  get indirectHandle(): number {
    return this.#v.getUint16(BLKIF_INDIRECT_HANDLE, true);
  }
  set indirectHandle(x: number) {
    this.#v.setUint16(BLKIF_INDIRECT_HANDLE, x, true);
  }
  /** indirect_grefs[i], i < BLKIF_MAX_INDIRECT_PAGES_PER_REQUEST. */
  indirectGref(i: number): number {
    return this.#v.getUint32(BLKIF_INDIRECT_GREFS + 4 * i, true);
  }
  setIndirectGref(i: number, gref: number): void {
    this.#v.setUint32(BLKIF_INDIRECT_GREFS + 4 * i, gref >>> 0, true);
  }
}

/** struct blkif_response over a slot copy. */
export class BlkifResponseView {
  readonly #v: DataView;
  constructor(readonly bytes: Uint8Array) {
    this.#v = whole(bytes);
  }
  checkLen(): Result<this, "truncated"> {
    return this.bytes.length < BLKIF_RESPONSE_SIZE ? err("truncated") : ok(this);
  }
  /** Zeroes the struct (its padding bytes included). */
  clear(): void {
    this.bytes.fill(0, 0, BLKIF_RESPONSE_SIZE);
  }
  get idLow(): number {
    return this.#v.getUint32(BLKIF_RESPONSE_ID, true);
  }
  set idLow(x: number) {
    this.#v.setUint32(BLKIF_RESPONSE_ID, x >>> 0, true);
  }
  get idHigh(): number {
    return this.#v.getUint32(BLKIF_RESPONSE_ID + 4, true);
  }
  set idHigh(x: number) {
    this.#v.setUint32(BLKIF_RESPONSE_ID + 4, x >>> 0, true);
  }
  get operation(): number {
    return this.#v.getUint8(BLKIF_RESPONSE_OPERATION);
  }
  set operation(x: number) {
    this.#v.setUint8(BLKIF_RESPONSE_OPERATION, x);
  }
  /** BLKIF_RSP_* (signed). */
  get status(): number {
    return this.#v.getInt16(BLKIF_RESPONSE_STATUS, true);
  }
  set status(x: number) {
    this.#v.setInt16(BLKIF_RESPONSE_STATUS, x, true);
  }
}

function readSector(v: DataView, at: number): number | undefined {
  const x = v.getBigUint64(at, true);
  return x > BigInt(Number.MAX_SAFE_INTEGER) ? undefined : Number(x);
}

/** Decodes one segment; first_sect <= last_sect <= 7 is required. */
export function parseBlkifSegment(b: Uint8Array): Result<BlkifSegment, "truncated" | "bad-segment"> {
  if (b.length < BLKIF_SEGMENT_SIZE) return err("truncated");
  const v = view(b, BLKIF_SEGMENT_SIZE);
  const firstSect = v.getUint8(BLKIF_SEGMENT_FIRST_SECT);
  const lastSect = v.getUint8(BLKIF_SEGMENT_LAST_SECT);
  if (firstSect > lastSect || lastSect >= BLKIF_SECTORS_PER_PAGE) return err("bad-segment");
  return ok({ gref: v.getUint32(BLKIF_SEGMENT_GREF, true), firstSect, lastSect });
}

export function emitBlkifSegment(s: BlkifSegment, out: Uint8Array): void {
  const v = view(out, BLKIF_SEGMENT_SIZE);
  v.setUint32(BLKIF_SEGMENT_GREF, s.gref >>> 0, true);
  v.setUint8(BLKIF_SEGMENT_FIRST_SECT, s.firstSect);
  v.setUint8(BLKIF_SEGMENT_LAST_SECT, s.lastSect);
  v.setUint16(6, 0, true);
}

/** Decodes a request slot copy according to its operation byte. */
export function parseBlkifRequest(b: Uint8Array): Result<BlkifRequest, BlkifParseError> {
  if (b.length < BLKIF_REQUEST_SIZE) return err("truncated");
  const v = view(b, BLKIF_REQUEST_SIZE);
  const operation = v.getUint8(BLKIF_REQUEST_OPERATION);
  const id = v.getBigUint64(BLKIF_REQUEST_ID, true);
  const sectorNumber = readSector(v, BLKIF_REQUEST_SECTOR_NUMBER);
  if (sectorNumber === undefined) return err("sector-too-large");
  if (operation === BLKIF_OP_DISCARD) {
    const nrSectors = readSector(v, BLKIF_DISCARD_NR_SECTORS);
    if (nrSectors === undefined) return err("sector-too-large");
    return ok({
      kind: "discard",
      operation,
      flag: v.getUint8(BLKIF_DISCARD_FLAG),
      handle: v.getUint16(BLKIF_REQUEST_HANDLE, true),
      id,
      sectorNumber,
      nrSectors,
    });
  }
  if (operation === BLKIF_OP_INDIRECT) {
    const indirectOp = v.getUint8(BLKIF_INDIRECT_OP);
    if (indirectOp !== BLKIF_OP_READ && indirectOp !== BLKIF_OP_WRITE) return err("bad-indirect-op");
    const nrSegments = v.getUint16(BLKIF_INDIRECT_NR_SEGMENTS, true);
    const max = BLKIF_MAX_INDIRECT_PAGES_PER_REQUEST * BLKIF_SEGMENTS_PER_INDIRECT_PAGE;
    if (nrSegments === 0 || nrSegments > max) return err("bad-segment-count");
    const pages = Math.ceil(nrSegments / BLKIF_SEGMENTS_PER_INDIRECT_PAGE);
    const indirectGrefs: number[] = [];
    for (let i = 0; i < pages; i++) indirectGrefs.push(v.getUint32(BLKIF_INDIRECT_GREFS + 4 * i, true));
    return ok({ kind: "indirect", operation, indirectOp, nrSegments, id, sectorNumber, handle: v.getUint16(BLKIF_INDIRECT_HANDLE, true), indirectGrefs });
  }
  const nr = v.getUint8(BLKIF_REQUEST_NR_SEGMENTS);
  if (nr > BLKIF_MAX_SEGMENTS_PER_REQUEST) return err("bad-segment-count");
  const segments: BlkifSegment[] = [];
  for (let i = 0; i < nr; i++) {
    const at = BLKIF_REQUEST_SEG + BLKIF_SEGMENT_SIZE * i;
    const s = parseBlkifSegment(b.subarray(at, at + BLKIF_SEGMENT_SIZE));
    if (!s.ok) return err("bad-segment");
    segments.push(s.value);
  }
  return ok({ kind: "direct", operation, handle: v.getUint16(BLKIF_REQUEST_HANDLE, true), id, sectorNumber, segments });
}

/** Encodes a request into a 112-byte slot image (unused bytes zeroed). */
export function emitBlkifRequest(r: BlkifRequest, out: Uint8Array): void {
  out.fill(0, 0, BLKIF_REQUEST_SIZE);
  const v = view(out, BLKIF_REQUEST_SIZE);
  v.setUint8(BLKIF_REQUEST_OPERATION, r.operation);
  v.setBigUint64(BLKIF_REQUEST_ID, r.id, true);
  v.setBigUint64(BLKIF_REQUEST_SECTOR_NUMBER, BigInt(r.sectorNumber), true);
  switch (r.kind) {
    case "discard":
      v.setUint8(BLKIF_DISCARD_FLAG, r.flag);
      v.setUint16(BLKIF_REQUEST_HANDLE, r.handle, true);
      v.setBigUint64(BLKIF_DISCARD_NR_SECTORS, BigInt(r.nrSectors), true);
      return;
    case "indirect":
      v.setUint8(BLKIF_INDIRECT_OP, r.indirectOp);
      v.setUint16(BLKIF_INDIRECT_NR_SEGMENTS, r.nrSegments, true);
      v.setUint16(BLKIF_INDIRECT_HANDLE, r.handle, true);
      r.indirectGrefs.slice(0, BLKIF_MAX_INDIRECT_PAGES_PER_REQUEST).forEach((g, i) => v.setUint32(BLKIF_INDIRECT_GREFS + 4 * i, g >>> 0, true));
      return;
    case "direct":
      v.setUint8(BLKIF_REQUEST_NR_SEGMENTS, r.segments.length);
      v.setUint16(BLKIF_REQUEST_HANDLE, r.handle, true);
      r.segments.slice(0, BLKIF_MAX_SEGMENTS_PER_REQUEST).forEach((s, i) => {
        const at = BLKIF_REQUEST_SEG + BLKIF_SEGMENT_SIZE * i;
        emitBlkifSegment(s, out.subarray(at, at + BLKIF_SEGMENT_SIZE));
      });
  }
}

export function parseBlkifResponse(b: Uint8Array): Result<BlkifResponse, "truncated"> {
  if (b.length < BLKIF_RESPONSE_SIZE) return err("truncated");
  const v = view(b, BLKIF_RESPONSE_SIZE);
  return ok({ id: v.getBigUint64(BLKIF_RESPONSE_ID, true), operation: v.getUint8(BLKIF_RESPONSE_OPERATION), status: v.getInt16(BLKIF_RESPONSE_STATUS, true) });
}

export function emitBlkifResponse(r: BlkifResponse, out: Uint8Array): void {
  out.fill(0, 0, BLKIF_RESPONSE_SIZE);
  const v = view(out, BLKIF_RESPONSE_SIZE);
  v.setBigUint64(BLKIF_RESPONSE_ID, r.id, true);
  v.setUint8(BLKIF_RESPONSE_OPERATION, r.operation);
  v.setInt16(BLKIF_RESPONSE_STATUS, r.status, true);
}
