// Types shared by the pcap and pcapng codecs: parsed captures, reader errors (a code and
// the byte offset where the reader gave up), writer options, and the byte-sink writers emit to.
import type { Err } from "../../result.ts";
import type { CaptureDirection } from "../capture.ts";

/** Every way a capture file can be malformed. */
export type PcapErrorCode =
  | "unknown-format"
  | "bad-gzip"
  | "decompressed-too-large"
  | "truncated-file-header"
  | "unsupported-version"
  | "truncated-record-header"
  | "truncated-packet"
  | "record-too-large"
  | "truncated-block"
  | "bad-block-length"
  | "missing-section-header"
  | "bad-byte-order-magic"
  | "bad-option"
  | "bad-interface-id"
  | "bad-captured-length"
  | "bad-tsresol";

/** A reader failure: error code, byte offset of the offending structure, human detail. */
export interface PcapErr extends Err<PcapErrorCode> {
  readonly offset: number;
  readonly detail: string;
}

/** Result of a capture reader. */
export type PcapResult<T> = { readonly ok: true; readonly value: T } | PcapErr;

/** Builds a reader error. */
export function pcapErr(error: PcapErrorCode, offset: number, what: string): PcapErr {
  return { ok: false, error, offset, detail: `${error} at byte offset ${offset}: ${what}` };
}

/** An interface described in a capture. */
export interface ParsedInterface {
  readonly linkType: number;
  readonly snaplen: number;
  /** Timestamp units per second (1e6 for microsecond files, 1e9 for nanosecond). */
  readonly unitsPerSecond: bigint;
  readonly name?: string;
  readonly description?: string;
}

/** A packet read from a capture; data is a view into the file's bytes. */
export interface ParsedPacket {
  readonly interfaceId: number;
  /** Exact timestamp in nanoseconds since 1970 (rounded down for finer resolutions). */
  readonly timestampNs: bigint;
  /** Timestamp in ms (may lose sub-microsecond precision for present-day dates). */
  readonly timestampMs: number;
  readonly data: Uint8Array;
  readonly originalLength: number;
  readonly direction?: CaptureDirection;
  readonly comments?: readonly string[];
  /** Byte offset of the record or block in the file. */
  readonly offset: number;
}

/** A parsed capture file. */
export interface ParsedCapture {
  readonly format: "pcap" | "pcapng";
  readonly byteOrder: "little" | "big";
  readonly interfaces: readonly ParsedInterface[];
  readonly packets: readonly ParsedPacket[];
  /** pcapng blocks of unknown or unsupported type that were skipped. */
  readonly skippedBlocks: number;
  /**
   * Set when a pcapng file ends inside a block (a capture cut short, as by a writer that was
   * killed): the packets are those before the cut, and this says where and why, for a warning
   * (tshark: "the file appears to have been cut short in the middle of a packet").
   */
  readonly truncated?: { readonly offset: number; readonly detail: string };
}

/** Where writers put bytes. Chunks are not reused by the writer after the call. */
export type ByteSink = (chunk: Uint8Array) => void;

/** Collects written chunks into one buffer on demand. */
export interface ByteCollector {
  readonly write: ByteSink;
  /** All bytes written so far, concatenated. */
  bytes(): Uint8Array;
  readonly length: number;
}

/** Creates a ByteCollector. */
export function createByteCollector(): ByteCollector {
  const chunks: Uint8Array[] = [];
  let length = 0;
  return {
    write(chunk) {
      chunks.push(chunk);
      length += chunk.length;
    },
    bytes() {
      const out = new Uint8Array(length);
      let off = 0;
      for (const c of chunks) {
        out.set(c, off);
        off += c.length;
      }
      chunks.length = 0;
      if (length > 0) chunks.push(out);
      return out;
    },
    get length() {
      return length;
    },
  };
}

/** Splits a Clock time (ms, fractional) plus an offset (ms) into whole seconds and nanoseconds. */
export function splitTimestamp(ms: number, offsetMs: number): { seconds: number; nanos: number } {
  const s1 = Math.floor(ms / 1000);
  const s2 = Math.floor(offsetMs / 1000);
  let seconds = s1 + s2;
  let nanos = Math.round((ms - s1 * 1000) * 1e6) + Math.round((offsetMs - s2 * 1000) * 1e6);
  while (nanos >= 1e9) {
    seconds++;
    nanos -= 1e9;
  }
  return { seconds, nanos };
}

/** Converts a nanosecond timestamp to ms. */
export function nsToMs(ns: bigint): number {
  const whole = ns / 1_000_000n;
  return Number(whole) + Number(ns - whole * 1_000_000n) / 1e6;
}

/**
 * Hands out fresh regions of large blocks: one allocation per block instead of one per record.
 * Blocks start at 4 KiB and double up to blockSize, so a writer of a few records (a fuzz input's
 * round trip, a test) does not pay for zeroing 256 KiB. A region is never handed out twice, so
 * chunks stay valid after write().
 */
export function createChunkAllocator(blockSize = 256 * 1024): (n: number) => Uint8Array {
  let block = new Uint8Array(0);
  let pos = 0;
  let next = Math.min(4096, blockSize);
  return (n) => {
    if (pos + n > block.length) {
      block = new Uint8Array(Math.max(next, n));
      next = Math.min(next * 2, blockSize);
      pos = 0;
    }
    const out = block.subarray(pos, pos + n);
    pos += n;
    return out;
  };
}

/** seconds * unitsPerSecond + frac as two u32 words [high, low], exactly (no BigInt). */
export function timestampWords(seconds: number, frac: number, unitsPerSecond: number): [number, number] {
  const sLo = seconds % 65536;
  const sHi = (seconds - sLo) / 65536;
  const a = sLo * unitsPerSecond + frac;
  const b = sHi * unitsPerSecond;
  const bLo = b % 65536;
  const bHi = (b - bLo) / 65536;
  const t = a + bLo * 65536;
  const low = t % 4294967296;
  return [bHi + (t - low) / 4294967296, low];
}
