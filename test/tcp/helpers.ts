// Helpers for TCP scenario tests: two full stacks (createStack) on a simulated wire, a
// bulk sender with backpressure, and an incremental FNV-1a/32 ×2 digest of what arrived.
import { createStack, type Stack } from "../../stack/index.ts";
import { createPointToPointLink, createDevicePair, withCapture, type ImpairmentOptions, type PacketSink } from "../../stack/link/index.ts";
import type { NetDevice } from "../../stack/link/types.ts";
import { createRng, createVirtualClock, type VirtualClock } from "../../stack/time.ts";
import type { ByteStream } from "../../stack/transport/types.ts";
import type { TcpLayerOptions } from "../../stack/transport/tcp/index.ts";
import { unwrap } from "../../stack/result.ts";

export interface TwoStacks {
  readonly clock: VirtualClock;
  readonly a: Stack;
  readonly b: Stack;
  readonly addrA: number;
  readonly addrB: number;
}

/** Two stacks 192.0.2.1 and 192.0.2.2 on a point-to-point wire with impairments both ways. */
export function twoStacks(o: { seed?: number; impair?: ImpairmentOptions; mtu?: number; tcpA?: TcpLayerOptions; tcpB?: TcpLayerOptions; offload?: boolean; tso?: boolean; capture?: PacketSink } = {}): TwoStacks {
  const clock = createVirtualClock(0);
  const seed = o.seed ?? 1;
  const mtu = o.mtu ?? 1500;
  let devA: NetDevice, devB: NetDevice;
  if (o.offload === true) {
    const pair = createDevicePair(clock, { mtu, offloads: o.tso === true ? { txChecksum: true, tso: true, maxGsoFrame: 65536 } : { txChecksum: true, tso: false, maxGsoFrame: 0 } });
    devA = pair.a; devB = pair.b;
  } else {
    const link = createPointToPointLink({ clock, rng: createRng(seed ^ 0x1234567) }, {
      a: { mac: 0x020000000001, mtu, ...(o.impair ? { impairments: o.impair } : {}) },
      b: { mac: 0x020000000002, mtu, ...(o.impair ? { impairments: o.impair } : {}) },
    });
    devA = link.a; devB = link.b;
  }
  if (o.capture !== undefined) devA = withCapture(devA, o.capture, { clock, name: "a" });
  const a = createStack({ device: devA, clock, rng: createRng(seed * 2 + 1) }, { name: "a", ipv4: { cidr: "192.0.2.1/24" }, ...(o.tcpA ? { tcp: o.tcpA } : {}) });
  const b = createStack({ device: devB, clock, rng: createRng(seed * 2 + 2) }, { name: "b", ipv4: { cidr: "192.0.2.2/24" }, ...(o.tcpB ? { tcp: o.tcpB } : {}) });
  return { clock, a, b, addrA: 0xc0000201, addrB: 0xc0000202 };
}

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
      if (mismatch < 0) for (let i = 0; i < d.length; i++) if (d[i] !== patternByte(received + i)) { mismatch = received + i; break; }
      received += d.length;
    },
    received: () => received,
    mismatchAt: () => mismatch,
  };
}

/** Runs a one-way bulk transfer a -> b of `total` bytes; returns what happened. */
export function bulkTransfer(net: { clock: VirtualClock; a: { tcp: Stack["tcp"] }; b: { tcp: Stack["tcp"] }; addrB: number }, total: number, opts: { port?: number; cc?: "cubic" | "newreno"; maxVirtualMs?: number } = {}) {
  const port = opts.port ?? 5001;
  const listener = unwrap(net.b.tcp.listen(port));
  const check = patternChecker();
  let ended = false;
  let serverClosed: string | undefined | null = null;
  let clientClosed: string | undefined | null = null;
  let doneAt = -1;
  listener.onConnection((s) => {
    s.onData(check.onData);
    s.onEnd(() => { ended = true; doneAt = net.clock.now(); s.end(); });
    s.onClose((e) => { serverClosed = e; });
  });
  const c = unwrap(net.a.tcp.connect(net.addrB, port, opts.cc ? { congestionControl: opts.cc } : {}));
  const sender = sendPattern(c, total) as { sent: () => number; start: () => void };
  c.onConnect(() => sender.start());
  c.onClose((e) => { clientClosed = e; });
  const wall0 = performance.now();
  net.clock.run(opts.maxVirtualMs ?? 3_600_000);
  const wallMs = performance.now() - wall0;
  return {
    received: check.received(), mismatchAt: check.mismatchAt(), ended, doneAt, wallMs,
    serverClosed: serverClosed as string | undefined | null, clientClosed: clientClosed as string | undefined | null,
  };
}
