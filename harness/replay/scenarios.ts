// Simulation scenarios for golden replay: each regenerates a capture from a seed, in virtual
// time, byte for byte the same on every run unless netlab's behaviour changed.
//   demo          `netlab demo` (three hosts, switch with impairments, ping/UDP/fragments/TCP)
//   tcp-echo      two stacks back to back (1 ms each way): 32 KiB through a TCP echo, then
//                 FIN both ways; an extra SYN to a closed port answered with RST
//   SCENARIOS     name -> (seed, overrides) -> pcapng bytes
import { createStack, type StackOptions } from "../../stack/index.ts";
import { createDevicePair } from "../../stack/link/pair.ts";
import { withCapture } from "../../stack/link/capture.ts";
import { createByteCollector, createPcapngWriter } from "../../stack/link/pcap/index.ts";
import { createRng, createVirtualClock } from "../../stack/time.ts";
import { runDemo, DEMO_EPOCH_MS } from "../cli/commands/demo.ts";

/** Stack options a test may override to change behaviour on purpose (e.g. another TTL). */
export interface ScenarioOverrides {
  readonly stack?: StackOptions;
}

/** A scenario: seed (and overrides) -> pcapng bytes. */
export type Scenario = (seed: number, overrides?: ScenarioOverrides) => Uint8Array;

const ECHO_PORT = 7;
const CLOSED_PORT = 9;
const ECHO_BYTES = 32 * 1024;

function tcpEcho(seed: number, overrides: ScenarioOverrides = {}): Uint8Array {
  const clock = createVirtualClock();
  const rng = createRng(seed);
  const pair = createDevicePair(clock, { latencyMs: 1 });
  const collector = createByteCollector();
  const writer = createPcapngWriter(collector.write, { timeOffsetMs: DEMO_EPOCH_MS });
  const deviceA = withCapture(pair.a, writer, { clock, name: "a", description: "client 192.0.2.1" });
  const a = createStack({ device: deviceA, clock, rng }, { name: "a", ipv4: { cidr: "192.0.2.1/24" } });
  const b = createStack({ device: pair.b, clock, rng: createRng(seed + 1) }, { name: "b", ipv4: { cidr: "192.0.2.2/24" }, ...overrides.stack });
  const listener = b.tcp.listen(ECHO_PORT);
  if (!listener.ok) throw new Error(`listen: ${listener.error}`);
  listener.value.onConnection((s) => {
    s.onData((d) => s.write(d));
    s.onEnd(() => s.end());
  });
  const data = new Uint8Array(ECHO_BYTES);
  for (let i = 0; i < data.length; i++) data[i] = (i * 7 + (i >>> 8)) & 0xff;
  const conn = a.tcp.connect(0xc0000202, ECHO_PORT);
  if (!conn.ok) throw new Error(`connect: ${conn.error}`);
  let echoed = 0;
  conn.value.onConnect(() => {
    conn.value.write(data);
    conn.value.end();
  });
  conn.value.onData((d) => { echoed += d.length; });
  clock.run(2000);
  const probe = a.tcp.connect(0xc0000202, CLOSED_PORT);
  if (!probe.ok) throw new Error(`connect: ${probe.error}`);
  probe.value.onClose(() => undefined);
  clock.run(4000);
  if (echoed !== ECHO_BYTES) throw Object.assign(new Error(`tcp-echo: ${echoed} of ${ECHO_BYTES} bytes echoed`), { code: "ERR_REPLAY_SCENARIO" });
  return collector.bytes();
}

/** Every golden scenario by name. */
export const SCENARIOS: Readonly<Record<string, Scenario>> = {
  demo: (seed) => runDemo({ seed }).pcap,
  "tcp-echo": tcpEcho,
};
