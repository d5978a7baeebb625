// Frame buffers carved from slabs: allocating one small ArrayBuffer per received frame costs
// more than copying the frame, so frames up to a quarter slab are views into a shared slab
// (Node's Buffer pool does the same). Slabs are never reused: a slab is freed by the GC once no
// frame refers to it, and every frame starts as fresh zeroed memory.
//   createFramePool(slabBytes)   alloc(n) returns an n-byte Uint8Array

/** Hands out frame buffers. */
export interface FramePool {
  alloc(bytes: number): Uint8Array;
}

/** Creates a pool with slabs of `slabBytes` (default 256 KiB). */
export function createFramePool(slabBytes = 256 * 1024): FramePool {
  const big = slabBytes >>> 2;
  let slab = new Uint8Array(slabBytes);
  let used = 0;
  return {
    alloc(bytes) {
      if (bytes > big) return new Uint8Array(bytes);
      if (used + bytes > slabBytes) {
        slab = new Uint8Array(slabBytes);
        used = 0;
      }
      const view = slab.subarray(used, used + bytes);
      used = (used + bytes + 7) & ~7;
      return view;
    },
  };
}
