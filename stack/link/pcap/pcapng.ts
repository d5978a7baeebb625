// pcapng (draft-ietf-opsawg-pcapng): blocks of type, total length, body, total length.
// The writer emits a Section Header Block, an Interface Description Block per interface
// (if_name, if_description, if_tsresol) and Enhanced Packet Blocks (epb_flags direction,
// opt_comment). The reader takes SHB, IDB, EPB and Simple Packet Blocks in either byte
// order (per section), skips other blocks, and never throws: malformed input gives a
// PcapErr with the byte offset of the block or option at fault.
import type { CaptureInterface, CapturedPacket, PacketSink } from "../capture.ts";
import { LINKTYPE_ETHERNET } from "../capture.ts";
import { createChunkAllocator, nsToMs, pcapErr, splitTimestamp, timestampWords } from "./types.ts";
import type { ByteSink, ParsedCapture, ParsedInterface, ParsedPacket, PcapErr, PcapResult } from "./types.ts";
import { NetlabError } from "../../error.ts";

export const BLOCK_SHB = 0x0a0d0d0a;
export const BLOCK_IDB = 0x00000001;
export const BLOCK_SPB = 0x00000003;
export const BLOCK_EPB = 0x00000006;
export const BYTE_ORDER_MAGIC = 0x1a2b3c4d;

const OPT_ENDOFOPT = 0,
  OPT_COMMENT = 1;
const SHB_USERAPPL = 4;
const IF_NAME = 2,
  IF_DESCRIPTION = 3,
  IF_TSRESOL = 9;
const EPB_FLAGS = 2;
// draft-ietf-opsawg-pcapng §4.3.1: epb_flags bits 0-1 are the direction (01 inbound, 10 outbound).
const EPB_DIRECTION_IN = 1,
  EPB_DIRECTION_OUT = 2;

const SHB_MIN_LEN = 28,
  IDB_MIN_LEN = 20,
  EPB_MIN_LEN = 32,
  SPB_MIN_LEN = 16;

/** Options of the pcapng writer. */
export interface PcapngWriterOptions {
  readonly byteOrder?: "little" | "big";
  /** Timestamp resolution written in every IDB's if_tsresol (default "nano"). */
  readonly precision?: "micro" | "nano";
  /** shb_userappl (default "netlab"). */
  readonly application?: string;
  /** Default snaplen of interfaces (default 262144). */
  readonly snaplen?: number;
  /** Added to every Clock timestamp (ms), e.g. to place virtual time 0 at a fixed date. */
  readonly timeOffsetMs?: number;
}

/** A pcapng writer. */
export interface PcapngWriter extends PacketSink {
  readonly packets: number;
  readonly interfaces: number;
}

const pad4 = (n: number): number => (n + 3) & ~3;

interface Option {
  readonly code: number;
  readonly value: Uint8Array;
}

const optionsLength = (opts: readonly Option[]): number => (opts.length === 0 ? 0 : opts.reduce((n, o) => n + 4 + pad4(o.value.length), 4));

function writeOptions(v: DataView, bytes: Uint8Array, off: number, opts: readonly Option[], le: boolean): number {
  if (opts.length === 0) return off;
  for (const o of opts) {
    v.setUint16(off, o.code, le);
    v.setUint16(off + 2, o.value.length, le);
    bytes.set(o.value, off + 4);
    off += 4 + pad4(o.value.length);
  }
  v.setUint16(off, OPT_ENDOFOPT, le);
  v.setUint16(off + 2, 0, le);
  return off + 4;
}

/** Creates a pcapng writer; the Section Header Block is written immediately. */
export function createPcapngWriter(write: ByteSink, options: PcapngWriterOptions = {}): PcapngWriter {
  const le = (options.byteOrder ?? "little") === "little";
  const nano = (options.precision ?? "nano") === "nano";
  const defaultSnaplen = options.snaplen ?? 262144;
  const offsetMs = options.timeOffsetMs ?? 0;
  const encoder = new TextEncoder();
  const snaplens: number[] = [];
  const alloc = createChunkAllocator();
  let count = 0;

  const block = (type: number, bodyLen: number, fill: (v: DataView, bytes: Uint8Array) => void): void => {
    const total = 12 + bodyLen;
    const bytes = alloc(total);
    const v = new DataView(bytes.buffer, bytes.byteOffset, total);
    v.setUint32(0, type, le);
    v.setUint32(4, total, le);
    fill(v, bytes);
    v.setUint32(total - 4, total, le);
    write(bytes);
  };

  const shbOpts: Option[] = [{ code: SHB_USERAPPL, value: encoder.encode(options.application ?? "netlab") }];
  block(BLOCK_SHB, 16 + optionsLength(shbOpts), (v, bytes) => {
    v.setUint32(8, BYTE_ORDER_MAGIC, le);
    v.setUint16(12, 1, le);
    v.setUint16(14, 0, le);
    v.setInt32(16, -1, le);
    v.setInt32(20, -1, le);
    writeOptions(v, bytes, 24, shbOpts, le);
  });

  return {
    addInterface(iface: CaptureInterface): number {
      const opts: Option[] = [];
      if (iface.name !== undefined) opts.push({ code: IF_NAME, value: encoder.encode(iface.name) });
      if (iface.description !== undefined) opts.push({ code: IF_DESCRIPTION, value: encoder.encode(iface.description) });
      opts.push({ code: IF_TSRESOL, value: Uint8Array.of(nano ? 9 : 6) });
      const snaplen = iface.snaplen ?? defaultSnaplen;
      block(BLOCK_IDB, 8 + optionsLength(opts), (v, bytes) => {
        v.setUint16(8, iface.linkType ?? LINKTYPE_ETHERNET, le);
        v.setUint16(10, 0, le);
        v.setUint32(12, snaplen, le);
        writeOptions(v, bytes, 16, opts, le);
      });
      snaplens.push(snaplen);
      return snaplens.length - 1;
    },
    record(p: CapturedPacket): void {
      const snaplen = snaplens[p.interfaceId];
      if (snaplen === undefined) {
        const e = new NetlabError("ERR_NETLAB_PCAP_INTERFACE", `pcapng: unknown interface id ${p.interfaceId}`);
        throw e;
      }
      const caplen = Math.min(p.data.length, snaplen);
      const comment = p.comment === undefined ? undefined : encoder.encode(p.comment);
      const hasOptions = p.direction !== undefined || comment !== undefined;
      const optLen = hasOptions ? (p.direction !== undefined ? 8 : 0) + (comment !== undefined ? 4 + pad4(comment.length) : 0) + 4 : 0;
      const { seconds, nanos } = splitTimestamp(p.timestampMs, offsetMs);
      let frac = nanos;
      let secs = seconds;
      if (!nano) {
        frac = Math.round(nanos / 1000);
        if (frac >= 1e6) {
          secs++;
          frac -= 1e6;
        }
      }
      const [high, low] = timestampWords(secs, frac, nano ? 1e9 : 1e6);
      const total = 32 + pad4(caplen) + optLen;
      const bytes = alloc(total);
      const v = new DataView(bytes.buffer, bytes.byteOffset, total);
      v.setUint32(0, BLOCK_EPB, le);
      v.setUint32(4, total, le);
      v.setUint32(8, p.interfaceId, le);
      v.setUint32(12, high, le);
      v.setUint32(16, low, le);
      v.setUint32(20, caplen, le);
      v.setUint32(24, p.originalLength ?? p.data.length, le);
      bytes.set(caplen === p.data.length ? p.data : p.data.subarray(0, caplen), 28);
      if (hasOptions) {
        let off = 28 + pad4(caplen);
        if (p.direction !== undefined) {
          v.setUint16(off, EPB_FLAGS, le);
          v.setUint16(off + 2, 4, le);
          v.setUint32(off + 4, p.direction === "in" ? EPB_DIRECTION_IN : EPB_DIRECTION_OUT, le);
          off += 8;
        }
        if (comment !== undefined) {
          v.setUint16(off, OPT_COMMENT, le);
          v.setUint16(off + 2, comment.length, le);
          bytes.set(comment, off + 4);
          off += 4 + pad4(comment.length);
        }
        v.setUint32(off, 0, le);
      }
      v.setUint32(total - 4, total, le);
      write(bytes);
      count++;
    },
    get packets() {
      return count;
    },
    get interfaces() {
      return snaplens.length;
    },
  };
}

interface ParsedOption {
  readonly code: number;
  readonly offset: number;
  readonly value: Uint8Array;
}

function parseOptions(bytes: Uint8Array, view: DataView, start: number, end: number, le: boolean): PcapResult<ParsedOption[]> {
  const out: ParsedOption[] = [];
  let off = start;
  while (end - off >= 4) {
    const code = view.getUint16(off, le);
    const len = view.getUint16(off + 2, le);
    if (code === OPT_ENDOFOPT) break;
    if (off + 4 + len > end) return pcapErr("bad-option", off, `option ${code} of length ${len} overruns its block (${end - off - 4} bytes left)`);
    out.push({ code, offset: off, value: bytes.subarray(off + 4, off + 4 + len) });
    off += 4 + pad4(len);
  }
  return { ok: true, value: out };
}

/** Reads a pcapng file; packet data are views into `bytes`. */
export function parsePcapng(bytes: Uint8Array): PcapResult<ParsedCapture> {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const decoder = new TextDecoder("utf-8", { fatal: false });
  const interfaces: ParsedInterface[] = [];
  const packets: ParsedPacket[] = [];
  let skipped = 0;
  let le = true;
  let firstOrder: "little" | "big" | undefined;
  let sectionBase = -1;
  let off = 0;
  let cut: PcapErr | undefined;
  while (off < bytes.length) {
    const left = bytes.length - off;
    // A file that ends inside a block after a complete section header was cut short: keep
    // what came before the cut, as tshark does, and say where it was.
    if (left < 12) {
      cut = pcapErr("truncated-block", off, `block header needs 12 bytes, ${left} left`);
      if (sectionBase < 0) return cut;
      break;
    }
    const typeLe = view.getUint32(off, true);
    if (typeLe === BLOCK_SHB) {
      const bom = view.getUint32(off + 8, true);
      if (bom === BYTE_ORDER_MAGIC) le = true;
      else if (view.getUint32(off + 8, false) === BYTE_ORDER_MAGIC) le = false;
      else
        return pcapErr(
          "bad-byte-order-magic",
          off + 8,
          `0x${view
            .getUint32(off + 8, false)
            .toString(16)
            .padStart(8, "0")} is not 0x1a2b3c4d in either byte order`,
        );
      firstOrder ??= le ? "little" : "big";
    } else if (sectionBase < 0) {
      return pcapErr(
        "missing-section-header",
        off,
        `first block has type 0x${view.getUint32(off, false).toString(16).padStart(8, "0")}, not a Section Header Block`,
      );
    }
    const type = view.getUint32(off, le);
    const total = view.getUint32(off + 4, le);
    if (total < 12 || total % 4 !== 0) return pcapErr("bad-block-length", off + 4, `block total length ${total} is below 12 or not a multiple of 4`);
    if (total > left) {
      cut = pcapErr("truncated-block", off, `block of ${total} bytes, ${left} left`);
      if (sectionBase < 0) return cut;
      break;
    }
    const trailer = view.getUint32(off + total - 4, le);
    if (trailer !== total) return pcapErr("bad-block-length", off + total - 4, `trailing length ${trailer} differs from leading length ${total}`);
    const end = off + total - 4;
    switch (type) {
      case BLOCK_SHB: {
        if (total < SHB_MIN_LEN) return pcapErr("bad-block-length", off + 4, `Section Header Block of ${total} bytes (minimum ${SHB_MIN_LEN})`);
        const major = view.getUint16(off + 12, le);
        if (major !== 1) return pcapErr("unsupported-version", off + 12, `pcapng version ${major}.${view.getUint16(off + 14, le)}`);
        const opts = parseOptions(bytes, view, off + 24, end, le);
        if (!opts.ok) return opts;
        sectionBase = interfaces.length;
        break;
      }
      case BLOCK_IDB: {
        if (total < IDB_MIN_LEN) return pcapErr("bad-block-length", off + 4, `Interface Description Block of ${total} bytes (minimum ${IDB_MIN_LEN})`);
        const opts = parseOptions(bytes, view, off + 16, end, le);
        if (!opts.ok) return opts;
        let unitsPerSecond = 1_000_000n;
        let name: string | undefined;
        let description: string | undefined;
        for (const o of opts.value) {
          if (o.code === IF_NAME) name = decoder.decode(o.value);
          else if (o.code === IF_DESCRIPTION) description = decoder.decode(o.value);
          else if (o.code === IF_TSRESOL) {
            if (o.value.length !== 1) return pcapErr("bad-tsresol", o.offset, `if_tsresol has length ${o.value.length}, expected 1`);
            const r = o.value[0]!;
            // §4.2: high bit set = negative power of 2, else negative power of 10.
            unitsPerSecond = (r & 0x80) !== 0 ? 2n ** BigInt(r & 0x7f) : 10n ** BigInt(r);
          }
        }
        const iface: { linkType: number; snaplen: number; unitsPerSecond: bigint; name?: string; description?: string } = {
          linkType: view.getUint16(off + 8, le),
          snaplen: view.getUint32(off + 12, le),
          unitsPerSecond,
        };
        if (name !== undefined) iface.name = name;
        if (description !== undefined) iface.description = description;
        interfaces.push(iface);
        break;
      }
      case BLOCK_EPB: {
        if (total < EPB_MIN_LEN) return pcapErr("bad-block-length", off + 4, `Enhanced Packet Block of ${total} bytes (minimum ${EPB_MIN_LEN})`);
        const localId = view.getUint32(off + 8, le);
        const interfaceId = sectionBase + localId;
        const iface = localId < interfaces.length - sectionBase ? interfaces[interfaceId] : undefined;
        if (iface === undefined) return pcapErr("bad-interface-id", off + 8, `interface ${localId} not described in this section`);
        const caplen = view.getUint32(off + 20, le);
        const dataStart = off + 28;
        if (caplen > end - dataStart)
          return pcapErr("bad-captured-length", off + 20, `captured length ${caplen} exceeds the block body (${end - dataStart} bytes)`);
        const opts = parseOptions(bytes, view, dataStart + pad4(caplen), end, le);
        if (!opts.ok) return opts;
        const raw = (BigInt(view.getUint32(off + 12, le)) << 32n) | BigInt(view.getUint32(off + 16, le));
        const timestampNs = (raw * 1_000_000_000n) / iface.unitsPerSecond;
        let direction: "in" | "out" | undefined;
        const comments: string[] = [];
        for (const o of opts.value) {
          if (o.code === OPT_COMMENT) comments.push(decoder.decode(o.value));
          else if (o.code === EPB_FLAGS && o.value.length === 4) {
            const dir = new DataView(o.value.buffer, o.value.byteOffset, 4).getUint32(0, le) & 3;
            if (dir === EPB_DIRECTION_IN) direction = "in";
            else if (dir === EPB_DIRECTION_OUT) direction = "out";
          }
        }
        const p: { -readonly [K in keyof ParsedPacket]: ParsedPacket[K] } = {
          interfaceId,
          timestampNs,
          timestampMs: nsToMs(timestampNs),
          data: bytes.subarray(dataStart, dataStart + caplen),
          originalLength: view.getUint32(off + 24, le),
          offset: off,
        };
        if (direction !== undefined) p.direction = direction;
        if (comments.length > 0) p.comments = comments;
        packets.push(p);
        break;
      }
      case BLOCK_SPB: {
        if (total < SPB_MIN_LEN) return pcapErr("bad-block-length", off + 4, `Simple Packet Block of ${total} bytes (minimum ${SPB_MIN_LEN})`);
        const iface = interfaces.length > sectionBase ? interfaces[sectionBase] : undefined;
        if (iface === undefined) return pcapErr("bad-interface-id", off, "Simple Packet Block before any Interface Description Block in this section");
        const orig = view.getUint32(off + 8, le);
        // §4.4: captured length is min(original length, snaplen), bounded by the block.
        const snap = iface.snaplen === 0 ? orig : Math.min(orig, iface.snaplen);
        const caplen = Math.min(snap, end - (off + 12));
        packets.push({
          interfaceId: sectionBase,
          timestampNs: 0n,
          timestampMs: 0,
          data: bytes.subarray(off + 12, off + 12 + caplen),
          originalLength: orig,
          offset: off,
        });
        break;
      }
      default:
        skipped++;
    }
    off += total;
  }
  if (sectionBase < 0) return pcapErr("missing-section-header", 0, "empty file");
  const value: ParsedCapture = { format: "pcapng", byteOrder: firstOrder ?? "little", interfaces, packets, skippedBlocks: skipped };
  return { ok: true, value: cut === undefined ? value : { ...value, truncated: { offset: cut.offset, detail: cut.detail } } };
}
