// Test instruments for TCP, in the style of gVisor's packetimpact: a tiny IPv4 layer that
// records every segment the stack under test emits and lets a test inject exact segments
// from a peer; and a pair of IPv4 layers joined by an impaired path (loss, delay, jitter,
// reordering, duplication, corruption, rate) for two TCP layers in virtual time.
// createTcpTestPeer: one stack + a scripted peer; createTcpPathPair: two stacks on a path.
import { type Result, ok } from "../../result.ts";
import { type VirtualClock, type Rng, createRng, createVirtualClock } from "../../time.ts";
import type { Ipv4Cidr } from "../../wire/address.ts";
import type { IcmpErrorReport, Ipv4Delivery, Ipv4Layer, Ipv4SendError, Ipv4SendOptions } from "../../net/types.ts";
import { emitTcp, parseTcp, tcpHeaderLength, type TcpRepr, type TcpOptions, TCP_FLAG_ACK } from "../../wire/tcp.ts";
import { createTcpLayer, type ExtendedTcpLayer } from "./layer.ts";
import type { TcpLayerOptions } from "./types.ts";

/** 192.0.2.1: the stack under test. */
export const LOCAL_ADDR = 0xc0000201;
/** 192.0.2.2: the test peer. */
export const PEER_ADDR = 0xc0000202;

/** A minimal Ipv4Layer: one address, one MTU, sends go to `out`. */
export class TestIpv4 implements Ipv4Layer {
  cidr: Ipv4Cidr | undefined;
  gateway = undefined;
  handler: ((d: Ipv4Delivery) => void) | null = null;
  constructor(
    address: number,
    public mtu: number,
    public out: (dst: number, payload: Uint8Array, opts?: Ipv4SendOptions) => void,
  ) {
    this.cidr = { address, prefixLength: 24 };
  }
  configure(cidr: Ipv4Cidr | undefined): void {
    this.cidr = cidr;
  }
  send(dst: number, _protocol: number, payload: Uint8Array, opts?: Ipv4SendOptions): Result<void, Ipv4SendError> {
    this.out(dst, payload, opts);
    return ok(undefined);
  }
  registerProtocol(_p: number, handler: (d: Ipv4Delivery) => void): void {
    this.handler = handler;
  }
  mtuTo(): number {
    return this.mtu;
  }
  sourceFor(): number | undefined {
    return this.cidr?.address;
  }
  deliver(src: number, payload: Uint8Array, offload?: Ipv4Delivery["offload"], header: Uint8Array = EMPTY): void {
    const dst = this.cidr?.address ?? 0;
    const d: Ipv4Delivery =
      offload === undefined ? { src, dst, protocol: 6, ttl: 64, payload, header } : { src, dst, protocol: 6, ttl: 64, payload, header, offload };
    this.handler?.(d);
  }
}
const EMPTY = new Uint8Array(0);

/** A segment the stack emitted, parsed. */
export interface Captured extends TcpRepr {
  readonly raw: Uint8Array;
  readonly at: number;
  /** The IPv4 TOS byte the stack asked for (its low 2 bits: the ECN field). */
  readonly tos: number;
}

/** One TCP layer under test and a scripted peer at PEER_ADDR. */
export interface TcpTestPeer {
  readonly clock: VirtualClock;
  readonly rng: Rng;
  readonly ip: TestIpv4;
  readonly tcp: ExtendedTcpLayer;
  /** Segments emitted and not yet taken. */
  readonly sent: Captured[];
  /** Takes the next emitted segment (throws if there is none: a test failure). */
  next(): Captured;
  /** Takes every emitted segment. */
  drain(): Captured[];
  /** Injects a segment from the peer (defaults: ports from the last connection, window 65535, no
   * options); `tos` is the IPv4 TOS byte it arrives with (3 in the low bits: CE). */
  inject(seg: Partial<TcpRepr> & { flags: number; tos?: number }): void;
  /** Injects raw bytes as the TCP payload of a datagram from the peer. */
  injectRaw(bytes: Uint8Array): void;
  /** Delivers an ICMP error about one of the stack's segments (as the ICMP layer would). */
  icmpError(kind: IcmpErrorReport["kind"], code: number, quoted: Captured, nextHopMtu?: number): void;
}

/** Creates a TCP layer on a TestIpv4 with a recording peer. */
export function createTcpTestPeer(options: TcpLayerOptions & { mtu?: number; seed?: number; localPort?: number; peerPort?: number } = {}): TcpTestPeer {
  const clock = createVirtualClock(0);
  const rng = createRng(options.seed ?? 1);
  const sent: Captured[] = [];
  const ip = new TestIpv4(LOCAL_ADDR, options.mtu ?? 1500, (dst, payload, opts) => {
    if (dst !== PEER_ADDR) throw new Error(`segment to unexpected address ${dst}`);
    const r = parseTcp(payload, { src: LOCAL_ADDR, dst: PEER_ADDR });
    if (!r.ok) throw new Error(`stack emitted a bad segment: ${r.error}`);
    sent.push({ ...r.value, payload: r.value.payload.slice(), raw: payload.slice(), at: clock.now(), tos: opts?.tos ?? 0 });
  });
  let icmpHandler: ((e: IcmpErrorReport) => void) | undefined;
  const icmp = {
    onError: (_p: number, h: (e: IcmpErrorReport) => void) => {
      icmpHandler = h;
    },
  };
  const tcp = createTcpLayer({ ip, clock, rng, icmp }, options);
  const defaults = { srcPort: options.peerPort ?? 40000, dstPort: options.localPort ?? 80 };
  return {
    clock,
    rng,
    ip,
    tcp,
    sent,
    next() {
      const s = sent.shift();
      if (s === undefined) throw new Error(`no segment was emitted (t=${clock.now()})`);
      return s;
    },
    drain() {
      return sent.splice(0);
    },
    inject(seg) {
      const repr: TcpRepr = {
        srcPort: seg.srcPort ?? defaults.srcPort,
        dstPort: seg.dstPort ?? defaults.dstPort,
        seq: seg.seq ?? 0,
        ack: seg.ack ?? 0,
        flags: seg.flags,
        window: seg.window ?? 65535,
        urgent: seg.urgent ?? 0,
        options: seg.options ?? {},
        payload: seg.payload ?? EMPTY,
      };
      const b = new Uint8Array(tcpHeaderLength(repr) + repr.payload.length);
      emitTcp(repr, b, 0, { src: PEER_ADDR, dst: LOCAL_ADDR });
      ip.deliver(PEER_ADDR, b, undefined, seg.tos === undefined ? undefined : Uint8Array.of(0x45, seg.tos));
    },
    injectRaw(bytes) {
      ip.deliver(PEER_ADDR, bytes);
    },
    icmpError(kind, code, quoted, nextHopMtu = 0) {
      icmpHandler?.({
        kind,
        code,
        from: PEER_ADDR,
        nextHopMtu,
        quote: { src: LOCAL_ADDR, dst: PEER_ADDR, protocol: 6, ident: 0, transport: quoted.raw.subarray(0, 8) },
      });
    },
  };
}

/**
 * A real clock on a busy machine: the sender loses the CPU for `ms` right after the device took a
 * segment (each one, or only the `nth`, counted from 1), so the clock reads `ms` later when the
 * stack looks again although the segment left before. The peer's clock keeps the skew.
 */
export function stallAfterSends(peer: TcpTestPeer, ms: number, nth?: number): void {
  const virtualNow = peer.clock.now.bind(peer.clock);
  let stalled = 0;
  let sends = 0;
  peer.clock.now = () => virtualNow() + stalled;
  const send = peer.ip.send.bind(peer.ip);
  peer.ip.send = (...args) => {
    const r = send(...args);
    sends++;
    if (nth === undefined || sends === nth) stalled += ms;
    return r;
  };
}

/** Impairments of one direction of a path. Probabilities are per segment. */
export interface PathImpairments {
  readonly loss?: number;
  readonly delayMs?: number;
  readonly jitterMs?: number;
  readonly reorder?: number;
  readonly duplicate?: number;
  readonly corrupt?: number;
  /** Bits per second (0 = unlimited). */
  readonly rateBps?: number;
  /** Bytes queued at the bottleneck before tail drop (with rateBps). */
  readonly queueBytes?: number;
}

/** Two TCP layers joined by an impaired path, in virtual time. */
export interface TcpPathPair {
  readonly clock: VirtualClock;
  readonly a: ExtendedTcpLayer;
  readonly b: ExtendedTcpLayer;
  readonly addrA: number;
  readonly addrB: number;
  /** Segments handed to the path in each direction, and dropped. */
  readonly counters: { aToB: number; bToA: number; dropped: number; corrupted: number };
  /** Optional tap on every datagram entering the path. */
  tap: ((from: number, to: number, payload: Uint8Array, at: number) => void) | null;
}

/** Creates two layers (192.0.2.1 and 192.0.2.2) on a path with the given impairments. */
export function createTcpPathPair(
  o: { seed?: number; mtu?: number; impair?: PathImpairments; a?: TcpLayerOptions; b?: TcpLayerOptions; clock?: VirtualClock } = {},
): TcpPathPair {
  const clock = o.clock ?? createVirtualClock(0);
  const pathRng = createRng((o.seed ?? 1) ^ 0x5a5a5a5a);
  const imp = o.impair ?? {};
  const counters = { aToB: 0, bToA: 0, dropped: 0, corrupted: 0 };
  const mtu = o.mtu ?? 1500;
  const busyUntil = new Map<TestIpv4, number>();
  const pair: { tap: TcpPathPair["tap"] } = { tap: null };
  const path = (from: TestIpv4, to: TestIpv4) => (_dst: number, payload: Uint8Array, opts?: Ipv4SendOptions) => {
    const now = clock.now();
    if (from === ipA) counters.aToB++;
    else counters.bToA++;
    pair.tap?.(from.cidr!.address, to.cidr!.address, payload, now);
    if (imp.loss !== undefined && pathRng.nextFloat() < imp.loss) {
      counters.dropped++;
      return;
    }
    let at = now + (imp.delayMs ?? 0);
    if (imp.rateBps !== undefined && imp.rateBps > 0) {
      const txMs = ((payload.length + 20 + 18) * 8 * 1000) / imp.rateBps;
      const start = Math.max(now, busyUntil.get(from) ?? 0);
      if (imp.queueBytes !== undefined && ((start - now) * imp.rateBps) / 8000 > imp.queueBytes) {
        counters.dropped++;
        return;
      }
      busyUntil.set(from, start + txMs);
      at = start + txMs + (imp.delayMs ?? 0);
    }
    if (imp.jitterMs !== undefined) at += pathRng.nextFloat() * imp.jitterMs;
    if (imp.reorder !== undefined && pathRng.nextFloat() < imp.reorder) at += 1 + pathRng.nextFloat() * Math.max(2, (imp.delayMs ?? 1) * 2);
    let data = payload;
    const offload = opts?.offload?.csumBlank === true ? { csumBlank: true } : undefined;
    if (imp.corrupt !== undefined && pathRng.nextFloat() < imp.corrupt) {
      data = payload.slice();
      data[pathRng.nextInt(data.length)]! ^= 1 << pathRng.nextInt(8);
      counters.corrupted++;
    }
    const deliver = (bytes: Uint8Array) => () => to.deliver(from.cidr!.address, bytes, offload);
    if (at <= now && imp.reorder === undefined) clock.setTimer(now, deliver(data));
    else clock.setTimer(at, deliver(data));
    if (imp.duplicate !== undefined && pathRng.nextFloat() < imp.duplicate) clock.setTimer(at + pathRng.nextFloat() * 2, deliver(data.slice()));
  };
  const ipA = new TestIpv4(0xc0000201, mtu, () => undefined);
  const ipB = new TestIpv4(0xc0000202, mtu, () => undefined);
  ipA.out = path(ipA, ipB);
  ipB.out = path(ipB, ipA);
  const a = createTcpLayer({ ip: ipA, clock, rng: createRng((o.seed ?? 1) * 3 + 1) }, o.a ?? {});
  const b = createTcpLayer({ ip: ipB, clock, rng: createRng((o.seed ?? 1) * 7 + 2) }, o.b ?? {});
  return {
    clock,
    a,
    b,
    addrA: 0xc0000201,
    addrB: 0xc0000202,
    counters,
    get tap() {
      return pair.tap;
    },
    set tap(t) {
      pair.tap = t;
    },
  };
}

/** SYN options a Linux peer sends (MSS 1460, SACK, TS, WS 7). */
export function linuxSynOptions(tsVal: number): TcpOptions {
  return { mss: 1460, sackPermitted: true, tsVal, tsEcr: 0, windowScale: 7 };
}

/** Flags helper for assertions: "SA", "A", "FA", "R", "RA", "PA"... */
export function flagString(flags: number): string {
  let s = "";
  if (flags & 0x02) s += "S";
  if (flags & 0x01) s += "F";
  if (flags & 0x04) s += "R";
  if (flags & 0x08) s += "P";
  if (flags & TCP_FLAG_ACK) s += "A";
  return s;
}
