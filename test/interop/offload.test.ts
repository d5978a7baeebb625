// virtio_net_hdr offloads through a real tap: the kernel completes a checksum the stack left
// blank and segments a TSO frame, as a Xen backend or a NIC would. Frames are made by hand
// (no stack involved) so the test pins the device alone.
import { describe, expect, it } from "vitest";
import type { Frame } from "../../stack/link/types.ts";
import { checksumAdd, fold, internetChecksum, pseudoHeaderSum } from "../../stack/wire/checksum.ts";
import { announceSkip, hex, interopSkipReason, waitUntil, withTapLab, type TapLab } from "./support.ts";

const skip = announceSkip("tap offloads", interopSkipReason(["python3", "tcpdump"]));

const KERNEL = 0xc0000201,
  STACK = 0xc0000202;

/** Ethernet + IPv4 header (DF, TTL 64, valid header checksum) in front of an L4 payload. */
function ipv4Frame(lab: TapLab, protocol: number, l4: Uint8Array): Uint8Array {
  const f = new Uint8Array(34 + l4.length);
  f.set(Buffer.from(lab.kernelMac.replaceAll(":", "") + lab.tap.mac.toString(16).padStart(12, "0") + "0800", "hex"));
  const total = 20 + l4.length;
  f.set([0x45, 0, total >>> 8, total & 0xff, 0x12, 0x34, 0x40, 0, 64, protocol, 0, 0], 14);
  new DataView(f.buffer).setUint32(26, STACK);
  new DataView(f.buffer).setUint32(30, KERNEL);
  const sum = internetChecksum(f.subarray(14, 34));
  f[24] = sum >>> 8;
  f[25] = sum & 0xff;
  f.set(l4, 34);
  return f;
}

/** A TCP header (no options unless mss) + payload, with its checksum field left as `check`. */
function tcpSegment(srcPort: number, dstPort: number, seq: number, ack: number, flags: number, payload: Uint8Array, mss?: number): Uint8Array {
  const optLen = mss === undefined ? 0 : 4;
  const s = new Uint8Array(20 + optLen + payload.length);
  const v = new DataView(s.buffer);
  v.setUint16(0, srcPort);
  v.setUint16(2, dstPort);
  v.setUint32(4, seq >>> 0);
  v.setUint32(8, ack >>> 0);
  s[12] = ((20 + optLen) / 4) << 4;
  s[13] = flags;
  v.setUint16(14, 65535);
  if (mss !== undefined) {
    s[20] = 2;
    s[21] = 4;
    v.setUint16(22, mss);
  }
  s.set(payload, 20 + optLen);
  return s;
}

function fullTcpChecksum(seg: Uint8Array): void {
  seg[16] = 0;
  seg[17] = 0;
  const sum = ~fold(checksumAdd(seg, pseudoHeaderSum(STACK, KERNEL, 6, seg.length))) & 0xffff;
  seg[16] = sum >>> 8;
  seg[17] = sum & 0xff;
}

const PY_UDP = `
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("192.0.2.1", 7000)); s.settimeout(5)
print("ready", flush=True)
data, addr = s.recvfrom(2048)
print("got", data.hex(), addr[0], addr[1], flush=True)
`;

const PY_TCP = `
import socket, hashlib
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("192.0.2.1", 7000)); s.listen(1); s.settimeout(5)
print("ready", flush=True)
c, a = s.accept(); c.settimeout(5)
buf = b""
while len(buf) < 4000:
    d = c.recv(65536)
    if not d: break
    buf += d
print("got", len(buf), hashlib.sha256(buf).hexdigest(), flush=True)
`;

describe.skipIf(skip)("a tap opened with virtio_net_hdr offloads", () => {
  it("has the kernel complete the UDP checksum of a csumBlank datagram and deliver it to a socket", async () => {
    await withTapLab("offload udp csum blank", { tap: { txOffloads: true } }, async (lab) => {
      expect(lab.tap.offloads.txChecksum).toBe(true);
      const py = lab.spawn("python3", ["-c", PY_UDP]);
      await py.waitFor(/ready/);
      const payload = Buffer.from("netlab csumBlank datagram");
      const udp = new Uint8Array(8 + payload.length);
      const v = new DataView(udp.buffer);
      v.setUint16(0, 7001);
      v.setUint16(2, 7000);
      v.setUint16(4, udp.length);
      v.setUint16(6, pseudoHeaderSum(STACK, KERNEL, 17, udp.length));
      udp.set(payload, 8);
      lab.device.send({ data: ipv4Frame(lab, 17, udp), offload: { csumBlank: true } });
      await py.waitFor(/got [0-9a-f]+ \S+ \d+\n/, 5000);
      expect(py.output().stdout).toContain(`got ${payload.toString("hex")} 192.0.2.2 7001`);
      expect(lab.tap.counters.dropped).toBe(0);
    });
  });

  it("has the kernel take a 4000-byte TSO frame (GSO_TCPV4, partial checksum) into a hand-made TCP connection and ACK all of it", async () => {
    await withTapLab("offload tcp gso", { tap: { txOffloads: true } }, async (lab) => {
      const stackMac = lab.tap.mac
        .toString(16)
        .padStart(12, "0")
        .replace(/(..)(?!$)/g, "$1:");
      await lab.ns.ip("neigh", "replace", "192.0.2.2", "lladdr", stackMac, "dev", lab.ifname);
      const frames: Frame[] = [];
      lab.device.onReceive((f) => frames.push(f));
      const py = lab.spawn("python3", ["-c", PY_TCP]);
      await py.waitFor(/ready/);
      const isn = 0x10000000;
      const tcpFrom = (f: Frame): DataView | undefined =>
        f.data.length >= 54 && f.data[23] === 6 ? new DataView(f.data.buffer, f.data.byteOffset + 34) : undefined;

      const syn = tcpSegment(40000, 7000, isn, 0, 0x02, new Uint8Array(0), 1460);
      fullTcpChecksum(syn);
      lab.device.send({ data: ipv4Frame(lab, 6, syn) });
      await waitUntil(() => frames.some((f) => tcpFrom(f)?.getUint8(13) === 0x12), 3000, "the kernel's SYN-ACK");
      const synAck = tcpFrom(frames.find((f) => tcpFrom(f)?.getUint8(13) === 0x12)!)!;
      expect(synAck.getUint32(8)).toBe(isn + 1);
      const serverSeq = synAck.getUint32(4);

      const ack = tcpSegment(40000, 7000, isn + 1, serverSeq + 1, 0x10, new Uint8Array(0));
      fullTcpChecksum(ack);
      lab.device.send({ data: ipv4Frame(lab, 6, ack) });

      const payload = new Uint8Array(4000);
      for (let i = 0; i < payload.length; i++) payload[i] = (i * 7 + 3) & 0xff;
      const data = tcpSegment(40000, 7000, isn + 1, serverSeq + 1, 0x18, payload);
      data[16] = 0;
      data[17] = 0;
      const partial = pseudoHeaderSum(STACK, KERNEL, 6, data.length);
      data[16] = partial >>> 8;
      data[17] = partial & 0xff;
      lab.device.send({ data: ipv4Frame(lab, 6, data), offload: { csumBlank: true, gsoSize: 1448 } });

      const acked = (f: Frame): boolean => {
        const t = tcpFrom(f);
        return t !== undefined && (t.getUint8(13) & 0x10) !== 0 && t.getUint32(8) === isn + 1 + 4000;
      };
      await waitUntil(() => frames.some(acked), 3000, "the kernel's ACK of all 4000 bytes");
      await py.waitFor(/got \d+ [0-9a-f]{64}\n/, 5000);
      const sha = (await import("node:crypto")).createHash("sha256").update(payload).digest("hex");
      expect(py.output().stdout).toContain(`got 4000 ${sha}`);
      expect(hex(frames.find(acked)!.data.subarray(34, 38))).toBe("1b589c40");
      expect(lab.tap.counters.txFrames).toBe(3);
      expect(lab.tap.counters.dropped).toBe(0);
    });
  });
});
