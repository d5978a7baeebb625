// The Xen path of `netlab attach --xen`: a simulated hypervisor on the real clock with dom0
// running netback and a learning bridge, one domU with a netfront, and a real link (the tap)
// attached to the bridge as a port. The stack goes on the returned netfront, so frames travel
// kernel ⇄ tap ⇄ bridge ⇄ netback ⇄ rings ⇄ netfront ⇄ stack.
//   withImmediateTimers(clock)       a RealClock whose already-due timers run on setImmediate
//                                    (event-channel upcalls and ring kicks are "due now"; a
//                                    setTimeout(0) would cost a millisecond each)
//   startXenAttachment(deps, opts)   builds dom0 + bridge + netback + domU + netfront, waits for
//                                    the handshake; close() tears it down in Linux's order
import type { NetDevice } from "../../stack/link/types.ts";
import type { Rng, TimerId } from "../../stack/time.ts";
import type { MacAddress } from "../../stack/wire/address.ts";
import { createBridge, type Bridge, type BridgePort } from "../../xen-sim/net/bridge.ts";
import { createNetback } from "../../xen-sim/net/netback.ts";
import { createNetfront } from "../../xen-sim/net/netfront.ts";
import type { Netback, Netfront, NetfrontOptions, NetPeerError } from "../../xen-sim/net/types.ts";
import { createToolstack } from "../../xen-sim/toolstack/toolstack.ts";
import type { DeviceInfo, GuestDomain, Toolstack } from "../../xen-sim/toolstack/types.ts";
import type { RealClock } from "../time/real-clock.ts";
import { NetlabError } from "../../stack/error.ts";

/** Wraps a real clock: timers due now (or in the past) run from setImmediate, later ones from `clock`. */
export function withImmediateTimers(clock: RealClock): RealClock {
  const immediates = new Map<TimerId, NodeJS.Immediate>();
  const inner = new Map<TimerId, TimerId>();
  let nextId = 1;
  return {
    epochMs: clock.epochMs,
    now: () => clock.now(),
    setTimer(at, fn) {
      const id = nextId++;
      if (at <= clock.now()) {
        immediates.set(
          id,
          setImmediate(() => {
            immediates.delete(id);
            fn();
          }),
        );
      } else {
        inner.set(
          id,
          clock.setTimer(at, () => {
            inner.delete(id);
            fn();
          }),
        );
      }
      return id;
    },
    cancel(id) {
      const im = immediates.get(id);
      if (im !== undefined) {
        clearImmediate(im);
        immediates.delete(id);
        return;
      }
      const t = inner.get(id);
      if (t !== undefined) {
        clock.cancel(t);
        inner.delete(id);
      }
    },
    pending: () => immediates.size + inner.size,
    close() {
      for (const im of immediates.values()) clearImmediate(im);
      immediates.clear();
      for (const t of inner.values()) clock.cancel(t);
      inner.clear();
    },
  };
}

/** Options of startXenAttachment(). */
export interface XenAttachmentOptions {
  /** The domU's MAC (written as the vif's `mac`; default 00:16:3e:00:00:<domid>, Xen's OUI). */
  readonly mac?: MacAddress;
  /** Options of the netfront (offloads toward the stack, ring buffers...). */
  readonly netfront?: NetfrontOptions;
  /** Bridge name (default "xenbr0"). */
  readonly bridgeName?: string;
  /** Name of the link's bridge port (default "tap"). */
  readonly linkPortName?: string;
  /** Give up the xenbus handshake after this long (default 10 s). */
  readonly connectTimeoutMs?: number;
  /** Guest memory in pages (default: the toolstack's 4096). */
  readonly guestMaxPages?: number;
}

/** A running Xen attachment. */
export interface XenAttachment {
  readonly toolstack: Toolstack;
  readonly bridge: Bridge;
  readonly netback: Netback;
  readonly guest: GuestDomain;
  readonly vif: DeviceInfo;
  /** The domU's device: give it to the stack. */
  readonly netfront: Netfront;
  /** The bridge port of the real link. */
  readonly linkPort: BridgePort;
  /** Every protocol violation either driver reported. */
  readonly peerErrors: readonly NetPeerError[];
  /** Flat counters: "netfront.*", "netback.*" (the vif), "bridge.*", "bridge.link.*" and "bridge.link.drops.<reason>". */
  counters(): Record<string, number>;
  /** Netfront closes (Closing/Closed with the backend), netback unloads, the link leaves the bridge, the domain goes. */
  close(): Promise<void>;
}

/** Stable codes of startXenAttachment's errors. */
export type XenAttachErrorCode = "XEN_ATTACH_SETUP" | "XEN_ATTACH_HANDSHAKE";

function xenError(code: XenAttachErrorCode, message: string): NetlabError {
  return new NetlabError(code, message);
}

function prefixed(prefix: string, record: object): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(record)) if (typeof v === "number") out[`${prefix}.${k}`] = v;
  return out;
}

/** Builds dom0 (netback, bridge with `link` as a port) and a domU with a connected netfront. */
export async function startXenAttachment(
  deps: { readonly clock: RealClock; readonly rng: Rng; readonly link: NetDevice },
  options: XenAttachmentOptions = {},
): Promise<XenAttachment> {
  const { clock, rng, link } = deps;
  const toolstack = createToolstack({ clock, rng }, options.guestMaxPages === undefined ? {} : { guestMaxPages: options.guestMaxPages });
  const bridge = createBridge({ clock }, { name: options.bridgeName ?? "xenbr0" });
  const peerErrors: NetPeerError[] = [];
  const netback = createNetback({ dom0: toolstack.dom0, xs: toolstack.xs, clock, bridges: (n) => (n === bridge.name ? bridge : undefined) });
  netback.onPeerError((e) => peerErrors.push(e));
  const linkPort = bridge.attach(link, { name: options.linkPortName ?? "tap" });
  let guest: GuestDomain | undefined;
  let netfront: Netfront | undefined;
  const teardown = async (): Promise<void> => {
    const bounded = <T>(p: Promise<T>, ms: number): Promise<T | undefined> =>
      Promise.race([p, new Promise<undefined>((r) => setTimeout(() => r(undefined), ms).unref())]);
    if (netfront !== undefined)
      await bounded(
        netfront.close().catch(() => undefined),
        3000,
      );
    await bounded(
      netback.shutdown().catch(() => undefined),
      3000,
    );
    linkPort.detach();
    if (guest !== undefined)
      await bounded(
        toolstack.destroyDomain(guest.id).catch(() => undefined),
        2000,
      );
  };
  try {
    const created = await toolstack.createDomain({ name: "netlab-domU" });
    if (!created.ok) throw xenError("XEN_ATTACH_SETUP", `creating the domU failed: ${created.error}`);
    guest = created.value;
    const vif = await toolstack.addVif(guest.id, { mac: options.mac ?? 0x00163e000000 + guest.id, bridge: bridge.name });
    if (!vif.ok) throw xenError("XEN_ATTACH_SETUP", `adding the vif failed: ${vif.error}`);
    const nf = await createNetfront({ domain: guest.domain, xs: guest.xs, clock }, options.netfront);
    if (!nf.ok) throw xenError("XEN_ATTACH_SETUP", `creating the netfront failed: ${nf.error}`);
    netfront = nf.value;
    netfront.onPeerError((e) => peerErrors.push(e));
    const timeoutMs = options.connectTimeoutMs ?? 10_000;
    const deadline = clock.now() + timeoutMs;
    while (!netfront.connected) {
      if (clock.now() > deadline)
        throw xenError("XEN_ATTACH_HANDSHAKE", `the netfront/netback handshake did not complete within ${timeoutMs} ms (frontend state ${netfront.state})`);
      await new Promise((r) => setTimeout(r, 2));
    }
    const front = netfront;
    const domU = guest;
    return {
      toolstack,
      bridge,
      netback,
      guest: domU,
      vif: vif.value,
      netfront: front,
      linkPort,
      peerErrors,
      counters() {
        const v = netback.vif(domU.id, vif.value.devid);
        return {
          ...prefixed("netfront", front.stats()),
          ...(v === undefined ? {} : prefixed("netback", v.stats())),
          ...prefixed("bridge", bridge.stats()),
          ...prefixed("bridge.link", linkPort.stats()),
          ...prefixed("bridge.link.drops", linkPort.stats().drops),
          "xen.peerErrors": peerErrors.length,
        };
      },
      close: teardown,
    };
  } catch (e) {
    await teardown();
    throw e;
  }
}
