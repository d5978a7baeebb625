import { describe, expect, it } from "vitest";
import { createTwoStacks, createTwoStacksOnLink } from "../../stack/net/test-net.ts";
import { bulkTransfer } from "./helpers.ts";

describe("TCP between two full stacks", () => {
  it("two stacks on a clean point-to-point wire resolve ARP, transfer 2 MB intact and both close cleanly", () => {
    const net = createTwoStacksOnLink({ impairments: { delayMs: 1 } });
    const r = bulkTransfer(net, 2_000_000, { maxVirtualMs: 30_000 });
    expect(r).toMatchObject({ received: 2_000_000, mismatchAt: -1, ended: true, serverClosed: undefined, clientClosed: undefined });
    expect(net.a.tcp.stats.retransmits).toBe(0);
    expect(net.a.tcp.connectionCount).toBe(1); // the client's TIME_WAIT
    net.clock.run();
    expect(net.a.tcp.connectionCount).toBe(0);
  });

  it("two stacks on a device pair with checksum offload transfer intact without computing checksums", () => {
    const net = createTwoStacks({ pair: { offloads: { txChecksum: true, tso: false, maxGsoFrame: 0 } } });
    const r = bulkTransfer(net, 1_000_000);
    expect(r).toMatchObject({ received: 1_000_000, mismatchAt: -1, ended: true });
  });

  it("with a TSO-capable device the sender emits large frames marked csumBlank with gsoSize = MSS, and the data arrives intact", () => {
    const net = createTwoStacks({ pair: { offloads: { txChecksum: true, tso: true, maxGsoFrame: 65536 } } });
    const sizes: { len: number; gso: number | undefined; blank: boolean | undefined }[] = [];
    const dev = net.a.device;
    const send = dev.send.bind(dev);
    (dev as { send: typeof dev.send }).send = (f) => {
      sizes.push({ len: f.data.length, gso: f.offload?.gsoSize, blank: f.offload?.csumBlank });
      send(f);
    };
    const r = bulkTransfer(net, 4_000_000);
    expect(r).toMatchObject({ received: 4_000_000, mismatchAt: -1, ended: true });
    const big = sizes.filter((x) => x.gso !== undefined);
    expect(big.length).toBeGreaterThan(10);
    for (const b of big) expect(b).toMatchObject({ gso: 1448, blank: true });
    expect(Math.max(...big.map((b) => b.len))).toBeGreaterThan(60_000);
    expect(Math.max(...big.map((b) => b.len))).toBeLessThanOrEqual(65536);
  });
});
