// The demo's TCP phase, shared by its IPv4 (demo.ts) and IPv6 (demo-ipv6.ts) halves: a sender
// writes TCP_BYTES of a byte pattern to the discard port in 16 KiB writes, following the stream's
// drain events, and notes when it connected and any error; the discard service on the other host
// checks every byte against the pattern and notes when the stream ended.
import type { Clock } from "../../../stack/time.ts";
import type { TcpListener, TcpStream } from "../../../stack/transport/types.ts";

export const TCP_PORT = 9;
export const TCP_BYTES = 256 * 1024;

/** What both halves record about their transfer. */
export interface DemoTcpProgress {
  startAt: number;
  error: string | undefined;
}

/** What the discard service records: bytes received, whether each was pattern(i), when the sender ended. */
export interface DemoTcpSinkProgress {
  received: number;
  intact: boolean;
  endAt: number;
}

/** The discard service (RFC 863) on `listener`: checks every byte against pattern(i), closes after the peer's end. */
export function sinkPattern(listener: TcpListener, pattern: (i: number) => number, tcp: DemoTcpSinkProgress, clock: Clock): void {
  listener.onConnection((s) => {
    s.onData((d) => {
      for (let i = 0; i < d.length; i++) if (d[i] !== pattern(tcp.received + i)) tcp.intact = false;
      tcp.received += d.length;
    });
    s.onEnd(() => {
      tcp.endAt = clock.now();
      s.end();
    });
  });
}

/** Sends TCP_BYTES of pattern(i) over stream once it connects, then ends it. */
export function sendPattern(stream: TcpStream, pattern: (i: number) => number, tcp: DemoTcpProgress, clock: Clock): void {
  let sent = 0;
  const pump = (): void => {
    while (sent < TCP_BYTES) {
      const n = Math.min(16384, TCP_BYTES - sent);
      const chunk = new Uint8Array(n);
      for (let i = 0; i < n; i++) chunk[i] = pattern(sent + i);
      sent += n;
      if (!stream.write(chunk)) return;
    }
    stream.end();
  };
  stream.onConnect(() => {
    tcp.startAt = clock.now();
    pump();
  });
  stream.onDrain(pump);
  stream.onClose((e) => {
    if (e !== undefined) tcp.error = e;
  });
}
