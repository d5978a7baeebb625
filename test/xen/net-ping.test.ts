import { describe, expect, it } from "vitest";
import { createRng, createVirtualClock } from "../../stack/time.ts";
import { unwrap } from "../../stack/result.ts";
import { parseIpv4 } from "../../stack/wire/address.ts";
import { buildXenNetwork } from "../../xen-sim/net/network.ts";
import { pumpUntil } from "../../stack/settle.ts";

describe("netfront/netback ping", () => {
  it("two domUs ping each other across netfront, netback and the dom0 bridge", async () => {
    const clock = createVirtualClock();
    const net = unwrap(await buildXenNetwork({ clock, rng: createRng(1) }));
    const [a, b] = net.guests;
    const results: unknown[] = [];
    a!.stack.icmp.ping(unwrap(parseIpv4("192.0.2.2")), { timeoutMs: 1000 }, (r) => results.push(r));
    await pumpUntil(clock, () => results.length > 0);
    expect(results[0]).toMatchObject({ ok: true });
    expect(net.peerErrors).toEqual([]);
    expect(a!.netfront.stats().txFrames).toBeGreaterThan(0);
    expect(b!.netfront.stats().rxFrames).toBeGreaterThan(0);
  });
});
