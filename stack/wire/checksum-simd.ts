// The bulk of an RFC 1071 sum in WebAssembly SIMD (128-bit lanes): about 3× the DataView loop
// on 1460-byte segments, more on larger ones. The module is assembled below from its
// instructions (no build step, no binary blob) and compiled once, on first use; where
// WebAssembly or its SIMD proposal is missing (validate() fails), simdPartialSum() returns
// undefined and checksum.ts keeps its JavaScript loop.
// The module's linear memory is a scratch area: bytes are copied in, summed, and nothing is
// kept between calls (so the cache below holds no state a caller could observe).
//   simdPartialSum(bytes, start, end)  one's-complement partial sum of the first (end−start)&~63
//                                      bytes as big-endian words, folded to 16 bits (−1: no SIMD)

/** Bytes summed per call of the module: 4096 turns of 16 bytes keep each u32 lane below 2^32. */
const CHUNK = 65536;
/** The module's linear memory (2 pages): a range up to this long is copied in with one set(). */
const MEMORY_BYTES = 131072;

function leb128(n: number): number[] {
  const out: number[] = [];
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n !== 0) b |= 0x80;
    out.push(b);
  } while (n !== 0);
  return out;
}

/**
 * (func $sum (param $ptr i32) (param $len i32) (result i32)), $len a multiple of 64:
 * four v128 accumulators each take i32x4.extadd_pairwise_i16x8_u of one 16-byte load per turn
 * (the 16-bit words little-endian: RFC 1071 §2(B), byte order is fixed up after folding);
 * the result is the sum of the sixteen u32 lanes (below 2^32 for len ≤ 64 KiB).
 */
function moduleBytes(): Uint8Array {
  const section = (id: number, body: number[]): number[] => [id, ...leb128(body.length), ...body];
  const name = (s: string): number[] => [s.length, ...Array.from(s, (c) => c.charCodeAt(0))];
  const simd = (op: number): number[] => [0xfd, ...leb128(op)];
  const V128_LOAD = 0x00,
    I32X4_EXTRACT_LANE = 0x1b,
    I32X4_EXTADD_PAIRWISE_I16X8_U = 0x7f,
    I32X4_ADD = 0xae;
  const get = (i: number): number[] => [0x20, i];
  const set = (i: number): number[] => [0x21, i];
  const PTR = 0,
    LEN = 1,
    END = 2,
    ACC = 3;
  const turn = (k: number): number[] => [
    ...get(ACC + k),
    ...get(PTR),
    ...simd(V128_LOAD),
    4,
    ...leb128(16 * k),
    ...simd(I32X4_EXTADD_PAIRWISE_I16X8_U),
    ...simd(I32X4_ADD),
    ...set(ACC + k),
  ];
  const code = [
    2,
    1,
    0x7f,
    4,
    0x7b, // locals: $end i32, four v128 accumulators (zeroed)
    ...get(PTR),
    ...get(LEN),
    0x6a,
    ...set(END),
    0x02,
    0x40,
    0x03,
    0x40, // block, loop
    ...get(PTR),
    ...get(END),
    0x4f,
    0x0d,
    1, // br_if out when $ptr >= $end
    ...turn(0),
    ...turn(1),
    ...turn(2),
    ...turn(3),
    ...get(PTR),
    0x41,
    0xc0,
    0x00,
    0x6a,
    ...set(PTR), // $ptr += 64 (i32.const 64: signed LEB128 c0 00)
    0x0c,
    0,
    0x0b,
    0x0b, // br loop, end, end
    ...get(ACC),
    ...get(ACC + 1),
    ...simd(I32X4_ADD),
    ...get(ACC + 2),
    ...simd(I32X4_ADD),
    ...get(ACC + 3),
    ...simd(I32X4_ADD),
    ...set(ACC),
    ...get(ACC),
    ...simd(I32X4_EXTRACT_LANE),
    0,
    ...get(ACC),
    ...simd(I32X4_EXTRACT_LANE),
    1,
    0x6a,
    ...get(ACC),
    ...simd(I32X4_EXTRACT_LANE),
    2,
    0x6a,
    ...get(ACC),
    ...simd(I32X4_EXTRACT_LANE),
    3,
    0x6a,
    0x0b,
  ];
  return new Uint8Array([
    0x00,
    0x61,
    0x73,
    0x6d,
    1,
    0,
    0,
    0,
    ...section(1, [1, 0x60, 2, 0x7f, 0x7f, 1, 0x7f]), // type: (i32, i32) -> i32
    ...section(3, [1, 0]), // one function of type 0
    ...section(5, [1, 0, 2]), // memory: 2 pages (128 KiB)
    ...section(7, [2, ...name("mem"), 2, 0, ...name("sum"), 0, 0]),
    ...section(10, [1, ...leb128(code.length), ...code]),
  ]);
}

interface SimdSummer {
  readonly memory: Uint8Array;
  readonly sum: (ptr: number, len: number) => number;
}

let summer: SimdSummer | null | undefined;

/** The part of the WebAssembly JS API used here (the project's type libraries leave it out: no DOM). */
interface WebAssemblyApi {
  validate(bytes: Uint8Array): boolean;
  readonly Module: new (bytes: Uint8Array) => object;
  readonly Instance: new (module: object, imports: object) => { readonly exports: Record<string, unknown> };
}

function load(): SimdSummer | null {
  const wasm = (globalThis as { WebAssembly?: WebAssemblyApi }).WebAssembly;
  const bytes = moduleBytes();
  if (wasm === undefined || !wasm.validate(bytes)) return null;
  const instance = new wasm.Instance(new wasm.Module(bytes), {});
  const memory = instance.exports["mem"] as { readonly buffer: ArrayBuffer };
  return { memory: new Uint8Array(memory.buffer), sum: instance.exports["sum"] as (ptr: number, len: number) => number };
}

/**
 * The partial sum (folded to 16 bits, big-endian words as RFC 1071 defines them) of
 * bytes[start, start + ((end − start) & ~63)): the rest is the caller's; −1 when WebAssembly
 * SIMD is not available.
 */
export function simdPartialSum(bytes: Uint8Array, start: number, end: number): number {
  if (summer === undefined) summer = load();
  if (summer === null) return -1;
  const covered = (end - start) & ~63;
  let sum = 0;
  if (covered <= MEMORY_BYTES) {
    // one copy, of the array itself when the range is all of it (no view to make: a segment
    // checksummed whole); the bytes past `covered` are copied and left alone
    if (start === 0 && end === bytes.length && end <= MEMORY_BYTES) summer.memory.set(bytes, 0);
    else summer.memory.set(bytes.subarray(start, start + covered), 0);
    for (let off = 0; off < covered; off += CHUNK) sum += summer.sum(off, Math.min(CHUNK, covered - off)) >>> 0;
  } else {
    for (let off = 0; off < covered; off += CHUNK) {
      const n = Math.min(CHUNK, covered - off);
      summer.memory.set(bytes.subarray(start + off, start + off + n), 0);
      sum += summer.sum(0, n) >>> 0;
    }
  }
  while (sum > 0xffffffff) sum = (sum % 65536) + Math.floor(sum / 65536);
  sum = (sum & 0xffff) + (sum >>> 16);
  sum = (sum & 0xffff) + (sum >>> 16);
  // little-endian words summed: swap the folded sum's bytes (RFC 1071 §2(B))
  return ((sum & 0xff) << 8) | (sum >>> 8);
}
