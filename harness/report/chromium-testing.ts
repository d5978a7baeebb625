// Test helper: a report page rendered by headless Chromium (Debian's `chromium`, installed by
// npm run setup), as a user's browser would open it from a file.
//   CHROMIUM                      the browser's path, or undefined when none is installed
//   renderInChromium(file, dir)   the DOM after load, its <svg> elements and the page's console lines
import { spawnSync } from "node:child_process";
import { join } from "node:path";

function findChromium(): string | undefined {
  for (const name of ["chromium", "chromium-browser", "google-chrome"]) {
    const r = spawnSync("sh", ["-c", `command -v ${name}`], { encoding: "utf8" });
    if (r.status === 0 && r.stdout.trim() !== "") return r.stdout.trim();
  }
  return undefined;
}

/** Headless Chromium on this machine, if any. */
export const CHROMIUM = findChromium();

/** What Chromium made of a page. */
export interface RenderedPage {
  readonly status: number | null;
  readonly dom: string;
  /** Every <svg>…</svg> of the DOM. */
  readonly svgs: readonly string[];
  /** The page's console messages (Chromium logs them as CONSOLE lines on stderr). */
  readonly consoleLines: readonly string[];
}

/** Loads `file` in headless Chromium with a profile under `scratchDir` and dumps its DOM. */
export function renderInChromium(file: string, scratchDir: string): RenderedPage {
  if (CHROMIUM === undefined) throw new Error("no chromium on this machine (npm run setup installs it)");
  const flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run", `--user-data-dir=${join(scratchDir, "profile")}`];
  const r = spawnSync(CHROMIUM, [...flags, "--enable-logging=stderr", "--v=0", "--dump-dom", `file://${file}`], { encoding: "utf8", timeout: 60_000 });
  return {
    status: r.status,
    dom: r.stdout,
    svgs: r.stdout.match(/<svg[\s\S]*?<\/svg>/g) ?? [],
    consoleLines: r.stderr.split("\n").filter((l) => /CONSOLE/.test(l)),
  };
}

/** True when `svg` draws at least one line of two or more points (a chart that is not empty). */
export function drawsALine(svg: string): boolean {
  return /<polyline[^>]*points="-?[\d.]+,-?[\d.]+ -?[\d.]+,-?[\d.]+/.test(svg);
}
