// Test support: a message-level UDP segment (no Ethernet/IP) on which DHCP clients and servers
// meet, with a log of every datagram and a host whose configure() calls are recorded.
//
// createUdpSegment  hosts attach to it; sendTo delivers (after `delayMs`) to every bound socket
//                   whose host address matches, or to all for 255.255.255.255.
import type { Clock } from "../../time.ts";
import { ok, err } from "../../result.ts";
import { type Ipv4Address, type Ipv4Cidr, IPV4_BROADCAST } from "../../wire/address.ts";
import type { UdpDatagram, UdpLayer, UdpSocket } from "../../transport/types.ts";
import { parseDhcp, type DhcpRepr } from "../../wire/dhcp.ts";
import type { DhcpHost } from "./types.ts";

/** A datagram as seen on the segment. */
export interface SegmentRecord {
  readonly at: number;
  readonly from: string;
  readonly src: Ipv4Address;
  readonly dst: Ipv4Address;
  readonly srcPort: number;
  readonly dstPort: number;
  readonly bytes: Uint8Array;
  readonly repr: DhcpRepr | undefined;
  readonly broadcast: boolean;
}

/** One host on the segment: its UdpLayer and a DhcpHost that records configure() calls. */
export interface SegmentHost {
  readonly name: string;
  readonly udp: UdpLayer;
  readonly ipv4: DhcpHost & { readonly gateway: Ipv4Address | undefined; readonly configureCalls: (Ipv4Cidr | undefined)[] };
  /** Drop everything this host sends (or receives) while true. */
  down: boolean;
}

export interface UdpSegment {
  readonly log: SegmentRecord[];
  attach(name: string, cidr?: Ipv4Cidr): SegmentHost;
  /** Drops datagrams for which the filter returns true. */
  drop: ((r: SegmentRecord) => boolean) | undefined;
}

/** Creates an empty segment on `clock`; datagrams take `delayMs` to arrive. */
export function createUdpSegment(clock: Clock, delayMs = 1): UdpSegment {
  const hosts: { host: SegmentHost; sockets: Map<number, (d: UdpDatagram) => void> }[] = [];
  const segment: UdpSegment = {
    log: [],
    drop: undefined,
    attach(name, initial) {
      let cidr = initial;
      let gateway: Ipv4Address | undefined;
      const configureCalls: (Ipv4Cidr | undefined)[] = [];
      const sockets = new Map<number, (d: UdpDatagram) => void>();
      const host: SegmentHost = {
        name,
        down: false,
        ipv4: {
          get cidr() {
            return cidr;
          },
          get gateway() {
            return gateway;
          },
          configureCalls,
          configure(c, g) {
            cidr = c;
            gateway = g;
            configureCalls.push(c);
          },
        },
        udp: {
          bind(port) {
            if (sockets.has(port)) return err("in-use");
            let handler: (d: UdpDatagram) => void = () => {};
            sockets.set(port, (d) => handler(d));
            const socket: UdpSocket = {
              localPort: port,
              sendTo(dst, dstPort, payload, options = {}) {
                const src = options.src ?? cidr?.address;
                if (src === undefined) return err("no-address");
                const rec: SegmentRecord = {
                  at: clock.now(),
                  from: name,
                  src,
                  dst,
                  srcPort: port,
                  dstPort,
                  bytes: payload.slice(),
                  repr: (() => {
                    const r = parseDhcp(payload);
                    return r.ok ? r.value : undefined;
                  })(),
                  broadcast: options.broadcast ?? false,
                };
                segment.log.push(rec);
                if (host.down || segment.drop?.(rec)) return ok(undefined);
                clock.setTimer(clock.now() + delayMs, () => {
                  for (const h of hosts) {
                    if (h.host === host || h.host.down) continue;
                    const mine = h.host.ipv4.cidr?.address;
                    if (dst !== IPV4_BROADCAST && dst !== mine) continue;
                    h.sockets.get(dstPort)?.({ src, srcPort: port, dst, dstPort, payload: rec.bytes.slice() });
                  }
                });
                return ok(undefined);
              },
              onMessage(h) {
                handler = h;
              },
              close() {
                sockets.delete(port);
              },
            };
            return ok(socket);
          },
        },
      };
      hosts.push({ host, sockets });
      return host;
    },
  };
  return segment;
}
