import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { bundleTarget, defaultFuzzPaths } from "../runner.ts";
import { hostileValue } from "./hostile-value.ts";

const bytes = (...b: number[]): (() => number) => {
  let at = 0;
  return () => b[at++] ?? 0;
};

describe("hostileValue", () => {
  it("is absent below 0x40, the right value below 0xa0, else the shape of the low nibble", () => {
    expect(hostileValue("k", "12", 0x3f, bytes())).toBeUndefined();
    expect(hostileValue("k", "12", 0x40, bytes())).toBe("12");
    expect(hostileValue("k", "12", 0x9f, bytes())).toBe("12");
    const shapes = Array.from({ length: 16 }, (_, n) => hostileValue("k", "12", 0xa0 | n, bytes(3, 0x41)));
    expect(shapes).toEqual([
      "",
      "-12",
      "0xc",
      " 12",
      "12abc",
      "4294967296",
      "99999999999999999999",
      "7".repeat(103),
      "\u00e9\u0083\u0031",
      "9007199254740993",
      "0",
      String(3 * 256 + 0x41),
      "12\u0000",
      "0",
      "12.0",
      "+12",
    ]);
    expect(hostileValue("k", "x86_64-abi", 0xa2, bytes())).toBe("X86_64-ABI");
  });

  it("takes a target's own shape for a nibble, with the key, and reads only the bytes the shape takes", () => {
    const next = bytes(9, 8);
    expect(hostileValue("queues", "2", 0xbf, next, { 15: (_g, n, key) => `${key}:${n()}` })).toBe("queues:9");
    expect(next()).toBe(8);
  });

  it("is laid out instrumented, beside the target, in the per-module build of every target that uses it", async () => {
    const paths = defaultFuzzPaths(path.resolve(import.meta.dirname, "../../.."));
    const out = mkdtempSync(path.join(tmpdir(), "hostile-value-"));
    try {
      for (const t of ["xenbus-hostile", "xenbus-blk-hostile", "xenbus-blkfront-hostile", "xenbus-netfront-hostile"]) {
        await bundleTarget(paths, t, path.join(out, `${t}.cjs`));
        const tree = path.join(out, `${t}.tree`, "harness/fuzz");
        expect(existsSync(path.join(tree, "kit/hostile-value.cjs")), t).toBe(true);
        expect(existsSync(path.join(tree, "kit/hostile-value.noinst.cjs")), t).toBe(false);
        expect(existsSync(path.join(tree, `targets/${t}.cjs`)), t).toBe(true);
      }
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  }, 60_000);
});
