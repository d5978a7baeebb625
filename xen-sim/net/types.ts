// Interfaces of the Xen network drivers: netfront (a NetDevice in a guest), netback (dom0's
// driver serving every vif) and the reports both make about a misbehaving peer.
//   NetPeerError        one report of a peer breaking the protocol (fatal ones disconnect)
//   NetfrontOptions / NetfrontStats / Netfront
//   NetbackOptions / NetbackVifStats / NetbackVif / Netback

import type { NetDevice } from "../../stack/link/types.ts";
import type { DomainId } from "../abi/xen.ts";
import type { XenbusStateValue } from "../xenbus/types.ts";

/** A protocol violation seen from the other side of the rings. */
export interface NetPeerError {
  /** The domain that misbehaved. */
  readonly domid: DomainId;
  readonly devid: number;
  /** Stable reason, e.g. "ill-behaved-peer", "too-many-slots", "bad-grant". */
  readonly reason: string;
  readonly detail?: string;
  /** True when the device was disconnected because of it. */
  readonly fatal: boolean;
}

/** Options of createNetfront. */
export interface NetfrontOptions {
  /** Device id under device/vif (default 0). */
  readonly devid?: number;
  /** Receive pages kept posted on the rx ring (default 256, at most the ring size). */
  readonly rxBuffers?: number;
  /** Frames held while the tx ring is full or the device is not connected (default 1024). */
  readonly txQueueLimit?: number;
  /** Offer checksum offload to the stack (csum_blank on tx; default true). */
  readonly checksumOffload?: boolean;
  /** Offer TSO to the stack and feature-gso-tcpv4 to the backend (default true). */
  readonly gso?: boolean;
  /** Write feature-ipv6-csum-offload = 1, as Linux's netfront does (default true); false: the backend finishes IPv6 partial checksums first. */
  readonly ipv6ChecksumOffload?: boolean;
  /** Use event-channel-tx / event-channel-rx when the backend offers split channels (default false). */
  readonly splitEventChannels?: boolean;
  /** Frames handled per event before yielding to other work on the Clock (default 64). */
  readonly budget?: number;
  /** Most slots (data + extra) a received frame may span (default 19). */
  readonly maxRxSlots?: number;
}

/** Netfront counters. */
export interface NetfrontStats {
  txFrames: number;
  txBytes: number;
  txSlots: number;
  /** Frames dropped on tx (queue full, too big, bad offload). */
  txDropped: number;
  /** Tx slots the backend answered with an error status. */
  txErrors: number;
  /** GSO frames segmented in software because the backend lacks feature-gso-tcpv4. */
  txSoftwareSegmented: number;
  rxFrames: number;
  rxBytes: number;
  rxDropped: number;
  notificationsSent: number;
  events: number;
  connects: number;
  peerErrors: number;
  /** Grants the backend still held when we ended access (kept aside, retried later). */
  deferredGrants: number;
}

/** The frontend device. */
export interface Netfront extends NetDevice {
  readonly devid: number;
  readonly frontendPath: string;
  readonly backendPath: string;
  readonly backendId: DomainId;
  /** Our xenbus state as last written. */
  readonly state: XenbusStateValue;
  /** The rings are set up and the backend reported Connected. */
  readonly connected: boolean;
  stats(): Readonly<NetfrontStats>;
  /** Called on every state change we make, and when the backend's Connected arrives (connected = true). */
  onStateChange(handler: (state: XenbusStateValue, connected: boolean) => void): void;
  /** Called when the backend breaks the protocol. */
  onPeerError(handler: (e: NetPeerError) => void): void;
  /** Graceful close: Closing, wait for the backend's Closing/Closed, Closed; releases rings and buffers. */
  close(): Promise<void>;
  /**
   * On a connected device: zeroes and re-initialises both ring pages in place and starts fresh
   * front rings over them (private positions 0), releases every tx buffer (its grant ended, its
   * page freed; ids free again in the order a new connection hands them out), drops the frames
   * queued for transmission, and posts the rx buffers again from slot 0 (id = slot, the same pages,
   * granted again where their grant had ended): the state connect() gives over the same ring
   * pages, grants and event channel(s), without the xenstore handshake. For a harness whose
   * backend re-attaches the rings itself (a fuzz target serving many inputs over one connection);
   * the backend is not told. False, and nothing changed, when not connected.
   */
  resetRings(): boolean;
}

/** Options of createNetback. */
export interface NetbackOptions {
  /** Frames queued toward a guest whose rx ring has no posted buffers (default 512). */
  readonly rxQueueLimit?: number;
  /** Frames taken from a tx ring per event before yielding on the Clock (default 64). */
  readonly budget?: number;
  /** Most tx slots (data, without extras) a frame may use before the frontend is disconnected (default 18). */
  readonly maxTxSlots?: number;
  /** Advertised multi-queue-max-queues (default 1, at most 64): a frontend may connect up to this many queues, each a tx and an rx ring. */
  readonly maxQueues?: number;
  /** Fill each released tx frame buffer with 0xA5 (tests: a consumer that releases too early shows up; default false). */
  readonly poisonReleasedBuffers?: boolean;
}

/** Counters of one vif. */
export interface NetbackVifStats {
  /** Frames taken from the guest (its tx). */
  txFrames: number;
  txBytes: number;
  /** Guest tx frames answered with an error (bad grant, runt). */
  txErrors: number;
  /** Frames delivered into the guest (its rx). */
  rxFrames: number;
  rxBytes: number;
  /** Frames toward the guest dropped (not connected, queue full, too big, bad grant). */
  rxDropped: number;
  /** Tx frames copied into a recycled buffer (the consumer gave an earlier one back). */
  txBuffersReused: number;
  /** Frames toward the guest that carried a Toeplitz hash (the frontend enabled hashing on the control ring). */
  rxHashes: number;
  notificationsSent: number;
  events: number;
  peerErrors: number;
  connects: number;
}

/** One served vif. */
export interface NetbackVif {
  readonly frontendId: DomainId;
  readonly devid: number;
  readonly backendPath: string;
  /** The vif as the bridge sees it. */
  readonly device: NetDevice;
  /** Our xenbus state as last written. */
  readonly state: XenbusStateValue;
  /** Rings mapped and the event channel bound. */
  readonly connected: boolean;
  /** Queues connected (multi-queue-num-queues; 0 while disconnected). */
  readonly queues: number;
  stats(): Readonly<NetbackVifStats>;
  /**
   * Re-attaches every ring of a Connected vif (tx and rx of each queue, the control ring) at the
   * response producer its page now shows, with fresh private positions, no frames queued for the
   * guest and no hash settings: the state connect() gives when a frontend reconnects over the
   * same pages, grants and ports, without the xenstore handshake. For a harness that re-initialises
   * the ring pages itself (a fuzz target serving many inputs over one connection). False, and
   * nothing changed, when the vif is not Connected.
   */
  reattachRings(): boolean;
}

/** Dom0's netback driver. */
export interface Netback {
  vifs(): NetbackVif[];
  vif(frontendId: DomainId, devid: number): NetbackVif | undefined;
  onPeerError(handler: (e: NetPeerError) => void): void;
  /** Called when a vif changes state (tests, logs). */
  onVifState(handler: (vif: NetbackVif, state: XenbusStateValue) => void): void;
  /** Stops the driver as a crash would: unmaps, closes ports, leaves bridges; writes nothing to xenstore. */
  crash(): void;
  /** Unloads the driver cleanly: every vif goes Closing then Closed, then as crash(). */
  shutdown(): Promise<void>;
}
