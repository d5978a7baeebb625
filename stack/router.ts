// createRouter(): a stack with several interfaces and forwarding on (ARCHITECTURE.md: "a router is
// a stack with several NetDevices"). Each interface is assembled like createStack's one
// (NetDevice -> Ethernet -> ARP -> IPv4 -> ICMP, so it answers pings and ARP for its address);
// the interfaces share one routing table (a connected route per interface, plus the static and
// default routes given) and one forwarding plane (net/forward.ts). Locally originated datagrams
// to off-link destinations are routed by the table. With forwarding: false it is a multihomed host.
// With options.transport it also gets UDP and TCP over one IPv4 facade (output by the table, input
// from every interface). Known limit: TCP does not pass its local address to ip.send, so a
// connection to one interface's address from a host routed via another interface gets the
// outgoing interface's source address (and a wrong checksum); see the report of issue 21.
// IPv6: an interface given `ipv6` addresses also gets NDP (acting as a router on its link: RAs with
// its prefixes so hosts autoconfigure, answers to RS), IPv6 and ICMPv6; those interfaces share an
// IPv6 routing table (a connected route per prefix, plus the static routes whose destination is an
// IPv6 prefix) and the IPv6 forwarding plane (net/forward6.ts). Without `ipv6` on any interface
// nothing of IPv6 exists and the router behaves, and emits, exactly as before.
import type { NetDevice } from "./link/types.ts";
import type { Clock, Rng } from "./time.ts";
import { type Ipv4Address, type Ipv4Cidr, formatIpv4, parseCidr, parseIpv4, prefixToMask } from "./wire/address.ts";
import { type ArpOptions, createArp } from "./net/arp.ts";
import { type EthernetOptions, createEthernet } from "./net/ethernet.ts";
import { type ForwarderOptions, type Forwarder, type ForwardingInterface, createForwarder } from "./net/forward.ts";
import { type IcmpOptions, createIcmp } from "./net/icmp.ts";
import { createIpv4 } from "./net/ipv4.ts";
import { type RoutingTable, type RoutingTable6, createRoutingTable, createRoutingTable6 } from "./net/route.ts";
import type { ArpLayer, EthernetLayer, IcmpLayer, Ipv4Stack, LayerCounters } from "./net/types.ts";
import { type Forwarder6, type Forwarder6Options, type Forwarding6Interface, createForwarder6 } from "./net/forward6.ts";
import { type NdpOptions, type RouterAdvertiserOptions, createNdp, ipv6PrefixMatch } from "./net/ndp.ts";
import { createIpv6 } from "./net/ipv6.ts";
import { type Icmpv6Options, createIcmpv6 } from "./net/icmpv6.ts";
import type { Icmpv6Layer, Ipv6Stack } from "./net/ipv6-types.ts";
import { type Ipv6Address, type Ipv6Cidr, isIpv6LinkLocal, maskIpv6, parseIpv6Cidr } from "./wire/ipv6-address.ts";
import { type UdpOptions, type UdpStack, createUdp } from "./transport/udp.ts";
import { type TcpLayerOptions, createTcpLayer } from "./transport/tcp/index.ts";
import type { StackTcpLayer } from "./index.ts";
import { NetlabError } from "./error.ts";

/** One interface of a router. */
export interface RouterInterfaceOptions {
  readonly device: NetDevice;
  readonly cidr: string | Ipv4Cidr;
  /** A label (default eth0, eth1, ...), used by routes and reports. */
  readonly name?: string;
  readonly ethernet?: EthernetOptions;
  readonly arp?: ArpOptions;
  /** IPv6 addresses ("2001:db8:1::1/64"; the link-local one from the MAC is always added): each
   * prefix becomes a connected route and, unless `advertise` is false, goes into the RAs. */
  readonly ipv6?: readonly string[];
  /** Router Advertisements on this interface (default on when `ipv6` is given; false: none). */
  readonly advertise?: boolean | Omit<RouterAdvertiserOptions, "prefixes">;
  /** Neighbor Discovery of this interface (NUD timers, cache sizes). */
  readonly ndp?: Omit<NdpOptions, "advertise" | "slaac" | "acceptRa" | "routerSolicitations" | "staticRouters">;
}

/** A static or default route. */
export interface RouterRouteOptions {
  /** "198.51.100.0/24", or "default" for 0.0.0.0/0; an IPv6 prefix ("2001:db8:3::/64", "::/0") goes in the IPv6 table. */
  readonly destination: string;
  /** Gateway on a connected subnet; omit for a route straight out of `interface`. */
  readonly via?: string;
  /** Interface name or index (default: the one whose subnet holds `via`). */
  readonly interface?: string | number;
  readonly metric?: number;
}

export interface RouterOptions {
  readonly name?: string;
  readonly interfaces: readonly RouterInterfaceOptions[];
  readonly routes?: readonly RouterRouteOptions[];
  /** Forwarding plane options (forwarding on by default, ICMP error rate limit). */
  readonly forwarding?: ForwarderOptions;
  /** The IPv6 forwarding plane's options (forwarding on by default, ICMPv6 error rate limit). */
  readonly forwarding6?: Forwarder6Options;
  /** ICMPv6 of each IPv6 interface (echo replies, errors about packets addressed to us). */
  readonly icmpv6?: Icmpv6Options;
  /** ICMP of each interface (echo replies, errors about datagrams addressed to us). */
  readonly icmp?: IcmpOptions;
  /** TTL of datagrams the router originates (default 64). */
  readonly defaultTtl?: number;
  /** Give the stack UDP and TCP over all its interfaces (a multihomed host, or a router that serves). */
  readonly transport?: { readonly udp?: UdpOptions; readonly tcp?: TcpLayerOptions };
}

/** An assembled interface. */
export interface RouterInterface {
  readonly index: number;
  readonly name: string;
  readonly device: NetDevice;
  readonly cidr: Ipv4Cidr;
  readonly ethernet: EthernetLayer;
  readonly arp: ArpLayer;
  readonly ipv4: Ipv4Stack;
  readonly icmp: IcmpLayer;
  /** Present when the interface was given IPv6 addresses. */
  readonly ipv6?: Ipv6Stack;
  readonly icmpv6?: Icmpv6Layer;
}

/** An assembled router. */
export interface Router {
  readonly name: string;
  readonly clock: Clock;
  readonly interfaces: readonly RouterInterface[];
  readonly table: RoutingTable;
  readonly forwarder: Forwarder;
  /** The IPv6 routing table and forwarding plane (empty / forwarding nothing without IPv6 interfaces). */
  readonly table6: RoutingTable6;
  readonly forwarder6: Forwarder6;
  /** The interface by name or index. */
  interface(which: string | number): RouterInterface;
  /** IPv4 over all interfaces: sends by the routing table, delivers what any interface receives. */
  readonly ipv4: Ipv4Stack;
  /** ICMP over all interfaces (errors go out of the interface towards their destination). */
  readonly icmp: IcmpLayer;
  /** With options.transport: UDP and TCP bound to every interface's address. */
  readonly udp?: UdpStack;
  readonly tcp?: StackTcpLayer;
  /** Forwarding counters plus each interface's layers (`eth0.ipv4`, ...). */
  counters(): Record<string, LayerCounters>;
}

function configError(msg: string): Error {
  return new NetlabError("ERR_NETLAB_CONFIG", msg);
}

/** Assembles a router. Bad configuration (strings, an unreachable gateway) throws ERR_NETLAB_CONFIG. */
export function createRouter(deps: { readonly clock: Clock; readonly rng: Rng }, options: RouterOptions): Router {
  const { clock, rng } = deps;
  const table = createRoutingTable();
  const forwardingIfaces: ForwardingInterface[] = [];
  const interfaces: RouterInterface[] = [];
  // The forwarder is created after the interfaces, whose hooks reach it through this binding.
  let forwarder: Forwarder | undefined;
  const isAnyLocal = (a: Ipv4Address): boolean => forwarder?.isLocal(a) ?? false;
  const table6 = createRoutingTable6();
  const forwarding6Ifaces: (Forwarding6Interface | undefined)[] = [];
  let forwarder6: Forwarder6 | undefined;
  const prefixes6: { index: number; prefix: Ipv6Address; prefixLength: number }[] = [];

  options.interfaces.forEach((o, index) => {
    const name = o.name ?? `eth${index}`;
    if (interfaces.some((i) => i.name === name)) throw configError(`duplicate interface name ${name}`);
    const cidr = typeof o.cidr === "string" ? unwrapCidr(o.cidr) : o.cidr;
    const ethernet = createEthernet(o.device, o.ethernet);
    const arp = createArp(
      { clock, rng, ethernet },
      {
        ...o.arp,
        // RFC 1812 §5.2.7.1: host unreachable for the datagrams whose next hop never answered.
        onResolutionFailed: (ip, packets) => {
          for (const p of packets) forwarder?.sendError("host-unreachable", p);
          o.arp?.onResolutionFailed?.(ip, packets);
        },
      },
    );
    let deliver: (packet: Uint8Array) => void = () => {};
    const ipv4 = createIpv4(
      { clock, rng, ethernet, arp },
      {
        ...(options.defaultTtl === undefined ? {} : { defaultTtl: options.defaultTtl }),
        forwarding: {
          forward: (packet, linkBroadcast) => forwarder?.forward(packet, index, linkBroadcast),
          isOtherLocal: (dst) => dst !== cidr.address && isAnyLocal(dst),
          output: (packet) => forwarder!.output(packet),
          attach: (receive) => {
            deliver = receive;
          },
        },
      },
    );
    const icmp = createIcmp({ clock, rng, ipv4 }, options.icmp);
    ipv4.configure(cidr);
    const mask = prefixToMask(cidr.prefixLength);
    table.add({ destination: { address: (cidr.address & mask) >>> 0, prefixLength: cidr.prefixLength }, interfaceIndex: index, kind: "connected" });
    let ipv6: Ipv6Stack | undefined;
    let icmpv6: Icmpv6Layer | undefined;
    if (o.ipv6 !== undefined && o.ipv6.length > 0) {
      const addrs = o.ipv6.map(unwrapCidr6);
      const onLink = addrs.filter((a) => a.prefixLength < 128 && !isIpv6LinkLocal(a.address));
      const advertise = o.advertise ?? true;
      const ndp = createNdp(
        { clock, rng, ethernet },
        {
          ...o.ndp,
          slaac: false,
          acceptRa: false,
          routerSolicitations: false,
          // RFC 4443 §3.1 code 3: the packets waiting for a next hop that never answered.
          onResolutionFailed: (ip, packets) => {
            for (const p of packets) forwarder6?.sendError("address-unreachable", p, index);
            o.ndp?.onResolutionFailed?.(ip, packets);
          },
          ...(advertise === false
            ? {}
            : {
                advertise: {
                  ...(advertise === true ? {} : advertise),
                  prefixes: onLink.map((a) => ({ prefix: maskIpv6(a.address, a.prefixLength), prefixLength: a.prefixLength })),
                },
              }),
        },
      );
      let deliver6: (packet: Uint8Array) => void = () => {};
      const v6 = createIpv6(
        { clock, rng, ethernet, ndp },
        {
          forwarding: {
            forward: (packet, linkMulticast) => forwarder6?.forward(packet, index, linkMulticast),
            output: (packet) => forwarder6!.output(packet),
            attach: (receive) => {
              deliver6 = receive;
            },
          },
        },
      );
      ipv6 = v6;
      icmpv6 = createIcmpv6({ clock, rng, ipv6: v6 }, options.icmpv6);
      for (const a of addrs) ndp.addAddress(a.address, a.prefixLength);
      for (const a of onLink) {
        const prefix = maskIpv6(a.address, a.prefixLength);
        prefixes6.push({ index, prefix, prefixLength: a.prefixLength });
        table6.add({ destination: { address: prefix, prefixLength: a.prefixLength }, interfaceIndex: index, kind: "connected" });
      }
      forwarding6Ifaces[index] = { name, ipv6: v6, ethernet, deliver: (p) => deliver6(p) };
    } else forwarding6Ifaces[index] = undefined;
    interfaces.push({
      index,
      name,
      device: o.device,
      cidr,
      ethernet,
      arp,
      ipv4,
      icmp,
      ...(ipv6 === undefined || icmpv6 === undefined ? {} : { ipv6, icmpv6 }),
    });
    forwardingIfaces.push({ name, ipv4, arp, ethernet, deliver: (p) => deliver(p) });
  });
  forwarder = createForwarder({ clock, rng, table, interfaces: forwardingIfaces }, options.forwarding);
  forwarder6 = createForwarder6({ clock, table: table6, interfaces: forwarding6Ifaces }, options.forwarding6);

  const find = (which: string | number): RouterInterface => {
    const i = typeof which === "number" ? interfaces[which] : interfaces.find((x) => x.name === which);
    if (i === undefined) throw configError(`no interface ${which}`);
    return i;
  };

  for (const r of options.routes ?? []) {
    if (r.destination.includes(":")) {
      addRoute6(r);
      continue;
    }
    const destination = r.destination === "default" ? { address: 0, prefixLength: 0 } : unwrapCidr(r.destination);
    const via = r.via === undefined ? undefined : unwrapAddress(r.via);
    let iface: RouterInterface | undefined;
    if (r.interface !== undefined) iface = find(r.interface);
    else if (via !== undefined) iface = interfaces[table.lookup(via)?.interfaceIndex ?? -1];
    if (iface === undefined) throw configError(`route to ${r.destination}: no interface reaches ${r.via === undefined ? "it" : r.via}`);
    if (via !== undefined) {
      const mask = prefixToMask(iface.cidr.prefixLength);
      if (((via ^ iface.cidr.address) & mask) !== 0)
        throw configError(`route to ${r.destination}: gateway ${formatIpv4(via)} is not on ${iface.name}'s subnet`);
    }
    table.add(
      via === undefined
        ? { destination, interfaceIndex: iface.index, ...(r.metric === undefined ? {} : { metric: r.metric }) }
        : { destination, interfaceIndex: iface.index, nextHop: via, ...(r.metric === undefined ? {} : { metric: r.metric }) },
    );
  }

  // IPv6 routes: the gateway must be link-local (with `interface`) or inside a prefix of the interface.
  function addRoute6(r: RouterRouteOptions): void {
    const destination = unwrapCidr6(r.destination);
    const via = r.via === undefined ? undefined : unwrapCidr6(r.via).address;
    let iface: RouterInterface | undefined;
    if (r.interface !== undefined) iface = find(r.interface);
    else if (via !== undefined && !isIpv6LinkLocal(via)) {
      const p = prefixes6.find((x) => ipv6PrefixMatch(x.prefix, via, x.prefixLength));
      iface = p === undefined ? undefined : interfaces[p.index];
    }
    if (iface === undefined || iface.ipv6 === undefined)
      throw configError(`route to ${r.destination}: no IPv6 interface reaches ${r.via === undefined ? "it" : r.via}`);
    const at = iface.index;
    if (via !== undefined && !isIpv6LinkLocal(via) && !prefixes6.some((x) => x.index === at && ipv6PrefixMatch(x.prefix, via, x.prefixLength)))
      throw configError(`route to ${r.destination}: gateway ${r.via} is not on ${iface.name}'s prefixes`);
    table6.add({
      destination,
      interfaceIndex: at,
      ...(via === undefined ? {} : { nextHop: via }),
      ...(r.metric === undefined ? {} : { metric: r.metric }),
    });
  }

  const ipv4 = createMultiInterfaceIpv4(interfaces, table, forwarder);
  const icmp = createMultiInterfaceIcmp(interfaces, table);
  let udp: UdpStack | undefined;
  let tcp: StackTcpLayer | undefined;
  if (options.transport !== undefined) {
    udp = createUdp({ ipv4, icmp, rng }, options.transport.udp);
    tcp = createTcpLayer({ ip: ipv4, clock, rng, icmp }, options.transport.tcp) as StackTcpLayer;
  }

  return {
    name: options.name ?? "router",
    clock,
    interfaces,
    table,
    forwarder,
    table6,
    forwarder6,
    interface: find,
    ipv4,
    icmp,
    ...(udp === undefined ? {} : { udp }),
    ...(tcp === undefined ? {} : { tcp }),
    counters() {
      const out: Record<string, LayerCounters> = { forwarding: forwarder!.counters() };
      const v6 = interfaces.some((i) => i.ipv6 !== undefined);
      if (v6) out.forwarding6 = forwarder6!.counters();
      for (const i of interfaces) {
        out[`${i.name}.ethernet`] = i.ethernet.counters();
        out[`${i.name}.arp`] = i.arp.counters();
        out[`${i.name}.ipv4`] = i.ipv4.counters();
        out[`${i.name}.icmp`] = i.icmp.counters();
        if (i.ipv6 !== undefined && i.icmpv6 !== undefined) {
          out[`${i.name}.ipv6`] = i.ipv6.counters();
          out[`${i.name}.ndp`] = i.ipv6.ndp.counters();
          out[`${i.name}.icmpv6`] = i.icmpv6.counters();
        }
      }
      return out;
    },
  };
}

/** The interface a datagram to dst leaves by (undefined: no route). */
function outgoing(interfaces: readonly RouterInterface[], table: RoutingTable, dst: Ipv4Address): RouterInterface | undefined {
  const own = interfaces.find((i) => i.cidr.address === dst);
  if (own !== undefined) return own;
  const route = table.lookup(dst);
  return route === undefined ? undefined : interfaces[route.interfaceIndex];
}

function sumCounters(all: readonly LayerCounters[]): LayerCounters {
  const out: Record<string, number> = {};
  const drops: Record<string, number> = {};
  for (const c of all) {
    for (const [k, v] of Object.entries(c)) if (typeof v === "number") out[k] = (out[k] ?? 0) + v;
    for (const [k, v] of Object.entries(c.drops)) drops[k] = (drops[k] ?? 0) + v;
  }
  return { ...out, drops };
}

/** One IPv4 layer over several interfaces, for transports: output by the routing table, input from all. */
function createMultiInterfaceIpv4(interfaces: readonly RouterInterface[], table: RoutingTable, forwarder: Forwarder): Ipv4Stack {
  const first = interfaces[0]!;
  return {
    get cidr() {
      return first.ipv4.cidr;
    },
    get gateway() {
      return undefined;
    },
    configure() {
      throw configError("a multi-interface stack is configured per interface (interface(i).ipv4.configure)");
    },
    send(dst, protocol, payload, opts) {
      const out = outgoing(interfaces, table, dst);
      if (out === undefined) return { ok: false, error: "no-route" };
      return out.ipv4.send(dst, protocol, payload, opts);
    },
    registerProtocol(protocol, handler) {
      for (const i of interfaces) i.ipv4.registerProtocol(protocol, handler);
    },
    mtuTo: (dst) => outgoing(interfaces, table, dst)?.ipv4.mtuTo(dst) ?? first.ipv4.mtuTo(dst),
    sourceFor: (dst) => outgoing(interfaces, table, dst)?.cidr.address,
    setErrorReporter(reporter) {
      for (const i of interfaces) i.ipv4.setErrorReporter(reporter);
    },
    updatePathMtu(dst, mtu) {
      for (const i of interfaces) i.ipv4.updatePathMtu(dst, mtu);
    },
    isLocal: (a) => forwarder.isLocal(a) || interfaces.some((i) => i.ipv4.isLocal(a)),
    isBroadcast: (a) => interfaces.some((i) => i.ipv4.isBroadcast(a)),
    counters: () => sumCounters(interfaces.map((i) => i.ipv4.counters())),
    reassemblyCounters: () => sumCounters(interfaces.map((i) => i.ipv4.reassemblyCounters())),
  };
}

/** One ICMP layer over several interfaces: each call goes to the interface towards the address concerned. */
function createMultiInterfaceIcmp(interfaces: readonly RouterInterface[], table: RoutingTable): IcmpLayer {
  const first = interfaces[0]!;
  const sourceOf = (header: Uint8Array): Ipv4Address =>
    (((header[12] ?? 0) << 24) | ((header[13] ?? 0) << 16) | ((header[14] ?? 0) << 8) | (header[15] ?? 0)) >>> 0;
  return {
    ping: (dst, o, cb) => (outgoing(interfaces, table, dst) ?? first).icmp.ping(dst, o, cb),
    sendError: (kind, header, payload, nextHopMtu) =>
      (outgoing(interfaces, table, sourceOf(header)) ?? first).icmp.sendError(kind, header, payload, nextHopMtu),
    reportLocalError: (kind, datagram) => first.icmp.reportLocalError(kind, datagram),
    onError(protocol, handler) {
      for (const i of interfaces) i.icmp.onError(protocol, handler);
    },
    counters: () => sumCounters(interfaces.map((i) => i.icmp.counters())),
  };
}

function unwrapCidr(s: string): Ipv4Cidr {
  const r = parseCidr(s);
  if (!r.ok) throw configError(`bad CIDR ${s}`);
  return r.value;
}

/** "2001:db8::1/64" (no length: /128). */
function unwrapCidr6(s: string): Ipv6Cidr {
  const r = parseIpv6Cidr(s);
  if (!r.ok) throw configError(`bad IPv6 CIDR ${s}`);
  return r.value;
}

function unwrapAddress(s: string): Ipv4Address {
  const r = parseIpv4(s);
  if (!r.ok) throw configError(`bad IPv4 address ${s}`);
  return r.value;
}
