// HTTP suite: requests/s of netlab's HTTP client against netlab's HTTP server over netlab TCP
// between two stacks on a simulated wire (one thread, virtual time): kept-alive connections,
// pipelined requests on one connection, and a new connection per request. The client API is
// promise-based, so the driver alternates virtual time with event-loop turns.
import type { BenchCase, BenchSuite } from "../../harness/bench/types.ts";
import { createHttpClient, type HttpClientOptions } from "../../stack/app/http/client.ts";
import { createHttpServer } from "../../stack/app/http/server.ts";
import type { VirtualClock } from "../../stack/time.ts";
import { ADDR_B, cpuMsSince, twoStacks } from "../lib/sim.ts";

const BODY = new TextEncoder().encode("hello, world\n");

/**
 * Runs virtual time one instant at a time; after each instant, drains promise reactions with a
 * few microtask ticks (no event-loop turn: a turn is a syscall, which on a loaded machine can
 * cost the rest of the time slice). Falls back to an event-loop turn when no timer is pending.
 */
async function drive(clock: VirtualClock, done: () => boolean, maxSteps = 50_000_000): Promise<void> {
  for (let i = 0; i < maxSteps && !done(); i++) {
    const next = clock.nextDeadline();
    if (next === undefined) {
      await new Promise((r) => setImmediate(r));
      continue;
    }
    clock.run(next);
    for (let k = 0; k < 6; k++) await null;
  }
}

function httpCase(
  name: string,
  clientOptions: HttpClientOptions,
  outstanding: number,
  o: { target?: number; requests: number; quickRequests: number; shortTimeWait?: boolean },
): BenchCase {
  let details: Record<string, unknown> = {};
  return {
    suite: "http",
    name,
    unit: "req/s",
    higherIsBetter: true,
    ...(o.target === undefined ? {} : { target: { value: o.target, kind: "min" as const } }),
    async measure(ctx) {
      const total = ctx.quick ? o.quickRequests : o.requests;
      const net = twoStacks(o.shortTimeWait === true ? { tcp: { mslMs: 5 } } : {});
      const server = createHttpServer(
        { clock: net.clock },
        (_req, res) => {
          res.setHeader("Content-Type", "text/plain");
          res.end(BODY);
        },
        { maxConnections: 4096 },
      );
      const l = net.b.tcp.listen(80, { backlog: 1024 });
      if (!l.ok) throw new Error(`listen: ${l.error}`);
      server.listen(l.value);
      const client = createHttpClient({ clock: net.clock, tcp: net.a.tcp }, clientOptions);
      let issued = 0,
        completed = 0,
        failed = 0,
        bodyBytes = 0;
      let firstError: string | undefined;
      const issue = (): void => {
        if (issued >= total) return;
        issued++;
        client.request({ host: ADDR_B, path: "/" }, (e, res) => {
          if (e !== null || res === undefined) {
            failed++;
            firstError ??= e?.message;
            completed++;
            issue();
            return;
          }
          res.body.onData((d) => {
            bodyBytes += d.length;
          });
          res.body.onEnd(() => {
            completed++;
            issue();
          });
        });
      };
      const cpu0 = process.cpuUsage();
      const t0 = performance.now();
      for (let i = 0; i < outstanding; i++) issue();
      await drive(net.clock, () => completed >= total);
      const wallMs = performance.now() - t0;
      const cpuMs = cpuMsSince(cpu0);
      client.close();
      server.close();
      if (completed < total || failed > 0) throw new Error(`${completed} of ${total} completed, ${failed} failed (${firstError ?? ""})`);
      if (bodyBytes !== total * BODY.length) throw new Error(`body bytes ${bodyBytes}, expected ${total * BODY.length}`);
      details = {
        requests: total,
        outstanding,
        wallMs: Math.round(wallMs),
        cpuMs: Math.round(cpuMs),
        perCpuSecond: total / (cpuMs / 1000),
        connectionsOpened: client.stats.connectionsOpened,
        serverRequests: server.stats.requests,
        virtualMs: +net.clock.now().toFixed(1),
      };
      return total / (wallMs / 1000);
    },
    details: () => details,
  };
}

export const suite: BenchSuite = {
  name: "http",
  description: "HTTP/1.1 requests/s between two stacks (netlab client and server, one thread, virtual time)",
  cases: () => [
    httpCase("keep-alive (16 connections)", { keepAlive: true, maxConnectionsPerHost: 16, pipeline: 1 }, 16, {
      target: 50_000,
      requests: 30_000,
      quickRequests: 500,
    }),
    httpCase("pipelined (1 connection, depth 16)", { keepAlive: true, maxConnectionsPerHost: 1, pipeline: 16 }, 16, { requests: 30_000, quickRequests: 500 }),
    httpCase("new connection each (16 at a time)", { keepAlive: false, maxConnectionsPerHost: 16, pipeline: 1 }, 16, {
      requests: 5_000,
      quickRequests: 200,
      shortTimeWait: true,
    }),
  ],
};
