// Header fields as received or to be sent: an ordered list of (name, value) pairs with
// case-insensitive lookup (RFC 9110 §5.1). Values are latin1 strings, already trimmed of OWS.
//
// HttpHeader     one field line
// HttpHeaders    the ordered list with get/getAll/has/set/append/delete/tokens
// asciiLower(s)  ASCII-only lower-casing for names and tokens

/** One field line: name as written, value without surrounding whitespace. */
export type HttpHeader = readonly [name: string, value: string];

/** Lower-cased forms of the usual field names (read-only), so lookups of them allocate nothing. */
const COMMON_LOWER: ReadonlyMap<string, string> = new Map(
  [
    "Host",
    "Content-Type",
    "Content-Length",
    "Transfer-Encoding",
    "Connection",
    "Date",
    "Server",
    "User-Agent",
    "Accept",
    "Accept-Encoding",
    "Expect",
    "Location",
    "Cache-Control",
    "Keep-Alive",
    "Upgrade",
    "Trailer",
  ].map((n) => [n, n.toLowerCase()]),
);

/** "A" and "Z" (named: a fuzz build hooks each comparison with a numeric literal, here one per char). */
const UPPER_A = 0x41,
  UPPER_Z = 0x5a;

/** Lower-cases ASCII only (header names are tokens; no locale rules). */
export function asciiLower(s: string): string {
  let out = s;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= UPPER_A && c <= UPPER_Z) {
      out = COMMON_LOWER.get(s) ?? s.toLowerCase();
      break;
    }
  }
  return out;
}

/** An ordered, case-insensitive view over field lines. */
export class HttpHeaders {
  /** The field lines; change them through set/append/delete so lookups stay in step. */
  readonly raw: HttpHeader[];
  /** Lower-cased names in step with `raw` (built on the first lookup, then kept up to date). */
  #lower: string[] | null = null;
  constructor(raw: HttpHeader[] = []) {
    this.raw = raw;
  }
  #names(): string[] {
    if (this.#lower === null || this.#lower.length !== this.raw.length) this.#lower = this.raw.map(([n]) => asciiLower(n));
    return this.#lower;
  }
  /** All values of `name`, in order. */
  getAll(name: string): string[] {
    const key = asciiLower(name);
    const names = this.#names();
    const out: string[] = [];
    for (let i = 0; i < names.length; i++) if (names[i] === key) out.push(this.raw[i]![1]);
    return out;
  }
  /** The combined value (RFC 9110 §5.3: joined with ", "), or undefined when absent. */
  get(name: string): string | undefined {
    const key = asciiLower(name);
    const names = this.#names();
    let value: string | undefined;
    for (let i = 0; i < names.length; i++) {
      if (names[i] === key) value = value === undefined ? this.raw[i]![1] : `${value}, ${this.raw[i]![1]}`;
    }
    return value;
  }
  has(name: string): boolean {
    return this.#names().includes(asciiLower(name));
  }
  /** The lower-cased names, in step with `raw` (read-only: change fields through the methods). */
  lowerNames(): readonly string[] {
    return this.#names();
  }
  /** Number of field lines with this name. */
  count(name: string): number {
    const key = asciiLower(name);
    let n = 0;
    for (const x of this.#names()) if (x === key) n++;
    return n;
  }
  /** Replaces every line named `name` with one line (or several for an array). */
  set(name: string, value: string | readonly string[]): void {
    const key = asciiLower(name);
    this.#deleteKey(key);
    const names = this.#names();
    if (typeof value === "string") {
      this.raw.push([name, value]);
      names.push(key);
    } else {
      for (const v of value) {
        this.raw.push([name, v]);
        names.push(key);
      }
    }
  }
  /** Adds a line; `lowerName` may pass the lower-cased name when the caller knows it. */
  append(name: string, value: string, lowerName?: string): void {
    const names = this.#names();
    this.raw.push([name, value]);
    names.push(lowerName ?? asciiLower(name));
  }
  delete(name: string): void {
    this.#deleteKey(asciiLower(name));
  }
  #deleteKey(key: string): void {
    const names = this.#names();
    for (let i = names.length - 1; i >= 0; i--) {
      if (names[i] === key) {
        this.raw.splice(i, 1);
        names.splice(i, 1);
      }
    }
  }
  /** The comma-separated list elements of `name`, trimmed and lower-cased (RFC 9110 §5.6.1). */
  tokens(name: string): string[] {
    return listTokens(this.getAll(name));
  }
  /** Lower-cased names to combined values, like node's `message.headers`. */
  toObject(): Record<string, string> {
    const out: Record<string, string> = {};
    for (const [n, v] of this.raw) {
      const k = asciiLower(n);
      out[k] = out[k] === undefined ? v : `${out[k]}, ${v}`;
    }
    return out;
  }
}

/**
 * Removes OWS (RFC 9110 §5.6.3: SP and HTAB only) from both ends. Not String.prototype.trim,
 * which also removes NBSP (0xA0) and other Unicode spaces: "\xa0chunked" is not "chunked"
 * (the llhttp differential found netlab framing such a request as chunked).
 */
export function trimOws(s: string): string {
  let a = 0,
    b = s.length;
  while (a < b && (s.charCodeAt(a) === 32 || s.charCodeAt(a) === 9)) a++;
  while (b > a && (s.charCodeAt(b - 1) === 32 || s.charCodeAt(b - 1) === 9)) b--;
  return a === 0 && b === s.length ? s : s.slice(a, b);
}

/** The comma-separated list elements of `values`, OWS-trimmed and lower-cased, empty ones dropped (RFC 9110 §5.6.1). */
export function listTokens(values: readonly string[]): string[] {
  const out: string[] = [];
  for (const v of values) {
    for (const part of v.split(",")) {
      const t = trimOws(part);
      if (t.length > 0) out.push(asciiLower(t));
    }
  }
  return out;
}
