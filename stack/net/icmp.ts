// ICMPv4 for a host (RFC 792, RFC 1122 §3.2.2): answers echo requests, sends rate-limited
// errors (token bucket on the Clock), runs pings with RTT measured on the Clock, lowers the
// path MTU on fragmentation-needed (RFC 1191) and hands received errors to transports.
// createIcmp(deps, options) -> IcmpLayer; it registers protocol 1 and IPv4's error reporter.
import { type Result, ok, err } from "../result.ts";
import type { Clock, Rng, TimerId } from "../time.ts";
import { IPV4_ANY, IPV4_BROADCAST, type Ipv4Address } from "../wire/address.ts";
import { readU16 } from "../wire/bytes.ts";
import {
  ICMP_HEADER_LEN,
  ICMP_TIME_EXCEEDED_REASSEMBLY,
  ICMP_TIME_EXCEEDED_TTL,
  ICMP_TYPE_DST_UNREACHABLE,
  ICMP_TYPE_ECHO_REQUEST,
  ICMP_TYPE_PARAMETER_PROBLEM,
  ICMP_TYPE_REDIRECT,
  ICMP_TYPE_TIME_EXCEEDED,
  ICMP_UNREACH_FRAG_NEEDED,
  ICMP_UNREACH_HOST,
  ICMP_UNREACH_NET,
  ICMP_UNREACH_PORT,
  ICMP_UNREACH_PROTOCOL,
  type IcmpRepr,
  emitIcmp,
  parseIcmp,
  parseIcmpQuote,
} from "../wire/icmp.ts";
import { IP_PROTOCOL_ICMP } from "../wire/ipv4.ts";
import { createCounters } from "./counters.ts";
import { HEADROOM } from "./types.ts";
import type { IcmpErrorKind, IcmpErrorReport, IcmpLayer, Ipv4Delivery, Ipv4Stack, PingError, PingReply } from "./types.ts";
import { createTokenBucket } from "./rate-limit.ts";

export interface IcmpOptions {
  /** Error messages per second (token refill rate, default 100). */
  readonly errorsPerSecond?: number;
  /** Token bucket depth (default 50). */
  readonly errorBurst?: number;
  /** Answer echo requests (default true). */
  readonly echoReply?: boolean;
  /** Answer echo requests sent to broadcast/multicast (default false, like Linux). */
  readonly replyToBroadcastEcho?: boolean;
  /** Largest error message (IP header included), RFC 1812 §4.3.2.3 (default 576). */
  readonly maxErrorDatagram?: number;
  /** Pings outstanding at once (default 1024); more fail at once with "timeout". */
  readonly maxOutstandingPings?: number;
}

export interface IcmpDeps {
  readonly clock: Clock;
  readonly rng: Rng;
  readonly ipv4: Ipv4Stack;
}

interface OutstandingPing {
  readonly dst: Ipv4Address;
  readonly ident: number;
  readonly seq: number;
  readonly sentAt: number;
  readonly size: number;
  readonly cb: (r: Result<PingReply, PingError>) => void;
  timer: TimerId;
}

const ERROR_CODES: Record<IcmpErrorKind, readonly [number, number]> = {
  "net-unreachable": [ICMP_TYPE_DST_UNREACHABLE, ICMP_UNREACH_NET],
  "host-unreachable": [ICMP_TYPE_DST_UNREACHABLE, ICMP_UNREACH_HOST],
  "protocol-unreachable": [ICMP_TYPE_DST_UNREACHABLE, ICMP_UNREACH_PROTOCOL],
  "port-unreachable": [ICMP_TYPE_DST_UNREACHABLE, ICMP_UNREACH_PORT],
  "frag-needed": [ICMP_TYPE_DST_UNREACHABLE, ICMP_UNREACH_FRAG_NEEDED],
  "ttl-exceeded": [ICMP_TYPE_TIME_EXCEEDED, ICMP_TIME_EXCEEDED_TTL],
  "reassembly-timeout": [ICMP_TYPE_TIME_EXCEEDED, ICMP_TIME_EXCEEDED_REASSEMBLY],
};

const isErrorType = (t: number): boolean =>
  t === ICMP_TYPE_DST_UNREACHABLE || t === ICMP_TYPE_REDIRECT || t === ICMP_TYPE_TIME_EXCEEDED || t === ICMP_TYPE_PARAMETER_PROBLEM || t === 4;

/** Creates ICMP over an IPv4 layer. */
export function createIcmp(deps: IcmpDeps, options: IcmpOptions = {}): IcmpLayer {
  const { clock, rng, ipv4 } = deps;
  const rate = options.errorsPerSecond ?? 100;
  const burst = options.errorBurst ?? 50;
  const maxErrorDatagram = options.maxErrorDatagram ?? 576;
  const maxPings = options.maxOutstandingPings ?? 1024;
  const errorTokens = createTokenBucket(clock, rate, burst);
  const defaultIdent = rng.nextU32() & 0xffff;
  let nextSeq = 1;
  const pings = new Map<number, OutstandingPing>();
  const errorHandlers = new Map<number, (e: IcmpErrorReport) => void>();
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
    "localErrors",
  ] as const);
  const c = counters.c;

  const takeToken = (): boolean => errorTokens.take();

  const sendMessage = (dst: Ipv4Address, repr: IcmpRepr, length: number, opts?: { ttl?: number; dontFragment?: boolean }) => {
    const buf = new Uint8Array(HEADROOM + length);
    const msg = buf.subarray(HEADROOM);
    emitIcmp(repr, msg);
    const o: { ttl?: number; dontFragment?: boolean } = {};
    if (opts?.ttl !== undefined) o.ttl = opts.ttl;
    if (opts?.dontFragment !== undefined) o.dontFragment = opts.dontFragment;
    return ipv4.send(dst, IP_PROTOCOL_ICMP, msg, o);
  };

  const finishPing = (key: number, r: Result<PingReply, PingError>): void => {
    const p = pings.get(key);
    if (p === undefined) return;
    pings.delete(key);
    clock.cancel(p.timer);
    p.cb(r);
  };

  const receive = (d: Ipv4Delivery): void => {
    c.rx++;
    const r = parseIcmp(d.payload, { verifyChecksum: d.offload?.dataValidated !== true });
    if (!r.ok) return counters.drop(r.error);
    const m = r.value;
    switch (m.kind) {
      case "echo-request": {
        c.echoRequestsReceived++;
        if (options.echoReply === false) return counters.drop("echo-disabled");
        if (ipv4.isBroadcast(d.dst) && options.replyToBroadcastEcho !== true) return counters.drop("broadcast-echo");
        if (d.src === IPV4_ANY) return counters.drop("bad-source");
        const sent = sendMessage(d.src, { kind: "echo-reply", ident: m.ident, seq: m.seq, data: m.data }, ICMP_HEADER_LEN + m.data.length);
        if (sent.ok) c.echoRepliesSent++;
        else counters.drop(`reply-${sent.error}`);
        return;
      }
      case "echo-reply": {
        c.echoRepliesReceived++;
        const key = (m.ident << 16) | m.seq;
        const p = pings.get(key);
        if (p === undefined || (p.dst !== d.src && !ipv4.isBroadcast(p.dst)) || m.data.length !== p.size) return counters.drop("unmatched-reply");
        finishPing(key, ok({ from: d.src, ident: m.ident, seq: m.seq, bytes: m.data.length, ttl: d.ttl, rttMs: clock.now() - p.sentAt }));
        return;
      }
      case "redirect":
        return counters.drop("redirect-ignored");
      default: {
        c.errorsReceived++;
        const code = m.kind === "parameter-problem" ? 0 : m.code;
        const nextHopMtu = m.kind === "dst-unreachable" && m.code === ICMP_UNREACH_FRAG_NEEDED ? m.nextHopMtu : 0;
        dispatchError(m.kind, code, d.src, nextHopMtu, m.original);
      }
    }
  };

  const dispatchError = (kind: IcmpErrorReport["kind"], code: number, from: Ipv4Address, nextHopMtu: number, original: Uint8Array): void => {
    const q = parseIcmpQuote(original);
    if (!q.ok) return counters.drop(`bad-quote-${q.error}`);
    const quote = q.value;
    if (nextHopMtu !== 0) ipv4.updatePathMtu(quote.dst, nextHopMtu);
    if (quote.protocol === IP_PROTOCOL_ICMP && quote.transport.length >= 8 && quote.transport[0] === ICMP_TYPE_ECHO_REQUEST) {
      const key = (readU16(quote.transport, 4) << 16) | readU16(quote.transport, 6);
      if (pings.has(key)) finishPing(key, err(kind === "time-exceeded" ? "time-exceeded" : "unreachable", `icmp ${kind} code ${code} from ${from}`));
      return;
    }
    const h = errorHandlers.get(quote.protocol);
    if (h === undefined) return counters.drop("no-error-handler");
    h({ kind, code, from, nextHopMtu, quote });
  };

  ipv4.registerProtocol(IP_PROTOCOL_ICMP, receive);

  const layer: IcmpLayer = {
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
      const o: { ttl?: number; dontFragment?: boolean } = {};
      if (opts.ttl !== undefined) o.ttl = opts.ttl;
      if (opts.dontFragment !== undefined) o.dontFragment = opts.dontFragment;
      const p: OutstandingPing = { dst, ident, seq, sentAt: clock.now(), size, cb, timer: 0 };
      pings.set(key, p);
      const sent = sendMessage(dst, { kind: "echo-request", ident, seq, data }, ICMP_HEADER_LEN + size, o);
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
          const q = pings.get(key);
          if (q === p) {
            pings.delete(key);
            clock.cancel(p.timer);
          }
        },
      };
    },
    sendError(kind, header, payload, nextHopMtu = 0) {
      if (header.length < 20) return false;
      const src = ((header[12]! << 24) | (header[13]! << 16) | (header[14]! << 8) | header[15]!) >>> 0;
      const dst = ((header[16]! << 24) | (header[17]! << 16) | (header[18]! << 8) | header[19]!) >>> 0;
      const protocol = header[9]!;
      const fragOffset = readU16(header, 6) & 0x1fff;
      // RFC 1122 §3.2.2: never about an ICMP error, a broadcast/multicast, a non-initial fragment,
      // or a datagram whose source is not a unicast host.
      if (protocol === IP_PROTOCOL_ICMP && (payload.length < 1 || isErrorType(payload[0]!))) return (counters.drop("error-about-error"), false);
      if (ipv4.isBroadcast(dst) || fragOffset !== 0) return (counters.drop("error-about-broadcast-or-fragment"), false);
      if (src === IPV4_ANY || src === IPV4_BROADCAST || src >>> 28 >= 14 || src >>> 24 === 127 || ipv4.isBroadcast(src))
        return (counters.drop("error-bad-source"), false);
      if (!takeToken()) {
        c.rateLimited++;
        return false;
      }
      const quoteLen = Math.min(header.length + payload.length, maxErrorDatagram - 20 - ICMP_HEADER_LEN);
      const buf = new Uint8Array(HEADROOM + ICMP_HEADER_LEN + quoteLen);
      const msg = buf.subarray(HEADROOM);
      const original = msg.subarray(ICMP_HEADER_LEN);
      original.set(header.subarray(0, quoteLen));
      if (quoteLen > header.length) original.set(payload.subarray(0, quoteLen - header.length), header.length);
      const [type, code] = ERROR_CODES[kind];
      const repr: IcmpRepr =
        type === ICMP_TYPE_TIME_EXCEEDED
          ? { kind: "time-exceeded", code, original }
          : { kind: "dst-unreachable", code, nextHopMtu: kind === "frag-needed" ? nextHopMtu : 0, original };
      emitIcmp(repr, msg);
      const r = ipv4.send(src, IP_PROTOCOL_ICMP, msg);
      if (!r.ok) return (counters.drop(`error-${r.error}`), false);
      c.errorsSent++;
      return true;
    },
    reportLocalError(kind, datagram) {
      c.localErrors++;
      dispatchError("dst-unreachable", ERROR_CODES[kind][1], ipv4.sourceFor(0) ?? IPV4_ANY, 0, datagram);
    },
    onError(protocol, handler) {
      errorHandlers.set(protocol, handler);
    },
    counters: () => counters.snapshot(),
  };
  ipv4.setErrorReporter((kind, header, payload) => {
    layer.sendError(kind, header, payload);
  });
  return layer;
}
