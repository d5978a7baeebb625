// Fuzz target: the classic pcap and pcapng readers. Oracles: never throw; an error names a byte
// offset inside the file; a capture that parses, written again with netlab's pcapng writer and
// read back, yields the same interfaces and packet bytes.
import { createByteCollector, createPcapngWriter, createPcapWriter, parseCapture } from "../../../stack/link/pcap/index.ts";
import { sampleFrames } from "../samples.ts";

export function fuzz(data: Buffer): void {
  const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  const parsed = parseCapture(bytes);
  if (!parsed.ok) {
    if (!(parsed.offset >= 0 && parsed.offset <= bytes.length)) throw new Error(`error offset ${parsed.offset} outside a ${bytes.length}-byte file`);
    return;
  }
  const cap = parsed.value;
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
    throw new Error(`round trip changed counts: ${cap.packets.length}/${cap.interfaces.length} -> ${again.value.packets.length}/${again.value.interfaces.length}`);
  }
  again.value.packets.forEach((p, k) => {
    const q = cap.packets[k]!;
    if (p.data.length !== q.data.length || p.data.some((x, j) => x !== q.data[j])) throw new Error(`packet ${k} bytes changed in the round trip`);
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
  const a = w.addInterface({ name: "h1" }), b = w.addInterface({ name: "h2" });
  frames.forEach((data, k) => w.record({ interfaceId: k % 2 ? b : a, timestampMs: k, data, direction: k % 2 ? "in" : "out", comment: `frame ${k}` }));
  out.push(c.bytes());
  return out;
}
