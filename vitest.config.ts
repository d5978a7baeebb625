import { defineConfig } from "vitest/config";

// Tests whose figure is a latency under a flood or a real-time share of a link run last, one file
// at a time, with nothing else of the suite beside them (sequence.groupOrder): in parallel with
// the rest they measured the suite's load (a curl under a SYN flood took 1.3 s instead of 50 ms).
const SOLO = ["test/interop/syn-flood.test.ts", "test/interop/arp-flood.test.ts", "test/interop/lab-linux.test.ts"];

export default defineConfig({
  test: {
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: "forks",
    setupFiles: ["test/setup.ts"],
    coverage: {
      provider: "v8",
      include: ["stack/**/*.ts", "xen-sim/**/*.ts", "harness/**/*.ts"],
      exclude: ["**/*.test.ts"],
      reporter: ["text-summary", "html", "json-summary"],
    },
    projects: [
      {
        extends: true,
        test: {
          name: "main",
          include: ["stack/**/*.test.ts", "xen-sim/**/*.test.ts", "harness/**/*.test.ts", "test/**/*.test.ts"],
          exclude: SOLO,
          sequence: { groupOrder: 0 },
        },
      },
      {
        extends: true,
        test: { name: "solo", include: SOLO, fileParallelism: false, sequence: { groupOrder: 1 } },
      },
    ],
  },
});
