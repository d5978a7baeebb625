// The tap reader's flood classifier: which frames are SYNs from sources never seen completing a
// handshake; learning from ACKs; VLAN tags, IPv6, virtio_net_hdr offsets; malformed and truncated
// frames are never shed and never read past their length.
import { createRequire } from "node:module";
import { describe, expect, it } from "vitest";

const { createSynClassifier } = createRequire(import.meta.url)("./syn-classifier.cjs") as {
  createSynClassifier(hdrLen: number): { unknownSyn(buf: Uint8Array, base: number, n: number): 0 | 1 };
};

const SYN = 0x02,
  ACK = 0x10,
  RST = 0x04;

/** Ethernet + IPv4 (IHL 5) + 20-byte TCP header with `flags` from src, optionally VLAN-tagged. */
function v4(src: readonly number[], flags: number, o: { vlan?: boolean; fragOffset?: number; proto?: number } = {}): Uint8Array {
  const eth = o.vlan ? [...new Array(12).fill(0), 0x81, 0x00, 0, 5, 0x08, 0x00] : [...new Array(12).fill(0), 0x08, 0x00];
  const ip = [0x45, 0, 0, 40, 0, 0, (o.fragOffset ?? 0) >> 8, (o.fragOffset ?? 0) & 255, 64, o.proto ?? 6, 0, 0, ...src, 192, 0, 2, 2];
  const tcp = [0x9c, 0x40, 0, 80, 0, 0, 0, 1, 0, 0, 0, 0, 0x50, flags, 0xff, 0xff, 0, 0, 0, 0];
  return Uint8Array.from([...eth, ...ip, ...tcp]);
}

function v6(srcLast: number, flags: number): Uint8Array {
  const eth = [...new Array(12).fill(0), 0x86, 0xdd];
  const ip = [0x60, 0, 0, 0, 0, 20, 6, 64, 0x20, 0x01, 0x0d, 0xb8, ...new Array(11).fill(0), srcLast, 0x20, 0x01, 0x0d, 0xb8, ...new Array(11).fill(0), 2];
  const tcp = [0x9c, 0x40, 0, 80, 0, 0, 0, 1, 0, 0, 0, 0, 0x50, flags, 0xff, 0xff, 0, 0, 0, 0];
  return Uint8Array.from([...eth, ...ip, ...tcp]);
}

const check = (c: ReturnType<typeof createSynClassifier>, f: Uint8Array): number => c.unknownSyn(f, 0, f.length);

describe("the tap reader's SYN classifier", () => {
  it("sheds a SYN from an unknown source until that source has sent an ACK, per source", () => {
    const c = createSynClassifier(0);
    expect(check(c, v4([192, 0, 2, 1], SYN))).toBe(1);
    expect(check(c, v4([192, 0, 2, 1], SYN | ACK))).toBe(0);
    expect(check(c, v4([192, 0, 2, 1], ACK))).toBe(0);
    expect(check(c, v4([192, 0, 2, 1], SYN))).toBe(0);
    expect(check(c, v4([192, 0, 2, 9], SYN))).toBe(1);
    // RST without ACK teaches nothing.
    expect(check(c, v4([192, 0, 2, 10], RST))).toBe(0);
    expect(check(c, v4([192, 0, 2, 10], SYN))).toBe(1);
  });

  it("reads VLAN-tagged frames, IPv6, and frames behind a virtio_net_hdr", () => {
    const c = createSynClassifier(0);
    expect(check(c, v4([198, 51, 100, 7], SYN, { vlan: true }))).toBe(1);
    check(c, v4([198, 51, 100, 7], ACK, { vlan: true }));
    expect(check(c, v4([198, 51, 100, 7], SYN))).toBe(0);
    expect(check(c, v6(1, SYN))).toBe(1);
    check(c, v6(1, ACK));
    expect(check(c, v6(1, SYN))).toBe(0);
    expect(check(c, v6(3, SYN))).toBe(1);
    const withHdr = createSynClassifier(12);
    const f = v4([203, 0, 113, 5], SYN);
    const buf = new Uint8Array(100 + 12 + f.length);
    buf.set(f, 100 + 12);
    expect(withHdr.unknownSyn(buf, 100, 12 + f.length)).toBe(1);
  });

  it("never sheds what is not a whole TCP header in an unfragmented datagram, and reads nothing past the frame", () => {
    const c = createSynClassifier(0);
    const syn = v4([192, 0, 2, 77], SYN);
    expect(check(c, v4([192, 0, 2, 77], SYN, { fragOffset: 1 }))).toBe(0);
    expect(check(c, v4([192, 0, 2, 77], SYN, { proto: 17 }))).toBe(0);
    for (let n = 0; n < syn.length; n++) {
      // A guarded copy: the bytes past n are SYN-looking garbage that must not be read.
      const cut = new Uint8Array(syn.length);
      cut.set(syn.subarray(0, n));
      cut.fill(0xff, n);
      const guarded = new Proxy(cut, {
        get: (t, k) => {
          if (typeof k === "string" && /^\d+$/.test(k) && Number(k) >= n) throw new Error(`read byte ${k} of ${n}`);
          return Reflect.get(t, k);
        },
      });
      const r = c.unknownSyn(guarded, 0, n);
      expect(r).toBe(n >= 14 + 20 + 14 ? 1 : 0);
    }
  });
});
