// Delivery rate estimation (draft-cheng-iccrg-delivery-rate-estimation, as Linux's tcp_rate.c)
// and pacing for model-based congestion control (BBR). Every original transmission is logged
// with the connection's delivery state when it left (bytes delivered so far, when the last of
// them was delivered, when the current sampling interval's first segment was sent, whether the
// sender was application-limited); an ACK that newly delivers data sent at P gives the sample
// (delivered − P.delivered) / max(send interval, ACK interval). Pacing: each transmission
// pushes the earliest time of the next one by len / pacing rate; the connection's timer waits
// for it on the Clock, and a late timer releases what the schedule owes (PACING_CATCH_UP_MS).
// DeliveryRate: one connection's state; RateSample: what an ACK yields.
import { seqLe, seqLt, seqSub } from "./seq.ts";
import { NONE } from "./state.ts";

const INITIAL_CAPACITY = 16;
/** Pacing keeps its schedule when the timer fires up to this late (ms): the segments it owes go
 * at once. A real clock's timers fire a millisecond or more late, far coarser than a segment's
 * time at hundreds of Mbit/s; after a longer pause the schedule restarts from now. */
const PACING_CATCH_UP_MS = 4;
/** Data segments a connection sends before pacing applies (Linux: `tp->data_segs_out >= 10`). */
const UNPACED_SEGMENTS = 10;

/** One ACK's delivery-rate sample and the connection's figures the controller reads with it. */
export interface RateSample {
  /** Bytes delivered over the interval (−1: no valid sample on this ACK). */
  delivered: number;
  /** The interval (ms): the longer of the send and the ACK intervals. */
  intervalMs: number;
  /** The connection's delivered count when the sampled segment was sent. */
  priorDelivered: number;
  /** RTT of the sampled segment (ms; −1 none). */
  rttMs: number;
  /** The sampled segment was sent while the sender was application-limited. */
  appLimited: boolean;
  /** Bytes newly acknowledged or SACKed by this ACK. */
  ackedSacked: number;
  /** Bytes in flight before and after this ACK (SACKed bytes not counted). */
  priorInflight: number;
  inflight: number;
  /** The connection's delivered count after this ACK. */
  totalDelivered: number;
  /** When this ACK delivered data (ms). */
  deliveredAt: number;
}

/** Most retransmissions a connection remembers for rate sampling (older ones give no sample). */
const MAX_RTX_RECORDS = 64;

/** A retransmission and the connection's delivery state when it left. */
interface RtxRecord {
  readonly start: number;
  readonly end: number;
  readonly sentAt: number;
  delivered: number;
  deliveredAt: number;
  firstSentAt: number;
  readonly appLimited: boolean;
}

/** One connection's delivery-rate and pacing state (made when a model-based controller runs). */
export class DeliveryRate {
  /** Bytes delivered (cumulatively acknowledged or SACKed) so far. */
  delivered = 0;
  /** When data was last delivered. */
  deliveredAt = 0;
  /** Send time of the segment that began the current sampling interval. */
  firstSentAt = 0;
  /** Samples are application-limited until `delivered` passes this (0: not limited). */
  appLimitedUntil = 0;
  /** Earliest time the next segment may leave (pacing). */
  paceAt = 0;
  /** The pacing deadline the connection's timer waits for (NONE: not waiting). */
  waitAt = NONE;
  /** The sample the last ACK gave (reused). */
  readonly sample: RateSample = {
    delivered: -1,
    intervalMs: 0,
    priorDelivered: 0,
    rttMs: -1,
    appLimited: false,
    ackedSacked: 0,
    priorInflight: 0,
    inflight: 0,
    totalDelivered: 0,
    deliveredAt: 0,
  };
  /** Data segments sent so far (Linux's data_segs_out). */
  #segmentsOut = 0;
  /** Retransmissions not yet delivered, oldest first (at most MAX_RTX_RECORDS). */
  readonly #rtx: RtxRecord[] = [];
  /** Lowest interval seen for a sample: a shorter one would overestimate (Linux's tcp_min_rtt test). */
  #minRtt = Infinity;
  // the transmit log: a ring of original transmissions in send order
  #end: Float64Array = new Float64Array(INITIAL_CAPACITY);
  #sentAt: Float64Array = new Float64Array(INITIAL_CAPACITY);
  #delivered: Float64Array = new Float64Array(INITIAL_CAPACITY);
  #deliveredAt: Float64Array = new Float64Array(INITIAL_CAPACITY);
  #firstSentAt: Float64Array = new Float64Array(INITIAL_CAPACITY);
  #appLimited: Uint8Array = new Uint8Array(INITIAL_CAPACITY);
  #head = 0;
  #count = 0;

  /** Records an original transmission ending at `end`, sent at `now`; `idle` when nothing was in flight. */
  onSend(end: number, now: number, idle: boolean): void {
    // Linux's tcp_rate_skb_sent: the first segment after idleness starts a fresh interval
    if (idle) {
      this.firstSentAt = now;
      this.deliveredAt = now;
    }
    const mask = this.#end.length - 1;
    if (this.#count > 0) {
      const last = (this.#head + this.#count - 1) & mask;
      // sent at the same instant in the same delivery state: one entry
      if (this.#sentAt[last] === now && this.#delivered[last] === this.delivered) {
        this.#end[last] = end;
        return;
      }
    }
    if (this.#count === this.#end.length) this.#grow();
    const i = (this.#head + this.#count) & (this.#end.length - 1);
    this.#end[i] = end;
    this.#sentAt[i] = now;
    this.#delivered[i] = this.delivered;
    this.#deliveredAt[i] = this.deliveredAt;
    this.#firstSentAt[i] = this.firstSentAt;
    this.#appLimited[i] = this.appLimitedUntil !== 0 ? 1 : 0;
    this.#count++;
  }

  /**
   * Records a retransmission of [start, end) at `now` (Linux's tcp_rate_skb_sent runs for them
   * too): an ACK that delivers it samples on it when it is the most recently sent data delivered,
   * so the round that began with a recovery ends when the recovery's own retransmissions arrive.
   */
  onRetransmit(start: number, end: number, now: number): void {
    if (this.#rtx.length >= MAX_RTX_RECORDS) this.#rtx.shift();
    this.#rtx.push({
      start,
      end,
      sentAt: now,
      delivered: this.delivered,
      deliveredAt: this.deliveredAt,
      firstSentAt: this.firstSentAt,
      appLimited: this.appLimitedUntil !== 0,
    });
  }

  /**
   * An ACK delivered `ackedSacked` bytes; `newest` is the end of the highest original transmission
   * it delivered (undefined: none); `unaBefore`..`una` is what it acknowledged cumulatively and
   * `sacked` the SACK blocks it carried (retransmissions they cover are delivered); entries at or
   * below `una` are dropped. Samples on the most recently sent of them. Fills and returns `sample`.
   */
  onAck(
    ackedSacked: number,
    newest: number | undefined,
    una: number,
    now: number,
    priorInflight: number,
    inflight: number,
    unaBefore = una,
    sacked: readonly { readonly left: number; readonly right: number }[] = [],
  ): RateSample {
    const s = this.sample;
    s.delivered = -1;
    s.rttMs = -1;
    s.appLimited = false;
    s.priorDelivered = 0;
    s.ackedSacked = ackedSacked;
    s.priorInflight = priorInflight;
    s.inflight = inflight;
    if (ackedSacked > 0) {
      this.delivered += ackedSacked;
      this.deliveredAt = now;
      const k = newest === undefined ? -1 : this.#find(newest);
      const rtx = this.#deliveredRetransmission(unaBefore, una, sacked);
      let at: { sentAt: number; delivered: number; deliveredAt: number; firstSentAt: number; appLimited: boolean } | undefined;
      if (k >= 0) {
        const i = (this.#head + k) & (this.#end.length - 1);
        at = {
          sentAt: this.#sentAt[i]!,
          delivered: this.#delivered[i]!,
          deliveredAt: this.#deliveredAt[i]!,
          firstSentAt: this.#firstSentAt[i]!,
          appLimited: this.#appLimited[i] === 1,
        };
      }
      // the retransmission when it left after the original (tcp_rate_skb_delivered: the most
      // recently sent); its RTT is ambiguous (Karn), so it gives none
      const fromRtx = rtx !== undefined && (at === undefined || rtx.sentAt > at.sentAt);
      if (fromRtx) at = rtx;
      if (at !== undefined) {
        const sentAt = at.sentAt;
        s.priorDelivered = at.delivered;
        s.appLimited = at.appLimited;
        if (!fromRtx) {
          s.rttMs = now - sentAt;
          if (s.rttMs < this.#minRtt) this.#minRtt = s.rttMs;
        }
        const sendElapsed = sentAt - at.firstSentAt;
        const ackElapsed = now - at.deliveredAt;
        this.firstSentAt = sentAt;
        const interval = Math.max(sendElapsed, ackElapsed);
        // tcp_rate_gen: an interval shorter than min_rtt would overestimate the rate
        if (interval > 0 && interval >= this.#minRtt) {
          s.delivered = this.delivered - s.priorDelivered;
          s.intervalMs = interval;
        }
      }
      if (this.appLimitedUntil !== 0 && this.delivered > this.appLimitedUntil) this.appLimitedUntil = 0;
    }
    s.totalDelivered = this.delivered;
    s.deliveredAt = this.deliveredAt;
    this.#dropTo(una);
    // a retransmission this ACK's loss detection sent before this update left, as in Linux, after
    // it (on a real clock it was stamped later than the ACK's `now`; never earlier)
    for (const r of this.#rtx) {
      if (r.sentAt < now) continue;
      r.delivered = this.delivered;
      r.deliveredAt = this.deliveredAt;
      r.firstSentAt = this.firstSentAt;
    }
    return s;
  }

  /** Bytes retransmitted at or after `now` (the ACK being processed) and not yet delivered. */
  retransmittedAt(now: number): number {
    let n = 0;
    for (const r of this.#rtx) if (r.sentAt >= now) n += seqSub(r.end, r.start);
    return n;
  }

  /** The latest-sent retransmission this ACK delivers (cumulatively or in a SACK block), removing every one it delivers. */
  #deliveredRetransmission(unaBefore: number, una: number, sacked: readonly { readonly left: number; readonly right: number }[]): RtxRecord | undefined {
    let latest: RtxRecord | undefined;
    const rtx = this.#rtx;
    for (let i = 0; i < rtx.length; ) {
      const r = rtx[i]!;
      const cumulative = seqLe(r.end, una) && seqLt(unaBefore, r.end);
      const stale = seqLe(r.end, unaBefore);
      const inBlock = !cumulative && !stale && sacked.some((b) => seqLe(b.left, r.start) && seqLe(r.end, b.right));
      if (cumulative || inBlock) {
        if (latest === undefined || r.sentAt > latest.sentAt) latest = r;
      }
      if (cumulative || inBlock || stale) rtx.splice(i, 1);
      else i++;
    }
    return latest;
  }

  /** Marks the sender application-limited with `inflight` bytes out (tcp_rate_check_app_limited). */
  markAppLimited(inflight: number): void {
    this.appLimitedUntil = Math.max(this.delivered + inflight, 1);
  }

  /** True when pacing holds the next segment at `now` (and the timer is to wait for it). */
  held(now: number): boolean {
    if (this.paceAt <= now) return false;
    this.waitAt = this.paceAt;
    return true;
  }

  /** A transmission of `bytes` in `segments` at `now` with the pacing rate `rate` (bytes per ms;
   * 0: unpaced). The first UNPACED_SEGMENTS data segments of the connection leave unpaced, as
   * Linux's tcp_update_skb_after_send (and sch_fq's initial quantum): the one that reaches the
   * count starts the schedule. */
  paced(bytes: number, segments: number, now: number, rate: number): void {
    this.#segmentsOut += segments;
    if (rate > 0 && this.#segmentsOut >= UNPACED_SEGMENTS) this.paceAt = (this.paceAt >= now - PACING_CATCH_UP_MS ? this.paceAt : now) + bytes / rate;
  }

  /** Index (from the oldest) of the transmission holding the byte before `end`, or −1. */
  #find(end: number): number {
    const mask = this.#end.length - 1;
    let lo = 0,
      hi = this.#count;
    while (lo < hi) {
      const m = (lo + hi) >>> 1;
      if (seqLt(this.#end[(this.#head + m) & mask]!, end)) lo = m + 1;
      else hi = m;
    }
    return lo < this.#count ? lo : -1;
  }

  #dropTo(seq: number): void {
    const mask = this.#end.length - 1;
    while (this.#count > 0 && seqLe(this.#end[this.#head]!, seq)) {
      this.#head = (this.#head + 1) & mask;
      this.#count--;
    }
  }

  #grow(): void {
    const cap = this.#end.length,
      mask = cap - 1,
      n = this.#count,
      head = this.#head;
    const copy = (a: Float64Array): Float64Array => {
      const b = new Float64Array(cap * 2);
      for (let k = 0; k < n; k++) b[k] = a[(head + k) & mask]!;
      return b;
    };
    this.#end = copy(this.#end);
    this.#sentAt = copy(this.#sentAt);
    this.#delivered = copy(this.#delivered);
    this.#deliveredAt = copy(this.#deliveredAt);
    this.#firstSentAt = copy(this.#firstSentAt);
    const app = new Uint8Array(cap * 2);
    for (let k = 0; k < n; k++) app[k] = this.#appLimited[(head + k) & mask]!;
    this.#appLimited = app;
    this.#head = 0;
  }
}
