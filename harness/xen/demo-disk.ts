// The demo's site on a disk: h1 keeps its web pages on its xvda. install() lays the files out
// at consecutive extents aligned to 4 KiB, writes them through the block device and then
// flushes (FLUSH_DISKCACHE: the pages are durable before the server starts); read() fetches
// one file back through the device, for every request. The index (path -> extent) stays in
// memory, as a mounted filesystem's inode cache would. Pure: the device's callbacks drive it.
//   createDiskSite(device, files)   the site over any BlockDevice (blkfront in the demo)

import { err, ok, type Result } from "../../stack/result.ts";
import type { BlkError, BlockDevice } from "../../xen-sim/blk/types.ts";

const SECTOR = 512;
/** Extents start on 4 KiB boundaries (the memory image's physical sector size). */
const ALIGN_SECTORS = 8;

/** Where a file lives on the disk. */
export interface DiskExtent {
  readonly path: string;
  readonly sector: number;
  readonly length: number;
}

/** What went through the device, counted by the site as operations complete. */
export interface DiskSiteStats {
  readonly reads: number;
  readonly writes: number;
  readonly flushes: number;
  readonly errors: number;
  /** Bytes moved by completed reads and writes (whole sectors). */
  readonly bytesRead: number;
  readonly bytesWritten: number;
}

/** Errors of the site. */
export type DiskSiteError = BlkError | "no-such-file" | "not-installed" | "disk-full";

/** A site whose files live on a block device. */
export interface DiskSite {
  readonly extents: readonly DiskExtent[];
  readonly installed: boolean;
  readonly stats: Readonly<DiskSiteStats>;
  /** Writes every file, then flushes; `done` once the flush completed (or with the first error). */
  install(done: (result: Result<void, DiskSiteError>) => void): void;
  /** Reads `path` back through the device. */
  read(path: string, done: (result: Result<Uint8Array, DiskSiteError>) => void): void;
  /** Paths whose bytes in `image` (the backend's view of the disk) differ from the file. */
  mismatches(image: Uint8Array): string[];
}

const sectorsFor = (bytes: number): number => Math.ceil(bytes / SECTOR);

/** Lays `files` out on `device` (nothing is written before install()). */
export function createDiskSite(device: BlockDevice, files: ReadonlyMap<string, Uint8Array>): DiskSite {
  const extents: DiskExtent[] = [];
  const byPath = new Map<string, DiskExtent>();
  let next = 0;
  for (const [path, body] of files) {
    const e = { path, sector: next, length: body.length };
    extents.push(e);
    byPath.set(path, e);
    next += Math.ceil(sectorsFor(body.length) / ALIGN_SECTORS) * ALIGN_SECTORS;
  }
  const end = next;
  const stats = { reads: 0, writes: 0, flushes: 0, errors: 0, bytesRead: 0, bytesWritten: 0 };
  let installed = false;

  return {
    extents,
    get installed() {
      return installed;
    },
    stats,
    install(done) {
      if (end > device.capacity) {
        done(err("disk-full"));
        return;
      }
      let left = extents.length;
      let failed: BlkError | undefined;
      const flush = (): void => {
        device.submitFlush((r) => {
          if (!r.ok) {
            stats.errors++;
            done(err(r.error));
            return;
          }
          stats.flushes++;
          installed = true;
          done(ok(undefined));
        });
      };
      const settled = (): void => {
        if (--left > 0) return;
        if (failed === undefined) flush();
        else done(err(failed));
      };
      if (left === 0) flush();
      for (const e of extents) {
        if (e.length === 0) {
          settled();
          continue;
        }
        const data = new Uint8Array(sectorsFor(e.length) * SECTOR);
        data.set(files.get(e.path)!);
        device.submitWrite(e.sector, data, (r) => {
          if (r.ok) {
            stats.writes++;
            stats.bytesWritten += data.length;
          } else {
            stats.errors++;
            failed ??= r.error;
          }
          settled();
        });
      }
    },
    read(path, done) {
      const e = byPath.get(path);
      if (e === undefined) {
        done(err("no-such-file"));
        return;
      }
      if (!installed) {
        done(err("not-installed"));
        return;
      }
      if (e.length === 0) {
        done(ok(new Uint8Array(0)));
        return;
      }
      const into = new Uint8Array(sectorsFor(e.length) * SECTOR);
      device.submitRead(e.sector, into, (r) => {
        if (!r.ok) {
          stats.errors++;
          done(err(r.error));
          return;
        }
        stats.reads++;
        stats.bytesRead += into.length;
        done(ok(into.subarray(0, e.length)));
      });
    },
    mismatches(image) {
      return extents
        .filter((e) => {
          const want = files.get(e.path)!;
          const at = e.sector * SECTOR;
          if (at + want.length > image.length) return true;
          const got = image.subarray(at, at + want.length);
          for (let i = 0; i < want.length; i++) if (got[i] !== want[i]) return true;
          return false;
        })
        .map((e) => e.path);
    },
  };
}
