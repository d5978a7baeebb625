// DHCPv6 between netlab and real implementations over a tap: netlab's client (mode from-ra)
// against dnsmasq's DHCPv6 and RA (M flag, then O only), and the kernel side's dhclient -6
// against netlab's server. The scenarios are ipv6-scenarios.ts, run again through the Xen path
// by xen-dhcp6.test.ts.
import { describe, it } from "vitest";
import { missingTools } from "../../harness/netns/index.ts";
import { announceSkip, interopSkipReason, report, withTapLab } from "./support.ts";
import { DHCLIENT_LAB, dhclientFromNetlabServer, dhcp6LeaseFromDnsmasq, dhcp6StatelessFromDnsmasq, tapSite } from "./ipv6-scenarios.ts";

const skip = announceSkip("DHCPv6 interop", interopSkipReason(["tcpdump", "tshark", "ping"]));
const missing = (tool: string): boolean => missingTools([tool]).length > 0;

describe.skipIf(skip)("DHCPv6 between netlab and real implementations", () => {
  it.skipIf(missing("dnsmasq"))("netlab's client sees dnsmasq's RA set M, leases an address, answers ping6 on it, and releases it on stop", async () => {
    const { figure } = await withTapLab("netlab dhcpv6 client vs dnsmasq", { ipv6: true }, (lab) => dhcp6LeaseFromDnsmasq(tapSite(lab)));
    report(figure);
  });

  it.skipIf(missing("dnsmasq"))("netlab's client sees dnsmasq's RA set O only (ra-stateless) and gets the DNS servers with INFORMATION-REQUEST", async () => {
    const { figure } = await withTapLab("netlab dhcpv6 stateless vs dnsmasq", { ipv6: true }, (lab) => dhcp6StatelessFromDnsmasq(tapSite(lab)));
    report(figure);
  });

  it.skipIf(missing("dhclient"))("dhclient -6 obtains a lease from netlab's DHCPv6 server", async () => {
    const { figure } = await withTapLab("dhclient -6 vs netlab dhcpv6 server", DHCLIENT_LAB, (lab) => dhclientFromNetlabServer(tapSite(lab)));
    report(figure);
  });
});
