// HTTP across two netlab stacks joined by a simulated wire (netlab TCP underneath), on the
// virtual clock: netlab client <-> netlab server with loss, and node:http on either side
// through a Duplex over a netlab TCP connection.
import { describe, expect, it, onTestFailed } from "vitest";
import http from "node:http";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createPcapWriter } from "../../stack/link/pcap/pcap.ts";
import { createByteCollector } from "../../stack/link/pcap/types.ts";
import { checkCaptureWithTshark, tsharkFields, tsharkMissingReason } from "../../harness/oracle/tshark.ts";
import type { ImpairmentOptions } from "../../stack/link/impairments.ts";
import { createTwoStacksOnLink } from "../../stack/net/test-net.ts";
import { unwrap } from "../../stack/result.ts";
import { createHttpClient } from "../../stack/app/http/client.ts";
import { createHttpServer, type HttpHandler } from "../../stack/app/http/server.ts";
import { settle } from "../../harness/http/testing.ts";
import { byteStreamToDuplex } from "./byte-stream-duplex.ts";

const SERVER_IP = 0xc0000202; // 192.0.2.2

/** Two stacks on an impaired wire; the client's device is captured, and the capture is saved when the test fails. */
function twoStacks(seed: number, impairments: ImpairmentOptions = {}) {
  const capture = createByteCollector();
  const { clock, a, b } = createTwoStacksOnLink({
    seed,
    impairments: { delayMs: 1, ...impairments },
    captureA: createPcapWriter((c) => capture.write(c)),
    a: { name: "client", ipv4: { cidr: "192.0.2.1/24" } },
    b: { name: "server", ipv4: { cidr: "192.0.2.2/24" } },
  });
  const savePcap = (name: string): string => {
    const dir = mkdtempSync(join(tmpdir(), "netlab-http-"));
    const file = join(dir, `${name}.pcap`);
    writeFileSync(file, capture.bytes());
    return file;
  };
  onTestFailed(() => {
    process.stderr.write(`[http over tcp] capture of the failed test: ${savePcap(`seed-${seed}`)}\n`);
  });
  return { clock, a, b, savePcap };
}

/** Deterministic content: byte i of resource n. */
const bodyFor = (n: number, size: number): Uint8Array => {
  const out = new Uint8Array(size);
  for (let i = 0; i < size; i++) out[i] = (i * 31 + n * 7) & 0xff;
  return out;
};

const resourceHandler: HttpHandler = (req, res) => {
  const m = /^\/r\/(\d+)\/(\d+)$/.exec(req.target);
  if (!m) {
    res.statusCode = 404;
    res.end();
    return;
  }
  const body = bodyFor(Number(m[1]), Number(m[2]));
  if (Number(m[1]) % 2 === 0) {
    res.end(body);
  } else {
    let at = 0;
    const pump = (): void => {
      while (at < body.length) {
        const piece = body.subarray(at, at + 3000);
        at += piece.length;
        if (!res.write(piece)) {
          res.onDrain(pump);
          return;
        }
      }
      res.end();
    };
    pump();
  }
};

describe("HTTP over netlab TCP between two stacks", () => {
  it("serves pipelined and concurrent requests with correct bodies under 2% loss", async () => {
    const { clock, a, b } = twoStacks(7, { loss: 0.02 });
    const server = createHttpServer({ clock }, resourceHandler);
    server.listen(unwrap(b.tcp.listen(80)));
    const client = createHttpClient({ clock, tcp: a.tcp }, { pipeline: 4, maxConnectionsPerHost: 2 });
    const sizes = [0, 1, 1460, 5000, 70_000, 300_000, 17, 4096];
    const jobs = sizes.map(async (size, n) => {
      const res = await client.request({ host: SERVER_IP, path: `/r/${n}/${size}` });
      const got = await res.body.bytes(1 << 20);
      return {
        status: res.status,
        chunked: res.headers.has("transfer-encoding"),
        ok: got.length === size && got.every((v, i) => v === ((i * 31 + n * 7) & 0xff)),
      };
    });
    const results = await settle(clock, Promise.all(jobs), Infinity);
    expect(results.map((r) => [r.status, r.ok])).toEqual(sizes.map(() => [200, true]));
    expect(results.map((r) => r.chunked)).toEqual(sizes.map((_, n) => n % 2 === 1));
    expect(client.stats.connectionsOpened).toBeLessThanOrEqual(2);
    expect(server.stats.requests).toBe(sizes.length);
    expect(b.tcp.stats.retransmits + a.tcp.stats.retransmits).toBeGreaterThan(0);
  });

  it("reuses one kept-alive TCP connection for sequential requests and uploads a chunked body", async () => {
    const { clock, a, b } = twoStacks(11);
    const server = createHttpServer({ clock }, async (req, res) => {
      const body = await req.body.bytes();
      res.setHeader(
        "X-Remote",
        `${req.remoteAddress >>> 24}.${(req.remoteAddress >>> 16) & 255}.${(req.remoteAddress >>> 8) & 255}.${req.remoteAddress & 255}`,
      );
      res.end(`${req.method} ${body.length} ${req.body.trailers?.get("x-sum") ?? "-"}`);
    });
    server.listen(unwrap(b.tcp.listen(8080)));
    const client = createHttpClient({ clock, tcp: a.tcp });
    const first = await settle(clock, client.request({ host: SERVER_IP, port: 8080, path: "/" }), Infinity);
    expect(await settle(clock, first.body.text(), Infinity)).toBe("GET 0 -");
    expect(first.headers.get("x-remote")).toBe("192.0.2.1");
    async function* upload() {
      for (let i = 0; i < 50; i++) yield bodyFor(i, 1000);
    }
    const second = await settle(
      clock,
      client.request({ host: SERVER_IP, port: 8080, method: "POST", path: "/up", body: upload(), trailers: [["X-Sum", "50"]] }),
      Infinity,
    );
    expect(await settle(clock, second.body.text(), Infinity)).toBe("POST 50000 50");
    expect([second.reused, client.stats.connectionsOpened]).toEqual([true, 1]);
  });

  it("fails with ETIMEDOUT when the peer never answers the SYN within connectTimeoutMs", async () => {
    const { clock, a } = twoStacks(4, { loss: 1 });
    const client = createHttpClient({ clock, tcp: a.tcp }, { connectTimeoutMs: 3_000 });
    const e = await settle(
      clock,
      client.request({ host: SERVER_IP, path: "/" }).catch((x: unknown) => x),
      Infinity,
    );
    expect(e).toMatchObject({ code: "ETIMEDOUT", detail: "connect" });
    expect(clock.now()).toBe(3_000);
  });

  it.skipIf(tsharkMissingReason() !== undefined)("leaves a capture in which tshark decodes every request and response and flags nothing", async () => {
    const { clock, a, b, savePcap } = twoStacks(13);
    const server = createHttpServer({ clock }, resourceHandler, { date: false });
    server.listen(unwrap(b.tcp.listen(80)));
    const client = createHttpClient({ clock, tcp: a.tcp }, { pipeline: 3, maxConnectionsPerHost: 1 });
    const paths = ["/r/0/100", "/r/1/5000", "/r/2/20000", "/nope"];
    const all = Promise.all(paths.map(async (path) => (await client.request({ host: SERVER_IP, path })).body.bytes()));
    await settle(clock, all, Infinity);
    client.close();
    clock.run(clock.now() + 5_000);
    const file = savePcap("tshark");
    try {
      const verdict = checkCaptureWithTshark(file);
      expect(verdict.offending).toEqual([]);
      // Pipelined requests share segments: tshark lists several values per packet, comma-separated.
      const uris = tsharkFields(file, ["http.request.uri"], "http.request").flatMap(([v]) => v!.split(","));
      const codes = tsharkFields(file, ["http.response.code"], "http.response").flatMap(([v]) => v!.split(","));
      expect([uris, codes]).toEqual([paths, ["200", "200", "200", "404"]]);
    } finally {
      rmSync(join(file, ".."), { recursive: true, force: true });
    }
  });

  it("refuses a connection to a closed port with ECONNREFUSED", async () => {
    const { clock, a } = twoStacks(3);
    const client = createHttpClient({ clock, tcp: a.tcp });
    const e = await settle(
      clock,
      client.request({ host: SERVER_IP, port: 81, path: "/" }).catch((x: unknown) => x),
      Infinity,
    );
    expect(e).toMatchObject({ code: "ECONNREFUSED" });
  });

  it("node's http client fetches from netlab's server over netlab TCP", async () => {
    const { clock, a, b } = twoStacks(5);
    const server = createHttpServer({ clock }, resourceHandler);
    server.listen(unwrap(b.tcp.listen(80)));
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    (agent as unknown as { createConnection: () => unknown }).createConnection = () => byteStreamToDuplex(unwrap(a.tcp.connect(SERVER_IP, 80)));
    const get = (path: string) =>
      new Promise<{ status: number; body: Buffer }>((resolve, reject) => {
        http
          .get({ agent, host: "192.0.2.2", path }, (res) => {
            const parts: Buffer[] = [];
            res.on("data", (d: Buffer) => parts.push(d));
            res.on("end", () => resolve({ status: res.statusCode!, body: Buffer.concat(parts) }));
          })
          .on("error", reject);
      });
    const r1 = await settle(clock, get("/r/2/100000"), 1);
    const r2 = await settle(clock, get("/r/3/50000"), 1);
    expect([r1.status, r1.body.length, r2.status, r2.body.length]).toEqual([200, 100_000, 200, 50_000]);
    expect(Buffer.from(bodyFor(3, 50_000)).equals(r2.body)).toBe(true);
    expect(server.stats.connections).toBe(1);
    agent.destroy();
  });

  it("netlab's client fetches from node's http.Server over netlab TCP", async () => {
    const { clock, a, b } = twoStacks(9);
    const nodeServer = http.createServer((req, res) => {
      let n = 0;
      req.on("data", (d: Buffer) => {
        n += d.length;
      });
      req.on("end", () => res.end(`${req.method} ${req.url} ${n}`));
    });
    unwrap(b.tcp.listen(80)).onConnection((s) => nodeServer.emit("connection", byteStreamToDuplex(s)));
    const client = createHttpClient({ clock, tcp: a.tcp });
    const r1 = await settle(clock, client.request({ host: SERVER_IP, path: "/n1" }), 1);
    expect(await settle(clock, r1.body.text(), 1)).toBe("GET /n1 0");
    const r2 = await settle(clock, client.request({ host: SERVER_IP, method: "PUT", path: "/n2", body: bodyFor(1, 200_000) }), 1);
    expect(await settle(clock, r2.body.text(), 1)).toBe("PUT /n2 200000");
    expect(r2.reused).toBe(true);
    nodeServer.close();
  });
});
