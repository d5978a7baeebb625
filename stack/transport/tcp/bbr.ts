// BBR v1 (draft-cardwell-iccrg-bbr-congestion-control-00, as Linux's tcp_bbr.c): a model of the
// path from a windowed max filter of the delivery rate (10 round trips) and a min filter of the
// RTT (10 s); pacing rate = gain · BtlBw, cwnd = 2 · BDP. States: STARTUP (gain 2/ln 2 until the
// bandwidth stops growing by 25% for three rounds), DRAIN (the inverse gain until the queue it
// built is gone), PROBE_BW (the gain cycle 1.25, 0.75, 1 × 6, one phase per min RTT, starting
// in a random phase other than 0.75), PROBE_RTT (cwnd 4 segments for 200 ms and a round when
// the min RTT is 10 s old). In loss recovery the first round is packet-conserving and the window
// before it is restored at its end. The window has room for ACK aggregation as Linux's
// (bbr_update_ack_aggregation): the most data delivered beyond bandwidth · time since an epoch
// began, a max over 5-10 rounds, at most 100 ms of bandwidth and one window. Linux's long-term
// (policer) bandwidth sampling is not modelled.
// Bbr: the controller; WindowedMax: Kathleen Nichols' running max (Linux's lib/minmax.c).
import type { Instant, Rng } from "../../time.ts";
import type { CongestionControl, RecoveryPhase } from "./congestion.ts";
import { initialWindow } from "./congestion.ts";
import type { RateSample } from "./delivery-rate.ts";
import type { BbrInfo } from "./types.ts";

/** 2/ln(2): the smallest gain that doubles the delivery rate each round (tcp_bbr.c bbr_high_gain). */
const HIGH_GAIN = 2885 / 1000;
const DRAIN_GAIN = 1000 / 2885;
const CWND_GAIN = 2;
const PACING_GAINS = [1.25, 0.75, 1, 1, 1, 1, 1, 1] as const;
const BW_FILTER_ROUNDS = 10;
const MIN_RTT_WINDOW_MS = 10_000;
const PROBE_RTT_MS = 200;
const FULL_BW_THRESH = 1.25;
const FULL_BW_COUNT = 3;
const MIN_CWND_SEGMENTS = 4;
/** Pace 1% below the estimate (bbr_pacing_margin_percent). */
const PACING_MARGIN = 0.99;
/** Quantization allowance: three segments of send and ACK batching (bbr_quantization_budget). */
const QUANTUM_SEGMENTS = 3;
/** ACK aggregation: rounds per half of the max filter (bbr_extra_acked_win_rtts), the cap in ms of
 * bandwidth (bbr_extra_acked_max_us), and the epoch's reset threshold in segments
 * (bbr_ack_epoch_acked_reset_thresh). */
const EXTRA_ACKED_WIN_ROUNDS = 5;
const EXTRA_ACKED_MAX_MS = 100;
const ACK_EPOCH_RESET_SEGMENTS = 1 << 20;

/** BBR's states. */
export type BbrMode = "startup" | "drain" | "probe-bw" | "probe-rtt";

/** A running max over a window of `win` time units, kept as three samples (Linux's minmax). */
export class WindowedMax {
  readonly #t = [0, 0, 0];
  readonly #v = [0, 0, 0];
  constructor(readonly win: number) {}
  get value(): number {
    return this.#v[0]!;
  }
  reset(t: number, v: number): number {
    this.#t[0] = this.#t[1] = this.#t[2] = t;
    this.#v[0] = this.#v[1] = this.#v[2] = v;
    return v;
  }
  /** Adds measurement `v` at time `t` (non-decreasing); returns the max over the window. */
  update(t: number, v: number): number {
    const ts = this.#t,
      vs = this.#v,
      win = this.win;
    if (v >= vs[0]! || t - ts[2]! > win) return this.reset(t, v);
    if (v >= vs[1]!) {
      ts[2] = ts[1] = t;
      vs[2] = vs[1] = v;
    } else if (v >= vs[2]!) {
      ts[2] = t;
      vs[2] = v;
    }
    const dt = t - ts[0]!;
    if (dt > win) {
      // the best sample aged out: the second and third move up
      ts[0] = ts[1]!;
      vs[0] = vs[1]!;
      ts[1] = ts[2]!;
      vs[1] = vs[2]!;
      ts[2] = t;
      vs[2] = v;
      if (t - ts[0]! > win) {
        ts[0] = ts[1]!;
        vs[0] = vs[1]!;
        ts[1] = ts[2]!;
        vs[1] = vs[2]!;
        ts[2] = t;
        vs[2] = v;
      }
    } else if (ts[1] === ts[0] && dt > win / 4) {
      ts[2] = ts[1] = t;
      vs[2] = vs[1] = v;
    } else if (ts[2] === ts[1] && dt > win / 2) {
      ts[2] = t;
      vs[2] = v;
    }
    return vs[0]!;
  }
}

/** A BBR v1 controller starting with IW10. Windows in bytes, rates in bytes per millisecond. */
export class Bbr implements CongestionControl {
  readonly name = "bbr" as const;
  get hystart(): null {
    return null;
  }
  get hystartEnabled(): boolean {
    return false;
  }
  cwnd: number;
  /** BBR keeps no slow-start threshold of its own; DRAIN sets it to the estimated BDP (as Linux). */
  ssthresh = 0x7fffffff;
  /** Bytes per millisecond (0 until the first RTT sample or estimate). */
  pacingRate = 0;
  mode: BbrMode = "startup";
  /** Round trips counted by delivery (the bandwidth filter's time). */
  rounds = 0;
  /** The current PROBE_BW phase (index into the gain cycle). */
  cycleIndex = 0;
  /** PROBE_RTT entries. */
  probeRtts = 0;
  fullBandwidthReached = false;
  readonly #rng: Rng | undefined;
  readonly #bw = new WindowedMax(BW_FILTER_ROUNDS);
  #minRtt = Infinity;
  #minRttAt = 0;
  #nextRoundDelivered = 0;
  #roundStart = false;
  #fullBw = 0;
  #fullBwCount = 0;
  #cycleAt = 0;
  #pacingGain = HIGH_GAIN;
  #cwndGain = HIGH_GAIN;
  #priorCwnd = 0;
  #prevPhase: RecoveryPhase = 0;
  #conserving = false;
  #probeRttDoneAt = 0;
  #probeRttRoundDone = false;
  #hasRttSample = false;
  readonly #initialCwnd: number;
  // ACK aggregation (bytes): two halves of the max filter, the current epoch
  readonly #extraAcked = [0, 0];
  #extraAckedWinRounds = 0;
  #extraAckedWinIdx = 0;
  #ackEpochAt = 0;
  #ackEpochAcked = 0;

  constructor(mss: number, rng: Rng | undefined) {
    this.cwnd = this.#initialCwnd = initialWindow(mss);
    this.#rng = rng;
  }

  /** The bottleneck bandwidth estimate (bytes per ms): the max filter's value. */
  get bandwidth(): number {
    return this.#bw.value;
  }
  /** The min RTT estimate (ms; Infinity before a sample). */
  get minRtt(): number {
    return this.#minRtt;
  }
  get pacingGain(): number {
    return this.#pacingGain;
  }
  /** The ACK aggregation estimate (bytes): the max filter of data delivered beyond the model's rate. */
  get extraAcked(): number {
    return Math.max(this.#extraAcked[0]!, this.#extraAcked[1]!);
  }

  /** The model as TcpInfo shows it (rates per second). */
  info(): BbrInfo {
    return {
      mode: this.mode,
      bandwidthBytesPerSecond: this.bandwidth * 1000,
      minRttMs: this.#minRtt,
      pacingRateBytesPerSecond: this.pacingRate * 1000,
      pacingGain: this.#pacingGain,
      rounds: this.rounds,
      probeRtts: this.probeRtts,
      fullBandwidthReached: this.fullBandwidthReached,
      extraAckedBytes: this.extraAcked,
    };
  }

  // window-based hooks: BBR sets the window in control(), from the model
  onAck(): void {}
  onCongestion(_flight: number, _mss: number): void {
    this.#saveCwnd();
  }
  onTimeout(_flight: number, mss: number): void {
    // tcp_enter_loss: cwnd to one segment; bbr_set_state(TCP_CA_Loss): a new round, full_bw reset
    this.#saveCwnd();
    this.cwnd = mss;
    this.#prevPhase = 2;
    this.#fullBw = 0;
    this.#roundStart = true;
  }
  onRecoveryEnd(): void {}
  undo(): void {
    // bbr_undo_cwnd: the bandwidth may still grow; the window is kept
    this.#fullBw = 0;
    this.#fullBwCount = 0;
  }

  /** Every ACK (tcp_bbr.c bbr_main): updates the model, then the pacing rate and the window. */
  control(rs: RateSample, phase: RecoveryPhase, mss: number, srttMs: number, now: Instant): void {
    this.#updateBandwidth(rs);
    this.#updateAckAggregation(rs, mss);
    this.#updateCyclePhase(rs, mss, now);
    this.#checkFullBandwidth(rs);
    this.#checkDrain(rs, mss, now);
    this.#updateMinRtt(rs, mss, now);
    this.#setPacingRate(this.bandwidth, this.#pacingGain, srttMs);
    this.#setCwnd(rs, phase, mss);
  }

  #saveCwnd(): void {
    this.#priorCwnd = this.#prevPhase === 0 && this.mode !== "probe-rtt" ? this.cwnd : Math.max(this.#priorCwnd, this.cwnd);
  }

  #updateBandwidth(rs: RateSample): void {
    this.#roundStart = false;
    if (rs.delivered < 0 || rs.intervalMs <= 0) return;
    if (rs.priorDelivered >= this.#nextRoundDelivered) {
      this.#nextRoundDelivered = rs.totalDelivered;
      this.rounds++;
      this.#roundStart = true;
      this.#conserving = false;
    }
    const bw = rs.delivered / rs.intervalMs;
    // an application-limited sample counts only when it raises the estimate
    if (!rs.appLimited || bw >= this.bandwidth) this.#bw.update(this.rounds, bw);
  }

  /**
   * bbr_update_ack_aggregation: data delivered since the epoch began beyond what the bandwidth
   * estimate explains; the epoch restarts when the ACKs fall behind that rate.
   */
  #updateAckAggregation(rs: RateSample, mss: number): void {
    if (rs.ackedSacked <= 0 || rs.delivered < 0 || rs.intervalMs <= 0) return;
    if (this.#roundStart) {
      this.#extraAckedWinRounds = Math.min(0x1f, this.#extraAckedWinRounds + 1);
      if (this.#extraAckedWinRounds >= EXTRA_ACKED_WIN_ROUNDS) {
        this.#extraAckedWinRounds = 0;
        this.#extraAckedWinIdx = 1 - this.#extraAckedWinIdx;
        this.#extraAcked[this.#extraAckedWinIdx] = 0;
      }
    }
    let expected = this.bandwidth * (rs.deliveredAt - this.#ackEpochAt);
    if (this.#ackEpochAcked <= expected || this.#ackEpochAcked + rs.ackedSacked >= ACK_EPOCH_RESET_SEGMENTS * mss) {
      this.#ackEpochAcked = 0;
      this.#ackEpochAt = rs.deliveredAt;
      expected = 0;
    }
    this.#ackEpochAcked += rs.ackedSacked;
    const extra = Math.min(this.#ackEpochAcked - expected, this.cwnd);
    if (extra > this.#extraAcked[this.#extraAckedWinIdx]!) this.#extraAcked[this.#extraAckedWinIdx] = extra;
  }

  /** bbr_ack_aggregation_cwnd: room for the aggregation estimate once the pipe was filled. */
  #ackAggregationCwnd(): number {
    if (!this.fullBandwidthReached) return 0;
    return Math.min(this.extraAcked, this.bandwidth * EXTRA_ACKED_MAX_MS);
  }

  /** The BDP at `gain` plus the quantization allowance (bbr_inflight). */
  #inflightTarget(bw: number, gain: number, mss: number): number {
    if (this.#minRtt === Infinity) return this.#initialCwnd;
    let target = Math.ceil(bw * this.#minRtt * gain) + QUANTUM_SEGMENTS * mss;
    // bbr_quantization_budget: room for the probing phase to actually raise inflight
    if (this.mode === "probe-bw" && this.cycleIndex === 0) target += 2 * mss;
    return target;
  }

  #updateCyclePhase(rs: RateSample, mss: number, now: Instant): void {
    if (this.mode !== "probe-bw") return;
    const fullLength = now - this.#cycleAt > this.#minRtt;
    const gain = this.#pacingGain;
    let next: boolean;
    if (gain === 1) next = fullLength;
    // probing above: until inflight reached gain·BDP (Linux also ends it on losses)
    else if (gain > 1) next = fullLength && rs.priorInflight >= this.#inflightTarget(this.bandwidth, gain, mss);
    // draining below: a full phase, or the queue is gone
    else next = fullLength || rs.priorInflight <= this.#inflightTarget(this.bandwidth, 1, mss);
    if (next) this.#advanceCycle(now);
  }

  #advanceCycle(now: Instant): void {
    this.cycleIndex = (this.cycleIndex + 1) % PACING_GAINS.length;
    this.#cycleAt = now;
    this.#pacingGain = PACING_GAINS[this.cycleIndex]!;
  }

  #checkFullBandwidth(rs: RateSample): void {
    if (this.fullBandwidthReached || !this.#roundStart || rs.appLimited) return;
    if (this.bandwidth >= this.#fullBw * FULL_BW_THRESH) {
      this.#fullBw = this.bandwidth;
      this.#fullBwCount = 0;
      return;
    }
    this.fullBandwidthReached = ++this.#fullBwCount >= FULL_BW_COUNT;
  }

  #checkDrain(rs: RateSample, mss: number, now: Instant): void {
    if (this.mode === "startup" && this.fullBandwidthReached) {
      this.mode = "drain";
      this.#pacingGain = DRAIN_GAIN;
      this.#cwndGain = HIGH_GAIN;
      this.ssthresh = this.#inflightTarget(this.bandwidth, 1, mss);
    }
    if (this.mode === "drain" && rs.inflight <= this.#inflightTarget(this.bandwidth, 1, mss)) this.#enterProbeBw(now);
  }

  #enterProbeBw(now: Instant): void {
    this.mode = "probe-bw";
    this.#cwndGain = CWND_GAIN;
    // bbr_reset_probe_bw_mode: a random phase, never the 0.75 one
    this.cycleIndex = PACING_GAINS.length - 1 - (this.#rng === undefined ? PACING_GAINS.length - 2 : this.#rng.nextInt(PACING_GAINS.length - 1));
    this.#advanceCycle(now);
  }

  #enterStartup(): void {
    this.mode = "startup";
    this.#pacingGain = HIGH_GAIN;
    this.#cwndGain = HIGH_GAIN;
  }

  #updateMinRtt(rs: RateSample, mss: number, now: Instant): void {
    const expired = now > this.#minRttAt + MIN_RTT_WINDOW_MS;
    if (rs.rttMs >= 0 && (rs.rttMs < this.#minRtt || expired)) {
      this.#minRtt = rs.rttMs;
      this.#minRttAt = now;
      this.#hasRttSample = true;
    }
    if (expired && this.mode !== "probe-rtt" && this.#hasRttSample) {
      this.mode = "probe-rtt";
      this.probeRtts++;
      this.#pacingGain = 1;
      this.#cwndGain = 1;
      this.#saveCwnd();
      this.#probeRttDoneAt = 0;
    }
    if (this.mode !== "probe-rtt") return;
    if (this.#probeRttDoneAt === 0 && rs.inflight <= MIN_CWND_SEGMENTS * mss) {
      this.#probeRttDoneAt = now + PROBE_RTT_MS;
      this.#probeRttRoundDone = false;
      this.#nextRoundDelivered = rs.totalDelivered;
    } else if (this.#probeRttDoneAt !== 0) {
      if (this.#roundStart) this.#probeRttRoundDone = true;
      if (this.#probeRttRoundDone && now > this.#probeRttDoneAt) {
        this.#minRttAt = now;
        this.cwnd = Math.max(this.cwnd, this.#priorCwnd);
        if (this.fullBandwidthReached) this.#enterProbeBw(now);
        else this.#enterStartup();
      }
    }
  }

  #setPacingRate(bw: number, gain: number, srttMs: number): void {
    if (bw === 0 || this.#minRtt === Infinity) {
      // bbr_init_pacing_rate_from_rtt: high_gain · cwnd / SRTT until a bandwidth sample, less
      // the pacing margin (bbr_bw_to_pacing_rate applies it there too)
      if (srttMs > 0) this.pacingRate = Math.max(this.pacingRate, (HIGH_GAIN * this.cwnd * PACING_MARGIN) / srttMs);
      return;
    }
    const rate = bw * gain * PACING_MARGIN;
    if (this.fullBandwidthReached || rate > this.pacingRate) this.pacingRate = rate;
  }

  #setCwnd(rs: RateSample, phase: RecoveryPhase, mss: number): void {
    const acked = rs.ackedSacked;
    if (acked > 0) {
      let cwnd = this.cwnd;
      let done = false;
      // bbr_set_cwnd_to_recover_or_restore
      if (phase === 1 && this.#prevPhase !== 1) {
        // the first round of recovery conserves packets: one out for each one delivered
        this.#conserving = true;
        this.#nextRoundDelivered = rs.totalDelivered;
        cwnd = rs.inflight + acked;
      } else if (this.#prevPhase !== 0 && phase === 0) {
        cwnd = Math.max(cwnd, this.#priorCwnd);
        this.#conserving = false;
      }
      this.#prevPhase = phase;
      if (this.#conserving) {
        cwnd = Math.max(cwnd, rs.inflight + acked);
        done = true;
      }
      if (!done) {
        // bbr_set_cwnd: the BDP, the ACK aggregation allowance, then the quantization budget
        const target = this.#inflightTarget(this.bandwidth, this.#cwndGain, mss) + this.#ackAggregationCwnd();
        if (this.fullBandwidthReached) cwnd = Math.min(cwnd + acked, target);
        else if (cwnd < target || rs.totalDelivered < this.#initialCwnd) cwnd += acked;
        cwnd = Math.max(cwnd, MIN_CWND_SEGMENTS * mss);
      }
      this.cwnd = cwnd;
    }
    if (this.mode === "probe-rtt") this.cwnd = Math.min(this.cwnd, MIN_CWND_SEGMENTS * mss);
  }
}

/** A BBR controller starting with IW10, drawing its PROBE_BW phases from `rng`. */
export function createBbr(mss: number, rng: Rng | undefined): Bbr {
  return new Bbr(mss, rng);
}
