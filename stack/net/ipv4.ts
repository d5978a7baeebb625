// The IPv4 layer (RFC 791, RFC 1122 §3.2.1) of a host with one interface: local subnet plus
// default gateway routing, limited/directed broadcast, output fragmentation honouring DF,
// reassembly (see reassembly.ts), path MTU cache (RFC 1191), local (self-addressed) delivery,
// checksum offload handling, source-routed and malformed-option datagrams refused, and counters.
// createIpv4(deps, options) -> Ipv4Stack; it registers itself for EtherType 0x0800.
import { type Result, ok, err } from "../result.ts";
import type { FrameOffload } from "../link/types.ts";
import type { Clock, Rng } from "../time.ts";
import { BROADCAST_MAC, IPV4_BROADCAST, type Ipv4Address, type Ipv4Cidr, type MacAddress, isMulticastMac, prefixToMask, writeIpv4 } from "../wire/address.ts";
import { writeU16 } from "../wire/bytes.ts";
import { checksumAdd, checksumFinish } from "../wire/checksum.ts";
import { ETHERTYPE_IPV4 } from "../wire/ethernet.ts";
import {
  IPV4_CHECKSUM,
  IPV4_FLAG_DF,
  IPV4_FLAG_MF,
  IPV4_FLAGS_FRAG,
  IPV4_HEADER_LEN,
  IPV4_IDENT,
  IPV4_LENGTH,
  IPV4_MAX_LEN,
  IPV4_PROTOCOL,
  IPV4_TOS,
  IPV4_TTL,
  IPV4_VER_IHL,
  IP_PROTOCOL_TCP,
  IP_PROTOCOL_UDP,
  Ipv4Packet,
  scanIpv4Options,
} from "../wire/ipv4.ts";
import { createCounters } from "./counters.ts";
import { type ReassemblyOptions, createReassembler } from "./reassembly.ts";
import type { ArpLayer, EthernetLayer, Ipv4Delivery, Ipv4ErrorReport, Ipv4SendError, Ipv4SendOptions, Ipv4Stack } from "./types.ts";

export interface Ipv4Options {
  readonly cidr?: Ipv4Cidr;
  readonly gateway?: Ipv4Address;
  /** TTL of datagrams we originate (default 64). */
  readonly defaultTtl?: number;
  readonly reassembly?: ReassemblyOptions;
  /** Lifetime of a learned path MTU (default 600 000 ms, RFC 1191 §6.3). */
  readonly pmtuTimeoutMs?: number;
  /** Most path MTU entries kept (default 256). */
  readonly maxPmtuEntries?: number;
  /** Router hooks (see ../router.ts); a host leaves them unset. */
  readonly forwarding?: Ipv4ForwardingHooks;
}

/** How an interface of a multi-interface stack hands datagrams to the forwarding plane. */
export interface Ipv4ForwardingHooks {
  /** Receives a valid datagram that is not addressed to this interface (instead of dropping it as
   * not-for-us); `linkBroadcast` is true when its frame was a link-layer broadcast or multicast. */
  readonly forward: (packet: Uint8Array, linkBroadcast: boolean) => void;
  /** True for the addresses of the stack's other interfaces (what we send to them is delivered locally). */
  readonly isOtherLocal: (dst: Ipv4Address) => boolean;
  /** Receives this interface's input function, through which the forwarding plane delivers
   * datagrams for this interface's address that arrived on another interface. */
  readonly attach: (receive: (packet: Uint8Array) => void) => void;
  /** Sends a datagram we originate whose destination is off-link (by the routing table, not the gateway). */
  readonly output: (packet: Uint8Array) => Result<void, Ipv4SendError>;
}

export interface Ipv4Deps {
  readonly clock: Clock;
  readonly rng: Rng;
  readonly ethernet: EthernetLayer;
  readonly arp: ArpLayer;
}

/** RFC 791: the smallest MTU a link may have. */
const MIN_LINK_MTU = 68;

const VALIDATED: FrameOffload = Object.freeze({ dataValidated: true });

/**
 * A datagram handed to a transport; its header view is made on first use. Every field is set in
 * the constructor, undefined or not, so every Delivery has one hidden class (a transport reading
 * d.offload and d.release sees one shape, not four).
 */
class Delivery implements Ipv4Delivery {
  readonly #bytes: Uint8Array;
  readonly #headerLength: number;
  #header: Uint8Array | null;
  constructor(
    readonly src: Ipv4Address,
    readonly dst: Ipv4Address,
    readonly protocol: number,
    readonly ttl: number,
    readonly payload: Uint8Array,
    bytes: Uint8Array,
    headerLength: number,
    header: Uint8Array | null,
    readonly offload: FrameOffload | undefined,
    readonly release: (() => void) | undefined,
  ) {
    this.#bytes = bytes;
    this.#headerLength = headerLength;
    this.#header = header;
  }
  get header(): Uint8Array {
    return (this.#header ??= this.#bytes.subarray(0, this.#headerLength));
  }
}

/** Creates the IPv4 layer. */
export function createIpv4(deps: Ipv4Deps, options: Ipv4Options = {}): Ipv4Stack {
  const { clock, rng, ethernet, arp } = deps;
  const hooks = options.forwarding;
  const defaultTtl = options.defaultTtl ?? 64;
  const pmtuTimeout = options.pmtuTimeoutMs ?? 600_000;
  const maxPmtu = options.maxPmtuEntries ?? 256;
  const linkMtu = ethernet.mtu;
  const handlers = new Map<number, (d: Ipv4Delivery) => void>();
  const pmtu = new Map<Ipv4Address, { mtu: number; expiresAt: number }>();
  let cidr: Ipv4Cidr | undefined;
  let gateway: Ipv4Address | undefined;
  let mask = 0;
  let network = 0;
  let directed = IPV4_BROADCAST;
  let ident = rng.nextU32() & 0xffff;
  let reporter: ((kind: Ipv4ErrorReport, header: Uint8Array, payload: Uint8Array) => void) | undefined;
  const counters = createCounters([
    "rxPackets",
    "rxBytes",
    "delivered",
    "txPackets",
    "txBytes",
    "txFragments",
    "fragmentedDatagrams",
    "rxFragments",
    "reassembled",
    "tooBig",
    "localDelivered",
    "checksumsCompleted",
    "copies",
  ] as const);
  const c = counters.c;
  const reassembler = createReassembler(
    {
      clock,
      onTimeout: (header, first) => reporter?.("reassembly-timeout", header, first),
    },
    options.reassembly,
  );

  const isMulticast = (a: Ipv4Address): boolean => a >>> 28 === 14;
  const isBroadcast = (a: Ipv4Address): boolean => a === IPV4_BROADCAST || (cidr !== undefined && cidr.prefixLength < 31 && a === directed) || isMulticast(a);
  const onLink = (a: Ipv4Address): boolean => cidr !== undefined && (a & mask) >>> 0 === network;
  const accepts = (a: Ipv4Address): boolean => {
    if (cidr === undefined) return true; // unconfigured (e.g. DHCP in progress): accept everything
    return a === cidr.address || a === IPV4_BROADCAST || (cidr.prefixLength < 31 && a === directed) || a === 0xe0000001;
  };

  const pathMtu = (dst: Ipv4Address): number => {
    const e = pmtu.get(dst);
    if (e === undefined) return linkMtu;
    if (e.expiresAt <= clock.now()) {
      pmtu.delete(dst);
      return linkMtu;
    }
    return e.mtu;
  };

  /** Fills the L4 checksum the device would have completed (csum_blank) when it cannot. */
  const completeChecksum = (protocol: number, l4: Uint8Array): void => {
    const at = protocol === IP_PROTOCOL_TCP ? 16 : protocol === IP_PROTOCOL_UDP ? 6 : -1;
    if (at < 0 || l4.length < at + 2) return;
    let sum = checksumFinish(checksumAdd(l4));
    if (sum === 0 && protocol === IP_PROTOCOL_UDP) sum = 0xffff;
    writeU16(l4, at, sum);
    c.checksumsCompleted++;
  };

  const writeHeader = (
    b: Uint8Array,
    total: number,
    id: number,
    flagsFrag: number,
    ttl: number,
    tos: number,
    protocol: number,
    src: Ipv4Address,
    dst: Ipv4Address,
  ): void => {
    b[IPV4_VER_IHL] = 0x45;
    b[IPV4_TOS] = tos;
    writeU16(b, IPV4_LENGTH, total);
    writeU16(b, IPV4_IDENT, id);
    writeU16(b, IPV4_FLAGS_FRAG, flagsFrag);
    b[IPV4_TTL] = ttl;
    b[IPV4_PROTOCOL] = protocol;
    writeIpv4(b, 12, src);
    writeIpv4(b, 16, dst);
    // RFC 1071 over the ten header words, from the values rather than read back from the bytes
    const sum = (0x4500 | tos) + total + id + flagsFrag + ((ttl << 8) | protocol) + (src >>> 16) + (src & 0xffff) + (dst >>> 16) + (dst & 0xffff);
    writeU16(b, IPV4_CHECKSUM, checksumFinish(sum));
  };

  const transmit = (
    packet: Uint8Array,
    dstMac: MacAddress | undefined,
    nextHop: Ipv4Address,
    offload: FrameOffload | undefined,
    release?: () => void,
  ): Result<void, Ipv4SendError> => {
    c.txPackets++;
    c.txBytes += packet.length;
    if (dstMac !== undefined) {
      ethernet.send(dstMac, ETHERTYPE_IPV4, packet, offload, release);
      return ok(undefined);
    }
    const r = arp.output(nextHop, packet, offload, release);
    return r.ok ? r : err(r.error);
  };

  const receive = (bytes: Uint8Array, offload: FrameOffload | undefined, linkBroadcast: boolean, release: (() => void) | undefined): void => {
    c.rxPackets++;
    c.rxBytes += bytes.length;
    const p = new Ipv4Packet(bytes);
    const chk = p.checkLen();
    if (!chk.ok) return counters.drop(chk.error);
    const validated = offload?.dataValidated === true || offload?.csumBlank === true;
    if (!validated && !p.verifyChecksum()) return counters.drop("bad-checksum");
    const hl = p.headerLength;
    if (hl > IPV4_HEADER_LEN) {
      // RFC 1812 §4.2.2.1 / §5.2.4: source routes are refused entirely, as Linux with
      // accept_source_route = 0 (the default for hosts); a malformed option list is dropped
      const o = scanIpv4Options(bytes.subarray(IPV4_HEADER_LEN, hl));
      if (!o.ok) return counters.drop(o.error);
      if (o.value.sourceRoute) return counters.drop("source-route");
    }
    const dst = p.dst;
    if (!accepts(dst)) {
      if (hooks === undefined) return counters.drop("not-for-us");
      return hooks.forward(bytes.subarray(0, p.totalLength), linkBroadcast);
    }
    const src = p.src;
    if (src === IPV4_BROADCAST || isMulticast(src) || (cidr !== undefined && src === directed && cidr.prefixLength < 31))
      return counters.drop("martian-source");
    // The header view is made only when someone asks for it (ICMP errors quoting it).
    let header: Uint8Array | null = null;
    let payload = bytes.subarray(hl, p.totalLength);
    const protocol = p.protocol;
    let deliveredOffload: FrameOffload | undefined = validated ? VALIDATED : undefined;
    if (p.moreFragments || p.fragmentOffset !== 0) {
      c.rxFragments++;
      const r = reassembler.add(bytes.subarray(0, hl), src, dst, protocol, p.ident, p.fragmentOffset, p.moreFragments, payload);
      if (r === undefined) return;
      c.reassembled++;
      header = r.header;
      payload = r.payload;
      deliveredOffload = undefined;
      release = undefined; // the reassembler may keep views of this frame
    }
    // RFC 1122 §4.2.3.10: a SYN (indeed any segment) addressed to a broadcast or multicast
    // address has no connection to belong to; TCP never sees it.
    if (protocol === IP_PROTOCOL_TCP && isBroadcast(dst)) return counters.drop("tcp-to-broadcast");
    const h = handlers.get(protocol);
    if (h === undefined) {
      counters.drop("unknown-protocol");
      if (!isBroadcast(dst)) reporter?.("protocol-unreachable", header ?? bytes.subarray(0, hl), payload);
      return;
    }
    c.delivered++;
    const ttl = header === null ? bytes[IPV4_TTL]! : header[IPV4_TTL]!;
    h(new Delivery(src, dst, protocol, ttl, payload, bytes, hl, header, deliveredOffload, release));
  };

  ethernet.registerEthertype(
    ETHERTYPE_IPV4,
    hooks === undefined
      ? (payload, frame) => receive(payload, frame.offload, false, frame.release)
      : (payload, frame, _src, dstMac) => receive(payload, frame.offload, isMulticastMac(dstMac), frame.release),
  );

  const layer: Ipv4Stack = {
    get cidr() {
      return cidr;
    },
    get gateway() {
      return gateway;
    },
    configure(newCidr, newGateway) {
      cidr = newCidr;
      gateway = newCidr === undefined ? undefined : newGateway;
      mask = newCidr === undefined ? 0 : prefixToMask(newCidr.prefixLength);
      network = newCidr === undefined ? 0 : (newCidr.address & mask) >>> 0;
      directed = newCidr === undefined ? IPV4_BROADCAST : (network | ~mask) >>> 0;
      arp.setAddress(newCidr?.address);
      pmtu.clear();
      if (newCidr !== undefined) arp.announce(newCidr.address); // gratuitous ARP (RFC 5227 §2.3)
    },
    send(dst, protocol, payload, opts?: Ipv4SendOptions) {
      const src = opts?.src ?? cidr?.address;
      let dstMac: MacAddress | undefined;
      let nextHop = dst;
      let local = false;
      let routed = false;
      if (dst === IPV4_BROADCAST || (cidr !== undefined && cidr.prefixLength < 31 && dst === directed)) {
        dstMac = BROADCAST_MAC;
      } else if (isMulticast(dst)) {
        dstMac = 0x01005e000000 + (dst & 0x7fffff); // RFC 1112 §6.4
      } else if (cidr === undefined) {
        return err("no-address");
      } else if (dst === cidr.address) {
        local = true;
      } else if (hooks !== undefined && hooks.isOtherLocal(dst)) {
        local = true;
      } else if (!onLink(dst)) {
        if (hooks !== undefined) routed = true;
        else if (gateway === undefined) return err("no-route");
        else nextHop = gateway;
      }
      if (src === undefined) return err("no-address");
      const total = IPV4_HEADER_LEN + payload.length;
      let offload = opts?.offload;
      const gso =
        !routed &&
        offload?.gsoSize !== undefined &&
        ethernet.offloads.tso &&
        total <= IPV4_MAX_LEN &&
        total + ethernet.headerLength <= ethernet.offloads.maxGsoFrame;
      const mtu = local ? IPV4_MAX_LEN : pathMtu(dst);
      const fragment = total > mtu && !gso && !routed;
      if (fragment && (opts?.dontFragment === true || total > IPV4_MAX_LEN)) {
        c.tooBig++;
        return err("too-big");
      }
      if (offload?.csumBlank === true && (local || fragment || routed || !ethernet.offloads.txChecksum)) {
        completeChecksum(protocol, payload);
        const { csumBlank: _, ...rest } = offload;
        offload = Object.keys(rest).length === 0 ? undefined : rest;
      }
      if (offload !== undefined && offload.gsoSize !== undefined && !gso) {
        const { gsoSize: _, ...rest } = offload;
        offload = Object.keys(rest).length === 0 ? undefined : rest;
      }
      const ttl = opts?.ttl ?? defaultTtl;
      const tos = opts?.tos ?? 0;
      const id = ident;
      ident = (ident + 1) & 0xffff;
      const df = opts?.dontFragment === true ? IPV4_FLAG_DF : 0;
      const hl = ethernet.headerLength;
      if (!fragment) {
        let packet: Uint8Array;
        if (payload.byteOffset >= IPV4_HEADER_LEN + hl) {
          packet = new Uint8Array(payload.buffer, payload.byteOffset - IPV4_HEADER_LEN, total);
        } else {
          const buf = new Uint8Array(hl + total);
          buf.set(payload, hl + IPV4_HEADER_LEN);
          packet = buf.subarray(hl);
          c.copies++;
        }
        writeHeader(packet, total, id, df, ttl, tos, protocol, src, dst);
        if (local) {
          c.localDelivered++;
          const copy = packet.slice();
          clock.setTimer(clock.now(), () => receive(copy, undefined, false, undefined));
          return ok(undefined);
        }
        if (routed) {
          c.txPackets++;
          c.txBytes += packet.length;
          return hooks!.output(packet);
        }
        // The payload's own buffer (no copy above): its recycling goes with the frame.
        return transmit(packet, dstMac, nextHop, offload, packet.buffer === payload.buffer ? opts?.release : undefined);
      }
      // RFC 791 §3.2 fragmentation: every fragment but the last carries a multiple of 8 bytes.
      const per = (mtu - IPV4_HEADER_LEN) & ~7;
      if (per < 8) return err("too-big");
      c.fragmentedDatagrams++;
      for (let off = 0; off < payload.length; off += per) {
        const n = Math.min(per, payload.length - off);
        const more = off + n < payload.length;
        const buf = new Uint8Array(hl + IPV4_HEADER_LEN + n);
        const packet = buf.subarray(hl);
        packet.set(payload.subarray(off, off + n), IPV4_HEADER_LEN);
        writeHeader(packet, IPV4_HEADER_LEN + n, id, (more ? IPV4_FLAG_MF : 0) | (off >>> 3), ttl, tos, protocol, src, dst);
        c.txFragments++;
        const r = transmit(packet, dstMac, nextHop, offload);
        if (!r.ok) return r;
      }
      return ok(undefined);
    },
    registerProtocol(protocol, handler) {
      handlers.set(protocol, handler);
    },
    mtuTo(dst) {
      return pathMtu(dst);
    },
    sourceFor(_dst) {
      return cidr?.address;
    },
    confirmReachable(dst) {
      // The neighbour that carries traffic to dst: dst itself on-link, else the gateway
      // (a router's off-link destinations belong to the forwarding plane, not confirmed here).
      if (cidr === undefined) return;
      if (onLink(dst)) arp.confirm(dst);
      else if (hooks === undefined && gateway !== undefined) arp.confirm(gateway);
    },
    setErrorReporter(r) {
      reporter = r;
    },
    updatePathMtu(dst, mtu) {
      if (!(mtu >= MIN_LINK_MTU)) return;
      const m = Math.min(mtu, linkMtu);
      if (m >= pathMtu(dst)) return; // RFC 1191 §6.3: ICMP only ever lowers the estimate
      if (!pmtu.has(dst) && pmtu.size >= maxPmtu) {
        const first = pmtu.keys().next();
        if (!first.done) pmtu.delete(first.value);
      }
      pmtu.set(dst, { mtu: m, expiresAt: clock.now() + pmtuTimeout });
    },
    isLocal: (a) => cidr !== undefined && (a === cidr.address || isBroadcast(a)),
    isBroadcast,
    counters: () => counters.snapshot(),
    reassemblyCounters: () => reassembler.counters(),
  };
  if (options.cidr !== undefined) layer.configure(options.cidr, options.gateway);
  hooks?.attach((packet) => receive(packet, undefined, false, undefined));
  return layer;
}
