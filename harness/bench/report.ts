// Benchmark reports: a terminal table, a markdown summary and SVG bar charts per suite.
import { formatSi } from "../report/format.ts";
import type { BenchResult } from "./types.ts";

/** A figure in its unit with the shared SI formatter ("1.76k exec/s", "2.50 Gbit/s"); "-" when absent. */
function figure(v: number | undefined, unit: string): string {
  return v === undefined ? "-" : formatSi(v, unit);
}

/** One result as the table's cells (BENCH_COLUMNS). */
export function benchRow(r: BenchResult): string[] {
  const target =
    r.target === undefined
      ? ""
      : `${r.target.kind === "min" ? "≥" : "≤"} ${figure(r.target.value, r.unit)} ${r.targetMet === undefined ? "(not judged: one quick run)" : r.targetMet ? "met" : "MISSED"}`;
  return [
    r.suite,
    r.name,
    r.status === "ok" ? figure(r.median, r.unit) : r.status.toUpperCase(),
    r.spread === undefined ? "" : `±${(r.spread * 50).toFixed(1)}%`,
    r.cpuMedian === undefined ? "" : figure(r.cpuMedian, r.unit),
    String(r.runs.length),
    r.ratio === undefined ? "" : `${r.ratio.toFixed(r.ratio < 0.1 ? 3 : 2)}× ${r.baseline}`,
    r.status === "ok" ? target : (r.reason ?? ""),
  ];
}

/** The columns of the results table. */
export const BENCH_COLUMNS = ["suite", "case", "median", "spread", "per CPU-s", "runs", "vs baseline", "target / note"] as const;
const HEAD: readonly string[] = BENCH_COLUMNS;

/** A fixed-width table for the terminal. */
export function formatTable(results: BenchResult[]): string {
  const rows = results.map(benchRow);
  const widths = HEAD.map((h, c) => Math.max(h.length, ...rows.map((x) => x[c]!.length)));
  const fmt = (x: readonly string[]): string =>
    x
      .map((v, c) => v.padEnd(widths[c]!))
      .join("  ")
      .trimEnd();
  return [fmt(HEAD), widths.map((w) => "-".repeat(w)).join("  "), ...rows.map(fmt)].join("\n") + "\n";
}

/** A markdown summary with the machine description. */
export function formatMarkdown(results: BenchResult[], machine: Record<string, unknown>, when: string): string {
  const esc = (s: string): string => s.replace(/\|/g, "\\|");
  const lines = [
    `# netlab benchmarks, ${when}`,
    "",
    `Machine: ${Object.entries(machine)
      .map(([k, v]) => `${k} ${Array.isArray(v) ? v.join("/") : String(v)}`)
      .join(", ")}`,
    "",
    `| ${HEAD.join(" | ")} |`,
    `|${HEAD.map(() => "---").join("|")}|`,
    ...results.map((r) => `| ${benchRow(r).map(esc).join(" | ")} |`),
    "",
    "spread = ±half of (max − min) / median over the runs; ratios are median / baseline median in the same run.",
    'Figures are over wall time. "per CPU-s" is the same figure over this process\'s CPU time (single-threaded in-process cases):',
    "on a shared, loaded machine (see the load average) it shows what the code does with one core.",
    "",
  ];
  return lines.join("\n");
}

/** An SVG with one horizontal bar chart per suite (bars scaled within the suite, log-free). */
export function formatSvg(results: BenchResult[]): string {
  const ok = results.filter((r) => r.status === "ok" && r.median !== undefined);
  const suites = [...new Set(ok.map((r) => r.suite))];
  const barH = 18,
    gap = 6,
    left = 260,
    width = 820,
    chartW = width - left - 140;
  let y = 30;
  const parts: string[] = [];
  for (const s of suites) {
    const rs = ok.filter((r) => r.suite === s);
    const max = Math.max(...rs.map((r) => Math.abs(r.median!)), ...rs.map((r) => r.target?.value ?? 0));
    parts.push(`<text x="10" y="${y}" font-weight="bold">${escapeXml(s)}</text>`);
    y += 10;
    for (const r of rs) {
      const w = max === 0 ? 0 : (Math.abs(r.median!) / max) * chartW;
      const color = r.targetMet === false ? "#d9534f" : r.targetMet ? "#5cb85c" : "#4a7ab5";
      parts.push(`<text x="${left - 8}" y="${y + 13}" text-anchor="end">${escapeXml(r.name)}</text>`);
      parts.push(`<rect x="${left}" y="${y}" width="${w.toFixed(1)}" height="${barH}" fill="${color}"/>`);
      parts.push(`<text x="${left + w + 6}" y="${y + 13}">${escapeXml(figure(r.median, r.unit))}</text>`);
      if (r.target !== undefined && max > 0) {
        const tx = left + (r.target.value / max) * chartW;
        parts.push(`<line x1="${tx.toFixed(1)}" x2="${tx.toFixed(1)}" y1="${y - 2}" y2="${y + barH + 2}" stroke="#000" stroke-dasharray="3,2"/>`);
      }
      y += barH + gap;
    }
    y += 20;
  }
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${y}" font-family="sans-serif" font-size="12">` +
    `<rect width="100%" height="100%" fill="#fff"/><text x="10" y="16" font-size="14">netlab benchmarks (green: target met, red: missed, dashed: target)</text>` +
    parts.join("") +
    "</svg>\n"
  );
}

function escapeXml(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

/** `text` split at its "## " headings: the text before the first, then each section with its title line. */
function markdownSections(text: string): { head: string; sections: { title: string; body: string }[] } {
  const parts = text.split(/^(?=## )/m);
  const head = parts[0]!.startsWith("## ") ? "" : parts.shift()!;
  return { head, sections: parts.map((body) => ({ title: body.slice(0, body.indexOf("\n") < 0 ? body.length : body.indexOf("\n")).trim(), body })) };
}

/**
 * A generated Markdown file merged into the one already written: `generated`'s text before its
 * first "## " heading and its sections replace `previous`'s of the same title; `previous`'s other
 * sections stay where they are; generated sections `previous` lacks are appended.
 */
export function mergeMarkdownSections(previous: string, generated: string): string {
  const old = markdownSections(previous);
  const now = markdownSections(generated);
  const fresh = new Map(now.sections.map((s) => [s.title, s.body]));
  const used = new Set<string>();
  const kept = old.sections.map((s) => {
    const body = fresh.get(s.title);
    if (body === undefined) return s.body;
    used.add(s.title);
    return body;
  });
  const added = now.sections.filter((s) => !used.has(s.title)).map((s) => s.body);
  const ensureBreak = (body: string): string => (body.endsWith("\n\n") || body.length === 0 ? body : body.endsWith("\n") ? `${body}\n` : `${body}\n\n`);
  const all = [now.head, ...kept, ...added];
  return all.map((b, i) => (i === all.length - 1 ? b : ensureBreak(b))).join("");
}
