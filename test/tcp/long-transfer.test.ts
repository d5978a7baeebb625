// A transfer longer than 2^31 bytes: the sender's sequence-space markers (NewReno's recover
// point, Nagle's end of the last short segment) must move with the cumulative ACK, or 32-bit
// sequence comparisons read them as ahead once the stream passes ISS + 2^31.
import { describe, expect, it } from "vitest";
import { createStack } from "../../stack/index.ts";
import type { Frame, NetDevice, Offloads } from "../../stack/link/types.ts";
import { createRng, createVirtualClock } from "../../stack/time.ts";

describe("a TCP transfer past 2^31 bytes", () => {
  it("recovers a loss past 2^31 bytes by fast retransmit (NewReno, no SACK), and Nagle still lets a short write out once all is acked", () => {
    const clock = createVirtualClock(0);
    const offloads: Offloads = { txChecksum: true, tso: true, maxGsoFrame: 65536 };
    const handlers: ((f: Frame) => void)[] = [() => {}, () => {}];
    let sentFromA = 0;
    let dropped = 0;
    const DROP_AT = 2 ** 31 + 4 * 1024 * 1024;
    const make = (self: 0 | 1, mac: number): NetDevice => ({
      mac,
      mtu: 1500,
      offloads,
      send(frame) {
        const data = frame.data.slice();
        frame.release?.();
        if (self === 0 && data.length > 1000) {
          sentFromA += data.length;
          // One data frame (the first once more than DROP_AT bytes of frames, headers included, went out) never arrives.
          if (dropped === 0 && sentFromA > DROP_AT) {
            dropped++;
            return;
          }
        }
        const off = frame.offload;
        const delivered: Frame = off === undefined ? { data } : { data, offload: { ...off, csumBlank: false, dataValidated: true } };
        clock.setTimer(clock.now() + 0.05, () => handlers[self ^ 1]!(delivered));
      },
      onReceive(h) {
        handlers[self] = h;
      },
    });
    const tcp = { congestionControl: "newreno" as const, sack: false, receiveBufferSize: 4 << 20, sendBufferSize: 4 << 20 };
    const a = createStack({ device: make(0, 0x020000000001), clock, rng: createRng(7) }, { name: "a", ipv4: { cidr: "192.0.2.1/24" }, tcp });
    const b = createStack({ device: make(1, 0x020000000002), clock, rng: createRng(8) }, { name: "b", ipv4: { cidr: "192.0.2.2/24" }, tcp });
    // 33100 patterns (2^31 + 9.3 MB) in full-segment writes, then a 1000-byte write.
    const PATTERN = 45 * 1448;
    const total = 33100 * PATTERN + 1000;
    let received = 0;
    let ended = false;
    let wrong = -1;
    const l = b.tcp.listen(5002);
    if (!l.ok) throw new Error(l.error);
    l.value.onConnection((s) => {
      s.onData((d) => {
        // Byte i of the stream is pattern[i mod its length]: checked every 4093 bytes and at each chunk's end.
        const at = (k: number): number => pattern[(received + k) % pattern.length]!;
        for (let i = 0; i < d.length; i += 4093) if (wrong < 0 && d[i] !== at(i)) wrong = received + i;
        if (wrong < 0 && d.length > 0 && d[d.length - 1] !== at(d.length - 1)) wrong = received + d.length - 1;
        received += d.length;
      });
      s.onEnd(() => {
        ended = true;
      });
    });
    const c = a.tcp.connect(0xc0000202, 5002);
    if (!c.ok) throw new Error(c.error);
    // 45 MSS (1448 bytes each): every write fills whole segments, so no short segment goes out in
    // 2 GiB and Nagle's marker (the end of the last short segment) stays where the connection began.
    const pattern = new Uint8Array(PATTERN).map((_, i) => (i * 7 + (i >> 8)) & 255);
    // The bulk part, without closing: the short write after it must go out on its own (Nagle
    // sends a short segment once nothing is unacknowledged, by comparing with the last short one's end).
    const bulk = total - 1000;
    const s = c.value;
    let queued = 0;
    const pump = (): void => {
      while (queued < bulk) {
        const off = queued % pattern.length;
        const n = Math.min(pattern.length, bulk - queued, pattern.length - off);
        queued += n;
        if (!s.write(pattern.subarray(off, off + n))) return;
      }
    };
    s.onConnect(pump);
    s.onDrain(pump);
    const deadline = 3_600_000;
    while (received < bulk && clock.now() < deadline) clock.run(clock.now() + 1000);
    expect(received).toBe(bulk);
    const tlpBefore = a.tcp.stats.tailLossProbes;
    const off = bulk % pattern.length;
    const tail = new Uint8Array(total - bulk).map((_, i) => pattern[(off + i) % pattern.length]!);
    s.write(tail);
    // Out within a round trip (0.1 ms here), not on a probe or retransmission timer later.
    clock.run(clock.now() + 2);
    expect(received).toBe(total);
    expect(a.tcp.stats.tailLossProbes).toBe(tlpBefore);
    s.end();
    while (!ended && clock.now() < deadline) clock.run(clock.now() + 1000);
    expect(dropped).toBe(1);
    expect(ended).toBe(true);
    expect(received).toBe(total);
    expect(wrong).toBe(-1);
    const st = a.tcp.stats;
    expect(st.fastRetransmits).toBeGreaterThanOrEqual(1);
    expect(st.timeouts).toBe(0);
  }, 180_000);
});
