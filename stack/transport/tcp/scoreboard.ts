// The SACK scoreboard (RFC 6675 §3–4): which bytes above SND.UNA the peer reported as held,
// IsLost() for the holes between them, and the pipe estimate's lost-bytes term.
// SackScoreboard: add/ackedTo/clear/sackedBetween/isHoleLost/nextLostHole/lostBytesFrom/skipSacked/
// nextSackedAbove/lastUnsackedBelow.
import { seqGe, seqGt, seqLe, seqLt, seqMax, seqMin, seqSub } from "./seq.ts";

/** RFC 6675 §2 DupThresh (the default; a connection raises its own when it sees reordering). */
export const DUP_THRESH = 3;
/** Highest DupThresh a connection adapts to (Linux's tcp_max_reordering). */
export const MAX_REORDERING = 300;
/** Most disjoint SACKed ranges tracked. */
export const MAX_BLOCKS = 1024;

interface Block {
  left: number;
  right: number;
}

/** SACKed ranges above SND.UNA, sorted and disjoint. */
export class SackScoreboard {
  blocks: Block[] = [];
  /** Total SACKed bytes. */
  sacked = 0;

  /** True when nothing is SACKed. */
  get empty(): boolean {
    return this.blocks.length === 0;
  }

  /** Highest SACKed sequence (exclusive), or `fallback` when empty. */
  highest(fallback: number): number {
    const b = this.blocks[this.blocks.length - 1];
    return b === undefined ? fallback : b.right;
  }

  /** Records a block reported by the peer, clipped to (sndUna, sndMax]. Returns true if new bytes were SACKed. */
  add(left: number, right: number, sndUna: number, sndMax: number): boolean {
    if (seqLe(right, sndUna) || seqGt(right, sndMax) || seqGe(left, right)) return false;
    if (seqLt(left, sndUna)) left = sndUna;
    const bl = this.blocks;
    let i = 0;
    while (i < bl.length && seqLt(bl[i]!.right, left)) i++;
    let j = i;
    let covered = 0;
    let nl = left,
      nr = right;
    while (j < bl.length && seqLe(bl[j]!.left, right)) {
      covered += seqSub(bl[j]!.right, bl[j]!.left);
      nl = seqMin(nl, bl[j]!.left);
      nr = seqMax(nr, bl[j]!.right);
      j++;
    }
    const added = seqSub(nr, nl) - covered;
    if (j === i + 1 && added === 0) return false;
    // a peer cannot make us track unboundedly many ranges
    if (j === i && bl.length >= MAX_BLOCKS) return false;
    bl.splice(i, j - i, { left: nl, right: nr });
    this.sacked += added;
    return added > 0;
  }

  /** Drops everything at or below the new SND.UNA. */
  ackedTo(sndUna: number): void {
    const bl = this.blocks;
    let k = 0;
    while (k < bl.length && seqLe(bl[k]!.right, sndUna)) {
      this.sacked -= seqSub(bl[k]!.right, bl[k]!.left);
      k++;
    }
    if (k > 0) bl.splice(0, k);
    const f = bl[0];
    if (f !== undefined && seqLt(f.left, sndUna)) {
      this.sacked -= seqSub(sndUna, f.left);
      f.left = sndUna;
    }
  }

  /** Forgets all SACK information (RFC 2018 §8: the receiver may renege). */
  clear(): void {
    this.blocks = [];
    this.sacked = 0;
  }

  /** SACKed bytes in [from, to). */
  sackedBetween(from: number, to: number): number {
    let n = 0;
    for (const b of this.blocks) {
      const l = seqMax(b.left, from),
        r = seqMin(b.right, to);
      if (seqGt(r, l)) n += seqSub(r, l);
    }
    return n;
  }

  /** If seq is inside a SACKed block, the block's right edge; else seq. */
  skipSacked(seq: number): number {
    for (const b of this.blocks) {
      if (seqGe(seq, b.left) && seqLt(seq, b.right)) return b.right;
      if (seqGt(b.left, seq)) break;
    }
    return seq;
  }

  /** The left edge of the first SACKed block above seq, or undefined. */
  nextSackedAbove(seq: number): number | undefined {
    for (const b of this.blocks) if (seqGt(b.left, seq)) return b.left;
    return undefined;
  }

  /** The highest un-SACKed range in [sndUna, end), or undefined when all of it is SACKed. */
  lastUnsackedBelow(end: number, sndUna: number): Block | undefined {
    const bl = this.blocks;
    for (let k = bl.length - 1; k >= 0; k--) {
      const b = bl[k]!;
      if (seqGe(b.left, end)) continue;
      if (seqLt(b.right, end)) return { left: b.right, right: end };
      end = b.left;
    }
    return seqGt(end, sndUna) ? { left: sndUna, right: end } : undefined;
  }

  /** RFC 6675 §4 IsLost for the hole below block `k`: DupThresh blocks or more than (DupThresh−1)·MSS bytes above it. */
  isHoleLost(k: number, mss: number, dupThresh = DUP_THRESH): boolean {
    const above = this.blocks.length - k;
    if (above >= dupThresh) return true;
    let bytes = 0;
    for (let i = k; i < this.blocks.length; i++) bytes += seqSub(this.blocks[i]!.right, this.blocks[i]!.left);
    return bytes > (dupThresh - 1) * mss;
  }

  /**
   * The first lost, un-SACKed range at or above `from` (clipped there), or undefined. A hole is
   * lost by RFC 6675 IsLost (DupThresh) or, below `timeLostTo`, by RACK's time test (RFC 8985).
   */
  nextLostHole(from: number, sndUna: number, mss: number, dupThresh = DUP_THRESH, timeLostTo = sndUna): Block | undefined {
    let holeStart = sndUna;
    for (let k = 0; k < this.blocks.length; k++) {
      const b = this.blocks[k]!;
      if (seqGt(b.left, holeStart) && seqGt(b.left, from)) {
        const left = seqMax(holeStart, from);
        if (this.isHoleLost(k, mss, dupThresh)) return { left, right: b.left };
        if (seqLt(left, timeLostTo)) return { left, right: seqMin(b.left, timeLostTo) };
        return undefined;
      }
      holeStart = b.right;
    }
    return undefined;
  }

  /** Bytes in lost holes at or above `from` (not yet retransmitted when from = HighRxt). */
  lostBytesFrom(from: number, sndUna: number, mss: number, dupThresh = DUP_THRESH, timeLostTo = sndUna): number {
    let n = 0;
    let holeStart = sndUna;
    for (let k = 0; k < this.blocks.length; k++) {
      const b = this.blocks[k]!;
      if (seqGt(b.left, holeStart)) {
        const l = seqMax(holeStart, from);
        const r = this.isHoleLost(k, mss, dupThresh) ? b.left : seqMin(b.left, timeLostTo);
        if (seqGt(r, l)) n += seqSub(r, l);
      }
      holeStart = b.right;
    }
    return n;
  }

  /** RFC 6675 §5 / RFC 8985: is SND.UNA itself lost? */
  unaLost(sndUna: number, mss: number, dupThresh = DUP_THRESH, timeLostTo = sndUna): boolean {
    const f = this.blocks[0];
    return f !== undefined && seqGt(f.left, sndUna) && (seqLt(sndUna, timeLostTo) || this.isHoleLost(0, mss, dupThresh));
  }
}
