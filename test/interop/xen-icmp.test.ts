// ICMP echo through the Xen path: the kernel in a namespace ⇄ tap ⇄ dom0's bridge ⇄ netback ⇄
// rings ⇄ netfront ⇄ netlab's stack in a domU, on the real clock. Each side pings the other.
import { describe, expect, it } from "vitest";
import { createStack } from "../../stack/index.ts";
import { formatIpv4, formatMac } from "../../stack/wire/address.ts";
import { ipv6 } from "../../stack/wire/ipv6-address.ts";
import { announceSkip, interopSkipReason, tsharkOffending, waitUntil } from "./support.ts";
import { report, withXenLab } from "./xen-support.ts";

const skip = announceSkip("Xen-path ICMP interop", interopSkipReason(["ping", "tcpdump", "tshark"]));
const KERNEL = 0xc0000201;

describe.skipIf(skip)("ICMP echo between the kernel and a domU behind netfront/netback", () => {
  it("answers the kernel's ping through tap, bridge, netback and netfront, 10 of 10, and 4000-byte echoes as fragments", async () => {
    await withXenLab("kernel pings domU", {}, async ({ lab, xen, device, clock, rng }) => {
      const stack = createStack({ device, clock, rng }, { ipv4: { cidr: "192.0.2.2/24" } });
      const small = await lab.ns.exec("ping", ["-n", "-c", "10", "-i", "0.02", "-W", "2", "192.0.2.2"], { timeoutMs: 10_000 });
      expect(small.stdout).toMatch(/10 packets transmitted, 10 received, 0% packet loss/);
      const big = await lab.ns.exec("ping", ["-n", "-c", "3", "-i", "0.05", "-W", "2", "-s", "4000", "192.0.2.2"], { timeoutMs: 10_000 });
      expect(big.stdout).toMatch(/3 packets transmitted, 3 received/);
      expect(big.stdout).toMatch(/4008 bytes from 192\.0\.2\.2/);
      const neigh = await lab.ns.exec("ip", ["neigh", "show", "192.0.2.2", "dev", lab.ifname]);
      expect(neigh.stdout).toContain(formatMac(xen.netfront.mac));
      const c = stack.counters();
      expect(c.icmp["echoRequestsReceived"]).toBe(13);
      expect(c.icmp["echoRepliesSent"]).toBe(13);
      expect(c.reassembly["reassembled"]).toBe(3);
      await waitUntil(
        () => xen.counters()["netback.txFrames"] === xen.counters()["netfront.txFrames"],
        1000,
        "netback to take every frame netfront put on the tx ring",
      );
      const x = xen.counters();
      expect(x["netfront.rxFrames"]).toBeGreaterThanOrEqual(13 + 6);
      expect(x["bridge.link.txFrames"]).toBe(lab.tap.counters.txFrames);
      expect(xen.peerErrors).toEqual([]);
      expect(tsharkOffending(lab)).toEqual([]);
      report(`xen: kernel -> domU ping ${/rtt [^\n]*/.exec(small.stdout)?.[0] ?? "?"}; 4000 B: ${/rtt [^\n]*/.exec(big.stdout)?.[0] ?? "?"}`);
    });
  });

  it("pings the kernel from the domU, 10 of 10, and 3000-byte echoes the kernel reassembles", async () => {
    await withXenLab("domU pings kernel", {}, async ({ lab, xen, device, clock, rng }) => {
      const stack = createStack({ device, clock, rng }, { ipv4: { cidr: "192.0.2.2/24" } });
      const ping = (seq: number, size: number) =>
        new Promise<number>((resolve, reject) => {
          stack.icmp.ping(KERNEL, { seq, size, timeoutMs: 2000 }, (r) =>
            r.ok ? resolve(r.value.rttMs) : reject(new Error(`ping ${formatIpv4(KERNEL)} seq ${seq}: ${r.error}`)),
          );
        });
      const rtts: number[] = [];
      for (let seq = 1; seq <= 10; seq++) rtts.push(await ping(seq, 56));
      const bigRtt = await ping(11, 3000);
      expect(stack.counters().icmp["echoRepliesReceived"]).toBe(11);
      expect(stack.counters().ipv4["txFragments"]).toBeGreaterThanOrEqual(3);
      expect(xen.bridge.lookup(xen.netfront.mac)).toBe(`vif${xen.guest.id}.0`);
      expect(xen.bridge.lookup(Number.parseInt(lab.kernelMac.replaceAll(":", ""), 16))).toBe("tap");
      expect(xen.peerErrors).toEqual([]);
      expect(tsharkOffending(lab)).toEqual([]);
      const sorted = [...rtts].sort((a, b) => a - b);
      report(
        `xen: domU -> kernel ping rtt ms: first ${rtts[0]!.toFixed(3)} (ARP), median ${sorted[5]!.toFixed(3)}, min ${sorted[0]!.toFixed(3)}, max ${sorted[9]!.toFixed(3)}; 3000 B: ${bigRtt.toFixed(3)}`,
      );
    });
  });

  it("over IPv6: the kernel pings the domU's global address 10 of 10 and a 3000-byte echo as fragments, and the domU pings the kernel back", async () => {
    await withXenLab("ipv6 ping both ways", { ipv6: true }, async ({ lab, xen, device, clock, rng }) => {
      await lab.ns.ip("-6", "addr", "add", "2001:db8:1::1/64", "dev", lab.ifname, "nodad");
      const stack = createStack({ device, clock, rng }, { ipv6: { addresses: ["2001:db8:1::2/64"], routerSolicitations: false } });
      await waitUntil(() => stack.ipv6!.ndp.addresses().some((a) => a.origin === "static" && a.state === "preferred"), 5000, "the domU's DAD");
      const small = await lab.ns.exec("ping", ["-6", "-n", "-c", "10", "-i", "0.02", "-W", "2", "2001:db8:1::2"], { timeoutMs: 10_000 });
      expect(small.stdout).toMatch(/10 packets transmitted, 10 received, 0% packet loss/);
      const big = await lab.ns.exec("ping", ["-6", "-n", "-c", "3", "-i", "0.05", "-W", "2", "-s", "3000", "2001:db8:1::2"], { timeoutMs: 10_000 });
      expect(big.stdout).toMatch(/3 packets transmitted, 3 received/);
      const rtt = await new Promise<number>((resolve, reject) =>
        stack.icmpv6!.ping(ipv6("2001:db8:1::1"), { seq: 1, size: 1000, timeoutMs: 2000 }, (r) => (r.ok ? resolve(r.value.rttMs) : reject(new Error(r.error)))),
      );
      const c = stack.counters();
      expect(c.icmpv6!["echoRepliesSent"]).toBe(13);
      expect(c.reassembly6!["reassembled"]).toBe(3);
      expect(c.icmpv6!["echoRepliesReceived"]).toBe(1);
      const neigh = await lab.ns.ip("-6", "neigh", "show", "2001:db8:1::2", "dev", lab.ifname);
      expect(neigh).toContain(formatMac(xen.netfront.mac));
      expect(xen.peerErrors).toEqual([]);
      expect(tsharkOffending(lab)).toEqual([]);
      report(
        `xen ipv6: kernel -> domU ping6 ${/rtt [^\n]*/.exec(small.stdout)?.[0] ?? "?"}; 3000 B: ${/rtt [^\n]*/.exec(big.stdout)?.[0] ?? "?"}; domU -> kernel ${rtt.toFixed(3)} ms`,
      );
    });
  });
});
