// The send buffer: bytes from SND.UNA onwards (unacknowledged, then unsent) kept as a list
// of chunks, never concatenated. Large writes are kept by reference (the writer gives up
// the buffer, as with Node's Writable); small writes are coalesced into a tail block.
// A cursor remembers the last chunk looked up, so sending sequentially is O(1) per segment.
// SendBuffer: push/consume/copyTo/length.

/** Writes at least this long are kept by reference instead of copied. */
const BY_REFERENCE_MIN = 2048;
/** Size of the largest block small writes are coalesced into. */
const COALESCE_BLOCK = 16384;
/** First coalescing block after the buffer emptied; each next one doubles up to COALESCE_BLOCK
 * (a request/response exchange then does not allocate and zero 16 KiB per message). */
const FIRST_BLOCK = 512;

/** A FIFO of bytes addressed by offset from its start. */
export class SendBuffer {
  #chunks: Uint8Array[] = [];
  /** Index of the first live chunk in #chunks. */
  #head = 0;
  /** Bytes of the first live chunk already consumed. */
  #headOffset = 0;
  #length = 0;
  /** Spare capacity at the end of the last chunk (a coalescing block), or null. */
  #tailBlock: Uint8Array | null = null;
  #tailUsed = 0;
  #cursorIndex = 0;
  #cursorStart = 0;

  /** Bytes held. */
  get length(): number { return this.#length; }

  /** Appends bytes. */
  push(data: Uint8Array): void {
    const n = data.length;
    if (n === 0) return;
    this.#length += n;
    if (n >= BY_REFERENCE_MIN) {
      this.#tailBlock = null;
      this.#chunks.push(data);
      return;
    }
    let src = 0;
    while (src < n) {
      if (this.#tailBlock === null || this.#tailUsed === this.#tailBlock.length) {
        const prev = this.#tailBlock === null ? 0 : this.#tailBlock.length;
        this.#tailBlock = new Uint8Array(prev === 0 ? Math.max(FIRST_BLOCK, Math.min(COALESCE_BLOCK, n)) : Math.min(COALESCE_BLOCK, prev * 2));
        this.#tailUsed = 0;
        this.#chunks.push(this.#tailBlock.subarray(0, 0));
      }
      const take = Math.min(n - src, this.#tailBlock.length - this.#tailUsed);
      this.#tailBlock.set(data.subarray(src, src + take), this.#tailUsed);
      this.#tailUsed += take;
      this.#chunks[this.#chunks.length - 1] = this.#tailBlock.subarray(0, this.#tailUsed);
      src += take;
    }
  }

  /** Drops `n` bytes from the front (they were acknowledged). */
  consume(n: number): void {
    if (n > this.#length) n = this.#length;
    this.#length -= n;
    while (n > 0) {
      const c = this.#chunks[this.#head]!;
      const left = c.length - this.#headOffset;
      if (n < left) { this.#headOffset += n; break; }
      n -= left;
      this.#chunks[this.#head] = EMPTY;
      this.#head++;
      this.#headOffset = 0;
    }
    if (this.#head === this.#chunks.length) {
      this.#chunks.length = 0;
      this.#head = 0;
      this.#tailBlock = null;
    } else if (this.#head > 64 && this.#head * 2 > this.#chunks.length) {
      this.#chunks = this.#chunks.slice(this.#head);
      this.#head = 0;
    }
    this.#cursorIndex = this.#head;
    this.#cursorStart = 0;
  }

  /** Copies `len` bytes starting `offset` bytes from the front into dst at dstOff. */
  copyTo(offset: number, len: number, dst: Uint8Array, dstOff: number): void {
    if (len <= 0) return;
    let idx: number;
    let start: number;
    if (this.#cursorIndex >= this.#head && this.#cursorIndex < this.#chunks.length && this.#cursorStart <= offset) {
      idx = this.#cursorIndex; start = this.#cursorStart;
    } else {
      idx = this.#head; start = 0;
    }
    for (;;) {
      const c = this.#chunks[idx]!;
      const skip = idx === this.#head ? this.#headOffset : 0;
      const clen = c.length - skip;
      if (offset < start + clen) break;
      start += clen;
      idx++;
    }
    this.#cursorIndex = idx;
    this.#cursorStart = start;
    while (len > 0) {
      const c = this.#chunks[idx]!;
      const skip = idx === this.#head ? this.#headOffset : 0;
      const from = skip + (offset - start);
      const take = Math.min(len, c.length - from);
      dst.set(take === c.length && from === 0 ? c : c.subarray(from, from + take), dstOff);
      dstOff += take; len -= take; offset += take;
      if (len > 0) { start += c.length - skip; idx++; }
    }
  }
}

const EMPTY = new Uint8Array(0);
