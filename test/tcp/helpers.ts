// Helpers for TCP scenario tests between two full stacks (createTwoStacks / createTwoStacksOnLink
// in stack/net/test-net.ts): a bulk sender with backpressure and a checker of what arrived.
import type { Stack } from "../../stack/index.ts";
import { B_IP } from "../../stack/net/test-net.ts";
import type { VirtualClock } from "../../stack/time.ts";
import type { ByteStream } from "../../stack/transport/types.ts";
import { unwrap } from "../../stack/result.ts";

/** Deterministic pattern byte i of a test stream. */
export function patternByte(i: number): number {
  return (i * 131 + (i >>> 11) * 7 + (i >>> 19)) & 0xff;
}

/** Fills `buf` with pattern bytes starting at stream offset `start`. */
export function fillPattern(buf: Uint8Array, start: number): void {
  for (let i = 0; i < buf.length; i++) buf[i] = patternByte(start + i);
}

/** Writes `total` pattern bytes to a stream with backpressure (onDrain), then end(). */
export function sendPattern(s: ByteStream, total: number, chunk = 65536): { readonly sent: () => number } {
  let sent = 0;
  const pump = (): void => {
    while (sent < total) {
      const n = Math.min(chunk, total - sent);
      const b = new Uint8Array(n);
      fillPattern(b, sent);
      sent += n;
      if (!s.write(b)) return;
    }
    s.end();
  };
  s.onDrain(pump);
  return { sent: () => sent, ...{ start: pump } } as { sent: () => number; start: () => void };
}

/** Verifies received bytes against the pattern incrementally (no buffering). */
export function patternChecker(): { onData: (d: Uint8Array) => void; readonly received: () => number; readonly mismatchAt: () => number } {
  let received = 0;
  let mismatch = -1;
  return {
    onData(d) {
      if (mismatch < 0)
        for (let i = 0; i < d.length; i++)
          if (d[i] !== patternByte(received + i)) {
            mismatch = received + i;
            break;
          }
      received += d.length;
    },
    received: () => received,
    mismatchAt: () => mismatch,
  };
}

/** Runs a one-way bulk transfer a -> b (at `opts.to`, default B_IP) of `total` bytes; returns what happened. */
export function bulkTransfer(
  net: { clock: VirtualClock; a: { tcp: Stack["tcp"] }; b: { tcp: Stack["tcp"] } },
  total: number,
  opts: { port?: number; cc?: "cubic" | "newreno"; maxVirtualMs?: number; to?: number } = {},
) {
  const port = opts.port ?? 5001;
  const listener = unwrap(net.b.tcp.listen(port));
  const check = patternChecker();
  let ended = false;
  let serverClosed: string | undefined | null = null;
  let clientClosed: string | undefined | null = null;
  let doneAt = -1;
  listener.onConnection((s) => {
    s.onData(check.onData);
    s.onEnd(() => {
      ended = true;
      doneAt = net.clock.now();
      s.end();
    });
    s.onClose((e) => {
      serverClosed = e;
    });
  });
  const c = unwrap(net.a.tcp.connect(opts.to ?? B_IP, port, opts.cc ? { congestionControl: opts.cc } : {}));
  const sender = sendPattern(c, total) as { sent: () => number; start: () => void };
  c.onConnect(() => sender.start());
  c.onClose((e) => {
    clientClosed = e;
  });
  const wall0 = performance.now();
  net.clock.run(opts.maxVirtualMs ?? 3_600_000);
  const wallMs = performance.now() - wall0;
  return {
    received: check.received(),
    mismatchAt: check.mismatchAt(),
    ended,
    doneAt,
    wallMs,
    serverClosed: serverClosed as string | undefined | null,
    clientClosed: clientClosed as string | undefined | null,
  };
}
