// DHCP server configuration from JSON. Every error names the offending field, e.g.
// `pools[0].range.start: not an IPv4 address`.
//
// parseDhcpServerConfig  parsed JSON -> Result<DhcpServerFileConfig, "invalid-config"> (detail = message).
// loadDhcpServerConfig   reads and validates a file; throws ERR_DHCP_CONFIG naming file and field.
// EXAMPLE_DHCP_CONFIG    a documented example of the format.
import { readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { type Result, ok, err } from "../../stack/result.ts";
import { type Ipv4Address, parseIpv4, parseCidr, parseMac, prefixToMask } from "../../stack/wire/address.ts";
import type { DhcpPool, DhcpReservation, DhcpServerConfig } from "../../stack/app/dhcp/types.ts";
import { NetlabError } from "../../stack/error.ts";

/** The file's meaning: the server configuration plus where the harness keeps leases. */
export interface DhcpServerFileConfig {
  readonly server: DhcpServerConfig;
  /** Lease database path, relative to the config file's directory when loaded from a file. */
  readonly leaseFile?: string;
}

/** An example configuration (also the format's documentation). */
export const EXAMPLE_DHCP_CONFIG = {
  serverId: "192.0.2.1",
  authoritative: false,
  maxLeases: 4096,
  offerHoldSeconds: 30,
  declineHoldSeconds: 600,
  leaseFile: "leases.json",
  pools: [
    {
      subnet: "192.0.2.0/24",
      range: { start: "192.0.2.100", end: "192.0.2.199" },
      gateway: "192.0.2.1",
      dns: ["192.0.2.53"],
      domainName: "lab.example",
      leaseTime: 3600,
      renewalTime: 1800,
      rebindingTime: 3150,
    },
  ],
  reservations: [
    { mac: "02:00:00:00:00:05", address: "192.0.2.5", hostName: "printer" },
    { clientId: "01:02:00:00:00:00:06", address: "192.0.2.6" },
  ],
};

class ConfigError {
  constructor(readonly message: string) {}
}
const fail = (path: string, what: string): never => {
  throw new ConfigError(`${path}: ${what}`);
};

type Obj = Record<string, unknown>;
function object(v: unknown, path: string, allowed: readonly string[]): Obj {
  if (typeof v !== "object" || v === null || Array.isArray(v)) return fail(path || "(top level)", "not an object");
  for (const k of Object.keys(v)) if (!allowed.includes(k)) fail(path ? `${path}.${k}` : k, "unknown field");
  return v as Obj;
}
function ipv4(v: unknown, path: string): Ipv4Address {
  const r = typeof v === "string" ? parseIpv4(v) : undefined;
  return r?.ok ? r.value : fail(path, "not an IPv4 address");
}
function integer(v: unknown, path: string, min: number, max: number): number {
  if (typeof v !== "number" || !Number.isInteger(v)) return fail(path, "not an integer");
  if (v < min || v > max) return fail(path, `out of range ${min}..${max}`);
  return v;
}
function string(v: unknown, path: string, maxLength: number): string {
  if (typeof v !== "string") return fail(path, "not a string");
  if (v.length === 0 || v.length > maxLength) return fail(path, `length must be 1..${maxLength}`);
  if (!/^[\x20-\x7e]*$/.test(v)) return fail(path, "not printable ASCII");
  return v;
}
function hexBytes(v: unknown, path: string): Uint8Array {
  if (typeof v !== "string" || !/^([0-9a-f]{2})([:-]?[0-9a-f]{2})+$/i.test(v)) return fail(path, "not hex bytes like 01:02:03");
  return Uint8Array.from(
    v
      .replace(/[:-]/g, "")
      .match(/../g)!
      .map((x) => parseInt(x, 16)),
  );
}
const inSubnet = (a: Ipv4Address, p: DhcpPool): boolean => {
  const m = prefixToMask(p.subnet.prefixLength);
  return (a & m) >>> 0 === (p.subnet.address & m) >>> 0;
};

function pool(v: unknown, path: string): DhcpPool {
  const o = object(v, path, ["subnet", "range", "gateway", "dns", "domainName", "leaseTime", "renewalTime", "rebindingTime", "broadcast"]);
  const c = typeof o.subnet === "string" ? parseCidr(o.subnet) : undefined;
  if (!c?.ok) return fail(`${path}.subnet`, "not an IPv4 CIDR like 192.0.2.0/24");
  const mask = prefixToMask(c.value.prefixLength);
  const subnet = { address: (c.value.address & mask) >>> 0, prefixLength: c.value.prefixLength };
  const range = object(o.range, `${path}.range`, ["start", "end"]);
  const rangeStart = ipv4(range.start, `${path}.range.start`);
  const rangeEnd = ipv4(range.end, `${path}.range.end`);
  const partial: DhcpPool = { subnet, rangeStart, rangeEnd };
  if (!inSubnet(rangeStart, partial)) fail(`${path}.range.start`, `not inside ${o.subnet}`);
  if (!inSubnet(rangeEnd, partial)) fail(`${path}.range.end`, `not inside ${o.subnet}`);
  if (rangeEnd < rangeStart) fail(`${path}.range`, "end is before start");
  const out: { -readonly [K in keyof DhcpPool]: DhcpPool[K] } = { subnet, rangeStart, rangeEnd };
  if (o.gateway !== undefined) {
    out.gateway = ipv4(o.gateway, `${path}.gateway`);
    if (!inSubnet(out.gateway, partial)) fail(`${path}.gateway`, `not inside ${o.subnet}`);
  }
  if (o.dns !== undefined) {
    if (!Array.isArray(o.dns)) fail(`${path}.dns`, "not an array");
    const dns = o.dns as unknown[];
    if (dns.length > 63) fail(`${path}.dns`, "more than 63 servers");
    out.dnsServers = dns.map((d, i) => ipv4(d, `${path}.dns[${i}]`));
  }
  if (o.domainName !== undefined) out.domainName = string(o.domainName, `${path}.domainName`, 255);
  if (o.broadcast !== undefined) out.broadcastAddress = ipv4(o.broadcast, `${path}.broadcast`);
  const lease = o.leaseTime === undefined ? 3600 : integer(o.leaseTime, `${path}.leaseTime`, 60, 0xffffffff);
  out.leaseTime = lease;
  if (o.renewalTime !== undefined) out.renewalTime = integer(o.renewalTime, `${path}.renewalTime`, 1, lease - 1);
  if (o.rebindingTime !== undefined) {
    out.rebindingTime = integer(o.rebindingTime, `${path}.rebindingTime`, 1, lease - 1);
    if (out.rebindingTime <= (out.renewalTime ?? Math.floor(lease / 2))) fail(`${path}.rebindingTime`, "must be greater than renewalTime");
  }
  return out;
}

function reservation(v: unknown, path: string, pools: readonly DhcpPool[]): DhcpReservation {
  const o = object(v, path, ["mac", "clientId", "address", "hostName"]);
  if ((o.mac === undefined) === (o.clientId === undefined)) fail(path, "needs exactly one of mac or clientId");
  const address = ipv4(o.address, `${path}.address`);
  if (!pools.some((p) => inSubnet(address, p))) fail(`${path}.address`, "not inside any pool's subnet");
  const out: { -readonly [K in keyof DhcpReservation]: DhcpReservation[K] } = { address };
  if (o.mac !== undefined) {
    const m = typeof o.mac === "string" ? parseMac(o.mac) : undefined;
    if (!m?.ok) fail(`${path}.mac`, "not a MAC address like 02:00:00:00:00:01");
    else out.mac = m.value;
  }
  if (o.clientId !== undefined) out.clientId = hexBytes(o.clientId, `${path}.clientId`);
  if (o.hostName !== undefined) out.hostName = string(o.hostName, `${path}.hostName`, 63);
  return out;
}

function build(json: unknown): DhcpServerFileConfig {
  const o = object(json, "", [
    "serverId",
    "authoritative",
    "maxLeases",
    "offerHoldSeconds",
    "declineHoldSeconds",
    "leaseFile",
    "pools",
    "reservations",
    "$schema",
    "comment",
  ]);
  if (!Array.isArray(o.pools) || o.pools.length === 0) fail("pools", "needs a non-empty array");
  const pools = (o.pools as unknown[]).map((p, i) => pool(p, `pools[${i}]`));
  pools.forEach((p, i) => {
    for (let j = 0; j < i; j++) {
      const q = pools[j]!;
      if (p.rangeStart <= q.rangeEnd && q.rangeStart <= p.rangeEnd) fail(`pools[${i}].range`, `overlaps pools[${j}].range`);
    }
  });
  const server: { -readonly [K in keyof DhcpServerConfig]: DhcpServerConfig[K] } = { pools };
  if (o.reservations !== undefined) {
    if (!Array.isArray(o.reservations)) fail("reservations", "not an array");
    const list = (o.reservations as unknown[]).map((r, i) => reservation(r, `reservations[${i}]`, pools));
    list.forEach((r, i) => {
      const j = list.findIndex((x) => x.address === r.address);
      if (j !== i) fail(`reservations[${i}].address`, `already reserved by reservations[${j}]`);
    });
    server.reservations = list;
  }
  if (o.serverId !== undefined) server.serverId = ipv4(o.serverId, "serverId");
  if (o.authoritative !== undefined) {
    if (typeof o.authoritative !== "boolean") fail("authoritative", "not true or false");
    server.authoritative = o.authoritative as boolean;
  }
  if (o.maxLeases !== undefined) server.maxLeases = integer(o.maxLeases, "maxLeases", 1, 1_000_000);
  if (o.offerHoldSeconds !== undefined) server.offerHoldMs = integer(o.offerHoldSeconds, "offerHoldSeconds", 1, 3600) * 1000;
  if (o.declineHoldSeconds !== undefined) server.declineHoldMs = integer(o.declineHoldSeconds, "declineHoldSeconds", 0, 86_400) * 1000;
  const out: DhcpServerFileConfig = o.leaseFile !== undefined ? { server, leaseFile: string(o.leaseFile, "leaseFile", 4096) } : { server };
  return out;
}

/** Validates parsed JSON; the error detail names the field. */
export function parseDhcpServerConfig(json: unknown): Result<DhcpServerFileConfig, "invalid-config"> {
  try {
    return ok(build(json));
  } catch (e) {
    if (e instanceof ConfigError) return err("invalid-config", e.message);
    throw e;
  }
}

/** Reads and validates a configuration file; throws an Error with code ERR_DHCP_CONFIG. */
export function loadDhcpServerConfig(path: string): DhcpServerFileConfig {
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(path, "utf8"));
  } catch (e) {
    throw new NetlabError("ERR_DHCP_CONFIG", `${path}: ${(e as Error).message}`);
  }
  const r = parseDhcpServerConfig(json);
  if (!r.ok) throw new NetlabError("ERR_DHCP_CONFIG", `${path}: ${r.detail}`);
  const leaseFile = r.value.leaseFile;
  return leaseFile === undefined ? r.value : { ...r.value, leaseFile: resolve(dirname(path), leaseFile) };
}
