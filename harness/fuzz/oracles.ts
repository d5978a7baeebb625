// Oracles for fuzz targets: checks that see the silent misparses JavaScript hides. An
// out-of-bounds read of a Uint8Array gives `undefined` (which `<<`, `|` and `+` quietly turn into
// 0 or NaN) and `subarray` clamps an end past the buffer without a word, so a parser that reads
// past what it validated passes every "does not throw" check. These oracles make that visible:
// - guarded(bytes): a view that throws on any index read outside it and on any subarray/slice
//   whose end lies past it (the parser relied on a silent clamp);
// - tail independence: bytes past a header's declared end are mutated and the header parsed
//   again; what it parsed must not change;
// - chunking invariance: a stream parser fed the same bytes in other pieces gives the same result;
// - sameValue: deep equality where byte arrays compare by content, for round trips and differentials.
// Every failure throws an OracleError naming the oracle and the input in hex, which the engines
// report as a finding.
//
// Cost: a Proxy read costs a few hundred nanoseconds (the index arrives as a string), so a guarded
// parse is ~8x a plain one, and feeding a stream parser byte by byte costs one call per byte. Both
// are therefore sampled *deterministically from the bytes*: a view is guarded, and a stream fed byte
// by byte, when the CRC-32 of those bytes falls in 1 of SAMPLE_ONE_IN (the same input always gets
// the same checks, so a finding reproduces; a bug that an input triggers is triggered by its
// mutations too, and 1 in 8 of them is checked). NETLAB_FUZZ_CHECK_ALL=1 checks every input
// (corpus replay in npm test sets it). The cheap oracles (shadow lengths, tail independence,
// chunking by a split, round trips) run on every input.
import { crc32 } from "node:zlib";
import { NetlabError } from "../../stack/error.ts";

/** A finding of an oracle (never thrown by the stack itself). */
export class OracleError extends NetlabError {
  declare readonly code: "ERR_FUZZ_ORACLE";
  constructor(
    readonly oracle: string,
    message: string,
  ) {
    super("ERR_FUZZ_ORACLE", `${oracle}: ${message}`);
    this.name = "OracleError";
  }
}

/** Throws an OracleError that carries the input (truncated to 512 bytes) in hex. */
export function fail(oracle: string, what: string, input?: Uint8Array): never {
  const hex = input === undefined ? "" : `\n  in: ${Buffer.from(input.subarray(0, 512)).toString("hex")}${input.length > 512 ? "…" : ""}`;
  throw new OracleError(oracle, what + hex);
}

/** One in this many inputs gets the costly checks (guarded views, byte-by-byte feeding). */
export const SAMPLE_ONE_IN = 8;
const CHECK_ALL = typeof process !== "undefined" && process.env["NETLAB_FUZZ_CHECK_ALL"] === "1";

/**
 * Whether `bytes` get the costly checks: always under NETLAB_FUZZ_CHECK_ALL=1, else when their
 * CRC-32 (salted, so that nested views are chosen independently) is 0 mod SAMPLE_ONE_IN.
 */
export function sampledForCostlyChecks(bytes: Uint8Array, salt = 0): boolean {
  if (CHECK_ALL) return true;
  return (crc32(bytes, salt) >>> 0) % SAMPLE_ONE_IN === 0;
}

const unguard = new WeakMap<object, Uint8Array>();
let textDecoderPatched = false;

/** The real bytes behind a guarded view (or the argument itself). */
export function unwrapGuarded<T>(v: T): T {
  return (typeof v === "object" && v !== null ? (unguard.get(v) as T | undefined) : undefined) ?? v;
}

/**
 * The guarded view's get trap, made with `new Function`: it runs on every read of a guarded view,
 * and Jazzer.js instruments code as modules load, so written here it would call a comparison
 * hook for each of its tests (the harness's tests, not the target's, costing more than the read).
 * Code made by `new Function` is not instrumented. The logic: an integer key at or past the
 * length, "-1", "NaN" or "undefined" is an out-of-bounds read; subarray and slice check their
 * range first (subarray's result is guarded too); anything else is the typed array's own,
 * methods bound to it.
 */
const makeGetTrap = new Function(
  "length",
  "oob",
  "checkRange",
  "wrap",
  `
  return function get(target, key) {
    if (typeof key === "string") {
      const c = key.charCodeAt(0);
      if (c >= 48 && c <= 57) {
        const i = Number(key);
        if (Number.isInteger(i)) {
          if (i >= length) oob(key, true);
          return target[i];
        }
      }
      if (key === "-1" || key === "NaN" || key === "undefined") oob(key, false);
      if (key === "subarray") return (begin, end) => { checkRange("subarray", begin, end); return wrap(target.subarray(begin, end)); };
      if (key === "slice") return (begin, end) => { checkRange("slice", begin, end); return target.slice(begin, end); };
    }
    const v = Reflect.get(target, key, target);
    return typeof v === "function" ? v.bind(target) : v;
  };
`,
) as (
  length: number,
  oob: (key: string, index: boolean) => never,
  checkRange: (method: string, begin: unknown, end: unknown) => void,
  wrap: (sub: Uint8Array) => Uint8Array,
) => unknown;

/**
 * `guardedView(bytes, label)` for the inputs sampledForCostlyChecks chooses, else `bytes` itself
 * (see the cost note at the top). Targets call this one.
 */
export function guarded(bytes: Uint8Array, label = "input"): Uint8Array {
  return sampledForCostlyChecks(bytes, 0x67756172) ? guardedView(bytes, label) : bytes;
}

/**
 * A view of `bytes` that throws an OracleError on a read of an index outside [0, length) and on
 * subarray()/slice() with a start or end past length (clamping that hid a missing bound check).
 * Views made by subarray are guarded too. Host APIs that need a real typed array (TextDecoder)
 * are given the real bytes. Writes go through to the bytes.
 */
export function guardedView(bytes: Uint8Array, label = "input"): Uint8Array {
  if (!textDecoderPatched) {
    // The fuzz process's own instrumentation, like a sanitizer's interceptor: TextDecoder.decode
    // refuses a Proxy, so it is handed the real view behind a guarded one.
    const proto = TextDecoder.prototype as { decode: (this: unknown, input?: unknown, options?: unknown) => string };
    const decode = proto.decode;
    proto.decode = function (this: unknown, input?: unknown, options?: unknown): string {
      return decode.call(this, unwrapGuarded(input), options);
    };
    textDecoderPatched = true;
  }
  const length = bytes.length;
  const checkRange = (method: string, begin: unknown, end: unknown): void => {
    const b = begin === undefined ? 0 : Number(begin);
    const e = end === undefined ? length : Number(end);
    // Negative arguments count from the end (a deliberate idiom, in range by construction).
    if ((b >= 0 && b > length) || (e >= 0 && e > length)) {
      fail("out-of-bounds", `${label}.${method}(${String(begin)}, ${String(end)}) on ${length} bytes (clamped silently)`);
    }
  };
  const proxy: Uint8Array = new Proxy(bytes, {
    get: makeGetTrap(
      length,
      (key: string, index: boolean) => fail("out-of-bounds", index ? `read of ${label}[${key}] on ${length} bytes` : `read of ${label}[${key}]`),
      (method: string, begin: unknown, end: unknown) => {
        checkRange(method, begin, end);
      },
      (sub: Uint8Array) => guardedView(sub, label),
    ) as NonNullable<ProxyHandler<Uint8Array>["get"]>,
  });
  unguard.set(proxy, bytes);
  return proxy;
}

/** Deep equality in which typed arrays compare by their bytes. */
export function sameValue(a: unknown, b: unknown): boolean {
  if (Object.is(a, b)) return true;
  if (ArrayBuffer.isView(a) && ArrayBuffer.isView(b)) {
    if (a.byteLength !== b.byteLength) return false;
    // Native comparison: a byte loop here would be instrumented (a coverage hook per byte).
    const x = a instanceof Uint8Array ? a : new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
    const y = b instanceof Uint8Array ? b : new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
    return Buffer.compare(x, y) === 0;
  }
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (a instanceof Map && b instanceof Map) {
    if (a.size !== b.size) return false;
    for (const [k, v] of a) if (!b.has(k) || !sameValue(v, b.get(k))) return false;
    return true;
  }
  const ka = Object.keys(a),
    kb = Object.keys(b);
  if (ka.length !== kb.length) return false;
  for (const k of ka) if (!sameValue((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k])) return false;
  return true;
}

/**
 * The first index where two byte arrays differ (or where one ends), -1 when they are equal;
 * compared natively first (a byte loop in a target is instrumented per byte under Jazzer.js).
 */
export function firstDifference(a: Uint8Array, b: Uint8Array): number {
  if (a.length === b.length && Buffer.compare(a, b) === 0) return -1;
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return i;
  return n;
}

/** A printable form of a value for messages (byte arrays in hex). */
export function show(v: unknown): string {
  return JSON.stringify(v, (_k, x: unknown) =>
    ArrayBuffer.isView(x) ? `<${Buffer.from(x.buffer, x.byteOffset, x.byteLength).toString("hex")}>` : typeof x === "bigint" ? String(x) : x,
  );
}

/**
 * Tail independence: `parse(bytes)` gave `first`; the bytes from `end` on are inverted and the
 * result parsed again; its `project`ion (the header, without views of the tail) must not change.
 * A parser that read past the header's declared end (into payload or padding) is caught here.
 */
export function checkTailIndependent<T>(
  what: string,
  bytes: Uint8Array,
  end: number,
  first: T,
  parse: (b: Uint8Array) => T | undefined,
  project: (v: T) => unknown,
): void {
  if (end < 0 || end > bytes.length) fail("bounds", `${what}: declared end ${end} outside ${bytes.length} bytes`, bytes);
  if (end === bytes.length) return;
  const copy = bytes.slice();
  for (let i = end; i < copy.length; i++) copy[i] = ~copy[i]! & 0xff;
  const second = parse(copy);
  if (second === undefined || !sameValue(project(first), project(second))) {
    fail(
      "tail-independence",
      `${what}: changing bytes ${end}..${bytes.length} (past the declared end) changed the parse\n  was: ${show(project(first))}\n  now: ${second === undefined ? "error" : show(project(second))}`,
      bytes,
    );
  }
}

/** Splits `bytes` into pieces at cut points derived from `seed` (deterministic; 1..n pieces). */
export function chunks(bytes: Uint8Array, seed: number, maxPieces = 6): Uint8Array[] {
  const out: Uint8Array[] = [];
  let at = 0,
    s = seed >>> 0 || 1;
  for (let k = 1; k < maxPieces && at < bytes.length; k++) {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    const next = at + 1 + (s % Math.max(1, bytes.length - at));
    if (next >= bytes.length) break;
    out.push(bytes.subarray(at, next));
    at = next;
  }
  out.push(bytes.subarray(at));
  return out;
}

/**
 * Chunking invariance: `run(pieces)` must give the same value for the whole input and split pieces
 * (`split`, or cut points from `seed`; every input), and byte by byte (inputs up to 2 KiB that
 * sampledForCostlyChecks chooses).
 */
export function checkChunkInvariant<T>(what: string, bytes: Uint8Array, run: (pieces: Uint8Array[]) => T, seed: number, split?: Uint8Array[]): T {
  const whole = run([bytes]);
  const splits: Array<[string, Uint8Array[]]> = [["split", split ?? chunks(bytes, seed)]];
  if (bytes.length <= 2048 && sampledForCostlyChecks(bytes, 0x62797465)) splits.push(["byte by byte", Array.from(bytes, (_, i) => bytes.subarray(i, i + 1))]);
  for (const [how, pieces] of splits) {
    const other = run(pieces);
    if (!sameValue(whole, other)) {
      fail(
        "chunking",
        `${what}: fed ${how} (${pieces.map((p) => p.length).join("+")}) the result differs\n  whole: ${show(whole).slice(0, 400)}\n  ${how}: ${show(other).slice(0, 400)}`,
        bytes,
      );
    }
  }
  return whole;
}

/**
 * Runs `run` with Error.stackTraceLimit 0, and once more with the usual limit when it throws, so
 * that the error thrown (a finding) carries its stack. For targets whose code under test makes
 * errors as values on most inputs (an HttpStreamError per malformed message: capturing the stack
 * was a quarter of such an input's time) and whose inputs are independent of each other (the same
 * input throws the same way again). If the second run does not throw, the first error is thrown.
 */
export function withoutStacks(run: () => void): void {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    run();
  } catch (first) {
    Error.stackTraceLimit = limit;
    run();
    throw first;
  } finally {
    Error.stackTraceLimit = limit;
  }
}
