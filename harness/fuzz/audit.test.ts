// The planted bugs stay plantable: every patch in harness/fuzz/bugs/ applies to the tree as it is
// and names a target that exists. (Six patches had stopped applying after the formatter and the
// per-segment work changed the lines they touch, and `fuzz audit` then reported them as errors
// instead of auditing them.)
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { listPlantedBugs } from "./audit.ts";
import { withRecording } from "./audit-command.ts";

const root = path.resolve(import.meta.dirname, "../..");
const bugs = listPlantedBugs(path.join(root, "harness/fuzz/bugs"));

describe("planted bugs", () => {
  it("there are bugs to plant", () => {
    expect(bugs.length).toBeGreaterThanOrEqual(31);
  });

  it.each(bugs.map((b) => [b.id, b] as const))("%s applies to the tree and names an existing target", (_id, bug) => {
    const r = spawnSync("git", ["apply", "--check", "--whitespace=nowarn", bug.file], { cwd: root, encoding: "utf8" });
    expect(r.stderr.trim()).toBe("");
    expect(r.status).toBe(0);
    expect(existsSync(path.join(root, "harness/fuzz/targets", `${bug.target}.ts`))).toBe(true);
  });
});

describe("fuzz audit --record", () => {
  it("puts the new recording first and keeps what the file held below it", () => {
    const first = withRecording(undefined, "## Recorded A\n\ntable A");
    expect(first).toBe("# Planted-bug audit\n\n## Recorded A\n\ntable A\n");
    const second = withRecording(`${first}\nnotes about A\n`, "## Recorded B\n\ntable B");
    expect(second).toBe("# Planted-bug audit\n\n## Recorded B\n\ntable B\n\n## Recorded A\n\ntable A\n\nnotes about A\n");
    // a file without the title keeps its text too
    expect(withRecording("old text", "## Recorded C")).toBe("# Planted-bug audit\n\n## Recorded C\n\nold text\n");
  });
});
