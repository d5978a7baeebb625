import { describe, expect, it } from "vitest";
import { createDevicePair } from "../../stack/link/pair.ts";
import { createStack } from "../../stack/index.ts";
import { unwrap } from "../../stack/result.ts";
import { createRng, createVirtualClock } from "../../stack/time.ts";
import { parseIpv4 } from "../../stack/wire/address.ts";
import { runXenTransfer } from "../../harness/sim/xen-transfer.ts";
import { buildXenNetwork } from "../../xen-sim/net/network.ts";
import { pumpUntil } from "../../stack/settle.ts";
import { checksumAdd, pseudoHeaderSum } from "../../stack/wire/checksum.ts";

/** True when an Ethernet/IPv4/TCP frame's TCP checksum verifies (the sum folds to 0xffff). */
function tcpChecksumOk(f: Uint8Array): boolean {
  const ihl = (f[14]! & 15) * 4;
  const total = (f[16]! << 8) | f[17]!;
  const src = ((f[26]! << 24) | (f[27]! << 16) | (f[28]! << 8) | f[29]!) >>> 0;
  const dst = ((f[30]! << 24) | (f[31]! << 16) | (f[32]! << 8) | f[33]!) >>> 0;
  const seg = f.subarray(14 + ihl, 14 + total);
  return checksumAdd(seg, pseudoHeaderSum(src, dst, 6, seg.length)) === 0xffff;
}

describe("TCP across two domUs", () => {
  for (const [gso, csum] of [
    [false, false],
    [false, true],
    [true, true],
  ] as const) {
    it(`moves 2 MiB intact with gso ${gso ? "on" : "off"} and checksum offload ${csum ? "on" : "off"}`, async () => {
      const r = await runXenTransfer({ bytes: 2 << 20, gso, checksumOffload: csum, seed: 11 });
      expect(r.error).toBeUndefined();
      expect(r).toMatchObject({ ok: true, received: 2 << 20, sha256Match: true, peerErrors: 0 });
      // With GSO the sender hands the rings ~64 KiB segments; without, MSS-sized frames.
      if (gso) expect(r.frames.tx).toBeLessThan(200);
      else expect(r.frames.tx).toBeGreaterThan(1400);
      // Notification avoidance: a burst pushed before the peer runs costs one event, not one per frame.
      expect(r.notifications.netfront).toBeLessThan(r.frames.tx / 2);
      expect(r.notifications.netback).toBeLessThan(r.frames.tx + r.frames.rx);
    });
  }

  it("GSO segments and netback's tx copies reuse buffers their consumer gave back, and poisoning released buffers corrupts nothing", async () => {
    // 40 posted rx buffers hold two 64 KiB frames: netback queues the rest and copies them later,
    // so a release before that copy would deliver 0xA5 bytes and break the sha256.
    for (const rxBuffers of [undefined, 40]) {
      const r = await runXenTransfer({ bytes: 4 << 20, gso: true, seed: 3, poisonReleasedBuffers: true, ...(rxBuffers === undefined ? {} : { rxBuffers }) });
      expect(r).toMatchObject({ ok: true, sha256Match: true, peerErrors: 0 });
      expect(r.buffersReused!.tcpSegments).toBeGreaterThan(r.frames.tx / 2);
      expect(r.buffersReused!.netbackTx).toBeGreaterThan(r.frames.tx / 2);
    }
  });

  it("a backend restart mid-transfer: the frontend reconnects through InitWait and the transfer completes intact", async () => {
    for (const gso of [false, true]) {
      const r = await runXenTransfer({ bytes: 3 << 20, gso, seed: 5, restartBackendAt: 1 << 20 });
      expect(r).toMatchObject({ ok: true, sha256Match: true, backendRestarts: 1 });
    }
  });

  for (const gso of [true, false])
    it(`${gso ? "GSO" : "csum_blank"} frames leaving the bridge through a port without offloads are ${gso ? "segmented" : "completed"} with correct checksums`, async () => {
      const clock = createVirtualClock();
      const rng = createRng(9);
      const net = unwrap(await buildXenNetwork({ clock, rng }, { guests: 1, netfront: { gso } }));
      const pair = createDevicePair(clock, { macA: 0x020000000a01, macB: 0x020000000a02 });
      const port = net.bridge.attach(pair.a, { name: "link0" });
      const host = createStack({ device: pair.b, clock, rng }, { name: "wire-host", ipv4: { cidr: "192.0.2.9/24" } });
      const guest = net.guests[0]!;
      expect(guest.netfront.offloads.tso).toBe(gso);
      const total = 512 * 1024;
      let received = 0;
      let intact = true;
      unwrap(host.tcp.listen(80)).onConnection((s) =>
        s.onData((d) => {
          for (let i = 0; i < d.length; i++) if (d[i] !== ((received + i) * 7) % 251) intact = false;
          received += d.length;
        }),
      );
      const c = unwrap(guest.stack.tcp.connect(unwrap(parseIpv4("192.0.2.9")), 80));
      c.onConnect(() => {
        const data = new Uint8Array(total);
        for (let i = 0; i < total; i++) data[i] = (i * 7) % 251;
        c.write(data);
        c.end();
      });
      await pumpUntil(clock, () => received === total, { untilMs: 60_000 });
      expect(received).toBe(total);
      expect(intact).toBe(true);
      expect(net.peerErrors).toEqual([]);
      if (gso) expect(port.stats().segmented).toBeGreaterThan(0);
      else expect(port.stats().checksumsCompleted).toBeGreaterThan(300);
      // Every frame on the wire fits the MTU, carries no offload metadata and a correct TCP checksum.
      const fromBridge = pair.log.filter((e) => e.from === "a" && e.frame.data[23] === 6);
      expect(fromBridge.length).toBeGreaterThan(360);
      expect(fromBridge.every((e) => e.frame.data.length <= 1514 && e.frame.offload === undefined)).toBe(true);
      expect(fromBridge.every((e) => tcpChecksumOk(e.frame.data))).toBe(true);
      if (gso) expect(guest.netfront.stats().txFrames).toBeLessThan(fromBridge.length);
    });
});
