// The lab's measuring flows other than bulk TCP and traceroute, each started on a netlab host pair
// on the run's VirtualClock and reporting what its receiver saw:
//   startPingFlow     ICMP echo every intervalMs: RTT samples, losses, min/median/p90/max
//   startUdpCbrFlow   UDP at a constant bit rate (sequence number and send time in each datagram):
//                     loss, reordering, duplicates, RFC 3550 interarrival jitter, one-way delay
//   startHttpFlow     HTTP/1.1 fetches of responseBytes from a netlab HTTP server on the receiver,
//                     one after another on a keep-alive connection: time to the response head and to
//                     the last byte per fetch
// A flow does nothing after its end (startMs + durationMs, or the run's end); what is still under
// way then is reported as unanswered / unfinished.
import type { Stack } from "../../stack/index.ts";
import type { Result } from "../../stack/result.ts";
import type { Ipv6Address } from "../../stack/wire/ipv6-address.ts";
import type { Clock } from "../../stack/time.ts";
import { createHttpClient, type HttpClient } from "../../stack/app/http/client.ts";
import { createHttpServer, type HttpServer } from "../../stack/app/http/server.ts";

/** What every flow starter gets. */
export interface FlowDeps {
  readonly clock: Clock;
  /** Which clock `clock` is: goodputs are named by it. */
  readonly clockKind: LabClock;
  readonly src: Stack;
  readonly dst: Stack;
}

/** The clock a lab run keeps: "virtual" with simulated hosts only (netlab and xen), "wall" when a
 * linux host puts the whole run in real time. */
export type LabClock = "virtual" | "wall";

/** A goodput named by the clock it was measured on: exactly one field, the run's clock's (goodputOf() reads it). */
export interface ClockGoodput {
  readonly virtualGoodputBitsPerSecond?: number;
  readonly wallGoodputBitsPerSecond?: number;
}

/** `bitsPerSecond` under the name of `clock`. */
export function byClock(clock: LabClock, bitsPerSecond: number): ClockGoodput {
  return clock === "virtual" ? { virtualGoodputBitsPerSecond: bitsPerSecond } : { wallGoodputBitsPerSecond: bitsPerSecond };
}

/** The goodput of `g`, whichever clock names it. */
export function goodputOf(g: ClockGoodput): number {
  return g.virtualGoodputBitsPerSecond ?? g.wallGoodputBitsPerSecond ?? 0;
}

/** Common flow timing (ms of virtual time since the run started). */
export interface FlowWindow {
  readonly name: string;
  readonly from: string;
  readonly to: string;
  readonly startMs: number;
  /** The flow stops sending here (at most the run's end). */
  readonly endMs: number;
}

/** Percentiles of a sample set (ms). */
export interface DelayStats {
  readonly count: number;
  readonly min: number;
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  readonly max: number;
  readonly mean: number;
}

/** Nearest-rank percentiles; null without samples. */
export function delayStats(values: readonly number[]): DelayStats | null {
  if (values.length === 0) return null;
  const s = [...values].sort((a, b) => a - b);
  const at = (p: number): number => s[Math.min(s.length - 1, Math.max(0, Math.ceil(p * s.length) - 1))]!;
  return { count: s.length, min: s[0]!, p50: at(0.5), p90: at(0.9), p99: at(0.99), max: s[s.length - 1]!, mean: s.reduce((a, b) => a + b, 0) / s.length };
}

// ---------------------------------------------------------------------------------------------
// ping

export interface PingSample {
  /** When the request was sent, ms since the flow started. */
  readonly t: number;
  /** Undefined: no reply within the timeout. */
  readonly rttMs?: number;
  readonly error?: string;
}

export interface PingReport extends FlowWindow {
  readonly kind: "ping";
  readonly intervalMs: number;
  readonly sent: number;
  readonly received: number;
  /** Requests without a reply (timeouts, ICMP errors). */
  readonly lost: number;
  /** Requests still awaiting their reply when the run ended. */
  readonly unanswered: number;
  readonly rttMs: DelayStats | null;
  readonly samples: readonly PingSample[];
}

export interface PingFlowOptions {
  readonly intervalMs: number;
  /** Ping this IPv6 address of dst over ICMPv6 instead of its IPv4 address. */
  readonly ipv6?: Ipv6Address;
  /** Echo data bytes (default 56). */
  readonly payloadBytes?: number;
  /** Give up on a request after this long (default 2000 ms). */
  readonly timeoutMs?: number;
}

/** Pings dst from src every intervalMs from startMs until endMs. */
export function startPingFlow(deps: FlowDeps, w: FlowWindow, o: PingFlowOptions): { report(): PingReport } {
  const { clock, src, dst } = deps;
  const target6 = o.ipv6;
  const target = dst.ipv4.cidr!.address;
  const ping = (opts: { timeoutMs: number; size?: number }, cb: (r: Result<{ rttMs: number }, string>) => void): void => {
    if (target6 === undefined) src.icmp.ping(target, opts, cb);
    else src.icmpv6!.ping(target6, opts, cb);
  };
  const samples: PingSample[] = [];
  let sent = 0;
  let received = 0;
  let lost = 0;
  const send = (k: number): void => {
    const at = w.startMs + k * o.intervalMs;
    if (at >= w.endMs) return;
    clock.setTimer(at, () => {
      sent++;
      const index = samples.length;
      samples.push({ t: at - w.startMs });
      ping({ timeoutMs: o.timeoutMs ?? 2000, ...(o.payloadBytes === undefined ? {} : { size: o.payloadBytes }) }, (r) => {
        if (r.ok) {
          received++;
          samples[index] = { t: at - w.startMs, rttMs: r.value.rttMs };
        } else {
          lost++;
          samples[index] = { t: at - w.startMs, error: r.error };
        }
      });
      send(k + 1);
    });
  };
  send(0);
  return {
    report: () => ({
      ...w,
      kind: "ping",
      intervalMs: o.intervalMs,
      sent,
      received,
      lost,
      unanswered: sent - received - lost,
      rttMs: delayStats(samples.flatMap((s) => (s.rttMs === undefined ? [] : [s.rttMs]))),
      samples,
    }),
  };
}

// ---------------------------------------------------------------------------------------------
// udp-cbr

const SEQ = 0,
  SENT_AT = 4,
  CBR_HEADER_LEN = 12;
/** Smallest datagram payload a CBR flow sends (its sequence number and send time). */
export const UDP_CBR_MIN_PAYLOAD = CBR_HEADER_LEN;

export interface UdpCbrSample extends ClockGoodput {
  /** End of the interval, ms since the flow started. */
  readonly t: number;
  /** Datagrams that arrived in the interval. */
  readonly received: number;
}

export interface UdpCbrReport extends FlowWindow, ClockGoodput {
  readonly kind: "udp-cbr";
  readonly rateBitsPerSecond: number;
  readonly payloadBytes: number;
  readonly sent: number;
  /** Sends the stack refused (no route, ARP queue full, ...). */
  readonly sendErrors: number;
  /** Distinct datagrams that arrived (duplicates not counted). */
  readonly received: number;
  /** Missing datagrams sent before the last one that arrived. */
  readonly lost: number;
  /** Missing datagrams sent after the last one that arrived: lost or still on the way when the run ended. */
  readonly missingAtEnd: number;
  /** lost / (sent - missingAtEnd). */
  readonly lossFraction: number;
  readonly duplicates: number;
  /** Datagrams that arrived after one with a higher sequence number. */
  readonly reordered: number;
  /** RFC 3550 §6.4.1 interarrival jitter at the end of the flow (ms). */
  readonly jitterMs: number;
  readonly oneWayDelayMs: DelayStats | null;
  /* ClockGoodput: UDP payload bits received per second over the flow's duration. */
  readonly samples: readonly UdpCbrSample[];
}

export interface UdpCbrFlowOptions {
  readonly rateBitsPerSecond: number;
  /** UDP payload bytes per datagram (>= UDP_CBR_MIN_PAYLOAD). */
  readonly payloadBytes: number;
  readonly port: number;
  readonly sampleIntervalMs: number;
}

function configError(message: string): Error {
  return Object.assign(new Error(message), { code: "ERR_NETLAB_TOPOLOGY" });
}

/** Sends payloadBytes datagrams from src to dst:port at rateBitsPerSecond (payload bits) from startMs until endMs. */
export function startUdpCbrFlow(deps: FlowDeps, w: FlowWindow, o: UdpCbrFlowOptions): { report(): UdpCbrReport } {
  const { clock, src, dst } = deps;
  if (!(o.payloadBytes >= CBR_HEADER_LEN)) throw configError(`flow ${w.name}: payloadBytes must be >= ${CBR_HEADER_LEN}`);
  const gapMs = (o.payloadBytes * 8 * 1000) / o.rateBitsPerSecond;
  const total = Math.max(0, Math.ceil((w.endMs - w.startMs) / gapMs));
  const receiver = dst.udp.bind(o.port);
  if (!receiver.ok) throw configError(`flow ${w.name}: cannot bind ${w.to}:${o.port} (${receiver.error})`);
  const sender = src.udp.bind(0);
  if (!sender.ok) throw configError(`flow ${w.name}: cannot bind a port on ${w.from} (${sender.error})`);
  const target = dst.ipv4.cidr!.address;
  const seen = new Uint8Array(total);
  let sent = 0,
    sendErrors = 0,
    received = 0,
    duplicates = 0,
    reordered = 0,
    bytes = 0;
  let highest = -1;
  let jitter = 0;
  let previousTransit: number | undefined;
  const delays: number[] = [];
  const bins: number[] = [];
  const binCounts: number[] = [];
  receiver.value.onMessage((d) => {
    if (d.payload.length < CBR_HEADER_LEN) return;
    const view = new DataView(d.payload.buffer, d.payload.byteOffset, d.payload.byteLength);
    const seq = view.getUint32(SEQ);
    const sentAt = view.getFloat64(SENT_AT);
    const now = clock.now();
    if (seq >= total || now > w.endMs + 60_000) return;
    if (seen[seq] === 1) {
      duplicates++;
      return;
    }
    seen[seq] = 1;
    received++;
    bytes += d.payload.length;
    if (seq < highest) reordered++;
    else highest = seq;
    const transit = now - sentAt;
    delays.push(transit);
    // RFC 3550 §6.4.1: J += (|D(i-1,i)| - J) / 16, D the difference of successive transit times.
    if (previousTransit !== undefined) jitter += (Math.abs(transit - previousTransit) - jitter) / 16;
    previousTransit = transit;
    const bin = Math.floor((now - w.startMs) / o.sampleIntervalMs);
    bins[bin] = (bins[bin] ?? 0) + d.payload.length;
    binCounts[bin] = (binCounts[bin] ?? 0) + 1;
  });
  const payload = new Uint8Array(o.payloadBytes).map((_, i) => i & 0xff);
  const view = new DataView(payload.buffer);
  const send = (seq: number): void => {
    if (seq >= total) return;
    const at = w.startMs + seq * gapMs;
    clock.setTimer(at, () => {
      view.setUint32(SEQ, seq);
      view.setFloat64(SENT_AT, clock.now());
      sent++;
      if (!sender.value.sendTo(target, o.port, payload).ok) sendErrors++;
      send(seq + 1);
    });
  };
  send(0);
  return {
    report() {
      const span = Math.max(1e-9, w.endMs - w.startMs);
      let lost = 0;
      for (let seq = 0; seq < highest; seq++) if (seen[seq] === 0) lost++;
      const missingAtEnd = sent - received - lost;
      const samples: UdpCbrSample[] = [];
      for (let k = 0; (k + 1) * o.sampleIntervalMs <= span + 1e-9; k++) {
        samples.push({
          t: (k + 1) * o.sampleIntervalMs,
          ...byClock(deps.clockKind, ((bins[k] ?? 0) * 8 * 1000) / o.sampleIntervalMs),
          received: binCounts[k] ?? 0,
        });
      }
      return {
        ...w,
        kind: "udp-cbr",
        rateBitsPerSecond: o.rateBitsPerSecond,
        payloadBytes: o.payloadBytes,
        sent,
        sendErrors,
        received,
        lost,
        missingAtEnd,
        lossFraction: sent - missingAtEnd === 0 ? 0 : lost / (sent - missingAtEnd),
        duplicates,
        reordered,
        jitterMs: jitter,
        oneWayDelayMs: delayStats(delays),
        ...byClock(deps.clockKind, (bytes * 8 * 1000) / span),
        samples,
      };
    },
  };
}

// ---------------------------------------------------------------------------------------------
// http

export interface HttpFetch {
  /** When the request was made, ms since the flow started. */
  readonly t: number;
  readonly status?: number;
  readonly bytes: number;
  /** Request to response head. */
  readonly headMs?: number;
  /** Request to the body's last byte. */
  readonly doneMs?: number;
  /** Why it failed, or "unfinished" when the flow ended first. */
  readonly error?: string;
}

export interface HttpFlowReport extends FlowWindow, ClockGoodput {
  readonly kind: "http";
  readonly responseBytes: number;
  readonly requests: number;
  readonly completed: number;
  readonly failed: number;
  /** Request to the last byte, completed fetches only. */
  readonly completionMs: DelayStats | null;
  /* ClockGoodput: body bits over the time the fetches took (completed fetches). */
  readonly fetches: readonly HttpFetch[];
}

export interface HttpFlowOptions {
  readonly port: number;
  readonly responseBytes: number;
  /** Fetches made (default 1); the next starts when the previous ended and not before startMs + k * intervalMs. */
  readonly requests: number;
  readonly intervalMs: number;
}

/** HTTP servers by "host:port", one per listening port, shared by the flows that fetch from it. */
export type HttpServers = Map<string, HttpServer>;

const BODY_CHUNK = new Uint8Array(16 * 1024).map((_, i) => (i * 7) & 0xff);

/** Serves GET /bytes/N: N bytes (at most 1 GiB), written as the connection drains. */
function ensureServer(servers: HttpServers, deps: FlowDeps, w: FlowWindow, port: number): void {
  const key = `${w.to}:${port}`;
  if (servers.has(key)) return;
  const server = createHttpServer({ clock: deps.clock }, (req, res) => {
    const m = /^\/bytes\/(\d{1,10})$/.exec(req.target);
    const n = m === null ? -1 : Number(m[1]);
    if (n < 0 || n > 2 ** 30) {
      res.statusCode = 404;
      res.end();
      return;
    }
    res.setHeader("content-length", n);
    let left = n;
    const pump = (): void => {
      while (left > 0) {
        const piece = BODY_CHUNK.subarray(0, Math.min(left, BODY_CHUNK.length));
        left -= piece.length;
        if (!res.write(piece)) {
          res.onDrain(pump);
          return;
        }
      }
      res.end();
    };
    pump();
  });
  const listener = deps.dst.tcp.listen(port, { backlog: 128 });
  if (!listener.ok) throw configError(`flow ${w.name}: cannot listen on ${w.to}:${port} (${listener.error})`);
  server.listen(listener.value);
  servers.set(key, server);
}

/** Fetches /bytes/responseBytes from dst's HTTP server `requests` times, one after another. */
export function startHttpFlow(deps: FlowDeps, servers: HttpServers, w: FlowWindow, o: HttpFlowOptions): { report(): HttpFlowReport; pending(): number } {
  const { clock, src, dst } = deps;
  ensureServer(servers, deps, w, o.port);
  const host = dst.ipv4.cidr!.address;
  let client: HttpClient | undefined;
  const fetches: HttpFetch[] = [];
  let pending = 0;
  let ended = false;
  const fetch = (k: number): void => {
    if (k >= o.requests || ended) return;
    const startAt = Math.max(clock.now(), w.startMs + k * o.intervalMs);
    if (startAt >= w.endMs) return;
    clock.setTimer(startAt, () => {
      if (ended) return;
      client ??= createHttpClient({ clock, tcp: src.tcp }, { keepAlive: true, maxConnectionsPerHost: 1 });
      const index = fetches.length;
      const t = startAt - w.startMs;
      fetches.push({ t, bytes: 0, error: "unfinished" });
      pending++;
      let bytes = 0;
      let done = false;
      const finish = (f: HttpFetch): void => {
        if (done) return;
        done = true;
        pending--;
        // Whatever ends after the flow's end is reported as it stood then.
        if (ended) return;
        fetches[index] = f;
        fetch(k + 1);
      };
      client.request({ host, port: o.port, path: `/bytes/${o.responseBytes}` }, (e, res) => {
        if (e !== null || res === undefined) return finish({ t, bytes, error: e?.code ?? "error" });
        const headMs = clock.now() - startAt;
        res.body.onData((d) => {
          if (ended) return;
          bytes += d.length;
          fetches[index] = { t, status: res.status, bytes, headMs, error: "unfinished" };
        });
        res.body.onError((x) => finish({ t, status: res.status, bytes, headMs, error: x.code }));
        res.body.onEnd(() =>
          finish({ t, status: res.status, bytes, headMs, doneMs: clock.now() - startAt, ...(res.status === 200 ? {} : { error: `status ${res.status}` }) }),
        );
      });
    });
  };
  fetch(0);
  clock.setTimer(w.endMs, () => {
    ended = true;
    client?.close();
  });
  return {
    pending: () => pending,
    report() {
      const completed = fetches.filter((f) => f.doneMs !== undefined && f.error === undefined);
      const busy = completed.reduce((a, f) => a + f.doneMs!, 0);
      return {
        ...w,
        kind: "http",
        responseBytes: o.responseBytes,
        requests: fetches.length,
        completed: completed.length,
        failed: fetches.filter((f) => f.error !== undefined && f.error !== "unfinished").length,
        completionMs: delayStats(completed.map((f) => f.doneMs!)),
        ...byClock(deps.clockKind, busy === 0 ? 0 : (completed.reduce((a, f) => a + f.bytes, 0) * 8 * 1000) / busy),
        fetches,
      };
    },
  };
}
