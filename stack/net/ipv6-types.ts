// Interfaces of the IPv6 side of the network layer (kept apart from types.ts, the IPv4 side):
// the IPv6 layer as transports see it, Neighbor Discovery with address autoconfiguration, and
// ICMPv6. Addresses are 16-byte Uint8Arrays (wire/ipv6-address.ts).
import type { Result } from "../result.ts";
import type { FrameOffload } from "../link/types.ts";
import type { MacAddress } from "../wire/address.ts";
import type { Ipv6Address } from "../wire/ipv6-address.ts";
import type { Icmpv6Quote } from "../wire/icmpv6.ts";
import type { LayerCounters } from "./types.ts";

/** A received IPv6 packet as handed to an upper layer (extension headers already walked). */
export interface Ipv6Delivery {
  readonly src: Ipv6Address;
  readonly dst: Ipv6Address;
  /** The upper-layer protocol (58 ICMPv6, 6 TCP, 17 UDP). */
  readonly nextHeader: number;
  readonly hopLimit: number;
  readonly trafficClass: number;
  /** The upper-layer bytes (after every extension header, up to the payload length). */
  readonly payload: Uint8Array;
  /** The whole packet from the IPv6 header on (what an ICMPv6 error quotes). */
  readonly packet: Uint8Array;
  /** True when the frame's link-layer destination was a group address. */
  readonly linkMulticast: boolean;
  readonly offload?: FrameOffload;
}

export interface Ipv6SendOptions {
  /** Default: the current hop limit (64, or an RA's Cur Hop Limit); 1 for multicast. */
  readonly hopLimit?: number;
  readonly trafficClass?: number;
  /** Source address (must be one of ours, or :: where RFC 4861/4862 allow it). */
  readonly src?: Ipv6Address;
  readonly offload?: FrameOffload;
  /** Fail with "too-big" rather than fragment (what TCP and PMTU probes want). */
  readonly dontFragment?: boolean;
  /** Bytes in front of the payload, in its buffer, that are the caller's to overwrite (default
   * HEADROOM, 42: too few for the IPv6 and Ethernet headers, so the datagram is copied once).
   * A caller that reserved IPV6_HEADER_LEN + 14 or more has the headers written in place. */
  readonly headroom?: number;
}

export type Ipv6SendError = "no-route" | "too-big" | "unresolved-queue-full" | "no-address";

/** Why an address is on the interface. */
export type Ipv6AddressOrigin = "link-local" | "static" | "slaac" | "dhcpv6";

/** How an address given to NdpLayer.addAddress is kept (default: static, never expiring). */
export interface AddAddressOptions {
  readonly origin?: "static" | "dhcpv6";
  /** Absolute Clock times (default Infinity); adding an address we hold again updates them. */
  readonly preferredUntil?: number;
  readonly validUntil?: number;
}

/** What the last Router Advertisement said about DHCPv6 (RFC 4861 §4.2 M and O flags). */
export interface RaConfigFlags {
  /** M: addresses are available from DHCPv6 (RFC 8415 §18.2). */
  readonly managed: boolean;
  /** O: other configuration (DNS servers, ...) is available from DHCPv6. */
  readonly other: boolean;
  /** The router that sent it. */
  readonly router: Ipv6Address;
}

/** RFC 4862 §2 address states; "duplicate" when DAD found the address taken. */
export type Ipv6AddressState = "tentative" | "preferred" | "deprecated" | "duplicate";

/** One address of the interface. */
export interface Ipv6InterfaceAddress {
  readonly address: Ipv6Address;
  readonly prefixLength: number;
  readonly origin: Ipv6AddressOrigin;
  readonly state: Ipv6AddressState;
  /** Absolute times on the Clock (Infinity: no expiry). */
  readonly preferredUntil: number;
  readonly validUntil: number;
}

/** RFC 4861 §7.3.2 neighbour states. */
export type NeighborState = "incomplete" | "reachable" | "stale" | "delay" | "probe";

export interface NeighborEntry {
  readonly address: Ipv6Address;
  readonly mac: MacAddress | undefined;
  readonly state: NeighborState;
  readonly isRouter: boolean;
  /** Packets waiting for resolution. */
  readonly queued: number;
}

export interface RouterEntry {
  readonly address: Ipv6Address;
  readonly expiresAt: number;
}

export interface PrefixEntry {
  readonly prefix: Ipv6Address;
  readonly prefixLength: number;
  readonly expiresAt: number;
}

/** Outcome of DAD for one address. */
export type DadResult = Result<Ipv6Address, "duplicate">;

/** Neighbor Discovery (RFC 4861) and stateless address autoconfiguration (RFC 4862) for one interface. */
export interface NdpLayer {
  /** Sends an IPv6 packet to the on-link nextHop (resolving it first; bounded queue per neighbour). */
  output(nextHop: Ipv6Address, packet: Uint8Array, offload?: FrameOffload): Result<void, "unresolved-queue-full">;
  /** The next hop for dst: dst itself when on-link, a default router otherwise, undefined when none. */
  nextHop(dst: Ipv6Address): Ipv6Address | undefined;
  /** Source address for dst (RFC 6724, simplified: scope, then state, then longest match). */
  sourceFor(dst: Ipv6Address): Ipv6Address | undefined;
  /** True for a preferred or deprecated address of ours: `a`, or the 16 bytes at a[at..] (a packet's address read in place). */
  isOurAddress(a: Uint8Array, at?: number): boolean;
  /** True for a multicast group the interface listens to (all-nodes, solicited-node groups, joined). */
  isListening(group: Ipv6Address): boolean;
  /** True for an address of ours whose DAD is running. */
  isTentative(a: Ipv6Address): boolean;
  /** Adds an address; DAD runs unless disabled; cb reports the outcome. */
  addAddress(address: Ipv6Address, prefixLength: number, cb?: (r: DadResult) => void, options?: AddAddressOptions): void;
  removeAddress(address: Ipv6Address): void;
  addresses(): Ipv6InterfaceAddress[];
  /** M and O flags of the last RA accepted (undefined before any). */
  readonly raFlags: RaConfigFlags | undefined;
  /** Called on every RA accepted, after it was processed. */
  onRouterAdvertisement(handler: (flags: RaConfigFlags) => void): void;
  /** Joins a multicast group (MLDv2 report sent). */
  joinGroup(group: Ipv6Address): void;
  leaveGroup(group: Ipv6Address): void;
  neighbors(): NeighborEntry[];
  routers(): RouterEntry[];
  prefixes(): PrefixEntry[];
  /** Upper-layer reachability confirmation (RFC 4861 §7.3.1), e.g. from TCP acks. */
  confirmReachable(a: Ipv6Address): void;
  /** Hop limit for unicast datagrams we originate (RA Cur Hop Limit, default 64). */
  readonly hopLimit: number;
  /** Link MTU (an RA's MTU option may lower it). */
  readonly linkMtu: number;
  /** Handles an ND message (ICMPv6 133-137) handed up by ICMPv6. */
  receiveNdp(d: Ipv6Delivery): void;
  /** Handles an MLD message (ICMPv6 130-132, 143). */
  receiveMld(d: Ipv6Delivery): void;
  counters(): LayerCounters;
}

/** Reasons IPv6 asks ICMPv6 to report back to a packet's source. */
export type Ipv6ErrorReport =
  | { readonly kind: "parameter-problem"; readonly code: number; readonly pointer: number }
  | { readonly kind: "port-unreachable" | "reassembly-timeout" };

/** The IPv6 layer as seen from above. */
export interface Ipv6Layer {
  send(dst: Ipv6Address, nextHeader: number, payload: Uint8Array, options?: Ipv6SendOptions): Result<void, Ipv6SendError>;
  /** Registers the handler of an upper-layer protocol (58 ICMPv6, 6 TCP, 17 UDP). */
  registerProtocol(nextHeader: number, handler: (d: Ipv6Delivery) => void): void;
  /** Path MTU towards dst (IPv6 bytes). */
  mtuTo(dst: Ipv6Address): number;
  sourceFor(dst: Ipv6Address): Ipv6Address | undefined;
  /** True for our own unicast addresses (preferred or deprecated). */
  isLocal(dst: Ipv6Address): boolean;
}

/** The concrete IPv6 layer: what the stack wires between layers. */
export interface Ipv6Stack extends Ipv6Layer {
  readonly ndp: NdpLayer;
  setErrorReporter(
    reporter: (report: Ipv6ErrorReport, d: { readonly packet: Uint8Array; readonly dst: Ipv6Address; readonly linkMulticast: boolean }) => void,
  ): void;
  /** RFC 8201: lowers the path MTU to dst (never below 1280); expires after pmtuTimeoutMs. */
  updatePathMtu(dst: Ipv6Address, mtu: number): void;
  counters(): LayerCounters;
  reassemblyCounters(): LayerCounters;
  /** Datagrams under reassembly (discarded ones awaiting their timeout included) and payload bytes held. */
  reassemblyUsage(): { readonly datagrams: number; readonly bytes: number };
}

/** ICMPv6 errors this host sends. */
export type Icmpv6ErrorKind =
  | "no-route"
  | "address-unreachable"
  | "port-unreachable"
  | "packet-too-big"
  | "hop-limit-exceeded"
  | "reassembly-timeout"
  | "parameter-problem";

/** An ICMPv6 error received about a packet we sent, as handed to transports. */
export interface Icmpv6ErrorReport {
  readonly kind: "dst-unreachable" | "packet-too-big" | "time-exceeded" | "parameter-problem";
  readonly code: number;
  readonly from: Ipv6Address;
  /** Packet Too Big only, else 0. */
  readonly mtu: number;
  readonly quote: Icmpv6Quote;
}

export interface Ping6Options {
  /** Echo data bytes (default 56). */
  readonly size?: number;
  readonly ident?: number;
  readonly seq?: number;
  /** Default 1000 ms. */
  readonly timeoutMs?: number;
  readonly hopLimit?: number;
  /** Source address (default: chosen for dst). */
  readonly src?: Ipv6Address;
}

export interface Ping6Reply {
  readonly from: Ipv6Address;
  readonly ident: number;
  readonly seq: number;
  readonly bytes: number;
  readonly hopLimit: number;
  readonly rttMs: number;
}

export type Ping6Error = "timeout" | "unreachable" | "time-exceeded" | "packet-too-big" | "parameter-problem" | Ipv6SendError;

/** ICMPv6 (RFC 4443). */
export interface Icmpv6Layer {
  /** One echo request; cb is called exactly once unless cancelled. To a multicast dst, the first reply wins. */
  ping(dst: Ipv6Address, options: Ping6Options, cb: (r: Result<Ping6Reply, Ping6Error>) => void): { cancel(): void };
  /** Sends an error about a received packet, subject to RFC 4443 §2.4(e) and the rate limit; true when sent. */
  sendError(
    kind: Icmpv6ErrorKind,
    packet: Uint8Array,
    d: { readonly dst: Ipv6Address; readonly linkMulticast: boolean },
    extra?: { readonly code?: number; readonly pointer?: number; readonly mtu?: number },
  ): boolean;
  /** Subscribes to errors about packets of an upper-layer protocol we sent. */
  onError(nextHeader: number, handler: (e: Icmpv6ErrorReport) => void): void;
  counters(): LayerCounters;
}
