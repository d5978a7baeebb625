// Lab topologies over IPv6: the pmtu-1280-v6 example (SLAAC from the routers' RAs, a static
// host, IPv6 routes, Packet Too Big across a 1280-MTU link between two routers, a traceroute and
// a ping over IPv6), its captures checked by tshark, and the validation of the IPv6 fields.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { errorsOf, example } from "./test-kit.ts";
import { TSHARK_WELLFORMED_FILTER, checkCaptureWithTshark, tsharkFields, tsharkMissingReason } from "../oracle/tshark.ts";
import { describeTopology, formatLabSummary, runLab } from "./index.ts";

describe("lab topologies over IPv6", () => {
  it("pmtu-1280-v6: SLAAC, Packet Too Big from r1, TCP over v6 continues in 1280-byte packets; traceroute -6 finds r1, r2, b", async () => {
    const dir = mkdtempSync(join(tmpdir(), "netlab-lab6-"));
    try {
      const r = await runLab(example("pmtu-1280-v6"), { outDir: dir });
      const bulk = r.flows.find((f) => f.name === "bulk6")!;
      expect(bulk).toMatchObject({ family: "ipv6", connected: true });
      // 3 s at up to 20 Mb/s through the narrow link: well over a megabyte once the PMTU is learnt.
      expect(bulk.bytesReceived).toBeGreaterThan(1_000_000);
      expect(bulk.path).toEqual(["a-r1 a:eth0->r1:eth0", "narrow r1:eth1->r2:eth0", "r2-b r2:eth1->b:eth0"]);
      const r1 = r.routers["r1"]!;
      expect(r1["v6.drop.packet-too-big"]).toBeGreaterThanOrEqual(1);
      expect(r1["v6.forwarded"]).toBeGreaterThan(1000);
      expect(r1["forwarded"]).toBe(0); // nothing of the flows went over IPv4
      const trace = r.traceroutes.find((t) => t.name === "trace6")!;
      expect(trace.reached).toBe(true);
      expect(trace.hops.map((h) => h.from)).toEqual(["2001:db8:1::1", "2001:db8:ff::2", "2001:db8:2::2"]);
      const ping = r.pings.find((p) => p.name === "ping6")!;
      expect(ping.received).toBeGreaterThanOrEqual(1);
      expect(ping.lost).toBe(0);
      const summary = formatLabSummary(r);
      expect(summary).toContain("bulk6    a -> b IPv6 cubic");
      expect(summary).toMatch(/router r1: 0 forwarded\n {2}IPv6: \d+ forwarded, \d+ ICMPv6 errors sent, dropped: .*packet-too-big \d+/);
      if (tsharkMissingReason() === undefined) {
        for (const link of ["narrow", "r2-b"]) expect(checkCaptureWithTshark(join(dir, `${link}.pcapng`)).offending).toEqual([]);
        // On a-r1 tshark 4.0 checks the TCP checksum of the segment a Packet Too Big quotes, over the
        // 1232 bytes quoted of 1440 (RFC 4443 §2.4(c); Linux quotes the same), and calls it bad; the v4
        // pmtu-1280 capture shows the same for its fragmentation-needed quotes. Those messages are held
        // to their own checksum and to being well-formed; everything else to the whole filter.
        const quoteForgiven = `icmpv6.type == 2 && !_ws.malformed && icmpv6.checksum.status == "Good"`;
        expect(tsharkFields(join(dir, "a-r1.pcapng"), ["frame.number"], `(${TSHARK_WELLFORMED_FILTER}) && !(${quoteForgiven})`)).toEqual([]);
        expect(tsharkFields(join(dir, "a-r1.pcapng"), ["frame.number"], "icmpv6.type == 2").length).toBe(r1["v6.drop.packet-too-big"]);
        // Routers never fragment IPv6: no packet over 1280 bytes on the narrow link, no fragment header anywhere there.
        const narrow = tsharkFields(join(dir, "narrow.pcapng"), ["ipv6.plen", "ipv6.nxt"], "ipv6");
        expect(narrow.length).toBeGreaterThan(1000);
        // (An ICMPv6 error shows two IPv6 headers, "outer,quoted": the outer one's length counts.)
        expect(Math.max(...narrow.map(([plen]) => Number(plen!.split(",")[0])))).toBe(1240);
        expect(narrow.filter(([, nxt]) => nxt!.split(",")[0] === "44")).toEqual([]);
        // The Packet Too Big r1 sent to a, as tshark reads it.
        const ptb = tsharkFields(join(dir, "a-r1.pcapng"), ["ipv6.src", "ipv6.dst", "icmpv6.mtu", "ipv6.plen"], "icmpv6.type == 2");
        expect(ptb.length).toBe(r1["v6.drop.packet-too-big"]);
        // Outer header first ("outer,quoted"): from r1's address on a's link, to a, MTU 1280, 8 + 1232 quoted bytes.
        const outer = ptb[0]!.map((v) => v.split(",")[0]);
        expect(outer).toEqual(["2001:db8:1::1", expect.stringMatching(/^2001:db8:1:/), "1280", "1240"]);
        // a autoconfigured from r1's RA (prefix information 2001:db8:1::/64).
        expect(tsharkFields(join(dir, "a-r1.pcapng"), ["icmpv6.opt.prefix"], "icmpv6.type == 134").flat()).toContain("2001:db8:1::");
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("describe shows the IPv6 addresses, the router's NDP role and the IPv6 routes", () => {
    const text = describeTopology(example("pmtu-1280-v6"));
    expect(text).toContain("IPv6 slaac");
    expect(text).toContain("IPv6 2001:db8:1::1/64 (NDP router: RAs with these prefixes, answers RS; IPv6 forwarding, net/forward6.ts)");
    expect(text).toContain("route 2001:db8:2::/64 via 2001:db8:ff::2 (IPv6)");
  });

  it("refuses bad IPv6 fields before anything runs, naming each one's path", () => {
    const t = JSON.parse(JSON.stringify(example("pmtu-1280-v6"))) as any;
    t.nodes[1].interfaces[0].ipv6 = ["slaac"];
    t.nodes[1].routes[1].via = "2001:db8:7::1";
    t.nodes[3].interfaces[0].ipv6 = ["2001:db8:ff::2/64"];
    t.nodes[0].interfaces[0].ipv6 = ["fe80::1/64"];
    t.flows[2].kind = "udp-cbr";
    t.flows[2].rateBitsPerSecond = 1000;
    delete t.flows[2].intervalMs;
    expect(errorsOf(t)).toEqual([
      "/nodes/0/interfaces/0/ipv6/0: must be a global unicast address (the link-local one is always formed)",
      "/nodes/1/interfaces/0/ipv6/0: a router's IPv6 addresses are static (it sends the RAs)",
      "/nodes/1/routes/1/via: gateway 2001:db8:7::1 is in none of r1's IPv6 prefixes (a route to nowhere)",
      "/nodes/3/interfaces/0/ipv6/0: address 2001:db8:ff::2 is also r2:eth0's",
      "/nodes/3/routes/1/via: gateway 2001:db8:2::1 is in none of b's IPv6 prefixes (a route to nowhere)",
      "/flows/2/family: an IPv6 flow is bulk-tcp, ping or traceroute in this runner (not udp-cbr)",
    ]);
    // A malformed value is a schema error (reported alone, before the graph is checked).
    t.nodes[0].interfaces[0].ipv6 = ["2001:db8:1::/", "slaac", "2001:db8:1::2"];
    expect(errorsOf(t)).toEqual(["/nodes/0/interfaces/0/ipv6/0: must be ipv6-cidr-or-slaac", "/nodes/0/interfaces/0/ipv6/2: must be ipv6-cidr-or-slaac"]);
    const u = JSON.parse(JSON.stringify(example("pmtu-1280-v6"))) as any;
    delete u.nodes[3].interfaces[0].ipv6;
    u.nodes[3].routes.pop();
    u.nodes[0].implementation = "xen";
    expect(errorsOf(u)).toEqual([
      "/nodes/0/interfaces/0/ipv6: IPv6 is for netlab hosts and routers in this runner (a is a xen host)",
      '/flows/0/to: b has no IPv6 address (give its interface "ipv6")',
      '/flows/1/to: b has no IPv6 address (give its interface "ipv6")',
      '/flows/2/to: b has no IPv6 address (give its interface "ipv6")',
    ]);
  });
});
