import { spawnSync } from "node:child_process";
import { describe, expect, it } from "vitest";

const cli = (args: string[]) => spawnSync(process.execPath, ["bin/netlab.mjs", "sim", "xen-transfer", ...args], { encoding: "utf8", timeout: 120_000 });

describe("netlab sim xen-transfer on the command line", () => {
  it("--json prints one object in iperf3's sections (start, intervals, end, units), the same sha256 for the same seed", () => {
    const runs = [cli(["--bytes", "1Mi", "--gso", "--seed", "4", "--json"]), cli(["--bytes=1Mi", "--seed=4", "--json"])];
    type Json = {
      start: {
        command: string;
        seed: number;
        mss: number;
        congestionControl: string;
        connected: { receiverPort: number };
        test: { gso: boolean; intervalSeconds: null };
      };
      intervals: unknown[];
      end: { ok: boolean; bytes: number; sha256Match: boolean; wallGoodputBitsPerSecond: number; sha256: string; gso?: boolean };
      units: Record<string, string>;
    };
    const reports = runs.map((r) => {
      expect(r.status, r.stderr).toBe(0);
      return JSON.parse(r.stdout) as Json;
    });
    expect(Object.keys(reports[0]!)).toEqual(["start", "intervals", "end", "units"]);
    expect(reports[0]!.start).toMatchObject({
      command: "sim xen-transfer",
      seed: 4,
      mss: 1448,
      congestionControl: "cubic",
      connected: { receiverPort: 5001 },
      test: { gso: true },
    });
    expect(reports[1]!.start.test).toMatchObject({ gso: false, intervalSeconds: null });
    expect(reports[0]!.intervals).toEqual([]);
    expect(reports[0]!.end).toMatchObject({ ok: true, bytes: 1 << 20, sha256Match: true });
    expect(reports[0]!.end).not.toHaveProperty("gso");
    expect(reports[0]!.units).toMatchObject({ bytes: "B", received: "B" });
    expect(reports[0]!.end.wallGoodputBitsPerSecond).toBeGreaterThan(0);
    expect(reports[0]!.end.sha256).toBe(reports[1]!.end.sha256);
  });

  it("--interval prints iperf3-style lines on the wall clock and an SI-formatted summary; --json has the samples; not with --threads", () => {
    const text = cli(["--bytes", "64Mi", "--interval", "0.2", "--quiet"]);
    expect(text.status, text.stderr).toBe(0);
    const lines = text.stdout.trim().split("\n");
    expect(lines[0]).toMatch(
      /^\[ {3}0\.00- +\d+\.\d\d s\] +\d+(\.\d+)? [kMG]?B +\d+(\.\d+)? [kMG]?bit\/s {2}retr +\d+ {2}cwnd +\d+(\.\d+)? (Ki|Mi)?B {2}srtt \d+\.\d ms$/,
    );
    const summary = lines.find((l) => l.startsWith("xen-transfer: "));
    expect(summary).toMatch(/^xen-transfer: 67108864\/67108864 bytes, sha256 matches, goodput \d+(\.\d+)? [kMG]bit\/s \(wall /);
    const json = cli(["--bytes", "64Mi", "--interval", "0.2", "--json"]);
    expect(json.status, json.stderr).toBe(0);
    const o = JSON.parse(json.stdout) as {
      start: { test: { intervalSeconds: number } };
      intervals: { bytes: number; wallGoodputBitsPerSecond: number }[];
      end: { received: number };
    };
    expect(o.start.test.intervalSeconds).toBe(0.2);
    expect(o.intervals.length).toBeGreaterThan(0);
    expect(o.intervals.reduce((n, i) => n + i.bytes, 0)).toBe(o.end.received);
    const both = cli(["--bytes", "1Mi", "--threads", "--interval", "1"]);
    expect(both.status).toBe(2);
    expect(both.stderr).toMatch(/--interval samples the sender's connection/);
  });

  it("rejects a bad --bytes with exit code 2", () => {
    const r = cli(["--bytes", "lots"]);
    expect(r.status).toBe(2);
    expect(r.stderr).toBe(
      "netlab sim xen-transfer: [ERR_USAGE] --bytes needs bytes (a number with an optional k/M/G/T or Ki/Mi/Gi/Ti suffix), got 'lots' (see 'netlab sim xen-transfer --help')\n",
    );
    const missing = cli(["--gso"]);
    expect(missing.status).toBe(2);
    expect(missing.stderr).toMatch(/--bytes is required/);
  });

  it("--omit adds steady-state goodput; --socket-buffer sets the domUs' TCP buffers; bad values exit 2", () => {
    const r = cli(["--bytes", "2Mi", "--gso", "--omit", "512Ki", "--socket-buffer", "1Mi", "--json"]);
    expect(r.status, r.stderr).toBe(0);
    const { start, end: rep } = JSON.parse(r.stdout) as {
      start: { socketBufferBytes: number; test: { omitBytes: number } };
      end: { ok: boolean; steady?: { omittedBytes: number; bytes: number; wallGoodputBitsPerSecond: number } };
    };
    expect(rep).toMatchObject({ ok: true });
    expect(start).toMatchObject({ socketBufferBytes: 1 << 20, test: { omitBytes: 512 * 1024 } });
    expect(rep.steady!.omittedBytes).toBeGreaterThanOrEqual(512 * 1024);
    expect(rep.steady!.omittedBytes + rep.steady!.bytes).toBe(2 << 20);
    expect(rep.steady!.wallGoodputBitsPerSecond).toBeGreaterThan(0);
    const tooMuch = cli(["--bytes", "1Mi", "--omit", "1Mi"]);
    expect(tooMuch.status).toBe(2);
    expect(tooMuch.stderr).toMatch(/--omit .* must be less than --bytes/);
    const tiny = cli(["--bytes", "1Mi", "--socket-buffer", "100"]);
    expect(tiny.status).toBe(2);
    expect(tiny.stderr).toMatch(/--socket-buffer needs bytes in 4096\.\.1073741824/);
  });
});
