// Neighbor Discovery (RFC 4861) and stateless address autoconfiguration (RFC 4862) for one
// Ethernet interface: the interface's addresses (link-local from the MAC's modified EUI-64,
// static ones, SLAAC ones from Router Advertisements) with DAD; the neighbour cache with NUD
// (INCOMPLETE, REACHABLE, STALE, DELAY, PROBE) and a bounded queue per pending neighbour;
// NS/NA handling (hop limit 255 required); the default router list and the prefix list from
// RAs (both bounded), the RA's MTU, hop limit, reachable time, retransmission timer and M/O flags
// (exposed for DHCPv6, with addresses of origin "dhcpv6" whose lifetimes a renewal moves); router
// solicitation; MLDv2 reports for the groups it listens to (RFC 3810); and, when asked to,
// advertising itself as a router (periodic RAs, answers to RS) so a simulated link can
// autoconfigure without a kernel. ND messages are built here (IPv6 header included) and go
// straight to the Ethernet layer. Redirects are counted and ignored.
// createNdp(deps, options) -> NdpLayer.
import { type Result, ok, err } from "../result.ts";
import type { FrameOffload } from "../link/types.ts";
import type { Clock, Rng, TimerId } from "../time.ts";
import type { MacAddress } from "../wire/address.ts";
import { ETHERTYPE_IPV6 } from "../wire/ethernet.ts";
import {
  type Ipv6Address,
  ipv6,
  ipv6Equal,
  ipv6Key,
  ipv6MulticastMac,
  ipv6Unspecified,
  isIpv6LinkLocal,
  isIpv6Multicast,
  isIpv6Unspecified,
  linkLocalFromMac,
  solicitedNodeAddress,
  ipv6EqualAt,
} from "../wire/ipv6-address.ts";
import { IPV6_HEADER_LEN, IPV6_MIN_MTU, IPV6_NEXT_HEADER_HOP_BY_HOP, IPV6_NEXT_HEADER_ICMPV6, emitIpv6 } from "../wire/ipv6.ts";
import { IPV6_OPTION_ROUTER_ALERT, emitIpv6OptionsHeader } from "../wire/ipv6-ext.ts";
import {
  NDP_RA_FLAG_MANAGED,
  NDP_RA_FLAG_OTHER,
  type NdpOption,
  type NdpRepr,
  NDP_INFINITE_LIFETIME,
  NDP_PREFIX_FLAG_AUTONOMOUS,
  NDP_PREFIX_FLAG_ON_LINK,
  checkNdpValidity,
  emitNdp,
  ndpMacOption,
  ndpOptionMac,
  ndpReprLength,
  parseNdp,
} from "../wire/ndp.ts";
import { MLD_CHANGE_TO_EXCLUDE, MLD_MODE_IS_EXCLUDE, type MldRecord, emitMld, mldMaxResponseDelay, mldReprLength, parseMld } from "../wire/mld.ts";
import { createCounters } from "./counters.ts";
import type { EthernetLayer } from "./types.ts";
import type {
  AddAddressOptions,
  DadResult,
  Ipv6AddressOrigin,
  RaConfigFlags,
  Ipv6AddressState,
  Ipv6Delivery,
  NdpLayer,
  NeighborEntry,
  NeighborState,
  PrefixEntry,
  RouterEntry,
} from "./ipv6-types.ts";

/** A prefix this stack advertises when it acts as a router. */
export interface AdvertisedPrefix {
  readonly prefix: Ipv6Address;
  readonly prefixLength: number;
  /** Seconds (default 2592000 and 604800, RFC 4861 §6.2.1). */
  readonly validLifetime?: number;
  readonly preferredLifetime?: number;
  /** Flags (default both on-link and autonomous). */
  readonly onLink?: boolean;
  readonly autonomous?: boolean;
}

/** Router Advertisement sending (RFC 4861 §6.2), off unless given. */
export interface RouterAdvertiserOptions {
  readonly prefixes: readonly AdvertisedPrefix[];
  /** Router Lifetime in seconds (default 1800; 0: not a default router). */
  readonly routerLifetime?: number;
  /** Time between unsolicited RAs (default 200 000 ms, MinRtrAdvInterval's default). */
  readonly intervalMs?: number;
  /** MTU option (omitted unless given). */
  readonly mtu?: number;
  /** Cur Hop Limit (default 64). */
  readonly curHopLimit?: number;
  /** The M and O flags (RFC 4861 §4.2: addresses / other configuration from DHCPv6; default off). */
  readonly managed?: boolean;
  readonly other?: boolean;
}

export interface NdpOptions {
  /** Form addresses from RA prefix information (RFC 4862 §5.5.3; default false). */
  readonly slaac?: boolean;
  /** Process RAs (router list, prefixes, MTU, hop limit; default true). */
  readonly acceptRa?: boolean;
  /** Send Router Solicitations once the link-local address is usable (default true when acceptRa). */
  readonly routerSolicitations?: boolean;
  /** DupAddrDetectTransmits (RFC 4862 §5.1; default 1; 0 disables DAD). */
  readonly dadTransmits?: number;
  /** Most interface addresses (default 16); more SLAAC prefixes are ignored and counted. */
  readonly maxAddresses?: number;
  /** Neighbour cache entries (default 256); the oldest non-pending one is evicted. */
  readonly maxNeighbors?: number;
  /** Packets queued per neighbour being resolved (default 16). */
  readonly queuePerNeighbor?: number;
  /** Neighbours in INCOMPLETE at once (default 32). */
  readonly maxPending?: number;
  /** Default router list size (default 8). */
  readonly maxRouters?: number;
  /** Prefix list size (default 16). */
  readonly maxPrefixes?: number;
  /** RFC 4861 §10 constants (ms): defaults 1000, 30000, 5000, 1000, 4000. */
  readonly retransTimerMs?: number;
  readonly reachableTimeMs?: number;
  readonly delayFirstProbeMs?: number;
  readonly maxRtrSolicitationDelayMs?: number;
  readonly rtrSolicitationIntervalMs?: number;
  /** MAX_MULTICAST_SOLICIT, MAX_UNICAST_SOLICIT, MAX_RTR_SOLICITATIONS (default 3 each). */
  readonly maxMulticastSolicit?: number;
  readonly maxUnicastSolicit?: number;
  readonly maxRtrSolicitations?: number;
  /** Default routers configured by hand (on-link addresses); RAs neither refresh nor remove them. */
  readonly staticRouters?: readonly Ipv6Address[];
  /** Act as a router on this link: advertise these prefixes. */
  readonly advertise?: RouterAdvertiserOptions;
  /** Called when DAD finds an address taken (RFC 4862 §5.4.5). */
  readonly onDadFailure?: (address: Ipv6Address) => void;
  /** Called with the packets dropped when a neighbour did not resolve. */
  readonly onResolutionFailed?: (address: Ipv6Address, packets: readonly Uint8Array[]) => void;
}

export interface NdpDeps {
  readonly clock: Clock;
  readonly rng: Rng;
  readonly ethernet: EthernetLayer;
}

interface AddressEntry {
  readonly address: Ipv6Address;
  readonly prefixLength: number;
  readonly origin: Ipv6AddressOrigin;
  state: Ipv6AddressState;
  preferredUntil: number;
  validUntil: number;
  dadTimer: TimerId | undefined;
  dadSent: number;
  readonly callbacks: ((r: DadResult) => void)[];
}

interface Neighbor {
  readonly address: Ipv6Address;
  mac: MacAddress | undefined;
  state: NeighborState;
  isRouter: boolean;
  readonly queue: { packet: Uint8Array; offload: FrameOffload | undefined }[];
  probes: number;
  timer: TimerId | undefined;
  reachableUntil: number;
}

interface RouterState {
  readonly address: Ipv6Address;
  expiresAt: number;
  readonly static: boolean;
}
interface PrefixState {
  readonly prefix: Ipv6Address;
  readonly prefixLength: number;
  expiresAt: number;
}

const ALL_NODES = ipv6("ff02::1");
const ALL_ROUTERS = ipv6("ff02::2");
const ALL_MLDV2_ROUTERS = ipv6("ff02::16");
/** RFC 4862 §5.5.3(e): two hours. */
const TWO_HOURS_MS = 2 * 3600 * 1000;
/** RFC 4861 §10: MAX_RA_DELAY_TIME and MIN_DELAY_BETWEEN_RAS. */
const MAX_RA_DELAY_MS = 500;
const MIN_DELAY_BETWEEN_RAS_MS = 3000;

/** Latin-1 string of the 16 bytes: a cheap Map key. */
const keyOf = ipv6Key;

/** True when the first `len` bits of a and b agree. */
export function ipv6PrefixMatch(a: Ipv6Address, b: Ipv6Address, len: number): boolean {
  const full = len >>> 3;
  for (let i = 0; i < full; i++) if (a[i] !== b[i]) return false;
  const rest = len & 7;
  if (rest === 0) return true;
  const mask = (0xff << (8 - rest)) & 0xff;
  return ((a[full]! ^ b[full]!) & mask) === 0;
}

function commonPrefixLength(a: Ipv6Address, b: Ipv6Address): number {
  for (let i = 0; i < 16; i++) {
    const x = a[i]! ^ b[i]!;
    if (x !== 0) return i * 8 + Math.clz32(x) - 24;
  }
  return 128;
}

/** Lifetime in seconds (all ones: infinity) to an absolute time. */
function lifetimeUntil(now: number, seconds: number): number {
  return seconds === NDP_INFINITE_LIFETIME ? Infinity : now + seconds * 1000;
}

/** Creates Neighbor Discovery and SLAAC for one interface. The link-local address is added at once. */
export function createNdp(deps: NdpDeps, options: NdpOptions = {}): NdpLayer {
  const { clock, rng, ethernet } = deps;
  const mac = ethernet.mac;
  const slaac = options.slaac ?? false;
  const acceptRa = options.acceptRa ?? true;
  const solicitRouters = options.routerSolicitations ?? acceptRa;
  const dadTransmits = options.dadTransmits ?? 1;
  const maxAddresses = options.maxAddresses ?? 16;
  const maxNeighbors = options.maxNeighbors ?? 256;
  const queueLimit = options.queuePerNeighbor ?? 16;
  const maxPending = options.maxPending ?? 32;
  const maxRouters = options.maxRouters ?? 8;
  const maxPrefixes = options.maxPrefixes ?? 16;
  const delayFirstProbe = options.delayFirstProbeMs ?? 5000;
  const maxRsDelay = options.maxRtrSolicitationDelayMs ?? 1000;
  const rsInterval = options.rtrSolicitationIntervalMs ?? 4000;
  const maxMulticastSolicit = options.maxMulticastSolicit ?? 3;
  const maxUnicastSolicit = options.maxUnicastSolicit ?? 3;
  const maxRs = options.maxRtrSolicitations ?? 3;
  const advertise = options.advertise;
  let retransTimer = options.retransTimerMs ?? 1000;
  let baseReachable = options.reachableTimeMs ?? 30_000;
  // RFC 4861 §6.3.2: ReachableTime is BaseReachableTime times a random factor in [0.5, 1.5).
  const randomReachable = (): number => baseReachable * (0.5 + rng.nextFloat());
  let reachableTime = randomReachable();
  let hopLimit = 64;
  let linkMtu = ethernet.mtu;

  const addresses = new Map<string, AddressEntry>();
  /** Group -> how many reasons we listen to it (addresses sharing a solicited-node group, joins). */
  const groups = new Map<string, { readonly group: Ipv6Address; refs: number }>();
  const cache = new Map<string, Neighbor>();
  let pendingCount = 0;
  const routers = new Map<string, RouterState>();
  const prefixes = new Map<string, PrefixState>();
  let rsTimer: TimerId | undefined;
  let rsSent = 0;
  let raReceived = false;
  let raFlags: RaConfigFlags | undefined;
  const raHandlers: ((flags: RaConfigFlags) => void)[] = [];
  let raTimer: TimerId | undefined;
  let lastRaAt = -Infinity;
  let mldTimer: TimerId | undefined;
  const counters = createCounters([
    "rx",
    "nsReceived",
    "naReceived",
    "rsReceived",
    "raReceived",
    "nsSent",
    "naSent",
    "rsSent",
    "raSent",
    "mldReportsSent",
    "mldQueriesReceived",
    "mldListenerMessages",
    "dadStarted",
    "dadSucceeded",
    "dadFailed",
    "slaacAddresses",
    "resolved",
    "queued",
    "evicted",
    "unreachable",
    "routersAdded",
    "prefixesAdded",
    "duplicateSeen",
  ] as const);
  const c = counters.c;
  const iid = linkLocalFromMac(mac).subarray(8);

  // ---- sending -----------------------------------------------------------------------------

  /** Sends an ND or MLD message: IPv6 header (+ Router Alert hop-by-hop for MLD) + message. */
  const sendIcmp = (
    dstMac: MacAddress,
    src: Ipv6Address,
    dst: Ipv6Address,
    hops: number,
    msgLen: number,
    emit: (buf: Uint8Array, at: number) => void,
    routerAlert = false,
  ): void => {
    const hl = ethernet.headerLength;
    const ext = routerAlert ? 8 : 0;
    const buf = new Uint8Array(hl + IPV6_HEADER_LEN + ext + msgLen);
    const packet = buf.subarray(hl);
    emitIpv6(
      {
        src,
        dst,
        nextHeader: routerAlert ? IPV6_NEXT_HEADER_HOP_BY_HOP : IPV6_NEXT_HEADER_ICMPV6,
        hopLimit: hops,
        trafficClass: 0,
        flowLabel: 0,
        payloadLength: ext + msgLen,
      },
      packet,
    );
    // RFC 2711 / RFC 3810 §5: MLD messages carry a Router Alert (value 0: MLD) in a hop-by-hop header.
    if (routerAlert)
      emitIpv6OptionsHeader(
        { nextHeader: IPV6_NEXT_HEADER_ICMPV6, options: [{ type: IPV6_OPTION_ROUTER_ALERT, data: new Uint8Array(2) }] },
        packet,
        IPV6_HEADER_LEN,
      );
    emit(packet, IPV6_HEADER_LEN + ext);
    ethernet.send(dstMac, ETHERTYPE_IPV6, packet);
  };

  const sendNd = (dstMac: MacAddress, src: Ipv6Address, dst: Ipv6Address, repr: NdpRepr): void => {
    // RFC 4861: every ND message is sent with hop limit 255.
    sendIcmp(dstMac, src, dst, 255, ndpReprLength(repr), (b, at) => {
      emitNdp(repr, b, at, src, dst);
    });
  };

  const linkLocal = (): AddressEntry | undefined => {
    for (const a of addresses.values()) if (a.origin === "link-local") return a;
    return undefined;
  };
  const usable = (a: AddressEntry): boolean => a.state === "preferred" || a.state === "deprecated";

  const sendNs = (target: Ipv6Address, dst: Ipv6Address, dstMac: MacAddress, dad: boolean): void => {
    c.nsSent++;
    const src = dad ? ipv6Unspecified() : (sourceFor(target) ?? ipv6Unspecified());
    // RFC 4861 §4.3: no source link-layer address option when the source is unspecified.
    const opts: NdpOption[] = isIpv6Unspecified(src) ? [] : [ndpMacOption("source-link-layer-address", mac)];
    sendNd(dstMac, src, dst, { kind: "neighbor-solicitation", target, options: opts });
  };

  const sendNa = (target: Ipv6Address, dst: Ipv6Address, dstMac: MacAddress, solicited: boolean): void => {
    c.naSent++;
    sendNd(dstMac, target, dst, {
      kind: "neighbor-advertisement",
      router: advertise !== undefined,
      solicited,
      override: true,
      target,
      options: [ndpMacOption("target-link-layer-address", mac)],
    });
  };

  const reportedGroups = (): Ipv6Address[] => {
    const out: Ipv6Address[] = [];
    // RFC 3810 §6: the all-nodes group is never reported.
    for (const g of groups.values()) if (!ipv6Equal(g.group, ALL_NODES)) out.push(g.group);
    return out;
  };

  const sendMldReport = (records: MldRecord[]): void => {
    if (records.length === 0) return;
    c.mldReportsSent++;
    const ll = linkLocal();
    // RFC 3810 §5.2.13: a report is sent from the link-local address, or from :: while it is tentative.
    const src = ll !== undefined && usable(ll) ? ll.address : ipv6Unspecified();
    const repr = { kind: "report" as const, records };
    sendIcmp(
      ipv6MulticastMac(ALL_MLDV2_ROUTERS),
      src,
      ALL_MLDV2_ROUTERS,
      1,
      mldReprLength(repr),
      (b, at) => {
        emitMld(repr, b, at, src, ALL_MLDV2_ROUTERS);
      },
      true,
    );
  };

  const joinGroup = (g: Ipv6Address): void => {
    const k = keyOf(g);
    const e = groups.get(k);
    if (e !== undefined) {
      e.refs++;
      return;
    }
    groups.set(k, { group: g.slice(), refs: 1 });
    if (!ipv6Equal(g, ALL_NODES)) sendMldReport([{ recordType: MLD_CHANGE_TO_EXCLUDE, multicastAddress: g, sources: [], auxData: new Uint8Array(0) }]);
  };

  const leaveGroup = (g: Ipv6Address): void => {
    const k = keyOf(g);
    const e = groups.get(k);
    if (e === undefined) return;
    if (--e.refs > 0) return;
    groups.delete(k);
    // A CHANGE_TO_INCLUDE with no sources is a leave (RFC 3810 §6.1).
    sendMldReport([{ recordType: 3, multicastAddress: g, sources: [], auxData: new Uint8Array(0) }]);
  };

  // ---- addresses and DAD ---------------------------------------------------------------------

  const refresh = (a: AddressEntry, now: number): void => {
    if (a.state === "preferred" && now >= a.preferredUntil) a.state = "deprecated";
    if (now >= a.validUntil) dropAddress(a);
  };

  const dropAddress = (a: AddressEntry): void => {
    const k = keyOf(a.address);
    if (addresses.get(k) !== a) return;
    addresses.delete(k);
    if (lastFound === a) lastFound = undefined;
    if (a.dadTimer !== undefined) clock.cancel(a.dadTimer);
    if (a.state !== "duplicate") leaveGroup(solicitedNodeAddress(a.address));
  };

  const finishDad = (a: AddressEntry, r: DadResult): void => {
    if (a.dadTimer !== undefined) clock.cancel(a.dadTimer);
    a.dadTimer = undefined;
    for (const cb of a.callbacks.splice(0)) cb(r);
  };

  const dadFailed = (a: AddressEntry): void => {
    if (a.state !== "tentative") return;
    c.dadFailed++;
    a.state = "duplicate";
    leaveGroup(solicitedNodeAddress(a.address));
    finishDad(a, err("duplicate", "another node uses this address (RFC 4862 §5.4.5)"));
    options.onDadFailure?.(a.address);
  };

  const becameUsable = (a: AddressEntry): void => {
    if (a.origin !== "link-local") return;
    if (solicitRouters && advertise === undefined) startRouterSolicitation();
    if (advertise !== undefined) scheduleRa(rng.nextFloat() * MAX_RA_DELAY_MS);
  };

  const dadStep = (a: AddressEntry): void => {
    a.dadTimer = undefined;
    if (a.state !== "tentative") return;
    if (a.dadSent < dadTransmits) {
      a.dadSent++;
      const group = solicitedNodeAddress(a.address);
      sendNs(a.address, group, ipv6MulticastMac(group), true);
      a.dadTimer = clock.setTimer(clock.now() + retransTimer, () => dadStep(a));
      return;
    }
    c.dadSucceeded++;
    a.state = clock.now() >= a.preferredUntil ? "deprecated" : "preferred";
    finishDad(a, ok(a.address));
    becameUsable(a);
  };

  const addAddress = (
    address: Ipv6Address,
    prefixLength: number,
    origin: Ipv6AddressOrigin,
    preferredUntil: number,
    validUntil: number,
    cb?: (r: DadResult) => void,
  ): AddressEntry | undefined => {
    const k = keyOf(address);
    const old = addresses.get(k);
    if (old !== undefined && old.state !== "duplicate") {
      if (cb !== undefined) {
        if (old.state === "tentative") old.callbacks.push(cb);
        else cb(ok(old.address));
      }
      return old;
    }
    if (old !== undefined) {
      addresses.delete(k);
      if (lastFound === old) lastFound = undefined;
    }
    if (addresses.size >= maxAddresses) {
      counters.drop("address-list-full");
      cb?.(err("duplicate", "address list full"));
      return undefined;
    }
    const a: AddressEntry = {
      address: address.slice(),
      prefixLength,
      origin,
      state: dadTransmits > 0 ? "tentative" : "preferred",
      preferredUntil,
      validUntil,
      dadTimer: undefined,
      dadSent: 0,
      callbacks: cb === undefined ? [] : [cb],
    };
    addresses.set(k, a);
    lastMiss = undefined;
    joinGroup(solicitedNodeAddress(address));
    if (dadTransmits > 0) {
      c.dadStarted++;
      // RFC 4862 §5.4.2: the first NS goes after a random delay in [0, MAX_RTR_SOLICITATION_DELAY).
      a.dadTimer = clock.setTimer(clock.now() + rng.nextFloat() * maxRsDelay, () => dadStep(a));
    } else {
      finishDad(a, ok(a.address));
      becameUsable(a);
    }
    return a;
  };

  // The entry found last (every packet of a connection asks about the same address): compared
  // byte by byte; forgotten when it leaves the list.
  let lastFound: AddressEntry | undefined;
  // And the address asked about last that is not ours (a sender asks about its peer each
  // segment); forgotten when an address is added.
  let lastMiss: Ipv6Address | undefined;
  /** The address at x[at..at+16] (a packet's destination is looked up in place). */
  const findAddress = (x: Uint8Array, at = 0): AddressEntry | undefined => {
    const last = lastFound;
    if (last !== undefined && ipv6EqualAt(last.address, x, at)) {
      refresh(last, clock.now());
      return lastFound;
    }
    if (lastMiss !== undefined && ipv6EqualAt(lastMiss, x, at)) return undefined;
    const k = keyOf(at === 0 && x.length === 16 ? x : x.subarray(at, at + 16));
    const a = addresses.get(k);
    if (a === undefined) {
      lastMiss = x.slice(at, at + 16);
      return undefined;
    }
    refresh(a, clock.now());
    if (!addresses.has(k)) return undefined;
    lastFound = a;
    return a;
  };

  const sourceFor = (dst: Ipv6Address): Ipv6Address | undefined => {
    const now = clock.now();
    const linkScope = isIpv6LinkLocal(dst) || (isIpv6Multicast(dst) && (dst[1]! & 0x0f) <= 2);
    let best: AddressEntry | undefined;
    let bestScore = -1;
    for (const a of [...addresses.values()]) {
      refresh(a, now);
      if (!usable(a) || !addresses.has(keyOf(a.address))) continue;
      const ll = a.origin === "link-local" || isIpv6LinkLocal(a.address);
      // RFC 6724 §5, simplified: the right scope first, then preferred over deprecated, then longest match.
      const score = (ll === linkScope ? 1000 : 0) + (a.state === "preferred" ? 500 : 0) + commonPrefixLength(a.address, dst);
      if (score > bestScore) {
        best = a;
        bestScore = score;
      }
    }
    return best?.address;
  };

  // ---- neighbour cache and NUD (RFC 4861 §7.3) --------------------------------------------------

  /** REACHABLE becomes STALE once ReachableTime passed (RFC 4861 §7.3.3), checked on use. */
  const current = (n: Neighbor): Neighbor => {
    if (n.state === "reachable" && clock.now() >= n.reachableUntil) n.state = "stale";
    return n;
  };

  const setState = (n: Neighbor, s: NeighborState): void => {
    if (n.timer !== undefined) {
      clock.cancel(n.timer);
      n.timer = undefined;
    }
    if (n.state === "incomplete" && s !== "incomplete") pendingCount--;
    n.state = s;
    if (s === "reachable") n.reachableUntil = clock.now() + reachableTime;
  };

  const flush = (n: Neighbor): void => {
    if (n.mac === undefined) return;
    for (const q of n.queue.splice(0)) ethernet.send(n.mac, ETHERTYPE_IPV6, q.packet, q.offload);
  };

  // The entry output() used last (a connection sends to one neighbour over and over): compared
  // byte by byte, no key is built for it; forgotten when it leaves the cache.
  let lastOutput: Neighbor | undefined;

  const removeNeighbor = (n: Neighbor): void => {
    const k = keyOf(n.address);
    if (cache.get(k) !== n) return;
    if (lastOutput === n) lastOutput = undefined;
    if (n.timer !== undefined) clock.cancel(n.timer);
    if (n.state === "incomplete") pendingCount--;
    cache.delete(k);
  };

  const makeRoom = (): boolean => {
    if (cache.size < maxNeighbors) return true;
    for (const n of cache.values()) {
      if (n.state !== "incomplete") {
        removeNeighbor(n);
        c.evicted++;
        return true;
      }
    }
    return false;
  };

  const solicitStep = (n: Neighbor): void => {
    n.timer = undefined;
    if (n.state === "incomplete") {
      if (n.probes < maxMulticastSolicit) {
        n.probes++;
        const group = solicitedNodeAddress(n.address);
        sendNs(n.address, group, ipv6MulticastMac(group), false);
        n.timer = clock.setTimer(clock.now() + retransTimer, () => solicitStep(n));
        return;
      }
      c.unreachable++;
      const packets = n.queue.splice(0).map((q) => q.packet);
      for (let i = 0; i < packets.length; i++) counters.drop("resolution-failed");
      removeNeighbor(n);
      options.onResolutionFailed?.(n.address, packets);
      return;
    }
    if (n.state === "delay") {
      setState(n, "probe");
      n.probes = 0;
    }
    if (n.state === "probe") {
      if (n.probes < maxUnicastSolicit && n.mac !== undefined) {
        n.probes++;
        sendNs(n.address, n.address, n.mac, false);
        n.timer = clock.setTimer(clock.now() + retransTimer, () => solicitStep(n));
        return;
      }
      // RFC 4861 §7.3.3: no answer to the unicast probes: the entry goes.
      c.unreachable++;
      removeNeighbor(n);
    }
  };

  /** Creates or updates an entry from a link-layer address option of an NS, RS or RA (RFC 4861 §7.2.3, §6.3.4). */
  const learnFromSolicitation = (ip: Ipv6Address, hw: MacAddress, isRouter: boolean | undefined): void => {
    const k = keyOf(ip);
    let n = cache.get(k);
    if (n === undefined) {
      if (!makeRoom()) return;
      n = { address: ip.slice(), mac: hw, state: "stale", isRouter: isRouter ?? false, queue: [], probes: 0, timer: undefined, reachableUntil: 0 };
      cache.set(k, n);
      return;
    }
    if (isRouter !== undefined) n.isRouter = isRouter;
    if (n.state === "incomplete") {
      n.mac = hw;
      setState(n, "stale");
      c.resolved++;
      flush(n);
    } else if (n.mac !== hw) {
      n.mac = hw;
      setState(n, "stale");
    }
  };

  // ---- routers, prefixes, RS/RA ------------------------------------------------------------

  const startRouterSolicitation = (): void => {
    if (rsTimer !== undefined || raReceived) return;
    rsSent = 0;
    const step = (): void => {
      rsTimer = undefined;
      if (raReceived || rsSent >= maxRs) return;
      const ll = linkLocal();
      if (ll === undefined || !usable(ll)) return;
      rsSent++;
      c.rsSent++;
      sendNd(ipv6MulticastMac(ALL_ROUTERS), ll.address, ALL_ROUTERS, {
        kind: "router-solicitation",
        options: [ndpMacOption("source-link-layer-address", mac)],
      });
      rsTimer = clock.setTimer(clock.now() + rsInterval, step);
    };
    // RFC 4861 §6.3.7: the first RS after a random delay in [0, MAX_RTR_SOLICITATION_DELAY).
    rsTimer = clock.setTimer(clock.now() + rng.nextFloat() * maxRsDelay, step);
  };

  const sendRa = (): void => {
    if (advertise === undefined) return;
    const ll = linkLocal();
    if (ll === undefined || !usable(ll)) return;
    lastRaAt = clock.now();
    const opts: NdpOption[] = [ndpMacOption("source-link-layer-address", mac)];
    if (advertise.mtu !== undefined) opts.push({ kind: "mtu", mtu: advertise.mtu });
    for (const p of advertise.prefixes) {
      opts.push({
        kind: "prefix-information",
        prefixLength: p.prefixLength,
        flags: (p.onLink === false ? 0 : NDP_PREFIX_FLAG_ON_LINK) | (p.autonomous === false ? 0 : NDP_PREFIX_FLAG_AUTONOMOUS),
        validLifetime: p.validLifetime ?? 2_592_000,
        preferredLifetime: p.preferredLifetime ?? 604_800,
        prefix: p.prefix,
      });
    }
    c.raSent++;
    sendNd(ipv6MulticastMac(ALL_NODES), ll.address, ALL_NODES, {
      kind: "router-advertisement",
      curHopLimit: advertise.curHopLimit ?? 64,
      flags: (advertise.managed === true ? NDP_RA_FLAG_MANAGED : 0) | (advertise.other === true ? NDP_RA_FLAG_OTHER : 0),
      routerLifetime: advertise.routerLifetime ?? 1800,
      reachableTime: 0,
      retransTimer: 0,
      options: opts,
    });
  };

  const scheduleRa = (delay: number): void => {
    if (raTimer !== undefined) clock.cancel(raTimer);
    raTimer = clock.setTimer(clock.now() + delay, () => {
      raTimer = undefined;
      sendRa();
      scheduleRa(advertise?.intervalMs ?? 200_000);
    });
  };

  const prefixIsOnLink = (dst: Ipv6Address): boolean => {
    const now = clock.now();
    for (const a of addresses.values()) if (a.origin === "static" && a.prefixLength < 128 && ipv6PrefixMatch(a.address, dst, a.prefixLength)) return true;
    if (advertise !== undefined) for (const p of advertise.prefixes) if (p.onLink !== false && ipv6PrefixMatch(p.prefix, dst, p.prefixLength)) return true;
    for (const [k, p] of prefixes) {
      if (p.expiresAt <= now) {
        prefixes.delete(k);
        continue;
      }
      if (ipv6PrefixMatch(p.prefix, dst, p.prefixLength)) return true;
    }
    return false;
  };

  /** RFC 4861 §6.3.6: a router not known to be unreachable (not INCOMPLETE), else the first one. */
  const defaultRouter = (): Ipv6Address | undefined => {
    const now = clock.now();
    let fallback: Ipv6Address | undefined;
    for (const [k, r] of routers) {
      if (r.expiresAt <= now) {
        routers.delete(k);
        continue;
      }
      const n = cache.get(k);
      if (n !== undefined && n.state !== "incomplete") return r.address;
      fallback ??= r.address;
    }
    return fallback;
  };

  const processPrefix = (o: Extract<NdpOption, { kind: "prefix-information" }>): void => {
    const now = clock.now();
    // RFC 4861 §6.3.4 / RFC 4862 §5.5.3(b): the link-local prefix is ignored.
    if (isIpv6LinkLocal(o.prefix) || o.prefixLength > 128) return counters.drop("prefix-link-local-or-bad");
    if ((o.flags & NDP_PREFIX_FLAG_ON_LINK) !== 0) {
      const prefix = o.prefix.slice();
      for (let i = 0; i < 16; i++) {
        const bits = Math.max(0, Math.min(8, o.prefixLength - 8 * i));
        prefix[i] = prefix[i]! & ((0xff << (8 - bits)) & 0xff);
      }
      const k = `${keyOf(prefix)}/${o.prefixLength}`;
      const existing = prefixes.get(k);
      if (o.validLifetime === 0) prefixes.delete(k);
      else if (existing !== undefined) existing.expiresAt = lifetimeUntil(now, o.validLifetime);
      else if (prefixes.size >= maxPrefixes) counters.drop("prefix-list-full");
      else {
        c.prefixesAdded++;
        prefixes.set(k, { prefix, prefixLength: o.prefixLength, expiresAt: lifetimeUntil(now, o.validLifetime) });
      }
    }
    if ((o.flags & NDP_PREFIX_FLAG_AUTONOMOUS) === 0 || !slaac) return;
    // RFC 4862 §5.5.3(c): preferred lifetime over valid lifetime: ignore the option.
    if (o.preferredLifetime > o.validLifetime) return counters.drop("prefix-preferred-over-valid");
    // RFC 4862 §5.5.3(d): the prefix plus a 64-bit interface identifier must be 128 bits.
    if (o.prefixLength !== 64) return counters.drop("prefix-length-not-64");
    const address = new Uint8Array(16);
    address.set(o.prefix.subarray(0, 8), 0);
    address.set(iid, 8);
    const a = addresses.get(keyOf(address));
    if (a !== undefined && a.origin === "slaac" && a.state !== "duplicate") {
      // RFC 4862 §5.5.3(e): the two-hour rule against a spoofed short valid lifetime.
      a.preferredUntil = lifetimeUntil(now, o.preferredLifetime);
      const newValid = lifetimeUntil(now, o.validLifetime);
      const remaining = a.validUntil - now;
      if (newValid - now > TWO_HOURS_MS || newValid > a.validUntil) a.validUntil = newValid;
      else if (remaining > TWO_HOURS_MS) a.validUntil = now + TWO_HOURS_MS;
      if (a.state === "deprecated" && now < a.preferredUntil) a.state = "preferred";
      refresh(a, now);
      return;
    }
    if (a !== undefined || o.validLifetime === 0) return;
    if (addAddress(address, 64, "slaac", lifetimeUntil(now, o.preferredLifetime), lifetimeUntil(now, o.validLifetime)) !== undefined) c.slaacAddresses++;
  };

  const processRa = (repr: Extract<NdpRepr, { kind: "router-advertisement" }>, src: Ipv6Address): void => {
    if (!acceptRa || advertise !== undefined) return counters.drop("ra-ignored");
    raReceived = true;
    if (rsTimer !== undefined) {
      clock.cancel(rsTimer);
      rsTimer = undefined;
    }
    const now = clock.now();
    if (repr.curHopLimit !== 0) hopLimit = repr.curHopLimit;
    if (repr.reachableTime !== 0 && repr.reachableTime !== baseReachable) {
      baseReachable = repr.reachableTime;
      reachableTime = randomReachable();
    }
    if (repr.retransTimer !== 0) retransTimer = repr.retransTimer;
    const k = keyOf(src);
    const r = routers.get(k);
    if (r?.static === true) {
      /* configured by hand: kept as it is */
    } else if (repr.routerLifetime === 0) routers.delete(k);
    else if (r !== undefined) r.expiresAt = now + repr.routerLifetime * 1000;
    else if (routers.size >= maxRouters) counters.drop("router-list-full");
    else {
      c.routersAdded++;
      routers.set(k, { address: src.slice(), expiresAt: now + repr.routerLifetime * 1000, static: false });
    }
    for (const o of repr.options) {
      if (o.kind === "source-link-layer-address") {
        const hw = ndpOptionMac(o);
        if (hw !== undefined) learnFromSolicitation(src, hw, true);
      } else if (o.kind === "mtu") {
        // RFC 4861 §6.3.4: an MTU option within [1280, the link's maximum] sets the link MTU.
        if (o.mtu >= IPV6_MIN_MTU && o.mtu <= ethernet.mtu) linkMtu = o.mtu;
        else counters.drop("bad-mtu-option");
      } else if (o.kind === "prefix-information") {
        processPrefix(o);
      }
    }
    const n = cache.get(k);
    if (n !== undefined) n.isRouter = true;
    // RFC 4861 §4.2: M (managed address configuration) and O (other configuration), for DHCPv6.
    const flags: RaConfigFlags = { managed: (repr.flags & NDP_RA_FLAG_MANAGED) !== 0, other: (repr.flags & NDP_RA_FLAG_OTHER) !== 0, router: src.slice() };
    raFlags = flags;
    for (const h of raHandlers) h(flags);
  };

  // ---- input --------------------------------------------------------------------------------

  const receiveNdp = (d: Ipv6Delivery): void => {
    c.rx++;
    const parsed = parseNdp(d.payload, d.src, d.dst, { verifyChecksum: d.offload?.dataValidated !== true });
    if (!parsed.ok) return counters.drop(parsed.error);
    const valid = checkNdpValidity(parsed.value, d);
    // RFC 4861 §6.1, §7.1: a hop limit other than 255 means the message crossed a router: off-link, ignored.
    if (!valid.ok) return counters.drop(valid.error === "hop-limit" ? "off-link-hop-limit" : valid.error);
    const m = valid.value;
    const sourceMac = (): MacAddress | undefined => {
      for (const o of m.options) if (o.kind === "source-link-layer-address") return ndpOptionMac(o);
      return undefined;
    };
    switch (m.kind) {
      case "neighbor-solicitation": {
        c.nsReceived++;
        const a = addresses.get(keyOf(m.target));
        if (a === undefined || a.state === "duplicate") return counters.drop("ns-not-for-us");
        const fromUnspecified = isIpv6Unspecified(d.src);
        if (a.state === "tentative") {
          // RFC 4862 §5.4.3: another node's DAD probe for our tentative address: the address is a duplicate.
          if (fromUnspecified) dadFailed(a);
          else counters.drop("ns-for-tentative");
          return;
        }
        if (fromUnspecified) {
          // RFC 4861 §7.2.4: answer a DAD probe for our address to all-nodes, unsolicited.
          sendNa(m.target, ALL_NODES, ipv6MulticastMac(ALL_NODES), false);
          return;
        }
        const hw = sourceMac();
        if (hw !== undefined) learnFromSolicitation(d.src, hw, undefined);
        const n = cache.get(keyOf(d.src));
        const dstMac = hw ?? (n !== undefined ? n.mac : undefined);
        if (dstMac === undefined) return counters.drop("ns-no-link-layer-address");
        sendNa(m.target, d.src, dstMac, true);
        return;
      }
      case "neighbor-advertisement": {
        c.naReceived++;
        const mine = addresses.get(keyOf(m.target));
        if (mine !== undefined) {
          if (mine.state === "tentative") dadFailed(mine);
          else {
            c.duplicateSeen++;
            counters.drop("na-for-our-address");
          }
          return;
        }
        const n = cache.get(keyOf(m.target));
        if (n === undefined) return counters.drop("na-unsolicited");
        let hw: MacAddress | undefined;
        for (const o of m.options) if (o.kind === "target-link-layer-address") hw = ndpOptionMac(o);
        current(n);
        const wasRouter = n.isRouter;
        // RFC 4861 §7.2.5
        if (n.state === "incomplete") {
          if (hw === undefined) return counters.drop("na-no-link-layer-address");
          n.mac = hw;
          setState(n, m.solicited ? "reachable" : "stale");
          n.isRouter = m.router;
          c.resolved++;
          flush(n);
        } else if (!m.override && hw !== undefined && hw !== n.mac) {
          if (n.state === "reachable") setState(n, "stale");
          return;
        } else {
          const changed = hw !== undefined && hw !== n.mac;
          if (hw !== undefined) n.mac = hw;
          if (m.solicited) setState(n, "reachable");
          else if (changed) setState(n, "stale");
          n.isRouter = m.router;
        }
        // RFC 4861 §7.2.5: a router that says it no longer is one leaves the default router list.
        if (wasRouter && !n.isRouter) routers.delete(keyOf(m.target));
        return;
      }
      case "router-solicitation": {
        c.rsReceived++;
        if (advertise === undefined) return counters.drop("rs-not-a-router");
        const hw = sourceMac();
        if (hw !== undefined && !isIpv6Unspecified(d.src)) learnFromSolicitation(d.src, hw, false);
        // RFC 4861 §6.2.6: answer after a random delay, no sooner than MIN_DELAY_BETWEEN_RAS after the last.
        const at = Math.max(clock.now() + rng.nextFloat() * MAX_RA_DELAY_MS, lastRaAt + MIN_DELAY_BETWEEN_RAS_MS);
        scheduleRa(at - clock.now());
        return;
      }
      case "router-advertisement":
        c.raReceived++;
        return processRa(m, d.src);
      case "redirect":
        return counters.drop("redirect-ignored");
    }
  };

  const receiveMld = (d: Ipv6Delivery): void => {
    c.rx++;
    const parsed = parseMld(d.payload, d.src, d.dst, { verifyChecksum: d.offload?.dataValidated !== true });
    if (!parsed.ok) return counters.drop(`mld-${parsed.error}`);
    const m = parsed.value;
    // Other listeners' reports and dones: nothing to do for a host, but counted (every message ends in a counter).
    if (m.kind !== "query" && m.kind !== "v1-query") {
      c.mldListenerMessages++;
      return;
    }
    c.mldQueriesReceived++;
    // RFC 3810 §5.1.14: only queries from link-local sources count.
    if (!isIpv6LinkLocal(d.src)) return counters.drop("mld-query-not-link-local");
    const delay = m.kind === "query" ? mldMaxResponseDelay(m.maxResponseCode) : m.maxResponseDelay;
    const specific = !isIpv6Unspecified(m.multicastAddress);
    if (specific && !groups.has(keyOf(m.multicastAddress))) return;
    if (mldTimer !== undefined) return; // a response is already pending
    // RFC 3810 §6.2: answer after a random delay within the Maximum Response Delay.
    mldTimer = clock.setTimer(clock.now() + rng.nextFloat() * delay, () => {
      mldTimer = undefined;
      const list = specific ? [m.multicastAddress] : reportedGroups();
      sendMldReport(list.map((g) => ({ recordType: MLD_MODE_IS_EXCLUDE, multicastAddress: g, sources: [], auxData: new Uint8Array(0) })));
    });
  };

  // ---- the layer -----------------------------------------------------------------------------

  const layer: NdpLayer = {
    output(nextHop, packet, offload): Result<void, "unresolved-queue-full"> {
      if (isIpv6Multicast(nextHop)) {
        ethernet.send(ipv6MulticastMac(nextHop), ETHERTYPE_IPV6, packet, offload);
        return ok(undefined);
      }
      const last = lastOutput;
      let n = last !== undefined && ipv6Equal(last.address, nextHop) ? last : undefined;
      let k: string | undefined;
      if (n === undefined) {
        k = keyOf(nextHop);
        n = cache.get(k);
        lastOutput = n;
      }
      if (n !== undefined) {
        current(n);
        if (n.state === "incomplete") {
          if (n.queue.length >= queueLimit) {
            counters.drop("queue-full");
            return err("unresolved-queue-full");
          }
          n.queue.push({ packet, offload });
          c.queued++;
          return ok(undefined);
        }
        // RFC 4861 §7.3.3: the first packet to a STALE neighbour starts the DELAY timer.
        if (n.state === "stale") {
          setState(n, "delay");
          const e = n;
          n.timer = clock.setTimer(clock.now() + delayFirstProbe, () => solicitStep(e));
        }
        ethernet.send(n.mac!, ETHERTYPE_IPV6, packet, offload);
        return ok(undefined);
      }
      if (pendingCount >= maxPending || !makeRoom()) {
        counters.drop("too-many-pending");
        return err("unresolved-queue-full");
      }
      n = {
        address: nextHop.slice(),
        mac: undefined,
        state: "incomplete",
        isRouter: false,
        queue: [{ packet, offload }],
        probes: 0,
        timer: undefined,
        reachableUntil: 0,
      };
      pendingCount++;
      c.queued++;
      cache.set(k ?? keyOf(nextHop), n);
      lastOutput = n;
      solicitStep(n);
      return ok(undefined);
    },
    nextHop(dst) {
      if (isIpv6Multicast(dst) || isIpv6LinkLocal(dst) || prefixIsOnLink(dst)) return dst;
      return defaultRouter();
    },
    sourceFor,
    isOurAddress(x, at) {
      const a = findAddress(x, at);
      return a !== undefined && usable(a);
    },
    isListening: (g) => groups.has(keyOf(g)),
    isTentative(x) {
      const a = addresses.get(keyOf(x));
      return a !== undefined && a.state === "tentative";
    },
    addAddress(address, prefixLength, cb, opts?: AddAddressOptions) {
      const origin = opts?.origin ?? (isIpv6LinkLocal(address) && prefixLength === 64 ? "link-local" : "static");
      const preferredUntil = opts?.preferredUntil ?? Infinity;
      const validUntil = opts?.validUntil ?? Infinity;
      const held = addresses.get(keyOf(address));
      if (opts !== undefined && held !== undefined && held.state !== "duplicate" && held.origin === origin) {
        // Held already (a DHCPv6 renewal): new lifetimes (RFC 8415 §18.2.10.1), no second DAD.
        held.preferredUntil = preferredUntil;
        held.validUntil = validUntil;
        if (held.state === "deprecated" && clock.now() < preferredUntil) held.state = "preferred";
        refresh(held, clock.now());
      }
      addAddress(address, prefixLength, origin, preferredUntil, validUntil, cb);
    },
    removeAddress(address) {
      const a = addresses.get(keyOf(address));
      if (a !== undefined) dropAddress(a);
    },
    addresses() {
      const now = clock.now();
      for (const a of [...addresses.values()]) refresh(a, now);
      return [...addresses.values()].map((a) => ({
        address: a.address.slice(),
        prefixLength: a.prefixLength,
        origin: a.origin,
        state: a.state,
        preferredUntil: a.preferredUntil,
        validUntil: a.validUntil,
      }));
    },
    get raFlags() {
      return raFlags;
    },
    onRouterAdvertisement(h) {
      raHandlers.push(h);
    },
    joinGroup,
    leaveGroup,
    neighbors(): NeighborEntry[] {
      return [...cache.values()].map((n) => {
        current(n);
        return { address: n.address.slice(), mac: n.mac, state: n.state, isRouter: n.isRouter, queued: n.queue.length };
      });
    },
    routers(): RouterEntry[] {
      defaultRouter();
      return [...routers.values()].map((r) => ({ address: r.address.slice(), expiresAt: r.expiresAt }));
    },
    prefixes(): PrefixEntry[] {
      prefixIsOnLink(ipv6Unspecified());
      return [...prefixes.values()].map((p) => ({ prefix: p.prefix.slice(), prefixLength: p.prefixLength, expiresAt: p.expiresAt }));
    },
    confirmReachable(x) {
      // TCP confirms its peer on every ACK that moves forward: the neighbour output() used last first.
      const last = lastOutput;
      const n = last !== undefined && ipv6Equal(last.address, x) ? last : cache.get(keyOf(x));
      if (n !== undefined && n.mac !== undefined) setState(n, "reachable");
    },
    get hopLimit() {
      return hopLimit;
    },
    get linkMtu() {
      return linkMtu;
    },
    receiveNdp,
    receiveMld,
    counters: () => counters.snapshot(),
  };

  joinGroup(ALL_NODES);
  for (const r of options.staticRouters ?? []) routers.set(keyOf(r), { address: r.slice(), expiresAt: Infinity, static: true });
  addAddress(linkLocalFromMac(mac), 64, "link-local", Infinity, Infinity);
  // RFC 4861 §6.2.2: a router joins the all-routers group, where Router Solicitations are sent.
  if (advertise !== undefined) joinGroup(ALL_ROUTERS);
  return layer;
}
