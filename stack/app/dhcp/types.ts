// Interfaces of the DHCP client and server (RFC 2131) and what they need from the world.
//
// DhcpHost           the part of Ipv4Layer the client configures on bind.
// AddressProber      "is this address in use?" (RFC 5227 probe), injected into the client.
// ClientLeaseStore   where the client remembers its lease (for INIT-REBOOT).
// LeaseStore         the server's lease database (durable when put() returns).
// DhcpLease          a lease as the client holds it.
// ServerLease        a lease record as the server stores it.
// DhcpClient / DhcpServer   the objects createDhcpClient / createDhcpServer return.
import type { Ipv4Address, Ipv4Cidr, MacAddress } from "../../wire/address.ts";

/** The part of the IPv4 layer DHCP needs (Ipv4Layer satisfies it). */
export interface DhcpHost {
  readonly cidr: Ipv4Cidr | undefined;
  configure(cidr: Ipv4Cidr | undefined, gateway?: Ipv4Address): void;
}

/** Answers whether an address is already in use on the link. */
export interface AddressProber {
  /** Starts probing; `done(true)` on conflict. Returns a cancel function. */
  probe(address: Ipv4Address, done: (conflict: boolean) => void): () => void;
}

/** A lease as the client holds it; times are absolute Clock milliseconds. */
export interface DhcpLease {
  readonly address: Ipv4Address;
  readonly prefixLength: number;
  readonly gateway: Ipv4Address | undefined;
  readonly dnsServers: readonly Ipv4Address[];
  readonly domainName: string | undefined;
  readonly hostName: string | undefined;
  readonly broadcastAddress: Ipv4Address | undefined;
  readonly serverId: Ipv4Address;
  /** Lease duration in seconds (0xffffffff = infinite). */
  readonly leaseTime: number;
  readonly acquiredAt: number;
  readonly renewAt: number;
  readonly rebindAt: number;
  readonly expiresAt: number;
}

/** Where a client remembers its lease across restarts. */
export interface ClientLeaseStore {
  load(): DhcpLease | undefined;
  save(lease: DhcpLease): void;
  clear(): void;
}

export type DhcpClientState = "stopped" | "init" | "selecting" | "requesting" | "probing" | "bound" | "renewing" | "rebinding" | "init-reboot" | "rebooting";

export type LeaseLostReason = "expired" | "nak" | "conflict" | "released";

/** Counters a client keeps. */
export interface DhcpClientStats {
  sent: number;
  received: number;
  ignored: number;
  discovers: number;
  requests: number;
  declines: number;
  releases: number;
  naks: number;
}

/** A DHCP client bound to one interface. */
export interface DhcpClient {
  readonly state: DhcpClientState;
  readonly lease: DhcpLease | undefined;
  readonly stats: Readonly<DhcpClientStats>;
  /** Starts (INIT-REBOOT when the store holds an unexpired lease, else INIT). */
  start(): void;
  /** Stops; with release (default true) a bound client sends RELEASE and unconfigures. */
  stop(options?: { release?: boolean }): void;
  onStateChange(handler: (state: DhcpClientState, previous: DhcpClientState) => void): void;
  onBound(handler: (lease: DhcpLease) => void): void;
  onLeaseLost(handler: (reason: LeaseLostReason, lease: DhcpLease | undefined) => void): void;
}

/** A lease record in the server's database; times are absolute Clock milliseconds. */
export interface ServerLease {
  readonly address: Ipv4Address;
  /** "id:<hex>" (client identifier) or "hw:<htype>:<hex>" (chaddr); "" for a declined address. */
  readonly client: string;
  readonly state: "bound" | "declined";
  readonly expiresAt: number;
  readonly hostName?: string;
}

/** The server's lease database; put/remove are durable when they return. */
export interface LeaseStore {
  load(): readonly ServerLease[];
  put(lease: ServerLease): void;
  remove(address: Ipv4Address): void;
}

/** One address pool. */
export interface DhcpPool {
  readonly subnet: Ipv4Cidr;
  readonly rangeStart: Ipv4Address;
  readonly rangeEnd: Ipv4Address;
  readonly gateway?: Ipv4Address;
  readonly dnsServers?: readonly Ipv4Address[];
  readonly domainName?: string;
  /** Seconds (default 3600). */
  readonly leaseTime?: number;
  /** Seconds (default 0.5 x lease). */
  readonly renewalTime?: number;
  /** Seconds (default 0.875 x lease). */
  readonly rebindingTime?: number;
  /** Option 28 (default: the subnet's broadcast address). */
  readonly broadcastAddress?: Ipv4Address;
}

/** A static reservation by MAC or client identifier. */
export interface DhcpReservation {
  readonly mac?: MacAddress;
  readonly clientId?: Uint8Array;
  readonly address: Ipv4Address;
  readonly hostName?: string;
}

/** Server configuration (validated; harness/dhcp/config.ts builds it from JSON). */
export interface DhcpServerConfig {
  /** Option 54 and source of replies (default: the host's address). */
  readonly serverId?: Ipv4Address;
  readonly pools: readonly DhcpPool[];
  readonly reservations?: readonly DhcpReservation[];
  /** Active leases plus outstanding offers at most (default 4096). */
  readonly maxLeases?: number;
  /** How long an offered address stays reserved for the client (default 30 000 ms). */
  readonly offerHoldMs?: number;
  /** How long a declined address stays out of use (default 600 000 ms). */
  readonly declineHoldMs?: number;
  /** Answer INIT-REBOOT REQUESTs from unknown clients for free addresses with ACK (default false: silent). */
  readonly authoritative?: boolean;
}

/** Counters a server keeps. */
export interface DhcpServerStats {
  received: number;
  malformed: number;
  ignored: number;
  offers: number;
  acks: number;
  naks: number;
  declines: number;
  releases: number;
  informs: number;
  exhausted: number;
}

/** A DHCP server on one stack. */
export interface DhcpServer {
  readonly stats: Readonly<DhcpServerStats>;
  /** Current lease records (bound and declined, including expired ones still remembered). */
  leases(): ServerLease[];
  close(): void;
}
