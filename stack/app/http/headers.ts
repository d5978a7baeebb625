// Header fields as received or to be sent: an ordered list of (name, value) pairs with
// case-insensitive lookup (RFC 9110 §5.1). Values are latin1 strings, already trimmed of OWS.

/** One field line: name as written, value without surrounding whitespace. */
export type HttpHeader = readonly [name: string, value: string];

/** Lower-cases ASCII only (header names are tokens; no locale rules). */
export function asciiLower(s: string): string {
  let out = s;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 65 && c <= 90) { out = s.toLowerCase(); break; }
  }
  return out;
}

/** An ordered, case-insensitive view over field lines. */
export class HttpHeaders {
  readonly raw: HttpHeader[];
  constructor(raw: HttpHeader[] = []) {
    this.raw = raw;
  }
  /** All values of `name`, in order. */
  getAll(name: string): string[] {
    const key = asciiLower(name);
    const out: string[] = [];
    for (const [n, v] of this.raw) if (n.length === key.length && asciiLower(n) === key) out.push(v);
    return out;
  }
  /** The combined value (RFC 9110 §5.3: joined with ", "), or undefined when absent. */
  get(name: string): string | undefined {
    const all = this.getAll(name);
    return all.length === 0 ? undefined : all.join(", ");
  }
  has(name: string): boolean {
    const key = asciiLower(name);
    for (const [n] of this.raw) if (n.length === key.length && asciiLower(n) === key) return true;
    return false;
  }
  /** Number of field lines with this name. */
  count(name: string): number {
    return this.getAll(name).length;
  }
  /** Replaces every line named `name` with one line (or several for an array). */
  set(name: string, value: string | readonly string[]): void {
    this.delete(name);
    if (typeof value === "string") this.raw.push([name, value]);
    else for (const v of value) this.raw.push([name, v]);
  }
  append(name: string, value: string): void {
    this.raw.push([name, value]);
  }
  delete(name: string): void {
    const key = asciiLower(name);
    for (let i = this.raw.length - 1; i >= 0; i--) {
      const n = this.raw[i]![0];
      if (n.length === key.length && asciiLower(n) === key) this.raw.splice(i, 1);
    }
  }
  /** The comma-separated list elements of `name`, trimmed and lower-cased (RFC 9110 §5.6.1). */
  tokens(name: string): string[] {
    const out: string[] = [];
    for (const v of this.getAll(name)) {
      for (const part of v.split(",")) {
        const t = part.trim();
        if (t.length > 0) out.push(asciiLower(t));
      }
    }
    return out;
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
