// Prepares every fuzz target for ClusterFuzzLite / OSS-Fuzz (run by .clusterfuzzlite/build.sh):
// each target bundled with esbuild to <out>/lib/<name>.cjs (the Xen targets: one file per module in
// <out>/lib/<name>.tree/, see bundleTarget), a harness <out>/<name>.js that
// Jazzer.js loads (the same rules as `netlab fuzz`: process.exit and stray rejections are
// findings), <out>/package.json marking the folder CommonJS (the repository is "type": "module"),
// and <out>/targets.txt with one "<name> <sync|async>" line per target for build.sh.
//   npx tsx harness/fuzz/oss-fuzz-build.ts OUT_DIR
import { mkdirSync, readFileSync, realpathSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { harnessSource } from "./replay.ts";
import { bundleTarget, defaultFuzzPaths, listTargets, savedInputs, targetMode } from "./runner.ts";

/** Bundles every target into `out`; returns the targets and their modes. */
export async function buildForOssFuzz(root: string, out: string): Promise<{ name: string; mode: "sync" | "async" }[]> {
  const paths = defaultFuzzPaths(root);
  mkdirSync(path.join(out, "lib"), { recursive: true });
  writeFileSync(path.join(out, "package.json"), JSON.stringify({ type: "commonjs", private: true }) + "\n");
  const targets: { name: string; mode: "sync" | "async" }[] = [];
  for (const name of listTargets(paths)) {
    const bundle = await bundleTarget(paths, name, path.join(out, "lib", `${name}.cjs`));
    const first = savedInputs(paths, name)[0];
    const mode = targetMode(bundle, first === undefined ? undefined : readFileSync(first));
    writeFileSync(path.join(out, `${name}.js`), harnessSource(bundle, mode, `./lib/${name}.cjs`));
    targets.push({ name, mode });
  }
  writeFileSync(path.join(out, "targets.txt"), targets.map((t) => `${t.name} ${t.mode}\n`).join(""));
  return targets;
}

if (process.argv[1] !== undefined && realpathSync(path.resolve(process.argv[1])) === realpathSync(fileURLToPath(import.meta.url))) {
  const out = process.argv[2];
  if (out === undefined) {
    process.stderr.write("usage: npx tsx harness/fuzz/oss-fuzz-build.ts OUT_DIR\n");
    process.exit(2);
  }
  const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
  for (const t of await buildForOssFuzz(root, path.resolve(out))) process.stdout.write(`${t.name} ${t.mode}\n`);
}
