// NetlabSocket / NetlabServer between two netlab stacks, in virtual time driven by the
// clock pump: events, errno codes, backpressure, receive window, timers, half-close.
import { describe, expect, it } from "vitest";
import { once } from "node:events";
import type { TcpConnection } from "../../stack/transport/tcp/index.ts";
import { connect, createNodeServer, type NetlabSocket } from "./index.ts";
import { withClockPump } from "./clock-pump.ts";
import { createNodeTestNet } from "./test-net.ts";

function collect(s: NetlabSocket): { readonly bytes: () => Buffer; readonly done: Promise<Buffer> } {
  const parts: Buffer[] = [];
  s.on("data", (d: Buffer) => parts.push(d));
  const done = once(s, "end").then(() => Buffer.concat(parts));
  return { bytes: () => Buffer.concat(parts), done };
}

function pattern(n: number, seed = 7): Buffer {
  const b = Buffer.allocUnsafe(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + seed + (i >>> 8)) & 0xff;
  return b;
}

describe("NetlabSocket and NetlabServer", () => {
  it("connect emits 'connect', both ends report dotted addresses and ports, data echoes, and end/close run like net.Socket", async () => {
    const net = createNodeTestNet();
    await withClockPump(net.clock, async () => {
      const server = createNodeServer(net.b, (s) => s.pipe(s));
      await once(server.listen(7000), "listening");
      expect(server.address()).toEqual({ address: "0.0.0.0", family: "IPv4", port: 7000 });
      const accepted = once(server, "connection");
      const c = connect(net.a, { host: "192.0.2.2", port: 7000 });
      expect([c.connecting, c.pending, c.readyState]).toEqual([true, true, "opening"]);
      await once(c, "connect");
      const [s] = (await accepted) as [NetlabSocket];
      expect([c.connecting, c.readyState, c.remoteAddress, c.remotePort, c.remoteFamily, c.localAddress]).toEqual([
        false,
        "open",
        "192.0.2.2",
        7000,
        "IPv4",
        "192.0.2.1",
      ]);
      expect(c.address()).toEqual({ address: "192.0.2.1", family: "IPv4", port: c.localPort });
      expect(c.localPort).toBeGreaterThanOrEqual(49152);
      expect([s.remoteAddress, s.remotePort, s.localAddress, s.localPort]).toEqual(["192.0.2.1", c.localPort, "192.0.2.2", 7000]);
      const got = collect(c);
      const payload = pattern(300_000);
      c.end(payload);
      expect((await got.done).equals(payload)).toBe(true);
      const [hadError] = (await once(c, "close")) as [boolean];
      expect(hadError).toBe(false);
      expect([c.bytesWritten, c.bytesRead, s.bytesRead, s.bytesWritten]).toEqual([300_000, 300_000, 300_000, 300_000]);
      await new Promise<void>((r) => server.close(() => r()));
      expect(server.address()).toBeNull();
    });
  });

  it("a connection to a closed port fails with ECONNREFUSED shaped like libuv's error, then 'close' with hadError", async () => {
    const net = createNodeTestNet();
    await withClockPump(net.clock, async () => {
      const c = connect(net.a, { host: "192.0.2.2", port: 81 });
      const [e] = (await once(c, "error").catch((x: unknown) => [x])) as [NodeJS.ErrnoException & { address: string; port: number }];
      expect([e.code, e.errno, e.syscall, e.address, e.port, e.message]).toEqual([
        "ECONNREFUSED",
        -111,
        "connect",
        "192.0.2.2",
        81,
        "connect ECONNREFUSED 192.0.2.2:81",
      ]);
      const [hadError] = (await once(c, "close")) as [boolean];
      expect([hadError, c.destroyed, c.connecting]).toEqual([true, true, false]);
    });
  });

  it("resetAndDestroy() on one side gives the other ECONNRESET", async () => {
    const net = createNodeTestNet();
    await withClockPump(net.clock, async () => {
      const server = createNodeServer(net.b, (s) => s.once("data", () => s.resetAndDestroy()));
      await once(server.listen(7001), "listening");
      const c = connect(net.a, { host: "192.0.2.2", port: 7001 });
      c.write("hello");
      const [e] = (await once(c, "error").catch((x: unknown) => [x])) as [NodeJS.ErrnoException];
      expect([e.code, e.syscall]).toEqual(["ECONNRESET", "read"]);
      expect(net.a.tcp.stats.resetsReceived).toBe(1);
      await once(server.close(), "close");
    });
  });

  it("keepalive probes on a cut wire end the connection with ETIMEDOUT after idle + probes x interval of virtual time", async () => {
    const net = createNodeTestNet({ tcp: { keepAliveIntervalMs: 1000, keepAliveProbes: 3 } });
    await withClockPump(
      net.clock,
      async () => {
        const server = createNodeServer(net.b, () => undefined);
        await once(server.listen(7002), "listening");
        const c = connect(net.a, { host: "192.0.2.2", port: 7002, keepAlive: true, keepAliveInitialDelay: 5000 });
        await once(c, "connect");
        net.link.setLinkUp(false);
        const t0 = net.clock.now();
        const [e] = (await once(c, "error").catch((x: unknown) => [x])) as [NodeJS.ErrnoException];
        expect(e.code).toBe("ETIMEDOUT");
        const elapsed = net.clock.now() - t0;
        expect(elapsed).toBeGreaterThanOrEqual(5000 + 3 * 1000 - 5);
        expect(elapsed).toBeLessThan(5000 + 4 * 1000 + 5);
      },
      { stepMs: 50 },
    );
  });

  it("after the peer's FIN a socket without allowHalfOpen answers write() with EPIPE; with allowHalfOpen it keeps writing", async () => {
    const net = createNodeTestNet();
    await withClockPump(net.clock, async () => {
      let serverGot = Buffer.alloc(0);
      const server = createNodeServer(net.b, { allowHalfOpen: true }, (s) => {
        s.on("data", (d: Buffer) => {
          serverGot = Buffer.concat([serverGot, d]);
        });
        s.end("bye");
      });
      await once(server.listen(7003), "listening");
      const strict = connect(net.a, { host: "192.0.2.2", port: 7003 });
      strict.resume();
      await once(strict, "end");
      const err = once(strict, "error");
      expect(strict.write("late")).toBe(false);
      const [e] = (await err) as [NodeJS.ErrnoException];
      expect([e.code, e.message]).toEqual(["EPIPE", "This socket has been ended by the other party"]);

      const half = connect(net.a, { host: "192.0.2.2", port: 7003, allowHalfOpen: true });
      const got = collect(half);
      expect((await got.done).toString()).toBe("bye");
      expect(half.readyState).toBe("writeOnly");
      half.end("still here");
      const [hadError] = (await once(half, "close")) as [boolean];
      expect(hadError).toBe(false);
      expect(serverGot.toString()).toBe("still here");
      await once(server.close(), "close");
    });
  });

  it("a paused reader closes the receive window to zero, the writer sees write() false, and 'drain' follows resume() with every byte intact", async () => {
    const net = createNodeTestNet();
    await withClockPump(
      net.clock,
      async () => {
        const accepted = once(createNodeServer(net.b).listen(7004), "connection");
        const c = connect(net.a, { host: "192.0.2.2", port: 7004 });
        await once(c, "connect");
        const [s] = (await accepted) as [NetlabSocket];
        s.pause();
        const parts: Buffer[] = [];
        s.on("data", (d: Buffer) => parts.push(d));
        s.pause();
        const total = 4 << 20;
        const data = pattern(total, 3);
        const accepted64k: boolean[] = [];
        for (let offset = 0; offset < total; offset += 65536) accepted64k.push(c.write(data.subarray(offset, offset + 65536)));
        expect(accepted64k[0]).toBe(true);
        expect(accepted64k.at(-1)).toBe(false);
        // let the transfer run into the closed window (the persist timer keeps virtual time moving)
        const until = net.clock.now() + 3000;
        for (let i = 0; i < 1_000_000 && net.clock.now() < until && net.clock.pending() > 0; i++) await new Promise((r) => setImmediate(r));
        const conn = s.byteStream as TcpConnection;
        expect(conn.info().receiveWindow).toBe(0);
        expect((c.byteStream as TcpConnection).info().sendWindow).toBe(0);
        expect(c.writableNeedDrain).toBe(true);
        expect(s.bytesRead).toBeLessThan(total - (2 << 20));
        const drained = once(c, "drain");
        s.resume();
        await drained;
        c.end();
        await once(s, "end");
        expect(Buffer.concat(parts).equals(data)).toBe(true);
      },
      { stepMs: 5 },
    );
  });

  it("a write waiting for 'drain' fails with ECONNRESET when the paused peer resets, and 'error' comes once", async () => {
    const net = createNodeTestNet();
    await withClockPump(
      net.clock,
      async () => {
        const accepted = once(createNodeServer(net.b).listen(7009), "connection");
        const c = connect(net.a, { host: "192.0.2.2", port: 7009 });
        const errors: string[] = [];
        c.on("error", (e: NodeJS.ErrnoException) => errors.push(e.code ?? "?"));
        await once(c, "connect");
        const [s] = (await accepted) as [NetlabSocket];
        s.pause();
        const callbacks: (string | null)[] = [];
        for (let i = 0; i < 64; i++) c.write(Buffer.alloc(65536, i), (e) => callbacks.push(e ? ((e as NodeJS.ErrnoException).code ?? "?") : null));
        for (let i = 0; i < 2000 && (s.byteStream as TcpConnection).info().receiveWindow > 0; i++) await new Promise((r) => setImmediate(r));
        expect(c.writableNeedDrain).toBe(true);
        s.resetAndDestroy();
        await new Promise<void>((r) => c.once("close", () => r()));
        expect(errors).toEqual(["ECONNRESET"]);
        expect(callbacks.filter((x) => x === null).length).toBeGreaterThan(0);
        expect(callbacks.length).toBe(64);
        expect(callbacks.filter((x) => x !== null).every((x) => x === "ECONNRESET" || x === "ERR_STREAM_DESTROYED")).toBe(true);
        expect(callbacks).toContain("ECONNRESET");
      },
      { stepMs: 5 },
    );
  });

  it("setTimeout() emits 'timeout' after exactly the idle time on the stack's clock, and activity pushes it back", async () => {
    const net = createNodeTestNet();
    await withClockPump(
      net.clock,
      async () => {
        const server = createNodeServer(net.b, (s) => s.on("data", () => undefined));
        await once(server.listen(7005), "listening");
        const c = connect(net.a, { host: "192.0.2.2", port: 7005 });
        await once(c, "connect");
        const t0 = net.clock.now();
        c.setTimeout(1000);
        expect(c.timeout).toBe(1000);
        await new Promise<void>((r) =>
          net.clock.setTimer(t0 + 600, () => {
            c.write("x");
            r();
          }),
        );
        await once(c, "timeout");
        expect(net.clock.now()).toBe(t0 + 1600);
        c.setTimeout(0);
        c.destroy();
        await once(c, "close");
        await once(server.close(), "close");
      },
      { stepMs: 20 },
    );
  });

  it("setNoDelay(true) sends two small writes at once, while Nagle holds the second until the first is acknowledged", async () => {
    const net = createNodeTestNet({ impair: { delayMs: 10 } });
    await withClockPump(net.clock, async () => {
      const server = createNodeServer(net.b, (s) => s.resume());
      await once(server.listen(7006), "listening");
      const nagle = connect(net.a, { host: "192.0.2.2", port: 7006 });
      await once(nagle, "connect");
      let before = net.a.tcp.stats.segmentsSent;
      nagle.write("a");
      nagle.write("b");
      expect(net.a.tcp.stats.segmentsSent - before).toBe(1);
      const quick = connect(net.a, { host: "192.0.2.2", port: 7006 }).setNoDelay(true);
      await once(quick, "connect");
      before = net.a.tcp.stats.segmentsSent;
      quick.write("a");
      quick.write("b");
      expect(net.a.tcp.stats.segmentsSent - before).toBe(2);
      nagle.destroy();
      quick.destroy();
      await once(server.close(), "close");
    });
  });

  it("server close() stops accepting at once (ECONNREFUSED) but emits 'close' only after its last connection closed", async () => {
    const net = createNodeTestNet();
    await withClockPump(net.clock, async () => {
      let accepted = 0;
      const server = createNodeServer(net.b, { allowHalfOpen: true }, (s) => {
        accepted++;
        s.resume();
        s.on("end", () => s.end());
      });
      await once(server.listen(7007), "listening");
      const c = connect(net.a, { host: "192.0.2.2", port: 7007 });
      await once(c, "connect");
      while (accepted < 1) await new Promise((r) => setImmediate(r));
      let closed = false;
      server.close(() => {
        closed = true;
      });
      const refused = connect(net.a, { host: "192.0.2.2", port: 7007 });
      const [e] = (await once(refused, "error").catch((x: unknown) => [x])) as [NodeJS.ErrnoException];
      expect(e.code).toBe("ECONNREFUSED");
      const count = await new Promise<number>((r) => server.getConnections((_, n) => r(n)));
      expect([closed, count]).toEqual([false, 1]);
      c.resume();
      c.end();
      await once(server, "close");
      expect(closed).toBe(true);
      const again = await new Promise<NodeJS.ErrnoException | undefined>((r) => server.close((x) => r(x as NodeJS.ErrnoException)));
      expect(again?.code).toBe("ERR_SERVER_NOT_RUNNING");
    });
  });

  it("listening twice on a port emits EADDRINUSE; destroy() with unread data resets, without it closes with a FIN", async () => {
    const net = createNodeTestNet();
    await withClockPump(net.clock, async () => {
      const sockets: NetlabSocket[] = [];
      const server = createNodeServer(net.b, (s) => {
        sockets.push(s);
      });
      await once(server.listen(7008), "listening");
      const [e] = (await once(createNodeServer(net.b).listen(7008), "error")) as [NodeJS.ErrnoException];
      expect([e.code, e.syscall]).toEqual(["EADDRINUSE", "listen"]);

      const graceful = connect(net.a, { host: "192.0.2.2", port: 7008 });
      graceful.resume();
      await once(graceful, "connect");
      while (sockets.length < 1) await new Promise((r) => setImmediate(r));
      sockets[0]!.destroy();
      await once(graceful, "end");
      const [hadError] = (await once(graceful, "close")) as [boolean];
      expect(hadError).toBe(false);

      const unread = connect(net.a, { host: "192.0.2.2", port: 7008 });
      unread.on("error", () => undefined);
      await once(unread, "connect");
      while (sockets.length < 2) await new Promise((r) => setImmediate(r));
      unread.write("never read");
      while (sockets[1]!.readableLength === 0) await new Promise((r) => setImmediate(r));
      sockets[1]!.destroy();
      const hadError2 = await new Promise<boolean>((r) => unread.once("close", r));
      expect(hadError2).toBe(true);
      expect((unread.errored as NodeJS.ErrnoException | null)?.code).toBe("ECONNRESET");
      server.close();
    });
  });
});
