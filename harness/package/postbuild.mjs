// After `tsc -p tsconfig.build.json` (npm run build): makes dist/ a package plain Node imports.
//   - .d.ts files: relative `.ts` specifiers become `.js` (tsc rewrites them in the JavaScript
//     it emits, rewriteRelativeImportExtensions, but leaves declarations as written);
//   - copies the runtime files tsc does not emit (worker bootstraps: *.mjs, *.cjs; the lab's
//     example topologies and JSON Schema under harness/lab/).
// Usage: node harness/package/postbuild.mjs [root]   (root defaults to the repository)
import { copyFileSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";

const root = process.argv[2] ?? join(dirname(fileURLToPath(import.meta.url)), "../..");
const dist = join(root, "dist");

/** Every file under dir (recursively). */
function walk(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(join(dir, e.name)) : [join(dir, e.name)]));
}

// import/export ... from "./x.ts", import("./x.ts"): relative specifiers only.
const SPECIFIER = /((?:from|import)\s*\(?\s*["'])(\.{1,2}\/[^"']*?)\.(m|c)?ts(["'])/g;
let declarations = 0;
for (const file of walk(dist).filter((f) => f.endsWith(".d.ts"))) {
  const text = readFileSync(file, "utf8");
  const rewritten = text.replace(SPECIFIER, (_m, head, path, kind, quote) => `${head}${path}.${kind ?? ""}js${quote}`);
  if (rewritten !== text) {
    writeFileSync(file, rewritten);
    declarations++;
  }
}

let assets = 0;
for (const top of ["stack", "xen-sim", "harness"]) {
  for (const file of walk(join(root, top))) {
    const labData = file.includes(join("harness", "lab")) && file.endsWith(".json");
    if ((!/\.(mjs|cjs)$/.test(file) && !labData) || file.includes(`${join("harness", "package")}`) || file.includes(join("harness", "fuzz"))) continue;
    const target = join(dist, relative(root, file));
    mkdirSync(dirname(target), { recursive: true });
    copyFileSync(file, target);
    assets++;
  }
}
process.stdout.write(`postbuild: ${declarations} declaration files rewritten, ${assets} runtime files copied to ${relative(process.cwd(), dist) || "."}\n`);
