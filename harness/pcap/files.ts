// Capture files on disk: read classic pcap, pcapng or either gzip-compressed (node:zlib),
// write a finished capture, or stream one through a PacketSink. Malformed file contents
// come back as a PcapErr naming the byte offset (of the decompressed bytes); I/O failures
// throw Node's errors (with their code) as harness I/O does.
import { closeSync, mkdirSync, openSync, readFileSync, statSync, writeSync } from "node:fs";
import { dirname } from "node:path";
import { gunzipSync, gzipSync } from "node:zlib";
import { createPcapngWriter, createPcapWriter, parseCapture, pcapErr } from "../../stack/link/pcap/index.ts";
import type { ParsedCapture, PcapResult, PcapngWriterOptions, PcapWriterOptions } from "../../stack/link/pcap/index.ts";
import type { PacketSink } from "../../stack/link/capture.ts";
import { NetlabError } from "../../stack/error.ts";

const GZIP_MAGIC_0 = 0x1f,
  GZIP_MAGIC_1 = 0x8b;

/**
 * Creates `dir` and its missing parents, one level at a time. Node's recursive mkdir never
 * returns for a path under /proc (it retries ENOENT forever), so this walks up to the nearest
 * existing ancestor itself; failures throw Node's error (its code kept) naming the directory.
 */
export function makeDirectory(dir: string): void {
  const missing: string[] = [];
  let d = dir;
  for (;;) {
    let isDirectory: boolean;
    try {
      isDirectory = statSync(d).isDirectory();
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw ioError(e, `cannot create directory ${dir}`);
      missing.push(d);
      const up = dirname(d);
      if (up === d) break;
      d = up;
      continue;
    }
    if (!isDirectory) throw new NetlabError("ENOTDIR", `cannot create directory ${dir}: ${d} is not a directory`);
    break;
  }
  for (const m of missing.reverse()) {
    try {
      mkdirSync(m);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw ioError(e, `cannot create directory ${m}`);
    }
  }
}

/** Creates the directory a file will be written into (see makeDirectory). */
export function makeParentDirectory(path: string): void {
  makeDirectory(dirname(path));
}

function ioError(e: unknown, what: string): NetlabError {
  const cause = e as NodeJS.ErrnoException;
  return new NetlabError(cause.code ?? "ERR_NETLAB_IO", `${what}: ${cause.message}`, { cause: e });
}

/** True when bytes start with the gzip magic. */
export function isGzip(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === GZIP_MAGIC_0 && bytes[1] === GZIP_MAGIC_1;
}

const plain = (b: Uint8Array): Uint8Array => new Uint8Array(b.buffer, b.byteOffset, b.byteLength);

/** Most bytes a gzip-compressed capture may inflate to unless the caller says otherwise. */
export const MAX_DECOMPRESSED_CAPTURE_BYTES = 512 * 1024 * 1024;

/** Options of parseCaptureBytes. */
export interface ParseCaptureOptions {
  /** Most bytes a gzip stream may inflate to (a decompression bomb is refused, not allocated). */
  readonly maxDecompressedBytes?: number;
}

/** Parses capture bytes, decompressing gzip first; packet data are plain Uint8Array views. */
export function parseCaptureBytes(bytes: Uint8Array, options: ParseCaptureOptions = {}): PcapResult<ParsedCapture> {
  if (!isGzip(bytes)) return parseCapture(plain(bytes));
  const limit = options.maxDecompressedBytes ?? MAX_DECOMPRESSED_CAPTURE_BYTES;
  let raw: Uint8Array;
  try {
    raw = plain(gunzipSync(bytes, { maxOutputLength: limit }));
  } catch (e) {
    if ((e as { code?: unknown }).code === "ERR_BUFFER_TOO_LARGE") {
      return pcapErr("decompressed-too-large", 0, `gzip stream inflates past ${limit} bytes`);
    }
    return pcapErr("bad-gzip", 0, `gzip stream does not decompress: ${(e as Error).message}`);
  }
  return parseCapture(raw);
}

/** Reads and parses a capture file (pcap, pcapng, optionally gzip-compressed). */
export function readCaptureFile(path: string): PcapResult<ParsedCapture> {
  const r = parseCaptureBytes(readFileSync(path));
  if (r.ok) return r;
  return { ...r, detail: `${path}: ${r.detail}` };
}

/** Writes finished capture bytes to path (creating directories; gzip when path ends in .gz). */
export function writeCaptureFile(path: string, bytes: Uint8Array): void {
  makeParentDirectory(path);
  const fd = openSync(path, "w");
  try {
    writeSync(fd, path.endsWith(".gz") ? gzipSync(bytes) : bytes);
  } finally {
    closeSync(fd);
  }
}

/** Which writer a streamed capture file uses. */
export type CaptureFileOptions = ({ readonly format: "pcapng" } & PcapngWriterOptions) | ({ readonly format: "pcap" } & PcapWriterOptions);

/** A capture streamed to a file: a PacketSink plus close(). */
export interface CaptureFile {
  readonly sink: PacketSink;
  readonly path: string;
  /** Bytes written so far (including buffered ones). */
  readonly bytesWritten: number;
  close(): void;
}

const FLUSH_BYTES = 1 << 20;

/** writeSync of all of bytes; a pipe that is full (EAGAIN on a non-blocking stdout) is waited for. */
function writeAll(fd: number, bytes: Uint8Array): void {
  let off = 0;
  while (off < bytes.length) {
    try {
      off += writeSync(fd, bytes, off, bytes.length - off);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EAGAIN") throw e;
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 2);
    }
  }
}

/**
 * Opens path for writing (creating directories) and returns a sink that streams into it; "-" is
 * standard output (`netlab sim transfer --pcap - | wireshark -k -i -`), flushed in pieces as it
 * grows and not closed by close().
 */
export function createCaptureFile(path: string, options: CaptureFileOptions = { format: "pcapng" }): CaptureFile {
  const toStdout = path === "-";
  if (!toStdout) makeParentDirectory(path);
  const fd = toStdout ? 1 : openSync(path, "w");
  let pending: Uint8Array[] = [];
  let pendingBytes = 0;
  let total = 0;
  let closed = false;
  const flush = (): void => {
    if (pendingBytes === 0) return;
    writeAll(fd, Buffer.concat(pending, pendingBytes));
    pending = [];
    pendingBytes = 0;
  };
  // A reader on a pipe (Wireshark) should see frames as they come, not per megabyte.
  const flushAt = toStdout ? 64 * 1024 : FLUSH_BYTES;
  const write = (chunk: Uint8Array): void => {
    if (closed) {
      const e = new NetlabError("ERR_NETLAB_CAPTURE_CLOSED", `capture file ${path} is closed`);
      throw e;
    }
    pending.push(chunk);
    pendingBytes += chunk.length;
    total += chunk.length;
    if (pendingBytes >= flushAt) flush();
  };
  const sink = options.format === "pcap" ? createPcapWriter(write, options) : createPcapngWriter(write, options);
  return {
    sink,
    path,
    get bytesWritten() {
      return total;
    },
    close() {
      if (closed) return;
      flush();
      closed = true;
      if (!toStdout) closeSync(fd);
    },
  };
}
