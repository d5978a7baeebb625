import { describe, expect, it } from "vitest";
import { err, ok, unwrap } from "../../stack/result.ts";
import { settleByPumping as pump } from "../../stack/settle.ts";
import { createRng, createVirtualClock } from "../../stack/time.ts";
import { createHypervisor } from "../hypervisor/hypervisor.ts";
import { connectInProcess, createXenstoreClient } from "./client.ts";
import { connectGuestXenstore, createXenstoreDaemon, prepareGuestXenstore } from "./domain.ts";

function world() {
  const clock = createVirtualClock();
  const hv = createHypervisor({ clock, rng: createRng(1) });
  const dom0 = unwrap(hv.createDomain());
  const guest = unwrap(hv.createDomain());
  const daemon = createXenstoreDaemon({ hypervisor: hv, host: dom0 });
  const toolstack = createXenstoreClient(connectInProcess(daemon.server, 0));
  return { clock, hv, dom0, guest, daemon, toolstack };
}

describe("xenstored on the simulated hypervisor", () => {
  it("dom0's INTRODUCE maps the guest's page and binds its port; the guest then talks over its ring", async () => {
    const { clock, guest, daemon, toolstack } = world();
    const setup = unwrap(prepareGuestXenstore(guest));
    const intro: string[] = [];
    await pump(
      clock,
      toolstack.watch("@introduceDomain", (p) => intro.push(p)),
    );
    await pump(clock, toolstack.mkdir(`/local/domain/${guest.id}`));
    await pump(clock, toolstack.setPerms(`/local/domain/${guest.id}`, [{ domid: guest.id, perm: "n" }]));
    expect(await pump(clock, toolstack.introduce(guest.id, setup.frame, setup.port))).toEqual(ok(undefined));
    expect(intro).toEqual(["@introduceDomain", "@introduceDomain"]);
    expect(daemon.backend(guest.id)?.fault).toBeNull();
    const { client } = unwrap(connectGuestXenstore(guest, setup));
    expect(await pump(clock, client.write("name", "guest"))).toEqual(ok(undefined));
    expect(await pump(clock, toolstack.read(`/local/domain/${guest.id}/name`))).toEqual(ok("guest"));
    expect(await pump(clock, client.read("/local"))).toEqual(err("EACCES"));
    expect(await pump(clock, client.getDomainPath(guest.id))).toEqual(ok(`/local/domain/${guest.id}`));
  });

  it("a guest's watch fires over its ring when the toolstack writes its device directory", async () => {
    const { clock, guest, daemon, toolstack } = world();
    const setup = unwrap(prepareGuestXenstore(guest));
    unwrap(daemon.introduce(guest.id, setup.frame, setup.port));
    await pump(clock, toolstack.mkdir(`/local/domain/${guest.id}`));
    await pump(clock, toolstack.setPerms(`/local/domain/${guest.id}`, [{ domid: guest.id, perm: "n" }]));
    const { client } = unwrap(connectGuestXenstore(guest, setup));
    const seen: string[] = [];
    await pump(
      clock,
      client.watch("device", (p) => seen.push(p)),
    );
    await pump(clock, toolstack.write(`/local/domain/${guest.id}/device/vif/0/state`, "1"));
    await pump(clock, client.read("device/vif/0/state"));
    expect(seen).toEqual(["device", "device/vif/0/state"]);
  });

  it("INTRODUCE of a frame the guest does not own is EINVAL; RELEASE detaches the ring and fires @releaseDomain", async () => {
    const { clock, guest, daemon, toolstack } = world();
    const setup = unwrap(prepareGuestXenstore(guest));
    expect(await pump(clock, toolstack.introduce(guest.id, 9999, setup.port))).toEqual(err("EINVAL"));
    expect(await pump(clock, toolstack.introduce(77, setup.frame, setup.port))).toEqual(err("EINVAL"));
    expect(await pump(clock, toolstack.introduce(guest.id, setup.frame, setup.port))).toEqual(ok(undefined));
    const released: string[] = [];
    await pump(
      clock,
      toolstack.watch("@releaseDomain", (p) => released.push(p)),
    );
    const backend = daemon.backend(guest.id)!;
    expect(await pump(clock, toolstack.release(guest.id))).toEqual(ok(undefined));
    expect(backend.fault).toBe("released");
    expect(daemon.backend(guest.id)).toBeUndefined();
    expect(released).toEqual(["@releaseDomain", "@releaseDomain"]);
    expect(await pump(clock, toolstack.isDomainIntroduced(guest.id))).toEqual(ok(false));
  });
});
