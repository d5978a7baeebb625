// Topology files: the JSON Schema (TOPOLOGY_SCHEMA, written out as topology.schema.json), the
// types it describes, and validateTopology(), which checks a parsed file against the schema and
// then the graph (names, endpoints, address overlaps, routes to nowhere, flows between known
// hosts). Every error names the JSON path of the bad field ("/links/2/rateBitsPerSecond: ...").
// A switch is a learning bridge joining the links that end on its ports; a loop of switches (no STP,
// no TTL on Ethernet) is refused. Netlab nodes run in virtual time; a linux host (the kernel in a
// namespace, attached by a tap) makes the run real time; a xen host (a domU running netlab's stack
// behind netfront, dom0's netback and a bridge onto its link) runs in either. A netlab host's
// address may be "dhcp": it leases from the one dhcpServer on its segment (links and switches).
// IPv6 (netlab hosts and routers): an interface's `ipv6` lists static addresses ("2001:db8:1::2/64")
// or, on a host, "slaac" (addresses from the routers' RAs, which every router interface with an
// IPv6 prefix sends); routes to IPv6 prefixes ("::/0" on a host, any prefix on a router) go via an
// IPv6 gateway; a flow with "family": "ipv6" (bulk-tcp, ping, traceroute) runs over IPv6.
import { type Ipv4Address, formatIpv4, parseCidr, parseIpv4, prefixToMask } from "../../stack/wire/address.ts";
import {
  type Ipv6Address,
  formatIpv6,
  isIpv6LinkLocal,
  isIpv6Multicast,
  ipv6Key,
  parseIpv6Address,
  parseIpv6Cidr as parseIpv6CidrText,
} from "../../stack/wire/ipv6-address.ts";
import { ipv6PrefixMatch } from "../../stack/net/ndp.ts";

/** A queue discipline as a topology file gives it (see stack/link/qdisc/types.ts for the fields). */
export type TopologyQueue =
  | { readonly kind: "drop-tail"; readonly limitPackets?: number; readonly limitBytes?: number; readonly ecnMarkPackets?: number }
  | {
      readonly kind: "red";
      readonly minThreshold: number;
      readonly maxThreshold: number;
      readonly unit?: "packets" | "bytes";
      readonly limit?: number;
      readonly maxProbability?: number;
      readonly weight?: number;
      readonly gentle?: boolean;
      readonly ecn?: boolean;
    }
  | { readonly kind: "codel"; readonly targetMs?: number; readonly intervalMs?: number; readonly limitPackets?: number; readonly ecn?: boolean }
  | {
      readonly kind: "fq-codel";
      readonly flows?: number;
      readonly quantum?: number;
      readonly limitPackets?: number;
      readonly targetMs?: number;
      readonly intervalMs?: number;
      readonly ecn?: boolean;
    };

/** A DHCP server (stack/app/dhcp/server.ts) on a netlab host's interface, leasing on that interface's subnet. */
export interface TopologyDhcpServer {
  /** "10.1.1.100-10.1.1.200": the addresses it leases, inside the interface's subnet. */
  readonly pool: string;
  /** The router it hands out (option 3); none by default. */
  readonly gateway?: string;
  /** Seconds (default 3600). */
  readonly leaseSeconds?: number;
}

export interface TopologyInterface {
  readonly name: string;
  /** "10.0.1.2/24", or "dhcp" (a netlab host leasing from a server on its segment); required on hosts and routers, absent on a switch's ports. */
  readonly address?: string;
  readonly dhcpServer?: TopologyDhcpServer;
  /** IPv6 addresses ("2001:db8:1::2/64"), or "slaac" on a host (from the routers' RAs); netlab hosts and routers. */
  readonly ipv6?: readonly string[];
}

export interface TopologyRoute {
  /** "10.0.2.0/24" or "default"; an IPv6 prefix ("2001:db8:2::/64", "::/0") with an IPv6 `via`. */
  readonly destination: string;
  readonly via: string;
}

export interface TopologyNode {
  readonly name: string;
  readonly kind: "host" | "router" | "switch";
  /** What runs the node (default netlab): "xen" a domU behind netfront (hosts), "linux" the kernel in a namespace (hosts, real time). */
  readonly implementation?: "netlab" | "xen" | "linux";
  readonly interfaces: readonly TopologyInterface[];
  readonly routes?: readonly TopologyRoute[];
}

export interface TopologyLink {
  readonly name?: string;
  /** Two "node:interface" endpoints. */
  readonly endpoints: readonly [string, string];
  readonly rateBitsPerSecond?: number;
  readonly delayMs?: number;
  readonly jitterMs?: number;
  readonly loss?: number;
  readonly reorder?: number;
  readonly mtu?: number;
  /** The queue of both directions (with a rate). */
  readonly queue?: TopologyQueue;
}

/**
 * A flow between two hosts: a bulk TCP transfer (durationMs required), a traceroute (ICMP echo with
 * TTL 1, 2, ... until the target answers), ping (echo every intervalMs), udp-cbr (datagrams of
 * payloadBytes at rateBitsPerSecond), http (GET of responseBytes from a
 * netlab HTTP server on `to`, `requests` times one after another) or iperf3 (between two linux
 * hosts: iperf3 -s on `to`, iperf3 -c on `from`, whole seconds). Without durationMs a flow lasts
 * until the run ends.
 */
export interface TopologyFlow {
  readonly name?: string;
  readonly kind: "bulk-tcp" | "traceroute" | "ping" | "udp-cbr" | "http" | "iperf3";
  /** The address family (default ipv4); ipv6 for bulk-tcp, ping and traceroute between netlab hosts with IPv6. */
  readonly family?: "ipv4" | "ipv6";
  readonly from: string;
  readonly to: string;
  readonly port?: number;
  readonly startMs?: number;
  readonly durationMs?: number;
  /** Bulk-tcp and iperf3: the sender's congestion control (default cubic; a linux sender maps newreno to the kernel's reno, bbr to its bbr). */
  readonly congestionControl?: "cubic" | "newreno" | "bbr";
  /** Traceroute: the largest TTL tried (default 30). */
  readonly maxHops?: number;
  /** Ping: time between requests (default 1000 ms, as ping(8)); http: least time between fetch starts (default 0). */
  readonly intervalMs?: number;
  /** Ping: echo data bytes (default 56); udp-cbr: UDP payload bytes per datagram (default 1200). */
  readonly payloadBytes?: number;
  /** Udp-cbr: payload bits per second. */
  readonly rateBitsPerSecond?: number;
  /** Http: body bytes of each response (default 100000). */
  readonly responseBytes?: number;
  /** Http: fetches made (default 1). */
  readonly requests?: number;
}

export interface Topology {
  readonly name: string;
  readonly description?: string;
  readonly seed?: number;
  /** Virtual time the run lasts (flows still open are then reported as they are). */
  readonly durationMs: number;
  /** Goodput and backlog sample interval (default 100 ms). */
  readonly sampleIntervalMs?: number;
  /** Steady state for fairness: the part of each flow after this fraction of its duration (default 0.2). */
  readonly warmupFraction?: number;
  readonly nodes: readonly TopologyNode[];
  readonly links: readonly TopologyLink[];
  readonly flows?: readonly TopologyFlow[];
}

const num = (extra: Record<string, unknown> = {}) => ({ type: "number", ...extra });
const int = (extra: Record<string, unknown> = {}) => ({ type: "integer", ...extra });
const probability = num({ minimum: 0, maximum: 1 });
const NAME = { type: "string", pattern: "^[A-Za-z][A-Za-z0-9_.-]{0,31}$" };

/** The JSON Schema (draft 2020-12) of a topology file. */
export const TOPOLOGY_SCHEMA = {
  $schema: "https://json-schema.org/draft/2020-12/schema",
  $id: "https://netlab.invalid/topology.schema.json",
  title: "netlab topology",
  type: "object",
  additionalProperties: false,
  required: ["name", "durationMs", "nodes", "links"],
  properties: {
    $schema: { type: "string" },
    name: NAME,
    description: { type: "string" },
    seed: int({ minimum: 0 }),
    durationMs: num({ exclusiveMinimum: 0, maximum: 3_600_000 }),
    sampleIntervalMs: num({ exclusiveMinimum: 0 }),
    warmupFraction: num({ minimum: 0, exclusiveMaximum: 1 }),
    nodes: {
      type: "array",
      minItems: 1,
      items: {
        type: "object",
        additionalProperties: false,
        required: ["name", "kind", "interfaces"],
        properties: {
          name: NAME,
          kind: { enum: ["host", "router", "switch"] },
          implementation: { enum: ["netlab", "xen", "linux"] },
          interfaces: {
            type: "array",
            items: {
              type: "object",
              additionalProperties: false,
              required: ["name"],
              properties: {
                name: NAME,
                address: { type: "string", format: "ipv4-cidr-or-dhcp" },
                ipv6: { type: "array", minItems: 1, items: { type: "string", format: "ipv6-cidr-or-slaac" } },
                dhcpServer: {
                  type: "object",
                  additionalProperties: false,
                  required: ["pool"],
                  properties: {
                    pool: { type: "string", format: "ipv4-range" },
                    gateway: { type: "string", format: "ipv4" },
                    leaseSeconds: int({ minimum: 60, maximum: 86_400_000 }),
                  },
                },
              },
            },
          },
          routes: {
            type: "array",
            items: {
              type: "object",
              additionalProperties: false,
              required: ["destination", "via"],
              properties: { destination: { type: "string", format: "cidr-or-default" }, via: { type: "string", format: "ipv4-or-ipv6" } },
            },
          },
        },
      },
    },
    links: {
      type: "array",
      items: {
        type: "object",
        additionalProperties: false,
        required: ["endpoints"],
        properties: {
          name: NAME,
          endpoints: { type: "array", minItems: 2, maxItems: 2, items: { type: "string", pattern: "^[^:]+:[^:]+$" } },
          rateBitsPerSecond: num({ minimum: 0 }),
          delayMs: num({ minimum: 0 }),
          jitterMs: num({ minimum: 0 }),
          loss: probability,
          reorder: probability,
          mtu: int({ minimum: 68, maximum: 65535 }),
          queue: {
            type: "object",
            required: ["kind"],
            properties: {
              kind: { enum: ["drop-tail", "red", "codel", "fq-codel"] },
              limitPackets: int({ minimum: 1 }),
              limitBytes: int({ minimum: 1 }),
              ecnMarkPackets: int({ minimum: 0 }),
              minThreshold: num({ minimum: 0 }),
              maxThreshold: num({ exclusiveMinimum: 0 }),
              unit: { enum: ["packets", "bytes"] },
              limit: num({ exclusiveMinimum: 0 }),
              maxProbability: probability,
              weight: num({ exclusiveMinimum: 0, maximum: 1 }),
              gentle: { type: "boolean" },
              ecn: { type: "boolean" },
              targetMs: num({ exclusiveMinimum: 0 }),
              intervalMs: num({ exclusiveMinimum: 0 }),
              flows: int({ minimum: 1, maximum: 65536 }),
              quantum: int({ minimum: 64 }),
            },
            additionalProperties: false,
          },
        },
      },
    },
    flows: {
      type: "array",
      items: {
        type: "object",
        additionalProperties: false,
        required: ["kind", "from", "to"],
        properties: {
          name: NAME,
          kind: { enum: ["bulk-tcp", "traceroute", "ping", "udp-cbr", "http", "iperf3"] },
          family: { enum: ["ipv4", "ipv6"] },
          from: NAME,
          to: NAME,
          port: int({ minimum: 1, maximum: 65535 }),
          startMs: num({ minimum: 0 }),
          durationMs: num({ exclusiveMinimum: 0 }),
          congestionControl: { enum: ["cubic", "newreno", "bbr"] },
          maxHops: int({ minimum: 1, maximum: 255 }),
          intervalMs: num({ minimum: 0, maximum: 3_600_000 }),
          payloadBytes: int({ minimum: 0, maximum: 65507 }),
          rateBitsPerSecond: num({ exclusiveMinimum: 0, maximum: 100e9 }),
          responseBytes: int({ minimum: 0, maximum: 2 ** 30 }),
          requests: int({ minimum: 1, maximum: 100_000 }),
        },
      },
    },
  },
} as const;

/** One problem with a topology file: where, and what. */
export interface TopologyError {
  readonly path: string;
  readonly message: string;
}

type Schema = Record<string, unknown>;

const FORMATS: Record<string, (s: string) => boolean> = {
  ipv4: (s) => parseIpv4(s).ok,
  "ipv4-cidr": (s) => parseCidr(s).ok,
  "ipv4-cidr-or-default": (s) => s === "default" || parseCidr(s).ok,
  "ipv4-cidr-or-dhcp": (s) => s === "dhcp" || parseCidr(s).ok,
  "ipv4-range": (s) => parseIpv4Range(s) !== undefined,
  "ipv4-or-ipv6": (s) => parseIpv4(s).ok || parseIpv6Address(s).ok,
  "cidr-or-default": (s) => s === "default" || parseCidr(s).ok || parseIpv6Cidr(s) !== undefined,
  "ipv6-cidr-or-slaac": (s) => s === "slaac" || (parseIpv6Cidr(s) !== undefined && !s.startsWith("::/")),
};

/** "2001:db8::1/64" (the length required), or undefined. */
function parseIpv6Cidr(s: string): { address: Ipv6Address; prefixLength: number } | undefined {
  const r = parseIpv6CidrText(s, { requireLength: true });
  return r.ok ? r.value : undefined;
}

/** The static IPv6 addresses of an interface (no "slaac", no malformed ones). */
export function staticIpv6(f: TopologyInterface): { address: Ipv6Address; prefixLength: number }[] {
  return (f.ipv6 ?? []).flatMap((x) => {
    const c = x === "slaac" ? undefined : parseIpv6Cidr(x);
    return c === undefined ? [] : [c];
  });
}

/** "10.1.1.100-10.1.1.200" as its first and last address (undefined if malformed or backwards). */
export function parseIpv4Range(s: string): { first: Ipv4Address; last: Ipv4Address } | undefined {
  const [a, b, ...rest] = s.split("-");
  if (a === undefined || b === undefined || rest.length > 0) return undefined;
  const first = parseIpv4(a.trim());
  const last = parseIpv4(b.trim());
  return first.ok && last.ok && first.value <= last.value ? { first: first.value, last: last.value } : undefined;
}

/** The static address of an interface, parsed (undefined for "dhcp", a switch port or a bad one). */
export function staticCidr(f: TopologyInterface): { address: Ipv4Address; prefixLength: number } | undefined {
  if (f.address === undefined || f.address === "dhcp") return undefined;
  const c = parseCidr(f.address);
  return c.ok ? c.value : undefined;
}

/** Checks a value against the subset of JSON Schema TOPOLOGY_SCHEMA uses. */
function checkSchema(value: unknown, schema: Schema, path: string, errors: TopologyError[]): void {
  const at = path === "" ? "/" : path;
  if (schema.enum !== undefined) {
    const allowed = schema.enum as readonly unknown[];
    if (!allowed.includes(value)) errors.push({ path: at, message: `must be one of ${allowed.map((v) => JSON.stringify(v)).join(", ")}` });
    return;
  }
  switch (schema.type) {
    case "object": {
      if (typeof value !== "object" || value === null || Array.isArray(value)) return void errors.push({ path: at, message: "must be an object" });
      const o = value as Record<string, unknown>;
      const props = (schema.properties ?? {}) as Record<string, Schema>;
      for (const key of (schema.required ?? []) as string[]) if (!(key in o)) errors.push({ path: `${path}/${key}`, message: "is required" });
      for (const [key, v] of Object.entries(o)) {
        const sub = props[key];
        if (sub === undefined) {
          if (schema.additionalProperties === false) errors.push({ path: `${path}/${key}`, message: "is not a known field" });
          continue;
        }
        checkSchema(v, sub, `${path}/${key}`, errors);
      }
      return;
    }
    case "array": {
      if (!Array.isArray(value)) return void errors.push({ path: at, message: "must be an array" });
      if (typeof schema.minItems === "number" && value.length < schema.minItems)
        errors.push({ path: at, message: `must have at least ${schema.minItems} items` });
      if (typeof schema.maxItems === "number" && value.length > schema.maxItems)
        errors.push({ path: at, message: `must have at most ${schema.maxItems} items` });
      value.forEach((v, i) => checkSchema(v, schema.items as Schema, `${path}/${i}`, errors));
      return;
    }
    case "string": {
      if (typeof value !== "string") return void errors.push({ path: at, message: "must be a string" });
      if (typeof schema.pattern === "string" && !new RegExp(schema.pattern).test(value)) errors.push({ path: at, message: `must match ${schema.pattern}` });
      const format = typeof schema.format === "string" ? FORMATS[schema.format] : undefined;
      if (format !== undefined && !format(value)) errors.push({ path: at, message: `must be ${String(schema.format)}` });
      return;
    }
    case "boolean":
      if (typeof value !== "boolean") errors.push({ path: at, message: "must be a boolean" });
      return;
    case "number":
    case "integer": {
      if (typeof value !== "number" || !Number.isFinite(value)) return void errors.push({ path: at, message: `must be a ${String(schema.type)}` });
      if (schema.type === "integer" && !Number.isInteger(value)) errors.push({ path: at, message: "must be an integer" });
      if (typeof schema.minimum === "number" && value < schema.minimum) errors.push({ path: at, message: `must be >= ${schema.minimum}` });
      if (typeof schema.maximum === "number" && value > schema.maximum) errors.push({ path: at, message: `must be <= ${schema.maximum}` });
      if (typeof schema.exclusiveMinimum === "number" && value <= schema.exclusiveMinimum)
        errors.push({ path: at, message: `must be > ${schema.exclusiveMinimum}` });
      if (typeof schema.exclusiveMaximum === "number" && value >= schema.exclusiveMaximum)
        errors.push({ path: at, message: `must be < ${schema.exclusiveMaximum}` });
      return;
    }
  }
}

/** The Ethernet segment of each "node:interface" (joined by links and switches): a name per segment. */
function segments(t: Topology): (endpoint: string) => string {
  const parent = new Map<string, string>();
  const root = (x: string): string => {
    let r = x;
    while (parent.has(r)) r = parent.get(r)!;
    return r;
  };
  const join = (a: string, b: string): void => {
    const ra = root(a),
      rb = root(b);
    if (ra !== rb) parent.set(ra, rb);
  };
  for (const l of t.links) join(l.endpoints[0], l.endpoints[1]);
  for (const n of t.nodes) if (n.kind === "switch") for (const f of n.interfaces.slice(1)) join(`${n.name}:${n.interfaces[0]!.name}`, `${n.name}:${f.name}`);
  return root;
}

/** A dhcp host of a valid topology: its server ("node:interface"), and the address planned for tracing paths before the run (the pool's k-th for its k-th client). */
export interface DhcpPlan {
  readonly server: string;
  readonly plannedCidr: string;
  readonly gateway?: string;
}

/** Where each dhcp host of a validated topology leases from. */
export function planDhcp(t: Topology): Map<string, DhcpPlan> {
  const segmentOf = segments(t);
  const servers = new Map<string, { endpoint: string; first: Ipv4Address; prefixLength: number; gateway?: string; next: number }>();
  for (const n of t.nodes) {
    for (const f of n.interfaces) {
      const own = staticCidr(f);
      const pool = f.dhcpServer === undefined ? undefined : parseIpv4Range(f.dhcpServer.pool);
      if (own === undefined || pool === undefined) continue;
      servers.set(segmentOf(`${n.name}:${f.name}`), {
        endpoint: `${n.name}:${f.name}`,
        first: pool.first,
        prefixLength: own.prefixLength,
        ...(f.dhcpServer?.gateway === undefined ? {} : { gateway: f.dhcpServer.gateway }),
        next: 0,
      });
    }
  }
  const plans = new Map<string, DhcpPlan>();
  for (const n of t.nodes) {
    const f = n.interfaces.find((x) => x.address === "dhcp");
    const s = f === undefined ? undefined : servers.get(segmentOf(`${n.name}:${f.name}`));
    if (s === undefined) continue;
    plans.set(n.name, {
      server: s.endpoint,
      plannedCidr: `${formatIpv4((s.first + s.next++) >>> 0)}/${s.prefixLength}`,
      ...(s.gateway === undefined ? {} : { gateway: s.gateway }),
    });
  }
  return plans;
}

/** Validates a parsed topology file: the schema first, then the graph. */
export function validateTopology(value: unknown): { ok: true; topology: Topology } | { ok: false; errors: TopologyError[] } {
  const errors: TopologyError[] = [];
  checkSchema(value, TOPOLOGY_SCHEMA as unknown as Schema, "", errors);
  if (errors.length > 0) return { ok: false, errors };
  const t = value as Topology;
  const nodes = new Map<string, TopologyNode>();
  const owners = new Map<Ipv4Address, string>();
  const owners6 = new Map<string, string>();
  t.nodes.forEach((n, i) => {
    if (nodes.has(n.name)) errors.push({ path: `/nodes/${i}/name`, message: `duplicate node name ${n.name}` });
    nodes.set(n.name, n);
    const impl = n.implementation ?? "netlab";
    if (impl === "xen" && n.kind !== "host")
      errors.push({ path: `/nodes/${i}/implementation`, message: `a xen ${n.kind} is not supported by this runner (xen hosts only: a domU behind netfront)` });
    if (impl === "linux" && n.kind !== "host")
      errors.push({ path: `/nodes/${i}/implementation`, message: `a linux ${n.kind} is not supported by this runner yet (linux hosts only)` });
    if (n.kind === "switch") {
      if (n.interfaces.length < 2) errors.push({ path: `/nodes/${i}/interfaces`, message: "a switch needs at least two ports" });
      n.interfaces.forEach((f, k) => {
        if (f.address !== undefined) errors.push({ path: `/nodes/${i}/interfaces/${k}/address`, message: "a switch port has no address" });
      });
      if (n.routes !== undefined) errors.push({ path: `/nodes/${i}/routes`, message: "a switch has no routes" });
    } else {
      n.interfaces.forEach((f, k) => {
        if (f.address === undefined) errors.push({ path: `/nodes/${i}/interfaces/${k}/address`, message: `is required on a ${n.kind}` });
      });
    }
    if (n.kind === "host" && n.interfaces.length !== 1)
      errors.push({ path: `/nodes/${i}/interfaces`, message: "a host has exactly one interface in this runner" });
    if (n.kind === "router" && n.interfaces.length < 1) errors.push({ path: `/nodes/${i}/interfaces`, message: "a router needs at least one interface" });
    const names = new Set<string>();
    n.interfaces.forEach((f, k) => {
      if (names.has(f.name)) errors.push({ path: `/nodes/${i}/interfaces/${k}/name`, message: `duplicate interface ${f.name}` });
      names.add(f.name);
      if (f.address === undefined || f.address === "dhcp") return;
      const cidr = parseCidr(f.address);
      if (!cidr.ok) return;
      const other = owners.get(cidr.value.address);
      if (other !== undefined)
        errors.push({ path: `/nodes/${i}/interfaces/${k}/address`, message: `address ${formatIpv4(cidr.value.address)} is also ${other}'s` });
      owners.set(cidr.value.address, `${n.name}:${f.name}`);
    });
    n.interfaces.forEach((f, k) => {
      if (f.ipv6 === undefined) return;
      const at = `/nodes/${i}/interfaces/${k}/ipv6`;
      if (n.kind === "switch") return void errors.push({ path: at, message: "a switch port has no address" });
      if ((n.implementation ?? "netlab") !== "netlab")
        return void errors.push({ path: at, message: `IPv6 is for netlab hosts and routers in this runner (${n.name} is a ${n.implementation} ${n.kind})` });
      f.ipv6.forEach((x, m) => {
        if (x === "slaac") {
          if (n.kind !== "host") errors.push({ path: `${at}/${m}`, message: "a router's IPv6 addresses are static (it sends the RAs)" });
          return;
        }
        const c = parseIpv6Cidr(x);
        if (c === undefined) return;
        if (isIpv6Multicast(c.address) || isIpv6LinkLocal(c.address))
          return void errors.push({ path: `${at}/${m}`, message: "must be a global unicast address (the link-local one is always formed)" });
        const key = ipv6Key(c.address);
        const other = owners6.get(key);
        if (other !== undefined) errors.push({ path: `${at}/${m}`, message: `address ${formatIpv6(c.address)} is also ${other}'s` });
        owners6.set(key, `${n.name}:${f.name}`);
      });
    });
    const v4Routes = (n.routes ?? []).filter((r) => !r.destination.includes(":")).length;
    const v6Routes = (n.routes ?? []).length - v4Routes;
    if (n.kind === "host" && (v4Routes > 1 || v6Routes > 1))
      errors.push({ path: `/nodes/${i}/routes`, message: "a host takes one (default) route per family in this runner" });
    (n.routes ?? []).forEach((r, k) => {
      if (r.destination.includes(":")) {
        if (n.kind === "host" && r.destination !== "::/0")
          errors.push({ path: `/nodes/${i}/routes/${k}/destination`, message: "a host's IPv6 route must be the default route (::/0) in this runner" });
        const via6 = parseIpv6Address(r.via);
        if (!via6.ok) return void errors.push({ path: `/nodes/${i}/routes/${k}/via`, message: "an IPv6 route needs an IPv6 gateway" });
        const onLink6 = n.interfaces.some((f) =>
          staticIpv6(f).some(
            (c) => c.prefixLength < 128 && ipv6PrefixMatch(c.address, via6.value, c.prefixLength) && ipv6Key(c.address) !== ipv6Key(via6.value),
          ),
        );
        if (!onLink6)
          errors.push({ path: `/nodes/${i}/routes/${k}/via`, message: `gateway ${r.via} is in none of ${n.name}'s IPv6 prefixes (a route to nowhere)` });
        return;
      }
      if (n.kind === "host" && r.destination !== "default")
        errors.push({ path: `/nodes/${i}/routes/${k}/destination`, message: "a host's route must be the default route in this runner" });
      const via = parseIpv4(r.via);
      if (!via.ok) return void errors.push({ path: `/nodes/${i}/routes/${k}/via`, message: "an IPv4 route needs an IPv4 gateway" });
      if (n.interfaces.some((f) => f.address === "dhcp")) return;
      const onLink = n.interfaces.some((f) => {
        if (f.address === undefined || f.address === "dhcp") return false;
        const c = parseCidr(f.address);
        if (!c.ok) return false;
        const mask = prefixToMask(c.value.prefixLength);
        return ((c.value.address ^ via.value) & mask) === 0 && c.value.address !== via.value;
      });
      if (!onLink) errors.push({ path: `/nodes/${i}/routes/${k}/via`, message: `gateway ${r.via} is on none of ${n.name}'s subnets (a route to nowhere)` });
    });
  });
  const used = new Map<string, string>();
  t.links.forEach((l, i) => {
    l.endpoints.forEach((e, k) => {
      const [node, iface] = e.split(":") as [string, string];
      const n = nodes.get(node);
      if (n === undefined) return void errors.push({ path: `/links/${i}/endpoints/${k}`, message: `unknown node ${node}` });
      if (!n.interfaces.some((f) => f.name === iface))
        return void errors.push({ path: `/links/${i}/endpoints/${k}`, message: `${node} has no interface ${iface}` });
      const prev = used.get(e);
      if (prev !== undefined) errors.push({ path: `/links/${i}/endpoints/${k}`, message: `${e} is already on ${prev}` });
      used.set(e, l.name ?? `link ${i}`);
    });
    l.endpoints.forEach((e, k) => {
      if (nodes.get(e.split(":")[0]!)?.implementation === "xen" && (l.mtu ?? 1500) < 1500) {
        errors.push({ path: `/links/${i}/mtu`, message: `${e} is a xen host's netfront, whose MTU is 1500 (endpoint ${k})` });
      }
    });
    if (l.endpoints[0] === l.endpoints[1]) errors.push({ path: `/links/${i}/endpoints`, message: "a link joins two different interfaces" });
    if (l.queue !== undefined && !(l.rateBitsPerSecond! > 0)) errors.push({ path: `/links/${i}/queue`, message: "a queue needs rateBitsPerSecond > 0" });
    if (l.queue?.kind === "red" && !(l.queue.minThreshold !== undefined && l.queue.maxThreshold !== undefined && l.queue.minThreshold < l.queue.maxThreshold)) {
      errors.push({ path: `/links/${i}/queue`, message: "red needs minThreshold < maxThreshold" });
    }
  });
  // Switches joined into a cycle would pass a flooded frame round for ever: refused (union-find over switch-to-switch links).
  const parent = new Map<string, string>();
  const root = (x: string): string => {
    let r = x;
    while (parent.has(r)) r = parent.get(r)!;
    return r;
  };
  t.links.forEach((l, i) => {
    const [a, b] = l.endpoints.map((e) => e.split(":")[0]!) as [string, string];
    if (nodes.get(a)?.kind !== "switch" || nodes.get(b)?.kind !== "switch") return;
    const ra = root(a),
      rb = root(b);
    if (ra === rb)
      errors.push({
        path: `/links/${i}/endpoints`,
        message: `closes a loop of switches (${a}, ${b}): frames would circle for ever (no spanning tree, no TTL on Ethernet)`,
      });
    else parent.set(ra, rb);
  });
  // DHCP: a "dhcp" interface leases from the one server on its segment (the links and switches it reaches without a router).
  const segmentOf = segments(t);
  const servers = new Map<string, { endpoint: string; pool: { first: Ipv4Address; last: Ipv4Address }; clients: number; path: string }>();
  t.nodes.forEach((n, i) =>
    n.interfaces.forEach((f, k) => {
      if (f.dhcpServer === undefined) return;
      const at = `/nodes/${i}/interfaces/${k}/dhcpServer`;
      if (n.kind === "switch" || (n.implementation ?? "netlab") !== "netlab") {
        return void errors.push({
          path: at,
          message: `a DHCP server runs on a netlab host or router in this runner (${n.name} is a ${n.implementation ?? "netlab"} ${n.kind})`,
        });
      }
      const own = staticCidr(f);
      if (own === undefined) return void errors.push({ path: `/nodes/${i}/interfaces/${k}/address`, message: "a DHCP server needs a static address" });
      const pool = parseIpv4Range(f.dhcpServer.pool)!;
      const mask = prefixToMask(own.prefixLength);
      const inSubnet = (a: Ipv4Address): boolean => ((a ^ own.address) & mask) === 0;
      if (!inSubnet(pool.first) || !inSubnet(pool.last))
        errors.push({ path: `${at}/pool`, message: `${f.dhcpServer.pool} is not inside ${n.name}:${f.name}'s subnet ${f.address}` });
      for (const [address, owner] of owners) {
        if (address >= pool.first && address <= pool.last)
          errors.push({ path: `${at}/pool`, message: `${f.dhcpServer.pool} holds ${formatIpv4(address)}, ${owner}'s static address` });
      }
      const gateway = f.dhcpServer.gateway === undefined ? undefined : parseIpv4(f.dhcpServer.gateway);
      if (gateway?.ok === true && !inSubnet(gateway.value)) errors.push({ path: `${at}/gateway`, message: `${f.dhcpServer.gateway} is not on ${f.address}` });
      const seg = segmentOf(`${n.name}:${f.name}`);
      const other = servers.get(seg);
      if (other !== undefined) return void errors.push({ path: at, message: `${other.endpoint} already serves DHCP on this segment` });
      servers.set(seg, { endpoint: `${n.name}:${f.name}`, pool, clients: 0, path: at });
    }),
  );
  const dhcpHosts = new Set<string>();
  t.nodes.forEach((n, i) =>
    n.interfaces.forEach((f, k) => {
      if (f.address !== "dhcp") return;
      const at = `/nodes/${i}/interfaces/${k}/address`;
      dhcpHosts.add(n.name);
      if (n.kind !== "host" || (n.implementation ?? "netlab") !== "netlab")
        return void errors.push({ path: at, message: `"dhcp" is for netlab hosts in this runner (${n.name} is a ${n.implementation ?? "netlab"} ${n.kind})` });
      if (n.routes !== undefined) errors.push({ path: `/nodes/${i}/routes`, message: "a dhcp host takes its gateway from the lease (the server's gateway)" });
      const server = servers.get(segmentOf(`${n.name}:${f.name}`));
      if (server === undefined)
        return void errors.push({ path: at, message: `no DHCP server on ${n.name}:${f.name}'s segment (give an interface there a dhcpServer)` });
      server.clients++;
    }),
  );
  for (const s of servers.values()) {
    if (s.pool.last - s.pool.first + 1 < s.clients)
      errors.push({ path: `${s.path}/pool`, message: `${s.pool.last - s.pool.first + 1} addresses for ${s.clients} dhcp hosts` });
  }
  (t.flows ?? []).forEach((f, i) => {
    if (dhcpHosts.has(f.to))
      errors.push({
        path: `/flows/${i}/to`,
        message: `${f.to} leases its address by DHCP during the run: it sends flows (from the lease on), it does not receive them in this runner`,
      });
  });
  const iperf3Servers = new Map<string, number>();
  (t.flows ?? []).forEach((f, i) => {
    if (f.kind === "iperf3") {
      // One iperf3 -s per flow: two on one host and port could not both listen.
      const key = `${f.to}:${f.port ?? 5201 + i}`;
      const other = iperf3Servers.get(key);
      if (other !== undefined) errors.push({ path: `/flows/${i}/port`, message: `iperf3 flow ${other} already listens on ${key}` });
      iperf3Servers.set(key, i);
    }
    for (const end of ["from", "to"] as const) {
      const n = nodes.get(f[end]);
      if (n === undefined) errors.push({ path: `/flows/${i}/${end}`, message: `unknown node ${f[end]}` });
      else if (n.kind !== "host") errors.push({ path: `/flows/${i}/${end}`, message: `${f[end]} is a ${n.kind}; flows run between hosts` });
    }
    if (f.from === f.to) errors.push({ path: `/flows/${i}/to`, message: "a flow needs two different hosts" });
    const linuxEnd = (["from", "to"] as const).find((end) => nodes.get(f[end])?.implementation === "linux");
    const bothLinux = nodes.get(f.from)?.implementation === "linux" && nodes.get(f.to)?.implementation === "linux";
    const linuxOk = !bothLinux && (f.kind === "traceroute" || (f.kind === "bulk-tcp" && linuxEnd === "from"));
    if (f.kind === "iperf3") {
      for (const end of ["from", "to"] as const) {
        const n = nodes.get(f[end]);
        if (n !== undefined && n.kind === "host" && n.implementation !== "linux")
          errors.push({ path: `/flows/${i}/${end}`, message: `an iperf3 flow runs between two linux hosts; ${f[end]} is ${n.implementation ?? "netlab"}` });
      }
      if (f.durationMs === undefined) errors.push({ path: `/flows/${i}/durationMs`, message: "is required for an iperf3 flow" });
      else if (f.durationMs % 1000 !== 0) errors.push({ path: `/flows/${i}/durationMs`, message: "must be whole seconds for an iperf3 flow (iperf3 -t)" });
    } else if (linuxEnd !== undefined && !linuxOk) {
      errors.push({
        path: `/flows/${i}/${linuxEnd}`,
        message:
          "a linux host takes part, with a netlab host at the other end, only as the sender of a bulk-tcp flow or either end of a traceroute in this runner (between two linux hosts: iperf3)",
      });
    }
    if (f.family === "ipv6") {
      if (f.kind !== "bulk-tcp" && f.kind !== "ping" && f.kind !== "traceroute")
        errors.push({ path: `/flows/${i}/family`, message: `an IPv6 flow is bulk-tcp, ping or traceroute in this runner (not ${f.kind})` });
      for (const end of ["from", "to"] as const) {
        const n = nodes.get(f[end]);
        if (n !== undefined && n.kind === "host" && n.interfaces.every((x) => x.ipv6 === undefined))
          errors.push({ path: `/flows/${i}/${end}`, message: `${f[end]} has no IPv6 address (give its interface "ipv6")` });
      }
      const to = nodes.get(f.to);
      if (to !== undefined && to.kind === "host" && to.interfaces.some((x) => x.ipv6 !== undefined) && to.interfaces.every((x) => staticIpv6(x).length === 0))
        errors.push({
          path: `/flows/${i}/to`,
          message: `${f.to} has only "slaac": an IPv6 flow's receiver needs a static IPv6 address to be named before the run`,
        });
    }
    if (f.kind === "bulk-tcp" && f.durationMs === undefined) errors.push({ path: `/flows/${i}/durationMs`, message: "is required for a bulk-tcp flow" });
    if (f.kind === "udp-cbr" && f.rateBitsPerSecond === undefined)
      errors.push({ path: `/flows/${i}/rateBitsPerSecond`, message: "is required for a udp-cbr flow" });
    if (f.kind === "udp-cbr" && f.payloadBytes !== undefined && f.payloadBytes < 12)
      errors.push({ path: `/flows/${i}/payloadBytes`, message: "must be >= 12 for a udp-cbr flow (sequence number and send time)" });
    if (f.kind === "ping" && f.intervalMs !== undefined && f.intervalMs < 1)
      errors.push({ path: `/flows/${i}/intervalMs`, message: "must be >= 1 for a ping flow" });
    const allowed: Record<TopologyFlow["kind"], readonly string[]> = {
      "bulk-tcp": ["port", "congestionControl"],
      traceroute: ["maxHops"],
      ping: ["intervalMs", "payloadBytes"],
      "udp-cbr": ["port", "payloadBytes", "rateBitsPerSecond"],
      http: ["port", "intervalMs", "responseBytes", "requests"],
      iperf3: ["port", "congestionControl"],
    };
    for (const key of ["port", "congestionControl", "maxHops", "intervalMs", "payloadBytes", "rateBitsPerSecond", "responseBytes", "requests"] as const) {
      if (f[key] !== undefined && !allowed[f.kind].includes(key)) errors.push({ path: `/flows/${i}/${key}`, message: `does not apply to a ${f.kind} flow` });
    }
  });
  return errors.length > 0 ? { ok: false, errors } : { ok: true, topology: t };
}

/** The errors as lines ("/links/2/rateBitsPerSecond: must be >= 0"). */
export function formatTopologyErrors(errors: readonly TopologyError[]): string {
  return errors.map((e) => `${e.path}: ${e.message}`).join("\n");
}
