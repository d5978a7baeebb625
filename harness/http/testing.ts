// Test helpers for HTTP over in-memory stream pairs on a virtual clock, mixed with real
// Node I/O (files, sockets): settle() alternates between the event loop and virtual time.
//
// settle(clock, promise)          runs both until the promise settles
// createHttpPair(handler, ...)    a netlab server and client joined by stream pairs
import { ok } from "../../stack/result.ts";
import { createVirtualClock, type VirtualClock } from "../../stack/time.ts";
import { createStreamPair, type StreamPairOptions } from "../../stack/transport/stream-pair.ts";
import type { ByteStream } from "../../stack/transport/types.ts";
import { createHttpClient, type HttpClient, type HttpClientOptions } from "../../stack/app/http/client.ts";
import { createHttpServer, type HttpHandler, type HttpServer, type HttpServerOptions } from "../../stack/app/http/server.ts";

/**
 * Lets the event loop run, then moves virtual time on, until `p` settles (bounded). Due timers
 * always run; beyond that virtual time advances at most `maxStepMs` per event-loop turn. With
 * real I/O in play (files, sockets) keep it 0 when nothing needs time to pass, or small, so
 * that turns spent waiting for the I/O do not add up to virtual timeouts; pass Infinity for
 * purely virtual tests.
 */
export async function settle<T>(clock: VirtualClock, p: Promise<T>, maxStepMs = 0, maxTurns = 2_000_000): Promise<T> {
  let done = false;
  p.then(
    () => {
      done = true;
    },
    () => {
      done = true;
    },
  );
  for (let i = 0; i < maxTurns && !done; i++) {
    await new Promise((r) => setImmediate(r));
    if (done) break;
    const next = clock.nextDeadline();
    if (next === undefined) continue;
    if (next <= clock.now() + maxStepMs) clock.run(next);
    else if (maxStepMs > 0) clock.advance(maxStepMs);
  }
  return p;
}

export interface HttpPair {
  readonly clock: VirtualClock;
  readonly server: HttpServer;
  readonly client: HttpClient;
  /** Server ends of every connection the client opened. */
  readonly serverSides: ByteStream[];
}

/** A server running `handler` and a client whose connections are stream pairs to it. */
export function createHttpPair(
  handler: HttpHandler,
  serverOptions: HttpServerOptions = {},
  clientOptions: HttpClientOptions = {},
  pairOptions: StreamPairOptions = {},
): HttpPair {
  const clock = createVirtualClock();
  const server = createHttpServer({ clock }, handler, serverOptions);
  const serverSides: ByteStream[] = [];
  const client = createHttpClient(
    {
      clock,
      connect: () => {
        const [c, s] = createStreamPair(clock, pairOptions);
        serverSides.push(s);
        server.handleConnection(s);
        return ok(c);
      },
    },
    clientOptions,
  );
  return { clock, server, client, serverSides };
}
