import { describe, expect, it } from "vitest";
import type { Result } from "../../stack/result.ts";
import { createMemoryStorage } from "../../xen-sim/blk/memory-storage.ts";
import { createBlkWorld } from "../../xen-sim/blk/sim-world.ts";
import { createDiskSite, type DiskSite, type DiskSiteError } from "./demo-disk.ts";

const files = new Map<string, Uint8Array>([
  ["/a.txt", new TextEncoder().encode("first file\n")],
  ["/big.bin", Uint8Array.from({ length: 70_000 }, (_, i) => (i * 13 + 5) & 0xff)],
  ["/c.txt", new TextEncoder().encode("third\n")],
]);

async function world(sectors = 2048) {
  const storage = createMemoryStorage({ sectors });
  const w = await createBlkWorld(storage);
  await w.connect();
  const site = createDiskSite(w.front, files);
  const install = (): Promise<Result<void, DiskSiteError>> => w.settle(new Promise((resolve) => site.install(resolve)));
  const read = (path: string): Promise<Result<Uint8Array, DiskSiteError>> => w.settle(new Promise((resolve) => site.read(path, resolve)));
  return { w, storage, site, install, read };
}

const extentsOf = (site: DiskSite) => site.extents.map((e) => [e.path, e.sector, e.length]);

describe("createDiskSite()", () => {
  it("lays the files out at 4 KiB-aligned extents, writes them through blkfront, flushes, and leaves them in the backend's image", async () => {
    const { w, storage, site, install } = await world();
    expect(extentsOf(site)).toEqual([
      ["/a.txt", 0, 11],
      ["/big.bin", 8, 70_000],
      ["/c.txt", 8 + 144, 6],
    ]);
    expect(site.installed).toBe(false);
    expect(await install()).toEqual({ ok: true, value: undefined });
    expect(site.installed).toBe(true);
    expect(site.stats).toEqual({ reads: 0, writes: 3, flushes: 1, errors: 0, bytesRead: 0, bytesWritten: 512 + 137 * 512 + 512 });
    expect(w.back.stats.sectorsWritten).toBe(139);
    expect(Buffer.from(storage.bytes.subarray(8 * 512, 8 * 512 + 70_000)).equals(Buffer.from(files.get("/big.bin")!))).toBe(true);
    expect(site.mismatches(storage.bytes)).toEqual([]);
  });

  it("reads each file back through blkfront, exactly its bytes, and counts whole sectors", async () => {
    const { site, install, read } = await world();
    await install();
    for (const [path, body] of files) {
      const r = await read(path);
      expect(r.ok && Buffer.from(r.value).equals(Buffer.from(body)), path).toBe(true);
    }
    expect(site.stats).toMatchObject({ reads: 3, errors: 0, bytesRead: 139 * 512 });
  });

  it("serves what the disk holds: a byte changed in dom0's image comes back in the body and is reported as a mismatch", async () => {
    const { storage, site, install, read } = await world();
    await install();
    const at = 8 * 512 + 1000;
    storage.bytes[at] = storage.bytes[at]! ^ 0xff;
    const r = await read("/big.bin");
    expect(r.ok).toBe(true);
    if (r.ok) expect(r.value[1000]).toBe(files.get("/big.bin")![1000]! ^ 0xff);
    expect(site.mismatches(storage.bytes)).toEqual(["/big.bin"]);
  });

  it("refuses to read before install, reads of unknown paths, and a site larger than the disk", async () => {
    const small = await world(64);
    expect(await small.read("/a.txt")).toMatchObject({ ok: false, error: "not-installed" });
    expect(await small.install()).toMatchObject({ ok: false, error: "disk-full" });
    expect(small.site.stats.writes).toBe(0);
    const { install, read } = await world();
    await install();
    expect(await read("/nope")).toMatchObject({ ok: false, error: "no-such-file" });
  });
});
