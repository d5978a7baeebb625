// What the connection does when its timer fires (RFC 6298 §5 retransmission timeout, RFC 8985
// §7 tail loss probe, RFC 9293 §3.8.6.1 persist, §3.8.4 keepalive, delayed ACK).
import { TCP_FLAG_ACK } from "../../wire/tcp.ts";
import { seqAdd, seqSub } from "./seq.ts";
import { close } from "./close.ts";
import { armTimer } from "./deadlines.ts";
import { sendSyn } from "./handshake.ts";
import { output, retransmit, sendOne, unsent } from "./sender.ts";
import { writeSegment } from "./segment-writer.ts";
import { prepareUndo } from "./undo.ts";
import { frtoOnTailLossProbe, frtoOnTimeout } from "./frto.ts";
import { rackDetect, rackOnTimeout } from "./rack.ts";
import { detectLoss } from "./recovery.ts";
import { DUP_THRESH } from "./scoreboard.ts";
import { NONE, State, type Tcb } from "./state.ts";

export function onTimer(c: Tcb): void {
  c.timerId = 0;
  c.timerAt = NONE;
  if (c.state === State.CLOSED || c.state === State.TIME_WAIT) return;
  const now = c.ctx.clock.now();
  // RFC 8985 §7.2: a probe due no later than the RTO goes first (PTO ≤ RTO by construction)
  // and re-arms the RTO from its own transmission, as Linux's shared timer does
  if (c.tlpAt <= now && c.tlpAt <= c.rtoAt) {
    c.tlpAt = NONE;
    onTailLossProbe(c, now);
  }
  // (a probe due after a due RTO is dropped by it: the RTO retransmits anyway)
  if (c.rtoAt <= now) {
    c.rtoAt = c.tlpAt = NONE;
    onRetransmitTimeout(c, now);
    if (c.state === State.CLOSED) return;
  }
  // RFC 8985 §6.2 step 5: the reorder timer, when the next segment's reordering window ran out
  if (c.rackAt <= now) {
    c.rackAt = NONE;
    rackDetect(c, now);
    if (c.inRecovery) c.recovery.afterAck(c, now);
    detectLoss(c, now);
  }
  if (c.persistAt <= now) {
    c.persistAt = NONE;
    onPersist(c);
  }
  if (c.keepAliveAt <= now) {
    c.keepAliveAt = NONE;
    onKeepAlive(c, now);
    if (c.state === State.CLOSED) return;
  }
  // a delayed ACK that no reply carried: not interactive after all (Linux's tcp_delack_timer_handler)
  if (c.delackAt <= now) {
    c.delackAt = NONE;
    c.ackNow = true;
    c.interactive = false;
  }
  // pacing released the next segment (output sends it)
  if (c.rate !== null && c.rate.waitAt <= now) c.rate.waitAt = NONE;
  output(c);
  armTimer(c);
  // nothing armed again: the connection is idle, and keeps no timer closure
  if (c.timerId === 0) c.fireTimer = null;
}

/** RFC 6298 §5.4–5.6 and RFC 5681 §3.1: retransmit the earliest segment, back off, shrink cwnd. */
function onRetransmitTimeout(c: Tcb, now: number): void {
  const o = c.ctx.options;
  const s = c.state;
  if (s === State.SYN_SENT || s === State.SYN_RECEIVED) {
    const expired = s === State.SYN_RECEIVED && c.passive ? c.ctx.synAckExpired(c) : c.retries >= (s === State.SYN_SENT ? o.synRetries : o.synAckRetries);
    if (expired) {
      close(c, c.passive ? undefined : (c.softError ?? "ETIMEDOUT"));
      return;
    }
    c.retries++;
    c.rtt.backoff();
    c.ctx.stats.retransmits++;
    c.retransmits++;
    c.rttTime = -1;
    sendSyn(c);
    c.rtoAt = now + c.rtt.rto;
    return;
  }
  if (c.sndUna === c.sndMax) return;
  if (c.retries >= o.retries) {
    close(c, c.softError ?? "ETIMEDOUT");
    return;
  }
  c.retries++;
  c.ctx.stats.timeouts++;
  const flight = seqSub(c.sndMax, c.sndUna);
  // a timeout outside recovery with DupThresh segments SACKed: the reordering was over-estimated (as Linux's tcp_enter_loss)
  if (!c.inRecovery && c.scoreboard !== null && c.scoreboard.sacked >= DUP_THRESH * c.mss) c.reordering = DUP_THRESH;
  prepareUndo(c, true);
  rackOnTimeout(c);
  c.cc.onTimeout(flight, c.mss, now);
  const wasInRecovery = c.inRecovery;
  c.inRecovery = false;
  if (c.ecn !== null) c.ecn.cwr = false;
  c.rtxMarks = c.lostRtx = null;
  c.dupAcks = 0;
  c.recoverSeq = c.sndMax;
  // RFC 6675 §5.1: SACK information is kept across a first timeout (only unSACKed data
  // is resent); a second consecutive timeout suspects reneging (RFC 2018 §8) and drops it
  const sackDropped = c.retries > 1 && c.scoreboard !== null && !c.scoreboard.empty;
  if (c.retries > 1) c.scoreboard?.clear();
  frtoOnTimeout(c, wasInRecovery, sackDropped);
  c.sndNxt = c.sndUna;
  c.highRxt = c.sndUna;
  c.rttTime = -1;
  c.rtt.backoff();
  c.rtoAt = now + c.rtt.rto;
  sendOne(c, true);
}

/** RFC 8985 §7.3: send one new segment if allowed, else retransmit the last one. */
function onTailLossProbe(c: Tcb, now: number): void {
  if (c.inRecovery || c.sndUna === c.sndMax || c.state < State.ESTABLISHED || c.state === State.TIME_WAIT) return;
  c.ctx.stats.tailLossProbes++;
  if (!sendOne(c, true)) {
    const buffered = c.bufferedAmount;
    const sentData = Math.min(buffered, seqSub(c.sndMax, c.sndUna));
    const finInFlight = c.finQueued && !c.finAcked && seqSub(c.sndMax, c.sndUna) > buffered;
    if (sentData > 0) {
      // the last segment; with SACK the last one not SACKed (a SACKed one is never resent)
      const end = seqAdd(c.sndUna, sentData);
      const range = c.scoreboard === null ? { left: c.sndUna, right: end } : c.scoreboard.lastUnsackedBelow(end, c.sndUna);
      if (range !== undefined) {
        const len = Math.min(c.mss, seqSub(range.right, range.left));
        retransmit(c, seqSub(range.right, len) >>> 0, len);
        frtoOnTailLossProbe(c, seqSub(range.right, len) >>> 0, range.right);
      }
    } else if (finInFlight) {
      retransmit(c, seqAdd(c.sndUna, buffered), 0);
    }
  }
  c.tlpAt = NONE;
  c.rtoAt = now + c.rtt.rto;
}

function onPersist(c: Tcb): void {
  if (c.sndUna !== c.sndMax || unsent(c) === 0 || c.state < State.ESTABLISHED) {
    c.persistBackoff = 0;
    return;
  }
  // RFC 9293 §3.8.6.1: probe the zero window; a small usable window overrides SWS avoidance
  if (c.sndWnd > 0 && sendOne(c, true)) {
    c.persistBackoff = 0;
    return;
  }
  writeSegment(c, TCP_FLAG_ACK, seqSub(c.sndUna, 1) >>> 0, 0, 0, undefined);
  c.persistBackoff = Math.min(c.persistBackoff + 1, 16);
  c.persistAt = c.ctx.clock.now() + Math.min(c.rtt.rto * 2 ** c.persistBackoff, c.ctx.options.maxRtoMs);
}

/** RFC 9293 §3.8.4: after idleness, probe with SEG.SEQ = SND.NXT−1; no answer after N probes: ETIMEDOUT. */
function onKeepAlive(c: Tcb, now: number): void {
  const s = c.state;
  if (c.keepAliveMs === 0 || !(s === State.ESTABLISHED || s === State.CLOSE_WAIT || s === State.FIN_WAIT_2)) return;
  if (c.sndUna !== c.sndMax) {
    c.keepAliveAt = now + c.keepAliveMs;
    return;
  }
  if (c.keepAliveProbes >= c.ctx.options.keepAliveProbes) {
    close(c, "ETIMEDOUT");
    return;
  }
  c.keepAliveProbes++;
  writeSegment(c, TCP_FLAG_ACK, seqSub(c.sndMax, 1) >>> 0, 0, 0, undefined);
  c.keepAliveAt = now + c.ctx.options.keepAliveIntervalMs;
}
