// A learning Ethernet bridge (Linux's `brctl` bridge, IEEE 802.1D without STP) joining the
// vifs of several domains and any other NetDevice (a simulated link port, a tap). The bridge is
// the "host" of every attached device: it receives what the device receives and calls
// device.send() to put frames out of it. Egress respects each device's offloads: a GSO frame
// leaving through a device without tso (or bigger than its maxGsoFrame) is segmented with
// complete checksums; a csumBlank frame leaving through a device without txChecksum gets its
// checksum completed first. A non-GSO frame longer than the egress device's MTU + 18 (Ethernet
// header and one VLAN tag) is dropped, as Linux's bridge does (br_dev_queue_push_xmit:
// is_skb_forwardable; a GSO frame passes whatever its length). Every drop is counted by its
// reason on the egress port. Flooded copies are separate buffers.
//   createBridge(deps, options)   the bridge; attach(device) returns a BridgePort

import type { Frame, NetDevice } from "../../stack/link/types.ts";
import { completeChecksum } from "../../stack/link/checksum-offload.ts";
import type { Clock } from "../../stack/time.ts";
import { isMulticastMac, readMac, type MacAddress } from "../../stack/wire/address.ts";
import { segmentTcpv4 } from "./gso.ts";

/** Options of createBridge. */
export interface BridgeOptions {
  readonly name?: string;
  /** Idle time after which a learned MAC is forgotten (default 300 s, 802.1D). */
  readonly agingMs?: number;
  /** MAC table capacity (default 1024); the least recently seen entry goes when full. */
  readonly maxMacEntries?: number;
}

/** Why the bridge dropped a frame on its way out of a port. */
export type BridgeDropReason =
  /** Not GSO and longer than the device's MTU + 18 (Linux: is_skb_forwardable). */
  | "over-mtu"
  /** GSO for a device without TSO (or over its maxGsoFrame) and not segmentable (not TCPv4). */
  | "unsegmentable"
  /** csumBlank for a device without txChecksum and its checksum cannot be completed. */
  | "uncompletable";

/** Bytes a frame may exceed the MTU by: the Ethernet header and one VLAN tag (ETH_HLEN + VLAN_HLEN). */
export const BRIDGE_FRAME_OVERHEAD = 18;

/** Counters of one port (rx = frames the bridge took from the device). */
export interface BridgePortStats {
  readonly name: string;
  rxFrames: number;
  txFrames: number;
  /** GSO frames segmented on the way out of this port. */
  segmented: number;
  /** csumBlank frames completed on the way out of this port. */
  checksumsCompleted: number;
  /** Frames dropped on the way out of this port, whatever the reason (the sum of `drops`). */
  dropped: number;
  /** The same drops by reason. */
  readonly drops: Record<BridgeDropReason, number>;
}

/** Bridge-wide counters. */
export interface BridgeStats {
  received: number;
  forwarded: number;
  flooded: number;
  filtered: number;
  runts: number;
  learned: number;
  aged: number;
  evicted: number;
}

/** One attached device. */
export interface BridgePort {
  readonly name: string;
  readonly device: NetDevice;
  /** Removes the port; its MAC entries are forgotten. */
  detach(): void;
  stats(): Readonly<BridgePortStats>;
}

/** The bridge. */
export interface Bridge {
  readonly name: string;
  attach(device: NetDevice, options?: { readonly name?: string }): BridgePort;
  ports(): BridgePort[];
  /** Port name a MAC was learned on, if any (and not aged). */
  lookup(mac: MacAddress): string | undefined;
  stats(): Readonly<BridgeStats>;
}

interface PortState {
  readonly port: BridgePort;
  readonly device: NetDevice;
  readonly stats: BridgePortStats;
  attached: boolean;
}

/** Creates a bridge. */
export function createBridge(deps: { readonly clock: Clock }, options: BridgeOptions = {}): Bridge {
  const name = options.name ?? "xenbr0";
  const agingMs = options.agingMs ?? 300_000;
  const maxEntries = options.maxMacEntries ?? 1024;
  const ports: PortState[] = [];
  const table = new Map<MacAddress, { port: PortState; lastSeen: number }>();
  const stats: BridgeStats = { received: 0, forwarded: 0, flooded: 0, filtered: 0, runts: 0, learned: 0, aged: 0, evicted: 0 };
  let nextIndex = 0;

  const drop = (p: PortState, reason: BridgeDropReason): void => {
    p.stats.dropped++;
    p.stats.drops[reason]++;
  };

  const output = (p: PortState, frame: Frame, copy: boolean): void => {
    const off = frame.offload;
    const offloads = p.device.offloads;
    const gso = off?.gsoSize ?? 0;
    // Linux br_dev_queue_push_xmit -> is_skb_forwardable: len <= mtu + hard_header_len + VLAN_HLEN,
    // or GSO (its segments are sized by gso_size, not by this check).
    if (gso === 0 && frame.data.length > p.device.mtu + BRIDGE_FRAME_OVERHEAD) {
      drop(p, "over-mtu");
      return;
    }
    if (gso > 0 && !(offloads.tso && frame.data.length <= offloads.maxGsoFrame)) {
      const r = segmentTcpv4(frame.data, gso, (seg) => {
        p.stats.txFrames++;
        p.device.send({ data: seg });
      });
      if (r.ok) p.stats.segmented++;
      else drop(p, "unsegmentable");
      return;
    }
    if (off?.csumBlank === true && !offloads.txChecksum) {
      const data = copy ? frame.data.slice() : frame.data;
      if (!completeChecksum(data).ok) {
        drop(p, "uncompletable");
        return;
      }
      p.stats.checksumsCompleted++;
      p.stats.txFrames++;
      p.device.send({ data });
      return;
    }
    p.stats.txFrames++;
    p.device.send(copy ? { data: frame.data.slice(), ...(off === undefined ? {} : { offload: off }) } : frame);
  };

  const ingress = (from: PortState, frame: Frame): void => {
    if (!from.attached) return;
    from.stats.rxFrames++;
    stats.received++;
    const data = frame.data;
    if (data.length < 14) {
      stats.runts++;
      return;
    }
    const now = deps.clock.now();
    const src = readMac(data, 6);
    if (!isMulticastMac(src)) {
      const e = table.get(src);
      if (e === undefined) {
        if (table.size >= maxEntries) {
          const oldest = table.keys().next();
          if (!oldest.done) table.delete(oldest.value);
          stats.evicted++;
        }
        stats.learned++;
      } else {
        table.delete(src);
      }
      table.set(src, { port: from, lastSeen: now });
    }
    const dst = readMac(data, 0);
    if (!isMulticastMac(dst)) {
      const e = table.get(dst);
      if (e !== undefined && now - e.lastSeen > agingMs) {
        table.delete(dst);
        stats.aged++;
      } else if (e !== undefined && e.port.attached) {
        if (e.port === from) {
          stats.filtered++;
          return;
        }
        stats.forwarded++;
        output(e.port, frame, false);
        return;
      }
    }
    stats.flooded++;
    const out = ports.filter((p) => p !== from && p.attached);
    for (let i = 0; i < out.length; i++) output(out[i]!, frame, i < out.length - 1);
  };

  return {
    name,
    attach(device, o = {}) {
      const portName = o.name ?? `${name}-port${nextIndex}`;
      nextIndex++;
      const st: BridgePortStats = {
        name: portName,
        rxFrames: 0,
        txFrames: 0,
        segmented: 0,
        checksumsCompleted: 0,
        dropped: 0,
        drops: { "over-mtu": 0, unsegmentable: 0, uncompletable: 0 },
      };
      const state: PortState = {
        device,
        stats: st,
        attached: true,
        port: {
          name: portName,
          device,
          detach() {
            if (!state.attached) return;
            state.attached = false;
            ports.splice(ports.indexOf(state), 1);
            for (const [mac, e] of table) if (e.port === state) table.delete(mac);
            device.onReceive(() => {});
          },
          stats: () => st,
        },
      };
      ports.push(state);
      device.onReceive((f) => ingress(state, f));
      return state.port;
    },
    ports: () => ports.map((p) => p.port),
    lookup(mac) {
      const e = table.get(mac);
      return e !== undefined && deps.clock.now() - e.lastSeen <= agingMs ? e.port.port.name : undefined;
    },
    stats: () => stats,
  };
}
