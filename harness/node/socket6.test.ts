// The Node wrappers over IPv6: connect({ host: v6 }), listen({ host: "::" }) v6-only and
// dual-stack (ipv6Only: false), the addresses they report, and node:http over v6. The
// reference is Node itself on this machine's loopback: the same calls on real net sockets
// give the shapes and texts asserted here (recorded per test from a live run, not copied).
import { describe, expect, it } from "vitest";
import http from "node:http";
import net from "node:net";
import { once } from "node:events";
import { createHash } from "node:crypto";
import { connect, createNodeServer, formatIpv6ForNode, type NetlabSocket } from "./index.ts";
import { withClockPump } from "./clock-pump.ts";
import { createNodeTestNet } from "./test-net.ts";
import { createRng } from "../../stack/time.ts";
import { ipv6 } from "../../stack/wire/ipv6-address.ts";

/** What a connected socket reports about itself. */
function view(s: net.Socket | NetlabSocket) {
  return {
    address: s.address(),
    localAddress: s.localAddress,
    localFamily: (s as { localFamily?: string }).localFamily,
    remoteAddress: s.remoteAddress,
    remoteFamily: s.remoteFamily,
  };
}

/** Ports out of a view, which differ between runs. */
function withoutPorts(v: ReturnType<typeof view>) {
  const { port: _p, ...address } = v.address as { port: number };
  return { ...v, address };
}

/** A server as both node:net and the wrapper have it. */
interface ServerLike extends NodeJS.EventEmitter {
  listen(options: { host: string; port: number; ipv6Only?: boolean }, callback?: () => void): NodeJS.EventEmitter;
  address(): unknown;
  close(): unknown;
}

/** What views() runs the same calls on: node:net itself, or the wrappers over two stacks. */
interface SocketApi {
  createServer(): ServerLike;
  connect(options: { host: string; port: number }): net.Socket | NetlabSocket;
}

/**
 * A server listening with `listen` on an ephemeral port and one client from `host`: what the
 * server, the client and the accepted socket report (ports left out), and what a second,
 * IPv4-only listener on the same port gets ("listening" or the error code).
 */
async function views(api: SocketApi, listen: { host: string; ipv6Only?: boolean }, host: string) {
  const server = api.createServer();
  await once(server.listen({ ...listen, port: 0 }), "listening");
  const port = (server.address() as { port: number }).port;
  const accepted = once(server, "connection") as Promise<[net.Socket | NetlabSocket]>;
  const client = api.connect({ host, port });
  await once(client, "connect");
  const [peer] = await accepted;
  const seen = { server: server.address(), client: withoutPorts(view(client)), accepted: withoutPorts(view(peer)), port };
  const second = api.createServer();
  const v4Listen = await new Promise<string>((resolve) => {
    second.once("error", (e: NodeJS.ErrnoException) => resolve(e.code ?? "error"));
    second.listen({ host: "0.0.0.0", port }, () => resolve("listening"));
  });
  second.close();
  client.destroy();
  peer.destroy();
  server.close();
  return { ...seen, v4Listen };
}

/** views() on real Node sockets over this machine's loopback. */
function realNodeViews(listen: { host: string; ipv6Only?: boolean }, host: string) {
  return views({ createServer: () => net.createServer(), connect: (o) => net.connect(o) }, listen, host);
}

/** views() on two netlab stacks (b listens, a connects). */
function netlabViews(listen: { host: string; ipv6Only?: boolean }, host: string) {
  const t = createNodeTestNet({ ipv6: true });
  return withClockPump(t.clock, () => views({ createServer: () => createNodeServer(t.b), connect: (o) => connect(t.a, o) }, listen, host));
}

describe("the Node wrappers over IPv6", () => {
  it("formatIpv6ForNode() writes addresses as Node does (net.SocketAddress), IPv4-mapped and IPv4-compatible ones included", () => {
    const rng = createRng(20);
    const samples: Uint8Array[] = [];
    for (let i = 0; i < 3000; i++) {
      const a = new Uint8Array(16);
      // Mostly zero groups, so that runs of zeros of every length and place occur.
      for (let g = 0; g < 8; g++) {
        const kind = rng.nextInt(4);
        const v = kind < 2 ? 0 : kind === 2 ? rng.nextInt(0x10000) : 0xffff;
        a[2 * g] = v >> 8;
        a[2 * g + 1] = v & 0xff;
      }
      samples.push(a);
    }
    for (const fixed of ["::", "::1", "::ffff:192.0.2.1", "::1.2.3.4", "::0.1.0.0", "2001:db8::1", "fe80::1:0:0:1", "1:0:0:1:0:0:0:1"])
      samples.push(ipv6(fixed));
    for (const a of samples) {
      const text = [...Array(8).keys()].map((g) => ((a[2 * g]! << 8) | a[2 * g + 1]!).toString(16)).join(":");
      expect(formatIpv6ForNode(a), text).toBe(new net.SocketAddress({ address: text, family: "ipv6" }).address);
    }
  });

  it("connect({ host: v6 }) to listen({ host: '::' }): the addresses, families and server address() are Node's", async () => {
    const real = await realNodeViews({ host: "::1", ipv6Only: true }, "::1");
    const n = await netlabViews({ host: "::" }, "2001:db8::2");
    expect(n.server).toEqual({ address: "::", family: "IPv6", port: n.port });
    // Node's loopback run has ::1 at both ends; netlab's client is 2001:db8::1 and its server 2001:db8::2.
    const at = (v: typeof real.client, local: string, remote: string) => ({
      ...v,
      localAddress: local,
      remoteAddress: remote,
      address: { ...v.address, address: local },
    });
    expect(n.client).toEqual(at(real.client, "2001:db8::1", "2001:db8::2"));
    expect(n.accepted).toEqual(at(real.accepted, "2001:db8::2", "2001:db8::1"));
    expect(real.client).toMatchObject({ localFamily: "IPv6", remoteFamily: "IPv6", address: { family: "IPv6" } });
    // v6-only: an IPv4 listener on the same port is allowed (Node's ipv6Only: true does the same).
    expect([real.v4Listen, n.v4Listen]).toEqual(["listening", "listening"]);
  });

  it("a dual-stack server (ipv6Only: false) accepts an IPv4 client and reports ::ffff:a.b.c.d, and refuses a v4 listener on its port (EADDRINUSE), as Node on Linux", async () => {
    const real = await realNodeViews({ host: "::", ipv6Only: false }, "127.0.0.1");
    expect(real.accepted).toEqual({
      address: { address: "::ffff:127.0.0.1", family: "IPv6" },
      localAddress: "::ffff:127.0.0.1",
      localFamily: "IPv6",
      remoteAddress: "::ffff:127.0.0.1",
      remoteFamily: "IPv6",
    });
    const n = await netlabViews({ host: "::", ipv6Only: false }, "192.0.2.2");
    expect(n.accepted).toEqual({
      address: { address: "::ffff:192.0.2.2", family: "IPv6" },
      localAddress: "::ffff:192.0.2.2",
      localFamily: "IPv6",
      remoteAddress: "::ffff:192.0.2.1",
      remoteFamily: "IPv6",
    });
    // The IPv4 client sees a plain IPv4 connection, on either side.
    expect(real.client).toMatchObject({ remoteAddress: "127.0.0.1", remoteFamily: "IPv4", address: { family: "IPv4" } });
    expect(n.client).toEqual({
      address: { address: "192.0.2.1", family: "IPv4" },
      localAddress: "192.0.2.1",
      localFamily: "IPv4",
      remoteAddress: "192.0.2.2",
      remoteFamily: "IPv4",
    });
    expect([real.v4Listen, n.v4Listen]).toEqual(["EADDRINUSE", "EADDRINUSE"]);
    // ...and a v6 client on the same dual-stack server is a v6 connection.
    const six = await netlabViews({ host: "::", ipv6Only: false }, "2001:db8::2");
    expect(six.accepted).toMatchObject({ remoteAddress: "2001:db8::1", remoteFamily: "IPv6", address: { address: "2001:db8::2" } });
  });

  it("v6-only (the default): an IPv4 client of a '::' server is refused (ECONNREFUSED); an IPv4-mapped host reaches an IPv4 server as IPv6", async () => {
    const t = createNodeTestNet({ ipv6: true });
    await withClockPump(t.clock, async () => {
      const six = createNodeServer(t.b);
      await once(six.listen({ host: "::", port: 8080 }), "listening");
      const refused = connect(t.a, { host: "192.0.2.2", port: 8080 });
      const [e] = (await once(refused, "error")) as [NodeJS.ErrnoException];
      expect([e.code, e.message]).toEqual(["ECONNREFUSED", "connect ECONNREFUSED 192.0.2.2:8080"]);
      const four = createNodeServer(t.b, (s) => s.end("four\n"));
      await once(four.listen(8080), "listening");
      const mapped = connect(t.a, { host: "::ffff:192.0.2.2", port: 8080 });
      await once(mapped, "connect");
      expect(withoutPorts(view(mapped))).toEqual({
        address: { address: "::ffff:192.0.2.1", family: "IPv6" },
        localAddress: "::ffff:192.0.2.1",
        localFamily: "IPv6",
        remoteAddress: "::ffff:192.0.2.2",
        remoteFamily: "IPv6",
      });
      const [line] = (await once(mapped, "data")) as [Buffer];
      expect(line.toString()).toBe("four\n");
      six.close();
      four.close();
    });
  });

  it("errors over v6 read as Node's: ECONNREFUSED with the v6 address, EAFNOSUPPORT on a v4-only stack", async () => {
    const t = createNodeTestNet({ ipv6: true });
    await withClockPump(t.clock, async () => {
      const s = connect(t.a, { host: "2001:db8::2", port: 81 });
      const [e] = (await once(s, "error")) as [NodeJS.ErrnoException & { address: string; port: number }];
      // Node: "connect ECONNREFUSED ::1:1" (address and port joined without brackets).
      expect([e.code, e.message, e.address, e.port]).toEqual(["ECONNREFUSED", "connect ECONNREFUSED 2001:db8::2:81", "2001:db8::2", 81]);
    });
    const v4only = createNodeTestNet();
    await withClockPump(v4only.clock, async () => {
      const [e] = (await once(connect(v4only.a, { host: "2001:db8::2", port: 80 }), "error")) as [NodeJS.ErrnoException];
      expect(e.code).toBe("EAFNOSUPPORT");
      const server = createNodeServer(v4only.b);
      const [l] = (await once(server.listen({ host: "::", port: 80 }), "error")) as [NodeJS.ErrnoException];
      expect(l.code).toBe("EAFNOSUPPORT");
    });
  });

  it("node:http client and server over v6 between two stacks: GET 1 MB and POST 300 kB intact, Host [2001:db8::2]:80 (Node names the port when createConnection replaces the agent), req.socket names the v6 peer", async () => {
    const t = createNodeTestNet({ ipv6: true, impair: { delayMs: 2 } });
    const big = Buffer.alloc(1_000_000, 0);
    for (let i = 0; i < big.length; i++) big[i] = (i * 7 + (i >>> 9)) & 0xff;
    const sha = (b: Buffer): string => createHash("sha256").update(b).digest("hex");
    await withClockPump(t.clock, async () => {
      const seen: string[] = [];
      const server = http.createServer((req, res) => {
        seen.push(`${req.headers.host} ${req.socket.remoteAddress} ${req.socket.remoteFamily}`);
        if (req.method === "GET") {
          res.end(big);
          return;
        }
        const h = createHash("sha256");
        let n = 0;
        req.on("data", (d: Buffer) => {
          n += d.length;
          h.update(d);
        });
        req.on("end", () => res.end(`${n} ${h.digest("hex")}`));
      });
      const netlab = createNodeServer(t.b, (s) => server.emit("connection", s));
      await once(netlab.listen({ host: "::", port: 80 }), "listening");
      const request = (method: string, upload?: Buffer) =>
        new Promise<Buffer>((resolve, reject) => {
          const req = http.request(
            { method, host: "2001:db8::2", port: 80, path: "/", createConnection: () => connect(t.a, { host: "2001:db8::2", port: 80 }) },
            (res) => {
              const parts: Buffer[] = [];
              res.on("data", (d: Buffer) => parts.push(d));
              res.on("end", () => resolve(Buffer.concat(parts)));
            },
          );
          req.on("error", reject);
          req.end(upload);
        });
      const got = await request("GET");
      expect([got.length, sha(got)]).toEqual([big.length, sha(big)]);
      const up = big.subarray(0, 300_000);
      expect((await request("POST", up)).toString()).toBe(`300000 ${sha(up)}`);
      expect(seen).toEqual(["[2001:db8::2]:80 2001:db8::1 IPv6", "[2001:db8::2]:80 2001:db8::1 IPv6"]);
      // Only v6 TCP carried it.
      expect(t.a.tcp6!.layer.stats.segmentsSent).toBeGreaterThan(100);
      expect(t.a.tcp.stats.segmentsSent).toBe(0);
      server.closeAllConnections();
      await new Promise<void>((r) => netlab.close(() => r()));
    });
  });
});
