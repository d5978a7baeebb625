// Model-based test (fast-check fc.commands) of NetlabSocket/NetlabServer: random sequences of
// write, end, pause, resume, destroy on both ends of one connection, server close and new
// connection attempts, with virtual time passing between them, checked after every step
// against a reference model of net.Socket semantics (allowHalfOpen on both ends):
// - each direction delivers a prefix of what was written, all of it while the reader flows;
// - a paused reader gets no 'data'; a flowing reader gets 'end' after the writer's end/destroy;
// - destroy() closes with a FIN when nothing is unread (the peer sees 'end'), with an RST when
//   data is unread (the peer sees ECONNRESET); no other error ever appears;
// - both ends closed cleanly ('close' with hadError false) once both ended and read everything;
// - after server close(), new connections are refused and 'close' follows the last connection.
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { connect, createNodeServer, type NetlabServer, type NetlabSocket } from "./index.ts";
import { createNodeTestNet, type NodeTestNet } from "./test-net.ts";
import type { ImpairmentOptions } from "../../stack/link/index.ts";

type Side = "c" | "s";
const other = (x: Side): Side => (x === "c" ? "s" : "c");

interface SideModel {
  sent: number;
  ended: boolean;
  destroyed: boolean;
  paused: boolean;
  reset: boolean;
}
interface Model {
  c: SideModel;
  s: SideModel;
  serverClosed: boolean;
}

interface SideReal {
  sock: NetlabSocket;
  sent: Buffer[];
  recv: Buffer[];
  recvBytes: number;
  gotEnd: boolean;
  closed: boolean;
  hadError: boolean | undefined;
  errors: string[];
  dataWhilePaused: number;
}
interface Real {
  net: NodeTestNet;
  /** Virtual time each step lets pass. */
  stepMs: number;
  server: NetlabServer;
  serverCloseEmitted: boolean;
  c: SideReal;
  s: SideReal;
  probeFailures: string[];
  nextByte: number;
}

function observe(sock: NetlabSocket): SideReal {
  const r: SideReal = { sock, sent: [], recv: [], recvBytes: 0, gotEnd: false, closed: false, hadError: undefined, errors: [], dataWhilePaused: 0 };
  sock.on("data", (d: Buffer) => {
    if (sock.isPaused()) r.dataWhilePaused++;
    r.recv.push(d);
    r.recvBytes += d.length;
  });
  sock.on("end", () => {
    r.gotEnd = true;
  });
  sock.on("error", (e: NodeJS.ErrnoException) => {
    r.errors.push(e.code ?? e.message);
  });
  sock.on("close", (hadError: boolean) => {
    r.closed = true;
    r.hadError = hadError;
  });
  return r;
}

/** Lets the event loop and `virtualMs` of virtual time run. */
async function settle(net: NodeTestNet, virtualMs = 400): Promise<void> {
  const until = net.clock.now() + virtualMs;
  for (let i = 0; i < 100_000; i++) {
    await new Promise((r) => setImmediate(r));
    if (net.clock.now() >= until) break;
    const next = net.clock.nextDeadline();
    net.clock.run(next !== undefined && next <= net.clock.now() + 10 ? next : Math.min(until, net.clock.now() + 10));
  }
  for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
}

function checkInvariants(m: Model, r: Real): void {
  for (const x of ["c", "s"] as const) {
    const y = other(x);
    const sent = Buffer.concat(r[x].sent);
    const got = Buffer.concat(r[y].recv);
    // a prefix of what x wrote, never anything else
    expect(got.length).toBeLessThanOrEqual(sent.length);
    expect(got.equals(sent.subarray(0, got.length))).toBe(true);
    expect(r[y].dataWhilePaused).toBe(0);
    const reset = m.c.reset || m.s.reset;
    const yFlows = !m[y].paused && !m[y].destroyed;
    if (!reset && yFlows) {
      expect(r[y].recvBytes).toBe(m[x].sent);
      if (m[x].ended || m[x].destroyed) expect(r[y].gotEnd).toBe(true);
    }
    if (m[x].destroyed) expect(r[x].closed).toBe(true);
    if (m[x].reset) expect([r[x].closed, r[x].hadError, r[x].errors]).toEqual([true, true, ["ECONNRESET"]]);
    else expect(r[x].errors).toEqual([]);
  }
  const cleanlyDone =
    !m.c.reset &&
    !m.s.reset &&
    (m.c.ended || m.c.destroyed) &&
    (m.s.ended || m.s.destroyed) &&
    (!m.c.paused || m.c.destroyed) &&
    (!m.s.paused || m.s.destroyed);
  if (cleanlyDone) {
    expect([r.c.closed, r.c.hadError, r.s.closed, r.s.hadError]).toEqual([true, false, true, false]);
  }
  expect(r.serverCloseEmitted).toBe(m.serverClosed && r.s.closed);
  expect(r.probeFailures).toEqual([]);
}

const alive = (m: Model, x: Side): boolean => !m[x].destroyed && !m[x].reset;
const connectionUsable = (m: Model): boolean => !m.c.reset && !m.s.reset && !m.c.destroyed && !m.s.destroyed;

class Write implements fc.AsyncCommand<Model, Real> {
  constructor(
    readonly side: Side,
    readonly size: number,
  ) {}
  check(m: Readonly<Model>): boolean {
    return connectionUsable(m) && !m[this.side].ended;
  }
  async run(m: Model, r: Real): Promise<void> {
    const b = Buffer.allocUnsafe(this.size);
    for (let i = 0; i < b.length; i++) b[i] = (r.nextByte++ * 97) & 0xff;
    r[this.side].sent.push(b);
    r[this.side].sock.write(b);
    m[this.side].sent += b.length;
    await settle(r.net, r.stepMs);
    checkInvariants(m, r);
  }
  toString(): string {
    return `${this.side}.write(${this.size})`;
  }
}

class End implements fc.AsyncCommand<Model, Real> {
  constructor(readonly side: Side) {}
  check(m: Readonly<Model>): boolean {
    return alive(m, this.side) && !m.c.reset && !m.s.reset && !m[this.side].ended;
  }
  async run(m: Model, r: Real): Promise<void> {
    r[this.side].sock.end();
    m[this.side].ended = true;
    await settle(r.net, r.stepMs);
    checkInvariants(m, r);
  }
  toString(): string {
    return `${this.side}.end()`;
  }
}

class Pause implements fc.AsyncCommand<Model, Real> {
  constructor(
    readonly side: Side,
    readonly pause: boolean,
  ) {}
  check(m: Readonly<Model>): boolean {
    return alive(m, this.side) && m[this.side].paused !== this.pause;
  }
  async run(m: Model, r: Real): Promise<void> {
    if (this.pause) r[this.side].sock.pause();
    else r[this.side].sock.resume();
    m[this.side].paused = this.pause;
    await settle(r.net, r.stepMs);
    checkInvariants(m, r);
  }
  toString(): string {
    return `${this.side}.${this.pause ? "pause" : "resume"}()`;
  }
}

class Destroy implements fc.AsyncCommand<Model, Real> {
  constructor(readonly side: Side) {}
  check(m: Readonly<Model>): boolean {
    return alive(m, this.side);
  }
  async run(m: Model, r: Real): Promise<void> {
    const x = this.side,
      y = other(x);
    // data x has not read: close(2) answers it with an RST (net.Socket over a kernel does the same)
    const unread = m[y].sent - r[x].recvBytes;
    const peerOpen = !r[y].closed;
    // what x still held in its own write buffer never reaches the wire
    m[x].sent = r[x].sock.bytesWritten;
    r[x].sent = [Buffer.concat(r[x].sent).subarray(0, m[x].sent)];
    r[x].sock.destroy();
    m[x].destroyed = true;
    if (unread > 0 && peerOpen && !m.c.reset && !m.s.reset && !m[y].destroyed) m[y].reset = true;
    await settle(r.net, r.stepMs);
    checkInvariants(m, r);
  }
  toString(): string {
    return `${this.side}.destroy()`;
  }
}

class CloseServer implements fc.AsyncCommand<Model, Real> {
  check(m: Readonly<Model>): boolean {
    return !m.serverClosed;
  }
  async run(m: Model, r: Real): Promise<void> {
    r.server.close(() => {
      r.serverCloseEmitted = true;
    });
    m.serverClosed = true;
    await settle(r.net, r.stepMs);
    checkInvariants(m, r);
  }
  toString(): string {
    return "server.close()";
  }
}

class Probe implements fc.AsyncCommand<Model, Real> {
  check(): boolean {
    return true;
  }
  async run(m: Model, r: Real): Promise<void> {
    const p = connect(r.net.a, { host: "192.0.2.2", port: 8000 });
    let outcome = "pending";
    p.on("connect", () => {
      outcome = "connected";
      p.destroy();
    });
    p.on("error", (e: NodeJS.ErrnoException) => {
      outcome = e.code ?? "error";
    });
    await settle(r.net, r.stepMs);
    const expected = m.serverClosed ? "ECONNREFUSED" : "connected";
    if (outcome !== expected) r.probeFailures.push(`probe: ${outcome}, expected ${expected}`);
    checkInvariants(m, r);
  }
  toString(): string {
    return "connect()";
  }
}

class Wait implements fc.AsyncCommand<Model, Real> {
  constructor(readonly ms: number) {}
  check(): boolean {
    return true;
  }
  async run(m: Model, r: Real): Promise<void> {
    await settle(r.net, this.ms);
    checkInvariants(m, r);
  }
  toString(): string {
    return `wait(${this.ms})`;
  }
}

const side = fc.constantFrom<Side>("c", "s");
const commands = [
  fc.tuple(side, fc.oneof(fc.integer({ min: 1, max: 2000 }), fc.integer({ min: 2000, max: 200_000 }))).map(([x, n]) => new Write(x, n)),
  side.map((x) => new End(x)),
  fc.tuple(side, fc.boolean()).map(([x, p]) => new Pause(x, p)),
  side.map((x) => new Destroy(x)),
  fc.constant(new CloseServer()),
  fc.constant(new Probe()),
  fc.integer({ min: 1, max: 5000 }).map((ms) => new Wait(ms)),
];

async function setup(seed: number, impair: ImpairmentOptions, stepMs: number): Promise<{ model: Model; real: Real }> {
  const net = createNodeTestNet({ seed, impair });
  let first: NetlabSocket | undefined;
  const server = createNodeServer(net.b, { allowHalfOpen: true }, (s) => {
    if (first === undefined) {
      first = s;
      return;
    }
    // probe connections: close when the prober does
    s.resume();
    s.on("end", () => s.end());
  });
  server.listen(8000);
  const c = connect(net.a, { host: "192.0.2.2", port: 8000, allowHalfOpen: true });
  const cReal = observe(c);
  await settle(net, stepMs);
  if (first === undefined) throw new Error("no connection accepted");
  const real: Real = { net, stepMs, server, serverCloseEmitted: false, c: cReal, s: observe(first), probeFailures: [], nextByte: 0 };
  const fresh = (): SideModel => ({ sent: 0, ended: false, destroyed: false, paused: false, reset: false });
  return { model: { c: fresh(), s: fresh(), serverClosed: false }, real };
}

// Loss is left out on purpose: a lost RST is never retransmitted (RFC 9293 §3.5.2), so the
// peer of a reset would legitimately stay open until it next sends.
const WIRES: readonly { name: string; impair: ImpairmentOptions; stepMs: number }[] = [
  { name: "a clean wire", impair: { delayMs: 1 }, stepMs: 400 },
  { name: "a wire that reorders, duplicates and jitters", impair: { delayMs: 2, jitterMs: 1, reorder: 0.1, duplicate: 0.1 }, stepMs: 1000 },
];

describe("NetlabSocket against a reference model", () => {
  for (const wire of WIRES) {
    it(`random sequences of write/end/pause/resume/destroy/server close/connect keep net.Socket semantics on ${wire.name}`, async () => {
      const runs = Math.max(15, Math.round((fc.readConfigureGlobal().numRuns ?? 100) / 4));
      await fc.assert(
        fc.asyncProperty(fc.integer({ min: 1, max: 1 << 20 }), fc.commands(commands, { maxCommands: 25 }), async (seed, cmds) => {
          const { model, real } = await setup(seed, wire.impair, wire.stepMs);
          await fc.asyncModelRun(() => ({ model, real }), cmds);
          // finally: everyone that is still open ends and reads; everything closes cleanly
          for (const x of ["c", "s"] as const) {
            if (!model[x].destroyed && !model[x].reset) {
              model[x].paused = false;
              real[x].sock.resume();
              if (!model[x].ended) {
                model[x].ended = true;
                real[x].sock.end();
              }
            }
          }
          await settle(real.net, 5 * wire.stepMs);
          checkInvariants(model, real);
          expect(real.c.closed && real.s.closed).toBe(true);
        }),
        { numRuns: runs },
      );
    }, 300_000);
  }
});
