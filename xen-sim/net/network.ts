// Composition helper: a toolstack with dom0 running netback and one bridge, and N guests, each
// with a vif on that bridge, a netfront and a protocol stack on it (192.0.2.<i+1>/24 by
// default). Used by tests, `netlab sim xen-transfer` and the demo's --xen mode.
//   buildXenNetwork(deps, options)   creates everything and waits (on the VirtualClock) for every
//                                    netfront to be connected; options.bridge puts a guest's vif on
//                                    a bridge of its own (dom0 with a NIC per network), as the lab does

import { createStack, type Stack, type StackOptions } from "../../stack/index.ts";
import { err, ok, type Result } from "../../stack/result.ts";
import type { Rng, VirtualClock } from "../../stack/time.ts";
import { pumpUntil, settleByPumping } from "../../stack/settle.ts";
import { createToolstack } from "../toolstack/toolstack.ts";
import type { DeviceInfo, GuestDomain, Toolstack } from "../toolstack/types.ts";
import { createBridge, type Bridge } from "./bridge.ts";
import { createNetback } from "./netback.ts";
import { createNetfront } from "./netfront.ts";
import type { Netback, NetbackOptions, Netfront, NetfrontOptions, NetPeerError } from "./types.ts";

/** Options of buildXenNetwork. */
export interface XenNetworkOptions {
  /** Number of guests (default 2). */
  readonly guests?: number;
  /** Options of every netfront. */
  readonly netfront?: NetfrontOptions;
  /** Options of netback (and of each netback a restart starts). */
  readonly netback?: NetbackOptions;
  /** Stack options per guest index (default: name "domU-<id>", ipv4 192.0.2.<i+1>/24). */
  readonly stack?: (index: number, guest: GuestDomain) => StackOptions;
  /** Give up the handshake after this much virtual time (default 10 s). */
  readonly connectTimeoutMs?: number;
  /** Domain name per guest index (default "domU-<i+1>"). */
  readonly guestName?: (index: number) => string;
  /** Name of the bridge a guest's vif joins (default "xenbr0"); a bridge is created per name. */
  readonly bridge?: (index: number) => string;
}

/** One guest of the network. */
export interface XenNetworkGuest {
  readonly guest: GuestDomain;
  readonly vif: DeviceInfo;
  readonly netfront: Netfront;
  readonly stack: Stack;
}

/** The assembled network. */
export interface XenNetwork {
  readonly toolstack: Toolstack;
  /** xenbr0, the default bridge. */
  readonly bridge: Bridge;
  /** Every bridge by name (xenbr0 and those options.bridge named). */
  readonly bridges: ReadonlyMap<string, Bridge>;
  /** The current netback driver (replaced by restartNetback). */
  readonly netback: Netback;
  readonly guests: readonly XenNetworkGuest[];
  /** Every peer error reported by either side. */
  readonly peerErrors: NetPeerError[];
  /** Crashes netback (no xenstore writes) and starts a new driver, as a dom0 driver reload. */
  restartNetback(): void;
  /** Pumps until every netfront is connected again (or the timeout passes). */
  waitConnected(timeoutMs?: number): Promise<boolean>;
}

/** Builds dom0 + bridge + netback + guests with netfronts and stacks. */
export async function buildXenNetwork(
  deps: { readonly clock: VirtualClock; readonly rng: Rng },
  options: XenNetworkOptions = {},
): Promise<Result<XenNetwork, string>> {
  const { clock, rng } = deps;
  const toolstack = createToolstack({ clock, rng });
  const bridge = createBridge({ clock }, { name: "xenbr0" });
  const bridges = new Map<string, Bridge>([[bridge.name, bridge]]);
  const peerErrors: NetPeerError[] = [];
  const startNetback = (): Netback => {
    const nb = createNetback({ dom0: toolstack.dom0, xs: toolstack.xs, clock, bridges: (n) => bridges.get(n) }, options.netback);
    nb.onPeerError((e) => peerErrors.push(e));
    return nb;
  };
  let netback = startNetback();
  const guests: XenNetworkGuest[] = [];
  const count = options.guests ?? 2;
  for (let i = 0; i < count; i++) {
    const settled = await settle(clock, toolstack.createDomain({ name: options.guestName?.(i) ?? `domU-${i + 1}` }));
    if (!settled.ok) return err(`createDomain: ${settled.error}`);
    const guest = settled.value;
    const bridgeName = options.bridge?.(i) ?? bridge.name;
    if (!bridges.has(bridgeName)) bridges.set(bridgeName, createBridge({ clock }, { name: bridgeName }));
    const vif = await settle(clock, toolstack.addVif(guest.id, { mac: 0x00163e000000 + guest.id, bridge: bridgeName }));
    if (!vif.ok) return err(`addVif: ${vif.error}`);
    const nf = await settle(clock, createNetfront({ domain: guest.domain, xs: guest.xs, clock }, options.netfront));
    if (!nf.ok) return err(`createNetfront: ${nf.error}`);
    nf.value.onPeerError((e) => peerErrors.push(e));
    const stackOptions = options.stack?.(i, guest) ?? { name: guest.name, ipv4: { cidr: `192.0.2.${i + 1}/24` } };
    const stack = createStack({ device: nf.value, clock, rng }, stackOptions);
    guests.push({ guest, vif: vif.value, netfront: nf.value, stack });
  }
  const waitConnected = async (timeoutMs = options.connectTimeoutMs ?? 10_000): Promise<boolean> => {
    const until = clock.now() + timeoutMs;
    return pumpUntil(clock, () => guests.every((g) => g.netfront.connected), { untilMs: until });
  };
  if (!(await waitConnected())) return err("handshake did not complete");
  return ok({
    toolstack,
    bridge,
    bridges,
    get netback() {
      return netback;
    },
    guests,
    peerErrors,
    restartNetback() {
      netback.crash();
      netback = startNetback();
    },
    waitConnected,
  });
}

function settle<T>(clock: VirtualClock, p: Promise<T>): Promise<T> {
  return settleByPumping(clock, p, { what: "xen network setup", code: "ERR_NETLAB_XEN_SETUP" });
}
