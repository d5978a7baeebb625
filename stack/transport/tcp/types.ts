// Options, statistics and connection information of the TCP layer (stack/transport/tcp).
// TcpLayerOptions: every limit and timer, with its default; TcpStats: layer counters;
// TcpInfo: one connection's state (like Linux's TCP_INFO); TcpStateName: RFC 9293 states.
import type { CongestionControlName } from "./congestion.ts";
import type { HyStartPhase } from "./hystart.ts";

/** Limits and timers of one TCP layer; every field is optional (defaults in brackets). */
export interface TcpLayerOptions {
  /** Maximum segment lifetime; TIME_WAIT lasts 2·MSL [30000 ms]. */
  readonly mslMs?: number;
  /** RFC 6298 initial RTO [1000 ms]. */
  readonly initialRtoMs?: number;
  /** Lower bound of the RTO [200 ms, as Linux]. */
  readonly minRtoMs?: number;
  /** Upper bound of the RTO [60000 ms]. */
  readonly maxRtoMs?: number;
  /** SYN / SYN-ACK retransmissions before giving up [6 / 5]. */
  readonly synRetries?: number;
  readonly synAckRetries?: number;
  /** Data retransmissions before ETIMEDOUT [15]. */
  readonly retries?: number;
  /** Delayed-ACK timer [40 ms]. */
  readonly delayedAckMs?: number;
  /** Quick-ack mode as Linux: ACK the first data segments of a connection (and after an idle
   * period or a duplicate segment) at once instead of delaying the ACK [true]. */
  readonly quickAck?: boolean;
  /** Send buffer limit: write() returns false above it [1 MiB]. */
  readonly sendBufferSize?: number;
  /** Receive buffer: the most the window offers [1 MiB]. */
  readonly receiveBufferSize?: number;
  /** Bytes the out-of-order queue may hold per connection [receiveBufferSize]. */
  readonly outOfOrderBudget?: number;
  /** Offer window scaling / timestamps / SACK in SYNs [true]. */
  readonly windowScaling?: boolean;
  readonly timestamps?: boolean;
  readonly sack?: boolean;
  /** Report duplicate segments in the first SACK block (D-SACK, RFC 2883) when SACK is on [true, as Linux's tcp_dsack]. */
  readonly dsack?: boolean;
  /** Undo a window reduction found spurious: by D-SACK (as Linux's tcp_try_undo_dsack) or by
   * timestamps (Eifel detection, RFC 3522; response as RFC 4015) [true]. */
  readonly undo?: boolean;
  /** Proportional rate reduction (RFC 6937) for the window during SACK recovery, as Linux;
   * false: the window drops to ssthresh when recovery starts [true]. */
  readonly prr?: boolean;
  /** RACK time-based loss detection (RFC 8985 §6) alongside DupThresh when SACK is on, as Linux [true]. */
  readonly rack?: boolean;
  /** HyStart++ (RFC 9406) in CUBIC's initial slow start: leave it when the RTT rises, through
   * Conservative Slow Start (Linux's tcp_cubic has HyStart on by default) [true]. A connection
   * may override it (TcpConnectionOptions.hystart). */
  readonly hystart?: boolean;
  /** F-RTO (RFC 5682, the SACK-enhanced variant as Linux's tcp_frto): after a timeout, new data
   * goes out on the first ACK instead of retransmissions; an ACK then (S)ACKing data that was
   * never retransmitted shows the timeout spurious and undoes it (needs `undo`) [true]. */
  readonly frto?: boolean;
  /** Congestion control of new connections ["cubic"]. */
  readonly congestionControl?: CongestionControlName;
  /** Half-open connections per listener before SYN cookies (or drops) [256]. */
  readonly synQueueSize?: number;
  /** Default accept backlog per listener [128]. */
  readonly backlog?: number;
  /** Answer SYNs with cookies when the SYN queue is full [true]. */
  readonly synCookies?: boolean;
  /** Connections per stack, TIME_WAIT excluded [65536]. */
  readonly maxConnections?: number;
  /** TIME-WAIT records per stack, as Linux's tcp_max_tw_buckets: beyond it a connection that
   * would enter TIME-WAIT closes at once (counted in timeWaitDropped) [65536]. */
  readonly maxTimeWait?: number;
  /** RFC 5961 §7 challenge ACKs per second for the whole layer, randomised as Linux's
   * tcp_challenge_ack_limit: each second allows limit/2 + a random part below limit, so an
   * off-path host cannot count the layer's budget to learn which 4-tuples exist (CVE-2016-5696) [1000]. */
  readonly challengeAckLimit?: number;
  /** Least interval between a connection's challenge ACKs, and between its ACKs answering
   * out-of-window segments without data (Linux's tcp_invalid_ratelimit) [500 ms]. */
  readonly invalidRateLimitMs?: number;
  /** Keepalive idle time, probe interval and probe count [7200000 ms, 75000 ms, 9]. */
  readonly keepAliveIdleMs?: number;
  readonly keepAliveIntervalMs?: number;
  readonly keepAliveProbes?: number;
  /** Emit segments with csumBlank (the device completes checksums) [false]. */
  readonly txChecksumOffload?: boolean;
  /** Largest frame the device segments (TSO, Frame.offload.gsoSize); 0 = no TSO [0]. */
  readonly tsoMaxFrame?: number;
  /** Send a tail loss probe before the RTO (RFC 8985 §7) [true]. */
  readonly tailLossProbe?: boolean;
  /** Send the rest of a fully open peer window that is smaller than an MSS (a small receive
   * buffer's last bytes), as smoltcp and lwIP do; Linux and BSD hold it by sender SWS avoidance
   * (RFC 9293 §3.8.6.2.1, Fs = 1/2) and so send 2 segments per round trip into a 4 KiB window [false]. */
  readonly fillWindowEdge?: boolean;
  /** ECN (RFC 3168): "on" asks for it in SYNs and accepts it, "passive" accepts it when a peer
   * asks, "off" neither ["passive", as Linux's net.ipv4.tcp_ecn = 2]. */
  readonly ecn?: "on" | "passive" | "off";
  /** Window scale shift we offer [7, or more if the receive buffer needs it]. */
  readonly windowScaleShift?: number;
  /**
   * GRO-like ACK coalescing: the pure ACK owed after an in-order data segment waits until the
   * burst it arrived in has been taken in (the work already due at this instant of the clock),
   * so a burst is acknowledged once, as Linux acknowledges one GRO super-packet. Out-of-order
   * data, duplicates, FIN and window probes are acknowledged at once as without it. Off by default:
   * it changes what a capture shows (fewer ACKs) [false].
   */
  readonly ackCoalescing?: boolean;
  /** Fill each released segment buffer with 0xA5 (tests: a device that releases too early shows up) [false]. */
  readonly poisonReleasedBuffers?: boolean;
  /** Free bytes left before each outgoing segment for the headers below (TCP over IPv6 needs 54) [HEADROOM, 42]. */
  readonly headroom?: number;
}

/** RFC 9293 §3.3.2 state names. */
export type TcpStateName =
  | "CLOSED"
  | "LISTEN"
  | "SYN-SENT"
  | "SYN-RECEIVED"
  | "ESTABLISHED"
  | "FIN-WAIT-1"
  | "FIN-WAIT-2"
  | "CLOSE-WAIT"
  | "CLOSING"
  | "LAST-ACK"
  | "TIME-WAIT";

/** Counters of one TCP layer. */
export interface TcpStats {
  /** Segments sent from a recycled buffer (Frame.release: the device gave an earlier one back). */
  segmentBuffersReused: number;
  /** Received frames given back to their producer (Frame.release) because an onRead reader copied their bytes out. */
  segmentBuffersReleased: number;
  segmentsReceived: number;
  segmentsSent: number;
  bytesSent: number;
  bytesReceived: number;
  retransmits: number;
  fastRetransmits: number;
  /** Retransmissions resent because the first retransmission was lost. */
  lostRetransmits: number;
  tailLossProbes: number;
  timeouts: number;
  resetsSent: number;
  resetsReceived: number;
  /** RFC 5961 challenge ACKs sent; and not sent, held back by the connection's interval
   * (invalidRateLimitMs) or the layer's per-second budget (challengeAckLimit). */
  challengeAcks: number;
  challengeAcksSuppressed: number;
  badSegments: number;
  /** SYNs with FIN set, dropped (as Linux: a SYN+FIN opens nothing). */
  synFinDropped: number;
  /** SYN-ACKs sent with a cookie (SYN queue full) and cookie ACKs that opened a connection. */
  synCookiesSent: number;
  synCookiesAccepted: number;
  /** Half-open connections dropped early because the SYN queue was more than half full of
   * retransmitted ones (as Linux's reqsk_timer_handler). */
  synQueuePruned: number;
  /** SYNs dropped because the SYN queue was full and SYN cookies are off. */
  synQueueDropped: number;
  /** SYNs dropped for any reason (SYN queue, accept queue or connection limit full). */
  synDropped: number;
  /** TIME-WAIT records held now (a gauge; each is a compact record, not a connection). */
  timeWaitCount: number;
  /** Connections that closed without TIME-WAIT because maxTimeWait records were held. */
  timeWaitDropped: number;
  activeOpens: number;
  passiveOpens: number;
  outOfOrderDropped: number;
  pawsRejected: number;
  /** ACKs sent with a D-SACK block (RFC 2883). */
  dsackSent: number;
  /** ACKs received with a D-SACK block. */
  dsackReceived: number;
  /** Window reductions undone (spurious fast retransmits or timeouts). */
  undos: number;
  /** Retransmission timeouts found spurious (undone). */
  spuriousRtos: number;
  /** Recoveries started by RACK's time test before DupThresh was reached. */
  rackRecoveries: number;
  /** HyStart++ (RFC 9406): slow starts left for CSS on an RTT rise; CSS left back to slow start
   * (the RTT fell again); rounds spent in CSS. */
  hystartExits: number;
  hystartResumes: number;
  hystartCssRounds: number;
  /** F-RTO (RFC 5682): timeouts after which new data was sent to test them; of those, found
   * spurious (also counted in spuriousRtos and undos). */
  frtoProbes: number;
  frtoSpurious: number;
  /** ECN (RFC 3168): data segments received marked CE; ACKs received with ECE; window reductions
   * they caused (at most one per window of data); segments sent with CWR. */
  ecnCeReceived: number;
  ecnEceReceived: number;
  ecnReductions: number;
  ecnCwrSent: number;
}

/** A snapshot of one connection. */
export interface TcpInfo {
  readonly state: TcpStateName;
  readonly congestionControl: CongestionControlName;
  readonly cwnd: number;
  readonly ssthresh: number;
  readonly srttMs: number;
  readonly rtoMs: number;
  readonly sendMss: number;
  readonly sendWindow: number;
  readonly receiveWindow: number;
  readonly windowScaling: boolean;
  readonly timestamps: boolean;
  readonly sack: boolean;
  readonly retransmits: number;
  readonly bytesInFlight: number;
  /** ACKs this connection sent with a D-SACK block (RFC 2883). */
  readonly dsackSent: number;
  /** D-SACK blocks this connection received. */
  readonly dsackReceived: number;
  /** Window reductions this connection undid. */
  readonly undos: number;
  /** The reordering (in segments) loss detection tolerates: DupThresh, raised after undos. */
  readonly reordering: number;
  /** Retransmission timeouts this connection found spurious (Eifel, D-SACK or F-RTO) and undid. */
  readonly spuriousRtos: number;
  /** HyStart++ (RFC 9406): "off" (not on for this connection, or not CUBIC); "slow-start" until
   * it leaves (also before its first full round); "css" in Conservative Slow Start; "done". */
  readonly hystart: "off" | HyStartPhase;
  /** HyStart++ exits to CSS and rounds spent in CSS. */
  readonly hystartExits: number;
  readonly hystartCssRounds: number;
  /** BBR's model, when the connection runs BBR. */
  readonly bbr?: BbrInfo;
}

/** A BBR connection's model (as Linux's tcp_bbr_info, plus the state). */
export interface BbrInfo {
  readonly mode: "startup" | "drain" | "probe-bw" | "probe-rtt";
  /** The windowed max of the delivery rate (bytes per second). */
  readonly bandwidthBytesPerSecond: number;
  /** The min RTT filter's value (ms; Infinity before a sample). */
  readonly minRttMs: number;
  readonly pacingRateBytesPerSecond: number;
  readonly pacingGain: number;
  /** Round trips counted by delivery; PROBE_RTT entries. */
  readonly rounds: number;
  readonly probeRtts: number;
  readonly fullBandwidthReached: boolean;
  /** The ACK aggregation estimate the window makes room for (bytes; Linux's extra_acked). */
  readonly extraAckedBytes: number;
}
