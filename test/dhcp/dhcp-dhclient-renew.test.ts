// dhclient against netlab's DHCP server beyond the first lease: RENEW at T1 by unicast from the
// configured address, then RELEASE (dhclient -r). Needs root, ip, dhclient; skips otherwise.
import { chmodSync, writeFileSync, readFileSync, existsSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { createStack } from "../../stack/index.ts";
import { dhcpServerOnStack } from "../../stack/app/dhcp/index.ts";
import { formatIpv4 } from "../../stack/wire/address.ts";
import { createSeededRng } from "../../harness/time/real-clock.ts";
import { announceSkip, interopSkipReason, tsharkOffending, waitUntil, withTapLab } from "../interop/support.ts";

const skip = announceSkip("DHCP dhclient renew", interopSkipReason(["dhclient", "tcpdump", "tshark"]));

describe.skipIf(skip)("dhclient against netlab's DHCP server", () => {
  it("renews at T1 by unicast, keeps its address, and releases it with dhclient -r", async () => {
    await withTapLab("dhclient renew vs netlab dhcp server", { kernelCidr: null }, async (lab) => {
      const stack = createStack({ device: lab.device, clock: lab.clock, rng: createSeededRng() }, { ipv4: { cidr: "192.0.2.2/24" } });
      const server = dhcpServerOnStack(stack, {
        pools: [
          {
            subnet: { address: 0xc0000200, prefixLength: 24 },
            rangeStart: 0xc0000264,
            rangeEnd: 0xc0000296,
            gateway: 0xc0000202,
            dnsServers: [0xc0000235],
            leaseTime: 30,
            renewalTime: 3,
            rebindingTime: 25,
          },
        ],
      });
      // A dhclient-script that configures only the address (never /etc/resolv.conf or routes).
      const log = join(lab.dir, "script.log");
      const script = join(lab.dir, "script.sh");
      writeFileSync(
        script,
        [
          "#!/bin/sh",
          `echo "$reason $new_ip_address $new_subnet_mask $new_routers $new_domain_name_servers" >> ${log}`,
          'case "$reason" in BOUND|RENEW|REBIND|REBOOT) ip addr replace "$new_ip_address/$new_subnet_mask" dev "$interface" ;; EXPIRE|FAIL|RELEASE|STOP) [ -n "$old_ip_address" ] && ip addr del "$old_ip_address/$old_subnet_mask" dev "$interface" ;; esac',
          "exit 0",
          "",
        ].join("\n"),
      );
      chmodSync(script, 0o755);
      const args = ["-sf", script, "-lf", join(lab.dir, "dhclient.leases"), "-pf", join(lab.dir, "dhclient.pid"), lab.ifname];
      const client = lab.spawn("dhclient", ["-d", "-v", ...args]);
      await client.waitFor(/bound to 192\.0\.2\.100/, 15_000);
      await waitUntil(() => server.stats.acks >= 2, 15_000, "a renewal ACK");
      const lines = () => (existsSync(log) ? readFileSync(log, "utf8").trim().split("\n") : []);
      await waitUntil(() => lines().some((l) => l.startsWith("RENEW")), 5000, "dhclient to run its RENEW hook");
      expect(lines()[0]).toMatch(/^PREINIT/);
      expect(lines().find((l) => l.startsWith("BOUND"))).toBe("BOUND 192.0.2.100 255.255.255.0 192.0.2.2 192.0.2.53");
      expect(lines().find((l) => l.startsWith("RENEW"))).toBe("RENEW 192.0.2.100 255.255.255.0 192.0.2.2 192.0.2.53");
      expect(client.output().stderr).toMatch(/DHCPREQUEST for 192\.0\.2\.100 on \S+ to 192\.0\.2\.2 port 67/);
      expect(server.stats.naks).toBe(0);

      const release = await lab.ns.exec("dhclient", ["-r", "-v", ...args], { timeoutMs: 10_000 });
      expect(release.stderr).toMatch(/DHCPRELEASE/);
      await waitUntil(() => server.stats.releases === 1, 5000, "the server to see the RELEASE");
      const lease = server.leases().find((l) => formatIpv4(l.address) === "192.0.2.100")!;
      expect(lease.expiresAt).toBeLessThanOrEqual(lab.clock.now());
      expect(tsharkOffending(lab)).toEqual([]);
    });
  }, 60_000);
});
