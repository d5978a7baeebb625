#!/usr/bin/env node
// netlab command-line entry: loads the TypeScript CLI through tsx's ESM loader.
import { register } from "tsx/esm/api";

// A reader that goes away (`netlab demo | head`) is not an error of ours.
for (const stream of [process.stdout, process.stderr]) {
  stream.on("error", (e) => { if (e.code === "EPIPE") process.exit(process.exitCode ?? 0); else throw e; });
}
register();
const { main } = await import("../harness/cli/main.ts");
process.exitCode = await main(process.argv.slice(2));
