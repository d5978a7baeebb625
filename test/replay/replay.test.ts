// The replay of every committed capture (pcaps/*.expect.json) in every mode its expectation
// lists: decode counts, conversation (netlab against the recorded exchange), golden (scenario
// re-run). A failure prints the readable report, with the path of netlab's side.
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import { formatReport, listCaptures, replayFile } from "../../harness/replay/index.ts";
import { decodeFrame, summariseLayers } from "../../harness/replay/decode.ts";
import { parseCaptureBytes } from "../../harness/pcap/files.ts";

const OUT = mkdtempSync(join(tmpdir(), "netlab-replay-test-"));
const captures = listCaptures("pcaps");

describe("committed captures replay without regression", () => {
  it("pcaps/ holds real-peer and simulation captures, small enough to commit", () => {
    const names = captures.map((c) => c.replace(/^pcaps\//, ""));
    expect(names.filter((n) => n.startsWith("kernel-")).length).toBeGreaterThanOrEqual(7);
    expect(names.filter((n) => n.startsWith("sim-")).length).toBeGreaterThanOrEqual(2);
  });

  it.each(captures)("%s replays in all its modes", async (capture) => {
    const report = await replayFile(capture, { outDir: OUT });
    expect(report.error, formatReport(report)).toBeUndefined();
    // Kernel-to-kernel captures (harness/replay/record-pair.ts) have no netlab end: decode mode only.
    expect(report.modes.length).toBeGreaterThanOrEqual(capture.startsWith("pcaps/kernel-v6-") ? 1 : 2);
    for (const m of report.modes) {
      expect(m.ok, formatReport(report)).toBe(true);
      expect(m.frames).toBeGreaterThan(0);
    }
  });
});

describe("the IPv6 kernel captures", () => {
  /** Frames of a capture by decoded layer stack, and the source addresses of its frames (hex). */
  const layersOf = (name: string): { stacks: Map<string, number>; unspecifiedSources: number } => {
    const parsed = parseCaptureBytes(new Uint8Array(readFileSync(`pcaps/${name}.pcapng.gz`)));
    if (!parsed.ok) throw new Error(parsed.detail);
    const stacks = new Map<string, number>();
    let unspecifiedSources = 0;
    for (const p of parsed.value.packets) {
      const d = decodeFrame(p.data);
      expect(d.status, `${name}: ${JSON.stringify(d)}`).toBe("ok");
      const key = summariseLayers(d);
      stacks.set(key, (stacks.get(key) ?? 0) + 1);
      if (p.data.subarray(22, 38).every((b) => b === 0)) unspecifiedSources++;
    }
    return { stacks, unspecifiedSources };
  };

  it("hold DAD probes, MLD reports, router discovery, echo, DHCPv6's four messages and TCP over IPv6, each decoded and re-emitted", () => {
    const slaac = layersOf("kernel-v6-ndp-slaac");
    expect(slaac.stacks.get("ethernet/ipv6/ndp")).toBeGreaterThanOrEqual(8);
    expect(slaac.stacks.get("ethernet/ipv6/mld")).toBeGreaterThanOrEqual(2);
    expect(slaac.stacks.get("ethernet/ipv6/icmpv6")).toBe(6);
    // DAD: neighbour solicitations (and the first MLD reports) from the unspecified address.
    expect(slaac.unspecifiedSources).toBeGreaterThanOrEqual(3);
    const dhcp6 = layersOf("kernel-v6-dhcp6");
    expect(dhcp6.stacks.get("ethernet/ipv6/udp/dhcp6")).toBe(4);
    const http = layersOf("kernel-v6-http-curl");
    expect(http.stacks.get("ethernet/ipv6/tcp")).toBeGreaterThanOrEqual(50);
  });
});
