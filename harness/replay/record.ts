// `npm run pcaps:record` (= netlab replay --record): records the real-peer captures of pcaps/.
// For each plan: a fresh network namespace holds the kernel end of a tap (fixed MACs, IPv6
// and offloads off, 192.0.2.0/24), the Debian tool (ping, dnsmasq, dhclient, python3 sockets,
// curl) runs inside it, and netlab plays the other end, built by endpoint.ts from the very
// configuration the expectation file records, on an event-time clock: the real clock read once
// per event (a delivered frame, a timer, a turn of the event loop) and frozen until the event's
// synchronous work and microtasks are done, like a stack polled with one timestamp. Real time
// spent computing inside one event (cold code takes milliseconds) would otherwise leak into
// TSvals and ISNs, which a replay in virtual time cannot reproduce. Every frame netlab sends or
// receives is captured with that same clock (pcapng, ns timestamps, gzip); received frames carry
// the comment "batch N": frames the tap handed over in one synchronous run, between which no
// timer or promise callback could run (conversation mode feeds them the same way). The code paths are
// warmed up first (the golden scenarios run once), so the event loop is not blocked while the
// kernel talks. Then the expectation is written (endpoint, clock start and epoch,
// normalisations, decode counts) and the capture is replayed at once (decode + conversation);
// a recording that does not replay is recorded again (at most 3 attempts) and reported.
// The namespace and tap are removed whatever happens. Root only.
// The kernel-to-kernel recordings (the IPv6 ones, decode mode only) are in record-pair.ts.
//   PLANS                      the recordings (name -> plan)
//   recordAll(options)         records all (or options.only) into options.dir; exit code
import { dhclientArgs } from "../dhcp/dhclient.ts";
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { type Frame, type NetDevice, withoutRelease } from "../../stack/link/types.ts";
import { createByteCollector, createPcapngWriter } from "../../stack/link/pcap/index.ts";
import { parseMac } from "../../stack/wire/address.ts";
import { createNetns, missingTools, sweepStaleNetns, type Netns, type NetnsProcess } from "../netns/index.ts";
import { openTap, type TapDevice } from "../tap/index.ts";
import { writeCaptureFile, parseCaptureBytes } from "../pcap/files.ts";
import { createRealClock, createSeededRng, type RealClock } from "../time/real-clock.ts";
import { SCENARIOS } from "./scenarios.ts";
import { decodeCapture } from "./decode.ts";
import { buildEndpoint, type ReplayEndpoint } from "./endpoint.ts";
import type { AppConfig, EndpointConfig, Normalisation } from "./expect.ts";
import { formatReport, replayFile } from "./index.ts";
import { PAIR_PLANS, recordPair } from "./record-pair.ts";
import { NetlabError } from "../../stack/error.ts";

const NETLAB_MAC = "02:6e:6c:00:00:02";
const KERNEL_MAC = "02:6e:6c:00:00:01";
const NETLAB_IP = "192.0.2.2";
const MAX_ATTEMPTS = 3;
const TCP_NORMALISE: Normalisation[] = ["tcp-isn", "tcp-timestamps", "http-date"];

/** What a plan's steps get. */
interface PlanContext {
  readonly ns: Netns;
  readonly ifname: string;
  readonly dir: string;
  readonly endpoint: ReplayEndpoint;
  spawn(command: string, args: readonly string[]): NetnsProcess;
}

/** One recording. */
interface RecordingPlan {
  readonly description: string;
  readonly endpoint: EndpointConfig;
  /** Kernel-side address, or null (a DHCP client there). */
  readonly kernelCidr: string | null;
  readonly tools: readonly string[];
  readonly normalise: readonly Normalisation[];
  /** Starts kernel-side servers before netlab's endpoint exists. */
  prepare?(ns: Netns, ifname: string, dir: string): Promise<NetnsProcess[]>;
  /** Runs the exchange. */
  drive(ctx: PlanContext): Promise<void>;
}

async function python(ctx: PlanContext, script: string, timeoutMs = 20_000): Promise<string> {
  const path = join(ctx.dir, "peer.py");
  writeFileSync(path, script);
  const r = await ctx.ns.exec("python3", [path], { timeoutMs });
  if (r.code !== 0) throw recordError(`python3 peer failed (${r.code}): ${r.stderr.trim()}`);
  return r.stdout;
}

function recordError(message: string): Error {
  return new NetlabError("ERR_REPLAY_RECORD", message);
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

const PY_HEAD = `import socket, struct, time
H = "${NETLAB_IP}"
def conn(p):
    return socket.create_connection((H, p), timeout=5)
`;

/** The recordings. */
export const PLANS: Readonly<Record<string, RecordingPlan>> = {
  "kernel-arp-icmp": {
    description: "the kernel (192.0.2.1) pings netlab (192.0.2.2) three times: its ARP request and netlab's reply, echo requests and netlab's replies",
    endpoint: { mac: NETLAB_MAC, cidr: `${NETLAB_IP}/24`, seed: 101, apps: [] },
    kernelCidr: "192.0.2.1/24",
    tools: ["ping"],
    normalise: [],
    async drive(ctx) {
      const r = await ctx.ns.exec("ping", ["-n", "-c", "3", "-i", "0.2", "-W", "2", NETLAB_IP], { timeoutMs: 10_000 });
      if (!/3 received/.test(r.stdout)) throw recordError(`ping: ${r.stdout}${r.stderr}`);
    },
  },
  "kernel-dhcp-dnsmasq": {
    description:
      "netlab's DHCP client (RFC 5227 ARP probe on) leases 192.0.2.x from dnsmasq (DISCOVER/OFFER/REQUEST/ACK, probes, announcement), then the kernel pings the leased address",
    endpoint: { mac: NETLAB_MAC, seed: 102, apps: [{ kind: "dhcp-client", probe: true, initDelayMinMs: 0, initDelayMaxMs: 500 }] },
    kernelCidr: "192.0.2.1/24",
    tools: ["dnsmasq", "ping"],
    normalise: ["dhcp-xid", "dhcp-secs"],
    async prepare(ns, ifname, dir) {
      const dnsmasq = ns.spawn("dnsmasq", [
        "--no-daemon",
        "--conf-file=/dev/null",
        "--port=0",
        `--interface=${ifname}`,
        "--bind-interfaces",
        "--dhcp-range=192.0.2.100,192.0.2.150,255.255.255.0,1h",
        "--dhcp-option=option:router,192.0.2.1",
        `--dhcp-leasefile=${join(dir, "dnsmasq.leases")}`,
        "--pid-file",
        "--log-dhcp",
        "--log-facility=-",
        "--user=root",
        "--no-ping",
      ]);
      await dnsmasq.waitFor(/DHCP, IP range 192\.0\.2\.100/, 5000);
      return [dnsmasq];
    },
    async drive(ctx) {
      const client = ctx.endpoint.dhcpClient!;
      const address = await new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => reject(recordError("no DHCP lease within 15 s")), 15_000);
        client.onBound((lease) => {
          clearTimeout(timer);
          resolve([24, 16, 8, 0].map((s) => (lease.address >>> s) & 255).join("."));
        });
      });
      await sleep(200);
      const r = await ctx.ns.exec("ping", ["-n", "-c", "1", "-W", "2", address], { timeoutMs: 10_000 });
      if (!/1 received/.test(r.stdout)) throw recordError(`ping ${address}: ${r.stdout}${r.stderr}`);
    },
  },
  "kernel-dhcp-dhclient": {
    description: "ISC dhclient (kernel side, no address) obtains a lease from netlab's DHCP server at 192.0.2.2 (pool .100-.150)",
    endpoint: {
      mac: NETLAB_MAC,
      cidr: `${NETLAB_IP}/24`,
      seed: 103,
      apps: [
        {
          kind: "dhcp-server",
          config: { pools: [{ subnet: "192.0.2.0/24", range: { start: "192.0.2.100", end: "192.0.2.150" }, gateway: "192.0.2.2", leaseTime: 600 }] },
        },
      ],
    },
    kernelCidr: null,
    tools: ["dhclient"],
    normalise: [],
    async drive(ctx) {
      const dhclient = ctx.spawn("dhclient", dhclientArgs({ ifname: ctx.ifname, dir: ctx.dir }));
      await dhclient.waitFor(/bound to 192\.0\.2\.\d+/, 20_000);
      await dhclient.stop("SIGKILL", 1000);
    },
  },
  "kernel-tcp-closes": {
    description:
      "Linux TCP clients against netlab's listeners: handshake, data through the echo on 7 and FIN both ways; kernel RST (SO_LINGER 0) on discard 9; netlab RST (reset app on 8) on data; netlab RST to a SYN for closed port 10",
    endpoint: {
      mac: NETLAB_MAC,
      cidr: `${NETLAB_IP}/24`,
      seed: 104,
      apps: [
        { kind: "echo", port: 7 },
        { kind: "reset", port: 8 },
        { kind: "discard", port: 9 },
      ],
    },
    kernelCidr: "192.0.2.1/24",
    tools: ["python3"],
    normalise: TCP_NORMALISE,
    async drive(ctx) {
      await python(
        ctx,
        `${PY_HEAD}
s = conn(7); s.sendall(b"hello netlab\\n"); d = b""
while len(d) < 13: d += s.recv(100)
s.shutdown(socket.SHUT_WR)
while s.recv(100): pass
s.close(); time.sleep(0.2)
s = conn(9); s.sendall(b"x" * 100); time.sleep(0.1)
s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)); s.close(); time.sleep(0.2)
s = conn(8); s.sendall(b"reset me\\n")
try:
    while s.recv(100): pass
except ConnectionResetError: pass
s.close(); time.sleep(0.2)
try:
    conn(10)
except ConnectionRefusedError: pass
print("done")
`,
      );
    },
  },
  "kernel-tcp-bulk": {
    description:
      "a Linux TCP client sends 256 KiB to netlab's discard on 9 and half-closes; netlab acknowledges, advertises its window, and closes after the FIN",
    endpoint: { mac: NETLAB_MAC, cidr: `${NETLAB_IP}/24`, seed: 105, apps: [{ kind: "discard", port: 9 }] },
    kernelCidr: "192.0.2.1/24",
    tools: ["python3"],
    normalise: TCP_NORMALISE,
    async drive(ctx) {
      await python(
        ctx,
        `${PY_HEAD}
data = (b"netlab bulk transfer 0123456789abcdef\\n" * 8000)[:262144]
s = conn(9); s.sendall(data); s.shutdown(socket.SHUT_WR)
while s.recv(4096): pass
s.close()
print("done")
`,
      );
    },
  },
  "kernel-http-client": {
    description:
      "netlab's HTTP client (active open from port 40000, ARP request for the server) fetches 64 KiB from python3 http.server on the kernel side (HTTP/1.0, the server closes)",
    endpoint: {
      mac: NETLAB_MAC,
      cidr: `${NETLAB_IP}/24`,
      seed: 107,
      apps: [{ kind: "http-get", host: "192.0.2.1", port: 8000, path: "/file.txt", atMs: 300, localPort: 40000 }],
    },
    kernelCidr: "192.0.2.1/24",
    tools: ["python3"],
    normalise: TCP_NORMALISE,
    async prepare(ns, _ifname, dir) {
      writeFileSync(join(dir, "file.txt"), "served by python3 http.server to netlab\n".repeat(1700).slice(0, 65536));
      const server = ns.spawn("python3", ["-u", "-m", "http.server", "8000", "--bind", "192.0.2.1", "--directory", dir]);
      await server.waitFor(/Serving HTTP/, 5000);
      return [server];
    },
    async drive(ctx) {
      const timeout = new Promise<never>((_, reject) => setTimeout(() => reject(recordError("http-get did not finish within 10 s")), 10_000));
      const [length] = await Promise.race([ctx.endpoint.clientsDone, timeout]);
      if (length !== 65536) throw recordError(`http-get: ${String(length)}`);
    },
  },
  "kernel-http-curl": {
    description:
      "curl (Linux TCP) fetches /index.html, a 256 KiB /bulk.bin and a missing page from netlab's HTTP server on one keep-alive connection, then closes",
    endpoint: {
      mac: NETLAB_MAC,
      cidr: `${NETLAB_IP}/24`,
      seed: 106,
      apps: [
        {
          kind: "http",
          port: 80,
          date: true,
          files: [
            { path: "/index.html", size: 120, pattern: "<!doctype html><title>netlab</title><p>hello from netlab\n", contentType: "text/html; charset=utf-8" },
            { path: "/bulk.bin", size: 262144, pattern: "netlab bulk payload 0123456789abcdefghijklmnopqrstuvwxyz\n", contentType: "application/octet-stream" },
          ],
        },
      ],
    },
    kernelCidr: "192.0.2.1/24",
    tools: ["curl"],
    normalise: TCP_NORMALISE,
    async drive(ctx) {
      const url = (p: string): string => `http://${NETLAB_IP}${p}`;
      const r = await ctx.ns.exec(
        "curl",
        [
          "-s",
          "--max-time",
          "10",
          "-w",
          "%{http_code} %{size_download}\\n",
          "-o",
          "/dev/null",
          url("/index.html"),
          "-o",
          "/dev/null",
          url("/bulk.bin"),
          "-o",
          "/dev/null",
          url("/missing"),
        ],
        { timeoutMs: 15_000 },
      );
      if (r.stdout.trim() !== "200 120\n200 262144\n404 10".replace(/\n/g, "\n")) throw recordError(`curl: ${JSON.stringify(r.stdout)} ${r.stderr}`);
    },
  },
};

/** The real clock read once per event and frozen until the event's microtasks have run; mark() starts a new event. */
interface EventTimeClock extends RealClock {
  /** A new event begins now (a frame is delivered): read the real clock again. */
  mark(): void;
}

function eventTimeClock(real: RealClock): EventTimeClock {
  let frozen: number | undefined;
  let resetQueued = false;
  const read = (): number => {
    frozen = real.now();
    if (!resetQueued) {
      resetQueued = true;
      queueMicrotask(() => {
        frozen = undefined;
        resetQueued = false;
      });
    }
    return frozen;
  };
  return {
    epochMs: real.epochMs,
    now: () => frozen ?? read(),
    mark: () => {
      read();
    },
    setTimer: (at, fn) =>
      real.setTimer(at, () => {
        read();
        fn();
      }),
    cancel: (id) => real.cancel(id),
    pending: () => real.pending(),
    close: () => real.close(),
  };
}

/**
 * A NetDevice wrapper that records frames until stopped. Each delivered frame starts a new event
 * on the clock; frames the tap delivers in one synchronous run (no microtask turn between them)
 * share a batch number, recorded as the comment "batch N" (replay feeds a batch back to back).
 */
function capturing(
  device: NetDevice,
  clock: EventTimeClock,
  record: (data: Uint8Array, direction: "in" | "out", comment?: string) => void,
): NetDevice & { stop(): void } {
  let on = true;
  let batch = 0,
    inTurn = false;
  return {
    mac: device.mac,
    mtu: device.mtu,
    offloads: device.offloads,
    send(frame: Frame) {
      if (on) record(frame.data, "out");
      device.send(withoutRelease(frame));
    },
    onReceive(handler) {
      device.onReceive((frame) => {
        clock.mark();
        if (!inTurn) {
          batch++;
          inTurn = true;
          queueMicrotask(() => {
            inTurn = false;
          });
        }
        if (on) record(frame.data, "in", `batch ${batch}`);
        handler(withoutRelease(frame));
      });
    },
    stop() {
      on = false;
    },
  };
}

/** Records one plan into dir; returns the capture path. */
async function recordOne(name: string, plan: RecordingPlan, dir: string): Promise<string> {
  const missing = missingTools(["ip", "ethtool", ...plan.tools]);
  if (missing.length > 0) throw recordError(`${name}: missing tools ${missing.join(", ")} (run npm run setup)`);
  const work = mkdtempSync(join(tmpdir(), `netlab-record-${name}-`));
  const ifname = `nlr${process.pid % 100000}`;
  const ns = await createNetns();
  let tap: TapDevice | undefined;
  let endpoint: ReplayEndpoint | undefined;
  const clock = eventTimeClock(createRealClock());
  const servers: NetnsProcess[] = [];
  try {
    const mac = parseMac(plan.endpoint.mac);
    if (!mac.ok) throw recordError(`bad MAC ${plan.endpoint.mac}`);
    tap = await openTap({ name: ifname, mac: mac.value });
    await ns.adoptLink(ifname);
    await ns.ip("link", "set", "dev", ifname, "address", KERNEL_MAC);
    await ns.configureLink(ifname, { addresses: plan.kernelCidr === null ? [] : [plan.kernelCidr], offloadsOff: true });
    await ns.execChecked("sysctl", ["-qw", "net.ipv4.tcp_ecn=0"]);
    if (plan.prepare) servers.push(...(await plan.prepare(ns, ifname, work)));
    await sleep(300);

    const collector = createByteCollector();
    const writer = createPcapngWriter((chunk) => collector.write(chunk.slice()), { timeOffsetMs: clock.epochMs });
    const iface = writer.addInterface({ name: ifname, description: `netlab ${plan.endpoint.mac} (kernel end ${KERNEL_MAC} in a namespace)` });
    let lastAt = 0;
    const device = capturing(tap, clock, (data, direction, comment) => {
      lastAt = clock.now();
      writer.record(
        comment === undefined
          ? { interfaceId: iface, timestampMs: lastAt, data, direction }
          : { interfaceId: iface, timestampMs: lastAt, data, direction, comment },
      );
    });
    const clockStartMs = clock.now();
    endpoint = buildEndpoint({ device, clock, rng: createSeededRng(plan.endpoint.seed) }, plan.endpoint, { epochMs: clock.epochMs });
    await plan.drive({ ns, ifname, dir: work, endpoint, spawn: (c, a) => ns.spawn(c, a) });
    await sleep(500);
    device.stop();
    const endAt = clock.now();

    const starts = [...endpoint.clientStarts];
    const startedAt = (app: AppConfig): number => {
      const k = plan.endpoint.apps.filter((a) => a.kind === "http-get").indexOf(app as (typeof plan.endpoint.apps)[number] & { kind: "http-get" });
      const t = starts[k];
      return t === undefined || Number.isNaN(t) ? (app as { atMs: number }).atMs : t - clockStartMs;
    };
    const bytes = collector.bytes();
    const path = join(dir, `${name}.pcapng.gz`);
    writeCaptureFile(path, bytes);
    const parsed = parseCaptureBytes(bytes);
    if (!parsed.ok) throw recordError(`recorded capture does not parse: ${parsed.detail}`);
    const decoded = decodeCapture(parsed.value.packets.map((p) => p.data));
    const expectation = {
      capture: `${name}.pcapng.gz`,
      description: plan.description,
      source: "kernel",
      recorded: new Date().toISOString(),
      modes: ["decode", "conversation"],
      decode: { frames: decoded.frames, errors: decoded.errors, reemitMismatches: decoded.reemitMismatches },
      // Scheduled client actions at the time they really started (the replay's input).
      endpoint: { ...plan.endpoint, apps: plan.endpoint.apps.map((app) => (app.kind === "http-get" ? { ...app, atMs: startedAt(app) } : app)) },
      kernel: { mac: KERNEL_MAC, cidr: plan.kernelCidr },
      conversation: {
        clockStartMs,
        epochMs: clock.epochMs,
        normalise: plan.normalise,
        tsToleranceMs: 2,
        tailMs: Math.max(0, Math.floor(endAt - lastAt) - 5),
      },
    };
    writeFileSync(join(dir, `${name}.expect.json`), `${JSON.stringify(expectation, null, 2)}\n`);
    return path;
  } finally {
    endpoint?.stop();
    clock.close();
    for (const s of servers) await s.stop("SIGTERM", 1000);
    await tap?.close();
    await ns.remove();
    rmSync(work, { recursive: true, force: true });
  }
}

/** Records every plan (or `only`) into dir, replays each; resolves to an exit code. */
export async function recordAll(options: { dir: string; only?: readonly string[] }): Promise<number> {
  if (process.getuid?.() !== 0) {
    process.stderr.write(
      "netlab replay --record: recording needs root (a tap device and network namespaces); run it as root, e.g. sudo npm run pcaps:record\n",
    );
    return 2;
  }
  const all = [...Object.keys(PLANS), ...Object.keys(PAIR_PLANS)];
  const names = options.only ?? all;
  const unknown = names.filter((n) => !all.includes(n));
  if (unknown.length > 0) {
    process.stderr.write(`netlab replay --record: unknown recording ${unknown.join(", ")} (${all.join(", ")})\n`);
    return 2;
  }
  await sweepStaleNetns().catch(() => undefined);
  for (const scenario of Object.values(SCENARIOS)) await scenario(1);
  let failures = 0;
  for (const name of names) {
    for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
      const started = performance.now();
      try {
        const plan = PLANS[name];
        const path = plan !== undefined ? await recordOne(name, plan, resolve(options.dir)) : await recordPair(name, PAIR_PLANS[name]!, resolve(options.dir));
        const report = await replayFile(path);
        process.stdout.write(`recorded ${path} (attempt ${attempt}) in ${(performance.now() - started).toFixed(0)} ms\n${formatReport(report)}\n`);
        if (report.ok) break;
        // Keep the attempt that did not replay, for a look at why.
        const kept = resolve("out/replay/record", `${name}.attempt-${attempt}`);
        mkdirSync(dirname(kept), { recursive: true });
        copyFileSync(path, `${kept}.pcapng.gz`);
        copyFileSync(join(dirname(path), `${name}.expect.json`), `${kept}.expect.json`);
        process.stdout.write(`kept the recording that did not replay as ${kept}.pcapng.gz\n`);
        if (attempt === MAX_ATTEMPTS) failures++;
      } catch (e) {
        process.stderr.write(`recording ${name} (attempt ${attempt}) failed: ${(e as Error).message}\n`);
        if (attempt === MAX_ATTEMPTS) failures++;
      }
    }
  }
  return failures === 0 ? 0 : 1;
}
