import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { createVirtualClock } from "../time.ts";
import { type ReassemblyOptions, createReassembler } from "./reassembly.ts";

const SRC = 0xc0000201;
const DST = 0xc000020b;
const HEADER = new Uint8Array(20).fill(0x45);

function setup(options: ReassemblyOptions = {}) {
  const clock = createVirtualClock();
  const timeouts: { header: Uint8Array; first: Uint8Array }[] = [];
  const r = createReassembler({ clock, onTimeout: (header, first) => timeouts.push({ header, first }) }, options);
  const add = (off: number, more: boolean, data: Uint8Array, ident = 1, src = SRC) => r.add(HEADER, src, DST, 17, ident, off, more, data);
  return { clock, r, add, timeouts };
}

const bytes = (n: number, seed = 0): Uint8Array => Uint8Array.from({ length: n }, (_, i) => (i * 31 + seed) & 0xff);

describe("reassembly", () => {
  it("reassembles fragments that arrive out of order into the exact payload", () => {
    const t = setup();
    const p = bytes(3000);
    expect(t.add(2960, false, p.subarray(2960))).toBeUndefined();
    expect(t.add(0, true, p.subarray(0, 1480))).toBeUndefined();
    const done = t.add(1480, true, p.subarray(1480, 2960));
    expect(done?.payload).toEqual(p);
    expect(done?.header).toEqual(HEADER);
    expect(t.r.size()).toBe(0);
    expect(t.r.bytes()).toBe(0);
  });

  it("tolerates exact duplicate fragments", () => {
    const t = setup();
    const p = bytes(24);
    t.add(0, true, p.subarray(0, 16));
    t.add(0, true, p.subarray(0, 16));
    expect(t.add(16, false, p.subarray(16))?.payload).toEqual(p);
    expect(t.r.counters()).toMatchObject({ duplicates: 1, reassembled: 1 });
  });

  it("drops the whole datagram on an overlap, and every later fragment of it until the timeout (RFC 5722)", () => {
    const t = setup({ timeoutMs: 1000 });
    const p = bytes(32);
    t.add(0, true, p.subarray(0, 16));
    t.add(8, true, p.subarray(8, 24));
    expect(t.add(16, false, p.subarray(16))).toBeUndefined();
    expect(t.add(24, false, p.subarray(24))).toBeUndefined();
    expect(t.r.bytes()).toBe(0);
    expect(t.r.counters()).toMatchObject({ discarded: 1, drops: { overlap: 1, "discarded-datagram": 2 } });
    t.clock.advance(1000);
    expect(t.r.size()).toBe(0);
    expect(t.timeouts).toEqual([]);
    t.add(0, true, p.subarray(0, 16));
    expect(t.add(16, false, p.subarray(16))?.payload).toEqual(p);
  });

  it("drops late duplicates of a completed datagram for the timeout, then accepts the identifier again", () => {
    const t = setup({ timeoutMs: 1000 });
    const p = bytes(24);
    t.add(0, true, p.subarray(0, 16));
    expect(t.add(16, false, p.subarray(16))?.payload).toEqual(p);
    expect(t.add(0, true, p.subarray(0, 16))).toBeUndefined();
    expect(t.add(16, false, bytes(8, 5))).toBeUndefined();
    expect(t.r.counters().drops).toEqual({ "late-fragment": 2 });
    expect(t.r.size()).toBe(0);
    t.clock.advance(1000);
    t.add(0, true, p.subarray(0, 16));
    expect(t.add(16, false, p.subarray(16))?.payload).toEqual(p);
  });

  it("drops a copy of the last fragment with M set as an overlap: same range and bytes, another M flag, not an exact duplicate", () => {
    const t = setup();
    const p = bytes(24);
    t.add(16, false, p.subarray(16));
    t.add(16, true, p.subarray(16));
    expect(t.add(0, true, p.subarray(0, 16))).toBeUndefined();
    expect(t.r.counters()).toMatchObject({ duplicates: 0, discarded: 1, reassembled: 0, drops: { overlap: 1 } });
  });

  it("takes datagrams up to maxDatagramLength (header and payload) and discards longer ones", () => {
    const t = setup({ maxDatagramLength: 65535 + 20 });
    expect(t.add(65512, false, new Uint8Array(8))).toBeUndefined();
    expect(t.r.counters()["discarded"]).toBe(0);
    const d = setup();
    d.add(65512, false, new Uint8Array(8));
    expect(d.r.counters()).toMatchObject({ discarded: 1, drops: { "too-long": 1 } });
  });

  it("drops a duplicate with different bytes as an overlap", () => {
    const t = setup();
    t.add(0, true, bytes(16));
    t.add(0, true, bytes(16, 1));
    expect(t.add(16, false, bytes(8))).toBeUndefined();
    expect(t.r.counters().drops).toMatchObject({ overlap: 1 });
  });

  it("rejects non-final fragments whose length is not a multiple of 8, and inconsistent ends", () => {
    const t = setup();
    t.add(0, true, bytes(12));
    expect(t.r.counters().drops).toMatchObject({ "bad-fragment-length": 1 });
    const u = setup();
    u.add(16, false, bytes(8));
    u.add(8, false, bytes(8));
    expect(u.r.counters().drops).toMatchObject({ "inconsistent-length": 1 });
    const v = setup();
    v.add(16, false, bytes(8));
    v.add(24, true, bytes(8));
    expect(v.r.counters().drops).toMatchObject({ "beyond-end": 1 });
    const w = setup();
    w.add(65528, false, bytes(8));
    expect(w.r.counters().drops).toMatchObject({ "too-long": 1 });
  });

  it("times out after timeoutMs, frees memory and reports the first fragment for ICMP time exceeded", () => {
    const t = setup({ timeoutMs: 30_000 });
    const p = bytes(16);
    t.add(0, true, p);
    expect(t.r.bytes()).toBe(16);
    t.clock.advance(29_999);
    expect(t.timeouts).toEqual([]);
    t.clock.advance(1);
    expect(t.timeouts).toEqual([{ header: HEADER, first: p }]);
    expect(t.r.bytes()).toBe(0);
    expect(t.r.counters()).toMatchObject({ timeouts: 1 });
  });

  it("does not report a timeout when fragment zero never arrived (RFC 1122 §3.3.2)", () => {
    const t = setup({ timeoutMs: 100 });
    t.add(8, true, bytes(8));
    t.clock.advance(100);
    expect(t.timeouts).toEqual([]);
    expect(t.r.counters()).toMatchObject({ timeouts: 1 });
  });

  it("bounds bytes per source: a datagram that would exceed it is discarded", () => {
    const t = setup({ maxBytesPerSource: 64 });
    t.add(0, true, bytes(48), 1);
    t.add(0, true, bytes(24), 2);
    expect(t.r.counters().drops).toMatchObject({ "source-limit": 1 });
    expect(t.r.bytes()).toBe(48);
    t.add(0, true, bytes(24), 3, SRC + 1);
    expect(t.r.bytes()).toBe(72);
  });

  it("bounds total bytes by evicting the oldest datagrams", () => {
    const t = setup({ maxBytes: 64 });
    t.add(0, true, bytes(32), 1, SRC);
    t.add(0, true, bytes(32), 2, SRC + 1);
    t.add(0, true, bytes(32), 3, SRC + 2);
    expect(t.r.bytes()).toBe(64);
    expect(t.r.counters()).toMatchObject({ evicted: 1 });
    expect(t.add(32, false, bytes(8), 1, SRC)).toBeUndefined();
  });

  it("bounds datagrams in progress and fragments per datagram", () => {
    const t = setup({ maxDatagrams: 2 });
    for (let id = 1; id <= 5; id++) t.add(0, true, bytes(8), id);
    expect(t.r.size()).toBe(2);
    expect(t.r.counters()).toMatchObject({ evicted: 3 });
    const u = setup({ maxFragmentsPerDatagram: 3 });
    for (let i = 0; i < 4; i++) u.add(i * 16, true, bytes(8));
    expect(u.r.counters().drops).toMatchObject({ "too-many-fragments": 1 });
    expect(u.r.bytes()).toBe(0);
  });

  // Extras carry the datagram's true bytes cut at other boundaries (a re-fragmenting path, a
  // retransmission). A fragment with forged bytes at a real fragment's exact range is
  // indistinguishable from the real one; catching that is the transport checksum's job.
  it("property: any order, duplication or overlap of fragments gives the exact datagram or a clean drop", () => {
    const scenario = fc.record({
      len: fc.integer({ min: 9, max: 600 }),
      cuts: fc.uniqueArray(fc.integer({ min: 1, max: 74 }), { maxLength: 8 }),
      dupes: fc.array(fc.nat(), { maxLength: 4 }),
      extras: fc.array(fc.record({ start: fc.nat(74), units: fc.integer({ min: 1, max: 10 }), last: fc.boolean() }), { maxLength: 3 }),
      order: fc.array(fc.nat(), { minLength: 30, maxLength: 30 }),
    });
    fc.assert(
      fc.property(scenario, ({ len, cuts, dupes, extras, order }) => {
        const t = setup();
        const p = bytes(len, len);
        const bounds = [
          0,
          ...cuts
            .map((c) => c * 8)
            .filter((c) => c < len)
            .sort((a, b) => a - b),
          len,
        ];
        const frags = [];
        for (let i = 0; i + 1 < bounds.length; i++)
          if (bounds[i]! < bounds[i + 1]!) frags.push({ off: bounds[i]!, more: i + 2 < bounds.length, data: p.slice(bounds[i], bounds[i + 1]) });
        const all = [...frags];
        for (const d of dupes) all.push(frags[d % frags.length]!);
        for (const e of extras) {
          const off = Math.min(e.start * 8, Math.max(0, len - 8) & ~7);
          const end = e.last ? len : Math.min(len, off + e.units * 8);
          const data = p.slice(off, end);
          all.push({ off, more: !e.last && end < len, data });
        }
        for (let i = all.length - 1; i > 0; i--) {
          const j = order[i % order.length]! % (i + 1);
          [all[i], all[j]] = [all[j]!, all[i]!];
        }
        const results = [];
        for (const f of all) {
          if (f.off === 0 && !f.more) continue; // not a fragment
          const r = t.add(f.off, f.more, f.data);
          if (r !== undefined) results.push(r.payload);
        }
        for (const r of results) expect(r).toEqual(p);
        if (extras.length === 0 && frags.length > 1) expect(results.length).toBeGreaterThanOrEqual(1);
      }),
      { numRuns: Math.max(300, fc.readConfigureGlobal().numRuns ?? 0) },
    );
  });
});
