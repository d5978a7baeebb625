// One TCP connection (RFC 9293 §3.10): the state machine driven by three kinds of input,
// segments (input), user calls (the ByteStream methods) and its timer (one Clock timer
// per connection, re-armed lazily to the earliest of its deadlines: retransmission, tail loss probe,
// delayed ACK, persist, keepalive, TIME_WAIT). Everything it emits goes through the
// TcpContext the layer gives it, so a test peer sees exact segments.
// TcpConnection: the connection (implements ByteStream); TcpContext: what it needs from
// the layer; ResolvedTcpOptions: options with defaults applied; State: state numbers.
import type { Clock, Rng } from "../../time.ts";
import type { IcmpErrorReport, Ipv4Layer } from "../../net/types.ts";
import type { ByteStream, StreamErrorCode } from "../types.ts";
import {
  TCP_FLAG_ACK, TCP_FLAG_FIN, TCP_FLAG_PSH, TCP_FLAG_RST, TCP_FLAG_SYN, TCP_MAX_WSCALE, emitTcpOptions, tcpOptionsLength,
  type TcpOptions, type TcpRepr,
} from "../../wire/tcp.ts";
import { checksumAdd, checksumFinish, pseudoHeaderSum } from "../../wire/checksum.ts";
import { type CongestionControl, type CongestionControlName, createCongestionControl } from "./congestion.ts";
import { ReassemblyQueue } from "./reassembly.ts";
import { RttEstimator } from "./rtt.ts";
import { SackScoreboard } from "./scoreboard.ts";
import type { SendBuffer } from "./send-buffer.ts";
import type { BufferLoan } from "../../link/recycler.ts";
import { seqAdd, seqGe, seqGt, seqLe, seqLt, seqMax, seqSub } from "./seq.ts";
import type { TcpInfo, TcpStateName, TcpStats } from "./types.ts";

/** Connection states (RFC 9293 §3.3.2). */
export const State = {
  CLOSED: 0, LISTEN: 1, SYN_SENT: 2, SYN_RECEIVED: 3, ESTABLISHED: 4, FIN_WAIT_1: 5, FIN_WAIT_2: 6,
  CLOSE_WAIT: 7, CLOSING: 8, LAST_ACK: 9, TIME_WAIT: 10,
} as const;
const STATE_NAMES: readonly TcpStateName[] = [
  "CLOSED", "LISTEN", "SYN-SENT", "SYN-RECEIVED", "ESTABLISHED", "FIN-WAIT-1", "FIN-WAIT-2", "CLOSE-WAIT", "CLOSING", "LAST-ACK", "TIME-WAIT",
];

/** Layer options with every default applied. */
export interface ResolvedTcpOptions {
  readonly mslMs: number;
  readonly initialRtoMs: number;
  readonly minRtoMs: number;
  readonly maxRtoMs: number;
  readonly synRetries: number;
  readonly synAckRetries: number;
  readonly retries: number;
  readonly delayedAckMs: number;
  readonly quickAck: boolean;
  readonly sendBufferSize: number;
  readonly receiveBufferSize: number;
  readonly outOfOrderBudget: number;
  readonly windowScaling: boolean;
  readonly timestamps: boolean;
  readonly sack: boolean;
  readonly congestionControl: CongestionControlName;
  readonly synQueueSize: number;
  readonly backlog: number;
  readonly synCookies: boolean;
  readonly maxConnections: number;
  readonly challengeAckLimit: number;
  readonly keepAliveIdleMs: number;
  readonly keepAliveIntervalMs: number;
  readonly keepAliveProbes: number;
  readonly txChecksumOffload: boolean;
  readonly tsoMaxFrame: number;
  readonly tailLossProbe: boolean;
  readonly windowScaleShift: number;
}

/** What a connection needs from its layer. */
export interface TcpContext {
  readonly ip: Ipv4Layer;
  readonly clock: Clock;
  readonly rng: Rng;
  readonly options: ResolvedTcpOptions;
  readonly stats: TcpStats;
  /** RFC 5961 §7: true if one more challenge ACK may be sent now. */
  allowChallengeAck(): boolean;
  /** May this passive connection complete its handshake now? (false: accept queue full, ignore the ACK) */
  canAccept(conn: TcpConnection): boolean;
  /** A passive connection completed its handshake: hand it to its listener. */
  onEstablished(conn: TcpConnection): void;
  /** The connection entered TIME_WAIT (no longer counts toward the limit). */
  onTimeWait(conn: TcpConnection): void;
  /** The connection is gone: remove it from the demultiplexing table. */
  onRemoved(conn: TcpConnection): void;
  /** A fresh n-byte view for one outgoing segment with HEADROOM free bytes before it in its
   * buffer (carved from a slab; given away on send). */
  allocate(n: number): Uint8Array;
  /** A view like allocate's for a segment too large for the slab, lent from the layer's recycler
   * (its release goes with the frame: Frame.release); undefined when n is not such a size. The
   * buffer may hold an earlier segment's bytes. */
  lend(n: number): BufferLoan | undefined;
  /** The finished Internet checksum of `segment` plus the partial sum `initial` (fast for slab buffers). */
  checksum(segment: Uint8Array, initial: number): number;
  /** An empty send buffer (a drained one from the layer's free list, or a new one). */
  takeSendBuffer(): SendBuffer;
  /** Gives back a send buffer that drained: an idle connection holds none. */
  releaseSendBuffer(buffer: SendBuffer): void;
}

const NONE = Infinity;
const EMPTY = new Uint8Array(0);
/** RFC 7323 §5.5: timestamps older than 24 days are not used for PAWS. */
const PAWS_IDLE_MS = 24 * 24 * 3600 * 1000;
/** RFC 9293 §3.7.1: default send MSS when the peer sends no MSS option. */
const DEFAULT_MSS = 536;
/** Least interval between ACKs answering out-of-window pure ACKs. */
const OOW_ACK_INTERVAL_MS = 500;
/** RFC 8985 §7.2 WCDelAckT: the longest a peer may delay an ACK. */
const WORST_CASE_DELAYED_ACK_MS = 200;
/** Smallest send MSS accepted from a peer's option. */
const MIN_SEND_MSS = 88;
/** Most ACKs one entry into quick-ack mode sends at once (Linux's TCP_MAX_QUICKACKS). */
const MAX_QUICKACKS = 16;

type DataHandler = (data: Uint8Array) => void;
interface RtxMark { start: number; end: number; marker: number }
/** Most retransmissions tracked per recovery for lost-retransmission detection. */
const MAX_RTX_MARKS = 256;
type VoidHandler = () => void;
type CloseHandler = (error?: StreamErrorCode) => void;

/** A TCP connection and the ByteStream it offers. Create through the TCP layer. */
export class TcpConnection implements ByteStream {
  state: number = State.CLOSED;
  /** The listener port this passive connection belongs to until accepted (0 = active). */
  passive = false;
  /** Counted in its listener's SYN queue. */
  inSynQueue = false;
  /** Entered TIME_WAIT (no longer counted toward the connection limit). */
  wasTimeWait = false;

  // send sequence space (RFC 9293 §3.3.1)
  iss = 0;
  sndUna = 0;
  sndNxt = 0;
  /** Highest sequence sent (SND.NXT before a go-back-N after an RTO). */
  sndMax = 0;
  sndWnd = 0;
  sndWl1 = 0;
  sndWl2 = 0;
  maxSndWnd = 0;
  sndWscale = 0;
  // receive sequence space
  irs = 0;
  rcvNxt = 0;
  /** Right edge of the window last advertised (never moved left, RFC 9293 §3.8.6.2.2). */
  rcvAdvRight = 0;
  lastAckSent = 0;
  rcvWscale = 0;
  // negotiated options
  /** Largest payload per segment (after the timestamp option). */
  mss = DEFAULT_MSS;
  /** Largest payload the peer sends (for delayed-ACK counting). */
  rcvMss = DEFAULT_MSS;
  tsOk = false;
  sackOk = false;
  wsOk = false;
  tsRecent = 0;
  tsRecentTime = 0;
  tsOffset = 0;
  // sending
  sendBuf: SendBuffer | null = null;
  finQueued = false;
  finAcked = false;
  /** End of the last sub-MSS segment sent (Minshall's Nagle variant). */
  smallEnd = 0;
  /** onClose waits for onEnd still held by a paused stream. */
  closePending = false;
  noDelay: boolean;
  cc: CongestionControl;
  rtt: RttEstimator;
  retries = 0;
  /** Karn timing without timestamps: sequence being timed and when it was sent (-1 = none). */
  rttSeq = 0;
  rttTime = -1;
  dupAcks = 0;
  inRecovery = false;
  recoverSeq = 0;
  highRxt = 0;
  scoreboard: SackScoreboard | null = null;
  /** Retransmissions of this recovery and SND.MAX when each was sent (lost-retransmission detection). */
  rtxMarks: RtxMark[] | null = null;
  /** Retransmissions found lost: resent before other holes. */
  lostRtx: RtxMark[] | null = null;
  retransmits = 0;
  // receiving
  ooo: ReassemblyQueue | null = null;
  /** FIN seen beyond a hole: its sequence number (-1 = none). */
  oooFin = -1;
  recvQueue: Uint8Array[] | null = null;
  recvQueued = 0;
  paused = false;
  finReceived = false;
  endDelivered = false;
  rcvUnacked = 0;
  ackNow = false;
  /** A segment with data arrived since the last ACK we sent (Linux's ICSK_ACK_SCHED). */
  ackScheduled = false;
  /** ACKs of data still to send at once (quick-ack mode; see #incrementQuickAcks). */
  quickAcks = 0;
  /** When in-order data last arrived (-1 = never): starts and restarts quick-ack mode. */
  lastDataAt = -1;
  /** Interactive (Linux's pingpong): we answered data within the delayed-ACK time, so ACKs wait to ride on replies. */
  interactive = false;
  // timers (absolute deadlines, NONE = off)
  rtoAt = NONE;
  /** Tail loss probe deadline (RFC 8985 §7). */
  tlpAt = NONE;
  delackAt = NONE;
  persistAt = NONE;
  persistBackoff = 0;
  keepAliveMs = 0;
  keepAliveAt = NONE;
  keepAliveProbes = 0;
  lastRecv = 0;
  timeWaitAt = NONE;
  timerId = 0;
  timerAt = NONE;
  /** When we last answered an out-of-window pure ACK. */
  lastOowAckAt = -Infinity;
  // user interface
  onDataHandler: DataHandler | null = null;
  onEndHandler: VoidHandler | null = null;
  onDrainHandler: VoidHandler | null = null;
  onCloseHandler: CloseHandler | null = null;
  onConnectHandler: VoidHandler | null = null;
  drainWanted = false;
  closeNotified = false;
  /** destroy() was called: nothing more is delivered. */
  destroyed = false;
  /** Soft error from ICMP, reported instead of ETIMEDOUT (RFC 1122 §4.2.3.9). */
  softError: StreamErrorCode | undefined = undefined;
  #fireTimer: () => void;

  constructor(
    readonly ctx: TcpContext,
    readonly localAddress: number,
    readonly localPort: number,
    readonly remoteAddress: number,
    readonly remotePort: number,
    congestionControl: CongestionControlName,
    noDelay: boolean,
  ) {
    this.noDelay = noDelay;
    const o = ctx.options;
    this.rtt = new RttEstimator(o.initialRtoMs, o.minRtoMs, o.maxRtoMs);
    this.cc = createCongestionControl(congestionControl, DEFAULT_MSS);
    this.#fireTimer = () => this.#onTimer();
  }

  // ---------------------------------------------------------------- ByteStream

  get bufferedAmount(): number { return this.sendBuf === null ? 0 : this.sendBuf.length; }

  write(data: Uint8Array): boolean {
    if (this.finQueued) throw Object.assign(new Error("write after end"), { code: "ERR_STREAM_WRITE_AFTER_END" });
    if (this.state === State.CLOSED || this.state === State.TIME_WAIT) return false;
    if (data.length > 0) {
      if (this.sendBuf === null) this.sendBuf = this.ctx.takeSendBuffer();
      this.sendBuf.push(data);
      if (this.state >= State.ESTABLISHED) { this.#output(); this.#armTimer(); }
    }
    const okToWrite = this.bufferedAmount < this.ctx.options.sendBufferSize;
    if (!okToWrite) this.drainWanted = true;
    return okToWrite;
  }

  end(): void {
    if (this.finQueued || this.state === State.CLOSED || this.state === State.TIME_WAIT) return;
    this.finQueued = true;
    if (this.state === State.ESTABLISHED) this.state = State.FIN_WAIT_1;
    else if (this.state === State.CLOSE_WAIT) this.state = State.LAST_ACK;
    if (this.state >= State.ESTABLISHED) { this.#output(); this.#armTimer(); }
  }

  destroy(): void {
    this.destroyed = true;
    this.recvQueue = null;
    this.recvQueued = 0;
    const s = this.state;
    if (s === State.CLOSED) return;
    if (s === State.TIME_WAIT) { this.#remove(); return; }
    if (s !== State.SYN_SENT) {
      // RFC 9293 §3.10.4 ABORT: <SEQ=SND.NXT><CTL=RST>
      this.#emitReset(this.sndMax, this.rcvNxt, true);
    }
    this.#close(undefined);
  }

  pause(): void { this.paused = true; }

  resume(): void {
    if (!this.paused) return;
    this.paused = false;
    this.#flushReceived();
    if (this.state !== State.CLOSED) { this.#maybeWindowUpdate(); this.#output(); this.#armTimer(); }
  }

  onData(handler: DataHandler): void {
    this.onDataHandler = handler;
    if (!this.paused && this.recvQueue !== null) this.#flushReceived();
  }
  onEnd(handler: VoidHandler): void { this.onEndHandler = handler; }
  onDrain(handler: VoidHandler): void { this.onDrainHandler = handler; }
  onClose(handler: CloseHandler): void { this.onCloseHandler = handler; }
  onConnect(handler: VoidHandler): void { this.onConnectHandler = handler; }

  setNoDelay(noDelay: boolean): void {
    this.noDelay = noDelay;
    if (noDelay && this.state >= State.ESTABLISHED) { this.#output(); this.#armTimer(); }
  }

  setKeepAlive(enable: boolean, initialDelayMs = 0): void {
    this.keepAliveMs = enable ? (initialDelayMs > 0 ? initialDelayMs : this.ctx.options.keepAliveIdleMs) : 0;
    this.keepAliveProbes = 0;
    this.keepAliveAt = this.keepAliveMs > 0 ? this.ctx.clock.now() + this.keepAliveMs : NONE;
    this.#armTimer();
  }

  /** A snapshot of the connection's state and congestion figures. */
  info(): TcpInfo {
    return {
      state: STATE_NAMES[this.state]!,
      congestionControl: this.cc.name,
      cwnd: Math.floor(this.cc.cwnd),
      ssthresh: this.cc.ssthresh,
      srttMs: this.rtt.srtt,
      rtoMs: this.rtt.rto,
      sendMss: this.mss,
      sendWindow: this.sndWnd,
      receiveWindow: Math.max(0, seqSub(this.rcvAdvRight, this.rcvNxt)),
      windowScaling: this.wsOk,
      timestamps: this.tsOk,
      sack: this.sackOk,
      retransmits: this.retransmits,
      bytesInFlight: seqSub(this.sndNxt, this.sndUna),
    };
  }

  /** The RFC 9293 state name. */
  get stateName(): TcpStateName { return STATE_NAMES[this.state]!; }

  // ---------------------------------------------------------------- opening

  /** Active open: sends the SYN (RFC 9293 §3.10.1). */
  openActive(iss: number): void {
    this.#initSend(iss);
    this.state = State.SYN_SENT;
    this.sndNxt = this.sndMax = seqAdd(iss, 1);
    this.ctx.stats.activeOpens++;
    this.#sendSyn();
    this.rtoAt = this.ctx.clock.now() + this.rtt.rto;
    this.#armTimer();
  }

  /** Passive open from a SYN (RFC 9293 §3.10.7.2): sends the SYN-ACK. */
  openPassive(syn: TcpRepr, iss: number): void {
    this.passive = true;
    this.#initSend(iss);
    this.state = State.SYN_RECEIVED;
    this.sndNxt = this.sndMax = seqAdd(iss, 1);
    this.#acceptSynOptions(syn, true);
    this.ctx.stats.passiveOpens++;
    this.#sendSyn();
    // RFC 6298 §2 / Karn: the ACK of this SYN-ACK gives the first RTT sample unless it is resent
    this.rttSeq = iss;
    this.rttTime = this.ctx.clock.now();
    this.rtoAt = this.ctx.clock.now() + this.rtt.rto;
    this.#armTimer();
  }

  /** Establishes a connection from a valid SYN-cookie ACK (the SYN options come from the cookie). */
  openFromCookie(ackSeg: TcpRepr, mss: number, windowScale: number | undefined, sackPermitted: boolean): void {
    this.passive = true;
    this.#initSend(seqSub(ackSeg.ack, 1) >>> 0);
    this.sndNxt = this.sndMax = this.sndUna = ackSeg.ack;
    this.irs = seqSub(ackSeg.seq, 1) >>> 0;
    this.rcvNxt = ackSeg.seq;
    const o = this.ctx.options;
    const synOpts: { mss: number; windowScale?: number; sackPermitted?: boolean; tsVal?: number; tsEcr?: number } = { mss };
    if (windowScale !== undefined && o.windowScaling) synOpts.windowScale = windowScale;
    if (sackPermitted && o.sack) synOpts.sackPermitted = true;
    if (ackSeg.options.tsVal !== undefined && o.timestamps) { synOpts.tsVal = ackSeg.options.tsVal; synOpts.tsEcr = 0; }
    this.#acceptSynOptions({ ...ackSeg, seq: this.irs, options: synOpts }, true);
    this.rcvAdvRight = seqAdd(this.rcvNxt, Math.min(65535, o.receiveBufferSize));
    this.lastAckSent = this.rcvNxt;
    this.ctx.stats.passiveOpens++;
    this.state = State.SYN_RECEIVED;
    this.#establish(ackSeg);
  }

  #initSend(iss: number): void {
    this.iss = this.sndUna = this.sndWl2 = this.smallEnd = iss;
    this.recoverSeq = iss;
    this.highRxt = iss;
    const o = this.ctx.options;
    this.rcvWscale = o.windowScaling ? o.windowScaleShift : 0;
    this.rcvMss = this.#localMss();
    this.lastRecv = this.ctx.clock.now();
  }

  #localMss(): number {
    return Math.max(88, Math.min(65495, this.ctx.ip.mtuTo(this.remoteAddress) - 40));
  }

  /** Applies the options of the peer's SYN (RFC 7323 §2.2, §3.2; RFC 2018 §2; RFC 9293 §3.7.1). */
  #acceptSynOptions(syn: TcpRepr, fromSynOnly: boolean): void {
    const o = this.ctx.options;
    const so = syn.options;
    if (fromSynOnly) {
      this.irs = syn.seq;
      this.rcvNxt = seqAdd(syn.seq, 1);
      this.lastAckSent = this.rcvNxt;
    }
    this.wsOk = o.windowScaling && so.windowScale !== undefined;
    this.sndWscale = this.wsOk ? Math.min(so.windowScale!, TCP_MAX_WSCALE) : 0;
    if (!this.wsOk) this.rcvWscale = 0;
    this.tsOk = o.timestamps && so.tsVal !== undefined;
    if (this.tsOk) { this.tsRecent = so.tsVal!; this.tsRecentTime = this.ctx.clock.now(); }
    this.sackOk = o.sack && so.sackPermitted === true;
    // a tiny advertised MSS would make every byte a segment: floor it (Linux: tcp_min_snd_mss)
    const peerMss = Math.max(MIN_SEND_MSS, so.mss ?? DEFAULT_MSS);
    this.mss = Math.max(1, Math.min(peerMss, this.#localMss()) - (this.tsOk ? 12 : 0));
    this.rcvMss = Math.max(1, this.#localMss() - (this.tsOk ? 12 : 0));
    this.cc = createCongestionControl(this.cc.name, this.mss);
    // SYN windows are never scaled (RFC 7323 §2.2)
    this.sndWnd = syn.window;
    this.maxSndWnd = this.sndWnd;
    this.sndWl1 = syn.seq;
  }

  #sendSyn(): void {
    const o = this.ctx.options;
    const active = this.state === State.SYN_SENT;
    const opts: { mss: number; windowScale?: number; sackPermitted?: boolean; tsVal?: number; tsEcr?: number } = { mss: this.#localMss() };
    if (active ? o.sack : this.sackOk) opts.sackPermitted = true;
    if (active ? o.timestamps : this.tsOk) { opts.tsVal = this.#tsNow(); opts.tsEcr = active ? 0 : this.tsRecent; }
    if (active ? o.windowScaling : this.wsOk) opts.windowScale = this.rcvWscale;
    const flags = active ? TCP_FLAG_SYN : TCP_FLAG_SYN | TCP_FLAG_ACK;
    this.#emit(flags, this.iss, 0, 0, opts);
  }

  #establish(seg: TcpRepr): void {
    this.state = State.ESTABLISHED;
    this.sndWnd = seg.window << this.sndWscale;
    this.maxSndWnd = Math.max(this.maxSndWnd, this.sndWnd);
    this.sndWl1 = seg.seq;
    this.sndWl2 = seg.ack;
    this.retries = 0;
    this.rtt.resetBackoff();
    this.rtoAt = NONE;
    if (this.keepAliveMs > 0) this.keepAliveAt = this.ctx.clock.now() + this.keepAliveMs;
    if (this.finQueued) this.state = State.FIN_WAIT_1;
  }

  // ---------------------------------------------------------------- input

  /** Processes one segment addressed to this connection (RFC 9293 §3.10.7). */
  input(seg: TcpRepr): void {
    const now = this.ctx.clock.now();
    this.lastRecv = now;
    if (this.keepAliveMs > 0) { this.keepAliveProbes = 0; this.keepAliveAt = now + this.keepAliveMs; }
    if (this.state === State.SYN_SENT) this.#inputSynSent(seg);
    else if (this.state !== State.CLOSED) this.#inputSynchronized(seg, now);
    if (this.state !== State.CLOSED) {
      this.#output();
      this.#armTimer();
    }
  }

  /** RFC 9293 §3.10.7.3 */
  #inputSynSent(seg: TcpRepr): void {
    const f = seg.flags;
    const hasAck = (f & TCP_FLAG_ACK) !== 0;
    if (hasAck && (seqLe(seg.ack, this.iss) || seqGt(seg.ack, this.sndMax))) {
      if ((f & TCP_FLAG_RST) === 0) this.#emitReset(seg.ack, 0, false);
      return;
    }
    if ((f & TCP_FLAG_RST) !== 0) {
      // RFC 5961 §3.2 for SYN-SENT: only an RST acknowledging our SYN is believed
      if (hasAck) { this.ctx.stats.resetsReceived++; this.#close("ECONNREFUSED"); }
      return;
    }
    if ((f & TCP_FLAG_SYN) === 0) return;
    this.#acceptSynOptions(seg, true);
    this.rcvAdvRight = this.rcvNxt;
    if (hasAck) {
      this.sndUna = seg.ack;
      this.#rttSampleFromTs(seg);
      this.#establish(seg);
      this.ackNow = true;
      this.#emitConnect();
    } else {
      // simultaneous open (RFC 9293 §3.10.7.3 fourth check, Figure 8)
      this.state = State.SYN_RECEIVED;
      this.#sendSyn();
    }
  }

  /** RFC 9293 §3.10.7.4 for SYN-RECEIVED and the synchronized states. */
  #inputSynchronized(seg: TcpRepr, now: number): void {
    const f = seg.flags;
    const isRst = (f & TCP_FLAG_RST) !== 0;
    let payload = seg.payload;
    let hasFin = (f & TCP_FLAG_FIN) !== 0;
    let segLen = payload.length + ((f & TCP_FLAG_SYN) !== 0 ? 1 : 0) + ((f & TCP_FLAG_FIN) !== 0 ? 1 : 0);
    const tsVal = seg.options.tsVal;

    // RFC 7323 §5.3 PAWS
    if (this.tsOk && tsVal !== undefined && !isRst && seqLt(tsVal, this.tsRecent) && now - this.tsRecentTime < PAWS_IDLE_MS) {
      this.ctx.stats.pawsRejected++;
      this.ackNow = true;
      return;
    }

    if (this.state === State.TIME_WAIT && (f & TCP_FLAG_SYN) === 0 && !isRst && hasFin && seqAdd(seg.seq, payload.length + 1) === this.rcvNxt) {
      // RFC 9293 §3.10.7.4: a retransmitted FIN restarts the 2·MSL timer
      this.timeWaitAt = now + 2 * this.ctx.options.mslMs;
      this.ackNow = true;
      return;
    }

    // a retransmitted SYN in SYN-RECEIVED: our SYN-ACK was lost, send it again (as Linux)
    if (this.state === State.SYN_RECEIVED && this.passive && (f & (TCP_FLAG_SYN | TCP_FLAG_ACK | TCP_FLAG_RST)) === TCP_FLAG_SYN && seg.seq === this.irs) {
      // RFC 7323 §4.3: echo this SYN's TSval, so the client's RTT sample is not the SYN timeout
      if (this.tsOk && tsVal !== undefined && seqGe(tsVal, this.tsRecent)) { this.tsRecent = tsVal; this.tsRecentTime = now; }
      this.#sendSyn();
      this.rttTime = -1;
      return;
    }

    // first check: sequence number acceptability
    const rcvWnd = Math.max(0, seqSub(this.rcvAdvRight, this.rcvNxt));
    let acceptable: boolean;
    if (segLen === 0) {
      acceptable = rcvWnd === 0 ? seg.seq === this.rcvNxt : seqGe(seg.seq, this.rcvNxt) && seqLt(seg.seq, seqAdd(this.rcvNxt, rcvWnd));
    } else if (rcvWnd === 0) {
      acceptable = false;
    } else {
      const last = seqAdd(seg.seq, segLen - 1);
      const right = seqAdd(this.rcvNxt, rcvWnd);
      acceptable = (seqGe(seg.seq, this.rcvNxt) && seqLt(seg.seq, right)) || (seqGe(last, this.rcvNxt) && seqLt(last, right));
    }
    if (!acceptable) {
      // a zero window still takes ACKs and RSTs at RCV.NXT (RFC 9293 §3.10.7.4)
      if (rcvWnd === 0 && seg.seq === this.rcvNxt) {
        if (payload.length > 0) { this.ackScheduled = true; this.#enterQuickAck(); }
        payload = EMPTY;
        hasFin = false;
        segLen = 0;
        this.ackNow = true;
      } else {
        // duplicate ACKs for out-of-window pure ACKs are rate limited (as Linux's
        // tcp_invalid_ratelimit), so two confused ends cannot ping-pong ACKs forever
        if (!isRst && (segLen > 0 || now - this.lastOowAckAt >= OOW_ACK_INTERVAL_MS)) {
          if (segLen === 0) this.lastOowAckAt = now;
          // data outside the window: quick-ack mode again; the ACK itself uses none (Linux's tcp_send_dupack)
          else this.#enterQuickAck();
          this.ackNow = true;
        }
        return;
      }
    }

    // second check: RST (RFC 5961 §3.2)
    if (isRst) {
      if (seg.seq !== this.rcvNxt) { this.#challengeAck(); return; }
      this.ctx.stats.resetsReceived++;
      const s = this.state;
      if (s === State.SYN_RECEIVED) this.#close(this.passive ? undefined : "ECONNREFUSED");
      else if (s === State.CLOSING || s === State.LAST_ACK || s === State.TIME_WAIT) this.#close(undefined);
      else this.#close("ECONNRESET");
      return;
    }

    // fourth check: SYN in a synchronized state (RFC 5961 §4.2)
    if ((f & TCP_FLAG_SYN) !== 0) {
      this.#challengeAck();
      return;
    }

    // fifth check: ACK
    if ((f & TCP_FLAG_ACK) === 0) return;
    if (this.state === State.SYN_RECEIVED) {
      if (seqLe(seg.ack, this.sndUna) || seqGt(seg.ack, this.sndMax)) {
        this.#emitReset(seg.ack, 0, false);
        return;
      }
      if (this.passive && !this.ctx.canAccept(this)) {
        // accept queue full: forget this ACK, the SYN-ACK is retransmitted later (as Linux)
        return;
      }
      this.sndUna = seg.ack;
      // RFC 6298 §2: a sample from the handshake (Linux: tcp_synack_rtt_meas); by the echoed
      // timestamp, or else by the time since the SYN-ACK when it was sent once (Karn)
      if (this.#rttSampleFromTs(seg) === undefined && this.rttTime >= 0 && seqGt(seg.ack, this.rttSeq)) this.rtt.sample(now - this.rttTime);
      this.rttTime = -1;
      this.#establish(seg);
      if (!this.passive) this.#emitConnect();
      else this.ctx.onEstablished(this);
      if ((this.state as number) === State.CLOSED) return;
    }
    // RFC 5961 §5.2 ACK acceptability
    if (seqGt(seg.ack, this.sndMax)) { this.ackNow = true; return; }
    if (seqLt(seg.ack, seqSub(this.sndUna, this.maxSndWnd) >>> 0)) { this.#challengeAck(); return; }

    // RFC 7323 §4.3: TS.Recent from segments covering Last.ACK.sent
    if (this.tsOk && tsVal !== undefined && seqGe(tsVal, this.tsRecent) && seqLe(seg.seq, this.lastAckSent)) {
      this.tsRecent = tsVal;
      this.tsRecentTime = now;
    }

    this.#processAck(seg, payload.length, now);
    if (this.state === State.CLOSED || this.state === State.TIME_WAIT) return;

    // seventh check: segment text
    const s = this.state;
    if (payload.length > 0 && (s === State.ESTABLISHED || s === State.FIN_WAIT_1 || s === State.FIN_WAIT_2)) {
      this.#receiveText(seg.seq, payload);
      if (this.state === State.CLOSED) return;
    }

    // eighth check: FIN
    if (hasFin) {
      const finSeq = seqAdd(seg.seq, payload.length);
      if (finSeq === this.rcvNxt) this.#receiveFin(now);
      else if (seqGt(finSeq, this.rcvNxt)) { this.oooFin = finSeq; this.ackNow = true; }
      else if (this.finReceived) this.ackNow = true;
    }
  }

  #processAck(seg: TcpRepr, payloadLen: number, now: number): void {
    const ack = seg.ack;
    const f = seg.flags;
    const mss = this.mss;
    let newlyAcked = 0;
    let rttSample: number | undefined;
    const oldWnd = this.sndWnd;

    const blocks = seg.options.sackBlocks;
    let sackNews = false;
    if (this.sackOk && blocks !== undefined) {
      if (this.scoreboard === null) this.scoreboard = new SackScoreboard();
      for (const b of blocks) if (this.scoreboard.add(b.left, b.right, seqMax(ack, this.sndUna), this.sndMax)) sackNews = true;
    }

    if (seqGt(ack, this.sndUna)) {
      const acked = seqSub(ack, this.sndUna);
      const buffered = this.bufferedAmount;
      let dataAcked = acked;
      if (this.finQueued && !this.finAcked && acked > buffered) { this.finAcked = true; dataAcked = buffered; }
      if (this.sendBuf !== null) {
        this.sendBuf.consume(dataAcked);
        // Drained: back to the layer (it keeps a small block for the next write of any connection).
        if (this.sendBuf.length === 0) {
          this.ctx.releaseSendBuffer(this.sendBuf);
          this.sendBuf = null;
        }
      }
      this.sndUna = ack;
      if (seqLt(this.sndNxt, ack)) this.sndNxt = ack;
      if (seqLt(this.highRxt, ack)) this.highRxt = ack;
      // Markers behind the cumulative ACK move up with it: compared with 32-bit sequence
      // arithmetic, one left 2^31 bytes behind would read as ahead (recovery never allowed
      // again, Nagle holding every short segment). Both tests keep their outcome.
      if (seqLt(this.recoverSeq, ack)) this.recoverSeq = ack;
      if (seqLt(this.smallEnd, ack)) this.smallEnd = ack;
      newlyAcked = dataAcked;
      rttSample = this.#rttSampleFromTs(seg);
      if (rttSample === undefined && this.rttTime >= 0 && seqGt(ack, this.rttSeq)) {
        rttSample = now - this.rttTime;
        this.rtt.sample(rttSample);
        this.rttTime = -1;
      }
      this.retries = 0;
      this.rtt.resetBackoff();
      if (this.scoreboard !== null) {
        this.scoreboard.ackedTo(ack);
        if (this.scoreboard.empty) this.scoreboard = null;
      }
      if (this.inRecovery) {
        if (seqGe(ack, this.recoverSeq)) {
          this.inRecovery = false;
          this.dupAcks = 0;
          this.rtxMarks = this.lostRtx = null;
          this.cc.onRecoveryEnd(mss, now);
        } else if (!this.sackOk) {
          // RFC 6582 §3.2 step 5: partial ACK
          this.#retransmit(this.sndUna, mss);
          this.cc.cwnd = Math.max(mss, this.cc.cwnd - dataAcked + mss);
        }
      } else {
        this.dupAcks = 0;
        this.cc.onAck(dataAcked, mss, now, rttSample);
      }
      this.rtoAt = this.sndUna === this.sndMax ? NONE : now + this.rtt.rto;
      this.#armTailLossProbe(now);
      if (this.drainWanted && this.bufferedAmount < this.ctx.options.sendBufferSize) {
        this.drainWanted = false;
        this.onDrainHandler?.();
        if (this.state === State.CLOSED) return;
      }
    }

    // window update (RFC 9293 §3.10.7.4, fifth check)
    if (seqLt(this.sndWl1, seg.seq) || (this.sndWl1 === seg.seq && seqLe(this.sndWl2, ack))) {
      this.sndWnd = seg.window << this.sndWscale;
      if (this.sndWnd > this.maxSndWnd) this.maxSndWnd = this.sndWnd;
      this.sndWl1 = seg.seq;
      this.sndWl2 = ack;
      if (this.sndWnd > 0) { this.persistAt = NONE; this.persistBackoff = 0; }
    }

    // duplicate ACK (RFC 5681 §2; with SACK any ACK reporting new SACKed data counts)
    if (ack === this.sndUna && newlyAcked === 0 && payloadLen === 0 && (f & (TCP_FLAG_SYN | TCP_FLAG_FIN)) === 0 &&
        this.sndMax !== this.sndUna && (this.sndWnd === oldWnd || sackNews)) {
      this.dupAcks++;
      if (this.inRecovery && !this.sackOk) this.cc.cwnd += mss;
    }

    if (this.inRecovery && this.rtxMarks !== null && this.scoreboard !== null) this.#detectLostRetransmissions();

    // loss detection: RFC 6582 §3.2 step 2 (not again before `recover`), RFC 6675 §5
    // (with SACK, once the post-timeout resend has caught up, SACK evidence suffices)
    if (!this.inRecovery && this.sndMax !== this.sndUna &&
        (seqGe(this.sndUna, this.recoverSeq) || (this.sackOk && this.sndNxt === this.sndMax)) &&
        (this.dupAcks >= 3 || (this.sackOk && this.scoreboard !== null && this.scoreboard.unaLost(this.sndUna, mss)))) {
      this.#enterRecovery(now);
    }

    // our FIN acknowledged
    if (this.finAcked) {
      const s = this.state;
      if (s === State.FIN_WAIT_1) this.state = State.FIN_WAIT_2;
      else if (s === State.CLOSING) this.#enterTimeWait(now);
      else if (s === State.LAST_ACK) this.#close(undefined);
    }
  }

  #enterRecovery(now: number): void {
    const mss = this.mss;
    this.ctx.stats.fastRetransmits++;
    this.inRecovery = true;
    this.recoverSeq = this.sndMax;
    const flight = seqSub(this.sndMax, this.sndUna) - (this.scoreboard?.sacked ?? 0);
    this.cc.onCongestion(Math.max(flight, 0), mss, now);
    this.rttTime = -1;
    if (this.sackOk) {
      // RFC 6675 §5 step 4.3: retransmit the first segment at once
      this.highRxt = this.sndUna;
      const end = this.scoreboard === null || this.scoreboard.empty ? seqAdd(this.sndUna, mss) : this.scoreboard.blocks[0]!.left;
      const len = Math.min(mss, seqSub(end, this.sndUna));
      this.#retransmit(this.sndUna, len);
      this.#markRetransmission(this.sndUna, len);
      this.highRxt = seqAdd(this.sndUna, len);
    } else {
      this.#retransmit(this.sndUna, mss);
      this.cc.cwnd = this.cc.ssthresh + 3 * mss;
    }
    this.rtoAt = now + this.rtt.rto;
  }

  #rttSampleFromTs(seg: TcpRepr): number | undefined {
    if (!this.tsOk || seg.options.tsEcr === undefined || seg.options.tsEcr === 0) return undefined;
    const r = seqSub(this.#tsNow(), seg.options.tsEcr);
    if (r < 0 || r > 600_000) return undefined;
    this.rtt.sample(r);
    return r;
  }

  #receiveText(seq: number, payload: Uint8Array): void {
    const right = this.rcvAdvRight;
    this.ackScheduled = true;
    // trim to the window; a duplicate or beyond the window: ACK at once, quick-ack mode again (as Linux)
    if (seqLt(seq, this.rcvNxt)) {
      const cut = seqSub(this.rcvNxt, seq);
      if (cut >= payload.length) { this.#enterQuickAck(); this.ackNow = true; return; }
      payload = payload.subarray(cut);
      seq = this.rcvNxt;
    }
    const room = seqSub(right, seq);
    if (room <= 0) { this.#enterQuickAck(); this.ackNow = true; return; }
    if (payload.length > room) payload = payload.subarray(0, room);

    if (seq === this.rcvNxt) {
      this.#noteInOrderData();
      this.rcvNxt = seqAdd(this.rcvNxt, payload.length);
      this.ctx.stats.bytesReceived += payload.length;
      let filled = false;
      if (this.ooo !== null && !this.ooo.empty) {
        // RFC 5681 §4.2: ACK at once when a hole is being filled
        this.ackNow = true;
        filled = true;
      }
      this.#deliver(payload);
      if (this.state === State.CLOSED) return;
      if (filled && this.ooo !== null) {
        for (let more = this.ooo.takeInOrder(this.rcvNxt); more !== undefined; more = this.ooo.takeInOrder(this.rcvNxt)) {
          this.rcvNxt = seqAdd(this.rcvNxt, more.length);
          this.ctx.stats.bytesReceived += more.length;
          this.#deliver(more);
          if (this.state === State.CLOSED) return;
        }
        if (this.ooo !== null && this.ooo.empty) this.ooo = null;
      }
      if (this.oooFin >= 0 && this.oooFin === this.rcvNxt) { this.oooFin = -1; this.#receiveFin(this.ctx.clock.now()); return; }
      // RFC 9293 §3.8.6.3 / RFC 5681 §4.2: ACK at least every second full-sized segment; in
      // quick-ack mode (not interactive) every segment at once, which RFC 1122 §4.2.3.2 allows
      this.rcvUnacked += payload.length;
      if (this.rcvUnacked >= 2 * this.rcvMss || (this.quickAcks > 0 && !this.interactive)) this.ackNow = true;
      else if (this.delackAt === NONE) this.delackAt = this.ctx.clock.now() + this.ctx.options.delayedAckMs;
    } else {
      if (this.ooo === null) this.ooo = new ReassemblyQueue(this.ctx.options.outOfOrderBudget);
      if (!this.ooo.insert(seq, payload)) this.ctx.stats.outOfOrderDropped++;
      // RFC 5681 §4.2: out-of-order data is acknowledged at once (a duplicate ACK with SACK)
      this.ackNow = true;
    }
  }

  /**
   * Quick-ack mode, as Linux's receiver (tcp_event_data_recv, tcp_incr_quickack): the first
   * data of a connection, and data after a silence longer than the RTO, earn up to
   * MAX_QUICKACKS ACKs sent at once, so a sender in slow start (or restarting) is not held
   * back by delayed ACKs.
   */
  #noteInOrderData(): void {
    if (!this.ctx.options.quickAck) return;
    const now = this.ctx.clock.now();
    if (this.lastDataAt < 0 || now - this.lastDataAt > this.rtt.rto) this.#incrementQuickAcks();
    this.lastDataAt = now;
  }

  /**
   * Linux's tcp_incr_quickack: quick ACKs for half the advertised window in full segments
   * (at least 2, at most TCP_MAX_QUICKACKS = 16); never lowers what is left.
   */
  #incrementQuickAcks(): void {
    const window = Math.max(0, seqSub(this.rcvAdvRight, this.lastAckSent));
    const n = Math.min(MAX_QUICKACKS, Math.floor(window / (2 * this.rcvMss)) || 2);
    if (n > this.quickAcks) this.quickAcks = n;
  }

  /** Linux's tcp_enter_quickack_mode (a duplicate or out-of-window data segment): more quick ACKs, not interactive. */
  #enterQuickAck(): void {
    if (!this.ctx.options.quickAck) return;
    this.#incrementQuickAcks();
    this.interactive = false;
  }

  #deliver(data: Uint8Array): void {
    if (this.paused || this.onDataHandler === null || this.recvQueue !== null) {
      if (this.recvQueue === null) this.recvQueue = [];
      this.recvQueue.push(data);
      this.recvQueued += data.length;
      if (!this.paused && this.onDataHandler !== null) this.#flushReceived();
      return;
    }
    this.onDataHandler(data);
  }

  #flushReceived(): void {
    const q = this.recvQueue;
    if (q !== null) {
      this.recvQueue = null;
      let i = 0;
      for (; i < q.length; i++) {
        if (this.paused || this.onDataHandler === null || this.destroyed) break;
        const d = q[i]!;
        this.recvQueued -= d.length;
        this.onDataHandler(d);
      }
      if (i < q.length) {
        const rest = q.slice(i);
        this.recvQueue = this.recvQueue === null ? rest : rest.concat(this.recvQueue);
        return;
      }
    }
    if (this.finReceived && !this.endDelivered && this.recvQueue === null && !this.paused && !this.destroyed) {
      this.endDelivered = true;
      this.onEndHandler?.();
      if (this.closePending) { this.closePending = false; this.closeNotified = false; this.#notifyClose(undefined); }
    }
  }

  #receiveFin(now: number): void {
    this.rcvNxt = seqAdd(this.rcvNxt, 1);
    this.finReceived = true;
    this.ackNow = true;
    const s = this.state;
    if (s === State.ESTABLISHED || s === State.SYN_RECEIVED) this.state = State.CLOSE_WAIT;
    else if (s === State.FIN_WAIT_1 && !this.finAcked) this.state = State.CLOSING;
    if (this.recvQueue === null && !this.paused) {
      this.endDelivered = true;
      this.onEndHandler?.();
    }
    if (this.state === s && ((s === State.FIN_WAIT_1 && this.finAcked) || s === State.FIN_WAIT_2)) this.#enterTimeWait(now);
  }

  #maybeWindowUpdate(): void {
    if (this.state < State.ESTABLISHED || this.finReceived) return;
    const advertised = Math.max(0, seqSub(this.rcvAdvRight, this.rcvNxt));
    const free = Math.max(0, this.ctx.options.receiveBufferSize - this.recvQueued);
    if (free - advertised >= Math.min(this.ctx.options.receiveBufferSize / 2, 2 * this.rcvMss)) this.ackNow = true;
  }

  #challengeAck(): void {
    if (this.ctx.allowChallengeAck()) {
      this.ctx.stats.challengeAcks++;
      this.ackNow = true;
    }
  }

  // ---------------------------------------------------------------- output

  /** Sends what the windows, Nagle and the state allow, then a pure ACK if one is owed. */
  #output(): void {
    const s = this.state;
    if (s === State.CLOSED || s === State.SYN_SENT || s === State.SYN_RECEIVED || s === State.TIME_WAIT) {
      if (this.ackNow && s !== State.CLOSED && s !== State.SYN_SENT) this.#emit(TCP_FLAG_ACK, this.sndMax, 0, 0, undefined);
      else if (this.ackNow && s === State.SYN_SENT) this.ackNow = false;
      return;
    }
    if (this.inRecovery && this.sackOk) this.#sendRecovery();
    else for (let guard = 0; guard < 100_000 && this.#sendOne(false); guard++);
    // a pure ACK carries the highest sequence sent (RFC 9293's SND.NXT; ours moves back on
    // a timeout): an older one would be unacceptable to the peer and could start an ACK war
    if (this.ackNow) this.#emit(TCP_FLAG_ACK, this.sndMax, 0, 0, undefined);
    // persist timer: data waiting, nothing in flight, nothing sendable (RFC 9293 §3.8.6.1)
    if (this.sndUna === this.sndMax && this.#unsent() > 0 && this.persistAt === NONE && this.rtoAt === NONE) {
      this.persistAt = this.ctx.clock.now() + Math.min(this.rtt.rto * 2 ** this.persistBackoff, this.ctx.options.maxRtoMs);
    }
  }

  /** Bytes (plus the FIN) queued from SND.NXT on. */
  #unsent(): number {
    const buffered = this.bufferedAmount;
    const sentData = Math.min(buffered, seqSub(this.sndNxt, this.sndUna));
    return buffered - sentData + (this.finQueued && !this.finAcked && seqLe(this.sndNxt, seqAdd(this.sndUna, buffered)) ? 1 : 0);
  }

  /** Sends one segment from SND.NXT if allowed; returns true if one was sent. */
  #sendOne(force: boolean): boolean {
    const mss = this.#maxPayload();
    const buffered = this.bufferedAmount;
    let offset = seqSub(this.sndNxt, this.sndUna);
    const retransmitting = seqLt(this.sndNxt, this.sndMax);
    if (retransmitting && this.scoreboard !== null && !this.scoreboard.empty) {
      const skip = this.scoreboard.skipSacked(this.sndNxt);
      if (skip !== this.sndNxt) { this.sndNxt = skip; offset = seqSub(skip, this.sndUna); }
    }
    const pending = buffered - offset;
    const finSeq = seqAdd(this.sndUna, buffered);
    const wantFin = this.finQueued && !this.finAcked && this.sndNxt === finSeq;
    if (pending <= 0 && !wantFin) return false;

    let flight = offset;
    if (this.scoreboard !== null && !this.scoreboard.empty) flight -= this.scoreboard.sackedBetween(this.sndUna, this.sndNxt);
    let cwnd = this.cc.cwnd;
    if (!this.inRecovery && this.dupAcks > 0 && this.dupAcks < 3) cwnd += Math.min(this.dupAcks, 2) * mss; // RFC 3042
    const cwndRoom = Math.floor(cwnd) - flight;
    const wndRoom = this.sndWnd - offset;
    let usable = Math.min(cwndRoom, wndRoom);
    if (force && usable <= 0 && wndRoom > 0) usable = Math.min(wndRoom, mss);

    if (pending <= 0) {
      // only the FIN is left: it needs no window space
      if (cwndRoom <= 0 && !force) return false;
      this.#emit(TCP_FLAG_FIN | TCP_FLAG_ACK, this.sndNxt, offset, 0, undefined);
      this.#advance(1, retransmitting);
      return true;
    }
    if (usable <= 0) return false;
    let len = Math.min(mss, pending, usable);
    let gso = false;
    const tsoMax = this.ctx.options.tsoMaxFrame;
    if (tsoMax > 0 && !retransmitting && !force && !this.inRecovery && len === mss && pending > mss && usable > mss && mss === this.mss) {
      // segmentation offload: several MSS-sized segments in one datagram the device splits
      const room = Math.min(tsoMax - 18 - 20 - 20 - (this.tsOk ? 12 : 0), 65535 - 20 - 20 - (this.tsOk ? 12 : 0));
      const big = Math.min(pending, usable, Math.floor(room / mss) * mss);
      if (big > mss) { len = big === pending ? big : Math.floor(big / mss) * mss; gso = true; }
    }
    if (retransmitting) len = Math.min(len, seqSub(this.sndMax, this.sndNxt));
    // RFC 9293 §3.8.6.2.1 sender SWS avoidance and Nagle (RFC 896)
    if (!retransmitting && !force && len < mss) {
      const all = len === pending;
      // Minshall's variant (as Linux): hold a small segment only while another small one is unacknowledged
      const nagleOk = all && (this.noDelay || this.finQueued || seqLe(this.smallEnd, this.sndUna));
      const swsOk = this.maxSndWnd > 0 && len >= this.maxSndWnd / 2;
      if (!nagleOk && !swsOk) return false;
    }
    const fin = this.finQueued && len === pending;
    const flags = TCP_FLAG_ACK | (len === pending ? TCP_FLAG_PSH : 0) | (fin ? TCP_FLAG_FIN : 0);
    if (!retransmitting && this.rttTime < 0 && !this.tsOk) { this.rttSeq = this.sndNxt; this.rttTime = this.ctx.clock.now(); }
    this.#emit(flags, this.sndNxt, offset, len, undefined, gso);
    if (len < mss) this.smallEnd = seqAdd(this.sndNxt, len);
    this.#advance(len + (fin ? 1 : 0), retransmitting);
    return true;
  }

  #advance(n: number, retransmitting: boolean): void {
    if (retransmitting) { this.retransmits++; this.ctx.stats.retransmits++; }
    this.sndNxt = seqAdd(this.sndNxt, n);
    if (seqGt(this.sndNxt, this.sndMax)) this.sndMax = this.sndNxt;
    if (this.rtoAt === NONE) this.rtoAt = this.ctx.clock.now() + this.rtt.rto;
    // RFC 8985 §7.2: the probe timer restarts with every new transmission
    if (!retransmitting) this.#armTailLossProbe(this.ctx.clock.now());
    this.persistAt = NONE;
  }

  /** Retransmits [seq, seq+len) (clipped to what was sent), with the FIN if it lies there. */
  #retransmit(seq: number, len: number): void {
    len = Math.min(len, this.#maxPayload());
    const offset = seqSub(seq, this.sndUna);
    const buffered = this.bufferedAmount;
    const sentEnd = seqSub(this.sndMax, this.sndUna);
    len = Math.min(len, buffered - offset, sentEnd - offset);
    const finInFlight = this.finQueued && !this.finAcked && sentEnd > buffered;
    if (len <= 0) {
      if (finInFlight && offset === buffered) {
        this.#emit(TCP_FLAG_FIN | TCP_FLAG_ACK, seq, offset, 0, undefined);
        this.retransmits++; this.ctx.stats.retransmits++;
      }
      return;
    }
    // PSH as on a first transmission: the segment reaches the end of the buffered data
    const last = offset + len === buffered;
    const fin = finInFlight && last;
    this.#emit(TCP_FLAG_ACK | (last ? TCP_FLAG_PSH : 0) | (fin ? TCP_FLAG_FIN : 0), seq, offset, len, undefined);
    this.retransmits++;
    this.ctx.stats.retransmits++;
    this.rttTime = -1;
  }

  /** Payload room of the next segment: MSS less the SACK option when one is due (RFC 2018 §3). */
  #maxPayload(): number {
    if (!this.sackOk || this.ooo === null || this.ooo.empty) return this.mss;
    const n = Math.min(this.ooo.count, this.tsOk ? 3 : 4);
    return Math.max(1, this.mss - 4 - 8 * n);
  }

  /** RFC 6675 §5 (C): send while pipe < cwnd: lost retransmissions, lost holes, then new data. */
  #sendRecovery(): void {
    const sb = this.scoreboard ?? (this.scoreboard = new SackScoreboard());
    const mss = this.mss;
    let resent = 0;
    for (let guard = 0; guard < 10_000; guard++) {
      const pipe = seqSub(this.sndMax, this.sndUna) - sb.sacked - sb.lostBytesFrom(this.highRxt, this.sndUna, mss) + resent;
      if (this.cc.cwnd - pipe < mss) break;
      const lost = this.lostRtx;
      if (lost !== null && lost.length > 0) {
        const r = lost[0]!;
        const start = sb.skipSacked(seqMax(r.start, this.sndUna));
        if (seqGe(start, r.end)) { lost.shift(); continue; }
        let end = r.end;
        for (const b of sb.blocks) if (seqGt(b.left, start)) { if (seqLt(b.left, end)) end = b.left; break; }
        const len = Math.min(mss, seqSub(end, start));
        this.#retransmit(start, len);
        this.#markRetransmission(start, len);
        this.ctx.stats.lostRetransmits++;
        r.start = seqAdd(start, len);
        resent += len;
        continue;
      }
      const hole = sb.nextLostHole(this.highRxt, this.sndUna, mss);
      if (hole !== undefined) {
        const len = Math.min(mss, seqSub(hole.right, hole.left));
        this.#retransmit(hole.left, len);
        this.#markRetransmission(hole.left, len);
        this.highRxt = seqAdd(hole.left, len);
        continue;
      }
      if (!this.#sendOne(false)) break;
    }
  }

  #markRetransmission(start: number, len: number): void {
    const marks = this.rtxMarks ?? (this.rtxMarks = []);
    if (marks.length >= MAX_RTX_MARKS) marks.shift();
    marks.push({ start, end: seqAdd(start, len), marker: this.sndMax });
  }

  /**
   * A retransmission is lost when the peer SACKs data first sent after it and the
   * retransmitted range is still missing (the idea of RFC 8985's RACK, by sequence
   * instead of time): resend it instead of waiting for the RTO.
   */
  #detectLostRetransmissions(): void {
    const marks = this.rtxMarks!;
    const sb = this.scoreboard!;
    const high = sb.highest(this.sndUna);
    let w = 0;
    for (const m of marks) {
      if (seqLe(m.end, this.sndUna)) continue;
      if (seqGt(high, m.marker) && sb.sackedBetween(m.start, m.end) < seqSub(m.end, m.start)) {
        (this.lostRtx ?? (this.lostRtx = [])).push(m);
        continue;
      }
      marks[w++] = m;
    }
    marks.length = w;
  }

  /** Writes and sends one segment. `synOptions` set means a SYN or SYN-ACK. */
  #emit(flags: number, seq: number, offset: number, len: number, synOptions: TcpOptions | undefined, gso = false): void {
    const ctx = this.ctx;
    let sackBlocks: { left: number; right: number }[] | undefined;
    let optLen: number;
    if (synOptions !== undefined) optLen = tcpOptionsLength(synOptions);
    else {
      optLen = this.tsOk ? 12 : 0;
      if (this.sackOk && this.ooo !== null && !this.ooo.empty && (flags & TCP_FLAG_ACK) !== 0) {
        sackBlocks = this.ooo.sackBlocks(this.tsOk ? 3 : 4);
        optLen += 4 + 8 * sackBlocks.length;
      }
    }
    const hl = 20 + optLen;
    // GSO segments are the ones too large for the slab: their buffers are recycled.
    const loan = gso ? ctx.lend(hl + len) : undefined;
    const b = loan === undefined ? ctx.allocate(hl + len) : loan.data;
    // A lent buffer holds old bytes: clear what is not written below (urgent pointer, option padding).
    if (loan !== undefined) b.fill(0, 16, hl);
    b[0] = this.localPort >>> 8; b[1] = this.localPort & 0xff;
    b[2] = this.remotePort >>> 8; b[3] = this.remotePort & 0xff;
    b[4] = seq >>> 24; b[5] = (seq >>> 16) & 0xff; b[6] = (seq >>> 8) & 0xff; b[7] = seq & 0xff;
    const ackNum = (flags & TCP_FLAG_ACK) !== 0 ? this.rcvNxt : 0;
    b[8] = ackNum >>> 24; b[9] = (ackNum >>> 16) & 0xff; b[10] = (ackNum >>> 8) & 0xff; b[11] = ackNum & 0xff;
    b[12] = (hl >>> 2) << 4;
    b[13] = flags;
    const wnd = (flags & TCP_FLAG_RST) !== 0 ? 0 : synOptions !== undefined ? Math.min(65535, ctx.options.receiveBufferSize) : this.#windowToAdvertise();
    b[14] = wnd >>> 8; b[15] = wnd & 0xff;
    if (synOptions !== undefined) {
      emitTcpOptions(synOptions, b, 20);
      if ((flags & TCP_FLAG_ACK) !== 0) this.rcvAdvRight = seqAdd(this.rcvNxt, wnd);
    } else {
      let o = 20;
      if (this.tsOk) {
        const tv = this.#tsNow(), te = this.tsRecent;
        b[o] = 1; b[o + 1] = 1; b[o + 2] = 8; b[o + 3] = 10;
        b[o + 4] = tv >>> 24; b[o + 5] = (tv >>> 16) & 0xff; b[o + 6] = (tv >>> 8) & 0xff; b[o + 7] = tv & 0xff;
        b[o + 8] = te >>> 24; b[o + 9] = (te >>> 16) & 0xff; b[o + 10] = (te >>> 8) & 0xff; b[o + 11] = te & 0xff;
        o += 12;
      }
      if (sackBlocks !== undefined) emitTcpOptions({ sackBlocks }, b, o);
    }
    if (len > 0) this.sendBuf!.copyTo(offset, len, b, hl);
    const total = hl + len;
    const ph = pseudoHeaderSum(this.localAddress, this.remoteAddress, 6, total);
    const offload = ctx.options.txChecksumOffload || gso;
    const csum = offload ? ph : ctx.checksum(b, ph);
    b[16] = csum >>> 8; b[17] = csum & 0xff;
    if ((flags & TCP_FLAG_ACK) !== 0) {
      this.lastAckSent = this.rcvNxt;
      this.rcvUnacked = 0;
      this.ackNow = false;
      this.delackAt = NONE;
      // Linux's tcp_dec_quickack_mode: each ACK of received data uses one quick ACK
      if (this.ackScheduled) { this.ackScheduled = false; if (this.quickAcks > 0) this.quickAcks--; }
    }
    // Linux's pingpong (tcp_event_data_sent): data sent within the delayed-ACK time of data
    // received makes the connection interactive; its ACKs wait to ride on the replies
    if (len > 0 && this.lastDataAt >= 0 && this.ctx.clock.now() - this.lastDataAt < ctx.options.delayedAckMs) this.interactive = true;
    ctx.stats.segmentsSent++;
    ctx.stats.bytesSent += len;
    // Don't Fragment on every segment: path MTU discovery (RFC 1191), as Linux does
    ctx.ip.send(this.remoteAddress, 6, b, gso ? { dontFragment: true, offload: { csumBlank: true, gsoSize: this.mss }, ...(loan === undefined ? {} : { release: loan.release }) }
      : offload ? OFFLOAD_DF_OPTS : DF_OPTS);
  }

  /** The window field for a non-SYN segment (RFC 9293 §3.8.6.2.2 receiver SWS avoidance, RFC 7323 §2.3 scaling). */
  #windowToAdvertise(): number {
    const bufSize = this.ctx.options.receiveBufferSize;
    const free = Math.max(0, bufSize - this.recvQueued);
    const newRight = seqAdd(this.rcvNxt, free);
    const grow = seqSub(newRight, this.rcvAdvRight);
    if (grow > 0 && grow >= Math.min(bufSize / 2, this.rcvMss)) {
      this.rcvAdvRight = newRight;
    }
    let wnd = Math.max(0, seqSub(this.rcvAdvRight, this.rcvNxt));
    const shift = this.rcvWscale;
    let field = (wnd + (1 << shift) - 1) >>> shift;
    if (field > 65535) field = 65535;
    wnd = field << shift;
    if (seqGt(seqAdd(this.rcvNxt, wnd), this.rcvAdvRight)) this.rcvAdvRight = seqAdd(this.rcvNxt, wnd);
    return field;
  }

  #emitReset(seq: number, ack: number, withAck: boolean): void {
    this.ctx.stats.resetsSent++;
    const s = this.ctx.allocate(20);
    s.fill(0);
    s[0] = this.localPort >>> 8; s[1] = this.localPort & 0xff;
    s[2] = this.remotePort >>> 8; s[3] = this.remotePort & 0xff;
    s[4] = seq >>> 24; s[5] = (seq >>> 16) & 0xff; s[6] = (seq >>> 8) & 0xff; s[7] = seq & 0xff;
    if (withAck) { s[8] = ack >>> 24; s[9] = (ack >>> 16) & 0xff; s[10] = (ack >>> 8) & 0xff; s[11] = ack & 0xff; }
    s[12] = 5 << 4;
    s[13] = TCP_FLAG_RST | (withAck ? TCP_FLAG_ACK : 0);
    const csum = checksumFinish(checksumAdd(s, pseudoHeaderSum(this.localAddress, this.remoteAddress, 6, 20)));
    s[16] = csum >>> 8; s[17] = csum & 0xff;
    this.ctx.stats.segmentsSent++;
    this.ctx.ip.send(this.remoteAddress, 6, s);
  }

  #tsNow(): number {
    return (Math.floor(this.ctx.clock.now()) + this.tsOffset) >>> 0;
  }

  // ---------------------------------------------------------------- timers

  #armTimer(): void {
    if (this.state === State.CLOSED) return;
    const at = Math.min(this.rtoAt, this.tlpAt, this.delackAt, this.persistAt, this.keepAliveAt, this.timeWaitAt);
    if (at === NONE) return;
    if (this.timerId !== 0 && this.timerAt <= at) return;
    if (this.timerId !== 0) this.ctx.clock.cancel(this.timerId);
    this.timerAt = at;
    this.timerId = this.ctx.clock.setTimer(at, this.#fireTimer);
  }

  #onTimer(): void {
    this.timerId = 0;
    this.timerAt = NONE;
    if (this.state === State.CLOSED) return;
    const now = this.ctx.clock.now();
    if (this.timeWaitAt <= now) { this.#remove(); return; }
    // RFC 8985 §7.2: a probe due no later than the RTO goes first (PTO ≤ RTO by construction)
    // and re-arms the RTO from its own transmission, as Linux's shared timer does
    if (this.tlpAt <= now && this.tlpAt <= this.rtoAt) { this.tlpAt = NONE; this.#onTailLossProbe(now); }
    // (a probe due after a due RTO is dropped by it: the RTO retransmits anyway)
    if (this.rtoAt <= now) { this.rtoAt = this.tlpAt = NONE; this.#onRetransmitTimeout(now); if (this.state === State.CLOSED) return; }
    if (this.persistAt <= now) { this.persistAt = NONE; this.#onPersist(); }
    if (this.keepAliveAt <= now) { this.keepAliveAt = NONE; this.#onKeepAlive(now); if (this.state === State.CLOSED) return; }
    // a delayed ACK that no reply carried: not interactive after all (Linux's tcp_delack_timer_handler)
    if (this.delackAt <= now) { this.delackAt = NONE; this.ackNow = true; this.interactive = false; }
    this.#output();
    this.#armTimer();
  }

  /** RFC 6298 §5.4–5.6 and RFC 5681 §3.1: retransmit the earliest segment, back off, shrink cwnd. */
  #onRetransmitTimeout(now: number): void {
    const o = this.ctx.options;
    const s = this.state;
    if (s === State.SYN_SENT || s === State.SYN_RECEIVED) {
      const limit = s === State.SYN_SENT ? o.synRetries : o.synAckRetries;
      if (this.retries >= limit) { this.#close(this.passive ? undefined : this.softError ?? "ETIMEDOUT"); return; }
      this.retries++;
      this.rtt.backoff();
      this.ctx.stats.retransmits++;
      this.retransmits++;
      this.rttTime = -1;
      this.#sendSyn();
      this.rtoAt = now + this.rtt.rto;
      return;
    }
    if (this.sndUna === this.sndMax) return;
    if (this.retries >= o.retries) { this.#close(this.softError ?? "ETIMEDOUT"); return; }
    this.retries++;
    this.ctx.stats.timeouts++;
    const flight = seqSub(this.sndMax, this.sndUna);
    this.cc.onTimeout(flight, this.mss, now);
    this.inRecovery = false;
    this.rtxMarks = this.lostRtx = null;
    this.dupAcks = 0;
    this.recoverSeq = this.sndMax;
    // RFC 6675 §5.1: SACK information is kept across a first timeout (only unSACKed data
    // is resent); a second consecutive timeout suspects reneging (RFC 2018 §8) and drops it
    if (this.retries > 1) this.scoreboard?.clear();
    this.sndNxt = this.sndUna;
    this.highRxt = this.sndUna;
    this.rttTime = -1;
    this.rtt.backoff();
    this.rtoAt = now + this.rtt.rto;
    this.#sendOne(true);
  }

  /**
   * RFC 8985 §7.2: with SACK and an RTT sample, probe PTO = 2·SRTT after the last send
   * (plus WCDelAckT when one segment is in flight; at least 10 ms, at most the RTO), so a lost tail draws SACK information instead of waiting for the RTO.
   */
  #armTailLossProbe(now: number): void {
    if (!this.ctx.options.tailLossProbe || !this.sackOk || !this.rtt.hasSample || this.inRecovery ||
        this.sndUna === this.sndMax || this.state < State.ESTABLISHED || this.retries > 0) {
      this.tlpAt = NONE;
      return;
    }
    let pto = 2 * this.rtt.srtt;
    if (seqSub(this.sndMax, this.sndUna) <= this.mss) pto += WORST_CASE_DELAYED_ACK_MS;
    pto = Math.min(Math.max(pto, 10), this.rtt.rto);
    this.tlpAt = now + pto;
  }

  /** RFC 8985 §7.3: send one new segment if allowed, else retransmit the last one. */
  #onTailLossProbe(now: number): void {
    if (this.inRecovery || this.sndUna === this.sndMax || this.state < State.ESTABLISHED || this.state === State.TIME_WAIT) return;
    this.ctx.stats.tailLossProbes++;
    if (!this.#sendOne(true)) {
      const buffered = this.bufferedAmount;
      const sentData = Math.min(buffered, seqSub(this.sndMax, this.sndUna));
      const finInFlight = this.finQueued && !this.finAcked && seqSub(this.sndMax, this.sndUna) > buffered;
      if (sentData > 0) {
        const len = Math.min(this.mss, sentData);
        this.#retransmit(seqAdd(this.sndUna, sentData - len), len);
      } else if (finInFlight) {
        this.#retransmit(seqAdd(this.sndUna, buffered), 0);
      }
    }
    this.tlpAt = NONE;
    this.rtoAt = now + this.rtt.rto;
  }

  #onPersist(): void {
    if (this.sndUna !== this.sndMax || this.#unsent() === 0 || this.state < State.ESTABLISHED) { this.persistBackoff = 0; return; }
    // RFC 9293 §3.8.6.1: probe the zero window; a small usable window overrides SWS avoidance
    if (this.sndWnd > 0 && this.#sendOne(true)) { this.persistBackoff = 0; return; }
    this.#emit(TCP_FLAG_ACK, seqSub(this.sndUna, 1) >>> 0, 0, 0, undefined);
    this.persistBackoff = Math.min(this.persistBackoff + 1, 16);
    this.persistAt = this.ctx.clock.now() + Math.min(this.rtt.rto * 2 ** this.persistBackoff, this.ctx.options.maxRtoMs);
  }

  /** RFC 9293 §3.8.4: after idleness, probe with SEG.SEQ = SND.NXT−1; no answer after N probes: ETIMEDOUT. */
  #onKeepAlive(now: number): void {
    const s = this.state;
    if (this.keepAliveMs === 0 || !(s === State.ESTABLISHED || s === State.CLOSE_WAIT || s === State.FIN_WAIT_2)) return;
    if (this.sndUna !== this.sndMax) { this.keepAliveAt = now + this.keepAliveMs; return; }
    if (this.keepAliveProbes >= this.ctx.options.keepAliveProbes) { this.#close("ETIMEDOUT"); return; }
    this.keepAliveProbes++;
    this.#emit(TCP_FLAG_ACK, seqSub(this.sndMax, 1) >>> 0, 0, 0, undefined);
    this.keepAliveAt = now + this.ctx.options.keepAliveIntervalMs;
  }

  // ---------------------------------------------------------------- closing

  #enterTimeWait(now: number): void {
    this.state = State.TIME_WAIT;
    this.wasTimeWait = true;
    this.rtoAt = this.tlpAt = this.persistAt = this.keepAliveAt = NONE;
    this.timeWaitAt = now + 2 * this.ctx.options.mslMs;
    this.sendBuf = null;
    this.ooo = null;
    this.scoreboard = null;
    this.ctx.onTimeWait(this);
    this.#notifyClose(undefined);
  }

  #emitConnect(): void {
    this.onConnectHandler?.();
  }

  #notifyClose(error: StreamErrorCode | undefined): void {
    if (this.closeNotified) return;
    this.closeNotified = true;
    if (error === undefined && this.finReceived && !this.endDelivered && this.recvQueue !== null) {
      // 'end' is still held by a paused reader: 'close' follows it
      this.closePending = true;
      return;
    }
    const h = this.onCloseHandler;
    if (h !== null) {
      if (error === undefined) h();
      else h(error);
    }
  }

  /** Moves to CLOSED, frees everything and reports onClose. */
  #close(error: StreamErrorCode | undefined): void {
    this.#remove();
    // a graceful close keeps data a paused reader has not taken yet (onEnd, then onClose, follow it)
    if (error !== undefined) { this.recvQueue = null; this.recvQueued = 0; }
    this.#notifyClose(error);
  }

  #remove(): void {
    if (this.state === State.CLOSED) return;
    this.state = State.CLOSED;
    if (this.timerId !== 0) { this.ctx.clock.cancel(this.timerId); this.timerId = 0; }
    this.sendBuf = null;
    this.ooo = null;
    this.scoreboard = null;
    this.ctx.onRemoved(this);
  }

  /** Handles an ICMP error quoting one of our segments with sequence `seq` (RFC 5927 §4.1, RFC 1122 §4.2.3.9, RFC 1191). */
  icmpError(e: IcmpErrorReport, seq: number): void {
    const s = this.state;
    if (s === State.CLOSED || s === State.TIME_WAIT) return;
    if (seqLt(seq, this.sndUna) || seqGe(seq, this.sndMax)) return;
    if (e.kind === "dst-unreachable" && e.code === 4) {
      // RFC 1191: fragmentation needed; the IP layer has lowered the path MTU
      const mss = Math.max(1, Math.min(this.mss, this.#localMss() - (this.tsOk ? 12 : 0)));
      if (mss < this.mss && s >= State.ESTABLISHED) {
        this.mss = mss;
        this.sndNxt = this.sndUna;
        this.#output();
        this.#armTimer();
      }
      return;
    }
    if (s === State.SYN_SENT && e.kind === "dst-unreachable" && (e.code === 2 || e.code === 3)) {
      this.#close("ECONNREFUSED");
      return;
    }
    this.softError = "EHOSTUNREACH";
  }

  /** RFC 6191-style reuse: a new SYN may end TIME_WAIT when its sequence (or timestamp) is newer. */
  acceptsReuse(syn: TcpRepr): boolean {
    if (this.state !== State.TIME_WAIT) return false;
    if (this.tsOk && syn.options.tsVal !== undefined) return seqGt(syn.options.tsVal, this.tsRecent);
    return seqGt(syn.seq, this.rcvNxt);
  }

  /** Ends TIME_WAIT early (the 4-tuple is being reused). */
  abortTimeWait(): void { this.#remove(); }
}

const OFFLOAD_DF_OPTS = Object.freeze({ dontFragment: true, offload: Object.freeze({ csumBlank: true }) });
const DF_OPTS = Object.freeze({ dontFragment: true });
