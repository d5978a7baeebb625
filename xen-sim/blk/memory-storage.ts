// A disk image held in memory, served by blkback (pure: no node: imports).
//   createMemoryStorage   a zero-filled image of `sectors` 512-byte sectors (or over given bytes)

import { err, ok } from "../../stack/result.ts";
import type { BlockStorage } from "./types.ts";
import { NetlabError } from "../../stack/error.ts";

/** Largest memory image by default: 1 GiB. */
export const DEFAULT_MAX_MEMORY_IMAGE = 1 << 30;

/** Options of createMemoryStorage. */
export interface MemoryStorageOptions {
  /** Capacity in 512-byte sectors (default 2048 = 1 MiB; ignored when `image` is given). */
  sectors?: number;
  /** Use these bytes as the image (length a multiple of 512); shared, not copied. */
  image?: Uint8Array;
  sectorSize?: number;
  physicalSectorSize?: number;
  readOnly?: boolean;
  /** Offer flush/barrier (default true). */
  flush?: boolean;
  /** Offer discard (default true). */
  discard?: boolean;
  /** Offer secure discard (default false). */
  secureDiscard?: boolean;
  /** Largest image in bytes (default 1 GiB). */
  maxBytes?: number;
}

function misuse(message: string): Error {
  const e = new NetlabError("ERR_NETLAB_BLK_ARGS", message);
  return e;
}

/** Creates a memory image. Throws ERR_NETLAB_BLK_ARGS on a bad size. */
export function createMemoryStorage(options: MemoryStorageOptions = {}): BlockStorage & { readonly bytes: Uint8Array } {
  const maxBytes = options.maxBytes ?? DEFAULT_MAX_MEMORY_IMAGE;
  const bytes = options.image ?? new Uint8Array(checkSize((options.sectors ?? 2048) * 512, maxBytes));
  if (bytes.length % 512 !== 0 || bytes.length > maxBytes) throw misuse("image length must be a multiple of 512 within maxBytes");
  const sectors = bytes.length / 512;
  let closed = false;
  const inRange = (sector: number, n: number): boolean => sector >= 0 && n % 512 === 0 && sector + n / 512 <= sectors;
  return {
    bytes,
    sectors,
    sectorSize: options.sectorSize ?? 512,
    physicalSectorSize: options.physicalSectorSize ?? 4096,
    readOnly: options.readOnly ?? false,
    canFlush: options.flush ?? true,
    canDiscard: options.discard ?? true,
    canSecureDiscard: options.secureDiscard ?? false,
    discardGranularity: 4096,
    read(sector, into) {
      if (closed) return err("io-error");
      if (!inRange(sector, into.length)) return err("out-of-range");
      into.set(bytes.subarray(sector * 512, sector * 512 + into.length));
      return ok(undefined);
    },
    write(sector, from) {
      if (closed) return err("io-error");
      if (!inRange(sector, from.length)) return err("out-of-range");
      bytes.set(from, sector * 512);
      return ok(undefined);
    },
    flush() {
      return closed ? err("io-error") : ok(undefined);
    },
    discard(sector, count, secure) {
      if (closed) return err("io-error");
      if (!inRange(sector, count * 512)) return err("out-of-range");
      if (secure && !(options.secureDiscard ?? false)) return err("not-supported");
      bytes.fill(0, sector * 512, (sector + count) * 512);
      return ok(undefined);
    },
    close() {
      closed = true;
    },
  };
}

function checkSize(n: number, max: number): number {
  if (!Number.isSafeInteger(n) || n <= 0 || n > max) throw misuse(`bad image size ${n}`);
  return n;
}
