// netlab TCP against the Linux kernel's TCP over a tap device in a namespace this test
// creates (192.0.2.1 = kernel, 192.0.2.2 = netlab). Loss and reordering are applied on the
// netlab side (withImpairments on the tap: tx = netlab -> kernel, rx = kernel -> netlab),
// so both stacks' loss recovery and SACK handling run against each other. Skips without
// root or python3.
import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { createStack } from "../../stack/index.ts";
import { withImpairments } from "../../stack/link/index.ts";
import { createRng } from "../../stack/time.ts";
import { unwrap } from "../../stack/result.ts";
import type { TcpConnection } from "../../stack/transport/tcp/index.ts";
import { announceSkip, interopSkipReason, tsharkOffending, waitUntil, withTapLab, type TapLab } from "../interop/support.ts";

const skip = announceSkip("TCP against Linux", interopSkipReason(["python3"]));
const BYTES = 16 * 1024 * 1024;
const KERNEL = 0xc0000201;
const IMPAIR = { loss: 0.03, reorder: 0.01 } as const;

function randomData(n: number, seed: number): Uint8Array {
  const b = new Uint8Array(n);
  const v = new DataView(b.buffer);
  let x = seed >>> 0 || 1;
  for (let i = 0; i + 4 <= n; i += 4) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    v.setUint32(i, x);
  }
  return b;
}

function netlabOn(lab: TapLab, seed: number) {
  const rng = createRng(seed);
  const device = withImpairments(lab.device, { clock: lab.clock, rng: createRng(seed + 1) }, { tx: IMPAIR, rx: IMPAIR });
  return createStack({ device, clock: lab.clock, rng }, { ipv4: { cidr: "192.0.2.2/24" } });
}

const SINK = `
import socket, hashlib
l = socket.socket(); l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
l.bind(("192.0.2.1", 5002)); l.listen(1); print("ready", flush=True)
c, _ = l.accept(); h = hashlib.sha256(); n = 0
while True:
    b = c.recv(1 << 20)
    if not b: break
    h.update(b); n += len(b)
print("got", n, h.hexdigest(), flush=True); c.close()
`;

const SOURCE = `
import socket, sys
s = socket.socket()
# this kernel defaults to BBR: pin CUBIC (TCP_CONGESTION = 13), the algorithm netlab runs
s.setsockopt(socket.IPPROTO_TCP, 13, b"cubic")
s.connect(("192.0.2.2", 5001))
print("cc", s.getsockopt(socket.IPPROTO_TCP, 13, 16).split(b"\\0")[0].decode(), flush=True)
import random
r = random.Random(7); left = int(sys.argv[1])
import hashlib; h = hashlib.sha256()
while left > 0:
    b = r.randbytes(min(1 << 16, left)); h.update(b); s.sendall(b); left -= len(b)
s.shutdown(socket.SHUT_WR)
while s.recv(65536): pass
print("sent", h.hexdigest(), flush=True); s.close()
`;

describe.skipIf(skip)("netlab TCP against the Linux kernel", () => {
  it("Linux sends 16 MiB to a netlab listener through 3% loss and 1% reordering both ways: sha256 matches, SACK/TS/WS negotiated", async () => {
    await withTapLab("tcp linux to netlab", {}, async (lab) => {
      const stack = netlabOn(lab, 11);
      const l = unwrap(stack.tcp.listen(5001));
      const hash = createHash("sha256");
      let received = 0;
      let ended = false;
      let conn: TcpConnection | undefined;
      l.onConnection((s) => {
        conn = s as TcpConnection;
        s.onData((d) => {
          hash.update(d);
          received += d.length;
        });
        s.onEnd(() => {
          ended = true;
          s.end();
        });
      });
      const t0 = performance.now();
      const py = lab.spawn("python3", ["-c", SOURCE, String(BYTES)]);
      await py.waitFor(/sent [0-9a-f]{64}/, 120_000);
      await waitUntil(() => ended, 10_000, "netlab to see the FIN");
      const seconds = (performance.now() - t0) / 1000;
      const sent = /sent ([0-9a-f]{64})/.exec(py.output().stdout)![1];
      const kernelCc = /cc (\w+)/.exec(py.output().stdout)?.[1];
      expect(kernelCc).toBe("cubic");
      expect(received).toBe(BYTES);
      expect(hash.digest("hex")).toBe(sent);
      expect(conn!.info()).toMatchObject({ sack: true, timestamps: true, windowScaling: true, sendMss: 1448 });
      process.stderr.write(
        `[tcp-linux] kernel -> netlab ${BYTES} B in ${seconds.toFixed(2)} s = ${((BYTES * 8) / seconds / 1e6).toFixed(0)} Mbit/s at 3% loss, kernel sender ${kernelCc}; netlab sent ${stack.tcp.stats.segmentsSent} segments\n`,
      );
      expect(tsharkOffending(lab).filter((line) => !/Bad|checksum/i.test(line))).toEqual([]);
    });
  }, 180_000);

  it("netlab sends 16 MiB to a Linux sink through 3% loss and 1% reordering both ways: the kernel's sha256 matches", async () => {
    await withTapLab("tcp netlab to linux", {}, async (lab) => {
      const py = lab.spawn("python3", ["-c", SINK]);
      await py.waitFor(/ready/, 10_000);
      const stack = netlabOn(lab, 12);
      const data = randomData(BYTES, 99);
      const expected = createHash("sha256").update(data).digest("hex");
      const c = unwrap(stack.tcp.connect(KERNEL, 5002)) as TcpConnection;
      let offset = 0;
      let closed: string | undefined | null = null;
      const pump = (): void => {
        while (offset < data.length) {
          const chunk = data.subarray(offset, Math.min(data.length, offset + 65536));
          offset += chunk.length;
          if (!c.write(chunk)) return;
        }
        c.end();
      };
      c.onConnect(pump);
      c.onDrain(pump);
      c.onClose((e) => {
        closed = e;
      });
      const t0 = performance.now();
      await py.waitFor(/got \d+ [0-9a-f]{64}/, 120_000);
      const seconds = (performance.now() - t0) / 1000;
      const m = /got (\d+) ([0-9a-f]{64})/.exec(py.output().stdout)!;
      expect(Number(m[1])).toBe(BYTES);
      expect(m[2]).toBe(expected);
      await waitUntil(() => closed !== null, 10_000, "netlab to close");
      expect(closed).toBe(undefined);
      expect(c.info()).toMatchObject({ sack: true, timestamps: true, windowScaling: true });
      process.stderr.write(
        `[tcp-linux] netlab -> kernel ${BYTES} B in ${seconds.toFixed(2)} s = ${((BYTES * 8) / seconds / 1e6).toFixed(0)} Mbit/s at 3% loss; ${stack.tcp.stats.retransmits} retransmissions, ${stack.tcp.stats.fastRetransmits} fast recoveries, ${stack.tcp.stats.timeouts} RTOs\n`,
      );
    });
  }, 180_000);
});
