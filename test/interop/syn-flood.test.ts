// A SYN flood over a real tap (issue 19 item 9): hping3 floods netlab's HTTP server with SYNs from
// random sources at the rate one core can send them, while a client that fetched before (so its
// address is known to the tap's reader as one that completes handshakes) keeps fetching with curl.
// The tap's reader thread sheds SYNs from unknown sources once a quarter of its ring is waiting,
// so the kernel's queue keeps draining and the client's frames find room. The frames the kernel
// could not queue for the reader (its queue full) are reported.
//   NETLAB_INTEROP_FLOOD_SECONDS   how long the flood runs (default 6; the figure is for 20)
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { composeAttachedStack } from "../../harness/tap/attached-stack.ts";
import { createSeededRng } from "../../harness/time/real-clock.ts";
import { announceSkip, interopSkipReason, withTapLab } from "./support.ts";

const skip = announceSkip("SYN flood over a tap", interopSkipReason(["curl", "hping3"]));
const FLOOD_SECONDS = Number(process.env["NETLAB_INTEROP_FLOOD_SECONDS"] ?? 6);

function report(line: string): void {
  process.stderr.write(`[interop] ${line}\n`);
}

describe.skipIf(skip)("SYN flood over a tap", () => {
  it("keeps serving a known client while hping3 floods SYNs from random sources, and counts the SYNs it shed", async () => {
    await withTapLab("syn flood", { capture: false }, async (lab) => {
      const root = join(lab.dir, "www");
      mkdirSync(root);
      writeFileSync(join(root, "index.html"), "<h1>netlab under a flood</h1>\n");
      const attached = await composeAttachedStack(
        { device: lab.device, clock: lab.clock, rng: createSeededRng() },
        { address: { kind: "static", cidr: { address: 0xc0000202, prefixLength: 24 } }, http: { root, port: 80 } },
      );
      try {
        const fetch = async (): Promise<number | undefined> => {
          const r = await lab.ns.exec(
            "curl",
            ["-sS", "--max-time", "3", "-o", "/dev/null", "-w", "%{http_code} %{time_total}", "http://192.0.2.2/index.html"],
            { timeoutMs: 6000 },
          );
          const [code, seconds] = r.stdout.trim().split(" ");
          return code === "200" ? Number(seconds) * 1000 : undefined;
        };
        // Before the flood: the client connects once, so the reader has seen it complete a handshake.
        expect(await fetch()).toBeDefined();
        const flood = lab.spawn("timeout", [String(FLOOD_SECONDS + 2), "hping3", "--flood", "-S", "-p", "80", "--rand-source", "-q", "192.0.2.2"]);
        await new Promise((r) => setTimeout(r, 1000));
        const latencies: number[] = [];
        let attempted = 0;
        const until = Date.now() + (FLOOD_SECONDS - 1) * 1000;
        while (Date.now() < until) {
          attempted++;
          const ms = await fetch();
          if (ms !== undefined) latencies.push(ms);
          await new Promise((r) => setTimeout(r, 100));
        }
        await flood.stop("SIGINT", 2000);
        // Frames the kernel dropped because the tap's queue (TAP_KERNEL_QUEUE) was full: the
        // reader thread fell behind, and whatever those frames were, netlab never saw them.
        const link = JSON.parse(await lab.ns.ip("-s", "-j", "link", "show", "dev", lab.ifname)) as Array<{
          stats64?: { tx?: { packets: number; dropped: number } };
        }>;
        const kernelTx = link[0]?.stats64?.tx;
        const sorted = [...latencies].sort((a, b) => a - b);
        const median = sorted.length > 0 ? sorted[Math.floor(sorted.length / 2)]! : Infinity;
        const c = attached.counters();
        report(
          `SYN flood ${FLOOD_SECONDS} s: ${latencies.length}/${attempted} fetches ok, median ${median.toFixed(1)} ms, ` +
            `max ${sorted.at(-1)?.toFixed(1)} ms; tap rx ${lab.tap.counters.rxFrames}, shed SYNs ${lab.tap.counters.shedSyns}, ` +
            `dropped ${lab.tap.counters.dropped}; kernel queue overflowed ${kernelTx?.dropped} of ${(kernelTx?.packets ?? 0) + (kernelTx?.dropped ?? 0)}; tcp segments received ${c["tcp.segmentsReceived"]}, SYN cookies sent ${c["tcp.synCookiesSent"]}`,
        );
        expect(lab.tap.counters.shedSyns).toBeGreaterThan(0);
        expect(latencies.length / attempted).toBeGreaterThanOrEqual(0.9);
        // The target is a median under 50 ms on a quiet machine (see the note for the
        // 20 s figure); here, on a machine other tests keep busy, the median fetch must at least
        // not have needed a SYN retransmission (1 s): its SYN was not lost in the flood.
        expect(median).toBeLessThan(500);
      } finally {
        await attached.stop();
      }
    });
  }, 60_000);
});
