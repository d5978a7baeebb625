// A simulated learning Ethernet switch (IEEE 802.1D transparent bridging without STP).
// Each port is a NetDevice for the host plugged into it, with impairments per direction.
// The switch learns source MACs per port (entries age out after agingMs, the table holds
// at most maxMacEntries and evicts the oldest), forwards known unicast to its port,
// filters frames whose destination sits on the ingress port, and floods unknown unicast,
// multicast and broadcast to every other port. Flooded copies are separate buffers.
// Ports offer no offloads unless txChecksum is asked for (see impairments.ts).
import type { DeviceCounters, Frame, NetDevice } from "./types.ts";
import { isMulticastMac, readMac } from "../wire/address.ts";
import type { MacAddress } from "../wire/address.ts";
import { countersOf, createImpairedChannel, misuse } from "./impairments.ts";
import { offloadsOf } from "./point-to-point.ts";
import type { ImpairedChannel, ImpairmentOptions, ImpairmentStats, LinkDeps } from "./impairments.ts";

/** Switch-wide options. */
export interface SwitchOptions {
  /** Idle time after which a learned MAC is forgotten (802.1D default 300 s). */
  readonly agingMs?: number;
  /** MAC table capacity (default 1024); the oldest entry is evicted when full. */
  readonly maxMacEntries?: number;
}

/** One port: the NIC of the host plugged into it. */
export interface SwitchPortOptions {
  /** MAC of the host's NIC (what the stack on this port uses as its own). */
  readonly mac: MacAddress;
  /** IP MTU of the port (default 1500). */
  readonly mtu?: number;
  /** Name shown in stats (default "portN"). */
  readonly name?: string;
  /** Offer checksum offload: the port completes csumBlank checksums of frames the host sends. */
  readonly txChecksum?: boolean;
  /** Impairments of frames from the host into the switch. */
  readonly toSwitch?: ImpairmentOptions;
  /** Impairments of frames from the switch to the host. */
  readonly fromSwitch?: ImpairmentOptions;
}

/** Counters of one port, from the host's point of view (tx = sent by the host). */
export interface SwitchPortStats extends DeviceCounters {
  readonly name: string;
  readonly index: number;
  /** Frames the switch flooded out of this port. */
  flooded: number;
  readonly toSwitch: Readonly<ImpairmentStats>;
  readonly fromSwitch: Readonly<ImpairmentStats>;
}

/** A port as a NetDevice plus its stats. */
export interface SwitchPort extends NetDevice {
  readonly name: string;
  readonly index: number;
  stats(): SwitchPortStats;
  /** Unplugs (false) or replugs (true) the cable: frames in either direction are dropped while down. */
  setLinkUp(up: boolean): void;
}

/** Switch-wide counters. */
export interface SwitchStats {
  /** Frames that reached the switch fabric. */
  received: number;
  forwarded: number;
  flooded: number;
  /** Destination is on the ingress port. */
  filtered: number;
  /** Shorter than an Ethernet header. */
  runts: number;
  learned: number;
  aged: number;
  evicted: number;
  /** Source MAC seen on a different port than before. */
  moved: number;
}

/** A learned MAC table entry. */
export interface MacTableEntry {
  readonly mac: MacAddress;
  readonly port: number;
  readonly lastSeen: number;
}

/** The switch. */
export interface Switch {
  addPort(options: SwitchPortOptions): SwitchPort;
  readonly ports: readonly SwitchPort[];
  /** Live (not aged) MAC table entries. */
  macTable(): MacTableEntry[];
  readonly stats: Readonly<SwitchStats>;
  /** Frames accepted by some port channel and not yet delivered. */
  inFlight(): number;
}

const ETHERNET_HEADER_LEN = 14;

interface PortState {
  readonly device: SwitchPort;
  readonly toSwitch: ImpairedChannel;
  readonly fromSwitch: ImpairedChannel;
  flooded: number;
}

/** Creates a learning switch. */
export function createSwitch(deps: LinkDeps, options: SwitchOptions = {}): Switch {
  const agingMs = options.agingMs ?? 300_000;
  const maxEntries = options.maxMacEntries ?? 1024;
  if (!(agingMs > 0)) throw misuse("switch agingMs must be > 0");
  if (!(Number.isInteger(maxEntries) && maxEntries >= 1)) throw misuse("switch maxMacEntries must be an integer >= 1");
  const { clock } = deps;
  const ports: PortState[] = [];
  const devices: SwitchPort[] = [];
  const table = new Map<MacAddress, { port: number; lastSeen: number }>();
  const stats: SwitchStats = { received: 0, forwarded: 0, flooded: 0, filtered: 0, runts: 0, learned: 0, aged: 0, evicted: 0, moved: 0 };

  const lookup = (mac: MacAddress, now: number): number | undefined => {
    const e = table.get(mac);
    if (e === undefined) return undefined;
    if (now - e.lastSeen >= agingMs) {
      table.delete(mac);
      stats.aged++;
      return undefined;
    }
    return e.port;
  };

  const learn = (mac: MacAddress, port: number, now: number): void => {
    const e = table.get(mac);
    if (e !== undefined) {
      if (e.port !== port) stats.moved++;
      table.delete(mac);
    } else {
      stats.learned++;
      if (table.size >= maxEntries) {
        const oldest = table.keys().next();
        if (oldest.done !== true) {
          table.delete(oldest.value);
          stats.evicted++;
        }
      }
    }
    table.set(mac, { port, lastSeen: now });
  };

  const fabric = (ingress: number, frame: Frame): void => {
    stats.received++;
    const data = frame.data;
    if (data.length < ETHERNET_HEADER_LEN) {
      stats.runts++;
      return;
    }
    const now = clock.now();
    const dst = readMac(data, 0);
    const src = readMac(data, 6);
    if (!isMulticastMac(src)) learn(src, ingress, now);
    const out = isMulticastMac(dst) ? undefined : lookup(dst, now);
    if (out !== undefined) {
      if (out === ingress) {
        stats.filtered++;
        return;
      }
      stats.forwarded++;
      ports[out]!.fromSwitch.offer(frame);
      return;
    }
    stats.flooded++;
    let first = true;
    for (let i = 0; i < ports.length; i++) {
      if (i === ingress) continue;
      const p = ports[i]!;
      p.flooded++;
      p.fromSwitch.offer(first ? frame : { data: data.slice() });
      first = false;
    }
  };

  const addPort = (o: SwitchPortOptions): SwitchPort => {
    const index = ports.length;
    const name = o.name ?? `port${index}`;
    const mtu = o.mtu ?? 1500;
    if (!(mtu >= 68)) throw misuse("switch port MTU must be >= 68 (RFC 791)");
    let handler: (f: Frame) => void = () => {};
    const toSwitch = createImpairedChannel(deps, { mtu, ...o.toSwitch }, (f) => fabric(index, f), { completeChecksums: o.txChecksum === true });
    const fromSwitch = createImpairedChannel(deps, { mtu, ...o.fromSwitch }, (f) => handler(f));
    const state: PortState = {
      toSwitch,
      fromSwitch,
      flooded: 0,
      device: {
        name,
        index,
        mac: o.mac,
        mtu,
        offloads: offloadsOf(o),
        send: (f) => toSwitch.offer(f),
        onReceive(h) {
          handler = h;
        },
        setLinkUp(up) {
          toSwitch.setLinkUp(up);
          fromSwitch.setLinkUp(up);
        },
        stats: () => ({
          name,
          index,
          flooded: state.flooded,
          ...countersOf(toSwitch.stats, fromSwitch.stats),
          toSwitch: toSwitch.stats,
          fromSwitch: fromSwitch.stats,
        }),
      },
    };
    ports.push(state);
    devices.push(state.device);
    return state.device;
  };

  return {
    addPort,
    ports: devices,
    macTable() {
      const now = clock.now();
      const out: MacTableEntry[] = [];
      for (const [mac, e] of table) if (now - e.lastSeen < agingMs) out.push({ mac, port: e.port, lastSeen: e.lastSeen });
      return out;
    },
    stats,
    inFlight: () => ports.reduce((n, p) => n + p.toSwitch.inFlight() + p.fromSwitch.inFlight(), 0),
  };
}
