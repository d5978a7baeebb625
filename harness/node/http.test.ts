// node:http's own client and server over netlab TCP between two stacks in one process:
// http.request({ createConnection }) to an http.Server fed with server.emit("connection").
// Virtual time is driven by the clock pump (clock-pump.ts), Node's timers stay real.
import { describe, expect, it } from "vitest";
import http from "node:http";
import { once } from "node:events";
import { createHash } from "node:crypto";
import { connect, createNodeServer } from "./index.ts";
import { withClockPump } from "./clock-pump.ts";
import { createNodeTestNet, type NodeTestNet } from "./test-net.ts";

function body(n: number, seed: number): Buffer {
  const b = Buffer.allocUnsafe(n);
  for (let i = 0; i < n; i++) b[i] = (i * 7 + seed * 13 + (i >>> 10)) & 0xff;
  return b;
}

function sha(b: Buffer): string {
  return createHash("sha256").update(b).digest("hex");
}

/** node:http server on stack b port 80: GET /n/<bytes>/<seed> returns body(); POST echoes the sha256 and length. */
async function startNodeHttpServer(net: NodeTestNet): Promise<{ http: http.Server; close: () => Promise<void>; sockets: () => number }> {
  const server = http.createServer((req, res) => {
    if (req.method === "GET") {
      const [, , n, seed] = (req.url ?? "").split("/");
      const b = body(Number(n), Number(seed));
      res.writeHead(200, { "content-type": "application/octet-stream", "content-length": b.length });
      res.end(b);
      return;
    }
    const h = createHash("sha256");
    let len = 0;
    req.on("data", (d: Buffer) => {
      h.update(d);
      len += d.length;
    });
    req.on("end", () => res.end(`${len} ${h.digest("hex")}`));
  });
  let sockets = 0;
  const netlab = createNodeServer(net.b, (s) => {
    sockets++;
    server.emit("connection", s);
  });
  await once(netlab.listen(80), "listening");
  return {
    http: server,
    sockets: () => sockets,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((r) => netlab.close(() => r()));
    },
  };
}

function request(
  agent: http.Agent | undefined,
  net: NodeTestNet,
  method: string,
  path: string,
  upload?: Buffer,
): Promise<{ status: number; body: Buffer; reused: boolean }> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        method,
        path,
        host: "192.0.2.2",
        port: 80,
        ...(agent === undefined ? { createConnection: () => connect(net.a, { host: "192.0.2.2", port: 80 }) } : { agent }),
      },
      (res) => {
        const parts: Buffer[] = [];
        res.on("data", (d: Buffer) => parts.push(d));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(parts), reused: req.reusedSocket }));
        res.on("error", reject);
      },
    );
    req.on("error", reject);
    req.end(upload);
  });
}

describe("node:http over netlab sockets", () => {
  it("http.request({ createConnection }) fetches 1 MB from an http.Server given netlab sockets, and POSTs 500 kB back intact", async () => {
    const net = createNodeTestNet({ impair: { delayMs: 2 } });
    await withClockPump(net.clock, async () => {
      const server = await startNodeHttpServer(net);
      const get = await request(undefined, net, "GET", "/n/1000000/1");
      expect([get.status, get.body.length, sha(get.body)]).toEqual([200, 1_000_000, sha(body(1_000_000, 1))]);
      const upload = body(500_000, 9);
      const post = await request(undefined, net, "POST", "/up", upload);
      expect([post.status, post.body.toString()]).toEqual([200, `500000 ${sha(upload)}`]);
      expect(server.sockets()).toBe(2);
      await server.close();
    });
  });

  it("a keep-alive http.Agent whose createConnection returns netlab sockets reuses one connection for sequential requests under 2% loss", async () => {
    const net = createNodeTestNet({ seed: 4, impair: { delayMs: 3, jitterMs: 1, loss: 0.02, reorder: 0.02 } });
    await withClockPump(
      net.clock,
      async () => {
        const server = await startNodeHttpServer(net);
        const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
        (agent as unknown as { createConnection: () => unknown }).createConnection = () => connect(net.a, { host: "192.0.2.2", port: 80 });
        const results = [];
        for (let i = 0; i < 5; i++) results.push(await request(agent, net, "GET", `/n/${50_000 * (i + 1)}/${i}`));
        for (let i = 0; i < 5; i++) {
          const r = results[i]!;
          expect([r.status, r.body.length, sha(r.body), r.reused]).toEqual([200, 50_000 * (i + 1), sha(body(50_000 * (i + 1), i)), i > 0]);
        }
        expect(server.sockets()).toBe(1);
        expect(net.a.tcp.stats.retransmits + net.b.tcp.stats.retransmits).toBeGreaterThan(0);
        agent.destroy();
        await server.close();
      },
      { stepMs: 5 },
    );
  });

  it("http.request to a port nobody listens on fails with ECONNREFUSED from the netlab socket", async () => {
    const net = createNodeTestNet();
    await withClockPump(net.clock, async () => {
      const e = await new Promise<NodeJS.ErrnoException>((resolve) => {
        const req = http.request({ host: "192.0.2.2", port: 81, createConnection: () => connect(net.a, { host: "192.0.2.2", port: 81 }) });
        req.on("error", resolve);
        req.end();
      });
      expect([e.code, e.syscall]).toEqual(["ECONNREFUSED", "connect"]);
    });
  });
});
