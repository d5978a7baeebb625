// The NetDevice interface: what every link (simulated port, tap, netfront, loopback) is.
import type { MacAddress } from "../wire/address.ts";

/**
 * Offload metadata a frame carries, mirroring Xen netif's tx/rx flags so that a netfront
 * can pass them through unchanged.
 */
export interface FrameOffload {
  /** The L4 checksum field holds only the pseudo-header sum; whoever delivers the frame to a
   * checksum-checking consumer must complete it first (NETTXF_csum_blank / NETRXF_csum_blank). */
  readonly csumBlank?: boolean;
  /** The frame's checksums are known good; the receiver may skip verifying them
   * (NETTXF_data_validated / NETRXF_data_validated). */
  readonly dataValidated?: boolean;
  /** A TCPv4 segment larger than the MTU; the link segments it into gsoSize-byte payloads
   * (XEN_NETIF_GSO_TYPE_TCPV4). */
  readonly gsoSize?: number;
}

/** One Ethernet frame (without FCS) plus offload metadata. */
export interface Frame {
  readonly data: Uint8Array;
  readonly offload?: FrameOffload;
  /**
   * Set by a producer that recycles the buffer behind `data` (see createBufferRecycler). The
   * frame's final consumer, and only it, calls release() once it has copied the bytes out
   * (netfront into granted pages, netback into the guest's posted pages); the producer may then
   * reuse the buffer. Whoever keeps a reference to `data` or may hand the frame on more than
   * once (a capture, a link's queue, a duplicating impairment) forwards it without release
   * (withoutRelease). Never calling it is always safe: the buffer is then left to the GC.
   */
  readonly release?: () => void;
}

/** The frame without its release (for a holder that keeps `data` or may deliver it twice). */
export function withoutRelease(frame: Frame): Frame {
  if (frame.release === undefined) return frame;
  const { release: _, ...rest } = frame;
  return rest;
}

/** What a device can do for the stack above it. */
export interface Offloads {
  /** The device (or the peer behind it) completes checksums of frames sent with csumBlank. */
  readonly txChecksum: boolean;
  /** The device accepts frames with gsoSize set (TCP segmentation offload). */
  readonly tso: boolean;
  /** Largest frame the device accepts with gsoSize (bytes, including headers). */
  readonly maxGsoFrame: number;
}

/** No offloads: the stack computes every checksum and never sends oversized frames. */
export const NO_OFFLOADS: Offloads = Object.freeze({ txChecksum: false, tso: false, maxGsoFrame: 0 });

/** A network device: sends frames, hands received frames to one handler. */
export interface NetDevice {
  readonly mac: MacAddress;
  /** IP MTU of the link (1500 for Ethernet): the largest L3 packet, excluding the 14-byte header. */
  readonly mtu: number;
  readonly offloads: Offloads;
  /** Queues a frame for transmission. The device must not keep `frame.data` past the call
   * unless it owns it; callers give up the buffer when they call send. */
  send(frame: Frame): void;
  /** Installs the receive handler (replacing any previous one). */
  onReceive(handler: (frame: Frame) => void): void;
}

/** Counters every device wrapper can report. */
export interface DeviceCounters {
  txFrames: number;
  txBytes: number;
  rxFrames: number;
  rxBytes: number;
  dropped: number;
}
