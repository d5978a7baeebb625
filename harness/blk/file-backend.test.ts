import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { err, ok } from "../../stack/result.ts";
import { createFileStorage } from "./file-backend.ts";

const dirs: string[] = [];
const tempImage = (): string => {
  const d = mkdtempSync(join(tmpdir(), "netlab-blk-"));
  dirs.push(d);
  return join(d, "disk.img");
};
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe("raw image file storage", () => {
  it("reads and writes 512-byte sectors at their file offsets and refuses ranges beyond the end", () => {
    const path = tempImage();
    const s = createFileStorage(path, { createSectors: 64 });
    expect(s.sectors).toBe(64);
    const data = new Uint8Array(1024).map((_, i) => i & 255);
    expect(s.write(10, data)).toEqual(ok(undefined));
    const back = new Uint8Array(1024);
    expect(s.read(10, back)).toEqual(ok(undefined));
    expect(back).toEqual(data);
    expect(s.read(63, new Uint8Array(1024))).toEqual(err("out-of-range"));
    expect(s.write(-1, new Uint8Array(512))).toEqual(err("out-of-range"));
    s.close();
    expect(readFileSync(path).subarray(10 * 512, 12 * 512)).toEqual(Buffer.from(data));
    expect(s.read(0, new Uint8Array(512))).toEqual(err("io-error"));
  });

  it("flush calls fsync; an existing image keeps its size and contents", () => {
    const path = tempImage();
    writeFileSync(path, Buffer.alloc(4096, 7));
    const s = createFileStorage(path);
    expect(s.sectors).toBe(8);
    expect(s.flush()).toEqual(ok(undefined));
    expect(s.fsyncs).toBe(1);
    const b = new Uint8Array(512);
    s.read(7, b);
    expect(b.every((x) => x === 7)).toBe(true);
    s.close();
  });

  it("discard reads back as zeroes, by punching a hole when fallocate works and by writing zeroes otherwise", () => {
    for (const punchHoles of [true, false]) {
      const path = tempImage();
      const s = createFileStorage(path, { createSectors: 2048, punchHoles });
      const ones = new Uint8Array(1024 * 512).fill(1);
      s.write(0, ones);
      s.flush();
      const blocksBefore = statSync(path).blocks;
      expect(s.discard(8, 1024, false)).toEqual(ok(undefined));
      expect(s.discard(0, 8, true)).toEqual(err("not-supported"));
      const b = new Uint8Array(1040 * 512);
      s.read(0, b);
      expect(b.subarray(0, 8 * 512).every((x) => x === 1)).toBe(true);
      expect(b.subarray(8 * 512, 1032 * 512).every((x) => x === 0)).toBe(true);
      expect(s.discardStats.punched + s.discardStats.zeroed).toBe(1);
      if (!punchHoles) expect(s.discardStats.zeroed).toBe(1);
      if (s.discardStats.punched === 1) expect(statSync(path).blocks).toBeLessThan(blocksBefore);
      s.close();
    }
  });

  it("a read-only image refuses writes and offers no discard", () => {
    const path = tempImage();
    writeFileSync(path, Buffer.alloc(4096));
    const s = createFileStorage(path, { readOnly: true });
    expect([s.readOnly, s.canDiscard]).toEqual([true, false]);
    expect(s.write(0, new Uint8Array(512))).toEqual(err("io-error"));
    s.close();
  });
});
