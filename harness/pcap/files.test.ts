import { afterAll, describe, expect, it } from "vitest";
import { createRequire } from "node:module";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { Readable } from "node:stream";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { createCaptureFile, isGzip, parseCaptureBytes, readCaptureFile, writeCaptureFile } from "./files.ts";
import { createByteCollector, createPcapWriter } from "../../stack/link/pcap/index.ts";
import type { PcapWriterOptions } from "../../stack/link/pcap/index.ts";
import { tsharkFields, tsharkMissingReason } from "../oracle/tshark.ts";
import { spawnSync } from "node:child_process";
import { udpFrame } from "../oracle/udp-frame.test-helper.ts";

const dir = mkdtempSync(join(tmpdir(), "netlab-pcap-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const frames = [udpFrame(Uint8Array.of(1, 2, 3)), udpFrame(new Uint8Array(200).fill(0x55)), udpFrame(new Uint8Array(0))];

function classic(options: PcapWriterOptions): Uint8Array {
  const out = createByteCollector();
  const w = createPcapWriter(out.write, options);
  frames.forEach((data, i) => w.record({ interfaceId: 0, timestampMs: 1000 * i + 0.25 * i, data }));
  return out.bytes();
}

describe("capture files", () => {
  it("streams a pcapng file through a sink and reads it back, plain and gzip-compressed", () => {
    const file = createCaptureFile(join(dir, "nested", "a.pcapng"));
    const id = file.sink.addInterface({ name: "h1" });
    frames.forEach((data, i) => file.sink.record({ interfaceId: id, timestampMs: i, data, direction: "out" }));
    file.close();
    const raw = readFileSync(file.path);
    expect(raw.length).toBe(file.bytesWritten);
    writeCaptureFile(join(dir, "a.pcapng.gz"), raw);
    expect(isGzip(readFileSync(join(dir, "a.pcapng.gz")))).toBe(true);
    for (const path of [file.path, join(dir, "a.pcapng.gz")]) {
      const r = readCaptureFile(path);
      expect(r.ok).toBe(true);
      if (!r.ok) return;
      expect(r.value.format).toBe("pcapng");
      expect(r.value.packets.map((p) => p.data)).toEqual(frames);
    }
    expect(() => file.sink.record({ interfaceId: id, timestampMs: 9, data: frames[0]! })).toThrow(
      expect.objectContaining({ code: "ERR_NETLAB_CAPTURE_CLOSED" }),
    );
  });

  it("names the file and the byte offset when the contents are malformed", () => {
    const bytes = classic({});
    const path = join(dir, "cut.pcap.gz");
    writeFileSync(path, gzipSync(bytes.subarray(0, bytes.length - 5)));
    const r = readCaptureFile(path);
    expect(r).toMatchObject({ ok: false, error: "truncated-packet" });
    expect(!r.ok && r.detail).toBe(`${path}: truncated-packet at byte offset ${24 + 16 + 45 + 16 + 242}: record 2 needs 42 bytes, 37 left`);
    const bad = join(dir, "bad.gz");
    writeFileSync(bad, Uint8Array.of(0x1f, 0x8b, 8, 0, 1, 2, 3));
    expect(readCaptureFile(bad)).toMatchObject({ ok: false, error: "bad-gzip", offset: 0 });
    expect(() => readCaptureFile(join(dir, "absent.pcap"))).toThrow(expect.objectContaining({ code: "ENOENT" }));
  });

  it("refuses a gzip stream that inflates past the limit (a decompression bomb) with an error, not an allocation", () => {
    const bomb = gzipSync(new Uint8Array(1 << 20));
    expect(parseCaptureBytes(bomb, { maxDecompressedBytes: 4096 })).toMatchObject({ ok: false, error: "decompressed-too-large", offset: 0 });
    const small = classic({});
    expect(parseCaptureBytes(gzipSync(small), { maxDecompressedBytes: small.length }).ok).toBe(true);
    expect(parseCaptureBytes(gzipSync(small), { maxDecompressedBytes: small.length - 1 })).toMatchObject({ ok: false, error: "decompressed-too-large" });
  });

  it("agrees with the pcap-parser package on headers and packet bytes (microsecond, both byte orders)", async () => {
    const require = createRequire(import.meta.url);
    const pcapParser = require("pcap-parser") as { parse(input: Readable): NodeJS.EventEmitter };
    for (const byteOrder of ["little", "big"] as const) {
      const bytes = classic({ byteOrder });
      const ours = readCaptureFile(
        ((): string => {
          const p = join(dir, `x-${byteOrder}.pcap`);
          writeFileSync(p, bytes);
          return p;
        })(),
      );
      expect(ours.ok).toBe(true);
      if (!ours.ok) return;
      const theirs = await new Promise<{ header: Record<string, number>; data: Buffer }[]>((resolve, reject) => {
        const packets: { header: Record<string, number>; data: Buffer }[] = [];
        const parser = pcapParser.parse(Readable.from([Buffer.from(bytes)]));
        parser.on("packet", (p: { header: Record<string, number>; data: Buffer }) => packets.push(p));
        parser.on("error", reject);
        parser.on("end", () => resolve(packets));
      });
      expect(theirs.map((p) => [p.header["timestampSeconds"], p.header["timestampMicroseconds"], p.header["originalLength"], p.data.toString("hex")])).toEqual(
        ours.value.packets.map((p) => [
          Number(p.timestampNs / 1_000_000_000n),
          Number((p.timestampNs % 1_000_000_000n) / 1000n),
          p.originalLength,
          Buffer.from(p.data).toString("hex"),
        ]),
      );
    }
  });

  const missing = tsharkMissingReason();
  it.skipIf(missing !== undefined)(`is read by tshark in every format we write${missing ? ` (skipped: ${missing})` : ""}`, () => {
    const variants: [string, Uint8Array][] = [
      ["le-micro.pcap", classic({})],
      ["be-nano.pcap", classic({ byteOrder: "big", precision: "nano" })],
    ];
    const ng = createCaptureFile(join(dir, "be.pcapng"), { format: "pcapng", byteOrder: "big", precision: "micro" });
    const id = ng.sink.addInterface({ name: "x" });
    frames.forEach((data, i) => ng.sink.record({ interfaceId: id, timestampMs: 1000 * i + 0.25 * i, data, direction: "in", comment: `frame ${i}` }));
    ng.close();
    for (const [name, bytes] of variants) writeCaptureFile(join(dir, name), bytes);
    for (const name of [...variants.map((v) => v[0]), "be.pcapng"]) {
      const rows = tsharkFields(join(dir, name), ["frame.number", "frame.time_epoch", "frame.len", "udp.checksum.status"]);
      expect(rows).toEqual([
        ["1", "0.000000000", "45", "1"],
        ["2", "1.000250000", "242", "1"],
        ["3", "2.000500000", "42", "1"],
      ]);
    }
    expect(tsharkFields(join(dir, "be.pcapng"), ["frame.comment", "frame.p2p_dir"]).map((r) => r[0])).toEqual(["frame 0", "frame 1", "frame 2"]);
  });

  const editcap = spawnSync("editcap", ["-h"], { encoding: "utf8" }).status === 0;
  it.skipIf(!editcap)(
    `reads what Wireshark's editcap writes (pcap, nanosecond pcap, pcapng)${editcap ? "" : " (skipped: editcap is not installed; it comes with tshark)"}`,
    () => {
      const ours = createCaptureFile(join(dir, "ours.pcapng"));
      const a = ours.sink.addInterface({ name: "a" });
      frames.forEach((data, i) => ours.sink.record({ interfaceId: a, timestampMs: 1_763_856_000_000 + i * 1.000123, data, direction: "out" }));
      ours.close();
      const expected = readCaptureFile(ours.path);
      expect(expected.ok).toBe(true);
      if (!expected.ok) return;
      for (const [format, usPrecision] of [
        ["pcap", true],
        ["nsecpcap", false],
        ["pcapng", false],
      ] as const) {
        const out = join(dir, `editcap-${format}`);
        const r = spawnSync("editcap", ["-F", format, ours.path, out], { encoding: "utf8" });
        expect(r.status, r.stderr).toBe(0);
        const theirs = readCaptureFile(out);
        expect(theirs.ok, theirs.ok ? "" : theirs.detail).toBe(true);
        if (!theirs.ok) return;
        expect(theirs.value.format).toBe(format === "pcapng" ? "pcapng" : "pcap");
        expect(theirs.value.packets.map((p) => p.data)).toEqual(expected.value.packets.map((p) => p.data));
        expect(theirs.value.packets.map((p) => p.timestampNs)).toEqual(
          expected.value.packets.map((p) => (usPrecision ? (p.timestampNs / 1000n) * 1000n : p.timestampNs)),
        );
      }
    },
  );
});
