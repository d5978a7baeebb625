// The hostile-value generator of the xenbus handshake targets (xenbus-hostile,
// xenbus-blk-hostile, xenbus-blkfront-hostile, xenbus-netfront-hostile): the text the other end
// writes into one xenstore key, chosen by one input byte and maybe a few more. The committed
// corpora decode through it, so the mapping from bytes to values is part of those corpora:
// change a shape and every saved input means something else.
//   hostileValue(key, good, pick, next, own)   absent, the right value, or a hostile one
// A target that names its code under test (instrumentOnly) lists HOSTILE_VALUE_MODULE among it,
// so this module is instrumented like the target itself was when it held the generator: its
// branches on input bytes are coverage (harness/fuzz/runner.ts bundleTarget).

/** This module's path, for a target's `instrumentOnly`. */
export const HOSTILE_VALUE_MODULE = "harness/fuzz/kit/hostile-value.ts";

/** One hostile shape: the value from the key's right value and more input bytes (`next`). */
export type HostileShape = (good: string, next: () => number, key: string) => string;

/** A target's own shapes, by the low nibble of the pick they replace. */
export type HostileShapes = Readonly<Partial<Record<number, HostileShape>>>;

/** The shapes by the pick's low nibble, unless a target replaces one. */
const SHAPES: readonly HostileShape[] = [
  () => "",
  (good) => `-${good}`,
  (good) => (/^[0-9]+$/.test(good) ? `0x${Number(good).toString(16)}` : good.toUpperCase()),
  (good) => ` ${good}`,
  (good) => `${good}abc`,
  () => "4294967296",
  () => "99999999999999999999",
  (_good, next) => "7".repeat(100 + next()),
  (_good, next) => String.fromCharCode(0xe9, next() | 0x80, 0x31),
  // 2^53 + 1: no double holds it.
  () => "9007199254740993",
  (good, next) => String(Math.max(0, Number(good) + next() - 128)),
  (_good, next) => String(next() * 256 + next()),
  (good) => `${good}\u0000`,
  () => "0",
  (good) => `${good}.0`,
  (good) => `+${good}`,
];

/**
 * The value `key` gets from the input byte `pick`: absent (undefined) below 0x40, the right value
 * `good` below 0xa0, else the hostile shape the pick's low nibble names (the target's own in
 * `own`, else the default): empty, negative, hexadecimal (a non-number upper-cased), padded,
 * trailing garbage, 2^32, 20 digits, a long string, bytes above 0x7f, 2^53 + 1, a number near the
 * right one, a number from the input, a NUL at the end, zero, a decimal fraction, a plus sign.
 */
export function hostileValue(key: string, good: string, pick: number, next: () => number, own: HostileShapes = {}): string | undefined {
  if (pick < 0x40) return undefined;
  if (pick < 0xa0) return good;
  const shape = own[pick & 15] ?? SHAPES[pick & 15]!;
  return shape(good, next, key);
}
