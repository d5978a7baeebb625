// TCP layer options with their defaults applied (ResolvedTcpOptions, resolveTcpOptions) and
// the MSS bounds every MSS computation goes through (clampMss, localMss).
import type { TcpLayerOptions } from "./types.ts";
import type { CongestionControlName } from "./congestion.ts";

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
  readonly dsack: boolean;
  readonly undo: boolean;
  readonly prr: boolean;
  readonly rack: boolean;
  readonly hystart: boolean;
  readonly frto: boolean;
  readonly congestionControl: CongestionControlName;
  readonly synQueueSize: number;
  readonly backlog: number;
  readonly synCookies: boolean;
  readonly maxConnections: number;
  readonly maxTimeWait: number;
  readonly challengeAckLimit: number;
  readonly invalidRateLimitMs: number;
  readonly keepAliveIdleMs: number;
  readonly keepAliveIntervalMs: number;
  readonly keepAliveProbes: number;
  readonly txChecksumOffload: boolean;
  readonly tsoMaxFrame: number;
  readonly tailLossProbe: boolean;
  readonly fillWindowEdge: boolean;
  readonly ackCoalescing: boolean;
  readonly ecn: "on" | "passive" | "off";
  readonly windowScaleShift: number;
}

/** Applies the defaults documented in TcpLayerOptions. */
export function resolveTcpOptions(o: TcpLayerOptions): ResolvedTcpOptions {
  const receiveBufferSize = o.receiveBufferSize ?? 1 << 20;
  let needShift = 0;
  while (65535 << needShift < receiveBufferSize && needShift < 14) needShift++;
  return {
    mslMs: o.mslMs ?? 30_000,
    initialRtoMs: o.initialRtoMs ?? 1000,
    minRtoMs: o.minRtoMs ?? 200,
    maxRtoMs: o.maxRtoMs ?? 60_000,
    synRetries: o.synRetries ?? 6,
    synAckRetries: o.synAckRetries ?? 5,
    retries: o.retries ?? 15,
    delayedAckMs: o.delayedAckMs ?? 40,
    quickAck: o.quickAck ?? true,
    sendBufferSize: o.sendBufferSize ?? 1 << 20,
    receiveBufferSize,
    outOfOrderBudget: o.outOfOrderBudget ?? receiveBufferSize,
    windowScaling: o.windowScaling ?? true,
    timestamps: o.timestamps ?? true,
    sack: o.sack ?? true,
    dsack: o.dsack ?? true,
    undo: o.undo ?? true,
    prr: o.prr ?? true,
    rack: o.rack ?? true,
    hystart: o.hystart ?? true,
    frto: o.frto ?? true,
    congestionControl: o.congestionControl ?? "cubic",
    synQueueSize: o.synQueueSize ?? 256,
    backlog: o.backlog ?? 128,
    synCookies: o.synCookies ?? true,
    maxConnections: o.maxConnections ?? 65536,
    maxTimeWait: o.maxTimeWait ?? 65536,
    challengeAckLimit: o.challengeAckLimit ?? 1000,
    invalidRateLimitMs: o.invalidRateLimitMs ?? 500,
    keepAliveIdleMs: o.keepAliveIdleMs ?? 7_200_000,
    keepAliveIntervalMs: o.keepAliveIntervalMs ?? 75_000,
    keepAliveProbes: o.keepAliveProbes ?? 9,
    txChecksumOffload: o.txChecksumOffload ?? false,
    tsoMaxFrame: o.tsoMaxFrame ?? 0,
    tailLossProbe: o.tailLossProbe ?? true,
    fillWindowEdge: o.fillWindowEdge ?? false,
    ackCoalescing: o.ackCoalescing ?? false,
    ecn: o.ecn ?? "passive",
    windowScaleShift: Math.min(14, Math.max(o.windowScaleShift ?? 7, needShift)),
  };
}

/** RFC 9293 §3.7.1: the send MSS when the peer sends no MSS option. */
export const DEFAULT_MSS = 536;
/** Smallest MSS used in either direction (Linux's tcp_min_snd_mss): a tiny one would make every byte a segment. */
export const MIN_MSS = 88;
/** Largest MSS: a 65535-byte IPv4 datagram less the IP and TCP headers. */
export const MAX_MSS = 65495;

/** Bounds an MSS (ours from the MTU, or the peer's option) to [MIN_MSS, MAX_MSS]. */
export function clampMss(mss: number): number {
  return Math.max(MIN_MSS, Math.min(MAX_MSS, mss));
}

/** The MSS we announce for a path MTU (RFC 9293 §3.7.1: MTU less 40 bytes of IPv4 and TCP headers). */
export function localMss(mtu: number): number {
  return clampMss(mtu - 40);
}
