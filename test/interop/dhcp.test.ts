// DHCP between netlab and real implementations over a tap: netlab's client against dnsmasq,
// and dhclient and busybox udhcpc against netlab's server.
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { dnsmasqArgs } from "../../harness/dhcp/dnsmasq.ts";
import { createDhcpServer } from "../../stack/app/dhcp/server.ts";
import { createStack } from "../../stack/index.ts";
import { formatIpv4, formatMac } from "../../stack/wire/address.ts";
import { composeAttachedStack } from "../../harness/tap/attached-stack.ts";
import { createSeededRng } from "../../harness/time/real-clock.ts";
import { missingTools } from "../../harness/netns/index.ts";
import { announceSkip, interopSkipReason, tsharkOffending, waitUntil, withTapLab } from "./support.ts";

const skip = announceSkip("DHCP interop", interopSkipReason(["tcpdump", "tshark", "ping"]));
const missing = (tool: string): boolean => missingTools([tool]).length > 0;

function report(line: string): void {
  process.stderr.write(`[interop] ${line}\n`);
}

describe.skipIf(skip)("DHCP between netlab and real implementations", () => {
  it.skipIf(missing("dnsmasq"))("netlab's client leases an address from dnsmasq, answers ping on it, and releases it on stop", async () => {
    await withTapLab("netlab dhcp client vs dnsmasq", {}, async (lab) => {
      const dnsmasq = lab.spawn(
        "dnsmasq",
        dnsmasqArgs(lab.ifname, [
          "--dhcp-range=192.0.2.100,192.0.2.150,255.255.255.0,1h",
          "--dhcp-option=option:router,192.0.2.1",
          `--dhcp-leasefile=${join(lab.dir, "dnsmasq.leases")}`,
          "--pid-file",
          "--no-ping",
        ]),
      );
      await dnsmasq.waitFor(/DHCP, IP range 192\.0\.2\.100/, 5000);
      const start = performance.now();
      const attached = await composeAttachedStack(
        { device: lab.device, clock: lab.clock, rng: createSeededRng() },
        { address: { kind: "dhcp" }, dhcpProbe: false },
      );
      const cidr = await Promise.race([attached.ready, new Promise<never>((_, reject) => setTimeout(() => reject(new Error("no lease within 10 s")), 10_000))]);
      const leaseMs = performance.now() - start;
      const address = formatIpv4(cidr.address);
      expect(address).toMatch(/^192\.0\.2\.(1[0-4]\d|150)$/);
      expect(cidr.prefixLength).toBe(24);
      expect(attached.gateway()).toBe(0xc0000201);
      expect(attached.dhcp?.state).toBe("bound");
      expect(attached.dhcp?.lease?.serverId).toBe(0xc0000201);
      const mac = formatMac(lab.tap.mac);
      await dnsmasq.waitFor(new RegExp(`DHCPACK\\(${lab.ifname}\\) ${address.replaceAll(".", "\\.")} ${mac}`), 2000);

      const ping = await lab.ns.exec("ping", ["-n", "-c", "2", "-i", "0.1", "-W", "2", address], { timeoutMs: 10_000 });
      expect(ping.stdout).toMatch(/2 packets transmitted, 2 received/);

      await attached.stop();
      await dnsmasq.waitFor(new RegExp(`DHCPRELEASE\\(${lab.ifname}\\) ${address.replaceAll(".", "\\.")} ${mac}`), 5000);
      expect(attached.dhcp?.stats.releases).toBe(1);
      expect(tsharkOffending(lab)).toEqual([]);
      report(`netlab DHCP client got ${address} from dnsmasq in ${leaseMs.toFixed(0)} ms (includes the random 0..500 ms initial delay)`);
    });
  });

  const clients: Array<[string, string, (ifname: string, dir: string) => string[], RegExp]> = [
    [
      "dhclient",
      "dhclient",
      (ifname, dir) => ["-d", "-1", "-v", "-sf", "/bin/true", "-lf", join(dir, "dhclient.leases"), "-pf", join(dir, "dhclient.pid"), ifname],
      /bound to (192\.0\.2\.\d+)/,
    ],
    [
      "busybox udhcpc",
      "busybox",
      (ifname) => ["udhcpc", "-f", "-q", "-n", "-t", "5", "-T", "1", "-s", "/bin/true", "-i", ifname],
      /lease of (192\.0\.2\.\d+) obtained/,
    ],
  ];

  it.each(clients)("%s obtains a lease from netlab's DHCP server", async (label, tool, args, bound) => {
    if (missing(tool)) {
      report(`skipping ${label}: not installed`);
      return;
    }
    await withTapLab(`${label} vs netlab dhcp server`, { kernelCidr: null }, async (lab) => {
      const stack = createStack({ device: lab.device, clock: lab.clock, rng: createSeededRng() }, { ipv4: { cidr: "192.0.2.2/24" } });
      const server = createDhcpServer(
        { clock: lab.clock, udp: stack.udp, ipv4: stack.ipv4 },
        {
          pools: [{ subnet: { address: 0xc0000200, prefixLength: 24 }, rangeStart: 0xc0000264, rangeEnd: 0xc0000296, gateway: 0xc0000202, leaseTime: 600 }],
        },
      );
      const start = performance.now();
      const client = lab.spawn(tool, args(lab.ifname, lab.dir));
      await client.waitFor(bound, 15_000);
      const leaseMs = performance.now() - start;
      const out = client.output();
      const address = bound.exec(out.stdout + out.stderr)![1]!;
      expect(server.stats.offers).toBeGreaterThanOrEqual(1);
      expect(server.stats.acks).toBeGreaterThanOrEqual(1);
      const lease = server.leases().find((l) => formatIpv4(l.address) === address);
      expect(lease).toMatchObject({ state: "bound" });
      await waitUntil(() => client.child.exitCode !== null || tool === "dhclient", 5000, `${label} to exit`);
      expect(tsharkOffending(lab)).toEqual([]);
      report(`${label} got ${address} from netlab's DHCP server in ${leaseMs.toFixed(0)} ms`);
    });
  });
});
