// `netlab sim blk`: the scenario function over memory and a raw image, and the CLI's --json line.
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { runSimBlk } from "../../harness/sim/blk.ts";

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
