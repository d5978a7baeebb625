// Public surface of stack/app/dhcp6: the RFC 8415 client and server, and helpers that wire them
// to an assembled stack (UDP6 ports 546/547, the NDP layer for addresses, DAD, RA flags and MLD).
//
// createDhcp6Client / createDhcp6Server   the factories (message-level dependencies).
// dhcp6ClientOnStack / dhcp6ServerOnStack the same, taking their dependencies from a Stack.
import type { Clock, Rng } from "../../time.ts";
import type { MacAddress } from "../../wire/address.ts";
import type { Udp6Stack } from "../../transport/udp6.ts";
import type { NdpLayer } from "../../net/ipv6-types.ts";
import { NetlabError } from "../../error.ts";
import { createDhcp6Client, type Dhcp6ClientOptions } from "./client.ts";
import { createDhcp6Server } from "./server.ts";
import type { Dhcp6Client, Dhcp6LeaseStore, Dhcp6Server, Dhcp6ServerConfig } from "./types.ts";

export * from "./types.ts";
export { createDhcp6Client, DHCP6_TIMING, type Dhcp6ClientDeps, type Dhcp6ClientOptions, type Dhcp6Timing } from "./client.ts";
export { createDhcp6Server, createMemoryLease6Store, type Dhcp6ServerDeps } from "./server.ts";

/** The parts of a Stack (stack/index.ts) DHCPv6 uses. */
export interface Dhcp6StackView {
  readonly clock: Clock;
  readonly rng: Rng;
  readonly udp6: Udp6Stack | undefined;
  readonly ipv6: { readonly ndp: NdpLayer } | undefined;
  readonly device: { readonly mac: MacAddress };
}

function v6Of(stack: Dhcp6StackView): { udp6: Udp6Stack; ndp: NdpLayer } {
  if (stack.udp6 === undefined || stack.ipv6 === undefined) throw new NetlabError("ERR_DHCP6_NO_IPV6", "DHCPv6 needs a stack created with options.ipv6");
  return { udp6: stack.udp6, ndp: stack.ipv6.ndp };
}

/** A DHCPv6 client on `stack` (created with options.ipv6). */
export function dhcp6ClientOnStack(stack: Dhcp6StackView, options: Dhcp6ClientOptions = {}): Dhcp6Client {
  const { udp6, ndp } = v6Of(stack);
  return createDhcp6Client({ clock: stack.clock, rng: stack.rng, udp6, host: ndp, mac: stack.device.mac }, options);
}

/** A DHCPv6 server on `stack` (created with options.ipv6). */
export function dhcp6ServerOnStack(stack: Dhcp6StackView, config: Dhcp6ServerConfig, store?: Dhcp6LeaseStore): Dhcp6Server {
  const { udp6, ndp } = v6Of(stack);
  return createDhcp6Server({ clock: stack.clock, udp6, host: ndp, mac: stack.device.mac, ...(store === undefined ? {} : { store }) }, config);
}
