// Interfaces of 2-level event channels: the port operations of a domain and its upcall handlers.

import type { Result } from "../../stack/result.ts";
import type { DomainId } from "../abi/xen.ts";
import type { Frame } from "../memory/types.ts";

/** An event channel port (evtchn_port_t). */
export type EvtchnPort = number;

/** Errno names the EVTCHNOP_* hypercalls return (Xen common/event_channel.c). */
export type EvtchnError = "EINVAL" | "ESRCH" | "EPERM" | "ENOSPC";

/** State of a port as EVTCHNOP_status would report it. */
export type PortStatus =
  | { state: "closed" }
  | { state: "unbound"; remoteDom: DomainId }
  | { state: "interdomain"; remoteDom: DomainId; remotePort: EvtchnPort };

/** A domain's event channels. Pending and mask bits live in its shared_info page. */
export interface DomainEvents {
  /** Frame (in this domain's memory) of the shared_info page. */
  readonly sharedInfoFrame: Frame;
  /** The shared_info page bytes (pending bitmap at 2048, mask at 2560, vcpu0 upcall_pending at 0). */
  readonly sharedInfo: Uint8Array;
  /** Upcalls delivered so far. */
  readonly upcallCount: number;
  /** EVTCHNOP_alloc_unbound: a port in `dom` (default: this domain; another needs privilege) that `remoteDom` may bind. */
  allocUnbound(remoteDom: DomainId, dom?: DomainId): Result<EvtchnPort, EvtchnError>;
  /** EVTCHNOP_bind_interdomain: connects a new local port to `remoteDom`'s unbound port naming us; the new port starts pending. */
  bindInterdomain(remoteDom: DomainId, remotePort: EvtchnPort): Result<EvtchnPort, EvtchnError>;
  /** EVTCHNOP_send: marks the peer's port pending (dropped on an unbound port). */
  send(port: EvtchnPort): Result<void, "EINVAL">;
  /** EVTCHNOP_close: frees the port; an interdomain peer reverts to unbound. */
  close(port: EvtchnPort): Result<void, "EINVAL">;
  /** Sets the port's mask bit (a guest write to shared_info). */
  mask(port: EvtchnPort): Result<void, "EINVAL">;
  /** EVTCHNOP_unmask: clears the mask bit and delivers an event that arrived while masked. */
  unmask(port: EvtchnPort): Result<void, "EINVAL">;
  /** EVTCHNOP_status. */
  status(port: EvtchnPort): PortStatus;
  /** Reads the port's pending bit. */
  isPending(port: EvtchnPort): boolean;
  /** Reads the port's mask bit. */
  isMasked(port: EvtchnPort): boolean;
  /** Sets vcpu0's evtchn_upcall_mask; clearing it delivers a pending upcall. */
  setUpcallMask(masked: boolean): void;
  /** Installs (or removes) the handler the upcall runs for `port`. Pending bits are cleared before the handler runs. */
  onEvent(port: EvtchnPort, handler: ((port: EvtchnPort) => void) | undefined): void;
  /** A snapshot of an interdomain channel for a worker thread (EINVAL unless the port is interdomain). */
  endpoint(port: EvtchnPort): Result<ChannelEndpoint, "EINVAL">;
}

/** Who runs a domain's upcalls: the hypervisor's Clock ("clock"), or a thread blocked in waitForUpcall ("thread"). */
export type VcpuMode = "clock" | "thread";

/** Everything a thread needs to use one interdomain channel without the hypervisor object: both shared_info pages. */
export interface ChannelEndpoint {
  /** Our shared_info page (SharedArrayBuffer-backed). */
  sharedInfo: Uint8Array;
  port: EvtchnPort;
  /** The peer's shared_info page: send() is setPending2l on it, then kickVcpu. */
  peerSharedInfo: Uint8Array;
  peerPort: EvtchnPort;
}

/** Options of the event channel system. */
export interface EventChannelOptions {
  /** Ports per domain, at most 4096 (default 4096). */
  maxPorts?: number;
  /** Delay between marking an upcall pending and running it (default 0: next clock turn). */
  upcallLatencyMs?: number;
  /** Extra random delay in [0, jitter) drawn from the Rng (default 0). */
  upcallJitterMs?: number;
}
