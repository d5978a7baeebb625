// The congestion-control interface a connection drives (window growth and reduction);
// loss detection and recovery (RFC 6582 / RFC 6675) live in the connection and call it.
// Windows are in bytes. CongestionControl: the interface; createCongestionControl: by name;
// initialWindow: RFC 6928 IW10.
import type { Instant } from "../../time.ts";
import { createCubic } from "./cubic.ts";
import type { HyStart, HyStartCounters } from "./hystart.ts";
import { createNewReno } from "./newreno.ts";

/** Congestion-control algorithm names a socket can select. */
export type CongestionControlName = "cubic" | "newreno";

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
}

/** RFC 6928 §2: IW = min(10·MSS, max(2·MSS, 14600)). */
export function initialWindow(mss: number): number {
  return Math.min(10 * mss, Math.max(2 * mss, 14600));
}

/** Creates a controller by name; `hystart` turns HyStart++ on for CUBIC's slow start (it counts
 * into `counters`). */
export function createCongestionControl(name: CongestionControlName, mss: number, hystart = false, counters?: HyStartCounters): CongestionControl {
  return name === "newreno" ? createNewReno(mss) : createCubic(mss, hystart ? counters ?? null : null);
}
