// The routing tables of a stack with several interfaces, one per address family: connected,
// static and default routes, looked up by longest-prefix match (RFC 1812 §5.2.4.3, RFC 8200's
// routers the same way), ties broken by the lower metric, then by the route added first. One map
// per prefix length, probed from the longest down: at most 33 (IPv4) or 129 (IPv6) hash lookups,
// whatever the table's size, and only for the lengths the table holds. The table is written once
// over an AddressFamily (how to mask an address, key it and print it).
// createRoutingTable() -> RoutingTable (IPv4); createRoutingTable6() -> RoutingTable6 (IPv6).
import { type Ipv4Address, type Ipv4Cidr, formatIpv4, prefixToMask } from "../wire/address.ts";
import { type Ipv6Address, formatIpv6, ipv6Key, maskIpv6 } from "../wire/ipv6-address.ts";
import { NetlabError } from "../error.ts";

/** Where a route came from. */
export type RouteKind = "connected" | "static" | "default";

/** One route: datagrams to prefix/prefixLength leave by `interfaceIndex`, to `nextHop` (or directly). */
export interface RouteOf<A> {
  readonly prefix: A;
  readonly prefixLength: number;
  readonly interfaceIndex: number;
  /** The gateway on the outgoing interface's link; undefined for a connected route. */
  readonly nextHop?: A;
  readonly kind: RouteKind;
  /** Lower wins among routes of the same prefix (default 0). */
  readonly metric: number;
}

/** What add() takes: a route without its derived fields. */
export interface RouteSpecOf<A> {
  readonly destination: { readonly address: A; readonly prefixLength: number };
  readonly interfaceIndex: number;
  readonly nextHop?: A;
  readonly kind?: RouteKind;
  readonly metric?: number;
}

/** The table. */
export interface RoutingTableOf<A> {
  /** Adds a route; the destination is masked to its prefix. */
  add(spec: RouteSpecOf<A>): RouteOf<A>;
  /** Removes every route to that prefix (optionally only those by one interface); returns how many. */
  remove(destination: { readonly address: A; readonly prefixLength: number }, interfaceIndex?: number): number;
  /** The best route to dst, or undefined. */
  lookup(dst: A): RouteOf<A> | undefined;
  /** All routes, longest prefix first. */
  routes(): RouteOf<A>[];
  /** One line per route, like `ip route` / `ip -6 route`. */
  format(interfaceName?: (index: number) => string): string[];
}

/** IPv4 (the names the rest of the tree uses). */
export type Route = RouteOf<Ipv4Address>;
export type RouteSpec = RouteSpecOf<Ipv4Address> & { readonly destination: Ipv4Cidr };
export type RoutingTable = RoutingTableOf<Ipv4Address>;
/** IPv6. */
export type Route6 = RouteOf<Ipv6Address>;
export type RoutingTable6 = RoutingTableOf<Ipv6Address>;

/** What the table needs to know of an address family. */
interface AddressFamily<A, K> {
  readonly bits: number;
  /** The address with the bits past `len` cleared (a new value; the argument is not changed). */
  mask(a: A, len: number): A;
  /** A Map key of a masked address. */
  key(a: A): K;
  /** The key of `a` masked to `len`, without building the masked address where the family can. */
  maskedKey(a: A, len: number): K;
  format(a: A): string;
}

const IPV4: AddressFamily<Ipv4Address, number> = {
  bits: 32,
  mask: (a, len) => (a & prefixToMask(len)) >>> 0,
  key: (a) => a,
  maskedKey: (a, len) => (len === 0 ? 0 : (a & prefixToMask(len)) >>> 0),
  format: formatIpv4,
};

const IPV6: AddressFamily<Ipv6Address, string> = {
  bits: 128,
  mask: maskIpv6,
  key: ipv6Key,
  maskedKey: (a, len) => ipv6Key(maskIpv6(a, len)),
  format: formatIpv6,
};

function createTable<A, K>(family: AddressFamily<A, K>): RoutingTableOf<A> {
  // byLength[len]: masked prefix key -> routes sorted by metric (stable).
  const byLength: Map<K, RouteOf<A>[]>[] = Array.from({ length: family.bits + 1 }, () => new Map());
  const lengths = new Set<number>();
  let sortedLengths: number[] = [];
  const refreshLengths = (): void => {
    sortedLengths = [...lengths].sort((a, b) => b - a);
  };

  const table: RoutingTableOf<A> = {
    add(spec) {
      const len = spec.destination.prefixLength;
      if (!Number.isInteger(len) || len < 0 || len > family.bits) throw new NetlabError("ERR_NETLAB_CONFIG", `bad prefix length ${len}`);
      const prefix = family.mask(spec.destination.address, len);
      const kind: RouteKind = spec.kind ?? (len === 0 ? "default" : spec.nextHop === undefined ? "connected" : "static");
      const route: RouteOf<A> =
        spec.nextHop === undefined
          ? { prefix, prefixLength: len, interfaceIndex: spec.interfaceIndex, kind, metric: spec.metric ?? 0 }
          : { prefix, prefixLength: len, interfaceIndex: spec.interfaceIndex, nextHop: spec.nextHop, kind, metric: spec.metric ?? 0 };
      const map = byLength[len]!;
      const k = family.key(prefix);
      const list = map.get(k) ?? [];
      let i = list.length;
      while (i > 0 && list[i - 1]!.metric > route.metric) i--;
      list.splice(i, 0, route);
      map.set(k, list);
      if (!lengths.has(len)) {
        lengths.add(len);
        refreshLengths();
      }
      return route;
    },
    remove(destination, interfaceIndex) {
      const len = destination.prefixLength;
      const map = byLength[len];
      if (map === undefined) return 0;
      const k = family.maskedKey(destination.address, len);
      const list = map.get(k);
      if (list === undefined) return 0;
      const kept = interfaceIndex === undefined ? [] : list.filter((r) => r.interfaceIndex !== interfaceIndex);
      const removed = list.length - kept.length;
      if (kept.length === 0) map.delete(k);
      else map.set(k, kept);
      if (map.size === 0 && lengths.delete(len)) refreshLengths();
      return removed;
    },
    lookup(dst) {
      for (const len of sortedLengths) {
        const list = byLength[len]!.get(family.maskedKey(dst, len));
        if (list !== undefined) return list[0];
      }
      return undefined;
    },
    routes() {
      const out: RouteOf<A>[] = [];
      for (const len of sortedLengths) for (const list of byLength[len]!.values()) out.push(...list);
      return out;
    },
    format(interfaceName = (i) => `if${i}`) {
      return table.routes().map((r) => {
        const dst = r.prefixLength === 0 ? "default" : `${family.format(r.prefix)}/${r.prefixLength}`;
        const via = r.nextHop === undefined ? "" : ` via ${family.format(r.nextHop)}`;
        return `${dst}${via} dev ${interfaceName(r.interfaceIndex)} ${r.kind}${r.metric === 0 ? "" : ` metric ${r.metric}`}`;
      });
    },
  };
  return table;
}

/** Creates an empty IPv4 routing table. */
export function createRoutingTable(): RoutingTable {
  return createTable(IPV4);
}

/** Creates an empty IPv6 routing table. */
export function createRoutingTable6(): RoutingTable6 {
  return createTable(IPV6);
}
