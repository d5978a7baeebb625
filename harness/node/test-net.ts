// Test fixture for the Node wrappers: two full stacks (192.0.2.1 "a", 192.0.2.2 "b") on a
// point-to-point wire with optional impairments, on one VirtualClock.
import { createStack, type Stack, type TcpLayerOptions } from "../../stack/index.ts";
import { createPointToPointLink, type ImpairmentOptions, type PointToPointLink } from "../../stack/link/index.ts";
import { createRng, createVirtualClock, type VirtualClock } from "../../stack/time.ts";

/** Two stacks joined by a wire. */
export interface NodeTestNet {
  readonly clock: VirtualClock;
  readonly link: PointToPointLink;
  readonly a: Stack;
  readonly b: Stack;
}

/** Builds the two stacks; the same seed gives the same run. */
export function createNodeTestNet(o: { seed?: number; impair?: ImpairmentOptions; tcp?: TcpLayerOptions } = {}): NodeTestNet {
  const seed = o.seed ?? 1;
  const clock = createVirtualClock(0);
  const impairments = o.impair ?? { delayMs: 1 };
  const link = createPointToPointLink(
    { clock, rng: createRng(seed ^ 0x5eed) },
    {
      a: { mac: 0x020000000001, impairments },
      b: { mac: 0x020000000002, impairments },
    },
  );
  const tcp = o.tcp === undefined ? {} : { tcp: o.tcp };
  const a = createStack({ device: link.a, clock, rng: createRng(seed * 2 + 1) }, { name: "a", ipv4: { cidr: "192.0.2.1/24" }, ...tcp });
  const b = createStack({ device: link.b, clock, rng: createRng(seed * 2 + 2) }, { name: "b", ipv4: { cidr: "192.0.2.2/24" }, ...tcp });
  return { clock, link, a, b };
}
