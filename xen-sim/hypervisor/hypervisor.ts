// The simulated hypervisor: owns domains, their memory, grant tables and event channels, and
// counts every refused access. createHypervisor({ clock, rng }, options): the factory.

import { err, ok, type Result } from "../../stack/result.ts";
import type { Clock, Rng } from "../../stack/time.ts";
import { DOMID_FIRST_RESERVED, DOMID_SELF, isLittleEndianHost, type DomainId } from "../abi/xen.ts";
import { createEventChannelSystem } from "../event-channel/event-channel.ts";
import { createGrantSystem } from "../grant-table/grant-table.ts";
import { createDomainMemory, DEFAULT_MAX_PAGES } from "../memory/memory.ts";
import type { DomainMemoryInternal, RefusedAccess } from "../memory/types.ts";
import type { Domain, DomainOptions, Hypervisor, HypervisorOptions } from "./types.ts";
import { NetlabError } from "../../stack/error.ts";

/** Default most live domains. */
export const DEFAULT_MAX_DOMAINS = 64;

interface Entry {
  domain: Domain;
  memory: DomainMemoryInternal;
}

/** Creates a hypervisor. Throws ERR_NETLAB_BIG_ENDIAN on a big-endian host (the ABI bytes would be wrong). */
export function createHypervisor(deps: { clock: Clock; rng: Rng }, options: HypervisorOptions = {}): Hypervisor {
  if (!isLittleEndianHost()) {
    const e = new NetlabError("ERR_NETLAB_BIG_ENDIAN", "xen-sim needs a little-endian host");
    throw e;
  }
  const maxDomains = options.maxDomains ?? DEFAULT_MAX_DOMAINS;
  const maxPages = options.maxPagesPerDomain ?? DEFAULT_MAX_PAGES;
  const entries = new Map<DomainId, Entry>();
  const byKind = new Map<string, number>();
  const byDomain = new Map<DomainId, number>();
  const listeners = new Set<(r: RefusedAccess) => void>();
  let total = 0;

  const refuse = (r: RefusedAccess): void => {
    total++;
    const kind = `${r.op}:${r.status}`;
    byKind.set(kind, (byKind.get(kind) ?? 0) + 1);
    byDomain.set(r.domid, (byDomain.get(r.domid) ?? 0) + 1);
    for (const l of listeners) l(r);
  };

  const grants = createGrantSystem({ refuse }, options.grants);
  const events = createEventChannelSystem(
    { clock: deps.clock, rng: deps.rng, isPrivileged: (id) => entries.get(id)?.domain.privileged ?? false },
    options.events,
  );

  const hv: Hypervisor = {
    createDomain(opts: DomainOptions = {}) {
      if (entries.size >= maxDomains) return err("too-many-domains");
      let id = opts.id;
      if (id === undefined) {
        id = 0;
        while (entries.has(id)) id++;
      } else if (entries.has(id)) {
        return err("id-in-use");
      }
      if (!Number.isInteger(id) || id < 0 || id >= DOMID_FIRST_RESERVED) return err("bad-id");
      const domid = id;
      const memory = createDomainMemory(
        { domid, onRefused: (frame, reason) => refuse({ domid, op: "page", status: reason, detail: `frame ${frame}` }) },
        { maxPages: opts.maxPages ?? maxPages },
      );
      const g = grants.addDomain(memory);
      if (!g.ok) return g;
      const ev = events.addDomain(memory, opts.vcpu ?? "clock");
      if (!ev.ok) {
        grants.removeDomain(domid);
        return ev;
      }
      const privileged = opts.privileged ?? domid === 0;
      const domain: Domain = {
        id: domid,
        privileged,
        memory,
        grants: grants.forDomain(domid),
        events: events.forDomain(domid),
        mapForeign(target, frame): Result<Uint8Array, "permission_denied" | "bad_domain" | "bad_page"> {
          if (!privileged) {
            refuse({ domid, op: "foreign-map", status: "permission_denied" });
            return err("permission_denied");
          }
          const t = entries.get(target === DOMID_SELF ? domid : target);
          if (t === undefined) {
            refuse({ domid, op: "foreign-map", status: "bad_domain" });
            return err("bad_domain");
          }
          const page = t.memory.lookup(frame);
          if (page === undefined) {
            refuse({ domid, op: "foreign-map", status: "bad_page" });
            return err("bad_page");
          }
          return ok(page);
        },
      };
      entries.set(domid, { domain, memory });
      return ok(domain);
    },
    destroyDomain(id) {
      const e = entries.get(id);
      if (e === undefined) return err("no-such-domain");
      events.removeDomain(id);
      grants.removeDomain(id);
      e.memory.releaseAll();
      entries.delete(id);
      return ok(undefined);
    },
    domain: (id) => entries.get(id)?.domain,
    domainIds: () => [...entries.keys()].sort((a, b) => a - b),
    refusals: {
      get total() {
        return total;
      },
      byKind,
      byDomain,
    },
    onRefused(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
  return hv;
}
