// Fuzz target: a dual-stack netlab host (2001:db8::2/64, SLAAC on, small NDP bounds) receiving
// arbitrary ICMPv6 from the link: Router Advertisements with many options, prefixes and routers,
// NS/NA, redirects, MLD, echo requests that make it resolve neighbours. Each record:
//   [ctl u8][src u8][n u16 BE][wait u8][n bytes: the ICMPv6 message]
// ctl bits 0-1 the destination (ff02::1, our link-local, our solicited-node group, 2001:db8::2),
// bit 2 hop limit 64 instead of 255, bit 3 keep the message's checksum (else repaired), bit 4
// Ethernet padding after the IPv6 payload. src bits 0-2 pick one of eight neighbours (MAC and
// interface identifier), bits 3-4 its address: link-local (twice as likely), 2001:db8::/64, ::.
// Then `wait` * 100 ms of virtual time pass.
// Oracles: nothing throws and every frame the host sends is well formed (v6, checksums, ND hop
// limit 255); the router, prefix, neighbour, address lists and each neighbour's queue stay within
// their configured bounds; the counters account for every frame (the IPv6 layer delivers or
// drops it, each ND/MLD message ends in exactly one received-kind counter or one parse/validity
// drop); a parsed ND message re-emits to the same bytes apart from reserved fields and padding
// and parses back to the same repr; its options parse the same whatever follows the message.
import { createStack, type Stack } from "../../../stack/index.ts";
import type { Frame, NetDevice } from "../../../stack/link/types.ts";
import { NO_OFFLOADS } from "../../../stack/link/types.ts";
import { createRng, createVirtualClock } from "../../../stack/time.ts";
import { emitEthernet, ETHERTYPE_IPV6, parseEthernet } from "../../../stack/wire/ethernet.ts";
import { fillIcmpv6Checksum, ICMPV6_CHECKSUM, verifyIcmpv6Checksum } from "../../../stack/wire/icmpv6.ts";
import { ipv6, ipv6MulticastMac, isIpv6Multicast, linkLocalFromMac, solicitedNodeAddress, type Ipv6Address } from "../../../stack/wire/ipv6-address.ts";
import { emitIpv6, IPV6_HEADER_LEN, IPV6_NEXT_HEADER_ICMPV6, parseIpv6 } from "../../../stack/wire/ipv6.ts";
import { walkIpv6Chain } from "../../../stack/wire/ipv6-ext.ts";
import { isMldType } from "../../../stack/wire/mld.ts";
import {
  emitNdp,
  isNdpType,
  NDP_NA_LEN,
  NDP_OPTION_MTU,
  NDP_OPTION_PREFIX_INFORMATION,
  NDP_OPTION_RDNSS,
  NDP_OPTION_REDIRECTED_HEADER,
  NDP_RA_LEN,
  NDP_REDIRECT_LEN,
  NDP_RS_LEN,
  NDP_NS_LEN,
  ndpMacOption,
  ndpReprLength,
  parseNdp,
  parseNdpOptions,
  type NdpOption,
  type NdpRepr,
} from "../../../stack/wire/ndp.ts";
import { checkTailIndependent, fail, guarded, sameValue, show } from "../oracles.ts";

const MAC = 0x020000000002;
const NEIGHBOUR_MAC = 0x020000000100;
const STATIC = ipv6("2001:db8::2");
const LINK_LOCAL = linkLocalFromMac(MAC);
const ALL_NODES = ipv6("ff02::1");
const DESTINATIONS = [ALL_NODES, LINK_LOCAL, solicitedNodeAddress(STATIC), STATIC];
const RECORD = 5;
const MAX_RECORDS = 48;
/** The host's bounds (small, so that inputs reach them). */
const BOUNDS = { maxRouters: 3, maxPrefixes: 4, maxNeighbors: 6, maxPending: 3, queuePerNeighbor: 2, maxAddresses: 5 } as const;
/** Events the host may run per record before it counts as a hang. */
const MAX_EVENTS = 20_000;

/** ND/MLD outcomes that end a message: the received-kind counters and the drops before them. */
const KIND_COUNTERS = ["nsReceived", "naReceived", "rsReceived", "raReceived", "mldQueriesReceived", "mldListenerMessages"] as const;
const EARLY_DROPS = [
  "truncated",
  "bad-checksum",
  "bad-code",
  "unsupported-type",
  "zero-length-option",
  "truncated-option",
  "bad-option-length",
  "off-link-hop-limit",
  "source-not-link-local",
  "multicast-target",
  "unspecified-source",
  "solicited-to-multicast",
  "bad-redirect-target",
  "redirect-ignored",
  "mld-truncated",
  "mld-bad-checksum",
  "mld-unsupported-type",
] as const;

function neighbourAddress(src: number): Ipv6Address {
  const which = src & 7;
  switch ((src >> 3) & 3) {
    case 2:
      return ipv6(`2001:db8::${10 + which}`);
    case 3:
      return ipv6("::");
    default:
      return linkLocalFromMac(NEIGHBOUR_MAC + which);
  }
}

interface Host {
  readonly stack: Stack;
  readonly clock: ReturnType<typeof createVirtualClock>;
  inject(frame: Uint8Array): void;
  /** Frames sent so far. */
  sent(): number;
}

function createHost(input: Uint8Array): Host {
  const clock = createVirtualClock();
  let receive: (f: Frame) => void = () => {};
  let sent = 0;
  const device: NetDevice = {
    mac: MAC,
    mtu: 1500,
    offloads: NO_OFFLOADS,
    send: (f) => {
      sent++;
      checkEmitted(f.data, input);
    },
    onReceive: (h) => {
      receive = h;
    },
  };
  const stack = createStack(
    { device, clock, rng: createRng(7) },
    { ipv6: { addresses: ["2001:db8::2/64"], slaac: true, ...BOUNDS, maxRtrSolicitationDelayMs: 0 } },
  );
  return { stack, clock, inject: (frame) => receive({ data: frame }), sent: () => sent };
}

/** A frame the host sent: Ethernet with IPv6, a valid chain, verified ICMPv6 checksums, ND at hop limit 255. */
function checkEmitted(frame: Uint8Array, input: Uint8Array): void {
  const bad = (what: string): never => fail("emitted", `${what}: ${Buffer.from(frame).toString("hex")}`, input);
  const eth = parseEthernet(frame);
  if (!eth.ok || eth.value.ethertype !== ETHERTYPE_IPV6) return bad("not an IPv6 frame");
  const packet = frame.subarray(14);
  const ip = parseIpv6(packet);
  if (!ip.ok) return bad(`ipv6 ${ip.error}`);
  if (packet.length !== IPV6_HEADER_LEN + ip.value.payloadLength || packet.length > 1500) return bad("payload length");
  const chain = walkIpv6Chain(packet);
  if (!chain.ok) return bad(`chain ${chain.error}`);
  if (chain.value.upperLayer !== IPV6_NEXT_HEADER_ICMPV6) return;
  const body = packet.subarray(chain.value.offset);
  if (!verifyIcmpv6Checksum(body, ip.value.src, ip.value.dst)) return bad("ICMPv6 checksum");
  if (isNdpType(body[0]!)) {
    if (ip.value.hopLimit !== 255) return bad("ND message below hop limit 255");
    const nd = parseNdp(body, ip.value.src, ip.value.dst);
    if (!nd.ok) return bad(`ndp ${nd.error}`);
  }
}

/** Offsets of reserved bytes and bits in an ND message (mask per byte) that emit writes as zero. */
function reservedMask(repr: NdpRepr, bytes: Uint8Array): Uint8Array {
  const mask = new Uint8Array(bytes.length).fill(0xff);
  mask[ICMPV6_CHECKSUM] = 0;
  mask[ICMPV6_CHECKSUM + 1] = 0;
  let fixed = 0;
  switch (repr.kind) {
    case "router-solicitation":
      fixed = NDP_RS_LEN;
      mask.fill(0, 4, 8);
      break;
    case "router-advertisement":
      fixed = NDP_RA_LEN;
      break;
    case "neighbor-solicitation":
      fixed = NDP_NS_LEN;
      mask.fill(0, 4, 8);
      break;
    case "neighbor-advertisement":
      fixed = NDP_NA_LEN;
      mask[4] = 0xe0;
      mask.fill(0, 5, 8);
      break;
    case "redirect":
      fixed = NDP_REDIRECT_LEN;
      mask.fill(0, 4, 8);
      break;
  }
  for (let i = fixed; i + 2 <= bytes.length && bytes[i + 1]! > 0; i += bytes[i + 1]! * 8) {
    const end = Math.min(bytes.length, i + bytes[i + 1]! * 8);
    switch (bytes[i]) {
      case NDP_OPTION_PREFIX_INFORMATION:
        mask.fill(0, i + 12, Math.min(end, i + 16));
        break;
      case NDP_OPTION_MTU:
      case NDP_OPTION_RDNSS:
        mask.fill(0, i + 2, Math.min(end, i + 4));
        break;
      case NDP_OPTION_REDIRECTED_HEADER:
        mask.fill(0, i + 2, Math.min(end, i + 8));
        break;
    }
  }
  return mask;
}

/** Re-emit and round trip of a parsed ND message, and its options' independence of what follows it. */
function checkNdMessage(body: Uint8Array, src: Ipv6Address, dst: Ipv6Address, input: Uint8Array): void {
  const parsed = parseNdp(guarded(body, "ndp"), src, dst, { verifyChecksum: false });
  if (!parsed.ok) return;
  const repr = parsed.value;
  const length = ndpReprLength(repr);
  if (length !== body.length) fail("re-emit", `ndp ${repr.kind}: ${body.length} bytes parsed, ${length} re-emitted\n  repr: ${show(repr)}`, input);
  const out = new Uint8Array(length);
  emitNdp(repr, out, 0, src, dst);
  const mask = reservedMask(repr, body);
  for (let i = 0; i < length; i++) {
    if (((out[i]! ^ body[i]!) & mask[i]!) !== 0) fail("re-emit", `ndp ${repr.kind}: byte ${i} re-emitted as ${out[i]}, was ${body[i]}`, input);
  }
  const again = parseNdp(out, src, dst);
  if (!again.ok || !sameValue(again.value, repr))
    fail("round-trip", `ndp ${repr.kind}: ${again.ok ? show(again.value) : again.error}\n  was: ${show(repr)}`, input);
  // The options parse the same whatever bytes follow the message in its buffer.
  const fixed = length - repr.options.reduce((n, o) => n + optionBytes(o), 0);
  const framed = new Uint8Array(body.length + 24);
  framed.set(body);
  framed.fill(0x01, body.length);
  const opts = parseNdpOptions(framed, fixed, body.length);
  if (!opts.ok || !sameValue(opts.value, repr.options)) fail("options", `parseNdpOptions over [${fixed}, ${body.length}) differs from parseNdp`, input);
  checkTailIndependent(
    "ndp options",
    framed,
    body.length,
    opts,
    (b) => parseNdpOptions(b, fixed, body.length),
    (r) => (r.ok ? r.value : r.error),
  );
}

function optionBytes(o: NdpOption): number {
  return ndpReprLength({ kind: "router-solicitation", options: [o] }) - NDP_RS_LEN;
}

type Snapshot = Record<string, { readonly [k: string]: number | Readonly<Record<string, number>> }>;

function snapshot(stack: Stack): Snapshot {
  return { ipv6: stack.ipv6!.counters(), ndp: stack.ipv6!.ndp.counters(), icmpv6: stack.icmpv6!.counters() };
}

function count(s: Snapshot, layer: string, name: string): number {
  const v = s[layer]![name];
  return typeof v === "number" ? v : 0;
}

function drops(s: Snapshot, layer: string): Readonly<Record<string, number>> {
  const v = s[layer]!["drops"];
  return typeof v === "object" ? v : {};
}

function dropTotal(s: Snapshot, layer: string, only?: readonly string[]): number {
  const d = drops(s, layer);
  return (only ?? Object.keys(d)).reduce((n, k) => n + (d[k] ?? 0), 0);
}

/** The counters account for one frame: delivered or dropped by IPv6, and an ND/MLD message ends once. */
function checkAccounting(before: Snapshot, after: Snapshot, type: number | undefined, input: Uint8Array): void {
  const delta = (layer: string, name: string): number => count(after, layer, name) - count(before, layer, name);
  if (delta("ipv6", "rxPackets") !== 1) fail("counters", `the IPv6 layer counted ${delta("ipv6", "rxPackets")} packets for one frame`, input);
  const ipDrops = dropTotal(after, "ipv6") - dropTotal(before, "ipv6");
  const delivered = delta("ipv6", "delivered");
  if (delivered + ipDrops !== 1) fail("counters", `IPv6: ${delivered} delivered and ${ipDrops} dropped for one packet`, input);
  if (delivered === 0 || type === undefined) return;
  if (isNdpType(type) || isMldType(type)) {
    const rx = delta("ndp", "rx");
    const ends = KIND_COUNTERS.reduce((n, k) => n + delta("ndp", k), 0) + dropTotal(after, "ndp", EARLY_DROPS) - dropTotal(before, "ndp", EARLY_DROPS);
    if (rx !== 1 || ends !== 1)
      fail("counters", `ND/MLD type ${type}: rx +${rx}, outcomes +${ends}\n  before: ${show(before["ndp"])}\n  after: ${show(after["ndp"])}`, input);
  } else if (delta("icmpv6", "rx") !== 1) fail("counters", `ICMPv6 type ${type}: rx +${delta("icmpv6", "rx")}`, input);
}

/** The host's lists stay within their bounds. */
function checkBounds(stack: Stack, input: Uint8Array): void {
  const ndp = stack.ipv6!.ndp;
  const routers = ndp.routers().length;
  const prefixes = ndp.prefixes().length;
  const neighbours = ndp.neighbors();
  const addresses = ndp.addresses().length;
  if (routers > BOUNDS.maxRouters) fail("bounds", `${routers} routers (at most ${BOUNDS.maxRouters})`, input);
  if (prefixes > BOUNDS.maxPrefixes) fail("bounds", `${prefixes} prefixes (at most ${BOUNDS.maxPrefixes})`, input);
  if (neighbours.length > BOUNDS.maxNeighbors) fail("bounds", `${neighbours.length} neighbours (at most ${BOUNDS.maxNeighbors})`, input);
  if (neighbours.filter((n) => n.state === "incomplete").length > BOUNDS.maxPending) fail("bounds", "too many neighbours in INCOMPLETE", input);
  for (const n of neighbours) if (n.queued > BOUNDS.queuePerNeighbor) fail("bounds", `${n.queued} packets queued for one neighbour`, input);
  if (addresses > BOUNDS.maxAddresses) fail("bounds", `${addresses} interface addresses (at most ${BOUNDS.maxAddresses})`, input);
  if (ndp.linkMtu < 1280 || ndp.linkMtu > 1500) fail("bounds", `link MTU ${ndp.linkMtu}`, input);
  if (ndp.hopLimit < 1 || ndp.hopLimit > 255) fail("bounds", `hop limit ${ndp.hopLimit}`, input);
}

/** The last input's outcome (frames sent and every counter), for the determinism test. */
let lastOutcome = "";

/** The last input's observable outcome, as text. */
export function lastOutcomeForTest(): string {
  return lastOutcome;
}

export function fuzz(data: Buffer): void {
  const input = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  const host = createHost(input);
  lastOutcome = "";
  const run = (ms: number): void => {
    const fired = host.clock.run(host.clock.now() + ms, MAX_EVENTS);
    if (fired >= MAX_EVENTS) fail("hang", `${fired} timer events within ${ms} ms`, input);
  };
  // DAD of the link-local and static addresses (1 s each, RetransTimer).
  run(2_000);
  let at = 0;
  for (let r = 0; r < MAX_RECORDS && at + RECORD <= input.length; r++) {
    const ctl = input[at]!;
    const srcPick = input[at + 1]!;
    const n = Math.min((input[at + 2]! << 8) | input[at + 3]!, input.length - at - RECORD, 1400);
    const wait = input[at + 4]!;
    const message = input.subarray(at + RECORD, at + RECORD + n);
    at += RECORD + n;
    const src = neighbourAddress(srcPick);
    const dst = DESTINATIONS[ctl & 3]!;
    const padding = (ctl & 16) !== 0 ? 18 : 0;
    const frame = new Uint8Array(14 + IPV6_HEADER_LEN + n + padding);
    emitEthernet({ dst: isIpv6Multicast(dst) ? ipv6MulticastMac(dst) : MAC, src: NEIGHBOUR_MAC + (srcPick & 7), ethertype: ETHERTYPE_IPV6 }, frame, 0);
    emitIpv6(
      { src, dst, nextHeader: IPV6_NEXT_HEADER_ICMPV6, hopLimit: (ctl & 4) !== 0 ? 64 : 255, trafficClass: 0, flowLabel: 0, payloadLength: n },
      frame,
      14,
    );
    frame.set(message, 14 + IPV6_HEADER_LEN);
    frame.fill(0xa5, 14 + IPV6_HEADER_LEN + n);
    const body = frame.subarray(14 + IPV6_HEADER_LEN, 14 + IPV6_HEADER_LEN + n);
    if ((ctl & 8) === 0 && n >= 4) fillIcmpv6Checksum(body, src, dst);
    if (n >= 1 && isNdpType(body[0]!)) checkNdMessage(body, src, dst, input);
    const before = snapshot(host.stack);
    host.inject(frame);
    checkAccounting(before, snapshot(host.stack), n >= 1 ? body[0] : undefined, input);
    checkBounds(host.stack, input);
    run(wait * 100);
  }
  run(120_000);
  checkBounds(host.stack, input);
  lastOutcome = JSON.stringify({ sent: host.sent(), counters: snapshot(host.stack), neighbours: host.stack.ipv6!.ndp.neighbors().length });
}

/** Seeds: an RA with prefixes, MTU, RDNSS and a link-layer address from several routers; NS/NA; a redirect; MLD; echo. */
export function seeds(): Uint8Array[] {
  const record = (ctl: number, src: number, wait: number, message: Uint8Array): number[] => [
    ctl,
    src,
    message.length >> 8,
    message.length & 0xff,
    wait,
    ...message,
  ];
  const nd = (repr: NdpRepr): Uint8Array => {
    const b = new Uint8Array(ndpReprLength(repr));
    emitNdp(repr, b, 0, ipv6("::"), ipv6("::"));
    return b;
  };
  const prefix = (p: string, flags = 0xc0): NdpOption => ({
    kind: "prefix-information",
    prefixLength: 64,
    flags,
    validLifetime: 3600,
    preferredLifetime: 1800,
    prefix: ipv6(p),
  });
  const ra = (k: number, prefixes: NdpOption[]): Uint8Array =>
    nd({
      kind: "router-advertisement",
      curHopLimit: 64,
      flags: 0,
      routerLifetime: 1800,
      reachableTime: 0,
      retransTimer: 0,
      options: [
        ndpMacOption("source-link-layer-address", NEIGHBOUR_MAC + k),
        { kind: "mtu", mtu: 1400 },
        ...prefixes,
        { kind: "rdnss", lifetime: 600, servers: [ipv6("2001:db8::53"), ipv6("2001:db8::1:0:0:0")] },
      ],
    });
  const manyRouters = [0, 1, 2, 3, 4].flatMap((k) => record(0, k, 1, ra(k, [prefix(`2001:db8:${k}::`)])));
  const manyPrefixes = record(
    0,
    0,
    1,
    ra(
      0,
      [1, 2, 3, 4, 5, 6].map((k) => prefix(`2001:db8:${k}::`)),
    ),
  );
  const ns = nd({ kind: "neighbor-solicitation", target: STATIC, options: [ndpMacOption("source-link-layer-address", NEIGHBOUR_MAC + 1)] });
  const na = nd({
    kind: "neighbor-advertisement",
    router: true,
    solicited: true,
    override: true,
    target: ipv6("2001:db8::11"),
    options: [ndpMacOption("target-link-layer-address", NEIGHBOUR_MAC + 1)],
  });
  const echo = Uint8Array.from([128, 0, 0, 0, 0, 1, 0, 1, 1, 2, 3, 4]);
  // Echo from 2001:db8::11 makes the host resolve it (NS); the NA answers; a second echo goes out at once.
  const resolve = [...record(3, 17, 0, echo), ...record(3, 17, 0, ns), ...record(3, 17, 1, na), ...record(3, 17, 0, echo)];
  const redirect = nd({
    kind: "redirect",
    target: linkLocalFromMac(NEIGHBOUR_MAC + 2),
    destination: ipv6("2001:db8:99::1"),
    options: [{ kind: "redirected-header", data: new Uint8Array(48) }],
  });
  const mldQuery = Uint8Array.from([130, 0, 0, 0, 0x03, 0xe8, 0, 0, ...new Uint8Array(16), 0, 0, 0, 0]);
  const mldReport = Uint8Array.from([143, 0, 0, 0, 0, 0, 0, 1, 4, 0, 0, 0, ...ipv6("ff02::1:ff00:2")]);
  const dad = nd({ kind: "neighbor-solicitation", target: STATIC, options: [] });
  return [
    Uint8Array.from(manyRouters),
    Uint8Array.from(manyPrefixes),
    Uint8Array.from(resolve),
    Uint8Array.from([...record(0, 0, 1, redirect), ...record(0, 1, 5, mldQuery), ...record(0, 2, 0, mldReport)]),
    Uint8Array.from([...record(2, 24, 0, dad), ...record(4, 0, 0, ra(0, [prefix("2001:db8:7::")])), ...record(8, 0, 0, ns)]),
  ];
}
