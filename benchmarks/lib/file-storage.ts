// A file-backed BlockStorage for the blk suite: positional synchronous reads and writes on an
// image file (the page cache is in the path, as with a loop-mounted image), fdatasync on flush.
// createFileStorage(path, sectors)   creates or truncates the image to sectors·512 bytes
import { closeSync, fdatasyncSync, ftruncateSync, openSync, readSync, writeSync } from "node:fs";
import { err, ok } from "../../stack/result.ts";
import type { BlockStorage } from "../../xen-sim/blk/types.ts";

export function createFileStorage(path: string, sectors: number): BlockStorage {
  let fd: number | undefined = openSync(path, "w+");
  ftruncateSync(fd, sectors * 512);
  const inRange = (sector: number, bytes: number): boolean => sector >= 0 && sector * 512 + bytes <= sectors * 512;
  return {
    sectors,
    sectorSize: 512,
    physicalSectorSize: 4096,
    readOnly: false,
    canFlush: true,
    canDiscard: false,
    canSecureDiscard: false,
    discardGranularity: 0,
    read(sector, into) {
      if (fd === undefined) return err("io-error");
      if (!inRange(sector, into.length)) return err("out-of-range");
      let done = 0;
      while (done < into.length) {
        const n = readSync(fd, into, done, into.length - done, sector * 512 + done);
        if (n <= 0) {
          into.fill(0, done);
          break;
        }
        done += n;
      }
      return ok(undefined);
    },
    write(sector, from) {
      if (fd === undefined) return err("io-error");
      if (!inRange(sector, from.length)) return err("out-of-range");
      let done = 0;
      while (done < from.length) done += writeSync(fd, from, done, from.length - done, sector * 512 + done);
      return ok(undefined);
    },
    flush() {
      if (fd === undefined) return err("io-error");
      fdatasyncSync(fd);
      return ok(undefined);
    },
    discard() {
      return err("not-supported");
    },
    close() {
      if (fd !== undefined) closeSync(fd);
      fd = undefined;
    },
  };
}
