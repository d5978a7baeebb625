import { describe, expect, it } from "vitest";
import { runXenTransferThreads } from "./xen-transfer-threads.ts";

describe("xen-transfer with domUs in worker threads", () => {
  it("moves 2 MiB intact between two guest threads through dom0's netback and bridge", async () => {
    const r = await runXenTransferThreads({ bytes: 2 << 20, gso: true, checksumOffload: true, seed: 3, timeoutMs: 60_000 });
    expect(r.error).toBeUndefined();
    expect(r).toMatchObject({ ok: true, received: 2 << 20, sha256Match: true, peerErrors: 0, threads: true });
    expect(r.notifications.netfront).toBeLessThan(r.frames.tx);
  }, 120_000);
});
