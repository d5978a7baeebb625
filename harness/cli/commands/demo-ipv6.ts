// The IPv6 half of `netlab demo`: every host is dual-stack. h1 has a static 2001:db8::1/64 and
// advertises 2001:db8::/64 in Router Advertisements; h2 and h3 autoconfigure from them (RFC 4862
// SLAAC, with DAD), beside their DHCPv4 leases. After the IPv4 phases, every host pings every
// other over v6, h1 sends 256 KiB over TCP over IPv6 to h3, and h2 and h3 fetch the same pages
// from h1's HTTP server over v6 (on the same site and, under Xen, the same disk).
//   ipv6HostOptions(index)        the StackIpv6Options of demo host `index` (0 = h1, the router)
//   scheduleIpv6Demo(deps)        schedules the v6 phases; its finish() gives the report and checks
import type { StackIpv6Options, Stack } from "../../../stack/index.ts";
import type { VirtualClock } from "../../../stack/time.ts";
import { createHttpClient, createHttpServer } from "../../../stack/app/http/index.ts";
import type { HttpClient, HttpHandler } from "../../../stack/app/http/index.ts";
import { formatIpv6, ipv6, type Ipv6Address } from "../../../stack/wire/ipv6-address.ts";
import { NetlabError } from "../../../stack/error.ts";
import type { DemoCheck, DemoHttpReport, DemoHttpRequest, DemoTcpReport, RttReport } from "./demo.ts";
import { sendPattern, sinkPattern, TCP_BYTES, TCP_PORT } from "./demo-tcp.ts";

export const IPV6_PREFIX = "2001:db8::/64";
const ROUTER_ADDRESS = "2001:db8::1";
const PINGS_PER_PAIR = 10;
const PING_INTERVAL_MS = 200;
const HTTP_PORT = 80;
/** Offsets of the v6 phases from the moment the network is configured (after the v4 phases). */
export const AT6 = { ping: 13_000, tcp: 15_500, http: 17_000 } as const;

/** h1 advertises the prefix (and is the default router); the others autoconfigure from its RAs. */
export function ipv6HostOptions(index: number): StackIpv6Options {
  return index === 0 ? { addresses: [`${ROUTER_ADDRESS}/64`], advertise: { prefixes: [IPV6_PREFIX], intervalMs: 60_000 } } : { slaac: true };
}

/** One host's IPv6 configuration at the end of the run. */
export interface DemoIpv6Host {
  readonly name: string;
  readonly linkLocal: string;
  /** The global address ("" when none), how it came ("static" or "slaac") and its state. */
  readonly address: string;
  readonly origin: string;
  readonly state: string;
  /** Default routers learned from RAs. */
  readonly routers: string[];
  /** Virtual time of the first RA the host processed (-1: none; the router itself: -1). */
  readonly firstRaAtMs: number;
  readonly raSent: number;
  readonly rsSent: number;
  readonly dadFailed: number;
}

/** What the v6 phases measured. */
export interface DemoIpv6Report {
  readonly family: "ipv6";
  readonly prefix: string;
  readonly router: string;
  readonly hosts: DemoIpv6Host[];
  readonly ping: { readonly pairs: { from: string; to: string; sent: number; replies: number; rtt: RttReport }[]; readonly rtt: RttReport };
  readonly tcp: DemoTcpReport;
  readonly http: DemoHttpReport;
}

/** A demo host as the v6 phases see it. */
export interface Ipv6DemoHost {
  readonly name: string;
  readonly stack: Stack;
}

/** Fetches `path` from `host` with `client`, recording the request in `into`; `done` when it finished. */
export type DemoPageFetcher = (
  who: string,
  client: HttpClient,
  host: Ipv6Address,
  path: string,
  pipelined: boolean,
  into: DemoHttpRequestRecord[],
  done: () => void,
) => void;
export type DemoHttpRequestRecord = { -readonly [K in keyof DemoHttpRequest]: DemoHttpRequest[K] } & { done: boolean };

export interface Ipv6DemoDeps {
  readonly clock: VirtualClock;
  /** hosts[0] is the router and HTTP server; the others are the SLAAC clients. */
  readonly hosts: readonly Ipv6DemoHost[];
  /** Schedules `fn` at `offset` ms after the network is ready. */
  after(offset: number, fn: () => void): void;
  /** Comments the next frame sent in the capture. */
  note(text: string): void;
  readonly fetchPage: DemoPageFetcher;
  /** The HTTP handler of h1's site (the v4 server's). */
  readonly handler: HttpHandler;
  readonly serverName: string;
  readonly dateOffsetMs: number;
  readonly rtt: (samples: number[]) => RttReport;
}

/** The scheduled v6 phases. */
export interface Ipv6Demo {
  /** Starts h1's HTTP server on TCP over IPv6 (call when the v4 one starts listening). */
  startHttp(): void;
  /** The report and the checks, after the run. */
  finish(): { readonly report: DemoIpv6Report; readonly checks: DemoCheck[] };
}

const r3 = (x: number): number => Math.round(x * 1000) / 1000;

/** Schedules the v6 phases on `deps.hosts` (each created with ipv6HostOptions). */
export function scheduleIpv6Demo(deps: Ipv6DemoDeps): Ipv6Demo {
  const { clock, hosts, after } = deps;
  const [server, ...clients] = hosts;
  if (server === undefined) throw new NetlabError("ERR_NETLAB_DEMO_SETUP", "demo: IPv6 needs at least one host");
  const need = <T>(x: T | undefined, what: string, h: Ipv6DemoHost): T => {
    if (x === undefined) throw new NetlabError("ERR_NETLAB_DEMO_SETUP", `demo: ${h.name} has no ${what} (created without ipv6 options)`);
    return x;
  };
  const globalOf = (h: Ipv6DemoHost): Ipv6Address | undefined =>
    h.stack.ipv6?.ndp.addresses().find((a) => a.origin !== "link-local" && a.state === "preferred")?.address;

  const firstRaAt = new Map<Ipv6DemoHost, number>();
  for (const h of clients) {
    need(h.stack.ipv6, "IPv6", h).ndp.onRouterAdvertisement(() => {
      if (!firstRaAt.has(h)) firstRaAt.set(h, clock.now());
    });
  }

  // ping6: every host pings every other host's global address. The timeout is twice the v4 one:
  // a neighbour whose NA is lost is solicited again a second later (RFC 4861 §7.2.2), and the
  // requests queued meanwhile are sent then.
  const pairs: { from: string; to: string; sent: number; replies: number; rtts: number[] }[] = [];
  let pairIndex = 0;
  for (const src of hosts) {
    for (const dst of hosts) {
      if (src === dst) continue;
      const pair = { from: src.name, to: dst.name, sent: 0, replies: 0, rtts: [] as number[] };
      pairs.push(pair);
      const index = pairIndex++;
      for (let n = 0; n < PINGS_PER_PAIR; n++) {
        after(AT6.ping + index * 20 + n * PING_INTERVAL_MS, () => {
          if (index === 0 && n === 0)
            deps.note(
              `phase 6 (IPv6): every host pings every other host's SLAAC or static address in ${IPV6_PREFIX} ${PINGS_PER_PAIR} times, ${PING_INTERVAL_MS} ms apart`,
            );
          pair.sent++;
          const to = globalOf(dst);
          if (to === undefined || globalOf(src) === undefined) return;
          need(src.stack.icmpv6, "ICMPv6", src).ping(to, { ident: 0x6e60 + index, seq: n + 1, size: 56, timeoutMs: 2000 }, (r) => {
            if (!r.ok) return;
            pair.replies++;
            pair.rtts.push(r.value.rttMs);
          });
        });
      }
    }
  }

  // TCP over IPv6: h1 -> the last host (the lossiest port), discard service, checked byte by byte.
  const sinkHost = clients[clients.length - 1] ?? server;
  const pattern = (i: number): number => (i * 37 + 11) & 0xff;
  const tcp = { received: 0, intact: true, startAt: -1, endAt: -1, error: undefined as string | undefined };
  const sink = need(sinkHost.stack.tcp6, "TCP over IPv6", sinkHost).listen(TCP_PORT);
  if (!sink.ok) throw new NetlabError("ERR_NETLAB_DEMO_SETUP", `demo: cannot listen on TCP6 ${TCP_PORT} on ${sinkHost.name}: ${sink.error}`);
  sinkPattern(sink.value, pattern, tcp, clock);
  const tcp6 = need(server.stack.tcp6, "TCP over IPv6", server);
  after(AT6.tcp, () => {
    deps.note(
      `phase 7 (IPv6): ${server.name} sends ${TCP_BYTES} bytes over TCP over IPv6 to the discard service on [${formatIpv6(globalOf(sinkHost) ?? new Uint8Array(16))}]:${TCP_PORT} (${sinkHost.name})`,
    );
    const to = globalOf(sinkHost);
    if (to === undefined) {
      tcp.error = `${sinkHost.name} has no IPv6 address`;
      return;
    }
    const c = tcp6.connect(to, TCP_PORT);
    if (!c.ok) {
      tcp.error = c.error;
      return;
    }
    sendPattern(c.value, pattern, tcp, clock);
  });

  // HTTP over IPv6: the same site and handler as the v4 server, a server of its own (so each
  // family's figures stand apart); each client: the index, a pipelined pair, a missing page.
  const httpServer = createHttpServer({ clock }, deps.handler, { dateOffsetMs: deps.dateOffsetMs, serverName: deps.serverName });
  const serverAddress = ipv6(ROUTER_ADDRESS);
  const requests: DemoHttpRequestRecord[] = [];
  const httpClients = new Map<Ipv6DemoHost, HttpClient>();
  clients.forEach((who, i) => {
    after(AT6.http + i * 20, () => {
      if (i === 0)
        deps.note(
          `phase 8 (IPv6): ${clients.map((c) => c.name).join(" and ")} fetch pages from the HTTP server on [${ROUTER_ADDRESS}]:${HTTP_PORT} over TCP over IPv6 (keep-alive, a pipelined pair), checked by sha256`,
        );
      if (globalOf(who) === undefined) return;
      const client = createHttpClient(
        { clock, tcp6: need(who.stack.tcp6, "TCP over IPv6", who) },
        { pipeline: 2, maxConnectionsPerHost: 1, userAgent: "netlab-demo" },
      );
      httpClients.set(who, client);
      const fetch = (path: string, pipelined: boolean, done: () => void): void =>
        deps.fetchPage(who.name, client, serverAddress, path, pipelined, requests, done);
      fetch("/", false, () => {
        let left = 2;
        const pairDone = (): void => {
          if (--left > 0) return;
          fetch("/missing.html", false, () => client.close());
        };
        fetch("/data/256k.bin", false, pairDone);
        fetch("/hello.txt", true, pairDone);
      });
    });
  });

  return {
    startHttp() {
      const l = tcp6.listen(HTTP_PORT);
      if (!l.ok) throw new NetlabError("ERR_NETLAB_DEMO_SETUP", `demo: cannot listen on TCP6 ${HTTP_PORT} on ${server.name}: ${l.error}`);
      httpServer.listen(l.value);
    },
    finish() {
      const hostReports: DemoIpv6Host[] = hosts.map((h) => {
        const v6 = need(h.stack.ipv6, "IPv6", h);
        const addrs = v6.ndp.addresses();
        const ll = addrs.find((a) => a.origin === "link-local");
        const g = addrs.find((a) => a.origin !== "link-local");
        const c = v6.ndp.counters() as Record<string, unknown>;
        const num = (k: string): number => (typeof c[k] === "number" ? c[k] : 0);
        return {
          name: h.name,
          linkLocal: ll === undefined ? "" : formatIpv6(ll.address),
          address: g === undefined ? "" : formatIpv6(g.address),
          origin: g?.origin ?? "",
          state: g?.state ?? "none",
          routers: v6.ndp.routers().map((x) => formatIpv6(x.address)),
          firstRaAtMs: r3(firstRaAt.get(h) ?? -1),
          raSent: num("raSent"),
          rsSent: num("rsSent"),
          dadFailed: num("dadFailed"),
        };
      });
      const routerLl = hostReports[0]!.linkLocal;
      const inPrefix = (a: string): boolean => a.startsWith("2001:db8::");
      const unconfigured = hostReports
        .slice(1)
        .filter((h) => h.origin !== "slaac" || h.state !== "preferred" || !inPrefix(h.address) || !h.routers.includes(routerLl));
      const allRtts = pairs.flatMap((p) => p.rtts);
      const pingSent = pairs.reduce((n, p) => n + p.sent, 0);
      const tcpDuration = tcp.endAt >= 0 && tcp.startAt >= 0 ? tcp.endAt - tcp.startAt : 0;
      const tcpReport = {
        bytes: TCP_BYTES,
        received: tcp.received,
        intact: tcp.intact && tcp.received === TCP_BYTES,
        durationMs: r3(tcpDuration),
        virtualGoodputBitsPerSecond: tcpDuration > 0 ? Math.round((tcp.received * 8 * 1000) / tcpDuration) : 0,
        retransmits: tcp6.layer.stats.retransmits,
        ...(tcp.error === undefined ? {} : { error: tcp.error }),
      };
      const order = (name: string): number => clients.findIndex((c) => c.name === name);
      requests.sort((a, b) => order(a.client) - order(b.client));
      const finished: DemoHttpRequest[] = requests.map(({ done, ...r }) => (done || r.error !== undefined ? r : { ...r, error: "unfinished" }));
      const correct = finished.filter((r) => r.status === r.expectedStatus && r.sha256Ok && r.error === undefined);
      const expected = clients.length * 4;
      const report: DemoIpv6Report = {
        family: "ipv6",
        prefix: IPV6_PREFIX,
        router: server.name,
        hosts: hostReports,
        ping: { pairs: pairs.map((p) => ({ from: p.from, to: p.to, sent: p.sent, replies: p.replies, rtt: deps.rtt(p.rtts) })), rtt: deps.rtt(allRtts) },
        tcp: tcpReport,
        http: {
          server: { host: server.name, address: ROUTER_ADDRESS, port: HTTP_PORT, stats: { ...httpServer.stats } },
          clients: clients.map((c) => {
            const s = httpClients.get(c)?.stats;
            return { host: c.name, connectionsOpened: s?.connectionsOpened ?? 0, reusedConnections: s?.reusedConnections ?? 0, retries: s?.retries ?? 0 };
          }),
          requests: finished,
          totals: { requests: finished.length, correct: correct.length, bytes: finished.reduce((n, r) => n + r.bytes, 0) },
        },
      };
      const family = "ipv6" as const;
      const checks: DemoCheck[] = [
        {
          name: `SLAAC from ${server.name}'s RA`,
          family,
          ok: unconfigured.length === 0 && hostReports.every((h) => h.dadFailed === 0),
          detail:
            unconfigured.length === 0
              ? `${hostReports
                  .slice(1)
                  .map((h) => `${h.name} ${h.address}`)
                  .join(", ")} (default router ${routerLl}); ${server.name} sent ${hostReports[0]!.raSent} RAs`
              : `not configured: ${unconfigured.map((h) => `${h.name} (${h.address || "no address"}, ${h.state}, routers ${h.routers.join(" ") || "none"})`).join(", ")}`,
        },
        {
          name: "ping6: every pair reachable",
          family,
          ok: pairs.every((p) => p.replies > 0),
          detail: `${allRtts.length}/${pingSent} echo requests answered; ${
            pairs
              .filter((p) => p.replies === 0)
              .map((p) => `${p.from}->${p.to}`)
              .join(", ") || `all ${pairs.length} pairs answered`
          }`,
        },
        {
          name: "TCP over IPv6 transfer",
          family,
          ok: tcpReport.intact && tcp.endAt >= 0,
          detail: `${tcp.received}/${TCP_BYTES} bytes ${server.name} -> ${sinkHost.name} ${tcpReport.intact ? "arrived intact" : "did not arrive intact"}${tcp.endAt >= 0 ? ` in ${tcpReport.durationMs} ms` : ""}${tcp.error === undefined ? "" : ` (error ${tcp.error})`}`,
        },
        {
          name: "HTTP over IPv6: every body correct",
          family,
          ok: finished.length === expected && correct.length === expected,
          detail:
            correct.length === expected && finished.length === expected
              ? `${correct.length}/${expected} responses with the expected status and sha256 (${report.http.totals.bytes} body bytes)`
              : `${correct.length}/${expected} correct; wrong: ${
                  finished
                    .filter((r) => !correct.includes(r))
                    .map((r) => `${r.client} ${r.path} (${r.error ?? (r.status !== r.expectedStatus ? `status ${r.status}` : "sha256 mismatch")})`)
                    .join(", ") || "requests missing"
                }`,
        },
      ];
      return { report, checks };
    },
  };
}
