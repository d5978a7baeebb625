// Seeded transfer payload shared by the single-thread and threaded xen-transfer runs:
// xorshift32 words (fast enough not to dominate a measurement).
//   createPayloadFiller(seed)   fill(chunk) continues the stream into chunk

import { createRng } from "../../stack/time.ts";

/** Returns a function that fills successive chunks with the seed's byte stream (chunks of 4-byte multiples except the last). */
export function createPayloadFiller(seed: number): (chunk: Uint8Array) => void {
  let x = (createRng(seed ^ 0x5a5a5a5a).nextU32() | 1) >>> 0;
  return (chunk) => {
    const n = chunk.length >>> 2;
    const words = chunk.byteOffset % 4 === 0 ? new Uint32Array(chunk.buffer, chunk.byteOffset, n) : undefined;
    for (let i = 0; i < n; i++) {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      if (words) words[i] = x;
      else {
        chunk[i * 4] = x & 255;
        chunk[i * 4 + 1] = (x >>> 8) & 255;
        chunk[i * 4 + 2] = (x >>> 16) & 255;
        chunk[i * 4 + 3] = x >>> 24;
      }
    }
    for (let i = n * 4; i < chunk.length; i++) chunk[i] = i & 0xff;
  };
}
