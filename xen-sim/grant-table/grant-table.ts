// Grant tables v1 (xen/grant_table.h; Xen common/grant_table.c; Linux drivers/xen/grant-table.c).
// Each domain's table is real grant_entry_v1 bytes in pages of its own memory. The granter writes
// entries (domid, frame, then flags); the hypervisor validates them on map and copy, sets
// GTF_reading/GTF_writing with a compare-and-swap on the combined flags|domid word, and clears
// them when the last pin goes. Every refused access reaches the RefusalSink.
// createGrantSystem: per-hypervisor registry of tables; forDomain() gives a domain its DomainGrants.

import { err, ok, type Result } from "../../stack/result.ts";
import {
  GNTCOPY_dest_gref,
  GNTCOPY_source_gref,
  GNTST,
  GNTTAB_COPY_SIZE,
  GNTTAB_COPY_STATUS,
  GNTTAB_NR_RESERVED_ENTRIES,
  GRANT_ENTRIES_PER_PAGE,
  GTF_permit_access,
  GTF_readonly,
  GTF_reading,
  GTF_type_mask,
  GTF_writing,
  parseGnttabCopy,
  type GnttabCopyRepr,
  type GntStatusName,
} from "../abi/grant-table.ts";
import { DOMID_SELF, PAGE_SIZE, type DomainId } from "../abi/xen.ts";
import type { DomainMemoryInternal, Frame, RefusalSink } from "../memory/types.ts";
import type { DomainGrants, GrantEntry, GrantMapping, GrantRef, GrantTableOptions } from "./types.ts";
import { NetlabError } from "../../stack/error.ts";

/** Default grant table frames per domain. */
export const DEFAULT_GRANT_FRAMES = 32;
/** Default maptrack size per domain. */
export const DEFAULT_MAX_MAPPINGS = 16384;
/** Xen gives up a grant status update after this many lost races ("Shared grant entry is unstable"). */
const SET_STATUS_RETRIES = 4;
/** Bound on the granter's end-access CAS loop against a hostile concurrent writer. */
const END_ACCESS_RETRIES = 64;

interface Active {
  grantee: DomainId;
  frame: Frame;
  page: Uint8Array;
  readPins: number;
  writePins: number;
}

interface Table {
  domid: DomainId;
  memory: DomainMemoryInternal;
  frames: Frame[];
  /** Per table frame: u16 view (flags at entry*4), u32 view (flags|domid<<16 at entry*2, frame at entry*2+1). */
  u16: Uint16Array[];
  u32: Uint32Array[];
  freeRefs: GrantRef[];
  allocated: Uint8Array;
  active: Map<GrantRef, Active>;
  maptrack: Map<number, Mapping>;
  nextHandle: number;
}

interface Mapping extends GrantMapping {
  readonly granterTable: Table;
}

/** The grant machinery of one hypervisor. */
export interface GrantSystem {
  /** Builds a domain's table in `grantFrames` freshly allocated pages of its memory. */
  addDomain(memory: DomainMemoryInternal): Result<void, "out-of-memory">;
  /** Drops a domain: releases the mappings it holds; mappings of its pages by others stay valid until unmapped. */
  removeDomain(domid: DomainId): void;
  /** The grant operations of a domain (throws ERR_NETLAB_NO_DOMAIN for an unknown domain). */
  forDomain(domid: DomainId): DomainGrants;
}

/** Creates the grant table system. */
export function createGrantSystem(deps: { refuse: RefusalSink }, options: GrantTableOptions = {}): GrantSystem {
  const grantFrames = options.grantFrames ?? DEFAULT_GRANT_FRAMES;
  const maxMappings = options.maxMappings ?? DEFAULT_MAX_MAPPINGS;
  const tables = new Map<DomainId, Table>();
  const apis = new Map<DomainId, DomainGrants>();

  const fail = <T>(domid: DomainId, op: string, status: GntStatusName, detail?: string): Result<T, GntStatusName> => {
    deps.refuse(detail === undefined ? { domid, op, status } : { domid, op, status, detail });
    return err(status, detail);
  };

  const locate = (t: Table, ref: GrantRef): { u16: Uint16Array; u32: Uint32Array; e: number } | undefined => {
    if (!Number.isInteger(ref) || ref < 0 || ref >= t.frames.length * GRANT_ENTRIES_PER_PAGE) return undefined;
    const f = Math.floor(ref / GRANT_ENTRIES_PER_PAGE);
    return { u16: t.u16[f]!, u32: t.u32[f]!, e: ref % GRANT_ENTRIES_PER_PAGE };
  };

  /** Xen _set_status_v1 + active entry pin: validates the entry and takes one pin for `grantee`. */
  const pin = (t: Table, ref: GrantRef, grantee: DomainId, readonly: boolean): Result<Active, GntStatusName> => {
    const loc = locate(t, ref);
    if (loc === undefined) return err("bad_gntref");
    let act = t.active.get(ref);
    if (act !== undefined && act.grantee !== grantee) return err("general_error", "wrong-domid");
    if (act === undefined || (!readonly && act.writePins === 0)) {
      const w = loc.e * 2;
      for (let retries = 0; ; retries++) {
        const word = Atomics.load(loc.u32, w);
        const flags = word & 0xffff;
        const domid = word >>> 16;
        // Xen checks type and domid only on the first pin; later pins inherit the active entry's.
        if (act === undefined) {
          if ((flags & GTF_type_mask) !== GTF_permit_access) return err("general_error", "not-granted");
          if (domid !== grantee) return err("general_error", "wrong-domid");
        }
        let next = flags | GTF_reading;
        if (!readonly) {
          if (flags & GTF_readonly) return err("general_error", "readonly");
          next |= GTF_writing;
        }
        // CAS on flags|domid together so the granter cannot swap the domid under us.
        const want = ((domid << 16) | next) >>> 0;
        if (Atomics.compareExchange(loc.u32, w, word, want) === word) break;
        if (retries === SET_STATUS_RETRIES) return err("general_error", "unstable");
      }
    }
    if (act === undefined) {
      const frame = Atomics.load(loc.u32, loc.e * 2 + 1);
      const page = t.memory.lookup(frame);
      if (page === undefined) {
        Atomics.and(loc.u16, loc.e * 4, ~(GTF_reading | (readonly ? 0 : GTF_writing)) & 0xffff);
        return err("bad_page");
      }
      act = { grantee, frame, page, readPins: 0, writePins: 0 };
      t.active.set(ref, act);
      t.memory.pin(frame);
    }
    if (readonly) act.readPins++;
    else act.writePins++;
    return ok(act);
  };

  const unpin = (t: Table, ref: GrantRef, readonly: boolean): void => {
    const act = t.active.get(ref);
    const loc = locate(t, ref);
    if (act === undefined || loc === undefined) return;
    if (readonly) act.readPins--;
    else act.writePins--;
    let clear = 0;
    if (!readonly && act.writePins === 0) clear |= GTF_writing;
    if (act.readPins + act.writePins === 0) {
      clear |= GTF_reading;
      t.active.delete(ref);
      t.memory.unpin(act.frame);
    }
    if (clear !== 0) Atomics.and(loc.u16, loc.e * 4, ~clear & 0xffff);
  };

  const makeApi = (self: Table): DomainGrants => {
    const me = self.domid;
    const resolve = (domid: DomainId): DomainId => (domid === DOMID_SELF ? me : domid);

    const writeEntry = (ref: GrantRef, grantee: DomainId, frame: Frame, readonly: boolean): void => {
      const loc = locate(self, ref)!;
      loc.u16[loc.e * 4 + 1] = grantee & 0xffff;
      loc.u32[loc.e * 2 + 1] = frame >>> 0;
      // Write barrier: the hypervisor must see domid and frame before flags make the entry valid.
      Atomics.store(loc.u16, loc.e * 4, GTF_permit_access | (readonly ? GTF_readonly : 0));
    };

    /** Claims one side of a copy: pins a grant (released by the caller) or resolves one of the caller's own frames. */
    const claim = (u: number, table: Table, isGref: boolean, readonly: boolean): Result<Uint8Array, GntStatusName> => {
      if (isGref) {
        const r = pin(table, u, me, readonly);
        return r.ok ? ok(r.value.page) : r;
      }
      const page = table.memory.lookup(u);
      return page === undefined ? err("bad_page") : ok(page);
    };

    /**
     * Claims `granter`'s `ref` for one synchronous copy by this domain: the page, with GTF_reading
     * (and GTF_writing) held. Without an active entry (no mapping) the flags are set and cleared
     * around the copy with no bookkeeping, as Xen's acquire/release_grant_for_copy do for an
     * unmapped grant; with one, the ordinary pin is taken. `release` undoes exactly that.
     */
    const claimForCopy = (t: Table, ref: GrantRef, readonly: boolean): Result<Uint8Array, GntStatusName> => {
      if (t.active.has(ref) || !Number.isInteger(ref) || ref < 0 || ref >= t.frames.length * GRANT_ENTRIES_PER_PAGE) {
        const r = pin(t, ref, me, readonly);
        return r.ok ? ok(r.value.page) : r;
      }
      const u32 = t.u32[Math.floor(ref / GRANT_ENTRIES_PER_PAGE)]!;
      const w = (ref % GRANT_ENTRIES_PER_PAGE) * 2;
      const take = readonly ? GTF_reading : GTF_reading | GTF_writing;
      for (let retries = 0; ; retries++) {
        const word = Atomics.load(u32, w);
        const flags = word & 0xffff;
        if ((flags & GTF_type_mask) !== GTF_permit_access) return err("general_error", "not-granted");
        if (word >>> 16 !== me) return err("general_error", "wrong-domid");
        if (!readonly && (flags & GTF_readonly) !== 0) return err("general_error", "readonly");
        if (Atomics.compareExchange(u32, w, word, (word | take) >>> 0) === word) break;
        if (retries === SET_STATUS_RETRIES) return err("general_error", "unstable");
      }
      const page = t.memory.lookup(Atomics.load(u32, w + 1));
      if (page === undefined) {
        Atomics.and(u32, w, ~take >>> 0);
        return err("bad_page");
      }
      return ok(page);
    };
    const releaseForCopy = (t: Table, ref: GrantRef, readonly: boolean): void => {
      if (t.active.has(ref)) {
        unpin(t, ref, readonly);
        return;
      }
      const u32 = t.u32[Math.floor(ref / GRANT_ENTRIES_PER_PAGE)]!;
      Atomics.and(u32, (ref % GRANT_ENTRIES_PER_PAGE) * 2, ~(readonly ? GTF_reading : GTF_reading | GTF_writing) >>> 0);
    };
    /** One side of a grant-and-local copy: checks the domain and the range, claims the grant. */
    const grantSide = (
      granter: DomainId,
      ref: GrantRef,
      offset: number,
      len: number,
      local: Uint8Array,
      localOffset: number,
      readonly: boolean,
      op: string,
    ): Result<{ t: Table; page: Uint8Array }, GntStatusName> => {
      const t = tables.get(resolve(granter));
      if (t === undefined) return fail(me, op, "bad_domain");
      if (!(len >= 0 && offset >= 0 && localOffset >= 0 && offset + len <= PAGE_SIZE && localOffset + len <= local.length)) {
        return fail(me, op, "bad_copy_arg", "beyond-page");
      }
      const c = claimForCopy(t, ref, readonly);
      return c.ok ? ok({ t, page: c.value }) : fail(me, op, c.error, c.detail);
    };

    const copyOne = (op: GnttabCopyRepr): Result<void, GntStatusName> => {
      const sGref = (op.flags & GNTCOPY_source_gref) !== 0;
      const dGref = (op.flags & GNTCOPY_dest_gref) !== 0;
      const sTable = tables.get(resolve(op.source.domid));
      if (sTable === undefined) return fail(me, "copy", "bad_domain", "source");
      // Xen 4.17 gnttab_copy_lock_domain: only the local domain may be referenced by frame.
      if (!sGref && sTable !== self) return fail(me, "copy", "permission_denied", "source-frame-of-other-domain");
      const dTable = tables.get(resolve(op.dest.domid));
      if (dTable === undefined) return fail(me, "copy", "bad_domain", "dest");
      if (!dGref && dTable !== self) return fail(me, "copy", "permission_denied", "dest-frame-of-other-domain");
      const src = claim(op.source.u, sTable, sGref, true);
      if (!src.ok) return fail(me, "copy", src.error, src.detail === undefined ? "source" : `source-${src.detail}`);
      const dst = claim(op.dest.u, dTable, dGref, false);
      if (!dst.ok) {
        if (sGref) unpin(sTable, op.source.u, true);
        return fail(me, "copy", dst.error, dst.detail === undefined ? "dest" : `dest-${dst.detail}`);
      }
      // Xen gnttab_copy_buf: the range check comes after both sides are claimed.
      const inPage = op.source.offset + op.len <= PAGE_SIZE && op.dest.offset + op.len <= PAGE_SIZE;
      if (inPage) dst.value.set(src.value.subarray(op.source.offset, op.source.offset + op.len), op.dest.offset);
      if (dGref) unpin(dTable, op.dest.u, false);
      if (sGref) unpin(sTable, op.source.u, true);
      return inPage ? ok(undefined) : fail(me, "copy", "bad_copy_arg", "beyond-page");
    };

    return {
      tableFrames: self.frames,
      capacity: self.frames.length * GRANT_ENTRIES_PER_PAGE,
      get freeRefs() {
        return self.freeRefs.length;
      },
      get mappingCount() {
        return self.maptrack.size;
      },
      grantAccess(grantee, frame, readonly = false) {
        const ref = self.freeRefs.pop();
        if (ref === undefined) return err("no-free-refs");
        self.allocated[ref] = 1;
        writeEntry(ref, grantee, frame, readonly);
        return ok(ref);
      },
      grantReserved(ref, grantee, frame, readonly = false) {
        if (!Number.isInteger(ref) || ref < 0 || ref >= GNTTAB_NR_RESERVED_ENTRIES) return err("bad-ref");
        writeEntry(ref, grantee, frame, readonly);
        return ok(undefined);
      },
      endAccess(ref) {
        const loc = locate(self, ref);
        if (loc === undefined || (ref >= GNTTAB_NR_RESERVED_ENTRIES && self.allocated[ref] !== 1)) {
          deps.refuse({ domid: me, op: "end-access", status: "bad-ref" });
          return err("bad-ref");
        }
        for (let i = 0; i < END_ACCESS_RETRIES; i++) {
          const flags = Atomics.load(loc.u16, loc.e * 4);
          if (flags & (GTF_reading | GTF_writing)) {
            deps.refuse({ domid: me, op: "end-access", status: "busy" });
            return err("busy");
          }
          // CAS to 0: fails if the hypervisor set reading/writing since our load.
          if (Atomics.compareExchange(loc.u16, loc.e * 4, flags, 0) === flags) {
            if (ref >= GNTTAB_NR_RESERVED_ENTRIES) {
              self.allocated[ref] = 0;
              self.freeRefs.push(ref);
            }
            return ok(undefined);
          }
        }
        return err("busy");
      },
      entry(ref) {
        const loc = locate(self, ref);
        if (loc === undefined) return undefined;
        const e: GrantEntry = {
          flags: Atomics.load(loc.u16, loc.e * 4),
          domid: Atomics.load(loc.u16, loc.e * 4 + 1),
          frame: Atomics.load(loc.u32, loc.e * 2 + 1),
        };
        return e;
      },
      map(granter, ref, options = {}) {
        const readonly = options.readonly ?? false;
        const t = tables.get(resolve(granter));
        if (t === undefined) return fail(me, "map", "bad_domain");
        if (self.maptrack.size >= maxMappings) return fail(me, "map", "no_space", "maptrack-full");
        const r = pin(t, ref, me, readonly);
        if (!r.ok) return fail(me, "map", r.error, r.detail);
        while (self.maptrack.has(self.nextHandle)) self.nextHandle = (self.nextHandle + 1) >>> 0;
        const handle = self.nextHandle;
        self.nextHandle = (self.nextHandle + 1) >>> 0;
        const m: Mapping = { handle, granter: t.domid, ref, readonly, page: r.value.page, granterTable: t };
        self.maptrack.set(handle, m);
        return ok(m);
      },
      unmap(handle) {
        const m = self.maptrack.get(handle);
        if (m === undefined) {
          deps.refuse({ domid: me, op: "unmap", status: "bad_handle" });
          return err("bad_handle");
        }
        self.maptrack.delete(handle);
        unpin(m.granterTable, m.ref, m.readonly);
        return ok(undefined);
      },
      copy: copyOne,
      copyFromGrant(granter, ref, offset, len, dst, dstOffset) {
        const g = grantSide(granter, ref, offset, len, dst, dstOffset, true, "copy");
        if (!g.ok) return g;
        dst.set(g.value.page.subarray(offset, offset + len), dstOffset);
        releaseForCopy(g.value.t, ref, true);
        return ok(undefined);
      },
      copyToGrant(src, srcOffset, len, granter, ref, offset) {
        const g = grantSide(granter, ref, offset, len, src, srcOffset, false, "copy");
        if (!g.ok) return g;
        g.value.page.set(len === src.length ? src : src.subarray(srcOffset, srcOffset + len), offset);
        releaseForCopy(g.value.t, ref, false);
        return ok(undefined);
      },
      copyOps(ops, count) {
        const n = Math.min(count, Math.floor(ops.length / GNTTAB_COPY_SIZE));
        const view = new DataView(ops.buffer, ops.byteOffset, n * GNTTAB_COPY_SIZE);
        let failed = 0;
        for (let i = 0; i < n; i++) {
          const op = parseGnttabCopy(ops.subarray(i * GNTTAB_COPY_SIZE, (i + 1) * GNTTAB_COPY_SIZE));
          const r = op.ok ? copyOne(op.value) : err("general_error" as const);
          if (!r.ok) failed++;
          view.setInt16(i * GNTTAB_COPY_SIZE + GNTTAB_COPY_STATUS, r.ok ? GNTST.okay : GNTST[r.error], true);
        }
        return failed;
      },
    };
  };

  return {
    addDomain(memory) {
      const frames: Frame[] = [];
      for (let i = 0; i < grantFrames; i++) {
        const f = memory.allocPage();
        if (!f.ok) {
          for (const g of frames) memory.freePage(g);
          return err("out-of-memory");
        }
        frames.push(f.value);
      }
      const pages = frames.map((f) => memory.lookup(f)!);
      const capacity = grantFrames * GRANT_ENTRIES_PER_PAGE;
      const freeRefs: GrantRef[] = [];
      for (let r = capacity - 1; r >= GNTTAB_NR_RESERVED_ENTRIES; r--) freeRefs.push(r);
      const t: Table = {
        domid: memory.domid,
        memory,
        frames,
        u16: pages.map((p) => new Uint16Array(p.buffer, p.byteOffset, PAGE_SIZE / 2)),
        u32: pages.map((p) => new Uint32Array(p.buffer, p.byteOffset, PAGE_SIZE / 4)),
        freeRefs,
        allocated: new Uint8Array(capacity),
        active: new Map(),
        maptrack: new Map(),
        nextHandle: 0,
      };
      tables.set(memory.domid, t);
      apis.set(memory.domid, makeApi(t));
      return ok(undefined);
    },
    removeDomain(domid) {
      const t = tables.get(domid);
      if (t === undefined) return;
      for (const m of t.maptrack.values()) unpin(m.granterTable, m.ref, m.readonly);
      t.maptrack.clear();
      tables.delete(domid);
      apis.delete(domid);
    },
    forDomain(domid) {
      const api = apis.get(domid);
      if (api === undefined) {
        const e = new NetlabError("ERR_NETLAB_NO_DOMAIN", `no domain ${domid}`);
        throw e;
      }
      return api;
    },
  };
}
