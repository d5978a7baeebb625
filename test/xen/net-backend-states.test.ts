// netfront against a hand-driven dom0 that writes backend states out of order (Linux
// xen-netfront.c netback_changed is the reference): Unknown leaves a connection alone, and ring
// pages the backend still maps at Closing are freed once it lets go (gnttab's deferred free).
import { describe, expect, it } from "vitest";
import { unwrap } from "../../stack/result.ts";
import { createRng, createVirtualClock } from "../../stack/time.ts";
import { pumpUntil, settleByPumping as settle } from "../../stack/settle.ts";
import { createNetfront } from "../../xen-sim/net/netfront.ts";
import { createToolstack } from "../../xen-sim/toolstack/index.ts";
import { XenbusState } from "../../xen-sim/xenbus/types.ts";
import { switchState, writeKeys } from "../../xen-sim/xenbus/xenbus.ts";

const te = new TextDecoder();

/** dom0 without netback, a guest with a vif, and a netfront that said Connected; dom0 maps its two ring pages. */
async function connectedByHand() {
  const clock = createVirtualClock();
  const ts = createToolstack({ clock, rng: createRng(4) }, {});
  const g = unwrap(await settle(clock, ts.createDomain()));
  const dev = unwrap(await settle(clock, ts.addVif(g.id, { mac: 0x00163e000031, hotplug: false })));
  unwrap(await settle(clock, writeKeys(ts.xs, dev.backendPath, { "feature-rx-copy": 1 })));
  unwrap(await settle(clock, switchState(ts.xs, dev.backendPath, XenbusState.InitWait)));
  const peek = (k: string): string | undefined => {
    const v = ts.daemon.server.peek(`${dev.frontendPath}/${k}`);
    return v === undefined ? undefined : te.decode(v);
  };
  const freeRefs = g.domain.grants.freeRefs;
  const nf = unwrap(await settle(clock, createNetfront({ domain: g.domain, xs: g.xs, clock }, { rxBuffers: 4 })));
  await pumpUntil(clock, () => peek("state") === "4");
  const maps = ["tx-ring-ref", "rx-ring-ref"].map((k) => unwrap(ts.dom0.grants.map(g.id, Number(peek(k)))));
  const port = unwrap(ts.dom0.events.bindInterdomain(g.id, Number(peek("event-channel"))));
  const backendState = async (s: string): Promise<void> => {
    unwrap(await settle(clock, ts.xs.write(`${dev.backendPath}/state`, s)));
    await pumpUntil(clock, () => false, { untilMs: clock.now() + 100 });
  };
  return { clock, ts, g, nf, maps, port, peek, backendState, freeRefs };
}

describe("netfront and the backend's state", () => {
  it("keeps a connection through a state that reads Unknown (absent or malformed), as Linux ignores it", async () => {
    const w = await connectedByHand();
    await w.backendState("4");
    expect(w.nf.connected).toBe(true);
    for (const s of ["0", "4x", "9", ""]) {
      await w.backendState(s);
      expect(w.nf.connected, `after ${JSON.stringify(s)}`).toBe(true);
    }
    await w.backendState("4");
    expect(w.nf.connected).toBe(true);
    expect(w.peek("state")).toBe("4");
    expect(w.nf.stats().connects).toBe(1);
  });

  it("frees the ring pages a backend still mapped when it said Closing, once it unmaps them", async () => {
    const w = await connectedByHand();
    await w.backendState("4");
    await w.backendState("5");
    expect(w.peek("state")).toBe("6");
    expect(w.nf.connected).toBe(false);
    // The two ring pages are still mapped by dom0: their grants could not end.
    expect(w.nf.stats().deferredGrants).toBe(2);
    expect(w.g.domain.grants.freeRefs).toBe(w.freeRefs - 2);
    for (const m of w.maps) w.ts.dom0.grants.unmap(m.handle);
    w.ts.dom0.events.close(w.port);
    await pumpUntil(w.clock, () => w.clock.nextDeadline() === undefined, { untilMs: w.clock.now() + 5000 });
    expect(w.g.domain.grants.freeRefs).toBe(w.freeRefs);
  });
});
