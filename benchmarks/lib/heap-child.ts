// Child process of the memory suite (run with node --expose-gc --import tsx): opens N idle
// established connections between two full stacks, each having exchanged 100 bytes, and
// prints {"connections", "heapBytes", "perConnection"} as JSON on stdout.
// Usage: heap-child.ts N   (per connection = heap delta / 2N: both ends live in this heap)
import { twoStacks, ADDR_B } from "./sim.ts";
import type { ByteStream } from "../../stack/transport/types.ts";

const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) throw new Error("run with --expose-gc");
const n = Number(process.argv[2] ?? 1000);
/** Connections per listening port: well below the 16384 ephemeral ports per destination. */
const PER_PORT = 10_000;
const ports = Math.ceil(n / PER_PORT);
const net = twoStacks({ tcp: { maxConnections: 4 * n + 1000, synQueueSize: 4096, backlog: 4096 } });
const streams: ByteStream[] = [];
const sink = (): void => undefined;
for (let p = 0; p < ports; p++) {
  const l = net.b.tcp.listen(8000 + p, { backlog: 4096 });
  if (!l.ok) throw new Error(`listen: ${l.error}`);
  l.value.onConnection((s) => {
    streams.push(s);
    s.onData(sink);
  });
}
// ARP and listeners settled before the baseline.
net.clock.run(net.clock.now() + 10);
gc();
gc();
const before = process.memoryUsage().heapUsed;
const t0 = performance.now();
const BATCH = 1000;
for (let i = 0; i < n; i += BATCH) {
  for (let j = i; j < Math.min(n, i + BATCH); j++) {
    const r = net.a.tcp.connect(ADDR_B, 8000 + Math.floor(j / PER_PORT));
    if (!r.ok) throw new Error(`connect ${j}: ${r.error}`);
    r.value.onData(sink);
    streams.push(r.value);
  }
  net.clock.run(net.clock.now() + 5);
}
net.clock.run(net.clock.now() + 1000);
const payload = new Uint8Array(100);
for (const s of streams) s.write(payload);
net.clock.run(net.clock.now() + 5000);
gc();
gc();
const heapBytes = process.memoryUsage().heapUsed - before;
const established = net.a.tcp.connectionCount + net.b.tcp.connectionCount;
if (established !== 2 * n || net.b.tcp.stats.bytesReceived < 100 * n) {
  throw new Error(`expected ${2 * n} connections with 100 bytes each, have ${established} and ${net.b.tcp.stats.bytesReceived} bytes`);
}
process.stdout.write(
  JSON.stringify({
    connections: n,
    ends: established,
    heapBytes,
    perConnection: heapBytes / established,
    setupMs: Math.round(performance.now() - t0),
    streams: streams.length,
  }) + "\n",
);
