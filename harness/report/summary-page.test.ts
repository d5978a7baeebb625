// The report page of a run whose result is one JSON object: the verdict, every figure (nested
// ones as "a.b"), lists of objects as tables; and `sim dhcp`, `sim http` and `sim xen-transfer
// --report` writing it with their charts, rendered by headless Chromium.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { runDhcpSim } from "../sim/dhcp.ts";
import { renderHtmlReport } from "./html.ts";
import { summaryReportPage } from "./summary-page.ts";
import { CHROMIUM, drawsALine, renderInChromium } from "./chromium-testing.ts";

const DIR = mkdtempSync(join(tmpdir(), "netlab-summary-page-"));
afterAll(() => rmSync(DIR, { recursive: true, force: true }));

describe("summaryReportPage()", () => {
  it("shows the verdict, every scalar figure with nested ones as a.b, and each list of objects as its own table", () => {
    const r = runDhcpSim({ clients: 12, seed: 5 });
    const page = renderHtmlReport(
      summaryReportPage("netlab sim dhcp", "netlab sim dhcp --clients 12", "2026-12-07T00:00:00Z", "all bound", {
        ...r,
        perHost: [
          { host: "a", frames: 3 },
          { host: "b", frames: 4, note: "late" },
        ],
      }),
    );
    expect(page).toContain("<p>all bound</p>");
    expect(page).toContain(`<tr><td>bound</td><td class="num">${r.bound}</td></tr>`);
    expect(page).toContain(`<tr><td>server.offers</td><td class="num">${r.server.offers}</td></tr>`);
    expect(page).toContain("<tr><td>ok</td><td>yes</td></tr>");
    expect(page).toContain("<tr><td>duplicates</td><td>none</td></tr>");
    expect(page).toContain("<h2>perHost</h2>");
    expect(page).toContain('<tr><td>b</td><td class="num">4</td><td>late</td></tr>');
  });

  it("sim dhcp --report FILE.html writes the page after the run, and refuses a folder that does not exist before it", () => {
    const cli = join(import.meta.dirname, "../../bin/netlab.mjs");
    const file = join(DIR, "dhcp.html");
    const ok = spawnSync(process.execPath, [cli, "sim", "dhcp", "--clients", "8", "--quiet", "--report", file], { encoding: "utf8", timeout: 60_000 });
    expect(ok.status).toBe(0);
    expect(readFileSync(file, "utf8")).toContain("All 8 clients bound, no address twice");
    const bad = spawnSync(process.execPath, [cli, "sim", "dhcp", "--clients", "8", "--report", join(DIR, "missing", "x.html")], {
      encoding: "utf8",
      timeout: 60_000,
    });
    expect(bad.status).toBe(1);
    expect(bad.stdout).toBe("");
    expect(bad.stderr).toMatch(/^netlab sim: \[ERR_REPORT_PATH\] cannot write the report .*is not a folder/);
  }, 60_000);

  /** Runs `netlab ARGS --quiet --report FILE`, renders the page, and checks it drew `charts` non-empty charts and logged nothing. */
  const renderedReport = (name: string, args: string[], charts: number): string => {
    const cli = join(import.meta.dirname, "../../bin/netlab.mjs");
    const file = join(DIR, `${name}.html`);
    const run = spawnSync(process.execPath, [cli, ...args, "--quiet", "--report", file], { encoding: "utf8", timeout: 90_000 });
    expect(run.status, run.stderr).toBe(0);
    const page = renderInChromium(file, DIR);
    expect(page.status).toBe(0);
    expect(page.svgs.length).toBe(charts);
    for (const svg of page.svgs) expect(drawsALine(svg)).toBe(true);
    expect(page.consoleLines).toEqual([]);
    return page.dom;
  };

  it.skipIf(CHROMIUM === undefined)(
    `sim dhcp, sim http and sim xen-transfer --report: their charts drawn by headless Chromium, no console error${CHROMIUM === undefined ? " (skipped: no chromium)" : ""}`,
    () => {
      const dhcp = renderedReport("dhcp-charts", ["sim", "dhcp", "--clients", "40", "--loss", "0.02"], 2);
      expect(dhcp).toContain("Clients bound over virtual time");
      expect(dhcp).toContain("DISCOVER to bound, per client");
      const http = renderedReport("http-charts", ["sim", "http", "--requests", "60", "--concurrency", "3", "--loss", "0.02"], 2);
      expect(http).toContain("Every one of the 60 responses was correct.");
      expect(http).toContain("Latency distribution");
      const xen = renderedReport("xen-charts", ["sim", "xen-transfer", "--bytes", "60M"], 2);
      expect(xen).toContain("Every byte arrived intact (60000000 bytes, sha256 checked).");
      expect(xen).toContain("Goodput per interval");
    },
    180_000,
  );
});
