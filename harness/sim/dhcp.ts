// `netlab sim dhcp [--clients N --loss P --seed S --json]`: one netlab DHCP server and N
// netlab DHCP clients (full stacks) on a simulated learning switch whose ports lose frames
// with probability P in each direction; in virtual time. Succeeds when every client is bound,
// each stack is configured with its lease, no address was given twice and the server's
// database holds exactly the N bound leases.
//   runDhcpSim(options)                        the scenario as a function
//   dhcpReportPage(r, timeline, command, when)  the --report page: figures, clients bound over time, DISCOVER-to-bound times
//   run(args)                                  the CLI entry (exit 0 on success, 1 otherwise)
import { performance } from "node:perf_hooks";
import { createStack, type Stack } from "../../stack/index.ts";
import { createSwitch, type Switch } from "../../stack/link/switch.ts";
import { createRng, createVirtualClock } from "../../stack/time.ts";
import { formatIpv4 } from "../../stack/wire/address.ts";
import { createDhcpRelay, createMemoryLeaseStore, dhcpClientOnStack, dhcpServerOnStack, type DhcpClient, type DhcpRelay } from "../../stack/app/dhcp/index.ts";
import { flagReader, helpText, parseCommandLine, parseDuration, parseInteger, parseLossProbability, parseSeed } from "../cli/args.ts";
import { NetlabError } from "../../stack/error.ts";
import { everyWallSecond, exitStatusOf, interruptible, yieldToEventLoop } from "../cli/run-control.ts";
import { checkReportPath, writeHtmlReport } from "../report/html.ts";
import { summaryReportPage } from "../report/summary-page.ts";
import type { HtmlReport } from "../report/html.ts";
import { cdfPoints, lineChart } from "../lab/svg.ts";
import { withUnits } from "../report/json.ts";

export const summary =
  "N DHCP clients and a server on lossy simulated switches (64 clients per segment, relay agents to the server); every client bound, no address twice (--clients N --loss P --segment-size K --json)";

/** Options of runDhcpSim. */
export interface DhcpSimOptions {
  readonly clients: number;
  readonly loss?: number;
  readonly seed?: number;
  /** Give up after this much virtual time [600 s]. */
  readonly maxVirtualSeconds?: number;
  /**
   * Clients per broadcast domain [64]; 0 puts every client on the server's switch. More clients
   * than this are split over segments of their own, each joined to the server's backbone switch
   * by a DHCP relay agent, as a campus network bounds its VLANs: every broadcast (DISCOVER,
   * REQUEST, RFC 5227 ARP probes and announcements) reaches every port of its domain, so one
   * domain of N clients costs N² frame deliveries and segments of K cost N·K.
   */
  readonly segmentSize?: number;
  /** When given, each client's first binding is appended here (the --report charts). */
  readonly timeline?: DhcpClientTiming[];
}

/** One client's first binding, in virtual ms. */
export interface DhcpClientTiming {
  readonly client: number;
  /** When it first sent DISCOVER (entered SELECTING, after its random start delay). */
  readonly discoverAtMs: number;
  /** When it was first bound (after REQUEST, ACK and RFC 5227's ARP probe). */
  readonly boundAtMs: number;
}

/** What runDhcpSim found. */
export interface DhcpSimReport {
  readonly ok: boolean;
  readonly clients: number;
  readonly bound: number;
  /** Distinct addresses among bound clients. */
  readonly uniqueAddresses: number;
  /** Addresses held by more than one client (should be empty). */
  readonly duplicates: readonly string[];
  /** Bound clients whose stack is not configured with the leased address. */
  readonly misconfigured: number;
  readonly serverLeases: number;
  readonly discovers: number;
  readonly requests: number;
  readonly declines: number;
  readonly server: { readonly offers: number; readonly acks: number; readonly naks: number };
  readonly framesLost: number;
  /** Frames the switch flooded (broadcasts, and unicasts to MACs it had not learned). */
  readonly framesFlooded: number;
  /** Frames the switch handed to its ports: each flooded frame reaches every other port, so
   *  with N clients broadcasting DISCOVER, REQUEST and RFC 5227's ARP probes and
   *  announcements this grows as N² (the simulation's wall time with it). */
  readonly frameDeliveries: number;
  /** Broadcast domains the clients were split over (1: all on the server's switch). */
  readonly segments: number;
  /** What the relay agents did, summed (absent with one segment). */
  readonly relays?: { readonly requestsRelayed: number; readonly repliesRelayed: number; readonly dropped: number };
  /** Virtual time until the last client bound. */
  readonly virtualSeconds: number;
  readonly wallSeconds: number;
  readonly seed: number;
  readonly loss: number;
  /** What stopped the run before its end (e.g. "SIGINT"); the figures are then partial. */
  readonly interrupted?: string;
  readonly error?: string;
}

const SERVER_ADDR = 0x0a0a0001; // 10.10.0.1/16 (a simulated subnet large enough for thousands of clients)
const BACKBONE_SERVER_ADDR = 0x0a000001; // 10.0.0.1/8, with relayed segments
const DEFAULT_SEGMENT_SIZE = 64;

/** Runs the scenario synchronously on a VirtualClock. */
export function runDhcpSim(options: DhcpSimOptions): DhcpSimReport {
  const sim = startDhcpSim(options);
  sim.step(Infinity);
  return sim.finish();
}

/**
 * The same run in slices of about 50 ms of wall time with the event loop between them, so that
 * `signal` (SIGINT, SIGTERM) can end it (the report is then partial, with `interrupted`) and
 * `onProgress` gets a line every second of wall time. Same seed, same run as runDhcpSim().
 */
export async function runDhcpSimInterruptible(options: DhcpSimOptions, signal?: AbortSignal, onProgress?: (line: string) => void): Promise<DhcpSimReport> {
  const sim = startDhcpSim(options);
  const stopProgress = everyWallSecond(onProgress === undefined ? undefined : () => onProgress(sim.progressLine()));
  try {
    // the signal first: a run aborted before (or between) slices does no more work
    while (signal?.aborted !== true && !sim.step(50)) await yieldToEventLoop();
  } finally {
    stopProgress();
  }
  return sim.finish(signal?.aborted === true ? String(signal.reason ?? "aborted") : undefined);
}

/** A run under way: step() until it says done, then finish(). */
interface DhcpSimRun {
  /** Runs for about `budgetMs` of wall time; true when the run is over (all bound, limit, no timers). */
  step(budgetMs: number): boolean;
  progressLine(): string;
  /** The report; `interrupted` names what stopped the run early. */
  finish(interrupted?: string): DhcpSimReport;
}

function startDhcpSim(options: DhcpSimOptions): DhcpSimRun {
  const seed = options.seed ?? 1;
  const loss = options.loss ?? 0;
  const n = options.clients;
  if (!Number.isInteger(n) || n < 1 || n > 60_000) throw Object.assign(new RangeError("clients must be in 1..60000"), { code: "ERR_NETLAB_SIM" });
  const segmentSize = options.segmentSize ?? DEFAULT_SEGMENT_SIZE;
  if (!Number.isInteger(segmentSize) || segmentSize < 0 || segmentSize > 250)
    throw Object.assign(new RangeError("segmentSize must be in 0..250"), { code: "ERR_NETLAB_SIM" });
  const segments = segmentSize === 0 || n <= segmentSize ? 1 : Math.ceil(n / segmentSize);
  const clock = createVirtualClock(0);
  const sw = createSwitch({ clock, rng: createRng(seed ^ 0x0dcb) });
  const switches = [sw];
  const impair = { delayMs: 0.2, jitterMs: 0.05, loss };
  let hostIndex = 0;
  const host = (name: string, cidr?: string, on: Switch = sw): Stack => {
    const i = hostIndex++;
    const port = on.addPort({ mac: 0x020000000000 + i + 1, name, toSwitch: impair, fromSwitch: impair });
    return createStack({ device: port, clock, rng: createRng(seed * 65_537 + i) }, { name, ...(cidr === undefined ? {} : { ipv4: { cidr } }) });
  };
  const store = createMemoryLeaseStore();
  const maxLeases = Math.max(4096, 2 * n);
  // One segment: the clients share the server's switch and its 10.10.0.0/16. Several: the server
  // is 10.0.0.1/8 on a backbone switch, segment s is 10.a.b.0/24 (a.b = 1 + s as two octets)
  // with its relay agent at .1 on both of its sides.
  const relayAddress = (s: number): number => (0x0a000001 | ((1 + s) << 8)) >>> 0;
  const serverStack = segments === 1 ? host("server", `${formatIpv4(SERVER_ADDR)}/16`) : host("server", `${formatIpv4(BACKBONE_SERVER_ADDR)}/8`);
  const server = dhcpServerOnStack(
    serverStack,
    segments === 1
      ? {
          pools: [{ subnet: { address: 0x0a0a0000, prefixLength: 16 }, rangeStart: 0x0a0a0100, rangeEnd: 0x0a0afffe, gateway: SERVER_ADDR, leaseTime: 3600 }],
          maxLeases,
        }
      : {
          pools: Array.from({ length: segments }, (_, s) => {
            const base = (relayAddress(s) & 0xffffff00) >>> 0;
            return { subnet: { address: base, prefixLength: 24 }, rangeStart: base + 2, rangeEnd: base + 254, gateway: relayAddress(s), leaseTime: 3600 };
          }),
          maxLeases,
        },
    store,
  );
  const segmentSwitches: Switch[] = [sw];
  const relays: DhcpRelay[] = [];
  for (let s = 0; segments > 1 && s < segments; s++) {
    const segment = createSwitch({ clock, rng: createRng((seed ^ 0x0dcb) + 1 + s) });
    switches.push(segment);
    segmentSwitches[s] = segment;
    const address = relayAddress(s);
    const clientSide = host(`relay${s}-segment`, `${formatIpv4(address)}/24`, segment);
    const serverSide = host(`relay${s}-backbone`, `${formatIpv4(address)}/8`);
    const relay = createDhcpRelay(
      { clientSide: { udp: clientSide.udp, address, arp: clientSide.arp }, serverSide: { udp: serverSide.udp } },
      { servers: [BACKBONE_SERVER_ADDR] },
    );
    if (!relay.ok) throw new NetlabError("ERR_NETLAB_SIM", `relay ${s}: ${relay.error}`);
    relays.push(relay.value);
  }
  const clients: { stack: Stack; client: DhcpClient }[] = [];
  let boundCount = 0;
  let lastBoundAt = 0;
  const wall0 = performance.now();
  // The clients' stacks are built in the first slices (60,000 of them take seconds), then all start at once.
  const addClients = (stopAt: number): boolean => {
    for (let i = clients.length; i < n; i++) {
      if (i % 16 === 0 && performance.now() >= stopAt) return false;
      const stack = host(`client${i}`, undefined, segmentSwitches[segments === 1 ? 0 : Math.floor(i / segmentSize)]);
      // Without the broadcast flag, as Linux's dhclient: the server unicasts OFFER and ACK to the
      // offered address (RFC 2131 §4.1), so they are not flooded to, and parsed by, every client.
      const client = dhcpClientOnStack(stack, { initDelayMinMs: 0, initDelayMaxMs: 2000, broadcastFlag: false });
      client.onBound(() => {
        boundCount++;
        lastBoundAt = clock.now();
      });
      if (options.timeline !== undefined) {
        const timeline = options.timeline;
        let discoverAt = -1,
          done = false;
        client.onStateChange((state) => {
          if (state === "selecting" && discoverAt < 0) discoverAt = clock.now();
          if (state === "bound" && !done) {
            done = true;
            timeline.push({ client: i, discoverAtMs: discoverAt < 0 ? 0 : discoverAt, boundAtMs: clock.now() });
          }
        });
      }
      clients.push({ stack, client });
    }
    for (const c of clients) c.client.start();
    started = true;
    return true;
  };
  let started = false;
  const limit = (options.maxVirtualSeconds ?? 600) * 1000;
  // The run moves in windows of 1 s of virtual time (at most 1e6 timers each), and checks whether
  // every client is bound only between windows; a slice of wall time may end inside a window,
  // so a run gives the same figures however it is sliced.
  const WINDOW_EVENTS = 1_000_000;
  let windowEnd: number | undefined;
  let windowFired = 0;
  const step = (budgetMs: number): boolean => {
    const stopAt = budgetMs === Infinity ? Infinity : performance.now() + budgetMs;
    if (!started && !addClients(stopAt)) return false;
    for (;;) {
      if (windowEnd === undefined) {
        if (!(clock.now() < limit && clients.some((c) => c.client.state !== "bound"))) return true;
        windowEnd = Math.min(limit, clock.now() + 1000);
        windowFired = 0;
      }
      const batch = Math.min(budgetMs === Infinity ? WINDOW_EVENTS : 2000, WINDOW_EVENTS - windowFired);
      const fired = clock.run(windowEnd, batch);
      windowFired += fired;
      if (fired < batch || windowFired >= WINDOW_EVENTS) {
        windowEnd = undefined;
        if (windowFired === 0 && clock.pending() === 0) return true;
      }
      if (performance.now() >= stopAt) return false;
    }
  };
  const progressLine = (): string =>
    !started
      ? `dhcp: building client stacks, ${clients.length}/${n}, wall ${((performance.now() - wall0) / 1000).toFixed(1)} s`
      : `dhcp: ${boundCount}/${n} clients bound (${((100 * boundCount) / n).toFixed(1)}%), ` +
        `virtual ${(clock.now() / 1000).toFixed(3)} s, wall ${((performance.now() - wall0) / 1000).toFixed(1)} s`;
  const finish = (interrupted?: string): DhcpSimReport => {
    const wallSeconds = (performance.now() - wall0) / 1000;

    const holders = new Map<number, number>();
    let bound = 0;
    let misconfigured = 0;
    let discovers = 0,
      requests = 0,
      declines = 0;
    for (const { stack, client } of clients) {
      discovers += client.stats.discovers;
      requests += client.stats.requests;
      declines += client.stats.declines;
      const lease = client.lease;
      if (client.state !== "bound" || lease === undefined) continue;
      bound++;
      holders.set(lease.address, (holders.get(lease.address) ?? 0) + 1);
      if (stack.ipv4.cidr?.address !== lease.address) misconfigured++;
    }
    const duplicates = [...holders].filter(([, k]) => k > 1).map(([a]) => formatIpv4(a));
    const serverLeases = server.leases().filter((l) => l.state === "bound" && l.expiresAt > clock.now()).length;
    const ports = switches.flatMap((x) => x.ports);
    const framesLost = ports.reduce((s, p) => {
      const ps = p.stats();
      return s + ps.toSwitch.lost + ps.fromSwitch.lost;
    }, 0);
    const ok = bound === n && duplicates.length === 0 && misconfigured === 0 && serverLeases === n;
    const st = server.stats;
    return {
      ok,
      clients: n,
      bound,
      uniqueAddresses: holders.size,
      duplicates,
      misconfigured,
      serverLeases,
      discovers,
      requests,
      declines,
      server: { offers: st.offers, acks: st.acks, naks: st.naks },
      framesLost,
      framesFlooded: switches.reduce((sum, x) => sum + x.stats.flooded, 0),
      frameDeliveries: ports.reduce((sum, p) => sum + p.stats().fromSwitch.offered, 0),
      segments,
      ...(relays.length === 0
        ? {}
        : {
            relays: {
              requestsRelayed: relays.reduce((sum, r) => sum + r.stats.requestsRelayed, 0),
              repliesRelayed: relays.reduce((sum, r) => sum + r.stats.repliesRelayed, 0),
              dropped: relays.reduce((sum, r) => sum + r.stats.dropped, 0),
            },
          }),
      virtualSeconds: lastBoundAt / 1000,
      wallSeconds: Math.round(wallSeconds * 1000) / 1000,
      seed,
      loss,
      ...(interrupted === undefined ? {} : { interrupted }),
      ...(ok
        ? {}
        : {
            error:
              bound < n
                ? `${interrupted === undefined ? "" : `interrupted (${interrupted}): `}${n - bound} clients not bound after ${(clock.now() / 1000).toFixed(1)} s`
                : "inconsistent leases",
          }),
    };
  };
  return { step, progressLine, finish };
}

/** The --report page: the verdict and figures, then clients bound over virtual time and the distribution of their DISCOVER-to-bound times. */
export function dhcpReportPage(r: DhcpSimReport, timeline: readonly DhcpClientTiming[], command: string, when: string): HtmlReport {
  const verdict = r.ok
    ? `All ${r.clients} clients bound, no address twice, every stack configured with its lease.`
    : `${r.bound} of ${r.clients} clients bound${r.error === undefined ? "" : `: ${r.error}`}.`;
  const page = summaryReportPage("netlab sim dhcp", command, when, verdict, { ...r });
  if (timeline.length === 0) return page;
  const bound = timeline.map((t) => t.boundAtMs).sort((a, b) => a - b);
  const step = Math.max(1, Math.ceil(bound.length / 1000));
  const boundPoints: [number, number][] = [[0, 0]];
  bound.forEach((at, i) => {
    if (i % step === step - 1 || i === bound.length - 1) boundPoints.push([at / 1000, i + 1]);
  });
  const charts = [
    lineChart({ title: "Clients bound over virtual time", xLabel: "virtual time (s)", yLabel: "clients", series: [{ name: "bound", points: boundPoints }] }),
    lineChart({
      title: "DISCOVER to bound, per client (DORA and the RFC 5227 probe)",
      xLabel: "virtual ms",
      yLabel: "fraction of clients",
      series: [{ name: "CDF", points: cdfPoints(timeline.map((t) => t.boundAtMs - t.discoverAtMs)) }],
    }),
  ];
  return {
    ...page,
    sections: [
      ...page.sections,
      { heading: "Over time", text: `${timeline.length} clients' first bindings, in virtual time (each starts after a random 0-2 s delay).`, charts },
    ],
  };
}

/** The command line of `netlab sim dhcp` (args.ts's rules). */
const DHCP_SPEC = {
  command: "sim dhcp",
  usage:
    `usage: netlab sim dhcp [--clients N] [--loss P] [--seed S] [--segment-size K] [--max-virtual-seconds S] [--json] [--quiet] [--report FILE.html]\n${summary}\n` +
    "  --clients N       1..60000 (default 50); --loss P below 1 (default 0); --seed S (default 1)\n" +
    `  --segment-size K  clients per broadcast domain, 0..250 (default ${DEFAULT_SEGMENT_SIZE}); more clients are split over segments joined to\n` +
    "                    the server's switch by DHCP relay agents; 0 puts all on one switch (N² frame deliveries)\n" +
    "  progress on stderr every second (--quiet: none); Ctrl-C or SIGTERM ends the run with the partial summary (exit 130 / 143)\n" +
    "  --report FILE.html  also write one self-contained page: the figures, clients bound over time, DISCOVER-to-bound times\n",
  options: {
    clients: { type: "string" },
    loss: { type: "string" },
    seed: { type: "string" },
    "segment-size": { type: "string" },
    "max-virtual-seconds": { type: "string" },
    json: { type: "boolean" },
    quiet: { type: "boolean" },
    report: { type: "string" },
  },
} as const;

export async function run(args: string[]): Promise<number> {
  const { values: v, help } = parseCommandLine(DHCP_SPEC, args);
  if (help) {
    process.stdout.write(helpText(DHCP_SPEC));
    return 0;
  }
  const get = flagReader(DHCP_SPEC.command, v);
  const maxMs = get("max-virtual-seconds", (t) => parseDuration(t, "s", 1));
  const segmentSize = get("segment-size", (t) => parseInteger(t, 0, 250));
  const o = {
    clients: get("clients", (t) => parseInteger(t, 1, 60_000)) ?? 50,
    loss: get("loss", parseLossProbability) ?? 0,
    seed: get("seed", parseSeed) ?? 1,
    json: v.json === true,
    ...(maxMs === undefined ? {} : { maxVirtualSeconds: maxMs / 1000 }),
    ...(segmentSize === undefined ? {} : { segmentSize }),
  };
  if (v.report !== undefined) checkReportPath(v.report);
  // Progress on stderr each second of wall time; SIGINT / SIGTERM end the run with the partial summary (exit 130 / 143).
  const timeline: DhcpClientTiming[] = [];
  const { value: r, interrupted } = await interruptible((signal) =>
    runDhcpSimInterruptible(
      {
        ...(v.report === undefined ? {} : { timeline }),
        clients: o.clients,
        loss: o.loss,
        seed: o.seed,
        ...(o.maxVirtualSeconds === undefined ? {} : { maxVirtualSeconds: o.maxVirtualSeconds }),
        ...(o.segmentSize === undefined ? {} : { segmentSize: o.segmentSize }),
      },
      signal,
      v.quiet === true ? undefined : (line) => process.stderr.write(`${line}\n`),
    ),
  );
  if (o.json) process.stdout.write(`${JSON.stringify(withUnits(r, { loss: "fraction" }))}\n`);
  else {
    process.stdout.write(
      `dhcp: ${r.bound}/${r.clients} clients bound${r.segments > 1 ? ` on ${r.segments} segments behind relay agents` : ""}, ${r.uniqueAddresses} distinct addresses${r.duplicates.length > 0 ? `, DUPLICATES ${r.duplicates.join(" ")}` : ""}, ` +
        `${r.serverLeases} server leases, ${r.discovers} DISCOVER / ${r.requests} REQUEST sent, ${r.framesLost} frames lost, ` +
        `${r.framesFlooded} frames flooded (${r.frameDeliveries} deliveries), last bound at ${r.virtualSeconds.toFixed(3)} s virtual, wall ${r.wallSeconds.toFixed(3)} s${r.error === undefined ? "" : `, error: ${r.error}`}\n`,
    );
  }
  if (v.report !== undefined) {
    writeHtmlReport(v.report, dhcpReportPage(r, timeline, `netlab sim dhcp ${args.join(" ")}`.trim(), new Date().toISOString()));
    if (v.quiet !== true) process.stderr.write(`report: ${v.report}\n`);
  }
  if (interrupted !== undefined) return exitStatusOf(interrupted);
  return r.ok ? 0 : 1;
}
