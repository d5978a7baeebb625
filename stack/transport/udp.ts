// UDP (RFC 768) over the IPv4 layer: port binding with RFC 6335 ephemeral ports drawn from the
// Rng, sending with pseudo-header checksums (or csum_blank offload), demultiplexing by port,
// ICMP port unreachable for closed ports (RFC 1122 §4.1.3.1), broadcast.
// createUdp(deps, options) -> UdpStack; it registers IP protocol 17.
import { type Result, ok, err } from "../result.ts";
import type { Rng } from "../time.ts";
import { IPV4_ANY, type Ipv4Address } from "../wire/address.ts";
import { IP_PROTOCOL_UDP } from "../wire/ipv4.ts";
import { UDP_HEADER_LEN, emitUdp, parseUdp } from "../wire/udp.ts";
import { HEADROOM } from "../net/types.ts";
import type { IcmpErrorReport, IcmpLayer, Ipv4Delivery, Ipv4SendOptions, Ipv4Stack, LayerCounters } from "../net/types.ts";
import type { UdpBindError, UdpDatagram, UdpLayer, UdpSendError, UdpSocket } from "./types.ts";
import { createUdpPorts, type UdpOptions, validDestinationPort } from "./udp-ports.ts";

export type { UdpOptions };

export interface UdpDeps {
  readonly ipv4: Ipv4Stack;
  readonly icmp?: IcmpLayer;
  readonly rng: Rng;
  /** The device completes checksums of csumBlank frames (then UDP leaves them to it). */
  readonly txChecksumOffload?: boolean;
}

/** A bound socket with ICMP error delivery. */
export interface UdpStackSocket extends UdpSocket {
  /** ICMP errors about datagrams this socket sent (e.g. port unreachable from the peer). */
  onError(handler: (e: IcmpErrorReport) => void): void;
}

/** The UDP layer with counters. */
export interface UdpStack extends UdpLayer {
  bind(port: number): Result<UdpStackSocket, UdpBindError>;
  counters(): LayerCounters;
}

/** Largest UDP payload in an IPv4 datagram without options. */
export const UDP_MAX_PAYLOAD = 65535 - 20 - UDP_HEADER_LEN;

/** Creates the UDP layer. */
export function createUdp(deps: UdpDeps, options: UdpOptions = {}): UdpStack {
  const { ipv4, icmp, rng } = deps;
  const ports = createUdpPorts<UdpDatagram, IcmpErrorReport>(rng, options);
  const counters = ports.counters;
  const c = counters.c;

  ipv4.registerProtocol(IP_PROTOCOL_UDP, (d: Ipv4Delivery) => {
    c.rxDatagrams++;
    c.rxBytes += d.payload.length;
    const r = parseUdp(d.payload, d.src, d.dst, { verifyChecksum: d.offload?.dataValidated !== true });
    if (!r.ok) return counters.drop(r.error);
    const u = r.value;
    const s = ports.lookup(u.dstPort);
    if (s === undefined) {
      counters.drop("closed-port");
      if (options.portUnreachable !== false && icmp !== undefined && icmp.sendError("port-unreachable", d.header, d.payload)) c.portUnreachableSent++;
      return;
    }
    if (s.handler === undefined) return counters.drop("no-handler");
    c.delivered++;
    s.handler({ src: d.src, srcPort: u.srcPort, dst: d.dst, dstPort: u.dstPort, payload: u.payload });
  });

  icmp?.onError(IP_PROTOCOL_UDP, (e) => ports.error(e.quote.transport, e));

  return {
    bind(port) {
      const b = ports.bind(port);
      if (!b.ok) return b;
      const st = b.value;
      const p = st.port;
      const sock: UdpStackSocket = {
        localPort: p,
        sendTo(dst, dstPort, payload, opts): Result<void, UdpSendError> {
          if (st.closed) return err("closed");
          if (!validDestinationPort(dstPort)) return err("bad-port");
          if (payload.length > UDP_MAX_PAYLOAD) return err("too-big");
          const src = opts?.src ?? ipv4.sourceFor(dst) ?? (ipv4.isBroadcast(dst) ? IPV4_ANY : undefined);
          if (src === undefined) return err("no-address");
          const len = UDP_HEADER_LEN + payload.length;
          const buf = new Uint8Array(HEADROOM + len);
          const dgram = buf.subarray(HEADROOM);
          dgram.set(payload, UDP_HEADER_LEN);
          const partial = deps.txChecksumOffload === true;
          emitUdp({ srcPort: p, dstPort, payload: dgram.subarray(UDP_HEADER_LEN) }, dgram, 0, src, dst, partial ? "partial" : "full");
          const so: { src?: Ipv4Address; ttl?: number; offload?: { csumBlank: true } } = { src };
          if (opts?.ttl !== undefined) so.ttl = opts.ttl;
          if (partial) so.offload = { csumBlank: true };
          const r = ipv4.send(dst, IP_PROTOCOL_UDP, dgram, so as Ipv4SendOptions);
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
      };
      return ok(sock);
    },
    counters: () => counters.snapshot(),
  };
}
