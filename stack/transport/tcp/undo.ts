// Undoing window reductions that turn out to be spurious (nothing was lost: the segment was
// reordered or its ACK delayed). The window before a fast recovery or a timeout is kept;
// the reduction is undone when D-SACKs show every retransmission since was a duplicate (as
// Linux's tcp_try_undo_dsack) or when the ACK of the first retransmitted segment echoes a
// timestamp older than that retransmission (Eifel detection, RFC 3522; response RFC 4015).
// prepareUndo/noteRetransmission/onDsack/checkTimestampUndo: the hooks the sender calls.
import { seqGt, seqLt, seqSub } from "./seq.ts";
import { tsNow } from "./segment-writer.ts";
import { MAX_REORDERING } from "./scoreboard.ts";
import type { Tcb } from "./state.ts";

/** undoTsVal before the first retransmission, and once the timestamp test was made. */
const TS_NONE = -1;
const TS_CHECKED = -2;

/** Remembers the window before a reduction. A timeout in recovery or after another timeout keeps the first window. */
export function prepareUndo(c: Tcb, fromRto: boolean): void {
  if (!c.ctx.options.undo) return;
  if (fromRto && c.undoActive && (c.inRecovery || c.retries > 1)) { c.undoFromRto = true; return; }
  c.undoActive = true;
  c.undoMarker = c.sndUna;
  c.undoRetrans = 0;
  c.undoTsVal = TS_NONE;
  c.undoFromRto = fromRto;
  c.undoHighSack = c.sndUna;
  c.priorCwnd = c.cc.cwnd;
  c.priorSsthresh = c.cc.ssthresh;
}

/** One segment was retransmitted: one more duplicate a D-SACK must account for. */
export function noteRetransmission(c: Tcb): void {
  if (!c.undoActive) return;
  c.undoRetrans++;
  if (c.undoTsVal === TS_NONE && c.tsOk) c.undoTsVal = tsNow(c);
}

/** A D-SACK arrived for [left, right) (RFC 2883 §4): counted; one retransmission since the reduction shown spurious. */
export function onDsack(c: Tcb, left: number, right: number): void {
  c.dsackReceived++;
  c.ctx.stats.dsackReceived++;
  if (!c.undoActive || c.undoRetrans <= 0 || seqLt(left, c.undoMarker)) return;
  const segments = Math.max(1, Math.round(seqSub(right, left) / c.mss));
  c.undoRetrans = Math.max(0, c.undoRetrans - segments);
  if (c.undoRetrans === 0) undo(c);
}

/**
 * RFC 3522 §3: the first ACK above the reduction point: if it echoes a timestamp older than
 * the first retransmission, the original arrived and the retransmission was spurious.
 */
export function checkTimestampUndo(c: Tcb, ack: number, tsEcr: number | undefined): void {
  if (!c.undoActive || c.undoTsVal < 0 || tsEcr === undefined || tsEcr === 0 || !seqGt(ack, c.undoMarker)) return;
  // one test per reduction: later retransmissions (a probe, the next hole) do not re-arm it
  if (seqLt(tsEcr, c.undoTsVal)) undo(c);
  else c.undoTsVal = TS_CHECKED;
}

/** Notes the highest SACKed sequence while a reduction may be undone. */
export function noteSackedHigh(c: Tcb, high: number): void {
  if (c.undoActive && seqGt(high, c.undoHighSack)) c.undoHighSack = high;
}

function undo(c: Tcb): void {
  c.undoActive = false;
  // the reduction came from reordering, not loss: tolerate as much of it from now on (as Linux
  // raises tp->reordering on an undo), so the same reordering no longer looks like loss
  const extent = Math.ceil(seqSub(c.undoHighSack, c.undoMarker) / c.mss);
  if (extent > c.reordering) c.reordering = Math.min(MAX_REORDERING, extent);
  c.cc.undo(c.priorCwnd, c.priorSsthresh);
  c.undos++;
  c.ctx.stats.undos++;
  if (c.undoFromRto) {
    c.ctx.stats.spuriousRtos++;
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
