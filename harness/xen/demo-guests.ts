// The demo's Xen guests: each demo host is a Xen domU whose NIC is a netfront. dom0 runs netback
// and one bridge per host (xenbr<i>) joining that host's vif to its port on the demo's simulated
// switch, so the switch, its impairments and the captures stay as with bare stacks. Offloads are
// off so that captured frames carry final checksums. One guest may also get a disk: a vbd (xvda)
// added through the toolstack, served by blkback in dom0 from a memory image, driven by the
// guest's blkfront.
//   createXenDemoGuests(clock, seed, count, options)   domUs with connected netfronts (and the disk)

import type { NetDevice } from "../../stack/link/types.ts";
import { createRng, type VirtualClock } from "../../stack/time.ts";
import { createBlkback } from "../../xen-sim/blk/blkback.ts";
import { createBlkfront } from "../../xen-sim/blk/blkfront.ts";
import { createMemoryStorage } from "../../xen-sim/blk/memory-storage.ts";
import type { Blkback, BlkFault, Blkfront } from "../../xen-sim/blk/types.ts";
import { createBridge, type Bridge } from "../../xen-sim/net/bridge.ts";
import { createNetback } from "../../xen-sim/net/netback.ts";
import { createNetfront } from "../../xen-sim/net/netfront.ts";
import type { Netback, Netfront, NetPeerError } from "../../xen-sim/net/types.ts";
import { createToolstack } from "../../xen-sim/toolstack/toolstack.ts";
import { pumpUntil, settleByPumping } from "../../stack/settle.ts";
import type { DeviceInfo, GuestDomain, Toolstack } from "../../xen-sim/toolstack/types.ts";
import { NetlabError } from "../../stack/error.ts";

/** The disk one guest gets. */
export interface XenDemoDiskOptions {
  /** Index of the guest (0 = h1). */
  readonly host: number;
  /** Size of dom0's memory image in 512-byte sectors. */
  readonly sectors: number;
  /** blkback's service time per ring batch, virtual ms (models the device; default 0). */
  readonly serviceDelayMs?: number;
}

/** A guest's xvda: its blkfront, dom0's blkback and the memory image behind it. */
export interface XenDemoDisk {
  readonly host: number;
  readonly name: "xvda";
  readonly device: DeviceInfo;
  readonly front: Blkfront;
  readonly back: Blkback;
  /** dom0's memory image (what blkback reads and writes). */
  readonly image: Uint8Array;
  /** Faults either side reported. */
  readonly faults: readonly BlkFault[];
}

/** The guests of a Xen demo. */
export interface XenDemoGuests {
  readonly toolstack: Toolstack;
  readonly netback: Netback;
  readonly netfronts: readonly Netfront[];
  readonly peerErrors: readonly NetPeerError[];
  readonly disk: XenDemoDisk | undefined;
  /** Joins host `index`'s switch port to its bridge and returns the host's NIC (its netfront). */
  attach(index: number, port: NetDevice): NetDevice;
}

/** Creates `count` domUs (MACs 02:00:00:00:00:01 + i) with netfronts connected through dom0, and the disk if asked. */
export async function createXenDemoGuests(
  clock: VirtualClock,
  seed: number,
  count: number,
  options: { readonly disk?: XenDemoDiskOptions } = {},
): Promise<XenDemoGuests> {
  const toolstack = createToolstack({ clock, rng: createRng((seed ^ 0x78656e) >>> 0) });
  const bridges = new Map<string, Bridge>();
  for (let i = 0; i < count; i++) bridges.set(`xenbr${i}`, createBridge({ clock }, { name: `xenbr${i}` }));
  const netback = createNetback({ dom0: toolstack.dom0, xs: toolstack.xs, clock, bridges: (n) => bridges.get(n) });
  const peerErrors: NetPeerError[] = [];
  netback.onPeerError((e) => peerErrors.push(e));
  const netfronts: Netfront[] = [];
  const settle = <T>(p: Promise<T>): Promise<T> => settleByPumping(clock, p, { what: "xen demo setup", code: "ERR_NETLAB_XEN_SETUP" });
  const fail = (what: string, e: string): never => {
    throw new NetlabError("ERR_NETLAB_XEN_SETUP", `xen demo: ${what}: ${e}`);
  };
  const guests: GuestDomain[] = [];
  for (let i = 0; i < count; i++) {
    const g = await settle(toolstack.createDomain({ name: `h${i + 1}` }));
    if (!g.ok) return fail("createDomain", g.error);
    const guest = g.value;
    guests.push(guest);
    const vif = await settle(toolstack.addVif(guest.id, { mac: 0x020000000001 + i, bridge: `xenbr${i}` }));
    if (!vif.ok) fail("addVif", vif.error);
    const nf = await settle(createNetfront({ domain: guest.domain, xs: guest.xs, clock }, { checksumOffload: false, gso: false }));
    if (!nf.ok) return fail("createNetfront", nf.error);
    nf.value.onPeerError((e) => peerErrors.push(e));
    netfronts.push(nf.value);
  }
  if (!(await pumpUntil(clock, () => netfronts.every((n) => n.connected), { untilMs: clock.now() + 10_000 }))) fail("handshake", "netfronts did not connect");

  let disk: XenDemoDisk | undefined;
  const d = options.disk;
  if (d !== undefined) {
    const guest = guests[d.host];
    if (guest === undefined) return fail("disk", `no guest ${d.host}`);
    const vbd = await settle(toolstack.addVbd(guest.id, { virtualDevice: "xvda", params: "memory" }));
    if (!vbd.ok) return fail("addVbd", vbd.error);
    const storage = createMemoryStorage({ sectors: d.sectors });
    const back = createBlkback(
      { domain: toolstack.dom0, xs: toolstack.xs, storage, clock },
      {
        backendPath: vbd.value.backendPath,
        ...(d.serviceDelayMs === undefined ? {} : { serviceDelayMs: d.serviceDelayMs }),
      },
    );
    const front = createBlkfront({ domain: guest.domain, xs: guest.xs }, { frontendPath: vbd.value.frontendPath });
    const faults: BlkFault[] = [];
    back.onFault((f) => faults.push(f));
    front.onFault((f) => faults.push(f));
    const started = await settle(back.start());
    if (!started.ok) return fail("blkback", started.error);
    const connected = await settle(front.connect());
    if (!connected.ok) return fail("blkfront", connected.error);
    disk = { host: d.host, name: "xvda", device: vbd.value, front, back, image: storage.bytes, faults };
  }
  return {
    toolstack,
    netback,
    netfronts,
    peerErrors,
    disk,
    attach(index, port) {
      bridges.get(`xenbr${index}`)!.attach(port, { name: `wire${index}` });
      return netfronts[index]!;
    },
  };
}
