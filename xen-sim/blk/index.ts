// Public surface of xen-sim/blk: blkfront, blkback, storage, the file-like wrapper and the sim world.
export type * from "./types.ts";
export { createBlkfront, DEFAULT_FRONT_INDIRECT_SEGMENTS, DEFAULT_MAX_DATA_PAGES, type BlkfrontDeps, type BlkfrontOptions } from "./blkfront.ts";
export {
  createBlkback,
  DEFAULT_BATCH_LIMIT,
  DEFAULT_MAX_INDIRECT_SEGMENTS,
  DEFAULT_MAX_PERSISTENT_GRANTS,
  DEFAULT_MAX_RING_PAGE_ORDER,
  type BlkbackDeps,
  type BlkbackOptions,
} from "./blkback.ts";
export { createMemoryStorage, DEFAULT_MAX_MEMORY_IMAGE, type MemoryStorageOptions } from "./memory-storage.ts";
export { createBlockFile, type BlockFile } from "./block-file.ts";
export { createBlkWorld, settle as settleBlkWorld, XVDA, type BlkWorld, type BlkWorldOptions } from "./sim-world.ts";
