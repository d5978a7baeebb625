// Interfaces of the simulated hypervisor: domains (memory + grants + event channels) and the
// accounting of refused accesses.

import type { Result } from "../../stack/result.ts";
import type { DomainId } from "../abi/xen.ts";
import type { EventChannelOptions, DomainEvents, VcpuMode } from "../event-channel/types.ts";
import type { DomainGrants, GrantTableOptions } from "../grant-table/types.ts";
import type { DomainMemory, Frame, RefusedAccess } from "../memory/types.ts";

/** What a guest holds: its id, its own memory and its hypercalls. */
export interface Domain {
  readonly id: DomainId;
  /** Dom0 (and domains created privileged) may map foreign frames and act for other domains. */
  readonly privileged: boolean;
  readonly memory: DomainMemory;
  readonly grants: DomainGrants;
  readonly events: DomainEvents;
  /** Privileged foreign mapping of another domain's frame (xc_map_foreign_range); refused and counted otherwise. */
  mapForeign(domid: DomainId, frame: Frame): Result<Uint8Array, "permission_denied" | "bad_domain" | "bad_page">;
}

/** Counters of refused accesses. */
export interface RefusalStats {
  /** All refusals. */
  readonly total: number;
  /** By "op:status", e.g. "map:general_error". */
  readonly byKind: ReadonlyMap<string, number>;
  /** By the domain that attempted the access. */
  readonly byDomain: ReadonlyMap<DomainId, number>;
}

/** Options of createDomain. */
export interface DomainOptions {
  /** Default: true for domain 0 only. */
  privileged?: boolean;
  /** Page limit of this domain (default: the hypervisor's maxPagesPerDomain). */
  maxPages?: number;
  /** Requested id (default: lowest free id). */
  id?: DomainId;
  /** Who runs the domain's upcalls: the Clock (default) or a worker thread blocked in waitForUpcall. */
  vcpu?: VcpuMode;
}

/** The simulated hypervisor. */
export interface Hypervisor {
  /** Creates a domain (first one is dom0). Exhaustion and a taken id are Results. */
  createDomain(options?: DomainOptions): Result<Domain, "too-many-domains" | "id-in-use" | "bad-id" | "out-of-memory">;
  /** Destroys a domain: closes its ports, drops its mappings, frees its memory. */
  destroyDomain(id: DomainId): Result<void, "no-such-domain">;
  /** A live domain by id. */
  domain(id: DomainId): Domain | undefined;
  /** Ids of live domains, ascending. */
  domainIds(): DomainId[];
  /** Refusal counters. */
  readonly refusals: RefusalStats;
  /** Subscribes to every refusal (tracing, tests); returns an unsubscribe function. */
  onRefused(listener: (r: RefusedAccess) => void): () => void;
}

/** Options of createHypervisor. */
export interface HypervisorOptions {
  /** Most live domains (default 64). */
  maxDomains?: number;
  /** Default page limit per domain (default 16384 = 64 MiB). */
  maxPagesPerDomain?: number;
  grants?: GrantTableOptions;
  events?: EventChannelOptions;
}
