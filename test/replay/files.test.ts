// Capture files as replay meets them: classic pcap, pcapng and gzip-compressed ones are
// accepted (with or without an expectation file); malformed files, bad expectations and
// impossible requests give clear errors with stable codes, never exceptions.
import { copyFileSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gunzipSync, gzipSync } from "node:zlib";
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { formatReport, replayFile } from "../../harness/replay/index.ts";
import { readCaptureFile, writeCaptureFile } from "../../harness/pcap/files.ts";
import { createByteCollector, createPcapWriter } from "../../stack/link/pcap/index.ts";

const DIR = mkdtempSync(join(tmpdir(), "netlab-replay-files-"));
const OUT = join(DIR, "out");
const file = (name: string, bytes: Uint8Array | string): string => {
  const p = join(DIR, name);
  writeFileSync(p, bytes);
  return p;
};

/** kernel-arp-icmp as a classic microsecond pcap (no expectation file next to it). */
function classicPcap(): string {
  const r = readCaptureFile("pcaps/kernel-arp-icmp.pcapng.gz");
  if (!r.ok) throw new Error(r.detail);
  const out = createByteCollector();
  const w = createPcapWriter(out.write, { precision: "micro" });
  for (const p of r.value.packets) w.record({ interfaceId: 0, timestampMs: p.timestampMs, data: p.data });
  return file("arp-icmp.pcap", out.bytes());
}

describe("replay input files", () => {
  it("a classic pcap without an expectation is decoded: every frame parses and re-emits", async () => {
    const report = await replayFile(classicPcap(), { outDir: OUT });
    expect(report.ok).toBe(true);
    expect(report.modes.map((m) => [m.mode, m.summary])).toEqual([["decode", "9/9 frames parse and re-emit byte-identical"]]);
  });

  it("--as IP on a capture without an expectation replays netlab as that endpoint (bare stack, all normalisations)", async () => {
    const report = await replayFile(classicPcap(), { as: "192.0.2.2", mode: "conversation", outDir: OUT });
    expect(report.error).toBeUndefined();
    expect(report.modes[0]).toMatchObject({ mode: "conversation", ok: true });
    expect(report.modes[0]!.summary).toContain("4 frames fed, 5/5 of netlab's frames match");
  });

  it("--as MAC works the same way on an uncompressed pcapng", async () => {
    const p = file("arp-icmp.pcapng", gunzipSync(readFileSync("pcaps/kernel-arp-icmp.pcapng.gz")));
    const report = await replayFile(p, { as: "02:6e:6c:00:00:02", mode: "conversation", outDir: OUT });
    expect(report.modes[0]).toMatchObject({ mode: "conversation", ok: true });
  });

  it.each([
    ["a missing file", () => join(DIR, "nope.pcap"), "ERR_REPLAY_NO_FILE", "no such file"],
    [
      "an empty file",
      () => file("empty.pcap", new Uint8Array(0)),
      "ERR_REPLAY_BAD_CAPTURE",
      "empty.pcap: unknown-format at byte offset 0: file of 0 bytes is too short to identify",
    ],
    ["a text file", () => file("notes.pcap", "this is not a capture\n"), "ERR_REPLAY_BAD_CAPTURE", "neither a pcap magic nor a pcapng Section Header Block"],
    ["a corrupt gzip stream", () => file("broken.pcapng.gz", Uint8Array.of(0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3, 1, 2, 3)), "ERR_REPLAY_BAD_CAPTURE", "bad-gzip"],
    [
      "a pcapng cut inside its section header",
      () => file("cut-shb.pcapng", gunzipSync(readFileSync("pcaps/kernel-tcp-closes.pcapng.gz")).subarray(0, 20)),
      "ERR_REPLAY_BAD_CAPTURE",
      "truncated-block at byte offset 0",
    ],
    ["a gzip of garbage", () => file("garbage.pcap.gz", gzipSync(Buffer.from("garbage garbage"))), "ERR_REPLAY_BAD_CAPTURE", "unknown-format"],
  ])("%s gives a clear error", async (_what, make, code, message) => {
    const report = await replayFile(make(), { outDir: OUT });
    expect(report.ok).toBe(false);
    expect(report.error?.code).toBe(code);
    expect(report.error?.message).toContain(message);
    expect(formatReport(report)).toContain(`error [${code}]`);
  });

  it("a pcapng cut inside a later block is read up to the cut, with a warning (as tshark)", async () => {
    const whole = gunzipSync(readFileSync("pcaps/kernel-tcp-closes.pcapng.gz"));
    const report = await replayFile(file("cut.pcapng", whole.subarray(0, 700)), { outDir: OUT });
    expect(report.ok).toBe(true);
    expect(report.warnings).toHaveLength(1);
    expect(report.warnings![0]).toMatch(
      /^the file appears to have been cut short \(truncated-block at byte offset \d+: [^)]+\); read 5 packets before the cut$/,
    );
    expect(formatReport(report)).toContain("warning: the file appears to have been cut short");
  });

  it("an expectation that is not JSON, or names a bad field, is reported with its path", async () => {
    const p = file("bad.pcapng.gz", readFileSync("pcaps/kernel-arp-icmp.pcapng.gz"));
    file("bad.expect.json", "{ not json");
    let report = await replayFile(p, { outDir: OUT });
    expect(report.error?.code).toBe("ERR_REPLAY_BAD_EXPECTATION");
    expect(report.error?.message).toContain(join(DIR, "bad.expect.json"));
    const json = JSON.parse(readFileSync("pcaps/kernel-arp-icmp.expect.json", "utf8")) as { conversation: { normalise: string[] } };
    json.conversation.normalise = ["ip-ttl"];
    file("bad.expect.json", JSON.stringify(json));
    report = await replayFile(p, { outDir: OUT });
    expect(report.error?.message).toContain("conversation.normalise[0]: unknown normalisation 'ip-ttl'");
  });

  it("a corrupted frame in a committed capture fails decode at that frame, with its class", async () => {
    const r = readCaptureFile("pcaps/kernel-tcp-closes.pcapng.gz");
    if (!r.ok) throw new Error(r.detail);
    const bytes = gunzipSync(readFileSync("pcaps/kernel-tcp-closes.pcapng.gz"));
    const seventh = r.value.packets[6]!;
    // The 7th frame's IPv4 TTL: flipping it breaks the header checksum.
    const at = seventh.offset + 28 + 14 + 8;
    bytes[at]! ^= 0x01;
    const p = join(DIR, "kernel-tcp-closes.pcapng.gz");
    writeCaptureFile(p, bytes);
    copyFileSync("pcaps/kernel-tcp-closes.expect.json", join(DIR, "kernel-tcp-closes.expect.json"));
    const report = await replayFile(p, { mode: "decode", outDir: OUT });
    expect(report.ok).toBe(false);
    expect(report.modes[0]!.diffs).toEqual([
      { frame: -1, field: "decode.errors.ipv4/bad-checksum", expected: "0", got: "1" },
      { frame: 6, captureFrame: 7, field: "decode", expected: "(parses)", got: "ipv4/bad-checksum" },
    ]);
  });

  it("golden mode on a real-peer capture and --as for another endpoint are refused with codes", async () => {
    let report = await replayFile("pcaps/kernel-arp-icmp.pcapng.gz", { mode: "golden", outDir: OUT });
    expect(report.error?.code).toBe("ERR_REPLAY_NOT_GOLDEN");
    report = await replayFile("pcaps/kernel-arp-icmp.pcapng.gz", { as: "192.0.2.1", outDir: OUT });
    expect(report.error?.code).toBe("ERR_REPLAY_NO_ENDPOINT");
    expect(report.error?.message).toContain("declares netlab as 02:6e:6c:00:00:02 192.0.2.2/24, not 192.0.2.1");
    report = await replayFile(classicPcap(), { as: "198.51.100.9", outDir: OUT });
    expect(report.error).toEqual({ code: "ERR_REPLAY_NO_ENDPOINT", message: "no frame in the capture is sent by 198.51.100.9" });
  });
});
