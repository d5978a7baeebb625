// The `--report FILE.html` page of `netlab replay`: one row per capture and mode (verdict, frames,
// summary, diffs, time), the first differences of each failing mode, warnings and errors, and
// links to the captures and to netlab's side of each replay.
import type { HtmlReport, ReportSection } from "../report/html.ts";
import type { FileReport } from "./report.ts";

/** At most this many differences listed per mode. */
const MAX_DIFFS = 20;

/** The page for one replay run. */
export function replayReportPage(reports: readonly FileReport[], command: string, when: string): HtmlReport {
  const passed = reports.filter((r) => r.ok).length;
  const frames = reports.reduce((n, r) => n + r.modes.reduce((m, x) => m + x.frames, 0), 0);
  const sections: ReportSection[] = [
    {
      heading: "Captures",
      text: `${passed} of ${reports.length} captures replayed as expected, ${frames} frames.`,
      table: {
        columns: ["capture", "mode", "result", "frames", "differences", "time (ms)", "summary"],
        rows: reports.flatMap((r): (string | number | null)[][] =>
          r.modes.length === 0
            ? [[r.capture, "", r.ok ? "ok" : "FAILED", null, null, null, r.error === undefined ? "" : `[${r.error.code}] ${r.error.message}`]]
            : r.modes.map((m) => [r.capture, m.mode, m.ok ? "ok" : "FAILED", m.frames, m.diffCount, Math.round(m.durationMs), m.summary]),
        ),
      },
    },
  ];
  const notes = reports.flatMap((r) => [
    ...(r.warnings ?? []).map((w) => [r.capture, "warning", w]),
    ...(r.error === undefined ? [] : [[r.capture, r.error.code, r.error.message]]),
  ]);
  if (notes.length > 0) sections.push({ heading: "Warnings and errors", table: { columns: ["capture", "kind", "message"], rows: notes } });
  for (const r of reports) {
    for (const m of r.modes.filter((x) => !x.ok && x.diffs.length > 0)) {
      sections.push({
        heading: `Differences: ${r.capture}, ${m.mode}`,
        text: m.diffCount > MAX_DIFFS ? `The first ${MAX_DIFFS} of ${m.diffCount}.` : `${m.diffCount} difference(s).`,
        table: {
          columns: ["frame", "capture frame", "field", "expected", "got"],
          rows: m.diffs
            .slice(0, MAX_DIFFS)
            .map((d) => [
              d.frame,
              d.captureFrame ?? null,
              d.field,
              `${d.expected}${d.expectedFrame === undefined ? "" : ` (${d.expectedFrame})`}`,
              `${d.got}${d.gotFrame === undefined ? "" : ` (${d.gotFrame})`}`,
            ]),
        },
      });
    }
  }
  const files = reports.flatMap((r) => [
    { label: `capture ${r.capture}`, path: r.capture },
    ...r.modes.flatMap((m) => (m.netlabPcap === undefined ? [] : [{ label: `netlab's side (${m.mode}) of ${r.capture}`, path: m.netlabPcap }])),
  ]);
  if (files.length > 0) sections.push({ heading: "Files", files });
  return {
    title: `netlab replay: ${passed === reports.length ? "every capture as expected" : `${reports.length - passed} capture(s) FAILED`}`,
    command,
    when,
    sections,
  };
}
