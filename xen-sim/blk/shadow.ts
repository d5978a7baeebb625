// blkfront's per-slot request records (Linux blkfront's `struct blk_shadow`) and its stack of free
// request ids, built for a whole ring at once. Kept apart from blkfront.ts so that a fuzz build
// that instruments blkfront.ts (harness/fuzz/targets/*blkfront*) does not count edges and
// comparisons for every slot of every new ring (256 per connection at ring-page-order 3): plain
// initialisation, no decisions.
//   BlkShadow        one slot's record (the request's op, its sectors, its page indices)
//   createShadows    the records of a ring; a record's page and indirect-page index arrays are made on first use
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
  readonly pages: Int32Array;
  /** Indices into the indirect page pool. */
  readonly indirect: Int32Array;
  nIndirect: number;
}

/**
 * One slot's record. Its index arrays are made on first use: a connection that carries few
 * requests (a handshake, a fuzz input) uses a few of its up to 256 slots, and two typed arrays
 * per slot were most of the cost of a new ring (~30 us at ring-page-order 3).
 */
class Shadow<O> implements BlkShadow<O> {
  inUse = false;
  op: O | undefined = undefined;
  sector = 0;
  count = 0;
  offset = 0;
  seq = 0;
  reqOp = 0;
  dataOp = 0;
  nPages = 0;
  nIndirect = 0;
  #pages: Int32Array | undefined = undefined;
  #indirect: Int32Array | undefined = undefined;
  readonly #maxSegments: number;
  constructor(maxSegments: number) {
    this.#maxSegments = maxSegments;
  }
  get pages(): Int32Array {
    return (this.#pages ??= new Int32Array(this.#maxSegments));
  }
  get indirect(): Int32Array {
    return (this.#indirect ??= new Int32Array(SHADOW_INDIRECT_PAGES));
  }
}

/** Free records for `slots` ids; each holds up to `maxSegments` page indices (arrays made on first use). */
export function createShadows<O>(slots: number, maxSegments: number): BlkShadow<O>[] {
  const out: BlkShadow<O>[] = [];
  for (let i = 0; i < slots; i++) out.push(new Shadow<O>(maxSegments));
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
