// A simulated point-to-point Ethernet wire between two NetDevices, each direction with its
// own impairments. The wire offers no offloads unless an end asks for txChecksum, in which
// case it completes checksums on entry (see impairments.ts): the bytes crossing it always
// carry correct checksums, exactly what a capture of a real wire shows. An end with
// checksumUnnecessary is a veth instead: nobody computes the checksums of the frames it sends,
// and the other end receives every frame marked as validated (CHECKSUM_UNNECESSARY).
import { NO_OFFLOADS } from "./types.ts";
import type { DeviceCounters, Frame, NetDevice, Offloads } from "./types.ts";
import type { MacAddress } from "../wire/address.ts";
import { countersOf, createImpairedChannel, misuse } from "./impairments.ts";
import type { ChannelBehaviour, ImpairmentOptions, ImpairmentStats, LinkDeps } from "./impairments.ts";
import type { QueueStatsSnapshot } from "./qdisc/types.ts";

/** One end of the wire. */
export interface LinkEndOptions {
  readonly mac: MacAddress;
  /** IP MTU (default 1500); frames longer than the MTU of the sending end are dropped. */
  readonly mtu?: number;
  /** Impairments of frames this end sends. */
  readonly impairments?: ImpairmentOptions;
  /** Offer checksum offload: the wire completes csumBlank checksums of frames this end sends. */
  readonly txChecksum?: boolean;
  /** veth-like (implies txChecksum): csumBlank frames this end sends are not completed, and the
   * other end receives every frame marked dataValidated, as Linux's veth does; for simulations
   * that do not study checksums (a capture then shows pseudo-header sums in the checksum fields). */
  readonly checksumUnnecessary?: boolean;
}

/** An end of the wire as a device, with its counters. */
export interface LinkEnd extends NetDevice {
  counters(): DeviceCounters;
  /** Stats of the direction this end sends into. */
  readonly txStats: Readonly<ImpairmentStats>;
  /** Statistics of the queue discipline of the direction this end sends into (with a rate limit). */
  queueStats(): QueueStatsSnapshot | undefined;
}

/** A two-ended wire. */
export interface PointToPointLink {
  readonly a: LinkEnd;
  readonly b: LinkEnd;
  /** Frames on the wire, not yet delivered. */
  inFlight(): number;
  /** Unplugs (false) or replugs (true) the wire: frames sent while down are dropped (linkDownDrops). */
  setLinkUp(up: boolean): void;
}

const CHECKSUM_OFFLOAD: Offloads = Object.freeze({ txChecksum: true, tso: false, maxGsoFrame: 0 });

/** Offloads a wire end offers: none, or checksum completion. */
export function offloadsOf(o: { readonly txChecksum?: boolean; readonly checksumUnnecessary?: boolean }): Offloads {
  return o.txChecksum === true || o.checksumUnnecessary === true ? CHECKSUM_OFFLOAD : NO_OFFLOADS;
}

/** How the channel an end sends into treats checksums. */
function behaviourOf(o: LinkEndOptions): ChannelBehaviour {
  return { completeChecksums: o.txChecksum === true, checksumUnnecessary: o.checksumUnnecessary === true };
}

/** Creates a wire between ends a and b. */
export function createPointToPointLink(deps: LinkDeps, options: { a: LinkEndOptions; b: LinkEndOptions }): PointToPointLink {
  let handlerA: (f: Frame) => void = () => {};
  let handlerB: (f: Frame) => void = () => {};
  const mtuA = options.a.mtu ?? 1500;
  const mtuB = options.b.mtu ?? 1500;
  if (!(mtuA >= 68) || !(mtuB >= 68)) throw misuse("link MTU must be >= 68 (RFC 791)");
  const aToB = createImpairedChannel(deps, { mtu: mtuA, ...options.a.impairments }, (f) => handlerB(f), behaviourOf(options.a));
  const bToA = createImpairedChannel(deps, { mtu: mtuB, ...options.b.impairments }, (f) => handlerA(f), behaviourOf(options.b));
  const a: LinkEnd = {
    mac: options.a.mac,
    mtu: mtuA,
    offloads: offloadsOf(options.a),
    send: (f) => aToB.offer(f),
    onReceive(h) {
      handlerA = h;
    },
    counters: () => countersOf(aToB.stats, bToA.stats),
    txStats: aToB.stats,
    queueStats: () => aToB.queueStats(),
  };
  const b: LinkEnd = {
    mac: options.b.mac,
    mtu: mtuB,
    offloads: offloadsOf(options.b),
    send: (f) => bToA.offer(f),
    onReceive(h) {
      handlerB = h;
    },
    counters: () => countersOf(bToA.stats, aToB.stats),
    txStats: bToA.stats,
    queueStats: () => bToA.queueStats(),
  };
  return {
    a,
    b,
    inFlight: () => aToB.inFlight() + bToA.inFlight(),
    setLinkUp(up) {
      aToB.setLinkUp(up);
      bToA.setLinkUp(up);
    },
  };
}
