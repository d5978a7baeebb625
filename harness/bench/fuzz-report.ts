// benchmarks/results/fuzz-latest.md: the fuzz suite's figures (exec/s per target against the
// issue's targets, engine, start-up, coverage, findings), written by `netlab bench --suite fuzz`.
import { formatSi } from "../report/format.ts";
import type { BenchResult } from "./types.ts";

/** The markdown record of a run of the fuzz suite. */
export function formatFuzzMarkdown(results: readonly BenchResult[], machine: Record<string, unknown>, when: string, command: string): string {
  const fuzz = results.filter((r) => r.suite === "fuzz");
  const engines = [...new Set(fuzz.map((r) => String(r.details?.["engine"] ?? "?")))].join(", ");
  const lines = [
    "# Fuzzing: executions per second",
    "",
    `Run ${when.replace("T", " ").slice(0, 16)} UTC with \`${command}\` (engine: ${engines}) on ${String(machine["cpu"])}, ${String(machine["cores"])} cores` +
      ` (load average ${JSON.stringify(machine["loadAverage"])}, shared with other work), Node ${String(machine["node"])}.`,
    "exec/s is the steady rate: executions between the engine's first statistics line (after start-up and the seed",
    "corpus) and its last, over the wall time between them. Each target is seeded from `corpora/<target>/`; nothing is",
    "written back. Targets (issue 15): wire parsers ≥ 20,000 exec/s, Xen targets (`*-hostile`) ≥ 1,000.",
    "exec/CPU s is the same executions over the engine process's CPU time (user + system) in that span: the rate",
    "the target would have on a core of its own; CPU share is that CPU time over the wall time (below 1: the engine",
    "waited for a core or for I/O). load is the 1-minute load average when the target started.",
    "",
    "| target | exec/s | exec/CPU s | CPU share | target | met | mode | start-up s | executions | coverage | load | dictionary | findings |",
    "|---|---:|---:|---:|---:|---|---|---:|---:|---|---:|---|---|",
  ];
  for (const r of fuzz) {
    const d = r.details ?? {};
    const name = r.name.replace(/^fuzz /, "");
    const findings =
      Array.isArray(d["findings"]) && d["findings"].length > 0
        ? (d["findings"] as string[]).map((f) => f.replace(/\|/g, "\\|").slice(0, 160)).join("; ")
        : "none";
    lines.push(
      `| ${name} | ${r.status === "ok" ? formatSi(r.median ?? 0) : r.status} | ${typeof d["perCpuSecond"] === "number" ? formatSi(d["perCpuSecond"]) : "–"} | ${d["cpuShare"] === undefined ? "–" : String(d["cpuShare"])} | ${r.target === undefined ? "–" : `≥ ${formatSi(r.target.value)}`} | ${r.targetMet === undefined ? "–" : r.targetMet ? "yes" : "**no**"} | ${String(d["mode"] ?? "")} | ${String(d["startupSeconds"] ?? "")} | ${typeof d["executions"] === "number" ? formatSi(d["executions"]) : ""} | ${String(d["coverage"] ?? "")} | ${Array.isArray(d["loadAtStart"]) ? String((d["loadAtStart"] as number[])[0]) : "–"} | ${d["dictionary"] ? "yes" : "–"} | ${r.status === "ok" ? findings : (r.reason ?? "").replace(/\|/g, "\\|")} |`,
    );
  }
  const met = fuzz.filter((r) => r.targetMet === true).length,
    withTarget = fuzz.filter((r) => r.target !== undefined).length;
  lines.push("", `Targets met: ${met} of ${withTarget}.`, "");
  return lines.join("\n");
}
