import { mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { makeDirectory, makeParentDirectory, writeCaptureFile } from "./files.ts";

describe("makeDirectory()", () => {
  it("creates missing parents and accepts existing directories", () => {
    const root = mkdtempSync(join(tmpdir(), "netlab-mkdir-"));
    try {
      makeDirectory(join(root, "a/b/c"));
      expect(statSync(join(root, "a/b/c")).isDirectory()).toBe(true);
      makeDirectory(join(root, "a/b"));
      makeParentDirectory(join(root, "a/b/c/x.pcapng"));
      writeFileSync(join(root, "file"), "");
      expect(() => makeDirectory(join(root, "file/sub"))).toThrow(expect.objectContaining({ code: "ENOTDIR" }));
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  it("fails at once under /proc, where a recursive mkdir never returns", () => {
    expect(() => writeCaptureFile("/proc/nope/x.pcapng", new Uint8Array(4))).toThrow(/cannot create directory \/proc\/nope/);
  });
});
