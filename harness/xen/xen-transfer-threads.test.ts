import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { createPayloadFiller } from "./payload.ts";
import { runXenTransfer } from "../sim/xen-transfer.ts";
import { runXenTransferThreads } from "./xen-transfer-threads.ts";

describe("xen-transfer with domUs in worker threads", () => {
  it("moves 2 MiB intact between two guest threads through dom0's netback and bridge, the same bytes as the single-thread run (up to 256 MiB, where the threaded pattern starts to cycle)", async () => {
    const r = await runXenTransferThreads({ bytes: 2 << 20, gso: true, checksumOffload: true, seed: 3, timeoutMs: 60_000 });
    expect(r.error).toBeUndefined();
    expect(r).toMatchObject({ ok: true, received: 2 << 20, sha256Match: true, peerErrors: 0, threads: true });
    expect(r.notifications.netfront).toBeLessThan(r.frames.tx);
    const single = await runXenTransfer({ bytes: 2 << 20, gso: true, seed: 3 });
    expect(r.sha256).toBe(single.sha256);
    if (process.platform === "linux") {
      expect(r.threadCpuMs).toBeDefined();
      expect(r.threadCpuMs!.sender).toBeGreaterThanOrEqual(0);
    }
  }, 120_000);

  it("reports a payload whose bytes differ from what was sent: every byte arrives but the check fails", async () => {
    const r = await runXenTransferThreads({ bytes: 1 << 20, gso: true, checksumOffload: true, seed: 3, timeoutMs: 60_000, corruptAt: 700_001 });
    expect(r.received).toBe(1 << 20);
    expect(r).toMatchObject({ ok: false, sha256Match: false, sha256: "" });
    // 700_001 lies in the 11th 64 KiB write; the check names the chunk where the stream went wrong.
    expect(r.error).toMatch(/differ from the payload in the chunk after byte \d+/);
    const at = Number(/after byte (\d+)/.exec(r.error ?? "")![1]);
    expect(at).toBeLessThanOrEqual(700_001);
    expect(at).toBeGreaterThan(700_001 - 65536);
  }, 120_000);

  it("cycles a shorter payload pattern byte for byte and reports goodput without the omitted start", async () => {
    const bytes = 3 << 20,
      patternBytes = 1_000_000,
      omitBytes = 1 << 20;
    const r = await runXenTransferThreads({
      bytes,
      gso: true,
      checksumOffload: true,
      seed: 5,
      timeoutMs: 60_000,
      patternBytes,
      omitBytes,
      socketBufferBytes: 2 << 20,
    });
    expect(r.error).toBeUndefined();
    expect(r).toMatchObject({ ok: true, received: bytes, sha256Match: true, socketBufferBytes: 2 << 20 });
    // The stream is the pattern repeated: its hash is that of 3 patterns and the start of a 4th.
    const pattern = new Uint8Array(patternBytes);
    createPayloadFiller(5)(pattern);
    const h = createHash("sha256");
    for (let off = 0; off < bytes; off += patternBytes) h.update(pattern.subarray(0, Math.min(patternBytes, bytes - off)));
    expect(r.sha256).toBe(h.digest("hex"));
    expect(r.steady).toBeDefined();
    expect(r.steady!.omittedBytes).toBeGreaterThanOrEqual(omitBytes);
    expect(r.steady!.omittedBytes).toBeLessThan(omitBytes + 65536 * 2);
    expect(r.steady!.omittedBytes + r.steady!.bytes).toBe(bytes);
    expect(r.steady!.seconds).toBeGreaterThan(0);
  }, 120_000);

  it("catches a flipped bit in a later cycle of the pattern", async () => {
    const r = await runXenTransferThreads({
      bytes: 3 << 20,
      gso: true,
      checksumOffload: true,
      seed: 5,
      timeoutMs: 60_000,
      patternBytes: 1_000_000,
      corruptAt: 2_500_000,
    });
    expect(r).toMatchObject({ ok: false, sha256Match: false });
    // The flip lands at 500_000 of every cycle: the first cycle shows it first.
    const at = Number(/after byte (\d+)/.exec(r.error ?? "")![1]);
    expect(at).toBeLessThanOrEqual(500_000);
    expect(at).toBeGreaterThan(500_000 - 65536);
  }, 120_000);
});
