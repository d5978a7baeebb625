import { describe, expect, it } from "vitest";
import { unwrap } from "../../stack/result.ts";
import { createRng, createVirtualClock } from "../../stack/time.ts";
import { parseIpv4 } from "../../stack/wire/address.ts";
import { pseudoHeaderSum } from "../../stack/wire/checksum.ts";
import { NO_OFFLOADS } from "../../stack/link/types.ts";
import { createNetback } from "../../xen-sim/net/netback.ts";
import { createNetfront } from "../../xen-sim/net/netfront.ts";
import { buildXenNetwork } from "../../xen-sim/net/network.ts";
import { pumpUntil, settleByPumping as settle } from "../../stack/settle.ts";
import { dom0World } from "./helpers.ts";

const frame = (n: number) => {
  const f = new Uint8Array(60);
  f.fill(0xff, 0, 6);
  f[11] = 1;
  f[12] = 0x88;
  f[13] = 0xb5;
  f[14] = n & 255;
  return { data: f };
};

describe("netfront and netback limits", () => {
  it("netfront holds at most txQueueLimit frames while the ring is full and drops the rest", async () => {
    const w = dom0World();
    const nb = w.startNetback();
    const g = unwrap(await settle(w.clock, w.ts.createDomain()));
    unwrap(await settle(w.clock, w.ts.addVif(g.id, { mac: 0x00163e000021 })));
    const nf = unwrap(await settle(w.clock, createNetfront({ domain: g.domain, xs: g.xs, clock: w.clock }, { txQueueLimit: 10 })));
    await pumpUntil(w.clock, () => nf.connected);
    nb.crash();
    for (let i = 0; i < 256 + 15; i++) nf.send(frame(i));
    // 256 frames fill the ring (one slot each), 10 wait in the queue, 5 are dropped.
    expect(nf.stats()).toMatchObject({ txFrames: 256, txDropped: 5 });
  });

  it("netback queues at most rxQueueLimit frames for a guest that posts no buffers", async () => {
    const w = dom0World();
    const g = unwrap(await settle(w.clock, w.ts.createDomain()));
    unwrap(await settle(w.clock, w.ts.addVif(g.id, { mac: 0x00163e000022 })));
    const nb = createNetback({ dom0: w.ts.dom0, xs: w.ts.xs, clock: w.clock, bridges: () => w.bridge }, { rxQueueLimit: 8 });
    const nf = unwrap(await settle(w.clock, createNetfront({ domain: g.domain, xs: g.xs, clock: w.clock }, { rxBuffers: 4 })));
    await pumpUntil(w.clock, () => nf.connected);
    let got = 0;
    nf.onReceive(() => {
      got++;
    });
    const vif = nb.vif(g.id, 0)!;
    // The guest's handler never runs while we inject synchronously: 4 frames fill the posted
    // buffers, 8 wait in netback's queue, the remaining 8 are dropped.
    for (let i = 0; i < 20; i++) vif.device.send(frame(i));
    expect(vif.stats()).toMatchObject({ rxFrames: 4, rxDropped: 8 });
    await pumpUntil(w.clock, () => got === 12);
    expect(got).toBe(12);
    expect(vif.stats().rxFrames).toBe(12);
  });

  it("split event channels: event-channel-tx and -rx are written and both directions work", async () => {
    const clock = createVirtualClock();
    const net = unwrap(await buildXenNetwork({ clock, rng: createRng(8) }, { netfront: { splitEventChannels: true } }));
    const fe = net.guests[0]!.vif.frontendPath;
    const peek = (k: string) => net.toolstack.daemon.server.peek(`${fe}/${k}`);
    expect(peek("event-channel")).toBeUndefined();
    expect(peek("event-channel-tx")).toBeDefined();
    expect(peek("event-channel-rx")).toBeDefined();
    expect(peek("event-channel-tx")).not.toEqual(peek("event-channel-rx"));
    const res: unknown[] = [];
    net.guests[0]!.stack.icmp.ping(unwrap(parseIpv4("192.0.2.2")), {}, (r) => res.push(r));
    await pumpUntil(clock, () => res.length > 0);
    expect(res[0]).toMatchObject({ ok: true });
  });
});

/** A broadcast Ethernet/IPv4/TCP frame of `length` bytes (IHL 5, no TCP options), checksum left partial (csum_blank). */
function tcpFrame(length: number): Uint8Array {
  const f = new Uint8Array(length);
  f.fill(0xff, 0, 6);
  f.set([0x08, 0x00], 12);
  const total = length - 14;
  f.set([0x45, 0, total >> 8, total & 255, 0, 1, 0x40, 0, 64, 6, 0, 0, 192, 0, 2, 1, 192, 0, 2, 2], 14);
  f.set([0x13, 0x88, 0x00, 0x50, 0, 0, 0x03, 0xe8, 0, 0, 0, 1, 0x50, 0x10, 0xff, 0xff], 34);
  const ph = pseudoHeaderSum(0xc0000201, 0xc0000202, 6, total - 20);
  f[50] = ph >> 8;
  f[51] = ph & 255;
  return f;
}

describe("netfront out of guest memory", () => {
  it("drops a frame whose slots cannot all get pages, leaves the ring consistent, and keeps sending smaller frames", async () => {
    const clock = createVirtualClock();
    const net = unwrap(await buildXenNetwork({ clock, rng: createRng(12) }, { guests: 2 }));
    const [a, b] = net.guests as [(typeof net.guests)[0], (typeof net.guests)[0]];
    const mem = a.guest.domain.memory;
    while (mem.maxPages - mem.pageCount > 3) unwrap(mem.allocPage());
    const seen: [number, number][] = [];
    b.netfront.onReceive((f) => seen.push([f.data.length, f.offload?.gsoSize ?? 0]));
    // A NIC without offloads on the same bridge (MTU 1500): what the bridge hands it.
    const nic: number[] = [];
    const eth0 = net.bridge.attach(
      { mac: 0x020000000e00, mtu: 1500, offloads: NO_OFFLOADS, send: (f) => nic.push(f.data.length), onReceive: () => {} },
      { name: "eth0" },
    );
    const big = new Uint8Array(5 * 4096);
    big.fill(0xff, 0, 6);
    a.netfront.send({ data: big });
    expect(a.netfront.stats().txDropped).toBe(1);
    a.netfront.send(frame(1));
    // Three pages' worth as TCP GSO: it fits the guest's last pages and crosses the bridge, whole
    // to B (its vif offers TSO), segmented for the NIC (9 segments of at most 1448 payload bytes).
    a.netfront.send({ data: tcpFrame(3 * 4096), offload: { gsoSize: 1448, csumBlank: true } });
    await pumpUntil(clock, () => seen.length === 2);
    expect(seen).toEqual([
      [60, 0],
      [3 * 4096, 1448],
    ]);
    expect(nic).toEqual([60, ...Array<number>(8).fill(54 + 1448), 3 * 4096 - 8 * 1448]);
    expect(eth0.stats()).toMatchObject({ segmented: 1, dropped: 0 });
    // The same length without GSO leaves the guest (netback takes it) but not the bridge: longer
    // than B's MTU 1500 + 18, Linux's bridge drops it (is_skb_forwardable) and so does this one,
    // counting the reason on B's port.
    const portB = net.bridge.ports().find((p) => p.device === net.netback.vif(b.guest.id, b.vif.devid)?.device);
    expect(portB).toBeDefined();
    const vifA = net.netback.vif(a.guest.id, a.vif.devid)!;
    const takenBefore = vifA.stats().txFrames;
    a.netfront.send({ data: big.subarray(0, 3 * 4096) });
    await pumpUntil(clock, () => portB!.stats().dropped === 1);
    expect(vifA.stats().txFrames).toBe(takenBefore + 1);
    expect(portB!.stats()).toMatchObject({ dropped: 1, drops: { "over-mtu": 1, unsegmentable: 0, uncompletable: 0 } });
    expect(eth0.stats()).toMatchObject({ dropped: 1, drops: { "over-mtu": 1, unsegmentable: 0, uncompletable: 0 } });
    expect(seen.length).toBe(2);
    expect(nic.length).toBe(10);
    expect(net.peerErrors).toEqual([]);
  });
});
