// The connection's deadlines and its one Clock timer: armTimer re-arms the timer lazily to the
// earliest deadline (retransmission, tail loss probe, reorder, delayed ACK, persist, keepalive, pacing); armTailLossProbe computes the probe deadline (RFC 8985 §7.2).
import { seqSub } from "./seq.ts";
import { NONE, State, type Tcb } from "./state.ts";

/** RFC 8985 §7.2 WCDelAckT: the longest a peer may delay an ACK. */
const WORST_CASE_DELAYED_ACK_MS = 200;

export function armTimer(c: Tcb): void {
  // (a connection in TIME-WAIT has handed it to its layer's record: no timer of its own)
  if (c.state === State.CLOSED || c.state === State.TIME_WAIT) return;
  const at = Math.min(c.rtoAt, c.tlpAt, c.rackAt, c.delackAt, c.persistAt, c.keepAliveAt, c.rate === null ? NONE : c.rate.waitAt);
  if (at === NONE) return;
  if (c.timerId !== 0 && c.timerAt <= at) return;
  if (c.timerId !== 0) c.ctx.clock.cancel(c.timerId);
  c.timerAt = at;
  c.timerId = c.ctx.clock.setTimer(at, (c.fireTimer ??= c.ctx.timerCallback(c)));
}

/**
 * RFC 8985 §7.2: with SACK and an RTT sample, probe PTO = 2·SRTT after the last send
 * (plus WCDelAckT when one segment is in flight; at least 10 ms, at most the RTO), so a lost tail draws SACK information instead of waiting for the RTO.
 */
export function armTailLossProbe(c: Tcb, now: number): void {
  if (!c.ctx.options.tailLossProbe || !c.sackOk || !c.rtt.hasSample || c.inRecovery || c.sndUna === c.sndMax || c.state < State.ESTABLISHED || c.retries > 0) {
    c.tlpAt = NONE;
    return;
  }
  let pto = 2 * c.rtt.srtt;
  if (seqSub(c.sndMax, c.sndUna) <= c.mss) pto += WORST_CASE_DELAYED_ACK_MS;
  pto = Math.min(Math.max(pto, 10), c.rtt.rto);
  c.tlpAt = now + pto;
}
