// The demo's --xen mode: each demo host becomes a Xen domU whose NIC is a netfront. dom0 runs
// netback and one bridge per host (xenbr<i>) joining that host's vif to its port on the demo's
// simulated switch, so the switch, its impairments and the captures stay as in the plain demo.
// Offloads are off so that captured frames carry final checksums.
//   createXenDemoGuests(clock, seed, count)   domUs with connected netfronts; attach(i, port)

import type { NetDevice } from "../../stack/link/types.ts";
import { createRng, type VirtualClock } from "../../stack/time.ts";
import { createBridge, type Bridge } from "../../xen-sim/net/bridge.ts";
import { createNetback } from "../../xen-sim/net/netback.ts";
import { createNetfront } from "../../xen-sim/net/netfront.ts";
import type { Netback, Netfront, NetPeerError } from "../../xen-sim/net/types.ts";
import { createToolstack } from "../../xen-sim/toolstack/toolstack.ts";
import { pumpUntil } from "../../xen-sim/toolstack/pump.ts";
import type { Toolstack } from "../../xen-sim/toolstack/types.ts";

/** The guests of a Xen demo. */
export interface XenDemoGuests {
  readonly toolstack: Toolstack;
  readonly netback: Netback;
  readonly netfronts: readonly Netfront[];
  readonly peerErrors: readonly NetPeerError[];
  /** Joins host `index`'s switch port to its bridge and returns the host's NIC (its netfront). */
  attach(index: number, port: NetDevice): NetDevice;
}

/** Creates `count` domUs (MACs 02:00:00:00:00:01 + i) with netfronts connected through dom0. */
export async function createXenDemoGuests(clock: VirtualClock, seed: number, count: number): Promise<XenDemoGuests> {
  const toolstack = createToolstack({ clock, rng: createRng((seed ^ 0x78656e) >>> 0) });
  const bridges = new Map<string, Bridge>();
  for (let i = 0; i < count; i++) bridges.set(`xenbr${i}`, createBridge({ clock }, { name: `xenbr${i}` }));
  const netback = createNetback({ dom0: toolstack.dom0, xs: toolstack.xs, clock, bridges: (n) => bridges.get(n) });
  const peerErrors: NetPeerError[] = [];
  netback.onPeerError((e) => peerErrors.push(e));
  const netfronts: Netfront[] = [];
  const settle = async <T>(p: Promise<T>): Promise<T> => {
    let done = false;
    let value!: T;
    void p.then((v) => { value = v; done = true; });
    await pumpUntil(clock, () => done);
    if (!done) throw Object.assign(new Error("xen demo setup stalled"), { code: "ERR_NETLAB_XEN_SETUP" });
    return value;
  };
  const fail = (what: string, e: string): never => { throw Object.assign(new Error(`xen demo: ${what}: ${e}`), { code: "ERR_NETLAB_XEN_SETUP" }); };
  for (let i = 0; i < count; i++) {
    const g = await settle(toolstack.createDomain({ name: `h${i + 1}` }));
    if (!g.ok) fail("createDomain", g.error);
    const guest = g.ok ? g.value : undefined!;
    const vif = await settle(toolstack.addVif(guest.id, { mac: 0x020000000001 + i, bridge: `xenbr${i}` }));
    if (!vif.ok) fail("addVif", vif.error);
    const nf = await settle(createNetfront({ domain: guest.domain, xs: guest.xs, clock }, { checksumOffload: false, gso: false }));
    if (!nf.ok) fail("createNetfront", nf.error);
    if (nf.ok) {
      nf.value.onPeerError((e) => peerErrors.push(e));
      netfronts.push(nf.value);
    }
  }
  if (!(await pumpUntil(clock, () => netfronts.every((n) => n.connected), { untilMs: clock.now() + 10_000 }))) fail("handshake", "netfronts did not connect");
  return {
    toolstack, netback, netfronts, peerErrors,
    attach(index, port) {
      bridges.get(`xenbr${index}`)!.attach(port, { name: `wire${index}` });
      return netfronts[index]!;
    },
  };
}
