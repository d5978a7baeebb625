// The IPv4 routing table of a stack with several interfaces: connected, static and default
// routes, looked up by longest-prefix match (RFC 1812 §5.2.4.3), ties broken by the lower
// metric, then by the route added first. One map per prefix length, probed from /32 down:
// at most 33 hash lookups, whatever the table's size.
// createRoutingTable() -> RoutingTable.
import { type Ipv4Address, type Ipv4Cidr, formatCidr, formatIpv4, prefixToMask } from "../wire/address.ts";
import { NetlabError } from "../error.ts";

/** Where a route came from. */
export type RouteKind = "connected" | "static" | "default";

/** One route: datagrams to prefix/prefixLength leave by `interfaceIndex`, to `nextHop` (or directly). */
export interface Route {
  readonly prefix: Ipv4Address;
  readonly prefixLength: number;
  readonly interfaceIndex: number;
  /** The gateway on the outgoing interface's subnet; undefined for a connected route. */
  readonly nextHop?: Ipv4Address;
  readonly kind: RouteKind;
  /** Lower wins among routes of the same prefix (default 0). */
  readonly metric: number;
}

/** What add() takes: a route without its derived fields. */
export interface RouteSpec {
  readonly destination: Ipv4Cidr;
  readonly interfaceIndex: number;
  readonly nextHop?: Ipv4Address;
  readonly kind?: RouteKind;
  readonly metric?: number;
}

/** The table. */
export interface RoutingTable {
  /** Adds a route; the destination is masked to its prefix. */
  add(spec: RouteSpec): Route;
  /** Removes every route to that prefix (optionally only those by one interface); returns how many. */
  remove(destination: Ipv4Cidr, interfaceIndex?: number): number;
  /** The best route to dst, or undefined. */
  lookup(dst: Ipv4Address): Route | undefined;
  /** All routes, longest prefix first. */
  routes(): Route[];
  /** One line per route, like `ip route`. */
  format(interfaceName?: (index: number) => string): string[];
}

/** Creates an empty routing table. */
export function createRoutingTable(): RoutingTable {
  // byLength[len]: masked prefix -> routes sorted by metric (stable).
  const byLength: Map<Ipv4Address, Route[]>[] = Array.from({ length: 33 }, () => new Map());
  const lengths = new Set<number>();
  let sortedLengths: number[] = [];
  const refreshLengths = (): void => {
    sortedLengths = [...lengths].sort((a, b) => b - a);
  };

  return {
    add(spec) {
      const len = spec.destination.prefixLength;
      if (!Number.isInteger(len) || len < 0 || len > 32) throw new NetlabError("ERR_NETLAB_CONFIG", `bad prefix length ${len}`);
      const prefix = (spec.destination.address & prefixToMask(len)) >>> 0;
      const kind: RouteKind = spec.kind ?? (len === 0 ? "default" : spec.nextHop === undefined ? "connected" : "static");
      const route: Route =
        spec.nextHop === undefined
          ? { prefix, prefixLength: len, interfaceIndex: spec.interfaceIndex, kind, metric: spec.metric ?? 0 }
          : { prefix, prefixLength: len, interfaceIndex: spec.interfaceIndex, nextHop: spec.nextHop, kind, metric: spec.metric ?? 0 };
      const map = byLength[len]!;
      const list = map.get(prefix) ?? [];
      let i = list.length;
      while (i > 0 && list[i - 1]!.metric > route.metric) i--;
      list.splice(i, 0, route);
      map.set(prefix, list);
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
      const prefix = (destination.address & prefixToMask(len)) >>> 0;
      const list = map.get(prefix);
      if (list === undefined) return 0;
      const kept = interfaceIndex === undefined ? [] : list.filter((r) => r.interfaceIndex !== interfaceIndex);
      const removed = list.length - kept.length;
      if (kept.length === 0) map.delete(prefix);
      else map.set(prefix, kept);
      if (map.size === 0 && lengths.delete(len)) refreshLengths();
      return removed;
    },
    lookup(dst) {
      for (const len of sortedLengths) {
        const list = byLength[len]!.get(len === 0 ? 0 : (dst & prefixToMask(len)) >>> 0);
        if (list !== undefined) return list[0];
      }
      return undefined;
    },
    routes() {
      const out: Route[] = [];
      for (const len of sortedLengths) for (const list of byLength[len]!.values()) out.push(...list);
      return out;
    },
    format(interfaceName = (i) => `if${i}`) {
      return this.routes().map((r) => {
        const dst = r.prefixLength === 0 ? "default" : formatCidr({ address: r.prefix, prefixLength: r.prefixLength });
        const via = r.nextHop === undefined ? "" : ` via ${formatIpv4(r.nextHop)}`;
        return `${dst}${via} dev ${interfaceName(r.interfaceIndex)} ${r.kind}${r.metric === 0 ? "" : ` metric ${r.metric}`}`;
      });
    },
  };
}
