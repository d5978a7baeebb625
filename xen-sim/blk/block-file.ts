// A file-like view of a block device: byte offsets and lengths, with partial sectors handled by
// read-modify-write. Writes that touch a partial sector are serialized with every other access
// so two read-modify-writes of one sector cannot lose each other's bytes.
//   createBlockFile   wraps a BlockDevice

import { err, ok, type Result } from "../../stack/result.ts";
import type { BlkError, BlockDevice } from "./types.ts";

/** Byte-addressed access to a block device. */
export interface BlockFile {
  /** Size in bytes (capacity × 512). */
  readonly size: number;
  readAt(offset: number, length: number): Promise<Result<Uint8Array, BlkError>>;
  writeAt(offset: number, data: Uint8Array): Promise<Result<void, BlkError>>;
  flush(): Promise<Result<void, BlkError>>;
}

/** Wraps `device`; reads and writes beyond its end fail with "out-of-range". */
export function createBlockFile(device: BlockDevice): BlockFile {
  // Every operation runs after the previous one settled when it needs read-modify-write.
  let tail: Promise<unknown> = Promise.resolve();
  const serial = <T>(fn: () => Promise<T>): Promise<T> => {
    const run = tail.then(fn, fn);
    tail = run.then(
      () => undefined,
      () => undefined,
    );
    return run;
  };
  const unit = (): number => Math.max(512, device.sectorSize);
  const inRange = (offset: number, length: number): boolean =>
    Number.isSafeInteger(offset) && Number.isSafeInteger(length) && offset >= 0 && length >= 0 && offset + length <= device.capacity * 512;

  const readSpan = async (offset: number, length: number): Promise<Result<Uint8Array, BlkError>> => {
    const u = unit();
    const start = Math.floor(offset / u) * u;
    const end = Math.ceil((offset + length) / u) * u;
    const r = await device.read(start / 512, (end - start) / 512);
    if (!r.ok) return r;
    return ok(start === offset && end === offset + length ? r.value : r.value.subarray(offset - start, offset - start + length));
  };

  const writeSpan = async (offset: number, bytes: Uint8Array): Promise<Result<void, BlkError>> => {
    const u = unit();
    const start = Math.floor(offset / u) * u;
    const end = Math.ceil((offset + bytes.length) / u) * u;
    if (start === offset && end === offset + bytes.length) return device.write(start / 512, bytes);
    const buf = new Uint8Array(end - start);
    // Read only the partial head and tail units; the middle is overwritten whole.
    const headPartial = offset !== start;
    const tailPartial = offset + bytes.length !== end;
    if (headPartial) {
      const h = await device.read(start / 512, u / 512);
      if (!h.ok) return h;
      buf.set(h.value, 0);
    }
    if (tailPartial && (!headPartial || end - u !== start)) {
      const t = await device.read((end - u) / 512, u / 512);
      if (!t.ok) return t;
      buf.set(t.value, end - u - start);
    }
    buf.set(bytes, offset - start);
    return device.write(start / 512, buf);
  };

  return {
    get size() {
      return device.capacity * 512;
    },
    readAt(offset, length) {
      if (!inRange(offset, length)) return Promise.resolve(err("out-of-range"));
      if (length === 0) return Promise.resolve(ok(new Uint8Array(0)));
      return serial(() => readSpan(offset, length));
    },
    writeAt(offset, bytes) {
      if (!inRange(offset, bytes.length)) return Promise.resolve(err("out-of-range"));
      if (bytes.length === 0) return Promise.resolve(ok(undefined));
      return serial(() => writeSpan(offset, bytes));
    },
    flush() {
      return serial(() => device.flush());
    },
  };
}
