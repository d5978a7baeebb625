// DHCPv6 through the Xen path against real implementations: netlab's client in a domU behind
// netfront, netback and dom0's bridge leases from dnsmasq on the kernel side (the M flag of its
// RA), gets the DNS servers statelessly (O only), and the kernel's dhclient -6 leases from
// netlab's DHCPv6 server in the domU. The scenarios of dhcp6.test.ts (ipv6-scenarios.ts), each in
// its own lab; each also holds the Xen path to no peer errors and no drops.
import { describe, it } from "vitest";
import { missingTools } from "../../harness/netns/index.ts";
import { announceSkip, interopSkipReason } from "./support.ts";
import { DHCLIENT_LAB, dhclientFromNetlabServer, dhcp6LeaseFromDnsmasq, dhcp6StatelessFromDnsmasq } from "./ipv6-scenarios.ts";
import { watchXenPath, report, withXenLab } from "./xen-support.ts";

const skip = announceSkip("Xen-path DHCPv6 interop", interopSkipReason(["tcpdump", "tshark", "ping"]));
const missing = (tool: string): boolean => missingTools([tool]).length > 0;

describe.skipIf(skip)("DHCPv6 between real implementations and a domU behind netfront/netback", () => {
  it.skipIf(missing("dnsmasq"))("the domU's client sees dnsmasq's RA set M, leases an address, answers ping6 on it, and releases it on stop", async () => {
    await withXenLab("dhcpv6 client vs dnsmasq", { ipv6: true }, async (x) => {
      const xenPathClean = watchXenPath(x);
      const { figure } = await dhcp6LeaseFromDnsmasq(x);
      report(`xen: ${figure}; ${await xenPathClean()}`);
    });
  });

  it.skipIf(missing("dnsmasq"))("the domU's client sees dnsmasq's RA set O only (ra-stateless) and gets the DNS servers with INFORMATION-REQUEST", async () => {
    await withXenLab("dhcpv6 stateless vs dnsmasq", { ipv6: true }, async (x) => {
      const xenPathClean = watchXenPath(x);
      const { figure } = await dhcp6StatelessFromDnsmasq(x);
      report(`xen: ${figure}; ${await xenPathClean()}`);
    });
  });

  it.skipIf(missing("dhclient"))("the kernel's dhclient -6 obtains a lease from netlab's DHCPv6 server in the domU", async () => {
    await withXenLab("dhclient -6 vs domU dhcpv6 server", DHCLIENT_LAB, async (x) => {
      const xenPathClean = watchXenPath(x);
      const { figure } = await dhclientFromNetlabServer(x);
      report(`xen: ${figure}; ${await xenPathClean()}`);
    });
  });
});
