// runLab(): builds a validated topology of netlab nodes (hosts are createStack, routers are
// createRouter; xen hosts are domUs with netlab's stack on a netfront, see xen.ts) joined by
// point-to-point links with impairments and queue disciplines, runs its flows on one VirtualClock
// from a seed (linux hosts: real time, see linux.ts), and reports per-flow goodput over time, RTT and cwnd
// samples, retransmissions, per-queue statistics and Jain's fairness index; with outDir it writes
// a pcapng per link (seen from its first endpoint: both directions), report.json, summary.txt
// and two SVG charts (goodput per flow, queueing delay per busy queue over time).
// A "dhcp" host leases from the DHCP server on an interface of its segment (a netlab host's stack,
// or UDP over a router interface's own IPv4); its flows start once it is bound.
// Same topology and seed -> same report and the same capture bytes.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { createStack, type Stack } from "../../stack/index.ts";
import { createRouter, type Router } from "../../stack/router.ts";
import { createBridge, type Bridge } from "../../xen-sim/net/bridge.ts";
import { createPointToPointLink, withCapture, type ImpairmentOptions, type PointToPointLink } from "../../stack/link/index.ts";
import type { NetDevice } from "../../stack/link/types.ts";
import type { QueueStatsSnapshot } from "../../stack/link/qdisc/types.ts";
import { type Clock, createRng, createVirtualClock, type VirtualClock } from "../../stack/time.ts";
import { formatIpv4, parseCidr, parseIpv4, prefixToMask } from "../../stack/wire/address.ts";
import type { TcpStream } from "../../stack/transport/types.ts";
import { createCaptureFile, makeDirectory, type CaptureFile } from "../pcap/files.ts";
import { lineChart } from "./svg.ts";
import { formatSi } from "../report/format.ts";
import { withUnits, type Units } from "../report/json.ts";
import {
  byClock,
  type ClockGoodput,
  goodputOf,
  type HttpFlowReport,
  type HttpServers,
  type LabClock,
  type PingReport,
  type UdpCbrReport,
  startHttpFlow,
  startPingFlow,
  startUdpCbrFlow,
} from "./flows.ts";
import {
  type DhcpPlan,
  parseIpv4Range,
  planDhcp,
  staticIpv6,
  type Topology,
  type TopologyFlow,
  type TopologyInterface,
  type TopologyLink,
  type TopologyNode,
} from "./topology.ts";
import { type Ipv6Address, formatIpv6 } from "../../stack/wire/ipv6-address.ts";
import type { StackIpv6Options } from "../../stack/index.ts";
import { createDhcpServer, type DhcpClient, type DhcpServer, type DhcpServerConfig, dhcpClientOnStack, dhcpServerOnStack } from "../../stack/app/dhcp/index.ts";
import { createUdp } from "../../stack/transport/udp.ts";
import { createRealClock } from "../time/real-clock.ts";
import type { NetnsProcess } from "../netns/index.ts";
import {
  attachLinuxHost,
  linuxSkipReason,
  startIperf3Client,
  startIperf3Server,
  startLinuxBulkSender,
  startLinuxTraceroute,
  type Iperf3Result,
  type LinuxHost,
  type LinuxSenderResult,
} from "./linux.ts";
import { missingTools } from "../netns/index.ts";
import { NetlabError } from "../../stack/error.ts";
import { attachLabXenHosts, buildLabXenHosts, type LabXenHosts, type XenReport } from "./xen.ts";

export interface LabRunOptions {
  /** Overrides the file's seed (default 1). */
  readonly seed?: number;
  /** Write pcapng per link, report.json and summary.txt here. */
  readonly outDir?: string;
  /** Overrides the file's durationMs (tests use shorter runs). */
  readonly durationMs?: number;
  /** Called about once per wall second with a progress line. */
  readonly onProgress?: (line: string) => void;
  /** Ends a real-time run early (Ctrl-C): namespaces and taps are removed, then runLab rejects with ERR_NETLAB_LAB_INTERRUPTED. */
  readonly signal?: AbortSignal;
}

/** One sample of a flow, per sample interval (goodput named by the run's clock). */
export interface FlowSample extends ClockGoodput {
  /** End of the interval, ms since the flow started. */
  readonly t: number;
  readonly cwnd: number;
  readonly srttMs: number;
}

/** What iperf3 itself reported for an iperf3 flow (its -J output, both ends). */
export interface Iperf3FlowDetails {
  readonly version?: string;
  /** The test's length as iperf3 measured it. */
  readonly seconds: number;
  readonly sentBytes: number;
  readonly senderBitsPerSecond: number;
  readonly receiverBitsPerSecond: number;
}

/** A TCP flow: bulk-tcp (netlab's sender, or a linux host's python3 socket) or iperf3 (between two linux hosts). */
export interface FlowReport extends ClockGoodput {
  readonly name: string;
  readonly kind: "bulk-tcp" | "iperf3";
  /** The address family the flow ran over. */
  readonly family: "ipv4" | "ipv6";
  readonly from: string;
  readonly to: string;
  /** The sender's stack: netlab's TCP ("xen": in a domU behind netfront), or the Linux kernel's (a linux host). */
  readonly sender: "netlab" | "xen" | "linux";
  /** As asked for; a Linux sender reports what its socket used in linuxCongestionControl. */
  readonly congestionControl: "cubic" | "newreno" | "bbr";
  readonly linuxCongestionControl?: string;
  /** Why a Linux sender failed (its last stderr line). */
  readonly error?: string;
  readonly startMs: number;
  readonly durationMs: number;
  readonly connected: boolean;
  readonly bytesReceived: number;
  /* ClockGoodput: over the flow's whole duration, on the run's clock (virtual, or wall in a real-time run). */
  /** After the warm-up fraction of its duration, on the same clock. */
  readonly steady: ClockGoodput;
  readonly retransmits: number;
  /** The link directions the flow's data crosses ("link a->b"), traced through the routing tables. */
  readonly path: readonly string[];
  readonly samples: readonly FlowSample[];
  /** An iperf3 flow: iperf3's own totals (the samples are the server's intervals, cwnd and RTT the client's). */
  readonly iperf3?: Iperf3FlowDetails;
}

/** One hop of a traceroute: who answered TTL `ttl` (undefined: nobody within the timeout). */
export interface TracerouteHop {
  readonly ttl: number;
  readonly from?: string;
  readonly rttMs?: number;
  readonly reached: boolean;
}

export interface TracerouteReport {
  readonly name: string;
  readonly from: string;
  readonly to: string;
  readonly hops: readonly TracerouteHop[];
  readonly reached: boolean;
  /** "linux traceroute" when the kernel's traceroute(8) ran it from a linux host; netlab's ICMP echo otherwise. */
  readonly tool?: string;
}

/** Fairness among the flows whose data share one link direction. */
export interface SharedLinkReport {
  /** "link a->b", as in QueueReport.name. */
  readonly name: string;
  readonly flows: readonly string[];
  readonly jainIndex: number;
}

export interface QueueReport {
  /** "link name a->b". */
  readonly name: string;
  readonly link: string;
  readonly from: string;
  readonly to: string;
  readonly rateBitsPerSecond: number;
  readonly stats: QueueStatsSnapshot;
}

/** A host that leased its address by DHCP during the run. */
export interface DhcpLeaseReport {
  readonly host: string;
  /** The serving "node:interface". */
  readonly server: string;
  /** Undefined: no lease by the end. */
  readonly address?: string;
  readonly gateway?: string;
  /** When the lease's time began (the REQUEST, RFC 2131 §4.4.1). */
  readonly acquiredAtMs?: number;
  /** When the client configured the address (after its ARP probe, RFC 5227): its flows start then. */
  readonly boundAtMs?: number;
  readonly leaseSeconds?: number;
  readonly state: string;
}

export interface LinkReport {
  readonly name: string;
  readonly endpoints: readonly [string, string];
  readonly framesDelivered: number;
  readonly queueDrops: number;
  readonly ceMarked: number;
  readonly pcap?: string;
}

export interface LabReport {
  readonly name: string;
  readonly seed: number;
  /** Real time (a linux node in the graph) or virtual time. */
  readonly realTime: boolean;
  readonly virtualSeconds: number;
  readonly wallSeconds: number;
  readonly cpuSeconds: number;
  readonly flows: readonly FlowReport[];
  readonly traceroutes: readonly TracerouteReport[];
  readonly pings: readonly PingReport[];
  readonly udpCbr: readonly UdpCbrReport[];
  readonly http: readonly HttpFlowReport[];
  readonly queues: readonly QueueReport[];
  readonly links: readonly LinkReport[];
  /** Jain's fairness index over the flows' steady-state goodputs (1 = equal shares). */
  readonly jainIndex: number | null;
  /** Jain's index per link direction that two or more flows cross. */
  readonly sharedLinks: readonly SharedLinkReport[];
  readonly routers: Readonly<Record<string, Readonly<Record<string, number>>>>;
  /** With xen hosts: each domU's netfront, its vif in dom0 and the bridge port of its lab link. */
  readonly xen?: XenReport;
  /** With dhcp hosts: each one's lease (flows from it start once it holds one). */
  readonly dhcp?: readonly DhcpLeaseReport[];
  readonly outDir?: string;
}

function configError(message: string): Error {
  return Object.assign(new Error(message), { code: "ERR_NETLAB_TOPOLOGY" });
}

/** The units of LabReport's fields whose names do not carry one (the `units` of `lab run --json` and report.json). */
export const LAB_UNITS: Units = {
  t: "ms",
  cwnd: "B",
  bytesReceived: "B",
  payloadBytes: "B",
  responseBytes: "B",
  bytes: "B",
  lossFraction: "fraction",
  p50: "ms",
  p90: "ms",
  min: "ms",
  max: "ms",
  mean: "ms",
};

/** Jain's fairness index (Σx)² / (n·Σx²); null for no values, 1 when all are zero. */
export function jainIndex(values: readonly number[]): number | null {
  if (values.length === 0) return null;
  const sum = values.reduce((a, b) => a + b, 0);
  const squares = values.reduce((a, b) => a + b * b, 0);
  return squares === 0 ? 1 : (sum * sum) / (values.length * squares);
}

const MAX_EVENTS_PER_SLICE = 2_000_000;
/** Microtask turns let run after each instant with events when HTTP flows exist (the client's callback is one turn away). */
const MICROTASK_TURNS = 4;

const linkName = (l: TopologyLink, i: number): string => l.name ?? `link${i}`;

/** What a run holds outside the process (linux nodes), owned by runLab so that every exit releases it. */
interface RealWorld {
  readonly linuxHosts: Map<string, LinuxHost>;
  readonly processes: NetnsProcess[];
  /** In-process parts to close first (the xen hosts' machines). */
  readonly closers: (() => Promise<void>)[];
  /** Makes now time 0 of the run. */
  restartClock(): void;
}

/**
 * Builds and runs a topology that validateTopology() accepted (a promise: HTTP flows need the
 * microtask queue between events, linux nodes real time). With no linux node the run is in
 * virtual time; with one it is in real time and needs root (ERR_NETLAB_LAB_NEEDS_ROOT otherwise,
 * before anything is built); its namespaces and taps are removed on every exit.
 */
export async function runLab(topology: Topology, options: LabRunOptions = {}): Promise<LabReport> {
  if (!topology.nodes.some((n) => n.implementation === "linux")) return runIn(topology, options, createVirtualClock(), undefined);
  const reason = linuxSkipReason();
  if (reason !== undefined) throw new NetlabError("ERR_NETLAB_LAB_NEEDS_ROOT", `${topology.name}: ${reason}`);
  const missing = (topology.flows ?? []).some((f) => f.kind === "iperf3") ? missingTools(["iperf3", "ss"]) : [];
  if (missing.length > 0)
    throw new NetlabError("ERR_NETLAB_LAB_NEEDS_IPERF3", `${topology.name}: iperf3 flows need ${missing.join(" and ")} (npm run setup installs them)`);
  const real = createRealClock();
  // Time 0 of the run is now: the runner schedules flows at their startMs as in virtual time.
  let t0 = real.now();
  const clock: Clock = { now: () => real.now() - t0, setTimer: (at, fn) => real.setTimer(at + t0, fn), cancel: (id) => real.cancel(id) };
  // Namespaces and taps take a while to set up: time 0 is set again once they are (before any stack exists).
  const world: RealWorld = {
    linuxHosts: new Map(),
    processes: [],
    closers: [],
    restartClock: () => {
      t0 = real.now();
    },
  };
  try {
    return await runIn(topology, options, clock, world);
  } finally {
    await Promise.all(world.closers.map((c) => c().catch(() => undefined)));
    real.close();
    await Promise.all(world.processes.map((p) => p.stop("SIGKILL", 500).catch(() => undefined)));
    await Promise.all([...world.linuxHosts.values()].map((h) => h.close()));
  }
}

async function runIn(topology: Topology, options: LabRunOptions, clock: Clock, world: RealWorld | undefined): Promise<LabReport> {
  const virtual = world === undefined ? (clock as VirtualClock) : undefined;
  const clockKind: LabClock = virtual === undefined ? "wall" : "virtual";
  const seed = options.seed ?? topology.seed ?? 1;
  const duration = options.durationMs ?? topology.durationMs;
  const interval = topology.sampleIntervalMs ?? 100;
  const warmup = topology.warmupFraction ?? 0.2;
  const master = createRng(seed);
  const wall0 = performance.now();
  const cpu0 = process.cpuUsage();
  if (options.outDir !== undefined) makeDirectory(options.outDir);

  // Links: one device per endpoint, the first endpoint's wrapped with the link's capture.
  const devices = new Map<string, NetDevice>();
  const links: { spec: TopologyLink; name: string; link: PointToPointLink; capture?: CaptureFile }[] = [];
  const nodeIndex = new Map(topology.nodes.map((n, i) => [n.name, i]));
  const macOf = (endpoint: string): number => {
    const [node, iface] = endpoint.split(":") as [string, string];
    const n = topology.nodes[nodeIndex.get(node)!]!;
    return 0x020000000000 + nodeIndex.get(node)! * 256 + n.interfaces.findIndex((f) => f.name === iface) + 1;
  };
  topology.links.forEach((spec, i) => {
    const name = linkName(spec, i);
    const impairments: ImpairmentOptions = {
      ...(spec.rateBitsPerSecond === undefined ? {} : { rateBitsPerSecond: spec.rateBitsPerSecond }),
      ...(spec.delayMs === undefined ? {} : { delayMs: spec.delayMs }),
      ...(spec.jitterMs === undefined ? {} : { jitterMs: spec.jitterMs }),
      ...(spec.loss === undefined ? {} : { loss: spec.loss }),
      ...(spec.reorder === undefined ? {} : { reorder: spec.reorder }),
      ...(spec.queue === undefined ? {} : { queue: spec.queue }),
    };
    const mtu = spec.mtu ?? 1500;
    const link = createPointToPointLink(
      { clock, rng: createRng(master.nextU32()) },
      {
        a: { mac: macOf(spec.endpoints[0]), mtu, impairments },
        b: { mac: macOf(spec.endpoints[1]), mtu, impairments },
      },
    );
    let a: NetDevice = link.a;
    let capture: CaptureFile | undefined;
    if (options.outDir !== undefined) {
      capture = createCaptureFile(join(options.outDir, `${name}.pcapng`));
      a = withCapture(link.a, capture.sink, { clock, name: spec.endpoints[0], description: `${name}: ${spec.endpoints[0]} <-> ${spec.endpoints[1]}` });
    }
    devices.set(spec.endpoints[0], a);
    devices.set(spec.endpoints[1], link.b);
    links.push(capture === undefined ? { spec, name, link } : { spec, name, link, capture });
  });

  const deviceOf = (node: string, iface: string): NetDevice => {
    const d = devices.get(`${node}:${iface}`);
    if (d === undefined) throw configError(`${node}:${iface} is on no link`);
    return d;
  };

  const hosts = new Map<string, Stack>();
  const dhcpClients = new Map<string, DhcpClient>();
  const dhcpServers = new Map<string, DhcpServer>();
  const routers = new Map<string, Router>();
  const switches = new Map<string, Bridge>();
  let linuxIndex = 0;
  for (const n of topology.nodes) {
    if (n.implementation !== "linux") continue;
    const f = n.interfaces[0]!;
    const gateway = v4Gateway(n);
    const mtu = topology.links.find((l) => l.endpoints.includes(`${n.name}:${f.name}`))?.mtu ?? 1500;
    options.onProgress?.(`${topology.name}: attaching linux host ${n.name} (namespace and tap)`);
    world!.linuxHosts.set(
      n.name,
      await attachLinuxHost({
        name: n.name,
        device: deviceOf(n.name, f.name),
        address: f.address!,
        mtu,
        index: linuxIndex++,
        ...(gateway === undefined ? {} : { gateway }),
      }),
    );
  }
  // A dhcp host's address is known once leased: paths are traced before the run with one planned in its server's pool.
  const dhcpPlans: Map<string, DhcpPlan> = planDhcp(topology);
  const cidrOf = (node: string, f: TopologyInterface): string | undefined => (f.address === "dhcp" ? dhcpPlans.get(node)?.plannedCidr : f.address);
  const hostAddress = (host: string): number => {
    const c = parseCidr(cidrOf(host, topology.nodes[nodeIndex.get(host)!]!.interfaces[0]!) ?? "");
    return c.ok ? c.value.address : 0;
  };
  /** The IPv6 address flows to `host` go to: its first static one (validated: a receiver has one). */
  const ipv6TargetOf = (host: string): Ipv6Address => {
    const f = topology.nodes[nodeIndex.get(host)!]!.interfaces[0]!;
    const c = staticIpv6(f)[0];
    if (c === undefined) throw configError(`${host} has no static IPv6 address`);
    return c.address;
  };
  /** Runs fn once both hosts hold a preferred global IPv6 address (SLAAC and DAD take a few seconds): polled every 50 ms of the clock. */
  const whenAddressed6 = (from: string, to: string, fn: () => void): void => {
    const ready = (h: string): boolean =>
      hosts
        .get(h)
        ?.ipv6?.ndp.addresses()
        .some((a) => a.state === "preferred" && a.origin !== "link-local") === true;
    const check = (): void => {
      if (ready(from) && ready(to)) fn();
      else clock.setTimer(clock.now() + 50, check);
    };
    check();
  };
  /** createStack's IPv6 options for a netlab host's interface: static addresses, SLAAC, a static default router. */
  const hostIpv6Options = (n: TopologyNode, f: TopologyInterface): StackIpv6Options => {
    const gateway = n.routes?.find((r) => r.destination === "::/0")?.via;
    return {
      addresses: (f.ipv6 ?? []).filter((x) => x !== "slaac"),
      slaac: (f.ipv6 ?? []).includes("slaac"),
      ...(gateway === undefined ? {} : { gateway }),
    };
  };
  // Xen hosts: a simulated Xen machine whose dom0 bridges each domU's vif onto that host's link
  // (in real time booted before time 0, their stacks made after it).
  const xenNodes = topology.nodes.filter((n) => n.implementation === "xen");
  const xenSpecs = xenNodes.map((n) => {
    const f = n.interfaces[0]!;
    const gateway = v4Gateway(n);
    return { name: n.name, interfaceName: f.name, device: deviceOf(n.name, f.name), cidr: f.address!, ...(gateway === undefined ? {} : { gateway }) };
  });
  const xenRng = xenNodes.length > 0 ? createRng(master.nextU32()) : undefined;
  if (xenNodes.length > 0) options.onProgress?.(`${topology.name}: booting ${xenNodes.length} xen domU(s) and connecting their netfronts`);
  const realXen = world === undefined || xenRng === undefined ? undefined : await attachLabXenHosts({ rng: xenRng }, xenSpecs);
  if (realXen !== undefined) world!.closers.push(() => realXen.close());
  // iperf3 servers (one test each, then they exit) listen before time 0.
  const iperf3Port = (spec: TopologyFlow, i: number): number => spec.port ?? 5201 + i;
  for (const [i, spec] of (topology.flows ?? []).entries()) {
    if (spec.kind !== "iperf3") continue;
    const server = startIperf3Server(world!.linuxHosts.get(spec.to)!, {
      address: formatIpv4(hostAddress(spec.to)),
      port: iperf3Port(spec, i),
      intervalMs: Math.max(100, interval),
    });
    world!.processes.push(server.process);
    await server.ready(5000);
  }
  world?.restartClock();
  const xen: LabXenHosts | undefined =
    xenRng === undefined ? undefined : realXen !== undefined ? realXen.withStacks(clock) : await buildLabXenHosts({ rng: xenRng, clock: virtual! }, xenSpecs);
  for (const n of topology.nodes) {
    const rng = createRng(master.nextU32());
    if (n.implementation === "linux") continue;
    if (n.implementation === "xen") {
      hosts.set(n.name, xen!.stacks.get(n.name)!);
      continue;
    }
    if (n.kind === "host") {
      const f = n.interfaces[0]!;
      const gateway = v4Gateway(n);
      if (f.address === "dhcp") {
        const stack = createStack({ device: deviceOf(n.name, f.name), clock, rng }, { name: n.name });
        hosts.set(n.name, stack);
        // RFC 2131 §4.4.1 waits 1-10 s before DISCOVER; a lab run starts at most 0.5 s in. Offers are ARP-probed (RFC 5227).
        dhcpClients.set(n.name, dhcpClientOnStack(stack, { initDelayMinMs: 0, initDelayMaxMs: 500 }));
        continue;
      }
      const stack = createStack(
        { device: deviceOf(n.name, f.name), clock, rng },
        {
          name: n.name,
          ipv4: gateway === undefined ? { cidr: f.address! } : { cidr: f.address!, gateway },
          ...(f.ipv6 === undefined ? {} : { ipv6: hostIpv6Options(n, f) }),
        },
      );
      hosts.set(n.name, stack);
      if (f.dhcpServer !== undefined) dhcpServers.set(`${n.name}:${f.name}`, dhcpServerOnStack(stack, dhcpServerConfig(f)));
    } else if (n.kind === "switch") {
      // A learning bridge (802.1D without STP) joining the link ends on its ports; ports on no link stay empty.
      const bridge = createBridge({ clock }, { name: n.name });
      for (const f of n.interfaces) {
        const d = devices.get(`${n.name}:${f.name}`);
        if (d !== undefined) bridge.attach(d, { name: f.name });
      }
      switches.set(n.name, bridge);
    } else {
      const router = createRouter(
        { clock, rng },
        {
          name: n.name,
          interfaces: n.interfaces.map((f) => ({
            device: deviceOf(n.name, f.name),
            cidr: f.address!,
            name: f.name,
            ...(f.ipv6 === undefined ? {} : { ipv6: f.ipv6 }),
          })),
          routes: (n.routes ?? []).map((r) => ({ destination: r.destination, via: r.via })),
        },
      );
      routers.set(n.name, router);
      // A DHCP server on a router's interface: UDP over that interface's own IPv4 and ICMP (the router has no transport otherwise).
      for (const f of n.interfaces) {
        if (f.dhcpServer === undefined) continue;
        const i = router.interface(f.name);
        const udp = createUdp({ ipv4: i.ipv4, icmp: i.icmp, rng });
        dhcpServers.set(`${n.name}:${f.name}`, createDhcpServer({ clock, udp, ipv4: i.ipv4, arp: i.arp }, dhcpServerConfig(f)));
      }
    }
  }

  // DHCP clients start once every server exists; a flow from a dhcp host starts when it holds a lease.
  const dhcpBoundAt = new Map<string, number>();
  for (const [host, c] of dhcpClients) {
    c.onBound(() => {
      if (!dhcpBoundAt.has(host)) dhcpBoundAt.set(host, clock.now());
    });
    c.start();
  }
  const whenLeased = (host: string, fn: () => void): void => {
    const c = dhcpClients.get(host);
    if (c === undefined || c.lease !== undefined) return fn();
    let done = false;
    c.onBound(() => {
      if (done) return;
      done = true;
      fn();
    });
  };
  /** A ping, udp-cbr or http flow, started at startMs or, from a dhcp host, at its lease; force() after the run gives an empty one if it never started. */
  const deferred = <R>(
    from: string,
    startMs: number,
    endMs: number,
    start: (startMs: number) => R,
    wait?: (fn: () => void) => void,
  ): { get(): R | undefined; force(): R } => {
    let r: R | undefined = dhcpClients.has(from) || wait !== undefined ? undefined : start(startMs);
    if (r === undefined)
      clock.setTimer(startMs, () =>
        (wait ?? ((fn: () => void) => whenLeased(from, fn)))(() => {
          r ??= start(Math.min(endMs, Math.max(startMs, clock.now())));
        }),
      );
    return { get: () => r, force: () => (r ??= start(endMs)) };
  };

  // Which link (and direction) each endpoint sends into, and who owns each address.
  const sendsInto = new Map<string, { name: string; peer: string }>();
  for (const l of links) {
    const [a, b] = l.spec.endpoints;
    sendsInto.set(a, { name: `${l.name} ${a}->${b}`, peer: b });
    sendsInto.set(b, { name: `${l.name} ${b}->${a}`, peer: a });
  }
  const nodeOf = (endpoint: string): string => endpoint.split(":")[0]!;
  const kindOf = (node: string): string => topology.nodes[nodeIndex.get(node)!]!.kind;
  const ownerOf = new Map<number, string>();
  for (const n of topology.nodes) {
    for (const f of n.interfaces) {
      const address = cidrOf(n.name, f);
      const c = address === undefined ? undefined : parseCidr(address);
      if (c?.ok === true) ownerOf.set(c.value.address, n.name);
    }
  }
  /** From a switch entered at `ingress`: the link directions to the node `target` through this and further switches (none: not on this LAN). */
  const acrossSwitches = (ingress: string, target: string, seen: Set<string>): string[] | undefined => {
    const sw = nodeOf(ingress);
    if (seen.has(sw)) return undefined;
    seen.add(sw);
    for (const f of topology.nodes[nodeIndex.get(sw)!]!.interfaces) {
      const port = `${sw}:${f.name}`;
      if (port === ingress) continue;
      const link = sendsInto.get(port);
      if (link === undefined) continue;
      const peer = nodeOf(link.peer);
      if (peer === target) return [link.name];
      if (kindOf(peer) === "switch") {
        const rest = acrossSwitches(link.peer, target, seen);
        if (rest !== undefined) return [link.name, ...rest];
      }
    }
    return undefined;
  };
  /** The link directions from host `from` to host `to`, following gateways, routing tables and switches, and how the walk ended. */
  const trace = (from: string, to: string): { path: string[]; nodes: string[]; outcome: "reached" | "no-route" | "loop" | "dead-end" } => {
    const dst = hostAddress(to);
    const path: string[] = [];
    const nodes = [from];
    let node = from;
    while (node !== to) {
      let endpoint: string;
      let hop: number;
      if (kindOf(node) === "host") {
        if (node !== from) return { path, nodes, outcome: "dead-end" };
        const spec = topology.nodes[nodeIndex.get(node)!]!;
        endpoint = `${node}:${spec.interfaces[0]!.name}`;
        const own = parseCidr(cidrOf(node, spec.interfaces[0]!) ?? "");
        const gateway = v4Gateway(spec) ?? dhcpPlans.get(node)?.gateway;
        const mask = own.ok ? prefixToMask(own.value.prefixLength) : 0;
        if (own.ok && ((own.value.address ^ dst) & mask) === 0) hop = dst;
        else {
          const g = gateway === undefined ? undefined : parseIpv4(gateway);
          if (g?.ok !== true) return { path, nodes, outcome: "no-route" };
          hop = g.value;
        }
      } else {
        const r = routers.get(node)!;
        const route = r.table.lookup(dst);
        if (route === undefined) return { path, nodes, outcome: "no-route" };
        endpoint = `${node}:${r.interfaces[route.interfaceIndex]!.name}`;
        hop = route.nextHop ?? dst;
      }
      const target = ownerOf.get(hop);
      const link = sendsInto.get(endpoint);
      if (link === undefined || target === undefined) return { path, nodes, outcome: "dead-end" };
      path.push(link.name);
      if (kindOf(nodeOf(link.peer)) === "switch") {
        const lan = acrossSwitches(link.peer, target, new Set());
        if (lan === undefined) return { path, nodes: [...nodes, nodeOf(link.peer)], outcome: "dead-end" };
        path.push(...lan);
      } else if (nodeOf(link.peer) !== target) {
        return { path, nodes: [...nodes, nodeOf(link.peer)], outcome: "dead-end" };
      }
      node = target;
      if (nodes.includes(node)) return { path, nodes: [...nodes, node], outcome: "loop" };
      nodes.push(node);
    }
    return { path, nodes, outcome: "reached" };
  };
  const tracePath = (from: string, to: string): string[] => trace(from, to).path;
  // Refused before anything runs: a flow whose packets (either way) would loop or find no route.
  (topology.flows ?? []).forEach((f, i) => {
    for (const [a, b] of [
      [f.from, f.to],
      [f.to, f.from],
    ] as const) {
      const t = trace(a, b);
      if (t.outcome !== "reached") {
        throw configError(
          `/flows/${i}: the way from ${a} to ${b} ${t.outcome === "loop" ? "loops" : t.outcome === "no-route" ? "has no route" : "ends nowhere"} (${t.nodes.join(" -> ")})`,
        );
      }
    }
  });

  // Flows.
  const chunk = new Uint8Array(64 * 1024).map((_, i) => i & 0xff);
  interface FlowState {
    spec: TopologyFlow;
    name: string;
    start: number;
    end: number;
    cc: "cubic" | "newreno" | "bbr";
    received: number;
    steadyReceived: number;
    bins: number[];
    samples: FlowSample[];
    stream?: TcpStream;
    linux?: { result(): LinuxSenderResult };
    connected: boolean;
  }
  const traceroutes: { name: string; from: string; to: string; hops: TracerouteHop[]; reached: boolean; tool?: string }[] = [];
  const linuxTraceroutes: { report: (typeof traceroutes)[number]; result(): { hops: TracerouteHop[]; reached: boolean } }[] = [];
  (topology.flows ?? []).forEach((spec, i) => {
    if (spec.kind !== "traceroute") return;
    const t = {
      name: spec.name ?? `flow${i}`,
      from: spec.from,
      to: spec.to,
      hops: [] as TracerouteHop[],
      reached: false,
      ...(spec.family === "ipv6" ? { tool: "IPv6, ICMPv6 echo probes" } : {}),
    };
    traceroutes.push(t);
    const target = hostAddress(spec.to);
    const maxHops = spec.maxHops ?? 30;
    const linuxFrom = world?.linuxHosts.get(spec.from);
    if (linuxFrom !== undefined) {
      // The kernel's own traceroute (UDP probes, one at a time), read back when the run ends.
      const tr = startLinuxTraceroute(linuxFrom, { dst: formatIpv4(target), inMs: (spec.startMs ?? 0) - clock.now(), maxHops });
      world!.processes.push(tr.process);
      linuxTraceroutes.push({ report: t, result: tr.result });
      return;
    }
    const src = hosts.get(spec.from)!;
    if (spec.family === "ipv6") {
      // traceroute -6 with ICMPv6 echo probes, one at a time: hop limit n, its answer, then n + 1.
      const target6 = ipv6TargetOf(spec.to);
      const probe6 = (hopLimit: number): void => {
        const sentAt = clock.now();
        src.icmpv6!.ping(target6, { hopLimit, timeoutMs: 1000 }, (r) => {
          const rttMs = clock.now() - sentAt;
          if (r.ok) {
            t.hops.push({ ttl: hopLimit, from: formatIpv6(r.value.from), rttMs, reached: true });
            t.reached = true;
            return;
          }
          const from = / from ([0-9a-f:.]+)$/.exec(r.detail ?? "")?.[1];
          t.hops.push(from === undefined ? { ttl: hopLimit, reached: false } : { ttl: hopLimit, from, rttMs, reached: false });
          if (hopLimit < maxHops) probe6(hopLimit + 1);
        });
      };
      clock.setTimer(spec.startMs ?? 0, () => whenAddressed6(spec.from, spec.to, () => probe6(1)));
      return;
    }
    // One probe at a time, as traceroute -q 1 does: TTL n, wait for its answer, then n + 1.
    const probe = (ttl: number): void => {
      const sentAt = clock.now();
      src.icmp.ping(target, { ttl, timeoutMs: 1000 }, (r) => {
        const rttMs = clock.now() - sentAt;
        if (r.ok) {
          t.hops.push({ ttl, from: formatIpv4(r.value.from), rttMs, reached: true });
          t.reached = true;
          return;
        }
        const from = /from (\d+)$/.exec(r.detail ?? "")?.[1];
        t.hops.push(from === undefined ? { ttl, reached: false } : { ttl, from: formatIpv4(Number(from)), rttMs, reached: false });
        if (ttl < maxHops) probe(ttl + 1);
      });
    };
    clock.setTimer(spec.startMs ?? 0, () => whenLeased(spec.from, () => probe(1)));
  });
  const flows: FlowState[] = (topology.flows ?? []).flatMap((spec, i) => {
    if (spec.kind !== "bulk-tcp") return [];
    const start = spec.startMs ?? 0;
    return [
      {
        spec,
        name: spec.name ?? `flow${i}`,
        start,
        end: Math.min(start + spec.durationMs!, duration),
        cc: spec.congestionControl ?? "cubic",
        received: 0,
        steadyReceived: 0,
        bins: [],
        samples: [],
        connected: false,
      },
    ];
  });
  flows.forEach((f, i) => {
    const dst = hosts.get(f.spec.to)!;
    const port = f.spec.port ?? 5001 + i;
    const v6 = f.spec.family === "ipv6";
    const listener = v6 ? dst.tcp6!.listen(port) : dst.tcp.listen(port);
    if (!listener.ok) throw configError(`flow ${f.name}: cannot listen on ${f.spec.to}:${port} (${listener.error})`);
    const steadyFrom = f.start + warmup * (f.end - f.start);
    listener.value.onConnection((s) => {
      if (f.linux !== undefined) f.connected = true;
      s.onData((d) => {
        const now = clock.now();
        if (now > f.end) return;
        f.received += d.length;
        if (now >= steadyFrom) f.steadyReceived += d.length;
        const bin = Math.floor((now - f.start) / interval);
        f.bins[bin] = (f.bins[bin] ?? 0) + d.length;
      });
    });
    const linuxHost = world?.linuxHosts.get(f.spec.from);
    if (linuxHost !== undefined) {
      // Started now so that the interpreter is up by the flow's start; it sleeps until then.
      const sender = startLinuxBulkSender(linuxHost, {
        dst: formatIpv4(dst.ipv4.cidr!.address),
        port,
        inMs: f.start - clock.now(),
        seconds: (f.end - f.start) / 1000,
        congestionControl: f.cc,
        intervalMs: interval,
      });
      world!.processes.push(sender.process);
      f.linux = sender;
    }
    for (let t = f.start + interval; t <= f.end + 1e-9; t += interval) {
      clock.setTimer(t, () => {
        const bin = Math.round((t - f.start) / interval) - 1;
        const info = f.connected && f.stream !== undefined ? f.stream.info() : undefined;
        f.samples.push({ t: t - f.start, ...byClock(clockKind, ((f.bins[bin] ?? 0) * 8 * 1000) / interval), cwnd: info?.cwnd ?? 0, srttMs: info?.srttMs ?? 0 });
      });
    }
    if (linuxHost !== undefined) return;
    const src = hosts.get(f.spec.from)!;
    const whenReady = (fn: () => void): void => (v6 ? whenAddressed6(f.spec.from, f.spec.to, fn) : whenLeased(f.spec.from, fn));
    clock.setTimer(f.start, () =>
      whenReady(() => {
        if (clock.now() >= f.end) return;
        const r = v6
          ? src.tcp6!.connect(ipv6TargetOf(f.spec.to), port, { congestionControl: f.cc })
          : src.tcp.connect(dst.ipv4.cidr!.address, port, { congestionControl: f.cc });
        if (!r.ok) throw configError(`flow ${f.name}: connect failed (${r.error})`);
        const s = r.value;
        f.stream = s;
        const pump = (): void => {
          while (clock.now() < f.end && s.write(chunk)) {
            /* fill the send buffer */
          }
        };
        s.onConnect(() => {
          f.connected = true;
          pump();
        });
        s.onDrain(pump);
        clock.setTimer(f.end, () => s.end());
      }),
    );
  });

  // iperf3 flows: the client starts in its namespace now and sleeps until the flow's start.
  const iperf3Flows: {
    spec: TopologyFlow;
    name: string;
    start: number;
    end: number;
    seconds: number;
    cc: "cubic" | "newreno" | "bbr";
    client: ReturnType<typeof startIperf3Client>;
  }[] = [];
  (topology.flows ?? []).forEach((spec, i) => {
    if (spec.kind !== "iperf3") return;
    const start = spec.startMs ?? 0;
    const end = Math.min(start + spec.durationMs!, duration);
    // iperf3 -t takes whole seconds: a run shortened below the flow's length cuts it to whole seconds, at least one.
    const seconds = Math.max(1, Math.floor((end - start) / 1000));
    const cc = spec.congestionControl ?? "cubic";
    const client = startIperf3Client(world!.linuxHosts.get(spec.from)!, {
      dst: formatIpv4(hostAddress(spec.to)),
      port: iperf3Port(spec, i),
      inMs: start - clock.now(),
      seconds,
      congestionControl: cc,
      intervalMs: Math.max(100, interval),
    });
    world!.processes.push(client.process);
    iperf3Flows.push({ spec, name: spec.name ?? `flow${i}`, start, end: start + seconds * 1000, seconds, cc, client });
  });

  // Ping, constant-rate UDP and HTTP flows (harness/lab/flows.ts).
  const pingFlows: { report(): PingReport }[] = [];
  const udpFlows: { report(): UdpCbrReport }[] = [];
  const httpFlows: { report(): HttpFlowReport; pending(): number }[] = [];
  const httpServers: HttpServers = new Map();
  (topology.flows ?? []).forEach((spec, i) => {
    const startMs = spec.startMs ?? 0;
    const window = {
      name: spec.name ?? `flow${i}`,
      from: spec.from,
      to: spec.to,
      startMs,
      endMs: Math.min(duration, spec.durationMs === undefined ? Infinity : startMs + spec.durationMs),
    };
    const deps = { clock, clockKind, src: hosts.get(spec.from)!, dst: hosts.get(spec.to)! };
    // An IPv6 flow starts once both ends hold their addresses (SLAAC, DAD).
    const wait6 = spec.family === "ipv6" ? (fn: () => void) => whenAddressed6(spec.from, spec.to, fn) : undefined;
    const later = <R>(start: (w: typeof window) => R) => deferred(spec.from, startMs, window.endMs, (at) => start({ ...window, startMs: at }), wait6);
    if (spec.kind === "ping") {
      const f = later((w) =>
        startPingFlow(deps, w, {
          intervalMs: spec.intervalMs ?? 1000,
          ...(spec.payloadBytes === undefined ? {} : { payloadBytes: spec.payloadBytes }),
          ...(spec.family === "ipv6" ? { ipv6: ipv6TargetOf(spec.to) } : {}),
        }),
      );
      pingFlows.push({ report: () => f.force().report() });
    } else if (spec.kind === "udp-cbr") {
      const f = later((w) =>
        startUdpCbrFlow(deps, w, {
          rateBitsPerSecond: spec.rateBitsPerSecond!,
          payloadBytes: spec.payloadBytes ?? 1200,
          port: spec.port ?? 6001 + i,
          sampleIntervalMs: interval,
        }),
      );
      udpFlows.push({ report: () => f.force().report() });
    } else if (spec.kind === "http") {
      const f = later((w) =>
        startHttpFlow(deps, httpServers, w, {
          port: spec.port ?? 80,
          responseBytes: spec.responseBytes ?? 100_000,
          requests: spec.requests ?? 1,
          intervalMs: spec.intervalMs ?? 0,
        }),
      );
      httpFlows.push({ report: () => f.force().report(), pending: () => f.get()?.pending() ?? 0 });
    }
  });

  // Run in slices of virtual time so long runs can show progress. With HTTP flows the client's
  // callbacks are microtasks: the queue is let run after each instant of virtual time that had events.
  const stuck = (t: number): Error =>
    Object.assign(new Error(`more than ${MAX_EVENTS_PER_SLICE} events before ${t} ms (virtual time stuck at ${clock.now()} ms)`), {
      code: "ERR_NETLAB_LAB_STUCK",
    });
  let lastProgress = performance.now();
  if (virtual === undefined) {
    // Real time: wait for the end (or an abort), with a progress line each second.
    await new Promise<void>((resolve, reject) => {
      const progress = setInterval(
        () => options.onProgress?.(`${topology.name}: ${(clock.now() / 1000).toFixed(0)}/${(duration / 1000).toFixed(0)} real s`),
        1000,
      );
      const finish = (e?: Error): void => {
        clearInterval(progress);
        options.signal?.removeEventListener("abort", onAbort);
        if (e === undefined) resolve();
        else reject(e);
      };
      const onAbort = (): void =>
        finish(
          new NetlabError(
            "ERR_NETLAB_LAB_INTERRUPTED",
            `${topology.name}: interrupted after ${(clock.now() / 1000).toFixed(1)} s; namespaces and taps removed`,
          ),
        );
      if (options.signal?.aborted === true) return onAbort();
      options.signal?.addEventListener("abort", onAbort);
      clock.setTimer(duration, () => finish());
    });
  }
  for (let t = 0; virtual !== undefined && t < duration; ) {
    t = Math.min(duration, t + 1000);
    // A bound on events per virtual second: a timer loop that never lets time advance is a bug to report, not to wait on.
    if (httpFlows.length === 0) {
      if (virtual.run(t, MAX_EVENTS_PER_SLICE) >= MAX_EVENTS_PER_SLICE) throw stuck(t);
    } else {
      let events = 0;
      for (let next = virtual.nextDeadline(); next !== undefined && next <= t; next = virtual.nextDeadline()) {
        events += virtual.run(next, MAX_EVENTS_PER_SLICE - events);
        if (events >= MAX_EVENTS_PER_SLICE) throw stuck(t);
        for (let k = 0; k < MICROTASK_TURNS; k++) await null;
      }
      virtual.run(t);
    }
    if (options.onProgress !== undefined && performance.now() - lastProgress > 1000) {
      lastProgress = performance.now();
      options.onProgress(`${topology.name}: ${(t / 1000).toFixed(0)}/${(duration / 1000).toFixed(0)} virtual s`);
    }
  }
  for (const l of links) l.capture?.close();

  // An iperf3 client prints its report after the test and the exchange with the server: waited for, a few seconds at most.
  await Promise.all(iperf3Flows.map((f) => f.client.finished(Math.max(0, f.end - clock.now()) + 5000)));
  for (const l of linuxTraceroutes) {
    const r = l.result();
    l.report.hops.push(...r.hops);
    l.report.reached = r.reached;
    l.report.tool = "linux traceroute";
  }
  const flowReports: FlowReport[] = flows.map((f) => {
    const span = Math.max(1e-9, f.end - f.start);
    const steadySpan = Math.max(1e-9, (1 - warmup) * span);
    const linux = f.linux?.result();
    // A Linux sender's cwnd and RTT come from its TCP_INFO samples (the nearest at or before each interval's end).
    const samples =
      linux === undefined
        ? f.samples
        : f.samples.map((x) => {
            const k = linux.samples.findLast((l) => l.t <= x.t);
            return k === undefined ? x : { ...x, cwnd: k.cwnd, srttMs: k.srttMs };
          });
    return {
      name: f.name,
      kind: "bulk-tcp",
      family: f.spec.family ?? "ipv4",
      from: f.spec.from,
      to: f.spec.to,
      sender: linux !== undefined ? "linux" : xen?.stacks.has(f.spec.from) === true ? "xen" : "netlab",
      congestionControl: f.cc,
      ...(linux === undefined ? {} : { linuxCongestionControl: linux.congestionControl }),
      ...(linux?.error === undefined ? {} : { error: linux.error }),
      startMs: f.start,
      durationMs: f.end - f.start,
      connected: f.connected,
      bytesReceived: f.received,
      ...byClock(clockKind, (f.received * 8 * 1000) / span),
      steady: byClock(clockKind, (f.steadyReceived * 8 * 1000) / steadySpan),
      retransmits: linux !== undefined ? linux.retransmits : f.stream !== undefined && f.connected ? f.stream.info().retransmits : 0,
      path: tracePath(f.spec.from, f.spec.to),
      samples,
    };
  });
  for (const f of iperf3Flows) flowReports.push(iperf3FlowReport(f, f.client.result(), warmup, tracePath(f.spec.from, f.spec.to)));
  const flowOrder = new Map((topology.flows ?? []).map((spec, i) => [spec.name ?? `flow${i}`, i]));
  flowReports.sort((a, b) => flowOrder.get(a.name)! - flowOrder.get(b.name)!);
  const queues: QueueReport[] = [];
  const linkReports: LinkReport[] = [];
  for (const l of links) {
    const [a, b] = l.spec.endpoints;
    for (const [end, from, to] of [
      [l.link.a, a, b],
      [l.link.b, b, a],
    ] as const) {
      const stats = end.queueStats();
      if (stats !== undefined)
        queues.push({ name: `${l.name} ${from}->${to}`, link: l.name, from, to, rateBitsPerSecond: l.spec.rateBitsPerSecond ?? 0, stats });
    }
    const s1 = l.link.a.txStats;
    const s2 = l.link.b.txStats;
    linkReports.push({
      name: l.name,
      endpoints: [a, b],
      framesDelivered: s1.delivered + s2.delivered,
      queueDrops: s1.queueDrops + s2.queueDrops,
      ceMarked: s1.ceMarked + s2.ceMarked,
      ...(l.capture === undefined ? {} : { pcap: l.capture.path }),
    });
  }
  const routerCounters: Record<string, Record<string, number>> = {};
  for (const [name, r] of routers) {
    const c = r.forwarder.counters();
    const flat: Record<string, number> = {};
    for (const [k, v] of Object.entries(c)) if (typeof v === "number") flat[k] = v;
    for (const [k, v] of Object.entries(c.drops)) flat[`drop.${k}`] = v;
    // IPv6 forwarding (net/forward6.ts) under "v6.", when an interface has IPv6.
    if (r.interfaces.some((i) => i.ipv6 !== undefined)) {
      const c6 = r.forwarder6.counters();
      for (const [k, v] of Object.entries(c6)) if (typeof v === "number") flat[`v6.${k}`] = v;
      for (const [k, v] of Object.entries(c6.drops)) flat[`v6.drop.${k}`] = v;
    }
    routerCounters[name] = flat;
  }
  const cpu = process.cpuUsage(cpu0);
  const report: LabReport = {
    name: topology.name,
    seed,
    realTime: virtual === undefined,
    virtualSeconds: duration / 1000,
    wallSeconds: (performance.now() - wall0) / 1000,
    cpuSeconds: (cpu.user + cpu.system) / 1e6,
    flows: flowReports,
    traceroutes,
    pings: pingFlows.map((f) => f.report()),
    udpCbr: udpFlows.map((f) => f.report()),
    http: httpFlows.map((f) => f.report()),
    queues,
    links: linkReports,
    jainIndex: jainIndex(flowReports.map((f) => goodputOf(f.steady))),
    sharedLinks: sharedLinks(flowReports),
    routers: routerCounters,
    ...(xen === undefined ? {} : { xen: xen.report() }),
    ...(dhcpClients.size === 0
      ? {}
      : { dhcp: [...dhcpClients].map(([host, c]) => dhcpLeaseReport(host, dhcpPlans.get(host)!.server, c, dhcpBoundAt.get(host))) }),
    ...(options.outDir === undefined ? {} : { outDir: options.outDir }),
  };
  if (options.outDir !== undefined) {
    writeFileSync(join(options.outDir, "report.json"), `${JSON.stringify(withUnits(report, LAB_UNITS), null, 2)}\n`);
    writeFileSync(join(options.outDir, "summary.txt"), formatLabSummary(report));
    writeFileSync(
      join(options.outDir, "goodput.svg"),
      lineChart({
        title: `${report.name}: ${report.realTime ? "wall" : "virtual"} goodput per flow`,
        xLabel: `${report.realTime ? "wall" : "virtual"} time since the flow started (s)`,
        yLabel: `${report.realTime ? "wall" : "virtual"} goodput (Mbit/s)`,
        series: report.flows.map((f) => ({ name: f.name, points: f.samples.map((p) => [p.t / 1000, goodputOf(p) / 1e6] as const) })),
      }),
    );
    writeFileSync(
      join(options.outDir, "queue-delay.svg"),
      lineChart({
        title: `${report.name}: mean queueing delay per ${interval} ms`,
        xLabel: "time (s)",
        yLabel: "sojourn time (ms)",
        series: busyQueues(report.queues).map((q) => ({
          name: q.name.split(" ")[0]!,
          points: q.stats.backlog.map((b) => [b.at / 1000, b.sojournMeanMs] as const),
        })),
      }),
    );
  }
  return report;
}

/** An iperf3 flow's report: goodput from the server's intervals, cwnd and RTT from the client's, totals from iperf3's end summary. */
function iperf3FlowReport(
  f: { spec: TopologyFlow; name: string; start: number; seconds: number; cc: "cubic" | "newreno" | "bbr" },
  r: Iperf3Result,
  warmup: number,
  path: string[],
): FlowReport {
  const steadyFrom = warmup * r.seconds * 1000;
  let steadyBytes = 0;
  let steadyMs = 0;
  let previous = 0;
  for (const x of r.intervals) {
    if (previous >= steadyFrom - 1e-6) {
      steadyBytes += x.receivedBytes;
      steadyMs += x.t - previous;
    }
    previous = x.t;
  }
  return {
    name: f.name,
    kind: "iperf3",
    family: "ipv4",
    from: f.spec.from,
    to: f.spec.to,
    sender: "linux",
    congestionControl: f.cc,
    ...(r.senderCongestionControl === undefined ? {} : { linuxCongestionControl: r.senderCongestionControl }),
    ...(r.error === undefined ? {} : { error: r.error }),
    startMs: f.start,
    durationMs: f.seconds * 1000,
    connected: r.connected,
    bytesReceived: r.receivedBytes,
    // iperf3 flows run between linux hosts: the run is in real time.
    wallGoodputBitsPerSecond: r.receiverBitsPerSecond,
    steady: { wallGoodputBitsPerSecond: steadyMs > 0 ? (steadyBytes * 8 * 1000) / steadyMs : 0 },
    retransmits: r.retransmits,
    path,
    samples: r.intervals.map((x) => ({ t: x.t, wallGoodputBitsPerSecond: x.receivedBitsPerSecond, cwnd: x.cwnd, srttMs: x.srttMs })),
    iperf3: {
      ...(r.version === undefined ? {} : { version: r.version }),
      seconds: r.seconds,
      sentBytes: r.sentBytes,
      senderBitsPerSecond: r.senderBitsPerSecond,
      receiverBitsPerSecond: r.receiverBitsPerSecond,
    },
  };
}

/** A node's IPv4 gateway: the via of its (one) IPv4 route. */
function v4Gateway(n: TopologyNode): string | undefined {
  return n.routes?.find((r) => !r.destination.includes(":"))?.via;
}

/** The DHCP server of an interface with dhcpServer (validated: a static address, a pool in its subnet). */
function dhcpServerConfig(f: TopologyInterface): DhcpServerConfig {
  const d = f.dhcpServer!;
  const own = parseCidr(f.address!);
  const pool = parseIpv4Range(d.pool);
  const gw = d.gateway === undefined ? undefined : parseIpv4(d.gateway);
  if (!own.ok || pool === undefined) throw configError(`${f.name}: bad dhcpServer`);
  const mask = prefixToMask(own.value.prefixLength);
  return {
    pools: [
      {
        subnet: { address: (own.value.address & mask) >>> 0, prefixLength: own.value.prefixLength },
        rangeStart: pool.first,
        rangeEnd: pool.last,
        ...(gw?.ok === true ? { gateway: gw.value } : {}),
        leaseTime: d.leaseSeconds ?? 3600,
      },
    ],
  };
}

/** A dhcp host's lease as the run ends. */
function dhcpLeaseReport(host: string, server: string, c: DhcpClient, boundAtMs: number | undefined): DhcpLeaseReport {
  const l = c.lease;
  if (l === undefined) return { host, server, state: c.state };
  return {
    host,
    server,
    address: `${formatIpv4(l.address)}/${l.prefixLength}`,
    ...(l.gateway === undefined ? {} : { gateway: formatIpv4(l.gateway) }),
    acquiredAtMs: l.acquiredAt,
    ...(boundAtMs === undefined ? {} : { boundAtMs }),
    leaseSeconds: l.leaseTime,
    state: c.state,
  };
}

/** Jain's index per link direction crossed by two or more flows. */
function sharedLinks(flows: readonly FlowReport[]): SharedLinkReport[] {
  const by = new Map<string, FlowReport[]>();
  for (const f of flows) for (const l of f.path) by.set(l, [...(by.get(l) ?? []), f]);
  const out: SharedLinkReport[] = [];
  for (const [name, fs] of by) {
    if (fs.length < 2) continue;
    out.push({ name, flows: fs.map((f) => f.name), jainIndex: jainIndex(fs.map((f) => goodputOf(f.steady)))! });
  }
  return out;
}

/** Queues that dropped or marked anything or held 10 packets at once (the rest are left to --json). */
function busyQueues(queues: readonly QueueReport[]): QueueReport[] {
  return queues.filter((q) => q.stats.dropped > 0 || q.stats.marked > 0 || q.stats.maxBacklogPackets >= 10);
}

const bitRate = (bps: number): string => formatSi(bps, "bit/s");

/** The readable summary of a run. */
export function formatLabSummary(r: LabReport): string {
  const lines: string[] = [];
  lines.push(
    `${r.name} (seed ${r.seed}): ${r.virtualSeconds} ${r.realTime ? "real" : "virtual"} s (goodputs on the ${r.realTime ? "wall" : "virtual"} clock) in ${r.wallSeconds.toFixed(2)} wall s (${r.cpuSeconds.toFixed(2)} CPU s)`,
  );
  if (r.flows.length > 0) {
    lines.push("", "flows:");
    for (const f of r.flows) {
      lines.push(
        `  ${f.name.padEnd(8)} ${f.from} -> ${f.to} ${f.family === "ipv6" ? "IPv6 " : ""}${f.kind === "iperf3" ? "iperf3 " : ""}${f.sender === "linux" ? `linux ${f.linuxCongestionControl ?? f.congestionControl}` : f.congestionControl.padEnd(7)} goodput ${bitRate(goodputOf(f))}, steady ${bitRate(goodputOf(f.steady))}, ` +
          `${f.retransmits} retransmits${f.connected ? "" : " (never connected)"}${f.error === undefined ? "" : ` [${f.error}]`}`,
      );
    }
    lines.push(`  Jain's fairness index (steady state): ${r.jainIndex === null ? "-" : r.jainIndex.toFixed(4)} over all flows`);
    for (const l of r.sharedLinks)
      lines.push(`    ${l.jainIndex.toFixed(4)} on ${l.name} (${l.flows.length <= 8 ? l.flows.join(", ") : `${l.flows.length} flows`})`);
    // A mixed run (linux and netlab senders on one network): each stack's share, side by side.
    const stacks = [...new Set(r.flows.map((f) => f.sender))];
    if (stacks.length > 1) {
      const total = r.flows.reduce((a, f) => a + goodputOf(f.steady), 0);
      const shares = stacks.map((s) => {
        const mine = r.flows.filter((f) => f.sender === s);
        const g = mine.reduce((a, f) => a + goodputOf(f.steady), 0);
        const rtx = mine.reduce((a, f) => a + f.retransmits, 0);
        return `${s} ${mine.length} flows ${bitRate(g)} (${total > 0 ? ((100 * g) / total).toFixed(1) : "0.0"}%, ${rtx} retransmits)`;
      });
      lines.push(`  share of the steady goodput by sender stack: ${shares.join("  |  ")}`);
    }
  }
  const busy = busyQueues(r.queues);
  const ms = (x: number): string => `${x.toFixed(2)} ms`;
  for (const p of r.pings) {
    const s = p.rttMs;
    lines.push(
      "",
      `ping ${p.name}: ${p.from} -> ${p.to} every ${p.intervalMs} ms: ${p.sent} sent, ${p.received} received, ${p.lost} lost, ${p.unanswered} unanswered at the end` +
        (s === null ? "" : `; rtt min ${ms(s.min)}, median ${ms(s.p50)}, p90 ${ms(s.p90)}, max ${ms(s.max)}`),
    );
  }
  for (const u of r.udpCbr) {
    const d = u.oneWayDelayMs;
    lines.push(
      "",
      `udp-cbr ${u.name}: ${u.from} -> ${u.to} at ${bitRate(u.rateBitsPerSecond)} (${u.payloadBytes} B datagrams): ${u.sent} sent, ${u.received} received, ` +
        `${u.lost} lost (${(u.lossFraction * 100).toFixed(2)}%), ${u.missingAtEnd} missing at the end, ${u.reordered} reordered, ${u.duplicates} duplicated; jitter ${ms(u.jitterMs)}; goodput ${bitRate(goodputOf(u))}` +
        (d === null ? "" : `; one-way delay median ${ms(d.p50)}, p90 ${ms(d.p90)}`),
    );
  }
  for (const h of r.http) {
    const c = h.completionMs;
    lines.push(
      "",
      `http ${h.name}: ${h.from} -> ${h.to}, ${h.responseBytes} B each: ${h.completed} of ${h.requests} fetches completed, ${h.failed} failed` +
        (c === null ? "" : `; time to last byte median ${ms(c.p50)}, p90 ${ms(c.p90)}, max ${ms(c.max)}; ${bitRate(goodputOf(h))} while fetching`),
    );
  }
  for (const t of r.traceroutes) {
    lines.push("", `traceroute ${t.name}: ${t.from} -> ${t.to}${t.tool === undefined ? "" : ` (${t.tool})`}${t.reached ? "" : " (not reached)"}`);
    for (const h of t.hops) lines.push(`  ${String(h.ttl).padStart(2)}  ${h.from === undefined ? "*" : `${h.from}  ${h.rttMs!.toFixed(3)} ms`}`);
  }
  if (busy.length > 0) {
    lines.push("", `queues (${r.queues.length - busy.length} quiet ones omitted):`);
    for (const q of busy) {
      const s = q.stats;
      lines.push(
        `  ${q.name} [${s.kind}, ${bitRate(q.rateBitsPerSecond)}]: ${s.enqueued} enqueued, ${s.dropped} dropped, ${s.marked} marked; ` +
          `sojourn p50 ${s.sojournMs.p50.toFixed(2)} ms, p90 ${s.sojournMs.p90.toFixed(2)} ms, p99 ${s.sojournMs.p99.toFixed(2)} ms; max backlog ${s.maxBacklogPackets} packets`,
      );
    }
  }
  if (r.xen !== undefined) {
    lines.push("", "xen hosts (domU netfront -> netback vif in dom0 -> bridge -> link):");
    for (const h of r.xen.hosts) {
      lines.push(
        `  ${h.name} dom${h.domid} ${h.mac}: netfront tx ${h.netfront.txFrames} frames / rx ${h.netfront.rxFrames}, ${h.vif} tx ${h.netback.txFrames} / rx ${h.netback.rxFrames}, ` +
          `${h.bridge} link port out ${h.linkPort.txFrames} (${h.linkPort.segmented} GSO segmented, ${h.linkPort.checksumsCompleted} checksums completed) / in ${h.linkPort.rxFrames}` +
          `${h.netfront.txDropped + h.netfront.rxDropped + h.netback.rxDropped + h.linkPort.dropped > 0 ? `; dropped: netfront ${h.netfront.txDropped} tx ${h.netfront.rxDropped} rx, vif ${h.netback.rxDropped}, port ${h.linkPort.dropped}` : ""}`,
      );
    }
    if (r.xen.peerErrors.length > 0) lines.push(`  peer errors: ${r.xen.peerErrors.join("; ")}`);
  }
  if (r.dhcp !== undefined) {
    lines.push("", "dhcp leases:");
    for (const d of r.dhcp) {
      lines.push(
        `  ${d.host.padEnd(8)} from ${d.server}: ${
          d.address === undefined
            ? `no lease (${d.state})`
            : `${d.address}${d.gateway === undefined ? "" : ` via ${d.gateway}`}, requested at ${d.acquiredAtMs!.toFixed(1)} ms, ` +
              `configured at ${d.boundAtMs === undefined ? "-" : d.boundAtMs.toFixed(1)} ms (after its ARP probe), ${d.leaseSeconds} s`
        }`,
      );
    }
  }
  for (const [name, c] of Object.entries(r.routers)) {
    const drops = Object.entries(c)
      .filter(([k]) => k.startsWith("drop."))
      .map(([k, v]) => `${k.slice(5)} ${v}`);
    lines.push("", `router ${name}: ${c.forwarded ?? 0} forwarded${drops.length === 0 ? "" : `, dropped: ${drops.join(", ")}`}`);
    if (c["v6.forwarded"] !== undefined) {
      const drops6 = Object.entries(c)
        .filter(([k]) => k.startsWith("v6.drop."))
        .map(([k, v]) => `${k.slice(8)} ${v}`);
      lines.push(
        `  IPv6: ${c["v6.forwarded"]} forwarded, ${c["v6.icmpErrorsSent"] ?? 0} ICMPv6 errors sent${drops6.length === 0 ? "" : `, dropped: ${drops6.join(", ")}`}`,
      );
    }
  }
  if (r.outDir !== undefined) lines.push("", `written to ${r.outDir} (a pcapng per link, report.json, summary.txt, goodput.svg, queue-delay.svg)`);
  return `${lines.join("\n")}\n`;
}
