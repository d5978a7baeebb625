// Raw frames through a real tap: the kernel (in a namespace this test creates) is the peer,
// and the test plays the host at 192.0.2.2 by hand, byte by byte.
import { describe, expect, it } from "vitest";
import type { Frame } from "../../stack/link/types.ts";
import { internetChecksum } from "../../stack/wire/checksum.ts";
import { announceSkip, hex, interopSkipReason, waitUntil, withTapLab } from "./support.ts";

const skip = announceSkip("tap raw frames", interopSkipReason(["ping", "tcpdump"]));

const KERNEL_IP = "c0000201"; // 192.0.2.1
const STACK_IP = "c0000202"; // 192.0.2.2

function macHex(mac: number): string {
  return mac.toString(16).padStart(12, "0");
}

function arpFrame(op: 1 | 2, dstMac: string, srcMac: string, senderIp: string, targetMac: string, targetIp: string): Uint8Array {
  return Buffer.from(`${dstMac}${srcMac}0806` + `000108000604000${op}${srcMac}${senderIp}${targetMac}${targetIp}`, "hex");
}

describe.skipIf(skip)("a tap device with the kernel on the other end", () => {
  it("delivers the kernel's ARP request, and the kernel's echo request once the test answers it, and ping gets the crafted reply", async () => {
    await withTapLab("raw ping round trip", {}, async (lab) => {
      const frames: Frame[] = [];
      lab.device.onReceive((f) => frames.push(f));
      const kernelMac = lab.kernelMac.replaceAll(":", "");
      const stackMac = macHex(lab.tap.mac);
      const ping = lab.spawn("ping", ["-n", "-c", "1", "-W", "3", "192.0.2.2"]);

      await waitUntil(() => frames.some((f) => hex(f.data).startsWith("ffffffffffff")), 3000, "the kernel's ARP request");
      const request = frames.find((f) => hex(f.data).startsWith("ffffffffffff"))!;
      expect(hex(request.data.subarray(0, 42))).toBe(`ffffffffffff${kernelMac}0806` + `0001080006040001${kernelMac}${KERNEL_IP}000000000000${STACK_IP}`);

      lab.device.send({ data: arpFrame(2, kernelMac, stackMac, STACK_IP, kernelMac, KERNEL_IP) });
      const isEcho = (f: Frame): boolean => hex(f.data.subarray(12, 14)) === "0800" && f.data[23] === 1 && f.data[34] === 8;
      await waitUntil(() => frames.some(isEcho), 3000, "the kernel's ICMP echo request");
      const echo = frames.find(isEcho)!.data;
      expect(hex(echo.subarray(0, 14))).toBe(`${stackMac}${kernelMac}0800`);
      expect(hex(echo.subarray(26, 34))).toBe(`${KERNEL_IP}${STACK_IP}`);
      expect(internetChecksum(echo.subarray(14, 34))).toBe(0);
      expect(internetChecksum(echo.subarray(34))).toBe(0);

      const reply = Uint8Array.from(echo);
      reply.set(Buffer.from(kernelMac + stackMac, "hex"), 0);
      reply.set(Buffer.from(STACK_IP + KERNEL_IP, "hex"), 26);
      reply[22] = 64;
      reply[24] = 0;
      reply[25] = 0;
      const ipSum = internetChecksum(reply.subarray(14, 34));
      reply[24] = ipSum >>> 8;
      reply[25] = ipSum & 0xff;
      reply[34] = 0;
      reply[36] = 0;
      reply[37] = 0;
      const icmpSum = internetChecksum(reply.subarray(34));
      reply[36] = icmpSum >>> 8;
      reply[37] = icmpSum & 0xff;
      lab.device.send({ data: reply });

      await new Promise<void>((resolve) => ping.child.once("close", () => resolve()));
      expect(ping.output().stdout).toMatch(/1 packets transmitted, 1 received/);
      expect(lab.tap.counters.txFrames).toBe(2);
      expect(lab.tap.counters.dropped).toBe(0);
    });
  });

  it("carries a crafted ARP request to the kernel, which answers with its own MAC", async () => {
    await withTapLab("raw arp request", {}, async (lab) => {
      const frames: Frame[] = [];
      lab.device.onReceive((f) => frames.push(f));
      const kernelMac = lab.kernelMac.replaceAll(":", "");
      const stackMac = macHex(lab.tap.mac);
      lab.device.send({ data: arpFrame(1, "ffffffffffff", stackMac, STACK_IP, "000000000000", KERNEL_IP) });
      const isReply = (f: Frame): boolean => hex(f.data.subarray(12, 14)) === "0806" && f.data[21] === 2;
      await waitUntil(() => frames.some(isReply), 3000, "the kernel's ARP reply");
      expect(hex(frames.find(isReply)!.data.subarray(0, 42))).toBe(
        `${stackMac}${kernelMac}0806` + `0001080006040002${kernelMac}${KERNEL_IP}${stackMac}${STACK_IP}`,
      );
      const neigh = await lab.ns.ip("neigh", "show", "192.0.2.2", "dev", lab.ifname);
      expect(neigh.replaceAll(":", "")).toContain(stackMac);
    });
  });

  it("delivers a burst of 300 frames in order through a 4-slot ring with a 2-frame budget per turn", async () => {
    await withTapLab("raw small ring", { tap: { ringSlots: 4, deliverBudget: 2 }, capture: false }, async (lab) => {
      const stackMac = macHex(lab.tap.mac).replace(/(..)(?!$)/g, "$1:");
      await lab.ns.ip("neigh", "replace", "192.0.2.2", "lladdr", stackMac, "dev", lab.ifname);
      const seqs: number[] = [];
      lab.device.onReceive((f) => {
        if (f.data[23] === 17 && f.data.length >= 46) seqs.push(new DataView(f.data.buffer, f.data.byteOffset).getUint32(42));
      });
      const sent = await lab.ns.exec(
        "python3",
        [
          "-c",
          "import socket,struct\ns=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\n" +
            "for i in range(300): s.sendto(struct.pack('>I', i), ('192.0.2.2', 9))\nprint('sent')",
        ],
        { timeoutMs: 10_000 },
      );
      expect(sent.stdout).toBe("sent\n");
      await waitUntil(() => seqs.length >= 300, 5000, `300 datagrams (got ${seqs.length})`);
      expect(seqs).toEqual(Array.from({ length: 300 }, (_, i) => i));
      expect(lab.tap.counters.rxFrames).toBe(300);
    });
  });
});
