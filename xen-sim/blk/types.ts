// Interfaces of the Xen block split driver (xen/io/blkif.h, ../../shared/specs/xen-abi.md §3, §7).
//   BlockStorage      what blkback serves: a memory image, a raw file (harness), ...
//   BlkError          errors a block caller sees
//   BlockDevice       blkfront's async block API (sectors are always 512 bytes, as on the ring)
//   Blkfront          BlockDevice + connection state, faults and statistics
//   Blkback           one backend instance serving one vbd
//   BlkFault          a peer reported as hostile or broken
// Sector numbers are 512-byte units everywhere (blkif.h: sector_number and `sectors` are 512b units).

import type { Result } from "../../stack/result.ts";

/** Errors of a storage implementation. */
export type StorageError = "io-error" | "not-supported" | "out-of-range";

/** Storage served by blkback. Calls complete synchronously; `into`/`from` lengths are multiples of 512. */
export interface BlockStorage {
  /** Capacity in 512-byte sectors. */
  readonly sectors: number;
  /** Logical sector size in bytes (written as `sector-size`). */
  readonly sectorSize: number;
  /** Physical sector size in bytes (written as `physical-sector-size`). */
  readonly physicalSectorSize: number;
  readonly readOnly: boolean;
  /** Has a volatile cache that flush() writes out (advertised as feature-flush-cache and feature-barrier). */
  readonly canFlush: boolean;
  /** Supports discard (feature-discard). */
  readonly canDiscard: boolean;
  /** Supports secure discard (discard-secure). */
  readonly canSecureDiscard: boolean;
  /** Discard granularity in bytes (discard-granularity). */
  readonly discardGranularity: number;
  read(sector: number, into: Uint8Array): Result<void, StorageError>;
  write(sector: number, from: Uint8Array): Result<void, StorageError>;
  flush(): Result<void, StorageError>;
  /** Discarded sectors read back as zeroes. */
  discard(sector: number, count: number, secure: boolean): Result<void, StorageError>;
  /** Releases the storage (files closed); later calls fail with io-error. */
  close(): void;
}

/** Errors a blkfront caller sees. */
export type BlkError =
  | "io-error" // BLKIF_RSP_ERROR from the backend
  | "not-supported" // BLKIF_RSP_EOPNOTSUPP, or a feature the backend did not offer
  | "out-of-range" // sector range beyond capacity (checked before sending)
  | "read-only" // write to a read-only disk (VDISK_READONLY)
  | "bad-argument" // misaligned or empty request
  | "disconnected" // the backend misbehaved; the device is dead
  | "closed"; // close() was called

/** A block callback. */
export type BlkCallback = (result: Result<void, BlkError>) => void;

/** The async block API. Sector = 512 bytes. Buffers passed in must stay untouched until completion. */
export interface BlockDevice {
  /** Logical sector size in bytes, as the backend advertises (requests must be aligned to it). */
  readonly sectorSize: number;
  /** Capacity in 512-byte sectors (re-read on a backend Connected after connection: resize). */
  readonly capacity: number;
  read(sector: number, count: number): Promise<Result<Uint8Array, BlkError>>;
  write(sector: number, data: Uint8Array): Promise<Result<void, BlkError>>;
  /** FLUSH_DISKCACHE (or WRITE_BARRIER without data when only barriers are offered; a no-op when neither). */
  flush(): Promise<Result<void, BlkError>>;
  discard(sector: number, count: number): Promise<Result<void, BlkError>>;
  /** Callback forms (no Promise per request): read into `into` (length a multiple of 512). */
  submitRead(sector: number, into: Uint8Array, done: BlkCallback): void;
  submitWrite(sector: number, data: Uint8Array, done: BlkCallback): void;
  /** WRITE_BARRIER with data: ordered after every earlier write, durable on completion. */
  submitBarrier(sector: number, data: Uint8Array, done: BlkCallback): void;
  submitFlush(done: BlkCallback): void;
  submitDiscard(sector: number, count: number, done: BlkCallback, secure?: boolean): void;
}

/** Why a peer was declared broken. */
export interface BlkFault {
  /** Which side reported it. */
  readonly side: "frontend" | "backend";
  /** The peer's domain. */
  readonly peer: number;
  readonly reason: string;
  readonly detail?: string;
}

/** Connection state of blkfront. */
export type BlkfrontState = "initialising" | "connecting" | "connected" | "reconnecting" | "closed" | "error";

/** Features negotiated with the backend. */
export interface BlkfrontFeatures {
  readonly flush: boolean;
  readonly barrier: boolean;
  readonly discard: boolean;
  readonly secureDiscard: boolean;
  readonly discardGranularity: number;
  readonly discardAlignment: number;
  readonly persistent: boolean;
  /** Segments per indirect request (0: no indirect descriptors). */
  readonly indirectSegments: number;
  readonly ringPageOrder: number;
  readonly readOnly: boolean;
  readonly physicalSectorSize: number;
}

/** Counters of blkfront. */
export interface BlkfrontStats {
  readonly requests: number;
  readonly indirectRequests: number;
  readonly responses: number;
  readonly errors: number;
  readonly reissued: number;
  readonly connects: number;
  readonly grantsIssued: number;
  readonly leakedPages: number;
}

/** The frontend driver. */
export interface Blkfront extends BlockDevice {
  readonly state: BlkfrontState;
  readonly features: BlkfrontFeatures;
  readonly stats: BlkfrontStats;
  /** Starts the handshake (idempotent); resolves once Connected, or with the reason it never will be. */
  connect(): Promise<Result<void, BlkError | "handshake-failed">>;
  /** Requests queued or on the ring. */
  readonly inFlight: number;
  /** Called with the new capacity after a resize. */
  onResize(handler: (sectors: number) => void): void;
  /** Called when the backend misbehaves (the device then fails every request with "disconnected"). */
  onFault(handler: (fault: BlkFault) => void): void;
  /** Closing → Closed handshake; fails outstanding requests with "closed". */
  close(): Promise<void>;
  /**
   * On a connected device: fails every request still queued or on the ring with "disconnected"
   * (the connection it was sent on is gone), ends the data and indirect pages' grants and gives
   * the pages back to the domain (a page the backend still maps is counted in leakedPages and
   * kept), zeroes and re-initialises the ring page(s) in place and starts a fresh front ring with
   * every request id free: the state a new connection over the same ring pages, grants and event
   * channel starts from (no page carries bytes of an earlier request), without the xenstore
   * handshake. For a harness whose backend re-attaches the ring itself (a fuzz target serving many
   * inputs over one connection); the backend is not told. False, and nothing changed, when not
   * connected or while responses are being handled.
   */
  resetRing(): boolean;
}

/** Counters of blkback. */
export interface BlkbackStats {
  readonly requests: number;
  readonly errors: number;
  readonly notSupported: number;
  readonly sectorsRead: number;
  readonly sectorsWritten: number;
  readonly persistentGrants: number;
  readonly connects: number;
}

/** Connection state of blkback. */
export type BlkbackState = "initwait" | "connected" | "closing" | "closed" | "crashed" | "faulted";

/** One backend instance serving one vbd. */
export interface Blkback {
  readonly state: BlkbackState;
  readonly stats: BlkbackStats;
  /** Faults reported so far (hostile frontend). */
  readonly faults: readonly BlkFault[];
  onFault(handler: (fault: BlkFault) => void): void;
  /** Probes the device: writes the features and InitWait (or Closed, to make a stale frontend reconnect). */
  start(): Promise<Result<void, "no-frontend" | "xenstore">>;
  /**
   * On a connected backend: a fresh ring over the same ring pages (private positions 0, as
   * connect() attaches it) and no persistent grants kept: the state a reconnect over the same
   * ring page gives, without the xenstore handshake. For a harness whose frontend re-initialised
   * the ring page itself (a fuzz target serving many inputs over one connection). False, and
   * nothing changed, when not connected.
   */
  reattachRing(): boolean;
  /** Simulated crash: mappings, event channel and watches torn down at once; xenstore untouched. */
  crash(): void;
  /** Disconnects cleanly and releases the storage. */
  close(): Promise<void>;
}
