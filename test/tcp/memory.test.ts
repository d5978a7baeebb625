// Heap cost of idle established connections (target: at most 2 KiB each).
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
    l.onConnection((s) => { streams.push(s); s.onData(sink); });
    p.clock.run(10);
    gc(); gc();
    const before = process.memoryUsage().heapUsed;
    for (let i = 0; i < N; i++) {
      const c = unwrap(p.a.connect(p.addrB, 80));
      c.onData(sink);
      streams.push(c);
    }
    p.clock.run(p.clock.now() + 1000);
    for (const s of streams) s.write(new Uint8Array(100));
    p.clock.run(p.clock.now() + 5000);
    gc(); gc();
    const perConnection = (process.memoryUsage().heapUsed - before) / (2 * N);
    expect(p.a.connectionCount + p.b.connectionCount).toBe(2 * N);
    expect(p.b.stats.bytesReceived).toBe(100 * N);
    expect(p.clock.pending()).toBe(0);
    expect(perConnection).toBeLessThan(2048);
  });
});
