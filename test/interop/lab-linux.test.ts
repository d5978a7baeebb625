// Linux hosts in a lab topology (issue 21 items 3, 5, 7): the shipped mixed dumbbell, two Linux
// kernel senders (namespaces attached by taps to netlab's simulated access links) and two netlab
// senders sharing one netlab bottleneck router pair, in real time; iperf3 between two linux hosts
// (iperf3-linux, its -J report parsed into the flow's); and the cleanup on every exit:
// an interrupted run removes its namespaces and taps, a run without root is refused before anything
// is built.
import { execFileSync } from "node:child_process";
import { describe, expect, it, vi } from "vitest";
import { describeTopology, formatLabSummary, goodputOf, loadTopology, runLab, type Topology } from "../../harness/lab/index.ts";
import { linuxSkipReason } from "../../harness/lab/linux.ts";
import { isNetlabError } from "../../stack/error.ts";
import { announceSkip } from "./support.ts";
import { missingTools } from "../../harness/netns/index.ts";

const skip = announceSkip(
  "linux hosts in a lab",
  linuxSkipReason() ?? (missingTools(["traceroute"]).length > 0 ? "traceroute is missing (npm run setup installs it)" : undefined),
);

function example(name: string): Topology {
  const r = loadTopology(name);
  if (!r.ok) throw new Error(JSON.stringify(r.errors));
  return r.topology;
}

const mixed = (): Topology => example("dumbbell-mixed");

/** Namespaces and tap devices a lab run leaves behind. */
function leftovers(): string[] {
  const ns = execFileSync("ip", ["netns", "list"], { encoding: "utf8" })
    .split("\n")
    .filter((l) => l.startsWith("nl-lab-"));
  const links = execFileSync("ip", ["-o", "link", "show"], { encoding: "utf8" })
    .split("\n")
    .filter((l) => / nll[0-9a-z]+x/.test(l));
  return [...ns, ...links];
}

describe("lab run with linux hosts, refused without root", () => {
  it("lab describe names a linux host's composition: the kernel in a namespace behind a tap", () => {
    expect(describeTopology(mixed())).toContain(
      "  src1 (host, linux): the Linux kernel's stack in a network namespace (harness/lab/linux.ts), attached by a tap to its link end",
    );
  });

  it("refuses a topology with a linux node before building anything when not root", async () => {
    const spy = vi.spyOn(process, "getuid").mockReturnValue(1000);
    try {
      const e = await runLab(mixed(), { durationMs: 1000 }).then(
        () => undefined,
        (x: unknown) => x,
      );
      expect(isNetlabError(e) && e.code).toBe("ERR_NETLAB_LAB_NEEDS_ROOT");
      expect(String((e as Error).message)).toContain("linux nodes need root");
    } finally {
      spy.mockRestore();
    }
  });
});

describe.skipIf(skip)("lab run with linux hosts (real time, root)", () => {
  it("dumbbell-mixed: Linux's CUBIC and netlab's share the bottleneck; the summary gives each stack's share; nothing is left behind", async () => {
    const before = leftovers();
    const r = await runLab(mixed(), { durationMs: 5000 });
    expect(r.realTime).toBe(true);
    const linux = r.flows.filter((f) => f.sender === "linux");
    const netlab = r.flows.filter((f) => f.sender === "netlab");
    expect(linux.map((f) => f.from)).toEqual(["src1", "src2"]);
    expect(netlab.map((f) => f.from)).toEqual(["src3", "src4"]);
    for (const f of r.flows) {
      expect(f.error).toBeUndefined();
      expect(f.connected).toBe(true);
      // 10 Mb/s shared by four for 5 s: each gets well over 100 kB.
      expect(f.bytesReceived).toBeGreaterThan(100_000);
    }
    for (const f of linux) expect(f.linuxCongestionControl).toBe("cubic");
    // The kernel's cwnd and RTT come from TCP_INFO: an RTT at least the path's 2 x (1 + 20 + 1) ms.
    const rtts = linux.flatMap((f) => f.samples.map((s) => s.srttMs)).filter((x) => x > 0);
    expect(rtts.length).toBeGreaterThan(10);
    expect(Math.min(...rtts)).toBeGreaterThan(40);
    const bottleneck = r.queues.find((q) => q.name === "bottleneck r1:core->r2:core")!;
    const total = r.flows.reduce((a, f) => a + goodputOf(f.steady), 0);
    expect(total).toBeGreaterThan(7e6);
    expect(total).toBeLessThan(10.5e6);
    expect(bottleneck.stats.enqueued).toBeGreaterThan(1000);
    // A run with a linux host is in real time: every goodput is named by the wall clock.
    for (const f of r.flows) {
      expect(f.wallGoodputBitsPerSecond).toBeGreaterThan(0);
      expect(f.virtualGoodputBitsPerSecond).toBeUndefined();
      expect(f.steady.wallGoodputBitsPerSecond).toBeGreaterThan(0);
    }
    const text = formatLabSummary(r);
    expect(text).toContain("(goodputs on the wall clock)");
    expect(text).toMatch(/share of the steady goodput by sender stack: linux 2 flows [\d.]+ [kM]?bit\/s \([\d.]+%, \d+ retransmits\) {2}\| {2}netlab 2 flows/);
    expect(leftovers()).toEqual(before);
  }, 60_000);

  it("traceroute-linux: the kernel's traceroute(8) finds netlab's five routers and netlab host b (port unreachable), and b traces back to the kernel", async () => {
    const r = await runLab(example("traceroute-linux"));
    const forth = r.traceroutes.find((t) => t.name === "from-linux")!;
    expect(forth.tool).toBe("linux traceroute");
    expect(forth.hops.map((h) => h.from)).toEqual(["10.1.0.1", "10.0.1.2", "10.0.2.2", "10.0.3.2", "10.0.4.2", "10.2.0.2"]);
    expect(forth.reached).toBe(true);
    const back = r.traceroutes.find((t) => t.name === "back")!;
    expect(back.hops.map((h) => h.from)).toEqual(["10.2.0.1", "10.0.4.1", "10.0.3.1", "10.0.2.1", "10.0.1.1", "10.1.0.2"]);
    expect(back.reached).toBe(true);
    expect(formatLabSummary(r)).toContain("traceroute from-linux: a -> b (linux traceroute)");
  }, 60_000);

  it.skipIf(missingTools(["iperf3", "ss"]).length > 0)(
    "iperf3-linux: iperf3 -c in one namespace and -s in another across netlab's routers, its -J report in the flow's, beside a netlab flow; nothing left behind",
    async () => {
      const before = leftovers();
      const r = await runLab(example("iperf3-linux"), { durationMs: 3000 });
      expect(r.flows.map((f) => [f.name, f.kind, f.sender])).toEqual([
        ["iperf3", "iperf3", "linux"],
        ["netlab", "bulk-tcp", "netlab"],
      ]);
      const f = r.flows[0]!;
      expect([f.connected, f.error, f.linuxCongestionControl, f.durationMs]).toEqual([true, undefined, "cubic", 3000]);
      expect(f.iperf3!.version).toMatch(/^iperf 3\./);
      expect(f.iperf3!.seconds).toBeGreaterThan(2.9);
      // The 10 Mb/s bottleneck, shared with the netlab flow, for 3 s: what the server read, never more than the client wrote.
      expect(f.bytesReceived).toBeGreaterThan(300_000);
      expect(f.bytesReceived).toBeLessThanOrEqual(f.iperf3!.sentBytes);
      expect(f.wallGoodputBitsPerSecond!).toBeLessThan(10.5e6);
      expect(f.path).toEqual(["client-r1 client:eth0->r1:eth1", "bottleneck r1:core->r2:core", "r2-server r2:eth1->server:eth0"]);
      // One sample per 100 ms interval of the server; the client's RTT is at least the path's 2 x (1 + 10 + 1) ms.
      expect(f.samples.length).toBeGreaterThanOrEqual(25);
      const rtts = f.samples.map((x) => x.srttMs).filter((x) => x > 0);
      expect(Math.min(...rtts)).toBeGreaterThan(24);
      expect(f.samples.every((x) => x.cwnd > 0)).toBe(true);
      expect(r.flows[1]!.connected && r.flows[1]!.bytesReceived > 100_000).toBe(true);
      expect(formatLabSummary(r)).toMatch(/iperf3 {3}client -> server iperf3 linux cubic goodput [\d.]+ [kM]?bit\/s/);
      expect(leftovers()).toEqual(before);
    },
    60_000,
  );

  it("dumbbell-linux-xen: a Linux kernel sender, a Xen domU behind netfront (real-time dom0) and two netlab senders share the bottleneck; nothing is left behind", async () => {
    const before = leftovers();
    const r = await runLab(example("dumbbell-linux-xen"), { durationMs: 5000 });
    expect(r.flows.map((f) => [f.from, f.sender])).toEqual([
      ["src1", "linux"],
      ["src2", "xen"],
      ["src3", "netlab"],
      ["src4", "netlab"],
    ]);
    for (const f of r.flows) {
      expect(f.error).toBeUndefined();
      expect(f.connected).toBe(true);
      expect(f.bytesReceived).toBeGreaterThan(100_000);
    }
    const xen = r.xen!;
    expect(xen.peerErrors).toEqual([]);
    expect(xen.hosts.map((h) => [h.name, h.bridge, h.mac])).toEqual([["src2", "xenbr-src2", "00:16:3e:00:00:01"]]);
    const h = xen.hosts[0]!;
    // The domU's frames crossed the rings into its vif and left dom0's bridge onto the access link (TSO frames cut to the MTU);
    // the counters are read while the run's last frames may still be on a ring (256 slots): the vif is at most a ring behind.
    expect(h.netfront.txFrames).toBeGreaterThan(100);
    expect(h.netback.txFrames).toBeLessThanOrEqual(h.netfront.txFrames);
    expect(h.netback.txFrames).toBeGreaterThan(h.netfront.txFrames - 256);
    expect(h.linkPort.txFrames).toBeGreaterThanOrEqual(h.netback.txFrames);
    expect(h.netfront.rxFrames).toBeLessThanOrEqual(h.linkPort.rxFrames);
    expect(h.netfront.rxFrames).toBeGreaterThan(h.linkPort.rxFrames - 256);
    expect(formatLabSummary(r)).toMatch(/share of the steady goodput by sender stack: linux 1 flows .* {2}\| {2}xen 1 flows .* {2}\| {2}netlab 2 flows/);
    expect(leftovers()).toEqual(before);
  }, 60_000);

  it("an interrupted run (Ctrl-C) rejects with ERR_NETLAB_LAB_INTERRUPTED after removing its namespaces and taps", async () => {
    const before = leftovers();
    const abort = new AbortController();
    setTimeout(() => abort.abort(), 2500);
    const e = await runLab(mixed(), { durationMs: 20_000, signal: abort.signal }).then(
      () => undefined,
      (x: unknown) => x,
    );
    expect(isNetlabError(e) && e.code).toBe("ERR_NETLAB_LAB_INTERRUPTED");
    expect(leftovers()).toEqual(before);
  }, 60_000);
});
