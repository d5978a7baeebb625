// The stack `netlab attach` runs on a device: createStack plus the applications attach offers
// (ICMP echo both ways, a DHCP client, an HTTP file server), behind one small interface.
// composeAttachedStack(deps, options): builds it; ready resolves once an address is configured.
import { type ArpOptions, createStack, type Stack, type StackIpv6Options } from "../../stack/index.ts";
import { dhcpClientOnStack, type DhcpClient, type DhcpClientOptions } from "../../stack/app/dhcp/index.ts";
import { createHttpServer, type HttpServer, type HttpServerOptions, type HttpServerStats } from "../../stack/app/http/index.ts";
import type { ByteStream, TcpListener, TcpStream } from "../../stack/transport/types.ts";
import { createStaticHandler } from "../http/static.ts";
import type { NetDevice } from "../../stack/link/types.ts";
import type { LayerCounters } from "../../stack/net/types.ts";
import type { Clock, Rng } from "../../stack/time.ts";
import { formatIpv4, type Ipv4Address, type Ipv4Cidr } from "../../stack/wire/address.ts";
import { formatIpv6, type Ipv6Address } from "../../stack/wire/ipv6-address.ts";

/** What attach needs from a running stack. */
export interface AttachedStack {
  readonly stack: Stack;
  /** The DHCP client when the address comes from DHCP. */
  readonly dhcp: DhcpClient | undefined;
  /** The HTTP server when serving files. */
  readonly http: HttpServer | undefined;
  /** Resolves with the IPv4 address once configured (static: at once; DHCP: first lease; never without IPv4). */
  readonly ready: Promise<Ipv4Cidr>;
  gateway(): Ipv4Address | undefined;
  /** Flat counters of the layers ("ipv4.rxPackets", "icmp.drops.bad-checksum", ...). */
  counters(): Record<string, number>;
  /** One echo request (ICMPv6 to an IPv6 address); resolves with the round-trip time in ms, rejects with the PingError/Ping6Error code. */
  ping(dst: Ipv4Address | Ipv6Address, seq: number, timeoutMs?: number): Promise<number>;
  /**
   * Releases the DHCP lease (if any) and stops the HTTP server, so that no peer is left with a
   * half-open connection: idle connections get a FIN, and those still open after `finWaitMs`
   * [100 ms] an RST (as Linux does for the sockets of a process that exits). The device stays open.
   */
  stop(finWaitMs?: number): Promise<StopReport>;
}

/** What stop() did to the connections still open. */
export interface StopReport {
  /** Connections that were open when stop() began. */
  readonly open: number;
  /** Of those, the ones that ended with a FIN exchange in finWaitMs, and the ones reset. */
  readonly closed: number;
  readonly reset: number;
}

/** Options of composeAttachedStack(). */
export interface AttachedStackOptions {
  /** IPv4: static, DHCP, or none (v6 only). */
  readonly address:
    | { readonly kind: "static"; readonly cidr: Ipv4Cidr; readonly gateway?: Ipv4Address }
    | { readonly kind: "dhcp" }
    | { readonly kind: "none" };
  /** IPv6 on the stack (absent: v4 only): static addresses, SLAAC, DAD callbacks. */
  readonly ipv6?: StackIpv6Options;
  readonly http?: { readonly root: string; readonly port: number; readonly options?: HttpServerOptions };
  /** DHCP client behaviour (attach starts the first DISCOVER within 0..500 ms). */
  readonly dhcp?: DhcpClientOptions;
  /** Probe a DHCP-offered address with ARP before using it (RFC 5227; default true). */
  readonly dhcpProbe?: boolean;
  /** ARP options (attach passes onAddressChange to log a known address moving to another MAC). */
  readonly arp?: ArpOptions;
}

/** Flattens layer counters into "layer.name" keys. */
export function flattenCounters(all: Readonly<Record<string, LayerCounters>>): Record<string, number> {
  const flat: Record<string, number> = {};
  for (const [layer, counters] of Object.entries(all)) {
    for (const [name, value] of Object.entries(counters)) {
      if (typeof value === "number") flat[`${layer}.${name}`] = value;
      else for (const [reason, n] of Object.entries(value)) flat[`${layer}.${name}.${reason}`] = n;
    }
  }
  return flat;
}

/**
 * The HTTP server's counters as "http.name" keys; parse errors also per code as
 * "http.parseErrors.<code>" (the README's attach section says what each means).
 */
export function httpCounters(stats: Readonly<HttpServerStats>): Record<string, number> {
  const flat: Record<string, number> = {};
  for (const [name, value] of Object.entries(stats)) {
    if (typeof value === "number") flat[`http.${name}`] = value;
  }
  for (const [code, n] of Object.entries(stats.parseErrorsByCode)) flat[`http.parseErrors.${code}`] = n ?? 0;
  return flat;
}

function attachError(message: string): Error {
  return Object.assign(new Error(message), { code: "ATTACH_STACK" });
}

/** A connection not yet CLOSED or in TIME-WAIT (its peer still holds it open). */
function isOpen(s: ByteStream): boolean {
  const state = (s as Partial<TcpStream>).info?.().state;
  return state !== undefined && state !== "CLOSED" && state !== "TIME-WAIT";
}

/** `listener` whose accepted connections are also kept in `accepted` (closed ones pruned as new ones come). */
function trackingListener(listener: TcpListener, accepted: Set<ByteStream>): TcpListener {
  let pruneAt = 64;
  return {
    localPort: listener.localPort,
    onConnection(handler) {
      listener.onConnection((s) => {
        accepted.add(s);
        if (accepted.size >= pruneAt) {
          for (const x of accepted) if (!isOpen(x)) accepted.delete(x);
          pruneAt = Math.max(64, 2 * accepted.size);
        }
        handler(s);
      });
    },
    close: () => listener.close(),
  };
}

/** `options` with IPv6 on when `ipv6` is given. */
function withIpv6<T extends object>(options: T, ipv6: StackIpv6Options | undefined): T & { ipv6?: StackIpv6Options } {
  return ipv6 === undefined ? options : { ...options, ipv6 };
}

/** Builds the stack on `device`. */
export async function composeAttachedStack(deps: { device: NetDevice; clock: Clock; rng: Rng }, options: AttachedStackOptions): Promise<AttachedStack> {
  const address = options.address;
  const arp = options.arp === undefined ? {} : { arp: options.arp };
  const stack = createStack(
    deps,
    withIpv6(
      address.kind === "static"
        ? { name: "attach", ipv4: address.gateway === undefined ? { cidr: address.cidr } : { cidr: address.cidr, gateway: address.gateway }, ...arp }
        : { name: "attach", ...arp },
      options.ipv6,
    ),
  );
  let http: HttpServer | undefined;
  let listener: TcpListener | undefined;
  let listener6: TcpListener | undefined;
  const accepted = new Set<ByteStream>();
  if (options.http !== undefined) {
    const listening = stack.tcp.listen(options.http.port);
    if (!listening.ok) throw attachError(`cannot listen on TCP port ${options.http.port}: ${listening.error}`);
    listener = listening.value;
    http = createHttpServer({ clock: deps.clock }, createStaticHandler({ root: options.http.root }), { serverName: "netlab", ...options.http.options });
    http.listen(trackingListener(listening.value, accepted));
    // A dual-stack attach serves the same files over TCP over IPv6.
    if (stack.tcp6 !== undefined) {
      const six = stack.tcp6.listen(options.http.port);
      if (!six.ok) throw attachError(`cannot listen on TCP6 port ${options.http.port}: ${six.error}`);
      listener6 = six.value;
      http.listen(trackingListener(six.value, accepted));
    }
  }
  let dhcp: DhcpClient | undefined;
  let ready: Promise<Ipv4Cidr>;
  if (address.kind === "static") {
    ready = Promise.resolve(address.cidr);
  } else if (address.kind === "none") {
    ready = new Promise<Ipv4Cidr>(() => undefined);
  } else {
    const client = dhcpClientOnStack(stack, { initDelayMinMs: 0, initDelayMaxMs: 500, ...options.dhcp }, { probe: options.dhcpProbe ?? true });
    dhcp = client;
    ready = new Promise((resolve) => {
      client.onBound((lease) => resolve({ address: lease.address, prefixLength: lease.prefixLength }));
    });
    client.start();
  }
  return {
    stack,
    dhcp,
    http,
    ready,
    gateway: () => stack.ipv4.gateway,
    counters: () => ({
      ...Object.fromEntries(Object.entries(stack.tcp.stats).map(([k, v]) => [`tcp.${k}`, v as number])),
      ...flattenCounters(stack.counters()),
      ...(http !== undefined ? { "http.open": http.connectionCount, ...httpCounters(http.stats) } : {}),
    }),
    ping(dst, seq, timeoutMs = 1000) {
      return new Promise((resolve, reject) => {
        const done = (r: { ok: true; value: { rttMs: number } } | { ok: false; error: string }, text: string): void => {
          if (r.ok) resolve(r.value.rttMs);
          else reject(Object.assign(new Error(`${r.error} (${text})`), { code: r.error }));
        };
        if (typeof dst === "number") {
          stack.icmp.ping(dst, { seq, timeoutMs }, (r) => done(r, formatIpv4(dst)));
          return;
        }
        if (stack.icmpv6 === undefined) {
          reject(attachError(`no IPv6 on the stack to ping ${formatIpv6(dst)}`));
          return;
        }
        stack.icmpv6.ping(dst, { seq, timeoutMs }, (r) => done(r, formatIpv6(dst)));
      });
    },
    async stop(finWaitMs = 100) {
      const open = [...accepted].filter(isOpen);
      http?.close();
      listener?.close();
      listener6?.close();
      const waits: Promise<unknown>[] = [];
      if (open.length > 0) waits.push(new Promise((r) => setTimeout(r, finWaitMs)));
      if (dhcp !== undefined && dhcp.state !== "stopped") {
        dhcp.stop({ release: true });
        // The RELEASE is unicast to the server; give ARP a moment if it had to resolve first.
        waits.push(new Promise((r) => setTimeout(r, 100)));
      }
      await Promise.all(waits);
      const left = open.filter(isOpen);
      for (const s of left) s.destroy();
      accepted.clear();
      return { open: open.length, closed: open.length - left.length, reset: left.length };
    },
  };
}
