// TCP over IPv6 through the Xen path: two domUs' netlab stacks on netfront, dom0's netback and
// bridge (runXenTransfer with ipv6), and a domU talking to a host on a bridge port, captured there
// and checked by tshark (IPv6, ICMPv6 ND and TCP checksums). Over IPv6 the stack writes every
// checksum and sends MSS-sized segments: GSO and csum_blank are used by TCP over IPv4 only (the
// rings negotiate feature-gso-tcpv6 and feature-ipv6-csum-offload, nothing uses them yet). Toward
// the domU an IPv6 partial checksum passes as csum_blank only to a frontend that wrote
// feature-ipv6-csum-offload (as Linux's netfront does); netback finishes it for one that did not.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { createDevicePair } from "../../stack/link/pair.ts";
import { withCapture } from "../../stack/link/capture.ts";
import { createStack } from "../../stack/index.ts";
import { unwrap } from "../../stack/result.ts";
import { createRng, createVirtualClock } from "../../stack/time.ts";
import { ipv6 } from "../../stack/wire/ipv6-address.ts";
import { runXenTransfer } from "../../harness/sim/xen-transfer.ts";
import { createCaptureFile } from "../../harness/pcap/files.ts";
import { checkCaptureWithTshark, tsharkFields, tsharkMissingReason } from "../../harness/oracle/tshark.ts";
import { buildXenNetwork } from "../../xen-sim/net/network.ts";
import { pumpUntil } from "../../stack/settle.ts";
import type { Frame } from "../../stack/link/types.ts";
import { partialChecksumUdp6 } from "../../stack/net/ipv6-test-net.ts";
import { writeMac } from "../../stack/wire/address.ts";
import { writeU16 } from "../../stack/wire/bytes.ts";
import { checksumAdd, checksumFinish } from "../../stack/wire/checksum.ts";
import { ipv6PseudoHeaderSum } from "../../stack/wire/ipv6.ts";

describe("TCP over IPv6 across the Xen path", () => {
  it("moves 2 MiB intact between two domUs over IPv6 (sha256), in MSS-sized frames", async () => {
    const r = await runXenTransfer({ bytes: 2 << 20, ipv6: true, seed: 11 });
    expect(r.error).toBeUndefined();
    expect(r).toMatchObject({ ok: true, family: "ipv6", received: 2 << 20, sha256Match: true, peerErrors: 0, gso: false, checksumOffload: false });
    // 2 MiB in segments of at most 1440 bytes (MSS from the IPv6 MTU): at least 1457 data frames.
    expect(r.frames.tx).toBeGreaterThan(1456);
    expect(r.retransmits).toBe(0);
  });

  it("a backend restart mid-transfer over IPv6: netfront reconnects and the transfer completes intact", async () => {
    const r = await runXenTransfer({ bytes: 3 << 20, ipv6: true, seed: 5, restartBackendAt: 1 << 20 });
    expect(r).toMatchObject({ ok: true, sha256Match: true, backendRestarts: 1, family: "ipv6" });
  });

  it("GSO is refused over IPv6 rather than silently not used", async () => {
    await expect(runXenTransfer({ bytes: 1 << 20, ipv6: true, gso: true })).rejects.toThrow(/GSO is used by TCP over IPv4 only/);
  });

  it("a domU with GSO and checksum offload negotiated reaches a host on a bridge port over IPv6: the capture there is tshark-clean", async () => {
    const dir = mkdtempSync(join(tmpdir(), "netlab-xen6-"));
    try {
      const clock = createVirtualClock();
      const rng = createRng(9);
      const net = unwrap(
        await buildXenNetwork(
          { clock, rng },
          { guests: 1, netfront: { gso: true }, stack: (_i, g) => ({ name: g.name, ipv6: { addresses: ["2001:db8::1/64"], routerSolicitations: false } }) },
        ),
      );
      const pair = createDevicePair(clock, { macA: 0x020000000a01, macB: 0x020000000a02 });
      net.bridge.attach(pair.a, { name: "link0" });
      const file = createCaptureFile(join(dir, "wire.pcapng"));
      const host = createStack(
        { device: withCapture(pair.b, file.sink, { clock, name: "wire-host" }), clock, rng },
        { name: "wire-host", ipv6: { addresses: ["2001:db8::9/64"], routerSolicitations: false } },
      );
      const guest = net.guests[0]!;
      expect(guest.netfront.offloads.tso).toBe(true);
      const total = 512 * 1024;
      let received = 0;
      let intact = true;
      unwrap(host.tcp6!.listen(80)).onConnection((s) =>
        s.onData((d) => {
          for (let i = 0; i < d.length; i++) if (d[i] !== ((received + i) * 7) % 251) intact = false;
          received += d.length;
        }),
      );
      const ready = (): boolean => [guest.stack, host].every((s) => s.ipv6!.ndp.addresses().some((a) => a.origin === "static" && a.state === "preferred"));
      await pumpUntil(clock, ready, { untilMs: clock.now() + 10_000 });
      const c = unwrap(guest.stack.tcp6!.connect(ipv6("2001:db8::9"), 80));
      c.onConnect(() => {
        const data = new Uint8Array(total);
        for (let i = 0; i < total; i++) data[i] = (i * 7) % 251;
        c.write(data);
        c.end();
      });
      await pumpUntil(clock, () => received === total, { untilMs: clock.now() + 60_000 });
      file.close();
      expect(received).toBe(total);
      expect(intact).toBe(true);
      expect(net.peerErrors).toEqual([]);
      // Every IPv6 frame from the bridge fits the MTU and carries no offload metadata.
      const fromBridge = pair.log.filter((e) => e.from === "a" && e.frame.data[12] === 0x86 && e.frame.data[13] === 0xdd);
      expect(fromBridge.length).toBeGreaterThan(360);
      expect(fromBridge.every((e) => e.frame.data.length <= 1514 && e.frame.offload === undefined)).toBe(true);
      if (tsharkMissingReason() === undefined) {
        const path = join(dir, "wire.pcapng");
        const v = checkCaptureWithTshark(path);
        expect(v.offending).toEqual([]);
        expect(v.packets).toBeGreaterThan(500);
        // tshark verifies each TCP checksum over the IPv6 pseudo-header: all good, none unverified.
        const status = tsharkFields(path, ["tcp.checksum.status"], "ipv6 && tcp").map(([x]) => x);
        expect(status.length).toBeGreaterThan(500);
        expect(new Set(status)).toEqual(new Set(["1"]));
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it.each([
    [true, { csumBlank: true, dataValidated: true }, false],
    [false, undefined, true],
  ])(
    "an IPv6 UDP datagram with a partial checksum (csumBlank) from a bridge port reaches a netfront writing feature-ipv6-csum-offload=%s as netback's Linux would deliver it",
    async (ipv6Csum, expectedOffload, completed) => {
      const clock = createVirtualClock();
      const net = unwrap(
        await buildXenNetwork(
          { clock, rng: createRng(3) },
          { guests: 1, netfront: { ipv6ChecksumOffload: ipv6Csum }, stack: (_i, g) => ({ name: g.name, ipv6: { routerSolicitations: false } }) },
        ),
      );
      const pair = createDevicePair(clock, { macA: 0x020000000a01, macB: 0x020000000a02 });
      net.bridge.attach(pair.a, { name: "link0" });
      const guest = net.guests[0]!;
      const got: Frame[] = [];
      guest.netfront.onReceive((f) => got.push({ data: f.data.slice(), ...(f.offload === undefined ? {} : { offload: f.offload }) }));
      const src = ipv6("2001:db8::9"),
        dst = ipv6("2001:db8::1");
      const packet = partialChecksumUdp6(src, dst, 7777, new TextEncoder().encode("hello"));
      const frame = new Uint8Array(14 + packet.length);
      writeMac(frame, 0, guest.netfront.mac);
      writeMac(frame, 6, 0x020000000a02);
      writeU16(frame, 12, 0x86dd);
      frame.set(packet, 14);
      pair.b.send({ data: frame, offload: { csumBlank: true } });
      await pumpUntil(clock, () => got.length === 1, { untilMs: clock.now() + 1000 });
      expect(got).toHaveLength(1);
      // Linux netback: csum_blank | data_validated for CHECKSUM_PARTIAL; after skb_checksum_help, no flags.
      expect(got[0]!.offload).toEqual(expectedOffload);
      const seg = got[0]!.data.subarray(54);
      expect(checksumFinish(checksumAdd(seg, ipv6PseudoHeaderSum(src, dst, 17, seg.length))) === 0).toBe(completed);
      expect(net.peerErrors).toEqual([]);
    },
  );
});
