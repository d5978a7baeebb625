// Child process of impaired-path.ts: one netlab TCP endpoint on a tap of its own, so that the
// impairment element (another process) never shares a JS thread with the stack it measures.
// Usage: node --import tsx impaired-endpoint.ts '<EndpointSpec as JSON>'
// The tap (spec.tap) exists already, bridged to the element's tap by the parent; this process
// attaches to it, builds the stack on the real clock and
//   receiver: listens on spec.port, prints {"event":"ready"}, counts the bytes of one connection,
//             answers its FIN with one and prints {"event":"done","received":N,...};
//   sender:   waits until spec.peer answers an ICMP echo (the bridge forwards, ARP is resolved:
//             a SYN sent before would be lost and cost the 1 s SYN timeout inside the measured
//             time), then connects to spec.peer:spec.port, writes spec.bytes, ends, waits for
//             the receiver's FIN and prints {"event":"done","seconds":S,"stats":{...},"info":{...}}.
// stats is the TCP layer's counters (retransmits, timeouts, ...), info the connection's
// TcpInfo at the end; an error prints {"event":"error","message":...} and exits 1.
import { openTap } from "../../harness/tap/index.ts";
import { createRealClock } from "../../harness/time/real-clock.ts";
import { createStack, type Stack } from "../../stack/index.ts";
import { createRng } from "../../stack/time.ts";
import type { ByteStream, TcpStream } from "../../stack/transport/types.ts";

/** What the parent asks of this endpoint. */
export interface EndpointSpec {
  readonly role: "sender" | "receiver";
  readonly tap: string;
  /** This stack's address on a /24 (0xc0000201 = 192.0.2.1). */
  readonly address: number;
  /** The other end's address (the sender connects to it, after it answers pings). */
  readonly peer: number;
  readonly port: number;
  readonly bytes: number;
  readonly congestionControl: "cubic" | "newreno" | "bbr";
  readonly seed: number;
  readonly timeoutMs: number;
}

/** The line a finished endpoint prints. */
export interface EndpointDone {
  readonly event: "done";
  /** Sender: connect() until the receiver's FIN; receiver: first to last byte. */
  readonly seconds: number;
  readonly received: number;
  /** CPU seconds (user + system, all threads) this process spent on the transfer (sender: from
   * connect(); receiver: from the first byte). */
  readonly cpuSeconds: number;
  readonly stats: Readonly<Record<string, number>>;
  readonly info: Readonly<Record<string, unknown>> | undefined;
}

/** Resolves once `peer` answers an ICMP echo; rejects after `timeoutMs`. */
async function reachable(stack: Stack, peer: number, timeoutMs: number): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  for (let seq = 1; performance.now() < deadline; seq++) {
    const answered = await new Promise<boolean>((resolve) => stack.icmp.ping(peer, { seq, timeoutMs: 200 }, (r) => resolve(r.ok)));
    if (answered) return;
  }
  throw new Error(`${peer >>> 24}.${(peer >>> 16) & 255}.${(peer >>> 8) & 255}.${peer & 255} did not answer pings for ${timeoutMs} ms`);
}

const say = (o: object): void => {
  process.stdout.write(`${JSON.stringify(o)}\n`);
};

async function main(spec: EndpointSpec): Promise<void> {
  const clock = createRealClock();
  const tap = await openTap({ name: spec.tap });
  const stack = createStack(
    { device: tap, clock, rng: createRng(spec.seed) },
    { ipv4: { cidr: { address: spec.address, prefixLength: 24 } }, tcp: { congestionControl: spec.congestionControl } },
  );
  const stats = (): Record<string, number> => ({ ...stack.tcp.stats }) as unknown as Record<string, number>;
  let cpu0 = process.cpuUsage();
  const finish = (s: ByteStream, seconds: number, received: number): void => {
    const info = (s as Partial<TcpStream>).info?.();
    const cpu = process.cpuUsage(cpu0);
    const done: EndpointDone = {
      event: "done",
      seconds,
      received,
      cpuSeconds: (cpu.user + cpu.system) / 1e6,
      stats: stats(),
      info: info === undefined ? undefined : { ...info },
    };
    say(done);
  };
  const timeout = setTimeout(() => {
    say({ event: "error", message: `no end of the transfer after ${spec.timeoutMs} ms` });
    process.exit(1);
  }, spec.timeoutMs);
  if (spec.role === "receiver") {
    const l = stack.tcp.listen(spec.port);
    if (!l.ok) throw new Error(`listen: ${l.error}`);
    l.value.onConnection((s) => {
      let received = 0;
      let t0 = 0;
      s.onData((d) => {
        if (received === 0) {
          t0 = performance.now();
          cpu0 = process.cpuUsage();
        }
        received += d.length;
      });
      s.onEnd(() => {
        s.end();
        clearTimeout(timeout);
        finish(s, (performance.now() - t0) / 1000, received);
      });
    });
    say({ event: "ready" });
    return;
  }
  await reachable(stack, spec.peer, 10_000);
  const t0 = performance.now();
  cpu0 = process.cpuUsage();
  const c = stack.tcp.connect(spec.peer, spec.port, { congestionControl: spec.congestionControl });
  if (!c.ok) throw new Error(`connect: ${c.error}`);
  const s = c.value;
  const chunk = new Uint8Array(65536).map((_, i) => i & 0xff);
  let left = spec.bytes;
  const pump = (): void => {
    while (left > 0) {
      const n = Math.min(chunk.length, left);
      left -= n;
      if (!s.write(n === chunk.length ? chunk : chunk.subarray(0, n))) return;
    }
    s.end();
  };
  s.onConnect(pump);
  s.onDrain(pump);
  // Done when the receiver's FIN arrives after the last byte (as a Linux sender's recv() returning 0).
  s.onEnd(() => {
    clearTimeout(timeout);
    finish(s, (performance.now() - t0) / 1000, 0);
  });
  s.onClose((e) => {
    if (e !== undefined) {
      say({ event: "error", message: `netlab sender: ${e}` });
      process.exit(1);
    }
  });
}

main(JSON.parse(process.argv[2] ?? "{}") as EndpointSpec).catch((e: unknown) => {
  say({ event: "error", message: e instanceof Error ? e.message : String(e) });
  process.exit(1);
});
