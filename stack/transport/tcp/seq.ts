// Sequence-number arithmetic modulo 2^32 (RFC 9293 §3.4): comparisons are by signed
// 32-bit difference, valid while the values are within 2^31 of each other.

/** a < b in sequence space. */
export function seqLt(a: number, b: number): boolean {
  return ((a - b) | 0) < 0;
}
/** a <= b in sequence space. */
export function seqLe(a: number, b: number): boolean {
  return ((a - b) | 0) <= 0;
}
/** a > b in sequence space. */
export function seqGt(a: number, b: number): boolean {
  return ((a - b) | 0) > 0;
}
/** a >= b in sequence space. */
export function seqGe(a: number, b: number): boolean {
  return ((a - b) | 0) >= 0;
}
/** a + n as an unsigned 32-bit sequence number. */
export function seqAdd(a: number, n: number): number {
  return (a + n) >>> 0;
}
/** The signed distance a - b (negative when a is before b). */
export function seqSub(a: number, b: number): number {
  return (a - b) | 0;
}
/** The larger of a and b in sequence space. */
export function seqMax(a: number, b: number): number {
  return seqGt(a, b) ? a : b;
}
/** The smaller of a and b in sequence space. */
export function seqMin(a: number, b: number): number {
  return seqLt(a, b) ? a : b;
}
