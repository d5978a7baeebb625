// Simulation scenarios for golden replay: each regenerates a capture from a seed, in virtual
// time, byte for byte the same on every run unless netlab's behaviour changed. They use only
// stack/ (not the demo, whose script may change for its own reasons).
//   tcp-echo        two stacks back to back (1 ms each way), captured at the client: 32 KiB
//                   through a TCP echo, FIN both ways, then a SYN to a closed port and its RST
//   dhcp-http-lossy a client and a server on a learning switch, the client's port with 2 ms
//                   delay, 1 ms jitter and 3% loss each way: DHCP (with ARP probe) from the
//                   server, then HTTP GET of 48 KiB over the lossy link, captured at the client
//   SCENARIOS       name -> (seed, overrides) -> pcapng bytes
import { createStack, type StackOptions } from "../../stack/index.ts";
import { createDevicePair } from "../../stack/link/pair.ts";
import { createSwitch } from "../../stack/link/switch.ts";
import { withCapture } from "../../stack/link/capture.ts";
import { createByteCollector, createPcapngWriter } from "../../stack/link/pcap/index.ts";
import { createRng, createVirtualClock, type VirtualClock } from "../../stack/time.ts";
import { dhcpClientOnStack, dhcpServerOnStack } from "../../stack/app/dhcp/index.ts";
import { createHttpClient, createHttpServer } from "../../stack/app/http/index.ts";
import { NetlabError } from "../../stack/error.ts";

/** Changes a test applies to the stack under test, to change behaviour on purpose (e.g. another TTL). */
export interface ScenarioOverrides {
  readonly stack?: StackOptions;
}

/** A scenario: seed (and overrides) -> pcapng bytes. */
export type Scenario = (seed: number, overrides?: ScenarioOverrides) => Uint8Array | Promise<Uint8Array>;

/** Capture timestamps of scenarios start at this date (reproducible files). */
export const SCENARIO_EPOCH_MS = Date.UTC(2026, 0, 1);
const SUBNET = 0xc0000200; // 192.0.2.0/24
const host = (n: number): number => (SUBNET | n) >>> 0;

function scenarioError(message: string): Error {
  return new NetlabError("ERR_REPLAY_SCENARIO", message);
}

function pattern(n: number): Uint8Array {
  const data = new Uint8Array(n);
  for (let i = 0; i < n; i++) data[i] = (i * 7 + (i >>> 8)) & 0xff;
  return data;
}

function tcpEcho(seed: number, overrides: ScenarioOverrides = {}): Uint8Array {
  const clock = createVirtualClock();
  const pair = createDevicePair(clock, { latencyMs: 1 });
  const collector = createByteCollector();
  const writer = createPcapngWriter(collector.write, { timeOffsetMs: SCENARIO_EPOCH_MS });
  const deviceA = withCapture(pair.a, writer, { clock, name: "a", description: "client 192.0.2.1" });
  const a = createStack({ device: deviceA, clock, rng: createRng(seed) }, { name: "a", ipv4: { cidr: "192.0.2.1/24" } });
  const b = createStack(
    { device: pair.b, clock, rng: createRng(seed + 1) },
    { name: "b", ...overrides.stack, ipv4: { cidr: "192.0.2.2/24", ...overrides.stack?.ipv4 } },
  );
  const listener = b.tcp.listen(7);
  if (!listener.ok) throw scenarioError(`listen: ${listener.error}`);
  listener.value.onConnection((s) => {
    s.onData((d) => s.write(d));
    s.onEnd(() => s.end());
  });
  const data = pattern(32 * 1024);
  const conn = a.tcp.connect(host(2), 7);
  if (!conn.ok) throw scenarioError(`connect: ${conn.error}`);
  let echoed = 0;
  conn.value.onConnect(() => {
    conn.value.write(data);
    conn.value.end();
  });
  conn.value.onData((d) => {
    echoed += d.length;
  });
  clock.run(2000);
  const probe = a.tcp.connect(host(2), 9);
  if (!probe.ok) throw scenarioError(`connect: ${probe.error}`);
  probe.value.onClose(() => undefined);
  clock.run(4000);
  if (echoed !== data.length) throw scenarioError(`tcp-echo: ${echoed} of ${data.length} bytes echoed`);
  return collector.bytes();
}

/** Runs virtual time in steps, letting promise callbacks run between steps (deterministic). */
async function runFor(clock: VirtualClock, ms: number, until: () => boolean): Promise<void> {
  const end = clock.now() + ms;
  while (clock.now() < end && !until()) {
    clock.run(clock.now() + 5);
    await new Promise((r) => setImmediate(r));
  }
}

async function dhcpHttpLossy(seed: number, overrides: ScenarioOverrides = {}): Promise<Uint8Array> {
  const clock = createVirtualClock();
  const sw = createSwitch({ clock, rng: createRng(seed ^ 0x5a5a) });
  const lossy = { delayMs: 2, jitterMs: 1, loss: 0.03 };
  const portA = sw.addPort({ mac: 0x02000000000a, name: "client", toSwitch: lossy, fromSwitch: lossy });
  const portB = sw.addPort({ mac: 0x02000000000b, name: "server" });
  const collector = createByteCollector();
  const writer = createPcapngWriter(collector.write, { timeOffsetMs: SCENARIO_EPOCH_MS });
  const deviceA = withCapture(portA, writer, { clock, name: "client", description: "DHCP + HTTP client" });
  const client = createStack({ device: deviceA, clock, rng: createRng(seed) }, { name: "client", ...overrides.stack });
  const server = createStack({ device: portB, clock, rng: createRng(seed + 1) }, { name: "server", ipv4: { cidr: "192.0.2.1/24" } });
  dhcpServerOnStack(server, {
    pools: [{ subnet: { address: SUBNET, prefixLength: 24 }, rangeStart: host(100), rangeEnd: host(150), gateway: host(1), leaseTime: 3600 }],
  });
  const body = pattern(48 * 1024);
  const listener = server.tcp.listen(80);
  if (!listener.ok) throw scenarioError(`listen: ${listener.error}`);
  createHttpServer(
    { clock },
    (_req, res) => {
      res.setHeader("Content-Type", "application/octet-stream");
      res.end(body);
    },
    { serverName: "netlab", date: true, dateOffsetMs: SCENARIO_EPOCH_MS },
  ).listen(listener.value);
  const dhcp = dhcpClientOnStack(client, { initDelayMinMs: 0, initDelayMaxMs: 200 }, { probe: true });
  let bound = false;
  dhcp.onBound(() => {
    bound = true;
  });
  dhcp.start();
  await runFor(clock, 30_000, () => bound);
  if (!bound) throw scenarioError("dhcp-http-lossy: no lease");
  const http = createHttpClient({ clock, tcp: client.tcp }, { keepAlive: false });
  let received = -1;
  void http.request({ host: host(1), path: "/file" }).then(
    async (res) => {
      received = (await res.body.text()).length;
    },
    () => {
      received = -2;
    },
  );
  await runFor(clock, 60_000, () => received !== -1);
  await runFor(clock, 1000, () => false);
  http.close();
  if (received !== body.length) throw scenarioError(`dhcp-http-lossy: received ${received} of ${body.length} bytes`);
  return collector.bytes();
}

/** Every golden scenario by name. */
export const SCENARIOS: Readonly<Record<string, Scenario>> = {
  "tcp-echo": tcpEcho,
  "dhcp-http-lossy": dhcpHttpLossy,
};
