// writeAll / writeBuffer: stream bytes into a ByteStream with backpressure (stop when write()
// returns false, resume on drain), then end the stream. writeAll repeats one chunk up to a total;
// writeBuffer sends a buffer in slices of at most `sliceBytes`.
import type { ByteStream } from "./types.ts";

/** Options of writeAll and writeBuffer. */
export interface WriteAllOptions {
  /** Start at once instead of on connect (the stream is already connected). */
  readonly connected?: boolean;
}

function pumpInto(stream: ByteStream, total: number, sliceBytes: number, slice: (offset: number, n: number) => Uint8Array, options: WriteAllOptions): () => number {
  let sent = 0;
  const pump = (): void => {
    while (sent < total) {
      const n = Math.min(sliceBytes, total - sent);
      const at = sent;
      sent += n;
      if (!stream.write(slice(at, n))) return;
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
  return pumpInto(stream, total, chunk.length, (_at, n) => (n === chunk.length ? chunk : chunk.subarray(0, n)), options);
}

/** Writes all of `buffer` in slices of at most `sliceBytes` (default 64 KiB); returns the bytes queued so far. */
export function writeBuffer(stream: ByteStream, buffer: Uint8Array, options: WriteAllOptions & { readonly sliceBytes?: number } = {}): () => number {
  return pumpInto(stream, buffer.length, options.sliceBytes ?? 65536, (at, n) => buffer.subarray(at, at + n), options);
}
