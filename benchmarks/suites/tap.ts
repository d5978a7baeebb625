// Tap suite: TCP between netlab (this process, real clock) and a kernel socket (python3 in a
// network namespace this suite creates and removes) over a tap device, both directions, with
// and without virtio_net_hdr offloads (TSO out, GRO'd frames and partial checksums in).
// Needs root, /dev/net/tun, ip and python3; skipped with the reason otherwise.
import { accessSync, constants } from "node:fs";
import { randomBytes } from "node:crypto";
import type { BenchCase, BenchSuite } from "../../harness/bench/types.ts";
import { createStack } from "../../stack/index.ts";
import type { ByteStream } from "../../stack/transport/types.ts";
import { createRealClock, createSeededRng } from "../../harness/time/real-clock.ts";
import { openTap, type TapDevice } from "../../harness/tap/index.ts";
import { createNetns, missingTools, type Netns } from "../../harness/netns/index.ts";
import { gbits } from "../lib/sim.ts";

const KERNEL = 0xc0000201; // 192.0.2.1 in the namespace; netlab is 192.0.2.2
const BASELINE = "Linux TCP over veth (iperf3)";

function skipReason(): string | undefined {
  if (process.platform !== "linux") return "needs Linux";
  if (process.getuid?.() !== 0) return "needs root (tap device, network namespace)";
  try {
    accessSync("/dev/net/tun", constants.R_OK | constants.W_OK);
  } catch {
    return "/dev/net/tun is missing (modprobe tun)";
  }
  const missing = missingTools(["ip", "python3"]);
  return missing.length > 0 ? `missing tools: ${missing.join(", ")} (npm run setup)` : undefined;
}

const PY_SINK = `
import socket
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("192.0.2.1", 5001)); s.listen(1); s.settimeout(30)
print("ready", flush=True)
c, a = s.accept(); c.settimeout(30)
n = 0
buf = bytearray(1 << 20)
while True:
    k = c.recv_into(buf)
    if not k: break
    n += k
c.sendall(b"ok"); c.close()
print("got", n, flush=True)
`;

const PY_SOURCE = (size: number): string => `
import socket
buf = b"\\x5a" * ${size}
print("ready", flush=True)
c = socket.create_connection(("192.0.2.2", 5002), timeout=30)
c.sendall(buf); c.shutdown(socket.SHUT_WR)
c.recv(16); c.close()
print("sent", len(buf), flush=True)
`;

interface Lab {
  ns: Netns;
  tap: TapDevice;
  clock: ReturnType<typeof createRealClock>;
}

async function withLab<T>(offloads: boolean, fn: (lab: Lab) => Promise<T>): Promise<T> {
  const ifname = `nlb${randomBytes(4).toString("hex")}`;
  const clock = createRealClock();
  const ns = await createNetns("nl-bench-");
  let tap: TapDevice | undefined;
  try {
    tap = await openTap({ name: ifname, ...(offloads ? { txOffloads: true, rxOffloads: true } : {}) });
    await ns.adoptLink(ifname);
    await ns.configureLink(ifname, { addresses: ["192.0.2.1/24"], offloadsOff: !offloads });
    return await fn({ ns, tap, clock });
  } finally {
    clock.close();
    await tap?.close();
    await ns.remove();
  }
}

function until<T>(setup: (resolve: (v: T) => void, reject: (e: Error) => void) => void, timeoutMs: number, what: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out after ${timeoutMs} ms: ${what}`)), timeoutMs);
    setup(
      (v) => {
        clearTimeout(timer);
        resolve(v);
      },
      (e) => {
        clearTimeout(timer);
        reject(e);
      },
    );
  });
}

function tapCase(direction: "netlab -> kernel" | "kernel -> netlab", offloads: boolean): BenchCase {
  let details: Record<string, unknown> = {};
  return {
    suite: "tap",
    name: `TCP ${direction}${offloads ? " (TSO/GRO offloads)" : ""}`,
    unit: "Gbit/s",
    higherIsBetter: true,
    runs: 3,
    baseline: BASELINE,
    target: { value: 1, kind: "min" },
    realPeer: true,
    available: skipReason,
    async measure(ctx) {
      const bytes = ctx.quick ? 4 << 20 : 128 << 20;
      return withLab(offloads, async ({ ns, tap, clock }) => {
        const stack = createStack({ device: tap, clock, rng: createSeededRng() }, { ipv4: { cidr: "192.0.2.2/24" } });
        let seconds: number;
        if (direction === "netlab -> kernel") {
          const sink = ns.spawn("python3", ["-c", PY_SINK]);
          await sink.waitFor(/ready/, 10_000);
          const cr = stack.tcp.connect(KERNEL, 5001);
          if (!cr.ok) throw new Error(`connect: ${cr.error}`);
          const s: ByteStream = cr.value;
          await until<void>(
            (res, rej) => {
              s.onConnect(() => res());
              s.onClose((e) => rej(new Error(`closed: ${e}`)));
            },
            10_000,
            "connect",
          );
          const chunk = new Uint8Array(65536).fill(0x5a);
          const t0 = performance.now();
          let sent = 0;
          const pump = (): void => {
            while (sent < bytes) {
              sent += chunk.length;
              if (!s.write(chunk)) return;
            }
            s.end();
          };
          s.onDrain(pump);
          pump();
          await sink.waitFor(/got \d+\n/, 120_000);
          seconds = (performance.now() - t0) / 1000;
          const got = Number(/got (\d+)/.exec(sink.output().stdout)?.[1]);
          if (got !== bytes) throw new Error(`kernel received ${got} of ${bytes} bytes`);
        } else {
          const lr = stack.tcp.listen(5002);
          if (!lr.ok) throw new Error(`listen: ${lr.error}`);
          let received = 0,
            firstAt = 0;
          const done = until<number>(
            (res) => {
              lr.value.onConnection((s) => {
                s.onData((d) => {
                  if (received === 0) firstAt = performance.now();
                  received += d.length;
                });
                s.onEnd(() => {
                  const t = performance.now();
                  s.write(new Uint8Array([0x6f, 0x6b]));
                  s.end();
                  res(t);
                });
              });
            },
            120_000,
            "end of the kernel's stream",
          );
          const source = ns.spawn("python3", ["-c", PY_SOURCE(bytes)]);
          const endAt = await done;
          await source.waitFor(/sent \d+\n/, 10_000);
          if (received !== bytes) throw new Error(`netlab received ${received} of ${bytes} bytes`);
          seconds = (endAt - firstAt) / 1000;
        }
        details = { bytes, seconds: +seconds.toFixed(3), retransmits: stack.tcp.stats.retransmits, tapCounters: { ...tap.counters } };
        return gbits(bytes, seconds * 1000);
      });
    },
    details: () => details,
  };
}

export const suite: BenchSuite = {
  name: "tap",
  description: "TCP between netlab and the Linux kernel over a tap device (real clock; namespace created and removed here)",
  cases: () => [tapCase("netlab -> kernel", false), tapCase("kernel -> netlab", false), tapCase("netlab -> kernel", true), tapCase("kernel -> netlab", true)],
};
