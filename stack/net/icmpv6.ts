// ICMPv6 for a host (RFC 4443): answers echo requests (also to multicast groups we listen to, as
// Linux does), runs pings with RTT on the Clock, sends rate-limited errors (the token bucket of
// rate-limit.ts, RFC 4443 §2.4(f)) with the §2.4(e) exclusions, lowers the path MTU on Packet Too
// Big (RFC 8201), hands received errors to transports, and passes ND (133-137) and MLD
// (130-132, 143) messages to Neighbor Discovery. The checksum covers the v6 pseudo-header.
// createIcmpv6(deps, options) -> Icmpv6Layer; it registers Next Header 58 and IPv6's error reporter.
import { type Result, ok, err } from "../result.ts";
import type { Clock, Rng, TimerId } from "../time.ts";
import { readU16 } from "../wire/bytes.ts";
import { type Ipv6Address, formatIpv6, ipv6Equal, isIpv6Multicast, isIpv6Unspecified } from "../wire/ipv6-address.ts";
import { IPV6_HEADER_LEN, IPV6_NEXT_HEADER_ICMPV6 } from "../wire/ipv6.ts";
import {
  ICMPV6_ERROR_MAX_LEN,
  ICMPV6_HEADER_LEN,
  ICMPV6_TIME_EXCEEDED_HOP_LIMIT,
  ICMPV6_TIME_EXCEEDED_REASSEMBLY,
  ICMPV6_TYPE_ECHO_REQUEST,
  ICMPV6_UNREACH_ADDRESS,
  ICMPV6_UNREACH_NO_ROUTE,
  ICMPV6_UNREACH_PORT,
  type Icmpv6Repr,
  emitIcmpv6,
  parseIcmpv6,
  parseIcmpv6Quote,
} from "../wire/icmpv6.ts";
import { isNdpType } from "../wire/ndp.ts";
import { isMldType } from "../wire/mld.ts";
import { createCounters } from "./counters.ts";
import { createTokenBucket } from "./rate-limit.ts";
import { HEADROOM } from "./types.ts";
import type { Icmpv6ErrorKind, Icmpv6ErrorReport, Icmpv6Layer, Ipv6Delivery, Ipv6Stack, Ping6Error, Ping6Reply } from "./ipv6-types.ts";

export interface Icmpv6Options {
  /** Errors per second (token refill, default 100) and bucket depth (default 50). */
  readonly errorsPerSecond?: number;
  readonly errorBurst?: number;
  /** Answer echo requests (default true). */
  readonly echoReply?: boolean;
  /** Answer echo requests sent to a multicast group (default true, like Linux's icmp_echo_ignore_multicast=0). */
  readonly replyToMulticastEcho?: boolean;
  /** Pings outstanding at once (default 1024). */
  readonly maxOutstandingPings?: number;
}

export interface Icmpv6Deps {
  readonly clock: Clock;
  readonly rng: Rng;
  readonly ipv6: Ipv6Stack;
}

interface OutstandingPing {
  readonly dst: Ipv6Address;
  readonly sentAt: number;
  readonly size: number;
  readonly cb: (r: Result<Ping6Reply, Ping6Error>) => void;
  timer: TimerId;
}

const ERROR_CODES: Record<Exclude<Icmpv6ErrorKind, "parameter-problem" | "packet-too-big">, readonly ["dst-unreachable" | "time-exceeded", number]> = {
  "no-route": ["dst-unreachable", ICMPV6_UNREACH_NO_ROUTE],
  "address-unreachable": ["dst-unreachable", ICMPV6_UNREACH_ADDRESS],
  "port-unreachable": ["dst-unreachable", ICMPV6_UNREACH_PORT],
  "hop-limit-exceeded": ["time-exceeded", ICMPV6_TIME_EXCEEDED_HOP_LIMIT],
  "reassembly-timeout": ["time-exceeded", ICMPV6_TIME_EXCEEDED_REASSEMBLY],
};

/** Creates ICMPv6 over an IPv6 layer. */
export function createIcmpv6(deps: Icmpv6Deps, options: Icmpv6Options = {}): Icmpv6Layer {
  const { clock, rng, ipv6 } = deps;
  const ndp = ipv6.ndp;
  const tokens = createTokenBucket(clock, options.errorsPerSecond ?? 100, options.errorBurst ?? 50);
  const maxPings = options.maxOutstandingPings ?? 1024;
  const defaultIdent = rng.nextU32() & 0xffff;
  let nextSeq = 1;
  const pings = new Map<number, OutstandingPing>();
  const errorHandlers = new Map<number, (e: Icmpv6ErrorReport) => void>();
  const counters = createCounters([
    "rx",
    "echoRequestsReceived",
    "echoRepliesSent",
    "echoRequestsSent",
    "echoRepliesReceived",
    "errorsSent",
    "errorsReceived",
    "rateLimited",
    "pingTimeouts",
  ] as const);
  const c = counters.c;

  const send = (dst: Ipv6Address, repr: Icmpv6Repr, length: number, src: Ipv6Address | undefined, hopLimit?: number) => {
    const from = src ?? ipv6.sourceFor(dst);
    if (from === undefined) return err("no-address" as const);
    const buf = new Uint8Array(HEADROOM + length);
    const msg = buf.subarray(HEADROOM);
    emitIcmpv6(repr, msg, 0, from, dst);
    return ipv6.send(dst, IPV6_NEXT_HEADER_ICMPV6, msg, hopLimit === undefined ? { src: from } : { src: from, hopLimit });
  };

  const finishPing = (key: number, r: Result<Ping6Reply, Ping6Error>): void => {
    const p = pings.get(key);
    if (p === undefined) return;
    pings.delete(key);
    clock.cancel(p.timer);
    p.cb(r);
  };

  const receive = (d: Ipv6Delivery): void => {
    c.rx++;
    if (d.payload.length < 1) return counters.drop("truncated");
    const type = d.payload[0]!;
    if (isNdpType(type)) return ndp.receiveNdp(d);
    if (isMldType(type)) return ndp.receiveMld(d);
    const r = parseIcmpv6(d.payload, d.src, d.dst, { verifyChecksum: d.offload?.dataValidated !== true });
    if (!r.ok) return counters.drop(r.error);
    const m = r.value;
    switch (m.kind) {
      case "echo-request": {
        c.echoRequestsReceived++;
        if (options.echoReply === false) return counters.drop("echo-disabled");
        const multicast = isIpv6Multicast(d.dst);
        if (multicast && options.replyToMulticastEcho === false) return counters.drop("multicast-echo");
        if (isIpv6Unspecified(d.src)) return counters.drop("bad-source");
        // RFC 4443 §4.2: the reply's source is the request's destination, or one of ours when that was multicast.
        const sent = send(
          d.src,
          { kind: "echo-reply", ident: m.ident, seq: m.seq, data: m.data },
          ICMPV6_HEADER_LEN + m.data.length,
          multicast ? undefined : d.dst,
        );
        if (sent.ok) c.echoRepliesSent++;
        else counters.drop(`reply-${sent.error}`);
        return;
      }
      case "echo-reply": {
        c.echoRepliesReceived++;
        const key = (m.ident << 16) | m.seq;
        const p = pings.get(key);
        if (p === undefined || (!ipv6Equal(p.dst, d.src) && !isIpv6Multicast(p.dst)) || m.data.length !== p.size) return counters.drop("unmatched-reply");
        ndp.confirmReachable(d.src);
        finishPing(key, ok({ from: d.src, ident: m.ident, seq: m.seq, bytes: m.data.length, hopLimit: d.hopLimit, rttMs: clock.now() - p.sentAt }));
        return;
      }
      case "unknown-error":
        c.errorsReceived++;
        return counters.drop("unknown-error-type");
      default: {
        c.errorsReceived++;
        const q = parseIcmpv6Quote(m.original);
        if (!q.ok) return counters.drop(`bad-quote-${q.error}`);
        const quote = q.value;
        const mtu = m.kind === "packet-too-big" ? m.mtu : 0;
        if (m.kind === "packet-too-big") ipv6.updatePathMtu(quote.dst, m.mtu);
        if (quote.nextHeader === IPV6_NEXT_HEADER_ICMPV6 && quote.transport.length >= 8 && quote.transport[0] === ICMPV6_TYPE_ECHO_REQUEST) {
          const key = (readU16(quote.transport, 4) << 16) | readU16(quote.transport, 6);
          const e: Ping6Error = m.kind === "time-exceeded" ? "time-exceeded" : m.kind === "dst-unreachable" ? "unreachable" : m.kind;
          if (pings.has(key)) finishPing(key, err(e, `icmpv6 ${m.kind} code ${m.code ?? 0} from ${formatIpv6(d.src)}`));
          return;
        }
        const h = errorHandlers.get(quote.nextHeader);
        if (h === undefined) return counters.drop("no-error-handler");
        h({ kind: m.kind, code: m.code ?? 0, from: d.src, mtu, quote });
      }
    }
  };

  ipv6.registerProtocol(IPV6_NEXT_HEADER_ICMPV6, receive);

  const layer: Icmpv6Layer = {
    ping(dst, opts, cb) {
      const ident = (opts.ident ?? defaultIdent) & 0xffff;
      const seq = (opts.seq ?? nextSeq++) & 0xffff;
      const size = opts.size ?? 56;
      const key = (ident << 16) | seq;
      const none = { cancel() {} };
      if (pings.has(key) || pings.size >= maxPings) {
        cb(err("timeout", "too many outstanding pings or duplicate ident/seq"));
        return none;
      }
      const data = new Uint8Array(size);
      for (let i = 0; i < size; i++) data[i] = i & 0xff;
      const p: OutstandingPing = { dst: dst.slice(), sentAt: clock.now(), size, cb, timer: 0 };
      pings.set(key, p);
      const sent = send(dst, { kind: "echo-request", ident, seq, data }, ICMPV6_HEADER_LEN + size, opts.src, opts.hopLimit);
      if (!sent.ok) {
        pings.delete(key);
        cb(err(sent.error));
        return none;
      }
      c.echoRequestsSent++;
      p.timer = clock.setTimer(clock.now() + (opts.timeoutMs ?? 1000), () => {
        c.pingTimeouts++;
        finishPing(key, err("timeout"));
      });
      return {
        cancel: () => {
          if (pings.get(key) === p) {
            pings.delete(key);
            clock.cancel(p.timer);
          }
        },
      };
    },
    sendError(kind, packet, d, extra) {
      if (packet.length < IPV6_HEADER_LEN) return false;
      const src = packet.subarray(8, 24);
      const nextHeader = packet[6]!;
      // RFC 4443 §2.4(e): never about an ICMPv6 error (walk not needed for the common case of no extension headers).
      if (nextHeader === IPV6_NEXT_HEADER_ICMPV6 && (packet.length <= IPV6_HEADER_LEN || packet[IPV6_HEADER_LEN]! < 128))
        return (counters.drop("error-about-error"), false);
      // §2.4(e.2, e.3): not about a packet to a multicast address or sent as link-layer multicast,
      // except Packet Too Big and Parameter Problem code 2 about an option.
      const exempt = kind === "packet-too-big" || (kind === "parameter-problem" && extra?.code === 2);
      if ((isIpv6Multicast(d.dst) || d.linkMulticast) && !exempt) return (counters.drop("error-about-multicast"), false);
      // §2.4(e.4): nor to a source that does not name a single node.
      if (isIpv6Unspecified(src) || isIpv6Multicast(src)) return (counters.drop("error-bad-source"), false);
      if (!tokens.take()) {
        c.rateLimited++;
        return false;
      }
      // §2.4(c): as much of the invoking packet as fits in the minimum MTU.
      const original = packet.subarray(0, Math.min(packet.length, ICMPV6_ERROR_MAX_LEN - ICMPV6_HEADER_LEN));
      let repr: Icmpv6Repr;
      if (kind === "parameter-problem") repr = { kind: "parameter-problem", code: extra?.code ?? 0, pointer: extra?.pointer ?? 0, original };
      else if (kind === "packet-too-big") repr = { kind: "packet-too-big", mtu: extra?.mtu ?? 1280, original };
      else {
        const [k, code] = ERROR_CODES[kind];
        repr = { kind: k, code, original };
      }
      // The error's source: the address the packet was sent to when it is ours, else one of ours.
      const from = !isIpv6Multicast(d.dst) && ipv6.isLocal(d.dst) ? d.dst : undefined;
      const r = send(src.slice(), repr, ICMPV6_HEADER_LEN + original.length, from);
      if (!r.ok) return (counters.drop(`error-${r.error}`), false);
      c.errorsSent++;
      return true;
    },
    onError(nextHeader, handler) {
      errorHandlers.set(nextHeader, handler);
    },
    counters: () => counters.snapshot(),
  };
  ipv6.setErrorReporter((report, d) => {
    if (report.kind === "parameter-problem") layer.sendError("parameter-problem", d.packet, d, { code: report.code, pointer: report.pointer });
    else layer.sendError(report.kind, d.packet, d);
  });
  return layer;
}
