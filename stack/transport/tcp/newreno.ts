// NewReno window arithmetic (RFC 5681 §3.1, RFC 6582): slow start counting every
// acknowledged byte (as Linux; RFC 3465 without the L limit, so TSO-sized ACKs grow it),
// additive increase of one SMSS per RTT, halving on loss.
// NewReno: the controller (a class, so an idle connection pays for fields, not closures).
import type { CongestionControl } from "./congestion.ts";
import { initialWindow } from "./congestion.ts";

/** A NewReno controller starting with IW10. */
export class NewReno implements CongestionControl {
  readonly name = "newreno" as const;
  get hystart(): null {
    return null;
  }
  get hystartEnabled(): boolean {
    return false;
  }
  cwnd: number;
  ssthresh = 0x7fffffff;
  #caAcked = 0;
  constructor(mss: number) {
    this.cwnd = initialWindow(mss);
  }

  onAck(acked: number, smss: number): void {
    if (this.cwnd < this.ssthresh) {
      this.cwnd += acked;
    } else {
      this.#caAcked += acked;
      if (this.#caAcked >= this.cwnd) {
        this.#caAcked -= this.cwnd;
        this.cwnd += smss;
      }
    }
  }

  onCongestion(_flight: number, smss: number): void {
    // half the window, as Linux's tcp_reno_ssthresh (RFC 5681 §3.1 eq. 4 halves FlightSize,
    // the same for a window-limited sender; the flight less SACKed data halved it again)
    this.ssthresh = Math.max(Math.floor(this.cwnd / 2), 2 * smss);
    this.cwnd = this.ssthresh;
    this.#caAcked = 0;
  }

  onTimeout(_flight: number, smss: number): void {
    this.ssthresh = Math.max(Math.floor(this.cwnd / 2), 2 * smss);
    this.cwnd = smss;
    this.#caAcked = 0;
  }

  onRecoveryEnd(): void {
    this.cwnd = this.ssthresh;
  }

  undo(priorCwnd: number, priorSsthresh: number): void {
    this.cwnd = Math.max(this.cwnd, priorCwnd);
    this.ssthresh = Math.max(this.ssthresh, priorSsthresh);
    this.#caAcked = 0;
  }
}

/** A NewReno controller starting with IW10. */
export function createNewReno(mss: number): CongestionControl {
  return new NewReno(mss);
}
