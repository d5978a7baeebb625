// Types shared by the pcap and pcapng codecs: parsed captures, reader errors (a code and
// the byte offset where the reader gave up), writer options, and the byte-sink writers emit to.
import type { Err } from "../../result.ts";
import type { CaptureDirection } from "../capture.ts";

/** Every way a capture file can be malformed. */
export type PcapErrorCode =
  | "unknown-format"
  | "bad-gzip"
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
  const split = (x: number): [number, number] => {
    const s = Math.floor(x / 1000);
    return [s, Math.round((x - s * 1000) * 1e6)];
  };
  const [s1, n1] = split(ms);
  const [s2, n2] = split(offsetMs);
  let seconds = s1 + s2;
  let nanos = n1 + n2;
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
