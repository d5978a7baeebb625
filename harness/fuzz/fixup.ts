// Structure-aware helpers for frame fuzz targets: split an input into frames, and repair
// IPv4/ICMP/UDP/TCP checksums after mutation so inputs reach past the checksum checks.
import { checksumAdd, checksumFinish, internetChecksum, pseudoHeaderSum } from "../../stack/wire/checksum.ts";

/** Splits `data` into records of [u16 big-endian length][bytes] (a short tail is the last record). */
export function splitRecords(data: Uint8Array, maxRecords = 64): Uint8Array[] {
  const out: Uint8Array[] = [];
  let i = 0;
  while (i + 2 <= data.length && out.length < maxRecords) {
    const len = (data[i]! << 8) | data[i + 1]!;
    i += 2;
    out.push(data.subarray(i, Math.min(data.length, i + len)));
    i += len;
  }
  return out;
}

/** Joins frames into the record format splitRecords reads. */
export function joinRecords(frames: Uint8Array[]): Uint8Array {
  const total = frames.reduce((n, f) => n + 2 + f.length, 0);
  const out = new Uint8Array(total);
  let i = 0;
  for (const f of frames) {
    out[i] = f.length >>> 8;
    out[i + 1] = f.length & 0xff;
    out.set(f, i + 2);
    i += 2 + f.length;
  }
  return out;
}

/** Recomputes the checksums of an Ethernet/IPv4 frame in place, where its lengths allow. */
export function fixChecksums(frame: Uint8Array): void {
  let off = 14;
  if (frame.length < 14) return;
  let type = (frame[12]! << 8) | frame[13]!;
  if (type === 0x8100 && frame.length >= 18) {
    type = (frame[16]! << 8) | frame[17]!;
    off = 18;
  }
  if (type !== 0x0800 || frame.length < off + 20) return;
  const ihl = (frame[off]! & 0x0f) * 4;
  if (ihl < 20 || frame.length < off + ihl) return;
  frame[off + 10] = 0;
  frame[off + 11] = 0;
  const hc = internetChecksum(frame.subarray(off, off + ihl));
  frame[off + 10] = hc >>> 8;
  frame[off + 11] = hc & 0xff;
  const total = (frame[off + 2]! << 8) | frame[off + 3]!;
  const fragment = ((frame[off + 6]! << 8) | frame[off + 7]!) & 0x3fff;
  if (fragment !== 0 || total < ihl || frame.length < off + total) return;
  const l4 = frame.subarray(off + ihl, off + total);
  const protocol = frame[off + 9]!;
  const src = ((frame[off + 12]! << 24) | (frame[off + 13]! << 16) | (frame[off + 14]! << 8) | frame[off + 15]!) >>> 0;
  const dst = ((frame[off + 16]! << 24) | (frame[off + 17]! << 16) | (frame[off + 18]! << 8) | frame[off + 19]!) >>> 0;
  const field = protocol === 1 ? 2 : protocol === 17 ? 6 : protocol === 6 ? 16 : -1;
  if (field < 0 || l4.length < field + 2) return;
  l4[field] = 0;
  l4[field + 1] = 0;
  let c = protocol === 1 ? internetChecksum(l4) : checksumFinish(checksumAdd(l4, pseudoHeaderSum(src, dst, protocol, l4.length)));
  if (protocol === 17 && c === 0) c = 0xffff;
  l4[field] = c >>> 8;
  l4[field + 1] = c & 0xff;
}
