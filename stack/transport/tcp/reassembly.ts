// The out-of-order queue (RFC 9293 §3.10.7.4 "segment text"): segments beyond RCV.NXT are
// held, trimmed against each other, until the hole before them fills. It holds at most
// `budget` bytes; a segment that does not fit is dropped (the sender retransmits it).
// Both its bytes and its number of pieces are bounded.
// It also produces the SACK blocks by recency (RFC 2018 §4: the block with the latest segment
// first, then the blocks in the order they were last changed) and reports the part of an
// insert that duplicated data already held (for D-SACK, RFC 2883 §4).
// ReassemblyQueue: insert/takeInOrder/sackBlocks/duplicate/bytes/clear.
import type { SackBlock } from "../../wire/tcp.ts";
import { seqAdd, seqGe, seqGt, seqLe, seqLt, seqSub } from "./seq.ts";

interface Piece {
  seq: number;
  data: Uint8Array;
}

/** Ranges remembered for SACK recency (Linux keeps 4; more here, the rest follow in sequence order). */
const MAX_RECENT = 8;

/** Out-of-order segments ordered by sequence number. */
export class ReassemblyQueue {
  #pieces: Piece[] = [];
  #bytes = 0;
  /** Recently inserted ranges, the most recent first, merged where they touch (as Linux's selective_acks). */
  #recent: SackBlock[] = [];
  #dupLeft = 0;
  #dupRight = 0;
  /** Most separate pieces held (bounds the work per insert against floods of tiny segments). */
  readonly maxPieces: number;
  constructor(
    readonly budget: number,
    maxPieces = Math.max(1024, Math.floor(budget / 512)),
  ) {
    this.maxPieces = maxPieces;
  }

  /** Bytes held. */
  get bytes(): number {
    return this.#bytes;
  }
  /** Number of separate pieces held. */
  get count(): number {
    return this.#pieces.length;
  }
  /** True when nothing is held. */
  get empty(): boolean {
    return this.#pieces.length === 0;
  }

  /** Adds data at seq (must be after rcvNxt). Returns false when dropped for lack of budget. */
  insert(seq: number, data: Uint8Array): boolean {
    const p = this.#pieces;
    const origSeq = seq;
    const origEnd = seqAdd(seq, data.length);
    this.#dupLeft = this.#dupRight = 0;
    let i = 0;
    while (i < p.length && seqLt(p[i]!.seq, seq)) i++;
    // Trim against the previous piece.
    if (i > 0) {
      const prev = p[i - 1]!;
      const prevEnd = seqAdd(prev.seq, prev.data.length);
      if (seqGt(prevEnd, seq)) {
        const cut = seqSub(prevEnd, seq);
        this.#noteDuplicate(seq, cut >= data.length ? origEnd : prevEnd);
        if (cut >= data.length) {
          this.#touch(origSeq, origEnd);
          return true;
        }
        data = data.subarray(cut);
        seq = prevEnd;
      }
    }
    // Drop following pieces fully covered; trim our tail against the next one.
    const end = seqAdd(seq, data.length);
    let j = i;
    while (j < p.length && seqLe(seqAdd(p[j]!.seq, p[j]!.data.length), end)) {
      this.#noteDuplicate(p[j]!.seq, seqAdd(p[j]!.seq, p[j]!.data.length));
      this.#bytes -= p[j]!.data.length;
      j++;
    }
    if (j > i) p.splice(i, j - i);
    if (i < p.length && seqLt(p[i]!.seq, end)) {
      this.#noteDuplicate(p[i]!.seq, end);
      data = data.subarray(0, seqSub(p[i]!.seq, seq));
    }
    if (data.length === 0) {
      this.#touch(origSeq, origEnd);
      return true;
    }
    if (this.#bytes + data.length > this.budget || p.length >= this.maxPieces) {
      this.#dupLeft = this.#dupRight = 0;
      return false;
    }
    p.splice(i, 0, { seq, data });
    this.#bytes += data.length;
    this.#touch(origSeq, origEnd);
    return true;
  }

  /** The first range of the last insert that was already held ([left, right), or undefined: none). */
  duplicate(): SackBlock | undefined {
    return this.#dupLeft === this.#dupRight ? undefined : { left: this.#dupLeft, right: this.#dupRight };
  }

  #noteDuplicate(left: number, right: number): void {
    if (this.#dupLeft === this.#dupRight) {
      this.#dupLeft = left;
      this.#dupRight = right;
    } else if (left === this.#dupRight) this.#dupRight = right;
  }

  /** Moves [left, right) (merged with the remembered ranges it touches) to the front of the recency list. */
  #touch(left: number, right: number): void {
    const r = this.#recent;
    let w = 0;
    for (let k = 0; k < r.length; k++) {
      const b = r[k]!;
      if (seqLe(b.left, right) && seqLe(left, b.right)) {
        if (seqLt(b.left, left)) left = b.left;
        if (seqGt(b.right, right)) right = b.right;
        continue;
      }
      r[w++] = b;
    }
    r.length = Math.min(w, MAX_RECENT - 1);
    r.unshift({ left, right });
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

  /** Up to `max` SACK blocks of contiguous held data by recency (RFC 2018 §4), then the rest in sequence order. */
  sackBlocks(max: number): SackBlock[] {
    const runs: SackBlock[] = [];
    const p = this.#pieces;
    let k = 0;
    while (k < p.length) {
      const left = p[k]!.seq;
      let right = seqAdd(left, p[k]!.data.length);
      k++;
      while (k < p.length && p[k]!.seq === right) {
        right = seqAdd(right, p[k]!.data.length);
        k++;
      }
      runs.push({ left, right });
    }
    const out: SackBlock[] = [];
    const used: boolean[] = [];
    const r = this.#recent;
    let w = 0;
    for (const b of r) {
      // the run holding the range's last byte (its start may have been delivered since)
      const last = seqSub(b.right, 1) >>> 0;
      let found = -1;
      for (let x = 0; x < runs.length; x++) {
        if (seqGe(last, runs[x]!.left) && seqLt(last, runs[x]!.right)) {
          found = x;
          break;
        }
      }
      if (found < 0) continue;
      r[w++] = b;
      if (used[found] === true) continue;
      used[found] = true;
      if (out.length < max) out.push(runs[found]!);
    }
    r.length = w;
    for (let x = 0; x < runs.length && out.length < max; x++) if (used[x] !== true) out.push(runs[x]!);
    return out;
  }

  /** Drops everything. */
  clear(): void {
    this.#pieces = [];
    this.#bytes = 0;
    this.#recent = [];
  }

  /** True if seq lies inside held data. */
  holds(seq: number): boolean {
    for (const x of this.#pieces) if (seqGe(seq, x.seq) && seqLt(seq, seqAdd(x.seq, x.data.length))) return true;
    return false;
  }
}
