// How a connection ends for the application and for its layer: TIME_WAIT (handed to the
// layer's compact record), CLOSED, and the
// onConnect / onClose notifications (onClose exactly once, after a paused reader's onEnd).
import type { StreamErrorCode } from "../types.ts";
import { NONE, State, type Tcb } from "./state.ts";

/** Enters TIME-WAIT: the layer keeps a compact record of the 4-tuple (time-wait.ts) and lets the
 * connection go (its timer is cancelled, it leaves the table); a pending ACK still goes out. */
export function enterTimeWait(c: Tcb, now: number): void {
  c.state = State.TIME_WAIT;
  c.rtoAt = c.tlpAt = c.rackAt = c.persistAt = c.keepAliveAt = c.delackAt = NONE;
  if (c.timerId !== 0) {
    c.ctx.clock.cancel(c.timerId);
    c.timerId = 0;
    c.timerAt = NONE;
  }
  c.sendBuf = null;
  c.ooo = null;
  c.scoreboard = null;
  c.ctx.onTimeWait(c, now);
  notifyClose(c, undefined);
}

export function emitConnect(c: Tcb): void {
  c.onConnectHandler?.();
}

export function notifyClose(c: Tcb, error: StreamErrorCode | undefined): void {
  if (c.closeNotified) return;
  c.closeNotified = true;
  if (error === undefined && c.finReceived && !c.endDelivered && c.recvQueue !== null) {
    // 'end' is still held by a paused reader: 'close' follows it
    c.closePending = true;
    return;
  }
  const h = c.onCloseHandler;
  if (h !== null) {
    if (error === undefined) h();
    else h(error);
  }
}

/** Moves to CLOSED, frees everything and reports onClose. */
export function close(c: Tcb, error: StreamErrorCode | undefined): void {
  remove(c);
  // a graceful close keeps data a paused reader has not taken yet (onEnd, then onClose, follow it)
  if (error !== undefined) {
    c.recvQueue = null;
    c.recvQueued = 0;
  }
  notifyClose(c, error);
}

export function remove(c: Tcb): void {
  if (c.state === State.CLOSED) return;
  c.state = State.CLOSED;
  if (c.timerId !== 0) {
    c.ctx.clock.cancel(c.timerId);
    c.timerId = 0;
  }
  c.sendBuf = null;
  c.ooo = null;
  c.scoreboard = null;
  c.ctx.onRemoved(c);
}
