// HyStart++ (RFC 9406): slow start that leaves early when the round trip time grows (a queue
// building at the bottleneck) instead of when the first loss shows the overshoot. Rounds are
// counted by sequence (a round ends when the data sent at its start is acknowledged); the
// smallest RTT of each round is compared with the previous round's; a rise of RttThresh sends
// the sender into Conservative Slow Start (CSS, growth divided by CSS_GROWTH_DIVISOR), which
// returns to slow start if the RTT falls below the baseline again, or ends in congestion
// avoidance after CSS_ROUNDS rounds. Only the initial slow start uses it (§4.3); a loss or an
// ECN mark ends it. The controller (cubic.ts) applies the growth this module computes.
// HyStart: one connection's state; HyStartCounters: the layer counters it updates; constants.
import { seqGe } from "./seq.ts";

/** §4.3 constants (ms, counts). */
export const MIN_RTT_THRESH_MS = 4;
export const MAX_RTT_THRESH_MS = 16;
export const MIN_RTT_DIVISOR = 8;
export const N_RTT_SAMPLE = 8;
export const CSS_GROWTH_DIVISOR = 4;
export const CSS_ROUNDS = 5;
/** §4.3: L, the most segments one ACK may add to cwnd when the sender does not pace. */
export const HYSTART_L = 8;

/** Where a connection is in HyStart++. */
export type HyStartPhase = "slow-start" | "css" | "done";

/** Layer counters HyStart++ updates (TcpStats has them). */
export interface HyStartCounters {
  /** Slow starts left for CSS because the RTT rose (§4.2). */
  hystartExits: number;
  /** CSS left back to slow start because the RTT fell below the baseline (a spurious exit). */
  hystartResumes: number;
  /** Rounds spent in CSS. */
  hystartCssRounds: number;
}

const SLOW_START = 0;
const CSS = 1;
const DONE = 2;
/** windowEnd before the first round: set by the next ACK. */
const NO_ROUND = -1;

/** One connection's HyStart++ state (§4.2). */
export class HyStart {
  #phase = SLOW_START;
  #windowEnd = NO_ROUND;
  #lastRoundMinRtt = Infinity;
  #currentRoundMinRtt = Infinity;
  #samples = 0;
  #cssBaselineMinRtt = Infinity;
  /** Rounds ended in the current CSS. */
  #cssRoundsNow = 0;
  /** This connection's exits, resumes and CSS rounds. */
  exits = 0;
  resumes = 0;
  cssRounds = 0;
  constructor(readonly counters: HyStartCounters) {}

  get phase(): HyStartPhase {
    return this.#phase === SLOW_START ? "slow-start" : this.#phase === CSS ? "css" : "done";
  }
  get active(): boolean {
    return this.#phase !== DONE;
  }

  /**
   * An ACK in slow start acknowledged `acked` new bytes up to `ack` (SND.MAX is `sndMax`, the
   * RTT sample `rttMs` if it gave one). Returns the cwnd increase (§4.2: min(N, L·SMSS), divided
   * by CSS_GROWTH_DIVISOR in CSS), or -1 when CSS ran its CSS_ROUNDS: enter congestion avoidance.
   */
  onAck(acked: number, mss: number, ack: number, sndMax: number, rttMs: number | undefined): number {
    if (this.#phase === DONE) return acked;
    if (this.#windowEnd === NO_ROUND) this.#windowEnd = sndMax;
    // the window grows by the phase the ACK arrived in (§4.2: the increase comes before the test)
    const growth = this.#phase === CSS ? Math.min(acked, HYSTART_L * mss) / CSS_GROWTH_DIVISOR : Math.min(acked, HYSTART_L * mss);
    if (rttMs !== undefined) {
      if (rttMs < this.#currentRoundMinRtt) this.#currentRoundMinRtt = rttMs;
      this.#samples++;
      if (this.#samples >= N_RTT_SAMPLE) {
        if (this.#phase === SLOW_START) {
          if (this.#lastRoundMinRtt !== Infinity && this.#currentRoundMinRtt !== Infinity) {
            const thresh = Math.max(MIN_RTT_THRESH_MS, Math.min(this.#lastRoundMinRtt / MIN_RTT_DIVISOR, MAX_RTT_THRESH_MS));
            if (this.#currentRoundMinRtt >= this.#lastRoundMinRtt + thresh) {
              this.#cssBaselineMinRtt = this.#currentRoundMinRtt;
              this.#phase = CSS;
              this.#cssRoundsNow = 0;
              this.exits++;
              this.counters.hystartExits++;
            }
          }
        } else if (this.#currentRoundMinRtt < this.#cssBaselineMinRtt) {
          // the rise was not this connection's queue: back to slow start
          this.#cssBaselineMinRtt = Infinity;
          this.#phase = SLOW_START;
          this.resumes++;
          this.counters.hystartResumes++;
        }
      }
    }
    if (seqGe(ack, this.#windowEnd)) {
      // the round ended: the next one is what is sent from now on
      if (this.#phase === CSS) {
        this.#cssRoundsNow++;
        this.cssRounds++;
        this.counters.hystartCssRounds++;
        if (this.#cssRoundsNow >= CSS_ROUNDS) {
          this.#phase = DONE;
          return -1;
        }
      }
      this.#lastRoundMinRtt = this.#currentRoundMinRtt;
      this.#currentRoundMinRtt = Infinity;
      this.#samples = 0;
      this.#windowEnd = sndMax;
    }
    return growth;
  }

  /** A loss or an ECN mark: slow start is over, HyStart++ with it (§4.2). */
  end(): void {
    this.#phase = DONE;
  }

  /** The reduction that ended it was undone and the initial slow start goes on: rounds start again. */
  restart(): void {
    this.#phase = SLOW_START;
    this.#windowEnd = NO_ROUND;
    this.#lastRoundMinRtt = this.#currentRoundMinRtt = this.#cssBaselineMinRtt = Infinity;
    this.#samples = 0;
  }
}
