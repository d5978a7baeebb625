// Router suite: IPv4 frames forwarded per second by one netlab router (createRouter, two
// interfaces; frames handed straight to its receive handler, the outgoing device only counts),
// and enqueue+dequeue rates of the queue disciplines on a full queue.
import type { BenchCase, BenchSuite } from "../../harness/bench/types.ts";
import { createRouter } from "../../stack/router.ts";
import { NO_OFFLOADS, type Frame, type NetDevice } from "../../stack/link/types.ts";
import { createQueueDiscipline, type QueueDisciplineSpec, type QueuedItem } from "../../stack/link/qdisc/index.ts";
import { createRng, createVirtualClock } from "../../stack/time.ts";
import { emitEthernet, emitIpv4, emitUdp, ETHERTYPE_IPV4 } from "../../stack/wire/index.ts";
import { runLab, validateTopology, type Topology } from "../../harness/lab/index.ts";

const SRC = 0xc000020a; // 192.0.2.10, behind eth0
const DST = 0xc633640a; // 198.51.100.10, behind eth1
const MAC_R0 = 0x020000000100,
  MAC_R1 = 0x020000000101,
  MAC_A = 0x02000000000a,
  MAC_B = 0x02000000000b;

function udpFrame(size: number, srcPort: number): Uint8Array {
  const f = new Uint8Array(size);
  const payload = new Uint8Array(size - 42);
  emitEthernet({ dst: MAC_R0, src: MAC_A, ethertype: ETHERTYPE_IPV4 }, f, 0);
  emitIpv4(
    {
      src: SRC,
      dst: DST,
      protocol: 17,
      ttl: 64,
      tos: 0,
      ident: 1,
      dontFragment: true,
      moreFragments: false,
      fragmentOffset: 0,
      payloadLength: 8 + payload.length,
      options: new Uint8Array(0),
    },
    f,
    14,
  );
  emitUdp({ srcPort, dstPort: 9, payload }, f.subarray(34), 0, SRC, DST);
  return f;
}

function timed(n: number, op: (i: number) => void): { perSecond: number; perCpuSecond: number } {
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  for (let i = 0; i < n; i++) op(i);
  const s = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  return { perSecond: n / s, perCpuSecond: n / ((cpu.user + cpu.system) / 1e6) };
}

function forwardCase(size: number): BenchCase {
  let details: Record<string, unknown> = {};
  return {
    suite: "router",
    name: `forward ${size} B frames (one router, 2 interfaces)`,
    unit: "Mpkt/s",
    higherIsBetter: true,
    measure(ctx) {
      const clock = createVirtualClock();
      let receive: (f: Frame) => void = () => {};
      let sent = 0;
      const left: NetDevice = {
        mac: MAC_R0,
        mtu: 1500,
        offloads: NO_OFFLOADS,
        send() {},
        onReceive(h) {
          receive = h;
        },
      };
      const right: NetDevice = {
        mac: MAC_R1,
        mtu: 1500,
        offloads: NO_OFFLOADS,
        send() {
          sent++;
        },
        onReceive() {},
      };
      const router = createRouter(
        { clock, rng: createRng(1) },
        {
          interfaces: [
            { device: left, cidr: "192.0.2.1/24" },
            { device: right, cidr: "198.51.100.1/24" },
          ],
        },
      );
      router.interface(0).arp.addStatic(SRC, MAC_A);
      router.interface(1).arp.addStatic(DST, MAC_B);
      const frame = udpFrame(size, 1);
      sent = 0; // the gratuitous ARP of configure()
      const n = ctx.quick ? 20_000 : 1_000_000;
      const r = timed(n, () => receive({ data: frame }));
      if (sent !== n) throw new Error(`forwarded ${sent} of ${n}`);
      details = { perCpuSecond: r.perCpuSecond / 1e6, frames: n };
      return r.perSecond / 1e6;
    },
    details: () => details,
  };
}

function queueCase(spec: QueueDisciplineSpec, label: string): BenchCase {
  let details: Record<string, unknown> = {};
  return {
    suite: "router",
    name: `${label} enqueue+dequeue (100 packets queued, 16 flows)`,
    unit: "Mpkt/s",
    higherIsBetter: true,
    measure(ctx) {
      const q = createQueueDiscipline<QueuedItem>(spec, { rng: createRng(1) });
      const frames = Array.from({ length: 16 }, (_, i) => udpFrame(1514, 1000 + i));
      for (let i = 0; i < 100; i++) q.enqueue({ data: frames[i % 16]!, enqueuedAt: 0 }, 0);
      const n = ctx.quick ? 20_000 : 1_000_000;
      // One packet in, one out, 0.1 ms apart: the sojourn stays 10 ms (above CoDel's target).
      const r = timed(n, (i) => {
        const now = i * 0.1;
        q.enqueue({ data: frames[i % 16]!, enqueuedAt: now }, now);
        q.dequeue(now);
      });
      details = { perCpuSecond: r.perCpuSecond / 1e6, dropped: q.counters.dropped, marked: q.counters.marked };
      return r.perSecond / 1e6;
    },
    details: () => details,
  };
}

/**
 * 100 nodes: ten routers in a chain (20 Mb/s, 2 ms, FQ-CoDel between them) with nine hosts each
 * (2 Mb/s, 1 ms access links), 45 CUBIC flows from the hosts of router k to those of router 11 - k.
 */
export function hundredNodeTopology(durationMs: number): Topology {
  const nodes: Record<string, unknown>[] = [];
  const links: Record<string, unknown>[] = [];
  const flows: Record<string, unknown>[] = [];
  const R = 10,
    H = 9;
  for (let k = 1; k <= R; k++) {
    const interfaces: { name: string; address: string }[] = [];
    const routes: { destination: string; via: string }[] = [];
    if (k > 1) {
      interfaces.push({ name: "west", address: `10.0.${k - 1}.2/30` });
      for (let j = 1; j < k; j++) routes.push({ destination: `10.${j}.0.0/16`, via: `10.0.${k - 1}.1` });
    }
    if (k < R) {
      interfaces.push({ name: "east", address: `10.0.${k}.1/30` });
      for (let j = k + 1; j <= R; j++) routes.push({ destination: `10.${j}.0.0/16`, via: `10.0.${k}.2` });
      links.push({ name: `r${k}-r${k + 1}`, endpoints: [`r${k}:east`, `r${k + 1}:west`], rateBitsPerSecond: 20e6, delayMs: 2, queue: { kind: "fq-codel" } });
    }
    for (let h = 1; h <= H; h++) {
      interfaces.push({ name: `lan${h}`, address: `10.${k}.${h}.1/24` });
      nodes.push({
        name: `h${k}-${h}`,
        kind: "host",
        interfaces: [{ name: "eth0", address: `10.${k}.${h}.2/24` }],
        routes: [{ destination: "default", via: `10.${k}.${h}.1` }],
      });
      links.push({ name: `h${k}-${h}`, endpoints: [`h${k}-${h}:eth0`, `r${k}:lan${h}`], rateBitsPerSecond: 2e6, delayMs: 1 });
    }
    nodes.push({ name: `r${k}`, kind: "router", interfaces, routes });
  }
  for (let k = 1; k <= R / 2; k++) {
    for (let h = 1; h <= H; h++) flows.push({ kind: "bulk-tcp", from: `h${k}-${h}`, to: `h${R + 1 - k}-${h}`, startMs: h * 10, durationMs });
  }
  const v = validateTopology({ name: "hundred-nodes", durationMs, nodes, links, flows });
  if (!v.ok) throw new Error(JSON.stringify(v.errors));
  return v.topology;
}

function hundredNodeCase(): BenchCase {
  let details: Record<string, unknown> = {};
  return {
    suite: "router",
    name: "100-node topology, 45 TCP flows, 60 virtual s (frames delivered per wall s)",
    unit: "pkt/s",
    higherIsBetter: true,
    runs: 1,
    warmup: 0,
    async measure(ctx) {
      const durationMs = ctx.quick ? 200 : 60_000;
      const heap0 = process.memoryUsage().heapUsed;
      // Peak heap and RSS, sampled with each progress line (about once per wall second) while the 100 nodes are alive.
      let heapPeak = heap0,
        rssPeak = process.memoryUsage().rss;
      const r = await runLab(hundredNodeTopology(durationMs), {
        seed: 1,
        onProgress: (line) => {
          const m = process.memoryUsage();
          heapPeak = Math.max(heapPeak, m.heapUsed);
          rssPeak = Math.max(rssPeak, m.rss);
          ctx.progress(line);
        },
      });
      const frames = r.links.reduce((a, l) => a + l.framesDelivered, 0);
      details = {
        virtualSeconds: r.virtualSeconds,
        wallSeconds: r.wallSeconds,
        cpuSeconds: r.cpuSeconds,
        framesDelivered: frames,
        perCpuSecond: frames / r.cpuSeconds,
        heapBeforeMB: heap0 / 2 ** 20,
        heapPeakMB: heapPeak / 2 ** 20,
        rssPeakMB: rssPeak / 2 ** 20,
        jainIndex: r.jainIndex,
      };
      return frames / r.wallSeconds;
    },
    details: () => details,
  };
}

export const suite: BenchSuite = {
  name: "router",
  description: "frames forwarded per second by one router; queue discipline rates",
  cases: () => [
    forwardCase(1514),
    forwardCase(64),
    queueCase({ kind: "drop-tail", limitPackets: 1000 }, "drop-tail"),
    queueCase({ kind: "red", minThreshold: 50, maxThreshold: 150 }, "red"),
    queueCase({ kind: "codel" }, "codel"),
    queueCase({ kind: "fq-codel" }, "fq-codel"),
    hundredNodeCase(),
  ],
};
