// Hostile HTTP clients against netlab's HTTP server in virtual time (issue 19, item 5): an
// attacker on a simulated switch opens connections that hold server slots (idle, slowloris,
// slow POST after an error answer, slow upload to a handler that reads it) while a legitimate client fetches once in a while on a new
// connection each time, as curl does. The figures are what the legitimate client got.
//
//   runHostileHttp(options)        one run; returns the figures
//   runHostileHttpAsync(options)   the same run in slices of events, yielding to the event loop: a
//                                  progress line every wall second, an AbortSignal ends it early
//                                  with partial figures; also returns the run's timeline (charts)
//   HOSTILE_ATTACKS                the attacks with its parameters
import { performance } from "node:perf_hooks";
import { createStack, type Stack } from "../../stack/index.ts";
import { createSwitch } from "../../stack/link/switch.ts";
import { createRng, createVirtualClock, type VirtualClock } from "../../stack/time.ts";
import { createHttpServer, type HttpServer, type HttpServerOptions, type HttpServerStats } from "../../stack/app/http/server.ts";
import type { ByteStream } from "../../stack/transport/types.ts";
import { NetlabError } from "../../stack/error.ts";

export type HostileAttack = "idle" | "slowloris" | "slow-post" | "slow-body";

/** Options of runHostileHttp. */
export interface HostileHttpOptions {
  readonly attack: HostileAttack;
  /** The attacker never holds more connections than this at once. */
  readonly maxOpen: number;
  /** New attack connections per second at most. */
  readonly openRate: number;
  /** Connections opened per wave (Infinity: keep maxOpen open, replacing closed ones). */
  readonly perWave?: number;
  /** A new wave starts every waveMs. */
  readonly waveMs?: number;
  /** Slowloris: one more header line per connection this often; slow POST and slow body: 10 body bytes this often. */
  readonly trickleMs?: number;
  /** The attack comes from the legitimate client's own address (true) or from another host. */
  readonly sameSource?: boolean;
  readonly durationMs: number;
  /** The legitimate client starts a fetch this often ... */
  readonly fetchIntervalMs?: number;
  /** ... and gives up after this long (curl --max-time). */
  readonly fetchTimeoutMs?: number;
  /** The first fetch starts this long after the attack. */
  readonly fetchStartMs?: number;
  readonly server?: HttpServerOptions;
  readonly seed?: number;
}

/** What a run measured. */
export interface HostileHttpFigures {
  readonly attack: HostileAttack;
  readonly fetches: number;
  readonly succeeded: number;
  readonly successRate: number;
  readonly medianMs: number | null;
  readonly p90Ms: number | null;
  /** Attack connections opened, and how many the server accepted at the HTTP level. */
  readonly attackOpened: number;
  /** Most server connections at any sampled moment (every 100 ms). */
  readonly peakServerConnections: number;
  /** Slow POST: how long a connection stayed open after its error answer (median and longest, ms). */
  readonly afterErrorMedianMs: number | null;
  readonly afterErrorMaxMs: number | null;
  readonly server: Readonly<HttpServerStats>;
  readonly virtualSeconds: number;
  readonly wallSeconds: number;
  /** Fetches still waiting for their answer (0 at a run's end; an interrupted run leaves them out of successRate). */
  readonly fetchesPending: number;
  /** What ended the run before its duration (e.g. "SIGINT"); the figures are then partial. */
  readonly interrupted?: string;
}

/** What happened over virtual time, for charts. */
export interface HostileHttpTimeline {
  /** Every 100 ms: connections the server holds and attack connections open. */
  readonly samples: readonly { readonly atMs: number; readonly serverConnections: number; readonly attackOpen: number }[];
  /** Each legitimate fetch: when it started and its latency (null: failed or timed out, undefined: still pending). */
  readonly fetches: readonly { readonly startMs: number; readonly latencyMs: number | null | undefined }[];
}

/** Options of runHostileHttpAsync beyond the run's own. */
export interface HostileHttpControl {
  /** Ends the run where it is (partial figures, with `interrupted`). */
  readonly signal?: AbortSignal;
  /** Called with a progress line every `progressEveryMs` [1000] of wall time (checked between slices of events). */
  readonly onProgress?: (line: string) => void;
  readonly progressEveryMs?: number;
}

/** One run, started: step() fires events, figures() and timeline() read it at any point. */
interface HostileHttpRun {
  /** Fires at most `maxEvents` events; true when the run reached its duration. */
  step(maxEvents: number): boolean;
  figures(interrupted?: string): HostileHttpFigures;
  timeline(): HostileHttpTimeline;
  progressLine(): string;
}

/** The attacks (item 5), at its sizes. */
export const HOSTILE_ATTACKS: Readonly<Record<string, HostileHttpOptions>> = {
  // 10,000 idle connections, renewed every 20 s.
  "idle": { attack: "idle", maxOpen: 10_000, openRate: 10_000, perWave: 10_000, waveMs: 20_000, durationMs: 60_000 },
  // slowloris with 1,100 connections, one header line every 10 s each, replaced when closed.
  "slowloris": { attack: "slowloris", maxOpen: 1_100, openRate: 500, trickleMs: 10_000, durationMs: 60_000 },
  // ~9-10 slow POSTs a second (just over maxConnections / requestTimeoutMs = 8.5) with Content-Length: 10000000, each answered 405 at once.
  "slow-post": { attack: "slow-post", maxOpen: Infinity, openRate: 10, trickleMs: 5_000, durationMs: 180_000, fetchStartMs: 100_000 },
  // Not in the issue: 1,100 uploads of 10 MB at 2 bytes a second to a handler that reads them (R-U-Dead-Yet).
  "slow-body": { attack: "slow-body", maxOpen: 1_100, openRate: 500, trickleMs: 5_000, durationMs: 60_000 },
};

const SERVER_IP = 0xc0000202;
const CLIENT_IP = 0xc0000201;
const ATTACKER_IP = 0xc0000203;
const PORT = 80;

const enc = (s: string): Uint8Array => Uint8Array.from(s, (c) => c.charCodeAt(0));

function quantile(sorted: readonly number[], q: number): number | null {
  if (sorted.length === 0) return null;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

function world(seed: number): { clock: VirtualClock; host(name: string, n: number): Stack } {
  const clock = createVirtualClock();
  const sw = createSwitch({ clock, rng: createRng(seed) }, { maxMacEntries: 16 });
  const host = (name: string, n: number): Stack => {
    const port = sw.addPort({ mac: 0x020000000000 + n, name, toSwitch: { delayMs: 0.5 }, fromSwitch: { delayMs: 0.5 } });
    return createStack({ device: port, clock, rng: createRng(seed * 100 + n) }, { name, ipv4: { cidr: `192.0.2.${n}/24` } });
  };
  return { clock, host };
}

/** GET answers 200 with a small body; PUT reads the body, then answers 201; any other method 405 at once, body unread. */
function handler(): Parameters<typeof createHttpServer>[1] {
  const body = enc("hello\n".repeat(20));
  return (req, res) => {
    if (req.method === "PUT") {
      req.body.onData(() => {});
      req.body.onEnd(() => {
        res.statusCode = 201;
        res.end();
      });
      return;
    }
    if (req.method !== "GET") {
      res.statusCode = 405;
      res.setHeader("Allow", "GET");
      res.end();
      return;
    }
    res.end(body);
  };
}

/** Runs one attack with a legitimate client beside it. */
export function runHostileHttp(options: HostileHttpOptions): HostileHttpFigures {
  const run = startHostileHttp(options);
  while (!run.step(Infinity));
  return run.figures();
}

/** Events per slice between two looks at the wall clock. */
const SLICE_EVENTS = 2_000;
/** The event loop gets a turn (signals, timers) at least this often, wall ms. */
const YIELD_EVERY_MS = 50;

/** runHostileHttp in slices: progress every wall second, `signal` ends it with partial figures; plus the timeline. */
export async function runHostileHttpAsync(
  options: HostileHttpOptions,
  control: HostileHttpControl = {},
): Promise<{ figures: HostileHttpFigures; timeline: HostileHttpTimeline }> {
  const run = startHostileHttp(options);
  const everyMs = control.progressEveryMs ?? 1000;
  let lastProgress = performance.now(),
    lastYield = lastProgress;
  for (;;) {
    if (control.signal?.aborted === true) break;
    if (run.step(SLICE_EVENTS)) break;
    const now = performance.now();
    // The run never waits on the event loop, so the time is checked here rather than by a timer.
    if (control.onProgress !== undefined && now - lastProgress >= everyMs) {
      lastProgress = now;
      control.onProgress(run.progressLine());
    }
    if (now - lastYield >= YIELD_EVERY_MS) {
      await new Promise((resolve) => setImmediate(resolve));
      lastYield = performance.now();
    }
  }
  const interrupted = control.signal?.aborted === true ? String(control.signal.reason ?? "aborted") : undefined;
  return { figures: run.figures(interrupted), timeline: run.timeline() };
}

function startHostileHttp(options: HostileHttpOptions): HostileHttpRun {
  const started = performance.now();
  const seed = options.seed ?? 1;
  const { clock, host } = world(seed);
  const serverStack = host("server", SERVER_IP & 0xff);
  const clientStack = host("client", CLIENT_IP & 0xff);
  const attackerStack = options.sameSource === true ? clientStack : host("attacker", ATTACKER_IP & 0xff);
  const server: HttpServer = createHttpServer({ clock }, handler(), { date: false, ...options.server });
  const listening = serverStack.tcp.listen(PORT);
  if (!listening.ok) throw new NetlabError("ERR_NETLAB_SIM", `listen: ${listening.error}`);
  server.listen(listening.value);

  // The attacker.
  const perWave = options.perWave ?? Infinity;
  const waveMs = options.waveMs ?? Infinity;
  const trickleMs = options.trickleMs ?? 10_000;
  let open = 0,
    openedThisWave = 0,
    attackOpened = 0,
    credit = 0;
  /** How long closed attack connections stayed open after their error answer. */
  const afterErrorClosed: number[] = [];
  /** Error-answer times of attack connections still open. */
  const openAfterError = new Set<{ at: number }>();
  const TICK = 10;
  const openOne = (): void => {
    const r = attackerStack.tcp.connect(SERVER_IP, PORT);
    if (!r.ok) return;
    const s: ByteStream = r.value;
    open++;
    openedThisWave++;
    attackOpened++;
    let closed = false;
    let errorAt = -1;
    const mark = { at: -1 };
    let trickle: ReturnType<VirtualClock["setTimer"]> | null = null;
    const tick = (): void => {
      trickle = null;
      if (closed) return;
      if (options.attack === "slowloris") s.write(enc(`X-a: ${clock.now()}\r\n`));
      else s.write(enc("aaaaaaaaaa"));
      trickle = clock.setTimer(clock.now() + trickleMs, tick);
    };
    s.onConnect(() => {
      if (options.attack === "slowloris") s.write(enc(`GET /?${attackOpened} HTTP/1.1\r\nHost: s\r\n`));
      else if (options.attack === "slow-post") s.write(enc("POST /upload HTTP/1.1\r\nHost: s\r\nContent-Length: 10000000\r\n\r\n"));
      else if (options.attack === "slow-body") s.write(enc(`PUT /file/${attackOpened} HTTP/1.1\r\nHost: s\r\nContent-Length: 10000000\r\n\r\n`));
      if (options.attack !== "idle") trickle = clock.setTimer(clock.now() + trickleMs, tick);
    });
    s.onData((d) => {
      if (errorAt < 0 && d.length >= 12 && String.fromCharCode(...d.subarray(0, 12)) === "HTTP/1.1 405") {
        errorAt = clock.now();
        mark.at = errorAt;
        openAfterError.add(mark);
      }
    });
    s.onEnd(() => s.end());
    s.onClose(() => {
      closed = true;
      open--;
      if (trickle !== null) clock.cancel(trickle);
      if (errorAt >= 0) afterErrorClosed.push(clock.now() - errorAt);
      openAfterError.delete(mark);
    });
  };
  const attackTick = (): void => {
    if (clock.now() >= options.durationMs) return;
    if (Number.isFinite(waveMs) && clock.now() > 0 && clock.now() % waveMs < TICK) openedThisWave = 0;
    credit = Math.min(credit + (options.openRate * TICK) / 1000, Math.max(1, (options.openRate * TICK) / 1000));
    while (credit >= 1 && open < options.maxOpen && openedThisWave < perWave) {
      credit--;
      openOne();
    }
    clock.setTimer(clock.now() + TICK, attackTick);
  };
  clock.setTimer(0, attackTick);

  // The legitimate client: one fetch per interval, each on a new connection (curl).
  const fetchIntervalMs = options.fetchIntervalMs ?? 500;
  const fetchTimeoutMs = options.fetchTimeoutMs ?? 5_000;
  let fetches = 0;
  const latencies: number[] = [];
  const fetchLog: { startMs: number; latencyMs: number | null | undefined }[] = [];
  const fetchOnce = (): void => {
    const t0 = clock.now();
    if (t0 + fetchTimeoutMs > options.durationMs) return;
    fetches++;
    const logged: { startMs: number; latencyMs: number | null | undefined } = { startMs: t0, latencyMs: undefined };
    fetchLog.push(logged);
    clock.setTimer(t0 + fetchIntervalMs, fetchOnce);
    const r = clientStack.tcp.connect(SERVER_IP, PORT);
    if (!r.ok) return;
    const s = r.value;
    let got = "";
    let done = false;
    const deadline = clock.setTimer(t0 + fetchTimeoutMs, () => {
      if (!done) {
        done = true;
        logged.latencyMs = null;
        s.destroy();
      }
    });
    s.onConnect(() => s.write(enc("GET / HTTP/1.1\r\nHost: s\r\nConnection: close\r\n\r\n")));
    s.onData((d) => {
      got += String.fromCharCode(...d);
    });
    s.onEnd(() => {
      s.end();
      if (done) return;
      done = true;
      clock.cancel(deadline);
      const good = got.startsWith("HTTP/1.1 200 ") && got.endsWith("hello\n".repeat(20));
      if (good) latencies.push(clock.now() - t0);
      logged.latencyMs = good ? clock.now() - t0 : null;
    });
    s.onClose(() => {
      if (!done) {
        done = true;
        logged.latencyMs = null;
        clock.cancel(deadline);
      }
    });
  };
  clock.setTimer(options.fetchStartMs ?? 1_000, fetchOnce);

  let peak = 0;
  const samples: { atMs: number; serverConnections: number; attackOpen: number }[] = [];
  const sample = (): void => {
    peak = Math.max(peak, server.connectionCount);
    samples.push({ atMs: clock.now(), serverConnections: server.connectionCount, attackOpen: open });
    if (clock.now() < options.durationMs) clock.setTimer(clock.now() + 100, sample);
  };
  clock.setTimer(0, sample);

  const figures = (interrupted?: string): HostileHttpFigures => {
    const afterError = [...afterErrorClosed];
    for (const m of openAfterError) afterError.push(clock.now() - m.at);
    const sorted = [...latencies].sort((a, b) => a - b);
    afterError.sort((a, b) => a - b);
    const pending = fetchLog.filter((f) => f.latencyMs === undefined).length;
    const finished = fetches - pending;
    return {
      attack: options.attack,
      fetches,
      succeeded: sorted.length,
      successRate: finished === 0 ? 0 : sorted.length / finished,
      medianMs: quantile(sorted, 0.5),
      p90Ms: quantile(sorted, 0.9),
      attackOpened,
      peakServerConnections: peak,
      afterErrorMedianMs: quantile(afterError, 0.5),
      afterErrorMaxMs: afterError.length === 0 ? null : afterError[afterError.length - 1]!,
      server: { ...server.stats },
      virtualSeconds: clock.now() / 1000,
      wallSeconds: (performance.now() - started) / 1000,
      fetchesPending: pending,
      ...(interrupted === undefined ? {} : { interrupted }),
    };
  };
  return {
    step: (maxEvents) => clock.run(options.durationMs, maxEvents) < maxEvents,
    figures,
    timeline: () => ({ samples: [...samples], fetches: fetchLog.map((f) => ({ ...f })) }),
    progressLine: () =>
      `http-hostile: ${options.attack} ${(clock.now() / 1000).toFixed(1)}/${options.durationMs / 1000} s virtual ` +
      `(${((100 * clock.now()) / options.durationMs).toFixed(0)}%), client ${latencies.length}/${fetches} fetches ok, ` +
      `attacker ${open} open (${attackOpened} opened), server ${server.connectionCount} connections, wall ${((performance.now() - started) / 1000).toFixed(1)} s`,
  };
}
