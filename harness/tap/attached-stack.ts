// The stack `netlab attach` runs on a device: createStack plus the applications attach offers
// (ICMP echo both ways, a DHCP client, an HTTP file server), behind one small interface.
// composeAttachedStack(deps, options): builds it; ready resolves once an address is configured.
import { createStack, type Stack } from "../../stack/index.ts";
import { createDhcpClient, type DhcpClientOptions } from "../../stack/app/dhcp/client.ts";
import type { DhcpClient } from "../../stack/app/dhcp/types.ts";
import type { NetDevice } from "../../stack/link/types.ts";
import type { LayerCounters } from "../../stack/net/types.ts";
import type { Clock, Rng } from "../../stack/time.ts";
import { formatIpv4, type Ipv4Address, type Ipv4Cidr } from "../../stack/wire/address.ts";

/** What attach needs from a running stack. */
export interface AttachedStack {
  readonly stack: Stack;
  /** The DHCP client when the address comes from DHCP. */
  readonly dhcp: DhcpClient | undefined;
  /** Resolves with the address once configured (static: at once; DHCP: first lease). */
  readonly ready: Promise<Ipv4Cidr>;
  gateway(): Ipv4Address | undefined;
  /** Flat counters of the layers ("ipv4.rxPackets", "icmp.drops.bad-checksum", ...). */
  counters(): Record<string, number>;
  /** One echo request; resolves with the round-trip time in ms, rejects with the PingError code. */
  ping(dst: Ipv4Address, seq: number, timeoutMs?: number): Promise<number>;
  /** Releases the DHCP lease (if any), stops the HTTP server; the device stays open. */
  stop(): Promise<void>;
}

/** Options of composeAttachedStack(). */
export interface AttachedStackOptions {
  readonly address: { readonly kind: "static"; readonly cidr: Ipv4Cidr; readonly gateway?: Ipv4Address } | { readonly kind: "dhcp" };
  readonly http?: { readonly root: string; readonly port: number };
  /** DHCP client behaviour (attach starts the first DISCOVER within 0..500 ms). */
  readonly dhcp?: DhcpClientOptions;
  /** Probe a DHCP-offered address with ARP before using it (RFC 5227; default true). */
  readonly dhcpProbe?: boolean;
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

function attachError(message: string): Error {
  return Object.assign(new Error(message), { code: "ATTACH_STACK" });
}

/** Builds the stack on `device`. */
export async function composeAttachedStack(
  deps: { device: NetDevice; clock: Clock; rng: Rng },
  options: AttachedStackOptions,
): Promise<AttachedStack> {
  if (options.http !== undefined) {
    throw attachError("--http-root is not available yet: the stack has no TCP layer in this build");
  }
  const address = options.address;
  const stack = createStack(deps, address.kind === "static"
    ? { name: "attach", ipv4: address.gateway === undefined ? { cidr: address.cidr } : { cidr: address.cidr, gateway: address.gateway } }
    : { name: "attach" });
  let dhcp: DhcpClient | undefined;
  let ready: Promise<Ipv4Cidr>;
  if (address.kind === "static") {
    ready = Promise.resolve(address.cidr);
  } else {
    const probe = options.dhcpProbe ?? true;
    const client = createDhcpClient({
      clock: deps.clock, rng: deps.rng, udp: stack.udp, ipv4: stack.ipv4, mac: deps.device.mac,
      ...(probe ? { prober: { probe: (a, done) => { const task = stack.arp.probe(a, done); return () => task.cancel(); } } } : {}),
    }, { initDelayMinMs: 0, initDelayMaxMs: 500, ...options.dhcp });
    dhcp = client;
    ready = new Promise((resolve) => {
      client.onBound((lease) => resolve({ address: lease.address, prefixLength: lease.prefixLength }));
    });
    client.start();
  }
  return {
    stack,
    dhcp,
    ready,
    gateway: () => stack.ipv4.gateway,
    counters: () => flattenCounters(stack.counters()),
    ping(dst, seq, timeoutMs = 1000) {
      return new Promise((resolve, reject) => {
        stack.icmp.ping(dst, { seq, timeoutMs }, (r) => {
          if (r.ok) resolve(r.value.rttMs);
          else reject(Object.assign(new Error(`${r.error} (${formatIpv4(dst)})`), { code: r.error }));
        });
      });
    },
    async stop() {
      if (dhcp !== undefined && dhcp.state !== "stopped") {
        dhcp.stop({ release: true });
        // The RELEASE is unicast to the server; give ARP a moment if it had to resolve first.
        await new Promise((r) => setTimeout(r, 100));
      }
    },
  };
}
