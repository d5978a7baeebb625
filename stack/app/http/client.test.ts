import { describe, expect, it } from "vitest";
import { ok } from "../../result.ts";
import { settle } from "../../settle.ts";
import { createVirtualClock } from "../../time.ts";
import { createStreamPair } from "../../transport/stream-pair.ts";
import type { ByteStream } from "../../transport/types.ts";
import { createHttpClient, type HttpClientOptions } from "./client.ts";
import { createHttpServer, type HttpHandler, type HttpServerOptions } from "./server.ts";

const HOST = 0x0a000002;
const enc = (s: string): Uint8Array => Uint8Array.from(s, (c) => c.charCodeAt(0));
const dec = (b: Uint8Array): string => String.fromCharCode(...b);

function setup(handler: HttpHandler, clientOptions: HttpClientOptions = {}, serverOptions: HttpServerOptions = {}) {
  const clock = createVirtualClock();
  const server = createHttpServer({ clock }, handler, { date: false, ...serverOptions });
  const wire: string[] = [];
  let opened = 0;
  const serverSides: ByteStream[] = [];
  const client = createHttpClient(
    {
      clock,
      connect: () => {
        opened++;
        const [c, s] = createStreamPair(clock, { latencyMs: 1 });
        s.onData((d) => wire.push(dec(d)));
        serverSides.push(s);
        server.handleConnection(s);
        return ok(c);
      },
    },
    clientOptions,
  );
  return { clock, server, client, wire, opened: () => opened, serverSides };
}

const echo: HttpHandler = async (req, res) => {
  const body = await req.body.text();
  res.setHeader("X-Method", req.method);
  res.end(`${req.target}:${body}`);
};

describe("client", () => {
  it("sends a GET with Host and reads the response body", async () => {
    const { clock, client, wire } = setup(echo);
    const res = await settle(clock, client.request({ host: HOST, port: 8080, path: "/hello" }));
    expect([res.status, res.reason, res.headers.get("x-method")]).toEqual([200, "OK", "GET"]);
    expect(await settle(clock, res.body.text())).toBe("/hello:");
    expect(wire.join("")).toBe("GET /hello HTTP/1.1\r\nHost: 10.0.0.2:8080\r\n\r\n");
  });

  it("reuses a kept-alive connection for the next request", async () => {
    const { clock, client, opened } = setup(echo);
    const a = await settle(clock, client.request({ host: HOST, path: "/a" }));
    expect(await settle(clock, a.body.text())).toBe("/a:");
    const b = await settle(clock, client.request({ host: HOST, path: "/b", method: "POST", body: "xyz" }));
    expect(await settle(clock, b.body.text())).toBe("/b:xyz");
    expect([a.reused, b.reused, opened(), client.stats.reusedConnections]).toEqual([false, true, 1, 1]);
  });

  it("sends a streamed body chunked with trailers and reads a chunked response", async () => {
    const { clock, client, wire } = setup(async (req, res) => {
      const body = await req.body.text();
      res.write(body);
      res.addTrailers([["X-Got", req.body.trailers?.get("x-sum") ?? "-"]]);
      res.end();
    });
    async function* parts() {
      yield "ab";
      yield enc("cd");
      yield "";
      yield "e";
    }
    const res = await settle(clock, client.request({ host: HOST, method: "PUT", path: "/s", body: parts(), trailers: [["X-Sum", "5"]] }));
    expect(await settle(clock, res.body.text())).toBe("abcde");
    expect(res.body.trailers?.get("x-got")).toBe("5");
    expect(wire.join("")).toBe("PUT /s HTTP/1.1\r\nHost: 10.0.0.2\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nab\r\n2\r\ncd\r\n1\r\ne\r\n0\r\nX-Sum: 5\r\n\r\n");
  });

  it("waits for 100 Continue before sending the body", async () => {
    const { clock, client, wire } = setup(echo, { continueTimeoutMs: 10_000 });
    const res = await settle(clock, client.request({ host: HOST, method: "POST", path: "/c", body: "payload", expectContinue: true }));
    expect(await settle(clock, res.body.text())).toBe("/c:payload");
    expect(wire.join("")).toBe("POST /c HTTP/1.1\r\nHost: 10.0.0.2\r\nContent-Length: 7\r\nExpect: 100-continue\r\n\r\npayload");
    expect(clock.now()).toBeLessThan(100);
  });

  it("does not send the body when the server answers before 100 Continue", async () => {
    const { clock, client, wire } = setup(
      (_req, res) => {
        res.statusCode = 413;
        res.end();
      },
      { continueTimeoutMs: 10_000 },
    );
    const res = await settle(clock, client.request({ host: HOST, method: "POST", path: "/c", body: "payload", expectContinue: true }));
    expect(res.status).toBe(413);
    clock.run(20_000);
    expect(wire.join("")).not.toContain("payload");
  });

  it("reads no body for HEAD", async () => {
    const { clock, client } = setup((_req, res) => res.end("12345"));
    const res = await settle(clock, client.request({ host: HOST, method: "HEAD", path: "/" }));
    expect(res.headers.get("content-length")).toBe("5");
    expect((await settle(clock, res.body.bytes())).length).toBe(0);
    const again = await settle(clock, client.request({ host: HOST, path: "/" }));
    expect(await settle(clock, again.body.text())).toBe("12345");
    expect(again.reused).toBe(true);
  });

  it("speaks HTTP/1.0 and reads a close-delimited body", async () => {
    const { clock, client, wire, opened } = setup(
      (_req, res) => {
        res.write("stream");
        res.end("ed");
      },
      { keepAlive: false },
    );
    const res = await settle(clock, client.request({ host: HOST, path: "/old", version: "1.0" }));
    expect(await settle(clock, res.body.text())).toBe("streamed");
    expect(wire.join("")).toBe("GET /old HTTP/1.0\r\nHost: 10.0.0.2\r\nConnection: close\r\n\r\n");
    await settle(
      clock,
      client.request({ host: HOST, path: "/old", version: "1.0" }).then((r) => r.body.text()),
    );
    expect(opened()).toBe(2);
  });

  it("pipelines requests on one connection and matches responses in order", async () => {
    const started: number[] = [];
    const { clock, client, opened, wire } = setup(
      (req, res) => {
        started.push(clock.now());
        clock.setTimer(clock.now() + (req.target === "/0" ? 30 : 1), () => res.end(req.target));
      },
      { pipeline: 4, maxConnectionsPerHost: 1 },
    );
    const all = Promise.all([0, 1, 2, 3].map((i) => client.request({ host: HOST, path: `/${i}` }).then((r) => r.body.text())));
    expect(await settle(clock, all)).toEqual(["/0", "/1", "/2", "/3"]);
    expect(opened()).toBe(1);
    expect(started).toEqual([2, 2, 2, 2]);
    expect(wire.join("")).toBe(
      "GET /0 HTTP/1.1\r\nHost: 10.0.0.2\r\n\r\nGET /1 HTTP/1.1\r\nHost: 10.0.0.2\r\n\r\nGET /2 HTTP/1.1\r\nHost: 10.0.0.2\r\n\r\nGET /3 HTTP/1.1\r\nHost: 10.0.0.2\r\n\r\n",
    );
  });

  it("does not pipeline behind a POST until its response arrives", async () => {
    const seen: [string, number][] = [];
    const { clock, client } = setup(
      (req, res) => {
        seen.push([req.method, clock.now()]);
        res.end("ok");
      },
      { pipeline: 4, maxConnectionsPerHost: 1 },
    );
    const all = Promise.all([
      client.request({ host: HOST, method: "POST", path: "/p", body: "x" }).then((r) => r.body.text()),
      client.request({ host: HOST, path: "/g" }).then((r) => r.body.text()),
      client.request({ host: HOST, path: "/h" }).then((r) => r.body.text()),
    ]);
    await settle(clock, all);
    // One-way latency is 1 ms: the GETs leave only after the POST's response came back, together.
    expect(seen).toEqual([
      ["POST", 2],
      ["GET", 4],
      ["GET", 4],
    ]);
  });

  it("fails with ETIMEDOUT when the server stays silent", async () => {
    const { clock, client } = setup(() => {}, { timeoutMs: 5_000 });
    const err = await settle(
      clock,
      client.request({ host: HOST, path: "/" }).catch((e: unknown) => e),
    );
    expect(err).toMatchObject({ code: "ETIMEDOUT" });
    expect(clock.now()).toBe(5_000);
  });

  it("retries an idempotent request once when a reused connection was closed by the server", async () => {
    const { clock, client, opened } = setup(echo, { idleTimeoutMs: 60_000 }, { keepAliveTimeoutMs: 1_000 });
    const a = await settle(clock, client.request({ host: HOST, path: "/a" }));
    await settle(clock, a.body.text());
    clock.run(clock.now() + 1_000);
    const b = await settle(clock, client.request({ host: HOST, path: "/b" }));
    expect(await settle(clock, b.body.text())).toBe("/b:");
    expect(opened()).toBe(2);
  });

  it("rejects with ERR_HTTP_PARSE on a smuggling-shaped response", async () => {
    const clock = createVirtualClock();
    const client = createHttpClient({
      clock,
      connect: () => {
        const [c, s] = createStreamPair(clock);
        s.onData(() => {
          s.write(enc("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nabc"));
        });
        return ok(c);
      },
    });
    const err = await settle(
      clock,
      client.request({ host: HOST, path: "/" }).catch((e: unknown) => e),
    );
    expect(err).toMatchObject({ code: "ERR_HTTP_PARSE", detail: "duplicate-content-length" });
  });

  const BAD_RESPONSES: [string, string][] = [
    ["HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", "content-length-with-transfer-encoding"],
    ["HTTP/1.1 200 OK\nContent-Length: 0\r\n\r\n", "bare-lf"],
    ["HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", "bad-chunk-size"],
    ["HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1000000000000000\r\n", "chunk-size-overflow"],
    ["HTTP/1.1 200 OK\r\nX: a\r\n b\r\nContent-Length: 0\r\n\r\n", "obs-fold"],
    ["HTTP/1.1 2000 OK\r\n\r\n", "bad-status-line"],
    ["HTTP/2 200 OK\r\n\r\n", "bad-status-line"],
  ];
  for (const [text, code] of BAD_RESPONSES) {
    it(`fails a response with ${code} as ERR_HTTP_PARSE`, async () => {
      const clock = createVirtualClock();
      const client = createHttpClient({
        clock,
        connect: () => {
          const [c, s] = createStreamPair(clock);
          s.onData(() => {
            s.write(enc(text));
          });
          return ok(c);
        },
      });
      const outcome = await settle(
        clock,
        client
          .request({ host: HOST, path: "/" })
          .then((r) => r.body.bytes())
          .catch((e: unknown) => e),
      );
      expect(outcome).toMatchObject({ code: "ERR_HTTP_PARSE", detail: code });
    });
  }

  it("streams a large response body with flow control", async () => {
    const size = 4 * 1024 * 1024;
    const { clock, client } = setup((_req, res) => {
      res.setHeader("Content-Length", size);
      let sent = 0;
      const chunk = new Uint8Array(64 * 1024).fill(97);
      const pump = (): void => {
        while (sent < size) {
          sent += chunk.length;
          if (!res.write(chunk)) {
            res.onDrain(pump);
            return;
          }
        }
        res.end();
      };
      pump();
    });
    const res = await settle(clock, client.request({ host: HOST, path: "/big" }));
    let n = 0;
    for await (const c of res.body) {
      n += c.length;
      if (n % (1024 * 1024) === 0) await new Promise((r) => setImmediate(r));
      clock.run(clock.now() + 1);
    }
    expect(n).toBe(size);
  });

  it("delivers callback-style results", async () => {
    const { clock, client } = setup(echo);
    const status = await settle(
      clock,
      new Promise<number>((resolve) => {
        client.request({ host: HOST, path: "/cb" }, (e, res) => resolve(e ? -1 : res!.status));
      }),
    );
    expect(status).toBe(200);
  });

  it("calls a request's callback once, a microtask after the outcome, never inside the stream's event", async () => {
    const { clock, client } = setup((_req, res) => res.end("x"));
    const calls: string[] = [];
    let inEvent = false;
    client.request({ host: HOST, path: "/a" }, (e, res) => {
      calls.push(`${inEvent ? "sync" : "async"} ${e === null ? res!.status : e.code}`);
    });
    for (let i = 0; i < 10 && calls.length === 0; i++) {
      inEvent = true;
      clock.run(clock.nextDeadline() ?? clock.now());
      inEvent = false;
      await null;
    }
    expect(calls).toEqual(["async 200"]);
    client.close();
    client.request({ host: HOST, path: "/b" }, (e) => {
      calls.push(`${inEvent ? "sync" : "async"} ${e?.code}`);
    });
    expect(calls.length).toBe(1);
    await null;
    expect(calls).toEqual(["async 200", "async ERR_HTTP_CLIENT_CLOSED"]);
  });

  it("hands a request's callback to deps.defer, which a caller can run synchronously between clock steps", () => {
    const clock = createVirtualClock();
    const server = createHttpServer({ clock }, (_req, res) => res.end("xy"), { date: false });
    const queue: (() => void)[] = [];
    const client = createHttpClient({
      clock,
      defer: (fn) => queue.push(fn),
      connect: () => {
        const [c, s] = createStreamPair(clock, { latencyMs: 1 });
        server.handleConnection(s);
        return ok(c);
      },
    });
    const calls: string[] = [];
    client.request({ host: HOST, path: "/a" }, (e, res) => {
      calls.push(e === null ? `${res!.status}` : e.code);
      res?.body.onData((d) => calls.push(dec(d)));
    });
    for (let i = 0; i < 10 && queue.length === 0; i++) clock.run(clock.nextDeadline() ?? clock.now());
    // Settled inside the stream's event: queued, not called.
    expect([calls, queue.length]).toEqual([[], 1]);
    queue.shift()!();
    clock.run();
    expect(calls).toEqual(["200", "xy"]);
    client.close();
    client.request({ host: HOST, path: "/b" }, (e) => calls.push(e?.code ?? "ok"));
    expect([calls.length, queue.length]).toEqual([2, 1]);
    queue.shift()!();
    expect(calls).toEqual(["200", "xy", "ERR_HTTP_CLIENT_CLOSED"]);
  });
});
