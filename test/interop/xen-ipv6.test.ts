// IPv6 through the Xen path against the kernel: netlab's stack in a domU behind netfront, netback
// and dom0's bridge, the tap a port of that bridge, the kernel in a namespace. The scenarios of
// ipv6.test.ts (ipv6-scenarios.ts), each in its own lab: SLAAC from dnsmasq's router
// advertisements (multicast RS/RA/NS across the bridge), fragments both ways, and Packet Too Big
// from the kernel routing to a smaller-MTU link. Each also holds the Xen path to no peer errors,
// no drops in bridge, netback or netfront, and every frame netfront queued taken by netback.
import { describe, it } from "vitest";
import { announceSkip, interopSkipReason } from "./support.ts";
import { fragmentsBothWays, pmtuFromKernelRouter, slaacFromDnsmasq } from "./ipv6-scenarios.ts";
import { watchXenPath, report, withXenLab } from "./xen-support.ts";

const skip = announceSkip("Xen-path IPv6 interop", interopSkipReason(["ping", "tcpdump", "tshark", "python3"]));
const skipRa = announceSkip("Xen-path IPv6 RA interop", interopSkipReason(["ping", "tcpdump", "tshark", "dnsmasq"]));

describe.skipIf(skip)("IPv6 between the kernel and a domU behind netfront/netback", () => {
  it.skipIf(skipRa)("the domU autoconfigures (SLAAC) from dnsmasq's router advertisements and is reachable on the address it formed", async () => {
    await withXenLab("ipv6 slaac from dnsmasq", { ipv6: true }, async (x) => {
      const xenPathClean = watchXenPath(x);
      const { figure } = await slaacFromDnsmasq(x);
      report(`xen: ${figure}; ${await xenPathClean()}`);
    });
  });

  it("fragments both ways: the kernel's 3000-byte ping6 reassembles in the domU, and the domU's 4000-byte UDP datagram in the kernel, which echoes it back in fragments", async () => {
    await withXenLab("ipv6 fragments both ways", { ipv6: true }, async (x) => {
      const xenPathClean = watchXenPath(x);
      const { figure } = await fragmentsBothWays(x);
      report(`xen: ${figure}; ${await xenPathClean()}`);
    });
  });

  it("path MTU discovery: the kernel, routing to a 1300-byte link, sends Packet Too Big to the domU, which lowers its path MTU and whose next datagrams fit", async () => {
    await withXenLab("ipv6 pmtu from kernel router", { ipv6: true }, async (x) => {
      const xenPathClean = watchXenPath(x);
      const { figure } = await pmtuFromKernelRouter(x);
      report(`xen: ${figure}; ${await xenPathClean()}`);
    });
  });
});
