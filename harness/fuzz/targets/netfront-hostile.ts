// Fuzz target: a guest's netfront (xen-sim/net/netfront.ts) against a hostile dom0 that does the
// backend's handshake by hand, maps the guest's rings and then writes rx responses from the
// input. Byte 0: bit 0 feature-gso-tcpv4, bit 1 feature-sg, bits 2-3 a final rsp_prod abuse,
// bits 4-5 frames the guest sends first, bit 6 a forged tx response. Then one 4-byte record per
// rx response slot k: [flags][offset/16][size/17][kind]; kind < 0xe0 is a data slot with id k,
// 0xe0-0xef a GSO extra-info slot, 0xf0-0xf7 a wrong id, 0xf8-0xfb status -1, else raw bytes.
// Before answering, dom0 fills every posted rx page with bytes unique to its slot.
// Oracles: nothing throws; every frame delivered to the stack equals the concatenation of the
// data parts of one response chain as dom0 wrote it (first slot, its extra-info slots, then the
// more_data continuation), in ring order, never a mix, a part or someone else's bytes; a
// disconnect always comes with a reported fatal peer error, and a fatal report disconnects.
// Speed: the hypervisor, dom0 and one guest per backend feature shape (feature-sg, feature-gso-tcpv4),
// each with its netfront connected to dom0's hand-made backend, are built once per process on the
// first input. After an input that left netfront connected (and the virtual clock idle), netfront
// re-initialises its rings in place (Netfront.resetRings: fresh positions, tx buffers released,
// rx buffers posted again from slot 0) over the same pages, grants and event channel that dom0
// keeps mapped, with no xenstore traffic; after a fault dom0 gives the rings back and goes through
// InitWait and Connected again (committed as dom0 straight into xenstored's tree: the same tree and
// watch events, without requests), so netfront reconnects over new pages. Ring work runs on the virtual
// clock synchronously; only a reconnect pumps promises. So an input's result never depends on
// earlier inputs (checked by netfront-hostile.test.ts).
import { unwrap } from "../../../stack/result.ts";
import { createRng, createVirtualClock, type VirtualClock } from "../../../stack/time.ts";
import { createToolstack } from "../../../xen-sim/toolstack/index.ts";
import { pumpUntil, settleByPumping } from "../../../stack/settle.ts";
import { createNetfront } from "../../../xen-sim/net/netfront.ts";
import type { Netfront, NetPeerError } from "../../../xen-sim/net/types.ts";
import type { GrantMapping } from "../../../xen-sim/grant-table/types.ts";
import type { GuestDomain, Toolstack } from "../../../xen-sim/toolstack/types.ts";
import { XenbusState } from "../../../xen-sim/xenbus/types.ts";
import { switchState, writeKeys } from "../../../xen-sim/xenbus/xenbus.ts";
import { NETRXF_extra_info, NETRXF_more_data } from "../../../xen-sim/abi/netif.ts";
import { commitAs } from "../kit/target-world.ts";

/**
 * The code under attack, the only code Jazzer.js instruments for this target (runner.ts
 * bundleTarget): the hypervisor, xenstore and toolstack around it run uninstrumented.
 */
export const instrumentOnly = [
  "xen-sim/net/netfront.ts",
  "xen-sim/net/frame-pool.ts",
  "xen-sim/net/gso.ts",
  "xen-sim/ring/",
  "xen-sim/abi/",
  "xen-sim/xenbus/",
];

const RING = 256;
const fill = (slot: number, i: number): number => (slot * 31 + i * 7 + (i >> 8) * 3) & 255;
/** The page dom0 writes for rx slot k, built once per slot (a byte loop per input is instrumented per byte under Jazzer.js). */
const FILLED: Uint8Array[] = [];
const filled = (slot: number): Uint8Array => (FILLED[slot] ??= Uint8Array.from({ length: 4096 }, (_, i) => fill(slot, i)));

function fail(what: string, input: Uint8Array): never {
  throw new Error(`netfront-hostile: ${what}\n  in: ${Buffer.from(input).toString("hex")}`);
}

const settle = <T>(clock: VirtualClock, p: Promise<T>): Promise<T> =>
  settleByPumping(clock, p, { maxIterations: 20_000, what: "netfront-hostile: a setup step" });

/** Fires the clock's timers up to `until` synchronously (at most `cap`); time stops at the last timer, as pumpUntil leaves it. */
function runClock(clock: VirtualClock, until: number, cap: number): void {
  let fired = 0;
  for (let next = clock.nextDeadline(); next !== undefined && next <= until && fired < cap; next = clock.nextDeadline()) {
    fired += clock.run(next, cap - fired);
  }
}

/** One guest whose netfront faces dom0's hand-made backend advertising one feature shape. */
interface Shape {
  readonly g: GuestDomain;
  readonly nf: Netfront;
  readonly be: string;
  readonly fe: string;
  tx: GrantMapping;
  rx: GrantMapping;
  port: number;
  readonly errors: NetPeerError[];
  readonly delivered: Uint8Array[];
  used: boolean;
}

interface World {
  readonly clock: VirtualClock;
  readonly ts: Toolstack;
  readonly shapes: readonly Shape[];
}

let world: Promise<World> | undefined;
/** Whether outcomes are recorded (tests only). */
let recording = false;

/** Drops the world: the next input builds a new one (tests compare against a fresh process); turns outcome recording on. */
export function resetForTest(): void {
  world = undefined;
  recording = true;
}

let outcome = "";
/** What the last input observably did: peer errors, frames delivered, connection, stats, ring pages without grant refs (after resetForTest). */
export function lastOutcomeForTest(): string {
  return outcome;
}

const peekIn = (ts: Toolstack, path: string): string | undefined => {
  const v = ts.daemon.server.peek(path);
  return v && new TextDecoder().decode(v);
};

/** Dom0's half once netfront has written its keys and says Connected: map its rings, bind its port, say Connected. */
async function backendConnect(clock: VirtualClock, ts: Toolstack, s: Omit<Shape, "tx" | "rx" | "port" | "used">): Promise<Pick<Shape, "tx" | "rx" | "port">> {
  const peek = (k: string): string | undefined => peekIn(ts, `${s.fe}/${k}`);
  const tx = unwrap(ts.dom0.grants.map(s.g.id, Number(peek("tx-ring-ref"))));
  const rx = unwrap(ts.dom0.grants.map(s.g.id, Number(peek("rx-ring-ref"))));
  const port = unwrap(ts.dom0.events.bindInterdomain(s.g.id, Number(peek("event-channel"))));
  // dom0's writes (the harness plays the backend) go straight into xenstored's tree as dom0 (commitAs):
  // the same tree and watch events, without their requests; netfront keeps its connection.
  commitAs(ts.daemon.server, 0, [{ path: `${s.be}/state`, value: String(XenbusState.Connected) }]);
  await pumpUntil(clock, () => s.nf.connected, { maxIterations: 20_000 });
  if (!s.nf.connected) throw new Error("netfront-hostile: netfront did not connect");
  return { tx, rx, port };
}

async function buildWorld(): Promise<World> {
  const clock = createVirtualClock();
  const ts = createToolstack({ clock, rng: createRng(1) }, {});
  const shapes: Shape[] = [];
  // Every shape is built, in a fixed order, before the first input.
  for (let k = 0; k < 4; k++) {
    const g = unwrap(await settle(clock, ts.createDomain({ name: `victim-${k}` })));
    const dev = unwrap(await settle(clock, ts.addVif(g.id, { mac: 0x00163e0000aa })));
    const be = dev.backendPath,
      fe = dev.frontendPath;
    unwrap(await settle(clock, writeKeys(ts.xs, be, { "feature-rx-copy": 1, "feature-sg": k & 2 ? 1 : 0, "feature-gso-tcpv4": k & 1 })));
    unwrap(await settle(clock, switchState(ts.xs, be, XenbusState.InitWait)));
    const nf = unwrap(await settle(clock, createNetfront({ domain: g.domain, xs: g.xs, clock })));
    const errors: NetPeerError[] = [],
      delivered: Uint8Array[] = [];
    nf.onPeerError((e) => errors.push(e));
    nf.onReceive((f) => delivered.push(f.data.slice()));
    if (!(await pumpUntil(clock, () => peekIn(ts, `${fe}/state`) === "4", { maxIterations: 20_000 })))
      throw new Error("netfront-hostile: netfront never reached Connected");
    const base = { g, nf, be, fe, errors, delivered };
    shapes.push({ ...base, ...(await backendConnect(clock, ts, base)), used: false });
  }
  return { clock, ts, shapes };
}

/** After a fault: dom0 gives the rings back and restarts the handshake (InitWait); netfront connects again over new pages. */
async function reconnect(w: World, s: Shape): Promise<void> {
  const { clock, ts } = w;
  ts.dom0.grants.unmap(s.tx.handle);
  ts.dom0.grants.unmap(s.rx.handle);
  ts.dom0.events.close(s.port);
  const before = s.nf.stats().connects;
  commitAs(ts.daemon.server, 0, [{ path: `${s.be}/state`, value: String(XenbusState.InitWait) }]);
  if (!(await pumpUntil(clock, () => s.nf.stats().connects > before && s.nf.state === XenbusState.Connected, { maxIterations: 20_000 }))) {
    throw new Error("netfront-hostile: netfront did not reconnect to a restarted backend");
  }
  Object.assign(s, await backendConnect(clock, ts, s));
}

/** A ring page with the grant refs of its request slots blanked (they name pages, differently in every world). */
function ringImage(page: Uint8Array, slotSize: number, refAt: number): string {
  const c = page.slice();
  for (let at = 64; at + slotSize <= 4096; at += slotSize) c.fill(0, at + refAt, at + refAt + 4);
  return Buffer.from(c).toString("hex");
}

export async function fuzz(data: Buffer): Promise<void> {
  outcome = "";
  if (data.length < 1) return;
  const input = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  const mode = input[0]!;
  const w = await (world ??= buildWorld());
  const { clock, ts } = w;
  const s = w.shapes[mode & 3]!;
  // A fresh connection: rings re-initialised in place; after a fault, a new handshake.
  if (s.used) {
    if (!(clock.nextDeadline() === undefined && s.nf.resetRings())) await reconnect(w, s);
  }
  s.used = true;
  const { nf, g, errors, delivered } = s;
  errors.length = 0;
  delivered.length = 0;
  const stats0 = { ...nf.stats() };
  const { tx, rx, port } = s;
  const run = (): void => {
    runClock(clock, clock.now() + 50, 100_000);
  };

  for (let i = 0; i < ((mode >> 4) & 3); i++) nf.send({ data: new Uint8Array(60 + i * 700).fill(i + 1) });
  run();
  const rxIdx = new DataView(rx.page.buffer, rx.page.byteOffset, 4096);
  const txIdx = new DataView(tx.page.buffer, tx.page.byteOffset, 4096);
  const reqProd = rxIdx.getUint32(0, true);
  // Fill the pages posted in the slots we may answer (the request in slot k names its page's gref).
  const records = Math.min((input.length - 1) >> 2, Math.min(reqProd, RING - 1));
  for (let k = 0; k < records; k++) {
    const m = ts.dom0.grants.map(g.id, rxIdx.getUint32(64 + 8 * k + 4, true));
    if (!m.ok) continue;
    m.value.page.set(filled(k));
    ts.dom0.grants.unmap(m.value.handle);
  }
  for (let k = 0; k < records; k++) {
    const [flags, off, size, kind] = [input[1 + 4 * k]!, input[2 + 4 * k]!, input[3 + 4 * k]!, input[4 + 4 * k]!];
    const at = 64 + 8 * k;
    if (kind >= 0xe0 && kind < 0xf0) rx.page.set([1, kind & 1, size, size >> 3, 1, 0, 0, 0], at);
    else if (kind >= 0xfc) rx.page.set([flags, off, size, kind, flags, off, size, kind], at);
    else {
      rxIdx.setUint16(at, kind >= 0xf0 && kind < 0xf8 ? k + 1 : k, true);
      rxIdx.setUint16(at + 2, off * 16, true);
      rxIdx.setUint16(at + 4, flags & 0x1f, true);
      rxIdx.setInt16(at + 6, kind >= 0xf8 ? -1 : size * 17, true);
    }
  }
  // What dom0 wrote, read back as netfront will see it (data view and extra-info view of each slot).
  const slots = Array.from({ length: records }, (_, k) => ({
    flags: rxIdx.getUint16(64 + 8 * k + 4, true),
    offset: rxIdx.getUint16(64 + 8 * k + 2, true),
    size: rxIdx.getInt16(64 + 8 * k + 6, true),
    moreExtra: (rx.page[64 + 8 * k + 1]! & 1) === 1,
  }));
  rxIdx.setUint32(8, records, true);
  if (mode & 0x40) {
    const txProd = txIdx.getUint32(0, true);
    txIdx.setUint16(64, input[input.length - 1]!, true);
    txIdx.setInt16(66, 0, true);
    txIdx.setUint32(8, Math.max(txProd, 1), true);
  }
  ts.dom0.events.send(port);
  run();
  if (nf.connected && mode & 0x0c) {
    rxIdx.setUint32(8, mode & 4 ? records + RING + 1 : records - 1, true);
    ts.dom0.events.send(port);
    run();
  }

  // Model: the frames the responses describe, in ring order (content of each chain's data parts).
  const chains: string[] = [];
  for (let k = 0; k < slots.length; ) {
    const first = slots[k]!;
    const parts = [k];
    let j = k + 1;
    if (first.flags & NETRXF_extra_info) {
      for (let n = 0; j < slots.length; n++) {
        const x = slots[j++]!;
        if (!x.moreExtra || n >= 4) break;
      }
    }
    let more = (first.flags & NETRXF_more_data) !== 0;
    while (more && j < slots.length) {
      parts.push(j);
      more = (slots[j]!.flags & NETRXF_more_data) !== 0;
      j++;
    }
    const bytes: Uint8Array[] = [];
    for (const p of parts) {
      const s = slots[p]!;
      if (s.size > 0 && s.offset < 4096) bytes.push(filled(p).subarray(s.offset, Math.min(4096, s.offset + s.size)));
    }
    chains.push(Buffer.concat(bytes).toString("hex"));
    k = j;
  }
  let c = 0;
  for (const [i, f] of delivered.entries()) {
    const hex = Buffer.from(f).toString("hex");
    while (c < chains.length && chains[c] !== hex) c++;
    if (c === chains.length) fail(`frame ${i} (${f.length} bytes) delivered to the stack is not a whole frame dom0 wrote`, input);
    c++;
  }
  const fatal = errors.some((e) => e.fatal);
  if (recording) {
    const st = nf.stats();
    const delta = (["txFrames", "txSlots", "txDropped", "txErrors", "rxFrames", "rxBytes", "rxDropped", "peerErrors"] as const).map((k) => st[k] - stats0[k]);
    outcome = JSON.stringify({
      errors: errors.map((e) => `${e.reason}${e.fatal ? "!" : ""}${e.detail ?? ""}`),
      connected: nf.connected,
      state: nf.state,
      delivered: delivered.map((f) => Buffer.from(f).toString("hex")),
      stats: delta,
      rings: fatal ? [] : [ringImage(tx.page, 12, 0), ringImage(rx.page, 8, 4)],
    });
  }
  if (!nf.connected && !fatal) fail(`netfront disconnected without a fatal report (${errors.map((e) => e.reason).join(",")})`, input);
  if (fatal && nf.connected) fail("a fatal peer error was reported but netfront stays connected", input);
}

/** Seeds: single-slot frames, a 3-slot chain, a GSO frame with its extra, bad ids, statuses, offsets. */
export function seeds(): Uint8Array[] {
  const d = (flags: number, off: number, size: number, kind = 0): number[] => [flags, off, size, kind];
  return [
    Uint8Array.from([0, ...d(0, 0, 4), ...d(0, 2, 88)]),
    Uint8Array.from([3, ...d(4, 0, 240), ...d(4, 0, 240), ...d(0, 0, 10), ...d(0, 0, 4)]),
    Uint8Array.from([1, ...d(8 | 4 | 2, 0, 200), ...d(0, 0, 180, 0xe0), ...d(0, 0, 60), ...d(1, 0, 4)]),
    Uint8Array.from([0x10, ...d(0, 0, 4), ...d(0, 0, 4, 0xf0), ...d(0, 0, 4)]),
    Uint8Array.from([0x20, ...d(0, 250, 4), ...d(0, 0, 4, 0xf8), ...d(4, 0, 4), ...d(0, 0, 4)]),
    Uint8Array.from([0x44, ...d(0, 0, 4), 7]),
  ];
}
