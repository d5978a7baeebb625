// A DHCPv6 server Dhcp6LeaseStore kept in a JSON file, written the way the v4 lease file is
// (lease-file.ts: whole database to "<file>.tmp", fsync, rename, fsync the directory), so a
// crash leaves the old or the new database and a restarted server sees every binding it REPLYed.
//
// createLease6File   opens (or creates) the file; throws ERR_DHCP6_LEASE_FILE on an unreadable one.
// parseLease6File    file text -> Result<Dhcp6ServerLease[]> (the file is untrusted input).
import { existsSync, readFileSync } from "node:fs";
import { type Result, ok, err } from "../../stack/result.ts";
import { formatIpv6, ipv6Key, parseIpv6Address } from "../../stack/wire/ipv6-address.ts";
import type { Dhcp6LeaseStore, Dhcp6ServerLease } from "../../stack/app/dhcp6/types.ts";
import { NetlabError } from "../../stack/error.ts";
import { writeFileAtomic } from "./lease-file.ts";

/** Format marker of the file. */
export const LEASE6_FILE_VERSION = 1;

export type Lease6FileError = "bad-json" | "bad-version" | "bad-lease";

/** A time in the file: a finite number, or null for Infinity (JSON has no Infinity). */
const readTime = (v: unknown): number | undefined => (v === null ? Infinity : typeof v === "number" && Number.isFinite(v) ? v : undefined);
const writeTime = (t: number): number | null => (Number.isFinite(t) ? t : null);

/** Parses the text of a DHCPv6 lease file. */
export function parseLease6File(text: string): Result<Dhcp6ServerLease[], Lease6FileError> {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    return err("bad-json", (e as Error).message);
  }
  if (typeof doc !== "object" || doc === null || (doc as { version?: unknown }).version !== LEASE6_FILE_VERSION) return err("bad-version");
  const list = (doc as { leases?: unknown }).leases;
  if (!Array.isArray(list)) return err("bad-lease", "leases: not an array");
  const out: Dhcp6ServerLease[] = [];
  for (const [i, raw] of list.entries()) {
    if (typeof raw !== "object" || raw === null) return err("bad-lease", `leases[${i}]: not an object`);
    const r = raw as Record<string, unknown>;
    const address = typeof r.address === "string" ? parseIpv6Address(r.address) : undefined;
    if (!address?.ok) return err("bad-lease", `leases[${i}].address: not an IPv6 address`);
    if (typeof r.duid !== "string" || !/^([0-9a-f]{2})*$/.test(r.duid)) return err("bad-lease", `leases[${i}].duid: not lower-case hex`);
    if (typeof r.iaid !== "number" || !Number.isInteger(r.iaid) || r.iaid < 0 || r.iaid > 0xffffffff) return err("bad-lease", `leases[${i}].iaid: not a u32`);
    if (r.state !== "bound" && r.state !== "declined") return err("bad-lease", `leases[${i}].state: not "bound" or "declined"`);
    const preferredUntil = readTime(r.preferredUntil);
    const validUntil = readTime(r.validUntil);
    if (preferredUntil === undefined || validUntil === undefined) return err("bad-lease", `leases[${i}]: preferredUntil/validUntil not a number or null`);
    out.push({ address: address.value, duid: r.duid, iaid: r.iaid, state: r.state, preferredUntil, validUntil });
  }
  return ok(out);
}

function serialize(leases: Iterable<Dhcp6ServerLease>): string {
  const list = [...leases]
    .sort((a, b) => (ipv6Key(a.address) < ipv6Key(b.address) ? -1 : 1))
    .map((l) => ({
      address: formatIpv6(l.address),
      duid: l.duid,
      iaid: l.iaid,
      state: l.state,
      preferredUntil: writeTime(l.preferredUntil),
      validUntil: writeTime(l.validUntil),
    }));
  return JSON.stringify({ version: LEASE6_FILE_VERSION, leases: list }, null, 1) + "\n";
}

/** A Dhcp6LeaseStore persisted in `path`. */
export function createLease6File(path: string): Dhcp6LeaseStore & { readonly path: string } {
  const records = new Map<string, Dhcp6ServerLease>();
  if (existsSync(path)) {
    const parsed = parseLease6File(readFileSync(path, "utf8"));
    if (!parsed.ok) throw new NetlabError("ERR_DHCP6_LEASE_FILE", `${path}: ${parsed.error}${parsed.detail ? `: ${parsed.detail}` : ""}`);
    for (const l of parsed.value) records.set(ipv6Key(l.address), l);
  }
  const flush = (): void => writeFileAtomic(path, serialize(records.values()));
  return {
    path,
    load: () => [...records.values()],
    put(lease) {
      records.set(ipv6Key(lease.address), lease);
      flush();
    },
    remove(address) {
      if (records.delete(ipv6Key(address))) flush();
    },
  };
}
