import { describe, expect, it } from "vitest";
import { unwrap } from "../../stack/result.ts";
import { createRng, createVirtualClock } from "../../stack/time.ts";
import { DOMID_SELF } from "../abi/xen.ts";
import { createHypervisor } from "../hypervisor/hypervisor.ts";
import { kickVcpu, setPending2l, sharedInfoView, takeEvents2l } from "./two-level.ts";
import type { HypervisorOptions } from "../hypervisor/types.ts";

function setup(options: HypervisorOptions = {}) {
  const clock = createVirtualClock();
  const hv = createHypervisor({ clock, rng: createRng(7) }, { grants: { grantFrames: 1 }, ...options });
  const dom0 = unwrap(hv.createDomain());
  const domU = unwrap(hv.createDomain());
  return { clock, hv, dom0, domU };
}

/** Connects domU (unbound side) and dom0 (binding side); returns [domU port, dom0 port]. */
function connect(s: ReturnType<typeof setup>): [number, number] {
  const up = unwrap(s.domU.events.allocUnbound(s.dom0.id));
  const bp = unwrap(s.dom0.events.bindInterdomain(s.domU.id, up));
  return [up, bp];
}

const u64le = (page: Uint8Array, at: number): bigint => new DataView(page.buffer, page.byteOffset).getBigUint64(at, true);

describe("event channels (2-level)", () => {
  it("alloc_unbound hands out port 1 first, never port 0, and reports the unbound state", () => {
    const s = setup();
    const p = unwrap(s.domU.events.allocUnbound(0));
    expect(p).toBe(1);
    expect(s.domU.events.status(p)).toEqual({ state: "unbound", remoteDom: 0 });
    expect(s.domU.events.status(0)).toEqual({ state: "closed" });
    expect(unwrap(s.domU.events.allocUnbound(DOMID_SELF))).toBe(2);
    expect(s.domU.events.status(2)).toEqual({ state: "unbound", remoteDom: s.domU.id });
  });

  it("alloc_unbound for another domain needs privilege (EPERM) and an existing domain (ESRCH)", () => {
    const s = setup();
    expect(s.domU.events.allocUnbound(0, 0)).toEqual({ ok: false, error: "EPERM" });
    expect(s.dom0.events.allocUnbound(0, 42)).toEqual({ ok: false, error: "ESRCH" });
    const p = unwrap(s.dom0.events.allocUnbound(0, s.domU.id));
    expect(s.domU.events.status(p)).toEqual({ state: "unbound", remoteDom: 0 });
  });

  it("bind_interdomain links both ends and leaves the new local port pending with selector and upcall_pending set", () => {
    const s = setup();
    const [up, bp] = connect(s);
    expect(s.domU.events.status(up)).toEqual({ state: "interdomain", remoteDom: 0, remotePort: bp });
    expect(s.dom0.events.status(bp)).toEqual({ state: "interdomain", remoteDom: s.domU.id, remotePort: up });
    const si = s.dom0.events.sharedInfo;
    expect(u64le(si, 2048)).toBe(1n << BigInt(bp));
    expect(u64le(si, 8)).toBe(1n);
    expect(si[0]).toBe(1);
  });

  it("bind_interdomain refuses a port that is not unbound, names another domain, or lives in no domain", () => {
    const s = setup();
    const domV = unwrap(s.hv.createDomain());
    const forV = unwrap(s.domU.events.allocUnbound(domV.id));
    expect(s.dom0.events.bindInterdomain(s.domU.id, forV)).toEqual({ ok: false, error: "EINVAL" });
    expect(s.dom0.events.bindInterdomain(s.domU.id, 999)).toEqual({ ok: false, error: "EINVAL" });
    expect(s.dom0.events.bindInterdomain(s.domU.id, 0)).toEqual({ ok: false, error: "EINVAL" });
    expect(s.dom0.events.bindInterdomain(77, 1)).toEqual({ ok: false, error: "ESRCH" });
    unwrap(domV.events.bindInterdomain(s.domU.id, forV));
    expect(domV.events.bindInterdomain(s.domU.id, forV)).toEqual({ ok: false, error: "EINVAL" });
  });

  it("send() marks the peer pending but delivers only later, through the clock", () => {
    const s = setup();
    const [up, bp] = connect(s);
    const seen: number[] = [];
    s.domU.events.onEvent(up, (p) => seen.push(p));
    unwrap(s.dom0.events.send(bp));
    expect(s.domU.events.isPending(up)).toBe(true);
    expect(seen).toEqual([]);
    s.clock.run();
    expect(seen).toEqual([up]);
    expect(s.domU.events.isPending(up)).toBe(false);
    expect(s.domU.events.sharedInfo[0]).toBe(0);
    expect(u64le(s.domU.events.sharedInfo, 8)).toBe(0n);
  });

  it("several sends before delivery coalesce into one handler call, as pending bits do", () => {
    const s = setup();
    const [up, bp] = connect(s);
    s.clock.run();
    let calls = 0;
    s.domU.events.onEvent(up, () => calls++);
    for (let i = 0; i < 5; i++) unwrap(s.dom0.events.send(bp));
    expect(s.clock.pending()).toBe(1);
    s.clock.run();
    expect(calls).toBe(1);
    expect(s.domU.events.upcallCount).toBe(1);
    unwrap(s.dom0.events.send(bp));
    s.clock.run();
    expect(calls).toBe(2);
  });

  it("an event sent while masked stays pending without an upcall and is delivered on unmask", () => {
    const s = setup();
    const [up, bp] = connect(s);
    let calls = 0;
    s.domU.events.onEvent(up, () => calls++);
    unwrap(s.domU.events.mask(up));
    expect(s.domU.events.isMasked(up)).toBe(true);
    unwrap(s.dom0.events.send(bp));
    s.clock.run();
    expect(calls).toBe(0);
    expect(s.domU.events.isPending(up)).toBe(true);
    expect(s.domU.events.sharedInfo[0]).toBe(0);
    expect(u64le(s.domU.events.sharedInfo, 2560)).toBe(1n << BigInt(up));
    unwrap(s.domU.events.unmask(up));
    expect(calls).toBe(0);
    s.clock.run();
    expect(calls).toBe(1);
    unwrap(s.domU.events.unmask(up));
    s.clock.run();
    expect(calls).toBe(1);
  });

  it("ports in the second selector word (port >= 64) set selector bit port/64", () => {
    const s = setup();
    for (let i = 0; i < 70; i++) unwrap(s.domU.events.allocUnbound(0));
    const up = unwrap(s.domU.events.allocUnbound(0));
    expect(up).toBe(71);
    const bp = unwrap(s.dom0.events.bindInterdomain(s.domU.id, up));
    s.clock.run();
    unwrap(s.dom0.events.send(bp));
    expect(u64le(s.domU.events.sharedInfo, 8)).toBe(2n);
    expect(u64le(s.domU.events.sharedInfo, 2048 + 8)).toBe(1n << 7n);
    const got: number[] = [];
    s.domU.events.onEvent(up, (p) => got.push(p));
    s.clock.run();
    expect(got).toEqual([71]);
  });

  it("an event raised inside a handler is delivered by a later upcall, not lost", () => {
    const s = setup();
    const [up, bp] = connect(s);
    s.clock.run();
    let calls = 0;
    s.domU.events.onEvent(up, () => {
      calls++;
      if (calls < 3) unwrap(s.dom0.events.send(bp));
    });
    unwrap(s.dom0.events.send(bp));
    s.clock.run();
    expect(calls).toBe(3);
  });

  it("upcall_mask holds delivery until cleared", () => {
    const s = setup();
    const [up, bp] = connect(s);
    s.clock.run();
    let calls = 0;
    s.domU.events.onEvent(up, () => calls++);
    s.domU.events.setUpcallMask(true);
    unwrap(s.dom0.events.send(bp));
    s.clock.run();
    expect(calls).toBe(0);
    s.domU.events.setUpcallMask(false);
    s.clock.run();
    expect(calls).toBe(1);
  });

  it("send() on an unbound port is dropped; send/close on a free port is EINVAL", () => {
    const s = setup();
    const p = unwrap(s.domU.events.allocUnbound(0));
    expect(s.domU.events.send(p)).toEqual({ ok: true, value: undefined });
    expect(s.domU.events.send(p + 1)).toEqual({ ok: false, error: "EINVAL" });
    expect(s.domU.events.close(p + 1)).toEqual({ ok: false, error: "EINVAL" });
    expect(s.domU.events.close(0)).toEqual({ ok: false, error: "EINVAL" });
    expect(s.domU.events.mask(4096)).toEqual({ ok: false, error: "EINVAL" });
    s.clock.run();
    expect(s.domU.events.upcallCount).toBe(0);
  });

  it("close() reverts the peer to unbound (it may be bound again) and clears the closed port's pending bit", () => {
    const s = setup();
    const [up, bp] = connect(s);
    unwrap(s.dom0.events.close(bp));
    expect(s.dom0.events.isPending(bp)).toBe(false);
    expect(s.dom0.events.status(bp)).toEqual({ state: "closed" });
    expect(s.domU.events.status(up)).toEqual({ state: "unbound", remoteDom: 0 });
    const again = unwrap(s.dom0.events.bindInterdomain(s.domU.id, up));
    expect(again).toBe(bp);
  });

  it("the port table holds maxPorts - 1 ports, then ENOSPC", () => {
    const s = setup({ events: { maxPorts: 8 } });
    for (let i = 1; i < 8; i++) expect(unwrap(s.domU.events.allocUnbound(0))).toBe(i);
    expect(s.domU.events.allocUnbound(0)).toEqual({ ok: false, error: "ENOSPC" });
  });

  it("upcall latency and jitter delay delivery on the virtual clock", () => {
    const s = setup({ events: { upcallLatencyMs: 5, upcallJitterMs: 1 } });
    const [up, bp] = connect(s);
    s.clock.run();
    let at = -1;
    s.domU.events.onEvent(up, () => {
      at = s.clock.now();
    });
    const t0 = s.clock.now();
    unwrap(s.dom0.events.send(bp));
    s.clock.run();
    expect(at - t0).toBeGreaterThanOrEqual(5);
    expect(at - t0).toBeLessThan(6);
  });

  it("destroying a domain reverts its peers' ports to unbound and cancels its pending upcall", () => {
    const s = setup();
    const [up, bp] = connect(s);
    unwrap(s.hv.destroyDomain(s.dom0.id));
    expect(s.domU.events.status(up)).toEqual({ state: "unbound", remoteDom: 0 });
    expect(s.clock.pending()).toBe(0);
    expect(s.domU.events.send(up).ok).toBe(true);
    expect(bp).toBe(1);
  });

  it("a domain with a thread vcpu is only kicked: no clock upcall, upcall_pending set, events taken by takeEvents2l", () => {
    const clock = createVirtualClock();
    const hv = createHypervisor({ clock, rng: createRng(1) }, { grants: { grantFrames: 1 } });
    unwrap(hv.createDomain());
    const f = unwrap(hv.createDomain({ vcpu: "thread" }));
    const b = unwrap(hv.createDomain({ vcpu: "thread" }));
    const fp = unwrap(f.events.allocUnbound(b.id));
    const bp = unwrap(b.events.bindInterdomain(f.id, fp));
    expect(clock.pending()).toBe(0);
    const bsi = sharedInfoView(b.events.sharedInfo);
    expect(takeEvents2l(bsi, (p) => expect(p).toBe(bp))).toBe(1);
    unwrap(f.events.send(fp));
    unwrap(f.events.send(fp));
    expect(clock.pending()).toBe(0);
    expect(b.events.sharedInfo[0]).toBe(1);
    const ports: number[] = [];
    expect(takeEvents2l(bsi, (p) => ports.push(p))).toBe(1);
    expect(ports).toEqual([bp]);
    expect(b.events.sharedInfo[0]).toBe(0);
  });

  it("endpoint() hands a thread both shared_info pages; setPending2l on the peer page is a send", () => {
    const s = setup();
    const [up, bp] = connect(s);
    s.clock.run();
    const e = unwrap(s.domU.events.endpoint(up));
    expect(e).toMatchObject({ port: up, peerPort: bp });
    expect(e.peerSharedInfo.buffer).toBe(s.dom0.events.sharedInfo.buffer);
    const peer = sharedInfoView(e.peerSharedInfo);
    expect(setPending2l(peer, e.peerPort)).toBe(true);
    expect(setPending2l(peer, e.peerPort)).toBe(false);
    kickVcpu(peer);
    expect(s.dom0.events.isPending(bp)).toBe(true);
    expect(s.domU.events.endpoint(99)).toEqual({ ok: false, error: "EINVAL" });
  });
});
