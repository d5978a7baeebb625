import { describe, expect, it } from "vitest";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runDemo } from "../harness/cli/commands/demo.ts";
import { parseCapture } from "../stack/link/pcap/index.ts";
import { writeCaptureFile } from "../harness/pcap/files.ts";
import { checkCaptureWithTshark, tsharkFields, tsharkMissingReason } from "../harness/oracle/tshark.ts";

const first = runDemo({ seed: 1 });

describe("netlab demo", () => {
  it("passes every check with the default seed: pings, UDP echo, a fragmented datagram, TCP, impairments at work", () => {
    expect(first.checks.filter((c) => !c.ok)).toEqual([]);
    expect(first.ping.rtt.count).toBeGreaterThan(50);
    // Fastest path h1<->h2: (1 - 0.5) + (2 - 1) ms each way.
    expect(first.ping.rtt.minMs).toBeGreaterThanOrEqual(3);
    expect(first.udpEcho.echoed).toBeGreaterThan(15);
    expect(first.fragmented.fragmentsSent).toBeGreaterThanOrEqual(3);
    expect(first.impairmentTotals.lost).toBeGreaterThan(0);
    expect(first.switch.learned).toBe(3);
    expect(first.tcp).toMatchObject({ bytes: 262144, received: 262144, intact: true });
    expect(first.tcp.durationMs).toBeGreaterThan(0);
  });

  it("writes byte-identical pcapng for the same seed and a different capture for another seed", () => {
    const again = runDemo({ seed: 1 });
    expect(Buffer.from(again.pcap).equals(Buffer.from(first.pcap))).toBe(true);
    const other = runDemo({ seed: 2 });
    expect(Buffer.from(other.pcap).equals(Buffer.from(first.pcap))).toBe(false);
  });

  it("captures one pcapng interface per host, every frame with its direction", () => {
    const r = parseCapture(first.pcap);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.value.interfaces.map((i) => i.name)).toEqual(["h1", "h2", "h3"]);
    expect(r.value.packets.length).toBe(first.capture.packets);
    expect(r.value.packets.every((p) => p.direction === "in" || p.direction === "out")).toBe(true);
    const times = r.value.packets.map((p) => p.timestampNs);
    expect(times.every((t, i) => i === 0 || t >= times[i - 1]!)).toBe(true);
  });

  const missing = tsharkMissingReason();
  it.skipIf(missing !== undefined)(`leaves a capture in which tshark finds nothing wrong${missing ? ` (skipped: ${missing})` : ""}`, () => {
    const dir = mkdtempSync(join(tmpdir(), "netlab-demo-"));
    const path = join(dir, "demo.pcapng");
    try {
      writeCaptureFile(path, first.pcap);
      const verdict = checkCaptureWithTshark(path);
      expect(verdict.packets).toBe(first.capture.packets);
      expect(verdict.offending, `capture kept at ${path}`).toEqual([]);
      const fragments = tsharkFields(path, ["frame.number"], "ip.flags.mf == 1 || ip.frag_offset > 0");
      expect(fragments.length).toBeGreaterThan(0);
      rmSync(dir, { recursive: true, force: true });
    } catch (e) {
      process.stderr.write(`demo capture kept at ${path}\n`);
      throw e;
    }
  });
});
