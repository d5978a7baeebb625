// Test fixture for the Node wrappers: two full stacks (192.0.2.1 "a", 192.0.2.2 "b"; with
// ipv6 also 2001:db8::1 and 2001:db8::2, DAD done) on a point-to-point wire with optional
// impairments, on one VirtualClock.
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
export function createNodeTestNet(o: { seed?: number; impair?: ImpairmentOptions; tcp?: TcpLayerOptions; ipv6?: boolean } = {}): NodeTestNet {
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
  const v6 = (n: number) => (o.ipv6 === true ? { ipv6: { addresses: [`2001:db8::${n}/64`], routerSolicitations: false } } : {});
  const a = createStack({ device: link.a, clock, rng: createRng(seed * 2 + 1) }, { name: "a", ipv4: { cidr: "192.0.2.1/24" }, ...v6(1), ...tcp });
  const b = createStack({ device: link.b, clock, rng: createRng(seed * 2 + 2) }, { name: "b", ipv4: { cidr: "192.0.2.2/24" }, ...v6(2), ...tcp });
  // DAD (a random delay, then one probe a second) before the v6 addresses can be used.
  if (o.ipv6 === true) clock.run(clock.now() + 3000);
  return { clock, link, a, b };
}
