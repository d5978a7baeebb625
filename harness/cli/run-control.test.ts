// Long runs as iperf3 runs them: progress on stderr at least once a second of wall time, and
// SIGINT / SIGTERM ending the run with its partial summary and exit status 130 / 143.
import { describe, expect, it } from "vitest";
import { runDhcpSim, runDhcpSimInterruptible } from "../sim/dhcp.ts";
import { exitStatusOf } from "./run-control.ts";
import { interruptCli } from "./interrupt-testing.ts";

describe("long runs: progress and interruption", () => {
  it("exitStatusOf() is 128 + the signal's number", () => {
    expect(exitStatusOf("SIGINT")).toBe(130);
    expect(exitStatusOf("SIGTERM")).toBe(143);
  });

  it("sim dhcp in wall-time slices gives the same figures as in one go, and an aborted run reports what it had", async () => {
    const options = { clients: 60, seed: 2, segmentSize: 20, loss: 0.02 };
    const whole = runDhcpSim(options);
    const lines: string[] = [];
    const sliced = await runDhcpSimInterruptible(options, undefined, (l) => lines.push(l));
    const { wallSeconds: _a, ...w } = whole;
    const { wallSeconds: _b, ...s } = sliced;
    expect(s).toEqual(w);
    expect(whole.ok).toBe(true);
    const abort = new AbortController();
    abort.abort("SIGINT");
    const cut = await runDhcpSimInterruptible(options, abort.signal);
    expect(cut).toMatchObject({ ok: false, interrupted: "SIGINT", clients: 60 });
    expect(cut.bound).toBeLessThan(60);
    expect(cut.error).toMatch(/^interrupted \(SIGINT\)/);
  });

  it("sim http: a progress line each second on stderr; SIGTERM ends it with the partial --json summary and exit 143", async () => {
    const r = await interruptCli(["sim", "http", "--requests", "10000000", "--json"], {
      ready: /^http: \d+\/10000000 responses/,
      readyLines: 2,
      signal: "SIGTERM",
    });
    expect(r.status).toBe(143);
    expect(r.readyLines).toBeGreaterThanOrEqual(2);
    const report = JSON.parse(r.stdout) as { ok: boolean; interrupted: string; responsesOk: number; failures: number };
    expect(report).toMatchObject({ ok: false, interrupted: "SIGTERM", failures: 0 });
    expect(report.responsesOk).toBeGreaterThan(0);
  }, 60_000);

  it("sim xen-transfer: a progress line each second on stderr (the whole run is at virtual time 0); SIGINT ends it with the partial summary and exit 130", async () => {
    const r = await interruptCli(["sim", "xen-transfer", "--bytes", "20G"], {
      ready: /^xen-transfer: \S+ [kMG]?B\/20\.0 GB \(/,
      readyLines: 2,
      signal: "SIGINT",
    });
    expect(r.status).toBe(130);
    expect(r.readyLines).toBeGreaterThanOrEqual(2);
    expect(r.stdout).toMatch(/^xen-transfer: \d+\/20000000000 bytes, sha256 MISMATCH, .*error: interrupted \(SIGINT\)/);
  }, 60_000);

  it("sim xen-transfer --threads: a progress line each second; SIGTERM stops the guest threads, the partial summary comes and the process ends (exit 143)", async () => {
    const r = await interruptCli(["sim", "xen-transfer", "--threads", "--bytes", "20G"], {
      ready: /^xen-transfer --threads: [\d.]+\/20000\.0 MB/,
      readyLines: 2,
      signal: "SIGTERM",
    });
    expect(r.status).toBe(143);
    expect(r.readyLines).toBeGreaterThanOrEqual(2);
    expect(r.stdout).toMatch(/^xen-transfer: \d+\/20000000000 bytes, sha256 MISMATCH, .*worker threads.*error: interrupted \(SIGTERM\)/);
    // The guests stop at the flag (terminated after 5 s otherwise): the process, threads and all, is gone well before.
    expect(r.exitMs).toBeLessThan(8_000);
  }, 90_000);

  it("sim xen-transfer --json --interval: SIGTERM still prints one valid object, its end partial and its intervals so far, exit 143", async () => {
    const r = await interruptCli(["sim", "xen-transfer", "--bytes", "20G", "--interval", "0.3", "--json"], {
      ready: /^xen-transfer: \S+ [kMG]?B\/20\.0 GB \(/,
      readyLines: 2,
      signal: "SIGTERM",
    });
    expect(r.status).toBe(143);
    const o = JSON.parse(r.stdout) as { start: { seed: number }; intervals: { bytes: number }[]; end: { ok: boolean; interrupted: string; received: number } };
    expect(o.start.seed).toBe(1);
    expect(o.end).toMatchObject({ ok: false, interrupted: "SIGTERM" });
    expect(o.end.received).toBeGreaterThan(0);
    expect(o.intervals.length).toBeGreaterThan(0);
    expect(o.intervals.reduce((n, i) => n + i.bytes, 0)).toBe(o.end.received);
  }, 60_000);
});
