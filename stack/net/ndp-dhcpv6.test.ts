// What Neighbor Discovery offers DHCPv6: the RA's M and O flags, and addresses with lifetimes
// of origin "dhcpv6" whose renewal updates the lifetimes without a second DAD.
import { describe, expect, it } from "vitest";
import { formatIpv6, ipv6 } from "../wire/ipv6-address.ts";
import type { RaConfigFlags } from "./ipv6-types.ts";
import { PEER_LL, asNd, createRawPeer, ndPacket } from "./ipv6-test-net.ts";

const raWithFlags = (flags: number) =>
  ndPacket(
    PEER_LL,
    ipv6("ff02::1"),
    {
      kind: "router-advertisement",
      curHopLimit: 0,
      flags,
      routerLifetime: 1800,
      reachableTime: 0,
      retransTimer: 0,
      options: [],
    },
    255,
  );

describe("ndp for DHCPv6", () => {
  it("exposes the M and O flags of each RA accepted and tells the handlers", () => {
    const t = createRawPeer();
    const seen: RaConfigFlags[] = [];
    t.stack.ipv6!.ndp.onRouterAdvertisement((f) => seen.push(f));
    expect(t.stack.ipv6!.ndp.raFlags).toBeUndefined();
    t.inject(raWithFlags(0xc0));
    t.clock.run(10);
    t.inject(raWithFlags(0x40));
    t.clock.run(10);
    expect(seen.map((f) => [f.managed, f.other, formatIpv6(f.router)])).toEqual([
      [true, true, "fe80::ff:fe00:2"],
      [false, true, "fe80::ff:fe00:2"],
    ]);
    expect(t.stack.ipv6!.ndp.raFlags).toMatchObject({ managed: false, other: true });
  });

  it("ignores the flags of an RA from off-link (hop limit 254)", () => {
    const t = createRawPeer();
    t.inject(
      ndPacket(
        PEER_LL,
        ipv6("ff02::1"),
        {
          kind: "router-advertisement",
          curHopLimit: 0,
          flags: 0x80,
          routerLifetime: 1800,
          reachableTime: 0,
          retransTimer: 0,
          options: [],
        },
        254,
      ),
    );
    t.clock.run(10);
    expect(t.stack.ipv6!.ndp.raFlags).toBeUndefined();
  });

  it("keeps a dhcpv6 address preferred, then deprecated, then drops it; adding it again moves the lifetimes without DAD", () => {
    const t = createRawPeer({ ipv6: { dadTransmits: 1, routerSolicitations: false } });
    const ndp = t.stack.ipv6!.ndp;
    const a = ipv6("2001:db8::100");
    const start = t.clock.now();
    const outcome: string[] = [];
    ndp.addAddress(a, 128, (r) => outcome.push(r.ok ? "ok" : r.error), { origin: "dhcpv6", preferredUntil: start + 5000, validUntil: start + 10_000 });
    t.clock.run(start + 2000);
    expect(outcome).toEqual(["ok"]);
    const nsCount = () => t.sent().filter((s) => s.ip.nextHeader === 58 && asNd(s).kind === "neighbor-solicitation").length;
    expect(nsCount()).toBe(1);
    const entry = () => ndp.addresses().find((x) => formatIpv6(x.address) === "2001:db8::100");
    expect(entry()).toMatchObject({ origin: "dhcpv6", state: "preferred", prefixLength: 128 });
    t.clock.run(start + 6000);
    expect(entry()?.state).toBe("deprecated");
    ndp.addAddress(a, 128, undefined, { origin: "dhcpv6", preferredUntil: start + 20_000, validUntil: start + 30_000 });
    expect(entry()).toMatchObject({ state: "preferred", preferredUntil: start + 20_000, validUntil: start + 30_000 });
    t.clock.run(start + 31_000);
    expect(entry()).toBeUndefined();
    expect(nsCount()).toBe(1);
  });
});
