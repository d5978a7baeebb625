// Interfaces of grant tables v1: what a domain does with its own table (grant and end access)
// and the grant hypercalls it issues as a grantee (map, unmap, copy).

import type { Result } from "../../stack/result.ts";
import type { GnttabCopyRepr, GntStatusName } from "../abi/grant-table.ts";
import type { DomainId } from "../abi/xen.ts";
import type { Frame } from "../memory/types.ts";

/** A grant reference: index into the granting domain's table. */
export type GrantRef = number;

/** The three fields of a grant_entry_v1 as read from the table bytes. */
export interface GrantEntry {
  flags: number;
  domid: DomainId;
  frame: number;
}

/** A live mapping of another domain's granted page. `page` is the very same memory (same SharedArrayBuffer). */
export interface GrantMapping {
  readonly handle: number;
  readonly granter: DomainId;
  readonly ref: GrantRef;
  readonly readonly: boolean;
  /** The granted page. A readonly mapping must not be written: JS cannot write-protect a view, so this is by contract. */
  readonly page: Uint8Array;
}

/** A domain's grant operations. Granter side writes real entry bytes into its own table pages. */
export interface DomainGrants {
  /** Frames of this domain's memory that hold its grant table (512 entries each). */
  readonly tableFrames: readonly Frame[];
  /** Number of grant refs (tableFrames.length * 512). */
  readonly capacity: number;
  /** Refs the allocator can still hand out. */
  readonly freeRefs: number;
  /** Live mappings this domain holds as a grantee. */
  readonly mappingCount: number;
  /** Grants `grantee` access to one of our frames: allocates a ref (never 0..7), writes domid and frame, then flags. */
  grantAccess(grantee: DomainId, frame: Frame, readonly?: boolean): Result<GrantRef, "no-free-refs">;
  /** Fills a reserved ref (0..7), as the domain builder seeds the console and xenstore grants. */
  grantReserved(ref: GrantRef, grantee: DomainId, frame: Frame, readonly?: boolean): Result<void, "bad-ref">;
  /** Ends access: refused while the grantee maps or copies (reading/writing set); else flags CAS to 0 and the ref is freed. */
  endAccess(ref: GrantRef): Result<void, "busy" | "bad-ref">;
  /** Reads an entry of our table, or undefined for a ref outside it. */
  entry(ref: GrantRef): GrantEntry | undefined;
  /** GNTTABOP_map_grant_ref as this domain: maps `granter`'s `ref`. */
  map(granter: DomainId, ref: GrantRef, options?: { readonly?: boolean }): Result<GrantMapping, GntStatusName>;
  /** GNTTABOP_unmap_grant_ref. */
  unmap(handle: number): Result<void, "bad_handle">;
  /** GNTTABOP_copy of one op (object form). */
  copy(op: GnttabCopyRepr): Result<void, GntStatusName>;
  /**
   * GNTTABOP_copy of `len` bytes from `granter`'s `ref` at `offset` into this domain's own memory
   * (`dst` at `dstOffset`; a local buffer stands for the caller's gmfn, which it may always write).
   * The grant is claimed (GTF_reading) for the copy only; refusals are those of copy.
   */
  copyFromGrant(granter: DomainId, ref: GrantRef, offset: number, len: number, dst: Uint8Array, dstOffset: number): Result<void, GntStatusName>;
  /** GNTTABOP_copy of `len` bytes of this domain's own `src` at `srcOffset` into `granter`'s `ref` at `offset` (GTF_writing for the copy only). */
  copyToGrant(src: Uint8Array, srcOffset: number, len: number, granter: DomainId, ref: GrantRef, offset: number): Result<void, GntStatusName>;
  /** GNTTABOP_copy over `count` packed 40-byte struct gnttab_copy; writes each status in place; returns the number that failed. */
  copyOps(ops: Uint8Array, count: number): number;
}

/** Options of the grant table system. */
export interface GrantTableOptions {
  /** Grant table frames per domain (default 32 = 16384 refs). */
  grantFrames?: number;
  /** Most simultaneous mappings a domain may hold (maptrack; default 16384). */
  maxMappings?: number;
}
