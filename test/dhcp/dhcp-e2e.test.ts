// netlab DHCP client against netlab DHCP server: full stacks (Ethernet, ARP, IPv4, UDP) on a
// simulated learning switch, in virtual time.
import { describe, it, expect } from "vitest";
import { createVirtualClock, createRng, type VirtualClock } from "../../stack/time.ts";
import { createStack, type Stack } from "../../stack/index.ts";
import { createSwitch, type Switch } from "../../stack/link/switch.ts";
import type { ImpairmentOptions } from "../../stack/link/impairments.ts";
import { formatIpv4, readMac, readIpv4 } from "../../stack/wire/address.ts";
import { withCapture, createMemorySink } from "../../stack/link/capture.ts";
import { parseDhcp, messageType } from "../../stack/wire/dhcp.ts";
import {
  dhcpClientOnStack,
  dhcpServerOnStack,
  createMemoryLeaseStore,
  type DhcpClient,
  type DhcpServer,
  type DhcpServerConfig,
  type ClientLeaseStore,
  type DhcpLease,
  type LeaseStore,
  type DhcpClientOptions,
} from "../../stack/app/dhcp/index.ts";

const ip = (s: string): number => s.split(".").reduce((a, x) => a * 256 + Number(x), 0) >>> 0;
const SERVER = ip("192.0.2.1");
const sec = 1000;
const CONFIG: DhcpServerConfig = {
  pools: [
    {
      subnet: { address: ip("192.0.2.0"), prefixLength: 24 },
      rangeStart: ip("192.0.2.100"),
      rangeEnd: ip("192.0.2.199"),
      gateway: SERVER,
      dnsServers: [ip("192.0.2.53")],
      domainName: "lab.example",
      leaseTime: 600,
    },
  ],
};

interface World {
  clock: VirtualClock;
  sw: Switch;
  serverStack: Stack;
  server: DhcpServer;
  store: LeaseStore;
  host(name: string, mac: number, cidr?: string, impair?: ImpairmentOptions): Stack;
  client(stack: Stack, options?: DhcpClientOptions, leaseStore?: ClientLeaseStore): DhcpClient;
}

function world(seed = 1, config: DhcpServerConfig = CONFIG): World {
  const clock = createVirtualClock();
  const rng = createRng(seed);
  const sw = createSwitch({ clock, rng });
  let n = 0;
  const host = (name: string, mac: number, cidr?: string, impair: ImpairmentOptions = {}): Stack => {
    const port = sw.addPort({ mac, name, toSwitch: { delayMs: 0.1, ...impair }, fromSwitch: { delayMs: 0.1, ...impair } });
    return createStack({ device: port, clock, rng: createRng(seed * 100 + ++n) }, { name, ...(cidr ? { ipv4: { cidr } } : {}) });
  };
  const serverStack = host("server", 0x020000000001, "192.0.2.1/24");
  const store = createMemoryLeaseStore();
  const server = dhcpServerOnStack(serverStack, config, store);
  const client = (stack: Stack, options: DhcpClientOptions = {}, leaseStore?: ClientLeaseStore): DhcpClient =>
    dhcpClientOnStack(stack, { initDelayMinMs: 0, initDelayMaxMs: 500, ...options }, leaseStore ? { leaseStore } : {});
  return { clock, sw, serverStack, server, store, host, client };
}

function ping(stack: Stack, dst: number, clock: VirtualClock): boolean {
  let okay = false;
  stack.icmp.ping(dst, { timeoutMs: 1000 }, (r) => {
    okay = r.ok;
  });
  clock.run(clock.now() + 1100);
  return okay;
}

describe("DHCP end to end over netlab stacks", () => {
  it("binds by DORA, configures the stack and can then ping the server", () => {
    const w = world();
    const stack = w.host("client", 0x020000000010);
    const client = w.client(stack);
    const states: string[] = [];
    client.onStateChange((s) => states.push(s));
    client.start();
    w.clock.run(15 * sec);
    expect(client.state).toBe("bound");
    expect(states).toEqual(["init", "selecting", "requesting", "probing", "bound"]);
    expect(stack.ipv4.cidr).toEqual({ address: ip("192.0.2.100"), prefixLength: 24 });
    expect(stack.ipv4.gateway).toBe(SERVER);
    expect(client.lease!.dnsServers).toEqual([ip("192.0.2.53")]);
    expect(client.lease!.domainName).toBe("lab.example");
    expect(w.server.leases()).toEqual([expect.objectContaining({ address: ip("192.0.2.100"), client: "id:01020000000010", state: "bound" })]);
    expect(stack.counters().arp.probesSent).toBe(3);
    expect(ping(stack, SERVER, w.clock)).toBe(true);
  });

  it("renews at T1 by unicast and stays bound on the same address", () => {
    const w = world();
    const stack = w.host("client", 0x020000000010);
    const client = w.client(stack);
    client.start();
    w.clock.run(15 * sec);
    const first = client.lease!;
    w.clock.run(first.renewAt + 1 * sec);
    expect(client.state).toBe("bound");
    expect(client.lease!.address).toBe(first.address);
    expect(client.lease!.acquiredAt).toBe(first.renewAt);
    expect(client.stats.requests).toBe(2);
    expect(w.server.stats.acks).toBe(2);
  });

  it("rebinds at T2 when the server is gone, expires and unconfigures, and binds again when a server returns", () => {
    const w = world();
    const stack = w.host("client", 0x020000000010);
    const client = w.client(stack);
    const states: string[] = [];
    const lost: string[] = [];
    client.onStateChange((s) => states.push(s));
    client.onLeaseLost((r) => lost.push(r));
    client.start();
    w.clock.run(15 * sec);
    const lease = client.lease!;
    w.server.close();
    w.clock.run(lease.rebindAt + 1);
    expect(client.state).toBe("rebinding");
    expect(stack.ipv4.cidr?.address).toBe(lease.address);
    w.clock.run(lease.expiresAt + 1);
    expect(lost).toEqual(["expired"]);
    expect(stack.ipv4.cidr).toBeUndefined();
    expect(states.slice(-5)).toEqual(["bound", "renewing", "rebinding", "init", "selecting"]);
    dhcpServerOnStack(w.serverStack, CONFIG, w.store);
    w.clock.run(w.clock.now() + 130 * sec);
    expect(client.state).toBe("bound");
    expect(client.lease!.address).toBe(lease.address);
  });

  it("gets a NAK for a remembered lease from another network and falls back to DISCOVER", () => {
    const w = world();
    const stack = w.host("client", 0x020000000010);
    const remembered: DhcpLease = {
      address: ip("198.51.100.77"),
      prefixLength: 24,
      gateway: undefined,
      dnsServers: [],
      domainName: undefined,
      hostName: undefined,
      broadcastAddress: undefined,
      serverId: ip("198.51.100.1"),
      leaseTime: 3600,
      acquiredAt: 0,
      renewAt: 1800 * sec,
      rebindAt: 3150 * sec,
      expiresAt: 3600 * sec,
    };
    let saved: DhcpLease | undefined = remembered;
    const store: ClientLeaseStore = {
      load: () => saved,
      save: (l) => {
        saved = l;
      },
      clear: () => {
        saved = undefined;
      },
    };
    const client = w.client(stack, {}, store);
    const states: string[] = [];
    client.onStateChange((s) => states.push(s));
    client.start();
    w.clock.run(20 * sec);
    expect(client.stats.naks).toBe(1);
    expect(w.server.stats.naks).toBe(1);
    expect(states.slice(0, 4)).toEqual(["init-reboot", "rebooting", "init", "selecting"]);
    expect(client.state).toBe("bound");
    expect(stack.ipv4.cidr?.address).toBe(ip("192.0.2.100"));
    expect(saved?.address).toBe(ip("192.0.2.100"));
  });

  it("declines an address a third host already uses and binds to another", () => {
    const w = world();
    const squatter = w.host("squatter", 0x020000000099, "192.0.2.100/24");
    const stack = w.host("client", 0x020000000010);
    const client = w.client(stack);
    const lost: string[] = [];
    client.onLeaseLost((r) => lost.push(r));
    client.start();
    w.clock.run(40 * sec);
    expect(lost).toEqual(["conflict"]);
    expect(client.stats.declines).toBe(1);
    expect(w.server.stats.declines).toBe(1);
    expect(w.server.leases().find((l) => l.address === ip("192.0.2.100"))?.state).toBe("declined");
    expect(client.state).toBe("bound");
    expect(stack.ipv4.cidr?.address).toBe(ip("192.0.2.101"));
    expect(squatter.ipv4.cidr?.address).toBe(ip("192.0.2.100"));
  });

  it("releases on stop: the server's lease ends and the stack is unconfigured", () => {
    const w = world();
    const stack = w.host("client", 0x020000000010);
    const client = w.client(stack);
    client.start();
    w.clock.run(15 * sec);
    const a = client.lease!.address;
    client.stop();
    w.clock.run(w.clock.now() + 1 * sec);
    expect(w.server.stats.releases).toBe(1);
    expect(w.server.leases().find((l) => l.address === a)!.expiresAt).toBeLessThanOrEqual(w.clock.now());
    expect(stack.ipv4.cidr).toBeUndefined();
    expect(client.state).toBe("stopped");
  });

  it("unicasts OFFER and ACK to yiaddr at chaddr when the broadcast bit is clear, and broadcasts them when it is set", () => {
    for (const broadcastFlag of [false, true]) {
      const w = world();
      const sink = createMemorySink();
      const bystanderSink = createMemorySink();
      const clientPort = w.sw.addPort({ mac: 0x020000000010, name: "client" });
      const stack = createStack({ device: withCapture(clientPort, sink, { clock: w.clock }), clock: w.clock, rng: createRng(9) }, { name: "client" });
      const bystander = w.sw.addPort({ mac: 0x020000000077, name: "bystander" });
      createStack({ device: withCapture(bystander, bystanderSink, { clock: w.clock }), clock: w.clock, rng: createRng(10) }, { name: "bystander" });
      const client = w.client(stack, { broadcastFlag });
      client.start();
      w.clock.run(15 * sec);
      expect(client.state).toBe("bound");
      /** DHCP replies (UDP 67 -> 68) in a capture: [type, dst MAC, dst IP]. */
      const replies = (packets: { data: Uint8Array; direction?: string }[]) =>
        packets
          .filter((p) => p.direction === "in" && p.data[23] === 17 && p.data[34] === 0 && p.data[35] === 67)
          .map((p) => {
            const m = parseDhcp(p.data.subarray(42));
            return [m.ok ? messageType(m.value) : undefined, readMac(p.data, 0), readIpv4(p.data, 30)];
          });
      if (broadcastFlag) {
        expect(replies(sink.packets)).toEqual([
          [2, 0xffffffffffff, 0xffffffff],
          [5, 0xffffffffffff, 0xffffffff],
        ]);
        expect(replies(bystanderSink.packets).length).toBe(2);
      } else {
        expect(replies(sink.packets)).toEqual([
          [2, 0x020000000010, ip("192.0.2.100")],
          [5, 0x020000000010, ip("192.0.2.100")],
        ]);
        expect(replies(bystanderSink.packets)).toEqual([]);
        expect(w.serverStack.arp.entries().filter((e) => e.static)).toEqual([]);
      }
    }
  });

  it("binds twelve clients under 10% loss each way with no address given twice", () => {
    const w = world(5);
    const clients = Array.from({ length: 12 }, (_, i) => {
      const stack = w.host(`c${i}`, 0x020000000100 + i, undefined, { loss: 0.1 });
      const client = w.client(stack, { initDelayMinMs: 1000, initDelayMaxMs: 10_000 });
      client.start();
      return { stack, client };
    });
    w.clock.run(300 * sec);
    const addresses = clients.map((c) => c.client.lease?.address);
    expect(clients.every((c) => c.client.state === "bound")).toBe(true);
    expect(new Set(addresses).size).toBe(12);
    for (const c of clients) expect(c.stack.ipv4.cidr?.address).toBe(c.client.lease!.address);
    const lostFrames = w.sw.ports.slice(1).reduce((n, p) => n + p.stats().toSwitch.lost + p.stats().fromSwitch.lost, 0);
    expect(lostFrames).toBeGreaterThan(10);
    const bound = w.server.leases().filter((l) => l.state === "bound" && l.expiresAt > w.clock.now());
    expect(bound.map((l) => formatIpv4(l.address)).sort()).toEqual(addresses.map((a) => formatIpv4(a!)).sort());
  });
});
