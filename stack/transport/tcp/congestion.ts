// The congestion-control interface a connection drives (window growth and reduction);
// loss detection and recovery (RFC 6582 / RFC 6675) live in the connection and call it.
// Windows are in bytes. CongestionControl: the interface; createCongestionControl: by name;
// initialWindow: RFC 6928 IW10. BBR (bbr.ts) is model-based: it sets the window and a pacing
// rate from every ACK's delivery-rate sample (control) instead of the window hooks.
import type { Instant, Rng } from "../../time.ts";
import { createBbr } from "./bbr.ts";
import { createCubic } from "./cubic.ts";
import type { RateSample } from "./delivery-rate.ts";
import type { HyStart, HyStartCounters } from "./hystart.ts";
import { createNewReno } from "./newreno.ts";

/** Congestion-control algorithm names a socket can select. */
export type CongestionControlName = "cubic" | "newreno" | "bbr";

/** Where the connection is in loss recovery (Linux's ca_state): 0 open, 1 fast recovery, 2 after a timeout. */
export type RecoveryPhase = 0 | 1 | 2;

/** One connection's congestion window controller. */
export interface CongestionControl {
  readonly name: CongestionControlName;
  /** Congestion window (bytes). */
  cwnd: number;
  /** Slow-start threshold (bytes). */
  ssthresh: number;
  /** HyStart++ (RFC 9406) of this connection's slow start: null when off (or not begun yet,
   * `hystartEnabled` says which). */
  readonly hystart: HyStart | null;
  readonly hystartEnabled: boolean;
  /** New data was cumulatively acknowledged outside recovery, up to `ack` with `sndMax` the
   * highest sequence sent (`rttMs` when measured). */
  onAck(acked: number, mss: number, now: Instant, rttMs: number | undefined, ack: number, sndMax: number): void;
  /** Loss detected by duplicate ACKs or SACK: sets ssthresh (and cwnd) for recovery. */
  onCongestion(flightSize: number, mss: number, now: Instant): void;
  /** The retransmission timer fired (RFC 5681 §3.1 eq. 4, cwnd to the loss window). */
  onTimeout(flightSize: number, mss: number, now: Instant): void;
  /** Recovery finished (full ACK). */
  onRecoveryEnd(mss: number, now: Instant): void;
  /** The last reduction was spurious (D-SACK or timestamps showed nothing was lost): back to the
   * window before it (Linux's undo_cwnd: max of the current and the prior values). */
  undo(priorCwnd: number, priorSsthresh: number): void;
  /** Model-based controllers (BBR) only: every ACK's delivery-rate sample, after loss detection;
   * sets cwnd and pacingRate (window-based controllers leave it undefined). */
  control?(rs: RateSample, phase: RecoveryPhase, mss: number, srttMs: number, now: Instant): void;
  /** Pacing rate in bytes per millisecond (model-based controllers; 0 or undefined: not paced). */
  readonly pacingRate?: number;
}

/** RFC 6928 §2: IW = min(10·MSS, max(2·MSS, 14600)). */
export function initialWindow(mss: number): number {
  return Math.min(10 * mss, Math.max(2 * mss, 14600));
}

/** Creates a controller by name; `hystart` turns HyStart++ on for CUBIC's slow start (it counts
 * into `counters`); BBR draws its PROBE_BW phases from `rng` (without one it always enters at the
 * first phase after the 0.75 one). */
export function createCongestionControl(name: CongestionControlName, mss: number, hystart = false, counters?: HyStartCounters, rng?: Rng): CongestionControl {
  if (name === "bbr") return createBbr(mss, rng);
  return name === "newreno" ? createNewReno(mss) : createCubic(mss, hystart ? (counters ?? null) : null);
}
