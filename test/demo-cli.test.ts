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
      const report = JSON.parse(r.stdout) as {
        seed: number; ok: boolean; pcapPath: string; capture: { packets: number; bytes: number }; checks: { ok: boolean }[];
        dhcp: { leases: { host: string; mac: string; address: string; leaseTime: number; server: string }[] };
        http: { requests: { client: string; path: string; status: number; bytes: number; sha256: string; sha256Ok: boolean; durationMs: number }[] };
      };
      expect(report).toMatchObject({ seed: 3, ok: true, pcapPath: path });
      expect(report.checks.length).toBeGreaterThanOrEqual(7);
      expect(report.dhcp.leases.map((l) => [l.host, l.mac, l.leaseTime, l.server])).toEqual([["h2", "02:00:00:00:00:02", 3600, "192.0.2.1"], ["h3", "02:00:00:00:00:03", 3600, "192.0.2.1"]]);
      expect(report.dhcp.leases.every((l) => /^192\.0\.2\.1\d\d$/.test(l.address))).toBe(true);
      expect(report.http.requests).toHaveLength(8);
      expect(report.http.requests.every((q) => q.sha256Ok && /^[0-9a-f]{64}$/.test(q.sha256) && q.durationMs > 0)).toBe(true);
      expect(report.http.requests.filter((q) => q.path === "/data/256k.bin").map((q) => [q.client, q.status, q.bytes])).toEqual([["h2", 200, 262144], ["h3", 200, 262144]]);
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
      expect(r.stdout).toMatch(/^netlab demo — seed 1, [\d.]+ s of virtual time/);
      expect(r.stdout).toMatch(/^ {2}h1 +192\.0\.2\.1 +static +02:00:00:00:00:01 /m);
      expect(r.stdout).toMatch(/^ {2}h2 +192\.0\.2\.1\d\d +dhcp +02:00:00:00:00:02 /m);
      // The lease table: host, MAC, address, lease time, server.
      expect(r.stdout).toMatch(/^ {2}h3 +02:00:00:00:00:03 +192\.0\.2\.1\d\d +3600 s +192\.0\.2\.1 /m);
      // The HTTP table: client, request, status, bytes, sha256 verdict.
      expect(r.stdout).toMatch(/^ {2}h2 +GET \/data\/256k\.bin +200 +262144 93940ece6daa ok /m);
      expect(r.stdout).toMatch(/^ {2}h3 +GET \/missing\.html +404 +10 [0-9a-f]{12} ok /m);
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
