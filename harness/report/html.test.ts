// The HTML report: one self-contained page (no script, nothing fetched), every text escaped, and
// `sim transfer --report`, `bench`, `demo` and `replay --report` rendered by headless Chromium (Debian's, from npm run setup) with its
// charts drawn and no console error.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { isNetlabError } from "../../stack/error.ts";
import { lineChart } from "../lab/svg.ts";
import { runTransfer } from "../sim/transfer.ts";
import { transferReportPage } from "../sim/transfer-report.ts";
import { checkReportPath, renderHtmlReport, writeHtmlReport } from "./html.ts";
import { CHROMIUM } from "./chromium-testing.ts";
import { attachRatios, runCase } from "../bench/runner.ts";
import { benchReportPage } from "../bench/report-page.ts";
import { runDemo } from "../cli/commands/demo.ts";
import { demoReportPage } from "../cli/commands/demo-report.ts";
import { replayAll } from "../replay/index.ts";
import { replayReportPage } from "../replay/report-page.ts";

const DIR = mkdtempSync(join(tmpdir(), "netlab-report-"));
afterAll(() => rmSync(DIR, { recursive: true, force: true }));

describe("the HTML report", () => {
  it("escapes every text, inlines charts, links files relative to the page, and carries no script or external reference", () => {
    const page = renderHtmlReport(
      {
        title: "<b>t</b>",
        command: "netlab x --a '<script>'",
        when: "2026-12-07T00:00:00Z",
        sections: [
          {
            heading: "A & B",
            text: "x < y",
            table: {
              columns: ["k", "v"],
              rows: [
                ["<i>", 3],
                ["n", null],
              ],
            },
            charts: [
              lineChart({
                title: "c",
                xLabel: "x",
                yLabel: "y",
                series: [
                  {
                    name: "s",
                    points: [
                      [0, 1],
                      [1, 2],
                    ],
                  },
                ],
              }),
            ],
            files: [{ label: "capture", path: join(DIR, "sub", "a b.pcapng") }],
          },
        ],
      },
      DIR,
    );
    expect(page).toContain("&lt;b&gt;t&lt;/b&gt;");
    expect(page).toContain("&#39;&lt;script&gt;&#39;");
    expect(page).toContain("A &amp; B");
    expect(page).toContain('<td class="num">3</td>');
    expect(page).toContain('href="sub/a%20b.pcapng"');
    expect(page).toContain("<polyline");
    expect(page).not.toMatch(/<script|<link|src=|@import|url\(/i);
    expect(() =>
      renderHtmlReport({ title: "t", command: "c", when: "w", sections: [{ heading: "h", charts: ["<svg><script>alert(1)</script></svg>"] }] }),
    ).toThrow(/script/);
  });

  it("refuses a path whose folder does not exist before anything runs, with a coded error", () => {
    let caught: unknown;
    try {
      checkReportPath(join(DIR, "missing", "r.html"));
    } catch (e) {
      caught = e;
    }
    expect(isNetlabError(caught) && caught.code === "ERR_REPORT_PATH").toBe(true);
    expect(() => checkReportPath(DIR)).toThrow(/is a folder/);
  });

  it.skipIf(CHROMIUM === undefined)(
    `renders sim transfer's report in headless Chromium: tables, five drawn charts, no console error${CHROMIUM === undefined ? " (skipped: no chromium; npm run setup installs it)" : ""}`,
    () => {
      const options = { bytes: 2_000_000, delayMs: 10, loss: 0.01, rateBitsPerSecond: 50e6, intervalMs: 200, seed: 3 };
      const r = runTransfer(options);
      expect(r.ok).toBe(true);
      expect(r.intervals!.length).toBeGreaterThan(3);
      expect(r.intervals!.reduce((n, i) => n + i.bytes, 0)).toBe(r.received);
      const file = join(DIR, "transfer.html");
      writeHtmlReport(file, transferReportPage(r, "netlab sim transfer --bytes 2M ...", options));
      const base = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run", `--user-data-dir=${join(DIR, "profile")}`];
      const dom = spawnSync(CHROMIUM!, [...base, "--enable-logging=stderr", "--v=0", "--dump-dom", `file://${file}`], { encoding: "utf8", timeout: 60_000 });
      expect(dom.status).toBe(0);
      const svgs = dom.stdout.match(/<svg[\s\S]*?<\/svg>/g) ?? [];
      expect(svgs.length).toBe(5);
      for (const svg of svgs) expect(svg).toMatch(/<polyline[^>]*points="[\d.]+,[\d.]+ [\d.]+,[\d.]+/);
      expect(dom.stdout).toContain("Every byte arrived intact");
      // Chromium logs page console messages as CONSOLE lines when logging to stderr.
      expect(dom.stderr.split("\n").filter((l) => /CONSOLE/.test(l))).toEqual([]);
      const png = join(DIR, "transfer.png");
      const shot = spawnSync(CHROMIUM!, [...base, "--window-size=1200,3000", `--screenshot=${png}`, `file://${file}`], { encoding: "utf8", timeout: 60_000 });
      expect(shot.status).toBe(0);
      const bytes = readFileSync(png);
      expect(bytes.subarray(1, 4).toString("latin1")).toBe("PNG");
      // A page of tables and five line charts compresses to well over 50 KB; a blank one to a few.
      expect(statSync(png).size).toBeGreaterThan(50_000);
    },
    120_000,
  );

  it.skipIf(CHROMIUM === undefined)(
    `renders bench's report in headless Chromium: the results table, the bar chart drawn, no console error${CHROMIUM === undefined ? " (skipped)" : ""}`,
    async () => {
      let v = 0;
      const base = { suite: "s", unit: "op/s", higherIsBetter: true, runs: 3, warmup: 0 } as const;
      const results = attachRatios([
        await runCase({ ...base, name: "base", measure: () => 10 + ++v }, { quick: false, progress: () => {} }),
        await runCase(
          { ...base, name: "x", baseline: "base", target: { value: 5, kind: "min" }, measure: () => 4 + ++v },
          { quick: false, progress: () => {} },
        ),
        await runCase({ ...base, name: "skipped", available: () => "no tool here", measure: () => 1 }, { quick: false, progress: () => {} }),
      ]);
      const file = join(DIR, "bench.html");
      writeHtmlReport(
        file,
        benchReportPage(results, { cpu: "test", cores: 2 }, "2026-12-07T00:00:00Z", "netlab bench --suite s", false, [
          { label: "results (JSON)", path: join(DIR, "r.json") },
        ]),
      );
      const flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run", `--user-data-dir=${join(DIR, "profile")}`];
      const dom = spawnSync(CHROMIUM!, [...flags, "--enable-logging=stderr", "--v=0", "--dump-dom", `file://${file}`], { encoding: "utf8", timeout: 60_000 });
      expect(dom.status).toBe(0);
      const svgs = dom.stdout.match(/<svg[\s\S]*?<\/svg>/g) ?? [];
      expect(svgs.length).toBe(1);
      expect((svgs[0]!.match(/<rect x="260"[^>]*width="[1-9]/g) ?? []).length).toBe(2);
      expect(dom.stdout).toContain("targets met: 1 of 1");
      expect(dom.stdout).toContain("no tool here");
      expect(dom.stdout).toContain('href="r.json"');
      expect(dom.stderr.split("\n").filter((l) => /CONSOLE/.test(l))).toEqual([]);
    },
    120_000,
  );

  it.skipIf(CHROMIUM === undefined)(
    `renders the demo's report in headless Chromium: checks, hosts, HTTP requests and their chart, the capture's link${CHROMIUM === undefined ? " (skipped)" : ""}`,
    async () => {
      const { pcap: _bytes, ...r } = await runDemo({ seed: 1, xen: false });
      expect(r.ok).toBe(true);
      const file = join(DIR, "demo.html");
      writeHtmlReport(file, demoReportPage(r, "netlab demo --no-xen", "2026-12-07T00:00:00Z", join(DIR, "demo.pcapng")));
      const flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run", `--user-data-dir=${join(DIR, "profile")}`];
      const dom = spawnSync(CHROMIUM!, [...flags, "--enable-logging=stderr", "--v=0", "--dump-dom", `file://${file}`], { encoding: "utf8", timeout: 60_000 });
      expect(dom.status).toBe(0);
      expect(dom.stdout).toContain(`${r.checks.length} of ${r.checks.length} checks passed`);
      expect((dom.stdout.match(/<tr><td>GET \/|<td>h[23]<\/td><td>GET /g) ?? []).length).toBe(r.http.requests.length);
      // The IPv6 half: the SLAAC table (h2's address from h1's RA), ping6 rows, TCP over IPv6; v6 checks named by family.
      expect(dom.stdout).toContain("<td>h2</td><td>fe80::ff:fe00:2</td><td>2001:db8::ff:fe00:2</td><td>slaac</td><td>preferred</td>");
      expect((dom.stdout.match(/<td>ping6 h\d → h\d \(answered \/ sent\)<\/td>/g) ?? []).length).toBe(r.ipv6.ping.pairs.length);
      expect(dom.stdout).toContain("<td>TCP over IPv6 intact</td><td>yes</td>");
      expect((dom.stdout.match(/<td>IPv6<\/td><td>[^<]+<\/td><td>ok<\/td>/g) ?? []).length).toBe(r.checks.filter((c) => c.family === "ipv6").length);
      const svgs = dom.stdout.match(/<svg[\s\S]*?<\/svg>/g) ?? [];
      expect(svgs.length).toBe(1);
      expect(svgs[0]).toMatch(/<polyline[^>]*points="[\d.]+,[\d.]+ [\d.]+,[\d.]+/);
      expect(dom.stdout).toContain('href="demo.pcapng"');
      expect(dom.stderr.split("\n").filter((l) => /CONSOLE/.test(l))).toEqual([]);
    },
    120_000,
  );

  it.skipIf(CHROMIUM === undefined)(
    `renders replay's report in headless Chromium: a row per capture and mode, the captures linked${CHROMIUM === undefined ? " (skipped)" : ""}`,
    async () => {
      const reports = await replayAll(join(import.meta.dirname, "../../pcaps"), { outDir: join(DIR, "replay") });
      expect(reports.length).toBeGreaterThan(0);
      const file = join(DIR, "replay.html");
      writeHtmlReport(file, replayReportPage(reports, "netlab replay --all", "2026-12-07T00:00:00Z"));
      const flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run", `--user-data-dir=${join(DIR, "profile")}`];
      const dom = spawnSync(CHROMIUM!, [...flags, "--enable-logging=stderr", "--v=0", "--dump-dom", `file://${file}`], { encoding: "utf8", timeout: 60_000 });
      expect(dom.status).toBe(0);
      const modes = reports.reduce((n, r) => n + Math.max(1, r.modes.length), 0);
      expect((dom.stdout.match(/<td>(ok|FAILED)<\/td>/g) ?? []).length).toBe(modes);
      expect(dom.stdout).toContain(`${reports.filter((r) => r.ok).length} of ${reports.length} captures replayed as expected`);
      expect((dom.stdout.match(/<a href="[^"]*\.pcapng?(\.gz)?">capture /g) ?? []).length).toBe(reports.length);
      expect(dom.stderr.split("\n").filter((l) => /CONSOLE/.test(l))).toEqual([]);
    },
    120_000,
  );
});
