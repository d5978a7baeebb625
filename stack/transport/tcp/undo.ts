// Undoing window reductions that turn out to be spurious (nothing was lost: the segment was
// reordered or its ACK delayed). The window before a fast recovery or a timeout is kept;
// the reduction is undone when D-SACKs show every retransmission since was a duplicate (as
// Linux's tcp_try_undo_dsack) or when the ACK of the first retransmitted segment echoes a
// timestamp older than that retransmission (Eifel detection, RFC 3522; response RFC 4015).
// prepareUndo/noteRetransmission/onDsack/checkTimestampUndo/noteSackedHigh: the sender's hooks;
// undoSpuriousTimeout: F-RTO's verdict (frto.ts).
import { seqGt, seqLt, seqSub } from "./seq.ts";
import { tsNow } from "./segment-writer.ts";
import { MAX_REORDERING } from "./scoreboard.ts";
import { rackOnDsack, rackReorderingSeen } from "./rack.ts";
import { recoveryRecord, type Tcb } from "./state.ts";

/** undoTsVal before the first retransmission, and once the timestamp test was made. */
const TS_NONE = -1;
const TS_CHECKED = -2;

/**
 * Remembers the window before a reduction. A timeout in recovery or after another timeout keeps
 * the first window. `retransOut`: segments an earlier recovery retransmitted that are still in
 * flight (as Linux's undo_retrans = retrans_out): D-SACKs must show them spurious too, and the
 * timestamp test is off (the first ACK may echo one of them, older than this episode's first).
 */
export function prepareUndo(c: Tcb, fromRto: boolean, retransOut = 0): void {
  if (!c.ctx.options.undo) return;
  const r = recoveryRecord(c);
  if (fromRto && r.undoActive && (c.inRecovery || c.retries > 1)) {
    r.undoFromRto = true;
    return;
  }
  r.undoActive = true;
  r.undoMarker = c.sndUna;
  r.undoRetrans = retransOut;
  r.undoTsVal = retransOut > 0 ? TS_CHECKED : TS_NONE;
  r.undoFromRto = fromRto;
  r.undoHighSack = c.sndUna;
  r.priorCwnd = c.cc.cwnd;
  r.priorSsthresh = c.cc.ssthresh;
}

/** One segment was retransmitted: one more duplicate a D-SACK must account for. */
export function noteRetransmission(c: Tcb): void {
  const r = c.rec;
  if (r === null || !r.undoActive) return;
  r.undoRetrans++;
  if (r.undoTsVal === TS_NONE && c.tsOk) r.undoTsVal = tsNow(c);
}

/** Notes the highest SACKed sequence while a reduction may be undone. */
export function noteSackedHigh(c: Tcb, high: number): void {
  const r = c.rec;
  if (r !== null && r.undoActive && seqGt(high, r.undoHighSack)) r.undoHighSack = high;
}

/** A D-SACK arrived for [left, right) (RFC 2883 §4): counted; one retransmission since the reduction shown spurious. */
export function onDsack(c: Tcb, left: number, right: number): void {
  c.dsackReceived++;
  c.ctx.stats.dsackReceived++;
  rackOnDsack(c);
  const r = c.rec;
  if (r === null || !r.undoActive || r.undoRetrans <= 0 || seqLt(left, r.undoMarker)) return;
  const segments = Math.max(1, Math.round(seqSub(right, left) / c.mss));
  r.undoRetrans = Math.max(0, r.undoRetrans - segments);
  if (r.undoRetrans === 0) undo(c);
}

/**
 * RFC 3522 §3: the first ACK above the reduction point: if it echoes a timestamp older than
 * the first retransmission, the original arrived and the retransmission was spurious.
 */
export function checkTimestampUndo(c: Tcb, ack: number, tsEcr: number | undefined): void {
  const r = c.rec;
  if (r === null || !r.undoActive || r.undoTsVal < 0 || tsEcr === undefined || tsEcr === 0 || !seqGt(ack, r.undoMarker)) return;
  // one test per reduction: later retransmissions (a probe, the next hole) do not re-arm it
  if (!seqLt(tsEcr, r.undoTsVal)) {
    r.undoTsVal = TS_CHECKED;
    return;
  }
  // the hole was filled by its delayed original, but other retransmissions of this fast recovery
  // are still out and may repair real losses: no undo while they are (Linux's tcp_try_undo_partial
  // with retrans_out); a later ACK tests again
  if (c.inRecovery && retransmissionsOut(c, ack)) return;
  undo(c);
}

/** Retransmissions above `ack` neither acknowledged nor SACKed (Linux's retrans_out > 0). */
function retransmissionsOut(c: Tcb, ack: number): boolean {
  const sb = c.scoreboard;
  for (const list of [c.rtxMarks, c.lostRtx]) {
    if (list === null) continue;
    for (const m of list) {
      if (!seqGt(m.end, ack)) continue;
      const left = seqGt(m.start, ack) ? m.start : ack;
      if (sb === null || sb.sackedBetween(left, m.end) < seqSub(m.end, left)) return true;
    }
  }
  return false;
}

/** F-RTO found the timeout spurious (RFC 5682 §3 step 3b): undo it (Linux's tcp_try_undo_loss). */
export function undoSpuriousTimeout(c: Tcb): void {
  const r = c.rec;
  if (r === null || !r.undoActive || !r.undoFromRto) return;
  undo(c);
  // (as Linux's icsk_retransmits = 0: the timeout is forgotten, RACK's window opens again)
  c.retries = 0;
}

function undo(c: Tcb): void {
  const r = c.rec!;
  r.undoActive = false;
  r.frto = 0;
  // the reduction came from reordering, not loss: tolerate as much of it from now on (as Linux
  // raises tp->reordering on an undo), so the same reordering no longer looks like loss
  rackReorderingSeen(c);
  const extent = Math.ceil(seqSub(r.undoHighSack, r.undoMarker) / c.mss);
  if (extent > c.reordering) c.reordering = Math.min(MAX_REORDERING, extent);
  c.cc.undo(r.priorCwnd, r.priorSsthresh);
  c.undos++;
  c.ctx.stats.undos++;
  if (r.undoFromRto) {
    c.ctx.stats.spuriousRtos++;
    r.spuriousRtos++;
    // RFC 4015 §3.2 step (4): resume with data not yet sent instead of going back
    c.sndNxt = c.sndMax;
    c.highRxt = c.sndUna;
  }
  if (c.inRecovery) {
    c.inRecovery = false;
    c.rtxMarks = c.lostRtx = null;
    c.dupAcks = 0;
  }
}
