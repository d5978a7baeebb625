// bin/netlab.mjs runs the sources in the repository, dist/ in the package (no sources), and
// dist/ in the repository only when NETLAB_COMPILED=1 and the build is newer than every source.
import { spawnSync } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, describe, expect, it } from "vitest";

const ROOT = resolve(import.meta.dirname, "../..");
const DIR = mkdtempSync(join(tmpdir(), "netlab-bin-"));
afterAll(() => rmSync(DIR, { recursive: true, force: true }));

function write(path: string, text: string): void {
  mkdirSync(join(DIR, path, ".."), { recursive: true });
  writeFileSync(join(DIR, path), text);
}
const run = (env: Record<string, string> = {}): string => {
  const base = { ...process.env };
  delete base["NETLAB_COMPILED"];
  return spawnSync(process.execPath, [join(DIR, "bin/netlab.mjs")], { encoding: "utf8", env: { ...base, ...env }, timeout: 60_000 }).stdout;
};

describe("bin/netlab.mjs", () => {
  it("runs the sources in the repository, dist/ on request while it is current, and dist/ in the package", () => {
    mkdirSync(join(DIR, "bin"));
    copyFileSync(join(ROOT, "bin/netlab.mjs"), join(DIR, "bin/netlab.mjs"));
    symlinkSync(join(ROOT, "node_modules"), join(DIR, "node_modules"));
    write("package.json", JSON.stringify({ type: "module" }));
    write("harness/cli/main.ts", 'export async function main(): Promise<number> { process.stdout.write("source"); return 0; }\n');
    write("stack/index.ts", "export {};\n");
    write("dist/harness/cli/main.js", 'export async function main() { process.stdout.write("compiled"); return 0; }\n');
    const past = new Date(Date.now() - 3_600_000);
    for (const f of ["harness/cli/main.ts", "stack/index.ts"]) utimesSync(join(DIR, f), past, past);
    write("dist/build.json", JSON.stringify({ startedAtMs: Date.now() - 60_000 }));
    expect(run()).toBe("source");
    expect(run({ NETLAB_COMPILED: "1" })).toBe("compiled");
    write("stack/index.ts", "export const edited = 1;\n"); // an edit after the build
    expect(run({ NETLAB_COMPILED: "1" })).toBe("source");
    rmSync(join(DIR, "dist/build.json"));
    expect(run({ NETLAB_COMPILED: "1" })).toBe("source");
    // the installed package: no sources, a build
    rmSync(join(DIR, "harness"), { recursive: true });
    rmSync(join(DIR, "stack"), { recursive: true });
    write("dist/build.json", JSON.stringify({ startedAtMs: 0 }));
    expect(run()).toBe("compiled");
  });
});
