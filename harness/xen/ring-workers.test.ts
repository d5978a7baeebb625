import { describe, expect, it } from "vitest";
import { unwrap } from "../../stack/result.ts";
import { createRng, createVirtualClock } from "../../stack/time.ts";
import { createHypervisor, initSharedRing } from "../../xen-sim/index.ts";
import type { RingDomainData, RingDomainReport } from "./ring-domain.ts";
import { runInWorker } from "./worker-domain.ts";

const ENTRY = new URL("./ring-domain.ts", import.meta.url);

async function runPair(count: number, seed: number): Promise<[RingDomainReport, RingDomainReport]> {
  const hv = createHypervisor({ clock: createVirtualClock(), rng: createRng(seed) }, { grants: { grantFrames: 1 } });
  unwrap(hv.createDomain());
  const front = unwrap(hv.createDomain({ vcpu: "thread" }));
  const back = unwrap(hv.createDomain({ vcpu: "thread" }));
  const frame = unwrap(front.memory.allocPage());
  const page = unwrap(front.memory.page(frame));
  initSharedRing(page);
  const ref = unwrap(front.grants.grantAccess(back.id, frame));
  const mapping = unwrap(back.grants.map(front.id, ref));
  const fport = unwrap(front.events.allocUnbound(back.id));
  const bport = unwrap(back.events.bindInterdomain(front.id, fport));
  const common = { count, waitTimeoutMs: 10_000 };
  const reports = await Promise.all([
    runInWorker<RingDomainReport>(ENTRY, {
      ...common,
      role: "front",
      seed,
      ringPage: page,
      channel: unwrap(front.events.endpoint(fport)),
    } satisfies RingDomainData),
    runInWorker<RingDomainReport>(ENTRY, {
      ...common,
      role: "back",
      seed: seed + 1,
      ringPage: mapping.page,
      channel: unwrap(back.events.endpoint(bport)),
    } satisfies RingDomainData),
  ]);
  unwrap(back.grants.unmap(mapping.handle));
  unwrap(front.grants.endAccess(ref));
  return reports;
}

describe("shared ring between two worker threads", () => {
  it("frontend and backend threads pass 200000 entries each way with none lost, duplicated or reordered and no lost wakeup", async () => {
    for (const seed of [1, 2]) {
      const [front, back] = await runPair(200_000, seed);
      expect(back).toMatchObject({ role: "back", handled: 200_000, outOfOrder: 0, timeouts: 0, illBehaved: 0 });
      expect(front).toMatchObject({ role: "front", handled: 200_000, outOfOrder: 0, timeouts: 0, illBehaved: 0 });
      expect(front.suppressed + back.suppressed).toBeGreaterThan(0);
      expect(front.notifies).toBeGreaterThan(0);
    }
  });
});
