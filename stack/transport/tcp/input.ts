// Segment arrival for a connection (RFC 9293 §3.10.7.4): PAWS, the acceptability test, RST
// and SYN checks (RFC 5961), ACK processing (cumulative and SACK, window update, duplicate
// ACKs, loss detection), then the receiver's text and FIN checks; ICMP errors (RFC 5927).
import type { IcmpErrorReport } from "../../net/types.ts";
import { TCP_FLAG_ACK, TCP_FLAG_CWR, TCP_FLAG_ECE, TCP_FLAG_FIN, TCP_FLAG_RST, TCP_FLAG_SYN, type TcpRepr } from "../../wire/tcp.ts";
import { seqAdd, seqGe, seqGt, seqLe, seqLt, seqMax, seqSub } from "./seq.ts";
import { SackScoreboard } from "./scoreboard.ts";
import { close, enterTimeWait, emitConnect } from "./close.ts";
import { armTailLossProbe, armTimer } from "./deadlines.ts";
import { establish, inputSynSent, pathMss, sendSyn } from "./handshake.ts";
import { challengeAck, enterQuickAck, noteDuplicate, noteEcn, receiveFin, receiveText } from "./receiver.ts";
import { output, rttSampleFromTs } from "./sender.ts";
import { emitReset } from "./segment-writer.ts";
import { checkTimestampUndo, noteSackedHigh, onDsack } from "./undo.ts";
import { rackOnAck, rackOnRecoveryEnd } from "./rack.ts";
import { beginEcnReduction, detectLoss, ecnReductionOnAck, endEcnReduction, keepRetransmissionsAbove, pipeInRecovery } from "./recovery.ts";
import { FRTO_OFF, frtoBeginAck, frtoNoteSack, frtoOnAck, frtoSpurious } from "./frto.ts";
import { NONE, State, type Tcb } from "./state.ts";

const EMPTY = new Uint8Array(0);
/** Most bytes one GRO packet coalesces (Linux's default gro_max_size): the ackCoalescing bound. */
const GRO_MAX_BYTES = 65536;
/** RFC 7323 §5.5: timestamps older than 24 days are not used for PAWS. */
const PAWS_IDLE_MS = 24 * 24 * 3600 * 1000;
/**
 * Linux's TCP_PAWS_WINDOW: a connection's PAWS lets a TSval one tick older than TS.Recent through
 * (tcp_paws_discard). On a reordering path a retransmission that fills the head hole moves
 * TS.Recent on, and an original sent a moment before it arrives after it: within this one tick
 * Linux keeps that original's data, where RFC 7323's strict test drops it. TIME-WAIT keeps the
 * strict test (tcp_paws_reject), as Linux.
 */
const PAWS_WINDOW = 1;

/** Processes one segment addressed to this connection (RFC 9293 §3.10.7). */
export function input(c: Tcb, seg: TcpRepr): void {
  const now = c.ctx.clock.now();
  c.lastRecv = now;
  if (c.keepAliveMs > 0) {
    c.keepAliveProbes = 0;
    c.keepAliveAt = now + c.keepAliveMs;
  }
  // GRO-like coalescing applies to in-order data of an established connection only (Linux's GRO
  // flushes on anything out of order, so each such segment is acknowledged by itself)
  const coalesce = c.ctx.options.ackCoalescing && c.state === State.ESTABLISHED && seg.payload.length > 0 && seg.seq === c.rcvNxt && c.ooo === null;
  if (c.state === State.SYN_SENT) inputSynSent(c, seg);
  else if (c.state !== State.CLOSED) inputSynchronized(c, seg, now);
  if (c.state !== State.CLOSED) {
    // ...and to at most one GRO packet's worth (64 KiB, Linux's gro_max_size): one ACK per 44 segments at most
    // (an in-order segment leaves ESTABLISHED only with a FIN, or by RST to CLOSED)
    output(c, coalesce && !c.finReceived && c.rcvUnacked + c.rcvMss <= GRO_MAX_BYTES);
    armTimer(c);
  }
}

/**
 * A duplicate ACK that PAWS would drop only for its timestamp (Linux's tcp_disordered_ack): pure, at
 * RCV.NXT, acknowledging SND.UNA, changing no window, at most 1.2 RTO older than TS.Recent. ACKs
 * overtake each other on a reordering path; their SACK and D-SACK blocks are still news.
 */
function disorderedAck(c: Tcb, seg: TcpRepr, segLen: number, tsVal: number): boolean {
  if ((seg.flags & TCP_FLAG_ACK) === 0 || segLen !== 0 || seg.seq !== c.rcvNxt || seg.ack !== c.sndUna) return false;
  // (Linux's tcp_may_update_window)
  const wnd = seg.window << c.sndWscale;
  if (seqGt(seg.seq, c.sndWl1) || (seg.seq === c.sndWl1 && (wnd > c.sndWnd || wnd === 0))) return false;
  return seqSub(c.tsRecent, tsVal) <= c.rtt.rto * 1.2;
}

/** RFC 9293 §3.10.7.4 for SYN-RECEIVED and the synchronized states. */
function inputSynchronized(c: Tcb, seg: TcpRepr, now: number): void {
  const f = seg.flags;
  const isRst = (f & TCP_FLAG_RST) !== 0;
  let payload = seg.payload;
  let hasFin = (f & TCP_FLAG_FIN) !== 0;
  let segLen = payload.length + ((f & TCP_FLAG_SYN) !== 0 ? 1 : 0) + ((f & TCP_FLAG_FIN) !== 0 ? 1 : 0);
  const tsVal = seg.options.tsVal;

  // RFC 7323 §5.3 PAWS, as Linux's tcp_validate_incoming (one tick of tolerance: PAWS_WINDOW)
  const stale = c.tsOk && tsVal !== undefined && !isRst && seqSub(c.tsRecent, tsVal) > PAWS_WINDOW && now - c.tsRecentTime < PAWS_IDLE_MS;
  const disordered = stale && disorderedAck(c, seg, segLen, tsVal!);
  if (stale && !disordered) {
    c.ctx.stats.pawsRejected++;
    if (segLen > 0) {
      // the duplicate ACK, with a D-SACK for what lies below RCV.NXT (Linux's tcp_send_dupack): the
      // original of a retransmission that overtook it is stale by its timestamp, and the sender
      // learns its retransmission was spurious only from this
      if (payload.length > 0 && (f & TCP_FLAG_SYN) === 0 && seqLt(seg.seq, c.rcvNxt)) {
        const end = seqAdd(seg.seq, segLen);
        enterQuickAck(c);
        noteDuplicate(c, seg.seq, seqLt(end, c.rcvNxt) ? end : c.rcvNxt);
      }
      c.ackNow = true;
    } else if (seqGe(seg.seq, c.rcvNxt) && now - c.lastOowAckAt >= c.ctx.options.invalidRateLimitMs) {
      // a pure ACK: one below RCV.NXT is an old one, dropped unanswered (Linux's PAWS_OLD_ACK);
      // others are answered at most once per invalidRateLimitMs (tcp_oow_rate_limited)
      c.lastOowAckAt = now;
      c.ackNow = true;
    }
    return;
  }

  // a retransmitted SYN in SYN-RECEIVED: our SYN-ACK was lost, send it again (as Linux)
  if (c.state === State.SYN_RECEIVED && c.passive && (f & (TCP_FLAG_SYN | TCP_FLAG_ACK | TCP_FLAG_RST)) === TCP_FLAG_SYN && seg.seq === c.irs) {
    // RFC 7323 §4.3: echo this SYN's TSval, so the client's RTT sample is not the SYN timeout
    if (c.tsOk && tsVal !== undefined && seqGe(tsVal, c.tsRecent)) {
      c.tsRecent = tsVal;
      c.tsRecentTime = now;
    }
    sendSyn(c);
    c.rttTime = -1;
    return;
  }

  // first check: sequence number acceptability
  const rcvWnd = Math.max(0, seqSub(c.rcvAdvRight, c.rcvNxt));
  let acceptable: boolean;
  if (segLen === 0) {
    acceptable = rcvWnd === 0 ? seg.seq === c.rcvNxt : seqGe(seg.seq, c.rcvNxt) && seqLt(seg.seq, seqAdd(c.rcvNxt, rcvWnd));
  } else if (rcvWnd === 0) {
    acceptable = false;
  } else {
    const last = seqAdd(seg.seq, segLen - 1);
    const right = seqAdd(c.rcvNxt, rcvWnd);
    acceptable = (seqGe(seg.seq, c.rcvNxt) && seqLt(seg.seq, right)) || (seqGe(last, c.rcvNxt) && seqLt(last, right));
  }
  if (!acceptable) {
    // a zero window still takes ACKs and RSTs at RCV.NXT (RFC 9293 §3.10.7.4)
    if (rcvWnd === 0 && seg.seq === c.rcvNxt) {
      if (payload.length > 0) {
        c.ackScheduled = true;
        enterQuickAck(c);
      }
      payload = EMPTY;
      hasFin = false;
      segLen = 0;
      c.ackNow = true;
    } else {
      // RFC 5961 §4.2: a SYN, whatever its sequence number, draws a challenge ACK (as Linux's
      // tcp_validate_incoming: syn_challenge)
      if (!isRst && (f & TCP_FLAG_SYN) !== 0) {
        challengeAck(c);
        return;
      }
      // duplicate ACKs for out-of-window pure ACKs are rate limited (as Linux's
      // tcp_invalid_ratelimit), so two confused ends cannot ping-pong ACKs forever
      if (!isRst && (segLen > 0 || now - c.lastOowAckAt >= c.ctx.options.invalidRateLimitMs)) {
        if (segLen === 0) c.lastOowAckAt = now;
        // data outside the window: quick-ack mode again; the ACK itself uses none (Linux's tcp_send_dupack)
        else {
          enterQuickAck(c);
          // RFC 2883 §4.1.1: an old duplicate is reported in the ACK's first SACK block
          if (seqLt(seg.seq, c.rcvNxt) && c.state !== State.TIME_WAIT) {
            const end = seqAdd(seg.seq, segLen);
            noteDuplicate(c, seg.seq, seqLt(end, c.rcvNxt) ? end : c.rcvNxt);
            // a retransmission reaching Last.ACK.sent (Linux's rcv_wup: tcp_sequence accepts it)
            // updates TS.Recent, so the ACK echoes it: echoing the original, whose ACK was lost,
            // would time the lost ACK and the sender's RTO as one round trip (RFC 7323 §4.3)
            if (c.tsOk && tsVal !== undefined && seqGe(tsVal, c.tsRecent) && seqLe(seg.seq, c.lastAckSent) && seqGe(end, c.lastAckSent)) {
              c.tsRecent = tsVal;
              c.tsRecentTime = now;
            }
          }
        }
        c.ackNow = true;
      }
      return;
    }
  }

  // second check: RST (RFC 5961 §3.2)
  if (isRst) {
    if (seg.seq !== c.rcvNxt) {
      challengeAck(c);
      return;
    }
    c.ctx.stats.resetsReceived++;
    const s = c.state;
    if (s === State.SYN_RECEIVED) close(c, c.passive ? undefined : "ECONNREFUSED");
    else if (s === State.CLOSING || s === State.LAST_ACK || s === State.TIME_WAIT) close(c, undefined);
    else close(c, "ECONNRESET");
    return;
  }

  // fourth check: SYN in a synchronized state (RFC 5961 §4.2)
  if ((f & TCP_FLAG_SYN) !== 0) {
    challengeAck(c);
    return;
  }

  // fifth check: ACK
  if ((f & TCP_FLAG_ACK) === 0) return;
  if (c.state === State.SYN_RECEIVED) {
    if (seqLe(seg.ack, c.sndUna) || seqGt(seg.ack, c.sndMax)) {
      emitReset(c, seg.ack, 0, false);
      return;
    }
    if (c.passive && !c.ctx.canAccept(c)) {
      // accept queue full: forget this ACK, the SYN-ACK is retransmitted later (as Linux)
      return;
    }
    c.sndUna = seg.ack;
    // RFC 6298 §2: a sample from the handshake (Linux: tcp_synack_rtt_meas); by the echoed
    // timestamp, or else by the time since the SYN-ACK when it was sent once (Karn)
    if (rttSampleFromTs(c, seg) === undefined && c.rttTime >= 0 && seqGt(seg.ack, c.rttSeq)) c.rtt.sample(now - c.rttTime);
    c.rttTime = -1;
    establish(c, seg);
    if (!c.passive) emitConnect(c);
    else c.ctx.onEstablished(c);
    if ((c.state as number) === State.CLOSED) return;
  }
  // RFC 5961 §5.2 ACK acceptability
  if (seqGt(seg.ack, c.sndMax)) {
    c.ackNow = true;
    return;
  }
  if (seqLt(seg.ack, seqSub(c.sndUna, c.maxSndWnd) >>> 0)) {
    challengeAck(c);
    return;
  }

  // RFC 7323 §4.3: TS.Recent from segments covering Last.ACK.sent
  if (c.tsOk && tsVal !== undefined && seqGe(tsVal, c.tsRecent) && seqLe(seg.seq, c.lastAckSent)) {
    c.tsRecent = tsVal;
    c.tsRecentTime = now;
  }

  processAck(c, seg, payload.length, now, disordered);
  if (c.state === State.CLOSED || c.state === State.TIME_WAIT) return;

  // seventh check: segment text
  const s = c.state;
  if (payload.length > 0 && (s === State.ESTABLISHED || s === State.FIN_WAIT_1 || s === State.FIN_WAIT_2)) {
    if (c.ecn !== null) noteEcn(c, c.ecn, (f & TCP_FLAG_CWR) !== 0);
    receiveText(c, seg.seq, payload);
    if (c.state === State.CLOSED) return;
  }

  // eighth check: FIN
  if (hasFin) {
    const finSeq = seqAdd(seg.seq, payload.length);
    if (finSeq === c.rcvNxt) receiveFin(c, now);
    else if (seqGt(finSeq, c.rcvNxt)) {
      c.oooFin = finSeq;
      c.ackNow = true;
    } else if (c.finReceived) c.ackNow = true;
  }
}

/** `disordered`: an ACK overtaken by newer ones (disorderedAck): its window is old news. */
function processAck(c: Tcb, seg: TcpRepr, payloadLen: number, now: number, disordered: boolean): void {
  const ack = seg.ack;
  const f = seg.flags;
  const mss = c.mss;
  let newlyAcked = 0;
  let rttSample: number | undefined;
  const oldWnd = c.sndWnd;
  const sackedBefore = c.scoreboard === null ? 0 : c.scoreboard.sacked;
  const unaBefore = c.sndUna;
  const highBefore = c.scoreboard === null ? c.sndUna : c.scoreboard.highest(c.sndUna);
  // RFC 8985 §6.2 step 3: data delivered below data delivered earlier, with no retransmission
  // in between (not in recovery, no timeout), arrived reordered
  let reordered = false;
  let dupAck = false;

  // RFC 3168 §6.1.2: ECE reduces the window as a loss would, once per window of data and not
  // in loss recovery (Linux's tcp_enter_cwr); the next new data segment carries CWR. The
  // reduction ends when an ACK passes SND.MAX at the ECE (so the CWR reached the peer).
  const ecn = c.ecn;
  if (ecn !== null && ecn.cwr && seqGt(ack, ecn.recover) && !seqGt(ack, c.sndMax)) endEcnReduction(c);
  if (ecn !== null && (f & TCP_FLAG_ECE) !== 0 && (f & TCP_FLAG_SYN) === 0) {
    c.ctx.stats.ecnEceReceived++;
    if (!c.inRecovery && !ecn.cwr && seqGt(c.sndMax, c.sndUna)) {
      beginEcnReduction(c, now);
      ecn.cwrPending = true;
      c.ctx.stats.ecnReductions++;
    }
  }

  // F-RTO (RFC 5682) after a timeout: the ACK is tested for data never retransmitted
  const frto = c.rec !== null && c.rec.frto !== FRTO_OFF;
  if (frto) frtoBeginAck(c, ack);

  const blocks = seg.options.sackBlocks;
  let sackNews = false;
  if (c.sackOk && blocks !== undefined) {
    // RFC 2883 §4: a first block below the cumulative ACK, or inside the second, reports a duplicate
    const b0 = blocks[0],
      b1 = blocks[1];
    if (b0 !== undefined && (seqLe(b0.right, ack) || (b1 !== undefined && seqGe(b0.left, b1.left) && seqLe(b0.right, b1.right)))) {
      onDsack(c, b0.left, b0.right);
    }
    if (c.scoreboard === null) c.scoreboard = new SackScoreboard();
    for (const b of blocks) {
      if (c.scoreboard.add(b.left, b.right, seqMax(ack, c.sndUna), c.sndMax)) {
        sackNews = true;
        if (frto) frtoNoteSack(c, b.left, b.right);
        if (seqLt(b.right, highBefore)) reordered = true;
      }
    }
    if (sackNews) noteSackedHigh(c, c.scoreboard.highest(c.sndUna));
  }
  if (frto) frtoSpurious(c);

  if (seqGt(ack, c.sndUna)) {
    const acked = seqSub(ack, c.sndUna);
    const buffered = c.bufferedAmount;
    // a hole filled by its first transmission
    if (seqGt(highBefore, c.sndUna)) reordered = true;
    let dataAcked = acked;
    if (c.finQueued && !c.finAcked && acked > buffered) {
      c.finAcked = true;
      dataAcked = buffered;
    }
    if (c.sendBuf !== null) {
      c.sendBuf.consume(dataAcked);
      // Drained: back to the layer (it keeps a small block for the next write of any connection).
      if (c.sendBuf.length === 0) {
        c.ctx.releaseSendBuffer(c.sendBuf);
        c.sendBuf = null;
      }
    }
    c.sndUna = ack;
    // Forward progress: the peer got what we sent, so its neighbour entry is reachable (Linux dst_confirm).
    c.ctx.ip.confirmReachable?.(c.remoteAddress);
    if (seqLt(c.sndNxt, ack)) c.sndNxt = ack;
    if (seqLt(c.highRxt, ack)) c.highRxt = ack;
    // Markers behind the cumulative ACK move up with it: compared with 32-bit sequence
    // arithmetic, one left 2^31 bytes behind would read as ahead (recovery never allowed
    // again, Nagle holding every short segment). Both tests keep their outcome.
    if (seqLt(c.recoverSeq, ack)) c.recoverSeq = ack;
    if (seqLt(c.smallEnd, ack)) c.smallEnd = ack;
    newlyAcked = dataAcked;
    rttSample = rttSampleFromTs(c, seg);
    if (rttSample === undefined && c.rttTime >= 0 && seqGt(ack, c.rttSeq)) {
      rttSample = now - c.rttTime;
      c.rtt.sample(rttSample);
      c.rttTime = -1;
    }
    checkTimestampUndo(c, ack, seg.options.tsEcr);
    c.retries = 0;
    c.rtt.resetBackoff();
    if (c.scoreboard !== null) {
      c.scoreboard.ackedTo(ack);
      if (c.scoreboard.empty) c.scoreboard = null;
    }
    if (c.inRecovery) {
      if (seqGe(ack, c.recoverSeq)) {
        c.inRecovery = false;
        c.dupAcks = 0;
        keepRetransmissionsAbove(c, ack);
        c.cc.onRecoveryEnd(mss, now);
        rackOnRecoveryEnd(c);
      } else {
        c.recovery.onPartialAck(c, dataAcked);
      }
    } else {
      c.dupAcks = 0;
      // no growth while an ECE reduction is under way (Linux's tcp_cong_control in CWR)
      if (c.ecn === null || !c.ecn.cwr) c.cc.onAck(dataAcked, mss, now, rttSample, ack, c.sndMax);
    }
    c.rtoAt = c.sndUna === c.sndMax ? NONE : now + c.rtt.rto;
    armTailLossProbe(c, now);
    if (c.drainWanted && c.bufferedAmount < c.ctx.options.sendBufferSize) {
      c.drainWanted = false;
      c.onDrainHandler?.();
      if (c.state === State.CLOSED) return;
    }
  }

  // window update (RFC 9293 §3.10.7.4, fifth check)
  if (!disordered && (seqLt(c.sndWl1, seg.seq) || (c.sndWl1 === seg.seq && seqLe(c.sndWl2, ack)))) {
    c.sndWnd = seg.window << c.sndWscale;
    if (c.sndWnd > c.maxSndWnd) c.maxSndWnd = c.sndWnd;
    c.sndWl1 = seg.seq;
    c.sndWl2 = ack;
    if (c.sndWnd > 0) {
      c.persistAt = NONE;
      c.persistBackoff = 0;
    }
  }

  if (frto && c.rec!.frto !== FRTO_OFF) frtoOnAck(c, seqGt(c.sndUna, unaBefore));

  // duplicate ACK: with SACK, RFC 6675 §2: an ACK whose SACK blocks report new data, whatever
  // else it does (a duplicated segment alone never counts); without, RFC 5681 §2
  if (
    c.sackOk
      ? sackNews && c.sndMax !== c.sndUna
      : ack === c.sndUna && newlyAcked === 0 && payloadLen === 0 && (f & (TCP_FLAG_SYN | TCP_FLAG_FIN)) === 0 && c.sndMax !== c.sndUna && c.sndWnd === oldWnd
  ) {
    c.dupAcks++;
    dupAck = true;
    if (c.inRecovery) c.recovery.onDuplicateAck(c);
  }

  rackOnAck(c, now, reordered && !c.inRecovery && c.retries === 0);
  if (c.inRecovery) c.recovery.afterAck(c, now);
  detectLoss(c, now);
  if (c.inRecovery) {
    // RFC 6937 DeliveredData: the change in SND.UNA plus the change in SACKed bytes
    c.recovery.onDelivered(c, seqSub(c.sndUna, unaBefore) + (c.scoreboard === null ? 0 : c.scoreboard.sacked) - sackedBefore, seqGt(c.sndUna, unaBefore));
  } else if (c.ecn !== null && c.ecn.cwr) {
    ecnReductionOnAck(c, seqSub(c.sndUna, unaBefore) + (c.scoreboard === null ? 0 : c.scoreboard.sacked) - sackedBefore, seqGt(c.sndUna, unaBefore));
  }
  if (c.rate !== null) controlByRate(c, blocks, sackNews, unaBefore, sackedBefore, dupAck, now);

  // our FIN acknowledged
  if (c.finAcked) {
    const s = c.state;
    if (s === State.FIN_WAIT_1) c.state = State.FIN_WAIT_2;
    else if (s === State.CLOSING) enterTimeWait(c, now);
    else if (s === State.LAST_ACK) close(c, undefined);
  }
}

/**
 * A model-based controller's step (Linux's tcp_cong_control with cong_control): the ACK's
 * delivery-rate sample, sampled on the most recently sent data it delivered: the first SACK block
 * that is not a D-SACK (RFC 2018 §4: it holds the segment that triggered the ACK), or the
 * cumulative ACK when nothing was SACKed. Without SACK a duplicate ACK counts one segment
 * delivered (as Linux's tcp_add_reno_sack).
 */
function controlByRate(
  c: Tcb,
  blocks: TcpRepr["options"]["sackBlocks"],
  sackNews: boolean,
  unaBefore: number,
  sackedBefore: number,
  dupAck: boolean,
  now: number,
): void {
  const sacked = c.scoreboard === null ? 0 : c.scoreboard.sacked;
  let delivered = seqSub(c.sndUna, unaBefore) + sacked - sackedBefore;
  // (the ACK of our SYN-ACK delivers no data, but starts the pacing rate from the handshake's RTT)
  if (unaBefore === c.iss && delivered > 0) delivered--;
  if (!c.sackOk && dupAck) delivered += c.mss;
  let newest: number | undefined;
  if (sackNews && blocks !== undefined) {
    const b0 = blocks[0],
      b1 = blocks[1];
    const first = b0 !== undefined && seqLe(b0.right, c.sndUna) ? b1 : b0;
    if (first !== undefined && seqGt(first.right, c.sndUna) && seqLe(first.right, c.sndMax)) newest = first.right;
  } else if (seqGt(c.sndUna, unaBefore) && sackedBefore === 0) {
    newest = c.sndUna;
  }
  const priorInflight = seqSub(c.sndMax, unaBefore) - sackedBefore;
  // in SACK recovery lost data is not in flight, and the retransmissions this ACK just made are
  // not yet (Linux's tcp_cong_control runs before tcp_xmit_recovery): packet conservation's base
  const inflight = c.inRecovery && c.sackOk ? pipeInRecovery(c) - c.rate!.retransmittedAt(now) : seqSub(c.sndMax, c.sndUna) - sacked;
  const rs = c.rate!.onAck(Math.max(delivered, 0), newest, c.sndUna, now, priorInflight, inflight, unaBefore, sackNews && blocks !== undefined ? blocks : []);
  // after a timeout, until what was out at that time is acknowledged (Linux's TCP_CA_Loss)
  const phase = c.inRecovery ? 1 : seqLt(c.sndUna, c.recoverSeq) ? 2 : 0;
  c.cc.control!(rs, phase, c.mss, c.rtt.hasSample ? c.rtt.srtt : 0, now);
}

/** Handles an ICMP error quoting one of our segments with sequence `seq` (RFC 5927 §4.1, RFC 1122 §4.2.3.9, RFC 1191). */
export function icmpError(c: Tcb, e: IcmpErrorReport, seq: number): void {
  const s = c.state;
  if (s === State.CLOSED || s === State.TIME_WAIT) return;
  if (seqLt(seq, c.sndUna) || seqGe(seq, c.sndMax)) return;
  if (e.kind === "dst-unreachable" && e.code === 4) {
    // RFC 1191: fragmentation needed; the IP layer has lowered the path MTU
    const mss = Math.max(1, Math.min(c.mss, pathMss(c) - (c.tsOk ? 12 : 0)));
    if (mss < c.mss && s >= State.ESTABLISHED) {
      c.mss = mss;
      c.sndNxt = c.sndUna;
      output(c);
      armTimer(c);
    }
    return;
  }
  if (s === State.SYN_SENT && e.kind === "dst-unreachable" && (e.code === 2 || e.code === 3)) {
    close(c, "ECONNREFUSED");
    return;
  }
  c.softError = "EHOSTUNREACH";
}
