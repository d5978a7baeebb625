import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { ok } from "../../../stack/result.ts";
import { createXenstoreClient } from "../../../xen-sim/xenstore/client.ts";
import { connectXenstoreSocket } from "../../xenstore/socket-transport.ts";
import { parseXenstoredArgs, startXenstored, type RunningXenstored, type XenstoredOptions } from "./xenstored.ts";

const dirs: string[] = [];
const running: RunningXenstored[] = [];
afterEach(async () => {
  for (const r of running.splice(0)) await r.close();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), "netlab-xsd-cli-"));
  dirs.push(d);
  return d;
}
async function client(path: string) {
  return createXenstoreClient(await connectXenstoreSocket(path));
}

describe("netlab xenstored arguments", () => {
  it("parses domain sockets, trace modes, limits and quotas; refuses what makes no sense", () => {
    const o = parseXenstoredArgs([
      "--socket",
      "/s",
      "--domain-socket",
      "5=/d5",
      "--domain-socket",
      "7=/d7",
      "--trace",
      "--json",
      "--max-clients",
      "3",
      "--quota-node-size",
      "100",
    ]);
    expect(o).toMatchObject({
      socket: "/s",
      trace: "json",
      maxClients: 3,
      keepOrphans: false,
      quotas: { maxNodeSize: 100 },
      domainSockets: [
        { domid: 5, path: "/d5" },
        { domid: 7, path: "/d7" },
      ],
    });
    expect(parseXenstoredArgs(["--socket", "/s", "--trace"])).toMatchObject({ trace: "text" });
    expect(parseXenstoredArgs(["--socket", "/s", "--json-log"])).toMatchObject({ trace: "json" });
    expect(() => parseXenstoredArgs(["--socket", "/s", "--domain-socket", "0=/d"])).toThrow("0 < DOMID");
    expect(() => parseXenstoredArgs(["--socket", "/s", "--domain-socket", "5"])).toThrow("DOMID=PATH");
    expect(() => parseXenstoredArgs(["--socket", "/s", "--domain-socket", "5=/a", "--domain-socket", "5=/b"])).toThrow("given twice");
    expect(() => parseXenstoredArgs(["--socket", "/s", "--domain-socket", "5=/s"])).toThrow("own path");
    expect(() => parseXenstoredArgs(["--socket", "/s", "--json"])).toThrow("--json goes with --trace");
    expect(() => parseXenstoredArgs(["--domain-socket", "5=/d"])).toThrow("--socket is required");
  });
});

describe("netlab xenstored with domain sockets", () => {
  async function start(extra: Partial<XenstoredOptions> = {}) {
    const dir = tempDir();
    const notes: string[] = [];
    const traced: string[] = [];
    const options: XenstoredOptions = {
      socket: join(dir, "dom0"),
      domainSockets: [{ domid: 5, path: join(dir, "dom5") }],
      trace: "off",
      maxClients: undefined,
      keepOrphans: false,
      quotas: {},
      ...extra,
    };
    const r = await startXenstored(options, { note: (l) => notes.push(l), trace: (l) => traced.push(l) });
    running.push(r);
    return { dir, options, notes, traced, r };
  }

  it("a client of a domain socket acts as that domain: relative paths, its permissions, its quotas", async () => {
    const { options } = await start();
    const dom0 = await client(options.socket);
    const dom5 = await client(options.domainSockets[0]!.path);
    expect(await dom0.isDomainIntroduced(5)).toEqual(ok(true));
    expect(await dom5.write("data/x", "from-5")).toEqual(ok(undefined));
    expect(await dom0.read("/local/domain/5/data/x")).toEqual(ok("from-5"));
    expect(await dom0.getPerms("/local/domain/5/data/x")).toEqual(ok([{ domid: 5, perm: "n" }]));
    expect(await dom5.read("/tool/xenstored")).toEqual({ ok: false, error: "EACCES" });
    expect(await dom5.isDomainIntroduced(5)).toEqual({ ok: false, error: "EACCES" });
    expect(await dom5.write("big", "x".repeat(2100))).toEqual({ ok: false, error: "ENOSPC" });
    expect(await dom0.write("/big", "x".repeat(2100))).toEqual(ok(undefined));
    dom0.close();
    dom5.close();
  });

  it("RELEASE closes the domain's clients, deletes its nodes, and its socket then refuses with a reason until it is introduced again", async () => {
    const { options, notes } = await start();
    const dom0 = await client(options.socket);
    const dom5 = await client(options.domainSockets[0]!.path);
    expect(await dom5.write("data/x", "v")).toEqual(ok(undefined));
    const released: string[] = [];
    await dom0.watch("@releaseDomain", (p) => released.push(p));
    expect(await dom0.release(5)).toEqual(ok(undefined));
    expect(await dom5.read("data/x")).toEqual({ ok: false, error: "closed" });
    expect(await dom0.read("/local/domain/5/data/x")).toEqual({ ok: false, error: "ENOENT" });
    const late = await client(options.domainSockets[0]!.path);
    expect(await late.read("data")).toEqual({ ok: false, error: "closed" });
    expect(notes.some((n) => n.includes("(dom5): domain 5 is not introduced"))).toBe(true);
    expect(await dom0.introduce(5, 0, 1)).toEqual(ok(undefined));
    const again = await client(options.domainSockets[0]!.path);
    expect(await again.getDomainPath(5)).toEqual(ok("/local/domain/5"));
    expect(released).toContain("@releaseDomain");
    for (const c of [dom0, dom5, late, again]) c.close();
  });

  it("--trace writes one line per request, as text or as JSON lines", async () => {
    const text = await start({ trace: "text" });
    const c = await client(text.options.domainSockets[0]!.path);
    expect(await c.write("k", "v")).toEqual(ok(undefined));
    expect(text.traced).toHaveLength(1);
    expect(text.traced[0]).toMatch(/^\S+Z conn \d+ dom5 WRITE req \d+ tx 0 "k" "v" -> OK\n$/);
    c.close();
    const json = await start({ trace: "json" });
    const d = await client(json.options.socket);
    expect(await d.read("/nothing")).toEqual({ ok: false, error: "ENOENT" });
    const rec = JSON.parse(json.traced.at(-1)!);
    expect(rec).toMatchObject({ domid: 0, type: "READ", txId: 0, args: ["/nothing"], reply: "ENOENT" });
    expect(typeof rec.t).toBe("string");
    d.close();
  });

  it("the command serves dom0 and domain sockets and removes them all on SIGTERM", async () => {
    const dir = tempDir();
    const s0 = join(dir, "dom0"),
      s7 = join(dir, "dom7");
    const bin = join(import.meta.dirname, "../../../bin/netlab.mjs");
    const proc = spawn(process.execPath, [bin, "xenstored", "--socket", s0, "--domain-socket", `7=${s7}`, "--trace", "--json"], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "",
      stderr = "";
    proc.stdout.on("data", (b: Buffer) => {
      stdout += b.toString();
    });
    const ready = new Promise<void>((r) =>
      proc.stderr.on("data", (b: Buffer) => {
        stderr += b.toString();
        if (stderr.includes(`dom7 on ${s7}`)) r();
      }),
    );
    const exit = new Promise<number | null>((r) => proc.on("exit", (code) => r(code)));
    try {
      await ready;
      const d7 = await client(s7);
      expect(await d7.write("hello", "world")).toEqual(ok(undefined));
      const d0 = await client(s0);
      expect(await d0.read("/local/domain/7/hello")).toEqual(ok("world"));
      d7.close();
      d0.close();
      proc.kill("SIGTERM");
      expect(await exit).toBe(0);
      const lines = stdout
        .trim()
        .split("\n")
        .map((l) => JSON.parse(l));
      expect(lines.map((l) => [l.domid, l.type, l.reply])).toEqual([
        [7, "WRITE", "OK"],
        [0, "READ", "OK"],
      ]);
      expect(existsSync(s0) || existsSync(s7)).toBe(false);
      expect(stderr).toContain(`removed ${s0}, ${s7}`);
    } finally {
      if (proc.exitCode === null) proc.kill("SIGKILL");
    }
  }, 30_000);
});
