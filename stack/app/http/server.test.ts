import { describe, expect, it } from "vitest";
import { createVirtualClock, type VirtualClock } from "../../time.ts";
import { createStreamPair } from "../../transport/stream-pair.ts";
import type { ByteStream } from "../../transport/types.ts";
import { createHttpServer, type HttpHandler, type HttpServerOptions } from "./server.ts";

const enc = (s: string): Uint8Array => Uint8Array.from(s, (c) => c.charCodeAt(0));
const dec = (b: Uint8Array): string => String.fromCharCode(...b);

interface Peer {
  clock: VirtualClock;
  client: ByteStream;
  send(s: string): void;
  text(): string;
  ended: boolean;
  closed: string | null;
}

function setup(handler: HttpHandler, options: HttpServerOptions = {}, pair: Parameters<typeof createStreamPair>[1] = {}) {
  const clock = createVirtualClock();
  const server = createHttpServer({ clock }, handler, options);
  const connect = (): Peer => {
    const [client, srv] = createStreamPair(clock, pair);
    server.handleConnection(srv);
    let got = "";
    const peer: Peer = {
      clock,
      client,
      send: (s) => {
        client.write(enc(s));
      },
      text: () => got,
      ended: false,
      closed: null,
    };
    client.onData((d) => {
      got += dec(d);
    });
    client.onEnd(() => {
      peer.ended = true;
    });
    client.onClose((e) => {
      peer.closed = e ?? "ok";
    });
    return peer;
  };
  return { clock, server, connect };
}

const hello: HttpHandler = (req, res) => {
  res.setHeader("Content-Type", "text/plain");
  res.end(`hello ${req.method} ${req.target}`);
};

describe("server: framing and keep-alive", () => {
  it("answers a GET with exact bytes and keeps the connection open", () => {
    const { clock, connect } = setup(hello);
    const p = connect();
    p.send("GET /x HTTP/1.1\r\nHost: h\r\n\r\n");
    clock.run(100);
    expect(p.text()).toBe("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 12\r\nDate: Thu, 01 Jan 1970 00:00:00 GMT\r\n\r\nhello GET /x");
    expect(p.ended).toBe(false);
  });

  it("reuses one connection for sequential requests and closes when asked", () => {
    const { clock, connect, server } = setup(hello, { date: false });
    const p = connect();
    p.send("GET /1 HTTP/1.1\r\nHost: h\r\n\r\n");
    clock.run(10);
    p.send("GET /2 HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n");
    clock.run(20);
    expect(p.text()).toBe(
      "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 12\r\n\r\nhello GET /1" +
        "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 12\r\nConnection: close\r\n\r\nhello GET /2",
    );
    expect(p.ended).toBe(true);
    expect(server.stats.requests).toBe(2);
  });

  it("answers pipelined requests in request order even when handlers finish out of order", () => {
    const { clock, connect } = setup(
      (req, res) => {
        const delay = req.target === "/slow" ? 50 : 1;
        clock.setTimer(clock.now() + delay, () => res.end(req.target));
      },
      { date: false },
    );
    const p = connect();
    p.send("GET /slow HTTP/1.1\r\nHost: h\r\n\r\nGET /fast HTTP/1.1\r\nHost: h\r\n\r\nGET /faster HTTP/1.1\r\nHost: h\r\n\r\n");
    clock.run(200);
    const bodies = p
      .text()
      .split("\r\n\r\n")
      .slice(1)
      .map((s) => s.replace(/HTTP\/1\.1.*$/s, ""));
    expect(bodies).toEqual(["/slow", "/fast", "/faster"]);
  });

  it("uses chunked encoding with trailers when the length is unknown, and reads chunked requests with trailers", async () => {
    const { clock, connect } = setup(
      async (req, res) => {
        const body = await req.body.text();
        res.addTrailers([["X-Request-Trailer", req.body.trailers?.get("x-t") ?? "none"]]);
        res.write(body.toUpperCase());
        res.write("!");
        res.end();
      },
      { date: false },
    );
    const p = connect();
    p.send("POST /e HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n3;ext=1\r\nabc\r\n2\r\nde\r\n0\r\nX-T: 7\r\n\r\n");
    for (let i = 0; i < 5; i++) {
      clock.run(clock.now() + 10);
      await Promise.resolve();
      await new Promise((r) => setImmediate(r));
    }
    expect(p.text()).toBe("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nABCDE\r\n1\r\n!\r\n0\r\nX-Request-Trailer: 7\r\n\r\n");
  });

  it("answers HEAD with the GET headers and no body", () => {
    const { clock, connect } = setup(hello, { date: false });
    const p = connect();
    p.send("HEAD /h HTTP/1.1\r\nHost: h\r\n\r\nGET /g HTTP/1.1\r\nHost: h\r\n\r\n");
    clock.run(10);
    expect(p.text()).toBe(
      "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n\r\n" +
        "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 12\r\n\r\nhello GET /g",
    );
  });

  it("serves HTTP/1.0 close-delimited when the length is unknown, and keep-alive when asked with a length", () => {
    const { clock, connect } = setup(
      (req, res) => {
        if (req.target === "/stream") {
          res.write("part");
          res.end("s");
        } else res.end("x");
      },
      { date: false },
    );
    const a = connect();
    a.send("GET /stream HTTP/1.0\r\n\r\n");
    clock.run(10);
    expect(a.text()).toBe("HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nparts");
    expect(a.ended).toBe(true);
    const b = connect();
    b.send("GET /len HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    clock.run(20);
    expect(b.text()).toBe("HTTP/1.1 200 OK\r\nContent-Length: 1\r\nConnection: keep-alive\r\n\r\nx");
    expect(b.ended).toBe(false);
  });

  it("sends 100 Continue when the handler reads an Expect: 100-continue body", async () => {
    const { clock, connect } = setup(
      async (req, res) => {
        res.end(`got ${await req.body.text()}`);
      },
      { date: false },
    );
    const p = connect();
    p.send("PUT /u HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n");
    clock.run(10);
    expect(p.text()).toBe("HTTP/1.1 100 Continue\r\n\r\n");
    p.send("data");
    for (let i = 0; i < 3; i++) {
      clock.run(clock.now() + 10);
      await new Promise((r) => setImmediate(r));
    }
    expect(p.text()).toBe("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\ngot data");
  });

  it("closes after answering an Expect: 100-continue request without reading its body", () => {
    const { clock, connect } = setup(
      (_req, res) => {
        res.statusCode = 401;
        res.end();
      },
      { date: false },
    );
    const p = connect();
    p.send("PUT /u HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n");
    clock.run(10);
    expect(p.text()).toBe("HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
    expect(p.ended).toBe(true);
  });

  it("answers an unknown expectation with 417", () => {
    const { clock, connect } = setup(hello, { date: false });
    const p = connect();
    p.send("GET / HTTP/1.1\r\nHost: h\r\nExpect: coffee\r\n\r\n");
    clock.run(10);
    expect(p.text()).toBe(
      "HTTP/1.1 417 Expectation Failed\r\nContent-Type: text/plain\r\nContent-Length: 23\r\nConnection: close\r\n\r\n417 Expectation Failed\n",
    );
  });

  it("discards an unread request body and keeps the connection", () => {
    const { clock, connect } = setup(hello, { date: false });
    const p = connect();
    p.send("POST /a HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nxxxxxGET /b HTTP/1.1\r\nHost: h\r\n\r\n");
    clock.run(10);
    expect(p.text()).toContain("hello POST /a");
    expect(p.text()).toContain("hello GET /b");
    expect(p.ended).toBe(false);
  });

  it("refuses a header value that would split the response, at setHeader", () => {
    let code = "";
    const { clock, connect } = setup(
      (_req, res) => {
        try {
          res.setHeader("X-Evil", "a\r\nSet-Cookie: x=1");
        } catch (e) {
          code = (e as { code: string }).code;
        }
        res.end("ok");
      },
      { date: false },
    );
    const p = connect();
    p.send("GET / HTTP/1.1\r\nHost: h\r\n\r\n");
    clock.run(10);
    expect(code).toBe("ERR_HTTP_INVALID_CHAR");
    expect(p.text()).toBe("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
  });

  it("answers 500 and closes when the handler throws before responding", () => {
    const { clock, connect } = setup(
      () => {
        throw new Error("boom");
      },
      { date: false },
    );
    const p = connect();
    p.send("GET / HTTP/1.1\r\nHost: h\r\n\r\n");
    clock.run(10);
    expect(p.text()).toMatch(/^HTTP\/1\.1 500 Internal Server Error\r\n.*Connection: close\r\n\r\n500 Internal Server Error\n$/s);
    expect(p.ended).toBe(true);
  });
});

const ERROR_CASES: [string, string, number, HttpServerOptions][] = [
  ["Content-Length with Transfer-Encoding", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400, {}],
  ["duplicate Content-Length", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab", 400, {}],
  ["Transfer-Encoding not ending in chunked", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked, identity\r\n\r\n", 400, {}],
  ["bad chunk size", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\nq\r\n", 400, {}],
  ["chunk size overflow", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n10000000000000000\r\n", 400, {}],
  ["bare LF", "GET / HTTP/1.1\nHost: h\r\n\r\n", 400, {}],
  ["whitespace before colon", "GET / HTTP/1.1\r\nHost : h\r\n\r\n", 400, {}],
  ["obs-fold", "GET / HTTP/1.1\r\nHost: h\r\nX: 1\r\n\t2\r\n\r\n", 400, {}],
  ["invalid token in method", 'GE"T / HTTP/1.1\r\nHost: h\r\n\r\n', 400, {}],
  ["bad version", "GET / HTTP/1.x\r\nHost: h\r\n\r\n", 400, {}],
  ["HTTP/3.0", "GET / HTTP/3.0\r\nHost: h\r\n\r\n", 505, {}],
  ["gzip before chunked", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501, {}],
  ["long URI", `GET /${"u".repeat(300)} HTTP/1.1\r\nHost: h\r\n\r\n`, 414, { limits: { maxUriBytes: 256 } }],
  ["large header section", `GET / HTTP/1.1\r\nHost: h\r\nX: ${"v".repeat(600)}\r\n\r\n`, 431, { limits: { maxHeaderBytes: 512 } }],
  ["too many header fields", `GET / HTTP/1.1\r\nHost: h\r\n${"X: 1\r\n".repeat(10)}\r\n`, 431, { limits: { maxHeaderCount: 10 } }],
  ["large declared body", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1001\r\n\r\n", 413, { limits: { maxBodyBytes: 1000 } }],
];

describe("server: hostile and oversized requests", () => {
  for (const [name, text, status, options] of ERROR_CASES) {
    it(`answers ${name} with ${status} and closes`, () => {
      let handled = 0;
      const { clock, connect } = setup(
        () => {
          handled++;
        },
        { date: false, ...options },
      );
      const p = connect();
      p.send(text);
      p.send("GET /after HTTP/1.1\r\nHost: h\r\n\r\n");
      clock.run(100);
      expect(p.text()).toMatch(
        new RegExp(`^HTTP/1\\.1 ${status} [A-Za-z ]+\\r\\nContent-Type: text/plain\\r\\nContent-Length: \\d+\\r\\nConnection: close\\r\\n\\r\\n${status} `),
      );
      expect(p.ended).toBe(true);
      expect(handled).toBe(/chunk size/.test(name) ? 1 : 0);
    });
  }

  it("answers a chunked body over the limit with 413 after the handler started", async () => {
    let error = "";
    const { clock, connect } = setup(
      (req) => {
        req.body.onError((e) => {
          error = e.detail ?? "";
        });
        req.body.onData(() => {});
      },
      { date: false, limits: { maxBodyBytes: 8 } },
    );
    const p = connect();
    p.send("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nabcde\r\n5\r\nfghij\r\n0\r\n\r\n");
    clock.run(100);
    expect(p.text()).toMatch(/^HTTP\/1\.1 413 Content Too Large\r\n/);
    expect(error).toBe("body-too-large");
    expect(p.ended).toBe(true);
  });

  it("answers the good pipelined requests before the 400 for a bad one", () => {
    const { clock, connect } = setup(hello, { date: false });
    const p = connect();
    p.send("GET /ok HTTP/1.1\r\nHost: h\r\n\r\nGET /bad HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\nx");
    clock.run(100);
    expect(p.text()).toMatch(/^HTTP\/1\.1 200 OK\r\n.*hello GET \/okHTTP\/1\.1 400 Bad Request\r\n/s);
  });
});

describe("server: timeouts (slowloris)", () => {
  it("answers 408 and closes when a head trickles in slower than headersTimeoutMs", () => {
    const { clock, connect, server } = setup(hello, { date: false, headersTimeoutMs: 10_000 });
    const p = connect();
    const line = "GET / HTTP/1.1\r\nHost: h\r\nX-Slow: ";
    let t = 0;
    for (const ch of line + "a".repeat(30)) {
      clock.setTimer(t, () => p.client.write(enc(ch)));
      t += 500;
    }
    clock.run(9_999);
    expect(p.text()).toBe("");
    clock.run(10_000);
    expect(p.text()).toBe("HTTP/1.1 408 Request Timeout\r\nContent-Type: text/plain\r\nContent-Length: 20\r\nConnection: close\r\n\r\n408 Request Timeout\n");
    expect(p.ended).toBe(true);
    clock.run(20_000);
    expect(p.closed).not.toBeNull();
    expect(server.connectionCount).toBe(0);
    expect(server.stats.timeouts).toBe(1);
  });

  it("closes a connection that never sends a byte after headersTimeoutMs", () => {
    const { clock, connect, server } = setup(hello, { headersTimeoutMs: 3_000, lingerMs: 1_000 });
    const p = connect();
    clock.run(2_999);
    expect(p.ended).toBe(false);
    clock.run(3_000);
    expect([p.ended, p.text()]).toEqual([true, ""]);
    clock.run(5_000);
    expect(server.connectionCount).toBe(0);
  });

  it("closes an idle kept-alive connection after keepAliveTimeoutMs", () => {
    const { clock, connect } = setup(hello, { keepAliveTimeoutMs: 5_000 });
    const p = connect();
    p.send("GET / HTTP/1.1\r\nHost: h\r\n\r\n");
    clock.run(4_000);
    expect(p.ended).toBe(false);
    clock.run(5_001);
    expect(p.ended).toBe(true);
  });

  it("resets a connection whose peer stops reading a response for sendTimeoutMs", () => {
    let aborted = false;
    const { clock, connect, server } = setup(
      (_req, res) => {
        res.onAbort(() => {
          aborted = true;
        });
        const pump = (): void => {
          while (res.write(new Uint8Array(8192))) {
            /* fill */
          }
          res.onDrain(pump);
        };
        pump();
      },
      { sendTimeoutMs: 30_000 },
      { highWaterMark: 16 * 1024 },
    );
    const p = connect();
    p.client.pause();
    p.send("GET /big HTTP/1.1\r\nHost: h\r\n\r\n");
    clock.run(29_000);
    expect([aborted, p.closed]).toEqual([false, null]);
    clock.run(31_000);
    expect([aborted, p.closed, server.connectionCount, server.stats.timeouts]).toEqual([true, "ECONNRESET", 0, 1]);
  });

  it("answers 408 when a body trickles slower than requestTimeoutMs", () => {
    const { clock, connect } = setup(
      (req, res) => {
        void req.body.text().then(
          () => res.end("done"),
          () => {},
        );
      },
      { date: false, requestTimeoutMs: 2_000 },
    );
    const p = connect();
    p.send("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 100\r\n\r\n");
    for (let i = 0; i < 10; i++) clock.setTimer(200 * i + 1, () => p.client.write(enc("x")));
    clock.run(3_000);
    expect(p.text()).toBe("HTTP/1.1 408 Request Timeout\r\nContent-Type: text/plain\r\nContent-Length: 20\r\nConnection: close\r\n\r\n408 Request Timeout\n");
  });
});

describe("server: flow control and limits", () => {
  it("stops reading when maxPipelinedRequests responses are outstanding", () => {
    const pending: (() => void)[] = [];
    const { clock, connect, server } = setup(
      (req, res) => {
        pending.push(() => res.end(req.target));
      },
      { date: false, maxPipelinedRequests: 2 },
    );
    const p = connect();
    p.send(Array.from({ length: 5 }, (_, i) => `GET /${i} HTTP/1.1\r\nHost: h\r\n\r\n`).join(""));
    clock.run(10);
    expect(server.stats.requests).toBe(2);
    while (pending.length > 0) {
      pending.shift()!();
      clock.run(clock.now() + 10);
    }
    expect(server.stats.requests).toBe(5);
    expect(p.text().match(/\r\n\r\n\/\d/g)).toEqual(["\r\n\r\n/0", "\r\n\r\n/1", "\r\n\r\n/2", "\r\n\r\n/3", "\r\n\r\n/4"]);
  });

  it("propagates backpressure from a paused client to res.write and resumes on drain", () => {
    let writes = 0;
    let falses = 0;
    const { clock, connect } = setup(
      (_req, res) => {
        const chunk = new Uint8Array(16 * 1024);
        const pump = (): void => {
          while (writes < 64) {
            writes++;
            if (!res.write(chunk)) {
              falses++;
              res.onDrain(pump);
              return;
            }
          }
          res.end();
        };
        pump();
      },
      { date: false },
      { highWaterMark: 64 * 1024 },
    );
    const p = connect();
    p.client.pause();
    p.send("GET / HTTP/1.1\r\nHost: h\r\n\r\n");
    clock.run(100);
    expect(writes).toBeLessThan(8);
    p.client.resume();
    clock.run(1_000);
    expect(writes).toBe(64);
    expect(falses).toBeGreaterThan(1);
    expect(p.text().length).toBeGreaterThan(64 * 16 * 1024);
    expect(p.text().endsWith("0\r\n\r\n")).toBe(true);
  });

  it("resets connections beyond maxConnections when none can be reclaimed", () => {
    const { clock, connect, server } = setup(hello, { maxConnections: 1 });
    const first = connect();
    first.send("GET / HTTP/1.1\r\n");
    clock.run(10);
    const second = connect();
    clock.run(20);
    expect(second.closed).toBe("ECONNRESET");
    expect([first.closed, first.ended]).toEqual([null, false]);
    expect(server.stats.rejectedConnections).toBe(1);
  });

  it("closes after maxRequestsPerConnection", () => {
    const { clock, connect } = setup(hello, { date: false, maxRequestsPerConnection: 2 });
    const p = connect();
    p.send("GET /1 HTTP/1.1\r\nHost: h\r\n\r\nGET /2 HTTP/1.1\r\nHost: h\r\n\r\nGET /3 HTTP/1.1\r\nHost: h\r\n\r\n");
    clock.run(10);
    expect(p.text()).toContain("hello GET /2");
    expect(p.text()).not.toContain("/3");
    expect(p.text()).toMatch(/Connection: close\r\n\r\nhello GET \/2$/);
    expect(p.ended).toBe(true);
  });
});

describe("server: hostile clients (limits, reclaiming, pressure)", () => {
  const from = (address: number) => ({ a: { address, port: 40000 }, b: { address: 0x0a000002, port: 80 } });

  it("closes the oldest idle connection to admit a new one at maxConnections, and counts it", () => {
    const { clock, connect, server } = setup(hello, { date: false, maxConnections: 2 });
    const oldest = connect();
    clock.run(10);
    const served = connect();
    served.send("GET /a HTTP/1.1\r\nHost: h\r\n\r\n");
    clock.run(20);
    const newcomer = connect();
    newcomer.send("GET /b HTTP/1.1\r\nHost: h\r\n\r\n");
    clock.run(30);
    // The kept-alive connection became idle later than the one that never sent a byte.
    expect([oldest.ended, served.ended, newcomer.ended]).toEqual([true, false, false]);
    expect(newcomer.text()).toContain("hello GET /b");
    expect(server.stats).toMatchObject({ reclaimedIdle: 1, rejectedConnections: 0, connections: 3 });
    expect(server.connectionCount).toBe(2);
  });

  it("reclaims a connection reading its head for reclaimSlowAfterMs with a 408, and refuses while heads are younger", () => {
    const { clock, connect, server } = setup(hello, { date: false, maxConnections: 2, reclaimSlowAfterMs: 1_000, pressureThreshold: 1 });
    const slow = [connect(), connect()];
    for (const p of slow) p.send("GET / HTTP/1.1\r\nHost: h\r\n");
    clock.run(999);
    const early = connect();
    clock.run(1_000);
    expect(early.closed).toBe("ECONNRESET");
    const late = connect();
    late.send("GET /c HTTP/1.1\r\nHost: h\r\n\r\n");
    clock.run(1_010);
    expect(slow[0]!.text()).toMatch(/^HTTP\/1\.1 408 Request Timeout\r\n/);
    expect([slow[0]!.ended, slow[1]!.ended]).toEqual([true, false]);
    expect(late.text()).toContain("hello GET /c");
    expect(server.stats).toMatchObject({ reclaimedSlow: 1, rejectedConnections: 1, closedAfterError: 1 });
  });

  it("limits connections per source address, reclaiming within the source, and leaves other sources alone", () => {
    const { clock, server } = setup(hello, { date: false, maxConnectionsPerSource: 2, pressureThreshold: 1 });
    const open = (address: number, head: string): { closed: string | null } => {
      const [client, srv] = createStreamPair(clock, from(address));
      const state = { closed: null as string | null };
      client.onClose((e) => {
        state.closed = e ?? "ok";
      });
      server.handleConnection(srv);
      if (head !== "") client.write(enc(head));
      return state;
    };
    const a1 = open(0x0a000001, "GET / HTTP/1.1\r\n");
    const a2 = open(0x0a000001, "GET / HTTP/1.1\r\n");
    clock.run(10);
    const a3 = open(0x0a000001, "");
    const b1 = open(0x0a000009, "");
    const b2 = open(0x0a000009, "");
    clock.run(20);
    expect([a1.closed, a2.closed, a3.closed, b1.closed, b2.closed]).toEqual([null, null, "ECONNRESET", null, null]);
    expect(server.stats).toMatchObject({ rejectedConnections: 1, rejectedPerSource: 1 });
    // b's third connection takes the place of b's oldest idle one, not of a's.
    const b3 = open(0x0a000009, "");
    clock.run(3_000);
    expect([a1.closed, a2.closed, b1.closed, b3.closed]).toEqual([null, null, "ECONNRESET", null]);
    expect(server.stats.reclaimedIdle).toBe(1);
    expect(server.connectionCount).toBe(4);
  });

  it("shrinks header and keep-alive timeouts linearly above pressureThreshold and counts the timeouts that fired early", () => {
    const { clock, connect, server } = setup(hello, {
      date: false,
      maxConnections: 4,
      headersTimeoutMs: 20_000,
      minHeadersTimeoutMs: 2_000,
      keepAliveTimeoutMs: 5_000,
      minKeepAliveTimeoutMs: 500,
      lingerMs: 1,
    });
    const peers = [connect(), connect(), connect(), connect()];
    // Load at accept: 1/4, 2/4 (no shrinking up to 0.5), 3/4 (halfway), 4/4 (the minimum).
    const endedAt = peers.map(() => -1);
    for (let t = 0; t <= 21_000; t += 100) {
      clock.run(t);
      peers.forEach((p, i) => {
        if (p.ended && endedAt[i] === -1) endedAt[i] = t;
      });
    }
    expect(endedAt).toEqual([20_000, 20_000, 11_000, 2_000]);
    expect(server.stats).toMatchObject({ timeouts: 4, timeoutsUnderPressure: 2 });
    // Keep-alive: at full load the idle timer is the minimum.
    const full = [connect(), connect(), connect(), connect()];
    for (const p of full) p.send("GET / HTTP/1.1\r\nHost: h\r\n\r\n");
    clock.run(clock.now() + 499);
    expect(full.map((p) => p.ended)).toEqual([false, false, false, false]);
    clock.run(clock.now() + 5_000);
    expect(full.filter((p) => p.ended).length).toBe(4);
    expect(server.stats.timeoutsUnderPressure).toBeGreaterThan(2);
  });

  it("at a limit with nothing idle, reclaims the oldest upload slower than minBodyRate, never a faster one", () => {
    const reader: HttpHandler = (req, res) => {
      req.body.onData(() => {});
      req.body.onEnd(() => res.end("done"));
    };
    const { clock, connect, server } = setup(reader, { date: false, maxConnections: 2, pressureThreshold: 1, reclaimSlowAfterMs: 500, minBodyRate: 500 });
    const upload = (bytesPer100Ms: number): ReturnType<typeof connect> => {
      const p = connect();
      p.send("POST /up HTTP/1.1\r\nHost: h\r\nContent-Length: 1000000\r\n\r\n");
      for (let t = 100; t <= 5_000; t += 100) clock.setTimer(t, () => p.client.write(new Uint8Array(bytesPer100Ms)));
      return p;
    };
    const slow = upload(10); // 100 B/s
    const fast = upload(1_000); // 10 kB/s
    clock.run(400);
    const tooEarly = connect();
    clock.run(1_000);
    expect([tooEarly.closed, slow.text()]).toEqual(["ECONNRESET", ""]);
    const newcomer = connect();
    newcomer.send("GET / HTTP/1.1\r\nHost: h\r\n");
    clock.run(1_010);
    expect(slow.text()).toMatch(/^HTTP\/1\.1 408 Request Timeout\r\n/);
    expect([fast.text(), fast.closed, newcomer.closed]).toEqual(["", null, null]);
    const third = connect();
    clock.run(2_000);
    expect(third.closed).toBe("ECONNRESET");
    expect(server.stats).toMatchObject({ reclaimedSlow: 1, rejectedConnections: 2 });
  });

  it("checks running timers against the shrunk timeouts while loaded: an upload armed with 120 s is cut 10 s into full load", () => {
    const reader: HttpHandler = (req, res) => {
      req.body.onData(() => {});
      req.body.onEnd(() => res.end("done"));
    };
    const { clock, connect, server } = setup(reader, {
      date: false,
      maxConnections: 4,
      requestTimeoutMs: 120_000,
      minRequestTimeoutMs: 10_000,
      pressureCheckIntervalMs: 1_000,
      lingerMs: 1,
    });
    const upload = (): ReturnType<typeof connect> => {
      const p = connect();
      p.send("POST /up HTTP/1.1\r\nHost: h\r\nContent-Length: 1000000\r\n\r\n");
      return p;
    };
    const early = upload();
    clock.run(30_000);
    expect(early.text()).toBe("");
    const late = [upload(), upload(), upload()];
    clock.run(30_999);
    expect(early.text()).toBe("");
    clock.run(31_000);
    // At full load the request timeout is 10 s: 31 s of upload is past it.
    expect(early.text()).toMatch(/^HTTP\/1\.1 408 Request Timeout\r\n/);
    expect(server.stats).toMatchObject({ timeouts: 1, timeoutsUnderPressure: 1 });
    clock.run(200_000);
    expect(late.map((p) => p.ended)).toEqual([true, true, true]);
  });

  it("closes after an error answered before a 10 MB body instead of draining it (RFC 9112 §9.6), and drains a small one", () => {
    const reject405: HttpHandler = (_req, res) => {
      res.statusCode = 405;
      res.end();
    };
    const { clock, connect, server } = setup(reject405, { date: false, lingerMs: 1_000, maxDrainBytes: 4096, maxDrainMs: 3_000 });
    const big = connect();
    big.send("POST /up HTTP/1.1\r\nHost: h\r\nContent-Length: 10000000\r\n\r\n");
    for (let i = 1; i <= 100; i++) clock.setTimer(i * 1_000, () => big.client.write(enc("x".repeat(10))));
    clock.run(10);
    expect(big.text()).toBe("HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
    expect(big.ended).toBe(true);
    clock.run(1_100);
    expect(big.closed).toBe("ECONNRESET");
    expect(server.stats).toMatchObject({ closedUnreadBody: 1, closedAfterError: 1 });
    const small = connect();
    small.send("POST /up HTTP/1.1\r\nHost: h\r\nContent-Length: 1000\r\n\r\n");
    clock.run(clock.now() + 10);
    small.send("y".repeat(1000) + "GET /next HTTP/1.1\r\nHost: h\r\n\r\n");
    clock.run(clock.now() + 10);
    expect(small.text().match(/HTTP\/1\.1 405/g)).toHaveLength(2);
    expect([small.ended, server.stats.closedUnreadBody]).toEqual([false, 1]);
    // A chunked body (length unknown) is drained up to maxDrainBytes, or for maxDrainMs.
    const chunked = connect();
    chunked.send("POST /up HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n");
    clock.run(clock.now() + 10);
    expect(chunked.ended).toBe(false);
    chunked.send(`1000\r\n${"z".repeat(4096)}\r\n`);
    clock.run(clock.now() + 10);
    expect(chunked.ended).toBe(false);
    chunked.send("1\r\nz\r\n");
    clock.run(clock.now() + 10);
    expect([chunked.ended, server.stats.closedUnreadBody]).toEqual([true, 2]);
    const trickle = connect();
    trickle.send("POST /up HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n");
    const t0 = clock.now();
    for (let i = 1; i <= 10; i++) clock.setTimer(t0 + i * 1_000, () => trickle.client.write(enc("1\r\nz\r\n")));
    clock.run(t0 + 2_999);
    expect(trickle.ended).toBe(false);
    clock.run(t0 + 3_010);
    expect([trickle.ended, server.stats.closedUnreadBody, server.stats.timeouts]).toEqual([true, 3, 0]);
  });

  it("counts parse errors by code", () => {
    const { clock, connect, server } = setup(hello, { date: false });
    connect().send("GET / HTTP/1.1\nHost: h\r\n\r\n");
    connect().send("GET / HTTP/1.1\r\nHost: h\r\nX: a\r\n b\r\n\r\n");
    connect().send("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nContent-Length: 5\r\n\r\n"); // drained, then refused
    connect().send("GET /x HTTP/1.1\nHost: h\r\n\r\n");
    clock.run(10);
    expect(server.stats.parseErrors).toBe(4);
    expect(server.stats.parseErrorsByCode).toEqual({ "bare-lf": 2, "obs-fold": 1, "framing-field-in-trailers": 1 });
    // The trailer came after a 200 had been sent: closed, but not after an error response.
    expect(server.stats.closedAfterError).toBe(3);
  });
});

describe("server: half-close by the client", () => {
  it("answers complete requests sent before a FIN, ignoring a partial head after them", () => {
    const { clock, connect } = setup(hello, { date: false });
    const p = connect();
    p.send("GET /a HTTP/1.1\r\nHost: h\r\n\r\nGET /b HTTP/1.1\r\nHo");
    p.client.end();
    clock.run(100);
    expect(p.text()).toBe("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 12\r\n\r\nhello GET /a");
    expect(p.ended).toBe(true);
  });

  it("resets when the FIN cuts a request body short", () => {
    let error = "";
    const { clock, connect } = setup(
      (req) => {
        req.body.onError((e) => {
          error = e.code;
        });
        req.body.onData(() => {});
      },
      { date: false },
    );
    const p = connect();
    p.send("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\n\r\nabc");
    p.client.end();
    clock.run(100);
    expect([error, p.closed]).toEqual(["ECONNRESET", "ECONNRESET"]);
  });
});

describe("server: request body streaming", () => {
  it("delivers a request body through the request's async iterator", async () => {
    const sizes: number[] = [];
    const { clock, connect } = setup(
      async (req, res) => {
        for await (const chunk of req) sizes.push(chunk.length);
        res.end(`${sizes.reduce((a, b) => a + b, 0)}`);
      },
      { date: false },
    );
    const p = connect();
    p.send("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 9\r\n\r\n");
    for (const part of ["abc", "def", "ghi"]) {
      p.send(part);
      clock.run(clock.now() + 1);
      await new Promise((r) => setImmediate(r));
    }
    clock.run(clock.now() + 10);
    await new Promise((r) => setImmediate(r));
    clock.run(clock.now() + 10);
    expect(sizes).toEqual([3, 3, 3]);
    expect(p.text()).toBe("HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n9");
  });

  it("stops reading the connection while the handler leaves a large body unread, and resumes when it reads", () => {
    let reader: (() => void) | null = null;
    let received = 0;
    const { clock, connect } = setup(
      (req, res) => {
        reader = () => {
          req.onData((d) => {
            received += d.length;
          });
          req.onEnd(() => res.end("done"));
        };
      },
      { date: false, highWaterMark: 16 * 1024 },
      { highWaterMark: 32 * 1024 },
    );
    const p = connect();
    p.send("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1000000\r\n\r\n");
    let accepted = 0;
    for (let i = 0; i < 100; i++) {
      const more = p.client.write(new Uint8Array(10_000));
      accepted++;
      if (!more) break;
      clock.run(clock.now() + 1);
    }
    clock.run(clock.now() + 10);
    expect(accepted).toBeLessThan(12);
    expect(p.client.bufferedAmount).toBeGreaterThan(0);
    reader!();
    let sent = accepted;
    p.client.onDrain(() => {
      while (sent < 100) {
        sent++;
        if (!p.client.write(new Uint8Array(10_000))) return;
      }
    });
    if (p.client.bufferedAmount < 32 * 1024) {
      while (sent < 100) {
        sent++;
        if (!p.client.write(new Uint8Array(10_000))) break;
      }
    }
    clock.run(clock.now() + 1_000);
    expect(received).toBe(1_000_000);
    expect(p.text()).toBe("HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\ndone");
  });
});
