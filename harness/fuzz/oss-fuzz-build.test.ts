// .clusterfuzzlite/build.sh, run as the OSS-Fuzz builder runs it (SRC and OUT set; here
// compile_javascript_fuzzer is a stand-in doing what OSS-Fuzz's does when the real one is
// absent), installs one runnable Jazzer.js fuzzer per target with its dictionary and seed corpus.
import { describe, expect, it } from "vitest";
import { spawnSync } from "node:child_process";
import { accessSync, constants, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { defaultFuzzPaths, jazzerEnv, listTargets } from "./runner.ts";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");

// OSS-Fuzz's compile_javascript_fuzzer: copy the project into $OUT once, write an executable
// wrapper $OUT/<basename> that runs `jazzer <basename> <args> -- "$@"` from the target's folder.
const STUB = `
compile_javascript_fuzzer() {
  local project=$1 fuzz_target=$2; shift 2
  if [ ! -d "$OUT/$project" ]; then cp -r "$SRC/$project" "$OUT/$project"; fi
  local base dir
  base=$(basename -s .js "$fuzz_target"); dir=$(dirname "$fuzz_target")
  printf '#!/bin/bash\\n# LLVMFuzzerTestOneInput\\ncd "$(dirname "$0")/%s/%s"\\njazzer %s %s -- "$@"\\n' "$project" "$dir" "$base" "$*" > "$OUT/$base"
  chmod +x "$OUT/$base"
}
export -f compile_javascript_fuzzer
`;

describe(".clusterfuzzlite/build.sh", () => {
  it("installs one runnable fuzzer per target with its dictionary and seed corpus zip", () => {
    const tmp = mkdtempSync(path.join(tmpdir(), "netlab-cflite-"));
    try {
      const src = path.join(tmp, "src"),
        out = path.join(tmp, "out"),
        bin = path.join(tmp, "bin");
      const project = path.join(src, "netlab");
      for (const d of [project, out, bin]) mkdirSync(d, { recursive: true });
      // The checkout, by symlinks (build.sh writes fuzz-build/ inside the project folder).
      for (const f of ["package.json", "tsconfig.json", "node_modules", "stack", "xen-sim", "harness", "corpora", ".clusterfuzzlite"]) {
        if (existsSync(path.join(root, f))) symlinkSync(path.join(root, f), path.join(project, f));
      }
      // `jazzer` on PATH, as in the OSS-Fuzz runner image.
      writeFileSync(path.join(bin, "jazzer"), `#!/bin/sh\nexec node ${JSON.stringify(path.join(root, "node_modules/@jazzer.js/core/dist/cli.js"))} "$@"\n`, {
        mode: 0o755,
      });
      const haveReal = spawnSync("bash", ["-c", "type compile_javascript_fuzzer"], { stdio: "ignore" }).status === 0;
      const build = spawnSync("bash", ["-c", `${haveReal ? "" : STUB}\nbash ${JSON.stringify(path.join(root, ".clusterfuzzlite/build.sh"))}`], {
        env: { ...process.env, SRC: src, OUT: out, PATH: `${bin}:${process.env["PATH"]}` },
        encoding: "utf8",
        timeout: 120_000,
      });
      expect(build.status, build.stderr).toBe(0);
      const targets = listTargets(defaultFuzzPaths(root));
      for (const name of targets) {
        const fuzzer = path.join(out, name);
        accessSync(fuzzer, constants.X_OK);
        expect(readFileSync(fuzzer, "utf8")).toContain(`jazzer ${name}`);
        expect(existsSync(path.join(out, "netlab/fuzz-build", `${name}.js`))).toBe(true);
        expect(existsSync(path.join(out, `${name}_seed_corpus.zip`)), `${name} seed corpus`).toBe(true);
        const listing = spawnSync("python3", ["-m", "zipfile", "-l", path.join(out, `${name}_seed_corpus.zip`)], { encoding: "utf8" });
        expect(listing.stdout.split("\n").length).toBeGreaterThan(2);
        if (existsSync(path.join(root, "harness/fuzz/dicts", `${name}.dict`))) expect(existsSync(path.join(out, `${name}.dict`))).toBe(true);
      }
      for (const name of ["http-server", "http-client", "dhcp-message", "dhcp-client", "xenstore-server", "pcap-readers"])
        expect(existsSync(path.join(out, `${name}.dict`))).toBe(true);
      // Every installed harness loads and exports fuzz (one node process for all)...
      const load = spawnSync(
        process.execPath,
        [
          "-e",
          `for (const n of ${JSON.stringify(targets)}) { const m = require(${JSON.stringify(path.join(out, "netlab/fuzz-build"))} + "/" + n + ".js"); if (typeof m.fuzz !== "function") throw new Error(n); } console.log("loaded")`,
        ],
        { encoding: "utf8", timeout: 60_000 },
      );
      expect(load.stdout + load.stderr).toContain("loaded");
      // ...and one installed fuzzer runs under Jazzer.js the way ClusterFuzzLite starts it.
      const corpus = path.join(tmp, "corpus");
      mkdirSync(corpus);
      const runFuzzer = spawnSync(path.join(out, "dhcp-message"), ["-runs=200", `-dict=${path.join(out, "dhcp-message.dict")}`, corpus], {
        cwd: out,
        env: { ...jazzerEnv(defaultFuzzPaths(root)), PATH: `${bin}:${process.env["PATH"]}` },
        encoding: "utf8",
        timeout: 60_000,
      });
      expect(runFuzzer.status, runFuzzer.stderr.slice(-2000)).toBe(0);
      expect(runFuzzer.stderr).toMatch(/Done 200 runs/);
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  }, 180_000);
});
