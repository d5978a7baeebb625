// The send buffer: bytes from SND.UNA onwards (unacknowledged, then unsent) kept as a list
// of chunks, never concatenated. Large writes are kept by reference (the writer gives up
// the buffer, as with Node's Writable); small writes are coalesced into a tail block that
// fills in place (a chunk is a buffer plus the end of its used bytes, so appending creates
// no view), and a small block left empty by an acknowledgement is kept for the next
// message, so a request/response exchange allocates nothing here once warm.
// A cursor remembers the last chunk looked up, so sending sequentially is O(1) per segment.
// SendBuffer: push/consume/copyTo/length.

/** Writes at least this long are kept by reference instead of copied. */
const BY_REFERENCE_MIN = 2048;
/** Size of the largest block small writes are coalesced into. */
const COALESCE_BLOCK = 16384;
/** First coalescing block after the buffer emptied; each next one doubles up to COALESCE_BLOCK
 * (a request/response exchange then does not allocate and zero 16 KiB per message). */
const FIRST_BLOCK = 512;
/** Largest drained block kept for reuse (a drained buffer waits on its layer's free list, not on an idle connection). */
const KEEP_BLOCK_MAX = 4096;
/** Copies up to this many bytes with a loop (cheaper than creating a view for set()). */
const LOOP_COPY_MAX = 64;

/** Copies n bytes src[from, from + n) to dst[at, at + n). */
function copyBytes(src: Uint8Array, from: number, n: number, dst: Uint8Array, at: number): void {
  if (n <= LOOP_COPY_MAX) {
    for (let i = 0; i < n; i++) dst[at + i] = src[from + i]!;
  } else {
    dst.set(from === 0 && n === src.length ? src : src.subarray(from, from + n), at);
  }
}

/** A FIFO of bytes addressed by offset from its start. */
export class SendBuffer {
  /** Buffers holding the bytes, oldest first; live from #head. */
  #chunks: Uint8Array[] = [];
  /** End of the used bytes of each chunk (the tail block grows in place). */
  #ends: number[] = [];
  /** Chunks in use: #chunks and #ends keep their backing stores across drains (entries past
   * #count are stale). */
  #count = 0;
  /** Index of the first live chunk in #chunks. */
  #head = 0;
  /** Bytes of the first live chunk already consumed. */
  #headOffset = 0;
  #length = 0;
  /** The last chunk when it is a coalescing block (it may have spare room), else null. */
  #tailBlock: Uint8Array | null = null;
  /** A small block the buffer drained out of, reused by the next small write. */
  #spare: Uint8Array | null = null;
  #cursorIndex = 0;
  #cursorStart = 0;

  /** Bytes held. */
  get length(): number {
    return this.#length;
  }

  /** Appends bytes. */
  push(data: Uint8Array): void {
    const n = data.length;
    if (n === 0) return;
    this.#length += n;
    if (n >= BY_REFERENCE_MIN) {
      this.#tailBlock = null;
      this.#append(data, n);
      return;
    }
    let src = 0;
    while (src < n) {
      let block = this.#tailBlock;
      let last = this.#count - 1;
      if (block === null || this.#ends[last] === block.length) {
        block = this.#newBlock(block === null ? 0 : block.length, n - src);
        this.#tailBlock = block;
        this.#append(block, 0);
        last++;
      }
      const used = this.#ends[last]!;
      const take = Math.min(n - src, block.length - used);
      copyBytes(data, src, take, block, used);
      this.#ends[last] = used + take;
      src += take;
    }
  }

  #append(chunk: Uint8Array, end: number): void {
    const i = this.#count++;
    if (i === this.#chunks.length) {
      this.#chunks.push(chunk);
      this.#ends.push(end);
    } else {
      this.#chunks[i] = chunk;
      this.#ends[i] = end;
    }
  }

  /** A coalescing block following one of `prev` bytes (0: none), for a write of `need` bytes. */
  #newBlock(prev: number, need: number): Uint8Array {
    if (prev === 0) {
      const spare = this.#spare;
      if (spare !== null) {
        this.#spare = null;
        return spare;
      }
      return new Uint8Array(Math.max(FIRST_BLOCK, Math.min(COALESCE_BLOCK, need)));
    }
    return new Uint8Array(Math.min(COALESCE_BLOCK, prev * 2));
  }

  /** Drops `n` bytes from the front (they were acknowledged). */
  consume(n: number): void {
    if (n > this.#length) n = this.#length;
    this.#length -= n;
    const chunks = this.#chunks;
    while (n > 0) {
      const left = this.#ends[this.#head]! - this.#headOffset;
      if (n < left) {
        this.#headOffset += n;
        break;
      }
      n -= left;
      chunks[this.#head] = EMPTY;
      this.#head++;
      this.#headOffset = 0;
    }
    if (this.#head === this.#count) {
      // Nothing left: the tail block (if small) serves the next write; its bytes were all
      // copied into segments, nothing else refers to it. Consumed entries are EMPTY.
      const tail = this.#tailBlock;
      if (tail !== null && tail.length <= KEEP_BLOCK_MAX) this.#spare = tail;
      if (chunks.length > 64) {
        chunks.length = 0;
        this.#ends.length = 0;
      }
      this.#count = 0;
      this.#head = 0;
      this.#tailBlock = null;
    } else if (this.#head > 64 && this.#head * 2 > this.#count) {
      this.#chunks = chunks.slice(this.#head, this.#count);
      this.#ends = this.#ends.slice(this.#head, this.#count);
      this.#count -= this.#head;
      this.#head = 0;
    }
    this.#cursorIndex = this.#head;
    this.#cursorStart = 0;
  }

  /** Copies `len` bytes starting `offset` bytes from the front into dst at dstOff. */
  copyTo(offset: number, len: number, dst: Uint8Array, dstOff: number): void {
    if (len <= 0) return;
    const chunks = this.#chunks;
    const ends = this.#ends;
    const head = this.#head;
    let idx: number;
    let start: number;
    if (this.#cursorIndex >= head && this.#cursorIndex < this.#count && this.#cursorStart <= offset) {
      idx = this.#cursorIndex;
      start = this.#cursorStart;
    } else {
      idx = head;
      start = 0;
    }
    for (;;) {
      const clen = ends[idx]! - (idx === head ? this.#headOffset : 0);
      if (offset < start + clen) break;
      start += clen;
      idx++;
    }
    this.#cursorIndex = idx;
    this.#cursorStart = start;
    while (len > 0) {
      const skip = idx === head ? this.#headOffset : 0;
      const from = skip + (offset - start);
      const take = Math.min(len, ends[idx]! - from);
      copyBytes(chunks[idx]!, from, take, dst, dstOff);
      dstOff += take;
      len -= take;
      offset += take;
      if (len > 0) {
        start += ends[idx]! - skip;
        idx++;
      }
    }
  }
}

const EMPTY = new Uint8Array(0);
