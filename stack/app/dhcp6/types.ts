// Interfaces of the DHCPv6 client and server (RFC 8415) and what they need from the world.
//
// Dhcp6Host          the part of NdpLayer the client configures (addresses with DAD, RA flags).
// Dhcp6Lease         an IA_NA lease as the client holds it (one address).
// Dhcp6Information   what a stateless exchange (INFORMATION-REQUEST) gave.
// Dhcp6LeaseStore    the server's binding database (durable when put() returns), shaped like
//                    the v4 server's LeaseStore.
// Dhcp6ServerLease   a binding as the server stores it.
// Dhcp6Client / Dhcp6Server   what createDhcp6Client / createDhcp6Server return.
import type { DadResult, AddAddressOptions, RaConfigFlags } from "../../net/ipv6-types.ts";
import type { Ipv6Address } from "../../wire/ipv6-address.ts";

/** The part of the IPv6 Neighbor Discovery layer the client uses (NdpLayer satisfies it). */
export interface Dhcp6Host {
  addAddress(address: Ipv6Address, prefixLength: number, cb?: (r: DadResult) => void, options?: AddAddressOptions): void;
  removeAddress(address: Ipv6Address): void;
  readonly raFlags: RaConfigFlags | undefined;
  onRouterAdvertisement(handler: (flags: RaConfigFlags) => void): void;
}

/** A lease on one IA_NA address; times are absolute Clock milliseconds (Infinity: never). */
export interface Dhcp6Lease {
  readonly address: Ipv6Address;
  readonly iaid: number;
  /** The DUID of the server that granted or last extended it. */
  readonly serverId: Uint8Array;
  readonly dnsServers: readonly Ipv6Address[];
  /** Seconds, as the server gave them (0xffffffff infinite). */
  readonly preferredLifetime: number;
  readonly validLifetime: number;
  readonly t1: number;
  readonly t2: number;
  readonly acquiredAt: number;
  readonly renewAt: number;
  readonly rebindAt: number;
  readonly preferredUntil: number;
  readonly validUntil: number;
  /** True when it came from a Reply to a SOLICIT with RAPID_COMMIT. */
  readonly rapidCommit: boolean;
}

/** What an INFORMATION-REQUEST exchange gave (RFC 8415 §18.2.6). */
export interface Dhcp6Information {
  readonly serverId: Uint8Array;
  readonly dnsServers: readonly Ipv6Address[];
  readonly receivedAt: number;
  /** When the client asks again (INFORMATION_REFRESH_TIME, RFC 8415 §21.23; default 86400 s). */
  readonly refreshAt: number;
}

export type Dhcp6ClientState =
  | "stopped"
  | "waiting-ra"
  | "soliciting"
  | "requesting"
  | "bound"
  | "renewing"
  | "rebinding"
  | "declining"
  | "releasing"
  | "informing"
  | "informed";

export type Dhcp6LeaseLostReason = "expired" | "released" | "duplicate" | "no-binding" | "not-on-link";

/** Counters a client keeps. */
export interface Dhcp6ClientStats {
  sent: number;
  received: number;
  ignored: number;
  solicits: number;
  advertises: number;
  requests: number;
  renews: number;
  rebinds: number;
  releases: number;
  declines: number;
  informationRequests: number;
}

/** A DHCPv6 client on one interface. */
export interface Dhcp6Client {
  readonly state: Dhcp6ClientState;
  readonly lease: Dhcp6Lease | undefined;
  readonly information: Dhcp6Information | undefined;
  readonly stats: Readonly<Dhcp6ClientStats>;
  /** The client's DUID (CLIENTID). */
  readonly duid: Uint8Array;
  /** Starts in the configured mode (stateful, stateless, or from the next RA's M/O flags). */
  start(): void;
  /** Stops; with release (default true) a bound client removes its address and sends RELEASE ("releasing" until the REPLY or REL_MAX_RC). */
  stop(options?: { release?: boolean }): void;
  onStateChange(handler: (state: Dhcp6ClientState, previous: Dhcp6ClientState) => void): void;
  onBound(handler: (lease: Dhcp6Lease) => void): void;
  onLeaseLost(handler: (reason: Dhcp6LeaseLostReason, lease: Dhcp6Lease) => void): void;
  onInformation(handler: (info: Dhcp6Information) => void): void;
}

/** A binding in the server's database; times are absolute Clock milliseconds. */
export interface Dhcp6ServerLease {
  readonly address: Ipv6Address;
  /** Hex of the client's DUID; "" for a declined address. */
  readonly duid: string;
  readonly iaid: number;
  readonly state: "bound" | "declined";
  readonly preferredUntil: number;
  readonly validUntil: number;
}

/** The server's binding database; put/remove are durable when they return. */
export interface Dhcp6LeaseStore {
  load(): readonly Dhcp6ServerLease[];
  put(lease: Dhcp6ServerLease): void;
  remove(address: Ipv6Address): void;
}

/** Server configuration. */
export interface Dhcp6ServerConfig {
  /** The server's DUID (default DUID-LL of the MAC given in deps). */
  readonly duid?: Uint8Array;
  /** The pool: a prefix (usually /64) and the range of interface identifiers, as addresses. */
  readonly prefix: Ipv6Address;
  readonly prefixLength: number;
  readonly rangeStart: Ipv6Address;
  readonly rangeEnd: Ipv6Address;
  /** Seconds (defaults 3600 preferred, 7200 valid; T1 0.5 and T2 0.8 of preferred, RFC 8415 §21.4). */
  readonly preferredLifetime?: number;
  readonly validLifetime?: number;
  readonly t1?: number;
  readonly t2?: number;
  readonly dnsServers?: readonly Ipv6Address[];
  /** PREFERENCE option value (0..255; default 0: option omitted). */
  readonly preference?: number;
  /** Answer a SOLICIT carrying RAPID_COMMIT with a committing REPLY (default true). */
  readonly rapidCommit?: boolean;
  /** Most bindings and outstanding advertised addresses (default 4096). */
  readonly maxLeases?: number;
  /** How long an advertised address stays held for its client (default 30 000 ms). */
  readonly advertiseHoldMs?: number;
  /** How long a declined address stays out of use (default 600 000 ms). */
  readonly declineHoldMs?: number;
  /** INFORMATION_REFRESH_TIME sent in replies to INFORMATION-REQUEST, seconds (omitted unless given). */
  readonly informationRefreshTime?: number;
}

/** Counters a server keeps. */
export interface Dhcp6ServerStats {
  received: number;
  malformed: number;
  ignored: number;
  advertises: number;
  replies: number;
  rapidCommits: number;
  renews: number;
  rebinds: number;
  releases: number;
  declines: number;
  confirms: number;
  informationRequests: number;
  noAddrsAvail: number;
  useMulticast: number;
}

/** A DHCPv6 server on one interface. */
export interface Dhcp6Server {
  readonly stats: Readonly<Dhcp6ServerStats>;
  readonly duid: Uint8Array;
  /** Current bindings (bound and declined, including expired ones still remembered). */
  leases(): Dhcp6ServerLease[];
  close(): void;
}
