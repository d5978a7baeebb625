// Fuzz target: netlab's HTTP client (stack/app/http/client.ts) reading arbitrary response bytes
// from a server over an in-memory stream pair. Byte 0 picks the request (GET or HEAD, one or two
// on a kept-alive connection, pipelined or not) and whether the server half-closes; the rest is
// what the server sends, in up to three writes.
// Oracles: nothing throws; every request settles (resolved or failed) within the client's
// timeouts; body bytes delivered never exceed the bytes the server sent, a HEAD response carries
// no body; each delivered status is a 3-digit number the response parser alone also reads first.
// Synchronous: the client's callbacks, which it defers out of the stream's event (a microtask by
// default), are queued (deps.defer) and run between clock steps, where the target used to await a
// microtask turn; the same events in the same order, without a promise per input under Jazzer.js.
import { createVirtualClock } from "../../../stack/time.ts";
import { ok } from "../../../stack/result.ts";
import { createStreamPair } from "../../../stack/transport/stream-pair.ts";
import { createHttpClient, type HttpClientResponse } from "../../../stack/app/http/client.ts";
import { createResponseParser } from "../http-reference.ts";
import { withoutStacks } from "../oracles.ts";
import { createDeferQueue, settleClock, stepClock } from "../kit/clock-steps.ts";

/**
 * The code under test, the only code Jazzer.js instruments for this target besides the target
 * itself (runner.ts bundleTarget): the virtual clock and the stream pair
 * run uninstrumented, and so does emit.ts: it writes the request heads, which the target fixes
 * (GET or HEAD of / to one host), so its branches never depend on the input; instrumented, its
 * per-character checks were an eighth of an input's time under Jazzer.js.
 */
export const instrumentOnly = [
  "stack/app/http/client.ts",
  "stack/app/http/body.ts",
  "stack/app/http/parser.ts",
  "stack/app/http/headers.ts",
  "stack/app/http/utf8.ts",
];

/**
 * The oracle's module: its response parser, which reads the bytes alone for the first status, is
 * an uninstrumented copy of the client's (runner.ts bundleTarget); the client's stays instrumented.
 */
export const oracleModules = ["harness/fuzz/http-reference.ts"];

function fail(what: string, bytes: Uint8Array): never {
  throw new Error(`http-client: ${what}\n  in: ${Buffer.from(bytes).toString("hex")}`);
}

/** Driven synchronously (Jazzer.js --sync). */
export const mode = "sync";

/** Inputs run without error stacks (oracles.ts withoutStacks): a failing input is run again with them. */
export function fuzz(data: Buffer): void {
  withoutStacks(() => fuzzOne(data));
}

function fuzzOne(data: Buffer): void {
  if (data.length < 1) return;
  /** The callbacks the client deferred, run by drain() in order (callbacks they defer included). */
  const { defer, drain } = createDeferQueue();
  const input = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  const mode = input[0]!;
  const bytes = input.subarray(1);
  const clock = createVirtualClock();
  let serverEnd: ReturnType<typeof createStreamPair>[1] | undefined;
  const client = createHttpClient(
    {
      clock,
      defer,
      connect: () => {
        const [c, s] = createStreamPair(clock);
        serverEnd ??= s;
        return ok(c);
      },
    },
    {
      keepAlive: true,
      pipeline: mode & 4 ? 2 : 1,
      timeoutMs: 2_000,
      connectTimeoutMs: 1_000,
      idleTimeoutMs: 500,
      limits: { maxHeaderBytes: 512, maxHeaderCount: 16, maxBodyBytes: 4096, maxChunkLineBytes: 64 },
    },
  );

  const methods = [mode & 1 ? "HEAD" : "GET", ...(mode & 2 ? [mode & 8 ? "HEAD" : "GET"] : [])];
  const outcomes: { settled: boolean; status?: number; method: string; body: number; error?: string }[] = [];
  for (const method of methods) {
    const o: (typeof outcomes)[number] = { settled: false, method, body: 0 };
    outcomes.push(o);
    client.request({ host: 0x0a000002, port: 80, method, path: "/" }, (e, res?: HttpClientResponse) => {
      o.settled = true;
      if (e !== null || res === undefined) {
        o.error = e?.code ?? "no response";
        return;
      }
      o.status = res.status;
      res.body.onData((d) => {
        o.body += d.length;
      });
      res.body.onError(() => {});
      res.body.onEnd(() => {});
    });
  }
  clock.run(clock.now() + 1);
  drain();
  if (serverEnd === undefined) fail("the client did not connect", input);
  const srv = serverEnd;
  srv.onData(() => {});
  const cut1 = bytes.length === 0 ? 0 : ((mode >> 4) * bytes.length) >> 4;
  const cut2 = cut1 + ((bytes.length - cut1) >> 1);
  for (const piece of [bytes.subarray(0, cut1), bytes.subarray(cut1, cut2), bytes.subarray(cut2)]) {
    if (piece.length > 0) srv.write(piece);
    stepClock(clock, 4, 5, drain);
  }
  if (mode & 0x80) srv.end();
  // 8 s of virtual time in 200 ms steps; once no timer is pending (twice in a row, deferred
  // callbacks drained in between) nothing can happen any more and the rest is skipped.
  settleClock(clock, 40, 200, drain);

  const totalBody = outcomes.reduce((n, o) => n + o.body, 0);
  if (totalBody > bytes.length) fail(`${totalBody} body bytes delivered from ${bytes.length} bytes received`, input);
  for (const [i, o] of outcomes.entries()) {
    if (!o.settled) fail(`request ${i} (${o.method}) never settled`, input);
    if (o.status === undefined) continue;
    if (!(o.status >= 100 && o.status <= 999)) fail(`status ${o.status} delivered`, input);
    if (o.method === "HEAD" && o.body > 0) fail(`a HEAD response delivered ${o.body} body bytes`, input);
  }
  const first = outcomes[0]!;
  if (first.status !== undefined) {
    // The first final status the client delivered must be the first final head the parser alone reads.
    const statuses: number[] = [];
    const p = createResponseParser(
      {
        onHead: (h) => {
          statuses.push(h.status);
          return first.method === "HEAD";
        },
        onBody: () => {},
        onComplete: () => {},
      },
      { maxHeaderBytes: 512, maxHeaderCount: 16, maxBodyBytes: 4096, maxChunkLineBytes: 64 },
    );
    p.push(bytes);
    // An unsolicited 101 (no Upgrade was asked for) is ignored by the client like other 1xx.
    const final = statuses.find((s) => s >= 200);
    if (final !== undefined && final !== first.status && !statuses.includes(101))
      fail(`client delivered status ${first.status}, the parser reads ${final}`, input);
  }
  client.close();
  drain();
}

/** Seeds: plain, chunked, HEAD with Content-Length, 100 Continue, pipelined keep-alive, until-close. */
export function seeds(): Uint8Array[] {
  const s = (mode: number, t: string): Uint8Array => Uint8Array.from([mode, ...Array.from(t, (c) => c.charCodeAt(0))]);
  return [
    s(0x80, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"),
    s(0x40, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;e=1\r\nhello\r\n0\r\nX-T: 1\r\n\r\n"),
    s(0x01, "HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\n"),
    s(0x02, "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"),
    s(0x86, "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\naHTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nb"),
    s(0x80, "HTTP/1.0 200 OK\r\n\r\nuntil close"),
    s(0x80, "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd"),
    s(0x80, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n0\r\n\r\n"),
  ];
}
