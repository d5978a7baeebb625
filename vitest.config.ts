import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["stack/**/*.test.ts", "xen-sim/**/*.test.ts", "harness/**/*.test.ts", "test/**/*.test.ts"],
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
  },
});
