import { describe, expect, it } from "vitest";
import { err } from "../../stack/result.ts";
import { checksumAdd, internetChecksum, pseudoHeaderSum } from "../../stack/wire/checksum.ts";
import { segmentTcpv4 } from "./gso.ts";

/** Ethernet + IPv4 + TCP frame with `payload` bytes; the TCP checksum holds only the pseudo-header sum (csum_blank). */
function gsoFrame(payload: number, flags = 0x19 /* FIN PSH ACK */, ethertype = 0x0800, protocol = 6, frag = 0x4000): Uint8Array {
  const f = new Uint8Array(14 + 20 + 20 + payload);
  f.set([2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, ethertype >> 8, ethertype & 255]);
  const ip = 14;
  const total = 40 + payload;
  f.set([0x45, 0, total >> 8, total & 255, 0x12, 0x34, frag >> 8, frag & 255, 64, protocol, 0, 0, 192, 0, 2, 1, 192, 0, 2, 2], ip);
  const tcp = 34;
  f.set([0x13, 0x88, 0x00, 0x50, 0, 0, 0x03, 0xe8, 0, 0, 0, 1, 0x50, flags | 0x80, 0xff, 0xff], tcp);
  for (let i = 0; i < payload; i++) f[54 + i] = (i * 13) & 255;
  const ph = pseudoHeaderSum(0xc0000201, 0xc0000202, 6, 20 + payload);
  f[tcp + 16] = ph >> 8;
  f[tcp + 17] = ph & 255;
  return f;
}

describe("segmentTcpv4", () => {
  it("cuts a 3000-byte payload into 1448 + 1448 + 104 with per-segment IPv4 and TCP headers and full checksums", () => {
    const frame = gsoFrame(3000);
    const segs: Uint8Array[] = [];
    const r = segmentTcpv4(frame, 1448, (s) => segs.push(s));
    expect(r).toEqual({ ok: true, value: 3 });
    expect(segs.map((s) => s.length)).toEqual([54 + 1448, 54 + 1448, 54 + 104]);
    const payload: number[] = [];
    segs.forEach((s, i) => {
      const len = s.length - 54;
      expect((s[16]! << 8) | s[17]!).toBe(40 + len);
      expect((s[18]! << 8) | s[19]!).toBe(0x1234 + i);
      expect(internetChecksum(s.subarray(14, 34))).toBe(0);
      const seq = ((s[38]! << 24) | (s[39]! << 16) | (s[40]! << 8) | s[41]!) >>> 0;
      expect(seq).toBe(1000 + i * 1448);
      // CWR only on the first; FIN and PSH only on the last; ACK everywhere.
      expect(s[47]).toBe(i === 0 ? 0x90 : i === 2 ? 0x19 : 0x10);
      expect(checksumAdd(s.subarray(34), pseudoHeaderSum(0xc0000201, 0xc0000202, 6, 20 + len))).toBe(0xffff);
      payload.push(...s.subarray(54));
    });
    expect(new Uint8Array(payload)).toEqual(frame.subarray(54));
  });

  it("emits one completed segment when the payload already fits", () => {
    const segs: Uint8Array[] = [];
    expect(segmentTcpv4(gsoFrame(100), 1448, (s) => segs.push(s))).toEqual({ ok: true, value: 1 });
    expect(segs[0]![47]).toBe(0x99);
    expect(checksumAdd(segs[0]!.subarray(34), pseudoHeaderSum(0xc0000201, 0xc0000202, 6, 120))).toBe(0xffff);
  });

  it("refuses non-IPv4, non-TCP, fragments, truncated frames and a zero gso size", () => {
    const none = () => {};
    expect(segmentTcpv4(gsoFrame(10, 0x10, 0x86dd), 100, none)).toEqual(err("not-ipv4"));
    expect(segmentTcpv4(gsoFrame(10, 0x10, 0x0800, 17), 100, none)).toEqual(err("not-tcp"));
    expect(segmentTcpv4(gsoFrame(10, 0x10, 0x0800, 6, 0x2000), 100, none)).toEqual(err("fragment"));
    expect(segmentTcpv4(gsoFrame(3000).subarray(0, 1000), 100, none)).toEqual(err("truncated"));
    expect(segmentTcpv4(gsoFrame(10), 0, none)).toEqual(err("bad-gso-size"));
  });
});
