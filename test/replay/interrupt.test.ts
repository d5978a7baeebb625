// `netlab replay --all` as a long run: progress on stderr each wall second, and SIGINT / SIGTERM
// stopping before the next capture with the summary of those replayed (exit 130 / 143); and
// replayAll's signal and onCapture underneath.
import { copyFileSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { interruptCli } from "../../harness/cli/interrupt-testing.ts";
import { replayAll } from "../../harness/replay/index.ts";

const PCAPS = resolve(import.meta.dirname, "../../pcaps");

/** A folder of `n` copies of one committed capture and its expectation (copy-000 ... copy-NNN). */
function copies(n: number, stem = "kernel-tcp-bulk"): string {
  const dir = mkdtempSync(join(tmpdir(), "netlab-replay-interrupt-"));
  const expectation = JSON.parse(readFileSync(join(PCAPS, `${stem}.expect.json`), "utf8")) as Record<string, unknown>;
  for (let i = 0; i < n; i++) {
    const name = `copy-${String(i).padStart(3, "0")}`;
    copyFileSync(join(PCAPS, `${stem}.pcapng.gz`), join(dir, `${name}.pcapng.gz`));
    writeFileSync(join(dir, `${name}.expect.json`), JSON.stringify({ ...expectation, capture: `${name}.pcapng.gz` }));
  }
  return dir;
}

describe("replayAll", () => {
  it("reports each capture as it is done and stops before the next one once its signal aborts", async () => {
    const dir = copies(4);
    const seen: [number, number][] = [];
    const abort = new AbortController();
    const reports = await replayAll(dir, {
      outDir: join(dir, "out"),
      signal: abort.signal,
      onCapture: (done, total, r) => {
        seen.push([done, total]);
        expect(r.ok).toBe(true);
        if (done === 2) abort.abort();
      },
    });
    expect(seen).toEqual([
      [1, 4],
      [2, 4],
    ]);
    expect(reports.map((r) => r.ok)).toEqual([true, true]);
  });
});

describe("netlab replay --all interrupted", () => {
  for (const [signal, status] of [
    ["SIGINT", 130],
    ["SIGTERM", 143],
  ] as const) {
    it(`${signal}: progress lines first, then the summary of the captures replayed so far and exit ${status}`, async () => {
      const dir = copies(400);
      const run = await interruptCli(["replay", "--all", "--dir", dir, "--out", join(dir, "out")], {
        ready: /^replay: \d+\/400 captures, \d+ frames, [\d.]+ s$/,
        signal,
        readyTimeoutMs: 60_000,
      });
      expect(run.ready, run.stderr).toBe(true);
      expect(run.status, run.stderr).toBe(status);
      const summary = /^ok: (\d+)\/(\d+) captures, (\d+) frames replayed in \d+ ms \(interrupted by (SIG\w+)\)$/m.exec(run.stdout);
      expect(summary, run.stdout.slice(-500)).not.toBeNull();
      const [, okCount, total, frames, by] = summary!;
      expect(by).toBe(signal);
      expect(Number(okCount)).toBe(Number(total));
      expect(Number(total)).toBeGreaterThan(0);
      expect(Number(total)).toBeLessThan(400);
      // each report line is a capture replayed whole (decode and conversation), none cut in half
      expect((run.stdout.match(/^ {5}ok {3}decode/gm) ?? []).length).toBe(Number(total));
      expect(Number(frames)).toBe(Number(total) * 2 * 288);
    });
  }
});
