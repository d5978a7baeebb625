import { spawnSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { createNetns, listNetns, missingTools, run, sweepStaleNetns, withNetns } from "./index.ts";

const skipReason = process.getuid?.() !== 0 ? "needs root" : missingTools(["ip"]).length > 0 ? "no ip(8)" : undefined;
if (skipReason) process.stderr.write(`[netns] skipping namespace tests: ${skipReason}\n`);

describe("run()", () => {
  it("kills a command that outlives its timeout and says so", async () => {
    const start = performance.now();
    const r = await run("sleep", ["5"], { timeoutMs: 100 });
    expect(r).toMatchObject({ timedOut: true, signal: "SIGKILL" });
    expect(performance.now() - start).toBeLessThan(2000);
  });

  it("reports a missing executable as exit code 127 instead of throwing", async () => {
    expect((await run("netlab-no-such-tool", [])).code).toBe(127);
    expect(missingTools(["sh", "netlab-no-such-tool"])).toEqual(["netlab-no-such-tool"]);
  });
});

describe.skipIf(skipReason)("network namespaces", () => {
  it("withNetns() removes the namespace and the processes started in it even when the body throws", async () => {
    let name = "";
    let pid: number | undefined;
    await expect(
      withNetns(async (ns) => {
        name = ns.name;
        const sleeper = ns.spawn("sleep", ["30"]);
        pid = sleeper.child.pid;
        expect(await ns.execChecked("ip", ["-br", "link", "show", "lo"])).toMatch(/^lo\s+UNKNOWN/);
        throw new Error("body failed");
      }),
    ).rejects.toThrow("body failed");
    expect(name).toMatch(/^nl-test-\d+-[0-9a-f]{6}$/);
    expect(await listNetns()).not.toContain(name);
    expect(spawnSync("kill", ["-0", String(pid)]).status).not.toBe(0);
  });

  it("configures an interface inside the namespace and runs commands there", async () => {
    await withNetns(async (ns) => {
      await ns.ip("link", "add", "nlveth0", "type", "veth", "peer", "name", "nlveth1");
      await ns.configureLink("nlveth0", { addresses: ["198.51.100.1/24"], mtu: 1400 });
      await ns.configureLink("nlveth1", { addresses: ["198.51.100.2/24"] });
      const shown = await ns.ip("-br", "addr", "show", "dev", "nlveth0");
      expect(shown).toMatch(/198\.51\.100\.1\/24/);
      expect(shown).not.toMatch(/fe80/);
      expect((await ns.exec("ping", ["-c", "1", "-W", "2", "198.51.100.2"], { timeoutMs: 5000 })).code).toBe(0);
    });
  });

  it("sweepStaleNetns() removes namespaces whose owner process is gone and leaves live owners' alone", async () => {
    const dead = spawnSync("true").pid!;
    const stale = `nl-sweeptest-${dead}-abcdef`;
    spawnSync("ip", ["netns", "add", stale]);
    const mine = await createNetns("nl-sweeptest-");
    try {
      const removed = await sweepStaleNetns("nl-sweeptest-");
      expect(removed).toContain(stale);
      expect(removed).not.toContain(mine.name);
      const left = await listNetns();
      expect(left).not.toContain(stale);
      expect(left).toContain(mine.name);
    } finally {
      await mine.remove();
      spawnSync("ip", ["netns", "del", stale]);
    }
  });
});
