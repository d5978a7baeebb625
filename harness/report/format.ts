// The one number formatter of every command's text output and tables (and the HTML reports):
// three significant digits with an SI prefix, the same rule as the argument layer reads them
// (harness/cli/args.ts): k/M/G/T... are decimal, Ki/Mi/Gi... binary.
//   formatSi(v, unit)       decimal prefixes: quantities counted or measured (bytes moved, bit/s,
//                           exec/s): "1.23 Gbit/s", "456 kB", "1.76k exec/s"
//   formatBinary(v, unit)   binary prefixes: sizes of memory that are binary by nature (socket
//                           buffers, windows, images, pages): "64.0 KiB", "1.00 MiB"
// The prefix joins a base unit (B, bit, bit/s, B/s, Hz, pkt/s: "1.23 Gbit/s") and otherwise the
// number ("1.76k exec/s", "2.00k"). Integers below 1000 are shown whole ("5", "999 B"); 0 is "0".
// NaN and ±Infinity print as "NaN" and "∞"/"-∞"; beyond the largest prefix the mantissa is an exponent.

/** Units that take the prefix themselves ("Gbit/s", "kB"); any other unit follows a prefixed number. */
const BASE_UNITS: ReadonlySet<string> = new Set(["B", "bit", "bit/s", "B/s", "Hz", "pkt/s"]);
const DECIMAL_PREFIXES = ["", "k", "M", "G", "T", "P", "E", "Z", "Y", "R", "Q"] as const;
const BINARY_PREFIXES = ["", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei", "Zi", "Yi"] as const;

/** `value` with three significant digits and a decimal SI prefix, followed by `unit` if given. */
export function formatSi(value: number, unit = ""): string {
  return scaled(value, unit, 1000, DECIMAL_PREFIXES);
}

/** `value` with three significant digits and a binary prefix (Ki = 1024), followed by `unit` [B]. */
export function formatBinary(value: number, unit = "B"): string {
  return scaled(value, unit, 1024, BINARY_PREFIXES);
}

function join(number: string, prefix: string, unit: string): string {
  if (unit === "") return `${number}${prefix}`;
  return BASE_UNITS.has(unit) ? `${number} ${prefix}${unit}` : `${number}${prefix} ${unit}`;
}

function scaled(value: number, unit: string, base: number, prefixes: readonly string[]): string {
  if (Number.isNaN(value)) return join("NaN", "", unit);
  if (!Number.isFinite(value)) return join(value > 0 ? "∞" : "-∞", "", unit);
  const sign = value < 0 ? "-" : "";
  const a = Math.abs(value);
  if (Number.isInteger(a) && a < 1000) return join(`${sign}${a}`, "", unit);
  if (a < 1) return join(`${sign}${a.toPrecision(3)}`, "", unit);
  let k = 0;
  let m = a;
  while (m >= base && k < prefixes.length - 1) {
    m /= base;
    k++;
  }
  let text = mantissa(m);
  // Rounding may carry into the next prefix (999.5 -> "1.00e+3"; 1023.9 Ki -> 1024 Ki).
  if (Number(text) >= base && k < prefixes.length - 1) {
    k++;
    m /= base;
    text = (Number(text) / base).toPrecision(3);
  }
  if (Number(text) >= base) return join(`${sign}${a.toExponential(2)}`, "", unit);
  return join(`${sign}${text}`, prefixes[k]!, unit);
}

/** Three significant digits, and whole numbers from 1000 on (binary mantissas reach 1023). */
function mantissa(m: number): string {
  const p = m.toPrecision(3);
  return p.includes("e") ? String(Math.round(m)) : p;
}
