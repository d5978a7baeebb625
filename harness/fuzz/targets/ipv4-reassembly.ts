// Fuzz target: IPv4 reassembly fed sequences of fragments of one known datagram.
// Each 5-byte record: offset/8 (u16), length/8 (u8, 0 = 1), flags (bit0 MF, bit1 a second
// ident, bit2 corrupt the bytes), virtual ms to wait. Oracles: whatever the order, duplication
// or overlap, the UDP socket receives either nothing or exactly the original payload; and a
// shadow of RFC 5722 (applied to IPv4, as the reassembler documents): while all fragments fall
// within one reassembly timeout, a datagram is never delivered after two of its fragments
// overlapped, unless the later one was an exact duplicate (same range, same bytes).
import { createFuzzStack } from "../stack-oracle.ts";
import { emitEthernet, emitIpv4, emitUdp, ETHERTYPE_IPV4, IP_PROTOCOL_UDP } from "../../../stack/wire/index.ts";
import { HOST_A_IP, HOST_A_MAC, HOST_B_IP, HOST_B_MAC } from "../samples.ts";

const PORT = 9999;
/** The reassembler's default timeout (stack/net/reassembly.ts): the shadow holds only within it. */
const REASSEMBLY_TIMEOUT_MS = 30_000;

function original(ident: number): Uint8Array {
  const payload = new Uint8Array(3992);
  for (let i = 0; i < payload.length; i++) payload[i] = (i * 31 + ident) & 0xff;
  const dgram = new Uint8Array(8 + payload.length);
  emitUdp({ srcPort: 5000, dstPort: PORT, payload }, dgram, 0, HOST_A_IP, HOST_B_IP);
  return dgram;
}

export function fuzz(data: Buffer): void {
  const t = createFuzzStack();
  const sock = t.stack.udp.bind(PORT);
  if (!sock.ok) throw new Error("bind failed");
  const got: Uint8Array[] = [];
  sock.value.onMessage((d) => got.push(d.payload.slice()));
  const datagrams = [original(1), original(2)];
  // Shadow (RFC 5722): per ident, the fragments seen and whether an overlap condemned it.
  const shadow = [0, 1].map(() => ({ frags: [] as Array<{ start: number; end: number; bytes: Uint8Array }>, condemned: false, delivered: 0 }));
  let waited = 0;
  const before = (): number => got.length;
  for (let i = 0; i + 5 <= data.length && i < 5 * 64; i += 5) {
    const offset = ((data[i]! << 8) | data[i + 1]!) * 8;
    const length = Math.max(1, data[i + 2]!) * 8;
    const flags = data[i + 3]!;
    const which = (flags >> 1) & 1;
    const whole = datagrams[which]!;
    const body = whole.subarray(Math.min(offset, whole.length), Math.min(offset + length, whole.length));
    const more = (flags & 1) === 1 || (offset + body.length < whole.length && (flags & 8) === 0);
    const frame = new Uint8Array(14 + 20 + body.length);
    emitEthernet({ dst: HOST_B_MAC, src: HOST_A_MAC, ethertype: ETHERTYPE_IPV4 }, frame, 0);
    emitIpv4(
      {
        src: HOST_A_IP,
        dst: HOST_B_IP,
        protocol: IP_PROTOCOL_UDP,
        ttl: 64,
        tos: 0,
        ident: 0x4000 + which,
        dontFragment: false,
        moreFragments: more,
        fragmentOffset: Math.min(offset, 0xfff8),
        payloadLength: body.length,
        options: new Uint8Array(0),
      },
      frame,
      14,
    );
    frame.set(body, 34);
    if ((flags & 4) !== 0 && body.length > 0) {
      const k = 34 + (flags % body.length);
      frame[k] = frame[k]! ^ 0x5a;
    }
    const fragBytes = frame.subarray(34);
    const sh = shadow[which]!;
    // As sent: the offset field's value; offset 0 without MF is a whole datagram, not a fragment.
    const sentOffset = Math.min(offset, 0xfff8);
    const end = sentOffset + body.length;
    if (sentOffset !== 0 || more) {
      for (const f of sh.frags) {
        if (f.start < end && sentOffset < f.end && !(f.start === sentOffset && f.end === end && f.bytes.every((x, k) => x === fragBytes[k])))
          sh.condemned = true;
      }
      sh.frags.push({ start: sentOffset, end, bytes: fragBytes.slice() });
    }
    const n = before();
    t.inject(frame);
    // A delivery right at this fragment: what the shadow says about the datagram it completed.
    if (got.length > n && waited < REASSEMBLY_TIMEOUT_MS && sh.condemned) {
      throw new Error(`reassembly delivered datagram ident ${0x4000 + which} after an overlap that RFC 5722 discards`);
    }
    if (got.length > n) {
      sh.frags = [];
      sh.condemned = false;
    }
    t.run(data[i + 4]! * 4);
    waited += data[i + 4]! * 4;
  }
  t.run(60_000);
  for (const p of got) {
    const want = datagrams.map((d) => d.subarray(8));
    if (!want.some((w) => w.length === p.length && w.every((x, k) => x === p[k]))) {
      throw new Error(`reassembly delivered a datagram (${p.length} bytes) that was never sent`);
    }
  }
}

/** Seeds: the datagram in order, reversed, with an overlap, and with an exact duplicate. */
export function seeds(): Uint8Array[] {
  const rec = (off8: number, len8: number, flags: number, wait: number): number[] => [off8 >> 8, off8 & 0xff, len8, flags, wait];
  const inOrder = [...rec(0, 185, 0, 1), ...rec(185, 185, 0, 1), ...rec(370, 130, 8, 1)];
  const reversed = [...rec(370, 130, 8, 1), ...rec(185, 185, 0, 1), ...rec(0, 185, 0, 1)];
  const overlap = [...rec(0, 185, 0, 1), ...rec(100, 185, 0, 1), ...rec(285, 215, 8, 1)];
  // RFC 5722 keeps an exact duplicate and discards anything else on the same range.
  const duplicate = [...rec(0, 185, 0, 1), ...rec(185, 185, 0, 1), ...rec(185, 185, 0, 1), ...rec(370, 130, 8, 1)];
  return [Uint8Array.from(inOrder), Uint8Array.from(reversed), Uint8Array.from(overlap), Uint8Array.from(duplicate)];
}
