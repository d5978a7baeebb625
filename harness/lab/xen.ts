// Xen hosts of a lab topology ("implementation": "xen"): in virtual time one simulated Xen machine
// for the whole run, built by buildXenNetwork (xen-sim/net/network.ts), on the run's VirtualClock
// (in real time, beside linux hosts, one per host on the real clock). Each xen host
// is a domU running netlab's stack on a netfront; dom0 runs netback and, per xen host, a bridge
// (xenbr-<node>) joining the domU's vif with the host's end of its lab link (dom0's NIC on that
// network). Frames go stack -> netfront -> grant-table rings and event channels -> netback (vif) ->
// bridge -> lab link, and back. Same seed, same events: the handshake and the data path run on the
// virtual clock only.
//   buildLabXenHosts(deps, specs)    virtual time: one Xen machine (buildXenNetwork) for all
//   attachLabXenHosts(deps, specs)   real time (a topology with linux hosts): a Xen machine per
//                                    host on the real clock (startXenAttachment, as attach --xen)
import { createStack, type Stack } from "../../stack/index.ts";
import type { NetDevice } from "../../stack/link/types.ts";
import type { Clock, Rng, VirtualClock } from "../../stack/time.ts";
import { NetlabError } from "../../stack/error.ts";
import { buildXenNetwork } from "../../xen-sim/net/network.ts";
import type { BridgePort } from "../../xen-sim/net/bridge.ts";
import type { Netfront, NetbackVif } from "../../xen-sim/net/types.ts";
import { startXenAttachment, withImmediateTimers, type XenAttachment } from "../xen/attach-xen.ts";
import { createRealClock } from "../time/real-clock.ts";

/** A xen host to build: its node name, lab link end and addresses. */
export interface LabXenHostSpec {
  readonly name: string;
  /** The node's interface name: the bridge port of the lab link end carries it. */
  readonly interfaceName: string;
  /** The node's end of its lab link (dom0's NIC on the bridge). */
  readonly device: NetDevice;
  readonly cidr: string;
  readonly gateway?: string;
}

/** Counters of one xen host after a run. */
export interface XenHostReport {
  readonly name: string;
  readonly domid: number;
  /** "vif<domid>.<devid>", the backend device as dom0 names it. */
  readonly vif: string;
  readonly bridge: string;
  readonly mac: string;
  /** Frames and bytes the domU's netfront sent (tx) and took in (rx), and its drops. */
  readonly netfront: {
    readonly txFrames: number;
    readonly txBytes: number;
    readonly rxFrames: number;
    readonly rxBytes: number;
    readonly txDropped: number;
    readonly rxDropped: number;
  };
  /** The vif in dom0: frames taken from the guest (tx) and delivered into it (rx). */
  readonly netback: {
    readonly txFrames: number;
    readonly txBytes: number;
    readonly rxFrames: number;
    readonly rxBytes: number;
    readonly txErrors: number;
    readonly rxDropped: number;
  };
  /** The lab link's bridge port: frames into the lab (tx) and from it (rx); GSO frames segmented and checksums completed for the link. */
  readonly linkPort: {
    readonly rxFrames: number;
    readonly txFrames: number;
    readonly segmented: number;
    readonly checksumsCompleted: number;
    readonly dropped: number;
  };
}

/** The xen part of a lab report. */
export interface XenReport {
  readonly hosts: readonly XenHostReport[];
  /** Protocol violations either driver reported ("dom<id> vif <devid>: reason"); none in a healthy run. */
  readonly peerErrors: readonly string[];
}

/** The built xen hosts. */
export interface LabXenHosts {
  /** The domU's stack per node name. */
  readonly stacks: ReadonlyMap<string, Stack>;
  report(): XenReport;
  /** Closes the netfronts and netbacks and destroys the domains (real time; nothing to do in virtual time). */
  close(): Promise<void>;
}

/** One host's parts, as either builder has them. */
interface HostParts {
  readonly domid: number;
  readonly devid: number;
  readonly netfront: Netfront;
  vif(): NetbackVif | undefined;
  readonly port: BridgePort;
}

function hostReport(s: LabXenHostSpec, h: HostParts): XenHostReport {
  const nf = h.netfront.stats();
  const nb = h.vif()?.stats();
  const port = h.port.stats();
  return {
    name: s.name,
    domid: h.domid,
    vif: `vif${h.domid}.${h.devid}`,
    bridge: `xenbr-${s.name}`,
    mac: hexMac(h.netfront.mac),
    netfront: { txFrames: nf.txFrames, txBytes: nf.txBytes, rxFrames: nf.rxFrames, rxBytes: nf.rxBytes, txDropped: nf.txDropped, rxDropped: nf.rxDropped },
    netback: {
      txFrames: nb?.txFrames ?? 0,
      txBytes: nb?.txBytes ?? 0,
      rxFrames: nb?.rxFrames ?? 0,
      rxBytes: nb?.rxBytes ?? 0,
      txErrors: nb?.txErrors ?? 0,
      rxDropped: nb?.rxDropped ?? 0,
    },
    linkPort: {
      rxFrames: port.rxFrames,
      txFrames: port.txFrames,
      segmented: port.segmented,
      checksumsCompleted: port.checksumsCompleted,
      dropped: port.dropped,
    },
  };
}

const formatPeerError = (e: { domid: number; devid: number; reason: string; detail?: string; fatal: boolean }): string =>
  `dom${e.domid} vif ${e.devid}: ${e.reason}${e.detail === undefined ? "" : ` (${e.detail})`}${e.fatal ? ", disconnected" : ""}`;

const stackOptions = (s: LabXenHostSpec) => ({ name: s.name, ipv4: s.gateway === undefined ? { cidr: s.cidr } : { cidr: s.cidr, gateway: s.gateway } });

const hexMac = (mac: number): string =>
  Array.from({ length: 6 }, (_, i) => Math.floor(mac / 2 ** (8 * (5 - i))) % 256)
    .map((b) => b.toString(16).padStart(2, "0"))
    .join(":");

/**
 * Builds dom0 (netback, a bridge per xen host with its lab link end as a port) and a domU per
 * xen host with a connected netfront and a stack on it. Throws ERR_NETLAB_LAB_XEN when the
 * toolstack or the xenbus handshake fails.
 */
export async function buildLabXenHosts(deps: { readonly clock: VirtualClock; readonly rng: Rng }, specs: readonly LabXenHostSpec[]): Promise<LabXenHosts> {
  const built = await buildXenNetwork(deps, {
    guests: specs.length,
    guestName: (i) => specs[i]!.name,
    bridge: (i) => `xenbr-${specs[i]!.name}`,
    stack: (i) => stackOptions(specs[i]!),
  });
  if (!built.ok) throw new NetlabError("ERR_NETLAB_LAB_XEN", `building the xen hosts (${specs.map((s) => s.name).join(", ")}) failed: ${built.error}`);
  const network = built.value;
  const ports: BridgePort[] = specs.map((s) => network.bridges.get(`xenbr-${s.name}`)!.attach(s.device, { name: s.interfaceName }));
  const stacks = new Map(specs.map((s, i) => [s.name, network.guests[i]!.stack] as const));
  const parts = specs.map((_, i): HostParts => {
    const g = network.guests[i]!;
    return { domid: g.guest.id, devid: g.vif.devid, netfront: g.netfront, vif: () => network.netback.vif(g.guest.id, g.vif.devid), port: ports[i]! };
  });
  return {
    stacks,
    report: () => ({ hosts: specs.map((s, i) => hostReport(s, parts[i]!)), peerErrors: network.peerErrors.map(formatPeerError) }),
    close: async () => undefined,
  };
}

/**
 * Real time (a topology that also has linux hosts): per xen host a Xen machine on the real clock
 * (startXenAttachment: dom0 with netback and the bridge xenbr-<node> holding the lab link end,
 * a domU with a connected netfront). withStacks(clock) then puts the stacks on the netfronts, on the
 * run's clock once its time 0 is set (the machines take a while to boot, the stacks must not see
 * time go back). The domUs' MACs are 00:16:3e:00:00:<index+1>, distinct across the machines.
 * Throws ERR_NETLAB_LAB_XEN (after closing what was built) when a handshake fails.
 */
export async function attachLabXenHosts(
  deps: { readonly rng: Rng },
  specs: readonly LabXenHostSpec[],
): Promise<{ close(): Promise<void>; withStacks(clock: Clock): LabXenHosts }> {
  const attached: { att: XenAttachment; close(): void }[] = [];
  const closeAll = async (): Promise<void> => {
    await Promise.all(
      attached.map(async (a) => {
        await a.att.close().catch(() => undefined);
        a.close();
      }),
    );
  };
  try {
    for (const [i, s] of specs.entries()) {
      const real = createRealClock();
      const clock = withImmediateTimers(real);
      const att = await startXenAttachment(
        { clock, rng: deps.rng, link: s.device },
        { mac: 0x00163e000000 + i + 1, bridgeName: `xenbr-${s.name}`, linkPortName: s.interfaceName },
      ).catch((e: unknown) => {
        clock.close();
        real.close();
        throw e;
      });
      attached.push({
        att,
        close: () => {
          clock.close();
          real.close();
        },
      });
    }
  } catch (e) {
    await closeAll();
    throw new NetlabError("ERR_NETLAB_LAB_XEN", `attaching the xen hosts (${specs.map((s) => s.name).join(", ")}) failed: ${(e as Error).message}`);
  }
  const parts = attached.map(
    ({ att }): HostParts => ({
      domid: att.guest.id,
      devid: att.vif.devid,
      netfront: att.netfront,
      vif: () => att.netback.vif(att.guest.id, att.vif.devid),
      port: att.linkPort,
    }),
  );
  return {
    close: closeAll,
    withStacks: (clock) => ({
      stacks: new Map(specs.map((s, i) => [s.name, createStack({ device: attached[i]!.att.netfront, clock, rng: deps.rng }, stackOptions(s))] as const)),
      report: () => ({ hosts: specs.map((s, i) => hostReport(s, parts[i]!)), peerErrors: attached.flatMap(({ att }) => att.peerErrors.map(formatPeerError)) }),
      close: closeAll,
    }),
  };
}
