#!/usr/bin/env node
// netlab command-line entry. The installed package ships no sources: it runs the compiled CLI
// in dist/. The repository runs the TypeScript sources through tsx's ESM loader, so it needs
// no build step; with NETLAB_COMPILED=1 it runs dist/ instead (`npm run build`; it starts in
// a third of the time) as long as no source is newer than the build, so a stale build never
// hides an edit. (Opt-in: a test run that builds the package half-way must not switch the
// CLI under the tests that spawn it.)
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";

// A reader that goes away (`netlab demo | head`) is not an error of ours.
for (const stream of [process.stdout, process.stderr]) {
  stream.on("error", (e) => {
    if (e.code === "EPIPE") process.exit(process.exitCode ?? 0);
    else throw e;
  });
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

/** True for the installed package, or when asked for a dist/ build newer than every source. */
function useCompiled() {
  if (!existsSync(new URL("../harness/cli/main.ts", import.meta.url))) return true;
  const stamp = new URL("../dist/build.json", import.meta.url);
  if (process.env.NETLAB_COMPILED !== "1" || !existsSync(stamp)) return false;
  const { startedAtMs } = JSON.parse(readFileSync(stamp, "utf8"));
  return typeof startedAtMs === "number" && newestSource() < startedAtMs;
}

let main;
if (useCompiled()) {
  ({ main } = await import("../dist/harness/cli/main.js"));
} else {
  const { register } = await import("tsx/esm/api");
  register();
  ({ main } = await import("../harness/cli/main.ts"));
}
process.exitCode = await main(process.argv.slice(2));
