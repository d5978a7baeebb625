// IPv6 between netlab and the Linux kernel over a tap: each side pings the other over
// link-local and global addresses (NDP resolution both ways, DAD on both sides), fragments both
// ways, Packet Too Big from the kernel as a router, and netlab autoconfigures (SLAAC) from the
// Router Advertisements dnsmasq sends on the kernel side. The last three are ipv6-scenarios.ts,
// which xen-ipv6.test.ts runs again through the Xen path.
import { describe, expect, it } from "vitest";
import { createStack } from "../../stack/index.ts";
import { formatIpv6, ipv6, linkLocalFromMac } from "../../stack/wire/ipv6-address.ts";
import { createSeededRng } from "../../harness/time/real-clock.ts";
import { tsharkFields } from "../../harness/oracle/tshark.ts";
import { announceSkip, interopSkipReason, report, tsharkOffending, waitUntil, withTapLab } from "./support.ts";
import { addressReady, fragmentsBothWays, kernelLinkLocal, ping6, pmtuFromKernelRouter, slaacFromDnsmasq, tapSite } from "./ipv6-scenarios.ts";

const skip = announceSkip("IPv6 interop", interopSkipReason(["ping", "tcpdump", "tshark"]));
const skipRa = announceSkip("IPv6 RA interop", interopSkipReason(["ping", "tcpdump", "tshark", "dnsmasq"]));

describe.skipIf(skip)("IPv6 between netlab and the kernel", () => {
  it("the kernel pings netlab and netlab pings the kernel, over link-local and global addresses", async () => {
    await withTapLab("ipv6 ping both ways", { ipv6: true }, async (lab) => {
      await lab.ns.ip("-6", "addr", "add", "2001:db8:1::1/64", "dev", lab.ifname, "nodad");
      const stack = createStack({ device: lab.device, clock: lab.clock, rng: createSeededRng() }, { ipv6: { addresses: ["2001:db8:1::2/64"] } });
      await waitUntil(addressReady(stack, "static"), 5000, "netlab's DAD");
      const ours = formatIpv6(linkLocalFromMac(lab.device.mac));
      const viaLinkLocal = await lab.ns.exec("ping", ["-6", "-n", "-c", "3", "-i", "0.1", "-W", "2", `${ours}%${lab.ifname}`], { timeoutMs: 10_000 });
      expect(viaLinkLocal.stdout).toMatch(/3 packets transmitted, 3 received/);
      const viaGlobal = await lab.ns.exec("ping", ["-6", "-n", "-c", "3", "-i", "0.1", "-W", "2", "-s", "1000", "2001:db8:1::2"], { timeoutMs: 10_000 });
      expect(viaGlobal.stdout).toMatch(/3 packets transmitted, 3 received/);
      expect(viaGlobal.stdout).toMatch(/1008 bytes from 2001:db8:1::2/);

      const kernelLl = await kernelLinkLocal(lab);
      const rtts = [await ping6(stack, ipv6("2001:db8:1::1"), 1), await ping6(stack, ipv6(kernelLl), 2), await ping6(stack, ipv6("2001:db8:1::1"), 3)];
      expect(rtts).toHaveLength(3);
      const c = stack.counters();
      expect(c.icmpv6).toMatchObject({ echoRequestsReceived: 6, echoRepliesSent: 6, echoRepliesReceived: 3 });
      expect(c.ndp).toMatchObject({ dadFailed: 0 });
      // The kernel's neighbour table holds netlab (resolved through our NA).
      const neigh = await lab.ns.ip("-6", "neigh", "show", "dev", lab.ifname);
      expect(neigh).toMatch(/2001:db8:1::2 lladdr [0-9a-f:]+ (REACHABLE|STALE|DELAY|PROBE)/);
      expect(tsharkOffending(lab)).toEqual([]);
      if (lab.netlabCapture !== undefined) {
        expect(tsharkFields(lab.netlabCapture, ["frame.number"], 'icmpv6.checksum.status == "Bad"')).toEqual([]);
        // Every ND message on the wire carries hop limit 255.
        const nd = tsharkFields(lab.netlabCapture, ["ipv6.hlim"], "icmpv6.type >= 133 && icmpv6.type <= 137").map((f) => f[0]);
        expect(nd.length).toBeGreaterThan(0);
        expect(new Set(nd)).toEqual(new Set(["255"]));
      }
      report(`kernel -> netlab ping6: ${/rtt [^\n]*/.exec(viaGlobal.stdout)?.[0] ?? "?"}; netlab -> kernel ms: ${rtts.map((r) => r.toFixed(3)).join(", ")}`);
    });
  });

  it("fragments both ways: the kernel's 3000-byte ping6 reassembles in netlab, and a 4000-byte UDP datagram from netlab reassembles in the kernel, which echoes it back in fragments", async () => {
    const { figure } = await withTapLab("ipv6 fragments both ways", { ipv6: true }, (lab) => fragmentsBothWays(tapSite(lab)));
    report(figure);
  });

  it("path MTU discovery: the kernel, routing to a 1300-byte link, sends Packet Too Big; netlab lowers its path MTU (RFC 8201) and its next datagrams fit", async () => {
    const { figure } = await withTapLab("ipv6 pmtu from kernel router", { ipv6: true }, (lab) => pmtuFromKernelRouter(tapSite(lab)));
    report(figure);
  });

  it.skipIf(skipRa)("netlab autoconfigures from dnsmasq's router advertisements (SLAAC) and is reachable on the address it formed", async () => {
    const { stack, figure } = await withTapLab("ipv6 slaac from dnsmasq", { ipv6: true }, (lab) => slaacFromDnsmasq(tapSite(lab)));
    report(`${figure}; ndp ${JSON.stringify(stack.counters().ndp)}`);
  });
});
