import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { createConnection, createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { ok } from "../../stack/result.ts";
import { createXenstoreClient } from "../../xen-sim/xenstore/client.ts";
import { createXenstoreServer } from "../../xen-sim/xenstore/server.ts";
import { connectXenstoreSocket, listenXenstoreSocket } from "./socket-transport.ts";

const dirs: string[] = [];
function tempSock(): string {
  const d = mkdtempSync(join(tmpdir(), "netlab-xss-"));
  dirs.push(d);
  return join(d, "socket");
}
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe("xenstore Unix-socket transport", () => {
  it("the client library speaks to the server over the socket, watches included", async () => {
    const sock = tempSock();
    const server = createXenstoreServer();
    const l = await listenXenstoreSocket(server, sock);
    try {
      const c = createXenstoreClient(await connectXenstoreSocket(sock));
      const seen: string[] = [];
      await c.watch("/s", (p) => seen.push(p));
      expect(await c.write("/s/k", "v")).toEqual(ok(undefined));
      expect(await c.read("/s/k")).toEqual(ok("v"));
      expect(seen).toEqual(["/s", "/s/k"]);
      c.close();
    } finally {
      await l.close();
    }
  });

  it("refuses clients beyond a configured maxConnections and reports each refusal", async () => {
    const sock = tempSock();
    const refusals: { connections: number; limit: number; reason: string }[] = [];
    const l = await listenXenstoreSocket(createXenstoreServer(), sock, { maxConnections: 1, onRefused: (i) => refusals.push(i) });
    try {
      const first = createXenstoreClient(await connectXenstoreSocket(sock));
      expect(await first.write("/a", "1")).toEqual(ok(undefined));
      const second = createXenstoreClient(await connectXenstoreSocket(sock));
      const r = await second.read("/a");
      expect(r).toEqual({ ok: false, error: "closed" });
      expect(l.connections()).toBe(1);
      expect(l.refused()).toBe(1);
      expect(refusals).toEqual([{ connections: 1, limit: 1, reason: "limit" }]);
      first.close();
    } finally {
      await l.close();
    }
  });

  it("has no fixed cap on clients: 100 at once are all served", async () => {
    const sock = tempSock();
    const l = await listenXenstoreSocket(createXenstoreServer(), sock);
    try {
      const clients = await Promise.all(Array.from({ length: 100 }, async () => createXenstoreClient(await connectXenstoreSocket(sock))));
      const results = await Promise.all(clients.map((c, i) => c.write(`/c/${i}`, String(i))));
      expect(results.every((r) => r.ok)).toBe(true);
      expect(await clients[99]!.read("/c/0")).toEqual(ok("0"));
      expect(l.connections()).toBe(100);
      expect(l.refused()).toBe(0);
      for (const c of clients) c.close();
    } finally {
      await l.close();
    }
  });

  it("refuses a socket someone listens on, and replaces a stale socket file nobody listens on", async () => {
    const liveSock = tempSock();
    const live = createServer();
    await new Promise<void>((r) => live.listen(liveSock, () => r()));
    const refused = await listenXenstoreSocket(createXenstoreServer(), liveSock).catch((e: { code: string }) => e.code);
    expect(refused).toBe("ERR_XENSTORED_SOCKET_IN_USE");
    await new Promise<void>((r) => live.close(() => r()));
    // A listener killed with SIGKILL leaves its socket file behind: the stale case.
    const sock = tempSock();
    const killed = spawnSync(process.execPath, [
      "-e",
      "require('net').createServer().listen(process.argv[1], () => process.kill(process.pid, 'SIGKILL'))",
      sock,
    ]);
    expect(killed.signal).toBe("SIGKILL");
    expect(existsSync(sock)).toBe(true);
    const l = await listenXenstoreSocket(createXenstoreServer(), sock);
    const c = createXenstoreClient(await connectXenstoreSocket(sock));
    expect(await c.write("/x", "1")).toEqual(ok(undefined));
    c.close();
    await l.close();
    expect(existsSync(sock)).toBe(false);
  });

  it("connectXenstoreSocket() to a missing path fails with ERR_XENSTORED_CONNECT", async () => {
    await expect(connectXenstoreSocket(join(tmpdir(), "netlab-no-such-socket"))).rejects.toMatchObject({ code: "ERR_XENSTORED_CONNECT" });
  });

  it("a client that disconnects mid-message leaves the server serving others", async () => {
    const sock = tempSock();
    const server = createXenstoreServer();
    const l = await listenXenstoreSocket(server, sock);
    try {
      await new Promise<void>((resolve) => {
        const s = createConnection(sock, () => {
          s.end(Buffer.from([2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 9, 0, 0, 0, 0x2f]));
        });
        s.on("close", () => resolve());
      });
      const c = createXenstoreClient(await connectXenstoreSocket(sock));
      expect(await c.write("/after", "ok")).toEqual(ok(undefined));
      c.close();
    } finally {
      await l.close();
    }
  });

  it("explains a missing directory and an over-long socket path", async () => {
    await expect(listenXenstoreSocket(createXenstoreServer(), "/nonexistent-netlab-dir/socket")).rejects.toMatchObject({
      code: "ERR_XENSTORED_LISTEN",
      message: expect.stringContaining("directory /nonexistent-netlab-dir does not exist"),
    });
    await expect(listenXenstoreSocket(createXenstoreServer(), join(tmpdir(), "x".repeat(120)))).rejects.toMatchObject({
      code: "ERR_XENSTORED_LISTEN",
      message: expect.stringContaining("limited to 107 bytes"),
    });
  });
});
