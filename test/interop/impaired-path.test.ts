// The tcp-loss suite's impaired path (benchmarks/lib/impaired-path.ts): a netlab endpoint in a
// child process of its own on a bridged tap, a Linux one behind the element's tap, the same
// element between them; short transfers, so the figures say only that the plumbing works.
import { describe, expect, it } from "vitest";
import { impairedPathSkipReason, impairedTransfer } from "../../benchmarks/lib/impaired-path.ts";
import { announceSkip } from "./support.ts";

const skip = announceSkip("impaired path", impairedPathSkipReason());

describe.skipIf(skip)("impairedTransfer()", () => {
  it("a netlab sender in its own process passes its stack's retransmissions back through a lossy element", async () => {
    const r = await impairedTransfer({ sender: "netlab", receiver: "linux", bytes: 1_000_000, delayMs: 5, loss: 0.02, congestionControl: "cubic", seed: 3 });
    expect(r.framesLost).toBeGreaterThan(0);
    expect(r.retransmits).toBeGreaterThan(0);
    expect(r.retransmits).toBe(r.senderStats?.["retransmits"]);
    expect(r.timeouts).toBe(r.senderStats?.["timeouts"]);
    expect(r.senderInfo?.["congestionControl"]).toBe("cubic");
    expect(r.wallGoodputBitsPerSecond).toBe((r.bytes * 8) / r.seconds);
  });

  it("a Linux sender reaches a netlab receiver in its own process through reordering", async () => {
    const r = await impairedTransfer({ sender: "linux", receiver: "netlab", bytes: 1_000_000, delayMs: 5, loss: 0, reorder: 0.1, congestionControl: "cubic" });
    expect(r.congestionControl).toBe("cubic");
    expect(r.framesReordered).toBeGreaterThan(0);
    expect(r.senderStats).toBeUndefined();
  });

  it("a bottleneck rate bounds the goodput of a netlab BBR sender", async () => {
    const rate = 20e6;
    const r = await impairedTransfer({
      sender: "netlab",
      receiver: "netlab",
      bytes: 3_000_000,
      delayMs: 5,
      loss: 0,
      rateBitsPerSecond: rate,
      congestionControl: "bbr",
    });
    expect(r.rateBitsPerSecond).toBe(rate);
    // both children waited for the bridge to forward: no SYN was lost and resent after 1 s
    expect(r.retransmits).toBe(0);
    expect(r.wallGoodputBitsPerSecond).toBeLessThan(rate);
    // BBR's model found the bottleneck: within 20% of the payload rate (1448 of every 1514 bytes).
    const bbr = r.senderInfo?.["bbr"] as { bandwidthBytesPerSecond: number } | undefined;
    expect(bbr?.bandwidthBytesPerSecond).toBeGreaterThan(((rate / 8) * 1448) / 1514 / 1.2);
    expect(bbr?.bandwidthBytesPerSecond).toBeLessThan(((rate / 8) * 1448) / 1514 / 0.8);
  });
});
