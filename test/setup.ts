// vitest setup: fast-check run counts come from NETLAB_FC_RUNS (npm run fuzz raises it).
import fc from "fast-check";

const runs = Number(process.env["NETLAB_FC_RUNS"] ?? "");
fc.configureGlobal({ numRuns: Number.isFinite(runs) && runs > 0 ? runs : 100 });

// Fuzz oracles sample their costly checks (guarded views, byte-by-byte feeding) while fuzzing;
// tests check every input (harness/fuzz/oracles.ts).
process.env["NETLAB_FUZZ_CHECK_ALL"] ??= "1";
