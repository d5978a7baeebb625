// Classic libpcap format (draft-ietf-opsawg-pcap §4-5): a 24-byte file header then records
// of a 16-byte header and the packet bytes. Magic 0xA1B2C3D4 = microsecond timestamps,
// 0xA1B23C4D = nanosecond; written in either byte order, the reader detects which.
// createPcapWriter is a PacketSink (one interface: a classic file has no interface ids,
// directions or comments, so those are dropped); parsePcap never throws.
import type { CaptureInterface, CapturedPacket, PacketSink } from "../capture.ts";
import { LINKTYPE_ETHERNET } from "../capture.ts";
import { misuse } from "../impairments.ts";
import { createChunkAllocator, nsToMs, pcapErr, splitTimestamp } from "./types.ts";
import type { ByteSink, ParsedCapture, ParsedPacket, PcapResult } from "./types.ts";

export const PCAP_MAGIC_MICRO = 0xa1b2c3d4;
export const PCAP_MAGIC_NANO = 0xa1b23c4d;
export const PCAP_FILE_HEADER_LEN = 24;
export const PCAP_RECORD_HEADER_LEN = 16;
/** Largest record the reader accepts (libpcap's MAXIMUM_SNAPLEN). */
export const PCAP_MAX_RECORD = 262144;

const MAGIC = 0,
  VERSION_MAJOR = 4,
  VERSION_MINOR = 6,
  THISZONE = 8,
  SIGFIGS = 12,
  SNAPLEN = 16,
  LINKTYPE = 20;
const TS_SEC = 0,
  TS_FRAC = 4,
  INCL_LEN = 8,
  ORIG_LEN = 12;

/** Options of the classic writer. */
export interface PcapWriterOptions {
  readonly precision?: "micro" | "nano";
  readonly byteOrder?: "little" | "big";
  readonly snaplen?: number;
  readonly linkType?: number;
  /** Added to every Clock timestamp (ms), e.g. to place virtual time 0 at a fixed date. */
  readonly timeOffsetMs?: number;
}

/** A classic pcap writer. */
export interface PcapWriter extends PacketSink {
  /** Packets recorded so far. */
  readonly packets: number;
}

/** Creates a classic pcap writer; the file header is written immediately. */
export function createPcapWriter(write: ByteSink, options: PcapWriterOptions = {}): PcapWriter {
  const nano = options.precision === "nano";
  const le = (options.byteOrder ?? "little") === "little";
  const snaplen = options.snaplen ?? PCAP_MAX_RECORD;
  const linkType = options.linkType ?? LINKTYPE_ETHERNET;
  const offsetMs = options.timeOffsetMs ?? 0;
  const header = new Uint8Array(PCAP_FILE_HEADER_LEN);
  const hv = new DataView(header.buffer);
  hv.setUint32(MAGIC, nano ? PCAP_MAGIC_NANO : PCAP_MAGIC_MICRO, le);
  hv.setUint16(VERSION_MAJOR, 2, le);
  hv.setUint16(VERSION_MINOR, 4, le);
  hv.setInt32(THISZONE, 0, le);
  hv.setUint32(SIGFIGS, 0, le);
  hv.setUint32(SNAPLEN, snaplen, le);
  hv.setUint32(LINKTYPE, linkType, le);
  write(header);
  const alloc = createChunkAllocator();
  let count = 0;
  const writer = {
    addInterface(iface: CaptureInterface): number {
      if ((iface.linkType ?? LINKTYPE_ETHERNET) !== linkType) throw misuse("a classic pcap file holds one link type");
      return 0;
    },
    record(p: CapturedPacket): void {
      const caplen = Math.min(p.data.length, snaplen);
      const rec = alloc(PCAP_RECORD_HEADER_LEN + caplen);
      const v = new DataView(rec.buffer, rec.byteOffset, rec.length);
      let { seconds, nanos } = splitTimestamp(p.timestampMs, offsetMs);
      let frac = nanos;
      if (!nano) {
        frac = Math.round(nanos / 1000);
        if (frac >= 1e6) {
          seconds++;
          frac -= 1e6;
        }
      }
      v.setUint32(TS_SEC, seconds >>> 0, le);
      v.setUint32(TS_FRAC, frac, le);
      v.setUint32(INCL_LEN, caplen, le);
      v.setUint32(ORIG_LEN, p.originalLength ?? p.data.length, le);
      rec.set(caplen === p.data.length ? p.data : p.data.subarray(0, caplen), PCAP_RECORD_HEADER_LEN);
      write(rec);
      count++;
    },
    get packets() {
      return count;
    },
  };
  return writer;
}

/** Reads a classic pcap file; packet data are views into `bytes`. */
export function parsePcap(bytes: Uint8Array): PcapResult<ParsedCapture> {
  if (bytes.length < PCAP_FILE_HEADER_LEN) return pcapErr("truncated-file-header", 0, `need ${PCAP_FILE_HEADER_LEN} bytes, have ${bytes.length}`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const magicBe = view.getUint32(MAGIC, false);
  const magicLe = view.getUint32(MAGIC, true);
  let le: boolean;
  let nano: boolean;
  if (magicLe === PCAP_MAGIC_MICRO || magicLe === PCAP_MAGIC_NANO) {
    le = true;
    nano = magicLe === PCAP_MAGIC_NANO;
  } else if (magicBe === PCAP_MAGIC_MICRO || magicBe === PCAP_MAGIC_NANO) {
    le = false;
    nano = magicBe === PCAP_MAGIC_NANO;
  } else {
    return pcapErr("unknown-format", 0, `magic 0x${magicBe.toString(16).padStart(8, "0")} is not a pcap magic`);
  }
  const major = view.getUint16(VERSION_MAJOR, le);
  if (major !== 2) return pcapErr("unsupported-version", VERSION_MAJOR, `version ${major}.${view.getUint16(VERSION_MINOR, le)}`);
  const snaplen = view.getUint32(SNAPLEN, le);
  // draft-ietf-opsawg-pcap §4: the link type is the low 16 bits; the upper bits carry FCS information.
  const linkType = view.getUint32(LINKTYPE, le) & 0xffff;
  const unitsPerSecond = nano ? 1_000_000_000n : 1_000_000n;
  const toNs = nano ? 1n : 1000n;
  const packets: ParsedPacket[] = [];
  let off = PCAP_FILE_HEADER_LEN;
  while (off < bytes.length) {
    if (bytes.length - off < PCAP_RECORD_HEADER_LEN) {
      return pcapErr("truncated-record-header", off, `record ${packets.length} header needs ${PCAP_RECORD_HEADER_LEN} bytes, ${bytes.length - off} left`);
    }
    const sec = view.getUint32(off + TS_SEC, le);
    const frac = view.getUint32(off + TS_FRAC, le);
    const incl = view.getUint32(off + INCL_LEN, le);
    const orig = view.getUint32(off + ORIG_LEN, le);
    if (incl > PCAP_MAX_RECORD) return pcapErr("record-too-large", off, `record ${packets.length} claims ${incl} captured bytes`);
    const start = off + PCAP_RECORD_HEADER_LEN;
    if (bytes.length - start < incl) return pcapErr("truncated-packet", off, `record ${packets.length} needs ${incl} bytes, ${bytes.length - start} left`);
    const timestampNs = BigInt(sec) * 1_000_000_000n + BigInt(frac) * toNs;
    packets.push({
      interfaceId: 0,
      timestampNs,
      timestampMs: nsToMs(timestampNs),
      data: bytes.subarray(start, start + incl),
      originalLength: orig,
      offset: off,
    });
    off = start + incl;
  }
  return {
    ok: true,
    value: { format: "pcap", byteOrder: le ? "little" : "big", interfaces: [{ linkType, snaplen, unitsPerSecond }], packets, skippedBlocks: 0 },
  };
}
