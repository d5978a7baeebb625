// The DHCP relay agent (RFC 1542 §4, RFC 2131 §4.1): what lets one server serve many
// broadcast domains, so that each segment's broadcasts stay on it.
//   createDhcpRelay(deps, options)  requests heard on the clients' segment (UDP 67) go to every
//       server, unicast, with giaddr set to the segment-side address and hops + 1; replies the
//       servers send to that giaddr go back to the client: broadcast when the client set the
//       broadcast bit (or has no address yet in yiaddr), else unicast to yiaddr through chaddr.
// Only hops and giaddr change (RFC 1542 §4.1.1); the bytes are copied, never parsed and
// re-emitted. Untrusted datagrams that do not parse are counted and dropped.
import type { MacAddress, Ipv4Address } from "../../wire/address.ts";
import { IPV4_ANY, IPV4_BROADCAST } from "../../wire/address.ts";
import { BOOTREPLY, BOOTREQUEST, DHCP_CLIENT_PORT, DHCP_FLAG_BROADCAST, DHCP_SERVER_PORT, chaddrMac, parseDhcp } from "../../wire/dhcp.ts";
import { err, ok, type Result } from "../../result.ts";
import type { UdpBindError, UdpDatagram, UdpLayer, UdpSocket } from "../../transport/types.ts";

const HOPS = 3,
  GIADDR = 24;

/** The relay's two sides; they may share one UdpLayer (a router with both interfaces). */
export interface DhcpRelayDeps {
  /** The interface on the clients' segment: its address becomes giaddr. */
  readonly clientSide: {
    readonly udp: UdpLayer;
    readonly address: Ipv4Address;
    /** Lets a reply reach a client that cannot answer ARP yet (as the server does). */
    readonly arp: { lookup(ip: Ipv4Address): MacAddress | undefined; addStatic(ip: Ipv4Address, mac: MacAddress): void; remove(ip: Ipv4Address): void };
  };
  /** The interface the servers are reached through. */
  readonly serverSide: { readonly udp: UdpLayer };
}

/** Options of createDhcpRelay. */
export interface DhcpRelayOptions {
  /** The servers every request is relayed to. */
  readonly servers: readonly Ipv4Address[];
  /** Requests that already crossed this many relays are dropped [16] (RFC 1542 §4.1.1). */
  readonly maxHops?: number;
}

/** What a relay did. */
export interface DhcpRelayStats {
  requestsRelayed: number;
  repliesRelayed: number;
  /** Datagrams that did not parse, came from the wrong side, were for another relay or had too many hops. */
  dropped: number;
}

/** A running relay agent. */
export interface DhcpRelay {
  readonly stats: Readonly<DhcpRelayStats>;
  close(): void;
}

/** Starts a relay agent on UDP port 67 of both sides. */
export function createDhcpRelay(deps: DhcpRelayDeps, options: DhcpRelayOptions): Result<DhcpRelay, UdpBindError> {
  const { clientSide, serverSide } = deps;
  const maxHops = options.maxHops ?? 16;
  const stats: DhcpRelayStats = { requestsRelayed: 0, repliesRelayed: 0, dropped: 0 };
  const clientSocket = clientSide.udp.bind(DHCP_SERVER_PORT);
  if (!clientSocket.ok) return clientSocket;
  let serverSocket: UdpSocket;
  if (serverSide.udp === clientSide.udp) serverSocket = clientSocket.value;
  else {
    const s = serverSide.udp.bind(DHCP_SERVER_PORT);
    if (!s.ok) {
      clientSocket.value.close();
      return err(s.error);
    }
    serverSocket = s.value;
  }

  const request = (d: UdpDatagram, hops: number, giaddr: Ipv4Address): void => {
    if (hops >= maxHops) {
      stats.dropped++;
      return;
    }
    const bytes = d.payload.slice();
    bytes[HOPS] = hops + 1;
    if (giaddr === IPV4_ANY) new DataView(bytes.buffer, bytes.byteOffset + GIADDR, 4).setUint32(0, clientSide.address);
    for (const server of options.servers) serverSocket.sendTo(server, DHCP_SERVER_PORT, bytes);
    stats.requestsRelayed++;
  };

  const reply = (d: UdpDatagram, flags: number, yiaddr: Ipv4Address, mac: MacAddress | undefined): void => {
    const bytes = d.payload.slice();
    const src = clientSide.address;
    if ((flags & DHCP_FLAG_BROADCAST) !== 0 || yiaddr === IPV4_ANY || mac === undefined) {
      clientSocket.value.sendTo(IPV4_BROADCAST, DHCP_CLIENT_PORT, bytes, { src, broadcast: true });
    } else if (clientSide.arp.lookup(yiaddr) === mac) {
      clientSocket.value.sendTo(yiaddr, DHCP_CLIENT_PORT, bytes, { src });
    } else {
      // RFC 2131 §4.1: the client cannot answer ARP yet; address chaddr through a passing entry.
      clientSide.arp.addStatic(yiaddr, mac);
      clientSocket.value.sendTo(yiaddr, DHCP_CLIENT_PORT, bytes, { src });
      clientSide.arp.remove(yiaddr);
    }
    stats.repliesRelayed++;
  };

  const handle =
    (fromClientSide: boolean) =>
    (d: UdpDatagram): void => {
      const parsed = parseDhcp(d.payload);
      if (!parsed.ok) {
        stats.dropped++;
        return;
      }
      const m = parsed.value;
      if (m.op === BOOTREQUEST && fromClientSide && d.src !== clientSide.address) request(d, m.hops, m.giaddr);
      else if (m.op === BOOTREPLY && m.giaddr === clientSide.address && (d.dst === clientSide.address || !fromClientSide))
        reply(d, m.flags, m.yiaddr, chaddrMac(m));
      else stats.dropped++;
    };
  if (serverSocket === clientSocket.value) clientSocket.value.onMessage(handle(true));
  else {
    clientSocket.value.onMessage(handle(true));
    serverSocket.onMessage(handle(false));
  }
  return ok({
    get stats() {
      return stats;
    },
    close() {
      clientSocket.value.close();
      if (serverSocket !== clientSocket.value) serverSocket.close();
    },
  });
}
