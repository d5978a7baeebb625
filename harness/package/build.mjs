// `npm run build` (and `npm pack`, through prepack): compiles stack/, xen-sim/ and harness/ to
// dist/ with tsc -p tsconfig.build.json, runs postbuild.mjs, and writes dist/build.json with
// the time the build started: bin/netlab.mjs runs dist/ only while no source is newer.
import { spawnSync } from "node:child_process";
import { rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "../..");
const startedAt = Date.now();
rmSync(join(root, "dist"), { recursive: true, force: true });
const tsc = createRequire(import.meta.url).resolve("typescript/bin/tsc");
for (const args of [
  [tsc, "-p", join(root, "tsconfig.build.json")],
  [join(root, "harness/package/postbuild.mjs"), root],
]) {
  const r = spawnSync(process.execPath, args, { cwd: root, stdio: "inherit" });
  if (r.status !== 0) {
    rmSync(join(root, "dist"), { recursive: true, force: true });
    process.exit(r.status ?? 1);
  }
}
writeFileSync(join(root, "dist/build.json"), `${JSON.stringify({ startedAt: new Date(startedAt).toISOString(), startedAtMs: startedAt })}\n`);
