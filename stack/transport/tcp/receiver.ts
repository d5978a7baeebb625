// The receiving half (RFC 9293 §3.10.7.4 seventh and eighth checks): in-order delivery,
// the out-of-order queue, FIN, the ACK policy (delayed ACKs, quick-ack mode as Linux) and
// window updates. It decides when an ACK is owed (Tcb.ackNow, delackAt); the sender sends it.
import { ReassemblyQueue } from "./reassembly.ts";
import { seqAdd, seqLt, seqSub } from "./seq.ts";
import { enterTimeWait, notifyClose } from "./close.ts";
import { NONE, State, type EcnState, type Tcb } from "./state.ts";

/** Most ACKs one entry into quick-ack mode sends at once (Linux's TCP_MAX_QUICKACKS). */
const MAX_QUICKACKS = 16;

/**
 * RFC 2883 §4: remembers [left, right) as a duplicate to report in the first SACK block of the
 * next ACK (a later duplicate replaces it, as Linux's tcp_dsack_set).
 */
export function noteDuplicate(c: Tcb, left: number, right: number): void {
  if (!c.sackOk || !c.ctx.options.dsack) return;
  c.dsackLeft = left;
  c.dsackRight = right;
}

/**
 * RFC 3168 §6.1.3 for a data segment of an ECN connection: the peer's CWR ends the echo of an
 * earlier CE; a CE mark (the layer set ecn.rxCe from the IP header) starts it, acknowledged at once
 * (as Linux's tcp_ecn_check_ce enters quick-ack mode), and ECE then rides on every ACK.
 */
export function noteEcn(c: Tcb, ecn: EcnState, cwr: boolean): void {
  if (cwr) ecn.echoing = false;
  if (!ecn.rxCe) return;
  c.ctx.stats.ecnCeReceived++;
  if (!ecn.echoing) {
    ecn.echoing = true;
    enterQuickAck(c);
    c.ackNow = true;
  }
}

export function receiveText(c: Tcb, seq: number, payload: Uint8Array): void {
  const right = c.rcvAdvRight;
  c.ackScheduled = true;
  // trim to the window; a duplicate or beyond the window: ACK at once, quick-ack mode again (as Linux)
  if (seqLt(seq, c.rcvNxt)) {
    const cut = seqSub(c.rcvNxt, seq);
    if (cut >= payload.length) {
      noteDuplicate(c, seq, seqAdd(seq, payload.length));
      enterQuickAck(c);
      c.ackNow = true;
      return;
    }
    noteDuplicate(c, seq, c.rcvNxt);
    payload = payload.subarray(cut);
    seq = c.rcvNxt;
  }
  const room = seqSub(right, seq);
  if (room <= 0) {
    enterQuickAck(c);
    c.ackNow = true;
    return;
  }
  if (payload.length > room) payload = payload.subarray(0, room);

  if (seq === c.rcvNxt) {
    noteInOrderData(c);
    c.rcvNxt = seqAdd(c.rcvNxt, payload.length);
    c.ctx.stats.bytesReceived += payload.length;
    let filled = false;
    if (c.ooo !== null && !c.ooo.empty) {
      // RFC 5681 §4.2: ACK at once when a hole is being filled
      c.ackNow = true;
      filled = true;
    }
    deliver(c, payload);
    if (c.state === State.CLOSED) return;
    if (filled && c.ooo !== null) {
      for (let more = c.ooo.takeInOrder(c.rcvNxt); more !== undefined; more = c.ooo.takeInOrder(c.rcvNxt)) {
        c.rcvNxt = seqAdd(c.rcvNxt, more.length);
        c.ctx.stats.bytesReceived += more.length;
        deliver(c, more);
        if (c.state === State.CLOSED) return;
      }
      if (c.ooo !== null && c.ooo.empty) c.ooo = null;
    }
    if (c.oooFin >= 0 && c.oooFin === c.rcvNxt) {
      c.oooFin = -1;
      receiveFin(c, c.ctx.clock.now());
      return;
    }
    // RFC 9293 §3.8.6.3 / RFC 5681 §4.2: ACK at least every second full-sized segment; in
    // quick-ack mode (not interactive) every segment at once, which RFC 1122 §4.2.3.2 allows
    c.rcvUnacked += payload.length;
    if (c.rcvUnacked >= 2 * c.rcvMss || (c.quickAcks > 0 && !c.interactive)) c.ackNow = true;
    else {
      // the window left to the sender is under one segment but the application has taken the
      // data: announce the reopened window at once instead of stalling the sender for the
      // delayed-ACK timer (Linux's tcp_cleanup_rbuf; matters with small receive buffers)
      if (seqSub(c.rcvAdvRight, c.rcvNxt) < c.rcvMss) maybeWindowUpdate(c);
      if (!c.ackNow && c.delackAt === NONE) c.delackAt = c.ctx.clock.now() + c.ctx.options.delayedAckMs;
      ackAfterRead(c);
    }
  } else {
    if (c.ooo === null) c.ooo = new ReassemblyQueue(c.ctx.options.outOfOrderBudget);
    c.ctx.payloadKept = true;
    if (!c.ooo.insert(seq, payload)) c.ctx.stats.outOfOrderDropped++;
    else {
      const dup = c.ooo.duplicate();
      if (dup !== undefined) noteDuplicate(c, dup.left, dup.right);
    }
    // RFC 5681 §4.2: out-of-order data is acknowledged at once (a duplicate ACK with SACK)
    c.ackNow = true;
  }
}

/**
 * Quick-ack mode, as Linux's receiver (tcp_event_data_recv, tcp_incr_quickack): the first
 * data of a connection, and data after a silence longer than the RTO, earn up to
 * MAX_QUICKACKS ACKs sent at once, so a sender in slow start (or restarting) is not held
 * back by delayed ACKs.
 */
function noteInOrderData(c: Tcb): void {
  if (!c.ctx.options.quickAck) return;
  const now = c.ctx.clock.now();
  if (c.lastDataAt < 0 || now - c.lastDataAt > c.rtt.rto) incrementQuickAcks(c);
  c.lastDataAt = now;
}

/**
 * Linux's tcp_incr_quickack: quick ACKs for half the advertised window in full segments
 * (at least 2, at most TCP_MAX_QUICKACKS = 16); never lowers what is left.
 */
function incrementQuickAcks(c: Tcb): void {
  const window = Math.max(0, seqSub(c.rcvAdvRight, c.lastAckSent));
  const n = Math.min(MAX_QUICKACKS, Math.floor(window / (2 * c.rcvMss)) || 2);
  if (n > c.quickAcks) c.quickAcks = n;
}

/** Linux's tcp_enter_quickack_mode (a duplicate or out-of-window data segment): more quick ACKs, not interactive. */
export function enterQuickAck(c: Tcb): void {
  if (!c.ctx.options.quickAck) return;
  incrementQuickAcks(c);
  c.interactive = false;
}

export function deliver(c: Tcb, data: Uint8Array): void {
  if (c.paused || c.onDataHandler === null || c.recvQueue !== null) {
    c.ctx.payloadKept = true;
    if (c.recvQueue === null) c.recvQueue = [];
    c.recvQueue.push(data);
    c.recvQueued += data.length;
    if (!c.paused && c.onDataHandler !== null) flushReceived(c);
    return;
  }
  const took = hand(c, data);
  if (took < data.length && !c.destroyed) {
    // an onRead reader paused mid-way: the rest waits for resume()
    c.ctx.payloadKept = true;
    c.recvQueue = [data.subarray(took)];
    c.recvQueued += data.length - took;
  }
}

/**
 * Gives `data` to the application: a view to an onData reader (which may keep it), or copies
 * into an onRead reader's buffer, one callback per buffer-full, stopping early when the reader
 * pauses or destroys the stream. Returns the bytes taken.
 */
function hand(c: Tcb, data: Uint8Array): number {
  const h = c.onDataHandler!;
  if (typeof h === "function") {
    c.ctx.payloadKept = true;
    h(data);
    return data.length;
  }
  const buffer = h.buffer;
  let off = 0;
  while (off < data.length) {
    const n = Math.min(buffer.length, data.length - off);
    buffer.set(n === data.length ? data : data.subarray(off, off + n));
    off += n;
    h.callback(n);
    if (c.paused || c.destroyed || c.onDataHandler === null) break;
    // the reader switched to another buffer or to onData: the rest goes to it
    if (c.onDataHandler !== h) return off < data.length ? off + hand(c, data.subarray(off)) : off;
  }
  return off;
}

export function flushReceived(c: Tcb): void {
  const q = c.recvQueue;
  if (q !== null) {
    c.recvQueue = null;
    let i = 0;
    for (; i < q.length; i++) {
      if (c.paused || c.onDataHandler === null || c.destroyed) break;
      const d = q[i]!;
      c.recvQueued -= d.length;
      const took = hand(c, d);
      if (took < d.length) {
        q[i] = d.subarray(took);
        c.recvQueued += d.length - took;
        break;
      }
    }
    if (i < q.length) {
      const rest = q.slice(i);
      c.recvQueue = c.recvQueue === null ? rest : rest.concat(c.recvQueue);
      return;
    }
  }
  if (c.finReceived && !c.endDelivered && c.recvQueue === null && !c.paused && !c.destroyed) {
    c.endDelivered = true;
    c.onEndHandler?.();
    if (c.closePending) {
      c.closePending = false;
      c.closeNotified = false;
      notifyClose(c, undefined);
    }
  }
}

export function receiveFin(c: Tcb, now: number): void {
  c.rcvNxt = seqAdd(c.rcvNxt, 1);
  c.finReceived = true;
  c.ackNow = true;
  const s = c.state;
  if (s === State.ESTABLISHED || s === State.SYN_RECEIVED) c.state = State.CLOSE_WAIT;
  else if (s === State.FIN_WAIT_1 && !c.finAcked) c.state = State.CLOSING;
  if (c.recvQueue === null && !c.paused) {
    c.endDelivered = true;
    c.onEndHandler?.();
  }
  if (c.state === s && ((s === State.FIN_WAIT_1 && c.finAcked) || s === State.FIN_WAIT_2)) enterTimeWait(c, now);
}

/**
 * Linux's ACK-on-read (tcp_cleanup_rbuf): once the application has taken everything received,
 * an ACK still owed goes out at once if more than a segment is unacknowledged, or if what is
 * unacknowledged is a short (pushed) segment and the connection is not interactive; the
 * delayed-ACK timer is for data the reader has not taken yet, or for replies to ride on.
 */
export function ackAfterRead(c: Tcb): void {
  if (c.ackNow || c.delackAt === NONE || c.recvQueued > 0 || c.paused) return;
  if (c.rcvUnacked > c.rcvMss || (c.rcvUnacked > 0 && c.rcvUnacked < c.rcvMss && !c.interactive)) c.ackNow = true;
}

export function maybeWindowUpdate(c: Tcb): void {
  if (c.state < State.ESTABLISHED || c.finReceived) return;
  const advertised = Math.max(0, seqSub(c.rcvAdvRight, c.rcvNxt));
  const free = Math.max(0, c.ctx.options.receiveBufferSize - c.recvQueued);
  // RFC 1122 §4.2.3.3 receiver SWS avoidance: the window opened by min(buffer/2, 2·MSS); and, as
  // Linux's tcp_cleanup_rbuf, only a window at least twice the one the sender has left
  if (free - advertised >= Math.min(c.ctx.options.receiveBufferSize / 2, 2 * c.rcvMss) && free >= 2 * advertised) c.ackNow = true;
}

export function challengeAck(c: Tcb): void {
  const ctx = c.ctx;
  const now = ctx.clock.now();
  // Linux's tcp_send_challenge_ack: the connection's own interval first (it shares it with the
  // ACKs answering out-of-window segments), then the layer's randomised budget
  if (now - c.lastOowAckAt < ctx.options.invalidRateLimitMs) {
    ctx.stats.challengeAcksSuppressed++;
    return;
  }
  c.lastOowAckAt = now;
  if (!ctx.allowChallengeAck()) {
    ctx.stats.challengeAcksSuppressed++;
    return;
  }
  ctx.stats.challengeAcks++;
  c.ackNow = true;
}
