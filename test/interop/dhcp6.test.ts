// DHCPv6 between netlab and real implementations over a tap: netlab's client (mode from-ra)
// against dnsmasq's DHCPv6 and RA (M flag), and the kernel side's dhclient -6 against netlab's server.
import { dhclientArgs } from "../../harness/dhcp/dhclient.ts";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { createStack } from "../../stack/index.ts";
import { formatIpv6, ipv6 } from "../../stack/wire/ipv6-address.ts";
import { dhcp6ClientOnStack, dhcp6ServerOnStack } from "../../stack/app/dhcp6/index.ts";
import { createSeededRng } from "../../harness/time/real-clock.ts";
import { missingTools } from "../../harness/netns/index.ts";
import { announceSkip, interopSkipReason, tsharkOffending, waitUntil, withTapLab, type TapLab } from "./support.ts";

const skip = announceSkip("DHCPv6 interop", interopSkipReason(["tcpdump", "tshark", "ping"]));
const missing = (tool: string): boolean => missingTools([tool]).length > 0;

function report(line: string): void {
  process.stderr.write(`[interop] ${line}\n`);
}

/** Waits until the kernel's link-local address on the lab's interface has passed DAD. */
async function kernelLinkLocalReady(lab: TapLab): Promise<void> {
  const deadline = Date.now() + 5000;
  for (;;) {
    const info = JSON.parse(await lab.ns.ip("-j", "-6", "addr", "show", "dev", lab.ifname, "scope", "link")) as Array<{
      addr_info?: Array<{ local?: string; tentative?: boolean }>;
    }>;
    if (info.flatMap((i) => i.addr_info ?? []).some((x) => x.local?.startsWith("fe80") === true && x.tentative !== true)) return;
    if (Date.now() > deadline) throw new Error(`kernel link-local address not ready: ${JSON.stringify(info)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe.skipIf(skip)("DHCPv6 between netlab and real implementations", () => {
  it.skipIf(missing("dnsmasq"))("netlab's client sees dnsmasq's RA set M, leases an address, answers ping6 on it, and releases it on stop", async () => {
    await withTapLab("netlab dhcpv6 client vs dnsmasq", { ipv6: true }, async (lab) => {
      await lab.ns.ip("-6", "addr", "add", "2001:db8:1::1/64", "dev", lab.ifname, "nodad");
      const dnsmasq = lab.spawn("dnsmasq", [
        "--no-daemon",
        "--conf-file=/dev/null",
        "--port=0",
        `--interface=${lab.ifname}`,
        "--bind-interfaces",
        "--enable-ra",
        "--dhcp-range=2001:db8:1::100,2001:db8:1::1ff,64,1h",
        "--dhcp-option=option6:dns-server,[2001:db8:1::53]",
        `--dhcp-leasefile=${join(lab.dir, "dnsmasq.leases")}`,
        `--pid-file=${join(lab.dir, "dnsmasq.pid")}`,
        "--log-dhcp",
        "--log-facility=-",
        "--user=root",
      ]);
      await dnsmasq.waitFor(/DHCPv6, IP range 2001:db8:1::100/, 5000);
      const stack = createStack({ device: lab.device, clock: lab.clock, rng: createSeededRng() }, { ipv6: {} });
      const client = dhcp6ClientOnStack(stack, { mode: "from-ra" });
      const start = performance.now();
      client.start();
      await waitUntil(() => client.state === "bound", 30_000, "a DHCPv6 lease from dnsmasq");
      const leaseMs = performance.now() - start;
      expect(stack.ipv6!.ndp.raFlags?.managed).toBe(true);
      const lease = client.lease!;
      const address = formatIpv6(lease.address);
      expect(address).toMatch(/^2001:db8:1::1[0-9a-f]{2}$/);
      expect(lease.dnsServers.map(formatIpv6)).toEqual(["2001:db8:1::53"]);
      expect(lease.validLifetime).toBe(3600);
      await dnsmasq.waitFor(new RegExp(`DHCPREPLY\\(${lab.ifname}\\) ${address.replaceAll(".", "\\.")}`), 2000);
      const ping = await lab.ns.exec("ping", ["-6", "-n", "-c", "2", "-i", "0.1", "-W", "2", address], { timeoutMs: 10_000 });
      expect(ping.stdout).toMatch(/2 packets transmitted, 2 received/);
      client.stop();
      await dnsmasq.waitFor(new RegExp(`DHCPRELEASE\\(${lab.ifname}\\)`), 5000);
      await waitUntil(() => client.state === "stopped", 5000, "the REPLY to RELEASE");
      expect(stack.ipv6!.ndp.addresses().filter((a) => a.origin === "dhcpv6")).toEqual([]);
      await dnsmasq.stop();
      expect(tsharkOffending(lab)).toEqual([]);
      report(
        `netlab DHCPv6 client got ${address} from dnsmasq in ${leaseMs.toFixed(0)} ms (RA wait, 0..1 s SOLICIT delay and DAD included); stats ${JSON.stringify(client.stats)}`,
      );
    });
  });

  it.skipIf(missing("dnsmasq"))("netlab's client sees dnsmasq's RA set O only (ra-stateless) and gets the DNS servers with INFORMATION-REQUEST", async () => {
    await withTapLab("netlab dhcpv6 stateless vs dnsmasq", { ipv6: true }, async (lab) => {
      await lab.ns.ip("-6", "addr", "add", "2001:db8:1::1/64", "dev", lab.ifname, "nodad");
      const dnsmasq = lab.spawn("dnsmasq", [
        "--no-daemon",
        "--conf-file=/dev/null",
        "--port=0",
        `--interface=${lab.ifname}`,
        "--bind-interfaces",
        "--enable-ra",
        "--dhcp-range=2001:db8:1::,ra-stateless,64,1h",
        "--dhcp-option=option6:dns-server,[2001:db8:1::53],[2001:db8:1::54]",
        `--pid-file=${join(lab.dir, "dnsmasq.pid")}`,
        "--log-dhcp",
        "--log-facility=-",
        "--user=root",
      ]);
      await dnsmasq.waitFor(/DHCPv6 stateless on 2001:db8:1::/, 5000);
      const stack = createStack({ device: lab.device, clock: lab.clock, rng: createSeededRng() }, { ipv6: { slaac: true } });
      const client = dhcp6ClientOnStack(stack, { mode: "from-ra" });
      client.start();
      await waitUntil(() => client.state === "informed", 30_000, "a REPLY to INFORMATION-REQUEST from dnsmasq");
      expect(stack.ipv6!.ndp.raFlags).toMatchObject({ managed: false, other: true });
      expect(client.information!.dnsServers.map(formatIpv6)).toEqual(["2001:db8:1::53", "2001:db8:1::54"]);
      expect(client.lease).toBeUndefined();
      expect(client.stats).toMatchObject({ solicits: 0, informationRequests: 1 });
      await dnsmasq.waitFor(new RegExp(`DHCPINFORMATION-REQUEST\\(${lab.ifname}\\)`), 2000);
      client.stop();
      await dnsmasq.stop();
      expect(tsharkOffending(lab)).toEqual([]);
      report(
        `netlab DHCPv6 stateless from dnsmasq: DNS ${client.information!.dnsServers.map(formatIpv6).join(", ")}, refresh in ${((client.information!.refreshAt - client.information!.receivedAt) / 1000).toFixed(0)} s`,
      );
    });
  });

  it.skipIf(missing("dhclient"))("dhclient -6 obtains a lease from netlab's DHCPv6 server", async () => {
    await withTapLab("dhclient -6 vs netlab dhcpv6 server", { ipv6: true, kernelCidr: null }, async (lab) => {
      const stack = createStack(
        { device: lab.device, clock: lab.clock, rng: createSeededRng() },
        { ipv6: { addresses: ["2001:db8:1::2/64"], routerSolicitations: false } },
      );
      const server = dhcp6ServerOnStack(stack, {
        prefix: ipv6("2001:db8:1::"),
        prefixLength: 64,
        rangeStart: ipv6("2001:db8:1::100"),
        rangeEnd: ipv6("2001:db8:1::1ff"),
        dnsServers: [ipv6("2001:db8:1::53")],
        preferredLifetime: 600,
        validLifetime: 1200,
      });
      await kernelLinkLocalReady(lab);
      const start = performance.now();
      const dhclient = lab.spawn("dhclient", dhclientArgs({ ifname: lab.ifname, dir: lab.dir, ipv6: true }));
      await dhclient.waitFor(/Bound to lease/, 20_000);
      const leaseMs = performance.now() - start;
      const out = dhclient.output();
      const text = out.stdout + out.stderr;
      const address = /IAADDR (2001:db8:1::[0-9a-f]+)/.exec(text)?.[1];
      expect(address).toBe("2001:db8:1::100");
      expect(server.leases().map((l) => [formatIpv6(l.address), l.state])).toEqual([["2001:db8:1::100", "bound"]]);
      expect(server.stats.advertises + server.stats.rapidCommits).toBeGreaterThanOrEqual(1);
      expect(server.stats.replies).toBeGreaterThanOrEqual(1);
      expect(tsharkOffending(lab)).toEqual([]);
      report(`dhclient -6 got ${address} from netlab's DHCPv6 server in ${leaseMs.toFixed(0)} ms; server ${JSON.stringify(server.stats)}`);
    });
  });
});
