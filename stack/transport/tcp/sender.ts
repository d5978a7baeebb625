// The sending half: what may be sent now (congestion and send windows, Nagle/Minshall, SWS
// avoidance, TSO), first transmissions and retransmissions of ranges, the persist timer's
// arming, and RTT samples. output() is the one entry point after every input, call or timer.
import { TCP_FLAG_ACK, TCP_FLAG_FIN, TCP_FLAG_PSH, type TcpRepr } from "../../wire/tcp.ts";
import { seqAdd, seqGt, seqLe, seqLt, seqSub } from "./seq.ts";
import { armTailLossProbe } from "./deadlines.ts";
import { writeSegment, tsNow } from "./segment-writer.ts";
import { NONE, State, recoveryRecord, type Tcb } from "./state.ts";
import { noteRetransmission } from "./undo.ts";
import { rackOnSend } from "./rack.ts";

/**
 * Sends what the windows, Nagle and the state allow, then a pure ACK if one is owed (with
 * deferPureAck, after a received burst's in-order data under ackCoalescing: the layer sends it
 * when the burst has been taken in, unless data carries it first).
 */
export function output(c: Tcb, deferPureAck = false): void {
  const s = c.state;
  if (s === State.CLOSED || s === State.SYN_SENT || s === State.SYN_RECEIVED || s === State.TIME_WAIT) {
    if (c.ackNow && s !== State.CLOSED && s !== State.SYN_SENT) writeSegment(c, TCP_FLAG_ACK, c.sndMax, 0, 0, undefined);
    else if (c.ackNow && s === State.SYN_SENT) c.ackNow = false;
    return;
  }
  if (!c.inRecovery || !c.recovery.send(c)) for (let guard = 0; guard < 100_000 && sendOne(c, false); guard++);
  // delivery-rate samples taken while the application has nothing more to send do not lower
  // the estimate (Linux's tcp_rate_check_app_limited)
  const rate = c.rate;
  if (rate !== null && !c.inRecovery && unsent(c) < c.mss) {
    const inflight = seqSub(c.sndMax, c.sndUna) - (c.scoreboard === null ? 0 : c.scoreboard.sacked);
    if (inflight < c.cc.cwnd) rate.markAppLimited(inflight);
  }
  // a pure ACK carries the highest sequence sent (RFC 9293's SND.NXT; ours moves back on
  // a timeout): an older one would be unacceptable to the peer and could start an ACK war
  if (c.ackNow) {
    if (deferPureAck) c.ctx.deferAck(c);
    else writeSegment(c, TCP_FLAG_ACK, c.sndMax, 0, 0, undefined);
  }
  // persist timer: data waiting, nothing in flight, nothing sendable (RFC 9293 §3.8.6.1)
  if (c.sndUna === c.sndMax && unsent(c) > 0 && c.persistAt === NONE && c.rtoAt === NONE) {
    c.persistAt = c.ctx.clock.now() + Math.min(c.rtt.rto * 2 ** c.persistBackoff, c.ctx.options.maxRtoMs);
  }
}

/** Bytes (plus the FIN) queued from SND.NXT on. */
export function unsent(c: Tcb): number {
  const buffered = c.bufferedAmount;
  const sentData = Math.min(buffered, seqSub(c.sndNxt, c.sndUna));
  return buffered - sentData + (c.finQueued && !c.finAcked && seqLe(c.sndNxt, seqAdd(c.sndUna, buffered)) ? 1 : 0);
}

/** Sends one segment from SND.NXT if allowed; returns true if one was sent. */
export function sendOne(c: Tcb, force: boolean): boolean {
  const mss = maxPayload(c);
  const buffered = c.bufferedAmount;
  let offset = seqSub(c.sndNxt, c.sndUna);
  const retransmitting = seqLt(c.sndNxt, c.sndMax);
  if (retransmitting && c.scoreboard !== null && !c.scoreboard.empty) {
    const skip = c.scoreboard.skipSacked(c.sndNxt);
    if (skip !== c.sndNxt) {
      c.sndNxt = skip;
      offset = seqSub(skip, c.sndUna);
    }
  }
  const pending = buffered - offset;
  const finSeq = seqAdd(c.sndUna, buffered);
  const wantFin = c.finQueued && !c.finAcked && c.sndNxt === finSeq;
  if (pending <= 0 && !wantFin) return false;
  // pacing (model-based congestion control): not before the previous segment's time is up
  if (c.rate !== null && !force && c.rate.held(c.ctx.clock.now())) return false;

  let flight = offset;
  if (c.scoreboard !== null && !c.scoreboard.empty) flight -= c.scoreboard.sackedBetween(c.sndUna, c.sndNxt);
  let cwnd = c.cc.cwnd;
  // RFC 3042 limited transmit; with SACK the pipe above already leaves room for what was SACKed (RFC 6675 §5)
  if (!c.sackOk && !c.inRecovery && c.dupAcks > 0 && c.dupAcks < 3) cwnd += Math.min(c.dupAcks, 2) * mss;
  const cwndRoom = Math.floor(cwnd) - flight;
  const wndRoom = c.sndWnd - offset;
  let usable = Math.min(cwndRoom, wndRoom);
  if (force && usable <= 0 && wndRoom > 0) usable = Math.min(wndRoom, mss);

  if (pending <= 0) {
    // only the FIN is left: it needs no window space
    if (cwndRoom <= 0 && !force) return false;
    const sentAt = c.ctx.clock.now();
    writeSegment(c, TCP_FLAG_FIN | TCP_FLAG_ACK, c.sndNxt, offset, 0, undefined);
    advance(c, 1, retransmitting, sentAt);
    return true;
  }
  if (usable <= 0) return false;
  let len = Math.min(mss, pending, usable);
  let gso = false;
  const tsoMax = c.ctx.options.tsoMaxFrame;
  if (tsoMax > 0 && !retransmitting && !force && !c.inRecovery && len === mss && pending > mss && usable > mss && mss === c.mss) {
    // segmentation offload: several MSS-sized segments in one datagram the device splits
    const room = Math.min(tsoMax - 18 - 20 - 20 - (c.tsOk ? 12 : 0), 65535 - 20 - 20 - (c.tsOk ? 12 : 0));
    let big = Math.min(pending, usable, Math.floor(room / mss) * mss);
    // paced: about a millisecond's worth per datagram, at least two segments (Linux's tcp_tso_autosize)
    if (c.rate !== null) {
      const paceRate = c.cc.pacingRate ?? 0;
      if (paceRate > 0) big = Math.min(big, Math.max(2 * mss, Math.floor(paceRate / mss) * mss));
    }
    if (big > mss) {
      len = big === pending ? big : Math.floor(big / mss) * mss;
      gso = true;
    }
  }
  if (retransmitting) {
    len = Math.min(len, seqSub(c.sndMax, c.sndNxt));
    // never resend bytes the peer SACKed: stop at the next SACKed block
    const sacked = c.scoreboard === null ? undefined : c.scoreboard.nextSackedAbove(c.sndNxt);
    if (sacked !== undefined && seqLt(sacked, seqAdd(c.sndNxt, len))) len = seqSub(sacked, c.sndNxt);
  }
  // RFC 9293 §3.8.6.2.1 sender SWS avoidance and Nagle (RFC 896)
  if (!retransmitting && !force && len < mss) {
    const all = len === pending;
    // Minshall's variant (as Linux): hold a small segment only while another small one is unacknowledged
    const nagleOk = all && (c.noDelay || c.finQueued || seqLe(c.smallEnd, c.sndUna));
    const swsOk = c.maxSndWnd > 0 && len >= c.maxSndWnd / 2;
    // fillWindowEdge (off by default, as Linux): the rest of a fully open window that is not a
    // multiple of the MSS (a small receive buffer): it fills the window to its right edge, the
    // window is the largest the peer has offered (nothing silly about it), cwnd has room, and no
    // other small segment is out, so it cannot recur within a round trip.
    const edgeOk = c.ctx.options.fillWindowEdge && len === wndRoom && cwndRoom > len && c.sndWnd >= c.maxSndWnd && seqLe(c.smallEnd, c.sndUna);
    if (!nagleOk && !swsOk && !edgeOk) return false;
  }
  const fin = c.finQueued && len === pending;
  const flags = TCP_FLAG_ACK | (len === pending ? TCP_FLAG_PSH : 0) | (fin ? TCP_FLAG_FIN : 0);
  if (!retransmitting && c.rttTime < 0 && !c.tsOk) {
    c.rttSeq = c.sndNxt;
    c.rttTime = c.ctx.clock.now();
  }
  const sentAt = c.ctx.clock.now();
  writeSegment(c, flags, c.sndNxt, offset, len, undefined, gso);
  if (len < mss) c.smallEnd = seqAdd(c.sndNxt, len);
  advance(c, len + (fin ? 1 : 0), retransmitting, sentAt);
  return true;
}

/**
 * Accounts for `n` sequence numbers just sent from SND.NXT. `sentAt` is the time taken before the
 * device had the segment (Linux stamps skb_mstamp_ns before it transmits): on a real clock the
 * sender may lose the CPU between handing the frame over and reading the clock again, and a stamp
 * taken after would make the delivery-rate log's RTT samples shorter than the path's (BBR's
 * min RTT, and with it its BDP and window, too small) and RACK's transmit log take the segment
 * for younger than those sent just before it (lost at once when it is SACKed).
 */
export function advance(c: Tcb, n: number, retransmitting: boolean, sentAt: number): void {
  if (retransmitting) {
    c.retransmits++;
    c.ctx.stats.retransmits++;
    noteRetransmission(c);
  }
  if (c.inRecovery || (c.ecn !== null && c.ecn.cwr)) recoveryRecord(c).prrOut += n;
  const start = c.sndNxt;
  c.sndNxt = seqAdd(c.sndNxt, n);
  const now = c.ctx.clock.now();
  const rate = c.rate;
  if (rate !== null) {
    // (SND.MAX is still the one before this transmission)
    if (!retransmitting) rate.onSend(c.sndNxt, sentAt, c.sndUna === c.sndMax);
    else rate.onRetransmit(start, c.sndNxt, sentAt);
    rate.paced(n, Math.ceil(n / c.mss), sentAt, c.cc.pacingRate ?? 0);
  }
  if (!retransmitting && c.sackOk) rackOnSend(c, c.sndNxt, sentAt);
  if (seqGt(c.sndNxt, c.sndMax)) c.sndMax = c.sndNxt;
  if (c.rtoAt === NONE) c.rtoAt = now + c.rtt.rto;
  // RFC 8985 §7.2: the probe timer restarts with every new transmission
  if (!retransmitting) armTailLossProbe(c, now);
  c.persistAt = NONE;
}

/** Retransmits [seq, seq+len) (clipped to what was sent), with the FIN if it lies there. */
export function retransmit(c: Tcb, seq: number, len: number): void {
  len = Math.min(len, maxPayload(c));
  const offset = seqSub(seq, c.sndUna);
  const buffered = c.bufferedAmount;
  const sentEnd = seqSub(c.sndMax, c.sndUna);
  len = Math.min(len, buffered - offset, sentEnd - offset);
  const finInFlight = c.finQueued && !c.finAcked && sentEnd > buffered;
  if (len <= 0) {
    if (finInFlight && offset === buffered) {
      writeSegment(c, TCP_FLAG_FIN | TCP_FLAG_ACK, seq, offset, 0, undefined);
      c.retransmits++;
      c.ctx.stats.retransmits++;
      noteRetransmission(c);
    }
    return;
  }
  // PSH as on a first transmission: the segment reaches the end of the buffered data
  const last = offset + len === buffered;
  const fin = finInFlight && last;
  const sentAt = c.ctx.clock.now();
  writeSegment(c, TCP_FLAG_ACK | (last ? TCP_FLAG_PSH : 0) | (fin ? TCP_FLAG_FIN : 0), seq, offset, len, undefined);
  c.retransmits++;
  c.ctx.stats.retransmits++;
  noteRetransmission(c);
  if (c.inRecovery) recoveryRecord(c).prrOut += len;
  c.rttTime = -1;
  if (c.rate !== null) {
    c.rate.onRetransmit(seq, seqAdd(seq, len), sentAt);
    c.rate.paced(len, Math.ceil(len / c.mss), sentAt, c.cc.pacingRate ?? 0);
  }
}

/** Payload room of the next segment: MSS less the SACK option when one is due (RFC 2018 §3). */
function maxPayload(c: Tcb): number {
  const dsack = c.dsackLeft !== c.dsackRight ? 1 : 0;
  if (!c.sackOk || ((c.ooo === null || c.ooo.empty) && dsack === 0)) return c.mss;
  const n = Math.min((c.ooo === null ? 0 : c.ooo.count) + dsack, c.tsOk ? 3 : 4);
  return Math.max(1, c.mss - 4 - 8 * n);
}

export function rttSampleFromTs(c: Tcb, seg: TcpRepr): number | undefined {
  if (!c.tsOk || seg.options.tsEcr === undefined || seg.options.tsEcr === 0) return undefined;
  const r = seqSub(tsNow(c), seg.options.tsEcr);
  if (r < 0 || r > 600_000) return undefined;
  c.rtt.sample(r);
  return r;
}
