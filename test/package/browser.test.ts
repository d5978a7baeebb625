// The pure layers are portable (the MirageOS idea): stack/ and xen-sim/ import nothing from
// Node, so they bundle for the browser, and the library example (two hosts, ping, a TCP
// transfer, a pcapng in memory) runs in headless Chromium with the same transfer SHA-256 and
// the same capture bytes as in Node for the same seed. Chromium is Debian's `chromium`
// (npm run setup installs it); without it the browser run is skipped with the reason.
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative, resolve } from "node:path";
import { build } from "esbuild";
import { afterAll, describe, expect, it } from "vitest";
import { runPortableExample, type PortableRun } from "./portable-example.ts";

const ROOT = resolve(import.meta.dirname, "../..");
const DIR = mkdtempSync(join(tmpdir(), "netlab-browser-"));
afterAll(() => rmSync(DIR, { recursive: true, force: true }));

function findChromium(): string | undefined {
  for (const name of ["chromium", "chromium-browser", "google-chrome"]) {
    const r = spawnSync("sh", ["-c", `command -v ${name}`], { encoding: "utf8" });
    if (r.status === 0 && r.stdout.trim() !== "") return r.stdout.trim();
  }
  return undefined;
}
const CHROMIUM = findChromium();

/** Every non-test .ts file under dir. */
function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sources(path);
    return name.endsWith(".ts") && !name.endsWith(".test.ts") ? [path] : [];
  });
}

/** Bundles `entry` for the browser; esbuild refuses any Node built-in it meets. */
async function bundleForBrowser(entry: string): Promise<{ code: string; inputs: string[] }> {
  const r = await build({
    entryPoints: [entry],
    bundle: true,
    platform: "browser",
    format: "esm",
    target: "es2022",
    write: false,
    metafile: true,
    logLevel: "silent",
  });
  return { code: r.outputFiles[0]!.text, inputs: Object.keys(r.metafile.inputs) };
}

describe("the portable layers", () => {
  it("stack/ and xen-sim/ import nothing from Node and use no Node globals", () => {
    const offenders: string[] = [];
    for (const top of ["stack", "xen-sim"]) {
      for (const file of sources(join(ROOT, top))) {
        const text = readFileSync(file, "utf8");
        if (/from\s+["']node:|import\(\s*["']node:|\brequire\(|\bprocess\.|\bBuffer\.|\bNodeJS\./.test(text)) offenders.push(relative(ROOT, file));
      }
    }
    expect(offenders).toEqual([]);
  });

  it("stack/ and xen-sim/ bundle for the browser, from their own sources only", async () => {
    for (const entry of ["stack/index.ts", "xen-sim/index.ts"]) {
      const { inputs } = await bundleForBrowser(join(ROOT, entry));
      expect(
        inputs.filter((f) => !/^(stack|xen-sim)\//.test(f)),
        entry,
      ).toEqual([]);
    }
  });

  it.skipIf(CHROMIUM === undefined)(
    `runs the library example in headless Chromium with Node's transfer and capture bytes${CHROMIUM === undefined ? " (skipped: no chromium; npm run setup installs it)" : ""}`,
    async () => {
      const { code } = await bundleForBrowser(join(ROOT, "test/package/browser-entry.ts"));
      writeFileSync(join(DIR, "bundle.js"), code);
      writeFileSync(
        join(DIR, "index.html"),
        '<!doctype html><meta charset="utf-8"><pre id="result">pending</pre><script type="module" src="bundle.js"></script>\n',
      );
      for (const seed of [1, 2]) {
        const dom = execFileSync(
          CHROMIUM!,
          [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--no-first-run",
            "--allow-file-access-from-files",
            `--user-data-dir=${join(DIR, "profile")}`,
            "--virtual-time-budget=60000",
            "--dump-dom",
            `file://${DIR}/index.html?seed=${seed}`,
          ],
          { encoding: "utf8", timeout: 90_000, stdio: ["ignore", "pipe", "ignore"] },
        );
        const m = /<pre id="result">([^<]*)<\/pre>/.exec(dom);
        expect(m, dom.slice(0, 500)).not.toBeNull();
        const browser = JSON.parse(m![1]!.replaceAll("&amp;", "&")) as PortableRun & { error?: string };
        expect(browser.error).toBeUndefined();
        const node = await runPortableExample(seed);
        expect(browser.sha256Received).toBe(browser.sha256Sent);
        expect(browser).toEqual(node);
      }
    },
    200_000,
  );
});
