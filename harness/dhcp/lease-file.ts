// A DHCP server LeaseStore kept in a JSON file, written atomically: the whole database goes
// to "<file>.tmp", is fsynced, renamed over the file, and the directory is fsynced, so a crash
// leaves either the old or the new database and a restarted server sees every ACKed lease.
//
// createLeaseFile   opens (or creates) the file; throws ERR_DHCP_LEASE_FILE on an unreadable one.
// parseLeaseFile    file text -> Result<ServerLease[]> (the file is untrusted input).
import { closeSync, fsyncSync, openSync, readFileSync, renameSync, writeSync, existsSync } from "node:fs";
import { dirname } from "node:path";
import { type Result, ok, err } from "../../stack/result.ts";
import { formatIpv4, parseIpv4, type Ipv4Address } from "../../stack/wire/address.ts";
import type { LeaseStore, ServerLease } from "../../stack/app/dhcp/types.ts";
import { NetlabError } from "../../stack/error.ts";

/** Format marker of the file. */
export const LEASE_FILE_VERSION = 1;

export type LeaseFileError = "bad-json" | "bad-version" | "bad-lease";

/** Parses the text of a lease file. */
export function parseLeaseFile(text: string): Result<ServerLease[], LeaseFileError> {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    return err("bad-json", (e as Error).message);
  }
  if (typeof doc !== "object" || doc === null || (doc as { version?: unknown }).version !== LEASE_FILE_VERSION) return err("bad-version");
  const list = (doc as { leases?: unknown }).leases;
  if (!Array.isArray(list)) return err("bad-lease", "leases: not an array");
  const out: ServerLease[] = [];
  for (const [i, raw] of list.entries()) {
    if (typeof raw !== "object" || raw === null) return err("bad-lease", `leases[${i}]: not an object`);
    const r = raw as Record<string, unknown>;
    const address = typeof r.address === "string" ? parseIpv4(r.address) : undefined;
    if (!address?.ok) return err("bad-lease", `leases[${i}].address: not an IPv4 address`);
    if (typeof r.client !== "string") return err("bad-lease", `leases[${i}].client: not a string`);
    if (r.state !== "bound" && r.state !== "declined") return err("bad-lease", `leases[${i}].state: not "bound" or "declined"`);
    if (typeof r.expiresAt !== "number" || !Number.isFinite(r.expiresAt)) return err("bad-lease", `leases[${i}].expiresAt: not a number`);
    if (r.hostName !== undefined && typeof r.hostName !== "string") return err("bad-lease", `leases[${i}].hostName: not a string`);
    out.push({
      address: address.value,
      client: r.client,
      state: r.state,
      expiresAt: r.expiresAt,
      ...(typeof r.hostName === "string" ? { hostName: r.hostName } : {}),
    });
  }
  return ok(out);
}

function serialize(leases: Iterable<ServerLease>): string {
  const list = [...leases]
    .sort((a, b) => a.address - b.address)
    .map((l) => ({
      address: formatIpv4(l.address),
      client: l.client,
      state: l.state,
      expiresAt: l.expiresAt,
      ...(l.hostName !== undefined ? { hostName: l.hostName } : {}),
    }));
  return JSON.stringify({ version: LEASE_FILE_VERSION, leases: list }, null, 1) + "\n";
}

/** Writes `text` to `path` atomically and durably (temp file, fsync, rename, fsync directory). */
export function writeFileAtomic(path: string, text: string): void {
  const tmp = `${path}.tmp`;
  const fd = openSync(tmp, "w", 0o644);
  try {
    const data = Buffer.from(text, "utf8");
    let off = 0;
    while (off < data.length) off += writeSync(fd, data, off, data.length - off);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
  const dir = openSync(dirname(path), "r");
  try {
    fsyncSync(dir);
  } finally {
    closeSync(dir);
  }
}

/** A LeaseStore persisted in `path`. */
export function createLeaseFile(path: string): LeaseStore & { readonly path: string } {
  const records = new Map<Ipv4Address, ServerLease>();
  if (existsSync(path)) {
    const parsed = parseLeaseFile(readFileSync(path, "utf8"));
    if (!parsed.ok) {
      throw new NetlabError("ERR_DHCP_LEASE_FILE", `${path}: ${parsed.error}${parsed.detail ? `: ${parsed.detail}` : ""}`);
    }
    for (const l of parsed.value) records.set(l.address, l);
  }
  const flush = (): void => writeFileAtomic(path, serialize(records.values()));
  return {
    path,
    load: () => [...records.values()],
    put(lease) {
      records.set(lease.address, lease);
      flush();
    },
    remove(address) {
      if (records.delete(address)) flush();
    },
  };
}
