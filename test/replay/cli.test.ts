// `netlab replay` on the command line: exit codes, --json, --all, --update, usage errors.
import { copyFileSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { spawnSync } from "node:child_process";
import { join, resolve } from "node:path";
import { afterEach, describe, expect, it, vi } from "vitest";
import { main } from "../../harness/cli/main.ts";
import { readCaptureFile } from "../../harness/pcap/files.ts";

const ROOT = resolve(import.meta.dirname, "../..");
const DIR = mkdtempSync(join(tmpdir(), "netlab-replay-cli-"));
const OUT = join(DIR, "out");

async function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = "",
    stderr = "";
  const o = vi.spyOn(process.stdout, "write").mockImplementation((s) => {
    stdout += String(s);
    return true;
  });
  const e = vi.spyOn(process.stderr, "write").mockImplementation((s) => {
    stderr += String(s);
    return true;
  });
  try {
    const code = await main(["replay", ...args]);
    return { code, stdout, stderr };
  } finally {
    o.mockRestore();
    e.mockRestore();
  }
}

afterEach(() => vi.restoreAllMocks());

describe("netlab replay", () => {
  it("replays one capture and prints a JSON report with --json (exit 0)", async () => {
    const r = await cli(["pcaps/kernel-tcp-closes.pcapng.gz", "--json", "--out", OUT]);
    expect(r.code).toBe(0);
    const report = JSON.parse(r.stdout) as { ok: boolean; modes: Array<{ mode: string; ok: boolean; frames: number }> };
    expect(report.ok).toBe(true);
    expect(report.modes.map((m) => m.mode)).toEqual(["decode", "conversation"]);
    expect(report.modes[0]!.frames).toBe(25);
  });

  it("--mode runs one mode; the text report ends with a summary line", async () => {
    const r = await cli(["pcaps/sim-tcp-echo.pcapng.gz", "--mode", "golden", "--out", OUT]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("ok   golden       scenario tcp-echo seed 1: 66/66 frames identical");
    expect(r.stdout).toMatch(/^ok: 1\/1 captures, 66 frames replayed in \d+ ms$/m);
  });

  it("exits 2 on usage errors", async () => {
    expect((await cli([])).code).toBe(2);
    expect((await cli(["x.pcap", "--mode", "fast"])).stderr).toBe(
      "netlab replay: [ERR_USAGE] --mode needs one of decode, conversation, golden, got 'fast' (see 'netlab replay --help')\n",
    );
    expect((await cli(["x.pcap", "--update", "--mode", "decode"])).code).toBe(2);
    expect((await cli(["x.pcap", "--all"])).code).toBe(2);
    expect((await cli(["--record", "--only", "no-such-recording"])).code).toBe(2);
  });

  it("--all exits 1 when any capture regresses and names it", async () => {
    const dir = join(DIR, "all");
    const fs = await import("node:fs");
    fs.mkdirSync(dir, { recursive: true });
    copyFileSync("pcaps/kernel-arp-icmp.pcapng.gz", join(dir, "kernel-arp-icmp.pcapng.gz"));
    const json = JSON.parse(readFileSync("pcaps/kernel-arp-icmp.expect.json", "utf8")) as { decode: { frames: number } };
    json.decode.frames = 10;
    writeFileSync(join(dir, "kernel-arp-icmp.expect.json"), JSON.stringify(json));
    const r = await cli(["--all", "--dir", dir, "--out", OUT]);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain("frame -1: decode.frames: expected 10, got 9");
    expect(r.stdout).toMatch(/^FAIL: 0\/1 captures/m);
  });

  it("--update writes a golden capture that then replays identical to the committed one", async () => {
    const dir = join(DIR, "golden");
    const fs = await import("node:fs");
    fs.mkdirSync(dir, { recursive: true });
    copyFileSync("pcaps/sim-tcp-echo.expect.json", join(dir, "sim-tcp-echo.expect.json"));
    const path = join(dir, "sim-tcp-echo.pcapng.gz");
    expect((await cli([path, "--update", "--out", OUT])).code).toBe(0);
    const fresh = readCaptureFile(path),
      committed = readCaptureFile("pcaps/sim-tcp-echo.pcapng.gz");
    expect(fresh.ok && committed.ok).toBe(true);
    if (fresh.ok && committed.ok) {
      expect(fresh.value.packets.map((p) => Buffer.from(p.data).toString("hex"))).toEqual(
        committed.value.packets.map((p) => Buffer.from(p.data).toString("hex")),
      );
    }
    expect((await cli([path, "--out", OUT])).code).toBe(0);
  });
  it("--all finds the repository's pcaps from any working directory", () => {
    const r = spawnSync(process.execPath, [join(ROOT, "bin/netlab.mjs"), "replay", "--all", "--json", "--out", OUT], {
      cwd: DIR,
      encoding: "utf8",
      timeout: 120_000,
    });
    expect(r.status, r.stderr).toBe(0);
    const reports = JSON.parse(r.stdout) as { ok: boolean }[];
    expect(reports.length).toBeGreaterThanOrEqual(5);
    expect(reports.every((x) => x.ok)).toBe(true);
  });

  it("--as refuses what is neither an IPv4 address nor a MAC (exit 2)", async () => {
    for (const bad of ["banana", "192.0.2.300", "02:00:00:00:00"]) {
      const r = await cli(["pcaps/kernel-tcp-closes.pcapng.gz", "--as", bad]);
      expect(r.code, bad).toBe(2);
      expect(r.stderr).toContain(`--as needs an IPv4 address (192.0.2.1) or a MAC (02:00:00:00:00:01), not '${bad}'`);
      expect(r.stderr.split("\n")).toHaveLength(2);
    }
  });

  it("--as decodes netlab demo's own capture (three interfaces: decode only) and passes", async () => {
    const { runDemo } = await import("../../harness/cli/commands/demo.ts");
    const demo = await runDemo({ seed: 1, xen: false });
    const path = join(DIR, "demo.pcapng");
    writeFileSync(path, demo.pcap);
    for (const as of ["192.0.2.1", "02:00:00:00:00:03"]) {
      const r = await cli([path, "--as", as, "--json", "--out", OUT]);
      expect(r.code, r.stdout).toBe(0);
      const report = JSON.parse(r.stdout) as { ok: boolean; modes: Array<{ mode: string; ok: boolean; frames: number }> };
      expect(report.modes.map((m) => [m.mode, m.ok])).toEqual([["decode", true]]);
      expect(report.modes[0]!.frames).toBe(demo.capture.packets);
    }
    // cut short inside its last block: read up to the cut, with a warning (as tshark)
    const cut = join(DIR, "demo-cut.pcapng");
    writeFileSync(cut, demo.pcap.subarray(0, demo.pcap.length - 10));
    const r = await cli([cut, "--as", "192.0.2.1", "--out", OUT]);
    expect(r.code, r.stdout).toBe(0);
    expect(r.stdout).toMatch(
      new RegExp(
        `warning: the file appears to have been cut short \\(truncated-block at byte offset \\d+: .*\\); read ${demo.capture.packets - 1} packets before the cut`,
      ),
    );
  });
});
