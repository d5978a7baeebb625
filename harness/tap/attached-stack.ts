// The stack `netlab attach` runs on a device: createStack plus the applications attach offers
// (ICMP echo both ways, a DHCP client, an HTTP file server), behind one small interface.
// composeAttachedStack(deps, options): builds it; ready resolves once an address is configured.
import type { NetDevice } from "../../stack/link/types.ts";
import type { Clock, Rng } from "../../stack/time.ts";
import type { Ipv4Address, Ipv4Cidr } from "../../stack/wire/address.ts";

/** What attach needs from a running stack. */
export interface AttachedStack {
  /** Resolves with the address once configured (static: at once; DHCP: first lease). */
  readonly ready: Promise<Ipv4Cidr>;
  gateway(): Ipv4Address | undefined;
  /** Flat counters of the layers (names prefixed by layer). */
  counters(): Record<string, number>;
  /** One echo request; resolves with the round-trip time in ms. */
  ping(dst: Ipv4Address, seq: number): Promise<number>;
  /** Releases the DHCP lease (if any), stops the HTTP server; the device stays open. */
  stop(): Promise<void>;
}

/** Options of composeAttachedStack(). */
export interface AttachedStackOptions {
  readonly address: { readonly kind: "static"; readonly cidr: Ipv4Cidr; readonly gateway?: Ipv4Address } | { readonly kind: "dhcp" };
  readonly http?: { readonly root: string; readonly port: number };
}

/** Builds the stack on `device`. Throws with code ATTACH_STACK while the stack is not available. */
export async function composeAttachedStack(
  _deps: { device: NetDevice; clock: Clock; rng: Rng },
  _options: AttachedStackOptions,
): Promise<AttachedStack> {
  throw Object.assign(new Error("createStack() is not available in this build yet"), { code: "ATTACH_STACK" });
}
