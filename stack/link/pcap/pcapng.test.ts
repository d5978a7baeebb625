import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { createPcapngWriter, parsePcapng } from "./pcapng.ts";
import type { PcapngWriterOptions } from "./pcapng.ts";
import { createByteCollector } from "./types.ts";
import { parseCapture } from "./index.ts";
import type { CapturedPacket } from "../capture.ts";

const hex = (s: string): Uint8Array => Uint8Array.from(s.replace(/\s+/g, "").match(/../g)!, (b) => parseInt(b, 16));
const toHex = (b: Uint8Array): string => Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
const DEADBEEF = Uint8Array.of(0xde, 0xad, 0xbe, 0xef);

const SHB_LE = `0a0d0d0a 2c000000 4d3c2b1a 0100 0000 ffffffffffffffff
  0400 0600 6e65746c 61620000 0000 0000 2c000000`;
const IDB_LE = `01000000 28000000 0100 0000 00000400
  0200 0400 65746830 0900 0100 09000000 0000 0000 28000000`;

function write(options: PcapngWriterOptions, interfaces: string[], packets: Omit<CapturedPacket, "data">[] & { data?: Uint8Array }[]): Uint8Array {
  const out = createByteCollector();
  const w = createPcapngWriter(out.write, options);
  for (const name of interfaces) w.addInterface({ name });
  for (const p of packets as CapturedPacket[]) w.record({ ...p, data: p.data ?? DEADBEEF });
  return out.bytes();
}

/** One generic block in little-endian: type, length, body, length. */
function block(type: number, body: Uint8Array): Uint8Array {
  const len = 12 + body.length;
  const b = new Uint8Array(len);
  const v = new DataView(b.buffer);
  v.setUint32(0, type, true);
  v.setUint32(4, len, true);
  b.set(body, 8);
  v.setUint32(len - 4, len, true);
  return b;
}

const concat = (...parts: Uint8Array[]): Uint8Array => Uint8Array.from(parts.flatMap((p) => [...p]));

describe("pcapng writer", () => {
  it("writes SHB, IDB with if_name and if_tsresol, and an EPB with epb_flags and opt_comment byte for byte", () => {
    const bytes = write({}, ["eth0"], [{ interfaceId: 0, timestampMs: 1500.25, direction: "out", comment: "hi" }]);
    expect(toHex(bytes)).toBe(
      toHex(
        hex(`${SHB_LE} ${IDB_LE}
      06000000 38000000 00000000 00000000 90ff6b59 04000000 04000000 deadbeef
      0200 0400 02000000 0100 0200 68690000 0000 0000 38000000`),
      ),
    );
  });

  it("writes an EPB without options when a packet has neither direction nor comment", () => {
    const bytes = write({ precision: "micro" }, ["eth0"], [{ interfaceId: 0, timestampMs: 1500.25, data: Uint8Array.of(1, 2, 3, 4, 5) }]);
    const epb = bytes.subarray(44 + 40);
    expect(toHex(epb)).toBe(toHex(hex(`06000000 28000000 00000000 00000000 5ae41600 05000000 05000000 0102030405000000 28000000`)));
    expect(bytes[44 + 28]).toBe(6);
  });

  it("writes a big-endian section that reads back identically", () => {
    const packets: CapturedPacket[] = [
      { interfaceId: 1, timestampMs: 1.5, data: DEADBEEF, direction: "in" },
      { interfaceId: 0, timestampMs: 2.000001, data: new Uint8Array(61).fill(9), originalLength: 1514, comment: "ünïcode" },
    ];
    const bytes = write({ byteOrder: "big", timeOffsetMs: 1_763_856_000_000 }, ["a", "b"], packets);
    expect(toHex(bytes.subarray(8, 12))).toBe("1a2b3c4d");
    const r = parsePcapng(bytes);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.value.byteOrder).toBe("big");
    expect(r.value.interfaces.map((i) => i.name)).toEqual(["a", "b"]);
    expect(r.value.packets[0]).toMatchObject({ interfaceId: 1, direction: "in", timestampNs: 1_763_856_000_001_500_000n, originalLength: 4 });
    expect(r.value.packets[1]).toMatchObject({ interfaceId: 0, comments: ["ünïcode"], timestampNs: 1_763_856_000_002_000_001n, originalLength: 1514 });
    expect(r.value.packets[1]!.data).toEqual(new Uint8Array(61).fill(9));
  });

  it("truncates packets to the interface snaplen and keeps the original length", () => {
    const out = createByteCollector();
    const w = createPcapngWriter(out.write);
    const id = w.addInterface({ snaplen: 3 });
    w.record({ interfaceId: id, timestampMs: 0, data: DEADBEEF });
    const r = parsePcapng(out.bytes());
    expect(r.ok && r.value.packets[0]).toMatchObject({ originalLength: 4, data: DEADBEEF.subarray(0, 3) });
  });

  it("refuses to record on an interface it never described", () => {
    const w = createPcapngWriter(() => {});
    expect(() => w.record({ interfaceId: 0, timestampMs: 0, data: DEADBEEF })).toThrow(expect.objectContaining({ code: "ERR_NETLAB_PCAP_INTERFACE" }));
  });
});

describe("parsePcapng()", () => {
  it("reads Simple Packet Blocks, skips unknown blocks and honours binary if_tsresol", () => {
    const idb = hex(`0100 0000 00000400 0900 0100 8a000000 0000 0000`);
    const epb = hex(`00000000 00000000 00080000 04000000 04000000 deadbeef`);
    const spb = hex(`05000000 0102030405000000`);
    const bytes = concat(hex(SHB_LE), block(1, idb), block(0x0bad, hex("00000000")), block(6, epb), block(3, spb));
    const r = parseCapture(bytes);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.value.skippedBlocks).toBe(1);
    expect(r.value.interfaces[0]!.unitsPerSecond).toBe(1024n);
    // 2048 units of 1/1024 s = 2 s.
    expect(r.value.packets[0]!.timestampNs).toBe(2_000_000_000n);
    expect(r.value.packets[1]).toMatchObject({ interfaceId: 0, originalLength: 5 });
    expect(r.value.packets[1]!.data).toEqual(Uint8Array.of(1, 2, 3, 4, 5));
  });

  it("numbers interfaces across sections so a second section's interface 0 is a new interface", () => {
    const one = write({}, ["x"], [{ interfaceId: 0, timestampMs: 1 }]);
    const two = write({ byteOrder: "big" }, ["y"], [{ interfaceId: 0, timestampMs: 2 }]);
    const r = parsePcapng(concat(one, two));
    expect(r.ok && r.value.packets.map((p) => [p.interfaceId, r.value.interfaces[p.interfaceId]!.name])).toEqual([
      [0, "x"],
      [1, "y"],
    ]);
  });

  it("reads a file cut short inside a block up to the cut and says where it was (as tshark)", () => {
    const good = write(
      {},
      ["eth0"],
      [
        { interfaceId: 0, timestampMs: 1 },
        { interfaceId: 0, timestampMs: 2 },
      ],
    );
    const whole = parsePcapng(good);
    if (!whole.ok) throw new Error(whole.detail);
    const secondAt = whole.value.packets[1]!.offset;
    for (const cut of [good.length - 4, secondAt + 20, secondAt + 3]) {
      const r = parsePcapng(good.subarray(0, cut));
      if (!r.ok) throw new Error(r.detail);
      expect(r.value.packets).toHaveLength(1);
      expect(r.value.packets[0]!.data).toEqual(whole.value.packets[0]!.data);
      expect(r.value.truncated?.offset).toBe(secondAt);
      expect(r.value.truncated?.detail).toMatch(/^truncated-block at byte offset \d+: /);
    }
    expect(whole.value.truncated).toBeUndefined();
    // a cut inside the first Section Header Block leaves nothing to read: still an error
    expect(parsePcapng(good.subarray(0, 20))).toMatchObject({ ok: false, error: "truncated-block", offset: 0 });
  });

  it("reports malformed files with an error code and the byte offset", () => {
    const good = write({}, ["eth0"], [{ interfaceId: 0, timestampMs: 1, direction: "in" }]);
    const epbAt = 44 + 40;
    const cases: [Uint8Array, string, number][] = [];
    cases.push([good.subarray(0, 8), "truncated-block", 0]);
    cases.push([good.subarray(44), "missing-section-header", 0]);
    cases.push([new Uint8Array(0), "missing-section-header", 0]);
    const bom = good.slice();
    bom[8] = 0;
    cases.push([bom, "bad-byte-order-magic", 8]);
    const ver = good.slice();
    ver[12] = 2;
    cases.push([ver, "unsupported-version", 12]);
    const odd = good.slice();
    odd[44 + 4] = 41;
    cases.push([odd, "bad-block-length", 48]);
    const trailer = good.slice();
    trailer[44 + 36] = 44;
    cases.push([trailer, "bad-block-length", 80]);
    const iface = good.slice();
    iface[epbAt + 8] = 3;
    cases.push([iface, "bad-interface-id", epbAt + 8]);
    const caplen = good.slice();
    caplen[epbAt + 20] = 200;
    cases.push([caplen, "bad-captured-length", epbAt + 20]);
    const opt = good.slice();
    opt[epbAt + 32 + 2] = 40;
    cases.push([opt, "bad-option", epbAt + 32]);
    const tsresol = good.slice();
    tsresol[44 + 16 + 8 + 2] = 2;
    cases.push([tsresol, "bad-tsresol", 44 + 24]);
    for (const [bytes, error, offset] of cases) {
      const r = parsePcapng(bytes);
      expect({ error: r.ok ? "ok" : r.error, offset: r.ok ? -1 : r.offset }).toEqual({ error, offset });
      expect(!r.ok && r.detail).toContain(`at byte offset ${offset}`);
    }
  });

  it("never throws on arbitrary bytes or on single-byte corruptions of a valid file", () => {
    const good = write(
      {},
      ["eth0", "eth1"],
      [
        { interfaceId: 0, timestampMs: 1, direction: "in", comment: "c" },
        { interfaceId: 1, timestampMs: 2, direction: "out" },
      ],
    );
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 400 }), (bytes) => {
        const r = parseCapture(bytes);
        if (!r.ok) expect(r.offset).toBeLessThanOrEqual(bytes.length);
      }),
      { numRuns: 2000 },
    );
    fc.assert(
      fc.property(fc.nat(good.length - 1), fc.integer({ min: 0, max: 255 }), fc.nat(good.length), (i, v, cut) => {
        const bytes = good.slice(0, cut);
        if (i < bytes.length) bytes[i] = v;
        const r = parsePcapng(bytes);
        if (!r.ok) expect(r.offset).toBeLessThanOrEqual(bytes.length);
      }),
      { numRuns: 5000 },
    );
  });
});
