// Fuzz target: grant tables v1 (xen-sim/grant-table) under a hostile granter, and shared rings
// over several granted pages (xen-sim/ring, ring-page-order 0..3). Guest 1 grants pages of its
// memory to dom0 and domain 2, and also writes raw grant_entry_v1 bytes into its own table (any
// flags, domid, frame), frees and re-allocates its pages; dom0 and domain 2 map, unmap and copy
// (GNTTABOP_copy by ref, packed copy ops); a ring op grants 1, 2, 4 or 8 pages, dom0 maps them and
// the two halves of a ring with 12-, 40-, 64- or 112-byte slots (112 crosses page ends) exchange
// requests and responses, with a hostile req_prod at the end.
// Input: a sequence of ops, one byte [op] and the bytes it reads (see `step`).
// Oracles (a shadow model of Xen's rules, kept from the raw table bytes and the ops that
// succeeded): every map, copy, end-access and free-page succeeds exactly when the model says so,
// and a failure reaches the refusal sink; a mapping is the granter's very page for the entry's
// frame at the first pin; copies move exactly the bytes asked for; GTF_reading/GTF_writing are
// set while the model holds pins and cleared once it holds none (unless the granter wrote that
// entry itself meanwhile); a page that is mapped is never freed; a ring's backend reads exactly
// the requests the frontend queued, in order, across page ends, and its frontend the responses;
// a req_prod more than a ring's worth ahead is refused as an ill-behaved peer. Nothing throws.
import { createGrantSystem } from "../../../xen-sim/grant-table/grant-table.ts";
import { createDomainMemory } from "../../../xen-sim/memory/memory.ts";
import type { DomainMemoryInternal, Frame } from "../../../xen-sim/memory/types.ts";
import type { DomainGrants, GrantMapping } from "../../../xen-sim/grant-table/types.ts";
import {
  GNTCOPY_dest_gref,
  GNTCOPY_source_gref,
  GNTST,
  GNTTAB_COPY_DEST_DOMID,
  GNTTAB_COPY_DEST_OFFSET,
  GNTTAB_COPY_DEST_U,
  GNTTAB_COPY_FLAGS,
  GNTTAB_COPY_LEN,
  GNTTAB_COPY_SIZE,
  GNTTAB_COPY_SOURCE_DOMID,
  GNTTAB_COPY_SOURCE_OFFSET,
  GNTTAB_COPY_SOURCE_U,
  GNTTAB_COPY_STATUS,
  GNTTAB_NR_RESERVED_ENTRIES,
  GRANT_ENTRIES_PER_PAGE,
  GTF_permit_access,
  GTF_readonly,
  GTF_reading,
  GTF_type_mask,
  GTF_writing,
} from "../../../xen-sim/abi/grant-table.ts";
import { DOMID_SELF, PAGE_SIZE } from "../../../xen-sim/abi/xen.ts";
import { createBackRing, createFrontRing, initSharedRing } from "../../../xen-sim/ring/ring.ts";
import { fail } from "../oracles.ts";

const GUEST = 1;
/** Grantees: dom0 and another guest. */
const GRANTEES = [0, 2] as const;
const DATA_PAGES = 8;
const RING_PAGES = 8;
const SLOT_SIZES = [12, 40, 64, 112] as const;
const CAPACITY = GRANT_ENTRIES_PER_PAGE;

interface Active {
  grantee: number;
  frame: Frame;
  page: Uint8Array;
  r: number;
  w: number;
}
interface Held {
  handle: number;
  ref: number;
  readonly: boolean;
  grantee: number;
  mapping: GrantMapping;
}

/** The world of one input: three domains with one grant table page each, the guest's pages, the model. */
interface World {
  readonly mem: Map<number, DomainMemoryInternal>;
  readonly grants: Map<number, DomainGrants>;
  readonly table: { u16: Uint16Array; u32: Uint32Array };
  readonly data: Frame[];
  readonly ringFrames: Frame[];
  /** The guest frame that holds its grant table (never named by a raw entry: a copy into it would rewrite the entries under the model). */
  readonly tableFrame: Frame;
  readonly refused: string[];
  /** The model: active entries of the guest's table, mappings held, refs granted by grantAccess. */
  readonly active: Map<number, Active>;
  readonly held: Held[];
  readonly allocated: Set<number>;
  /**
   * Refs whose GTF_reading/GTF_writing bits are the guest's doing: it wrote them itself, or wrote
   * the entry while it had pins. Cleared when the guest writes the entry again without them and no
   * pins, or ends access.
   */
  readonly tainted: Set<number>;
  readonly input: Uint8Array;
}

function build(input: Uint8Array): World {
  const refused: string[] = [];
  const refuse = (r: { domid: number; op: string; status: string }): void => {
    refused.push(`${r.domid}:${r.op}:${r.status}`);
  };
  const sys = createGrantSystem({ refuse }, { grantFrames: 1 });
  const mem = new Map<number, DomainMemoryInternal>();
  const grants = new Map<number, DomainGrants>();
  for (const domid of [0, GUEST, 2]) {
    const m = createDomainMemory({ domid, onRefused: (frame, status) => refuse({ domid, op: "page", status: `${status}@${frame}` }) }, { maxPages: 40 });
    mem.set(domid, m);
    const added = sys.addDomain(m);
    if (!added.ok) throw new Error("grant-table: no room for a table");
    grants.set(domid, sys.forDomain(domid));
  }
  const gm = mem.get(GUEST)!;
  const tableFrame = grants.get(GUEST)!.tableFrames[0]!;
  const tablePage = gm.lookup(tableFrame)!;
  const alloc = (): Frame => {
    const f = gm.allocPage();
    if (!f.ok) throw new Error("grant-table: guest out of memory");
    return f.value;
  };
  const data = Array.from({ length: DATA_PAGES }, alloc);
  data.forEach((f) => fillPattern(gm.lookup(f)!, f));
  const ringFrames = Array.from({ length: RING_PAGES }, alloc);
  return {
    mem,
    grants,
    refused,
    data,
    ringFrames,
    tableFrame,
    input,
    table: {
      u16: new Uint16Array(tablePage.buffer, tablePage.byteOffset, PAGE_SIZE / 2),
      u32: new Uint32Array(tablePage.buffer, tablePage.byteOffset, PAGE_SIZE / 4),
    },
    active: new Map(),
    held: [],
    allocated: new Set(),
    tainted: new Set(),
  };
}

/** Page contents by frame (built once: byte loops here would be instrumented per byte). */
const PATTERNS = Array.from({ length: 64 }, (_, frame) => {
  const p = new Uint8Array(PAGE_SIZE);
  for (let i = 0; i < PAGE_SIZE; i += 2) {
    p[i] = frame;
    p[i + 1] = (i >> 1) & 0xff;
  }
  return p;
});
/** What ring pages hold before the ring is initialised (never a valid request). */
const STALE_PAGE = new Uint8Array(PAGE_SIZE).fill(0xee);
/** What a grantee copies from or into a grant, per grantee. */
const LOCAL = GRANTEES.map((grantee) => Uint8Array.from({ length: PAGE_SIZE }, (_, i) => (i * 31 + grantee) & 0xff));

function fillPattern(page: Uint8Array, frame: Frame): void {
  page.set(PATTERNS[frame & 63]!);
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && Buffer.compare(a, b) === 0;
}

/** An input reader: bytes in order, zeros past the end. */
class Reader {
  at = 0;
  constructor(readonly b: Uint8Array) {}
  get done(): boolean {
    return this.at >= this.b.length;
  }
  u8(): number {
    return this.b[this.at++] ?? 0;
  }
  u16(): number {
    return this.u8() | (this.u8() << 8);
  }
  u32(): number {
    return (this.u16() | (this.u16() << 16)) >>> 0;
  }
}

/** A ref from one byte: mostly the guest's low refs (reserved 0..7 and 8..23), else anywhere, or outside the table. */
function pickRef(r: Reader): number {
  const b = r.u8();
  if (b < 0xe0) return b % 24;
  if (b < 0xf8) return r.u16();
  return CAPACITY + (b & 7);
}

function entryOf(w: World, ref: number): { flags: number; domid: number; frame: number } {
  return { flags: Atomics.load(w.table.u16, ref * 4), domid: Atomics.load(w.table.u16, ref * 4 + 1), frame: Atomics.load(w.table.u32, ref * 2 + 1) };
}

function expectOutcome(w: World, what: string, ok: boolean, predicted: string | true, refusedBefore: number): void {
  if (ok !== (predicted === true)) {
    fail("model", `${what}: ${ok ? "succeeded" : "failed"}, the model says ${predicted === true ? "it succeeds" : `it fails (${predicted})`}`, w.input);
  }
  if (!ok && w.refused.length === refusedBefore && !what.startsWith("end-access"))
    fail("refusal", `${what}: refused without a report to the refusal sink`, w.input);
}

/** Flag bits of `ref` must say what the model's pins say (unless the guest wrote the entry itself). */
function checkFlags(w: World, ref: number, what: string): void {
  if (ref < 0 || ref >= CAPACITY || w.tainted.has(ref)) return;
  const flags = entryOf(w, ref).flags;
  const a = w.active.get(ref);
  const reading = a !== undefined,
    writing = a !== undefined && a.w > 0;
  if (((flags & GTF_reading) !== 0) !== reading || ((flags & GTF_writing) !== 0) !== writing) {
    fail(
      "flags",
      `${what}: ref ${ref} flags 0x${flags.toString(16)} while the model holds ${a === undefined ? "no pin" : `${a.r} read / ${a.w} write pins`}`,
      w.input,
    );
  }
}

/**
 * The model's verdict on pinning `ref` for `grantee` (Xen _set_status_v1 and the active entry):
 * true, or why it is refused. Also the frame the pin would reach.
 */
function predictPin(w: World, ref: number, grantee: number, readonly: boolean): { verdict: string | true; frame?: Frame } {
  if (!Number.isInteger(ref) || ref < 0 || ref >= CAPACITY) return { verdict: "bad_gntref" };
  const a = w.active.get(ref);
  if (a !== undefined && a.grantee !== grantee) return { verdict: "wrong-domid" };
  const e = entryOf(w, ref);
  if (a === undefined || (!readonly && a.w === 0)) {
    if (a === undefined) {
      if ((e.flags & GTF_type_mask) !== GTF_permit_access) return { verdict: "not-granted" };
      if (e.domid !== grantee) return { verdict: "wrong-domid" };
    }
    if (!readonly && (e.flags & GTF_readonly) !== 0) return { verdict: "readonly" };
  }
  if (a !== undefined) return { verdict: true, frame: a.frame };
  return w.mem.get(GUEST)!.lookup(e.frame) === undefined ? { verdict: "bad_page" } : { verdict: true, frame: e.frame };
}

function pinModel(w: World, ref: number, grantee: number, frame: Frame, readonly: boolean): void {
  let a = w.active.get(ref);
  if (a === undefined) {
    a = { grantee, frame, page: w.mem.get(GUEST)!.lookup(frame)!, r: 0, w: 0 };
    w.active.set(ref, a);
  }
  if (readonly) a.r++;
  else a.w++;
}

function unpinModel(w: World, ref: number, readonly: boolean): void {
  const a = w.active.get(ref)!;
  if (readonly) a.r--;
  else a.w--;
  if (a.r + a.w === 0) w.active.delete(ref);
}

function opRaw(w: World, r: Reader): void {
  const ref = pickRef(r) % CAPACITY;
  const flags = r.u16(),
    domid = r.u8() % 4,
    frameByte = r.u8();
  let frame = frameByte < 0xf0 ? frameByte % 24 : r.u32();
  if (frame === w.tableFrame) frame++;
  // The guest writes its own table: domid and frame, then flags, as a granter does (or not).
  w.table.u16[ref * 4 + 1] = domid;
  w.table.u32[ref * 2 + 1] = frame;
  Atomics.store(w.table.u16, ref * 4, flags);
  guestWrote(w, ref, flags);
}

/**
 * The guest wrote `ref`'s flags (raw, or through grantAccess): bits it wrote itself, or a write
 * over pins (which wipes the GTF_reading/GTF_writing the hypervisor set, as in Xen, which only
 * clears them when the pins go), make the flags its own doing; a clean write with no pins does not.
 */
function guestWrote(w: World, ref: number, flags: number): void {
  if (w.active.has(ref) || (flags & (GTF_reading | GTF_writing)) !== 0) w.tainted.add(ref);
  else w.tainted.delete(ref);
}

function opGrant(w: World, r: Reader): void {
  const grantee = GRANTEES[r.u8() & 1]!,
    frame = w.data[r.u8() % DATA_PAGES]!,
    readonly = (r.u8() & 1) === 1;
  const g = w.grants.get(GUEST)!.grantAccess(grantee, frame, readonly);
  if (!g.ok) return;
  const e = entryOf(w, g.value);
  if (g.value < GNTTAB_NR_RESERVED_ENTRIES || e.flags !== (GTF_permit_access | (readonly ? GTF_readonly : 0)) || e.domid !== grantee || e.frame !== frame) {
    fail("model", `grantAccess gave ref ${g.value} with entry ${JSON.stringify(e)} for ${grantee}/${frame}/${readonly}`, w.input);
  }
  w.allocated.add(g.value);
  // The allocator knows only its own refs: it may hand out one the guest wrote raw and a grantee still pins.
  guestWrote(w, g.value, e.flags);
}

function opMap(w: World, r: Reader): void {
  const grantee = GRANTEES[r.u8() & 1]!,
    ref = pickRef(r),
    readonly = (r.u8() & 1) === 1;
  const p = predictPin(w, ref, grantee, readonly);
  const before = w.refused.length;
  const m = w.grants.get(grantee)!.map(GUEST, ref, { readonly });
  expectOutcome(w, `map of ref ${ref} by ${grantee}${readonly ? " (readonly)" : ""}`, m.ok, p.verdict, before);
  if (!m.ok) return;
  if (m.value.page !== w.mem.get(GUEST)!.lookup(p.frame!)) fail("model", `map of ref ${ref} gave a page that is not the guest's frame ${p.frame!}`, w.input);
  pinModel(w, ref, grantee, p.frame!, readonly);
  w.held.push({ handle: m.value.handle, ref, readonly, grantee, mapping: m.value });
  // A write through a writable mapping is the guest's page; a readonly one is not written.
  if (!readonly) {
    const at = (r.u8() * 16) % PAGE_SIZE,
      v = r.u8();
    m.value.page[at] = v;
    if (w.active.get(ref)!.page[at] !== v) fail("model", "a write through a mapping did not reach the granted page", w.input);
  }
  checkFlags(w, ref, "map");
}

function opUnmap(w: World, r: Reader): void {
  const pick = r.u8();
  const h = pick < 0xf0 && w.held.length > 0 ? w.held[pick % w.held.length] : undefined;
  const grantee = h?.grantee ?? GRANTEES[pick & 1]!;
  const handle = h?.handle ?? pick * 7 + 1000;
  const before = w.refused.length;
  const u = w.grants.get(grantee)!.unmap(handle);
  expectOutcome(w, `unmap of handle ${handle} by ${grantee}`, u.ok, h !== undefined ? true : "bad_handle", before);
  if (!u.ok || h === undefined) return;
  w.held.splice(w.held.indexOf(h), 1);
  unpinModel(w, h.ref, h.readonly);
  checkFlags(w, h.ref, "unmap");
}

/** The model's verdict on a grant copy by `grantee` of `ref` (acquire_grant_for_copy). */
function predictCopy(
  w: World,
  grantee: number,
  ref: number,
  offset: number,
  len: number,
  localOffset: number,
  readonly: boolean,
): { verdict: string | true; frame?: Frame } {
  if (!(offset + len <= PAGE_SIZE && localOffset + len <= PAGE_SIZE)) return { verdict: "bad_copy_arg" };
  return predictPin(w, ref, grantee, readonly);
}

function opCopy(w: World, r: Reader, toGrant: boolean): void {
  const grantee = GRANTEES[r.u8() & 1]!,
    ref = pickRef(r);
  const offset = r.u16() % 4400,
    len = r.u16() % 4400,
    localOffset = r.u8() * 17;
  const flagsBefore = ref >= 0 && ref < CAPACITY ? entryOf(w, ref).flags : 0;
  const p = predictCopy(w, grantee, ref, offset, len, localOffset, !toGrant);
  const before = w.refused.length;
  const local = LOCAL[grantee === 0 ? 0 : 1]!.slice();
  const g = w.grants.get(grantee)!;
  const pageBefore = p.frame === undefined ? undefined : w.mem.get(GUEST)!.lookup(p.frame)!.slice();
  const res = toGrant ? g.copyToGrant(local, localOffset, len, GUEST, ref, offset) : g.copyFromGrant(GUEST, ref, offset, len, local, localOffset);
  expectOutcome(w, `copy ${toGrant ? "to" : "from"} ref ${ref} by ${grantee} (${offset}+${len})`, res.ok, p.verdict, before);
  if (res.ok) {
    const page = w.mem.get(GUEST)!.lookup(p.frame!)!;
    if (toGrant) {
      const want = pageBefore!;
      want.set(local.subarray(localOffset, localOffset + len), offset);
      if (!sameBytes(page, want)) fail("copy", `copy to ref ${ref}: the page is not its old bytes with ${len} bytes at ${offset} from the source`, w.input);
    } else if (!sameBytes(local.subarray(localOffset, localOffset + len), page.subarray(offset, offset + len))) {
      fail("copy", `copy from ref ${ref}: the bytes copied differ from the page's`, w.input);
    }
  }
  // A copy's claim is released: no bit it set survives (bits the guest wrote itself are its own).
  if (ref >= 0 && ref < CAPACITY && (flagsBefore & (GTF_reading | GTF_writing)) === 0) checkFlags(w, ref, "copy");
}

function opCopyOps(w: World, r: Reader): void {
  const grantee = GRANTEES[r.u8() & 1]!;
  const n = 1 + (r.u8() % 3);
  const ops = new Uint8Array(n * GNTTAB_COPY_SIZE);
  const v = new DataView(ops.buffer);
  const domidOf = (b: number): number => (b < 0xc0 ? [0, GUEST, 2, DOMID_SELF][b & 3]! : b * 257);
  for (let i = 0; i < n; i++) {
    const o = i * GNTTAB_COPY_SIZE;
    const flags = r.u8() & 3;
    v.setUint32(o + GNTTAB_COPY_SOURCE_U, flags & GNTCOPY_source_gref ? pickRef(r) : r.u8() % 30, true);
    v.setUint16(o + GNTTAB_COPY_SOURCE_DOMID, domidOf(r.u8()), true);
    v.setUint16(o + GNTTAB_COPY_SOURCE_OFFSET, r.u16() % 4400, true);
    v.setUint32(o + GNTTAB_COPY_DEST_U, flags & GNTCOPY_dest_gref ? pickRef(r) : r.u8() % 30, true);
    v.setUint16(o + GNTTAB_COPY_DEST_DOMID, domidOf(r.u8()), true);
    v.setUint16(o + GNTTAB_COPY_DEST_OFFSET, r.u16() % 4400, true);
    v.setUint16(o + GNTTAB_COPY_LEN, r.u16() % 4400, true);
    v.setUint16(o + GNTTAB_COPY_FLAGS, flags, true);
  }
  const quiet = new Set<number>();
  for (let ref = 0; ref < 24; ref++) if ((entryOf(w, ref).flags & (GTF_reading | GTF_writing)) === 0) quiet.add(ref);
  const failed = w.grants.get(grantee)!.copyOps(ops, n);
  const statuses = Array.from({ length: n }, (_, i) => v.getInt16(i * GNTTAB_COPY_SIZE + GNTTAB_COPY_STATUS, true));
  const known = new Set<number>(Object.values(GNTST));
  if (statuses.some((s) => !known.has(s)) || statuses.filter((s) => s !== 0).length !== failed) {
    fail("copy", `copy ops: statuses ${statuses.join(",")} with ${failed} reported failed`, w.input);
  }
  // No claim outlives its op.
  for (const ref of quiet) checkFlags(w, ref, "copy ops");
}

function opEndAccess(w: World, r: Reader): void {
  const ref = pickRef(r);
  const inTable = ref >= 0 && ref < CAPACITY;
  const flags = inTable ? entryOf(w, ref).flags : 0;
  const predicted: string | true =
    !inTable || (ref >= GNTTAB_NR_RESERVED_ENTRIES && !w.allocated.has(ref)) ? "bad-ref" : (flags & (GTF_reading | GTF_writing)) !== 0 ? "busy" : true;
  const res = w.grants.get(GUEST)!.endAccess(ref);
  expectOutcome(w, `end-access of ref ${ref}`, res.ok, predicted, 0);
  if (!res.ok) return;
  if (entryOf(w, ref).flags !== 0) fail("model", `end-access of ref ${ref} left flags 0x${entryOf(w, ref).flags.toString(16)}`, w.input);
  w.allocated.delete(ref);
  if (!w.active.has(ref)) w.tainted.delete(ref);
}

function opFreePage(w: World, r: Reader): void {
  const k = r.u8() % DATA_PAGES;
  const frame = w.data[k]!;
  const gm = w.mem.get(GUEST)!;
  if (gm.lookup(frame) === undefined) {
    // Freed before: allocate it again (the last freed frame comes back first).
    const f = gm.allocPage();
    if (!f.ok) fail("model", "the guest could not allocate a page again", w.input);
    w.data[k] = f.value;
    fillPattern(gm.lookup(f.value)!, f.value);
    return;
  }
  const pinned = [...w.active.values()].some((a) => a.frame === frame);
  const before = w.refused.length;
  const res = gm.freePage(frame);
  expectOutcome(w, `free of frame ${frame}${pinned ? " (mapped)" : ""}`, res.ok, pinned ? "page-in-use" : true, before);
}

/** A ring over 1..8 granted pages: frontend on the guest's pages, backend on dom0's mappings. */
function opRing(w: World, r: Reader): void {
  const order = r.u8() % 4,
    pages = 1 << order;
  const slotSize = SLOT_SIZES[r.u8() % SLOT_SIZES.length]!;
  const gm = w.mem.get(GUEST)!,
    gg = w.grants.get(GUEST)!,
    dom0 = w.grants.get(0)!;
  const frames = w.ringFrames.slice(0, pages);
  const guestPages = frames.map((f) => gm.lookup(f)!);
  guestPages.forEach((p) => p.set(STALE_PAGE));
  initSharedRing(guestPages[0]!);
  const refs: number[] = [];
  for (const f of frames) {
    const g = gg.grantAccess(0, f);
    if (!g.ok) return;
    refs.push(g.value);
    w.allocated.add(g.value);
    guestWrote(w, g.value, GTF_permit_access);
  }
  const end = (ref: number): void => {
    if (gg.endAccess(ref).ok) {
      w.allocated.delete(ref);
      if (!w.active.has(ref)) w.tainted.delete(ref);
    }
  };
  // A ref the guest ended (or wrote raw) while another domain still maps it comes back from
  // grantAccess still active: dom0's map is refused then (the model says so), or, for dom0's own
  // mapping, stacks on its active entry (the old frame, not the ring page, and pins the ring's
  // unmaps do not drop); the ring is not built.
  if (refs.some((ref) => w.active.has(ref) || predictPin(w, ref, 0, false).verdict !== true)) {
    for (const ref of refs) if (!w.active.has(ref)) end(ref);
    return;
  }
  const maps: GrantMapping[] = [];
  for (const ref of refs) {
    const m = dom0.map(GUEST, ref);
    if (!m.ok) fail("ring", `dom0 could not map ring ref ${ref}: ${m.error}`, w.input);
    maps.push(m.value);
  }
  const front = createFrontRing(guestPages, { slotSize });
  const back = createBackRing(
    maps.map((m) => m.page),
    { slotSize },
  );
  const count = r.u8() % (front.size + 2);
  const sent: Uint8Array[] = [];
  for (let i = 0; i < count; i++) {
    // Distinct requests, one input byte each (a byte per slot byte would drown the other ops).
    const req = new Uint8Array(slotSize).fill((i * 13) & 0xff);
    req[0] = r.u8();
    new DataView(req.buffer).setUint32(slotSize - 4, i, true);
    if (!front.queueRequest(req).ok) break;
    sent.push(req);
  }
  front.pushRequests();
  const hostile = r.u8();
  let reqProd = sent.length;
  if (hostile >= 0xc0) {
    // The frontend (the guest) publishes any req_prod it likes.
    reqProd = hostile >= 0xf0 ? r.u32() : (sent.length + ((hostile & 0x3f) << (hostile & 1 ? 2 : 6))) >>> 0;
    Atomics.store(new Uint32Array(guestPages[0]!.buffer, guestPages[0]!.byteOffset, 1), 0, reqProd);
  }
  const overflow = (reqProd - 0) >>> 0 > back.size;
  const out = new Uint8Array(slotSize);
  const got: Uint8Array[] = [];
  for (;;) {
    const t = back.takeRequest(out);
    if (!t.ok) {
      if (t.error === "ill-behaved-peer") {
        if (!overflow) fail("ring", `backend refused a req_prod of ${reqProd} on a ${back.size}-slot ring`, w.input);
        break;
      }
      if (overflow) fail("ring", `req_prod ${reqProd} on a ${back.size}-slot ring was not refused`, w.input);
      break;
    }
    got.push(t.value.slice());
    if (got.length > back.size) fail("ring", "backend took more requests than the ring holds", w.input);
  }
  if (!overflow) {
    const expected = reqProd >>> 0;
    if (got.length !== expected) fail("ring", `backend took ${got.length} requests, req_prod says ${expected}`, w.input);
    for (let i = 0; i < Math.min(got.length, sent.length); i++) {
      if (!sameBytes(got[i]!, sent[i]!)) fail("ring", `request ${i} differs on the backend (${pages} pages, ${slotSize}-byte slots)`, w.input);
    }
    // Responses back, each the request reversed.
    const answered = Math.min(got.length, sent.length);
    for (let i = 0; i < answered; i++) back.queueResponse(got[i]!.slice().reverse());
    back.pushResponses();
    const rsp = new Uint8Array(slotSize);
    for (let i = 0; i < answered; i++) {
      const t = front.takeResponse(rsp);
      if (!t.ok) fail("ring", `frontend could not take response ${i}: ${t.error}`, w.input);
      if (!sameBytes(rsp.slice().reverse(), sent[i]!)) fail("ring", `response ${i} differs on the frontend`, w.input);
    }
  }
  for (const m of maps) if (!dom0.unmap(m.handle).ok) fail("ring", "dom0 could not unmap a ring page", w.input);
  for (const ref of refs) {
    if (!gg.endAccess(ref).ok) fail("ring", `ring ref ${ref} stays busy after dom0 unmapped it`, w.input);
    w.allocated.delete(ref);
  }
}

const OPS = [
  opRaw,
  opGrant,
  opMap,
  opUnmap,
  (w: World, r: Reader) => opCopy(w, r, false),
  (w: World, r: Reader) => opCopy(w, r, true),
  opCopyOps,
  opEndAccess,
  opFreePage,
  opRing,
];

export function fuzz(data: Buffer): void {
  const input = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  const w = build(input);
  const r = new Reader(input);
  for (let n = 0; n < 64 && !r.done; n++) OPS[r.u8() % OPS.length]!(w, r);
  // Everything mapped is unmapped; then no entry keeps a claim and every mapped page is free to go.
  for (const h of [...w.held]) {
    if (!w.grants.get(h.grantee)!.unmap(h.handle).ok) fail("model", `final unmap of handle ${h.handle} failed`, input);
    unpinModel(w, h.ref, h.readonly);
  }
  for (let ref = 0; ref < 24; ref++) checkFlags(w, ref, "after every unmap");
  for (const g of w.grants.values()) if (g.mappingCount !== 0) fail("model", `${g.mappingCount} mappings left after every unmap`, input);
}

/** Seeds: grant, map, copy both ways, unmap and end access; raw entries; rings of 1..8 pages. */
export function seeds(): Uint8Array[] {
  const grantMapCopy = [
    1,
    0,
    2,
    0, // grant data page 2 to dom0 (ref 8 on a fresh table)
    2,
    0,
    8,
    0,
    40,
    7, // map it writable, write a byte
    4,
    0,
    8,
    16,
    0,
    32,
    0,
    0, // copy 32 bytes from offset 16
    5,
    1,
    8,
    0,
    0,
    8,
    0,
    3, // domain 2 copies to it (wrong domid)
    7,
    8, // end access while mapped: busy
    3,
    0, // unmap
    7,
    8, // end access
  ];
  const raw = [
    0,
    9,
    1,
    0,
    2,
    3, // ref 9: permit_access, domid 2, frame 3
    2,
    1,
    9,
    1, // domain 2 maps it readonly
    0,
    9,
    0,
    0,
    2,
    3, // the guest clears the flags under the mapping
    8,
    3, // frees the mapped frame: refused
    3,
    0,
    7,
    9,
    8,
    3,
    8,
    3,
  ];
  const readonlyGrant = [1, 1, 4, 1, 2, 1, 8, 0, 9, 9, 2, 1, 8, 1, 6, 1, 3, 1, 8, 1, 0, 0, 0, 0, 0, 16, 0];
  const rings = [0, 1, 2, 3].map((order) => [9, order, 3, 5, 1, 2, 3, 4, 5, 0, 9, order, 2, 200, 0xc1]);
  return [grantMapCopy, raw, readonlyGrant, ...rings, [9, 3, 3, 0xff, 0xf1, 0xff, 0xff, 0, 0]].map((a) => Uint8Array.from(a));
}
