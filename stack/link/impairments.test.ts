import { describe, expect, it } from "vitest";
import { createRng, createVirtualClock } from "../time.ts";
import { createPointToPointLink } from "./point-to-point.ts";
import { markCongestionExperienced, withImpairments } from "./impairments.ts";
import { emitIpv4, parseIpv4 } from "../wire/ipv4.ts";
import type { ImpairmentOptions } from "./impairments.ts";
import type { Frame, NetDevice } from "./types.ts";

const MAC_A = 0x020000000001;
const MAC_B = 0x020000000002;

/** A 14-byte Ethernet header (b -> a, type 0x88b5 local experimental) + seq + filler. */
function frame(seq: number, len = 100): Uint8Array {
  const f = new Uint8Array(len);
  f.set([0x02, 0, 0, 0, 0, 0x02, 0x02, 0, 0, 0, 0, 0x01, 0x88, 0xb5]);
  new DataView(f.buffer).setUint32(14, seq);
  for (let i = 18; i < len; i++) f[i] = i & 0xff;
  return f;
}

interface Arrival {
  seq: number;
  at: number;
  data: Uint8Array;
  offload: Frame["offload"];
}

function run(impairments: ImpairmentOptions, count: number, opts: { seed?: number; spacingMs?: number; len?: number } = {}) {
  const clock = createVirtualClock();
  const rng = createRng(opts.seed ?? 7);
  const link = createPointToPointLink({ clock, rng }, { a: { mac: MAC_A, impairments }, b: { mac: MAC_B } });
  const arrivals: Arrival[] = [];
  link.b.onReceive((f) =>
    arrivals.push({ seq: new DataView(f.data.buffer, f.data.byteOffset).getUint32(14), at: clock.now(), data: f.data, offload: f.offload }),
  );
  const spacing = opts.spacingMs ?? 1;
  for (let i = 0; i < count; i++) clock.setTimer(i * spacing, () => link.a.send({ data: frame(i, opts.len) }));
  clock.run();
  return { link, arrivals, stats: link.a.txStats, clock };
}

/** |observed - n p| within 4 standard deviations of a binomial(n, p). */
function expectBinomial(observed: number, n: number, p: number): void {
  const sd = Math.sqrt(n * p * (1 - p));
  expect(Math.abs(observed - n * p)).toBeLessThanOrEqual(4 * sd);
}

describe("impaired wire", () => {
  it("delivers every frame in order, unchanged, on a later clock tick when unimpaired", () => {
    const clock = createVirtualClock();
    const link = createPointToPointLink({ clock, rng: createRng(1) }, { a: { mac: MAC_A }, b: { mac: MAC_B } });
    const got: Uint8Array[] = [];
    link.b.onReceive((f) => got.push(f.data));
    link.a.send({ data: frame(1) });
    expect(got).toHaveLength(0);
    clock.run();
    expect(got).toHaveLength(1);
    expect(got[0]).toEqual(frame(1));
    expect(link.a.counters()).toEqual({ txFrames: 1, txBytes: 100, rxFrames: 0, rxBytes: 0, dropped: 0 });
    expect(link.b.counters()).toEqual({ txFrames: 0, txBytes: 0, rxFrames: 1, rxBytes: 100, dropped: 0 });
  });

  it("drops a fraction of frames close to the loss probability", () => {
    const n = 20_000;
    const { arrivals, stats } = run({ loss: 0.1 }, n);
    expectBinomial(stats.lost, n, 0.1);
    expect(arrivals.length).toBe(n - stats.lost);
    expect(arrivals.every((a, i) => i === 0 || a.seq > arrivals[i - 1]!.seq)).toBe(true);
  });

  it("duplicates a fraction of frames close to the duplication probability, as separate buffers", () => {
    const n = 20_000;
    const { arrivals, stats } = run({ duplicate: 0.05 }, n);
    expectBinomial(stats.duplicated, n, 0.05);
    expect(arrivals.length).toBe(n + stats.duplicated);
    const firstDup = arrivals.findIndex((a, i) => i > 0 && a.seq === arrivals[i - 1]!.seq);
    expect(firstDup).toBeGreaterThan(0);
    expect(arrivals[firstDup]!.data).toEqual(arrivals[firstDup - 1]!.data);
    expect(arrivals[firstDup]!.data).not.toBe(arrivals[firstDup - 1]!.data);
  });

  it("flips exactly one bit in a fraction of frames close to the corruption probability", () => {
    const n = 20_000;
    const { arrivals, stats } = run({ corrupt: 0.02 }, n);
    expectBinomial(stats.corrupted, n, 0.02);
    let flippedFrames = 0;
    for (const a of arrivals) {
      const original = frame(a.seq);
      let bits = 0;
      for (let i = 0; i < original.length; i++) {
        let x = original[i]! ^ a.data[i]!;
        for (; x !== 0; x &= x - 1) bits++;
      }
      if (bits > 0) {
        expect(bits).toBe(1);
        flippedFrames++;
      }
    }
    // A flip inside the seq field makes a frame look like another; those still differ by one bit.
    expect(flippedFrames).toBeGreaterThanOrEqual(stats.corrupted - 60);
    expect(flippedFrames).toBeLessThanOrEqual(stats.corrupted);
  });

  it("holds back a fraction of frames close to the reorder probability so later frames pass them", () => {
    const n = 10_000;
    const { arrivals, stats } = run({ reorder: 0.1, delayMs: 2, reorderDelayMs: 3.5 }, n, { spacingMs: 1 });
    expectBinomial(stats.reordered, n, 0.1);
    expect(arrivals).toHaveLength(n);
    let late = 0;
    let maxSeq = -1;
    for (const a of arrivals) {
      if (a.seq < maxSeq) late++;
      else maxSeq = a.seq;
    }
    // A held-back frame arrives after the next three frames (spacing 1 ms, hold-back 3.5 ms).
    expect(late).toBeGreaterThanOrEqual(stats.reordered * 0.95);
    expect(late).toBeLessThanOrEqual(stats.reordered);
  });

  it("loses frames in bursts with the Gilbert-Elliott long-run rate and mean burst length", () => {
    const n = 50_000;
    const { arrivals, stats } = run({ burstLoss: { enterBad: 0.01, leaveBad: 0.2 } }, n);
    // Stationary bad-state probability 0.01 / 0.21; mean burst 1 / 0.2 = 5 frames.
    expect(stats.burstLost).toBe(stats.lost);
    expect(stats.lost / n).toBeGreaterThan(0.8 * (0.01 / 0.21));
    expect(stats.lost / n).toBeLessThan(1.2 * (0.01 / 0.21));
    const got = new Uint8Array(n);
    for (const a of arrivals) got[a.seq] = 1;
    let bursts = 0;
    for (let i = 0; i < n; i++) if (got[i] === 0 && (i === 0 || got[i - 1] === 1)) bursts++;
    const meanBurst = stats.lost / bursts;
    expect(meanBurst).toBeGreaterThan(4);
    expect(meanBurst).toBeLessThan(6);
  });

  it("drops frames offered while the link is down, still delivers those already on the wire", () => {
    const clock = createVirtualClock();
    const link = createPointToPointLink({ clock, rng: createRng(1) }, { a: { mac: MAC_A, impairments: { delayMs: 5 } }, b: { mac: MAC_B } });
    const got: number[] = [];
    link.b.onReceive((f) => got.push(f.data[17]!));
    link.a.send({ data: frame(1) });
    link.setLinkUp(false);
    link.a.send({ data: frame(2) });
    link.b.send({ data: frame(3) });
    clock.run();
    link.setLinkUp(true);
    link.a.send({ data: frame(4) });
    clock.run();
    expect(got).toEqual([1, 4]);
    expect(link.a.txStats.linkDownDrops).toBe(1);
    expect(link.b.counters().dropped).toBe(2);
  });

  it("adds delay with bounded jitter and keeps FIFO order", () => {
    const n = 5_000;
    const { arrivals, stats } = run({ delayMs: 10, jitterMs: 2 }, n, { spacingMs: 5 });
    expect(arrivals).toHaveLength(n);
    expect(arrivals.every((a, i) => a.seq === i)).toBe(true);
    const lat = arrivals.map((a) => a.at - a.seq * 5);
    expect(Math.min(...lat)).toBeGreaterThanOrEqual(8);
    expect(Math.max(...lat)).toBeLessThanOrEqual(12);
    const mean = lat.reduce((s, x) => s + x, 0) / n;
    expect(Math.abs(mean - 10)).toBeLessThan(0.1);
    expect(stats.latencyMinMs).toBe(Math.min(...lat));
    expect(stats.latencyMaxMs).toBe(Math.max(...lat));
  });

  it("serializes frames at the line rate and tail-drops beyond the queue limit", () => {
    // 1000-byte frames at 1 Mbit/s take 8 ms each; 20 offered at once, queue of 5.
    const { arrivals, stats } = run({ rateBitsPerSecond: 1_000_000, queueLimitFrames: 5 }, 20, { spacingMs: 0, len: 1000 });
    expect(arrivals.map((a) => a.seq)).toEqual([0, 1, 2, 3, 4]);
    expect(arrivals.map((a) => a.at)).toEqual([8, 16, 24, 32, 40]);
    expect(stats.queueDrops).toBe(15);
    expect(stats.maxQueueFrames).toBe(5);
  });

  it("marks ECN-capable IPv4 packets CE once ecnMarkFrames are queued, with a valid header checksum; others pass unmarked (RFC 3168 §5)", () => {
    // IPv4 frames with ECN field ecn[i] (0 Not-ECT, 2 ECT(0), 1 ECT(1)), 1000 bytes at 1 Mbit/s, offered at once
    const ecn = [2, 2, 2, 0, 1, 2];
    const clock = createVirtualClock();
    const link = createPointToPointLink(
      { clock, rng: createRng(1) },
      { a: { mac: MAC_A, impairments: { rateBitsPerSecond: 1_000_000, ecnMarkFrames: 2 } }, b: { mac: MAC_B } },
    );
    const got: Uint8Array[] = [];
    link.b.onReceive((f) => got.push(f.data));
    const sent = ecn.map((e, i) => {
      const f = new Uint8Array(1000);
      f.set([0x02, 0, 0, 0, 0, 0x02, 0x02, 0, 0, 0, 0, 0x01, 0x08, 0x00]);
      emitIpv4(
        {
          src: 0xc0000201,
          dst: 0xc0000202,
          protocol: 253,
          ttl: 64,
          tos: 0xb8 | e,
          ident: i,
          dontFragment: true,
          moreFragments: false,
          fragmentOffset: 0,
          payloadLength: 1000 - 34,
          options: new Uint8Array(0),
        },
        f,
        14,
      );
      link.a.send({ data: f });
      return f;
    });
    clock.run();
    const tos = got.map((f) => {
      const r = parseIpv4(f.subarray(14));
      if (!r.ok) throw new Error(r.error);
      return r.value.tos;
    });
    // the first two found fewer than 2 queued; from the third on, ECT packets become CE (3), Not-ECT stays 0
    expect(tos).toEqual([0xba, 0xba, 0xbb, 0xb8, 0xbb, 0xbb]);
    expect(link.a.txStats.ceMarked).toBe(3);
    // the sender's buffers are not written to (a capture may hold them)
    expect(sent.map((f) => f[15]! & 3)).toEqual(ecn);
  });

  it("markCongestionExperienced() leaves what is not an ECN-capable IPv4 packet alone, VLAN tags included", () => {
    expect(markCongestionExperienced(frame(1))).toBeUndefined();
    expect(markCongestionExperienced(new Uint8Array(20))).toBeUndefined();
    const tagged = new Uint8Array(60);
    tagged.set([0x02, 0, 0, 0, 0, 0x02, 0x02, 0, 0, 0, 0, 0x01, 0x81, 0x00, 0, 5, 0x08, 0x00]);
    emitIpv4(
      {
        src: 1,
        dst: 2,
        protocol: 17,
        ttl: 1,
        tos: 1,
        ident: 0,
        dontFragment: false,
        moreFragments: false,
        fragmentOffset: 0,
        payloadLength: 60 - 38,
        options: new Uint8Array(0),
      },
      tagged,
      18,
    );
    const marked = markCongestionExperienced(tagged)!;
    expect(marked[19]).toBe(3);
    expect(parseIpv4(marked.subarray(18)).ok).toBe(true);
  });

  it("sustains the line rate when frames are offered faster than it for a long time", () => {
    const { arrivals, clock } = run({ rateBitsPerSecond: 10_000_000, queueLimitFrames: 100 }, 2_000, { spacingMs: 0.05, len: 1250 });
    const last = arrivals[arrivals.length - 1]!;
    // 1250 bytes = 10000 bits = 1 ms per frame at 10 Mbit/s.
    expect(arrivals[0]!.at).toBeCloseTo(1, 9);
    expect(last.at).toBeCloseTo(arrivals.length, 6);
    expect(clock.now()).toBeCloseTo(arrivals.length, 6);
  });

  it("drops frames longer than MTU + 14 bytes (+ 4 with an 802.1Q tag) and counts them", () => {
    const clock = createVirtualClock();
    const link = createPointToPointLink({ clock, rng: createRng(1) }, { a: { mac: MAC_A, mtu: 1500 }, b: { mac: MAC_B } });
    const sizes: number[] = [];
    link.b.onReceive((f) => sizes.push(f.data.length));
    link.a.send({ data: frame(0, 1514) });
    link.a.send({ data: frame(1, 1515) });
    const tagged = frame(2, 1518);
    tagged.set([0x81, 0x00, 0x00, 0x05, 0x08, 0x00], 12);
    link.a.send({ data: tagged });
    link.a.send({ data: frame(3, 1519) });
    clock.run();
    expect(sizes).toEqual([1514, 1518]);
    expect(link.a.txStats.mtuDrops).toBe(2);
    expect(link.a.counters().dropped).toBe(2);
  });

  it("drops frames asking for checksum or segmentation offload, which a wire does not offer", () => {
    const clock = createVirtualClock();
    const link = createPointToPointLink({ clock, rng: createRng(1) }, { a: { mac: MAC_A }, b: { mac: MAC_B } });
    const got: Frame[] = [];
    link.b.onReceive((f) => got.push(f));
    expect(link.a.offloads).toEqual({ txChecksum: false, tso: false, maxGsoFrame: 0 });
    link.a.send({ data: frame(0), offload: { csumBlank: true } });
    link.a.send({ data: frame(1, 3000), offload: { gsoSize: 1448 } });
    link.a.send({ data: frame(2), offload: { dataValidated: true } });
    clock.run();
    expect(link.a.txStats.offloadDrops).toBe(2);
    expect(got).toHaveLength(1);
    expect(got[0]!.offload).toBeUndefined();
  });

  it("reproduces the same arrivals from the same seed and different ones from another seed", () => {
    const imp: ImpairmentOptions = { loss: 0.05, duplicate: 0.02, reorder: 0.05, corrupt: 0.01, delayMs: 3, jitterMs: 1 };
    const sig = (seed: number) =>
      run(imp, 2_000, { seed })
        .arrivals.map((a) => `${a.seq}@${a.at}`)
        .join(",");
    expect(sig(11)).toBe(sig(11));
    expect(sig(11)).not.toBe(sig(12));
  });

  it("rejects impossible options with ERR_NETLAB_LINK_OPTIONS", () => {
    const deps = { clock: createVirtualClock(), rng: createRng(1) };
    expect(() => createPointToPointLink(deps, { a: { mac: MAC_A, impairments: { loss: 1.5 } }, b: { mac: MAC_B } })).toThrow(
      expect.objectContaining({ code: "ERR_NETLAB_LINK_OPTIONS" }),
    );
    expect(() => createPointToPointLink(deps, { a: { mac: MAC_A, impairments: { queueLimitFrames: 0 } }, b: { mac: MAC_B } })).toThrow(/queueLimitFrames/);
    expect(() => createPointToPointLink(deps, { a: { mac: MAC_A, mtu: 20 }, b: { mac: MAC_B } })).toThrow(/MTU/);
    expect(() => createPointToPointLink(deps, { a: { mac: MAC_A, impairments: { burstLoss: { enterBad: 0.1, leaveBad: 2 } } }, b: { mac: MAC_B } })).toThrow(
      /burstLoss.leaveBad/,
    );
  });
});

describe("withImpairments()", () => {
  function fakeDevice(): NetDevice & { sent: Frame[]; deliver(f: Frame): void } {
    let handler: (f: Frame) => void = () => {};
    const sent: Frame[] = [];
    return {
      mac: MAC_A,
      mtu: 1500,
      offloads: { txChecksum: true, tso: true, maxGsoFrame: 65536 },
      send: (f) => sent.push(f),
      onReceive: (h) => {
        handler = h;
      },
      sent,
      deliver: (f) => handler(f),
    };
  }

  it("impairs each direction separately and passes offload metadata through", () => {
    const clock = createVirtualClock();
    const inner = fakeDevice();
    const dev = withImpairments(inner, { clock, rng: createRng(3) }, { tx: { delayMs: 4 }, rx: { loss: 1 } });
    expect(dev.offloads.tso).toBe(true);
    const received: Frame[] = [];
    dev.onReceive((f) => received.push(f));
    dev.send({ data: frame(0, 3000), offload: { csumBlank: true, gsoSize: 1448 } });
    inner.deliver({ data: frame(1) });
    clock.run(3);
    expect(inner.sent).toHaveLength(0);
    clock.run();
    expect(clock.now()).toBe(4);
    expect(inner.sent).toHaveLength(1);
    expect(inner.sent[0]!.offload).toEqual({ csumBlank: true, gsoSize: 1448 });
    expect(received).toHaveLength(0);
    expect(dev.rxStats.lost).toBe(1);
    expect(dev.txStats.delivered).toBe(1);
  });

  it("clears dataValidated on a frame it corrupts so the receiver verifies it", () => {
    const clock = createVirtualClock();
    const inner = fakeDevice();
    const dev = withImpairments(inner, { clock, rng: createRng(3) }, { rx: { corrupt: 1 } });
    const received: Frame[] = [];
    dev.onReceive((f) => received.push(f));
    inner.deliver({ data: frame(0), offload: { dataValidated: true } });
    clock.run();
    expect(received[0]!.offload).toEqual({ dataValidated: false });
    expect(received[0]!.data).not.toEqual(frame(0));
  });
});
