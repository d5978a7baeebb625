import { describe, expect, it } from "vitest";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { attachRatios, loadSuites, median, runCase } from "./runner.ts";
import { formatMarkdown, formatSvg, formatTable } from "./report.ts";
import { formatFuzzMarkdown } from "./fuzz-report.ts";
import type { BenchCase, BenchResult } from "./types.ts";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const quiet = { quick: true, progress: () => {} };

describe("bench runner", () => {
  it("median() takes the middle value or the mean of the two middle values", () => {
    expect(median([5, 1, 3])).toBe(3);
    expect(median([4, 1, 3, 2])).toBe(2.5);
  });

  it("runCase() reports runs, spread, target (judged only from full runs, not --quick's single one) and skips with the reason given", async () => {
    let v = 0;
    const c: BenchCase = {
      suite: "s",
      name: "n",
      unit: "op/s",
      higherIsBetter: true,
      runs: 3,
      warmup: 0,
      target: { value: 2, kind: "min" },
      measure: () => ++v,
    };
    const r = await runCase(c, { quick: false, progress: () => {} });
    expect(r).toMatchObject({ status: "ok", runs: [1, 2, 3], median: 2, min: 1, max: 3, spread: 1, targetMet: true });
    const quick = await runCase({ ...c, target: { value: 100, kind: "min" } }, quiet);
    expect(quick).toMatchObject({ status: "ok", runs: [4] });
    expect(quick.targetMet).toBeUndefined();
    expect(formatTable([quick])).not.toMatch(/MISSED|met/);
    expect(formatTable([quick])).toContain("not judged");
    expect(formatTable([{ ...quick, targetMet: false }])).toContain("MISSED");
    const skipped = await runCase({ ...c, available: () => "no tool" }, quiet);
    expect(skipped).toMatchObject({ status: "skipped", reason: "no tool", runs: [] });
    const failed = await runCase(
      {
        ...c,
        measure: () => {
          throw new Error("boom");
        },
      },
      quiet,
    );
    expect(failed).toMatchObject({ status: "failed", reason: "boom" });
  });

  it("runCase() reports the median of the runs' perCpuSecond details and the case's elapsed time", async () => {
    let v = 0;
    const c: BenchCase = {
      suite: "s",
      name: "n",
      unit: "op/s",
      higherIsBetter: true,
      runs: 3,
      warmup: 0,
      measure: () => ++v,
      details: () => ({ perCpuSecond: v * 10 }),
    };
    const r = await runCase(c, { quick: false, progress: () => {} });
    expect(r).toMatchObject({ status: "ok", runs: [1, 2, 3], cpuMedian: 20, details: { perCpuSecond: 30 } });
    expect(r.elapsedMs).toBeGreaterThanOrEqual(0);
    expect(formatTable([r])).toContain("20 op/s");
  });

  it("formatTable() writes figures with the shared SI formatter (no exponents)", () => {
    const r: BenchResult = {
      suite: "fuzz",
      name: "tcp",
      unit: "exec/s",
      higherIsBetter: true,
      status: "ok",
      runs: [1760.4],
      median: 1760.4,
      cpuMedian: 2000,
      target: { value: 2000, kind: "min" },
      targetMet: false,
    };
    const table = formatTable([r]);
    expect(table).toMatch(/^fuzz +tcp +1\.76k exec\/s +2\.00k exec\/s +1 +≥ 2\.00k exec\/s MISSED$/m);
    expect(table).not.toContain("e+");
    expect(formatSvg([{ ...r, unit: "Gbit/s", median: 2.5 }])).toContain(">2.50 Gbit/s<");
    const md = formatFuzzMarkdown(
      [{ ...r, name: "fuzz tcp", details: { perCpuSecond: 3456.7, executions: 52_813 } }],
      { cores: 2 },
      "now",
      "netlab bench --suite fuzz",
    );
    expect(md).toMatch(/^\| tcp \| 1\.76k \| 3\.46k \| – \| ≥ 2\.00k \| \*\*no\*\* \| +\| +\| 52\.8k \|/m);
  });

  it("attachRatios() divides by the named baseline's median", () => {
    const base: BenchResult = { suite: "b", name: "base", unit: "GB/s", higherIsBetter: true, status: "ok", runs: [4], median: 4 };
    const x: BenchResult = { ...base, suite: "x", name: "x", baseline: "base", runs: [1], median: 1 };
    expect(attachRatios([base, x])[1]!.ratio).toBe(0.25);
  });

  it("runs every case of the checksum and wire suites in quick mode and reports them", async () => {
    const suites = (await loadSuites(path.join(root, "benchmarks/suites"))).filter((s) => s.name === "checksum" || s.name === "wire");
    expect(suites.map((s) => s.name).sort()).toEqual(["checksum", "wire"]);
    const results: BenchResult[] = [];
    for (const s of suites) for (const c of s.cases()) results.push(await runCase(c, quiet));
    for (const r of results) {
      expect(r.status, `${r.name}: ${r.reason}`).toBe("ok");
      expect(r.median).toBeGreaterThan(0);
    }
    const table = formatTable(results);
    expect(table).toContain("checksum 64KiB");
    expect(table.split("\n").length).toBe(results.length + 3);
    expect(formatMarkdown(results, { cores: 2 }, "now")).toContain("| wire | tcp 1448B parse (checksum verified) |");
    expect(formatSvg(results)).toMatch(/^<svg[^>]*>.*<\/svg>\n$/s);
  });

  describe("every suite's quick mode (cases that need no real peer; no timing assertions)", async () => {
    const all = await loadSuites(path.join(root, "benchmarks/suites"));
    it("finds the suites of the issue", () => {
      expect(all.map((s) => s.name).sort()).toEqual(
        expect.arrayContaining(["baselines", "checksum", "dhcp", "fuzz", "http", "memory", "tap", "tcp", "wire", "xen", "xenstore"]),
      );
    });
    for (const s of all.filter((x) => x.name !== "checksum" && x.name !== "wire")) {
      it(`${s.name}: each case runs to a figure or skips with a reason`, async () => {
        const cases = s.cases().filter((c) => c.realPeer !== true);
        for (const c of cases) {
          const r = await runCase(c, quiet);
          if (r.status === "skipped") {
            expect(r.reason, c.name).toMatch(/\S/);
            continue;
          }
          expect(r.status, `${c.name}: ${r.reason}`).toBe("ok");
          expect(Number.isFinite(r.median), c.name).toBe(true);
          expect(r.median!, c.name).toBeGreaterThan(0);
        }
        if (s.artifacts !== undefined) {
          for (const a of await s.artifacts(quiet)) {
            expect(a.file).toMatch(/^[a-z0-9-]+\.svg$/);
            expect(a.content).toMatch(/^<svg[^>]*>.*<\/svg>\n$/s);
          }
        }
      }, 180_000);
    }
  });
});
