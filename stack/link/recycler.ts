// Buffers for frames that are copied out by their consumer (a Xen ring, a tap write): the
// per-packet path then reuses a few hot buffers instead of allocating, zeroing and later
// collecting a fresh 64 KiB ArrayBuffer for every GSO segment. A buffer comes back only through
// the release function handed out with it (Frame.release); one never released is simply left
// to the GC, so a consumer that does not know about release costs an allocation, never data.
// A release after the buffer went out again (a stale or second call) is ignored: each loan has
// its own generation. poison fills a returned buffer with 0xA5 (tests: a use after release
// shows up as wrong bytes).
//   createBufferRecycler({ capacity, keep, poison })   take(n) -> { data, release } | undefined
import { NetlabError } from "../error.ts";

/** One loan: `data` is n bytes at the start of a recycled buffer. */
export interface BufferLoan {
  readonly data: Uint8Array;
  readonly release: () => void;
  /** The buffer had been lent and given back before (false: newly allocated). */
  readonly reused: boolean;
}

export interface BufferRecyclerOptions {
  /** Size of each buffer; take(n) with a larger n returns undefined. */
  readonly capacity: number;
  /** Released buffers kept for reuse (default 32); more are left to the GC. */
  readonly keep?: number;
  /** Fill each released buffer with 0xA5 (default false). */
  readonly poison?: boolean;
}

export interface BufferRecyclerStats {
  /** Loans served from a released buffer. */
  reused: number;
  /** Loans that needed a new buffer. */
  allocated: number;
  /** release() calls that returned a buffer. */
  released: number;
  /** release() calls ignored (second call, or the buffer was lent again since). */
  staleReleases: number;
}

export interface BufferRecycler {
  take(n: number): BufferLoan | undefined;
  readonly stats: Readonly<BufferRecyclerStats>;
}

interface Slot {
  readonly buf: Uint8Array;
  /** Incremented on every loan and every release: a release is honoured only for its own loan. */
  gen: number;
}

export function createBufferRecycler(options: BufferRecyclerOptions): BufferRecycler {
  const { capacity } = options;
  if (!Number.isInteger(capacity) || capacity <= 0) throw new NetlabError("ERR_NETLAB_RECYCLER_ARGS", `bad recycler capacity ${capacity}`);
  const keep = options.keep ?? 32;
  const poison = options.poison === true;
  const free: Slot[] = [];
  const stats: BufferRecyclerStats = { reused: 0, allocated: 0, released: 0, staleReleases: 0 };
  const giveBack = (slot: Slot, gen: number): void => {
    if (slot.gen !== gen) {
      stats.staleReleases++;
      return;
    }
    slot.gen++;
    stats.released++;
    if (free.length >= keep) return;
    if (poison) slot.buf.fill(0xa5);
    free.push(slot);
  };
  return {
    stats,
    take(n) {
      if (!(n >= 0 && n <= capacity)) return undefined;
      let slot = free.pop();
      const reused = slot !== undefined;
      if (slot === undefined) {
        slot = { buf: new Uint8Array(capacity), gen: 0 };
        stats.allocated++;
      } else stats.reused++;
      const s = slot;
      const gen = ++s.gen;
      return { data: s.buf.subarray(0, n), release: () => giveBack(s, gen), reused };
    },
  };
}
