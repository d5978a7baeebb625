// Capture file codecs: classic pcap and pcapng writers (PacketSinks) and readers, and
// parseCapture, which tells the two formats apart by their first four bytes.
import { parsePcap, PCAP_MAGIC_MICRO, PCAP_MAGIC_NANO } from "./pcap.ts";
import { BLOCK_SHB, parsePcapng } from "./pcapng.ts";
import { pcapErr } from "./types.ts";
import type { ParsedCapture, PcapResult } from "./types.ts";

export { createPcapWriter, parsePcap, PCAP_MAGIC_MICRO, PCAP_MAGIC_NANO, PCAP_MAX_RECORD } from "./pcap.ts";
export type { PcapWriter, PcapWriterOptions } from "./pcap.ts";
export { createPcapngWriter, parsePcapng } from "./pcapng.ts";
export type { PcapngWriter, PcapngWriterOptions } from "./pcapng.ts";
export { createByteCollector, pcapErr } from "./types.ts";
export type { ByteCollector, ByteSink, ParsedCapture, ParsedInterface, ParsedPacket, PcapErr, PcapErrorCode, PcapResult } from "./types.ts";

/** Which capture format `bytes` start with, if any. */
export function detectCaptureFormat(bytes: Uint8Array): "pcap" | "pcapng" | undefined {
  if (bytes.length < 4) return undefined;
  const v = new DataView(bytes.buffer, bytes.byteOffset, 4);
  const le = v.getUint32(0, true);
  const be = v.getUint32(0, false);
  if (le === BLOCK_SHB) return "pcapng";
  if (le === PCAP_MAGIC_MICRO || le === PCAP_MAGIC_NANO || be === PCAP_MAGIC_MICRO || be === PCAP_MAGIC_NANO) return "pcap";
  return undefined;
}

/** Reads a classic pcap or pcapng file. */
export function parseCapture(bytes: Uint8Array): PcapResult<ParsedCapture> {
  const format = detectCaptureFormat(bytes);
  if (format === "pcapng") return parsePcapng(bytes);
  if (format === "pcap") return parsePcap(bytes);
  return pcapErr(
    "unknown-format",
    0,
    bytes.length < 4 ? `file of ${bytes.length} bytes is too short to identify` : "neither a pcap magic nor a pcapng Section Header Block",
  );
}
