// Fuzz target: dom0's netback (xen-sim/net/netback.ts) during the xenbus handshake, against a
// frontend that writes hostile values into its xenstore directory. For every key netback reads
// (tx/rx-ring-ref, event-channel and the split event-channel-tx/-rx, request-rx-copy,
// feature-rx-notify, feature-sg, feature-gso-tcpv4, feature-no-csum-offload,
// multi-queue-num-queues, queue-N/..., ctrl-ring-ref, event-channel-ctrl) one input byte picks:
// absent, the right value, or a hostile one (empty, negative, hexadecimal, padded, trailing
// garbage, 2^32, 20 digits, a long string, bytes above 0x7f, another page's ref or another port,
// a value from the input); then the frontend writes a state (Connected mostly, or Initialised,
// or nonsense) and time runs.
// Oracles: nothing throws (a stray rejection is a finding too); the backend's state node always
// holds a valid XenbusState; a backend that connects does so only with ring refs the guest
// granted to dom0 and ports the guest allocated for dom0, as its keys say under any reading of
// the digits (parseInt); a frontend that asked to connect (state Connected) and was not
// connected got a reported peer error (no silent refusal); a refused handshake leaves dom0
// holding no mapping of the guest's pages; and the next input's Initialising always brings the
// backend back to InitWait (a hostile handshake never wedges the device).
// Speed: the hypervisor, dom0, netback (up to two queues) and the guest with its vif are built
// once per process, with the guest's five ring pages granted and five event channels allocated
// once; each input goes through Initialising, re-initialises the ring pages and, in one
// transaction with its state, removes the keys of the previous input it leaves out and writes
// those whose value differs, so its outcome does not depend on earlier inputs (the directory is
// as if written afresh; checked by xenbus-hostile.test.ts). The guest's writes (the harness
// plays the frontend) are committed as the guest straight into xenstored's tree (commitAs):
// the same tree and watch events, without their requests; netback keeps its connection.
import { unwrap } from "../../../stack/result.ts";
import { createRng, createVirtualClock, type VirtualClock } from "../../../stack/time.ts";
import { createToolstack } from "../../../xen-sim/toolstack/index.ts";
import type { DeviceInfo, GuestDomain, Toolstack } from "../../../xen-sim/toolstack/types.ts";
import { pumpUntil } from "../../../stack/settle.ts";
import { createBridge } from "../../../xen-sim/net/bridge.ts";
import { createNetback } from "../../../xen-sim/net/netback.ts";
import type { Netback, NetPeerError } from "../../../xen-sim/net/types.ts";
import { initSharedRing } from "../../../xen-sim/ring/ring.ts";
import { XenbusState } from "../../../xen-sim/xenbus/types.ts";
import { fail } from "../oracles.ts";
import { HOSTILE_VALUE_MODULE, hostileValue, type HostileShapes } from "../kit/hostile-value.ts";
import { commitAs, createTargetWorld, keyChanges, peekNumber, untilQuiet, xenstoreSettler } from "../kit/target-world.ts";

/**
 * The code under attack, the only code Jazzer.js instruments for this target (runner.ts
 * bundleTarget): the hypervisor, xenstore and toolstack around it run uninstrumented.
 */
export const instrumentOnly = ["xen-sim/net/netback.ts", "xen-sim/net/netif-ctrl.ts", "xen-sim/ring/", "xen-sim/abi/", "xen-sim/xenbus/", HOSTILE_VALUE_MODULE];

/** Keys netback reads, with what the right value is (a ref, a port, or a fixed text). */
const KEYS = [
  ["tx-ring-ref", "ref:0"],
  ["rx-ring-ref", "ref:1"],
  ["event-channel", "port:0"],
  ["event-channel-tx", "port:0"],
  ["event-channel-rx", "port:1"],
  ["request-rx-copy", "1"],
  ["feature-rx-notify", "1"],
  ["feature-sg", "1"],
  ["feature-gso-tcpv4", "1"],
  ["feature-no-csum-offload", "0"],
  ["multi-queue-num-queues", "2"],
  ["queue-0/tx-ring-ref", "ref:0"],
  ["queue-0/rx-ring-ref", "ref:1"],
  ["queue-0/event-channel", "port:0"],
  ["queue-1/tx-ring-ref", "ref:2"],
  ["queue-1/rx-ring-ref", "ref:3"],
  ["queue-1/event-channel", "port:2"],
  ["ctrl-ring-ref", "ref:4"],
  ["event-channel-ctrl", "port:4"],
] as const;
/** Keys that name a ring page or an event channel: a connected backend must have read real ones. */
const REF_KEYS = new Set(KEYS.filter(([, v]) => v.startsWith("ref:") || v.startsWith("port:")).map(([k]) => k));

interface World {
  readonly clock: VirtualClock;
  readonly ts: Toolstack;
  readonly nb: Netback;
  readonly guest: GuestDomain;
  readonly dev: DeviceInfo;
  readonly errors: NetPeerError[];
  readonly pages: Uint8Array[];
  readonly refs: number[];
  readonly ports: number[];
  /** hostileValue's shapes of this target: another page's ref, another port, a queue count. */
  readonly shapes: HostileShapes;
  /** Keys (and values) the previous input left in the frontend's directory. */
  written: Map<string, string>;
}

const settled = xenstoreSettler("xenbus-hostile");
const world = createTargetWorld(buildWorld);
/** Drops the world: the next input builds a new one (tests). */
export const resetForTest = (): void => world.reset();
/** The last input's observable outcome (tests). */
export const lastOutcomeForTest = (): string => world.lastOutcome;

async function buildWorld(): Promise<World> {
  const clock = createVirtualClock();
  const ts = createToolstack({ clock, rng: createRng(3) }, {});
  const errors: NetPeerError[] = [];
  const nb = createNetback({ dom0: ts.dom0, xs: ts.xs, clock, bridges: (n) => createBridge({ clock }, { name: n }) }, { maxQueues: 2 });
  nb.onPeerError((e) => errors.push(e));
  const guest = unwrap(await settled(clock, ts.createDomain({ name: "hostile-xenbus" })));
  const dev = unwrap(await settled(clock, ts.addVif(guest.id, { mac: 0x00163e0000ef, bridge: "xenbr0" })));
  const pages: Uint8Array[] = [],
    refs: number[] = [],
    ports: number[] = [];
  for (let i = 0; i < 5; i++) {
    const f = unwrap(guest.domain.memory.allocPage());
    pages.push(unwrap(guest.domain.memory.page(f)));
    refs.push(unwrap(guest.domain.grants.grantAccess(0, f)));
    ports.push(unwrap(guest.domain.events.allocUnbound(0)));
  }
  await pumpUntil(clock, () => backendState({ ts, dev }) === XenbusState.InitWait, { maxIterations: 5000 });
  const shapes: HostileShapes = {
    9: (_good, next) => String(refs[next() % 5]),
    10: (_good, next) => String(ports[next() % 5]),
    15: (good, next, key) => (key.includes("queues") ? String(next() % 5) : `+${good}`),
  };
  return { clock, ts, nb, guest, dev, errors, pages, refs, ports, shapes, written: new Map() };
}

function backendState(w: { ts: Toolstack; dev: DeviceInfo }): number | undefined {
  return peekNumber(w.ts.daemon.server, `${w.dev.backendPath}/state`);
}

/** The value a key gets from one input byte (and maybe more bytes): hostileValue with other refs and ports. */
function valueFor(w: World, key: string, right: string, pick: number, next: () => number): string | undefined {
  const good = right.startsWith("ref:") ? String(w.refs[Number(right.slice(4))]) : right.startsWith("port:") ? String(w.ports[Number(right.slice(5))]) : right;
  return hostileValue(key, good, pick, next, w.shapes);
}

/** The number a lenient reader (scanf %u, parseInt) would take from a value. */
const lenient = (v: string | undefined): number => (v === undefined ? NaN : Number.parseInt(v, 10));

export const mode = "async";

export async function fuzz(data: Buffer): Promise<void> {
  await world.run((w, report) => run(w, data, report));
}

async function run(w: World, data: Buffer, report: (outcome: unknown) => void): Promise<void> {
  const { clock, guest, dev } = w;
  const fe = dev.frontendPath;
  // Liveness and a fresh start: Initialising brings the backend back to InitWait.
  commitAs(w.ts.daemon.server, guest.id, [{ path: `${fe}/state`, value: String(XenbusState.Initialising) }]);
  await untilQuiet(clock, () => backendState(w) === XenbusState.InitWait, { maxIterations: 5000, untilMs: clock.now() + 10_000 });
  if (backendState(w) !== XenbusState.InitWait) fail("liveness", `after Initialising the backend is in state ${backendState(w)}, not InitWait`, data);
  for (const p of w.pages) {
    p.fill(0);
    initSharedRing(p);
  }
  const errorsBefore = w.errors.length;
  const mappedBefore = w.ts.dom0.grants.mappingCount;

  let at = 0;
  const next = (): number => data[at++] ?? 0;
  const values: Record<string, string> = {};
  const absent: string[] = [];
  for (const [key, right] of KEYS) {
    const v = valueFor(w, key, right, next(), next);
    if (v === undefined) absent.push(key);
    else values[key] = v;
  }
  const s = next();
  const stateText =
    s < 0xb0
      ? String(XenbusState.Connected)
      : s < 0xd0
        ? String(XenbusState.Initialised)
        : (["9", "", "4x", "-1", "Connected", "04", "3 ", "0"] as const)[s & 7]!;
  // Linux netback connects on the frontend's Connected; Initialised it leaves alone.
  const asksToConnect = stateText === "4";
  // One transaction, committed as the guest straight into xenstored's tree, removes and writes only
  // what differs from the previous input's keys, then the state: the directory ends up as if every
  // key were written afresh, without a request.
  commitAs(w.ts.daemon.server, guest.id, [...keyChanges(fe, values, w.written), { path: `${fe}/state`, value: stateText }]);
  w.written = new Map(Object.entries(values));
  await pumpUntil(
    clock,
    () => {
      const b = backendState(w);
      return b === XenbusState.Connected || b === XenbusState.Closing || b === XenbusState.Closed;
    },
    { maxIterations: 5000, untilMs: clock.now() + 5000 },
  );

  const state = backendState(w);
  const vif = w.nb.vif(guest.id, dev.devid);
  const connected = vif?.connected === true;
  const errors = w.errors.slice(errorsBefore);
  report({ state, connected, errors: errors.map((e) => e.reason), mapped: w.ts.dom0.grants.mappingCount - mappedBefore });
  if (state === undefined || !Number.isInteger(state) || state < XenbusState.Initialising || state > XenbusState.Closed)
    fail("state", `backend state node holds ${String(state)}`, data);
  if (connected) {
    // Which keys the backend used depends on the queue count; every ref or port key it could have used must name a real one.
    const queues = values["multi-queue-num-queues"] === undefined ? 1 : lenient(values["multi-queue-num-queues"]);
    const used =
      queues === 1
        ? ["tx-ring-ref", "rx-ring-ref", ...(values["event-channel-tx"] !== undefined ? ["event-channel-tx", "event-channel-rx"] : ["event-channel"])]
        : [0, 1].slice(0, queues).flatMap((q) => [`queue-${q}/tx-ring-ref`, `queue-${q}/rx-ring-ref`, `queue-${q}/event-channel`]);
    if (values["ctrl-ring-ref"] !== undefined) used.push("ctrl-ring-ref", "event-channel-ctrl");
    for (const k of used) {
      if (!REF_KEYS.has(k as never)) continue;
      const n = lenient(values[k]);
      const real = k.includes("event-channel") ? w.ports.includes(n) : w.refs.includes(n);
      if (!real)
        fail(
          "handshake",
          `connected with ${k} = ${JSON.stringify(values[k])}, which names no ${k.includes("event") ? "port the guest allocated" : "page the guest granted"}`,
          data,
        );
    }
  } else {
    if (asksToConnect && state !== XenbusState.InitWait && errors.length === 0)
      fail("silent", `the frontend asked to connect, the backend is in state ${state} and reported nothing`, data);
    if (asksToConnect && state === XenbusState.InitWait && errors.length === 0 && values["request-rx-copy"] === "1" && values["feature-rx-notify"] === "1") {
      // Still waiting with the mandatory features present: only acceptable while keys are missing.
      if (absent.every((k) => !["tx-ring-ref", "rx-ring-ref", "event-channel"].includes(k)))
        fail("silent", "the frontend asked to connect with its keys present; the backend neither connected nor reported why", data);
    }
    if (w.ts.dom0.grants.mappingCount !== mappedBefore)
      fail("mappings", `a refused handshake left dom0 with ${w.ts.dom0.grants.mappingCount - mappedBefore} more mapping(s)`, data);
  }
}

/** Seeds: a good one-queue handshake, two queues with a control ring, and a few single bad keys. */
export function seeds(): Uint8Array[] {
  const ok1 = [0x50, 0x50, 0x50, 0, 0, 0x50, 0x50, 0x50, 0x50, 0x50, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10];
  const two = [0, 0, 0, 0, 0, 0x50, 0x50, 0x50, 0x50, 0x50, 0x50, 0x50, 0x50, 0x50, 0x50, 0x50, 0x50, 0x50, 0x50, 0x10];
  const bad = (k: number, variant: number): number[] => ok1.map((b, i) => (i === k ? 0xa0 | variant : b));
  // rx-ring-ref names a ref nobody granted (tx-ring-ref is good): mapped, then refused.
  const badRx = [0x50, 0xab, 0x12, 0x34, 0x50, 0, 0, 0x50, 0x50, 0x50, 0x50, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10];
  return [
    ok1,
    two,
    bad(0, 4),
    bad(0, 9),
    bad(2, 10),
    bad(5, 0),
    bad(10, 15),
    [...two.slice(0, 10), 0xaf, ...two.slice(11)],
    [...ok1.slice(0, 19), 0xd3],
    badRx,
  ].map((a) => Uint8Array.from(a));
}
