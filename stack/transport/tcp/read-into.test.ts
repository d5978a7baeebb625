// ByteStream.onRead (bytes copied into the reader's buffer) and what it allows: the receiving
// stack gives a frame back to its producer (Frame.release) once no view of it is kept, so the
// sender's recycled 64 KiB GSO buffers come back instead of being allocated per segment.
import { describe, expect, it } from "vitest";
import type { Frame, Offloads } from "../../link/types.ts";
import { B_IP, createTwoStacks } from "../../net/test-net.ts";
import type { ByteStream } from "../types.ts";

const GSO: Offloads = { txChecksum: true, tso: true, maxGsoFrame: 65536 };

/** Byte i of the stream is pattern(i): any byte from a reused buffer shows up as a mismatch. */
const pattern = (i: number): number => (i * 7 + (i >>> 8)) & 0xff;

function patterned(n: number, from: number): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = pattern(from + i);
  return b;
}

interface Run {
  readonly received: number;
  readonly mismatches: number;
  readonly callbacks: number;
  readonly released: number;
  readonly reused: number;
}

/**
 * Sends `total` patterned bytes a -> b over a GSO pair whose frames keep their release, with the
 * sender's released buffers poisoned (0xA5), and checks every byte the reader gets.
 */
function transfer(
  total: number,
  read: "copy" | "view",
  o: { bufferSize?: number; drop?: (f: Frame, n: number) => boolean; onStream?: (s: ByteStream) => void } = {},
): Run {
  let frames = 0;
  const net = createTwoStacks({
    pair: { offloads: GSO, log: false, ...(o.drop === undefined ? {} : { filter: (f, from) => from !== "a" || !o.drop!(f, frames++) }) },
    a: { tcp: { poisonReleasedBuffers: true } },
  });
  let received = 0,
    mismatches = 0,
    callbacks = 0;
  const check = (d: Uint8Array): void => {
    for (let i = 0; i < d.length; i++) if (d[i] !== pattern(received + i)) mismatches++;
    received += d.length;
  };
  const kept: Uint8Array[] = [];
  const l = net.b.tcp.listen(80);
  if (!l.ok) throw new Error(l.error);
  l.value.onConnection((s) => {
    o.onStream?.(s);
    if (read === "copy") {
      const buf = new Uint8Array(o.bufferSize ?? 65536);
      s.onRead(buf, (n) => {
        callbacks++;
        check(buf.subarray(0, n));
      });
    } else
      s.onData((d) => {
        callbacks++;
        kept.push(d);
        check(d);
      });
  });
  const c = net.a.tcp.connect(B_IP, 80);
  if (!c.ok) throw new Error(c.error);
  for (let sent = 0; sent < total; sent += 65536) c.value.write(patterned(Math.min(65536, total - sent), sent));
  c.value.end();
  net.clock.run(net.clock.now() + 60_000);
  // views an onData reader kept must still hold what arrived (nothing was given back under them)
  let off = 0;
  for (const d of kept) {
    for (let i = 0; i < d.length; i++) if (d[i] !== pattern(off + i)) mismatches++;
    off += d.length;
  }
  return { received, mismatches, callbacks, released: net.b.tcp.stats.segmentBuffersReleased, reused: net.a.tcp.stats.segmentBuffersReused };
}

describe("ByteStream.onRead and frame release", () => {
  it("copies every byte into the reader's buffer, one callback per fill, and gives the GSO frames back to the sender's recycler", () => {
    const r = transfer(4 << 20, "copy");
    expect(r).toMatchObject({ received: 4 << 20, mismatches: 0 });
    expect(r.released).toBeGreaterThan(40);
    expect(r.reused).toBeGreaterThan(20);
  });

  it("an onData reader may keep its views: no frame is given back, the kept bytes stay intact", () => {
    const r = transfer(4 << 20, "view");
    expect(r).toMatchObject({ received: 4 << 20, mismatches: 0, released: 0, reused: 0 });
  });

  it("a buffer smaller than a segment is filled several times per segment, in order", () => {
    const r = transfer(1 << 20, "copy", { bufferSize: 1000 });
    expect(r).toMatchObject({ received: 1 << 20, mismatches: 0 });
    expect(r.callbacks).toBeGreaterThanOrEqual(Math.ceil((1 << 20) / 1000));
    expect(r.released).toBeGreaterThan(0);
  });

  it("out-of-order segments are kept (not given back) until the hole is filled; nothing is lost or reused under them", () => {
    // the sender's third recycled-buffer (over 16 KiB) frame is lost: the ones after it wait in
    // the out-of-order queue, their buffers must not be given back (poisoned, reused) meanwhile
    let big = 0;
    const r = transfer(2 << 20, "copy", { drop: (f) => f.release !== undefined && ++big === 3 });
    expect(big).toBeGreaterThan(3);
    expect(r).toMatchObject({ received: 2 << 20, mismatches: 0 });
  });

  it("a reader that pauses in its callback gets the rest of the segment after resume(), in order, nothing twice", () => {
    let stream: ByteStream | undefined;
    let pauses = 0,
      fills = 0;
    const total = 1 << 20;
    const net = createTwoStacks({ pair: { offloads: GSO, log: false }, a: { tcp: { poisonReleasedBuffers: true } } });
    let received = 0,
      mismatches = 0;
    const buf = new Uint8Array(3000);
    const l = net.b.tcp.listen(80);
    if (!l.ok) throw new Error(l.error);
    l.value.onConnection((s) => {
      stream = s;
      s.onRead(buf, (n) => {
        for (let i = 0; i < n; i++) if (buf[i] !== pattern(received + i)) mismatches++;
        received += n;
        // pause after every 7th fill (mid-segment: a 3000-byte buffer) and resume on a later clock turn
        if (++fills % 7 === 0) {
          pauses++;
          s.pause();
          net.clock.setTimer(net.clock.now() + 1, () => stream?.resume());
        }
      });
    });
    const c = net.a.tcp.connect(B_IP, 80);
    if (!c.ok) throw new Error(c.error);
    for (let sent = 0; sent < total; sent += 65536) c.value.write(patterned(65536, sent));
    c.value.end();
    net.clock.run(net.clock.now() + 60_000);
    expect({ received, mismatches }).toEqual({ received: total, mismatches: 0 });
    expect(pauses).toBeGreaterThan(10);
  });

  it("refuses an empty buffer", () => {
    const net = createTwoStacks();
    const l = net.b.tcp.listen(80);
    if (!l.ok) throw new Error(l.error);
    const c = net.a.tcp.connect(B_IP, 80);
    if (!c.ok) throw new Error(c.error);
    expect(() => c.value.onRead(new Uint8Array(0), () => {})).toThrow(expect.objectContaining({ code: "ERR_TCP_READ_BUFFER" }));
  });
});
