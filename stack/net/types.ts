// Interfaces the network layer offers to transports (UDP, TCP, ICMP users).
import type { Result } from "../result.ts";
import type { Ipv4Address, Ipv4Cidr } from "../wire/address.ts";
import type { FrameOffload } from "../link/types.ts";

/**
 * Bytes reserved in front of a transport payload so lower layers write their headers in place
 * (Ethernet with one 802.1Q tag 18 + IPv4 without options 20). A transport that allocates
 * `new Uint8Array(HEADROOM + len)` and passes `buf.subarray(HEADROOM)` lets IP and Ethernet
 * prepend headers without a copy; a payload without headroom is copied once.
 */
export const HEADROOM = 40;

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
  readonly offload?: FrameOffload;
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
}
