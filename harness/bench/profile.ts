// Summaries of V8 CPU profiles (node --cpu-prof): self time per function, for the notes that
// accompany a missed target.
// topSelfTime(profile, n)   the n functions with the most self time, with their share in %
// Command line: node --import tsx harness/bench/profile.ts FILE.cpuprofile [N]
import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
}

/** A V8 .cpuprofile document (the parts used here). */
export interface CpuProfile {
  nodes: ProfileNode[];
  samples?: number[];
  timeDeltas?: number[];
}

export interface SelfTimeRow {
  /** "name (file:line)". */
  readonly fn: string;
  readonly selfPercent: number;
  readonly selfMs: number;
}

/** The n functions with the most self time (samples weighted by their time deltas). */
export function topSelfTime(profile: CpuProfile, n = 15): SelfTimeRow[] {
  const byId = new Map(profile.nodes.map((x) => [x.id, x]));
  const self = new Map<string, number>();
  let total = 0;
  const samples = profile.samples ?? [];
  const deltas = profile.timeDeltas ?? [];
  for (let i = 0; i < samples.length; i++) {
    const node = byId.get(samples[i]!);
    if (node === undefined) continue;
    const dt = Math.max(0, deltas[i + 1] ?? deltas[i] ?? 0);
    const f = node.callFrame;
    const file = f.url === "" ? "" : ` (${path.basename(f.url.replace(/^file:\/\//, ""))}:${f.lineNumber + 1})`;
    const key = `${f.functionName || "(anonymous)"}${file}`;
    self.set(key, (self.get(key) ?? 0) + dt);
    total += dt;
  }
  return [...self.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, n)
    .map(([fn, us]) => ({ fn, selfPercent: total === 0 ? 0 : (100 * us) / total, selfMs: us / 1000 }));
}

if (process.argv[1] !== undefined && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const file = process.argv[2];
  if (file === undefined) {
    process.stderr.write("usage: node --import tsx harness/bench/profile.ts FILE.cpuprofile [N]\n");
    process.exitCode = 2;
  } else {
    const rows = topSelfTime(JSON.parse(readFileSync(file, "utf8")) as CpuProfile, Number(process.argv[3] ?? 15));
    for (const r of rows) process.stdout.write(`${r.selfPercent.toFixed(1).padStart(5)}%  ${r.selfMs.toFixed(0).padStart(7)} ms  ${r.fn}\n`);
  }
}
