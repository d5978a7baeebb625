import { describe, expect, it } from "vitest";
import { createCodel, controlLaw } from "./codel.ts";
import { seqOf, udpFrame } from "./test-frames.ts";
import type { QueuedItem } from "./types.ts";

// RFC 8289 §5, transcribed as literally as TypeScript allows: the reference the module is checked against.
class RfcCodel {
  readonly TARGET = 5;
  readonly INTERVAL = 100;
  readonly MAXPACKET = 1514;
  first_above_time_ = 0;
  drop_next_ = 0;
  count_ = 0;
  lastcount_ = 0;
  dropping_ = false;
  queue: { t: number; size: number; id: number }[] = [];
  bytes_ = 0;
  dropped: number[] = [];
  enqueue(p: { t: number; size: number; id: number }): void {
    this.queue.push(p);
    this.bytes_ += p.size;
  }
  dodequeue(now: number): { p: { t: number; size: number; id: number } | null; ok_to_drop: boolean } {
    const r = { p: this.queue.shift() ?? null, ok_to_drop: false };
    if (r.p === null) {
      this.first_above_time_ = 0;
      return r;
    }
    this.bytes_ -= r.p.size;
    const sojourn_time = now - r.p.t;
    if (sojourn_time < this.TARGET || this.bytes_ <= this.MAXPACKET) {
      this.first_above_time_ = 0;
    } else {
      if (this.first_above_time_ === 0) this.first_above_time_ = now + this.INTERVAL;
      else if (now >= this.first_above_time_) r.ok_to_drop = true;
    }
    return r;
  }
  control_law(t: number): number {
    return t + this.INTERVAL / Math.sqrt(this.count_);
  }
  dequeue(now: number): number | null {
    let r = this.dodequeue(now);
    if (r.p === null) {
      this.dropping_ = false;
      return null;
    }
    if (this.dropping_) {
      if (!r.ok_to_drop) this.dropping_ = false;
      while (now >= this.drop_next_ && this.dropping_) {
        this.dropped.push(r.p!.id);
        ++this.count_;
        r = this.dodequeue(now);
        if (!r.ok_to_drop) this.dropping_ = false;
        else this.drop_next_ = this.control_law(this.drop_next_);
      }
    } else if (r.ok_to_drop) {
      this.dropped.push(r.p.id);
      r = this.dodequeue(now);
      this.dropping_ = true;
      const delta = this.count_ - this.lastcount_;
      this.count_ = 1;
      if (delta > 1 && now - this.drop_next_ < 16 * this.INTERVAL) this.count_ = delta;
      this.drop_next_ = this.control_law(now);
      this.lastcount_ = this.count_;
    }
    return r.p === null ? null : r.p.id;
  }
}

interface Item extends QueuedItem {
  readonly id: number;
}

/**
 * A scripted pattern: 1000-byte packets arrive every `gap(t)` ms and the line takes one every
 * 1 ms (8 Mb/s). Overload phases (arrivals faster than service) build a standing queue; idle
 * phases let it drain, so CoDel enters, leaves and re-enters its drop state.
 */
function script(until: number, gap: (t: number) => number) {
  const events: { at: number; kind: "arrive" | "serve" }[] = [];
  for (let t = 0; t < until; t += gap(t)) events.push({ at: t, kind: "arrive" });
  for (let t = 0.5; t < until; t += 1) events.push({ at: t, kind: "serve" });
  return events.sort((a, b) => a.at - b.at || (a.kind === "arrive" ? -1 : 1));
}

function runBoth(until: number, gap: (t: number) => number) {
  const rfc = new RfcCodel();
  const dropped: number[] = [];
  const codel = createCodel<Item>({ limitPackets: 100000 });
  const sentRfc: (number | null)[] = [];
  const sent: (number | null)[] = [];
  let id = 0;
  for (const e of script(until, gap)) {
    if (e.kind === "arrive") {
      rfc.enqueue({ t: e.at, size: 1000, id });
      codel.enqueue({ data: new Uint8Array(1000), enqueuedAt: e.at, id }, e.at);
      id++;
    } else {
      sentRfc.push(rfc.dequeue(e.at));
      const before = codel.counters.dropped;
      const item = codel.dequeue(e.at);
      sent.push(item?.id ?? null);
      for (let k = before; k < codel.counters.dropped; k++) dropped.push(-1);
    }
  }
  return { rfc, codel, sent, sentRfc, dropped };
}

describe("codel (RFC 8289)", () => {
  it("sends and drops exactly the packets the RFC's pseudocode does, over overload, drain and overload again", () => {
    // 0-3 s: 1.25x overload; 3-4 s: arrivals every 4 ms (drains); 4-6 s: 2x overload.
    const gap = (t: number): number => (t < 3000 ? 0.8 : t < 4000 ? 4 : 0.5);
    const r = runBoth(6000, gap);
    expect(r.sent).toEqual(r.sentRfc);
    expect(r.codel.counters.dropped).toBe(r.rfc.dropped.length);
    expect(r.rfc.dropped.length).toBeGreaterThan(50);
    const s = r.codel.stats();
    expect(s.dropsByReason).toEqual({ codel: r.rfc.dropped.length });
  });

  it("drops first one interval after the delay stays above target, then at interval/sqrt(count)", () => {
    // 2x overload from t=0: sojourn passes 5 ms early; drops follow the control law.
    const codel = createCodel<Item>({ limitPackets: 100000 });
    const dropTimes: number[] = [];
    let id = 0;
    for (const e of script(700, () => 0.5)) {
      if (e.kind === "arrive") codel.enqueue({ data: new Uint8Array(1000), enqueuedAt: e.at, id: id++ }, e.at);
      else {
        const before = codel.counters.dropped;
        codel.dequeue(e.at);
        if (codel.counters.dropped > before) dropTimes.push(e.at);
      }
    }
    // Packet n arrives at n/2 ms and is served at n + 0.5 ms: its sojourn n/2 + 0.5 reaches the
    // 5 ms target at n = 9 (t = 9.5), so first_above_time = 109.5 and the first drop is then.
    expect(dropTimes[0]).toBe(109.5);
    const gaps = dropTimes.slice(1, 6).map((t, i) => t - dropTimes[i]!);
    const law = [1, 2, 3, 4, 5].map((n) => controlLaw(0, n, 100));
    // Drops happen at the first service slot (1 ms apart) at or after drop_next.
    for (let i = 0; i < gaps.length; i++) expect(Math.abs(gaps[i]! - law[i]!)).toBeLessThanOrEqual(1);
  });

  it("with ECN marks ECT packets CE instead of dropping them and still sends them", () => {
    const codel = createCodel<QueuedItem>({ ecn: true, limitPackets: 100000 });
    let marked = 0;
    for (const e of script(1000, () => 0.5)) {
      if (e.kind === "arrive") codel.enqueue({ data: udpFrame(1000, 1, 0x02), enqueuedAt: e.at }, e.at);
      else {
        const item = codel.dequeue(e.at);
        if (item !== undefined && (item.data[15]! & 3) === 3) marked++;
      }
    }
    expect(codel.counters.dropped).toBe(0);
    expect(codel.counters.marked).toBe(marked);
    expect(marked).toBeGreaterThan(5);
    expect(seqOf(udpFrame(100, 1, 0, 77))).toBe(77);
  });
});
