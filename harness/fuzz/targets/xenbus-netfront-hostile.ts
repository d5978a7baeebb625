// Fuzz target: a guest's netfront (xen-sim/net/netfront.ts) during the xenbus handshake, against a
// dom0 that writes hostile values into the backend's xenstore directory and the vif's mac. For
// every key netfront could read (feature-rx-copy, feature-sg, feature-gso-tcpv4,
// feature-split-event-channels, multi-queue-max-queues, feature-ctrl-ring, feature-gso-tcpv6,
// feature-ipv6-csum-offload, feature-rx-flip, and the frontend's mac) one input byte picks: absent,
// the right value, or a hostile one (harness/fuzz/kit/hostile-value.ts: empty, negative,
// hexadecimal, padded, trailing garbage, 2^32, 20 digits, a long string, bytes above 0x7f, 2^53 + 1,
// a number near the right one, a number from the input, a NUL, zero, a fraction, a plus sign);
// the keys and InitWait go in one transaction. A new netfront (split event channels wanted) is
// created; once it says Connected dom0 checks its keys, maps its rings and binds its port(s) as
// netback does, then writes the backend states the input names, in any order (Connected mostly;
// InitWait again, Initialised, Closing, Closed, Unknown, nonsense). While connected, the guest
// sends a TCP GSO frame and a 6000-byte plain frame, and dom0 reads what the tx ring holds.
// Oracles: nothing throws. The mac is taken exactly when it is six hex pairs (parseMac's ':' or
// '-'), else createNetfront says bad-mac. feature-rx-copy "1" connects; absent, empty or "0"
// never does, and a refusal is a clear error state: the error node written and Closing (Linux:
// xenbus_dev_fatal). A netfront that says Connected wrote tx-ring-ref and rx-ring-ref naming
// distinct pages granted to dom0 writable, event-channel (or -tx and -rx, exactly when
// feature-split-event-channels is "1"; never when it is absent or "0") naming ports the guest
// allocated for dom0, request-rx-copy and feature-rx-notify 1, and no multi-queue or control-ring
// keys (one queue, whatever multi-queue-max-queues says). It is connected exactly while the
// backend's state reads Connected; Closing or Closed take it to Closed with its rings given back.
// On the tx ring: a GSO extra-info slot only when feature-gso-tcpv4 and feature-sg are "1" (never
// when either is absent or "0": then the frame is segmented in the guest), a more_data chain only
// when feature-sg is "1" (else the 6000-byte frame is dropped and counted). After the close every
// grant, page, port and mapping is given back. Counters: connects grows by the handshakes done.
// Speed: the hypervisor, dom0 and the guest with its vif are built once per process; each input
// writes only the backend keys that differ from the previous input's (removing the ones it
// drops), and after it dom0 lets go of the rings, removes the frontend's keys and resets its
// state to Initialising, as for a fresh device (checked by xenbus-netfront-hostile.test.ts).
import { unwrap } from "../../../stack/result.ts";
import { createRng, createVirtualClock, type VirtualClock } from "../../../stack/time.ts";
import { formatMac, parseMac } from "../../../stack/wire/address.ts";
import { pumpUntil } from "../../../stack/settle.ts";
import { createNetfront } from "../../../xen-sim/net/netfront.ts";
import type { Netfront, NetPeerError } from "../../../xen-sim/net/types.ts";
import {
  NETIF_TX_SLOT_SIZE,
  NETTXF_extra_info,
  NETTXF_more_data,
  NetifExtraInfoView,
  NetifTxRequestView,
  XEN_NETIF_EXTRA_TYPE_GSO,
} from "../../../xen-sim/abi/netif.ts";
import { GTF_permit_access, GTF_readonly, GTF_type_mask } from "../../../xen-sim/abi/grant-table.ts";
import type { GrantMapping } from "../../../xen-sim/grant-table/types.ts";
import { createToolstack } from "../../../xen-sim/toolstack/index.ts";
import type { DeviceInfo, GuestDomain, Toolstack } from "../../../xen-sim/toolstack/types.ts";
import { XenbusState } from "../../../xen-sim/xenbus/types.ts";
import { fail } from "../oracles.ts";
import { HOSTILE_VALUE_MODULE, hostileValue, type HostileShapes } from "../kit/hostile-value.ts";
import { createTargetWorld, peekText, xenstoreSettler } from "../kit/target-world.ts";

/**
 * The code under attack, the only code Jazzer.js instruments for this target (runner.ts
 * bundleTarget): the hypervisor, xenstore and toolstack around it run uninstrumented.
 */
export const instrumentOnly = ["xen-sim/net/netfront.ts", "xen-sim/net/gso.ts", "xen-sim/ring/", "xen-sim/abi/", "xen-sim/xenbus/", HOSTILE_VALUE_MODULE];

const MAC = 0x00163e0000ef;
/** Backend keys netfront could read, with the right value. */
const KEYS: readonly (readonly [string, string])[] = [
  ["feature-rx-copy", "1"],
  ["feature-sg", "1"],
  ["feature-gso-tcpv4", "1"],
  ["feature-split-event-channels", "1"],
  ["multi-queue-max-queues", "4"],
  ["feature-ctrl-ring", "1"],
  ["feature-gso-tcpv6", "1"],
  ["feature-ipv6-csum-offload", "1"],
  ["feature-rx-flip", "0"],
];
/** The frontend keys dom0 removes between inputs (what a fresh device's directory lacks). */
const FRONT_KEYS = [
  "tx-ring-ref",
  "rx-ring-ref",
  "event-channel",
  "event-channel-tx",
  "event-channel-rx",
  "request-rx-copy",
  "feature-rx-notify",
  "feature-sg",
  "feature-gso-tcpv4",
  "multi-queue-num-queues",
  "ctrl-ring-ref",
  "event-channel-ctrl",
  "error",
];
/** Keys a one-queue netfront without a control ring must never write. */
const NEVER_WRITTEN = ["multi-queue-num-queues", "queue-0", "ctrl-ring-ref", "event-channel-ctrl"];
/** What the state byte's low bits name when it is not plainly Connected. */
const OTHER_STATES = ["2", "3", "5", "6", "0", "9", "", "4x"] as const;
/** The tx ring's slots (one page, 12-byte slots): 256. */
const TX_RING_SIZE = 256;
const RING_HEADER = 64;

/** hostileValue's shapes of this target: a MAC with a bad octet, a queue count from the input. */
const SHAPES: HostileShapes = {
  10: (good, next, key) => (key === "mac" ? good.replace(/..$/, (next() & 0x7f).toString(16)) : String(Math.max(0, Number(good) + next() - 128))),
  14: (good, next, key) => (key === "multi-queue-max-queues" ? String(next() % 9) : `${good}.0`),
};

interface World {
  readonly clock: VirtualClock;
  readonly ts: Toolstack;
  readonly guest: GuestDomain;
  readonly dev: DeviceInfo;
  /** Backend keys (and values) and the mac the previous input left. */
  written: Map<string, string>;
  /** The guest's free grant refs and pages, dom0's mappings, with no netfront. */
  readonly freeRefs: number;
  readonly pages: number;
  readonly mapped: number;
}

const world = createTargetWorld(buildWorld);
/** Drops the world: the next input builds a new one (tests). */
export const resetForTest = (): void => world.reset();
/** The last input's observable outcome (tests). */
export const lastOutcomeForTest = (): string => world.lastOutcome;

const settled = xenstoreSettler("xenbus-netfront-hostile");

const nodeText = (ts: Toolstack, path: string): string | undefined => peekText(ts.daemon.server, path);

async function buildWorld(): Promise<World> {
  const clock = createVirtualClock();
  const ts = createToolstack({ clock, rng: createRng(5) }, {});
  const guest = unwrap(await settled(clock, ts.createDomain({ name: "hostile-netback" })));
  // No netback: dom0 is driven by hand here.
  const dev = unwrap(await settled(clock, ts.addVif(guest.id, { mac: MAC, hotplug: false })));
  const mem = guest.domain.memory;
  return {
    clock,
    ts,
    guest,
    dev,
    written: new Map([["mac", formatMac(MAC)]]),
    freeRefs: guest.domain.grants.freeRefs,
    pages: mem.pageCount,
    mapped: ts.dom0.grants.mappingCount,
  };
}

/** The value a key gets from one input byte (and maybe more bytes); undefined: absent. */
function valueFor(key: string, right: string, pick: number, next: () => number): string | undefined {
  return hostileValue(key, right, pick, next, SHAPES);
}

/** A value every reader takes as 0 or as missing (Linux's xenbus_read_unsigned default is 0). */
const off = (v: string | undefined): boolean => v === undefined || v === "" || v === "0";

/** An Ethernet/IPv4/TCP frame of `length` bytes, checksum partial (csum_blank). */
function tcpFrame(length: number): Uint8Array {
  const f = new Uint8Array(length);
  f.fill(0xff, 0, 6);
  f.set([0x00, 0x16, 0x3e, 0x00, 0x00, 0xef, 0x08, 0x00], 6);
  const total = length - 14;
  f.set([0x45, 0, total >> 8, total & 255, 0, 1, 0x40, 0, 64, 6, 0, 0, 192, 0, 2, 1, 192, 0, 2, 2], 14);
  f.set([0x13, 0x88, 0x00, 0x50, 0, 0, 0x03, 0xe8, 0, 0, 0, 1, 0x50, 0x18, 0xff, 0xff], 34);
  return f;
}

/** The tx requests on the ring page from slot `from` up to its req_prod: [flags, size, extra type]. */
function txRequests(page: Uint8Array, from: number): { prod: number; reqs: { flags: number; size: number; extra: number }[] } {
  const prod = (page[0]! | (page[1]! << 8) | (page[2]! << 16) | (page[3]! << 24)) >>> 0;
  const reqs: { flags: number; size: number; extra: number }[] = [];
  let extraNext = false;
  for (let i = from; i !== prod && reqs.length < TX_RING_SIZE; i = (i + 1) >>> 0) {
    const at = RING_HEADER + (i % TX_RING_SIZE) * NETIF_TX_SLOT_SIZE;
    const slot = page.slice(at, at + NETIF_TX_SLOT_SIZE);
    if (extraNext) {
      reqs.push({ flags: -1, size: 0, extra: new NetifExtraInfoView(slot).type });
      extraNext = false;
      continue;
    }
    const r = new NetifTxRequestView(slot);
    reqs.push({ flags: r.flags, size: r.size, extra: 0 });
    extraNext = (r.flags & NETTXF_extra_info) !== 0;
  }
  return { prod, reqs };
}

export const mode = "async";

export async function fuzz(data: Buffer): Promise<void> {
  await world.run((x, report) => run(x, data, report));
}

async function run(x: World, data: Buffer, report: (outcome: unknown) => void): Promise<void> {
  const { clock, ts, guest, dev } = x;
  const be = dev.backendPath,
    fe = dev.frontendPath;

  let at = 0;
  const next = (): number => data[at++] ?? 0;
  const values = new Map<string, string>();
  for (const [key, right] of KEYS) {
    const v = valueFor(key, right, next(), next);
    if (v !== undefined) values.set(key, v);
  }
  const mac = valueFor("mac", formatMac(MAC), next(), next);
  const states = [next(), next()].map((s) => (s < 0xa0 ? String(XenbusState.Connected) : OTHER_STATES[s & 7]!));
  const sends = next();

  const previous = x.written;
  unwrap(
    await settled(
      clock,
      ts.xs.transaction(async (tx) => {
        for (const k of previous.keys()) {
          if (values.has(k) || k === "mac") continue;
          const r = await tx.rm(`${be}/${k}`);
          if (!r.ok) return r;
        }
        for (const [k, v] of values) {
          if (previous.get(k) === v) continue;
          const r = await tx.write(`${be}/${k}`, v);
          if (!r.ok) return r;
        }
        if (mac !== previous.get("mac")) {
          const r = mac === undefined ? await tx.rm(`${fe}/mac`) : await tx.write(`${fe}/mac`, mac);
          if (!r.ok) return r;
        }
        return tx.write(`${be}/state`, String(XenbusState.InitWait));
      }),
    ),
  );
  x.written = new Map(values);
  if (mac !== undefined) x.written.set("mac", mac);

  const v = (k: string): string | undefined => values.get(k);
  const summary: Record<string, unknown> = {};
  const macOk = mac !== undefined && /^[0-9a-f]{2}([:-][0-9a-f]{2}){5}$/i.test(mac);
  const created = await settled(clock, createNetfront({ domain: guest.domain, xs: guest.xs, clock }, { splitEventChannels: true, rxBuffers: 8 }));
  if (!created.ok) {
    summary.created = created.error;
    report(summary);
    if (created.error !== "bad-mac" || macOk) fail("mac", `createNetfront: ${created.error} with mac ${JSON.stringify(mac)}`, data);
    await resetDevice(x);
    return;
  }
  if (!macOk) fail("mac", `netfront took the mac ${JSON.stringify(mac)}`, data);
  const front = created.value;
  if (front.mac !== unwrap(parseMac(mac!))) fail("mac", `netfront's mac ${front.mac.toString(16)} from ${JSON.stringify(mac)}`, data);
  const errors: NetPeerError[] = [];
  front.onPeerError((e) => errors.push(e));
  const frontState = (): string | undefined => nodeText(ts, `${fe}/state`);
  await pumpUntil(clock, () => frontState() === "4" || frontState() === "5" || frontState() === "6", { maxIterations: 5000, untilMs: clock.now() + 10_000 });
  summary.front = frontState();

  const maps: GrantMapping[] = [];
  const dom0Ports: number[] = [];
  try {
    if (frontState() !== String(XenbusState.Connected)) {
      if (v("feature-rx-copy") === "1") fail("refused", `netfront did not connect to feature-rx-copy "1" (state ${JSON.stringify(frontState())})`, data);
      if (frontState() !== String(XenbusState.Closing) || nodeText(ts, `${fe}/error`) === undefined)
        fail(
          "error-state",
          `netfront refused feature-rx-copy ${JSON.stringify(v("feature-rx-copy"))} without the error node and Closing (state ${JSON.stringify(frontState())})`,
          data,
        );
      return;
    }
    if (off(v("feature-rx-copy"))) fail("keys", `netfront connected to feature-rx-copy ${JSON.stringify(v("feature-rx-copy"))}`, data);
    if (front.stats().connects !== 1) fail("counters", `${front.stats().connects} connects counted for one handshake`, data);
    /** netback's reading of the frontend's keys after a handshake: check, map the rings, bind the port(s). */
    const takeKeys = (): void => {
      for (const m of maps.splice(0)) ts.dom0.grants.unmap(m.handle);
      for (const p of dom0Ports.splice(0)) ts.dom0.events.close(p);
      const frames = new Set<number>();
      for (const k of ["tx-ring-ref", "rx-ring-ref"]) {
        const t = nodeText(ts, `${fe}/${k}`);
        const ref = t !== undefined && /^[0-9]{1,9}$/.test(t) ? Number(t) : NaN;
        const e = Number.isNaN(ref) ? undefined : guest.domain.grants.entry(ref);
        if (e === undefined || (e.flags & GTF_type_mask) !== GTF_permit_access || (e.flags & GTF_readonly) !== 0 || e.domid !== 0)
          fail("keys", `${k} = ${JSON.stringify(t)} names no page granted to dom0 writable`, data);
        if (frames.has(e.frame)) fail("keys", `${k} names frame ${e.frame} a second time`, data);
        frames.add(e.frame);
        const m = ts.dom0.grants.map(guest.id, ref);
        if (!m.ok) fail("keys", `dom0 cannot map ${k} = ${ref}: ${m.error}`, data);
        maps.push(m.value);
      }
      const split = nodeText(ts, `${fe}/event-channel-tx`) !== undefined;
      summary.split = split;
      if (split && off(v("feature-split-event-channels")))
        fail("keys", `split event channels with feature-split-event-channels ${JSON.stringify(v("feature-split-event-channels"))}`, data);
      if (!split && v("feature-split-event-channels") === "1") fail("keys", "one event channel though the backend offered split ones", data);
      const portKeys = split ? ["event-channel-tx", "event-channel-rx"] : ["event-channel"];
      if (nodeText(ts, `${fe}/${split ? "event-channel" : "event-channel-rx"}`) !== undefined)
        fail("keys", "both event-channel and event-channel-tx/-rx written", data);
      for (const k of portKeys) {
        const t = nodeText(ts, `${fe}/${k}`);
        const port = t !== undefined && /^[0-9]{1,9}$/.test(t) ? Number(t) : NaN;
        const st = guest.domain.events.status(port);
        if (st.state !== "unbound" || st.remoteDom !== 0)
          fail("keys", `${k} = ${JSON.stringify(t)} is no port the guest allocated for dom0 (${st.state})`, data);
        const bound = ts.dom0.events.bindInterdomain(guest.id, port);
        if (!bound.ok) fail("keys", `dom0 cannot bind ${k} = ${port}: ${bound.error}`, data);
        dom0Ports.push(bound.value);
      }
      for (const k of ["request-rx-copy", "feature-rx-notify"])
        if (nodeText(ts, `${fe}/${k}`) !== "1") fail("keys", `${k} = ${JSON.stringify(nodeText(ts, `${fe}/${k}`))}`, data);
      for (const k of NEVER_WRITTEN)
        if (ts.daemon.server.peek(`${fe}/${k}`) !== undefined)
          fail("keys", `a one-queue netfront wrote ${k} (multi-queue-max-queues ${JSON.stringify(v("multi-queue-max-queues"))})`, data);
    };
    takeKeys();

    const seen: string[] = [];
    let wasConnected = false;
    for (const s of states) {
      const connects = front.stats().connects;
      unwrap(await settled(clock, ts.xs.write(`${be}/state`, s)));
      await pumpUntil(clock, () => false, { maxIterations: 200, untilMs: clock.now() + 100 });
      if (front.stats().connects !== connects) {
        // A handshake again: only in answer to InitWait (a restarted backend), and with keys as good as the first.
        if (s !== "2" || front.stats().connects !== connects + 1)
          fail("counters", `connects went from ${connects} to ${front.stats().connects} after the backend wrote ${JSON.stringify(s)}`, data);
        if (frontState() === "4") takeKeys();
      }
      const connected = front.connected;
      seen.push(`${s}:${connected ? "c" : frontState()}`);
      if (s === "4" && !connected && frontState() === "4") fail("connect", "the backend says Connected, netfront says Connected and is not connected", data);
      // Linux netback_changed ignores Initialising, Initialised, Reconfiguring and Unknown: a
      // connection may survive them, but none starts on them; InitWait restarts, Closing closes.
      if (s !== "4" && connected && (!wasConnected || s === "2" || s === "5" || s === "6"))
        fail("connect", `connected after the backend wrote state ${JSON.stringify(s)}`, data);
      if ((s === "5" || s === "6") && frontState() !== "6")
        fail("close", `the backend wrote ${s}, netfront's state is ${JSON.stringify(frontState())}, not Closed`, data);
      wasConnected = connected;
      if (!connected || (sends & 3) === 0) continue;
      // The guest sends; dom0 reads the tx ring as netback would.
      const txPage = maps[0]!.page;
      const start = (txPage[0]! | (txPage[1]! << 8) | (txPage[2]! << 16) | (txPage[3]! << 24)) >>> 0;
      const stats0 = { ...front.stats() };
      if (sends & 1) front.send({ data: tcpFrame(4000), offload: { gsoSize: 1448, csumBlank: true } });
      if (sends & 2) front.send({ data: tcpFrame(6000) });
      const { reqs } = txRequests(txPage, start);
      const gsoUsed = reqs.some((r) => r.extra === XEN_NETIF_EXTRA_TYPE_GSO);
      const chained = reqs.some((r) => r.flags >= 0 && (r.flags & NETTXF_more_data) !== 0);
      const sg = v("feature-sg"),
        gso = v("feature-gso-tcpv4");
      if (gsoUsed && (off(sg) || off(gso)))
        fail("features", `a GSO slot on the ring with feature-sg ${JSON.stringify(sg)}, feature-gso-tcpv4 ${JSON.stringify(gso)}`, data);
      if (sends & 1 && !gsoUsed && sg === "1" && gso === "1") fail("features", "no GSO slot though the backend offered feature-gso-tcpv4 and feature-sg", data);
      if (chained && off(sg)) fail("features", `a more_data chain on the ring with feature-sg ${JSON.stringify(sg)}`, data);
      if (sends & 2 && sg === "1" && !chained) fail("features", "the 6000-byte frame was not chained though the backend offered feature-sg", data);
      const st = front.stats();
      const dropped = st.txDropped - stats0.txDropped;
      const wantDropped = sends & 2 && !chained ? 1 : 0;
      if (dropped !== wantDropped) fail("counters", `${dropped} tx drop(s) counted, ${wantDropped} frame(s) not on the ring`, data);
      summary.tx = reqs.length;
    }
    summary.states = seen;
  } finally {
    // Teardown, as for a fresh device: netfront closes (dom0 answers Closed), dom0 lets go of the
    // rings, the frontend's keys go and its state is Initialising again.
    const closed = front.close();
    await pumpUntil(clock, () => frontState() === "5" || frontState() === "6", { maxIterations: 2000, untilMs: clock.now() + 5000 });
    for (const m of maps) ts.dom0.grants.unmap(m.handle);
    for (const p of dom0Ports) ts.dom0.events.close(p);
    unwrap(await settled(clock, ts.xs.write(`${be}/state`, String(XenbusState.Closed))));
    await settled(clock, closed);
    await pumpUntil(clock, () => clock.nextDeadline() === undefined, { maxIterations: 2000, untilMs: clock.now() + 60_000 });
    summary.errors = errors.map((e) => e.reason);
    report(summary);
    checkGivenBack(x, front, data);
    await resetDevice(x);
  }
}

/** After the close: every grant, page and mapping is back where it was without a netfront. */
function checkGivenBack(x: World, front: Netfront, data: Buffer): void {
  const g = x.guest.domain;
  if (g.grants.freeRefs !== x.freeRefs)
    fail("leak", `after netfront closed the guest has ${x.freeRefs - g.grants.freeRefs} grant ref(s) fewer (${front.stats().deferredGrants} deferred)`, data);
  if (g.memory.pageCount !== x.pages) fail("leak", `after netfront closed the guest holds ${g.memory.pageCount - x.pages} more page(s)`, data);
  if (x.ts.dom0.grants.mappingCount !== x.mapped) fail("leak", `dom0 still maps ${x.ts.dom0.grants.mappingCount - x.mapped} page(s)`, data);
}

/** The frontend's keys go and its state is Initialising again; the backend is Initialising too. */
async function resetDevice(x: World): Promise<void> {
  const { clock, ts, dev } = x;
  const fe = dev.frontendPath;
  unwrap(
    await settled(
      clock,
      ts.xs.transaction(async (tx) => {
        for (const k of FRONT_KEYS) {
          const p = `${fe}/${k}`;
          if (ts.daemon.server.peek(p) === undefined) continue;
          const r = await tx.rm(p);
          if (!r.ok) return r;
        }
        const w = await tx.write(`${dev.backendPath}/state`, String(XenbusState.Initialising));
        if (!w.ok) return w;
        return tx.write(`${fe}/state`, String(XenbusState.Initialising));
      }),
    ),
  );
  await pumpUntil(clock, () => clock.nextDeadline() === undefined, { maxIterations: 2000, untilMs: clock.now() + 60_000 });
}

/** Seeds: a plainly right backend (sends of each kind), single bad keys, states out of order. */
export function seeds(): Uint8Array[] {
  const backend = (hostile: Record<string, number[]> = {}, states = [0x10, 0x10], sends = 3): Uint8Array => {
    const b = [...KEYS.map(([k]) => k), "mac"].flatMap((k) => hostile[k] ?? [0x50]);
    return Uint8Array.from([...b, ...states, sends]);
  };
  return [
    backend(),
    backend({}, [0x10, 0x10], 1),
    backend({ "feature-split-event-channels": [0x00] }),
    backend({ "feature-sg": [0x00] }),
    backend({ "feature-gso-tcpv4": [0xad] }),
    backend({ "feature-rx-copy": [0x00] }),
    backend({ "feature-rx-copy": [0xa4] }),
    backend({ "multi-queue-max-queues": [0xae, 200] }),
    backend({ mac: [0xa0] }),
    backend({ mac: [0xa2] }),
    backend({ mac: [0xaa, 0x13] }),
    backend({}, [0xa0, 0x10]),
    backend({}, [0x10, 0xa2]),
    backend({}, [0xa4, 0xa7]),
  ];
}
