// TIME-WAIT without the connection (RFC 9293 §3.10.7.4, RFC 1337, RFC 6191): when a connection
// enters TIME-WAIT its layer keeps only this record (4-tuple, sequence numbers, window,
// timestamps, deadline) and lets the connection, its buffers and the application's handlers go,
// as Linux's inet_timewait_sock does. The record still re-ACKs a retransmitted FIN (restarting
// 2·MSL), ends on an RST at RCV.NXT (TIME-WAIT assassination, as Linux with tcp_rfc1337 = 0),
// answers other RSTs in the window and every SYN it does not reuse with a challenge ACK
// (RFC 5961 §3.2, §4.2), applies PAWS (RFC 7323 §5) and lets a newer SYN reopen the 4-tuple.
// TimeWaitRecord: the record; recordTimeWait: one from a connection entering TIME-WAIT;
// timeWaitInput: a segment for it; acceptsReuse: may this SYN end it; TimeWaitHost: the layer.
import { TCP_FLAG_ACK, TCP_FLAG_FIN, TCP_FLAG_RST, TCP_FLAG_SYN, type TcpRepr } from "../../wire/tcp.ts";
import { seqAdd, seqGe, seqGt, seqLt } from "./seq.ts";
import { type SegmentSink, windowToAdvertise, writeStatelessSegment } from "./segment-writer.ts";
import type { SegmentSendOptions, Tcb } from "./state.ts";
import type { ResolvedTcpOptions } from "./options.ts";

const EMPTY = new Uint8Array(0);

/** What a TIME-WAIT record needs from its layer. */
export interface TimeWaitHost extends SegmentSink {
  readonly options: ResolvedTcpOptions;
  /** RFC 5961 §7: true if the layer's budget allows one more challenge ACK now. */
  allowChallengeAck(): boolean;
  /** The IPv4 send options of segments from `localAddress`. */
  sendOptionsFor(localAddress: number): SegmentSendOptions;
  /** Restarts the record's 2·MSL (it moves to the back of the layer's expiry queue). */
  restartTimeWait(r: TimeWaitRecord, now: number): void;
  /** Ends the record (RST, reuse, expiry). */
  endTimeWait(r: TimeWaitRecord): void;
}

/**
 * One 4-tuple in TIME-WAIT: only what answering its segments needs. Every field holds a small
 * integer (32-bit values are kept as int32, times as whole milliseconds), so V8 stores the record
 * as 11 tagged words with no boxed numbers: 112 bytes.
 */
export class TimeWaitRecord {
  readonly #localAddress: number;
  readonly #remoteAddress: number;
  /** localPort << 16 | remotePort */
  readonly #ports: number;
  readonly #sndNxt: number;
  readonly #rcvNxt: number;
  readonly #tsRecent: number;
  readonly #tsOffset: number;
  /** window field << 8 | window scale << 2 | timestamps negotiated << 1 | ended */
  #bits: number;
  /** When 2·MSL runs out (restarted by a retransmitted FIN), in whole ms. */
  expiresAt: number;
  /** When we last sent a rate-limited ACK (Linux's tw_last_oow_ack_time), in whole ms. */
  lastOowAckAt = -0x40000000;

  constructor(
    localAddress: number,
    localPort: number,
    remoteAddress: number,
    remotePort: number,
    sndNxt: number,
    rcvNxt: number,
    window: number,
    rcvWscale: number,
    tsOk: boolean,
    tsRecent: number,
    tsOffset: number,
    expiresAt: number,
  ) {
    this.#localAddress = localAddress | 0;
    this.#remoteAddress = remoteAddress | 0;
    this.#ports = (localPort << 16) | remotePort;
    this.#sndNxt = sndNxt | 0;
    this.#rcvNxt = rcvNxt | 0;
    this.#tsRecent = tsRecent | 0;
    this.#tsOffset = tsOffset | 0;
    this.#bits = (window << 8) | (rcvWscale << 2) | (tsOk ? 2 : 0);
    this.expiresAt = Math.ceil(expiresAt);
  }

  get localAddress(): number {
    return this.#localAddress >>> 0;
  }
  get remoteAddress(): number {
    return this.#remoteAddress >>> 0;
  }
  get localPort(): number {
    return this.#ports >>> 16;
  }
  get remotePort(): number {
    return this.#ports & 0xffff;
  }
  /** Our SND.NXT (everything we sent, FIN included, is acknowledged). */
  get sndNxt(): number {
    return this.#sndNxt >>> 0;
  }
  /** RCV.NXT, past the peer's FIN. */
  get rcvNxt(): number {
    return this.#rcvNxt >>> 0;
  }
  /** The window field we last advertised, and its scale (RFC 7323 §2.3). */
  get window(): number {
    return this.#bits >>> 8;
  }
  get rcvWscale(): number {
    return (this.#bits >>> 2) & 15;
  }
  get tsOk(): boolean {
    return (this.#bits & 2) !== 0;
  }
  get tsRecent(): number {
    return this.#tsRecent >>> 0;
  }
  get tsOffset(): number {
    return this.#tsOffset >>> 0;
  }
  /** Gone from the layer's table (ended early or expired). */
  get ended(): boolean {
    return (this.#bits & 1) !== 0;
  }
  markEnded(): void {
    this.#bits |= 1;
  }
}

/** The record of a connection entering TIME-WAIT at `now` (its FIN and the peer's are done). */
export function recordTimeWait(c: Tcb, now: number): TimeWaitRecord {
  // The window the connection's last ACK advertises. The record is made when the peer's FIN (or
  // the ACK of ours) arrives, before the ACK owed for it goes out: a window read from the old
  // rcvAdvRight (minus the FIN and the data that came with it) would move the right edge left
  // once TIME-WAIT answers with it (RFC 9293 §3.8.6.2.2). Linux records tw_rcv_wnd after
  // tcp_send_ack's tcp_select_window; the segment writer's computation, run here first, gives
  // the pending ACK the same field.
  const field = windowToAdvertise(c);
  return new TimeWaitRecord(
    c.localAddress,
    c.localPort,
    c.remoteAddress,
    c.remotePort,
    c.sndMax,
    c.rcvNxt,
    field,
    c.rcvWscale,
    c.tsOk,
    c.tsRecent,
    c.tsOffset,
    now + 2 * c.ctx.options.mslMs,
  );
}

/** RFC 6191-style reuse: a new SYN may end TIME-WAIT when its timestamp (or, without, its sequence) is newer. */
export function acceptsReuse(r: TimeWaitRecord, syn: TcpRepr): boolean {
  if (r.tsOk && syn.options.tsVal !== undefined) return seqGt(syn.options.tsVal, r.tsRecent);
  return seqGt(syn.seq, r.rcvNxt);
}

/** Processes a segment for a 4-tuple in TIME-WAIT (a reusing SYN was taken by the layer before). */
export function timeWaitInput(host: TimeWaitHost, r: TimeWaitRecord, seg: TcpRepr, now: number): void {
  const f = seg.flags;
  const isRst = (f & TCP_FLAG_RST) !== 0;
  const isSyn = (f & TCP_FLAG_SYN) !== 0;
  const hasFin = (f & TCP_FLAG_FIN) !== 0;
  const segLen = seg.payload.length + (isSyn ? 1 : 0) + (hasFin ? 1 : 0);
  const tsVal = seg.options.tsVal;

  // RFC 7323 §5.3 PAWS (a record lives 2·MSL, far less than §5.5's 24 idle days)
  if (r.tsOk && tsVal !== undefined && !isRst && seqLt(tsVal, r.tsRecent)) {
    host.stats.pawsRejected++;
    rateLimitedAck(host, r, now);
    return;
  }
  // RFC 9293 §3.10.7.4: a retransmitted FIN (our ACK of it was lost) is ACKed and restarts 2·MSL
  if (!isSyn && !isRst && hasFin && seqAdd(seg.seq, seg.payload.length + 1) === r.rcvNxt) {
    host.restartTimeWait(r, now);
    sendAck(host, r, now);
    return;
  }
  // RFC 5961 §4.2: any SYN not taken for reuse draws a challenge ACK
  if (isSyn && !isRst) {
    challengeAck(host, r, now);
    return;
  }

  const rcvWnd = r.window << r.rcvWscale;
  let acceptable: boolean;
  if (segLen === 0) {
    acceptable = rcvWnd === 0 ? seg.seq === r.rcvNxt : seqGe(seg.seq, r.rcvNxt) && seqLt(seg.seq, seqAdd(r.rcvNxt, rcvWnd));
  } else if (rcvWnd === 0) {
    acceptable = false;
  } else {
    const last = seqAdd(seg.seq, segLen - 1);
    const right = seqAdd(r.rcvNxt, rcvWnd);
    acceptable = (seqGe(seg.seq, r.rcvNxt) && seqLt(seg.seq, right)) || (seqGe(last, r.rcvNxt) && seqLt(last, right));
  }
  if (isRst) {
    if (!acceptable) return;
    // RFC 5961 §3.2; at RCV.NXT it ends TIME-WAIT (assassination, as Linux with tcp_rfc1337 = 0)
    if (seg.seq !== r.rcvNxt) {
      challengeAck(host, r, now);
      return;
    }
    host.stats.resetsReceived++;
    host.endTimeWait(r);
    return;
  }
  // data or a FIN: the text is ignored (RFC 9293 §3.10.7.4, seventh check) and ACKed; an
  // out-of-window pure ACK is answered at most once per invalidRateLimitMs
  if (segLen > 0) sendAck(host, r, now);
  else if (!acceptable) rateLimitedAck(host, r, now);
}

function challengeAck(host: TimeWaitHost, r: TimeWaitRecord, now: number): void {
  if (now - r.lastOowAckAt < host.options.invalidRateLimitMs) {
    host.stats.challengeAcksSuppressed++;
    return;
  }
  r.lastOowAckAt = Math.floor(now);
  if (!host.allowChallengeAck()) {
    host.stats.challengeAcksSuppressed++;
    return;
  }
  host.stats.challengeAcks++;
  sendAck(host, r, now);
}

function rateLimitedAck(host: TimeWaitHost, r: TimeWaitRecord, now: number): void {
  if (now - r.lastOowAckAt < host.options.invalidRateLimitMs) return;
  r.lastOowAckAt = Math.floor(now);
  sendAck(host, r, now);
}

/** <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>, with our timestamp and TS.Recent when negotiated. */
function sendAck(host: TimeWaitHost, r: TimeWaitRecord, now: number): void {
  const options = r.tsOk ? { tsVal: (Math.floor(now) + r.tsOffset) >>> 0, tsEcr: r.tsRecent } : {};
  writeStatelessSegment(
    host,
    r.localAddress,
    r.remoteAddress,
    {
      srcPort: r.localPort,
      dstPort: r.remotePort,
      seq: r.sndNxt,
      ack: r.rcvNxt,
      flags: TCP_FLAG_ACK,
      window: r.window,
      urgent: 0,
      options,
      payload: EMPTY,
    },
    host.sendOptionsFor(r.localAddress).plain,
  );
}
