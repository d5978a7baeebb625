// `netlab sim http-hostile`: the run in slices equals the run in one go, a signal ends it with
// partial figures, the CLI prints progress and exits 130 / 143 on SIGINT / SIGTERM, and its
// --report page draws its charts in headless Chromium.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { runHostileHttp, runHostileHttpAsync, type HostileHttpOptions } from "../http/hostile.ts";
import { interruptCli } from "../cli/interrupt-testing.ts";
import { writeHtmlReport } from "../report/html.ts";
import { CHROMIUM, drawsALine, renderInChromium } from "../report/chromium-testing.ts";
import { hostileReportPage } from "./http-hostile.ts";

const DIR = mkdtempSync(join(tmpdir(), "netlab-http-hostile-"));
afterAll(() => rmSync(DIR, { recursive: true, force: true }));

const SMALL: HostileHttpOptions = { attack: "slowloris", maxOpen: 400, openRate: 200, trickleMs: 2_000, durationMs: 6_000, fetchTimeoutMs: 1_500, seed: 4 };
const withoutWall = <T extends { wallSeconds: number }>(f: T): Omit<T, "wallSeconds"> => {
  const { wallSeconds: _w, ...rest } = f;
  return rest;
};

describe("netlab sim http-hostile", () => {
  it("run in slices that yield to the event loop, gives the figures of the run in one go, and a timeline that agrees with them", async () => {
    const one = runHostileHttp(SMALL);
    let progress = 0;
    const { figures, timeline } = await runHostileHttpAsync(SMALL, { progressEveryMs: 0, onProgress: () => progress++ });
    expect(withoutWall(figures)).toEqual(withoutWall(one));
    expect(figures.fetchesPending).toBe(0);
    expect(progress).toBeGreaterThan(2);
    expect(timeline.fetches.length).toBe(figures.fetches);
    expect(timeline.fetches.filter((f) => typeof f.latencyMs === "number").length).toBe(figures.succeeded);
    expect(Math.max(...timeline.samples.map((s) => s.serverConnections))).toBe(figures.peakServerConnections);
    expect(timeline.samples.length).toBe(SMALL.durationMs / 100 + 1);
  });

  it("an aborted signal ends the run where it is: partial figures, interrupted named, pending fetches out of the rate", async () => {
    const stop = new AbortController();
    let calls = 0;
    const { figures } = await runHostileHttpAsync(
      { ...SMALL, durationMs: 60_000 },
      {
        signal: stop.signal,
        progressEveryMs: 0,
        onProgress: (line) => {
          expect(line).toMatch(/^http-hostile: slowloris [\d.]+\/60 s virtual/);
          if (++calls === 3) stop.abort("SIGINT");
        },
      },
    );
    expect(figures.interrupted).toBe("SIGINT");
    expect(figures.virtualSeconds).toBeLessThan(60);
    expect(figures.virtualSeconds).toBeGreaterThan(0);
    expect(figures.successRate).toBe(figures.fetches - figures.fetchesPending === 0 ? 0 : figures.succeeded / (figures.fetches - figures.fetchesPending));
  });

  it("the CLI prints progress each wall second and ends with the partial summary: SIGINT exits 130 (JSON), SIGTERM 143 (text)", async () => {
    const base = ["sim", "http-hostile", "--attack", "slowloris", "--seconds", "600"];
    const int = await interruptCli([...base, "--json"], { ready: /^http-hostile: slowloris/m, signal: "SIGINT", afterMs: 1200 });
    expect(int.status).toBe(130);
    expect((int.stderr.match(/^http-hostile: /gm) ?? []).length).toBeGreaterThanOrEqual(2);
    const f = JSON.parse(int.stdout) as { interrupted: string; virtualSeconds: number; fetches: number };
    expect(f.interrupted).toBe("SIGINT");
    expect(f.virtualSeconds).toBeGreaterThan(0);
    expect(f.virtualSeconds).toBeLessThan(600);
    const term = await interruptCli([...base, "--quiet"], { ready: /^/, signal: "SIGTERM", afterMs: 2500 });
    expect(term.status).toBe(143);
    expect(term.stderr).toBe("");
    expect(term.stdout).toMatch(/^slowloris: client \d+\/\d+ fetches ok .*; interrupted \(SIGTERM\), \d+ fetch\(es\) still waiting left out\n$/);
  }, 60_000);

  it.skipIf(CHROMIUM === undefined)(
    `--report: the figures and three charts (connections, fetches, latency) drawn by headless Chromium, no console error${CHROMIUM === undefined ? " (skipped: no chromium)" : ""}`,
    async () => {
      const { figures, timeline } = await runHostileHttpAsync(SMALL);
      const file = join(DIR, "hostile.html");
      writeHtmlReport(file, hostileReportPage(figures, timeline, "netlab sim http-hostile --attack slowloris", "2026-12-07T00:00:00Z"));
      const page = renderInChromium(file, DIR);
      expect(page.status).toBe(0);
      expect(page.svgs.length).toBe(3);
      for (const svg of page.svgs) expect(drawsALine(svg)).toBe(true);
      expect(page.dom).toContain(`the legitimate client got ${figures.succeeded} of ${figures.fetches} fetches`);
      expect(page.dom).toContain(`<tr><td>server.reclaimedSlow</td><td class="num">${figures.server.reclaimedSlow}</td></tr>`);
      expect(page.consoleLines).toEqual([]);
    },
    120_000,
  );
});
