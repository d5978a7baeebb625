// Opening a connection (RFC 9293 §3.10.1, §3.10.7.2–3): active and passive opens, SYN-cookie
// completions, the options of the peer's SYN (RFC 7323, RFC 2018, MSS), our SYN / SYN-ACK,
// the SYN-SENT input.
import { TCP_FLAG_ACK, TCP_FLAG_CWR, TCP_FLAG_ECE, TCP_FLAG_RST, TCP_FLAG_SYN, TCP_MAX_WSCALE, type TcpRepr } from "../../wire/tcp.ts";
import { seqAdd, seqGt, seqLe, seqSub } from "./seq.ts";
import { createCongestionControl } from "./congestion.ts";
import { DeliveryRate } from "./delivery-rate.ts";
import { armTimer } from "./deadlines.ts";
import { close, emitConnect } from "./close.ts";
import { DEFAULT_MSS, clampMss, localMss } from "./options.ts";
import { NEWRENO_RECOVERY, SACK_RECOVERY } from "./recovery.ts";
import { emitReset, tsNow, writeSegment } from "./segment-writer.ts";
import { rttSampleFromTs } from "./sender.ts";
import { EcnState, NONE, State, type Tcb } from "./state.ts";

/** Active open: sends the SYN (RFC 9293 §3.10.1). */
export function openActive(c: Tcb, iss: number): void {
  initSend(c, iss);
  c.state = State.SYN_SENT;
  c.sndNxt = c.sndMax = seqAdd(iss, 1);
  c.ctx.stats.activeOpens++;
  sendSyn(c);
  c.rtoAt = c.ctx.clock.now() + c.rtt.rto;
  armTimer(c);
}

/** Passive open from a SYN (RFC 9293 §3.10.7.2): sends the SYN-ACK. */
export function openPassive(c: Tcb, syn: TcpRepr, iss: number): void {
  c.passive = true;
  initSend(c, iss);
  c.state = State.SYN_RECEIVED;
  c.sndNxt = c.sndMax = seqAdd(iss, 1);
  acceptSynOptions(c, syn, true);
  // RFC 3168 §6.1.1: an ECN-setup SYN (ECE and CWR) is answered with ECE unless ECN is off
  if (c.ctx.options.ecn !== "off" && (syn.flags & (TCP_FLAG_ECE | TCP_FLAG_CWR)) === (TCP_FLAG_ECE | TCP_FLAG_CWR)) c.ecn = new EcnState();
  c.ctx.stats.passiveOpens++;
  sendSyn(c);
  // RFC 6298 §2 / Karn: the ACK of this SYN-ACK gives the first RTT sample unless it is resent
  c.rttSeq = iss;
  c.rttTime = c.ctx.clock.now();
  c.rtoAt = c.ctx.clock.now() + c.rtt.rto;
  armTimer(c);
}

/** Establishes a connection from a valid SYN-cookie ACK (the SYN options come from the cookie). */
export function openFromCookie(c: Tcb, ackSeg: TcpRepr, mss: number, windowScale: number | undefined, sackPermitted: boolean): void {
  c.passive = true;
  initSend(c, seqSub(ackSeg.ack, 1) >>> 0);
  c.sndNxt = c.sndMax = c.sndUna = ackSeg.ack;
  c.irs = seqSub(ackSeg.seq, 1) >>> 0;
  c.rcvNxt = ackSeg.seq;
  const o = c.ctx.options;
  const synOpts: { mss: number; windowScale?: number; sackPermitted?: boolean; tsVal?: number; tsEcr?: number } = { mss };
  if (windowScale !== undefined && o.windowScaling) synOpts.windowScale = windowScale;
  if (sackPermitted && o.sack) synOpts.sackPermitted = true;
  if (ackSeg.options.tsVal !== undefined && o.timestamps) {
    synOpts.tsVal = ackSeg.options.tsVal;
    synOpts.tsEcr = 0;
  }
  acceptSynOptions(c, { ...ackSeg, seq: c.irs, options: synOpts }, true);
  c.rcvAdvRight = seqAdd(c.rcvNxt, Math.min(65535, o.receiveBufferSize));
  c.lastAckSent = c.rcvNxt;
  c.ctx.stats.passiveOpens++;
  c.state = State.SYN_RECEIVED;
  establish(c, ackSeg);
}

function initSend(c: Tcb, iss: number): void {
  c.iss = c.sndUna = c.sndWl2 = c.smallEnd = iss;
  c.recoverSeq = iss;
  c.highRxt = iss;
  const o = c.ctx.options;
  c.rcvWscale = o.windowScaling ? o.windowScaleShift : 0;
  c.rcvMss = pathMss(c);
  c.lastRecv = c.ctx.clock.now();
}

/** The MSS we announce on this connection's path. */
export function pathMss(c: Tcb): number {
  return localMss(c.ctx.ip.mtuTo(c.remoteAddress));
}

/** Applies the options of the peer's SYN (RFC 7323 §2.2, §3.2; RFC 2018 §2; RFC 9293 §3.7.1). */
function acceptSynOptions(c: Tcb, syn: TcpRepr, fromSynOnly: boolean): void {
  const o = c.ctx.options;
  const so = syn.options;
  if (fromSynOnly) {
    c.irs = syn.seq;
    c.rcvNxt = seqAdd(syn.seq, 1);
    c.lastAckSent = c.rcvNxt;
  }
  c.wsOk = o.windowScaling && so.windowScale !== undefined;
  c.sndWscale = c.wsOk ? Math.min(so.windowScale!, TCP_MAX_WSCALE) : 0;
  if (!c.wsOk) c.rcvWscale = 0;
  c.tsOk = o.timestamps && so.tsVal !== undefined;
  if (c.tsOk) {
    c.tsRecent = so.tsVal!;
    c.tsRecentTime = c.ctx.clock.now();
  }
  c.sackOk = o.sack && so.sackPermitted === true;
  c.recovery = c.sackOk ? SACK_RECOVERY : NEWRENO_RECOVERY;
  // a tiny advertised MSS would make every byte a segment: floor it (Linux: tcp_min_snd_mss)
  const peerMss = clampMss(so.mss ?? DEFAULT_MSS);
  c.mss = Math.max(1, Math.min(peerMss, pathMss(c)) - (c.tsOk ? 12 : 0));
  c.rcvMss = Math.max(1, pathMss(c) - (c.tsOk ? 12 : 0));
  c.cc = createCongestionControl(c.cc.name, c.mss, c.cc.hystartEnabled, c.ctx.stats, c.ctx.rng);
  // a model-based controller (BBR) samples the delivery rate and paces: only its connections pay for it
  c.rate = c.cc.control === undefined ? null : new DeliveryRate();
  // SYN windows are never scaled (RFC 7323 §2.2)
  c.sndWnd = syn.window;
  c.maxSndWnd = c.sndWnd;
  c.sndWl1 = syn.seq;
}

export function sendSyn(c: Tcb): void {
  const o = c.ctx.options;
  const active = c.state === State.SYN_SENT;
  const opts: { mss: number; windowScale?: number; sackPermitted?: boolean; tsVal?: number; tsEcr?: number } = { mss: pathMss(c) };
  if (active ? o.sack : c.sackOk) opts.sackPermitted = true;
  if (active ? o.timestamps : c.tsOk) {
    opts.tsVal = tsNow(c);
    opts.tsEcr = active ? 0 : c.tsRecent;
  }
  if (active ? o.windowScaling : c.wsOk) opts.windowScale = c.rcvWscale;
  let flags = active ? TCP_FLAG_SYN : TCP_FLAG_SYN | TCP_FLAG_ACK;
  // RFC 3168 §6.1.1: an ECN-setup SYN; a retransmitted SYN goes without (Linux's ECN fallback,
  // tcp_ecn_clear_syn: a middlebox may drop SYNs with ECN flags)
  if (active && o.ecn === "on" && c.retries === 0) flags |= TCP_FLAG_ECE | TCP_FLAG_CWR;
  if (!active && c.ecn !== null) flags |= TCP_FLAG_ECE;
  writeSegment(c, flags, c.iss, 0, 0, opts);
}

export function establish(c: Tcb, seg: TcpRepr): void {
  c.state = State.ESTABLISHED;
  // RFC 7323 §2.2: the window of a SYN or SYN-ACK is never scaled (the active opener
  // establishes on the peer's SYN-ACK)
  c.sndWnd = (seg.flags & TCP_FLAG_SYN) !== 0 ? seg.window : seg.window << c.sndWscale;
  c.maxSndWnd = Math.max(c.maxSndWnd, c.sndWnd);
  c.sndWl1 = seg.seq;
  c.sndWl2 = seg.ack;
  c.retries = 0;
  c.rtt.resetBackoff();
  c.rtoAt = NONE;
  if (c.keepAliveMs > 0) c.keepAliveAt = c.ctx.clock.now() + c.keepAliveMs;
  if (c.finQueued) c.state = State.FIN_WAIT_1;
}

/** RFC 9293 §3.10.7.3 */
export function inputSynSent(c: Tcb, seg: TcpRepr): void {
  const f = seg.flags;
  const hasAck = (f & TCP_FLAG_ACK) !== 0;
  if (hasAck && (seqLe(seg.ack, c.iss) || seqGt(seg.ack, c.sndMax))) {
    if ((f & TCP_FLAG_RST) === 0) emitReset(c, seg.ack, 0, false);
    return;
  }
  if ((f & TCP_FLAG_RST) !== 0) {
    // RFC 5961 §3.2 for SYN-SENT: only an RST acknowledging our SYN is believed
    if (hasAck) {
      c.ctx.stats.resetsReceived++;
      close(c, "ECONNREFUSED");
    }
    return;
  }
  if ((f & TCP_FLAG_SYN) === 0) return;
  acceptSynOptions(c, seg, true);
  c.rcvAdvRight = c.rcvNxt;
  if (hasAck) {
    // RFC 3168 §6.1.1: an ECN-setup SYN-ACK has ECE and not CWR (and answers a SYN that asked)
    if (c.ctx.options.ecn === "on" && (f & (TCP_FLAG_ECE | TCP_FLAG_CWR)) === TCP_FLAG_ECE && c.retries === 0) c.ecn = new EcnState();
    c.sndUna = seg.ack;
    rttSampleFromTs(c, seg);
    establish(c, seg);
    c.ackNow = true;
    emitConnect(c);
  } else {
    // simultaneous open (RFC 9293 §3.10.7.3 fourth check, Figure 8)
    c.state = State.SYN_RECEIVED;
    sendSyn(c);
  }
}
