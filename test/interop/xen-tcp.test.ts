// Bulk TCP through the Xen path against kernel sockets, both directions: the domU's stack on
// netfront, dom0's netback and bridge, the tap, the kernel in a namespace. Once with no offloads
// anywhere (wire-sized frames, full checksums on the rings), once with offloads end to end:
// the kernel's GSO frames and partial checksums come through the tap's virtio_net_hdr, cross
// the bridge whole and reach the domU as NETRXF_csum_blank + GSO extra info; the domU's TSO
// frames go out as NETTXF_csum_blank + GSO extra info and leave through the tap unsegmented.
import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { createStack } from "../../stack/index.ts";
import type { ByteStream } from "../../stack/transport/types.ts";
import { announceSkip, interopSkipReason, waitUntil } from "./support.ts";
import { report, tsharkOffendingBulk, withXenLab, type XenLabOptions } from "./xen-support.ts";

const skip = announceSkip("Xen-path TCP interop", interopSkipReason(["python3", "tcpdump", "tshark"]));
const KERNEL = 0xc0000201;
const BULK_BYTES = Number(process.env["NETLAB_INTEROP_XEN_TCP_BYTES"] ?? 16 * 1024 * 1024);

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
import socket, hashlib
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("192.0.2.1", 5001)); s.listen(1); s.settimeout(30)
print("ready", flush=True)
c, a = s.accept(); c.settimeout(30)
h = hashlib.sha256(); n = 0
while True:
    d = c.recv(1 << 20)
    if not d: break
    h.update(d); n += len(d)
c.sendall(b"ok"); c.close()
print("got", n, h.hexdigest(), flush=True)
`;

const PY_SOURCE = (size: number) => `
import socket, hashlib, os
buf = os.urandom(${size})
print("ready", flush=True)
c = socket.create_connection(("192.0.2.2", 5002), timeout=30)
c.sendall(buf); c.shutdown(socket.SHUT_WR)
rest = c.recv(16)
print("sent", len(buf), hashlib.sha256(buf).hexdigest(), rest.decode(), flush=True)
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

const MODES: Array<[string, XenLabOptions, boolean]> = [
  ["no offloads", { snaplen: 96, offloadsOff: true, xen: { netfront: { checksumOffload: false, gso: false } } }, false],
  [
    "offloads end to end (virtio_net_hdr on the tap, csum_blank and GSO on the rings)",
    { snaplen: 96, offloadsOff: false, tap: { txOffloads: true, rxOffloads: true } },
    true,
  ],
];

describe.skipIf(skip)("bulk TCP between a domU behind netfront/netback and kernel sockets", () => {
  it.each(MODES)(`sends ${BULK_BYTES >> 20} MiB from the domU to a kernel socket intact, %s`, async (label, options, offloads) => {
    await withXenLab(`tcp domU to kernel ${offloads ? "offloads" : "plain"}`, options, async ({ lab, xen, device, clock, rng }) => {
      const stack = createStack({ device, clock, rng }, { ipv4: { cidr: "192.0.2.2/24" } });
      const sink = lab.spawn("python3", ["-c", PY_SINK]);
      await sink.waitFor(/ready/);
      const data = pattern(BULK_BYTES);
      const connected = stack.tcp.connect(KERNEL, 5001);
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
      await sink.waitFor(/got \d+ [0-9a-f]{64}\n/, 60_000);
      const seconds = (performance.now() - start) / 1000;
      await waitUntil(() => closed !== null, 5000, "the connection to close");
      expect(closed).toBeUndefined();
      expect(reply).toBe("ok");
      expect(sink.output().stdout).toContain(`got ${BULK_BYTES} ${createHash("sha256").update(data).digest("hex")}`);
      const x = xen.counters();
      expect(x["bridge.link.segmented"]).toBe(0);
      expect(x["bridge.link.dropped"]).toBe(0);
      expect(xen.peerErrors).toEqual([]);
      // Offloaded: 64 KB TSO frames cross netfront, netback, bridge and tap whole.
      if (offloads) expect(lab.tap.counters.txFrames).toBeLessThan(BULK_BYTES / 1448 / 4);
      else expect(lab.tap.counters.txFrames).toBeGreaterThan(BULK_BYTES / 1460);
      if (!offloads) expect(tsharkOffendingBulk(lab, [5001])).toEqual([]);
      report(
        `xen: TCP domU -> kernel (${label}): ${BULK_BYTES >> 20} MiB in ${seconds.toFixed(2)} s = ${((BULK_BYTES * 8) / seconds / 1e6).toFixed(0)} Mbit/s; ` +
          `netfront tx frames ${x["netfront.txFrames"]} (slots ${x["netfront.txSlots"]}), tap tx frames ${lab.tap.counters.txFrames} (drops ${lab.tap.counters.dropped}), retransmits ${stack.tcp.stats.retransmits}`,
      );
    });
  });

  it.each(MODES)(`receives ${BULK_BYTES >> 20} MiB from a kernel socket in the domU intact, %s`, async (label, options, offloads) => {
    await withXenLab(`tcp kernel to domU ${offloads ? "offloads" : "plain"}`, options, async ({ lab, xen, device, clock, rng }) => {
      const stack = createStack({ device, clock, rng }, { ipv4: { cidr: "192.0.2.2/24" } });
      const listener = stack.tcp.listen(5002);
      if (!listener.ok) throw new Error(`listen: ${listener.error}`);
      const hash = createHash("sha256");
      let received = 0,
        firstAt = 0,
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
      expect(source.output().stdout).toContain(`sent ${BULK_BYTES} ${hash.digest("hex")} ok`);
      const x = xen.counters();
      expect(x["netback.rxDropped"]).toBe(0);
      expect(x["netfront.rxDropped"]).toBe(0);
      expect(xen.peerErrors).toEqual([]);
      if (offloads) expect(lab.tap.counters.rxFrames).toBeLessThan(BULK_BYTES / 1448 / 2);
      if (!offloads) expect(tsharkOffendingBulk(lab, [5002])).toEqual([]);
      const seconds = (endAt - firstAt) / 1000;
      report(
        `xen: TCP kernel -> domU (${label}): ${BULK_BYTES >> 20} MiB in ${seconds.toFixed(2)} s = ${((BULK_BYTES * 8) / seconds / 1e6).toFixed(0)} Mbit/s; ` +
          `tap rx frames ${lab.tap.counters.rxFrames}, netfront rx frames ${x["netfront.rxFrames"]}, tap drops ${lab.tap.counters.dropped}`,
      );
    });
  });
});
