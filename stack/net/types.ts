// Interfaces the network layer offers to transports (UDP, TCP, ICMP users).
import type { Result } from "../result.ts";
import type { Ipv4Address, Ipv4Cidr, MacAddress } from "../wire/address.ts";
import type { Frame, FrameOffload, Offloads } from "../link/types.ts";
import type { IcmpQuote } from "../wire/icmp.ts";
import type { NudState } from "./neighbour.ts";

/**
 * Bytes reserved in front of a transport payload so lower layers write their headers in place
 * (Ethernet with one 802.1Q tag 18 + IPv4 without options 20, + 4 spare). A transport that
 * allocates `new Uint8Array(HEADROOM + len)` and passes `buf.subarray(HEADROOM)` lets IP and
 * Ethernet prepend headers without a copy; a payload without headroom is copied once.
 * 42 puts an untagged Ethernet frame (42 - 20 - 14) at an 8-byte boundary of its buffer: V8 copies
 * into and out of shared memory (Xen pages are SharedArrayBuffers) a word at a time only when
 * source and destination agree modulo 8, byte by byte otherwise (measured 3.5x slower).
 */
export const HEADROOM = 42;

/** A received IPv4 datagram as handed to a transport (payload already reassembled). */
export interface Ipv4Delivery {
  readonly src: Ipv4Address;
  readonly dst: Ipv4Address;
  readonly protocol: number;
  readonly ttl: number;
  /** The transport payload (after the IP header). */
  readonly payload: Uint8Array;
  /** The full IP header bytes (for ICMP errors that quote it). */
  readonly header: Uint8Array;
  /** Offload metadata of the frame that carried it (checksum already validated, etc.). */
  readonly offload?: FrameOffload | undefined;
  /**
   * The carrying frame's Frame.release, when the datagram is that frame's only content handed
   * on (not reassembled, not forwarded): the transport, as the frame's final consumer, may call
   * it once it keeps no view of `payload` or `header` (TCP does when its reader copied the bytes
   * out: ByteStream.onRead). Never calling it is always safe.
   */
  readonly release?: (() => void) | undefined;
}

/** Options for one output datagram. */
export interface Ipv4SendOptions {
  readonly ttl?: number;
  readonly tos?: number;
  /** Set the Don't Fragment bit (output that would need fragmenting then fails with "too-big"). */
  readonly dontFragment?: boolean;
  /** Source address override (must be ours or IPV4_ANY for DHCP). */
  readonly src?: Ipv4Address;
  /** Offload metadata for the frame (csumBlank / gsoSize) when the device supports it. */
  readonly offload?: FrameOffload;
  /**
   * The payload's buffer is recyclable (Frame.release): handed to the device with the frame when
   * it goes straight out. Local delivery, fragmentation and a wait for ARP drop it (the buffer
   * is then left to the GC).
   */
  readonly release?: () => void;
}

export type Ipv4SendError = "no-route" | "too-big" | "unresolved-queue-full" | "no-address";

/** The IPv4 layer as seen from above. */
export interface Ipv4Layer {
  /** Configured address (undefined until configured, e.g. before DHCP binds). */
  readonly cidr: Ipv4Cidr | undefined;
  readonly gateway: Ipv4Address | undefined;
  /** Reconfigures address, prefix and gateway (sends a gratuitous ARP). */
  configure(cidr: Ipv4Cidr | undefined, gateway?: Ipv4Address): void;
  /** Sends `payload` (ideally with HEADROOM bytes in front in its buffer). */
  send(dst: Ipv4Address, protocol: number, payload: Uint8Array, options?: Ipv4SendOptions): Result<void, Ipv4SendError>;
  /** Registers the handler of an IP protocol number (1 ICMP, 6 TCP, 17 UDP). */
  registerProtocol(protocol: number, handler: (d: Ipv4Delivery) => void): void;
  /** Path MTU towards dst (IP bytes), used for MSS clamping. */
  mtuTo(dst: Ipv4Address): number;
  /** Source address that would be used towards dst. */
  sourceFor(dst: Ipv4Address): Ipv4Address | undefined;
  /** Tells the neighbour cache that traffic to dst makes forward progress (RFC 4861 §7.3.1; Linux dst_confirm). */
  confirmReachable?(dst: Ipv4Address): void;
}

// ---- Layers below IPv4 and ICMP (added by the net layer implementation) ----

/** Counters of one layer: named event counts plus drops by reason. */
export interface LayerCounters {
  readonly [name: string]: number | Readonly<Record<string, number>>;
  readonly drops: Readonly<Record<string, number>>;
}

/** Handler of one EtherType's payload. `payload` views the frame's bytes after the Ethernet header. */
export type EthertypeHandler = (payload: Uint8Array, frame: Frame, src: MacAddress, dst: MacAddress) => void;

/** The Ethernet layer: demultiplexes received frames by EtherType and frames outgoing packets. */
export interface EthernetLayer {
  readonly mac: MacAddress;
  /** IP MTU of the device. */
  readonly mtu: number;
  readonly offloads: Offloads;
  /** Bytes this layer writes in front of a packet (14, or 18 with a VLAN tag). */
  readonly headerLength: number;
  /** Sends `packet` to dst. Writes the header in place when `packet` has headerLength bytes in
   * front of it in its ArrayBuffer (those bytes are then overwritten), else copies once. */
  /** `release` (Frame.release) is handed to the device with the frame when the packet's buffer is recyclable. */
  send(dst: MacAddress, ethertype: number, packet: Uint8Array, offload?: FrameOffload, release?: () => void): void;
  /** Installs the handler of an EtherType (replacing any previous one). */
  registerEthertype(ethertype: number, handler: EthertypeHandler): void;
  counters(): LayerCounters;
}

export type ArpOutputError = "unresolved-queue-full";

/** A handle to a running RFC 5227 probe or announcement. */
export interface ArpTask {
  cancel(): void;
}

/** One ARP cache entry as reported by entries(). */
export interface ArpCacheEntry {
  readonly ip: Ipv4Address;
  readonly mac: MacAddress;
  /** NUD state (RFC 4861 §7.3.2 applied to ARP); "permanent" for static entries. */
  readonly state: NudState;
  /** When the entry is removed if nothing uses or confirms it (Infinity for static entries). */
  readonly expiresAt: number;
  readonly static: boolean;
}

/** ARP (RFC 826) for one interface, with RFC 5227 probe/announce. */
export interface ArpLayer {
  /** Sends an IPv4 packet to nextHop, resolving its MAC first (packets wait in a bounded queue). */
  /** `release` (Frame.release) goes with the frame when it is sent at once; a queued packet drops it. */
  output(nextHop: Ipv4Address, packet: Uint8Array, offload?: FrameOffload, release?: () => void): Result<void, ArpOutputError>;
  /** Upper-layer reachability confirmation of ip (e.g. TCP forward progress): its entry becomes REACHABLE. */
  confirm(ip: Ipv4Address): void;
  /** The cached MAC of ip, if known and fresh. */
  lookup(ip: Ipv4Address): MacAddress | undefined;
  /** The NUD state of ip's entry, if any. */
  state(ip: Ipv4Address): NudState | undefined;
  /** Adds a permanent entry. */
  addStatic(ip: Ipv4Address, mac: MacAddress): void;
  /** Removes an entry (static or dynamic). */
  remove(ip: Ipv4Address): void;
  entries(): ArpCacheEntry[];
  /** Sets the address ARP answers for (undefined: none). Does not announce by itself. */
  setAddress(ip: Ipv4Address | undefined): void;
  /** RFC 5227 §2.1.1: probes ip; cb(true) on conflict, cb(false) once ANNOUNCE_WAIT passed quietly. */
  probe(ip: Ipv4Address, cb: (conflict: boolean) => void): ArpTask;
  /** RFC 5227 §2.3: sends ANNOUNCE_NUM gratuitous ARP requests for ip (default: our address). */
  announce(ip?: Ipv4Address): ArpTask;
  counters(): LayerCounters;
}

/** Reasons IPv4 asks ICMP to report an error back to a datagram's source. */
export type Ipv4ErrorReport = "protocol-unreachable" | "reassembly-timeout";

/** The concrete IPv4 layer: Ipv4Layer plus what the stack wires between layers. */
export interface Ipv4Stack extends Ipv4Layer {
  /** Installs who turns IPv4-level errors into ICMP messages (the ICMP layer does this). */
  setErrorReporter(reporter: (kind: Ipv4ErrorReport, header: Uint8Array, payload: Uint8Array) => void): void;
  /** Lowers the path MTU to dst (RFC 1191), e.g. on ICMP fragmentation-needed; expires after pmtuTimeoutMs. */
  updatePathMtu(dst: Ipv4Address, mtu: number): void;
  /** True when dst is one of our addresses (unicast, our broadcast or limited broadcast). */
  isLocal(dst: Ipv4Address): boolean;
  /** True when dst is a broadcast or multicast address for us. */
  isBroadcast(dst: Ipv4Address): boolean;
  counters(): LayerCounters;
  reassemblyCounters(): LayerCounters;
}

/** ICMP errors this host sends about a datagram it received. */
export type IcmpErrorKind =
  | "net-unreachable"
  | "host-unreachable"
  | "protocol-unreachable"
  | "port-unreachable"
  | "frag-needed"
  | "ttl-exceeded"
  | "reassembly-timeout";

/** An ICMP error received about a datagram we sent, as handed to transports. */
export interface IcmpErrorReport {
  readonly kind: "dst-unreachable" | "time-exceeded" | "parameter-problem";
  readonly code: number;
  /** Who sent the ICMP message (a router or the destination). */
  readonly from: Ipv4Address;
  /** RFC 1191 next-hop MTU (frag-needed only, else 0). */
  readonly nextHopMtu: number;
  /** The quoted datagram: its addresses, protocol and first transport bytes (ports). */
  readonly quote: IcmpQuote;
}

export interface PingOptions {
  /** Echo data bytes (default 56, like ping(8)). */
  readonly size?: number;
  /** Identifier (default: one per ICMP layer, drawn from the Rng). */
  readonly ident?: number;
  /** Sequence number (default: a per-layer counter). */
  readonly seq?: number;
  /** Give up after this long (default 1000 ms). */
  readonly timeoutMs?: number;
  readonly ttl?: number;
  readonly dontFragment?: boolean;
}

/** A successful ping. */
export interface PingReply {
  readonly from: Ipv4Address;
  readonly ident: number;
  readonly seq: number;
  /** Echo data bytes received. */
  readonly bytes: number;
  readonly ttl: number;
  /** Round-trip time on the injected Clock. */
  readonly rttMs: number;
}

export type PingError = "timeout" | "unreachable" | "time-exceeded" | Ipv4SendError;

/** ICMPv4 (RFC 792, RFC 1122 §3.2.2). */
export interface IcmpLayer {
  /** Sends one echo request; cb is called exactly once (reply, error, or timeout) unless cancelled. */
  ping(dst: Ipv4Address, options: PingOptions, cb: (result: Result<PingReply, PingError>) => void): { cancel(): void };
  /** Reports an error about a received datagram (header + payload) to its source, subject to the
   * RFC 1122 §3.2.2 exclusions and the rate limit. Returns true when a message was sent. */
  sendError(kind: IcmpErrorKind, header: Uint8Array, payload: Uint8Array, nextHopMtu?: number): boolean;
  /** Reports an error about a datagram we sent to our own transports without sending anything
   * (e.g. host-unreachable when ARP gave up on its next hop); `from` is our own address. */
  reportLocalError(kind: "host-unreachable" | "net-unreachable", datagram: Uint8Array): void;
  /** Subscribes to ICMP errors about datagrams of an IP protocol we sent (6 TCP, 17 UDP). */
  onError(protocol: number, handler: (e: IcmpErrorReport) => void): void;
  counters(): LayerCounters;
}
