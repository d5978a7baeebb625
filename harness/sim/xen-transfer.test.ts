// The --report page of sim xen-transfer: its goodput chart draws a line however short the run.
import { describe, expect, it } from "vitest";
import { drawsALine } from "../report/chromium-testing.ts";
import { type XenTransferReport, xenTransferReportPage } from "./xen-transfer.ts";

describe("xenTransferReportPage()", () => {
  it("measures goodput from the start, so a run sampled once before its end still draws a line (0.55 s for 60 MB on a fast host)", () => {
    const r = { ok: true, bytes: 60e6, received: 60e6 } as unknown as XenTransferReport;
    const page = xenTransferReportPage(
      r,
      [
        { wallSeconds: 0.25, receivedBytes: 30e6 },
        { wallSeconds: 0.55, receivedBytes: 60e6 },
      ],
      "netlab sim xen-transfer --bytes 60M",
      "2026-12-08T00:00:00Z",
    );
    const over = page.sections.find((s) => s.heading === "Over time");
    const charts = (over?.charts ?? []).map(String);
    expect(charts.length).toBe(2);
    for (const svg of charts) expect(drawsALine(svg)).toBe(true);
  });
});
