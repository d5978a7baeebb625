import { describe, expect, it } from "vitest";
import { unwrap } from "../../stack/result.ts";
import { createRng, createVirtualClock } from "../../stack/time.ts";
import { createHypervisor } from "./hypervisor.ts";

const newHv = (maxDomains?: number) =>
  createHypervisor(
    { clock: createVirtualClock(), rng: createRng(3) },
    {
      grants: { grantFrames: 1 },
      ...(maxDomains === undefined ? {} : { maxDomains }),
    },
  );

describe("hypervisor", () => {
  it("the first domain is dom0 and privileged; later ones get the lowest free id and no privilege", () => {
    const hv = newHv();
    const d0 = unwrap(hv.createDomain());
    const d1 = unwrap(hv.createDomain());
    expect([d0.id, d0.privileged, d1.id, d1.privileged]).toEqual([0, true, 1, false]);
    unwrap(hv.destroyDomain(1));
    expect(unwrap(hv.createDomain()).id).toBe(1);
    expect(unwrap(hv.createDomain({ id: 7, privileged: true })).privileged).toBe(true);
    expect(hv.domainIds()).toEqual([0, 1, 7]);
  });

  it("refuses a taken id, a reserved id and more than maxDomains domains", () => {
    const hv = newHv(3);
    unwrap(hv.createDomain());
    expect(hv.createDomain({ id: 0 })).toEqual({ ok: false, error: "id-in-use" });
    expect(hv.createDomain({ id: 0x7ff0 })).toEqual({ ok: false, error: "bad-id" });
    unwrap(hv.createDomain());
    unwrap(hv.createDomain());
    expect(hv.createDomain()).toEqual({ ok: false, error: "too-many-domains" });
  });

  it("a new domain's memory holds its grant table frames and its shared_info page", () => {
    const hv = newHv();
    const d = unwrap(hv.createDomain());
    expect(d.memory.pageCount).toBe(2);
    expect(d.grants.tableFrames).toEqual([0]);
    expect(d.events.sharedInfoFrame).toBe(1);
    expect(unwrap(d.memory.page(1)).buffer).toBe(d.events.sharedInfo.buffer);
  });

  it("a domain too small for its grant table and shared_info is refused with out-of-memory", () => {
    const hv = newHv();
    expect(hv.createDomain({ maxPages: 1 })).toEqual({ ok: false, error: "out-of-memory" });
    expect(hv.domainIds()).toEqual([]);
  });

  it("onRefused() listeners see every refusal with the domain, operation and status", () => {
    const hv = newHv();
    unwrap(hv.createDomain());
    const u = unwrap(hv.createDomain());
    const seen: string[] = [];
    const stop = hv.onRefused((r) => seen.push(`${r.domid} ${r.op} ${r.status}`));
    u.memory.page(99);
    u.mapForeign(0, 0);
    u.grants.map(0, 8);
    stop();
    u.grants.map(0, 8);
    expect(seen).toEqual(["1 page bad-frame", "1 foreign-map permission_denied", "1 map general_error"]);
    expect(hv.refusals.total).toBe(4);
    expect(hv.refusals.byDomain.get(1)).toBe(4);
  });
});
