// Interfaces of the two halves of a Xen shared ring (xen/io/ring.h). Shared indices live in the
// ring page; each half keeps its private producer/consumer index. Push operations return whether
// the peer must be notified; the caller sends the event. Reads from the peer's slots are copies.

import type { Result } from "../../stack/result.ts";

/** The peer broke a ring invariant (e.g. req_prod - rsp_prod_pvt > size); the ring must not be trusted. */
export type RingError = "ill-behaved-peer";

/** Ring geometry. */
export interface RingOptions {
  /** Bytes per slot: max(sizeof request, sizeof response). */
  slotSize: number;
  /** Attach at this free-running index instead of 0 (FRONT/BACK_RING_ATTACH). */
  startIndex?: number;
}

/** Frontend half: produces requests, consumes responses. */
export interface FrontRing {
  /** Slots (a power of two). */
  readonly size: number;
  readonly slotSize: number;
  /** Private producer index (requests queued, published or not). */
  readonly reqProdPvt: number;
  /** Private response consumer index. */
  readonly rspCons: number;
  /** Request slots free (RING_FREE_REQUESTS). */
  freeRequests(): number;
  /** Copies a request into the next slot (not visible to the backend until pushRequests). */
  queueRequest(request: Uint8Array): Result<void, "ring-full">;
  /** Publishes queued requests; returns whether to notify (RING_PUSH_REQUESTS_AND_CHECK_NOTIFY). */
  pushRequests(): boolean;
  /** Responses ready to take; an error when rsp_prod overruns the ring or the requests sent. */
  unconsumedResponses(): Result<number, RingError>;
  /** Copies the next response out of shared memory into `out` (>= slotSize bytes) and returns that copy. */
  takeResponse(out: Uint8Array): Result<Uint8Array, "empty" | RingError>;
  /** Copies the next response and parses the copy (copy-then-validate). */
  consumeResponse<T, E>(parse: (copy: Uint8Array) => Result<T, E>): Result<T, E | "empty" | RingError>;
  /** RING_FINAL_CHECK_FOR_RESPONSES: true if work remains; otherwise rsp_event = rsp_cons + 1 is armed. */
  finalCheckForResponses(): Result<boolean, RingError>;
}

/** Backend half: consumes requests, produces responses. */
export interface BackRing {
  readonly size: number;
  readonly slotSize: number;
  /** Private request consumer index. */
  readonly reqCons: number;
  /** Private response producer index. */
  readonly rspProdPvt: number;
  /** RING_HAS_UNCONSUMED_REQUESTS; an error when req_prod - rsp_prod_pvt > size. */
  unconsumedRequests(): Result<number, RingError>;
  /** Copies the next request out of shared memory into `out` (>= slotSize bytes) and returns that copy. */
  takeRequest(out: Uint8Array): Result<Uint8Array, "empty" | RingError>;
  /** Copies the next request and parses the copy (copy-then-validate). */
  consumeRequest<T, E>(parse: (copy: Uint8Array) => Result<T, E>): Result<T, E | "empty" | RingError>;
  /** Copies a response into the next slot; refused when it would answer more requests than were taken. */
  queueResponse(response: Uint8Array): Result<void, "ring-full">;
  /** Publishes queued responses; returns whether to notify (RING_PUSH_RESPONSES_AND_CHECK_NOTIFY). */
  pushResponses(): boolean;
  /**
   * Unconsumed requests; when fewer than `needed`, arms req_event = req_prod + 1 so the next push
   * notifies, and re-checks (Linux xenvif_rx_ring_slots_available). 0 if req_prod keeps moving.
   */
  requestsAvailable(needed: number): Result<number, RingError>;
  /** RING_FINAL_CHECK_FOR_REQUESTS: true if work remains; otherwise req_event = req_cons + 1 is armed. */
  finalCheckForRequests(): Result<boolean, RingError>;
}
