import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { unwrap } from "../../stack/result.ts";
import { createRng, createVirtualClock } from "../../stack/time.ts";
import {
  emitGnttabCopy,
  GNTCOPY_dest_gref,
  GNTCOPY_source_gref,
  GNTST,
  GNTTAB_COPY_SIZE,
  GTF_permit_access,
  GTF_readonly,
  GTF_reading,
  GTF_writing,
  parseGnttabCopy,
  type GnttabCopyRepr,
} from "../abi/grant-table.ts";
import { DOMID_SELF } from "../abi/xen.ts";
import { createHypervisor } from "../hypervisor/hypervisor.ts";
import type { HypervisorOptions } from "../hypervisor/types.ts";

function setup(options: HypervisorOptions = {}) {
  const hv = createHypervisor({ clock: createVirtualClock(), rng: createRng(1) }, { grants: { grantFrames: 2 }, ...options });
  const dom0 = unwrap(hv.createDomain());
  const domU = unwrap(hv.createDomain());
  const domV = unwrap(hv.createDomain());
  return { hv, dom0, domU, domV };
}

/** The 8 raw bytes of entry `ref` in `dom`'s grant table pages. */
function entryBytes(dom: ReturnType<typeof setup>["domU"], ref: number): number[] {
  const frame = dom.grants.tableFrames[Math.floor(ref / 512)]!;
  const page = unwrap(dom.memory.page(frame));
  const at = (ref % 512) * 8;
  return [...page.subarray(at, at + 8)];
}

describe("grant table v1", () => {
  it("grantAccess() writes flags, domid and frame as grant_entry_v1 little-endian bytes and skips refs 0..7", () => {
    const { domU } = setup();
    const frame = unwrap(domU.memory.allocPage());
    const ref = unwrap(domU.grants.grantAccess(0, frame));
    expect(ref).toBe(8);
    expect(entryBytes(domU, ref)).toEqual([0x01, 0x00, 0x00, 0x00, frame & 0xff, frame >> 8, 0, 0]);
    const ro = unwrap(domU.grants.grantAccess(0x0102, 0x0a0b0c0d, true));
    expect(entryBytes(domU, ro)).toEqual([0x05, 0x00, 0x02, 0x01, 0x0d, 0x0c, 0x0b, 0x0a]);
    expect(domU.grants.entry(ro)).toEqual({ flags: GTF_permit_access | GTF_readonly, domid: 0x0102, frame: 0x0a0b0c0d });
  });

  it("the ref allocator hands out capacity - 8 refs, never a reserved one, then reports no-free-refs", () => {
    const { domU } = setup();
    const frame = unwrap(domU.memory.allocPage());
    const refs = new Set<number>();
    for (;;) {
      const r = domU.grants.grantAccess(0, frame);
      if (!r.ok) {
        expect(r.error).toBe("no-free-refs");
        break;
      }
      refs.add(r.value);
    }
    expect(refs.size).toBe(domU.grants.capacity - 8);
    expect([...refs].every((r) => r >= 8 && r < 1024)).toBe(true);
    expect(domU.grants.capacity).toBe(1024);
  });

  it("grantReserved() seeds ref 1 (xenstore) and refuses refs above 7", () => {
    const { domU } = setup();
    const frame = unwrap(domU.memory.allocPage());
    unwrap(domU.grants.grantReserved(1, 0, frame));
    expect(entryBytes(domU, 1)).toEqual([1, 0, 0, 0, frame, 0, 0, 0]);
    expect(domU.grants.grantReserved(8, 0, frame)).toMatchObject({ ok: false, error: "bad-ref" });
  });

  it("map() gives the grantee the very same page and sets GTF_reading|GTF_writing, cleared as mappings go", () => {
    const { dom0, domU } = setup();
    const frame = unwrap(domU.memory.allocPage());
    const page = unwrap(domU.memory.page(frame));
    const ref = unwrap(domU.grants.grantAccess(0, frame));
    const rw = unwrap(dom0.grants.map(domU.id, ref));
    expect(rw.page.buffer).toBe(page.buffer);
    rw.page[100] = 0x5a;
    expect(page[100]).toBe(0x5a);
    expect(entryBytes(domU, ref).slice(0, 2)).toEqual([GTF_permit_access | GTF_reading | GTF_writing, 0]);
    const ro = unwrap(dom0.grants.map(domU.id, ref, { readonly: true }));
    expect(ro.page.buffer).toBe(page.buffer);
    unwrap(dom0.grants.unmap(rw.handle));
    expect(entryBytes(domU, ref).slice(0, 2)).toEqual([GTF_permit_access | GTF_reading, 0]);
    unwrap(dom0.grants.unmap(ro.handle));
    expect(entryBytes(domU, ref)).toEqual([GTF_permit_access, 0, 0, 0, frame, 0, 0, 0]);
    expect(dom0.grants.mappingCount).toBe(0);
  });

  it("map() by a domain the entry does not name fails with general_error, is counted and leaves the bytes alone", () => {
    const { hv, domU, domV } = setup();
    const frame = unwrap(domU.memory.allocPage());
    const ref = unwrap(domU.grants.grantAccess(0, frame));
    const before = entryBytes(domU, ref);
    const r = domV.grants.map(domU.id, ref);
    expect(r).toEqual({ ok: false, error: "general_error", detail: "wrong-domid" });
    expect(GNTST.general_error).toBe(-1);
    expect(entryBytes(domU, ref)).toEqual(before);
    expect(hv.refusals.total).toBe(1);
    expect(hv.refusals.byKind.get("map:general_error")).toBe(1);
    expect(hv.refusals.byDomain.get(domV.id)).toBe(1);
  });

  it("a writable map() of a readonly grant fails; a readonly map() sets only GTF_reading", () => {
    const { hv, dom0, domU } = setup();
    const frame = unwrap(domU.memory.allocPage());
    const ref = unwrap(domU.grants.grantAccess(0, frame, true));
    expect(dom0.grants.map(domU.id, ref)).toEqual({ ok: false, error: "general_error", detail: "readonly" });
    expect(entryBytes(domU, ref)[0]).toBe(GTF_permit_access | GTF_readonly);
    const m = unwrap(dom0.grants.map(domU.id, ref, { readonly: true }));
    expect(entryBytes(domU, ref)[0]).toBe(GTF_permit_access | GTF_readonly | GTF_reading);
    unwrap(dom0.grants.unmap(m.handle));
    expect(entryBytes(domU, ref)[0]).toBe(GTF_permit_access | GTF_readonly);
    expect(hv.refusals.total).toBe(1);
  });

  it("map() reports bad_gntref, bad_domain, general_error (ended grant), bad_page and unmap() bad_handle", () => {
    const { hv, dom0, domU } = setup();
    const frame = unwrap(domU.memory.allocPage());
    expect(dom0.grants.map(domU.id, 1024)).toMatchObject({ ok: false, error: "bad_gntref" });
    expect(dom0.grants.map(domU.id, -1)).toMatchObject({ ok: false, error: "bad_gntref" });
    expect(dom0.grants.map(77, 8)).toMatchObject({ ok: false, error: "bad_domain" });
    const ref = unwrap(domU.grants.grantAccess(0, frame));
    unwrap(domU.grants.endAccess(ref));
    expect(dom0.grants.map(domU.id, ref)).toEqual({ ok: false, error: "general_error", detail: "not-granted" });
    const bogus = unwrap(domU.grants.grantAccess(0, 999_999));
    expect(dom0.grants.map(domU.id, bogus)).toMatchObject({ ok: false, error: "bad_page" });
    expect(entryBytes(domU, bogus)[0]).toBe(GTF_permit_access);
    expect(dom0.grants.unmap(12345)).toEqual({ ok: false, error: "bad_handle" });
    expect(hv.refusals.total).toBe(6);
    expect(Object.fromEntries(hv.refusals.byKind)).toEqual({
      "map:bad_gntref": 2,
      "map:bad_domain": 1,
      "map:general_error": 1,
      "map:bad_page": 1,
      "unmap:bad_handle": 1,
    });
  });

  it("endAccess() on a mapped grant is refused as busy; after unmap it CASes flags to 0 and frees the ref", () => {
    const { hv, dom0, domU } = setup();
    const frame = unwrap(domU.memory.allocPage());
    const ref = unwrap(domU.grants.grantAccess(0, frame));
    const m = unwrap(dom0.grants.map(domU.id, ref));
    const free = domU.grants.freeRefs;
    expect(domU.grants.endAccess(ref)).toEqual({ ok: false, error: "busy" });
    expect(hv.refusals.byKind.get("end-access:busy")).toBe(1);
    expect(domU.memory.freePage(frame)).toEqual({ ok: false, error: "page-in-use" });
    unwrap(dom0.grants.unmap(m.handle));
    unwrap(domU.grants.endAccess(ref));
    expect(entryBytes(domU, ref)).toEqual([0, 0, 0, 0, frame, 0, 0, 0]);
    expect(domU.grants.freeRefs).toBe(free + 1);
    expect(domU.grants.endAccess(ref)).toEqual({ ok: false, error: "bad-ref" });
    unwrap(domU.memory.freePage(frame));
  });

  it("map() stops at the maptrack limit with no_space", () => {
    const { dom0, domU } = setup({ grants: { grantFrames: 1, maxMappings: 2 } });
    const frame = unwrap(domU.memory.allocPage());
    const ref = unwrap(domU.grants.grantAccess(0, frame));
    unwrap(dom0.grants.map(domU.id, ref));
    unwrap(dom0.grants.map(domU.id, ref));
    expect(dom0.grants.map(domU.id, ref)).toEqual({ ok: false, error: "no_space", detail: "maptrack-full" });
  });

  it("a GNTTABOP_copy struct is 40 bytes with source 0/8/10, dest 16/24/26, len 32, flags 34, status 36", () => {
    const op: GnttabCopyRepr = {
      source: { u: 0x11223344, domid: 0x0102, offset: 0x0304 },
      dest: { u: 0x55667788, domid: 0x0506, offset: 0x0708 },
      len: 0x090a,
      flags: GNTCOPY_source_gref | GNTCOPY_dest_gref,
    };
    const bytes = new Uint8Array(GNTTAB_COPY_SIZE).fill(0xee);
    emitGnttabCopy(op, bytes);
    expect([...bytes]).toEqual([
      0x44, 0x33, 0x22, 0x11, 0, 0, 0, 0, 0x02, 0x01, 0x04, 0x03, 0, 0, 0, 0, 0x88, 0x77, 0x66, 0x55, 0, 0, 0, 0, 0x06, 0x05, 0x08, 0x07, 0, 0, 0, 0, 0x0a,
      0x09, 0x03, 0x00, 0, 0, 0, 0,
    ]);
    expect(unwrap(parseGnttabCopy(bytes))).toEqual(op);
    expect(parseGnttabCopy(bytes.subarray(0, 39))).toMatchObject({ ok: false, error: "truncated" });
  });

  it("copy() moves bytes out of a granted page into the caller's frame and leaves the entry flags as they were", () => {
    const { hv, dom0, domU } = setup();
    const src = unwrap(domU.memory.allocPage());
    unwrap(domU.memory.page(src)).set([1, 2, 3, 4], 10);
    const ref = unwrap(domU.grants.grantAccess(0, src, true));
    const dst = unwrap(dom0.memory.allocPage());
    const r = dom0.grants.copy({
      source: { u: ref, domid: domU.id, offset: 10 },
      dest: { u: dst, domid: DOMID_SELF, offset: 4000 },
      len: 4,
      flags: GNTCOPY_source_gref,
    });
    expect(r).toEqual({ ok: true, value: undefined });
    expect([...unwrap(dom0.memory.page(dst)).subarray(4000, 4004)]).toEqual([1, 2, 3, 4]);
    expect(entryBytes(domU, ref)[0]).toBe(GTF_permit_access | GTF_readonly);
    expect(hv.refusals.total).toBe(0);
  });

  it("copy() into a dest_gref (netback's rx path) needs a writable grant", () => {
    const { dom0, domU } = setup();
    const rx = unwrap(domU.memory.allocPage());
    const ref = unwrap(domU.grants.grantAccess(0, rx));
    const roRef = unwrap(domU.grants.grantAccess(0, rx, true));
    const mine = unwrap(dom0.memory.allocPage());
    unwrap(dom0.memory.page(mine)).fill(0xab, 0, 64);
    const op = (dref: number): GnttabCopyRepr => ({
      source: { u: mine, domid: dom0.id, offset: 0 },
      dest: { u: dref, domid: domU.id, offset: 0 },
      len: 64,
      flags: GNTCOPY_dest_gref,
    });
    unwrap(dom0.grants.copy(op(ref)));
    expect(unwrap(domU.memory.page(rx))[63]).toBe(0xab);
    expect(entryBytes(domU, ref)[0]).toBe(GTF_permit_access);
    expect(dom0.grants.copy(op(roRef))).toEqual({ ok: false, error: "general_error", detail: "dest-readonly" });
  });

  it("a granter rewriting an entry under a mapping wipes GTF_reading; as in Xen, only a first write pin sets it again (issue #15)", () => {
    // Xen common/grant_table.c: map and acquire_grant_for_copy call _set_status (which ORs the bits
    // into the flags) only with no pin yet or for a first write pin; release clears GTF_reading only
    // when the last pin goes. So a granter's own write over a pinned entry is not undone by Xen.
    const { dom0, domU } = setup();
    const frame = unwrap(domU.memory.allocPage());
    unwrap(domU.grants.grantReserved(2, dom0.id, frame));
    const m = unwrap(dom0.grants.map(domU.id, 2, { readonly: true }));
    expect(domU.grants.entry(2)!.flags).toBe(GTF_permit_access | GTF_reading);
    unwrap(domU.grants.grantReserved(2, dom0.id, frame));
    expect(domU.grants.entry(2)!.flags).toBe(GTF_permit_access);
    const dst = unwrap(dom0.memory.allocPage());
    const read = { source: { u: 2, domid: domU.id, offset: 0 }, dest: { u: dst, domid: DOMID_SELF, offset: 0 }, len: 8, flags: GNTCOPY_source_gref };
    expect(dom0.grants.copy(read).ok).toBe(true);
    expect(unwrap(dom0.grants.map(domU.id, 2, { readonly: true })).page).toBe(m.page);
    expect(domU.grants.entry(2)!.flags).toBe(GTF_permit_access);
    expect(dom0.grants.copyToGrant(Uint8Array.of(7), 0, 1, domU.id, 2, 0).ok).toBe(true);
    expect(domU.grants.entry(2)!.flags).toBe(GTF_permit_access | GTF_reading);
    unwrap(dom0.grants.unmap(m.handle));
    unwrap(dom0.grants.unmap(m.handle + 1));
    expect(domU.grants.entry(2)!.flags).toBe(GTF_permit_access);
  });

  it("copy() refuses out-of-page ranges with bad_copy_arg but allows offset + len = 4096", () => {
    const { hv, dom0, domU } = setup();
    const src = unwrap(domU.memory.allocPage());
    const ref = unwrap(domU.grants.grantAccess(0, src));
    const dst = unwrap(dom0.memory.allocPage());
    const op = (so: number, dof: number, len: number): GnttabCopyRepr => ({
      source: { u: ref, domid: domU.id, offset: so },
      dest: { u: dst, domid: DOMID_SELF, offset: dof },
      len,
      flags: GNTCOPY_source_gref,
    });
    expect(dom0.grants.copy(op(4000, 0, 96)).ok).toBe(true);
    expect(dom0.grants.copy(op(0, 4000, 96)).ok).toBe(true);
    expect(dom0.grants.copy(op(4000, 0, 97))).toMatchObject({ ok: false, error: "bad_copy_arg" });
    expect(dom0.grants.copy(op(0, 4001, 96))).toMatchObject({ ok: false, error: "bad_copy_arg" });
    expect(entryBytes(domU, ref)[0]).toBe(GTF_permit_access);
    expect(hv.refusals.byKind.get("copy:bad_copy_arg")).toBe(2);
  });

  it("copy() by frame of another domain is permission_denied; unknown domain bad_domain; bad own frame bad_page; bad ref bad_gntref", () => {
    const { hv, dom0, domU } = setup();
    const uf = unwrap(domU.memory.allocPage());
    const mine = unwrap(dom0.memory.allocPage());
    const base = { source: { u: mine, domid: DOMID_SELF, offset: 0 }, len: 8 };
    expect(dom0.grants.copy({ ...base, dest: { u: uf, domid: domU.id, offset: 0 }, flags: 0 })).toMatchObject({ ok: false, error: "permission_denied" });
    expect(dom0.grants.copy({ ...base, dest: { u: 8, domid: 99, offset: 0 }, flags: GNTCOPY_dest_gref })).toMatchObject({ ok: false, error: "bad_domain" });
    expect(dom0.grants.copy({ ...base, dest: { u: 4242, domid: dom0.id, offset: 0 }, flags: 0 })).toMatchObject({ ok: false, error: "bad_page" });
    expect(dom0.grants.copy({ ...base, dest: { u: 5000, domid: domU.id, offset: 0 }, flags: GNTCOPY_dest_gref })).toMatchObject({
      ok: false,
      error: "bad_gntref",
    });
    expect(hv.refusals.total).toBe(4);
  });

  it("copyOps() runs packed gnttab_copy structs and writes each s16 status at offset 36", () => {
    const { dom0, domU } = setup();
    const src = unwrap(domU.memory.allocPage());
    unwrap(domU.memory.page(src))[5] = 0x77;
    const ref = unwrap(domU.grants.grantAccess(0, src));
    const dst = unwrap(dom0.memory.allocPage());
    const ops = new Uint8Array(3 * GNTTAB_COPY_SIZE);
    const good: GnttabCopyRepr = {
      source: { u: ref, domid: domU.id, offset: 5 },
      dest: { u: dst, domid: DOMID_SELF, offset: 0 },
      len: 1,
      flags: GNTCOPY_source_gref,
    };
    emitGnttabCopy(good, ops.subarray(0, 40));
    emitGnttabCopy({ ...good, len: 4092 }, ops.subarray(40, 80));
    emitGnttabCopy({ ...good, source: { ...good.source, domid: 2 } }, ops.subarray(80, 120));
    expect(dom0.grants.copyOps(ops, 3)).toBe(2);
    const status = (i: number) => new DataView(ops.buffer).getInt16(i * 40 + 36, true);
    expect([status(0), status(1), status(2)]).toEqual([GNTST.okay, GNTST.bad_copy_arg, GNTST.general_error]);
    expect(unwrap(dom0.memory.page(dst))[0]).toBe(0x77);
  });

  it("a domain reaches only its own frames; foreign frames need privilege", () => {
    const { hv, dom0, domU, domV } = setup();
    const f = unwrap(domU.memory.allocPage());
    expect(domV.memory.page(f + 1000)).toEqual({ ok: false, error: "bad-frame" });
    expect(domV.mapForeign(domU.id, f)).toEqual({ ok: false, error: "permission_denied" });
    expect(unwrap(dom0.mapForeign(domU.id, f)).buffer).toBe(unwrap(domU.memory.page(f)).buffer);
    expect(dom0.mapForeign(domU.id, 9999)).toEqual({ ok: false, error: "bad_page" });
    expect(hv.refusals.total).toBe(3);
    expect(dom0.privileged).toBe(true);
    expect(domU.privileged).toBe(false);
  });

  it("destroying a grantee releases its mappings so the granter can end access", () => {
    const { hv, domU, domV } = setup();
    const f = unwrap(domU.memory.allocPage());
    const ref = unwrap(domU.grants.grantAccess(domV.id, f));
    unwrap(domV.grants.map(domU.id, ref));
    expect(domU.grants.endAccess(ref)).toMatchObject({ error: "busy" });
    unwrap(hv.destroyDomain(domV.id));
    expect(entryBytes(domU, ref)[0]).toBe(GTF_permit_access);
    unwrap(domU.grants.endAccess(ref));
    expect(hv.domain(domV.id)).toBeUndefined();
    expect(hv.destroyDomain(domV.id)).toEqual({ ok: false, error: "no-such-domain" });
  });

  it("random grant/end/map/unmap sequences match a model, entry bytes included, and every failure is counted", () => {
    type Op =
      | { k: "grant"; grantee: number; ro: boolean }
      | { k: "end"; i: number }
      | { k: "map"; by: number; i: number; ro: boolean }
      | { k: "unmap"; i: number };
    const opArb: fc.Arbitrary<Op> = fc.oneof(
      fc.record({ k: fc.constant("grant" as const), grantee: fc.constantFrom(0, 2), ro: fc.boolean() }),
      fc.record({ k: fc.constant("end" as const), i: fc.nat(7) }),
      fc.record({ k: fc.constant("map" as const), by: fc.constantFrom(0, 2), i: fc.nat(7), ro: fc.boolean() }),
      fc.record({ k: fc.constant("unmap" as const), i: fc.nat(7) }),
    );
    fc.assert(
      fc.property(fc.array(opArb, { maxLength: 60 }), (ops) => {
        const { hv, dom0, domU, domV } = setup();
        const byId = [dom0, domU, domV];
        const frame = unwrap(domU.memory.allocPage());
        const grants: { ref: number; grantee: number; ro: boolean; live: boolean }[] = [];
        const maps: { by: number; handle: number; gi: number; ro: boolean }[] = [];
        let expectedRefusals = 0;
        for (const op of ops) {
          if (op.k === "grant") {
            grants.push({ ref: unwrap(domU.grants.grantAccess(op.grantee, frame, op.ro)), grantee: op.grantee, ro: op.ro, live: true });
          } else if (op.k === "end") {
            const g = grants[op.i];
            if (g === undefined || !g.live) continue;
            const busy = maps.some((m) => m.gi === op.i);
            const r = domU.grants.endAccess(g.ref);
            expect(r.ok).toBe(!busy);
            if (busy) expectedRefusals++;
            else g.live = false;
          } else if (op.k === "map") {
            const g = grants[op.i];
            if (g === undefined || !g.live) continue;
            const allowed = g.grantee === op.by && !(g.ro && !op.ro);
            const r = byId[op.by]!.grants.map(domU.id, g.ref, { readonly: op.ro });
            expect(r.ok).toBe(allowed);
            if (r.ok) maps.push({ by: op.by, handle: r.value.handle, gi: op.i, ro: op.ro });
            else expectedRefusals++;
          } else {
            const m = maps[op.i];
            if (m === undefined) continue;
            unwrap(byId[m.by]!.grants.unmap(m.handle));
            maps.splice(op.i, 1);
          }
          grants.forEach((g, gi) => {
            if (grants.some((h, hi) => hi > gi && h.ref === g.ref)) return;
            const mine = maps.filter((m) => m.gi === gi);
            const flags = !g.live
              ? 0
              : GTF_permit_access | (g.ro ? GTF_readonly : 0) | (mine.length > 0 ? GTF_reading : 0) | (mine.some((m) => !m.ro) ? GTF_writing : 0);
            expect(entryBytes(domU, g.ref)).toEqual([flags, 0, g.grantee, 0, frame, 0, 0, 0]);
          });
        }
        expect(hv.refusals.total).toBe(expectedRefusals);
      }),
      { numRuns: 200 },
    );
  });

  describe("copyFromGrant() and copyToGrant() (GNTTABOP_copy between a grant and the caller's own memory)", () => {
    it("copy the bytes, and leave the entry's flags as they found them", () => {
      const { dom0, domU } = setup();
      const frame = unwrap(domU.memory.allocPage());
      const page = unwrap(domU.memory.page(frame));
      page.set([1, 2, 3, 4, 5, 6], 100);
      const ro = unwrap(domU.grants.grantAccess(dom0.id, frame, true));
      const rw = unwrap(domU.grants.grantAccess(dom0.id, frame));
      const local = new Uint8Array(16);
      expect(dom0.grants.copyFromGrant(domU.id, ro, 101, 4, local, 3).ok).toBe(true);
      expect([...local.subarray(2, 8)]).toEqual([0, 2, 3, 4, 5, 0]);
      expect(dom0.grants.copyToGrant(Uint8Array.of(9, 8, 7, 6), 1, 3, domU.id, rw, 4094 - 1).ok).toBe(true);
      expect([...page.subarray(4093, 4096)]).toEqual([8, 7, 6]);
      expect(domU.grants.entry(ro)!.flags).toBe(GTF_permit_access | GTF_readonly);
      expect(domU.grants.entry(rw)!.flags).toBe(GTF_permit_access);
      expect(dom0.grants.mappingCount).toBe(0);
      expect(unwrap(domU.grants.endAccess(rw))).toBeUndefined();
    });

    it("keep the pins of a mapping of the same grant", () => {
      const { dom0, domU } = setup();
      const frame = unwrap(domU.memory.allocPage());
      const ref = unwrap(domU.grants.grantAccess(dom0.id, frame));
      const m = unwrap(dom0.grants.map(domU.id, ref));
      expect(dom0.grants.copyToGrant(Uint8Array.of(42), 0, 1, domU.id, ref, 0).ok).toBe(true);
      expect(m.page[0]).toBe(42);
      expect(domU.grants.entry(ref)!.flags).toBe(GTF_permit_access | GTF_reading | GTF_writing);
      expect(domU.grants.endAccess(ref)).toEqual({ ok: false, error: "busy" });
      unwrap(dom0.grants.unmap(m.handle));
      expect(domU.grants.entry(ref)!.flags).toBe(GTF_permit_access);
    });

    it("refuse a read-only grant as destination, another grantee, an invalid entry, a range beyond the page or the buffer, and count each refusal", () => {
      const { hv, dom0, domU, domV } = setup();
      const frame = unwrap(domU.memory.allocPage());
      const ro = unwrap(domU.grants.grantAccess(dom0.id, frame, true));
      const forV = unwrap(domU.grants.grantAccess(domV.id, frame));
      const rw = unwrap(domU.grants.grantAccess(dom0.id, frame));
      const buf = new Uint8Array(8);
      expect(dom0.grants.copyToGrant(buf, 0, 8, domU.id, ro, 0)).toMatchObject({ ok: false, error: "general_error" });
      expect(dom0.grants.copyFromGrant(domU.id, forV, 0, 8, buf, 0)).toMatchObject({ ok: false, error: "general_error" });
      expect(dom0.grants.copyFromGrant(domU.id, 1000, 0, 8, buf, 0)).toMatchObject({ ok: false, error: "general_error" });
      expect(dom0.grants.copyFromGrant(domU.id, 5000, 0, 8, buf, 0)).toMatchObject({ ok: false, error: "bad_gntref" });
      expect(dom0.grants.copyFromGrant(domU.id, rw, 4090, 8, buf, 0)).toMatchObject({ ok: false, error: "bad_copy_arg" });
      expect(dom0.grants.copyFromGrant(domU.id, rw, 0, 8, buf, 1)).toMatchObject({ ok: false, error: "bad_copy_arg" });
      expect(dom0.grants.copyToGrant(buf, 0, 8, 77, rw, 0)).toMatchObject({ ok: false, error: "bad_domain" });
      expect(hv.refusals.total).toBe(7);
      for (const r of [ro, forV, rw]) expect(domU.grants.entry(r)!.flags & (GTF_reading | GTF_writing)).toBe(0);
    });
  });
});
