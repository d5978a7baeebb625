// blkfront's per-slot request records (Linux blkfront's `struct blk_shadow`) and its stack of free
// request ids, built for a whole ring at once. Kept apart from blkfront.ts so that a fuzz build
// that instruments blkfront.ts (harness/fuzz/targets/*blkfront*) does not count edges and
// comparisons for every slot of every new ring (256 per connection at ring-page-order 3): plain
// initialisation, no decisions.
//   BlkShadow        one slot's record (the request's op, its sectors, its page indices)
//   createShadows    the records of a ring; page and indirect-page indices are views of two arrays
//   freeIdStack      every id of a ring, popped lowest first
//   clearShadows     frees every record, collecting the ops they held (ring reset)

/** Indirect pages a shadow records at most. */
export const SHADOW_INDIRECT_PAGES = 8;

/** What blkfront remembers of the request in one ring slot; `O` is blkfront's caller-side op. */
export interface BlkShadow<O> {
  inUse: boolean;
  op: O | undefined;
  sector: number;
  count: number;
  offset: number;
  seq: number;
  reqOp: number;
  dataOp: number;
  nPages: number;
  /** Indices into the data page pool (up to `maxSegments`). */
  pages: Int32Array;
  /** Indices into the indirect page pool. */
  indirect: Int32Array;
  nIndirect: number;
}

/** Free records for `slots` ids; each holds `maxSegments` page indices (views of one array: two allocations per ring). */
export function createShadows<O>(slots: number, maxSegments: number): BlkShadow<O>[] {
  const pageIndices = new Int32Array(slots * maxSegments);
  const indirectIndices = new Int32Array(slots * SHADOW_INDIRECT_PAGES);
  const out: BlkShadow<O>[] = [];
  for (let i = 0; i < slots; i++) {
    out.push({
      inUse: false,
      op: undefined,
      sector: 0,
      count: 0,
      offset: 0,
      seq: 0,
      reqOp: 0,
      dataOp: 0,
      nPages: 0,
      pages: pageIndices.subarray(i * maxSegments, (i + 1) * maxSegments),
      indirect: indirectIndices.subarray(i * SHADOW_INDIRECT_PAGES, (i + 1) * SHADOW_INDIRECT_PAGES),
      nIndirect: 0,
    });
  }
  return out;
}

/** The ids 0..slots-1 as a stack whose top is id 0. */
export function freeIdStack(slots: number): number[] {
  const out: number[] = [];
  for (let i = slots - 1; i >= 0; i--) out.push(i);
  return out;
}

/** Frees every record; the ops of those that held a request are added to `ops` (in id order). */
export function clearShadows<O>(shadows: readonly BlkShadow<O>[], ops: Set<O>): void {
  for (const s of shadows) {
    if (s.inUse && s.op !== undefined) ops.add(s.op);
    s.inUse = false;
    s.op = undefined;
  }
}
