// Bulk transfers between two full stacks (createStack) over H2's impaired point-to-point
// wire: every byte must arrive in order (checked against a pattern) under loss, reordering,
// duplication and corruption, with either congestion control and with or without SACK.
import { describe, expect, it } from "vitest";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createByteCollector, createPcapWriter } from "../../stack/link/index.ts";
import { checkCaptureWithTshark, tsharkMissingReason } from "../../harness/oracle/tshark.ts";
import { createTwoStacksOnLink } from "../../stack/net/test-net.ts";
import { bulkTransfer } from "./helpers.ts";

const LOSSY = { delayMs: 5, jitterMs: 1, loss: 0.05, reorder: 0.05, duplicate: 0.01, corrupt: 0.01 } as const;

describe("TCP bulk transfer between two stacks", () => {
  for (let seed = 1; seed <= 20; seed++) {
    it(`1 MB arrives intact at 5% loss with reordering, duplication and corruption (seed ${seed})`, () => {
      const net = createTwoStacksOnLink({ seed, impairments: LOSSY });
      const r = bulkTransfer(net, 1_000_000);
      expect(r).toMatchObject({ received: 1_000_000, mismatchAt: -1, ended: true, clientClosed: undefined, serverClosed: undefined });
      expect(net.a.tcp.stats.retransmits).toBeGreaterThan(0);
    });
  }

  for (const [cc, sack] of [
    ["newreno", true],
    ["newreno", false],
    ["cubic", false],
  ] as const) {
    it(`1 MB arrives intact at 5% loss with ${cc}${sack ? " and SACK" : " without SACK"}`, () => {
      const net = createTwoStacksOnLink({ seed: 99, impairments: LOSSY, a: { tcp: { sack } }, b: { tcp: { sack } } });
      const r = bulkTransfer(net, 1_000_000, { cc });
      expect(r).toMatchObject({ received: 1_000_000, mismatchAt: -1, ended: true });
    });
  }

  it("1 MB arrives intact over veth-like ends (no checksums computed) with loss and corruption: corrupted frames lose the validated mark and fail the receiver's check", () => {
    const net = createTwoStacksOnLink({ seed: 5, impairments: LOSSY, checksumUnnecessary: true });
    const r = bulkTransfer(net, 1_000_000);
    expect(r).toMatchObject({ received: 1_000_000, mismatchAt: -1, ended: true, clientClosed: undefined, serverClosed: undefined });
    expect(net.link.a.offloads.txChecksum).toBe(true);
    expect(net.link.a.txStats.corrupted + net.link.b.txStats.corrupted).toBeGreaterThan(0);
    expect(net.a.tcp.stats.badSegments + net.b.tcp.stats.badSegments).toBeGreaterThan(0);
    expect(net.link.a.txStats.checksumsCompleted + net.link.b.txStats.checksumsCompleted).toBe(0);
  });

  it("50 MB arrive intact at 10% loss with reordering, duplication and corruption", () => {
    const net = createTwoStacksOnLink({ seed: 7, impairments: { ...LOSSY, loss: 0.1 } });
    const r = bulkTransfer(net, 50_000_000);
    expect(r).toMatchObject({ received: 50_000_000, mismatchAt: -1, ended: true, clientClosed: undefined });
  }, 300_000);

  it("50 MB arrive intact on a clean wire without a single retransmission", () => {
    const net = createTwoStacksOnLink({ seed: 3, impairments: { delayMs: 1 } });
    const r = bulkTransfer(net, 50_000_000);
    expect(r).toMatchObject({ received: 50_000_000, mismatchAt: -1, ended: true });
    expect(net.a.tcp.stats.retransmits).toBe(0);
  }, 120_000);

  it("a rate-limited bottleneck with a small queue: CUBIC fills it and the transfer completes intact", () => {
    const net = createTwoStacksOnLink({ seed: 5, impairments: { delayMs: 10, rateBitsPerSecond: 20_000_000, queueLimitFrames: 30 } });
    const r = bulkTransfer(net, 5_000_000);
    expect(r).toMatchObject({ received: 5_000_000, mismatchAt: -1, ended: true });
    // 5 MB at 20 Mbit/s take at least 2 s; a sane controller stays within a small factor of it
    expect(r.doneAt).toBeGreaterThan(2000);
    expect(r.doneAt).toBeLessThan(4000);
  });

  it.skipIf(tsharkMissingReason() !== undefined)(
    "tshark finds nothing malformed or mis-checksummed in the capture of a transfer with loss, reordering and duplication",
    () => {
      const bytes = createByteCollector();
      const net = createTwoStacksOnLink({ seed: 11, impairments: { ...LOSSY, corrupt: 0 }, captureA: createPcapWriter((c) => bytes.write(c)) });
      const r = bulkTransfer(net, 300_000);
      expect(r.mismatchAt).toBe(-1);
      const dir = mkdtempSync(join(tmpdir(), "netlab-tcp-"));
      try {
        const file = join(dir, "transfer.pcap");
        writeFileSync(file, bytes.bytes());
        const verdict = checkCaptureWithTshark(file);
        expect(verdict.packets).toBeGreaterThan(300);
        expect(verdict.offending).toEqual([]);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  );
});
