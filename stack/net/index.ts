// Public surface of stack/net: Ethernet, ARP, IPv4 (with reassembly) and ICMP layers.
export * from "./types.ts";
export { createEthernet, type EthernetOptions } from "./ethernet.ts";
export { createArp, type ArpDeps, type ArpOptions } from "./arp.ts";
export { createIpv4, type Ipv4Deps, type Ipv4Options } from "./ipv4.ts";
export { createReassembler, type Reassembled, type Reassembler, type ReassemblyDeps, type ReassemblyOptions } from "./reassembly.ts";
export { createIcmp, type IcmpDeps, type IcmpOptions } from "./icmp.ts";
export { createCounters, type CounterBag } from "./counters.ts";
export {
  createRoutingTable,
  createRoutingTable6,
  type Route,
  type Route6,
  type RouteKind,
  type RouteSpec,
  type RoutingTable,
  type RoutingTable6,
} from "./route.ts";
export { createForwarder, type Forwarder, type ForwarderDeps, type ForwarderOptions, type ForwardingErrorKind, type ForwardingInterface } from "./forward.ts";
export type { Ipv4ForwardingHooks } from "./ipv4.ts";
export * from "./ipv6-types.ts";
export { createNdp, type AdvertisedPrefix, type NdpDeps, type NdpOptions, type RouterAdvertiserOptions } from "./ndp.ts";
export { createIpv6, type Ipv6Deps, type Ipv6Options } from "./ipv6.ts";
export { createIcmpv6, type Icmpv6Deps, type Icmpv6Options } from "./icmpv6.ts";
