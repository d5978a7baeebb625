import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { createPcapWriter, parsePcap } from "./pcap.ts";
import { createByteCollector } from "./types.ts";
import { parseCapture } from "./index.ts";
import type { PcapWriterOptions } from "./pcap.ts";

const hex = (s: string): Uint8Array => Uint8Array.from(s.replace(/\s+/g, "").match(/../g)!, (b) => parseInt(b, 16));
const toHex = (b: Uint8Array): string => Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
const DEADBEEF = Uint8Array.of(0xde, 0xad, 0xbe, 0xef);

function write(options: PcapWriterOptions, packets: { ms: number; data: Uint8Array; orig?: number }[]): Uint8Array {
  const out = createByteCollector();
  const w = createPcapWriter(out.write, options);
  const id = w.addInterface({});
  for (const p of packets)
    w.record(
      p.orig === undefined
        ? { interfaceId: id, timestampMs: p.ms, data: p.data }
        : { interfaceId: id, timestampMs: p.ms, data: p.data, originalLength: p.orig },
    );
  return out.bytes();
}

describe("classic pcap writer", () => {
  it("writes a little-endian microsecond file byte for byte", () => {
    const bytes = write({}, [{ ms: 1500.25, data: DEADBEEF }]);
    expect(toHex(bytes)).toBe(
      toHex(
        hex(`
      d4c3b2a1 0200 0400 00000000 00000000 00000400 01000000
      01000000 1aa20700 04000000 04000000 deadbeef`),
      ),
    );
  });

  it("writes a big-endian nanosecond file with an offset and snaplen byte for byte", () => {
    const bytes = write({ byteOrder: "big", precision: "nano", snaplen: 2, timeOffsetMs: 1_700_000_000_000 }, [{ ms: 0.000001, data: DEADBEEF }]);
    expect(toHex(bytes)).toBe(
      toHex(
        hex(`
      a1b23c4d 0002 0004 00000000 00000000 00000002 00000001
      6553f100 00000001 00000002 00000004 dead`),
      ),
    );
  });

  it("carries a microsecond rounding into the seconds field", () => {
    const bytes = write({}, [{ ms: 1999.9996, data: DEADBEEF }]);
    const p = parsePcap(bytes);
    expect(p.ok && p.value.packets[0]!.timestampNs).toBe(2_000_000_000n);
  });
});

describe("parsePcap()", () => {
  it("round-trips packets in all four magic and byte-order combinations", () => {
    for (const byteOrder of ["little", "big"] as const) {
      for (const precision of ["micro", "nano"] as const) {
        const bytes = write({ byteOrder, precision }, [
          { ms: 12.345678, data: DEADBEEF },
          { ms: 3000, data: new Uint8Array(70).fill(7), orig: 1514 },
        ]);
        const r = parseCapture(bytes);
        expect(r.ok).toBe(true);
        if (!r.ok) return;
        expect(r.value.format).toBe("pcap");
        expect(r.value.byteOrder).toBe(byteOrder);
        expect(r.value.interfaces).toEqual([{ linkType: 1, snaplen: 262144, unitsPerSecond: precision === "nano" ? 1_000_000_000n : 1_000_000n }]);
        expect(r.value.packets.map((p) => p.timestampNs)).toEqual([precision === "nano" ? 12_345_678n : 12_346_000n, 3_000_000_000n]);
        expect(r.value.packets[0]!.data).toEqual(DEADBEEF);
        expect(r.value.packets[1]).toMatchObject({ originalLength: 1514, offset: 24 + 16 + 4 });
        expect(r.value.packets[1]!.data).toEqual(new Uint8Array(70).fill(7));
      }
    }
  });

  it("masks the FCS bits out of the link type", () => {
    const bytes = write({}, []);
    bytes[23] = 0x14;
    const r = parsePcap(bytes);
    expect(r.ok && r.value.interfaces[0]!.linkType).toBe(1);
  });

  it("reports malformed files with an error code and the byte offset", () => {
    const good = write({}, [
      { ms: 1, data: DEADBEEF },
      { ms: 2, data: DEADBEEF },
    ]);
    expect(parsePcap(good.subarray(0, 10))).toMatchObject({ ok: false, error: "truncated-file-header", offset: 0 });
    expect(parsePcap(hex("00112233".repeat(6)))).toMatchObject({ ok: false, error: "unknown-format", offset: 0 });
    const v1 = good.slice();
    v1[4] = 1;
    expect(parsePcap(v1)).toMatchObject({ ok: false, error: "unsupported-version", offset: 4 });
    expect(parsePcap(good.subarray(0, 24 + 20 + 10))).toMatchObject({ ok: false, error: "truncated-record-header", offset: 44 });
    expect(parsePcap(good.subarray(0, good.length - 1))).toMatchObject({ ok: false, error: "truncated-packet", offset: 44 });
    const huge = good.slice();
    huge.set([0, 0, 0, 0x10], 24 + 8);
    const r = parsePcap(huge);
    expect(r).toMatchObject({ ok: false, error: "record-too-large", offset: 24 });
    expect(!r.ok && r.detail).toMatch(/^record-too-large at byte offset 24: /);
  });

  it("never throws on arbitrary bytes, with or without a valid header", () => {
    const header = write({}, []);
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.boolean(), (tail, withHeader) => {
        const bytes = withHeader ? Uint8Array.from([...header, ...tail]) : tail;
        const r = parsePcap(bytes);
        if (!r.ok) {
          expect(r.offset).toBeGreaterThanOrEqual(0);
          expect(r.offset).toBeLessThanOrEqual(bytes.length);
        }
      }),
      { numRuns: 2000 },
    );
  });
});
