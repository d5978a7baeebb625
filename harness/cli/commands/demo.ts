// netlab demo: three hosts (full stacks from createStack) on a simulated learning switch with
// delay, jitter, loss, a little duplication and a rate-limited port. By default each host is a
// Xen domU: its NIC is a netfront, and dom0's netback joins its vif to its switch port through a
// bridge (xenbr<i>); h1 also has a disk, xvda, a vbd served by blkback in dom0 from a memory
// image. With `xen: false` (--no-xen) the bare stacks sit on the switch ports. h1 has a static
// address and runs a DHCP server and an HTTP server; h2 and h3 start unconfigured and obtain
// leases (with an RFC 5227 ARP probe). Then they ping each other, exchange UDP echoes and a
// datagram that must be fragmented, h1 sends 256 KiB over TCP to h3 (the lossiest port), and h2
// and h3 fetch pages from h1 over HTTP/1.1 (keep-alive, a pipelined pair), checked by sha256. As
// a Xen guest h1 keeps its pages on xvda: written through blkfront and flushed at boot (the
// server listens only after the flush), each body read back through blkfront per request. All
// in virtual time. Every host is dual-stack (demo-ipv6.ts): h1 sends Router Advertisements, h2
// and h3 autoconfigure (SLAAC), and after the IPv4 phases ping6, TCP and HTTP run over IPv6.
// Every NIC is captured into one pcapng (one interface per host). runDemo() is
// deterministic in its seed (same seed, same pcapng bytes); run() adds arguments, files, printing.
import { createHash } from "node:crypto";
import { checkReportPath, writeHtmlReport } from "../../report/html.ts";
import { withUnits, type Units } from "../../report/json.ts";
import { formatBinary, formatSi } from "../../report/format.ts";

/** The units of `demo --json` fields whose names do not carry one. */
export const DEMO_UNITS: Units = {
  leaseTime: "s",
  size: "B",
  bytes: "B",
  sectorSize: "B",
  physicalSectorSize: "B",
  bytesRead: "B",
  bytesWritten: "B",
};
import { demoReportPage } from "./demo-report.ts";
import { performance } from "node:perf_hooks";
import { resolve } from "node:path";
import { createStack } from "../../../stack/index.ts";
import type { Stack, StackOptions } from "../../../stack/index.ts";
import { createRng, createVirtualClock } from "../../../stack/time.ts";
import type { Rng, VirtualClock } from "../../../stack/time.ts";
import { createSwitch } from "../../../stack/link/switch.ts";
import type { Switch, SwitchPort, SwitchPortOptions, SwitchStats } from "../../../stack/link/switch.ts";
import { withCapture } from "../../../stack/link/capture.ts";
import { createByteCollector, createPcapngWriter } from "../../../stack/link/pcap/index.ts";
import type { ImpairmentOptions, ImpairmentStats } from "../../../stack/link/impairments.ts";
import { formatIpv4, formatMac } from "../../../stack/wire/address.ts";
import type { Ipv4Address } from "../../../stack/wire/address.ts";
import type { UdpDatagram } from "../../../stack/transport/types.ts";
import { dhcpClientOnStack, dhcpServerOnStack } from "../../../stack/app/dhcp/index.ts";
import type { DhcpClient, DhcpServerConfig, DhcpServerStats } from "../../../stack/app/dhcp/index.ts";
import { createHttpClient, createHttpServer } from "../../../stack/app/http/index.ts";
import type { HttpClient, HttpHandler, HttpServer, HttpServerStats } from "../../../stack/app/http/index.ts";
import { makeParentDirectory, writeCaptureFile } from "../../pcap/files.ts";
import { createXenDemoGuests, type XenDemoDisk, type XenDemoGuests } from "../../xen/demo-guests.ts";
import { createDiskSite, type DiskSite, type DiskSiteStats } from "../../xen/demo-disk.ts";
import { flagReader, helpText, parseCommandLine, parseSeed, UsageError } from "../args.ts";
import { NetlabError } from "../../../stack/error.ts";
import type { Ipv6Address } from "../../../stack/wire/ipv6-address.ts";
import { ipv6HostOptions, scheduleIpv6Demo, type DemoHttpRequestRecord, type DemoIpv6Report } from "./demo-ipv6.ts";
import { sendPattern, sinkPattern, TCP_BYTES, TCP_PORT } from "./demo-tcp.ts";

export const summary =
  "three Xen domUs (netfront, dom0 bridges; h1 with a blkfront disk) on a simulated switch with impairments: DHCP, ping, UDP echo, fragmentation, TCP, HTTP from disk, and beside them IPv6 (SLAAC from h1's RAs, ping6, TCP and HTTP over v6); writes a pcapng";

/** Virtual time 0 of the demo is placed at this date in the capture (reproducible timestamps). */
export const DEMO_EPOCH_MS = Date.UTC(2026, 0, 1);
export const DEFAULT_PCAP = "out/demo.pcapng";
const SUBNET = 0xc0000200; // 192.0.2.0/24 (RFC 5737 TEST-NET-1)
const SERVER_IP = (SUBNET + 1) >>> 0; // 192.0.2.1: h1, static
const POOL_START = (SUBNET + 100) >>> 0;
const POOL_END = (SUBNET + 199) >>> 0;
const LEASE_SECONDS = 3600;
const DOMAIN_NAME = "lab.example";
/** Phases start this long after the last client bound, or at DHCP_DEADLINE_MS at the latest. */
const SETTLE_AFTER_BIND_MS = 500;
const DHCP_DEADLINE_MS = 20_000;
const UDP_ECHO_PORT = 7;
const PINGS_PER_PAIR = 10;
const PING_INTERVAL_MS = 200;
const UDP_ECHO_COUNT = 20;
const UDP_ECHO_SIZE = 100;
const FRAGMENTED_SIZE = 4000;
const FRAGMENTED_ATTEMPTS = 5;
const HTTP_PORT = 80;
/** Offsets of the phases from the moment the network is configured; the IPv6 phases (demo-ipv6.ts's
 *  AT6) run from 13 s, and the end leaves their HTTP as long as the v4 one (a lost SYN costs 1 s, and
 *  the first RTO after it 3 s, RFC 6298 §5.7). */
const AT = { ping: 100, udpEcho: 3000, fragmented: 5000, tcp: 8000, http: 11_000, end: 26_000 } as const;
/** h1's xvda: a 4 MiB memory image in dom0. */
const DISK_SECTORS = 8192;
/** blkback's service time per ring batch (virtual ms): a fast local disk. */
const DISK_SERVICE_MS = 0.1;
/** Events the whole run may fire before it is considered runaway. */
const MAX_EVENTS = 20_000_000;

/** Options of one demo run. */
export interface DemoOptions {
  readonly seed: number;
  /** Run the hosts as Xen domUs: netfront NICs, dom0 netback and a bridge to each switch port,
   *  h1's pages on a blkfront disk (default true; false = bare stacks on the switch ports). */
  readonly xen?: boolean;
  /** Called with a line of progress when a slice of the run took long in wall time. */
  readonly onProgress?: (line: string) => void;
}

/** Per-host figures. */
export interface DemoHostReport {
  readonly name: string;
  /** The address at the end of the run ("" when the host never got one). */
  readonly ip: string;
  /** "static" or "dhcp". */
  readonly config: "static" | "dhcp";
  readonly mac: string;
  readonly txFrames: number;
  readonly txBytes: number;
  readonly rxFrames: number;
  readonly rxBytes: number;
  /** Frames the wire dropped on this host's port (both directions). */
  readonly wireDrops: number;
  readonly pingsSent: number;
  readonly pingReplies: number;
  readonly ipv4: Readonly<Record<string, unknown>>;
}

/** Round-trip statistics. */
export interface RttReport {
  readonly count: number;
  readonly minMs: number;
  readonly avgMs: number;
  readonly maxMs: number;
}

/** One check of the run; the demo fails when any check fails. */
export interface DemoCheck {
  readonly name: string;
  /** The address family the check is about (absent: neither in particular, e.g. Xen or DHCP's bookkeeping). */
  readonly family?: "ipv4" | "ipv6";
  readonly ok: boolean;
  readonly detail: string;
}

/** A lease a DHCP client obtained. */
export interface DemoLease {
  readonly host: string;
  readonly mac: string;
  /** "" when the client never bound. */
  readonly address: string;
  readonly prefixLength: number;
  readonly gateway: string;
  readonly dnsServers: string[];
  readonly domainName: string;
  /** Seconds. */
  readonly leaseTime: number;
  readonly server: string;
  /** Virtual time of the bind, ms (-1 when never bound). */
  readonly boundAtMs: number;
  readonly state: string;
  readonly discovers: number;
  readonly requests: number;
  readonly declines: number;
}

/** One HTTP request of the demo and what came back. */
export interface DemoHttpRequest {
  readonly client: string;
  readonly method: string;
  readonly path: string;
  readonly expectedStatus: number;
  /** 0 when no response arrived. */
  readonly status: number;
  readonly bytes: number;
  readonly sha256: string;
  readonly sha256Ok: boolean;
  /** Sent while another request was in flight on the same connection. */
  readonly pipelined: boolean;
  /** Answered on a connection that had served an earlier request (keep-alive). */
  readonly reused: boolean;
  readonly startMs: number;
  readonly durationMs: number;
  readonly error?: string;
}

/** h1's disk (Xen guests only): what went through blkfront and blkback, and whether it all checks out. */
export interface DemoDiskReport extends DiskSiteStats {
  readonly host: string;
  readonly device: string;
  /** What serves the vbd. */
  readonly backend: string;
  readonly sizeBytes: number;
  readonly sectorSize: number;
  readonly physicalSectorSize: number;
  /** Files of the site on the disk and their total size. */
  readonly files: number;
  readonly siteBytes: number;
  /** Virtual time at which the boot-time writes and the flush completed (-1: never). */
  readonly installedAtMs: number;
  /** Ring requests blkfront sent (a large read or write may take several). */
  readonly requests: number;
  /** HTTP responses whose body was read back from the disk. */
  readonly servedFromDisk: number;
  readonly backendStats: { readonly requests: number; readonly errors: number; readonly sectorsRead: number; readonly sectorsWritten: number };
  /** dom0's image holds every file at its extent. */
  readonly imageMatches: boolean;
  readonly ok: boolean;
  readonly verdict: string;
}

/** The TCP phase of either family: one transfer, checked byte for byte. */
export interface DemoTcpReport {
  readonly bytes: number;
  readonly received: number;
  readonly intact: boolean;
  readonly durationMs: number;
  /** Over the transfer's virtual duration. */
  readonly virtualGoodputBitsPerSecond: number;
  readonly retransmits: number;
  readonly error?: string;
}

/** The HTTP phase of either family: the server's counters, each client's connections, every request. */
export interface DemoHttpReport {
  readonly server: { readonly host: string; readonly address: string; readonly port: number; readonly stats: HttpServerStats };
  readonly clients: { readonly host: string; readonly connectionsOpened: number; readonly reusedConnections: number; readonly retries: number }[];
  readonly requests: DemoHttpRequest[];
  readonly totals: { readonly requests: number; readonly correct: number; readonly bytes: number };
}

/** Everything the demo measured. */
export interface DemoReport {
  readonly seed: number;
  /** The hosts ran as Xen domUs (netfront on dom0 bridges). */
  readonly xen: boolean;
  readonly virtualTimeMs: number;
  /** Virtual time at which every client was bound and the other phases began. */
  readonly networkReadyMs: number;
  readonly hosts: DemoHostReport[];
  readonly dhcp: {
    readonly server: {
      readonly host: string;
      readonly address: string;
      readonly poolStart: string;
      readonly poolEnd: string;
      readonly gateway: string;
      readonly dnsServers: string[];
      readonly leaseTime: number;
      readonly stats: DhcpServerStats;
    };
    readonly leases: DemoLease[];
  };
  readonly ping: { readonly pairs: { from: string; to: string; sent: number; replies: number; rtt: RttReport }[]; readonly rtt: RttReport };
  readonly udpEcho: { readonly sent: number; readonly echoed: number; readonly rtt: RttReport };
  readonly fragmented: {
    readonly size: number;
    readonly sent: number;
    readonly echoed: number;
    readonly intact: number;
    readonly fragmentsSent: number;
    readonly reassembled: number;
  };
  readonly tcp: DemoTcpReport;
  readonly http: DemoHttpReport;
  readonly switch: Readonly<SwitchStats>;
  readonly impairments: { readonly port: string; readonly direction: "to-switch" | "from-switch"; readonly stats: ImpairmentStats }[];
  readonly impairmentTotals: { offered: number; delivered: number; lost: number; duplicated: number; queueDrops: number; mtuDrops: number };
  readonly capture: { readonly packets: number; readonly bytes: number };
  /** h1's xvda (only when the hosts are Xen guests). */
  readonly disk?: DemoDiskReport;
  /** The IPv6 phases: SLAAC from h1's RAs, ping6, TCP and HTTP over IPv6. */
  readonly ipv6: DemoIpv6Report;
  readonly checks: DemoCheck[];
  readonly ok: boolean;
}

/** Derives independent seeds for the network and each host from the run's seed. */
function subRng(seed: number, stream: number): Rng {
  return createRng((Math.imul(seed >>> 0, 0x9e3779b1) ^ Math.imul(stream + 1, 0x85ebca77)) >>> 0);
}

function rttOf(samples: number[]): RttReport {
  if (samples.length === 0) return { count: 0, minMs: 0, avgMs: 0, maxMs: 0 };
  let min = Infinity,
    max = -Infinity,
    sum = 0;
  for (const s of samples) {
    if (s < min) min = s;
    if (s > max) max = s;
    sum += s;
  }
  const r3 = (x: number): number => Math.round(x * 1000) / 1000;
  return { count: samples.length, minMs: r3(min), avgMs: r3(sum / samples.length), maxMs: r3(max) };
}

const sha256 = (b: Uint8Array): string => createHash("sha256").update(b).digest("hex");
const r3 = (x: number): number => Math.round(x * 1000) / 1000;

/** One host of the demo network: how it is attached and configured. */
interface DemoHostSpec {
  readonly name: string;
  /** Static address (host part in 192.0.2.0/24); undefined = DHCP. */
  readonly staticIp?: Ipv4Address;
  readonly port: { readonly toSwitch: ImpairmentOptions; readonly fromSwitch: ImpairmentOptions };
}

const HOSTS: readonly DemoHostSpec[] = [
  { name: "h1", staticIp: SERVER_IP, port: { toSwitch: { delayMs: 1, jitterMs: 0.5, loss: 0.01 }, fromSwitch: { delayMs: 1, jitterMs: 0.5, loss: 0.01 } } },
  {
    name: "h2",
    port: {
      toSwitch: { delayMs: 2, jitterMs: 1, loss: 0.01, duplicate: 0.01 },
      fromSwitch: { delayMs: 2, jitterMs: 1, loss: 0.01, rateBitsPerSecond: 10_000_000, queueLimitFrames: 64 },
    },
  },
  { name: "h3", port: { toSwitch: { delayMs: 5, jitterMs: 2, loss: 0.02 }, fromSwitch: { delayMs: 5, jitterMs: 2, loss: 0.02 } } },
];

/** RFC 5227 probe/announce timing for the DHCP clients, shortened so the demo's DHCP phase takes about a second. */
const CLIENT_ARP: NonNullable<StackOptions["arp"]> = {
  probeWaitMs: 200,
  probeNum: 3,
  probeMinMs: 100,
  probeMaxMs: 200,
  announceWaitMs: 200,
  announceNum: 2,
  announceIntervalMs: 200,
};

/** A host on the demo network. */
interface DemoHost {
  readonly name: string;
  readonly mac: number;
  readonly staticIp: Ipv4Address | undefined;
  /** The switch port (wire counters and impairment statistics). */
  readonly port: SwitchPort;
  readonly stack: Stack;
  pingsSent: number;
  pingReplies: number;
}

/** What building a host needs from the run. */
interface DemoNetwork {
  readonly seed: number;
  readonly clock: VirtualClock;
  readonly sw: Switch;
  readonly pcap: Parameters<typeof withCapture>[1];
  readonly annotate: NonNullable<Parameters<typeof withCapture>[2]["annotate"]>;
  readonly xen?: XenDemoGuests | undefined;
}

/** Builds host `index`: a switch port, a capture tap on it, and a stack (configured when the spec is static). */
function createDemoHost(net: DemoNetwork, spec: DemoHostSpec, index: number): DemoHost {
  const mac = 0x020000000001 + index;
  const portOptions: SwitchPortOptions = { mac, name: spec.name, toSwitch: spec.port.toSwitch, fromSwitch: spec.port.fromSwitch };
  const port = net.sw.addPort(portOptions);
  const addr = spec.staticIp === undefined ? "DHCP" : `${formatIpv4(spec.staticIp)}/24`;
  const description =
    net.xen === undefined
      ? `${spec.name} ${addr} on switch port ${index}`
      : `${spec.name} ${addr}, netfront of Xen domU ${spec.name} (dom0 bridge xenbr${index} to switch port ${index})`;
  const device = withCapture(net.xen === undefined ? port : net.xen.attach(index, port), net.pcap, {
    clock: net.clock,
    name: spec.name,
    description,
    annotate: net.annotate,
  });
  const options: StackOptions =
    spec.staticIp === undefined ? { name: spec.name, arp: CLIENT_ARP } : { name: spec.name, ipv4: { cidr: { address: spec.staticIp, prefixLength: 24 } } };
  const dualStack: StackOptions = { ...options, ipv6: ipv6HostOptions(index) };
  const stack = createStack({ device, clock: net.clock, rng: subRng(net.seed, index + 1) }, dualStack);
  return { name: spec.name, mac, staticIp: spec.staticIp, port, stack, pingsSent: 0, pingReplies: 0 };
}

/** A page the HTTP server holds in memory. */
interface DemoPage {
  readonly type: string;
  readonly body: Uint8Array;
  readonly sha256: string;
}

/** The demo's web site: an index, a short text and 256 KiB of seeded bytes (the same for every run). */
export function createDemoSite(): Map<string, DemoPage> {
  const page = (type: string, body: Uint8Array): DemoPage => ({ type, body, sha256: sha256(body) });
  const blob = new Uint8Array(256 * 1024);
  createRng(0x6e65746c).fill(blob);
  const site = new Map<string, DemoPage>();
  site.set("/hello.txt", page("text/plain; charset=utf-8", new TextEncoder().encode("Hello from h1, served by netlab's HTTP/1.1 server over netlab TCP.\n")));
  site.set("/data/256k.bin", page("application/octet-stream", blob));
  const rows = [...site].map(([path, p]) => `<li><a href="${path}">${path}</a> ${p.body.length} bytes, sha256 ${p.sha256}</li>`).join("\n");
  site.set(
    "/",
    page(
      "text/html; charset=utf-8",
      new TextEncoder().encode(`<!doctype html>\n<title>netlab demo</title>\n<h1>netlab demo on h1</h1>\n<ul>\n${rows}\n</ul>\n`),
    ),
  );
  return site;
}

const NOT_FOUND = new TextEncoder().encode("not found\n");

/** Serves `site`, the bodies from `disk` when given (else from memory); anything else is 404. */
function siteHandler(site: ReadonlyMap<string, DemoPage>, disk?: { readonly site: DiskSite; served: number }): HttpHandler {
  return (req, res) => {
    const p = req.method === "GET" || req.method === "HEAD" ? site.get(req.target) : undefined;
    if (p === undefined) {
      res.statusCode = 404;
      res.setHeader("Content-Type", "text/plain; charset=utf-8");
      res.end(NOT_FOUND);
      return;
    }
    res.setHeader("Content-Type", p.type);
    res.setHeader("ETag", `"${p.sha256.slice(0, 16)}"`);
    if (disk === undefined) {
      res.end(p.body);
      return;
    }
    disk.site.read(req.target, (r) => {
      if (!r.ok) {
        res.statusCode = 500;
        res.setHeader("Content-Type", "text/plain; charset=utf-8");
        res.removeHeader("ETag");
        res.end(`disk read failed: ${r.error}\n`);
        return;
      }
      disk.served++;
      res.end(r.value);
    });
  };
}

/** Runs the demo network; returns the report and the pcapng bytes. */
export async function runDemo(options: DemoOptions): Promise<DemoReport & { readonly pcap: Uint8Array }> {
  const { seed } = options;
  const clock = createVirtualClock();
  const sw = createSwitch({ clock, rng: subRng(seed, 0) });
  const capture = createByteCollector();
  const pcap = createPcapngWriter(capture.write, { timeOffsetMs: DEMO_EPOCH_MS, application: "netlab demo" });

  // The first frame a phase sends carries a pcapng comment naming the phase.
  let note: string | undefined;
  const annotate = (_frame: unknown, direction: "in" | "out"): string | undefined => {
    if (direction !== "out" || note === undefined) return undefined;
    const n = note;
    note = undefined;
    return n;
  };

  const xen =
    options.xen === false
      ? undefined
      : await createXenDemoGuests(clock, seed, HOSTS.length, { disk: { host: 0, sectors: DISK_SECTORS, serviceDelayMs: DISK_SERVICE_MS } });
  const hosts = HOSTS.map((spec, i) => createDemoHost({ seed, clock, sw, pcap, annotate, xen }, spec, i));
  const [h1, h2, h3] = hosts as [DemoHost, DemoHost, DemoHost];
  const clients = hosts.filter((h) => h.staticIp === undefined);
  const addressOf = (h: DemoHost): Ipv4Address | undefined => h.stack.ipv4.cidr?.address;

  // Phase 0: DHCP server on h1, clients on the others.
  const dhcpConfig: DhcpServerConfig = {
    pools: [
      {
        subnet: { address: SUBNET, prefixLength: 24 },
        rangeStart: POOL_START,
        rangeEnd: POOL_END,
        gateway: SERVER_IP,
        dnsServers: [SERVER_IP],
        domainName: DOMAIN_NAME,
        leaseTime: LEASE_SECONDS,
      },
    ],
  };
  const dhcpServer = dhcpServerOnStack(h1.stack, dhcpConfig);
  const boundAt = new Map<DemoHost, number>();
  const dhcpClients = new Map<DemoHost, DhcpClient>();
  let networkReadyAt = -1;
  let endAt = Infinity;
  const phaseTimers: (() => void)[] = [];
  const beginPhases = (): void => {
    if (networkReadyAt >= 0) return;
    networkReadyAt = clock.now();
    endAt = networkReadyAt + AT.end;
    for (const start of phaseTimers) start();
  };
  /** Schedules `fn` at `offset` ms after the network is ready. */
  const after = (offset: number, fn: () => void): void => {
    phaseTimers.push(() => clock.setTimer(networkReadyAt + offset, fn));
  };
  clock.setTimer(DHCP_DEADLINE_MS, beginPhases);
  clock.setTimer(0, () => {
    note = `phase 0: ${clients.map((c) => c.name).join(" and ")} start unconfigured and ask for leases; h1 runs the DHCP server (pool ${formatIpv4(POOL_START)}-${formatIpv4(POOL_END)})`;
    for (const c of clients) {
      const dhcp = dhcpClientOnStack(
        c.stack,
        {
          hostName: c.name,
          initDelayMinMs: 0,
          initDelayMaxMs: 200,
          retransmitBaseMs: 1000,
          retransmitJitterMs: 250,
          retransmitMaxMs: 8000,
        },
        { probe: true },
      );
      dhcpClients.set(c, dhcp);
      dhcp.onBound(() => {
        if (!boundAt.has(c)) boundAt.set(c, clock.now());
        // Phases start on a whole 100 ms after the last bind, so the timeline reads well.
        if (boundAt.size === clients.length && networkReadyAt < 0) clock.setTimer(Math.ceil((clock.now() + SETTLE_AFTER_BIND_MS) / 100) * 100, beginPhases);
      });
      dhcp.start();
    }
  });

  // UDP echo service on h2 (RFC 862).
  const echo = h2.stack.udp.bind(UDP_ECHO_PORT);
  if (!echo.ok) throw new NetlabError("ERR_NETLAB_DEMO_SETUP", `demo: cannot bind UDP ${UDP_ECHO_PORT} on h2: ${echo.error}`);
  echo.value.onMessage((d: UdpDatagram) => {
    echo.value.sendTo(d.src, d.srcPort, d.payload.slice());
  });

  // Phase 1, pings: every host pings every other host.
  const pairs: { from: string; to: string; sent: number; replies: number; rtts: number[] }[] = [];
  let pairIndex = 0;
  for (const src of hosts) {
    for (const dst of hosts) {
      if (src === dst) continue;
      const pair = { from: src.name, to: dst.name, sent: 0, replies: 0, rtts: [] as number[] };
      pairs.push(pair);
      const start = AT.ping + pairIndex * 20;
      const pairIndexAtStart = pairIndex;
      pairIndex++;
      for (let n = 0; n < PINGS_PER_PAIR; n++) {
        after(start + n * PING_INTERVAL_MS, () => {
          if (pairIndexAtStart === 0 && n === 0) note = `phase 1: every host pings every other host ${PINGS_PER_PAIR} times, ${PING_INTERVAL_MS} ms apart`;
          pair.sent++;
          src.pingsSent++;
          const to = addressOf(dst);
          if (to === undefined || addressOf(src) === undefined) return;
          // One identifier per pair, as separate ping(8) processes would have: a slow reply on one
          // pair must not make the same sequence number to another host a duplicate.
          src.stack.icmp.ping(to, { ident: 0x6e00 + pairIndexAtStart, seq: n + 1, timeoutMs: 1000 }, (r) => {
            if (!r.ok) return;
            pair.replies++;
            src.pingReplies++;
            pair.rtts.push(r.value.rttMs);
          });
        });
      }
    }
  }

  // Phase 2, UDP echo from h1: each datagram carries its index; RTT measured on the virtual clock.
  const udpSentAt = new Map<number, number>();
  const udpRtts: number[] = [];
  const udpClient = h1.stack.udp.bind(0);
  if (!udpClient.ok) throw new NetlabError("ERR_NETLAB_DEMO_SETUP", `demo: cannot bind a UDP port on h1: ${udpClient.error}`);
  udpClient.value.onMessage((d) => {
    if (d.payload.length !== UDP_ECHO_SIZE) return;
    const index = new DataView(d.payload.buffer, d.payload.byteOffset).getUint32(0);
    const at = udpSentAt.get(index);
    if (at === undefined) return;
    udpSentAt.delete(index);
    udpRtts.push(clock.now() - at);
  });
  let udpSent = 0;
  for (let n = 0; n < UDP_ECHO_COUNT; n++) {
    after(AT.udpEcho + n * 50, () => {
      if (n === 0) note = `phase 2: h1 sends ${UDP_ECHO_COUNT} UDP datagrams of ${UDP_ECHO_SIZE} bytes to the echo service (RFC 862) on h2:${UDP_ECHO_PORT}`;
      const payload = new Uint8Array(UDP_ECHO_SIZE);
      new DataView(payload.buffer).setUint32(0, n);
      for (let i = 4; i < payload.length; i++) payload[i] = (n + i) & 0xff;
      udpSentAt.set(n, clock.now());
      udpSent++;
      const to = addressOf(h2);
      if (to !== undefined) udpClient.value.sendTo(to, UDP_ECHO_PORT, payload);
    });
  }

  // Phase 3, a datagram larger than the MTU from h3: fragmented on the way out and on the echo back.
  const big = h3.stack.udp.bind(0);
  if (!big.ok) throw new NetlabError("ERR_NETLAB_DEMO_SETUP", `demo: cannot bind a UDP port on h3: ${big.error}`);
  const expected = new Uint8Array(FRAGMENTED_SIZE);
  for (let i = 0; i < expected.length; i++) expected[i] = (i * 7 + 3) & 0xff;
  let bigSent = 0,
    bigEchoed = 0,
    bigIntact = 0;
  big.value.onMessage((d) => {
    bigEchoed++;
    if (d.payload.length === expected.length && d.payload.every((b, i) => b === expected[i])) bigIntact++;
  });
  for (let n = 0; n < FRAGMENTED_ATTEMPTS; n++) {
    after(AT.fragmented + n * 500, () => {
      if (n === 0)
        note = `phase 3: h3 sends a ${FRAGMENTED_SIZE}-byte UDP datagram to h2:${UDP_ECHO_PORT} (fragmented), ${FRAGMENTED_ATTEMPTS} times 500 ms apart`;
      bigSent++;
      const to = addressOf(h2);
      if (to !== undefined && addressOf(h3) !== undefined) big.value.sendTo(to, UDP_ECHO_PORT, expected.slice());
    });
  }

  // Phase 4, TCP bulk transfer h1 -> h3 (discard service, RFC 863), checked byte by byte.
  const pattern = (i: number): number => (i * 31 + 7) & 0xff;
  const tcp = { received: 0, intact: true, startAt: -1, endAt: -1, error: undefined as string | undefined };
  const sink = h3.stack.tcp.listen(TCP_PORT);
  if (!sink.ok) throw new NetlabError("ERR_NETLAB_DEMO_SETUP", `demo: cannot listen on TCP ${TCP_PORT} on h3: ${sink.error}`);
  sinkPattern(sink.value, pattern, tcp, clock);
  after(AT.tcp, () => {
    note = `phase 4: h1 sends ${TCP_BYTES} bytes over TCP to the discard service on h3:${TCP_PORT}`;
    const to = addressOf(h3);
    if (to === undefined) {
      tcp.error = "h3 has no address";
      return;
    }
    const c = h1.stack.tcp.connect(to, TCP_PORT);
    if (!c.ok) {
      tcp.error = c.error;
      return;
    }
    sendPattern(c.value, pattern, tcp, clock);
  });

  // Phase 5, HTTP: h1 serves the site; each client fetches the index, then a pipelined pair
  // (256 KiB and a short text) on the same kept-alive connection, then a missing page.
  // As a Xen guest, h1 writes the site to its xvda at boot, flushes, and only then listens.
  const site = createDemoSite();
  const xenDisk: XenDemoDisk | undefined = xen?.disk;
  const diskSite =
    xenDisk === undefined
      ? undefined
      : {
          site: createDiskSite(xenDisk.front, new Map([...site].map(([path, p]) => [path, p.body]))),
          served: 0,
          installedAt: -1,
          error: undefined as string | undefined,
        };
  const httpServer: HttpServer = createHttpServer({ clock }, siteHandler(site, diskSite), { dateOffsetMs: DEMO_EPOCH_MS, serverName: "netlab" });
  const startHttp = (): void => {
    const httpListener = h1.stack.tcp.listen(HTTP_PORT);
    if (!httpListener.ok) throw new NetlabError("ERR_NETLAB_DEMO_SETUP", `demo: cannot listen on TCP ${HTTP_PORT} on h1: ${httpListener.error}`);
    httpServer.listen(httpListener.value);
    v6.startHttp();
  };
  const httpRequests: DemoHttpRequestRecord[] = [];
  const httpClients = new Map<DemoHost, HttpClient>();
  /** Requests whose response head has not been delivered yet (their callbacks run as microtasks). */
  let awaitingHeads = 0;
  const fetchPage = (
    who: string,
    client: HttpClient,
    host: Ipv4Address | Ipv6Address,
    path: string,
    pipelined: boolean,
    into: DemoHttpRequestRecord[],
    done: () => void,
  ): void => {
    const expectedBody = site.get(path)?.body ?? NOT_FOUND;
    const rec: DemoHttpRequestRecord = {
      client: who,
      method: "GET",
      path,
      expectedStatus: site.has(path) ? 200 : 404,
      status: 0,
      bytes: 0,
      sha256: "",
      sha256Ok: false,
      pipelined,
      reused: false,
      startMs: r3(clock.now()),
      durationMs: 0,
      done: false,
    };
    into.push(rec);
    const finish = (error?: string): void => {
      if (rec.done) return;
      rec.done = true;
      rec.durationMs = r3(clock.now() - rec.startMs);
      if (error !== undefined) rec.error = error;
      done();
    };
    awaitingHeads++;
    client.request({ host, port: HTTP_PORT, path }, (e, res) => {
      awaitingHeads--;
      if (e !== null || res === undefined) {
        finish(e?.code ?? "no response");
        return;
      }
      rec.status = res.status;
      rec.reused = res.reused;
      const hash = createHash("sha256");
      res.body.onData((d) => {
        rec.bytes += d.length;
        hash.update(d);
      });
      res.body.onEnd(() => {
        rec.sha256 = hash.digest("hex");
        rec.sha256Ok = rec.sha256 === sha256(expectedBody) && rec.bytes === expectedBody.length;
        finish();
      });
      res.body.onError((x) => finish(x.code));
    });
  };
  clients.forEach((who, i) => {
    after(AT.http + i * 20, () => {
      if (i === 0)
        note = `phase 5: ${clients.map((c) => c.name).join(" and ")} fetch pages from the HTTP server on h1:${HTTP_PORT} (keep-alive, a pipelined pair), checked by sha256${diskSite === undefined ? "" : "; h1 reads each body from its xvda through blkfront"}`;
      if (addressOf(who) === undefined) return;
      const client = createHttpClient({ clock, tcp: who.stack.tcp }, { pipeline: 2, maxConnectionsPerHost: 1, userAgent: "netlab-demo" });
      httpClients.set(who, client);
      const fetch = (path: string, pipelined: boolean, done: () => void): void => fetchPage(who.name, client, SERVER_IP, path, pipelined, httpRequests, done);
      fetch("/", false, () => {
        let left = 2;
        const pairDone = (): void => {
          if (--left > 0) return;
          fetch("/missing.html", false, () => client.close());
        };
        fetch("/data/256k.bin", false, pairDone);
        fetch("/hello.txt", true, pairDone);
      });
    });
  });

  // Phases 6-8, IPv6 (SLAAC runs from the start): ping6, TCP and HTTP over IPv6 (demo-ipv6.ts).
  const v6 = scheduleIpv6Demo({
    clock,
    hosts,
    after,
    note: (text) => {
      note = text;
    },
    fetchPage,
    handler: siteHandler(site, diskSite),
    serverName: "netlab",
    dateOffsetMs: DEMO_EPOCH_MS,
    rtt: rttOf,
  });
  // h1's HTTP servers (both families) listen now, or, as a Xen guest, once its pages are on xvda.
  if (diskSite === undefined) startHttp();
  else {
    diskSite.site.install((r) => {
      if (!r.ok) {
        diskSite.error = r.error;
        return;
      }
      diskSite.installedAt = clock.now();
      startHttp();
    });
  }

  // Run event by event. While an HTTP response head is on its way, let the microtask queue run
  // after each step, so the client's callback sees the response at the virtual time it arrived.
  const wallStart = performance.now();
  let lastReport = wallStart;
  let fired = 0;
  for (let steps = 0; ; steps++) {
    const next = clock.nextDeadline();
    if (next === undefined || next > endAt) {
      if (Number.isFinite(endAt)) clock.run(endAt);
      break;
    }
    fired += clock.run(next, MAX_EVENTS);
    if (fired > MAX_EVENTS) throw new NetlabError("ERR_DEMO_RUNAWAY", `demo: more than ${MAX_EVENTS} events by virtual time ${next} ms`);
    if (awaitingHeads > 0) for (let i = 0; i < 4; i++) await Promise.resolve();
    if (options.onProgress !== undefined && (steps & 1023) === 0) {
      const now = performance.now();
      if (now - lastReport > 1000) {
        lastReport = now;
        options.onProgress(`demo: virtual ${(clock.now() / 1000).toFixed(1)} s (${Math.round(now - wallStart)} ms wall)`);
      }
    }
  }

  const ipv4Counters = (s: Stack): Record<string, unknown> => {
    const c = s.ipv4.counters() as Record<string, unknown>;
    const pick: Record<string, unknown> = {};
    for (const k of ["txPackets", "rxPackets", "txFragments", "rxFragments", "reassembled", "delivered"]) if (k in c) pick[k] = c[k];
    return pick;
  };
  const hostReports: DemoHostReport[] = hosts.map((h) => {
    const s = h.port.stats();
    const ip = addressOf(h);
    return {
      name: h.name,
      ip: ip === undefined ? "" : formatIpv4(ip),
      config: h.staticIp === undefined ? "dhcp" : "static",
      mac: formatMac(h.mac),
      txFrames: s.txFrames,
      txBytes: s.txBytes,
      rxFrames: s.rxFrames,
      rxBytes: s.rxBytes,
      wireDrops: s.dropped,
      pingsSent: h.pingsSent,
      pingReplies: h.pingReplies,
      ipv4: ipv4Counters(h.stack),
    };
  });
  const impairments = hosts.flatMap((h) => {
    const s = h.port.stats();
    return [
      { port: h.name, direction: "to-switch" as const, stats: { ...s.toSwitch } },
      { port: h.name, direction: "from-switch" as const, stats: { ...s.fromSwitch } },
    ];
  });
  const totals = { offered: 0, delivered: 0, lost: 0, duplicated: 0, queueDrops: 0, mtuDrops: 0 };
  for (const { stats } of impairments) {
    totals.offered += stats.offered;
    totals.delivered += stats.delivered;
    totals.lost += stats.lost;
    totals.duplicated += stats.duplicated;
    totals.queueDrops += stats.queueDrops;
    totals.mtuDrops += stats.mtuDrops;
  }

  const leases: DemoLease[] = clients.map((c) => {
    const d = dhcpClients.get(c);
    const l = d?.lease;
    return {
      host: c.name,
      mac: formatMac(c.mac),
      address: l === undefined ? "" : formatIpv4(l.address),
      prefixLength: l?.prefixLength ?? 0,
      gateway: l?.gateway === undefined ? "" : formatIpv4(l.gateway),
      dnsServers: (l?.dnsServers ?? []).map(formatIpv4),
      domainName: l?.domainName ?? "",
      leaseTime: l?.leaseTime ?? 0,
      server: l === undefined ? "" : formatIpv4(l.serverId),
      boundAtMs: r3(boundAt.get(c) ?? -1),
      state: d?.state ?? "stopped",
      discovers: d?.stats.discovers ?? 0,
      requests: d?.stats.requests ?? 0,
      declines: d?.stats.declines ?? 0,
    };
  });
  // RFC 2131 §4.3.1: an address is bound to at most one client. Compare what the clients hold
  // with each other, with the server's address, and with the server's lease database.
  const serverLeases = dhcpServer.leases().filter((l) => l.state === "bound" && l.expiresAt > clock.now());
  const heldBy = new Map<string, string[]>();
  for (const l of leases) if (l.address !== "") heldBy.set(l.address, [...(heldBy.get(l.address) ?? []), l.host]);
  const duplicates = [...heldBy].filter(([, hs]) => hs.length > 1).map(([a, hs]) => `${a} held by ${hs.join(", ")}`);
  if (heldBy.has(formatIpv4(SERVER_IP))) duplicates.push(`${formatIpv4(SERVER_IP)} is the server's own address`);
  const serverClients = new Map<string, Set<string>>();
  for (const l of serverLeases) serverClients.set(formatIpv4(l.address), (serverClients.get(formatIpv4(l.address)) ?? new Set()).add(l.client));
  for (const [a, cs] of serverClients) if (cs.size > 1) duplicates.push(`${a} leased to ${cs.size} clients in the server's database`);
  const unbound = leases.filter((l) => l.state !== "bound" || l.address === "");

  const allRtts = pairs.flatMap((p) => p.rtts);
  const pingSent = pairs.reduce((n, p) => n + p.sent, 0);
  const h3Ip = h3.stack.ipv4.counters() as Record<string, unknown>;
  const h2Ip = h2.stack.ipv4.counters() as Record<string, unknown>;
  const num = (x: unknown): number => (typeof x === "number" ? x : 0);
  const fragmented = {
    size: FRAGMENTED_SIZE,
    sent: bigSent,
    echoed: bigEchoed,
    intact: bigIntact,
    fragmentsSent: num(h3Ip["txFragments"]),
    reassembled: num(h2Ip["reassembled"]),
  };
  const tcpDuration = tcp.endAt >= 0 && tcp.startAt >= 0 ? tcp.endAt - tcp.startAt : 0;
  const tcpReport = {
    bytes: TCP_BYTES,
    received: tcp.received,
    intact: tcp.intact && tcp.received === TCP_BYTES,
    durationMs: Math.round(tcpDuration * 1000) / 1000,
    virtualGoodputBitsPerSecond: tcpDuration > 0 ? Math.round((tcp.received * 8 * 1000) / tcpDuration) : 0,
    retransmits: h1.stack.tcp.stats.retransmits,
    ...(tcp.error === undefined ? {} : { error: tcp.error }),
  };
  const clientOrder = (name: string): number => clients.findIndex((c) => c.name === name);
  httpRequests.sort((a, b) => clientOrder(a.client) - clientOrder(b.client));
  const requests: DemoHttpRequest[] = httpRequests.map(({ done, ...r }) => (done || r.error !== undefined ? r : { ...r, error: "unfinished" }));
  const correct = requests.filter((r) => r.status === r.expectedStatus && r.sha256Ok && r.error === undefined);
  const expectedRequests = clients.length * 4;
  const http = {
    server: { host: h1.name, address: formatIpv4(SERVER_IP), port: HTTP_PORT, stats: { ...httpServer.stats } },
    clients: clients.map((c) => {
      const s = httpClients.get(c)?.stats;
      return { host: c.name, connectionsOpened: s?.connectionsOpened ?? 0, reusedConnections: s?.reusedConnections ?? 0, retries: s?.retries ?? 0 };
    }),
    requests,
    totals: { requests: requests.length, correct: correct.length, bytes: requests.reduce((n, r) => n + r.bytes, 0) },
  };
  const checks: DemoCheck[] = [
    {
      name: "DHCP: every client bound",
      family: "ipv4",
      ok: unbound.length === 0,
      detail:
        unbound.length === 0 ? leases.map((l) => `${l.host} ${l.address}`).join(", ") : `not bound: ${unbound.map((l) => `${l.host} (${l.state})`).join(", ")}`,
    },
    {
      name: "DHCP: no address given twice",
      family: "ipv4",
      ok: duplicates.length === 0,
      detail: duplicates.join("; ") || `${heldBy.size} distinct addresses, ${serverLeases.length} bound in the server's database`,
    },
    { name: "ping replies", family: "ipv4", ok: allRtts.length > 0, detail: `${allRtts.length}/${pingSent} echo requests answered` },
    {
      name: "every pair reachable",
      family: "ipv4",
      ok: pairs.every((p) => p.replies > 0),
      detail:
        pairs
          .filter((p) => p.replies === 0)
          .map((p) => `${p.from}->${p.to}`)
          .join(", ") || "all 6 pairs answered",
    },
    { name: "UDP echo", family: "ipv4", ok: udpRtts.length > 0, detail: `${udpRtts.length}/${udpSent} datagrams echoed` },
    {
      name: "fragmented datagram",
      family: "ipv4",
      ok: bigIntact > 0 && fragmented.fragmentsSent > 0,
      detail: `${bigIntact}/${bigSent} ${FRAGMENTED_SIZE}-byte datagrams came back intact (${fragmented.fragmentsSent} fragments sent by h3)`,
    },
    {
      name: "TCP transfer",
      family: "ipv4",
      ok: tcpReport.intact && tcp.endAt >= 0,
      detail: `${tcp.received}/${TCP_BYTES} bytes ${tcpReport.intact ? "arrived intact" : "did not arrive intact"}${tcp.endAt >= 0 ? ` in ${tcpReport.durationMs} ms` : ""}${tcp.error === undefined ? "" : ` (error ${tcp.error})`}`,
    },
    {
      name: "HTTP: every body correct",
      family: "ipv4",
      ok: requests.length === expectedRequests && correct.length === expectedRequests,
      detail:
        correct.length === expectedRequests && requests.length === expectedRequests
          ? `${correct.length}/${expectedRequests} responses with the expected status and sha256 (${http.totals.bytes} body bytes)`
          : `${correct.length}/${expectedRequests} correct; wrong: ${
              requests
                .filter((r) => !correct.includes(r))
                .map((r) => `${r.client} ${r.path} (${r.error ?? (r.status !== r.expectedStatus ? `status ${r.status}` : "sha256 mismatch")})`)
                .join(", ") || "requests missing"
            }`,
    },
  ];
  const six = v6.finish();
  checks.push(...six.checks);
  if (xen !== undefined) {
    const down = xen.netfronts.filter((n) => !n.connected).length;
    checks.push({
      name: "Xen: netfronts connected, no peer errors",
      ok: down === 0 && xen.peerErrors.length === 0,
      detail: `${xen.netfronts.length - down}/${xen.netfronts.length} netfronts connected through dom0 netback, ${xen.peerErrors.length} peer errors`,
    });
  }
  const disk = xenDisk === undefined || diskSite === undefined ? undefined : diskReport(h1.name, xenDisk, diskSite, site);
  if (disk !== undefined) checks.push({ name: `Xen: ${disk.host}'s pages on ${disk.device} through blkfront`, ok: disk.ok, detail: disk.verdict });
  const pcapBytes = capture.bytes();
  return {
    seed,
    xen: xen !== undefined,
    virtualTimeMs: clock.now(),
    networkReadyMs: r3(networkReadyAt),
    hosts: hostReports,
    dhcp: {
      server: {
        host: h1.name,
        address: formatIpv4(SERVER_IP),
        poolStart: formatIpv4(POOL_START),
        poolEnd: formatIpv4(POOL_END),
        gateway: formatIpv4(SERVER_IP),
        dnsServers: [formatIpv4(SERVER_IP)],
        leaseTime: LEASE_SECONDS,
        stats: { ...dhcpServer.stats },
      },
      leases,
    },
    ping: { pairs: pairs.map((p) => ({ from: p.from, to: p.to, sent: p.sent, replies: p.replies, rtt: rttOf(p.rtts) })), rtt: rttOf(allRtts) },
    udpEcho: { sent: udpSent, echoed: udpRtts.length, rtt: rttOf(udpRtts) },
    fragmented,
    tcp: tcpReport,
    http,
    switch: { ...sw.stats },
    impairments,
    impairmentTotals: totals,
    capture: { packets: pcap.packets, bytes: pcapBytes.length },
    ...(disk === undefined ? {} : { disk }),
    ipv6: six.report,
    checks,
    ok: checks.every((c) => c.ok),
    pcap: pcapBytes,
  };
}

/**
 * h1's disk figures and verdict: the boot-time writes and the flush completed before the server
 * listened, every served body came off the disk, the frontend's and the backend's counts agree
 * (requests, bytes), no errors or faults, and dom0's image holds every file at its extent.
 */
function diskReport(
  host: string,
  disk: XenDemoDisk,
  ds: { readonly site: DiskSite; readonly served: number; readonly installedAt: number; readonly error: string | undefined },
  site: ReadonlyMap<string, DemoPage>,
): DemoDiskReport {
  const s = ds.site.stats;
  const fs = disk.front.stats;
  const bs = disk.back.stats;
  const files = ds.site.extents.filter((e) => e.length > 0).length;
  const siteBytes = [...site.values()].reduce((n, p) => n + p.body.length, 0);
  const mismatched = ds.site.mismatches(disk.image);
  const problems: string[] = [];
  if (ds.error !== undefined) problems.push(`install failed: ${ds.error}`);
  else if (ds.installedAt < 0) problems.push("install did not finish");
  if (disk.front.state !== "connected") problems.push(`blkfront ${disk.front.state}`);
  if (!disk.front.features.flush) problems.push("the backend offers no cache flush");
  if (disk.faults.length > 0) problems.push(`${disk.faults.length} faults (${disk.faults[0]!.side}: ${disk.faults[0]!.reason})`);
  if (s.errors > 0 || fs.errors > 0 || bs.errors > 0) problems.push(`errors: ${s.errors} seen by h1, ${fs.errors} by blkfront, ${bs.errors} by blkback`);
  if (s.writes !== files || s.flushes !== 1) problems.push(`${s.writes}/${files} files written, ${s.flushes} flushes`);
  if (s.reads === 0 || s.reads !== ds.served) problems.push(`${s.reads} reads for ${ds.served} bodies served from disk`);
  if (fs.responses !== fs.requests || bs.requests !== fs.requests)
    problems.push(`blkfront sent ${fs.requests} requests, got ${fs.responses} responses; blkback served ${bs.requests}`);
  if (s.bytesRead !== bs.sectorsRead * 512 || s.bytesWritten !== bs.sectorsWritten * 512) {
    problems.push(`bytes read/written: h1 ${s.bytesRead}/${s.bytesWritten}, blkback ${bs.sectorsRead * 512}/${bs.sectorsWritten * 512}`);
  }
  if (mismatched.length > 0) problems.push(`dom0's image differs at ${mismatched.join(", ")}`);
  const ok = problems.length === 0;
  return {
    host,
    device: disk.name,
    backend: "blkback in dom0, memory image",
    sizeBytes: disk.front.capacity * 512,
    sectorSize: disk.front.sectorSize,
    physicalSectorSize: disk.front.features.physicalSectorSize,
    files,
    siteBytes,
    installedAtMs: r3(ds.installedAt),
    requests: fs.requests,
    reads: s.reads,
    writes: s.writes,
    flushes: s.flushes,
    errors: s.errors,
    bytesRead: s.bytesRead,
    bytesWritten: s.bytesWritten,
    servedFromDisk: ds.served,
    backendStats: { requests: bs.requests, errors: bs.errors, sectorsRead: bs.sectorsRead, sectorsWritten: bs.sectorsWritten },
    imageMatches: mismatched.length === 0,
    ok,
    verdict: ok
      ? `${files} files (${siteBytes} bytes) written and flushed at boot (done at ${r3(ds.installedAt)} ms virtual time), ${ds.served} bodies read back; front and back agree on ${fs.requests} requests, ${s.bytesWritten} bytes written, ${s.bytesRead} read; dom0's image holds the site`
      : problems.join("; "),
  };
}

interface DemoArgs {
  xen: boolean;
  seed: number;
  pcapPath: string;
  json: boolean;
  report: string | undefined;
}

/** The command line of `netlab demo` (args.ts's rules). */
const DEMO_SPEC = {
  command: "demo",
  usage: `usage: netlab demo [--seed N] [--pcap FILE] [--json] [--no-xen] [--report FILE.html]

Three dual-stack hosts on a simulated switch with impairments, in virtual time: DHCP, ping, UDP
echo, a fragmented datagram, TCP and HTTP over IPv4; SLAAC from h1's Router Advertisements,
ping6, TCP and HTTP over IPv6; every result checked; exits 1 if a check fails.
  --seed N     seed of the run (default 1); the same seed writes the same capture bytes
  --pcap FILE  where to write the pcapng (default ${DEFAULT_PCAP})
  --json       one JSON object on stdout instead of the tables
  --no-xen     bare stacks on the switch ports; by default (--xen) the hosts are Xen domUs behind
               netfront on dom0 bridges, and h1 serves its pages from a blkfront disk (xvda)
  --report FILE.html  also write one self-contained page: the checks, hosts, leases, pings, TCP, every
               HTTP request with a chart of their times, the impairments per port, a link to the capture
`,
  options: {
    seed: { type: "string" },
    pcap: { type: "string" },
    json: { type: "boolean" },
    xen: { type: "boolean" },
    "no-xen": { type: "boolean" },
    report: { type: "string" },
  },
} as const;

function parseDemoArgs(args: string[]): DemoArgs & { help: boolean } {
  const { values: v, help } = parseCommandLine(DEMO_SPEC, args);
  const get = flagReader(DEMO_SPEC.command, v);
  if (v.pcap === "") throw new UsageError(DEMO_SPEC.command, "--pcap needs a file name");
  return { seed: get("seed", parseSeed) ?? 1, pcapPath: v.pcap ?? DEFAULT_PCAP, json: v.json === true, xen: v["no-xen"] !== true, report: v.report, help };
}

const pad = (s: string | number, n: number): string => String(s).padStart(n);
const fmtRtt = (r: RttReport): string =>
  r.count === 0 ? "no replies" : `min/avg/max ${r.minMs.toFixed(3)}/${r.avgMs.toFixed(3)}/${r.maxMs.toFixed(3)} ms (${r.count})`;

function printReport(r: DemoReport, pcapPath: string, wallMs: number): void {
  const w = (s: string): void => void process.stdout.write(`${s}\n`);
  w(`netlab demo — seed ${r.seed}, ${r.virtualTimeMs / 1000} s of virtual time in ${wallMs.toFixed(0)} ms`);
  w("");
  w(
    r.xen
      ? "hosts: Xen domUs, each NIC a netfront joined to its switch port by a dom0 bridge (xenbr0-2); learning switch, 192.0.2.0/24:"
      : "hosts on a learning switch (192.0.2.0/24):",
  );
  w(
    `  ${"host".padEnd(5)} ${"address".padEnd(12)} ${"via".padEnd(6)} ${"mac".padEnd(17)} ${pad("tx frm", 7)} ${pad("tx bytes", 9)} ${pad("rx frm", 7)} ${pad("rx bytes", 9)} ${pad("wire drop", 9)} ${pad("pings", 6)} ${pad("replies", 7)}`,
  );
  for (const h of r.hosts) {
    w(
      `  ${h.name.padEnd(5)} ${(h.ip || "-").padEnd(12)} ${h.config.padEnd(6)} ${h.mac.padEnd(17)} ${pad(h.txFrames, 7)} ${pad(h.txBytes, 9)} ${pad(h.rxFrames, 7)} ${pad(h.rxBytes, 9)} ${pad(h.wireDrops, 9)} ${pad(h.pingsSent, 6)} ${pad(h.pingReplies, 7)}`,
    );
  }
  const k = r.disk;
  if (k !== undefined) {
    w(
      `  ${k.host} disk ${k.device}: ${formatBinary(k.sizeBytes)}, ${k.sectorSize}-byte sectors (${k.backend}); ${k.requests} ring requests: ${k.writes} writes + ${k.flushes} flush at boot, ${k.reads} reads; ${formatSi(k.bytesWritten, "B")} written, ${formatSi(k.bytesRead, "B")} read; ${k.ok ? "ok" : "FAILED"}`,
    );
  }
  w("");
  const d = r.dhcp.server;
  w(
    `DHCP: server ${d.host} ${d.address}, pool ${d.poolStart}-${d.poolEnd}, gateway ${d.gateway}, DNS ${d.dnsServers.join(" ")}; network ready at ${(r.networkReadyMs / 1000).toFixed(3)} s`,
  );
  w(
    `  ${"host".padEnd(5)} ${"mac".padEnd(17)} ${"address".padEnd(12)} ${pad("lease", 7)} ${"server".padEnd(12)} ${pad("bound at", 10)} ${pad("discover", 8)} ${pad("request", 7)}`,
  );
  for (const l of r.dhcp.leases) {
    w(
      `  ${l.host.padEnd(5)} ${l.mac.padEnd(17)} ${(l.address || `(${l.state})`).padEnd(12)} ${pad(`${l.leaseTime} s`, 7)} ${(l.server || "-").padEnd(12)} ${pad(l.boundAtMs < 0 ? "-" : `${l.boundAtMs.toFixed(1)} ms`, 10)} ${pad(l.discovers, 8)} ${pad(l.requests, 7)}`,
    );
  }
  const ds = d.stats;
  w(`  server: ${ds.received} messages in, ${ds.offers} offers, ${ds.acks} acks, ${ds.naks} naks, ${ds.declines} declines`);
  w("");
  w("ping:");
  for (const p of r.ping.pairs) w(`  ${`${p.from} -> ${p.to}`.padEnd(10)} ${pad(p.replies, 2)}/${p.sent} replies  ${fmtRtt(p.rtt)}`);
  w(`  all        rtt ${fmtRtt(r.ping.rtt)}`);
  w(`UDP echo h1 -> h2:7: ${r.udpEcho.echoed}/${r.udpEcho.sent} echoed, rtt ${fmtRtt(r.udpEcho.rtt)}`);
  w(
    `fragmented ${r.fragmented.size}-byte datagram h3 -> h2:7 and back: ${r.fragmented.intact}/${r.fragmented.sent} intact (h3 sent ${r.fragmented.fragmentsSent} fragments, h2 reassembled ${r.fragmented.reassembled})`,
  );
  const t4 = r.tcp;
  w(
    `TCP h1 -> h3:${TCP_PORT}: ${t4.received}/${t4.bytes} bytes ${t4.intact ? "intact" : "NOT intact"}, ${t4.durationMs} ms, goodput ${formatSi(t4.virtualGoodputBitsPerSecond, "bit/s")} (virtual), ${t4.retransmits} retransmissions${t4.error === undefined ? "" : `, error ${t4.error}`}`,
  );
  w("");
  const hs = r.http.server;
  w(`HTTP: server ${hs.host} ${hs.address}:${hs.port}, ${hs.stats.connections} connections, ${hs.stats.requests} requests, ${hs.stats.responses} responses`);
  w(`  ${"client".padEnd(6)} ${"request".padEnd(24)} ${pad("status", 6)} ${pad("bytes", 7)} ${"sha256".padEnd(16)} ${"conn".padEnd(17)} ${pad("time", 10)}`);
  for (const q of r.http.requests) {
    const conn = [q.reused ? "reused" : "new", ...(q.pipelined ? ["pipelined"] : [])].join(", ");
    const verdict = q.error !== undefined ? `error ${q.error}` : `${q.sha256.slice(0, 12)} ${q.sha256Ok ? "ok" : "BAD"}`;
    w(
      `  ${q.client.padEnd(6)} ${`${q.method} ${q.path}`.padEnd(24)} ${pad(q.status || "-", 6)} ${pad(q.bytes, 7)} ${verdict.padEnd(16)} ${conn.padEnd(17)} ${pad(`${q.durationMs.toFixed(1)} ms`, 10)}`,
    );
  }
  for (const c of r.http.clients)
    w(`  ${c.host}: ${c.connectionsOpened} connection${c.connectionsOpened === 1 ? "" : "s"} opened, ${c.reusedConnections} reuses, ${c.retries} retries`);
  w("");
  const v = r.ipv6;
  w(`IPv6: ${v.router} advertises ${v.prefix} (RAs); the others autoconfigure (SLAAC):`);
  w(
    `  ${"host".padEnd(5)} ${"link-local".padEnd(24)} ${"address".padEnd(24)} ${"via".padEnd(6)} ${"state".padEnd(9)} ${pad("first RA at", 11)} ${pad("RS", 3)} ${pad("RA", 3)}  default router`,
  );
  for (const h of v.hosts) {
    w(
      `  ${h.name.padEnd(5)} ${(h.linkLocal || "-").padEnd(24)} ${(h.address || "-").padEnd(24)} ${(h.origin || "-").padEnd(6)} ${h.state.padEnd(9)} ${pad(h.firstRaAtMs < 0 ? "-" : `${h.firstRaAtMs.toFixed(1)} ms`, 11)} ${pad(h.rsSent, 3)} ${pad(h.raSent, 3)}  ${h.routers.join(" ") || "-"}`,
    );
  }
  w("ping6:");
  for (const p of v.ping.pairs) w(`  ${`${p.from} -> ${p.to}`.padEnd(10)} ${pad(p.replies, 2)}/${p.sent} replies  ${fmtRtt(p.rtt)}`);
  w(`  all        rtt ${fmtRtt(v.ping.rtt)}`);
  const t6 = v.tcp;
  w(
    `TCP over IPv6 ${v.router} -> ${v.hosts[v.hosts.length - 1]?.name ?? "-"}:9: ${t6.received}/${t6.bytes} bytes ${t6.intact ? "intact" : "NOT intact"}, ${t6.durationMs} ms, goodput ${formatSi(t6.virtualGoodputBitsPerSecond, "bit/s")} (virtual), ${t6.retransmits} retransmissions${t6.error === undefined ? "" : `, error ${t6.error}`}`,
  );
  const hs6 = v.http.server;
  w(
    `HTTP over IPv6: server ${hs6.host} [${hs6.address}]:${hs6.port}, ${hs6.stats.connections} connections, ${hs6.stats.requests} requests, ${hs6.stats.responses} responses`,
  );
  for (const q of v.http.requests) {
    const conn = [q.reused ? "reused" : "new", ...(q.pipelined ? ["pipelined"] : [])].join(", ");
    const verdict = q.error !== undefined ? `error ${q.error}` : `${q.sha256.slice(0, 12)} ${q.sha256Ok ? "ok" : "BAD"}`;
    w(
      `  ${q.client.padEnd(6)} ${`${q.method} ${q.path}`.padEnd(24)} ${pad(q.status || "-", 6)} ${pad(q.bytes, 7)} ${verdict.padEnd(16)} ${conn.padEnd(17)} ${pad(`${q.durationMs.toFixed(1)} ms`, 10)}`,
    );
  }
  w("");
  w("impairments per port and direction:");
  w(
    `  ${"port".padEnd(5)} ${"direction".padEnd(11)} ${pad("offered", 7)} ${pad("delivered", 9)} ${pad("lost", 5)} ${pad("dup", 4)} ${pad("q-drop", 6)} ${pad("latency min/avg/max ms", 24)}`,
  );
  for (const { port, direction, stats: s } of r.impairments) {
    const lat = s.delivered === 0 ? "-" : `${s.latencyMinMs.toFixed(2)}/${(s.latencySumMs / s.delivered).toFixed(2)}/${s.latencyMaxMs.toFixed(2)}`;
    w(
      `  ${port.padEnd(5)} ${direction.padEnd(11)} ${pad(s.offered, 7)} ${pad(s.delivered, 9)} ${pad(s.lost, 5)} ${pad(s.duplicated, 4)} ${pad(s.queueDrops, 6)} ${pad(lat, 24)}`,
    );
  }
  const sw = r.switch;
  w(`switch: ${sw.received} frames in, ${sw.forwarded} forwarded, ${sw.flooded} flooded, ${sw.learned} MACs learned`);
  w("");
  w(`capture: ${pcapPath} (${r.capture.packets} packets, ${r.capture.bytes} bytes, pcapng, one interface per host)`);
  w(`  look at it with: tshark -r ${pcapPath}   or   wireshark ${pcapPath}`);
  w("");
  const t = r.impairmentTotals;
  w(`wire: ${t.offered} frames offered, ${t.delivered} delivered, ${t.lost} lost, ${t.duplicated} duplicated, ${t.queueDrops} queue drops`);
  for (const c of r.checks) w(`${c.ok ? "ok  " : "FAIL"} ${c.family === "ipv6" ? "IPv6 " : c.family === "ipv4" ? "IPv4 " : ""}${c.name}: ${c.detail}`);
  w(r.ok ? "demo passed" : "demo FAILED");
}

/** `netlab demo [--seed N] [--pcap FILE] [--json] [--no-xen]` */
export async function run(args: string[]): Promise<number> {
  const parsed = parseDemoArgs(args);
  if (parsed.help) {
    process.stdout.write(helpText(DEMO_SPEC));
    return 0;
  }
  // fail before the run, not after it, when the capture cannot be written there
  makeParentDirectory(resolve(parsed.pcapPath));
  if (parsed.report !== undefined) checkReportPath(parsed.report);
  const started = performance.now();
  const report = await runDemo({ seed: parsed.seed, xen: parsed.xen, onProgress: (line) => void process.stderr.write(`${line}\n`) });
  const wallMs = performance.now() - started;
  const pcapPath = resolve(parsed.pcapPath);
  writeCaptureFile(pcapPath, report.pcap);
  const { pcap: _bytes, ...rest } = report;
  if (parsed.json) process.stdout.write(`${JSON.stringify(withUnits({ ...rest, pcapPath, wallTimeMs: Math.round(wallMs) }, DEMO_UNITS))}\n`);
  else printReport(rest, parsed.pcapPath, wallMs);
  if (parsed.report !== undefined) {
    writeHtmlReport(parsed.report, demoReportPage(rest, `netlab demo ${args.join(" ")}`.trim(), new Date().toISOString(), pcapPath));
    process.stderr.write(`report: ${parsed.report}\n`);
  }
  return report.ok ? 0 : 1;
}
