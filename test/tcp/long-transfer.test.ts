// A transfer longer than 2^31 bytes: the sender's sequence-space markers (NewReno's recover
// point, Nagle's end of the last short segment) must move with the cumulative ACK, or 32-bit
// sequence comparisons read them as ahead once the stream passes ISS + 2^31.
import { describe, expect, it } from "vitest";
import { createStack } from "../../stack/index.ts";
import type { Frame, NetDevice, Offloads } from "../../stack/link/types.ts";
import { createRng, createVirtualClock } from "../../stack/time.ts";
import { writeAll } from "../../stack/transport/write-all.ts";

describe("a TCP transfer past 2^31 bytes", () => {
  it("recovers a loss at byte 2^31 + 4 MiB by fast retransmit (NewReno, no SACK) and ends with its short last segment", () => {
    const clock = createVirtualClock(0);
    const offloads: Offloads = { txChecksum: true, tso: true, maxGsoFrame: 65536 };
    const handlers: ((f: Frame) => void)[] = [() => {}, () => {}];
    let sentFromA = 0;
    let dropped = 0;
    const DROP_AT = 2 ** 31 + 4 * 1024 * 1024;
    const make = (self: 0 | 1, mac: number): NetDevice => ({
      mac, mtu: 1500, offloads,
      send(frame) {
        const data = frame.data.slice();
        frame.release?.();
        if (self === 0 && data.length > 1000) {
          sentFromA += data.length;
          // One data frame (the first one past DROP_AT) never arrives.
          if (dropped === 0 && sentFromA > DROP_AT) { dropped++; return; }
        }
        const off = frame.offload;
        const delivered: Frame = off === undefined ? { data } : { data, offload: { ...off, csumBlank: false, dataValidated: true } };
        clock.setTimer(clock.now() + 0.05, () => handlers[self ^ 1]!(delivered));
      },
      onReceive(h) { handlers[self] = h; },
    });
    const tcp = { congestionControl: "newreno" as const, sack: false, receiveBufferSize: 4 << 20, sendBufferSize: 4 << 20 };
    const a = createStack({ device: make(0, 0x020000000001), clock, rng: createRng(7) }, { name: "a", ipv4: { cidr: "192.0.2.1/24" }, tcp });
    const b = createStack({ device: make(1, 0x020000000002), clock, rng: createRng(8) }, { name: "b", ipv4: { cidr: "192.0.2.2/24" }, tcp });
    const total = 2 ** 31 + 16 * 1024 * 1024 + 1234;
    let received = 0;
    let ended = false;
    let wrong = -1;
    const l = b.tcp.listen(5002);
    if (!l.ok) throw new Error(l.error);
    l.value.onConnection((s) => {
      s.onData((d) => {
        // The pattern is byte i = i mod 251: a check of every byte without keeping them.
        for (let i = 0; i < d.length; i += 4093) if (wrong < 0 && d[i] !== (received + i) % 251) wrong = received + i;
        if (wrong < 0 && d.length > 0 && d[d.length - 1] !== (received + d.length - 1) % 251) wrong = received + d.length - 1;
        received += d.length;
      });
      s.onEnd(() => { ended = true; });
    });
    const c = a.tcp.connect(0xc0000202, 5002);
    if (!c.ok) throw new Error(c.error);
    // 251 * 261 bytes: a multiple of the pattern period, so cycling it keeps byte i = i mod 251.
    const pattern = new Uint8Array(251 * 261).map((_, i) => i % 251);
    writeAll(c.value, total, pattern, { sliceBytes: 65536 });
    const deadline = 3_600_000;
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
