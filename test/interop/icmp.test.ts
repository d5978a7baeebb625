// ICMP echo between netlab and the Linux kernel over a tap: each side pings the other,
// with and without IP fragmentation.
import { describe, expect, it } from "vitest";
import { createStack } from "../../stack/index.ts";
import { formatIpv4 } from "../../stack/wire/address.ts";
import { createSeededRng } from "../../harness/time/real-clock.ts";
import { announceSkip, interopSkipReason, tsharkOffending, withTapLab } from "./support.ts";

const skip = announceSkip("ICMP interop", interopSkipReason(["ping", "tcpdump", "tshark"]));
const KERNEL = 0xc0000201;

function report(line: string): void {
  process.stderr.write(`[interop] ${line}\n`);
}

describe.skipIf(skip)("ICMP echo between netlab and the kernel", () => {
  it("answers the kernel's ping, 5 of 5, including 4000-byte echoes that arrive and leave as fragments", async () => {
    await withTapLab("kernel pings netlab", {}, async (lab) => {
      const stack = createStack({ device: lab.device, clock: lab.clock, rng: createSeededRng() }, { ipv4: { cidr: "192.0.2.2/24" } });
      const small = await lab.ns.exec("ping", ["-n", "-c", "5", "-i", "0.05", "-W", "2", "192.0.2.2"], { timeoutMs: 10_000 });
      expect(small.stdout).toMatch(/5 packets transmitted, 5 received, 0% packet loss/);
      const big = await lab.ns.exec("ping", ["-n", "-c", "3", "-i", "0.05", "-W", "2", "-s", "4000", "192.0.2.2"], { timeoutMs: 10_000 });
      expect(big.stdout).toMatch(/3 packets transmitted, 3 received/);
      expect(big.stdout).toMatch(/4008 bytes from 192\.0\.2\.2/);
      const c = stack.counters();
      expect(c.icmp["echoRequestsReceived"]).toBe(8);
      expect(c.icmp["echoRepliesSent"]).toBe(8);
      expect(c.reassembly["reassembled"]).toBe(3);
      expect(tsharkOffending(lab)).toEqual([]);
      report(`kernel -> netlab ping: ${/rtt [^\n]*/.exec(small.stdout)?.[0] ?? "?"}; 4000 B: ${/rtt [^\n]*/.exec(big.stdout)?.[0] ?? "?"}`);
    });
  });

  it("pings the kernel, 5 of 5, and with 3000 bytes of data the kernel reassembles and answers", async () => {
    await withTapLab("netlab pings kernel", {}, async (lab) => {
      const stack = createStack({ device: lab.device, clock: lab.clock, rng: createSeededRng() }, { ipv4: { cidr: "192.0.2.2/24" } });
      const ping = (seq: number, size: number) =>
        new Promise<number>((resolve, reject) => {
          stack.icmp.ping(KERNEL, { seq, size, timeoutMs: 2000 }, (r) =>
            r.ok ? resolve(r.value.rttMs) : reject(new Error(`ping ${formatIpv4(KERNEL)} seq ${seq}: ${r.error}`)),
          );
        });
      const rtts: number[] = [];
      for (let seq = 1; seq <= 5; seq++) rtts.push(await ping(seq, 56));
      const bigRtt = await ping(6, 3000);
      expect(rtts).toHaveLength(5);
      expect(stack.counters().icmp["echoRepliesReceived"]).toBe(6);
      expect(stack.counters().ipv4["txFragments"]).toBeGreaterThanOrEqual(3);
      expect(tsharkOffending(lab)).toEqual([]);
      const sorted = [...rtts].sort((a, b) => a - b);
      report(
        `netlab -> kernel ping rtt ms: first ${rtts[0]!.toFixed(3)} (ARP), median ${sorted[2]!.toFixed(3)}, min ${sorted[0]!.toFixed(3)}; 3000 B: ${bigRtt.toFixed(3)}`,
      );
    });
  });
});
