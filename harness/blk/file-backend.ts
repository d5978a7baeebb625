// A raw disk image file served by blkback (xen-sim/blk BlockStorage over node:fs).
// Reads and writes are positional (pread/pwrite); flush and barrier call fsync; discard punches
// a hole with fallocate(FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE) through koffi when libc and
// the filesystem allow it, and otherwise writes zeroes, so discarded sectors always read as zero.
//   createFileStorage   opens (or creates with `createSectors`) an image file

import { closeSync, fstatSync, fsyncSync, ftruncateSync, openSync, readSync, writeSync } from "node:fs";
import { createRequire } from "node:module";
import { err, ok } from "../../stack/result.ts";
import type { BlockStorage } from "../../xen-sim/blk/types.ts";

const FALLOC_FL_KEEP_SIZE = 1;
const FALLOC_FL_PUNCH_HOLE = 2;
/** Zeroes written per call when discard falls back to writing. */
const ZERO_CHUNK = 1 << 20;

/** Options of createFileStorage. */
export interface FileStorageOptions {
  /** Create or truncate the file to this many 512-byte sectors first. */
  createSectors?: number;
  readOnly?: boolean;
  /** Try fallocate hole punching for discard (default true). */
  punchHoles?: boolean;
  physicalSectorSize?: number;
}

/** What a file storage adds: how discards were served. */
export interface FileStorage extends BlockStorage {
  readonly path: string;
  /** Discards served by punching holes / by writing zeroes. */
  readonly discardStats: { punched: number; zeroed: number };
  readonly fsyncs: number;
}

type Fallocate = (fd: number, mode: number, offset: bigint, len: bigint) => number;

function bindFallocate(): Fallocate | undefined {
  if (process.platform !== "linux") return undefined;
  try {
    // koffi is an optional peer of the package: without it discard writes zeroes
    const koffi = createRequire(import.meta.url)("koffi") as typeof import("koffi");
    const lib = koffi.load("libc.so.6");
    return lib.func("int fallocate(int fd, int mode, int64_t offset, int64_t len)") as Fallocate;
  } catch {
    return undefined;
  }
}

/** Opens an image file; throws (with the fs error code) when it cannot be opened. */
export function createFileStorage(path: string, options: FileStorageOptions = {}): FileStorage {
  const readOnly = options.readOnly ?? false;
  const fd = openSync(path, readOnly ? "r" : options.createSectors !== undefined ? "w+" : "r+");
  if (options.createSectors !== undefined) ftruncateSync(fd, options.createSectors * 512);
  const sectors = Math.floor(fstatSync(fd).size / 512);
  let fallocate = options.punchHoles === false ? undefined : bindFallocate();
  let closed = false;
  let fsyncs = 0;
  const discardStats = { punched: 0, zeroed: 0 };
  const inRange = (sector: number, bytes: number): boolean => sector >= 0 && bytes % 512 === 0 && sector + bytes / 512 <= sectors;

  const fullRead = (into: Uint8Array, position: number): boolean => {
    let done = 0;
    while (done < into.length) {
      const n = readSync(fd, into, done, into.length - done, position + done);
      if (n <= 0) return false;
      done += n;
    }
    return true;
  };
  const fullWrite = (from: Uint8Array, position: number): void => {
    let done = 0;
    while (done < from.length) done += writeSync(fd, from, done, from.length - done, position + done);
  };

  return {
    path,
    sectors,
    sectorSize: 512,
    physicalSectorSize: options.physicalSectorSize ?? 4096,
    readOnly,
    canFlush: true,
    canDiscard: !readOnly,
    canSecureDiscard: false,
    discardGranularity: 4096,
    discardStats,
    get fsyncs() {
      return fsyncs;
    },
    read(sector, into) {
      if (closed) return err("io-error");
      if (!inRange(sector, into.length)) return err("out-of-range");
      try {
        return fullRead(into, sector * 512) ? ok(undefined) : err("io-error");
      } catch {
        return err("io-error");
      }
    },
    write(sector, from) {
      if (closed || readOnly) return err("io-error");
      if (!inRange(sector, from.length)) return err("out-of-range");
      try {
        fullWrite(from, sector * 512);
        return ok(undefined);
      } catch {
        return err("io-error");
      }
    },
    flush() {
      if (closed) return err("io-error");
      try {
        fsyncSync(fd);
        fsyncs++;
        return ok(undefined);
      } catch {
        return err("io-error");
      }
    },
    discard(sector, count, secure) {
      if (closed || readOnly) return err("io-error");
      if (secure) return err("not-supported");
      if (!inRange(sector, count * 512)) return err("out-of-range");
      if (fallocate !== undefined) {
        const r = fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, BigInt(sector * 512), BigInt(count * 512));
        if (r === 0) {
          discardStats.punched++;
          return ok(undefined);
        }
        fallocate = undefined;
      }
      try {
        const zero = new Uint8Array(Math.min(ZERO_CHUNK, count * 512));
        for (let at = sector * 512, end = (sector + count) * 512; at < end; at += zero.length) {
          fullWrite(end - at < zero.length ? zero.subarray(0, end - at) : zero, at);
        }
        discardStats.zeroed++;
        return ok(undefined);
      } catch {
        return err("io-error");
      }
    },
    close() {
      if (closed) return;
      closed = true;
      closeSync(fd);
    },
  };
}
