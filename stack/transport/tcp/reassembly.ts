// The out-of-order queue (RFC 9293 §3.10.7.4 "segment text"): segments beyond RCV.NXT are
// held, trimmed against each other, until the hole before them fills. It holds at most
// `budget` bytes; a segment that does not fit is dropped (the sender retransmits it).
// Both its bytes and its number of pieces are bounded.
// It also produces the SACK blocks (RFC 2018 §4: the block with the latest segment first).
// ReassemblyQueue: insert/takeInOrder/sackBlocks/bytes/clear.
import type { SackBlock } from "../../wire/tcp.ts";
import { seqAdd, seqGe, seqGt, seqLe, seqLt, seqSub } from "./seq.ts";

interface Piece { seq: number; data: Uint8Array }

/** Out-of-order segments ordered by sequence number. */
export class ReassemblyQueue {
  #pieces: Piece[] = [];
  #bytes = 0;
  #lastSeq = 0;
  /** Most separate pieces held (bounds the work per insert against floods of tiny segments). */
  readonly maxPieces: number;
  constructor(readonly budget: number, maxPieces = Math.max(1024, Math.floor(budget / 512))) {
    this.maxPieces = maxPieces;
  }

  /** Bytes held. */
  get bytes(): number { return this.#bytes; }
  /** Number of separate pieces held. */
  get count(): number { return this.#pieces.length; }
  /** True when nothing is held. */
  get empty(): boolean { return this.#pieces.length === 0; }

  /** Adds data at seq (must be after rcvNxt). Returns false when dropped for lack of budget. */
  insert(seq: number, data: Uint8Array): boolean {
    const p = this.#pieces;
    let i = 0;
    while (i < p.length && seqLt(p[i]!.seq, seq)) i++;
    // Trim against the previous piece.
    if (i > 0) {
      const prev = p[i - 1]!;
      const prevEnd = seqAdd(prev.seq, prev.data.length);
      if (seqGt(prevEnd, seq)) {
        const cut = seqSub(prevEnd, seq);
        if (cut >= data.length) { this.#lastSeq = prev.seq; return true; }
        data = data.subarray(cut);
        seq = prevEnd;
      }
    }
    // Drop following pieces fully covered; trim our tail against the next one.
    const end = seqAdd(seq, data.length);
    let j = i;
    while (j < p.length && seqLe(seqAdd(p[j]!.seq, p[j]!.data.length), end)) { this.#bytes -= p[j]!.data.length; j++; }
    if (j > i) p.splice(i, j - i);
    if (i < p.length && seqLt(p[i]!.seq, end)) data = data.subarray(0, seqSub(p[i]!.seq, seq));
    if (data.length === 0) return true;
    if (this.#bytes + data.length > this.budget || p.length >= this.maxPieces) return false;
    p.splice(i, 0, { seq, data });
    this.#bytes += data.length;
    this.#lastSeq = seq;
    return true;
  }

  /** Removes and returns the data that now starts at or before rcvNxt (trimmed), or undefined. */
  takeInOrder(rcvNxt: number): Uint8Array | undefined {
    const p = this.#pieces;
    while (p.length > 0) {
      const first = p[0]!;
      if (seqGt(first.seq, rcvNxt)) return undefined;
      p.shift();
      this.#bytes -= first.data.length;
      const skip = seqSub(rcvNxt, first.seq);
      if (skip < first.data.length) return skip === 0 ? first.data : first.data.subarray(skip);
    }
    return undefined;
  }

  /** Up to `max` SACK blocks of contiguous held data, the most recently changed first. */
  sackBlocks(max: number): SackBlock[] {
    const runs: SackBlock[] = [];
    const p = this.#pieces;
    let k = 0;
    let first = -1;
    while (k < p.length) {
      const left = p[k]!.seq;
      let right = seqAdd(left, p[k]!.data.length);
      let hasLast = p[k]!.seq === this.#lastSeq;
      k++;
      while (k < p.length && p[k]!.seq === right) {
        if (p[k]!.seq === this.#lastSeq) hasLast = true;
        right = seqAdd(right, p[k]!.data.length);
        k++;
      }
      if (hasLast) first = runs.length;
      runs.push({ left, right });
    }
    if (first > 0) runs.unshift(runs.splice(first, 1)[0]!);
    return runs.length > max ? runs.slice(0, max) : runs;
  }

  /** Drops everything. */
  clear(): void { this.#pieces = []; this.#bytes = 0; }

  /** True if seq lies inside held data. */
  holds(seq: number): boolean {
    for (const x of this.#pieces) if (seqGe(seq, x.seq) && seqLt(seq, seqAdd(x.seq, x.data.length))) return true;
    return false;
  }
}
