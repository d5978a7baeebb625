// `netlab sim http [--requests N --concurrency C --pipeline D --bytes B --loss P --seed S --ipv6 --json]`:
// netlab's HTTP client (stack/app/http) on one stack fetches N resources of B bytes from
// netlab's HTTP server on another, over netlab TCP on a wire losing frames with probability P,
// through at most C keep-alive connections with up to D pipelined requests each; in virtual
// time. Every response is checked: status 200 and the exact bytes the server derives from the
// request's number. Odd-numbered resources are sent chunked, even ones with Content-Length.
// With --ipv6 the stacks have only 2001:db8::1 and ::2 and HTTP runs over stack.tcp6.
//   runHttpSim(options)                        the scenario as a function
//   httpReportPage(r, timeline, command, when)  the --report page: figures, responses over time, latency distribution
//   run(args)                                  the CLI entry (exit 0 when every response is right)
import { performance } from "node:perf_hooks";
import { createStack } from "../../stack/index.ts";
import { createPointToPointLink } from "../../stack/link/index.ts";
import { createRng, createVirtualClock } from "../../stack/time.ts";
import { ipv6 } from "../../stack/wire/ipv6-address.ts";
import { createHttpClient } from "../../stack/app/http/client.ts";
import { createHttpServer, type HttpHandler } from "../../stack/app/http/server.ts";
import { settle } from "../http/testing.ts";
import { flagReader, helpText, parseCommandLine, parseInteger, parseLossProbability, parseSeed, parseSize } from "../cli/args.ts";
import { NetlabError } from "../../stack/error.ts";
import { everyWallSecond, exitStatusOf, interruptible, whenAborted } from "../cli/run-control.ts";
import { checkReportPath, writeHtmlReport } from "../report/html.ts";
import { summaryReportPage } from "../report/summary-page.ts";
import type { HtmlReport } from "../report/html.ts";
import { cdfPoints, lineChart } from "../lab/svg.ts";
import { withUnits, type Units } from "../report/json.ts";
import { formatSi } from "../report/format.ts";

export const summary =
  "HTTP client and server over netlab TCP on a lossy wire, every response checked (--requests N --concurrency C --pipeline D --bytes B --loss P --json)";

/** Options of runHttpSim. */
export interface HttpSimOptions {
  readonly requests: number;
  readonly concurrency?: number;
  readonly pipeline?: number;
  readonly bytes?: number;
  readonly loss?: number;
  readonly delayMs?: number;
  readonly seed?: number;
  /** HTTP over TCP over IPv6 (2001:db8::1 -> 2001:db8::2, set by hand, DAD off) instead of IPv4. */
  readonly ipv6?: boolean;
  /** Give up after this much virtual time [3600 s]. */
  readonly maxVirtualSeconds?: number;
  /** Ends the run where it is (the report is then partial, with `interrupted`). */
  readonly signal?: AbortSignal;
  /** Called with a progress line every `progressEveryMs` [1000] of wall time. */
  readonly onProgress?: (line: string) => void;
  readonly progressEveryMs?: number;
  /** When given, each finished request's timing is appended here (the --report charts). */
  readonly timeline?: HttpRequestTiming[];
}

/** One request as the client saw it, in virtual ms. */
export interface HttpRequestTiming {
  readonly n: number;
  readonly startMs: number;
  readonly endMs: number;
  /** Status 200 and the exact bytes. */
  readonly ok: boolean;
}

/** What runHttpSim found. */
export interface HttpSimReport {
  readonly ok: boolean;
  /** The network layer the connections ran over. */
  readonly family: "ipv4" | "ipv6";
  readonly requests: number;
  readonly responsesOk: number;
  readonly failures: number;
  /** The first few failures, for diagnosis. */
  readonly failureSamples: readonly string[];
  readonly bytesPerResponse: number;
  readonly bytesReceived: number;
  readonly connectionsOpened: number;
  readonly reusedConnections: number;
  readonly serverRequests: number;
  readonly retransmits: number;
  readonly virtualSeconds: number;
  readonly wallSeconds: number;
  readonly concurrency: number;
  readonly pipeline: number;
  readonly loss: number;
  readonly seed: number;
  /** What stopped the run before its end (e.g. "SIGINT"); the figures are then partial. */
  readonly interrupted?: string;
  readonly error?: string;
}

const SERVER_IP = 0xc0000202;
const SERVER_IP6 = "2001:db8::2";
const PORT = 80;

/** Byte i of resource n under `seed`. */
function resourceByte(seed: number, n: number, i: number): number {
  return (i * 131 + n * 17 + seed * 7 + (i >>> 9)) & 0xff;
}

/** Runs the scenario on a VirtualClock (the event loop only runs promise continuations). */
export async function runHttpSim(options: HttpSimOptions): Promise<HttpSimReport> {
  const seed = options.seed ?? 1;
  const loss = options.loss ?? 0;
  const size = options.bytes ?? 10_000;
  const concurrency = options.concurrency ?? 4;
  const pipeline = options.pipeline ?? 1;
  const total = options.requests;
  const clock = createVirtualClock(0);
  const impairments = { delayMs: options.delayMs ?? 1, loss };
  const link = createPointToPointLink(
    { clock, rng: createRng(seed ^ 0x4711) },
    {
      a: { mac: 0x020000000001, impairments },
      b: { mac: 0x020000000002, impairments },
    },
  );
  const v6 = options.ipv6 === true;
  const net = (v4: string, v6addr: string) =>
    v6 ? { ipv6: { addresses: [`${v6addr}/64`], dadTransmits: 0, routerSolicitations: false } } : { ipv4: { cidr: `${v4}/24` } };
  const a = createStack({ device: link.a, clock, rng: createRng(seed * 2 + 1) }, { name: "client", ...net("192.0.2.1", "2001:db8::1") });
  const b = createStack({ device: link.b, clock, rng: createRng(seed * 2 + 2) }, { name: "server", ...net("192.0.2.2", SERVER_IP6) });
  const tcpA = v6 ? a.tcp6!.layer : a.tcp;
  const tcpB = v6 ? b.tcp6!.layer : b.tcp;
  const host = v6 ? ipv6(SERVER_IP6) : SERVER_IP;

  const handler: HttpHandler = (req, res) => {
    const m = /^\/r\/(\d+)$/.exec(req.target);
    if (m === null) {
      res.statusCode = 404;
      res.end();
      return;
    }
    const n = Number(m[1]);
    const body = new Uint8Array(size);
    for (let i = 0; i < size; i++) body[i] = resourceByte(seed, n, i);
    if (n % 2 === 0) {
      res.end(body);
      return;
    }
    let at = 0;
    const pump = (): void => {
      while (at < body.length) {
        const piece = body.subarray(at, at + 4000);
        at += piece.length;
        if (!res.write(piece)) {
          res.onDrain(pump);
          return;
        }
      }
      res.end();
    };
    pump();
  };
  const server = createHttpServer({ clock }, handler);
  const listener = tcpB.listen(PORT, { backlog: Math.max(128, concurrency) });
  if (!listener.ok) throw new NetlabError("ERR_NETLAB_SIM", `listen: ${listener.error}`);
  server.listen(listener.value);
  const client = createHttpClient(v6 ? { clock, tcp6: a.tcp6! } : { clock, tcp: a.tcp }, {
    keepAlive: true,
    maxConnectionsPerHost: concurrency,
    pipeline,
    timeoutMs: 600_000,
  });

  let next = 0;
  let okCount = 0;
  let bytesReceived = 0;
  const failures: string[] = [];
  let failureCount = 0;
  const fail = (n: number, why: string): void => {
    failureCount++;
    if (failures.length < 10) failures.push(`request ${n}: ${why}`);
  };
  const worker = async (): Promise<void> => {
    while (next < total) {
      const n = next++;
      const startMs = clock.now();
      const before = okCount;
      try {
        const res = await client.request({ host, port: PORT, path: `/r/${n}` });
        const got = await res.body.bytes(size + 1);
        bytesReceived += got.length;
        if (res.status !== 200) {
          fail(n, `status ${res.status}`);
          continue;
        }
        if (got.length !== size) {
          fail(n, `${got.length} bytes instead of ${size}`);
          continue;
        }
        let bad = -1;
        for (let i = 0; i < size; i++)
          if (got[i] !== resourceByte(seed, n, i)) {
            bad = i;
            break;
          }
        if (bad >= 0) {
          fail(n, `wrong byte at ${bad}`);
          continue;
        }
        okCount++;
      } catch (e) {
        fail(n, `${(e as { code?: string }).code ?? "error"}: ${(e as Error).message}`);
      } finally {
        options.timeline?.push({ n, startMs, endMs: clock.now(), ok: okCount > before });
      }
    }
  };
  const wall0 = performance.now();
  const workers = Array.from({ length: Math.min(total, concurrency * pipeline) }, () => worker());
  const limitMs = (options.maxVirtualSeconds ?? 3600) * 1000;
  let error: string | undefined;
  const all = Promise.all(workers);
  const watchdog = new Promise<"timeout">((resolve) => clock.setTimer(limitMs, () => resolve("timeout")));
  const stopProgress = everyWallSecond(
    options.onProgress === undefined
      ? undefined
      : () => {
          const wallS = (performance.now() - wall0) / 1000;
          options.onProgress!(
            `http: ${okCount + failureCount}/${total} responses (${((100 * (okCount + failureCount)) / total).toFixed(1)}%), ${failureCount} failures, ` +
              `virtual ${(clock.now() / 1000).toFixed(3)} s, wall ${wallS.toFixed(1)} s, ${tcpA.stats.retransmits + tcpB.stats.retransmits} retransmissions`,
          );
        },
    options.progressEveryMs,
  );
  const outcome = await settle(clock, Promise.race([all.then(() => "done" as const), watchdog, whenAborted(options.signal)]), Infinity, 50_000_000).finally(
    stopProgress,
  );
  const interrupted = outcome === "aborted" ? String(options.signal?.reason ?? "aborted") : undefined;
  if (outcome === "timeout") error = `virtual time limit of ${limitMs / 1000} s reached`;
  if (interrupted !== undefined) error = `interrupted (${interrupted}) after ${okCount + failureCount} of ${total} responses`;
  const virtualSeconds = clock.now() / 1000;
  const wallSeconds = (performance.now() - wall0) / 1000;
  client.close();
  const ok = error === undefined && okCount === total && failureCount === 0;
  return {
    ok,
    family: v6 ? "ipv6" : "ipv4",
    requests: total,
    responsesOk: okCount,
    failures: failureCount,
    failureSamples: failures,
    bytesPerResponse: size,
    bytesReceived,
    connectionsOpened: client.stats.connectionsOpened,
    reusedConnections: client.stats.reusedConnections,
    serverRequests: server.stats.requests,
    retransmits: tcpA.stats.retransmits + tcpB.stats.retransmits,
    virtualSeconds,
    wallSeconds: Math.round(wallSeconds * 1000) / 1000,
    concurrency,
    pipeline,
    loss,
    seed,
    ...(interrupted === undefined ? {} : { interrupted }),
    ...(error === undefined ? {} : { error }),
  };
}

/** The --report page: the verdict and figures, then responses over virtual time and the latency distribution. */
export function httpReportPage(r: HttpSimReport, timeline: readonly HttpRequestTiming[], command: string, when: string): HtmlReport {
  const verdict = r.ok
    ? `Every one of the ${r.requests} responses was correct.`
    : `${r.responsesOk} of ${r.requests} responses correct${r.error === undefined ? "" : `: ${r.error}`}.`;
  const page = summaryReportPage("netlab sim http", command, when, verdict, { ...r });
  if (timeline.length === 0) return page;
  const byEnd = [...timeline].sort((a, b) => a.endMs - b.endMs);
  const step = Math.max(1, Math.ceil(byEnd.length / 1000));
  const cumulative = (keep: (t: HttpRequestTiming) => boolean): [number, number][] => {
    const out: [number, number][] = [[0, 0]];
    let count = 0;
    byEnd.forEach((t, i) => {
      if (keep(t)) count++;
      if (i % step === step - 1 || i === byEnd.length - 1) out.push([t.endMs / 1000, count]);
    });
    return out;
  };
  const latencies = timeline.filter((t) => t.ok).map((t) => t.endMs - t.startMs);
  const charts = [
    lineChart({
      title: "Responses over virtual time",
      xLabel: "virtual time (s)",
      yLabel: "responses",
      series: [
        { name: "correct", points: cumulative((t) => t.ok) },
        { name: "failed", points: cumulative((t) => !t.ok) },
      ],
    }),
    lineChart({
      title: "Latency distribution (request to last body byte)",
      xLabel: "latency (virtual ms)",
      yLabel: "fraction of correct responses",
      series: [{ name: "CDF", points: cdfPoints(latencies) }],
    }),
  ];
  return { ...page, sections: [...page.sections, { heading: "Over time", text: `${timeline.length} requests, timed in virtual time.`, charts }] };
}

/** The command line of `netlab sim http` (args.ts's rules). */
const HTTP_SPEC = {
  command: "sim http",
  usage:
    `usage: netlab sim http [--requests N] [--concurrency C] [--pipeline D] [--bytes SIZE] [--loss P] [--seed S] [--ipv6] [--json] [--quiet] [--report FILE.html]\n${summary}\n` +
    "  defaults: --requests 100 (1..10000000), --concurrency 4 (1..10000), --pipeline 1 (1..1000), --bytes 10000 (0..1Gi), --loss 0 (below 1), --seed 1\n" +
    '  --ipv6: over TCP over IPv6 (2001:db8::1 -> 2001:db8::2); --json names the family ("family": "ipv6" or "ipv4")\n' +
    "  progress on stderr every second (--quiet: none); Ctrl-C or SIGTERM ends the run with the partial summary (exit 130 / 143)\n" +
    "  --report FILE.html  also write one self-contained page: the figures, responses over time, the latency distribution\n",
  options: {
    requests: { type: "string" },
    concurrency: { type: "string" },
    pipeline: { type: "string" },
    bytes: { type: "string" },
    loss: { type: "string" },
    seed: { type: "string" },
    ipv6: { type: "boolean" },
    json: { type: "boolean" },
    quiet: { type: "boolean" },
    report: { type: "string" },
  },
} as const;

/** The units of `sim http --json` fields whose names do not carry one. */
export const HTTP_UNITS: Units = { bytesPerResponse: "B", bytesReceived: "B", loss: "fraction" };

export async function run(args: string[]): Promise<number> {
  const { values: v, help } = parseCommandLine(HTTP_SPEC, args);
  if (help) {
    process.stdout.write(helpText(HTTP_SPEC));
    return 0;
  }
  const get = flagReader(HTTP_SPEC.command, v);
  const o = {
    requests: get("requests", (t) => parseInteger(t, 1, 10_000_000)) ?? 100,
    concurrency: get("concurrency", (t) => parseInteger(t, 1, 10_000)) ?? 4,
    pipeline: get("pipeline", (t) => parseInteger(t, 1, 1000)) ?? 1,
    bytes: get("bytes", (t) => parseSize(t, 0, 2 ** 30)) ?? 10_000,
    loss: get("loss", parseLossProbability) ?? 0,
    seed: get("seed", parseSeed) ?? 1,
    ipv6: v.ipv6 === true,
    json: v.json === true,
    quiet: v.quiet === true,
  };
  if (v.report !== undefined) checkReportPath(v.report);
  // Progress on stderr each second of wall time; SIGINT / SIGTERM end the run with the partial summary (exit 130 / 143).
  const timeline: HttpRequestTiming[] = [];
  const { value: r, interrupted } = await interruptible((signal) =>
    runHttpSim({
      ...(v.report === undefined ? {} : { timeline }),
      requests: o.requests,
      concurrency: o.concurrency,
      pipeline: o.pipeline,
      bytes: o.bytes,
      loss: o.loss,
      seed: o.seed,
      signal,
      ...(o.ipv6 ? { ipv6: true } : {}),
      ...(o.quiet ? {} : { onProgress: (line: string) => process.stderr.write(`${line}\n`) }),
    }),
  );
  if (o.json) process.stdout.write(`${JSON.stringify(withUnits(r, HTTP_UNITS))}\n`);
  else {
    process.stdout.write(
      `http${r.family === "ipv6" ? " over IPv6" : ""}: ${r.responsesOk}/${r.requests} responses correct (${formatSi(r.bytesPerResponse, "B")} each), ${r.failures} failures, ` +
        `${r.connectionsOpened} connections (${r.reusedConnections} reuses), ${r.retransmits} TCP retransmissions, ` +
        `virtual ${r.virtualSeconds.toFixed(3)} s, wall ${r.wallSeconds.toFixed(3)} s` +
        `${r.failureSamples.length > 0 ? `\n  ${r.failureSamples.join("\n  ")}` : ""}${r.error === undefined ? "" : `\n  error: ${r.error}`}\n`,
    );
  }
  if (v.report !== undefined) {
    writeHtmlReport(v.report, httpReportPage(r, timeline, `netlab sim http ${args.join(" ")}`.trim(), new Date().toISOString()));
    if (!o.quiet) process.stderr.write(`report: ${v.report}\n`);
  }
  if (interrupted !== undefined) return exitStatusOf(interrupted);
  return r.ok ? 0 : 1;
}
