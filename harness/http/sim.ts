// An HTTP scenario in virtual time, for `netlab sim http` and the demo: two netlab stacks on
// an impaired wire, netlab's server on one and netlab's client on the other; N requests
// from C connections with D-deep pipelining, each response body checked byte for byte.
//
// runHttpSimulation(options)  runs the scenario; the result's `ok` says every response was correct
import { createPointToPointLink } from "../../stack/link/point-to-point.ts";
import { createStack } from "../../stack/index.ts";
import { unwrap } from "../../stack/result.ts";
import { createRng, createVirtualClock, type VirtualClock } from "../../stack/time.ts";
import { createHttpClient } from "../../stack/app/http/client.ts";
import { createHttpServer, type HttpHandler } from "../../stack/app/http/server.ts";

export interface HttpSimOptions {
  readonly requests?: number;
  /** TCP connections the client may open. */
  readonly concurrency?: number;
  /** Requests in flight per connection. */
  readonly pipeline?: number;
  /** Response body size in bytes. */
  readonly bytes?: number;
  /** Frame loss probability on the wire, each direction. */
  readonly loss?: number;
  readonly seed?: number;
  /** One-way wire delay. */
  readonly delayMs?: number;
  /** Called now and then with the number of responses checked so far. */
  readonly onProgress?: (done: number, total: number) => void;
}

export interface HttpSimResult {
  readonly ok: boolean;
  readonly requests: number;
  readonly responses: number;
  readonly correct: number;
  /** Failures by code (e.g. ETIMEDOUT, body-mismatch). */
  readonly errors: Readonly<Record<string, number>>;
  readonly bodyBytes: number;
  readonly connections: number;
  readonly retransmits: number;
  /** Virtual time the run took. */
  readonly virtualMs: number;
  readonly wallMs: number;
}

const SERVER_IP = 0xc0000202;

/** Byte i of the body of request n. */
const patternByte = (n: number, i: number): number => (i * 131 + n * 17 + (i >>> 8)) & 0xff;

const handler: HttpHandler = (req, res) => {
  const m = /^\/obj\/(\d+)\?bytes=(\d+)$/.exec(req.target);
  if (!m) {
    res.statusCode = 404;
    res.end();
    return;
  }
  const n = Number(m[1]);
  const size = Number(m[2]);
  // Even objects go out with Content-Length, odd ones chunked, so both framings are exercised.
  if (n % 2 === 0) res.setHeader("Content-Length", size);
  let at = 0;
  const pump = (): void => {
    while (at < size) {
      const piece = new Uint8Array(Math.min(16 * 1024, size - at));
      for (let i = 0; i < piece.length; i++) piece[i] = patternByte(n, at + i);
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

/** Lets promise chains settle between virtual-time steps until `done` resolves. */
async function drive(clock: VirtualClock, done: Promise<unknown>, maxSteps: number): Promise<void> {
  let finished = false;
  void done.then(
    () => {
      finished = true;
    },
    () => {
      finished = true;
    },
  );
  for (let step = 0; step < maxSteps && !finished; step++) {
    for (let k = 0; k < 8 && !finished; k++) await Promise.resolve();
    if (finished) break;
    const next = clock.nextDeadline();
    if (next === undefined) await new Promise((r) => setImmediate(r));
    else clock.run(next);
  }
}

/** Runs the scenario. */
export async function runHttpSimulation(o: HttpSimOptions = {}): Promise<HttpSimResult> {
  const requests = o.requests ?? 100;
  const concurrency = Math.max(1, o.concurrency ?? 4);
  const pipeline = Math.max(1, o.pipeline ?? 1);
  const bytes = o.bytes ?? 10_000;
  const seed = o.seed ?? 1;
  const impairments = { delayMs: o.delayMs ?? 1, loss: o.loss ?? 0 };
  const started = performance.now();
  const clock = createVirtualClock();
  const link = createPointToPointLink(
    { clock, rng: createRng(seed) },
    {
      a: { mac: 0x020000000001, impairments },
      b: { mac: 0x020000000002, impairments },
    },
  );
  const a = createStack({ device: link.a, clock, rng: createRng(seed + 1) }, { name: "client", ipv4: { cidr: "192.0.2.1/24" } });
  const b = createStack({ device: link.b, clock, rng: createRng(seed + 2) }, { name: "server", ipv4: { cidr: "192.0.2.2/24" } });
  const server = createHttpServer({ clock }, handler, { maxPipelinedRequests: Math.max(16, pipeline) });
  server.listen(unwrap(b.tcp.listen(80)));
  const client = createHttpClient({ clock, tcp: a.tcp }, { maxConnectionsPerHost: concurrency, pipeline, timeoutMs: 120_000 });

  const errors: Record<string, number> = {};
  let responses = 0;
  let correct = 0;
  let bodyBytes = 0;
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < requests) {
      const n = next++;
      try {
        const res = await client.request({ host: SERVER_IP, path: `/obj/${n}?bytes=${bytes}` });
        responses++;
        let at = 0;
        let good = res.status === 200;
        await new Promise<void>((resolve, reject) => {
          res.body.onData((d) => {
            for (let i = 0; i < d.length && good; i++) if (d[i] !== patternByte(n, at + i)) good = false;
            at += d.length;
          });
          res.body.onEnd(() => resolve());
          res.body.onError(reject);
        });
        bodyBytes += at;
        if (good && at === bytes) correct++;
        else errors["body-mismatch"] = (errors["body-mismatch"] ?? 0) + 1;
      } catch (e) {
        const code = (e as { code?: string }).code ?? "exception";
        errors[code] = (errors[code] ?? 0) + 1;
      }
      if (o.onProgress && (correct + 1) % 100 === 0) o.onProgress(correct, requests);
    }
  };
  const all = Promise.all(Array.from({ length: concurrency * pipeline }, worker));
  await drive(clock, all, 50_000_000);
  client.close();
  clock.run(clock.now() + 10_000);
  return {
    ok: correct === requests,
    requests,
    responses,
    correct,
    errors,
    bodyBytes,
    connections: server.stats.connections,
    retransmits: a.tcp.stats.retransmits + b.tcp.stats.retransmits,
    virtualMs: clock.now(),
    wallMs: performance.now() - started,
  };
}
