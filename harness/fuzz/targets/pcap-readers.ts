// Fuzz target: the classic pcap and pcapng readers. Oracles: never throw; the file is read
// through a guarded view (no read past its end, no silently clamped view); an error names a byte
// offset inside the file; every packet's bytes lie inside its own record or block, and the file
// cut right after that record or block parses to the same packets up to it (a reader that let a
// captured length run past its block is caught: one such prefix per input, all of the first four
// on the inputs oracles.ts samples for costly checks); classic little- and big-endian microsecond
// files agree packet by packet with the independent `pcap-parser` package; a capture that
// parses, written again with netlab's pcapng writer and read back, yields the same interfaces
// and packet bytes.
import { EventEmitter } from "node:events";
import * as pcapParser from "pcap-parser";
import {
  createByteCollector,
  createPcapngWriter,
  createPcapWriter,
  parseCapture,
  type ParsedCapture,
  type ParsedPacket,
} from "../../../stack/link/pcap/index.ts";
import { sampleFrames } from "../samples.ts";
import { crc32 } from "node:zlib";
import { fail, guarded, sameValue, sampledForCostlyChecks, unwrapGuarded } from "../oracles.ts";

/** The end of the record or block that starts at `p.offset`, read from the raw bytes. */
function recordEnd(bytes: Uint8Array, format: "pcap" | "pcapng", p: ParsedPacket): number {
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (format === "pcap") {
    const le = v.getUint32(0, true) === 0xa1b2c3d4 || v.getUint32(0, true) === 0xa1b23c4d;
    return p.offset + 16 + v.getUint32(p.offset + 8, le);
  }
  for (const le of [true, false]) {
    const total = v.getUint32(p.offset + 4, le);
    if (total >= 12 && p.offset + total <= bytes.length && v.getUint32(p.offset + total - 4, le) === total) return p.offset + total;
  }
  return fail("shadow", `pcapng: no consistent block at the packet's offset ${p.offset}`, bytes);
}

/** The packets `pcap-parser` reads from a classic file (fed synchronously), or undefined if it refuses the file. */
function referencePcap(bytes: Uint8Array): Uint8Array[] | undefined {
  const stream = Object.assign(new EventEmitter(), { pause() {}, resume() {} });
  const parser = pcapParser.parse(stream as unknown as NodeJS.ReadableStream);
  const packets: Uint8Array[] = [];
  let refused = false;
  parser.on("packetData", (d: Buffer) => packets.push(new Uint8Array(d)));
  parser.on("error", () => {
    refused = true;
  });
  stream.emit("data", Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  stream.emit("end");
  return refused ? undefined : packets;
}

function checkAgainstReference(bytes: Uint8Array, cap: ParsedCapture): void {
  const magic = bytes.length >= 4 ? new DataView(bytes.buffer, bytes.byteOffset, 4).getUint32(0, false) : 0;
  if (magic !== 0xa1b2c3d4 && magic !== 0xd4c3b2a1) return;
  const reference = referencePcap(bytes);
  if (reference === undefined) return;
  if (reference.length !== cap.packets.length) fail("differential", `pcap-parser reads ${reference.length} packets, netlab ${cap.packets.length}`, bytes);
  cap.packets.forEach((p, k) => {
    if (!sameValue(p.data, reference[k])) fail("differential", `packet ${k}: netlab's bytes differ from pcap-parser's`, bytes);
  });
}

export function fuzz(data: Buffer): void {
  const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  const parsed = parseCapture(guarded(bytes, "capture"));
  if (!parsed.ok) {
    if (!(parsed.offset >= 0 && parsed.offset <= bytes.length)) throw new Error(`error offset ${parsed.offset} outside a ${bytes.length}-byte file`);
    return;
  }
  const cap = parsed.value;
  const format = cap.format;
  const allPrefixes = sampledForCostlyChecks(bytes, 0x70726566);
  const onePrefix = (crc32(bytes) >>> 0) % Math.max(1, Math.min(4, cap.packets.length));
  cap.packets.forEach((p, k) => {
    const data = unwrapGuarded(p.data);
    const end = recordEnd(bytes, format, p);
    const at = data.byteOffset - bytes.byteOffset;
    if (data.buffer !== bytes.buffer || at < p.offset || at + data.length > end || end > bytes.length) {
      fail("bounds", `packet ${k} (bytes ${at}..${at + data.length}) lies outside its record ${p.offset}..${end}`, bytes);
    }
    // The prefix parse repeats the file's parse up to the packet: packet 0..3 on the inputs the
    // costly checks sample, else one of them chosen by the input's bytes.
    if (k < 4 && (allPrefixes || k === onePrefix)) {
      const prefix = parseCapture(guarded(bytes.subarray(0, end), "capture prefix"));
      if (!prefix.ok || prefix.value.packets.length !== k + 1 || !sameValue(prefix.value.packets[k]!.data, p.data)) {
        fail(
          "prefix",
          `the file cut after packet ${k}'s record (${end} bytes) ${prefix.ok ? `reads ${prefix.value.packets.length} packets` : `fails: ${prefix.error}`}`,
          bytes,
        );
      }
    }
  });
  checkAgainstReference(bytes, cap);
  const out = createByteCollector();
  const writer = createPcapngWriter(out.write);
  // The declared snaplen is not carried over: a file may hold packets longer than it claims.
  for (const i of cap.interfaces) writer.addInterface({ linkType: i.linkType });
  for (const p of cap.packets) {
    if (p.interfaceId >= cap.interfaces.length) throw new Error(`packet names interface ${p.interfaceId} of ${cap.interfaces.length}`);
    writer.record({ interfaceId: p.interfaceId, timestampMs: 0, data: p.data, originalLength: Math.max(p.originalLength, p.data.length) });
  }
  const again = parseCapture(out.bytes());
  if (!again.ok) throw new Error(`re-written capture does not parse: ${again.error} at ${again.offset}`);
  if (again.value.packets.length !== cap.packets.length || again.value.interfaces.length !== cap.interfaces.length) {
    throw new Error(
      `round trip changed counts: ${cap.packets.length}/${cap.interfaces.length} -> ${again.value.packets.length}/${again.value.interfaces.length}`,
    );
  }
  again.value.packets.forEach((p, k) => {
    const q = cap.packets[k]!;
    if (!sameValue(p.data, q.data)) throw new Error(`packet ${k} bytes changed in the round trip`);
  });
}

/** Seeds: a small classic pcap (both byte orders, micro and nano) and a pcapng with comments. */
export function seeds(): Uint8Array[] {
  const frames = sampleFrames();
  const out: Uint8Array[] = [];
  for (const byteOrder of ["little", "big"] as const) {
    for (const precision of ["micro", "nano"] as const) {
      const c = createByteCollector();
      const w = createPcapWriter(c.write, { byteOrder, precision });
      const id = w.addInterface({});
      frames.forEach((data, k) => w.record({ interfaceId: id, timestampMs: 1000 + k * 1.5, data }));
      out.push(c.bytes());
    }
  }
  const c = createByteCollector();
  const w = createPcapngWriter(c.write);
  const a = w.addInterface({ name: "h1" }),
    b = w.addInterface({ name: "h2" });
  frames.forEach((data, k) => w.record({ interfaceId: k % 2 ? b : a, timestampMs: k, data, direction: k % 2 ? "in" : "out", comment: `frame ${k}` }));
  out.push(c.bytes());
  return out;
}
