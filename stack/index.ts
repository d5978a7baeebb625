// createStack(): the one composition root of the protocol stack (MirageOS-style assembly):
// NetDevice -> Ethernet -> ARP -> IPv4 (+ reassembly) -> ICMP -> UDP (-> TCP).
// Everything from the world (device, clock, rng) is injected; two stacks never share state.
import type { NetDevice } from "./link/types.ts";
import type { Clock, Rng } from "./time.ts";
import { type Ipv4Address, type Ipv4Cidr, parseCidr, parseIpv4 } from "./wire/address.ts";
import { type ArpOptions, createArp } from "./net/arp.ts";
import { type EthernetOptions, createEthernet } from "./net/ethernet.ts";
import { type IcmpOptions, createIcmp } from "./net/icmp.ts";
import { createIpv4 } from "./net/ipv4.ts";
import type { ReassemblyOptions } from "./net/reassembly.ts";
import type { ArpLayer, EthernetLayer, IcmpLayer, Ipv4Stack, LayerCounters } from "./net/types.ts";
import { type UdpOptions, type UdpStack, createUdp } from "./transport/udp.ts";
import { type NdpOptions, type RouterAdvertiserOptions, createNdp } from "./net/ndp.ts";
import { type Ipv6Options, createIpv6 } from "./net/ipv6.ts";
import { type Icmpv6Options, createIcmpv6 } from "./net/icmpv6.ts";
import { type Udp6Options, type Udp6Stack, createUdp6 } from "./transport/udp6.ts";
import { type Ipv6TransportAdapter, createIpv6TransportAdapter } from "./net/ipv6-transport-adapter.ts";
import type { DadResult, Icmpv6Layer, Ipv6Stack } from "./net/ipv6-types.ts";
import { parseIpv6Cidr } from "./wire/ipv6-address.ts";
import { type ExtendedTcpLayer, type TcpLayerOptions, type TcpConnection, createTcpLayer } from "./transport/tcp/index.ts";
import type { TcpConnectError, TcpConnectionOptions, TcpListenError, TcpStream, TcpStreamListener } from "./transport/types.ts";
import { type Tcp6Layer, createTcp6 } from "./transport/tcp6.ts";
import type { Result } from "./result.ts";
import { NetlabError } from "./error.ts";

/** What the world gives a stack. */
export interface StackDeps {
  readonly device: NetDevice;
  readonly clock: Clock;
  readonly rng: Rng;
}

/** IPv4 configuration; omit it to start unconfigured (e.g. for DHCP, then ipv4.configure()). */
export interface StackIpv4Options {
  readonly cidr: string | Ipv4Cidr;
  readonly gateway?: string | Ipv4Address;
  /** TTL of datagrams we originate (default 64). */
  readonly defaultTtl?: number;
  /** Lifetime of a learned path MTU (default 10 minutes). */
  readonly pmtuTimeoutMs?: number;
}

/**
 * IPv6 configuration; omit it for a v4-only stack (nothing of v6 is sent or accepted then).
 * The link-local address (modified EUI-64 of the MAC) is always configured, with DAD.
 */
export interface StackIpv6Options extends Omit<NdpOptions, "advertise" | "slaac">, Ipv6Options {
  /** Static addresses, "2001:db8::2/64" (the prefix is then on-link); DAD runs on each. */
  readonly addresses?: readonly string[];
  /** A default router configured by hand ("fe80::1" or an on-link global address). */
  readonly gateway?: string;
  /** Autoconfigure addresses from Router Advertisements (RFC 4862; default false). */
  readonly slaac?: boolean;
  /** Act as a router on the link: send RAs for these prefixes ("2001:db8:1::/64") and answer RSs. */
  readonly advertise?: Omit<RouterAdvertiserOptions, "prefixes"> & { readonly prefixes: readonly string[] };
  readonly icmpv6?: Icmpv6Options;
  /** UDP over IPv6 (v6-only sockets, a port space apart from the v4 UDP layer's). */
  readonly udp?: Udp6Options;
  /** Called once per static address with the outcome of its DAD. */
  readonly onAddressReady?: (r: DadResult) => void;
}

export interface StackOptions {
  /** A label for logs and reports. */
  readonly name?: string;
  readonly ipv4?: StackIpv4Options;
  readonly ipv6?: StackIpv6Options;
  readonly ethernet?: EthernetOptions;
  readonly arp?: ArpOptions;
  readonly reassembly?: ReassemblyOptions;
  readonly icmp?: IcmpOptions;
  readonly udp?: UdpOptions;
  readonly tcp?: TcpLayerOptions;
}

/** Per-layer counters of one stack. */
export interface StackCounters {
  readonly ethernet: LayerCounters;
  readonly arp: LayerCounters;
  readonly ipv4: LayerCounters;
  readonly reassembly: LayerCounters;
  readonly icmp: LayerCounters;
  readonly udp: LayerCounters;
  readonly [layer: string]: LayerCounters;
}

/** An assembled stack. */
export interface Stack {
  readonly name: string;
  readonly device: NetDevice;
  readonly clock: Clock;
  readonly rng: Rng;
  readonly ethernet: EthernetLayer;
  readonly arp: ArpLayer;
  readonly ipv4: Ipv4Stack;
  readonly icmp: IcmpLayer;
  readonly udp: UdpStack;
  readonly tcp: StackTcpLayer;
  /** Present when options.ipv6 was given. */
  readonly ipv6: Ipv6Stack | undefined;
  readonly icmpv6: Icmpv6Layer | undefined;
  readonly udp6: Udp6Stack | undefined;
  /** TCP over IPv6 (present with options.ipv6). */
  readonly tcp6: StackTcp6Layer | undefined;
  counters(): StackCounters;
}

/**
 * TCP over IPv6: the same TCP layer, a second instance, run over the IPv6 layer through
 * net/ipv6-transport-adapter.ts. Sockets are v6-only by default (a port space apart from v4's);
 * `listen(port, { ipv6Only: false })` is a dual-stack listener that also takes IPv4 connections
 * on the port (transport/tcp6.ts). A stream's localAddress/remoteAddress are the adapter's 32-bit
 * handles: endpointsOf() (or addressOf()) gives the addresses. No checksum offload or TSO on this path.
 */
export interface StackTcp6Layer extends Tcp6Layer {
  readonly layer: StackTcpLayer;
}

/** The TCP layer of an assembled stack: its connections are TcpStreams (info() included). */
export interface StackTcpLayer extends Omit<ExtendedTcpLayer, "connect" | "listen"> {
  /** Opens a connection; the returned stream emits onConnect or onClose(error). */
  connect(dst: Ipv4Address, dstPort: number, options?: TcpConnectionOptions & { localPort?: number }): Result<TcpStream, TcpConnectError>;
  /** Listens on a port (0 = ephemeral). */
  listen(port: number, options?: TcpConnectionOptions & { backlog?: number }): Result<TcpStreamListener, TcpListenError>;
}

/** Bytes TCP over IPv6 leaves before each segment: Ethernet (14) and IPv6 (40) headers, rounded up to 8. */
const TCP6_HEADROOM = 62;

// Every stream the TCP layer hands out is a TcpConnection, which is a TcpStream:
// that is what makes the StackTcpLayer view of createTcpLayer() below sound.
const tcpConnectionIsTcpStream: (c: TcpConnection) => TcpStream = (c) => c;
void tcpConnectionIsTcpStream;

/** Assembles a stack on a device. Bad configuration strings are programmer errors (throw, code ERR_NETLAB_CONFIG). */
export function createStack(deps: StackDeps, options: StackOptions = {}): Stack {
  const { device, clock, rng } = deps;
  const ethernet = createEthernet(device, options.ethernet);
  let icmpLayer: IcmpLayer | undefined;
  const userResolutionFailed = options.arp?.onResolutionFailed;
  const arp = createArp(
    { clock, rng, ethernet },
    {
      ...options.arp,
      // RFC 1122 §3.3.1.4 / §2.3.2.2: tell local senders their next hop did not resolve.
      onResolutionFailed: (ip, packets) => {
        for (const p of packets) icmpLayer?.reportLocalError("host-unreachable", p);
        userResolutionFailed?.(ip, packets);
      },
    },
  );
  const ipv4 = createIpv4(
    { clock, rng, ethernet, arp },
    {
      ...(options.reassembly === undefined ? {} : { reassembly: options.reassembly }),
      ...(options.ipv4?.defaultTtl === undefined ? {} : { defaultTtl: options.ipv4.defaultTtl }),
      ...(options.ipv4?.pmtuTimeoutMs === undefined ? {} : { pmtuTimeoutMs: options.ipv4.pmtuTimeoutMs }),
    },
  );
  const icmp = createIcmp({ clock, rng, ipv4 }, options.icmp);
  icmpLayer = icmp;
  const udp = createUdp({ ipv4, icmp, rng, txChecksumOffload: device.offloads.txChecksum }, options.udp);

  const tcp = createTcpLayer(
    { ip: ipv4, clock, rng, icmp },
    {
      txChecksumOffload: device.offloads.txChecksum,
      tsoMaxFrame: device.offloads.tso ? device.offloads.maxGsoFrame : 0,
      ...options.tcp,
    },
  ) as StackTcpLayer;

  let ipv6: Ipv6Stack | undefined;
  let icmpv6: Icmpv6Layer | undefined;
  let udp6: Udp6Stack | undefined;
  let tcp6: StackTcp6Layer | undefined;
  let tcpAdapter: Ipv6TransportAdapter | undefined;
  if (options.ipv6 !== undefined) {
    const v6 = options.ipv6;
    const {
      addresses: staticAddresses,
      gateway: gateway6,
      advertise,
      icmpv6: icmpv6Options,
      udp: udp6Options,
      onAddressReady,
      slaac,
      maxExtensionHeaders,
      maxChainLength,
      pmtuTimeoutMs,
      maxPmtuEntries,
      reassembly: reassembly6,
      ...ndpOptions
    } = v6;
    const ndp = createNdp(
      { clock, rng, ethernet },
      {
        ...ndpOptions,
        slaac: slaac ?? false,
        ...(gateway6 === undefined ? {} : { staticRouters: [toIpv6Cidr(gateway6).address] }),
        ...(advertise === undefined
          ? {}
          : {
              advertise: {
                ...advertise,
                prefixes: advertise.prefixes.map((p) => {
                  const x = toIpv6Cidr(p);
                  return { prefix: x.address, prefixLength: x.prefixLength };
                }),
              },
            }),
      },
    );
    ipv6 = createIpv6(
      { clock, rng, ethernet, ndp },
      {
        ...(reassembly6 === undefined ? {} : { reassembly: reassembly6 }),
        ...(maxExtensionHeaders === undefined ? {} : { maxExtensionHeaders }),
        ...(maxChainLength === undefined ? {} : { maxChainLength }),
        ...(pmtuTimeoutMs === undefined ? {} : { pmtuTimeoutMs }),
        ...(maxPmtuEntries === undefined ? {} : { maxPmtuEntries }),
      },
    );
    icmpv6 = createIcmpv6({ clock, rng, ipv6 }, icmpv6Options);
    udp6 = createUdp6({ ipv6, icmpv6, rng }, udp6Options);
    // TCP leaves 20 bytes more before each segment than for IPv4 (62, 8-aligned): IPv6 and Ethernet (54) then write their headers in place.
    const adapter = createIpv6TransportAdapter({ ipv6, icmpv6 }, { checksumOffset: 16, headroom: TCP6_HEADROOM });
    tcpAdapter = adapter;
    const layer6 = createTcpLayer(
      { ip: adapter.ip, clock, rng, icmp: adapter.icmp },
      { ...options.tcp, txChecksumOffload: false, tsoMaxFrame: 0, headroom: TCP6_HEADROOM },
    ) as StackTcpLayer;
    tcp6 = { layer: layer6, ...createTcp6({ tcp4: tcp, tcp6: layer6, handleOf: adapter.handleOf, addressOf: adapter.addressOf }) };
    for (const a of staticAddresses ?? []) {
      const x = toIpv6Cidr(a);
      ndp.addAddress(x.address, x.prefixLength, onAddressReady);
    }
  }

  if (options.ipv4 !== undefined) {
    const cfg = options.ipv4;
    ipv4.configure(toCidr(cfg.cidr), cfg.gateway === undefined ? undefined : toAddress(cfg.gateway));
  }

  return {
    name: options.name ?? "stack",
    device,
    clock,
    rng,
    ethernet,
    arp,
    ipv4,
    icmp,
    udp,
    tcp,
    ipv6,
    icmpv6,
    udp6,
    tcp6,
    counters: () => ({
      ethernet: ethernet.counters(),
      arp: arp.counters(),
      ipv4: ipv4.counters(),
      reassembly: ipv4.reassemblyCounters(),
      icmp: icmp.counters(),
      udp: udp.counters(),
      ...(ipv6 === undefined || icmpv6 === undefined
        ? {}
        : {
            ipv6: ipv6.counters(),
            reassembly6: ipv6.reassemblyCounters(),
            ndp: ipv6.ndp.counters(),
            icmpv6: icmpv6.counters(),
            ...(udp6 === undefined ? {} : { udp6: udp6.counters() }),
            ...(tcpAdapter === undefined ? {} : { tcp6Adapter: tcpAdapter.counters() }),
          }),
    }),
  };
}

function configError(msg: string): Error {
  return new NetlabError("ERR_NETLAB_CONFIG", msg);
}

function toCidr(c: string | Ipv4Cidr): Ipv4Cidr {
  if (typeof c !== "string") return c;
  const r = parseCidr(c);
  if (!r.ok) throw configError(`bad CIDR ${c}`);
  return r.value;
}

/** "2001:db8::1/64" (no prefix: /128). */
function toIpv6Cidr(s: string): { address: Uint8Array; prefixLength: number } {
  const r = parseIpv6Cidr(s);
  if (!r.ok) throw configError(`bad IPv6 CIDR ${s}`);
  return r.value;
}

function toAddress(a: string | Ipv4Address): Ipv4Address {
  if (typeof a !== "string") return a;
  const r = parseIpv4(a);
  if (!r.ok) throw configError(`bad IPv4 address ${a}`);
  return r.value;
}

export type { ArpOptions, EthernetOptions, IcmpOptions, ReassemblyOptions, UdpOptions, TcpLayerOptions, NdpOptions, Icmpv6Options, Ipv6Options };

// ---------------------------------------------------------------------------------------------
// The package's top-level surface (`import { ... } from "netlab"`): everything needed to build
// and run simulated networks. Packet views and parsers are under `wire`; the layer factories
// (createEthernet, createArp, ...) stay reachable through their folders' index.ts.
export { createVirtualClock, createRng, type Clock, type Rng, type VirtualClock, type Instant, type TimerId } from "./time.ts";
export { settle, type SettleOptions } from "./settle.ts";
export { ok, err, unwrap, type Ok, type Err, type Result } from "./result.ts";
export { NetlabError, isNetlabError } from "./error.ts";
export {
  type MacAddress,
  type Ipv4Address,
  type Ipv4Cidr,
  BROADCAST_MAC,
  IPV4_ANY,
  IPV4_BROADCAST,
  formatMac,
  parseMac,
  formatIpv4,
  parseIpv4 as parseIpv4Address,
  parseCidr,
  formatCidr,
  prefixToMask,
} from "./wire/address.ts";
export * from "./link/index.ts";
export * from "./transport/index.ts";
export type { ArpLayer, EthernetLayer, IcmpLayer, Ipv4Stack, LayerCounters, PingOptions, PingReply, PingError } from "./net/types.ts";
export type {
  DadResult,
  Icmpv6Layer,
  Ipv6Delivery,
  Ipv6InterfaceAddress,
  Ipv6Layer,
  Ipv6SendError,
  Ipv6SendOptions,
  Ipv6Stack,
  NdpLayer,
  NeighborEntry,
  Ping6Error,
  Ping6Options,
  Ping6Reply,
} from "./net/ipv6-types.ts";
export { type Ipv6Address, formatIpv6, parseIpv6Address } from "./wire/ipv6-address.ts";
export {
  type Tcp6ConnectOptions,
  type Tcp6Endpoints,
  type Tcp6Layer,
  type Tcp6ListenOptions,
  fromIpv4Mapped,
  ipv4Mapped,
} from "./transport/tcp6.ts";
export type { Udp6Datagram, Udp6Options, Udp6SendError, Udp6Socket, Udp6Stack } from "./transport/udp6.ts";
export * from "./app/dhcp/index.ts";
export * from "./app/dhcp6/index.ts";
export * from "./app/http/index.ts";
export * as wire from "./wire/index.ts";
export { createRouter, type Router, type RouterInterface, type RouterInterfaceOptions, type RouterOptions, type RouterRouteOptions } from "./router.ts";
export { createRoutingTable, type Route, type RouteKind, type RouteSpec, type RoutingTable } from "./net/route.ts";
export type { Forwarder, ForwarderOptions, ForwardingErrorKind } from "./net/forward.ts";
