// Interop with Debian's xenstore-utils (libxenstore over $XENSTORED_PATH) against our server.
import { execFile, spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createConnection } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ok } from "../../stack/result.ts";
import { connectInProcess, createXenstoreClient } from "../../xen-sim/xenstore/client.ts";
import { createXenstoreServer } from "../../xen-sim/xenstore/server.ts";
import type { XenstoreServer } from "../../xen-sim/xenstore/types.ts";
import { listenXenstoreSocket, type XenstoreSocketServer } from "./socket-transport.ts";

const TOOLS = ["xenstore-write", "xenstore-read", "xenstore-ls", "xenstore-rm", "xenstore-chmod", "xenstore-exists", "xenstore-list", "xenstore-watch"];
const missing = TOOLS.filter((t) => spawnSync("which", [t]).status !== 0);
const skipReason = missing.length ? `xenstore-utils missing (${missing.join(", ")}); run npm run setup` : "";
if (skipReason) console.warn(`skipping xenstore-utils interop: ${skipReason}`);

interface Out {
  code: number;
  stdout: string;
  stderr: string;
}

function tool(sock: string, name: string, args: string[], timeoutMs = 5000): Promise<Out> {
  return new Promise((resolve) => {
    execFile(name, args, { env: { ...process.env, XENSTORED_PATH: sock }, timeout: timeoutMs }, (e, stdout, stderr) => {
      const code = e ? (typeof e.code === "number" ? e.code : -1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

describe.skipIf(missing.length > 0)("xenstore-utils against the in-process server on a Unix socket", () => {
  let dir: string;
  let sock: string;
  let server: XenstoreServer;
  let listener: XenstoreSocketServer;
  const xs = (name: string, ...args: string[]) => tool(sock, name, args);

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "netlab-xs-"));
    sock = join(dir, "socket");
    server = createXenstoreServer();
    listener = await listenXenstoreSocket(server, sock);
  });
  afterAll(async () => {
    await listener.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("xenstore-write then xenstore-read returns the value", async () => {
    expect(await xs("xenstore-write", "/a", "b")).toEqual({ code: 0, stdout: "", stderr: "" });
    expect(await xs("xenstore-read", "/a")).toEqual({ code: 0, stdout: "b\n", stderr: "" });
    expect([...server.peek("/a")!]).toEqual([0x62]);
  });

  it("multi-key write, xenstore-list and xenstore-ls show the tree", async () => {
    expect((await xs("xenstore-write", "/vm/1/name", "guest", "/vm/1/uuid", "u-1")).code).toBe(0);
    expect(await xs("xenstore-list", "/vm/1")).toMatchObject({ code: 0, stdout: "name\nuuid\n" });
    expect(await xs("xenstore-ls", "/vm")).toMatchObject({ code: 0, stdout: '1 = ""\n name = "guest"\n uuid = "u-1"\n' });
    expect(await xs("xenstore-read", "/vm/1/name", "/vm/1/uuid")).toMatchObject({ code: 0, stdout: "guest\nu-1\n" });
  });

  it("xenstore-exists exits 0 for a node and 1 for a missing one", async () => {
    expect((await xs("xenstore-exists", "/vm/1/name")).code).toBe(0);
    expect((await xs("xenstore-exists", "/vm/1/nothing")).code).toBe(1);
  });

  it("xenstore-chmod sets permissions that xenstore-ls -p shows", async () => {
    expect((await xs("xenstore-chmod", "/vm/1/name", "r0", "b3")).code).toBe(0);
    const ls = await xs("xenstore-ls", "-p", "/vm/1");
    expect(ls.code).toBe(0);
    expect(ls.stdout).toMatch(/^name = "guest" [ .]*\(r0,b3\)\n/);
    expect(ls.stdout).toMatch(/\nuuid = "u-1" [ .]*\(n0\)\n$/);
  });

  it("xenstore-rm removes a subtree and xenstore-read then fails", async () => {
    expect((await xs("xenstore-rm", "/vm/1")).code).toBe(0);
    const r = await xs("xenstore-read", "/vm/1/name");
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("couldn't read path /vm/1/name");
    expect(await xs("xenstore-list", "/vm")).toMatchObject({ code: 0, stdout: "" });
  });

  it("xenstore-list of a directory too long for one reply pages through DIRECTORY_PART", async () => {
    const client = createXenstoreClient(connectInProcess(server, 0));
    const names = Array.from({ length: 300 }, (_, i) => `vif-backend-${String(i).padStart(3, "0")}`);
    const r = await client.transaction(async (tx) => {
      for (const n of names) {
        const m = await tx.mkdir(`/big/${n}`);
        if (!m.ok) return m;
      }
      return ok(undefined);
    });
    expect(r.ok).toBe(true);
    const list = await xs("xenstore-list", "/big");
    expect(list.code).toBe(0);
    expect(list.stdout).toBe(names.map((n) => `${n}\n`).join(""));
    expect(names.join("\0").length).toBeGreaterThan(4096);
    client.close();
  });

  it("xenstore-watch prints the initial event and the event of a later write", async () => {
    const watcher = tool(sock, "xenstore-watch", ["-n", "2", "/w"], 8000);
    for (let i = 0; i < 100 && server.stats().watches === 0; i++) await new Promise((r) => setTimeout(r, 20));
    expect(server.stats().watches).toBe(1);
    expect((await xs("xenstore-write", "/w/x", "1")).code).toBe(0);
    expect(await watcher).toEqual({ code: 0, stdout: "/w\n/w/x\n", stderr: "" });
  });

  it("a message announcing more than 4096 bytes closes that client only; the tools still work", async () => {
    const closed = await new Promise<boolean>((resolve) => {
      const s = createConnection(sock, () => {
        const h = Buffer.alloc(16);
        h.writeUInt32LE(2, 0);
        h.writeUInt32LE(5000, 12);
        s.write(h);
      });
      s.on("close", () => resolve(true));
      s.on("error", () => {});
      setTimeout(() => {
        s.destroy();
        resolve(false);
      }, 3000);
    });
    expect(closed).toBe(true);
    expect(await xs("xenstore-read", "/a")).toMatchObject({ code: 0, stdout: "b\n" });
  });
});

describe.skipIf(missing.length > 0)("netlab xenstored command", () => {
  const bin = join(import.meta.dirname, "../../bin/netlab.mjs");

  function start(sock: string): { proc: ReturnType<typeof spawn>; ready: Promise<string>; exit: Promise<{ code: number | null; stderr: string }> } {
    const proc = spawn(process.execPath, [bin, "xenstored", "--socket", sock], { stdio: ["ignore", "pipe", "pipe"] });
    let stderr = "";
    let onReady: (s: string) => void = () => {};
    const ready = new Promise<string>((r) => {
      onReady = r;
    });
    proc.stderr!.on("data", (b: Buffer) => {
      stderr += b.toString();
      if (stderr.includes("listening on") || stderr.includes("\n")) onReady(stderr);
    });
    const exit = new Promise<{ code: number | null; stderr: string }>((r) =>
      proc.on("exit", (code) => {
        onReady(stderr);
        r({ code, stderr });
      }),
    );
    return { proc, ready, exit };
  }

  it("serves xenstore-utils, refuses a second instance on the same socket, and removes the socket on SIGTERM", async () => {
    const dir = mkdtempSync(join(tmpdir(), "netlab-xsd-"));
    const sock = join(dir, "socket");
    const first = start(sock);
    try {
      expect(await first.ready).toContain(`listening on ${sock}`);
      expect((await tool(sock, "xenstore-write", ["/cli", "works"])).code).toBe(0);
      expect(await tool(sock, "xenstore-read", ["/cli"])).toMatchObject({ code: 0, stdout: "works\n" });
      const second = start(sock);
      const r2 = await second.exit;
      expect(r2.code).toBe(1);
      expect(r2.stderr).toContain(`${sock} is in use`);
      first.proc.kill("SIGTERM");
      const r1 = await first.exit;
      expect(r1.code).toBe(0);
      expect(r1.stderr).toContain("SIGTERM: stopped");
      expect(existsSync(sock)).toBe(false);
    } finally {
      if (first.proc.exitCode === null) first.proc.kill("SIGKILL");
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("refuses a path that is not a socket and a missing --socket", async () => {
    const dir = mkdtempSync(join(tmpdir(), "netlab-xsd-"));
    try {
      const file = join(dir, "plain");
      writeFileSync(file, "x");
      const r = await start(file).exit;
      expect(r.code).toBe(1);
      expect(r.stderr).toContain("is not a socket");
      const none = spawnSync(process.execPath, [bin, "xenstored"], { encoding: "utf8" });
      expect(none.status).toBe(2);
      expect(none.stderr).toContain("netlab xenstored: [ERR_USAGE] --socket is required");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
