// writeAll: streams `total` bytes of a repeated chunk into a ByteStream with backpressure
// (stops when write() returns false, resumes on drain), then ends the stream.
import type { ByteStream } from "./types.ts";

/** Starts writing when the stream connects (or at once if `connected`); returns bytes queued so far. */
export function writeAll(stream: ByteStream, total: number, chunk: Uint8Array, options: { connected?: boolean } = {}): () => number {
  let sent = 0;
  const pump = (): void => {
    while (sent < total) {
      const n = Math.min(chunk.length, total - sent);
      sent += n;
      if (!stream.write(n === chunk.length ? chunk : chunk.subarray(0, n))) return;
    }
    stream.end();
  };
  stream.onDrain(pump);
  if (options.connected === true) pump();
  else stream.onConnect(pump);
  return () => sent;
}
