// The transmission control block (RFC 9293 §3.3.1): one connection's private state record,
// shared by the modules that make up the connection (handshake, input, receiver, sender,
// recovery, timers, segment-writer) and never exposed to the application: the ByteStream
// it gets is the facade in connection.ts.
// Tcb: the record; TcpContext: what a connection needs from its layer; LossRecovery: the
// interface of a recovery algorithm; State, stateName, NONE: state numbers, names, "no deadline".
import type { Clock, Rng } from "../../time.ts";
import type { Ipv4Layer, Ipv4SendOptions } from "../../net/types.ts";
import type { BufferLoan } from "../../link/recycler.ts";
import type { ByteStream, StreamErrorCode } from "../types.ts";
import { type CongestionControl, type CongestionControlName, createCongestionControl } from "./congestion.ts";
import type { ReassemblyQueue } from "./reassembly.ts";
import { RttEstimator } from "./rtt.ts";
import type { SackScoreboard } from "./scoreboard.ts";
import type { SendBuffer } from "./send-buffer.ts";
import type { RackState } from "./rack.ts";
import type { DeliveryRate } from "./delivery-rate.ts";
import { DEFAULT_MSS, type ResolvedTcpOptions } from "./options.ts";
import type { TcpStateName, TcpStats } from "./types.ts";

/** Connection states (RFC 9293 §3.3.2). */
export const State = {
  CLOSED: 0,
  LISTEN: 1,
  SYN_SENT: 2,
  SYN_RECEIVED: 3,
  ESTABLISHED: 4,
  FIN_WAIT_1: 5,
  FIN_WAIT_2: 6,
  CLOSE_WAIT: 7,
  CLOSING: 8,
  LAST_ACK: 9,
  TIME_WAIT: 10,
} as const;
const STATE_NAMES: readonly TcpStateName[] = [
  "CLOSED",
  "LISTEN",
  "SYN-SENT",
  "SYN-RECEIVED",
  "ESTABLISHED",
  "FIN-WAIT-1",
  "FIN-WAIT-2",
  "CLOSE-WAIT",
  "CLOSING",
  "LAST-ACK",
  "TIME-WAIT",
];
/** The RFC 9293 name of a state number. */
export function stateName(state: number): TcpStateName {
  return STATE_NAMES[state]!;
}

/** A deadline that is not set. */
export const NONE = Infinity;

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
  canAccept(conn: Tcb): boolean;
  /** A passive connection completed its handshake: hand it to its listener. */
  onEstablished(conn: Tcb): void;
  /** The connection entered TIME_WAIT at `now`: the layer keeps a compact record of it (or
   * drops it at its cap) and takes the connection out of its table. */
  onTimeWait(conn: Tcb, now: number): void;
  /** Is the TIME-WAIT this connection entered still held by the layer? */
  inTimeWait(conn: Tcb): boolean;
  /** Ends the TIME-WAIT this connection entered (the application destroyed it). */
  endTimeWaitOf(conn: Tcb): void;
  /** A passive connection's SYN-ACK timer fired: true when it is to be dropped (out of retries,
   * or pruned from a SYN queue under pressure); false when it is retransmitted. */
  synAckExpired(conn: Tcb): boolean;
  /** A callback that runs `conn`'s timer (deadlines.ts arms the Clock with it). */
  timerCallback(conn: Tcb): () => void;
  /** ackCoalescing: send this connection's owed pure ACK once the current burst has been taken in. */
  deferAck(conn: Tcb): void;
  /** The connection is gone: remove it from the demultiplexing table. */
  onRemoved(conn: Tcb): void;
  /** A fresh n-byte view for one outgoing segment with HEADROOM free bytes before it in its
   * buffer (carved from a slab; given away on send). */
  allocate(n: number): Uint8Array;
  /** A view like allocate's for a segment too large for the slab, lent from the layer's recycler
   * (its release goes with the frame: Frame.release); undefined when n is not such a size. The
   * buffer may hold an earlier segment's bytes. */
  lend(n: number): BufferLoan | undefined;
  /** The finished Internet checksum of `segment` plus the partial sum `initial`. */
  checksum(segment: Uint8Array, initial: number): number;
  /** An empty send buffer (a drained one from the layer's free list, or a new one). */
  takeSendBuffer(): SendBuffer;
  /** Gives back a send buffer that drained: an idle connection holds none. */
  releaseSendBuffer(buffer: SendBuffer): void;
  /**
   * Set by the receiver when a view of received bytes was kept (handed to an onData handler,
   * queued, put in the out-of-order queue) during a segment's input; the layer clears it first and
   * gives the segment's frame back (Ipv4Delivery.release) only when it is still false after.
   */
  payloadKept: boolean;
  /** RACK state as `new RackState(sndUna)` would make it (one an idle connection gave back, reset, or a new one). */
  takeRackState(sndUna: number): RackState;
  /** Gives back the RACK state of a connection that went idle: an idle connection holds none. */
  releaseRackState(state: RackState): void;
  /** The IPv4 send options of segments from `localAddress` (shared by its connections: none of
   * them holds objects of its own for this). */
  sendOptionsFor(localAddress: number): SegmentSendOptions;
}

/** One ECN connection's state (RFC 3168 §6.1). */
export class EcnState {
  /** The segment being processed arrived with CE in its IP header (the layer sets it per segment). */
  rxCe = false;
  /** Receiver: a CE mark is echoed with ECE on every ACK until the peer's CWR (§6.1.3). */
  echoing = false;
  /** Sender: the next new data segment carries CWR (§6.1.2). */
  cwrPending = false;
  /** Sender: an ECE reduction is under way (Linux's TCP_CA_CWR): PRR paces the window down to
   * ssthresh until an ACK passes `recover` (SND.MAX at the ECE), and no other ECE reduces it
   * again before (one reduction per window of data). */
  cwr = false;
  recover = 0;
}

/** IPv4 send options of a connection's segments: DF and its own source address (a multihomed
 * stack would otherwise pick the outgoing interface's); ECT(0) for an ECN connection's new data. */
export interface SegmentSendOptions {
  readonly plain: Readonly<Ipv4SendOptions>;
  readonly offload: Readonly<Ipv4SendOptions>;
  readonly ect: Readonly<Ipv4SendOptions>;
  readonly ectOffload: Readonly<Ipv4SendOptions>;
}

/** The IP ECN codepoint ECT(0) (RFC 3168 §5). */
const ECT0 = 2;

/** Builds the four option objects for one source address (the layer caches them per address). */
export function createSegmentSendOptions(src: number): SegmentSendOptions {
  const csumBlank = Object.freeze({ csumBlank: true });
  return Object.freeze({
    plain: Object.freeze({ dontFragment: true, src }),
    offload: Object.freeze({ dontFragment: true, src, offload: csumBlank }),
    ect: Object.freeze({ dontFragment: true, src, tos: ECT0 }),
    ectOffload: Object.freeze({ dontFragment: true, src, tos: ECT0, offload: csumBlank }),
  });
}

/**
 * A loss recovery algorithm (RFC 6582 NewReno, RFC 6675 SACK-based): what happens between
 * the detection of a loss and the ACK of everything outstanding at that time. Stateless
 * objects: the state lives in the Tcb.
 */
export interface LossRecovery {
  /** Loss detected (DupThresh or SACK evidence): reduce the window, retransmit SND.UNA. */
  enter(c: Tcb, now: number): void;
  /** A cumulative ACK below `recover` during recovery, acknowledging `acked` data bytes. */
  onPartialAck(c: Tcb, acked: number): void;
  /** A duplicate ACK during recovery. */
  onDuplicateAck(c: Tcb): void;
  /** Every ACK during recovery and the reorder timer in it, after RACK's time test (rack.ts). */
  afterAck(c: Tcb, now: number): void;
  /** Every ACK during recovery (the entering one too), after loss detection: `delivered` bytes
   * newly acknowledged or SACKed (`unaAdvanced`: the ACK moved SND.UNA); sets the window for
   * what may be sent now. */
  onDelivered(c: Tcb, delivered: number, unaAdvanced: boolean): void;
  /** Sends what recovery allows; false when ordinary transmission applies instead. */
  send(c: Tcb): boolean;
}

export type DataHandler = (data: Uint8Array) => void;
/** An onRead reader: received bytes are copied into `buffer`, callback(n) per fill; no view is handed out. */
export interface Reader {
  readonly buffer: Uint8Array;
  readonly callback: (n: number) => void;
}
export type VoidHandler = () => void;
export type CloseHandler = (error?: StreamErrorCode) => void;
/** A retransmitted range and SND.MAX when it was sent (lost-retransmission detection). */
export interface RtxMark {
  start: number;
  end: number;
  /** SND.MAX when it was retransmitted: data above it was first sent later. */
  marker: number;
  /** When it was retransmitted. */
  at: number;
  /** The connection's retransmission count then: orders retransmissions made at one instant. */
  order: number;
}

/** A connection's loss-recovery bookkeeping: RFC 6937 PRR and the undo of a reduction. */
export class RecoveryRecord {
  // RFC 6937 proportional rate reduction during SACK recovery (bytes)
  prrDelivered = 0;
  prrOut = 0;
  /** The window when recovery began (RFC 6937's RecoverFS, as Linux's prior_cwnd). */
  prrRecoverFs = 0;
  /** Pipe and prrOut when PRR last set the window (-1: not yet this episode): what pipe
   * should be on the next ACK, to tell data newly marked lost from data delivered. */
  prrPipe = -1;
  prrOutAtPipe = 0;
  // undo of spurious reductions (D-SACK, RFC 3522 timestamps)
  /** A reduction may still be undone: SND.UNA when it happened is undoMarker. */
  undoActive = false;
  undoMarker = 0;
  /** Retransmissions since the reduction not yet shown spurious by a D-SACK. */
  undoRetrans = 0;
  /** TSval of the first retransmission since the reduction (-1 = none yet, -2 = the timestamp test is done). */
  undoTsVal = -1;
  /** The reduction was a retransmission timeout. */
  undoFromRto = false;
  priorCwnd = 0;
  priorSsthresh = 0;
  /** Highest sequence SACKed since the reduction (the reordering extent an undo measures). */
  undoHighSack = 0;
  /** Retransmission timeouts of this connection found spurious and undone. */
  spuriousRtos = 0;
  // F-RTO (RFC 5682, frto.ts)
  /** FRTO_OFF, FRTO_ARMED (waiting for the first ACK advancing SND.UNA), FRTO_PROBING (new data out). */
  frto = 0;
  /** SND.MAX at the timeout (Linux's high_seq). */
  frtoHigh = 0;
  /** End of what the timeout's go-back-N retransmitted (from SND.UNA at the timeout). */
  frtoRtxEnd = 0;
  /** The ACK being processed covers data sent before the timeout and never retransmitted. */
  frtoOrig = false;
  /** The last tail loss probe's retransmitted range (not "never retransmitted"). */
  tlpRtxStart = 0;
  tlpRtxEnd = 0;
}

/** The connection's RecoveryRecord, made on first use. */
export function recoveryRecord(c: Tcb): RecoveryRecord {
  return c.rec ?? (c.rec = new RecoveryRecord());
}

/** The state record of one connection. Create through createConnection (connection.ts). */
export class Tcb {
  state: number = State.CLOSED;
  /** The listener port this passive connection belongs to until accepted (0 = active). */
  passive = false;
  /** Counted in its listener's SYN queue. */
  inSynQueue = false;

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
  /** Recovery bookkeeping (PRR, undo), made at the first window reduction: an idle connection has none. */
  rec: RecoveryRecord | null = null;
  dsackReceived = 0;
  undos = 0;
  /** RACK state (RFC 8985 §6) while data is in flight with SACK, or reordering was seen. */
  rack: RackState | null = null;
  /** Reorder timer deadline. */
  rackAt = NONE;
  /** Delivery-rate estimation and pacing, for a model-based controller (BBR); made with it on the handshake. */
  rate: DeliveryRate | null = null;
  /** DupThresh of this connection in segments: 3, raised by undos to the reordering seen (Linux's tp->reordering). */
  reordering = 3;
  // receiving
  ooo: ReassemblyQueue | null = null;
  /** A duplicate to report in the next ACK's first SACK block (RFC 2883), when dsackLeft !== dsackRight. */
  dsackLeft = 0;
  dsackRight = 0;
  /** ACKs sent with a D-SACK block. */
  dsackSent = 0;
  /** FIN seen beyond a hole: its sequence number (-1 = none). */
  oooFin = -1;
  recvQueue: Uint8Array[] | null = null;
  recvQueued = 0;
  paused = false;
  finReceived = false;
  endDelivered = false;
  rcvUnacked = 0;
  ackNow = false;
  /** Queued for the layer's end-of-burst ACK flush (ackCoalescing). */
  ackDeferred = false;
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
  timerId = 0;
  timerAt = NONE;
  /** When we last answered an out-of-window pure ACK. */
  lastOowAckAt = -Infinity;
  // user interface
  /** An onData handler (views), or an onRead reader (copies into its buffer: ByteStream.onRead). */
  onDataHandler: DataHandler | Reader | null = null;
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

  /** The application's view of this connection. */
  stream!: ByteStream;
  /**
   * Fires the connection's one Clock timer: made when a timer is armed (TcpContext.timerCallback),
   * dropped when it fires and nothing arms it again, so an idle connection holds no closure.
   */
  fireTimer: (() => void) | null = null;
  /** The loss recovery algorithm (NewReno until SACK is negotiated). */
  recovery: LossRecovery;
  /** IPv4 send options of the connection's segments (shared per local address). */
  readonly sendOptions: SegmentSendOptions;
  /** ECN state (RFC 3168), made when ECN is negotiated on the handshake; null otherwise. */
  ecn: EcnState | null = null;

  constructor(
    readonly ctx: TcpContext,
    readonly localAddress: number,
    readonly localPort: number,
    readonly remoteAddress: number,
    readonly remotePort: number,
    congestionControl: CongestionControlName,
    noDelay: boolean,
    recovery: LossRecovery,
    hystart: boolean,
  ) {
    this.noDelay = noDelay;
    const o = ctx.options;
    this.rtt = new RttEstimator(o.initialRtoMs, o.minRtoMs, o.maxRtoMs);
    this.cc = createCongestionControl(congestionControl, DEFAULT_MSS, hystart, ctx.stats, ctx.rng);
    this.recovery = recovery;
    this.sendOptions = ctx.sendOptionsFor(localAddress);
  }

  /** Queued and unacknowledged bytes. */
  get bufferedAmount(): number {
    return this.sendBuf === null ? 0 : this.sendBuf.length;
  }
}
