// netback's root watch is targeted like Linux xenbus's backend watch: an event under one device
// (backend/vif/<fe>/<devid>/...) looks at that device only (one DIRECTORY of its frontend's dir),
// an event on a frontend's dir rescans that dir, and only an event on the root itself rescans all.
import { describe, expect, it } from "vitest";
import { unwrap } from "../../stack/result.ts";
import { createNetfront } from "../../xen-sim/net/netfront.ts";
import { pumpUntil, settleByPumping as settle } from "../../stack/settle.ts";
import { XenbusState } from "../../xen-sim/xenbus/types.ts";
import { dom0World } from "./helpers.ts";

const root = "/local/domain/0/backend/vif";

describe("netback root watch", () => {
  it("serves each device from its own events; removals are seen at the device, frontend-dir and root level", async () => {
    const w = dom0World();
    const nb = w.startNetback();
    const guests = [];
    for (let i = 0; i < 4; i++) {
      const g = unwrap(await settle(w.clock, w.ts.createDomain()));
      unwrap(await settle(w.clock, w.ts.addVif(g.id, { mac: 0x00163e000020 + i })));
      const nf = unwrap(await settle(w.clock, createNetfront({ domain: g.domain, xs: g.xs, clock: w.clock })));
      await pumpUntil(w.clock, () => nf.connected);
      guests.push(g);
    }
    expect(nb.vifs().map((v) => v.frontendId)).toEqual(guests.map((g) => g.id));
    expect(nb.vifs().every((v) => v.state === XenbusState.Connected)).toBe(true);

    // A write under one device: one DIRECTORY of that device's frontend dir, no rescan of the others.
    const dirs = (): string[] => w.log.filter((r) => r.domid === 0 && r.type === "DIRECTORY" && r.args[0]!.startsWith(root)).map((r) => r.args[0]!);
    const before = dirs().length;
    const g1 = guests[1]!;
    unwrap(await settle(w.clock, w.ts.xs.write(`${root}/${g1.id}/0/some-key`, "x")));
    await pumpUntil(w.clock, () => dirs().length > before);
    await settle(w.clock, Promise.resolve());
    expect(dirs().slice(before)).toEqual([`${root}/${g1.id}`]);

    // Removing one device dir: that vif goes, the others stay.
    unwrap(await settle(w.clock, w.ts.xs.rm(`${root}/${g1.id}/0`)));
    await pumpUntil(w.clock, () => nb.vif(g1.id, 0) === undefined);
    expect(nb.vifs().map((v) => v.frontendId)).toEqual([guests[0]!.id, guests[2]!.id, guests[3]!.id]);

    // Removing a frontend's whole dir (event on backend/vif/<fe>).
    const g2 = guests[2]!;
    unwrap(await settle(w.clock, w.ts.xs.rm(`${root}/${g2.id}`)));
    await pumpUntil(w.clock, () => nb.vif(g2.id, 0) === undefined);
    expect(nb.vifs().map((v) => v.frontendId)).toEqual([guests[0]!.id, guests[3]!.id]);

    // Removing the root (event on the root itself): a full rescan drops everything.
    unwrap(await settle(w.clock, w.ts.xs.rm(root)));
    await pumpUntil(w.clock, () => nb.vifs().length === 0);
    expect(nb.vifs()).toEqual([]);
  });
});
