import { describe, expect, it } from "vitest";
import { ok, unwrap } from "../../stack/result.ts";
import { GTF_permit_access, GTF_readonly, GTF_reading, GTF_writing } from "../../xen-sim/abi/grant-table.ts";
import { createNetfront } from "../../xen-sim/net/netfront.ts";
import { pumpUntil, settleByPumping as settle } from "../../stack/settle.ts";
import { XenbusState } from "../../xen-sim/xenbus/types.ts";
import { dom0World, writesTo } from "./helpers.ts";

const te = new TextDecoder();

describe("vif handshake", () => {
  it("netback advertises Linux's features, InitWait; netfront writes its keys in one transaction and goes straight to Connected", async () => {
    const w = dom0World();
    w.startNetback();
    const g = unwrap(await settle(w.clock, w.ts.createDomain()));
    const dev = unwrap(await settle(w.clock, w.ts.addVif(g.id, { mac: 0x00163e000011 })));
    const nf = unwrap(await settle(w.clock, createNetfront({ domain: g.domain, xs: g.xs, clock: w.clock })));
    expect(nf.mac).toBe(0x00163e000011);
    await pumpUntil(w.clock, () => nf.connected);
    expect(nf.connected).toBe(true);
    const peek = (p: string): string | undefined => {
      const v = w.ts.daemon.server.peek(p);
      return v === undefined ? undefined : te.decode(v);
    };
    const be = dev.backendPath;
    const fe = dev.frontendPath;
    expect(
      Object.fromEntries(
        [
          "feature-sg",
          "feature-gso-tcpv4",
          "feature-gso-tcpv6",
          "feature-ipv6-csum-offload",
          "feature-rx-copy",
          "feature-rx-flip",
          "feature-split-event-channels",
          "multi-queue-max-queues",
          "feature-ctrl-ring",
        ].map((k) => [k, peek(`${be}/${k}`)]),
      ),
    ).toEqual({
      "feature-sg": "1",
      "feature-gso-tcpv4": "1",
      "feature-gso-tcpv6": "1",
      "feature-ipv6-csum-offload": "1",
      "feature-rx-copy": "1",
      "feature-rx-flip": "0",
      "feature-split-event-channels": "1",
      "multi-queue-max-queues": "1",
      "feature-ctrl-ring": "1",
    });
    expect(writesTo(w.log, `${be}/state`).map((x) => x.value)).toEqual(["1", "2", "4"]);
    // The frontend never writes Initialised (3): Initialising came from the toolstack, then Connected.
    expect(writesTo(w.log, `${fe}/state`).map((x) => `${x.domid}:${x.value}`)).toEqual(["0:1", `${g.id}:4`]);
    const keys = [
      "tx-ring-ref",
      "rx-ring-ref",
      "event-channel",
      "request-rx-copy",
      "feature-rx-notify",
      "feature-sg",
      "feature-gso-tcpv4",
      "feature-ipv6-csum-offload",
    ];
    const txIds = new Set(keys.map((k) => writesTo(w.log, `${fe}/${k}`)[0]!.txId));
    expect(txIds.size).toBe(1);
    const keysTx = [...txIds][0]!;
    expect(keysTx).not.toBe(0);
    expect(writesTo(w.log, `${fe}/state`).at(-1)!.txId).not.toBe(keysTx);
    expect(peek(`${fe}/request-rx-copy`)).toBe("1");
    expect(peek(`${fe}/feature-rx-notify`)).toBe("1");
    expect(peek(`${fe}/feature-sg`)).toBe("1");
    expect(peek(`${fe}/feature-gso-tcpv4`)).toBe("1");
    expect(peek(`${fe}/feature-ipv6-csum-offload`)).toBe("1");
    expect(peek(`${fe}/event-channel-tx`)).toBeUndefined();
    // The ring pages are granted read-write to dom0 and mapped by netback (reading + writing set).
    const txRef = Number(peek(`${fe}/tx-ring-ref`));
    const entry = g.domain.grants.entry(txRef)!;
    expect(entry.domid).toBe(0);
    expect(entry.flags).toBe(GTF_permit_access | GTF_reading | GTF_writing);
    // The backend bound the frontend's port.
    const port = Number(peek(`${fe}/event-channel`));
    expect(g.domain.events.status(port)).toMatchObject({ state: "interdomain", remoteDom: 0 });
  });

  it("netback writes Connected only once hotplug-status reads connected", async () => {
    const w = dom0World();
    w.startNetback();
    const g = unwrap(await settle(w.clock, w.ts.createDomain()));
    const dev = unwrap(await settle(w.clock, w.ts.addVif(g.id, { mac: 0x00163e000012, hotplug: false })));
    const nf = unwrap(await settle(w.clock, createNetfront({ domain: g.domain, xs: g.xs, clock: w.clock })));
    await pumpUntil(w.clock, () => nf.state === XenbusState.Connected);
    await pumpUntil(w.clock, () => false, { untilMs: w.clock.now() + 1000 });
    expect(nf.connected).toBe(false);
    expect(await settle(w.clock, w.ts.xs.read(`${dev.backendPath}/state`))).toEqual(ok("2"));
    unwrap(await settle(w.clock, w.ts.hotplugVif(dev)));
    await pumpUntil(w.clock, () => nf.connected);
    expect(await settle(w.clock, w.ts.xs.read(`${dev.backendPath}/state`))).toEqual(ok("4"));
  });

  it("netfront refuses a backend without feature-rx-copy: Closing, and no ring keys written", async () => {
    const w = dom0World();
    const g = unwrap(await settle(w.clock, w.ts.createDomain()));
    const dev = unwrap(await settle(w.clock, w.ts.addVif(g.id, { mac: 0x00163e000013 })));
    const nf = unwrap(await settle(w.clock, createNetfront({ domain: g.domain, xs: g.xs, clock: w.clock })));
    unwrap(await settle(w.clock, w.ts.xs.write(`${dev.backendPath}/feature-rx-copy`, "0")));
    unwrap(await settle(w.clock, w.ts.xs.write(`${dev.backendPath}/state`, "2")));
    await pumpUntil(w.clock, () => nf.state === XenbusState.Closing);
    expect(nf.state).toBe(XenbusState.Closing);
    expect(w.ts.daemon.server.peek(`${dev.frontendPath}/tx-ring-ref`)).toBeUndefined();
    expect(te.decode(w.ts.daemon.server.peek(`${dev.frontendPath}/error`)!)).toMatch(/copying receive path/);
  });

  it("tx buffers are granted read-only to the backend while a frame is in flight", async () => {
    const w = dom0World();
    const nb = w.startNetback();
    const g = unwrap(await settle(w.clock, w.ts.createDomain()));
    unwrap(await settle(w.clock, w.ts.addVif(g.id, { mac: 0x00163e000014 })));
    const nf = unwrap(await settle(w.clock, createNetfront({ domain: g.domain, xs: g.xs, clock: w.clock })));
    await pumpUntil(w.clock, () => nf.connected);
    nb.crash();
    const free = g.domain.grants.freeRefs;
    const frame = new Uint8Array(60).fill(0xab);
    nf.send({ data: frame });
    expect(g.domain.grants.freeRefs).toBe(free - 1);
    const flags: number[] = [];
    for (let ref = 8; ref < g.domain.grants.capacity; ref++) {
      const e = g.domain.grants.entry(ref)!;
      if (e.flags !== 0 && e.domid === 0) flags.push(e.flags);
    }
    expect(flags).toContain(GTF_permit_access | GTF_readonly);
  });

  it("graceful close: frontend Closing, backend Closing, frontend Closed, backend Closed; rings unmapped", async () => {
    const w = dom0World();
    w.startNetback();
    const g = unwrap(await settle(w.clock, w.ts.createDomain()));
    const dev = unwrap(await settle(w.clock, w.ts.addVif(g.id, { mac: 0x00163e000015 })));
    const nf = unwrap(await settle(w.clock, createNetfront({ domain: g.domain, xs: g.xs, clock: w.clock })));
    await pumpUntil(w.clock, () => nf.connected);
    expect(w.ts.dom0.grants.mappingCount).toBe(2);
    await settle(w.clock, nf.close());
    await pumpUntil(w.clock, () => writesTo(w.log, `${dev.backendPath}/state`).at(-1)?.value === "6");
    const order = [
      ...writesTo(w.log, `${dev.frontendPath}/state`).map((x, i) => ({ ...x, who: "front", i })),
      ...writesTo(w.log, `${dev.backendPath}/state`).map((x, i) => ({ ...x, who: "back", i })),
    ];
    // The server logs a WRITE as [path, value].
    const seq = w.log
      .filter((r) => r.type === "WRITE" && r.reply === "OK" && /\/state$/.test(r.args[0] ?? "") && /^[56]$/.test(r.args[1] ?? ""))
      .map((r) => `${r.domid === 0 ? "back" : "front"}:${r.args[1]}`);
    expect(order.length).toBeGreaterThan(4);
    expect(seq).toEqual(["front:5", "back:5", "front:6", "back:6"]);
    expect(w.ts.dom0.grants.mappingCount).toBe(0);
  });
});
