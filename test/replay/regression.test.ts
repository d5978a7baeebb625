// A deliberate behaviour change must be caught with a readable diff: the frame index, the field,
// expected against got, and the path of a pcap of netlab's side.
import { existsSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { formatReport, parseExpectation, replayFile, type FileReport } from "../../harness/replay/index.ts";
import { readCaptureFile } from "../../harness/pcap/files.ts";

const OUT = mkdtempSync(join(tmpdir(), "netlab-replay-regression-"));

function changed(name: string, change: (json: { endpoint: Record<string, unknown> }) => void) {
  const json = JSON.parse(readFileSync(`pcaps/${name}.expect.json`, "utf8")) as { endpoint: Record<string, unknown> };
  change(json);
  const r = parseExpectation(json);
  if (!r.ok) throw new Error(r.detail);
  return r.value;
}

function firstDiff(report: FileReport) {
  expect(report.ok).toBe(false);
  const mode = report.modes.find((m) => !m.ok)!;
  expect(mode.diffs.length).toBeGreaterThan(0);
  return { mode, diff: mode.diffs[0]! };
}

describe("a behaviour change shows up as a readable diff", () => {
  it("golden: another TTL on the echo server is reported at the SYN-ACK, frame 5, field ipv4.ttl", async () => {
    const report = await replayFile("pcaps/sim-tcp-echo.pcapng.gz", {
      mode: "golden",
      outDir: OUT,
      overrides: { stack: { ipv4: { cidr: "192.0.2.2/24", defaultTtl: 32 } } },
    });
    const { mode, diff } = firstDiff(report);
    expect(diff).toMatchObject({ frame: 5, captureFrame: 6, field: "ipv4.ttl", expected: "64", got: "32" });
    expect(diff.expectedFrame).toMatch(/^tcp 192\.0\.2\.2:7 > 192\.0\.2\.1:\d+ \[S\.\]/);
    const text = formatReport(report);
    expect(text).toContain("frame 5 (capture #6): ipv4.ttl: expected 64, got 32");
    expect(text).toContain(`netlab's side: ${mode.netlabPcap}`);
    const side = readCaptureFile(mode.netlabPcap!);
    expect(side.ok && side.value.packets.length).toBe(66);
  });

  it("golden: another window scale is reported as tcp.option.wscale at frame 5, then the scaled windows", async () => {
    const report = await replayFile("pcaps/sim-tcp-echo.pcapng.gz", { mode: "golden", outDir: OUT, overrides: { stack: { tcp: { windowScaleShift: 9 } } } });
    const { diff, mode } = firstDiff(report);
    expect(diff).toMatchObject({ frame: 5, field: "tcp.option.wscale", expected: "7", got: "9" });
    expect(mode.diffs[1]).toMatchObject({ frame: 16, field: "tcp.window", expected: "8192", got: "2048" });
  });

  it("conversation: netlab with TTL 100 against the recorded Linux TCP exchange differs at its SYN-ACK (frame 2)", async () => {
    const expectation = changed("kernel-tcp-closes", (j) => {
      j.endpoint["defaultTtl"] = 100;
    });
    const report = await replayFile("pcaps/kernel-tcp-closes.pcapng.gz", { mode: "conversation", expectation, outDir: OUT });
    const { diff, mode } = firstDiff(report);
    expect(diff).toMatchObject({ frame: 2, field: "ipv4.ttl", expected: "64", got: "100" });
    expect(diff.expectedFrame).toMatch(/\[S\.\]/);
    expect(mode.netlabPcap).toBe(join(OUT, "kernel-tcp-closes.conversation.pcapng"));
    expect(existsSync(mode.netlabPcap!)).toBe(true);
    // netlab's side holds what was fed (the kernel's frames) and what netlab sent.
    const side = readCaptureFile(mode.netlabPcap!);
    expect(side.ok).toBe(true);
    if (side.ok) {
      expect(side.value.packets.filter((p) => p.direction === "in").length).toBe(15);
      expect(side.value.packets.filter((p) => p.direction === "out").length).toBe(10);
    }
  });

  it("conversation: another window scale against curl's capture differs first in the SYN-ACK's wscale, then in windows", async () => {
    const expectation = changed("kernel-http-curl", (j) => {
      j.endpoint["tcp"] = { windowScaleShift: 9 };
    });
    const report = await replayFile("pcaps/kernel-http-curl.pcapng.gz", { mode: "conversation", expectation, outDir: OUT });
    const { diff, mode } = firstDiff(report);
    expect(diff).toMatchObject({ frame: 2, field: "tcp.option.wscale", expected: "7", got: "9" });
    expect(mode.diffs[1]).toMatchObject({ frame: 3, field: "tcp.window", expected: "8192", got: "2048" });
    expect(formatReport(report)).toContain("frame 2 (capture #5): tcp.option.wscale: expected 7, got 9");
  });

  it("conversation: a DHCP server with another lease time differs in option 51 of its OFFER", async () => {
    const expectation = changed("kernel-dhcp-dhclient", (j) => {
      const app = (j.endpoint["apps"] as Array<{ config: { pools: Array<{ leaseTime: number }> } }>)[0]!;
      app.config.pools[0]!.leaseTime = 1200;
    });
    const report = await replayFile("pcaps/kernel-dhcp-dhclient.pcapng.gz", { mode: "conversation", expectation, outDir: OUT });
    const { diff } = firstDiff(report);
    expect(diff).toMatchObject({ frame: 1, field: "dhcp.option.51[2]", expected: "0258", got: "04b0" });
  });
});

describe("declared normalisations absorb what may legitimately differ, and only that", () => {
  it.each(["kernel-tcp-closes", "kernel-http-curl", "kernel-tcp-bulk"])(
    "%s: another seed (other ISNs, TSval offsets, IP ids) still matches with tcp-isn, tcp-timestamps and ip-id",
    async (name) => {
      const expectation = changed(name, (j) => {
        j.endpoint["seed"] = 999;
        (j as unknown as { conversation: { normalise: string[] } }).conversation.normalise.push("ip-id");
      });
      const report = await replayFile(`pcaps/${name}.pcapng.gz`, { mode: "conversation", expectation, outDir: OUT });
      expect(report.ok, formatReport(report)).toBe(true);
      const isn = Object.values(report.modes[0]!.details!["isnOffsets"] as Record<string, number>);
      expect(isn.length).toBeGreaterThan(0);
      expect(isn.every((o) => o !== 0)).toBe(true);
    },
  );

  it("without the TCP normalisations the same replay diverges: sequence numbers differ and the peer's ACKs no longer fit", async () => {
    const expectation = changed("kernel-tcp-closes", (j) => {
      j.endpoint["seed"] = 999;
      (j as unknown as { conversation: { normalise: string[] } }).conversation.normalise = ["ip-id"];
    });
    const report = await replayFile("pcaps/kernel-tcp-closes.pcapng.gz", { mode: "conversation", expectation, outDir: OUT });
    const { diff, mode } = firstDiff(report);
    expect(diff).toMatchObject({ frame: 2, field: "tcp.seq" });
    expect(mode.summary).toMatch(/netlab sent \d+/);
  });
});
