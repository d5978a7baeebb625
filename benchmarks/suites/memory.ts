// Memory suite: heap per idle established TCP connection (both ends in one heap, each having
// exchanged 100 bytes), measured in a child process with --expose-gc so that the figure is not
// polluted by other suites. Quick mode: 1000 connections.
import { execFileSync } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { BenchCase, BenchSuite } from "../../harness/bench/types.ts";

const CHILD = path.join(path.dirname(fileURLToPath(import.meta.url)), "../lib/heap-child.ts");
/** tsx's loader, resolved from here so that the child does not depend on the working directory. */
const TSX = ((): string => {
  try {
    return import.meta.resolve("tsx");
  } catch {
    return "tsx";
  }
})();

function heapCase(connections: number, label: string): BenchCase {
  let details: Record<string, unknown> = {};
  return {
    suite: "memory",
    name: `heap per idle connection (${label})`,
    unit: "B/conn",
    higherIsBetter: false,
    target: { value: 2048, kind: "max" },
    runs: 1,
    warmup: 0,
    measure(ctx) {
      const n = ctx.quick ? 1000 : connections;
      const out = execFileSync(process.execPath, ["--expose-gc", "--max-old-space-size=4096", "--import", TSX, CHILD, String(n)], {
        encoding: "utf8",
        timeout: 300_000,
        stdio: ["ignore", "pipe", "pipe"],
      });
      const r = JSON.parse(out.trim().split("\n").pop()!) as { perConnection: number } & Record<string, unknown>;
      details = r;
      return r.perConnection;
    },
    details: () => details,
  };
}

export const suite: BenchSuite = {
  name: "memory",
  description: "heap per idle established TCP connection (child process, --expose-gc)",
  cases: () => [heapCase(10_000, "10k"), heapCase(100_000, "100k")],
};
