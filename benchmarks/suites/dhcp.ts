// DHCP suite: leases/s of netlab's DHCP client against netlab's DHCP server, full stacks
// (Ethernet, ARP, IPv4, UDP) on a simulated learning switch, one thread, virtual time. Each of
// CLIENTS clients repeats DORA -> bound -> RELEASE; a lease counts when the client is bound.
// The RFC 5227 ARP probe is off (it is seconds of virtual waiting, not work).
import type { BenchCase, BenchSuite } from "../../harness/bench/types.ts";
import { createStack } from "../../stack/index.ts";
import { createSwitch } from "../../stack/link/index.ts";
import { createRng, createVirtualClock } from "../../stack/time.ts";
import { createMemoryLeaseStore, dhcpClientOnStack, dhcpServerOnStack, type DhcpClient } from "../../stack/app/dhcp/index.ts";
import { cpuMsSince } from "../lib/sim.ts";

const CLIENTS = 16;

const leaseCase = ((): BenchCase => {
  let details: Record<string, unknown> = {};
  return {
    suite: "dhcp",
    name: `DORA leases (${CLIENTS} clients, release and repeat)`,
    unit: "lease/s",
    higherIsBetter: true,
    measure(ctx) {
      const total = ctx.quick ? 64 : 3_000;
      const clock = createVirtualClock();
      const sw = createSwitch({ clock, rng: createRng(1) });
      const port = (mac: number) => sw.addPort({ mac, toSwitch: { delayMs: 0.05 }, fromSwitch: { delayMs: 0.05 } });
      const serverStack = createStack({ device: port(0x020000000001), clock, rng: createRng(2) }, { name: "server", ipv4: { cidr: "192.0.2.1/24" } });
      const server = dhcpServerOnStack(
        serverStack,
        {
          pools: [
            {
              subnet: { address: 0xc0000200, prefixLength: 24 },
              rangeStart: 0xc0000210,
              rangeEnd: 0xc00002f0,
              gateway: 0xc0000201,
              dnsServers: [0xc0000235],
              leaseTime: 3600,
            },
          ],
        },
        createMemoryLeaseStore(),
      );
      let bound = 0,
        lost = 0;
      const clients: DhcpClient[] = [];
      for (let i = 0; i < CLIENTS; i++) {
        const stack = createStack({ device: port(0x020000000100 + i), clock, rng: createRng(100 + i) }, { name: `c${i}` });
        const c = dhcpClientOnStack(stack, { initDelayMinMs: 0, initDelayMaxMs: 1 }, { probe: false });
        c.onBound(() => {
          bound++;
          // Release from a fresh timer (not inside the client's own callback), then start over.
          clock.setTimer(clock.now(), () => {
            c.stop({ release: true });
            if (bound + CLIENTS <= total) c.start();
          });
        });
        c.onLeaseLost((reason) => {
          if (reason !== "released") lost++;
        });
        clients.push(c);
      }
      const cpu0 = process.cpuUsage();
      const t0 = performance.now();
      for (const c of clients) c.start();
      clock.run(clock.now() + 3_600_000);
      const wallMs = performance.now() - t0;
      if (bound < total || lost > 0) throw new Error(`${bound} of ${total} leases bound, ${lost} lost`);
      const cpuMs = cpuMsSince(cpu0);
      details = {
        leases: bound,
        clients: CLIENTS,
        wallMs: Math.round(wallMs),
        cpuMs: Math.round(cpuMs),
        perCpuSecond: bound / (cpuMs / 1000),
        serverAcks: server.stats.acks,
        serverReleases: server.stats.releases,
        virtualMs: +clock.now().toFixed(1),
      };
      for (const c of clients) c.stop({ release: false });
      server.close();
      return bound / (wallMs / 1000);
    },
    details: () => details,
  };
})();

export const suite: BenchSuite = {
  name: "dhcp",
  description: "DHCP DORA leases/s between netlab stacks on a simulated switch (one thread, virtual time)",
  cases: () => [leaseCase],
};
