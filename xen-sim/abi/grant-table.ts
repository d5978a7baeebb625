// Grant table v1 ABI (xen/grant_table.h): entry layout, GTF flags, GNTST status codes and the
// 40-byte struct gnttab_copy with its codec.
// GRANT_ENTRY_*: offsets in a grant_entry_v1. GTF_*: entry flags. GNTST: status codes.
// GNTTAB_COPY_*: offsets in struct gnttab_copy. parseGnttabCopy/emitGnttabCopy: codec.

import { err, ok, type Result } from "../../stack/result.ts";

/** sizeof(grant_entry_v1). */
export const GRANT_ENTRY_SIZE = 8;
/** offsetof(grant_entry_v1, flags): u16. */
export const GRANT_ENTRY_FLAGS = 0;
/** offsetof(grant_entry_v1, domid): u16, the domain allowed to use the grant. */
export const GRANT_ENTRY_DOMID = 2;
/** offsetof(grant_entry_v1, frame): u32, the granted frame of the granting domain. */
export const GRANT_ENTRY_FRAME = 4;
/** grant_entry_v1 per 4096-byte page. */
export const GRANT_ENTRIES_PER_PAGE = 512;
/** Refs 0..7 are reserved for the toolstack (GNTTAB_NR_RESERVED_ENTRIES). */
export const GNTTAB_NR_RESERVED_ENTRIES = 8;
/** Reserved ref of the console ring page. */
export const GNTTAB_RESERVED_CONSOLE = 0;
/** Reserved ref of the xenstore ring page. */
export const GNTTAB_RESERVED_XENSTORE = 1;

export const GTF_invalid = 0;
export const GTF_permit_access = 1;
export const GTF_accept_transfer = 2;
export const GTF_transitive = 3;
export const GTF_type_mask = 3;
export const GTF_readonly = 4;
export const GTF_reading = 8;
export const GTF_writing = 0x10;
export const GTF_sub_page = 0x100;

/** GNTMAP_readonly (map flag). */
export const GNTMAP_readonly = 4;
/** GNTMAP_host_map (map flag). */
export const GNTMAP_host_map = 2;

/** GNTTABOP_copy flag: source.u is a grant ref in source.domid's table. */
export const GNTCOPY_source_gref = 1;
/** GNTTABOP_copy flag: dest.u is a grant ref in dest.domid's table. */
export const GNTCOPY_dest_gref = 2;

/** Grant operation status codes (GNTST_*). */
export const GNTST = {
  okay: 0,
  general_error: -1,
  bad_domain: -2,
  bad_gntref: -3,
  bad_handle: -4,
  bad_virt_addr: -5,
  bad_dev_addr: -6,
  no_device_space: -7,
  permission_denied: -8,
  bad_page: -9,
  bad_copy_arg: -10,
  address_too_big: -11,
  eagain: -12,
  no_space: -13,
} as const;
/** Name of a failing GNTST status. */
export type GntStatusName = Exclude<keyof typeof GNTST, "okay">;

/** sizeof(struct gnttab_copy). */
export const GNTTAB_COPY_SIZE = 40;
/** offsetof(gnttab_copy, source.u): u32 ref or u64 gmfn. */
export const GNTTAB_COPY_SOURCE_U = 0;
export const GNTTAB_COPY_SOURCE_DOMID = 8;
export const GNTTAB_COPY_SOURCE_OFFSET = 10;
export const GNTTAB_COPY_DEST_U = 16;
export const GNTTAB_COPY_DEST_DOMID = 24;
export const GNTTAB_COPY_DEST_OFFSET = 26;
export const GNTTAB_COPY_LEN = 32;
export const GNTTAB_COPY_FLAGS = 34;
export const GNTTAB_COPY_STATUS = 36;

/** One side of a copy: `u` is a grant ref (when the side's gref flag is set) or a frame of the caller. */
export interface GnttabCopyPtr {
  u: number;
  domid: number;
  offset: number;
}

/** The meaning of a struct gnttab_copy. */
export interface GnttabCopyRepr {
  source: GnttabCopyPtr;
  dest: GnttabCopyPtr;
  len: number;
  flags: number;
}

function readU64(view: DataView, at: number): number {
  // Frames above 2^53 cannot be named by a number; map them to an impossible frame.
  const hi = view.getUint32(at + 4, true);
  return hi >= 0x200000 ? Number.MAX_SAFE_INTEGER : hi * 0x100000000 + view.getUint32(at, true);
}

/** Parses a 40-byte gnttab_copy (all field values are legal at this level). */
export function parseGnttabCopy(bytes: Uint8Array): Result<GnttabCopyRepr, "truncated"> {
  if (bytes.length < GNTTAB_COPY_SIZE) return err("truncated");
  const v = new DataView(bytes.buffer, bytes.byteOffset, GNTTAB_COPY_SIZE);
  const flags = v.getUint16(GNTTAB_COPY_FLAGS, true);
  return ok({
    source: {
      u: flags & GNTCOPY_source_gref ? v.getUint32(GNTTAB_COPY_SOURCE_U, true) : readU64(v, GNTTAB_COPY_SOURCE_U),
      domid: v.getUint16(GNTTAB_COPY_SOURCE_DOMID, true),
      offset: v.getUint16(GNTTAB_COPY_SOURCE_OFFSET, true),
    },
    dest: {
      u: flags & GNTCOPY_dest_gref ? v.getUint32(GNTTAB_COPY_DEST_U, true) : readU64(v, GNTTAB_COPY_DEST_U),
      domid: v.getUint16(GNTTAB_COPY_DEST_DOMID, true),
      offset: v.getUint16(GNTTAB_COPY_DEST_OFFSET, true),
    },
    len: v.getUint16(GNTTAB_COPY_LEN, true),
    flags,
  });
}

/** Writes a gnttab_copy (status 0, padding zeroed) into the first 40 bytes of `out`. */
export function emitGnttabCopy(repr: GnttabCopyRepr, out: Uint8Array): void {
  out.fill(0, 0, GNTTAB_COPY_SIZE);
  const v = new DataView(out.buffer, out.byteOffset, GNTTAB_COPY_SIZE);
  const writeU = (at: number, u: number): void => {
    v.setUint32(at, u >>> 0, true);
    v.setUint32(at + 4, Math.floor(u / 0x100000000) >>> 0, true);
  };
  writeU(GNTTAB_COPY_SOURCE_U, repr.source.u);
  v.setUint16(GNTTAB_COPY_SOURCE_DOMID, repr.source.domid, true);
  v.setUint16(GNTTAB_COPY_SOURCE_OFFSET, repr.source.offset, true);
  writeU(GNTTAB_COPY_DEST_U, repr.dest.u);
  v.setUint16(GNTTAB_COPY_DEST_DOMID, repr.dest.domid, true);
  v.setUint16(GNTTAB_COPY_DEST_OFFSET, repr.dest.offset, true);
  v.setUint16(GNTTAB_COPY_LEN, repr.len, true);
  v.setUint16(GNTTAB_COPY_FLAGS, repr.flags, true);
}
