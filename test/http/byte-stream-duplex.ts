// Test adapter: a netlab ByteStream as a Node stream.Duplex, so node:http's client and
// server can run over in-memory stream pairs and netlab TCP. Backpressure maps both ways:
// push() returning false pauses the ByteStream, a false write() waits for onDrain.
import { Duplex } from "node:stream";
import type { ByteStream } from "../../stack/transport/types.ts";

/** Wraps a ByteStream; the Duplex has the socket-ish methods node:http calls. */
export function byteStreamToDuplex(s: ByteStream): Duplex {
  let pendingWrite: (() => void) | null = null;
  const d = new Duplex({
    allowHalfOpen: true,
    write(chunk: Buffer, _enc, cb) {
      if (s.write(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength))) cb();
      else pendingWrite = () => cb();
    },
    final(cb) {
      s.end();
      cb();
    },
    read() {
      s.resume();
    },
    destroy(e, cb) {
      s.destroy();
      cb(e);
    },
  });
  s.onDrain(() => {
    const w = pendingWrite;
    pendingWrite = null;
    w?.();
  });
  s.onData((chunk) => {
    if (!d.push(Buffer.from(chunk))) s.pause();
  });
  s.onEnd(() => d.push(null));
  s.onClose((e) => {
    if (e) d.destroy(Object.assign(new Error(e), { code: e }));
    else if (!d.destroyed) d.destroy();
  });
  const sock = d as Duplex & Record<string, unknown>;
  sock["setTimeout"] = () => d;
  sock["setNoDelay"] = (v?: boolean) => {
    s.setNoDelay(v ?? true);
    return d;
  };
  sock["setKeepAlive"] = () => d;
  sock["ref"] = () => d;
  sock["unref"] = () => d;
  sock["remoteAddress"] = `${s.remoteAddress >>> 24}.${(s.remoteAddress >>> 16) & 255}.${(s.remoteAddress >>> 8) & 255}.${s.remoteAddress & 255}`;
  sock["remotePort"] = s.remotePort;
  return d;
}
