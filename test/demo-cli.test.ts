import { describe, expect, it } from "vitest";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseCapture } from "../stack/link/pcap/index.ts";
import { fieldsWithoutUnit } from "../harness/report/json.ts";

const cli = (args: string[]) => spawnSync(process.execPath, ["bin/netlab.mjs", "demo", ...args], { encoding: "utf8", timeout: 60_000 });

describe("netlab demo on the command line", () => {
  it("prints one JSON object, writes the pcapng where --pcap says and exits 0", () => {
    const dir = mkdtempSync(join(tmpdir(), "netlab-demo-cli-"));
    try {
      const path = join(dir, "sub", "run.pcapng");
      const r = cli(["--seed", "3", "--json", "--pcap", path]);
      expect(r.status, r.stderr).toBe(0);
      const report = JSON.parse(r.stdout) as {
        units: Record<string, string>;
        seed: number;
        ok: boolean;
        xen: boolean;
        pcapPath: string;
        capture: { packets: number; bytes: number };
        checks: { name: string; ok: boolean }[];
        disk: {
          device: string;
          sizeBytes: number;
          sectorSize: number;
          requests: number;
          reads: number;
          writes: number;
          flushes: number;
          bytesRead: number;
          bytesWritten: number;
          ok: boolean;
          verdict: string;
        };
        dhcp: { leases: { host: string; mac: string; address: string; leaseTime: number; server: string }[] };
        http: { requests: { client: string; path: string; status: number; bytes: number; sha256: string; sha256Ok: boolean; durationMs: number }[] };
        ipv6: {
          family: string;
          hosts: { name: string; address: string; origin: string }[];
          tcp: { received: number; intact: boolean };
          http: { totals: { requests: number; correct: number } };
        };
      };
      expect(report).toMatchObject({ seed: 3, ok: true, xen: true, pcapPath: path });
      expect(report.checks.length).toBeGreaterThanOrEqual(10);
      expect(report.checks.find((c) => c.name === "Xen: h1's pages on xvda through blkfront")).toMatchObject({ ok: true });
      // Six 200 bodies read from the disk per family.
      expect(report.disk).toMatchObject({ device: "xvda", sizeBytes: 4194304, sectorSize: 512, reads: 12, writes: 3, flushes: 1, ok: true });
      expect(report.disk.requests).toBeGreaterThanOrEqual(10);
      expect(report.disk.bytesWritten).toBeGreaterThan(262144);
      expect(report.disk.bytesRead).toBeGreaterThan(4 * 262144);
      // The IPv6 half, and every check that is about one family names it.
      expect(report.ipv6).toMatchObject({ family: "ipv6", tcp: { received: 262144, intact: true }, http: { totals: { requests: 8, correct: 8 } } });
      expect(report.ipv6.hosts.map((h) => [h.name, h.address, h.origin])).toEqual([
        ["h1", "2001:db8::1", "static"],
        ["h2", "2001:db8::ff:fe00:2", "slaac"],
        ["h3", "2001:db8::ff:fe00:3", "slaac"],
      ]);
      const families = (report.checks as { name: string; family?: string }[]).map((c) => c.family);
      expect(families.filter((f) => f === "ipv6")).toHaveLength(4);
      expect(families.filter((f) => f === "ipv4").length).toBeGreaterThanOrEqual(8);
      expect(report.dhcp.leases.map((l) => [l.host, l.mac, l.leaseTime, l.server])).toEqual([
        ["h2", "02:00:00:00:00:02", 3600, "192.0.2.1"],
        ["h3", "02:00:00:00:00:03", 3600, "192.0.2.1"],
      ]);
      expect(report.dhcp.leases.every((l) => /^192\.0\.2\.1\d\d$/.test(l.address))).toBe(true);
      expect(report.http.requests).toHaveLength(8);
      expect(report.http.requests.every((q) => q.sha256Ok && /^[0-9a-f]{64}$/.test(q.sha256) && q.durationMs > 0)).toBe(true);
      expect(report.http.requests.filter((q) => q.path === "/data/256k.bin").map((q) => [q.client, q.status, q.bytes])).toEqual([
        ["h2", 200, 262144],
        ["h3", 200, 262144],
      ]);
      // The units rule: every quantity's unit is in its name or in `units`.
      expect(report.units).toMatchObject({ leaseTime: "s", bytes: "B", sectorSize: "B" });
      expect(fieldsWithoutUnit(report, report.units)).toEqual([]);
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
      expect(r.stdout).toMatch(/^hosts: Xen domUs, each NIC a netfront joined to its switch port by a dom0 bridge/m);
      // h1's disk: size, sector size, ring requests, operations, bytes, verdict.
      expect(r.stdout).toMatch(
        /^ {2}h1 disk xvda: 4\.00 MiB, 512-byte sectors \(blkback in dom0, memory image\); \d+ ring requests: 3 writes \+ 1 flush at boot, 12 reads; \d+(\.\d+)? kB written, \d+(\.\d+)? [kM]B read; ok$/m,
      );
      expect(r.stdout).toMatch(/^ok {3}Xen: h1's pages on xvda through blkfront: /m);
      expect(r.stdout).toMatch(/^ {2}h1 +192\.0\.2\.1 +static +02:00:00:00:00:01 /m);
      expect(r.stdout).toMatch(/^ {2}h2 +192\.0\.2\.1\d\d +dhcp +02:00:00:00:00:02 /m);
      // The lease table: host, MAC, address, lease time, server.
      expect(r.stdout).toMatch(/^ {2}h3 +02:00:00:00:00:03 +192\.0\.2\.1\d\d +3600 s +192\.0\.2\.1 /m);
      // The HTTP table: client, request, status, bytes, sha256 verdict.
      expect(r.stdout).toMatch(/^ {2}h2 +GET \/data\/256k\.bin +200 +262144 93940ece6daa ok /m);
      expect(r.stdout).toMatch(/^ {2}h3 +GET \/missing\.html +404 +10 [0-9a-f]{12} ok /m);
      expect(r.stdout).toMatch(/^ {2}all +rtt min\/avg\/max [\d.]+\/[\d.]+\/[\d.]+ ms/m);
      // IPv6: the SLAAC table, ping6, TCP and HTTP over IPv6, and the check lines naming the family.
      expect(r.stdout).toMatch(/^IPv6: h1 advertises 2001:db8::\/64 \(RAs\); the others autoconfigure \(SLAAC\):$/m);
      expect(r.stdout).toMatch(/^ {2}h2 +fe80::ff:fe00:2 +2001:db8::ff:fe00:2 +slaac +preferred +[\d.]+ ms +\d+ +0 +fe80::ff:fe00:1$/m);
      expect(r.stdout).toMatch(/^TCP over IPv6 h1 -> h3:9: 262144\/262144 bytes intact, /m);
      // Figures with the shared SI formatter.
      expect(r.stdout).toMatch(/^TCP h1 -> h3:\d+: 262144\/262144 bytes intact, [\d.]+ ms, goodput \d+(\.\d+)? [kMG]bit\/s \(virtual\), \d+ retransmissions$/m);
      expect(r.stdout).toMatch(/^HTTP over IPv6: server h1 \[2001:db8::1\]:80, 2 connections, 8 requests, 8 responses$/m);
      expect(r.stdout).toMatch(/^ok {3}IPv4 TCP transfer: /m);
      expect(r.stdout).toMatch(/^ok {3}IPv6 SLAAC from h1's RA: h2 2001:db8::ff:fe00:2, h3 2001:db8::ff:fe00:3 /m);
      expect(r.stdout).toMatch(/^ok {3}IPv6 HTTP over IPv6: every body correct: 8\/8 /m);
      expect(r.stdout).toContain(`capture: ${join(dir, "d.pcapng")}`);
      expect(r.stdout).toMatch(/demo passed\n$/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("runs the bare stacks with --no-xen: no Xen heading, no disk, no Xen checks, and exits 0", () => {
    const dir = mkdtempSync(join(tmpdir(), "netlab-demo-cli-"));
    try {
      const r = cli(["--no-xen", "--pcap", join(dir, "d.pcapng")]);
      expect(r.status, r.stderr).toBe(0);
      expect(r.stdout).toMatch(/^hosts on a learning switch \(192\.0\.2\.0\/24\):$/m);
      expect(r.stdout).not.toMatch(/xvda|Xen/);
      expect(r.stdout).toMatch(/demo passed\n$/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("documents --no-xen in --help", () => {
    const r = cli(["--help"]);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^usage: netlab demo \[--seed N\] \[--pcap FILE\] \[--json\] \[--no-xen\] \[--report FILE\.html\]$/m);
    expect(r.stdout).toMatch(/--no-xen +bare stacks on the switch ports/);
  });

  it("rejects a bad seed or an unknown flag with exit code 2 and one usage-error line", () => {
    for (const [args, message] of [
      [["--seed", "x"], "--seed needs a seed, an integer in 0..4294967295, got 'x'"],
      [["--seed=4294967296"], "--seed needs a seed in 0..4294967295 (the Rng's 32 bits), got '4294967296'"],
      [["--frobnicate"], "unknown option '--frobnicate'"],
      [["--pcap"], "--pcap needs a value"],
    ] as const) {
      const r = cli([...args]);
      expect(r.status).toBe(2);
      expect(r.stderr).toBe(`netlab demo: [ERR_USAGE] ${message} (see 'netlab demo --help')\n`);
    }
  });
  it("fails at once with the reason when the capture's directory cannot be created (/proc)", () => {
    const r = cli(["--pcap", "/proc/nope/x.pcapng"]);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/^netlab demo: \[ENOENT\] cannot create directory \/proc\/nope/m);
    expect(r.stdout).toBe("");
  });
});
