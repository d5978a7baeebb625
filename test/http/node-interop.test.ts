// node:http against netlab's HTTP over in-memory stream pairs on a virtual clock.
import { describe, expect, it } from "vitest";
import http from "node:http";
import { ok } from "../../stack/result.ts";
import { createVirtualClock } from "../../stack/time.ts";
import { createStreamPair } from "../../stack/transport/stream-pair.ts";
import { createHttpClient } from "../../stack/app/http/client.ts";
import { createHttpServer } from "../../stack/app/http/server.ts";
import { settle } from "../../harness/http/testing.ts";
import { byteStreamToDuplex } from "./byte-stream-duplex.ts";

describe("node:http interop over stream pairs", () => {
  it("node's http client talks to netlab's server: keep-alive, chunked upload, HEAD", async () => {
    const clock = createVirtualClock();
    const server = createHttpServer({ clock }, async (req, res) => {
      const body = await req.body.text();
      res.setHeader("X-Len", body.length);
      if (req.target === "/chunked") {
        res.write("a");
        res.write("b");
        res.end();
        return;
      }
      res.end(`${req.method} ${req.target} ${body}`);
    });
    let connections = 0;
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    (agent as unknown as { createConnection: () => unknown }).createConnection = () => {
      connections++;
      const [c, s] = createStreamPair(clock);
      server.handleConnection(s);
      return byteStreamToDuplex(c);
    };
    const call = (method: string, path: string, body?: string, chunked = false) =>
      new Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }>((resolve, reject) => {
        const req = http.request({ agent, host: "10.0.0.2", method, path }, (res) => {
          let b = "";
          res.setEncoding("latin1");
          res.on("data", (d: string) => {
            b += d;
          });
          res.on("end", () => resolve({ status: res.statusCode!, headers: res.headers, body: b }));
        });
        req.on("error", reject);
        if (chunked && body) {
          req.write(body.slice(0, 2));
          req.write(body.slice(2));
        } else if (body) req.write(body);
        req.end();
      });
    const a = await settle(clock, call("GET", "/x"));
    expect([a.status, a.body, a.headers["content-length"]]).toEqual([200, "GET /x ", "7"]);
    const b = await settle(clock, call("POST", "/up", "hello", true));
    expect([b.status, b.body, b.headers["x-len"]]).toEqual([200, "POST /up hello", "5"]);
    const c = await settle(clock, call("GET", "/chunked"));
    expect([c.body, c.headers["transfer-encoding"]]).toEqual(["ab", "chunked"]);
    const d = await settle(clock, call("HEAD", "/x"));
    expect([d.status, d.body, d.headers["content-length"]]).toEqual([200, "", "8"]);
    expect(connections).toBe(1);
    expect(server.stats.requests).toBe(4);
    agent.destroy();
  });

  it("netlab's client talks to node's http.Server: keep-alive reuse, chunked both ways, trailers", async () => {
    const clock = createVirtualClock();
    const nodeServer = http.createServer((req, res) => {
      let body = "";
      req.setEncoding("latin1");
      req.on("data", (d: string) => {
        body += d;
      });
      req.on("end", () => {
        if (req.httpVersion === "1.1") res.setHeader("Trailer", "X-Echo-Trailer");
        res.write(`${req.method} ${req.url} ${body}`);
        if (req.httpVersion === "1.1") res.addTrailers({ "X-Echo-Trailer": req.trailers["x-t"] ?? "none" });
        res.end();
      });
    });
    let connections = 0;
    const client = createHttpClient({
      clock,
      connect: () => {
        connections++;
        const [c, s] = createStreamPair(clock);
        nodeServer.emit("connection", byteStreamToDuplex(s));
        return ok(c);
      },
    });
    const a = await settle(clock, client.request({ host: 0x0a000002, path: "/a", headers: { TE: "trailers" } }));
    expect([a.status, a.headers.get("transfer-encoding")]).toEqual([200, "chunked"]);
    expect(await settle(clock, a.body.text())).toBe("GET /a ");
    expect(a.body.trailers?.get("x-echo-trailer")).toBe("none");
    async function* parts() {
      yield "x";
      yield "yz";
    }
    const b = await settle(
      clock,
      client.request({ host: 0x0a000002, method: "PUT", path: "/b", headers: { TE: "trailers" }, body: parts(), trailers: [["X-T", "42"]] }),
    );
    expect(await settle(clock, b.body.text())).toBe("PUT /b xyz");
    expect(b.body.trailers?.get("x-echo-trailer")).toBe("42");
    expect([b.reused, connections]).toEqual([true, 1]);
    const c = await settle(clock, client.request({ host: 0x0a000002, method: "POST", path: "/c", body: "plain", version: "1.0" }));
    expect(await settle(clock, c.body.text())).toBe("POST /c plain");
    nodeServer.close();
  });
});
