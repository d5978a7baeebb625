// Interfaces of simulated guest memory: a domain owns 4096-byte pages, each backed by its own
// SharedArrayBuffer so a page can be handed to a worker thread or mapped by another domain.

import type { Result } from "../../stack/result.ts";
import type { DomainId } from "../abi/xen.ts";

/** A guest frame number, private to its domain (0, 1, 2, ... as allocated). */
export type Frame = number;

/** A domain's own memory: the only pages it reaches without a grant. */
export interface DomainMemory {
  /** Owner of these pages. */
  readonly domid: DomainId;
  /** Allocates a zeroed page. */
  allocPage(): Result<Frame, "out-of-memory">;
  /** Frees a page; refused while another domain maps it. */
  freePage(frame: Frame): Result<void, "bad-frame" | "page-in-use">;
  /** The page of one of this domain's frames (a view over its SharedArrayBuffer). Other frames are refused and counted. */
  page(frame: Frame): Result<Uint8Array, "bad-frame">;
  /** Pages currently allocated. */
  readonly pageCount: number;
  /** Most pages this domain may hold. */
  readonly maxPages: number;
}

/** Options of createDomainMemory. */
export interface DomainMemoryOptions {
  /** Page limit (default 16384 pages = 64 MiB). */
  maxPages?: number;
}

/** What the hypervisor sees of a domain's memory (never handed to guests). */
export interface DomainMemoryInternal extends DomainMemory {
  /** The page of a frame, or undefined; no accounting. */
  lookup(frame: Frame): Uint8Array | undefined;
  /** Counts a foreign mapping of a frame (a mapped page cannot be freed). */
  pin(frame: Frame): void;
  /** Drops one foreign mapping of a frame. */
  unpin(frame: Frame): void;
  /** Frees every page (domain destruction). */
  releaseAll(): void;
}

/** One refused access: who tried, which operation, and the status it got. */
export interface RefusedAccess {
  /** The domain that attempted the access. */
  domid: DomainId;
  /** page, free-page, map, unmap, copy, foreign-map, end-access, grant-access. */
  op: string;
  /** The status returned (a GNTST name or a memory error). */
  status: string;
  /** Why, when the status alone is ambiguous (e.g. general_error: wrong-domid, readonly). */
  detail?: string;
}

/** Receives every refused access. */
export type RefusalSink = (refused: RefusedAccess) => void;
