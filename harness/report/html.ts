// One self-contained HTML page per run (`--report FILE.html` on sim transfer, bench, ...): the
// summary and counter tables, the run's charts as inline SVG, links to its captures. No script,
// no style sheet or font fetched from anywhere: the page opens from a file, offline, as it was.
//   renderHtmlReport(report)        the page as a string
//   writeHtmlReport(path, report)   writes it (the folder must exist; a clear NetlabError if not)
import { existsSync, statSync, writeFileSync } from "node:fs";
import { dirname, relative, resolve } from "node:path";
import { NetlabError } from "../../stack/error.ts";

/** A table: a header row and rows of cells (numbers are right-aligned). */
export interface ReportTable {
  readonly columns: readonly string[];
  readonly rows: readonly (readonly (string | number | null)[])[];
}

/** One section of the page, drawn in this order: text, table, charts, links. */
export interface ReportSection {
  readonly heading: string;
  readonly text?: string;
  readonly table?: ReportTable;
  /** Complete SVG documents (e.g. lineChart's), inlined. */
  readonly charts?: readonly string[];
  /** Files the run wrote (captures, JSON); paths are made relative to the page. */
  readonly files?: readonly { readonly label: string; readonly path: string }[];
}

/** What a page shows. */
export interface HtmlReport {
  readonly title: string;
  /** The command line that made the run, shown verbatim. */
  readonly command: string;
  /** When the run ended (ISO 8601), given by the caller (stack code has no wall clock). */
  readonly when: string;
  readonly sections: readonly ReportSection[];
}

const escapeHtml = (s: string): string => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;").replace(/'/g, "&#39;");

/** An SVG document without its XML declaration, ready to inline; refuses anything that is not one SVG element. */
function inlineSvg(svg: string): string {
  const body = svg.replace(/^\s*<\?xml[^>]*\?>\s*/, "").trim();
  if (!body.startsWith("<svg") || !body.endsWith("</svg>")) throw new NetlabError("ERR_REPORT_CHART", "a report chart must be one <svg> document");
  if (/<script/i.test(body)) throw new NetlabError("ERR_REPORT_CHART", "a report chart may not carry a script");
  return body;
}

function cell(v: string | number | null, tag: "td" | "th"): string {
  if (v === null) return `<${tag} class="num">–</${tag}>`;
  return typeof v === "number" ? `<${tag} class="num">${escapeHtml(String(v))}</${tag}>` : `<${tag}>${escapeHtml(v)}</${tag}>`;
}

const STYLE = `body{font:14px/1.45 system-ui,sans-serif;margin:2em auto;max-width:1100px;padding:0 1em;color:#222}
h1{font-size:1.5em;margin-bottom:.2em}h2{font-size:1.15em;margin-top:1.8em;border-bottom:1px solid #ddd}
code{background:#f4f4f4;padding:.1em .3em;border-radius:3px}.meta{color:#666}
table{border-collapse:collapse;margin:.6em 0}th,td{border:1px solid #ddd;padding:.25em .6em;text-align:left}
th{background:#f6f6f6}.num{text-align:right;font-variant-numeric:tabular-nums}
figure{margin:1em 0}svg{max-width:100%;height:auto}`;

/** The page. */
export function renderHtmlReport(report: HtmlReport, pageDir?: string): string {
  const out: string[] = [];
  out.push(
    "<!DOCTYPE html>",
    '<html lang="en">',
    "<head>",
    '<meta charset="utf-8">',
    `<meta name="viewport" content="width=device-width, initial-scale=1">`,
    `<title>${escapeHtml(report.title)}</title>`,
    `<style>${STYLE}</style>`,
    "</head>",
    "<body>",
  );
  out.push(`<h1>${escapeHtml(report.title)}</h1>`);
  out.push(`<p class="meta"><code>${escapeHtml(report.command)}</code><br>${escapeHtml(report.when)}</p>`);
  for (const s of report.sections) {
    out.push(`<section><h2>${escapeHtml(s.heading)}</h2>`);
    if (s.text !== undefined) out.push(`<p>${escapeHtml(s.text)}</p>`);
    if (s.table !== undefined) {
      out.push("<table><thead><tr>", ...s.table.columns.map((c) => cell(c, "th")), "</tr></thead><tbody>");
      for (const row of s.table.rows) out.push(`<tr>${row.map((v) => cell(v, "td")).join("")}</tr>`);
      out.push("</tbody></table>");
    }
    for (const svg of s.charts ?? []) out.push(`<figure>${inlineSvg(svg)}</figure>`);
    if (s.files !== undefined && s.files.length > 0) {
      out.push("<ul>");
      for (const f of s.files) {
        const href = pageDir === undefined ? f.path : relative(pageDir, resolve(f.path));
        out.push(`<li><a href="${escapeHtml(encodeURI(href))}">${escapeHtml(f.label)}</a> <code>${escapeHtml(f.path)}</code></li>`);
      }
      out.push("</ul>");
    }
    out.push("</section>");
  }
  out.push("</body>", "</html>");
  return `${out.join("\n")}\n`;
}

/** Throws ERR_REPORT_PATH unless `path`'s folder exists (checked before a run, so it is not lost at the end). */
export function checkReportPath(path: string): void {
  const dir = dirname(resolve(path));
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new NetlabError("ERR_REPORT_PATH", `cannot write the report ${path}: ${dir} is not a folder`);
  if (existsSync(path) && statSync(path).isDirectory()) throw new NetlabError("ERR_REPORT_PATH", `cannot write the report ${path}: it is a folder`);
}

/** Writes the page to `path`; its folder must exist (ERR_REPORT_PATH otherwise, nothing written). */
export function writeHtmlReport(path: string, report: HtmlReport): void {
  checkReportPath(path);
  const dir = dirname(resolve(path));
  try {
    writeFileSync(path, renderHtmlReport(report, dir));
  } catch (e) {
    throw new NetlabError("ERR_REPORT_PATH", `cannot write the report ${path}: ${(e as Error).message}`);
  }
}
