// Public surface of stack/app/dhcp: the RFC 2131 client and server, and helpers that wire them
// to an assembled stack (UDP ports 67/68, Ipv4Layer.configure, ARP probe for RFC 5227).
//
// createDhcpClient / createDhcpServer   the factories (message-level dependencies).
// dhcpClientOnStack / dhcpServerOnStack the same, taking their dependencies from a Stack.
import type { Clock, Rng } from "../../time.ts";
import type { MacAddress, Ipv4Address } from "../../wire/address.ts";
import type { UdpLayer } from "../../transport/types.ts";
import { createDhcpClient, type DhcpClientOptions } from "./client.ts";
import { createDhcpServer, type DhcpServerArp } from "./server.ts";
import type { ClientLeaseStore, DhcpClient, DhcpHost, DhcpServer, DhcpServerConfig, LeaseStore } from "./types.ts";

export * from "./types.ts";
export { createDhcpClient, type DhcpClientDeps, type DhcpClientOptions } from "./client.ts";
export { createDhcpServer, createMemoryLeaseStore, clientKeyOf, type DhcpServerDeps, type DhcpServerArp } from "./server.ts";
export { createDhcpRelay, type DhcpRelay, type DhcpRelayDeps, type DhcpRelayOptions, type DhcpRelayStats } from "./relay.ts";

/** The parts of a Stack (stack/index.ts) DHCP uses. */
export interface DhcpStackView {
  readonly clock: Clock;
  readonly rng: Rng;
  readonly udp: UdpLayer;
  readonly ipv4: DhcpHost;
  readonly device: { readonly mac: MacAddress };
  readonly arp: DhcpServerArp & { probe(ip: Ipv4Address, cb: (conflict: boolean) => void): { cancel(): void } };
}

/** A DHCP client on `stack`, probing offered addresses with ARP unless `probe` is false. */
export function dhcpClientOnStack(
  stack: DhcpStackView,
  options: DhcpClientOptions = {},
  extra: { leaseStore?: ClientLeaseStore; probe?: boolean } = {},
): DhcpClient {
  const prober =
    extra.probe === false
      ? undefined
      : {
          probe: (a: Ipv4Address, done: (conflict: boolean) => void) => {
            const task = stack.arp.probe(a, done);
            return () => task.cancel();
          },
        };
  return createDhcpClient(
    {
      clock: stack.clock,
      rng: stack.rng,
      udp: stack.udp,
      ipv4: stack.ipv4,
      mac: stack.device.mac,
      ...(prober ? { prober } : {}),
      ...(extra.leaseStore ? { leaseStore: extra.leaseStore } : {}),
    },
    options,
  );
}

/** A DHCP server on `stack` (which must be configured, or have config.serverId). */
export function dhcpServerOnStack(stack: DhcpStackView, config: DhcpServerConfig, store?: LeaseStore): DhcpServer {
  return createDhcpServer({ clock: stack.clock, udp: stack.udp, ipv4: stack.ipv4, arp: stack.arp, ...(store ? { store } : {}) }, config);
}
