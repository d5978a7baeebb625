import { describe, expect, it } from "vitest";
import { ok, unwrap } from "../../stack/result.ts";
import { createRng, createVirtualClock } from "../../stack/time.ts";
import { createToolstack, vbdNumber } from "./toolstack.ts";
import { pumpUntil, settleByPumping as settle } from "../../stack/settle.ts";

function world() {
  const clock = createVirtualClock();
  const ts = createToolstack({ clock, rng: createRng(7) });
  return { clock, ts };
}

describe("toolstack", () => {
  it("createDomain lays out /local/domain/<id> as libxl does and the guest talks over its own ring", async () => {
    const { clock, ts } = world();
    const g = unwrap(await settle(clock, ts.createDomain({ name: "web" })));
    expect(g.id).toBe(1);
    expect(await settle(clock, ts.xs.read("/local/domain/1/name"))).toEqual(ok("web"));
    expect(await settle(clock, ts.xs.getPerms("/local/domain/1"))).toEqual(
      ok([
        { domid: 0, perm: "n" },
        { domid: 1, perm: "r" },
      ]),
    );
    expect(await settle(clock, ts.xs.getPerms("/local/domain/1/device"))).toEqual(ok([{ domid: 1, perm: "n" }]));
    expect(await settle(clock, g.xs.write("data/x", "1"))).toEqual(ok(undefined));
    expect(await settle(clock, g.xs.write("name", "evil"))).toEqual({ ok: false, error: "EACCES" });
    expect(g.domain.grants.entry(1)).toMatchObject({ domid: 0, flags: 1 });
    expect(await settle(clock, ts.xs.isDomainIntroduced(1))).toEqual(ok(true));
  });

  it("addVif writes exactly the §7 keys with frontend owned by F and backend owned by B", async () => {
    const { clock, ts } = world();
    const g = unwrap(await settle(clock, ts.createDomain()));
    const dev = unwrap(await settle(clock, ts.addVif(g.id, { mac: 0x00163e000001 })));
    expect(dev.frontendPath).toBe("/local/domain/1/device/vif/0");
    expect(dev.backendPath).toBe("/local/domain/0/backend/vif/1/0");
    const fe = unwrap(await settle(clock, ts.xs.directory(dev.frontendPath)));
    expect(fe.sort()).toEqual(["backend", "backend-id", "handle", "mac", "state"]);
    const be = unwrap(await settle(clock, ts.xs.directory(dev.backendPath)));
    expect(be.sort()).toEqual(["bridge", "frontend", "frontend-id", "handle", "hotplug-status", "mac", "online", "state"]);
    expect(await settle(clock, ts.xs.read(`${dev.frontendPath}/mac`))).toEqual(ok("00:16:3e:00:00:01"));
    expect(await settle(clock, ts.xs.read(`${dev.frontendPath}/state`))).toEqual(ok("1"));
    expect(await settle(clock, ts.xs.read(`${dev.frontendPath}/backend`))).toEqual(ok(dev.backendPath));
    expect(await settle(clock, ts.xs.read(`${dev.backendPath}/frontend`))).toEqual(ok(dev.frontendPath));
    expect(await settle(clock, ts.xs.read(`${dev.backendPath}/hotplug-status`))).toEqual(ok("connected"));
    expect(await settle(clock, ts.xs.read(`${dev.backendPath}/bridge`))).toEqual(ok("xenbr0"));
    expect(await settle(clock, ts.xs.getPerms(dev.frontendPath))).toEqual(
      ok([
        { domid: 1, perm: "n" },
        { domid: 0, perm: "r" },
      ]),
    );
    expect(await settle(clock, ts.xs.getPerms(`${dev.frontendPath}/mac`))).toEqual(
      ok([
        { domid: 1, perm: "n" },
        { domid: 0, perm: "r" },
      ]),
    );
    expect(await settle(clock, ts.xs.getPerms(dev.backendPath))).toEqual(
      ok([
        { domid: 0, perm: "n" },
        { domid: 1, perm: "r" },
      ]),
    );
    // The guest reads the backend dir (r) but cannot write it; it writes its own frontend dir.
    expect(await settle(clock, g.xs.read(`${dev.backendPath}/state`))).toEqual(ok("1"));
    expect(await settle(clock, g.xs.write(`${dev.backendPath}/state`, "4"))).toEqual({ ok: false, error: "EACCES" });
    expect(await settle(clock, g.xs.write("device/vif/0/state", "4"))).toEqual(ok(undefined));
  });

  it("addVbd writes the vbd keys and numbers xvda as 51712", async () => {
    const { clock, ts } = world();
    const g = unwrap(await settle(clock, ts.createDomain()));
    const dev = unwrap(await settle(clock, ts.addVbd(g.id, { virtualDevice: "xvda", params: "/tmp/disk.img" })));
    expect(vbdNumber("xvdb")).toBe(51728);
    expect(dev.frontendPath).toBe("/local/domain/1/device/vbd/51712");
    const fe = unwrap(await settle(clock, ts.xs.directory(dev.frontendPath)));
    expect(fe.sort()).toEqual(["backend", "backend-id", "device-type", "state", "virtual-device"]);
    const be = unwrap(await settle(clock, ts.xs.directory(dev.backendPath)));
    expect(be.sort()).toEqual(["device-type", "discard-enable", "frontend", "frontend-id", "mode", "online", "params", "state"]);
    expect(await settle(clock, ts.xs.read(`${dev.backendPath}/mode`))).toEqual(ok("w"));
    expect(await settle(clock, ts.xs.read(`${dev.frontendPath}/virtual-device`))).toEqual(ok("51712"));
  });

  it("destroyDomain removes devices and nodes, fires @releaseDomain, and frees grants and ports", async () => {
    const { clock, ts } = world();
    const g = unwrap(await settle(clock, ts.createDomain()));
    const dev = unwrap(await settle(clock, ts.addVif(g.id, { mac: 0x00163e000001 })));
    const port = unwrap(g.domain.events.allocUnbound(0));
    const local = unwrap(ts.dom0.events.bindInterdomain(g.id, port));
    const released: string[] = [];
    await settle(
      clock,
      ts.xs.watch("@releaseDomain", (p) => released.push(p)),
    );
    await settle(
      clock,
      g.xs.watch("device", () => {}),
    );
    expect(ts.daemon.server.stats().watches).toBe(2);
    expect(unwrap(await settle(clock, ts.destroyDomain(g.id)))).toBeUndefined();
    await pumpUntil(clock, () => released.length >= 2);
    expect(released).toEqual(["@releaseDomain", "@releaseDomain"]);
    expect(await settle(clock, ts.xs.exists("/local/domain/1"))).toEqual(ok(false));
    expect(await settle(clock, ts.xs.exists(dev.backendPath))).toEqual(ok(false));
    expect(ts.daemon.server.stats().watches).toBe(1);
    expect(ts.hypervisor.domain(g.id)).toBeUndefined();
    expect(ts.dom0.events.status(local)).toEqual({ state: "unbound", remoteDom: g.id });
    expect(ts.guests()).toEqual([]);
    expect(await settle(clock, ts.destroyDomain(g.id))).toEqual({ ok: false, error: "no-such-domain" });
  });
});
