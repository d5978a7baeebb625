// writeAll / writeBuffer: stream bytes into a ByteStream with backpressure (stop when write()
// returns false, resume on drain), then end the stream. writeAll repeats one chunk up to a total
// (optionally in slices, none crossing the chunk's end, so a large pattern can be cycled);
// writeBuffer sends a buffer once in slices of at most `sliceBytes`.
import type { ByteStream } from "./types.ts";

/** Options of writeAll and writeBuffer. */
export interface WriteAllOptions {
  /** Start at once instead of on connect (the stream is already connected). */
  readonly connected?: boolean;
  /** Largest write (default: writeAll the chunk's length, writeBuffer 64 KiB). */
  readonly sliceBytes?: number;
}

/** Writes `total` bytes of `pattern` repeated, each write at most `sliceBytes` and within one repetition. */
function pumpRepeated(stream: ByteStream, total: number, pattern: Uint8Array, sliceBytes: number, options: WriteAllOptions): () => number {
  let sent = 0;
  const period = pattern.length;
  const slice = Math.max(1, sliceBytes);
  const pump = (): void => {
    while (sent < total) {
      const off = sent % period;
      const n = Math.min(slice, total - sent, period - off);
      sent += n;
      if (!stream.write(off === 0 && n === period ? pattern : pattern.subarray(off, off + n))) return;
    }
    stream.end();
  };
  stream.onDrain(pump);
  if (options.connected === true) pump();
  else stream.onConnect(pump);
  return () => sent;
}

/** Writes `total` bytes of `chunk` repeated; returns a function giving the bytes queued so far. */
export function writeAll(stream: ByteStream, total: number, chunk: Uint8Array, options: WriteAllOptions = {}): () => number {
  if (chunk.length === 0 && total > 0) throw new RangeError("writeAll: empty chunk");
  return pumpRepeated(stream, total, chunk, options.sliceBytes ?? chunk.length, options);
}

/** Writes all of `buffer` in slices of at most `sliceBytes` (default 64 KiB); returns the bytes queued so far. */
export function writeBuffer(stream: ByteStream, buffer: Uint8Array, options: WriteAllOptions = {}): () => number {
  return pumpRepeated(stream, buffer.length, buffer, options.sliceBytes ?? 65536, options);
}
