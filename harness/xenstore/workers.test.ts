import { describe, expect, it } from "vitest";
import { unwrap } from "../../stack/result.ts";
import { createRng, createVirtualClock } from "../../stack/time.ts";
import { createHypervisor, initXenstoreRingPage } from "../../xen-sim/index.ts";
import { runInWorker } from "../xen/worker-domain.ts";
import type { XenstoreDomainData, XenstoreDomainReport } from "./xenstore-domain.ts";

const ENTRY = new URL("./xenstore-domain.ts", import.meta.url);

describe("xenstore between two worker threads", () => {
  it("a guest thread's client and a xenstored thread exchange 300 transactions and reads over the ring page with no loss and no lost wakeup", async () => {
    const hv = createHypervisor({ clock: createVirtualClock(), rng: createRng(5) });
    const dom0 = unwrap(hv.createDomain({ vcpu: "thread" }));
    const guest = unwrap(hv.createDomain({ vcpu: "thread" }));
    const frame = unwrap(guest.memory.allocPage());
    const guestPage = unwrap(guest.memory.page(frame));
    initXenstoreRingPage(guestPage);
    const serverPage = unwrap(dom0.mapForeign(guest.id, frame));
    const gport = unwrap(guest.events.allocUnbound(dom0.id));
    const sport = unwrap(dom0.events.bindInterdomain(guest.id, gport));
    const common = { guestId: guest.id, count: 300, waitTimeoutMs: 10_000 };
    const [server, client] = await Promise.all([
      runInWorker<XenstoreDomainReport>(ENTRY, {
        ...common,
        role: "server",
        page: serverPage,
        channel: unwrap(dom0.events.endpoint(sport)),
      } satisfies XenstoreDomainData),
      runInWorker<XenstoreDomainReport>(ENTRY, {
        ...common,
        role: "guest",
        page: guestPage,
        channel: unwrap(guest.events.endpoint(gport)),
      } satisfies XenstoreDomainData),
    ]);
    expect(client).toMatchObject({ role: "guest", done: 300, mismatches: 0, timeouts: 0, fault: null });
    expect(client.watchEvents).toBe(1 + 300);
    expect(server).toMatchObject({ role: "server", errors: 0, timeouts: 0, fault: null });
    // watch + 300 × (start, write, end, read) + done
    expect(server.done).toBe(2 + 1 + 300 * 4 + 1);
  });
});
