// The replay of every committed capture (pcaps/*.expect.json) in every mode its expectation
// lists: decode counts, conversation (netlab against the recorded exchange), golden (scenario
// re-run). A failure prints the readable report, with the path of netlab's side.
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { formatReport, listCaptures, replayFile } from "../../harness/replay/index.ts";

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
    expect(report.modes.length).toBeGreaterThanOrEqual(2);
    for (const m of report.modes) {
      expect(m.ok, formatReport(report)).toBe(true);
      expect(m.frames).toBeGreaterThan(0);
    }
  });
});
