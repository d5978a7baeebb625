// HTTP dates (RFC 9110 §5.6.7): IMF-fixdate out, the three historic formats in.
//
// formatHttpDate(ms)   "Sun, 06 Nov 1994 08:49:37 GMT"
// parseHttpDate(s)     ms since the epoch, or null for anything malformed

const DAYS = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

const two = (n: number): string => (n < 10 ? `0${n}` : String(n));

/** Formats milliseconds since the Unix epoch as an IMF-fixdate. */
export function formatHttpDate(ms: number): string {
  const d = new Date(Math.floor(ms / 1000) * 1000);
  const year = d.getUTCFullYear();
  const y = year < 1000 ? String(year).padStart(4, "0") : String(year);
  return `${DAYS[d.getUTCDay()]}, ${two(d.getUTCDate())} ${MONTHS[d.getUTCMonth()]} ${y} ${two(d.getUTCHours())}:${two(d.getUTCMinutes())}:${two(d.getUTCSeconds())} GMT`;
}

function build(year: number, mon: string, day: number, h: number, m: number, s: number): number | null {
  const month = MONTHS.indexOf(mon);
  if (month < 0 || day < 1 || day > 31 || h > 23 || m > 59 || s > 60) return null;
  const t = Date.UTC(year, month, day, h, m, Math.min(s, 59));
  return new Date(t).getUTCDate() === day ? t : null;
}

/** Parses IMF-fixdate, RFC 850 and asctime dates (RFC 9110 §5.6.7 requires all three). */
export function parseHttpDate(s: string): number | null {
  let m = /^(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun), (\d{2}) ([A-Z][a-z]{2}) (\d{4}) (\d{2}):(\d{2}):(\d{2}) GMT$/.exec(s);
  if (m) return build(Number(m[3]), m[2]!, Number(m[1]), Number(m[4]), Number(m[5]), Number(m[6]));
  m = /^(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday), (\d{2})-([A-Z][a-z]{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2}) GMT$/.exec(s);
  if (m) {
    // RFC 9110 §5.6.7: a two-digit year more than 50 years ahead is in the past century.
    const yy = Number(m[3]);
    return build(yy < 70 ? 2000 + yy : 1900 + yy, m[2]!, Number(m[1]), Number(m[4]), Number(m[5]), Number(m[6]));
  }
  m = /^(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun) ([A-Z][a-z]{2}) ([ \d]\d) (\d{2}):(\d{2}):(\d{2}) (\d{4})$/.exec(s);
  if (m) return build(Number(m[6]), m[1]!, Number(m[2]!.trim()), Number(m[3]), Number(m[4]), Number(m[5]));
  return null;
}
