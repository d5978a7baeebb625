// RACK (RFC 8985 §6): loss detection by time. A segment is lost once a segment sent after it
// has been delivered (ACKed or SACKed) and more than RACK.rtt + the reordering window has
// passed since it was sent. Original transmissions are logged as (end sequence, time), both
// increasing, so "every un-SACKed byte sent at or before T is lost" is one binary search: the
// result is RackState.lostTo, which the SACK scoreboard's hole tests honour alongside RFC 6675's
// DupThresh until reordering is seen, alone after (as Linux). Retransmissions (Tcb.rtxMarks) take
// part by their resend time: one delivered can be RACK's segment, one not delivered is lost by the
// same test (recovery.ts). The reordering window (§6.2 step 4) is 0 until reordering is seen, then
// min_rtt/4 times a multiplier that D-SACKs raise (once per round trip, decaying after 16
// recoveries). A reorder timer (Tcb.rackAt) re-runs the test when the next segment would expire.
// TransmitLog, RackState; rackOnSend/rackOnAck/rackOnDsack/rackOnRecoveryEnd/rackOnTimeout/rackDetect/
// rackLostTo/rackReorderingSeen/rackRetransmissionWait/rackSentAfter/rackDupThresh.
import { seqGe, seqGt, seqLe, seqLt, seqSub } from "./seq.ts";
import type { SackScoreboard } from "./scoreboard.ts";
import { NONE, type RtxMark, type Tcb } from "./state.ts";

/** A power of two (indices wrap with a mask). */
const INITIAL_CAPACITY = 16;
/** A microsecond: a deadline computed as a sum may come out a hair after the timer that fires for it. */
export const RACK_TIME_SLACK_MS = 0.001;

/** Original transmissions of one connection in send order: (end sequence, send time) pairs. */
export class TransmitLog {
  #end = new Float64Array(INITIAL_CAPACITY);
  #time = new Float64Array(INITIAL_CAPACITY);
  #head = 0;
  #count = 0;

  get empty(): boolean {
    return this.#count === 0;
  }

  /** Appends a transmission ending at `end`, sent at `time` (one sent at the same time extends the last). */
  push(end: number, time: number): void {
    const mask = this.#end.length - 1;
    if (this.#count > 0) {
      const last = (this.#head + this.#count - 1) & mask;
      if (this.#time[last] === time) {
        this.#end[last] = end;
        return;
      }
    }
    if (this.#count === this.#end.length) {
      const cap = this.#end.length;
      const e = new Float64Array(cap * 2),
        t = new Float64Array(cap * 2);
      for (let i = 0; i < this.#count; i++) {
        e[i] = this.#end[(this.#head + i) & mask]!;
        t[i] = this.#time[(this.#head + i) & mask]!;
      }
      this.#end = e;
      this.#time = t;
      this.#head = 0;
    }
    const i = (this.#head + this.#count) & (this.#end.length - 1);
    this.#end[i] = end;
    this.#time[i] = time;
    this.#count++;
  }

  /** Drops transmissions wholly at or below `seq` (cumulatively acknowledged). */
  dropTo(seq: number): void {
    const mask = this.#end.length - 1;
    while (this.#count > 0 && seqLe(this.#end[this.#head]!, seq)) {
      this.#head = (this.#head + 1) & mask;
      this.#count--;
    }
  }

  /** Forgets every transmission (keeps the arrays). */
  clear(): void {
    this.#head = 0;
    this.#count = 0;
  }

  #at(k: number, arr: Float64Array): number {
    return arr[(this.#head + k) & (arr.length - 1)]!;
  }

  /** Send time of the transmission holding `seq`, or -1. */
  timeOf(seq: number): number {
    let lo = 0,
      hi = this.#count;
    while (lo < hi) {
      const m = (lo + hi) >>> 1;
      if (seqLe(this.#at(m, this.#end), seq)) lo = m + 1;
      else hi = m;
    }
    return lo < this.#count ? this.#at(lo, this.#time) : -1;
  }

  /** End of the last transmission sent at or before `t` (before `t` when `strictly`), or undefined. */
  endSentBy(t: number, strictly = false): number | undefined {
    let lo = 0,
      hi = this.#count;
    while (lo < hi) {
      const m = (lo + hi) >>> 1;
      const at = this.#at(m, this.#time);
      if (at < t || (at === t && !strictly)) lo = m + 1;
      else hi = m;
    }
    return lo === 0 ? undefined : this.#at(lo - 1, this.#end);
  }

  /** Send time of the first transmission after `t`, or -1. */
  firstSentAfter(t: number): number {
    let lo = 0,
      hi = this.#count;
    while (lo < hi) {
      const m = (lo + hi) >>> 1;
      if (this.#at(m, this.#time) <= t) lo = m + 1;
      else hi = m;
    }
    return lo < this.#count ? this.#at(lo, this.#time) : -1;
  }
}

/** RACK variables of one connection (RFC 8985 §5.2). */
export class RackState {
  readonly log = new TransmitLog();
  /** Send time of the most recently sent data delivered (-1 = none). */
  xmitTs = -1;
  /**
   * RACK.end_seq, which breaks a tie of send times: the end of RACK's segment, or for a
   * retransmission SND.MAX when it was resent (originals at the same instant ending there or
   * below left before it), with `xmitOrder` its retransmission count (-1 for an original).
   */
  xmitEnd = 0;
  xmitOrder = -1;
  rtt = 0;
  reorderingSeen = false;
  reoWndMult = 1;
  reoWndPersist = 0;
  dsackRound = false;
  dsackRoundEnd = 0;
  /** Un-SACKed data below this is lost by the time test. */
  lostTo: number;
  constructor(sndUna: number) {
    this.lostTo = sndUna;
  }
  /** Back to the state of `new RackState(sndUna)`, reusing the log's arrays. */
  reset(sndUna: number): void {
    this.log.clear();
    this.xmitTs = -1;
    this.xmitEnd = 0;
    this.xmitOrder = -1;
    this.rtt = 0;
    this.reorderingSeen = false;
    this.reoWndMult = 1;
    this.reoWndPersist = 0;
    this.dsackRound = false;
    this.dsackRoundEnd = 0;
    this.lostTo = sndUna;
  }
  /** Nothing worth keeping once the log is empty. */
  get idle(): boolean {
    return this.log.empty && !this.reorderingSeen && this.reoWndMult === 1 && !this.dsackRound;
  }
}

function rackState(c: Tcb): RackState {
  // a request/response connection goes idle after every reply: its state goes back to the layer
  // and a later one reuses it (a fresh one allocated two typed arrays per reply, 8% of an HTTP
  // keep-alive run), without an idle connection holding one
  return c.rack ?? (c.rack = c.ctx.takeRackState(c.sndUna));
}

/** Un-SACKed data below this is lost by RACK's time test (SND.UNA: nothing). */
export function rackLostTo(c: Tcb): number {
  return c.rack === null ? c.sndUna : c.rack.lostTo;
}

/**
 * The DupThresh that marks losses alongside RACK: none once reordering was seen (Linux with RACK
 * marks losses by time only, tcp_rack_mark_lost; the window below is what tolerates the
 * reordering), else the connection's (RFC 6675, raised by undos).
 */
export function rackDupThresh(c: Tcb): number {
  return c.rack !== null && c.rack.reorderingSeen ? Number.POSITIVE_INFINITY : c.reordering;
}

/** An original transmission of data ending at `end` left now. */
export function rackOnSend(c: Tcb, end: number, now: number): void {
  if (!c.sackOk || !c.ctx.options.rack) return;
  rackState(c).log.push(end, now);
}

/** Reordering was seen (an undo): the reordering window stays open from now on. */
export function rackReorderingSeen(c: Tcb): void {
  if (c.sackOk && c.ctx.options.rack) rackState(c).reorderingSeen = true;
}

/** RFC 8985 §6.2 step 4: the reordering window. */
function reorderWindow(c: Tcb, r: RackState): number {
  // min_rtt from the RTT estimator's samples (cumulative ACKs, timestamps), as Linux's tcp_min_rtt
  const minRtt = Math.min(c.rtt.minRtt, c.rtt.srtt);
  if (!r.reorderingSeen) {
    if (c.inRecovery || c.retries > 0) return 0;
    if (c.scoreboard !== null && c.scoreboard.sacked >= c.reordering * c.mss) return 0;
  }
  return Math.min((r.reoWndMult * minRtt) / 4, c.rtt.srtt);
}

/**
 * How long after its resend a retransmission with data sent later delivered is lost: RACK.rtt +
 * the reordering window (0 without RACK state: at once).
 */
export function rackRetransmissionWait(c: Tcb): number {
  const r = c.rack;
  return r === null || r.xmitTs < 0 ? 0 : r.rtt + reorderWindow(c, r);
}

/**
 * After an ACK was processed (scoreboard and SND.UNA updated): RACK.xmit_ts / RACK.rtt from the
 * most recently sent data delivered (§6.2 step 2), reordering seen (step 3), then the loss test.
 */
export function rackOnAck(c: Tcb, now: number, reordered: boolean): void {
  const r = c.rack;
  if (r === null) return;
  if (seqLt(r.lostTo, c.sndUna)) r.lostTo = c.sndUna;
  if (r.dsackRound && seqGe(c.sndUna, r.dsackRoundEnd)) r.dsackRound = false;
  // (before anything else: the ACK that shows the reordering may fill the last hole)
  if (reordered) r.reorderingSeen = true;
  r.log.dropTo(c.sndUna);
  const sb = c.scoreboard;
  if (r.log.empty || sb === null || sb.empty) {
    c.rackAt = NONE;
    if (r.idle) {
      c.rack = null;
      c.ctx.releaseRackState(r);
    }
    return;
  }
  // RFC 8985 §6.2 step 2: sent after RACK's segment, or at the same time and ending later
  // (Linux's tcp_rack_sent_after): a burst sent at one instant refreshes RACK.rtt as it is delivered
  const high = sb.highest(c.sndUna);
  const t = r.log.timeOf((high - 1) >>> 0);
  if (t > r.xmitTs || (t === r.xmitTs && seqGt(high, r.xmitEnd))) {
    r.xmitTs = t;
    r.xmitEnd = high;
    r.xmitOrder = -1;
    r.rtt = now - t;
  }
  rackAdvanceByRetransmissions(c, r, sb, now);
  rackDetect(c, now);
}

/**
 * RFC 8985 §6.2 step 2 for retransmissions (Linux's tcp_rack_advance on a retransmitted skb): one
 * delivered whole is RACK's segment when sent later, timed from its resend, unless that RTT is
 * below min_rtt (the original, not the retransmission, arrived). Delivered ones are forgotten (as
 * Linux's retrans_out no longer counts a SACKed retransmission).
 */
function rackAdvanceByRetransmissions(c: Tcb, r: RackState, sb: SackScoreboard, now: number): void {
  const marks = c.rtxMarks;
  if (marks === null) return;
  let w = 0;
  for (const m of marks) {
    const left = seqGt(m.start, c.sndUna) ? m.start : c.sndUna;
    if (seqLt(left, m.end) && sb.sackedBetween(left, m.end) < seqSub(m.end, left)) {
      marks[w++] = m;
      continue;
    }
    if (sentAfter(m.at, m.marker, m.order, r.xmitTs, r.xmitEnd, r.xmitOrder) && now - m.at >= c.rtt.minRtt) {
      r.xmitTs = m.at;
      r.xmitEnd = m.marker;
      r.xmitOrder = m.order;
      r.rtt = now - m.at;
    }
  }
  marks.length = w;
}

/** (t1, end1, order1) left after (t2, end2, order2): Linux's tcp_rack_sent_after, with the tie order above. */
function sentAfter(t1: number, end1: number, order1: number, t2: number, end2: number, order2: number): boolean {
  return t1 > t2 || (t1 === t2 && (seqGt(end1, end2) || (end1 === end2 && order1 > order2)));
}

/** RACK's segment left after the retransmission `m` (Linux's tcp_rack_sent_after). */
export function rackSentAfter(c: Tcb, m: RtxMark): boolean {
  const r = c.rack;
  return r !== null && r.xmitTs >= 0 && sentAfter(r.xmitTs, r.xmitEnd, r.xmitOrder, m.at, m.marker, m.order);
}

/** RFC 8985 §6.2 step 5: marks what is lost by now (RackState.lostTo) and arms the reorder timer. */
export function rackDetect(c: Tcb, now: number): void {
  const r = c.rack;
  const sb = c.scoreboard;
  c.rackAt = NONE;
  if (r === null || sb === null || sb.empty || r.xmitTs < 0) return;
  const reo = reorderWindow(c, r);
  // (a microsecond of slack: the reorder timer fires at exactly xmit + rtt + reo, which floating
  // point may put a hair below `now - rtt - reo`, and would then re-arm for the same instant)
  const threshold = Math.min(r.xmitTs, now - r.rtt - reo + RACK_TIME_SLACK_MS);
  let lostTo = r.log.endSentBy(threshold);
  // of data sent at RACK.xmit_ts itself, only what lies below RACK's segment was sent before it
  // (Linux's tcp_rack_sent_after): a burst that left at one instant is not lost above it
  if (lostTo !== undefined && threshold === r.xmitTs && seqGt(lostTo, r.xmitEnd)) {
    const before = r.log.endSentBy(threshold, true);
    lostTo = before !== undefined && seqGt(before, r.xmitEnd) ? before : r.xmitEnd;
  }
  if (lostTo !== undefined && seqGt(lostTo, r.lostTo)) r.lostTo = seqLt(lostTo, c.sndMax) ? lostTo : c.sndMax;
  const next = r.log.firstSentAfter(threshold);
  // a hole above what is lost, sent no later than the newest delivered data, expires later
  if (next >= 0 && next <= r.xmitTs && seqLt(r.lostTo, sb.highest(c.sndUna))) {
    const at = next + r.rtt + reo;
    c.rackAt = at > now ? at : NONE;
  }
}

/** A D-SACK arrived (§6.2 step 4): widen the reordering window once per round trip, for 16 recoveries. */
export function rackOnDsack(c: Tcb): void {
  if (!c.sackOk || !c.ctx.options.rack) return;
  const r = rackState(c);
  if (r.dsackRound) return;
  r.dsackRound = true;
  r.dsackRoundEnd = c.sndMax;
  r.reoWndMult = Math.min(r.reoWndMult + 1, 64);
  r.reoWndPersist = 16;
}

/** A recovery ended: the widened window decays after 16 of them. */
export function rackOnRecoveryEnd(c: Tcb): void {
  const r = c.rack;
  if (r !== null && r.reoWndPersist > 0 && --r.reoWndPersist === 0) r.reoWndMult = 1;
}

/** A retransmission timeout: the log and the time test start again with what is sent next. */
export function rackOnTimeout(c: Tcb): void {
  c.rackAt = NONE;
  const r = c.rack;
  if (r === null) return;
  if (!r.reorderingSeen && r.reoWndMult === 1 && !r.dsackRound) {
    c.rack = null;
    return;
  }
  const fresh = new RackState(c.sndUna);
  fresh.reorderingSeen = r.reorderingSeen;
  fresh.reoWndMult = r.reoWndMult;
  fresh.reoWndPersist = r.reoWndPersist;
  c.rack = fresh;
}
