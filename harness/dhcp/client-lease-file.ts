// A DHCP client's remembered lease (for INIT-REBOOT, RFC 2131 §3.2) kept in a JSON file,
// written atomically like the server's lease file.
//
// createClientLeaseFile  a ClientLeaseStore over `path`; an unreadable or invalid file reads as
//                        "no lease" (the client then simply starts from INIT).
import { existsSync, readFileSync, rmSync } from "node:fs";
import { formatIpv4, parseIpv4, type Ipv4Address } from "../../stack/wire/address.ts";
import type { ClientLeaseStore, DhcpLease } from "../../stack/app/dhcp/types.ts";
import { writeFileAtomic } from "./lease-file.ts";

const addr = (v: unknown): Ipv4Address | undefined => {
  if (typeof v !== "string") return undefined;
  const r = parseIpv4(v);
  return r.ok ? r.value : undefined;
};
const time = (v: unknown): number | undefined => (v === null ? Infinity : typeof v === "number" && Number.isFinite(v) ? v : undefined);

/** Decodes the file's JSON; undefined when anything is missing or malformed. */
export function decodeClientLease(json: unknown): DhcpLease | undefined {
  if (typeof json !== "object" || json === null) return undefined;
  const o = json as Record<string, unknown>;
  const address = addr(o.address),
    serverId = addr(o.serverId);
  const acquiredAt = time(o.acquiredAt),
    renewAt = time(o.renewAt),
    rebindAt = time(o.rebindAt),
    expiresAt = time(o.expiresAt);
  const prefixLength = o.prefixLength,
    leaseTime = o.leaseTime;
  if (address === undefined || serverId === undefined || acquiredAt === undefined || renewAt === undefined || rebindAt === undefined || expiresAt === undefined)
    return undefined;
  if (typeof prefixLength !== "number" || !Number.isInteger(prefixLength) || prefixLength < 0 || prefixLength > 32) return undefined;
  if (typeof leaseTime !== "number" || !Number.isInteger(leaseTime) || leaseTime < 0) return undefined;
  const dns = Array.isArray(o.dnsServers) ? o.dnsServers.map(addr) : [];
  if (dns.some((d) => d === undefined)) return undefined;
  const str = (v: unknown): string | undefined => (typeof v === "string" ? v : undefined);
  return {
    address,
    prefixLength,
    gateway: addr(o.gateway),
    dnsServers: dns as Ipv4Address[],
    domainName: str(o.domainName),
    hostName: str(o.hostName),
    broadcastAddress: addr(o.broadcastAddress),
    serverId,
    leaseTime,
    acquiredAt,
    renewAt,
    rebindAt,
    expiresAt,
  };
}

/** Encodes a lease as JSON-ready data (addresses dotted, infinite times as null). */
export function encodeClientLease(l: DhcpLease): unknown {
  const t = (x: number): number | null => (Number.isFinite(x) ? x : null);
  const a = (x: Ipv4Address | undefined): string | undefined => (x === undefined ? undefined : formatIpv4(x));
  return {
    address: formatIpv4(l.address),
    prefixLength: l.prefixLength,
    gateway: a(l.gateway),
    dnsServers: l.dnsServers.map(formatIpv4),
    domainName: l.domainName,
    hostName: l.hostName,
    broadcastAddress: a(l.broadcastAddress),
    serverId: formatIpv4(l.serverId),
    leaseTime: l.leaseTime,
    acquiredAt: t(l.acquiredAt),
    renewAt: t(l.renewAt),
    rebindAt: t(l.rebindAt),
    expiresAt: t(l.expiresAt),
  };
}

/** A ClientLeaseStore persisted in `path`. */
export function createClientLeaseFile(path: string): ClientLeaseStore {
  return {
    load() {
      if (!existsSync(path)) return undefined;
      try {
        return decodeClientLease(JSON.parse(readFileSync(path, "utf8")));
      } catch {
        return undefined;
      }
    },
    save(lease) {
      writeFileAtomic(path, JSON.stringify(encodeClientLease(lease), null, 1) + "\n");
    },
    clear() {
      rmSync(path, { force: true });
    },
  };
}
