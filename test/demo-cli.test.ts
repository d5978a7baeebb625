import { describe, expect, it } from "vitest";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseCapture } from "../stack/link/pcap/index.ts";

const cli = (args: string[]) => spawnSync(process.execPath, ["bin/netlab.mjs", "demo", ...args], { encoding: "utf8", timeout: 60_000 });

describe("netlab demo on the command line", () => {
  it("prints one JSON object, writes the pcapng where --pcap says and exits 0", () => {
    const dir = mkdtempSync(join(tmpdir(), "netlab-demo-cli-"));
    try {
      const path = join(dir, "sub", "run.pcapng");
      const r = cli(["--seed", "3", "--json", "--pcap", path]);
      expect(r.status, r.stderr).toBe(0);
      const report = JSON.parse(r.stdout) as { seed: number; ok: boolean; pcapPath: string; capture: { packets: number; bytes: number }; checks: { ok: boolean }[] };
      expect(report).toMatchObject({ seed: 3, ok: true, pcapPath: path });
      expect(report.checks.length).toBeGreaterThanOrEqual(4);
      expect(existsSync(path)).toBe(true);
      const parsed = parseCapture(new Uint8Array(readFileSync(path)));
      expect(parsed.ok && parsed.value.packets.length).toBe(report.capture.packets);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("prints the human summary with the tables and the capture path", () => {
    const dir = mkdtempSync(join(tmpdir(), "netlab-demo-cli-"));
    try {
      const r = cli(["--pcap", join(dir, "d.pcapng")]);
      expect(r.status, r.stderr).toBe(0);
      expect(r.stdout).toMatch(/^netlab demo — seed 1, 20 s of virtual time/);
      expect(r.stdout).toMatch(/^ {2}h1 +192\.0\.2\.11 +02:00:00:00:00:01 /m);
      expect(r.stdout).toMatch(/^ {2}all +rtt min\/avg\/max [\d.]+\/[\d.]+\/[\d.]+ ms/m);
      expect(r.stdout).toContain(`capture: ${join(dir, "d.pcapng")}`);
      expect(r.stdout).toMatch(/demo passed\n$/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("rejects a bad seed or an unknown flag with exit code 2 and the usage", () => {
    for (const args of [["--seed", "x"], ["--frobnicate"], ["--pcap"]]) {
      const r = cli(args);
      expect(r.status).toBe(2);
      expect(r.stderr).toContain("usage: netlab demo [--seed N] [--pcap FILE] [--json]");
    }
  });
});
