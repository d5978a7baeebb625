// Measures heap per idle established connection between two stacks, for raw ByteStreams and
// for NetlabSocket wrappers. Run: node --expose-gc --import tsx harness/node/measure-heap.ts [N]
// Prints one JSON object: bytes of heap per connection endpoint (each connection has two).
import { once } from "node:events";
import { connect, createNodeServer, type NetlabSocket } from "./index.ts";
import { createNodeTestNet } from "./test-net.ts";
import type { ByteStream } from "../../stack/transport/types.ts";

const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) throw Object.assign(new Error("run with node --expose-gc"), { code: "ERR_NETLAB_NO_GC" });
const n = Number(process.argv[2] ?? 10_000);
const heap = (): number => {
  gc();
  gc();
  return process.memoryUsage().heapUsed;
};
const tcp = { maxConnections: 4 * n, backlog: 2 * n, synQueueSize: 2 * n } as const;

async function rawStreams(): Promise<number> {
  const net = createNodeTestNet({ tcp });
  const keep: ByteStream[] = [];
  const l = net.b.tcp.listen(80, { backlog: 2 * n });
  if (!l.ok) throw new Error(l.error);
  l.value.onConnection((s) => {
    keep.push(s);
    s.onData(() => undefined);
  });
  net.clock.run(10);
  const before = heap();
  for (let i = 0; i < n; i++) {
    const c = net.a.tcp.connect(0xc0000202, 80);
    if (!c.ok) throw new Error(c.error);
    c.value.onData(() => undefined);
    keep.push(c.value);
    if (i % 500 === 499) net.clock.run(net.clock.now() + 50);
  }
  net.clock.run(net.clock.now() + 1000);
  for (const s of keep) s.write(new Uint8Array(100));
  net.clock.run(net.clock.now() + 5000);
  const after = heap();
  if (net.a.tcp.connectionCount + net.b.tcp.connectionCount !== 2 * n)
    throw new Error(`only ${net.a.tcp.connectionCount + net.b.tcp.connectionCount} endpoints`);
  return (after - before) / (2 * n);
}

async function nodeSockets(): Promise<number> {
  const net = createNodeTestNet({ tcp });
  const keep: NetlabSocket[] = [];
  const server = createNodeServer(net.b, (s) => {
    keep.push(s);
    s.resume();
  });
  server.listen({ port: 80, backlog: 2 * n });
  await once(server, "listening");
  net.clock.run(10);
  const before = heap();
  for (let i = 0; i < n; i++) {
    const c = connect(net.a, { host: "192.0.2.2", port: 80 });
    c.resume();
    keep.push(c);
    if (i % 500 === 499) {
      net.clock.run(net.clock.now() + 50);
      await new Promise((r) => setImmediate(r));
    }
  }
  for (let i = 0; i < 20; i++) {
    net.clock.run(net.clock.now() + 100);
    await new Promise((r) => setImmediate(r));
  }
  for (const s of keep) s.write(Buffer.alloc(100));
  for (let i = 0; i < 50; i++) {
    net.clock.run(net.clock.now() + 100);
    await new Promise((r) => setImmediate(r));
  }
  const after = heap();
  if (keep.length !== 2 * n) throw new Error(`only ${keep.length} sockets`);
  return (after - before) / (2 * n);
}

const raw = await rawStreams();
const wrapped = await nodeSockets();
process.stdout.write(
  `${JSON.stringify({ connections: n, heapBytesPerEndpointByteStream: Math.round(raw), heapBytesPerEndpointNetlabSocket: Math.round(wrapped), node: process.version })}\n`,
);
