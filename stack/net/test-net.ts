// Test-only: two stacks joined back to back by createDevicePair, on one VirtualClock.
import { createDevicePair, type DevicePair, type DevicePairOptions } from "../link/pair.ts";
import { createRng, createVirtualClock, type VirtualClock } from "../time.ts";
import { createStack, type Stack, type StackOptions } from "../index.ts";

export const A_IP = 0xc000020a; // 192.0.2.10
export const B_IP = 0xc000020b; // 192.0.2.11

export interface TwoStacks {
  readonly clock: VirtualClock;
  readonly pair: DevicePair;
  readonly a: Stack;
  readonly b: Stack;
}

/** Stacks a (192.0.2.10/24) and b (192.0.2.11/24) on one wire. */
export function createTwoStacks(opts: { pair?: DevicePairOptions; a?: StackOptions; b?: StackOptions; seed?: number } = {}): TwoStacks {
  const clock = createVirtualClock();
  const pair = createDevicePair(clock, opts.pair);
  const a = createStack({ device: pair.a, clock, rng: createRng(opts.seed ?? 1) }, { name: "a", ipv4: { cidr: "192.0.2.10/24" }, ...opts.a });
  const b = createStack({ device: pair.b, clock, rng: createRng((opts.seed ?? 1) + 1000) }, { name: "b", ipv4: { cidr: "192.0.2.11/24" }, ...opts.b });
  return { clock, pair, a, b };
}
