// CUBIC (RFC 9438): W_cubic(t) = C·(t − K)³ + W_max with C = 0.4, β = 0.7, fast
// convergence (§4.7) and the Reno-friendly region (§4.3); slow start as in RFC 5681, with
// HyStart++ (RFC 9406, hystart.ts) when it is on. Windows are tracked in segments internally
// and exposed in bytes.
// Cubic: the controller (a class: fields, no per-connection closures).
import type { Instant } from "../../time.ts";
import { seqSub } from "./seq.ts";
import type { CongestionControl } from "./congestion.ts";
import { initialWindow } from "./congestion.ts";
import { HyStart, N_RTT_SAMPLE, type HyStartCounters } from "./hystart.ts";

const C = 0.4;
const BETA = 0.7;
/** RFC 9438 §4.3: alpha_cubic = 3(1 − β)/(1 + β). */
const ALPHA = (3 * (1 - BETA)) / (1 + BETA);
/** RFC 5681 §3.1: the initial ssthresh, "arbitrarily high". */
const INITIAL_SSTHRESH = 0x7fffffff;

/** A CUBIC controller starting with IW10. */
export class Cubic implements CongestionControl {
  readonly name = "cubic" as const;
  cwnd: number;
  ssthresh = INITIAL_SSTHRESH;
  /** HyStart++ counters when it is on (null: off). */
  #hystartCounters: HyStartCounters | null;
  /** HyStart++ state, made once a round can hold N_RTT_SAMPLE ACKs (an idle connection has none). */
  #hystart: HyStart | null = null;
  #wMax = 0;
  /** W_max before the last reduction (restored by undo). */
  #priorWMax = 0;
  #k = 0;
  #epochStart = -1;
  #wEst = 0;
  #lastRtt = 100;
  constructor(mss: number, hystartCounters: HyStartCounters | null) {
    this.cwnd = initialWindow(mss);
    this.#hystartCounters = hystartCounters;
  }

  get hystart(): HyStart | null {
    return this.#hystart;
  }
  get hystartEnabled(): boolean {
    return this.#hystartCounters !== null;
  }

  onAck(acked: number, smss: number, now: Instant, rttMs: number | undefined, ack: number, sndMax: number): void {
    if (rttMs !== undefined && rttMs > 0) this.#lastRtt = rttMs;
    if (this.cwnd < this.ssthresh) {
      let hy = this.#hystart;
      // RFC 9406 §4.3: the initial slow start only; its rounds are followed from the first with
      // room for N_RTT_SAMPLE ACKs (a smaller one could not end slow start)
      if (hy === null && this.#hystartCounters !== null && this.ssthresh === INITIAL_SSTHRESH && seqSub(sndMax, ack) >= N_RTT_SAMPLE * smss) {
        hy = this.#hystart = new HyStart(this.#hystartCounters);
      }
      if (hy === null || !hy.active) {
        this.cwnd += acked;
        return;
      }
      const growth = hy.onAck(acked, smss, ack, sndMax, rttMs);
      // CSS ran its rounds: congestion avoidance from this window
      if (growth < 0) this.ssthresh = Math.floor(this.cwnd);
      else this.cwnd += growth;
      return;
    }
    const cwndSeg = this.cwnd / smss;
    if (this.#epochStart < 0) {
      this.#epochStart = now;
      if (this.#wMax <= cwndSeg) {
        this.#k = 0;
        this.#wMax = cwndSeg;
      } else this.#k = Math.cbrt((this.#wMax - cwndSeg) / C);
      this.#wEst = cwndSeg;
    }
    const t = (now - this.#epochStart + this.#lastRtt) / 1000;
    const target = Math.max(cwndSeg, Math.min(C * (t - this.#k) ** 3 + this.#wMax, 1.5 * cwndSeg));
    // §4.3 Reno-friendly estimate
    this.#wEst += (ALPHA * (acked / smss)) / cwndSeg;
    const next = this.#wEst > target ? this.#wEst : target;
    // §4.4: cwnd grows by (target − cwnd)/cwnd per acknowledged segment
    if (next > cwndSeg) this.cwnd += ((next - cwndSeg) / cwndSeg) * acked;
  }

  #reduce(smss: number): void {
    const cwndSeg = this.cwnd / smss;
    this.#priorWMax = this.#wMax;
    // §4.7 fast convergence
    this.#wMax = cwndSeg < this.#wMax ? (cwndSeg * (1 + BETA)) / 2 : cwndSeg;
    this.ssthresh = Math.max(Math.floor(this.cwnd * BETA), 2 * smss);
    this.#epochStart = -1;
  }

  onCongestion(_flight: number, smss: number): void {
    this.#hystart?.end();
    this.#reduce(smss);
    this.cwnd = this.ssthresh;
  }

  onTimeout(_flight: number, smss: number): void {
    this.#hystart?.end();
    this.#reduce(smss);
    this.cwnd = smss;
  }

  undo(priorCwnd: number, priorSsthresh: number): void {
    this.cwnd = Math.max(this.cwnd, priorCwnd);
    this.ssthresh = Math.max(this.ssthresh, priorSsthresh);
    this.#wMax = this.#priorWMax;
    this.#epochStart = -1;
    // undone back to the initial slow start: HyStart++ goes on with it
    if (this.ssthresh === INITIAL_SSTHRESH) this.#hystart?.restart();
  }

  onRecoveryEnd(): void {
    this.cwnd = this.ssthresh;
    this.#epochStart = -1;
  }
}

/** A CUBIC controller starting with IW10; HyStart++ on when given its counters. */
export function createCubic(mss: number, hystartCounters: HyStartCounters | null = null): CongestionControl {
  return new Cubic(mss, hystartCounters);
}
