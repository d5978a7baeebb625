// Long runs as iperf3 runs them: progress on stderr at least once a second of wall time, and
// SIGINT / SIGTERM ending the run with its partial summary and exit status 130 / 143.
import { spawn } from "node:child_process";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { runDhcpSim, runDhcpSimInterruptible } from "../sim/dhcp.ts";
import { exitStatusOf } from "./run-control.ts";

const CLI = join(import.meta.dirname, "../../bin/netlab.mjs");

/** Runs the CLI, waits for `progress` on stderr twice, sends `signal`, and returns what came out. */
async function interruptCli(
  args: string[],
  progress: RegExp,
  signal: NodeJS.Signals,
): Promise<{ status: number | null; stdout: string; stderr: string; lines: number }> {
  const child = spawn(process.execPath, [CLI, ...args], { stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "",
    stderr = "";
  child.stdout.setEncoding("utf8").on("data", (d: string) => {
    stdout += d;
  });
  child.stderr.setEncoding("utf8").on("data", (d: string) => {
    stderr += d;
  });
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  const count = (): number => stderr.split("\n").filter((l) => progress.test(l)).length;
  const started = Date.now();
  while (count() < 2 && Date.now() - started < 30_000) await new Promise((r) => setTimeout(r, 50));
  child.kill(signal);
  const status = await exited;
  return { status, stdout, stderr, lines: count() };
}

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
    const r = await interruptCli(["sim", "http", "--requests", "10000000", "--json"], /^http: \d+\/10000000 responses/, "SIGTERM");
    expect(r.status).toBe(143);
    expect(r.lines).toBeGreaterThanOrEqual(2);
    const report = JSON.parse(r.stdout) as { ok: boolean; interrupted: string; responsesOk: number; failures: number };
    expect(report).toMatchObject({ ok: false, interrupted: "SIGTERM", failures: 0 });
    expect(report.responsesOk).toBeGreaterThan(0);
  }, 60_000);

  it("sim xen-transfer: a progress line each second on stderr (the whole run is at virtual time 0); SIGINT ends it with the partial summary and exit 130", async () => {
    const r = await interruptCli(["sim", "xen-transfer", "--bytes", "20G"], /^xen-transfer: [\d.]+\/20000\.0 MB/, "SIGINT");
    expect(r.status).toBe(130);
    expect(r.lines).toBeGreaterThanOrEqual(2);
    expect(r.stdout).toMatch(/^xen-transfer: \d+\/20000000000 bytes, sha256 MISMATCH, .*error: interrupted \(SIGINT\)/);
  }, 60_000);
});
