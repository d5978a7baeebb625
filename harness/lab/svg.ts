// Line charts as standalone SVG (no dependencies): per-flow goodput and per-queue delay over
// time, like ns-3's and Flent's plots. lineChart() draws series of (x, y) points on linear axes
// with "nice" ticks and a legend; cdfPoints() turns samples into a distribution line.

/** One line of a chart. */
export interface ChartSeries {
  readonly name: string;
  readonly points: readonly (readonly [number, number])[];
}

export interface ChartOptions {
  readonly title: string;
  readonly xLabel: string;
  readonly yLabel: string;
  readonly series: readonly ChartSeries[];
  readonly width?: number;
  readonly height?: number;
}

const COLOURS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"];

/** Text or an attribute value escaped for XML. */
export const escapeXml = (s: string): string => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");

/** Tick step of about `count` ticks over [0, max]: 1, 2 or 5 times a power of ten. */
function niceStep(max: number, count: number): number {
  const raw = max / count;
  const power = 10 ** Math.floor(Math.log10(raw));
  const m = raw / power;
  return (m <= 1 ? 1 : m <= 2 ? 2 : m <= 5 ? 5 : 10) * power;
}

const label = (v: number): string => (Math.abs(v) >= 1000 || Number.isInteger(v) ? String(Math.round(v)) : v.toPrecision(3).replace(/\.?0+$/, ""));

/** A line chart, as an SVG document. */
export function lineChart(o: ChartOptions): string {
  const width = o.width ?? 800;
  const height = o.height ?? 400;
  const left = 70,
    right = 170,
    top = 40,
    bottom = 50;
  const plotW = width - left - right;
  const plotH = height - top - bottom;
  let maxX = 0,
    maxY = 0;
  for (const s of o.series)
    for (const [x, y] of s.points) {
      if (x > maxX) maxX = x;
      if (y > maxY) maxY = y;
    }
  const xStep = niceStep(maxX || 1, 8);
  const yStep = niceStep(maxY || 1, 5);
  const xMax = Math.ceil((maxX || 1) / xStep) * xStep;
  const yMax = Math.ceil((maxY || 1) / yStep) * yStep;
  const px = (x: number): number => left + (x / xMax) * plotW;
  const py = (y: number): number => top + plotH - (y / yMax) * plotH;
  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
  );
  out.push(`<rect width="${width}" height="${height}" fill="white"/>`);
  out.push(`<text x="${width / 2}" y="22" text-anchor="middle" font-size="15">${escapeXml(o.title)}</text>`);
  for (let y = 0; y <= yMax + 1e-9; y += yStep) {
    out.push(`<line x1="${left}" x2="${left + plotW}" y1="${py(y).toFixed(1)}" y2="${py(y).toFixed(1)}" stroke="#ddd"/>`);
    out.push(`<text x="${left - 6}" y="${(py(y) + 4).toFixed(1)}" text-anchor="end">${label(y)}</text>`);
  }
  for (let x = 0; x <= xMax + 1e-9; x += xStep) {
    out.push(`<line x1="${px(x).toFixed(1)}" x2="${px(x).toFixed(1)}" y1="${top + plotH}" y2="${top + plotH + 4}" stroke="#333"/>`);
    out.push(`<text x="${px(x).toFixed(1)}" y="${top + plotH + 18}" text-anchor="middle">${label(x)}</text>`);
  }
  out.push(`<rect x="${left}" y="${top}" width="${plotW}" height="${plotH}" fill="none" stroke="#333"/>`);
  out.push(`<text x="${left + plotW / 2}" y="${height - 10}" text-anchor="middle">${escapeXml(o.xLabel)}</text>`);
  out.push(`<text transform="translate(16 ${top + plotH / 2}) rotate(-90)" text-anchor="middle">${escapeXml(o.yLabel)}</text>`);
  o.series.forEach((s, i) => {
    const colour = COLOURS[i % COLOURS.length]!;
    const points = s.points.map(([x, y]) => `${px(x).toFixed(1)},${py(y).toFixed(1)}`).join(" ");
    out.push(`<polyline fill="none" stroke="${colour}" stroke-width="1.5" points="${points}"/>`);
    const ly = top + 10 + i * 18;
    out.push(`<line x1="${left + plotW + 12}" x2="${left + plotW + 32}" y1="${ly}" y2="${ly}" stroke="${colour}" stroke-width="3"/>`);
    out.push(`<text x="${left + plotW + 38}" y="${ly + 4}">${escapeXml(s.name)}</text>`);
  });
  out.push("</svg>");
  return `${out.join("\n")}\n`;
}

/** The empirical distribution of `values` as chart points (value, fraction ≤ value), at most `maxPoints` of them. */
export function cdfPoints(values: readonly number[], maxPoints = 500): [number, number][] {
  const sorted = [...values].sort((a, b) => a - b);
  if (sorted.length === 0) return [];
  const step = Math.max(1, Math.ceil(sorted.length / maxPoints));
  const out: [number, number][] = [[sorted[0]!, 0]];
  for (let i = step - 1; i < sorted.length; i += step) out.push([sorted[i]!, (i + 1) / sorted.length]);
  if (out.at(-1)![1] !== 1) out.push([sorted.at(-1)!, 1]);
  return out;
}
