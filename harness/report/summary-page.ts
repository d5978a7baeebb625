// A report page for a run whose result is one JSON object (`sim http`, `sim dhcp`, `sim
// xen-transfer`, `sim blk --report FILE.html`): the verdict, then the object's figures as tables,
// nested objects flattened to "a.b" rows and each list of objects as a table of its own.
import type { HtmlReport, ReportSection, ReportTable } from "./html.ts";

type Cell = string | number | null;

/** A cell for `v`, or undefined for an object or a list of objects (null: no value). */
function scalar(v: unknown): Cell | undefined {
  if (v === null || v === undefined) return null;
  if (typeof v === "number" || typeof v === "string") return v;
  if (typeof v === "boolean") return v ? "yes" : "no";
  if (Array.isArray(v) && v.every((x) => typeof x !== "object" || x === null)) return v.length === 0 ? "none" : v.join(", ");
  return undefined;
}

/** Rows of "key", value for every scalar at any depth under `o` (lists of objects left to listTables). */
function figureRows(o: Readonly<Record<string, unknown>>, prefix = ""): Cell[][] {
  const rows: Cell[][] = [];
  for (const [k, v] of Object.entries(o)) {
    const s = scalar(v);
    if (s !== undefined) rows.push([`${prefix}${k}`, s]);
    else if (typeof v === "object" && v !== null && !Array.isArray(v)) rows.push(...figureRows(v as Record<string, unknown>, `${prefix}${k}.`));
  }
  return rows;
}

/** One table per list of objects (at the top level), columns from the union of their keys. */
function listTables(o: Readonly<Record<string, unknown>>): { name: string; table: ReportTable }[] {
  const out: { name: string; table: ReportTable }[] = [];
  for (const [k, v] of Object.entries(o)) {
    if (!Array.isArray(v) || v.length === 0 || !v.every((x) => typeof x === "object" && x !== null && !Array.isArray(x))) continue;
    const columns = [...new Set(v.flatMap((x) => Object.keys(x as object)))];
    out.push({
      name: k,
      table: {
        columns,
        rows: v.map((x) =>
          columns.map((c) => {
            const value = (x as Record<string, unknown>)[c];
            const cell = scalar(value);
            return cell === undefined ? JSON.stringify(value) : cell;
          }),
        ),
      },
    });
  }
  return out;
}

/** The page: `verdict` first, the figures of `result`, its lists, then `files`. */
export function summaryReportPage(
  title: string,
  command: string,
  when: string,
  verdict: string,
  result: Readonly<Record<string, unknown>>,
  files: readonly { readonly label: string; readonly path: string }[] = [],
): HtmlReport {
  const sections: ReportSection[] = [{ heading: "Result", text: verdict, table: { columns: ["figure", "value"], rows: figureRows(result) } }];
  for (const l of listTables(result)) sections.push({ heading: l.name, table: l.table });
  if (files.length > 0) sections.push({ heading: "Files", files });
  return { title, command, when, sections };
}
