// F-RTO (RFC 5682): was a retransmission timeout spurious? After the timeout has resent the
// first segment, the first ACK that advances SND.UNA (not to the data outstanding at the
// timeout) sends up to two new segments instead of further retransmissions (§2 step 2b); the
// next ACK decides (step 3): if it acknowledges or SACKs data sent before the timeout and
// never retransmitted, the originals were only delayed, the timeout was spurious and its
// reduction is undone (undo.ts, as Linux's tcp_try_undo_loss with frto_undo); otherwise the
// loss was real and go-back-N retransmission resumes. The test for "never retransmitted data"
// is the SACK-enhanced one of Linux's tcp_process_loss (FLAG_ORIG_SACK_ACKED): it is made on
// every ACK while F-RTO runs, the first included. Off for a first timeout during fast recovery
// (§3 step 1, as Linux: recovery's retransmissions would make the test ambiguous).
// frtoOnTimeout / frtoBeginAck / frtoNoteSack / frtoSpurious / frtoOnAck / frtoOnTailLossProbe: the hooks.
import { seqAdd, seqGe, seqGt, seqLt, seqMax, seqMin, seqSub } from "./seq.ts";
import { sendOne, unsent } from "./sender.ts";
import { undoSpuriousTimeout } from "./undo.ts";
import type { Tcb } from "./state.ts";

/** F-RTO states (RecoveryRecord.frto). */
export const FRTO_OFF = 0;
/** The timeout's retransmission is out: waiting for the first ACK advancing SND.UNA (step 2). */
export const FRTO_ARMED = 1;
/** New data was sent on that ACK: the next ACK decides (step 3). */
export const FRTO_PROBING = 2;
/** RFC 5682 §2 step 2b: new segments sent on the first ACK. */
const FRTO_NEW_SEGMENTS = 2;

/**
 * A retransmission timeout (after prepareUndo, before the retransmission): arms F-RTO unless it
 * is off, nothing can be undone, it is a first timeout in fast recovery, or the SACK information
 * was just dropped (a peer re-SACKing old data would look like originals arriving).
 */
export function frtoOnTimeout(c: Tcb, wasInRecovery: boolean, sackDropped: boolean): void {
  const r = c.rec;
  if (r === null) return;
  r.frto = FRTO_OFF;
  if (!c.ctx.options.frto || !r.undoActive || (wasInRecovery && c.retries <= 1) || sackDropped) return;
  r.frto = FRTO_ARMED;
  r.frtoHigh = c.sndMax;
  r.frtoRtxEnd = c.sndUna;
  r.frtoOrig = false;
}

/** Start of an ACK's processing while F-RTO runs: does its cumulative part cover originals?
 * (The bytes SACKed before this ACK are not new; measured before its SACK blocks are recorded.) */
export function frtoBeginAck(c: Tcb, ack: number): void {
  const r = c.rec!;
  // the timeout's retransmissions are [SND.UNA at the timeout, frtoRtxEnd): go-back-N from there
  if (r.frto === FRTO_ARMED && seqLt(c.sndNxt, c.sndMax) && seqGt(c.sndNxt, r.frtoRtxEnd)) r.frtoRtxEnd = c.sndNxt;
  r.frtoOrig = false;
  const from = seqMax(c.sndUna, r.frtoRtxEnd);
  const to = seqMin(ack, r.frtoHigh);
  if (!seqGt(to, from)) return;
  let fresh = seqSub(to, from);
  if (c.scoreboard !== null) fresh -= c.scoreboard.sackedBetween(from, to);
  fresh -= overlap(from, to, r.tlpRtxStart, r.tlpRtxEnd);
  if (fresh > 0) r.frtoOrig = true;
}

/** A SACK block of this ACK reported new data: originals if it reaches above the timeout's
 * retransmissions and below what was outstanding at the timeout (not only a probe's resend). */
export function frtoNoteSack(c: Tcb, left: number, right: number): void {
  const r = c.rec!;
  const from = seqMax(left, r.frtoRtxEnd);
  const to = seqMin(right, r.frtoHigh);
  if (seqGt(to, from) && seqSub(to, from) > overlap(from, to, r.tlpRtxStart, r.tlpRtxEnd)) r.frtoOrig = true;
}

/** After the ACK's SACK blocks were recorded, before its cumulative part moves the window
 * (as Linux: the undo first, then slow start counts what the ACK covers): step 3b. */
export function frtoSpurious(c: Tcb): void {
  const r = c.rec!;
  if (!r.frtoOrig) return;
  // data never retransmitted arrived: the originals were delayed, the timeout spurious
  r.frto = FRTO_OFF;
  if (!r.undoActive) return;
  c.ctx.stats.frtoSpurious++;
  undoSpuriousTimeout(c);
}

/** After the ACK was recorded (SND.UNA, SACKs, window): steps 2 and 3a. `advanced`: SND.UNA moved. */
export function frtoOnAck(c: Tcb, advanced: boolean): void {
  const r = c.rec!;
  if (!r.undoActive) {
    r.frto = FRTO_OFF;
    return;
  }
  if (seqGe(c.sndUna, r.frtoHigh)) {
    r.frto = FRTO_OFF;
    return;
  }
  if (r.frto === FRTO_PROBING) {
    // step 3a: an ACK without originals: the loss was real; go back to the oldest unacknowledged data
    r.frto = FRTO_OFF;
    c.sndNxt = c.sndUna;
    c.highRxt = c.sndUna;
    return;
  }
  if (!advanced) return;
  // step 2b: new data, if there is some and the peer's window takes it; else step 2a
  const wndEnd = seqAdd(c.sndUna, c.sndWnd);
  const goBack = c.sndNxt;
  c.sndNxt = c.sndMax;
  if (unsent(c) === 0 || !seqGt(wndEnd, c.sndMax)) {
    c.sndNxt = goBack;
    r.frto = FRTO_OFF;
    return;
  }
  let sent = 0;
  while (sent < FRTO_NEW_SEGMENTS && sendOne(c, true)) sent++;
  if (sent === 0) {
    c.sndNxt = goBack;
    r.frto = FRTO_OFF;
    return;
  }
  r.frto = FRTO_PROBING;
  c.ctx.stats.frtoProbes++;
}

/** A tail loss probe resent [start, end): that range is not "never retransmitted". */
export function frtoOnTailLossProbe(c: Tcb, start: number, end: number): void {
  const r = c.rec;
  if (r === null) return;
  r.tlpRtxStart = start;
  r.tlpRtxEnd = end;
}

/** Bytes of [from, to) inside [a, b). */
function overlap(from: number, to: number, a: number, b: number): number {
  const lo = seqMax(from, a),
    hi = seqMin(to, b);
  return seqGt(hi, lo) ? seqSub(hi, lo) : 0;
}
