import { spawnSync } from "node:child_process";
import { describe, expect, it } from "vitest";

const cli = (args: string[]) => spawnSync(process.execPath, ["bin/netlab.mjs", "sim", "xen-transfer", ...args], { encoding: "utf8", timeout: 120_000 });

describe("netlab sim xen-transfer on the command line", () => {
  it("--json prints one object with ok, bytes, sha256Match and goodput, the same sha256 for the same seed", () => {
    const runs = [cli(["--bytes", "1Mi", "--gso", "--seed", "4", "--json"]), cli(["--bytes=1Mi", "--seed=4", "--json"])];
    const reports = runs.map((r) => {
      expect(r.status, r.stderr).toBe(0);
      return JSON.parse(r.stdout) as { ok: boolean; bytes: number; sha256Match: boolean; wallGoodputBitsPerSecond: number; sha256: string; gso: boolean };
    });
    expect(reports[0]).toMatchObject({ ok: true, bytes: 1 << 20, sha256Match: true, gso: true });
    expect(reports[1]).toMatchObject({ ok: true, bytes: 1 << 20, sha256Match: true, gso: false });
    expect(reports[0]!.wallGoodputBitsPerSecond).toBeGreaterThan(0);
    expect(reports[0]!.sha256).toBe(reports[1]!.sha256);
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
    const rep = JSON.parse(r.stdout) as {
      ok: boolean;
      socketBufferBytes: number;
      steady?: { omittedBytes: number; bytes: number; wallGoodputBitsPerSecond: number };
    };
    expect(rep).toMatchObject({ ok: true, socketBufferBytes: 1 << 20 });
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
