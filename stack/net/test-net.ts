// Test-only: the "two stacks on a wire" fixture, for tests of every layer (stack/, harness/ and
// test/ may all import it; it lives in stack/ because the stack's own tests use it too).
//   createTwoStacks         a (192.0.2.10/24) and b (192.0.2.11/24) back to back on a device pair
//                           (no impairments, a log of every frame, offloads as the pair offers)
//   createTwoStacksOnLink   the same two stacks on a point-to-point link with impairments both
//                           ways, end a optionally captured
// Drive them with settle() / pumpUntil() from stack/settle.ts.
import { createDevicePair, type DevicePair, type DevicePairOptions } from "../link/pair.ts";
import { withCapture, type PacketSink } from "../link/capture.ts";
import type { ImpairmentOptions } from "../link/impairments.ts";
import { createPointToPointLink, type PointToPointLink } from "../link/point-to-point.ts";
import type { NetDevice } from "../link/types.ts";
import { createRng, createVirtualClock, type VirtualClock } from "../time.ts";
import { createStack, type Stack, type StackOptions } from "../index.ts";

export const A_IP = 0xc000020a; // 192.0.2.10
export const B_IP = 0xc000020b; // 192.0.2.11
export const A_MAC = 0x020000000001;
export const B_MAC = 0x020000000002;

export interface TwoStacks {
  readonly clock: VirtualClock;
  readonly pair: DevicePair;
  readonly a: Stack;
  readonly b: Stack;
}

/** What both fixtures share: the stacks' options and seeds. */
export interface TwoStacksCommonOptions {
  /** Merged over a's defaults (name "a", ipv4 192.0.2.10/24). */
  readonly a?: StackOptions;
  /** Merged over b's defaults (name "b", ipv4 192.0.2.11/24). */
  readonly b?: StackOptions;
  /** a's Rng takes seed, b's seed + 1000, the link's seed ^ 0x1234567 [1]. */
  readonly seed?: number;
}

function stacksOn(clock: VirtualClock, devA: NetDevice, devB: NetDevice, opts: TwoStacksCommonOptions): { a: Stack; b: Stack } {
  const seed = opts.seed ?? 1;
  const a = createStack({ device: devA, clock, rng: createRng(seed) }, { name: "a", ipv4: { cidr: "192.0.2.10/24" }, ...opts.a });
  const b = createStack({ device: devB, clock, rng: createRng(seed + 1000) }, { name: "b", ipv4: { cidr: "192.0.2.11/24" }, ...opts.b });
  return { a, b };
}

/** Stacks a (192.0.2.10/24) and b (192.0.2.11/24) on one wire. */
export function createTwoStacks(opts: TwoStacksCommonOptions & { pair?: DevicePairOptions } = {}): TwoStacks {
  const clock = createVirtualClock();
  const pair = createDevicePair(clock, opts.pair);
  return { clock, pair, ...stacksOn(clock, pair.a, pair.b, opts) };
}

/** Options of createTwoStacksOnLink(). */
export interface TwoStacksOnLinkOptions extends TwoStacksCommonOptions {
  /** Impairments of each direction (default none). */
  readonly impairments?: ImpairmentOptions;
  /** IP MTU of both ends [1500]. */
  readonly mtu?: number;
  /** Records every frame a sends and receives. */
  readonly captureA?: PacketSink;
  /** veth-like ends: no checksums computed, frames delivered as validated (LinkEndOptions.checksumUnnecessary). */
  readonly checksumUnnecessary?: boolean;
}

/** Two stacks on an impaired point-to-point link. */
export interface TwoStacksOnLink {
  readonly clock: VirtualClock;
  readonly link: PointToPointLink;
  readonly a: Stack;
  readonly b: Stack;
}

/** Stacks a (192.0.2.10/24, MAC A_MAC) and b (192.0.2.11/24, B_MAC) on a point-to-point link. */
export function createTwoStacksOnLink(opts: TwoStacksOnLinkOptions = {}): TwoStacksOnLink {
  const clock = createVirtualClock();
  const end = (mac: number) => ({
    mac,
    ...(opts.mtu === undefined ? {} : { mtu: opts.mtu }),
    ...(opts.impairments === undefined ? {} : { impairments: opts.impairments }),
    ...(opts.checksumUnnecessary === true ? { checksumUnnecessary: true } : {}),
  });
  const link = createPointToPointLink({ clock, rng: createRng((opts.seed ?? 1) ^ 0x1234567) }, { a: end(A_MAC), b: end(B_MAC) });
  const devA = opts.captureA === undefined ? link.a : withCapture(link.a, opts.captureA, { clock, name: "a" });
  return { clock, link, ...stacksOn(clock, devA, link.b, opts) };
}
