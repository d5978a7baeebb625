// Retransmission timeout estimation (RFC 6298 §2): SRTT/RTTVAR from samples, RTO =
// SRTT + max(G, 4·RTTVAR) clamped to [minRto, maxRto], doubled on each backoff (§5.5).
// RttEstimator: sample/backoff/resetBackoff/rto.

/** RTT estimator state of one connection (times in ms). */
export class RttEstimator {
  srtt = 0;
  rttvar = 0;
  /** True after the first sample. */
  hasSample = false;
  /** Smallest sample seen (Infinity before the first). */
  minRtt = Infinity;
  /** Number of consecutive backoffs. */
  backoffs = 0;
  #baseRto: number;
  constructor(
    readonly initialRto: number,
    readonly minRto: number,
    readonly maxRto: number,
    readonly granularity = 1,
  ) {
    this.#baseRto = initialRto;
  }

  /** Feeds one RTT measurement (RFC 6298 §2.2–2.3, alpha 1/8, beta 1/4). */
  sample(r: number): void {
    if (r < 0) return;
    if (r < this.minRtt) this.minRtt = r;
    if (!this.hasSample) {
      this.srtt = r;
      this.rttvar = r / 2;
      this.hasSample = true;
    } else {
      this.rttvar = 0.75 * this.rttvar + 0.25 * Math.abs(this.srtt - r);
      this.srtt = 0.875 * this.srtt + 0.125 * r;
    }
    const rto = this.srtt + Math.max(this.granularity, 4 * this.rttvar);
    this.#baseRto = Math.min(this.maxRto, Math.max(this.minRto, rto));
  }

  /** Current RTO including backoff. */
  get rto(): number {
    return Math.min(this.maxRto, this.#baseRto * 2 ** this.backoffs);
  }

  /** RFC 6298 §5.5: doubles the RTO after a timeout. */
  backoff(): void {
    this.backoffs++;
  }
  /** Forgets the backoff once new data is acknowledged. */
  resetBackoff(): void {
    this.backoffs = 0;
  }
}
