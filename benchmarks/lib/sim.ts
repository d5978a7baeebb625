// Simulation fixtures shared by the benchmark suites: two full stacks (createStack) on a
// simulated wire in one thread and virtual time, a bulk sender that measures wall and CPU
// time, and the figure conversions.
// twoStacks(options)       two stacks 192.0.2.1 / 192.0.2.2 on a point-to-point wire (optionally veth-like) or a TSO pair;
//                          with ipv6 also 2001:db8::1 / 2001:db8::2, and bulk() runs over TCP over IPv6
// createOffloadWire()      a NetDevice pair passing GSO frames (no frame log, unlike createDevicePair)
// bulk(net, bytes)         one-way transfer a -> b; wall ms, CPU ms, virtual ms, retransmits
// gbits(bytes, ms)         bytes over milliseconds as Gbit/s
import { createStack, type Stack } from "../../stack/index.ts";
import { createPointToPointLink, type ImpairmentOptions } from "../../stack/link/index.ts";
import type { Frame, NetDevice, Offloads } from "../../stack/link/types.ts";
import { createRng, createVirtualClock, type VirtualClock } from "../../stack/time.ts";
import type { TcpLayerOptions } from "../../stack/transport/tcp/index.ts";
import type { ByteStream } from "../../stack/transport/types.ts";
import { PerformanceObserver } from "node:perf_hooks";
import { writeAll } from "../../stack/transport/write-all.ts";
import { ipv6 } from "../../stack/wire/ipv6-address.ts";

export const ADDR_A = 0xc0000201;
export const ADDR_B = 0xc0000202;
export const ADDR_B6 = "2001:db8::2";

export interface TwoStacks {
  readonly clock: VirtualClock;
  readonly a: Stack;
  readonly b: Stack;
  /** bulk() goes over TCP over IPv6 (stack.tcp6). */
  readonly ipv6?: boolean;
  /** How bulk()'s receiver reads (TwoStacksOptions.read). */
  readonly read?: "view" | "copy";
}

export interface TwoStacksOptions {
  /** IP MTU of the wire (default 1500). */
  readonly mtu?: number;
  /** Use a TSO/checksum-offload pair carrying frames up to 64 KiB instead of the wire. */
  readonly gso?: boolean;
  /** veth-like wire ends: no checksum computed or verified (LinkEndOptions.checksumUnnecessary). */
  readonly checksumUnnecessary?: boolean;
  /** One-way delay in ms (default 0.05). */
  readonly delayMs?: number;
  /** Extra impairments of both directions of the wire (rate limit, queue...). */
  readonly impair?: ImpairmentOptions;
  readonly tcp?: TcpLayerOptions;
  /** Wraps device a (e.g. a capture tap). */
  readonly wrapA?: (d: NetDevice, clock: VirtualClock) => NetDevice;
  readonly seed?: number;
  /** Also give the stacks IPv6 (2001:db8::1 / ::2, set by hand, DAD and RS off) and run bulk() over it. */
  readonly ipv6?: boolean;
  /**
   * bulk()'s receiver: "view" (default) takes onData views; "copy" reads into one 64 KiB buffer
   * (ByteStream.onRead, as recv() into a user buffer), so the receiving stack gives every frame
   * back to the sender's recycler (Frame.release) and 64 KiB GSO buffers are reused, not allocated.
   */
  readonly read?: "view" | "copy";
}

/** A NetDevice pair with TSO and checksum offload: frames (up to maxGsoFrame) are handed over whole after delayMs. */
export function createOffloadWire(clock: VirtualClock, mtu: number, delayMs: number): { a: NetDevice; b: NetDevice } {
  const offloads: Offloads = { txChecksum: true, tso: true, maxGsoFrame: 65536 };
  const handlers: [(f: Frame) => void, (f: Frame) => void] = [() => {}, () => {}];
  const make = (self: 0 | 1, mac: number): NetDevice => ({
    mac,
    mtu,
    offloads,
    send(frame) {
      const peer = handlers[self ^ 1]!;
      const off = frame.offload;
      // The receiving driver reports the checksum as validated (what netback / a tap with GRO does).
      // The wire holds the frame until it hands it over once: its release (Frame.release) goes along.
      const delivered: Frame =
        off === undefined
          ? frame
          : {
              data: frame.data,
              offload: { ...off, csumBlank: false, dataValidated: true },
              ...(frame.release === undefined ? {} : { release: frame.release }),
            };
      clock.setTimer(clock.now() + delayMs, () => peer(delivered));
    },
    onReceive(h) {
      handlers[self] = h;
    },
  });
  return { a: make(0, 0x020000000001), b: make(1, 0x020000000002) };
}

/** Two stacks on a clean simulated wire. */
export function twoStacks(o: TwoStacksOptions = {}): TwoStacks {
  const clock = createVirtualClock(0);
  const mtu = o.mtu ?? 1500;
  const delayMs = o.delayMs ?? 0.05;
  let devA: NetDevice, devB: NetDevice;
  if (o.gso === true) {
    const w = createOffloadWire(clock, mtu, delayMs);
    devA = w.a;
    devB = w.b;
  } else {
    const veth = o.checksumUnnecessary === true ? { checksumUnnecessary: true } : {};
    const link = createPointToPointLink(
      { clock, rng: createRng(7) },
      {
        a: { mac: 0x020000000001, mtu, impairments: { delayMs, ...o.impair }, ...veth },
        b: { mac: 0x020000000002, mtu, impairments: { delayMs, ...o.impair }, ...veth },
      },
    );
    devA = link.a;
    devB = link.b;
  }
  if (o.wrapA !== undefined) devA = o.wrapA(devA, clock);
  const seed = o.seed ?? 1;
  const tcp = o.tcp === undefined ? {} : { tcp: o.tcp };
  const v6 = (addr: string) => (o.ipv6 === true ? { ipv6: { addresses: [`${addr}/64`], dadTransmits: 0, routerSolicitations: false } } : {});
  const a = createStack({ device: devA, clock, rng: createRng(seed * 2 + 1) }, { name: "a", ipv4: { cidr: "192.0.2.1/24" }, ...v6("2001:db8::1"), ...tcp });
  const b = createStack({ device: devB, clock, rng: createRng(seed * 2 + 2) }, { name: "b", ipv4: { cidr: "192.0.2.2/24" }, ...v6(ADDR_B6), ...tcp });
  if (o.ipv6 === true) clock.run(clock.now());
  return { clock, a, b, ...(o.ipv6 === true ? { ipv6: true } : {}), ...(o.read === undefined ? {} : { read: o.read }) };
}

/** What one bulk transfer did. */
export interface BulkResult {
  readonly bytes: number;
  readonly wallMs: number;
  readonly cpuMs: number;
  readonly virtualMs: number;
  readonly retransmits: number;
  readonly segmentsSent: number;
  /** TCP segments both stacks sent per segment the sender sent (data and ACKs: 1.5 with an ACK every second segment). */
  readonly framesPerDataSegment: number;
}

/**
 * Sends `total` bytes a -> b (one 64 KiB chunk written repeatedly: TCP keeps large writes by
 * reference, so this measures the stack, not the test's buffer filling), the receiver counts
 * them; the clock runs until both sides closed. Throws if bytes are missing.
 */
export function bulk(net: TwoStacks, total: number, o: { port?: number; onClient?: (s: ByteStream) => void; onDone?: () => void } = {}): BulkResult {
  const port = o.port ?? 5001;
  const chunk = new Uint8Array(65536).fill(0x5a);
  const tcpA = net.ipv6 === true ? net.a.tcp6!.layer : net.a.tcp;
  const tcpB = net.ipv6 === true ? net.b.tcp6!.layer : net.b.tcp;
  const lr = tcpB.listen(port);
  if (!lr.ok) throw new Error(`listen: ${lr.error}`);
  let received = 0;
  let doneAt = -1;
  const into = net.read === "copy" ? new Uint8Array(65536) : undefined;
  lr.value.onConnection((s) => {
    if (into !== undefined)
      s.onRead(into, (n) => {
        received += n;
      });
    else
      s.onData((d) => {
        received += d.length;
      });
    s.onEnd(() => {
      doneAt = net.clock.now();
      o.onDone?.();
      s.end();
    });
  });
  const cr = net.ipv6 === true ? net.a.tcp6!.connect(ipv6(ADDR_B6), port) : net.a.tcp.connect(ADDR_B, port);
  if (!cr.ok) throw new Error(`connect: ${cr.error}`);
  const c = cr.value;
  o.onClient?.(c);
  writeAll(c, total, chunk);
  const v0 = net.clock.now();
  const retx0 = tcpA.stats.retransmits,
    seg0 = tcpA.stats.segmentsSent,
    segB0 = tcpB.stats.segmentsSent;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  net.clock.run(v0 + 600_000);
  const wallMs = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);

  lr.value.close();
  if (received !== total) throw new Error(`bulk transfer: received ${received} of ${total} bytes`);
  return {
    bytes: total,
    wallMs,
    cpuMs: (cpu.user + cpu.system) / 1000,
    virtualMs: doneAt - v0,
    retransmits: tcpA.stats.retransmits - retx0,
    segmentsSent: tcpA.stats.segmentsSent - seg0,
    framesPerDataSegment: (tcpA.stats.segmentsSent - seg0 + tcpB.stats.segmentsSent - segB0) / Math.max(1, tcpA.stats.segmentsSent - seg0),
  };
}

/**
 * Runs `fn` and returns its result with the milliseconds V8 spent in garbage collection meanwhile
 * (perf_hooks 'gc' entries, which Node delivers on a later turn of the event loop).
 */
export async function withGcTime<T>(fn: () => T): Promise<{ result: T; gcMs: number }> {
  let gcMs = 0;
  const observer = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) gcMs += e.duration;
  });
  observer.observe({ entryTypes: ["gc"] });
  const result = fn();
  await new Promise((r) => setImmediate(r));
  await new Promise((r) => setTimeout(r, 10));
  for (const e of observer.takeRecords()) gcMs += e.duration;
  observer.disconnect();
  return { result, gcMs };
}

/** bytes over ms as Gbit/s. */
export function gbits(bytes: number, ms: number): number {
  return (bytes * 8) / (ms / 1000) / 1e9;
}

/** CPU milliseconds (user + system) of this process since `from`. */
export function cpuMsSince(from: NodeJS.CpuUsage): number {
  const c = process.cpuUsage(from);
  return (c.user + c.system) / 1000;
}
