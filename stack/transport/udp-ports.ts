// The port space of one UDP layer, the part UDP over IPv4 (udp.ts) and over IPv6 (udp6.ts) share:
// binding (RFC 6335 ephemeral ports drawn from the Rng, a bound on sockets), the counters, the
// lookup of a datagram's socket, and ICMP / ICMPv6 errors handed to the socket whose datagram
// they quote. Each family keeps its own table (v6-only sockets, as Linux with IPV6_V6ONLY=1).
//   createUdpPorts<D, E>(rng, options) -> UdpPorts<D, E>   D: a received datagram, E: an ICMP error report
import { type Result, ok, err } from "../result.ts";
import type { Rng } from "../time.ts";
import { type CounterBag, createCounters } from "../net/counters.ts";
import type { UdpBindError } from "./types.ts";

/** Options of a UDP layer, either family. */
export interface UdpOptions {
  /** Sockets bound at once (default 1024). */
  readonly maxSockets?: number;
  /** Ephemeral range (default 49152–65535, RFC 6335 §6). */
  readonly ephemeralLow?: number;
  readonly ephemeralHigh?: number;
  /** Send ICMP (ICMPv6) port unreachable for datagrams to closed ports (default true). */
  readonly portUnreachable?: boolean;
}

/** One bound port: what its socket asked to be told. */
export interface UdpPort<D, E> {
  readonly port: number;
  handler: ((d: D) => void) | undefined;
  errorHandler: ((e: E) => void) | undefined;
  closed: boolean;
}

export type UdpCounterName = "rxDatagrams" | "rxBytes" | "txDatagrams" | "txBytes" | "delivered" | "portUnreachableSent" | "icmpErrors";

/** The port table of one UDP layer. */
export interface UdpPorts<D, E> {
  readonly counters: CounterBag<UdpCounterName>;
  /** Binds a port (0: an ephemeral one), within maxSockets. */
  bind(port: number): Result<UdpPort<D, E>, UdpBindError>;
  /** The socket bound to a datagram's destination port, or undefined (closed port). */
  lookup(port: number): UdpPort<D, E> | undefined;
  /** An ICMP error quoting `transport` (the UDP header we sent): to the socket of its source port. */
  error(transport: Uint8Array, e: E): void;
  /** Closes a socket; its port is free again. */
  close(p: UdpPort<D, E>): void;
}

/** Creates an empty port table. */
export function createUdpPorts<D, E>(rng: Rng, options: UdpOptions = {}): UdpPorts<D, E> {
  const maxSockets = options.maxSockets ?? 1024;
  const low = options.ephemeralLow ?? 49152;
  const high = options.ephemeralHigh ?? 65535;
  const sockets = new Map<number, UdpPort<D, E>>();
  const counters = createCounters<UdpCounterName>(["rxDatagrams", "rxBytes", "txDatagrams", "txBytes", "delivered", "portUnreachableSent", "icmpErrors"]);

  const pickEphemeral = (): number | undefined => {
    const span = high - low + 1;
    const start = rng.nextInt(span);
    for (let i = 0; i < span; i++) {
      const p = low + ((start + i) % span);
      if (!sockets.has(p)) return p;
    }
    return undefined;
  };

  return {
    counters,
    bind(port) {
      if (!Number.isInteger(port) || port < 0 || port > 65535) return err("bad-port");
      if (sockets.size >= maxSockets) return err(port === 0 ? "no-ephemeral" : "in-use", "socket limit");
      let p = port;
      if (p === 0) {
        const e = pickEphemeral();
        if (e === undefined) return err("no-ephemeral");
        p = e;
      } else if (sockets.has(p)) {
        return err("in-use");
      }
      const st: UdpPort<D, E> = { port: p, handler: undefined, errorHandler: undefined, closed: false };
      sockets.set(p, st);
      return ok(st);
    },
    lookup: (port) => sockets.get(port),
    error(transport, e) {
      counters.c.icmpErrors++;
      if (transport.length < 4) return;
      sockets.get((transport[0]! << 8) | transport[1]!)?.errorHandler?.(e);
    },
    close(st) {
      if (st.closed) return;
      st.closed = true;
      if (sockets.get(st.port) === st) sockets.delete(st.port);
    },
  };
}

/** A destination port's validity for sending (1..65535). */
export function validDestinationPort(port: number): boolean {
  return Number.isInteger(port) && port > 0 && port <= 65535;
}
