import { spawnSync } from "node:child_process";
import { describe, expect, it } from "vitest";

const cli = (args: string[]) => spawnSync(process.execPath, ["bin/netlab.mjs", "sim", "xen-transfer", ...args], { encoding: "utf8", timeout: 120_000 });

describe("netlab sim xen-transfer on the command line", () => {
  it("--json prints one object with ok, bytes, sha256Match and goodput, the same sha256 for the same seed", () => {
    const runs = [cli(["--bytes", "1M", "--gso", "--seed", "4", "--json"]), cli(["--bytes", "1M", "--seed", "4", "--json"])];
    const reports = runs.map((r) => {
      expect(r.status, r.stderr).toBe(0);
      return JSON.parse(r.stdout) as { ok: boolean; bytes: number; sha256Match: boolean; goodputBitsPerSecond: number; sha256: string; gso: boolean };
    });
    expect(reports[0]).toMatchObject({ ok: true, bytes: 1 << 20, sha256Match: true, gso: true });
    expect(reports[1]).toMatchObject({ ok: true, bytes: 1 << 20, sha256Match: true, gso: false });
    expect(reports[0]!.goodputBitsPerSecond).toBeGreaterThan(0);
    expect(reports[0]!.sha256).toBe(reports[1]!.sha256);
  });

  it("rejects a bad --bytes with exit code 2", () => {
    const r = cli(["--bytes", "lots"]);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/--bytes needs a number/);
  });
});
