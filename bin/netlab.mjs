#!/usr/bin/env node
// netlab command-line entry. It runs the compiled CLI in dist/ when there is one that is not
// older than any source (the installed package ships no sources; in the repository
// `npm run build` makes one, and it starts in a third of the time), and otherwise the
// TypeScript sources through tsx's ESM loader, so the repository needs no build step and an
// edit is never hidden behind a stale build. NETLAB_FROM_SOURCE=1 always runs the sources.
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";

// A reader that goes away (`netlab demo | head`) is not an error of ours.
for (const stream of [process.stdout, process.stderr]) {
  stream.on("error", (e) => { if (e.code === "EPIPE") process.exit(process.exitCode ?? 0); else throw e; });
}

/** Latest modification time of the sources under the layer folders (0 when there are none). */
function newestSource() {
  let newest = 0;
  const walk = (dir) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const path = `${dir}/${e.name}`;
      if (e.isDirectory()) walk(path);
      else if (/\.(ts|mjs|cjs)$/.test(e.name)) newest = Math.max(newest, statSync(path).mtimeMs);
    }
  };
  for (const layer of ["stack", "xen-sim", "harness"]) {
    const dir = new URL(`../${layer}`, import.meta.url).pathname;
    if (existsSync(dir)) walk(dir);
  }
  return newest;
}

/** True when dist/ holds a build that started after the last source change. */
function compiledIsCurrent() {
  const stamp = new URL("../dist/build.json", import.meta.url);
  if (!existsSync(stamp) || process.env.NETLAB_FROM_SOURCE === "1") return false;
  const sources = new URL("../harness/cli/main.ts", import.meta.url);
  if (!existsSync(sources)) return true;
  const { startedAtMs } = JSON.parse(readFileSync(stamp, "utf8"));
  return typeof startedAtMs === "number" && newestSource() < startedAtMs;
}

let main;
if (compiledIsCurrent()) {
  ({ main } = await import("../dist/harness/cli/main.js"));
} else {
  const { register } = await import("tsx/esm/api");
  register();
  ({ main } = await import("../harness/cli/main.ts"));
}
process.exitCode = await main(process.argv.slice(2));
