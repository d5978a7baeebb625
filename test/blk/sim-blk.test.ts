// `netlab sim blk`: the scenario function over memory and a raw image, and the CLI's --json line.
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { runSimBlk } from "../../harness/sim/blk.ts";
import { interruptCli } from "../../harness/cli/interrupt-testing.ts";

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe("sim blk", () => {
  it("random I/O from memory is checked read by read and the image matches the model", async () => {
    const r = await runSimBlk({ ops: 3000, seed: 9, sizeMiB: 4, mix: [60, 30, 5, 5], queueDepth: 16 });
    expect(r).toMatchObject({ ok: true, backend: "memory", completed: 3000, errors: 0, mismatches: 0, imageMatches: true });
    expect(r.reads + r.writes + r.flushes + r.discards).toBe(3000);
    expect(r.reads).toBeGreaterThan(1500);
    expect(r.discards).toBeGreaterThan(0);
    expect(r.virtualSeconds).toBeGreaterThan(0);
    expect(r.frontend.grantsIssued).toBeLessThanOrEqual(16 + 2);
  });

  it("with --image the same run goes to a raw file; multi-page rings, large blocks and no persistent grants work too", async () => {
    const d = mkdtempSync(join(tmpdir(), "netlab-simblk-"));
    dirs.push(d);
    const image = join(d, "disk.img");
    const r = await runSimBlk({ image, sizeMiB: 2, ops: 400, seed: 3, blockSize: 65536, ringPageOrder: 1, persistent: false });
    expect(r).toMatchObject({ ok: true, backend: "file", image, completed: 400, imageMatches: true, sizeBytes: 2 << 20 });
    expect(r.features).toMatchObject({ ringPageOrder: 1, persistent: false, indirectSegments: 32 });
    expect(r.frontend.indirectRequests).toBeGreaterThan(0);
    expect(statSync(image).size).toBe(2 << 20);
    // A second run starts from the image's current contents.
    expect((await runSimBlk({ image, ops: 300, seed: 4 })).ok).toBe(true);
  });

  it("the CLI refuses to write into an existing --image without --overwrite, says when it creates one, and writes --report's page", () => {
    const d = mkdtempSync(join(tmpdir(), "netlab-simblk-cli-"));
    dirs.push(d);
    const image = join(d, "disk.img");
    const created = spawnSync("node", ["bin/netlab.mjs", "sim", "blk", "--image", image, "--size-mb", "1", "--ops", "50", "--json"], { encoding: "utf8" });
    expect(created.status).toBe(0);
    expect(created.stderr).toContain(`sim blk: creating ${image}, 1 MiB`);
    const before = readFileSync(image);
    const refused = spawnSync("node", ["bin/netlab.mjs", "sim", "blk", "--image", image, "--ops", "50", "--seed", "5", "--json"], { encoding: "utf8" });
    expect(refused.status).toBe(2);
    expect(refused.stdout).toBe("");
    expect(refused.stderr).toMatch(/^netlab sim blk: \[ERR_USAGE\] --image .* exists and the run would write into it; give --overwrite/);
    expect(readFileSync(image).equals(before)).toBe(true);
    const page = join(d, "blk.html");
    const over = spawnSync(
      "node",
      ["bin/netlab.mjs", "sim", "blk", "--image", image, "--overwrite", "--ops", "50", "--seed", "5", "--json", "--report", page],
      { encoding: "utf8" },
    );
    expect(over.status).toBe(0);
    expect(over.stderr).not.toContain("creating");
    expect(JSON.parse(over.stdout)).toMatchObject({ ok: true, backend: "file", sizeBytes: 1 << 20 });
    expect(readFileSync(image).equals(before)).toBe(false);
    // --report: the verdict, the figures, and the image linked from the page
    const html = readFileSync(page, "utf8");
    expect(html).toContain("All 50 operations completed");
    expect(html).toContain(`<tr><td>completed</td><td class="num">50</td></tr>`);
    expect(html).toContain('href="disk.img"');
    expect(spawnSync("node", ["bin/netlab.mjs", "sim", "blk", "--overwrite"], { encoding: "utf8" }).status).toBe(2);
  });

  it("the CLI prints one JSON object with ok, and rejects a bad mix with exit code 2", () => {
    const out = execFileSync("node", ["bin/netlab.mjs", "sim", "blk", "--ops", "500", "--size-mb", "2", "--mix", "5:4:1", "--seed", "2", "--json"], {
      encoding: "utf8",
    });
    const r = JSON.parse(out) as { ok: boolean; completed: number; iops: number };
    expect(r.ok).toBe(true);
    expect(r.completed).toBe(500);
    expect(r.iops).toBeGreaterThan(0);
    // figures are rounded: no float noise such as 0.006886000000000007 in the JSON
    const figures = JSON.parse(out) as Record<string, number>;
    for (const [key, digits] of [
      ["wallSeconds", 3],
      ["cpuSeconds", 3],
      ["virtualSeconds", 6],
      ["iops", 0],
      ["iopsPerCpuSecond", 0],
      ["mbPerSecond", 2],
      ["virtualIops", 0],
    ] as const) {
      const x = figures[key]!;
      expect(Math.round(x * 10 ** digits) / 10 ** digits, key).toBe(x);
    }
    let code = 0;
    try {
      execFileSync("node", ["bin/netlab.mjs", "sim", "blk", "--mix", "1:2"], { encoding: "utf8", stdio: "pipe" });
    } catch (e) {
      code = (e as { status: number }).status;
    }
    expect(code).toBe(2);
  });
});

describe("sim blk interrupted", () => {
  it("an aborted signal stops issuing, lets the operations in flight finish and checks the disk: a partial report that still matches the model", async () => {
    const stop = new AbortController();
    let lines = 0;
    const r = await runSimBlk({
      ops: 10_000_000,
      sizeMiB: 4,
      seed: 3,
      signal: stop.signal,
      progressEveryMs: 0,
      onProgress: (line) => {
        expect(line).toMatch(/^sim blk: \d+\/10000000 operations/);
        if (++lines === 3) stop.abort("SIGTERM");
      },
    });
    expect(r).toMatchObject({ ok: false, interrupted: "SIGTERM", mismatches: 0, errors: 0, imageMatches: true });
    expect(r.error).toBe(`interrupted (SIGTERM) after ${r.completed} of 10000000 operations`);
    expect(r.completed).toBeGreaterThan(0);
    expect(r.completed).toBeLessThan(10_000_000);
    expect(r.reads + r.writes + r.flushes + r.discards).toBe(r.completed);
  });

  it("the CLI prints progress each wall second; SIGINT on an image file exits 130 with the partial JSON summary, SIGTERM 143 with the text one", async () => {
    const dir = mkdtempSync(join(tmpdir(), "netlab-blk-int-"));
    dirs.push(dir);
    const image = join(dir, "disk.img");
    const int = await interruptCli(["sim", "blk", "--image", image, "--size-mb", "4", "--ops", "100000000", "--json"], {
      ready: /^sim blk: \d+\/100000000 operations/m,
      signal: "SIGINT",
      afterMs: 1200,
    });
    expect(int.status).toBe(130);
    expect((int.stderr.match(/^sim blk: \d+\//gm) ?? []).length).toBeGreaterThanOrEqual(2);
    const r = JSON.parse(int.stdout) as { interrupted: string; completed: number; imageMatches: boolean; mismatches: number; backend: string };
    expect(r).toMatchObject({ interrupted: "SIGINT", imageMatches: true, mismatches: 0, backend: "file" });
    expect(r.completed).toBeGreaterThan(0);
    expect(statSync(image).size).toBe(4 * 1024 * 1024);
    const term = await interruptCli(["sim", "blk", "--size-mb", "4", "--ops", "100000000", "--quiet"], { ready: /^/, signal: "SIGTERM", afterMs: 2500 });
    expect(term.status).toBe(143);
    expect(term.stdout).toMatch(/image matches the model\n {2}partial: interrupted \(SIGTERM\) after \d+ of 100000000 operations\n$/);
  }, 60_000);
});
