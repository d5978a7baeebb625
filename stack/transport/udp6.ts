// UDP over IPv6 (RFC 768, RFC 8200 §8.1): v6-only sockets in a port space of their own (a port
// bound here and the same port bound on the IPv4 UDP layer are two sockets, as Linux with
// IPV6_V6ONLY=1; no v4-mapped addresses), RFC 6335 ephemeral ports from the Rng, the mandatory
// v6 checksum, ICMPv6 port unreachable for closed ports (not for multicast destinations,
// RFC 4443 §2.4(e)), and ICMPv6 errors handed to the socket that sent the datagram.
// createUdp6(deps, options) -> Udp6Stack; it registers Next Header 17 with the IPv6 layer.
import { type Result, ok, err } from "../result.ts";
import type { Rng } from "../time.ts";
import type { Ipv6Address } from "../wire/ipv6-address.ts";
import { IPV6_HEADER_LEN, IPV6_NEXT_HEADER_UDP } from "../wire/ipv6.ts";
import { UDP_HEADER_LEN } from "../wire/udp.ts";
import { emitUdp6, parseUdp6 } from "../wire/udp6.ts";
import { HEADROOM, type LayerCounters } from "../net/types.ts";
import type { Icmpv6ErrorReport, Icmpv6Layer, Ipv6Delivery, Ipv6SendError, Ipv6Stack } from "../net/ipv6-types.ts";
import type { UdpBindError } from "./types.ts";
import { createUdpPorts, type UdpOptions, validDestinationPort } from "./udp-ports.ts";

/** The options of either family's UDP layer. */
export type Udp6Options = UdpOptions;

export interface Udp6Deps {
  readonly ipv6: Ipv6Stack;
  readonly icmpv6?: Icmpv6Layer;
  readonly rng: Rng;
}

/** A received datagram. */
export interface Udp6Datagram {
  readonly src: Ipv6Address;
  readonly srcPort: number;
  readonly dst: Ipv6Address;
  readonly dstPort: number;
  readonly payload: Uint8Array;
}

export type Udp6SendError = Ipv6SendError | "closed" | "bad-port";

/** A bound v6 UDP socket. */
export interface Udp6Socket {
  readonly localPort: number;
  sendTo(
    dst: Ipv6Address,
    dstPort: number,
    payload: Uint8Array,
    options?: { readonly src?: Ipv6Address; readonly hopLimit?: number },
  ): Result<void, Udp6SendError>;
  onMessage(handler: (d: Udp6Datagram) => void): void;
  /** ICMPv6 errors about datagrams this socket sent. */
  onError(handler: (e: Icmpv6ErrorReport) => void): void;
  close(): void;
}

export interface Udp6Stack {
  /** Binds a port (0 = ephemeral). */
  bind(port: number): Result<Udp6Socket, UdpBindError>;
  counters(): LayerCounters;
}

/** Largest payload of one datagram without a jumbogram (payload length 65535 minus the UDP header). */
export const UDP6_MAX_PAYLOAD = 65535 - UDP_HEADER_LEN;

/** Creates UDP over an IPv6 layer. */
export function createUdp6(deps: Udp6Deps, options: Udp6Options = {}): Udp6Stack {
  const { ipv6, icmpv6, rng } = deps;
  const ports = createUdpPorts<Udp6Datagram, Icmpv6ErrorReport>(rng, options);
  const counters = ports.counters;
  const c = counters.c;

  ipv6.registerProtocol(IPV6_NEXT_HEADER_UDP, (d: Ipv6Delivery) => {
    c.rxDatagrams++;
    c.rxBytes += d.payload.length;
    const r = parseUdp6(d.payload, d.src, d.dst, { verifyChecksum: d.offload?.dataValidated !== true });
    if (!r.ok) return counters.drop(r.error);
    const u = r.value;
    const s = ports.lookup(u.dstPort);
    if (s === undefined) {
      counters.drop("closed-port");
      if (options.portUnreachable !== false && icmpv6 !== undefined && icmpv6.sendError("port-unreachable", d.packet, d)) c.portUnreachableSent++;
      return;
    }
    if (s.handler === undefined) return counters.drop("no-handler");
    c.delivered++;
    s.handler({ src: d.src, srcPort: u.srcPort, dst: d.dst, dstPort: u.dstPort, payload: u.payload });
  });

  icmpv6?.onError(IPV6_NEXT_HEADER_UDP, (e) => ports.error(e.quote.transport, e));

  return {
    bind(port) {
      const b = ports.bind(port);
      if (!b.ok) return b;
      const st = b.value;
      const p = st.port;
      return ok({
        localPort: p,
        sendTo(dst, dstPort, payload, opts) {
          if (st.closed) return err("closed");
          if (!validDestinationPort(dstPort)) return err("bad-port");
          if (payload.length > UDP6_MAX_PAYLOAD) return err("too-big");
          const src = opts?.src ?? ipv6.sourceFor(dst);
          if (src === undefined) return err("no-address");
          const len = UDP_HEADER_LEN + payload.length;
          // Room in front for the IPv6 and Ethernet headers, so they are written in place.
          const front = Math.max(HEADROOM, IPV6_HEADER_LEN + 18);
          const buf = new Uint8Array(front + len);
          const dgram = buf.subarray(front);
          dgram.set(payload, UDP_HEADER_LEN);
          emitUdp6({ srcPort: p, dstPort, payload: dgram.subarray(UDP_HEADER_LEN) }, dgram, 0, src, dst);
          const r = ipv6.send(
            dst,
            IPV6_NEXT_HEADER_UDP,
            dgram,
            opts?.hopLimit === undefined ? { src, headroom: front } : { src, hopLimit: opts.hopLimit, headroom: front },
          );
          if (!r.ok) return err(r.error);
          c.txDatagrams++;
          c.txBytes += len;
          return ok(undefined);
        },
        onMessage(handler) {
          st.handler = handler;
        },
        onError(handler) {
          st.errorHandler = handler;
        },
        close: () => ports.close(st),
      });
    },
    counters: () => counters.snapshot(),
  };
}
