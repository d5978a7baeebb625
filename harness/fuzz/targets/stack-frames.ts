// Fuzz target: the whole frame demultiplexer of a configured stack (Ethernet, ARP, IPv4 with
// reassembly, ICMP, UDP echo, TCP listener). Input: a flags byte (bit 0: repair checksums),
// then [u16 length][frame] records, each followed by 0..255 ms of virtual time.
// Oracles: no exception, no runaway timers, every frame the stack emits is well formed.
import { createFuzzStack } from "../stack-oracle.ts";
import { fixChecksums, joinRecords, splitRecords } from "../fixup.ts";
import { emitUdpEcho, sampleFrames } from "../samples.ts";

export function fuzz(data: Buffer): void {
  if (data.length === 0) return;
  const fix = (data[0]! & 1) === 1;
  const t = createFuzzStack();
  const frames = splitRecords(new Uint8Array(data.buffer, data.byteOffset + 1, data.byteLength - 1));
  for (const [i, f] of frames.entries()) {
    const frame = f.slice();
    if (fix) fixChecksums(frame);
    t.inject(frame);
    t.run(f.length > 0 ? f[f.length - 1]! : i);
  }
  t.run(40_000);
}

/** Seeds: the sample frames as one conversation, with and without checksum repair. */
export function seeds(): Uint8Array[] {
  const conversation = joinRecords([...sampleFrames(), emitUdpEcho()]);
  return [0, 1].map((flags) => {
    const s = new Uint8Array(conversation.length + 1);
    s[0] = flags;
    s.set(conversation, 1);
    return s;
  });
}
