// TCP over IPv6 as a stack offers it: the v6 TCP layer (the TCP of tcp/ run over the IPv6
// transport adapter, addresses as 32-bit handles) plus the choice a v6 socket has on Linux
// between v6-only (IPV6_V6ONLY=1) and dual-stack (0).
//
// createTcp6(deps) -> Tcp6Layer
//
// A dual-stack listener (listen(port, { ipv6Only: false })) holds the port in both families: the
// v6 layer's listener and one on the IPv4 TCP layer, with one connection handler. Its IPv4
// connections are reported with IPv4-mapped addresses (::ffff:a.b.c.d, RFC 4291 §2.5.5.2) by
// endpointsOf(), as getsockname/getpeername give them on a Linux v6 socket. The port being taken
// in both families, a later IPv4 listener on it is refused ("in-use"), and so is a dual-stack
// listener on a port an IPv4 listener holds: Linux's inet6 bind conflict rules (EADDRINUSE).
// connect() to an IPv4-mapped address with ipv6Only false goes over IPv4, as on Linux; with
// ipv6Only true (the default) it is "no-route" (Linux: ENETUNREACH).
// The default is v6-only, where Linux defaults to dual-stack (net.ipv6.bindv6only=0): a program
// here that serves both families on one port (attach's HTTP server, the demo) opens one listener
// per family, which a dual-stack default would refuse with "in-use" on the second.
import { err, ok, type Result } from "../result.ts";
import type { Ipv4Address } from "../wire/address.ts";
import type { Ipv6Address } from "../wire/ipv6-address.ts";
import type { ByteStream, TcpConnectError, TcpConnectionOptions, TcpListenError, TcpStream, TcpStreamListener } from "./types.ts";

/** A TCP layer as this module uses it (the v4 one and the v6 one over handles). */
export interface Tcp6BaseLayer {
  connect(dst: number, dstPort: number, options?: TcpConnectionOptions & { localPort?: number }): Result<TcpStream, TcpConnectError>;
  listen(port: number, options?: TcpConnectionOptions & { backlog?: number }): Result<TcpStreamListener, TcpListenError>;
}

/** Options of Tcp6Layer.listen(). */
export type Tcp6ListenOptions = TcpConnectionOptions & {
  readonly backlog?: number;
  /** false: also accept IPv4 connections on the port (IPV6_V6ONLY=0) [true]. */
  readonly ipv6Only?: boolean;
};

/** Options of Tcp6Layer.connect(). */
export type Tcp6ConnectOptions = TcpConnectionOptions & {
  readonly localPort?: number;
  /** false: an IPv4-mapped destination is reached over IPv4 (IPV6_V6ONLY=0) [true]. */
  readonly ipv6Only?: boolean;
};

/** The two addresses of a connection, 128-bit. */
export interface Tcp6Endpoints {
  readonly local: Ipv6Address;
  readonly remote: Ipv6Address;
  /** The connection runs over IPv4 (its addresses are IPv4-mapped). */
  readonly ipv4: boolean;
}

/** TCP on IPv6 sockets. */
export interface Tcp6Layer {
  connect(dst: Ipv6Address, dstPort: number, options?: Tcp6ConnectOptions): Result<TcpStream, TcpConnectError>;
  listen(port: number, options?: Tcp6ListenOptions): Result<TcpStreamListener, TcpListenError>;
  /** The address behind a v6 layer handle, if it is still held. */
  addressOf(handle: number): Ipv6Address | undefined;
  /**
   * The addresses of a stream from connect() or a listener of this layer; undefined for any other
   * stream, or when a handle was evicted (the adapter's limit).
   */
  endpointsOf(stream: ByteStream): Tcp6Endpoints | undefined;
}

export interface Tcp6Deps {
  /** The IPv4 TCP layer (dual-stack sockets share its port space). */
  readonly tcp4: Tcp6BaseLayer;
  /** The TCP layer over the IPv6 transport adapter. */
  readonly tcp6: Tcp6BaseLayer;
  handleOf(a: Ipv6Address): number;
  addressOf(handle: number): Ipv6Address | undefined;
}

/** Tries for a port free in both families when a dual-stack listener asks for an ephemeral one. */
const EPHEMERAL_TRIES = 32;

/** ::ffff:a.b.c.d */
export function ipv4Mapped(a: Ipv4Address): Ipv6Address {
  return Uint8Array.of(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, a >>> 24, (a >>> 16) & 0xff, (a >>> 8) & 0xff, a & 0xff);
}

/** The IPv4 address inside ::ffff:a.b.c.d, else undefined. */
export function fromIpv4Mapped(a: Ipv6Address): Ipv4Address | undefined {
  for (let i = 0; i < 10; i++) if (a[i] !== 0) return undefined;
  if (a[10] !== 0xff || a[11] !== 0xff) return undefined;
  return ((a[12]! << 24) | (a[13]! << 16) | (a[14]! << 8) | a[15]!) >>> 0;
}

/** Creates the v6 socket layer over the two TCP layers. */
export function createTcp6(deps: Tcp6Deps): Tcp6Layer {
  const { tcp4, tcp6 } = deps;
  // Streams that run over IPv4 on behalf of a v6 socket, and those of the v6 layer.
  const overIpv4 = new WeakSet<ByteStream>();
  const overIpv6 = new WeakSet<ByteStream>();

  const listenDual = (port: number, o: TcpConnectionOptions & { backlog?: number }): Result<TcpStreamListener, TcpListenError> => {
    for (let i = 0; i < (port === 0 ? EPHEMERAL_TRIES : 1); i++) {
      const six = tcp6.listen(port, o);
      if (!six.ok) return six;
      const four = tcp4.listen(six.value.localPort, o);
      if (four.ok) return ok(joined(six.value, four.value));
      six.value.close();
      if (four.error !== "in-use") return four;
    }
    return err("in-use");
  };

  const joined = (six: TcpStreamListener, four: TcpStreamListener): TcpStreamListener => ({
    localPort: six.localPort,
    onConnection(handler: (s: TcpStream) => void) {
      six.onConnection((s) => {
        overIpv6.add(s);
        handler(s);
      });
      four.onConnection((s) => {
        overIpv4.add(s);
        handler(s);
      });
    },
    close() {
      six.close();
      four.close();
    },
  });

  return {
    connect(dst, dstPort, options = {}) {
      const { ipv6Only = true, ...o } = options;
      const v4 = fromIpv4Mapped(dst);
      if (v4 !== undefined) {
        if (ipv6Only) return err("no-route");
        const r = tcp4.connect(v4, dstPort, o);
        if (r.ok) overIpv4.add(r.value);
        return r;
      }
      const r = tcp6.connect(deps.handleOf(dst), dstPort, o);
      if (r.ok) overIpv6.add(r.value);
      return r;
    },
    listen(port, options = {}) {
      const { ipv6Only = true, ...o } = options;
      if (!ipv6Only) return listenDual(port, o);
      const r = tcp6.listen(port, o);
      if (!r.ok) return r;
      const listener = r.value;
      return ok({
        localPort: listener.localPort,
        onConnection(handler: (s: TcpStream) => void) {
          listener.onConnection((s) => {
            overIpv6.add(s);
            handler(s);
          });
        },
        close: () => listener.close(),
      });
    },
    addressOf: deps.addressOf,
    endpointsOf(s) {
      if (overIpv4.has(s)) return { local: ipv4Mapped(s.localAddress), remote: ipv4Mapped(s.remoteAddress), ipv4: true };
      if (!overIpv6.has(s)) return undefined;
      const local = deps.addressOf(s.localAddress);
      const remote = deps.addressOf(s.remoteAddress);
      return local === undefined || remote === undefined ? undefined : { local, remote, ipv4: false };
    },
  };
}
