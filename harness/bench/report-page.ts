// The `--report FILE.html` page of `netlab bench`: the machine, the results table (median, spread,
// per CPU-second, runs, ratio to the baseline, target and verdict), the bar chart the run already
// makes (latest.svg's), the cases that were skipped or failed with their reasons, and links to the
// JSON and Markdown the run wrote.
import type { HtmlReport, ReportSection } from "../report/html.ts";
import { BENCH_COLUMNS, benchRow, formatSvg } from "./report.ts";
import type { BenchResult } from "./types.ts";

/** The page for one bench run; `files` are what the run wrote (absent with --quick and no --out). */
export function benchReportPage(
  results: readonly BenchResult[],
  machine: Readonly<Record<string, unknown>>,
  when: string,
  command: string,
  quick: boolean,
  files: readonly { readonly label: string; readonly path: string }[],
): HtmlReport {
  const ok = results.filter((r) => r.status === "ok");
  const failed = results.filter((r) => r.status === "failed");
  const skipped = results.filter((r) => r.status === "skipped");
  const judged = ok.filter((r) => r.targetMet !== undefined);
  const sections: ReportSection[] = [
    {
      heading: "Summary",
      text:
        `${ok.length} case(s) measured, ${failed.length} failed, ${skipped.length} skipped` +
        (quick ? "; --quick: one run each, no target judged." : `; targets met: ${judged.filter((r) => r.targetMet).length} of ${judged.length}.`),
      table: { columns: ["machine", "value"], rows: Object.entries(machine).map(([k, v]) => [k, Array.isArray(v) ? v.join(" / ") : String(v)]) },
    },
    {
      heading: "Results",
      text: "Figures are over wall time; spread is ±half of (max − min) / median over the runs; ratios are median / baseline median in the same run.",
      table: { columns: BENCH_COLUMNS, rows: results.map(benchRow) },
      ...(ok.length === 0 ? {} : { charts: [formatSvg([...results])] }),
    },
  ];
  if (failed.length + skipped.length > 0) {
    sections.push({
      heading: "Not measured",
      table: { columns: ["suite", "case", "status", "reason"], rows: [...failed, ...skipped].map((r) => [r.suite, r.name, r.status, r.reason ?? ""]) },
    });
  }
  if (files.length > 0) sections.push({ heading: "Files", files });
  return { title: `netlab bench${quick ? " --quick" : ""}`, command, when, sections };
}
