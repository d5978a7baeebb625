// Bulk TCP between netlab and kernel sockets over a tap, both directions: bytes arrive intact
// (sha256), the connection closes cleanly, and the throughput is reported.
import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import type { Stack } from "../../stack/index.ts";
import { createStack } from "../../stack/index.ts";
import type { ExtendedTcpLayer } from "../../stack/transport/tcp/index.ts";
import type { ByteStream } from "../../stack/transport/types.ts";
import { createSeededRng } from "../../harness/time/real-clock.ts";
import { announceSkip, interopSkipReason, waitUntil, withTapLab, type TapLab } from "./support.ts";

const skip = announceSkip("TCP interop", interopSkipReason(["python3", "tcpdump"]));
const KERNEL = 0xc0000201;
const BULK_BYTES = Number(process.env["NETLAB_INTEROP_TCP_BYTES"] ?? 32 * 1024 * 1024);

function report(line: string): void {
  process.stderr.write(`[interop] ${line}\n`);
}

function pattern(size: number): Uint8Array {
  const b = new Uint8Array(size);
  let x = 0x12345678;
  for (let i = 0; i < size; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    b[i] = x >>> 24;
  }
  return b;
}

const PY_SINK = `
import socket, hashlib, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("192.0.2.1", 5001)); s.listen(1); s.settimeout(20)
print("ready", flush=True)
c, a = s.accept(); c.settimeout(20)
h = hashlib.sha256(); n = 0; t0 = None
while True:
    d = c.recv(1 << 20)
    if not d: break
    if t0 is None: t0 = time.time()
    h.update(d); n += len(d)
dt = time.time() - (t0 or time.time())
c.sendall(b"ok"); c.close()
print("got", n, h.hexdigest(), "%.3f" % dt, flush=True)
`;

const PY_SOURCE = (size: number) => `
import socket, hashlib, os, time
buf = os.urandom(${size})
print("ready", flush=True)
c = socket.create_connection(("192.0.2.2", 5002), timeout=20)
t0 = time.time(); c.sendall(buf); c.shutdown(socket.SHUT_WR)
rest = c.recv(16)
print("sent", len(buf), hashlib.sha256(buf).hexdigest(), "%.3f" % (time.time() - t0), rest.decode(), flush=True)
`;

async function sendAll(stream: ByteStream, data: Uint8Array, chunk = 64 * 1024): Promise<void> {
  let offset = 0;
  await new Promise<void>((resolve) => {
    const pump = (): void => {
      while (offset < data.length) {
        const piece = data.subarray(offset, Math.min(data.length, offset + chunk));
        offset += piece.length;
        if (!stream.write(piece)) return;
      }
      stream.end();
      resolve();
    };
    stream.onDrain(pump);
    pump();
  });
}

function labStack(lab: TapLab): { stack: Stack; tcp: ExtendedTcpLayer } {
  const stack = createStack({ device: lab.device, clock: lab.clock, rng: createSeededRng() }, { ipv4: { cidr: "192.0.2.2/24" } });
  return { stack, tcp: stack.tcp };
}

describe.skipIf(skip)("bulk TCP between netlab and kernel sockets", () => {
  it.each([
    ["", {}],
    [" with virtio_net_hdr offloads both ways (TSO and partial checksums out)", { txOffloads: true, rxOffloads: true }],
  ] as const)(`sends ${BULK_BYTES >> 20} MiB from netlab to a kernel socket intact and closes cleanly%s`, async (label, tapOptions) => {
    await withTapLab(`tcp netlab to kernel${label === "" ? "" : " offloads"}`, { snaplen: 96, tap: tapOptions, offloadsOff: label === "" }, async (lab) => {
      const { tcp } = labStack(lab);
      const sink = lab.spawn("python3", ["-c", PY_SINK]);
      await sink.waitFor(/ready/);
      const data = pattern(BULK_BYTES);
      const connected = tcp.connect(KERNEL, 5001);
      if (!connected.ok) throw new Error(`connect: ${connected.error}`);
      const stream = connected.value;
      let reply = "";
      let closed: string | undefined | null = null;
      stream.onData((d) => {
        reply += Buffer.from(d).toString();
      });
      stream.onClose((e) => {
        closed = e;
      });
      await new Promise<void>((resolve, reject) => {
        stream.onConnect(() => resolve());
        setTimeout(() => reject(new Error("connect timed out")), 5000);
      });
      const start = performance.now();
      await sendAll(stream, data);
      await sink.waitFor(/got \d+ [0-9a-f]{64} [0-9.]+\n/, 60_000);
      const seconds = (performance.now() - start) / 1000;
      await waitUntil(() => closed !== null, 5000, "the connection to close");
      expect(closed).toBeUndefined();
      expect(reply).toBe("ok");
      const sha = createHash("sha256").update(data).digest("hex");
      expect(sink.output().stdout).toContain(`got ${BULK_BYTES} ${sha}`);
      report(
        `TCP netlab -> kernel${label === "" ? "" : " (offloads)"}: ${BULK_BYTES >> 20} MiB in ${seconds.toFixed(2)} s = ${((BULK_BYTES * 8) / seconds / 1e6).toFixed(0)} Mbit/s; ${lab.tap.counters.txFrames} frames out, retransmits ${tcp.stats.retransmits}`,
      );
    });
  });

  it.each([
    ["", {}],
    [" with virtio_net_hdr offloads both ways (GRO'd frames with partial checksums in, TSO out)", { txOffloads: true, rxOffloads: true }],
  ] as const)(`receives ${BULK_BYTES >> 20} MiB from a kernel socket intact and closes cleanly%s`, async (label, tapOptions) => {
    await withTapLab(`tcp kernel to netlab${label === "" ? "" : " offloads"}`, { snaplen: 96, tap: tapOptions, offloadsOff: label === "" }, async (lab) => {
      const { tcp } = labStack(lab);
      const listener = tcp.listen(5002);
      if (!listener.ok) throw new Error(`listen: ${listener.error}`);
      const hash = createHash("sha256");
      let received = 0;
      let firstAt = 0,
        endAt = 0;
      listener.value.onConnection((stream) => {
        stream.onData((d) => {
          if (received === 0) firstAt = performance.now();
          received += d.length;
          hash.update(d);
        });
        stream.onEnd(() => {
          endAt = performance.now();
          stream.write(new TextEncoder().encode("ok"));
          stream.end();
        });
      });
      const source = lab.spawn("python3", ["-c", PY_SOURCE(BULK_BYTES)]);
      await source.waitFor(/sent .* ok\n/, 90_000);
      await waitUntil(() => endAt > 0, 5000, "end of stream");
      expect(received).toBe(BULK_BYTES);
      expect(source.output().stdout).toContain(`sent ${BULK_BYTES} ${hash.digest("hex")} `);
      expect(source.output().stdout).toMatch(/ ok\n/);
      const seconds = (endAt - firstAt) / 1000;
      report(
        `TCP kernel -> netlab${label === "" ? "" : " (offloads)"}: ${BULK_BYTES >> 20} MiB in ${seconds.toFixed(2)} s = ${((BULK_BYTES * 8) / seconds / 1e6).toFixed(0)} Mbit/s; ${lab.tap.counters.rxFrames} frames in, tap drops ${lab.tap.counters.dropped}`,
      );
    });
  });
});
