// Multi-queue vifs (multi-queue-max-queues / multi-queue-num-queues, per-queue keys under
// queue-N/), served by netback as Linux's is: each queue its own tx and rx ring and event
// channel; frames to the guest steered by flow hash, or by the frontend's Toeplitz mapping.
import { describe, expect, it } from "vitest";
import { unwrap } from "../../stack/result.ts";
import type { Frame } from "../../stack/link/types.ts";
import { createNetback } from "../../xen-sim/net/netback.ts";
import type { NetPeerError } from "../../xen-sim/net/types.ts";
import {
  HASH_TYPE_IPV4_TCP,
  XEN_NETIF_CTRL_HASH_ALGORITHM_TOEPLITZ,
  XEN_NETIF_CTRL_STATUS_SUCCESS,
  XEN_NETIF_CTRL_TYPE_SET_HASH_ALGORITHM,
  XEN_NETIF_CTRL_TYPE_SET_HASH_FLAGS,
  XEN_NETIF_CTRL_TYPE_SET_HASH_MAPPING,
  XEN_NETIF_CTRL_TYPE_SET_HASH_MAPPING_SIZE,
} from "../../xen-sim/net/netif-ctrl.ts";
import { pumpUntil, settleByPumping as settle } from "../../stack/settle.ts";
import { XenbusState } from "../../xen-sim/xenbus/types.ts";
import { connectFakeFrontend, txRequest, type FakeFrontendOptions, type FakeQueue } from "./fake-frontend.ts";
import { dom0World } from "./helpers.ts";

async function mqWorld(options: FakeFrontendOptions, maxQueues = 4) {
  const w = dom0World(9);
  const peerErrors: NetPeerError[] = [];
  const nb = createNetback({ dom0: w.ts.dom0, xs: w.ts.xs, clock: w.clock, bridges: (n) => (n === w.bridge.name ? w.bridge : undefined) }, { maxQueues });
  nb.onPeerError((e) => peerErrors.push(e));
  const g = unwrap(await settle(w.clock, w.ts.createDomain({ name: "mq" })));
  const dev = unwrap(await settle(w.clock, w.ts.addVif(g.id, { mac: 0x00163e0000cc })));
  const ff = await connectFakeFrontend(w.clock, w.ts, g, dev, options);
  const vif = nb.vif(g.id, 0)!;
  return { ...w, peerErrors, nb, g, dev, ff, vif };
}

/** An Ethernet + IPv4 + TCP header frame from 10.0.0.1:sport to 10.0.0.2:80. */
function flowFrame(sport: number): Uint8Array {
  const f = new Uint8Array(60);
  f[12] = 0x08;
  f[14] = 0x45;
  f[17] = 46;
  f[22] = 64;
  f[23] = 6;
  f.set([10, 0, 0, 1, 10, 0, 0, 2], 26);
  f[34] = sport >> 8;
  f[35] = sport & 255;
  f[37] = 80;
  return f;
}

/** Posts `n` rx buffers on a queue. */
function postRx(h: Awaited<ReturnType<typeof mqWorld>>, q: FakeQueue, n: number): void {
  q.writeRxSlots(
    0,
    Array.from({ length: n }, (_, i) => {
      const b = new Uint8Array(8);
      const v = new DataView(b.buffer);
      v.setUint16(0, i, true);
      v.setUint32(4, h.ff.grantPage(0), true);
      return b;
    }),
  );
  q.setRxReqProd(n);
}

describe("multi-queue vifs", () => {
  it("netback advertises its queues; a two-queue frontend gets both connected, and a frame on queue 1's tx ring reaches the bridge", async () => {
    const h = await mqWorld({ queues: 2 });
    expect(new TextDecoder().decode(h.ts.daemon.server.peek(`${h.dev.backendPath}/multi-queue-max-queues`)!)).toBe("4");
    expect(h.vif.connected).toBe(true);
    expect(h.vif.queues).toBe(2);
    expect(h.ts.dom0.grants.mappingCount).toBe(4);
    const seen: Frame[] = [];
    h.bridge.attach({
      mac: 0x020000000001,
      mtu: 1500,
      offloads: { txChecksum: true, tso: true, maxGsoFrame: 65535 },
      send: (f) => seen.push(f),
      onReceive: () => {},
    });
    const q1 = h.ff.queues[1]!;
    const ref = h.ff.grantPage(0xab);
    q1.writeTxSlots(0, [txRequest(ref, 0, 0, 3, 60)]);
    q1.setTxReqProd(1);
    q1.kick();
    await pumpUntil(h.clock, () => q1.txRspProd() === 1);
    expect(seen).toHaveLength(1);
    expect(seen[0]!.data.every((b) => b === 0xab)).toBe(true);
    expect(h.ff.queues[0]!.txRspProd()).toBe(0);
    expect(h.peerErrors).toEqual([]);
  });

  it("frames to the guest keep to one queue per flow, and the flows spread over both queues", async () => {
    const h = await mqWorld({ queues: 2 });
    for (const q of h.ff.queues) postRx(h, q, 64);
    const flowsOn: number[][] = [[], []];
    for (let sport = 1000; sport < 1016; sport++) {
      const before = h.ff.queues.map((q) => q.rxRspProd());
      for (let k = 0; k < 3; k++) h.vif.device.send({ data: flowFrame(sport) });
      await pumpUntil(h.clock, () => h.ff.queues.reduce((n, q, i) => n + q.rxRspProd() - before[i]!, 0) === 3, { maxIterations: 50 });
      const got = h.ff.queues.map((q, i) => q.rxRspProd() - before[i]!);
      // All three frames of the flow on the same queue.
      expect(got.sort()).toEqual([0, 3]);
      flowsOn[h.ff.queues[0]!.rxRspProd() - before[0]! === 3 ? 0 : 1]!.push(sport);
    }
    expect(flowsOn[0]!.length).toBeGreaterThan(0);
    expect(flowsOn[1]!.length).toBeGreaterThan(0);
  });

  it("with Toeplitz hashing on the control ring, the mapping table decides: one entry naming queue 1 sends every flow there", async () => {
    const h = await mqWorld({ queues: 2, ctrl: true });
    const page = h.ff.ctrl!.page;
    const mapPage = (() => {
      const f = unwrap(h.g.domain.memory.allocPage());
      const p = unwrap(h.g.domain.memory.page(f));
      new Uint32Array(p.buffer, p.byteOffset, 1)[0] = 1;
      return unwrap(h.g.domain.grants.grantAccess(0, f));
    })();
    const dv = new DataView(page.buffer, page.byteOffset, 4096);
    const reqs: [number, number, number, number][] = [
      [XEN_NETIF_CTRL_TYPE_SET_HASH_ALGORITHM, XEN_NETIF_CTRL_HASH_ALGORITHM_TOEPLITZ, 0, 0],
      [XEN_NETIF_CTRL_TYPE_SET_HASH_FLAGS, 1 << HASH_TYPE_IPV4_TCP, 0, 0],
      [XEN_NETIF_CTRL_TYPE_SET_HASH_MAPPING_SIZE, 1, 0, 0],
      [XEN_NETIF_CTRL_TYPE_SET_HASH_MAPPING, mapPage, 1, 0], // queue 1 is valid now that the vif has two
    ];
    reqs.forEach(([type, a, b, c], i) => {
      dv.setUint16(64 + i * 16, i, true);
      dv.setUint16(66 + i * 16, type, true);
      dv.setUint32(68 + i * 16, a, true);
      dv.setUint32(72 + i * 16, b, true);
      dv.setUint32(76 + i * 16, c, true);
    });
    const idx = new Uint32Array(page.buffer, page.byteOffset, 4);
    Atomics.store(idx, 0, reqs.length);
    h.ff.ctrl!.kick();
    await pumpUntil(h.clock, () => Atomics.load(idx, 2) === reqs.length);
    expect(reqs.map((_, i) => dv.getUint32(64 + i * 16 + 4, true))).toEqual(reqs.map(() => XEN_NETIF_CTRL_STATUS_SUCCESS));
    for (const q of h.ff.queues) postRx(h, q, 64);
    for (let sport = 2000; sport < 2008; sport++) h.vif.device.send({ data: flowFrame(sport) });
    // Each frame takes a data slot and a hash extra slot, all on queue 1.
    await pumpUntil(h.clock, () => h.ff.queues[1]!.rxRspProd() === 16, { maxIterations: 100 });
    expect(h.ff.queues[0]!.rxRspProd()).toBe(0);
    expect(h.vif.stats().rxHashes).toBe(8);
  });

  it("a queue count above multi-queue-max-queues, zero, or a missing queue's keys close the frontend with nothing mapped", async () => {
    for (const [o, detail] of [
      [{ queues: 2, numQueuesKey: "5" }, /multi-queue-num-queues 5 \(at most 4\)/],
      [{ queues: 2, numQueuesKey: "0" }, /multi-queue-num-queues 0/],
      [{ queues: 1, numQueuesKey: "2" }, /queue-0: ring refs/],
    ] as const) {
      const h = await mqWorld(o);
      await pumpUntil(h.clock, () => h.vif.state === XenbusState.Closed);
      expect(h.peerErrors.map((e) => [e.reason, e.fatal])).toEqual([["bad-keys", true]]);
      expect(h.peerErrors[0]!.detail).toMatch(detail);
      expect(h.ts.dom0.grants.mappingCount).toBe(0);
    }
  });

  it("a hostile producer index on queue 1 disconnects every queue and unmaps all their rings", async () => {
    const h = await mqWorld({ queues: 3 });
    expect(h.ts.dom0.grants.mappingCount).toBe(6);
    const q1 = h.ff.queues[1]!;
    q1.setTxReqProd(5000);
    q1.kick();
    await pumpUntil(h.clock, () => h.vif.state === XenbusState.Closed);
    expect(h.peerErrors.map((e) => [e.reason, e.detail])).toEqual([["ill-behaved-peer", "tx req_prod beyond the ring"]]);
    expect(h.vif.queues).toBe(0);
    expect(h.ts.dom0.grants.mappingCount).toBe(0);
  });
});
