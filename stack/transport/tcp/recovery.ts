// Loss recovery behind the LossRecovery interface (state.ts): NewReno fast recovery
// (RFC 6582) without SACK, SACK-based recovery (RFC 6675) with lost-retransmission detection
// when SACK is negotiated. The window arithmetic itself is the CongestionControl's.
import { seqAdd, seqGe, seqGt, seqLe, seqLt, seqMax, seqSub } from "./seq.ts";
import { SackScoreboard } from "./scoreboard.ts";
import { retransmit, sendOne } from "./sender.ts";
import { prepareUndo } from "./undo.ts";
import { recoveryRecord, type LossRecovery, type RtxMark, type Tcb } from "./state.ts";
import { RACK_TIME_SLACK_MS, rackDupThresh, rackLostTo, rackRetransmissionWait, rackSentAfter } from "./rack.ts";
import { FRTO_PROBING } from "./frto.ts";

/** Most retransmissions tracked per recovery for lost-retransmission detection. */
const MAX_RTX_MARKS = 256;

/**
 * Loss detection after an ACK or the RACK timer: RFC 6582 §3.2 step 2 (not again before
 * `recover`), RFC 6675 §5 (with SACK, once the post-timeout resend has caught up, SACK evidence
 * suffices): DupThresh duplicate ACKs, SND.UNA lost by IsLost, or by RACK's time test.
 */
export function detectLoss(c: Tcb, now: number): void {
  if (c.inRecovery || c.sndMax === c.sndUna) return;
  // F-RTO's new data is out (RFC 5682 §2 step 2b): the next ACK decides, not SACK evidence
  if (c.rec !== null && c.rec.frto === FRTO_PROBING) return;
  if (!seqGe(c.sndUna, c.recoverSeq) && !(c.sackOk && c.sndNxt === c.sndMax)) return;
  const dupThresh = rackDupThresh(c);
  if (c.dupAcks >= dupThresh) {
    c.recovery.enter(c, now);
    return;
  }
  const sb = c.scoreboard;
  if (!c.sackOk || sb === null) return;
  if (sb.unaLost(c.sndUna, c.mss, dupThresh)) {
    c.recovery.enter(c, now);
    return;
  }
  if (seqLt(c.sndUna, rackLostTo(c)) && sb.unaLost(c.sndUna, c.mss, dupThresh, rackLostTo(c))) {
    c.ctx.stats.rackRecoveries++;
    c.recovery.enter(c, now);
  }
}

/** Shared entry into recovery: counts it, sets `recover` (RFC 6582 §3.2 step 2), reduces the window. */
function beginRecovery(c: Tcb, now: number): void {
  c.ctx.stats.fastRetransmits++;
  prepareUndo(c, false, retransmittedInFlight(c));
  c.inRecovery = true;
  c.recoverSeq = c.sndMax;
  // a loss during an ECE reduction continues it (Linux's tcp_enter_recovery: no second cut)
  if (c.ecn !== null && c.ecn.cwr) c.ecn.cwr = false;
  else reduceWindow(c, now);
  c.rttTime = -1;
}

/** Starts a window reduction: ssthresh from the congestion control, PRR's counters from zero. */
function reduceWindow(c: Tcb, now: number): void {
  const r = recoveryRecord(c);
  r.prrRecoverFs = Math.max(c.cc.cwnd, c.mss);
  r.prrDelivered = 0;
  r.prrOut = 0;
  r.prrPipe = -1;
  const flight = seqSub(c.sndMax, c.sndUna) - (c.scoreboard?.sacked ?? 0);
  c.cc.onCongestion(Math.max(flight, 0), c.mss, now);
}

/** PRR applies to this connection's reductions (on, and not a model-based controller). */
function prrPaces(c: Tcb): boolean {
  return c.ctx.options.prr && c.cc.control === undefined;
}

/**
 * RFC 3168 §6.1.2 as Linux's tcp_enter_cwr: an ECE reduces the window as a loss would, with
 * PRR pacing it down to ssthresh over the next round trip (the CWR state), so the ACK that
 * carried the ECE still lets a segment out (it carries CWR); without PRR cwnd is ssthresh at once.
 */
export function beginEcnReduction(c: Tcb, now: number): void {
  const ecn = c.ecn!;
  const prior = c.cc.cwnd;
  reduceWindow(c, now);
  if (!prrPaces(c)) return;
  c.cc.cwnd = prior;
  ecn.cwr = true;
  ecn.recover = c.sndMax;
}

/** An ACK during an ECE reduction: PRR sets the window from what it delivered. */
export function ecnReductionOnAck(c: Tcb, delivered: number, unaAdvanced: boolean): void {
  proportionalRateReduction(c, delivered, unaAdvanced);
}

/** The ECE reduction is over (an ACK passed `recover`): cwnd is ssthresh (Linux's tcp_end_cwnd_reduction). */
export function endEcnReduction(c: Tcb): void {
  c.ecn!.cwr = false;
  c.cc.cwnd = c.cc.ssthresh;
}

/** RFC 6582 NewReno fast retransmit and fast recovery (no SACK). */
export const NEWRENO_RECOVERY: LossRecovery = Object.freeze({
  enter(c: Tcb, now: number): void {
    beginRecovery(c, now);
    retransmit(c, c.sndUna, c.mss);
    // RFC 6582 §3.2 step 3: inflate by the three segments that left the network
    // (a model-based controller sets the window itself)
    if (c.cc.control === undefined) c.cc.cwnd = c.cc.ssthresh + 3 * c.mss;
    c.rtoAt = now + c.rtt.rto;
  },
  onPartialAck(c: Tcb, acked: number): void {
    // RFC 6582 §3.2 step 5: retransmit the next hole, deflate by the amount acknowledged
    const mss = c.mss;
    retransmit(c, c.sndUna, mss);
    if (c.cc.control === undefined) c.cc.cwnd = Math.max(mss, c.cc.cwnd - acked + mss);
  },
  onDuplicateAck(c: Tcb): void {
    // RFC 6582 §3.2 step 4: each further duplicate ACK inflates the window by one segment
    if (c.cc.control === undefined) c.cc.cwnd += c.mss;
  },
  afterAck(): void {},
  onDelivered(): void {},
  send(): boolean {
    return false;
  },
});

/** RFC 6675 SACK-based loss recovery with lost-retransmission detection. */
export const SACK_RECOVERY: LossRecovery = Object.freeze({
  enter(c: Tcb, now: number): void {
    // The ACK that ended the previous recovery may open the next at once (losses sent after its
    // start): holes that recovery retransmitted are still in flight (HighRxt above SND.UNA) and
    // are not resent, as Linux keeps TCPCB_SACKED_RETRANS across episodes; lost-retransmission
    // detection still covers them. The window is reduced; PRR sends what it allows.
    const carried = seqGt(c.highRxt, c.sndUna);
    beginRecovery(c, now);
    if (carried) {
      c.rtoAt = now + c.rtt.rto;
      return;
    }
    const mss = c.mss;
    // RFC 6675 §5 step 4.3: retransmit the first segment at once
    c.highRxt = c.sndUna;
    const end = c.scoreboard === null || c.scoreboard.empty ? seqAdd(c.sndUna, mss) : c.scoreboard.blocks[0]!.left;
    const len = Math.min(mss, seqSub(end, c.sndUna));
    retransmit(c, c.sndUna, len);
    markRetransmission(c, c.sndUna, len);
    c.highRxt = seqAdd(c.sndUna, len);
    c.rtoAt = now + c.rtt.rto;
  },
  onPartialAck(): void {},
  onDuplicateAck(): void {},
  afterAck(c: Tcb, now: number): void {
    detectLostRetransmissions(c, now);
  },
  // (a model-based controller sets the window itself, as Linux skips tcp_cwnd_reduction for BBR)
  onDelivered(c: Tcb, delivered: number, unaAdvanced: boolean): void {
    if (prrPaces(c)) proportionalRateReduction(c, delivered, unaAdvanced);
  },
  send(c: Tcb): boolean {
    sendRecovery(c);
    return true;
  },
});

/** RFC 6675 pipe of a connection in SACK recovery (as Linux's tcp_packets_in_flight). */
export function pipeInRecovery(c: Tcb): number {
  return c.scoreboard === null ? seqSub(c.sndMax, c.sndUna) : pipe(c, c.scoreboard);
}

/** RFC 6675 pipe: bytes in flight, SACKed and lost bytes not counted, retransmissions counted. */
function pipe(c: Tcb, sb: SackScoreboard): number {
  return seqSub(c.sndMax, c.sndUna) - sb.sacked - sb.lostBytesFrom(c.highRxt, c.sndUna, c.mss, rackDupThresh(c), rackLostTo(c));
}

/**
 * RFC 6937 PRR (as Linux's tcp_cwnd_reduction): during recovery the window follows what the
 * peer reports delivered, proportionally (ssthresh/RecoverFS) while pipe is above ssthresh,
 * then as slow start back up to ssthresh (PRR-SSRB), instead of dropping to ssthresh at once.
 */
function proportionalRateReduction(c: Tcb, delivered: number, unaAdvanced: boolean): void {
  if (delivered <= 0) return;
  const sb = c.scoreboard ?? (c.scoreboard = new SackScoreboard());
  const r = recoveryRecord(c);
  r.prrDelivered += delivered;
  const ssthresh = c.cc.ssthresh;
  const inFlight = pipe(c, sb);
  // the entering ACK: its fast retransmission already left (enter()); Linux computes before it
  // (prr_out 0, pipe without it) and forces that one segment out
  const first = r.prrPipe < 0;
  const out = first ? 0 : r.prrOut;
  const base = first ? inFlight - r.prrOut : inFlight;
  // pipe fell by more than this ACK delivered: it marked data lost (Linux's rs->losses)
  const newlyLost = !first && r.prrPipe + (r.prrOut - r.prrOutAtPipe) - delivered > inFlight;
  r.prrPipe = inFlight;
  r.prrOutAtPipe = r.prrOut;
  let sndcnt: number;
  if (base > ssthresh) {
    // RFC 6937's CEIL(prr_delivered * ssthresh / RecoverFS), rounded up to whole segments as
    // Linux counts packets: ssthresh 5 of 10, 3 delivered, 1 out lets a second segment go
    const share = Math.ceil((r.prrDelivered * ssthresh) / r.prrRecoverFs);
    sndcnt = Math.ceil(share / c.mss) * c.mss - out;
  } else {
    // PRR-SSRB as Linux has it: the extra segment only when the ACK advanced SND.UNA and marked
    // nothing newly lost (RFC 6937 always adds it): entering recovery with two holes lost and one
    // segment delivered sends one retransmission, not two
    const extra = unaAdvanced && !newlyLost ? c.mss : 0;
    sndcnt = Math.min(ssthresh - base, Math.max(r.prrDelivered - out, delivered) + extra);
  }
  if (first) sndcnt = Math.max(sndcnt, c.mss);
  c.cc.cwnd = base + Math.max(sndcnt, 0);
}

/** RFC 6675 §5 (C): send while pipe < cwnd: lost retransmissions, lost holes, then new data. */
function sendRecovery(c: Tcb): void {
  const sb = c.scoreboard ?? (c.scoreboard = new SackScoreboard());
  const mss = c.mss;
  let resent = 0;
  for (let guard = 0; guard < 10_000; guard++) {
    if (c.cc.cwnd - (pipe(c, sb) + resent) < mss) break;
    if (c.rate !== null && c.rate.held(c.ctx.clock.now())) break;
    const lost = c.lostRtx;
    if (lost !== null && lost.length > 0) {
      const r = lost[0]!;
      const start = sb.skipSacked(seqMax(r.start, c.sndUna));
      if (seqGe(start, r.end)) {
        lost.shift();
        continue;
      }
      let end = r.end;
      for (const b of sb.blocks)
        if (seqGt(b.left, start)) {
          if (seqLt(b.left, end)) end = b.left;
          break;
        }
      const len = Math.min(mss, seqSub(end, start));
      retransmit(c, start, len);
      markRetransmission(c, start, len);
      c.ctx.stats.lostRetransmits++;
      r.start = seqAdd(start, len);
      resent += len;
      continue;
    }
    const hole = sb.nextLostHole(c.highRxt, c.sndUna, mss, rackDupThresh(c), rackLostTo(c));
    if (hole !== undefined) {
      const len = Math.min(mss, seqSub(hole.right, hole.left));
      retransmit(c, hole.left, len);
      markRetransmission(c, hole.left, len);
      c.highRxt = seqAdd(hole.left, len);
      continue;
    }
    if (!sendOne(c, false)) break;
  }
}

/** Segments retransmitted by an earlier recovery and still unacknowledged (Linux's retrans_out at tcp_init_undo). */
function retransmittedInFlight(c: Tcb): number {
  const marks = c.rtxMarks;
  if (marks === null || !seqGt(c.highRxt, c.sndUna)) return 0;
  let n = 0;
  for (const m of marks) if (seqGt(m.end, c.sndUna)) n += Math.ceil(seqSub(m.end, seqMax(m.start, c.sndUna)) / c.mss);
  return n;
}

/** Recovery ended at `ack`: retransmissions above it stay tracked (the next loss episode may begin at once). */
export function keepRetransmissionsAbove(c: Tcb, ack: number): void {
  const keep = (marks: RtxMark[] | null): RtxMark[] | null => {
    if (marks === null) return null;
    const above = marks.filter((m) => seqGt(m.end, ack));
    return above.length === 0 ? null : above;
  };
  c.rtxMarks = keep(c.rtxMarks);
  c.lostRtx = keep(c.lostRtx);
}

function markRetransmission(c: Tcb, start: number, len: number): void {
  const marks = c.rtxMarks ?? (c.rtxMarks = []);
  if (marks.length >= MAX_RTX_MARKS) marks.shift();
  marks.push({ start, end: seqAdd(start, len), marker: c.sndMax, at: c.ctx.clock.now(), order: c.retransmits });
}

/**
 * RFC 8985 §6.2 for retransmissions: one is lost when the peer SACKed data first sent after it,
 * the retransmitted range is still missing and RACK.rtt + the reordering window passed since it
 * was sent (as Linux's tcp_rack_detect_loss, which times a retransmission from its resend): resend
 * it instead of waiting for the RTO. One that may still arrive reordered arms the reorder timer.
 */
function detectLostRetransmissions(c: Tcb, now: number): void {
  const marks = c.rtxMarks;
  const sb = c.scoreboard;
  if (marks === null || sb === null) return;
  const high = sb.highest(c.sndUna);
  const wait = rackRetransmissionWait(c);
  const rack = c.rack !== null;
  let w = 0;
  for (const m of marks) {
    if (seqLe(m.end, c.sndUna)) continue;
    // (without RACK: data first sent after it was SACKed)
    const later = rack ? rackSentAfter(c, m) : seqGt(high, m.marker);
    if (later && sb.sackedBetween(m.start, m.end) < seqSub(m.end, m.start)) {
      const due = m.at + wait;
      if (due <= now + RACK_TIME_SLACK_MS) {
        (c.lostRtx ?? (c.lostRtx = [])).push(m);
        continue;
      }
      if (due < c.rackAt) c.rackAt = due;
    }
    marks[w++] = m;
  }
  marks.length = w;
}
