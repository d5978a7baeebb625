// Heap cost of idle established connections (target: at most 2 KiB each) and of TIME-WAIT
// (target: at most 256 bytes each, issue 19).
import { describe, expect, it } from "vitest";
import v8 from "node:v8";
import vm from "node:vm";
import { createTcpPathPair } from "../../stack/transport/tcp/test-peer.ts";
import { unwrap } from "../../stack/result.ts";
import type { ByteStream } from "../../stack/transport/types.ts";

v8.setFlagsFromString("--expose-gc");
const gc = vm.runInNewContext("gc") as () => void;

describe("TCP memory", () => {
  it("an idle established connection that has exchanged data costs at most 2 KiB of heap", () => {
    const N = 3000;
    const p = createTcpPathPair({ impair: { delayMs: 1 } });
    const l = unwrap(p.b.listen(80, { backlog: N * 2 }));
    const streams: ByteStream[] = [];
    const sink = (): void => undefined;
    l.onConnection((s) => {
      streams.push(s);
      s.onData(sink);
    });
    p.clock.run(10);
    gc();
    gc();
    const before = process.memoryUsage().heapUsed;
    for (let i = 0; i < N; i++) {
      const c = unwrap(p.a.connect(p.addrB, 80));
      c.onData(sink);
      streams.push(c);
    }
    p.clock.run(p.clock.now() + 1000);
    for (const s of streams) s.write(new Uint8Array(100));
    p.clock.run(p.clock.now() + 5000);
    gc();
    gc();
    const perConnection = (process.memoryUsage().heapUsed - before) / (2 * N);
    expect(p.a.connectionCount + p.b.connectionCount).toBe(2 * N);
    expect(p.b.stats.bytesReceived).toBe(100 * N);
    expect(p.clock.pending()).toBe(0);
    expect(perConnection).toBeLessThan(2048);
  });

  it("a TIME-WAIT costs at most 256 bytes of heap: the layer keeps a record, not the connection, its buffers or the application's handlers", () => {
    const N = 4000;
    const p = createTcpPathPair({ impair: { delayMs: 1 }, b: { mslMs: 30_000 } });
    const l = unwrap(p.b.listen(80, { backlog: N * 2 }));
    // an HTTP/1.0-like server: reply, then close first (so the server holds the TIME-WAIT); each
    // connection's handlers hold 4 KiB of application state, which must not outlive it
    l.onConnection((s) => {
      const appState = new Uint8Array(4096);
      s.onData(() => {
        appState[0] = 1;
        s.write(new Uint8Array(200));
        s.end();
      });
      s.onEnd(() => undefined);
      s.onClose(() => {
        appState[1] = 1;
      });
    });
    const round = (): void => {
      for (let i = 0; i < N; i++) {
        const c = unwrap(p.a.connect(p.addrB, 80));
        c.onConnect(() => c.write(new Uint8Array(100)));
        c.onData(() => undefined);
        c.onEnd(() => c.end());
      }
      p.clock.run(p.clock.now() + 5000);
    };
    round(); // warm-up: pools, slabs and tables at their working size
    p.clock.run(p.clock.now() + 61_000);
    expect(p.b.timeWaitCount).toBe(0);
    gc();
    gc();
    const before = process.memoryUsage().heapUsed;
    round();
    gc();
    gc();
    const perTimeWait = (process.memoryUsage().heapUsed - before) / N;
    expect(p.b.timeWaitCount).toBe(N);
    expect(p.b.connectionCount).toBe(N);
    expect(p.a.connectionCount).toBe(0);
    expect(perTimeWait).toBeLessThan(256);
    p.clock.run(p.clock.now() + 61_000);
    expect(p.b.connectionCount).toBe(0);
    expect(p.clock.pending()).toBe(0);
    console.log(`heap per TIME-WAIT: ${perTimeWait.toFixed(0)} B`);
  });
});
