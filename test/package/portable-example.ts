// The library example the portability test runs twice, in Node and bundled in headless
// Chromium: two hosts on a switch, a ping, a TCP transfer and a pcapng kept in memory, all
// through the package's top-level exports (stack/index.ts) and the WebCrypto SHA-256 both
// platforms have. The same seed must give the same transfer and the same capture bytes.
import {
  createByteCollector,
  createPcapngWriter,
  createRng,
  createStack,
  createSwitch,
  createVirtualClock,
  parseIpv4Address,
  settle,
  unwrap,
  withCapture,
  type Stack,
} from "../../stack/index.ts";

/** What one run produced. */
export interface PortableRun {
  readonly pingRttMs: number;
  readonly bytes: number;
  readonly sha256Sent: string;
  readonly sha256Received: string;
  readonly retransmits: number;
  readonly virtualMs: number;
  readonly captureBytes: number;
  readonly captureSha256: string;
}

async function sha256(bytes: Uint8Array): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", bytes);
  return Array.from(new Uint8Array(digest), (x) => x.toString(16).padStart(2, "0")).join("");
}

/** Runs the example with `seed` (switch impairments, stacks and payload all follow it). */
export async function runPortableExample(seed: number, transferBytes = 256 * 1024): Promise<PortableRun> {
  const clock = createVirtualClock();
  const sw = createSwitch({ clock, rng: createRng(seed) });
  const capture = createByteCollector();
  const pcap = createPcapngWriter(capture.write);
  const host = (i: number): Stack => {
    const port = sw.addPort({ mac: 0x020000000000 + i, toSwitch: { delayMs: 5, jitterMs: 1, loss: 0.01 } });
    const device = withCapture(port, pcap, { clock, name: `h${i}` });
    return createStack({ device, clock, rng: createRng(seed * 1000 + i) }, { ipv4: { cidr: `192.0.2.${i}/24` } });
  };
  const client = host(1);
  const server = host(2);
  const serverAddress = unwrap(parseIpv4Address("192.0.2.2"));

  const reply = await settle(
    clock,
    new Promise<Parameters<Parameters<Stack["icmp"]["ping"]>[2]>[0]>((resolve) => client.icmp.ping(serverAddress, {}, resolve)),
  );
  if (!reply.ok) throw new Error(`ping failed: ${reply.error}`);

  const payload = new Uint8Array(transferBytes);
  createRng(seed + 7).fill(payload);
  const received = new Promise<Uint8Array>((resolve) => {
    unwrap(server.tcp.listen(5001)).onConnection((stream) => {
      const chunks: Uint8Array[] = [];
      stream.onData((data) => chunks.push(data.slice()));
      stream.onEnd(() => {
        const all = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
        chunks.reduce((offset, c) => (all.set(c, offset), offset + c.length), 0);
        resolve(all);
        stream.end();
      });
    });
  });
  const conn = unwrap(client.tcp.connect(serverAddress, 5001));
  conn.write(payload);
  conn.end();
  const got = await settle(clock, received);
  clock.run(clock.now() + 1_000); // the closing handshake, into the capture
  const bytes = capture.bytes();
  return {
    pingRttMs: reply.value.rttMs,
    bytes: got.length,
    sha256Sent: await sha256(payload),
    sha256Received: await sha256(got),
    retransmits: conn.info().retransmits,
    virtualMs: clock.now(),
    captureBytes: bytes.length,
    captureSha256: await sha256(bytes),
  };
}
