#!/usr/bin/env node
// netlab command-line entry: loads the TypeScript CLI through tsx's ESM loader.
import { register } from "tsx/esm/api";
register();
const { main } = await import("../harness/cli/main.ts");
process.exitCode = await main(process.argv.slice(2));
