#!/usr/bin/env node
// netlab command-line entry. In the repository it runs the TypeScript sources through tsx's
// ESM loader (no build step needed, always current); in the installed package, which ships
// no sources, it runs the compiled CLI from dist/ (`npm run build`, done by `npm pack`).
import { existsSync } from "node:fs";

// A reader that goes away (`netlab demo | head`) is not an error of ours.
for (const stream of [process.stdout, process.stderr]) {
  stream.on("error", (e) => { if (e.code === "EPIPE") process.exit(process.exitCode ?? 0); else throw e; });
}
const source = new URL("../harness/cli/main.ts", import.meta.url);
let main;
if (existsSync(source)) {
  const { register } = await import("tsx/esm/api");
  register();
  ({ main } = await import(source.href));
} else {
  ({ main } = await import("../dist/harness/cli/main.js"));
}
process.exitCode = await main(process.argv.slice(2));
