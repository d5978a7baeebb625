// DHCPv6 client (RFC 8415 §18.2) for one IA_NA with one address, over UDP port 546.
//
// createDhcp6Client  stateful: SOLICIT (with RAPID_COMMIT unless turned off) -> ADVERTISEs
//                    collected for the first retransmission time, the best by PREFERENCE
//                    (255 at once) -> REQUEST -> REPLY; the address added to the interface with
//                    its lifetimes and DAD (failure: DECLINE, then SOLICIT again); RENEW at T1 to
//                    the server, REBIND at T2 to any, the address removed when its valid
//                    lifetime ends; RELEASE on stop. Stateless: INFORMATION-REQUEST for DNS
//                    servers, again after INFORMATION_REFRESH_TIME. Mode "from-ra" waits for a
//                    Router Advertisement: M -> stateful, O alone -> stateless (RFC 4861 §4.2).
//                    Every exchange retransmits as §15 says (IRT, MRT, MRC, MRD, RAND from the Rng,
//                    timers on the Clock); elapsed time in every message (§21.9).
import type { Clock, Rng, TimerId } from "../../time.ts";
import type { MacAddress } from "../../wire/address.ts";
import { type Ipv6Address, ipv6Equal, isIpv6LinkLocal, isIpv6Multicast, isIpv6Unspecified } from "../../wire/ipv6-address.ts";
import {
  ALL_DHCP_RELAY_AGENTS_AND_SERVERS,
  DHCP6_CLIENT_PORT,
  DHCP6_INFINITY,
  DHCP6_SERVER_PORT,
  type Dhcp6MessageTypeValue,
  type Dhcp6Option,
  Dhcp6MessageType,
  Dhcp6OptionCode,
  Dhcp6Status,
  dhcp6StatusOf,
  duidEqual,
  duidLl,
  emitDhcp6,
  findDhcp6Option,
  findDhcp6Options,
  parseDhcp6,
} from "../../wire/dhcp6.ts";
import { readU32 } from "../../wire/bytes.ts";
import type { Udp6Datagram, Udp6Socket, Udp6Stack } from "../../transport/udp6.ts";
import { NetlabError } from "../../error.ts";
import type { Dhcp6Client, Dhcp6ClientState, Dhcp6ClientStats, Dhcp6Host, Dhcp6Information, Dhcp6Lease, Dhcp6LeaseLostReason } from "./types.ts";

/** What the client needs from the stack. */
export interface Dhcp6ClientDeps {
  readonly clock: Clock;
  readonly rng: Rng;
  readonly udp6: Udp6Stack;
  readonly host: Dhcp6Host;
  /** The interface's MAC (the default DUID-LL and IAID). */
  readonly mac: MacAddress;
}

/** RFC 8415 §7.6 transmission parameters, seconds; tests may shrink them. */
export interface Dhcp6Timing {
  readonly solMaxDelay: number;
  readonly solTimeout: number;
  readonly solMaxRt: number;
  readonly reqTimeout: number;
  readonly reqMaxRt: number;
  readonly reqMaxRc: number;
  readonly renTimeout: number;
  readonly renMaxRt: number;
  readonly rebTimeout: number;
  readonly rebMaxRt: number;
  readonly infMaxDelay: number;
  readonly infTimeout: number;
  readonly infMaxRt: number;
  readonly relTimeout: number;
  readonly relMaxRc: number;
  readonly decTimeout: number;
  readonly decMaxRc: number;
}

/** RFC 8415 §7.6. */
export const DHCP6_TIMING: Dhcp6Timing = {
  solMaxDelay: 1,
  solTimeout: 1,
  solMaxRt: 3600,
  reqTimeout: 1,
  reqMaxRt: 30,
  reqMaxRc: 10,
  renTimeout: 10,
  renMaxRt: 600,
  rebTimeout: 10,
  rebMaxRt: 600,
  infMaxDelay: 1,
  infTimeout: 1,
  infMaxRt: 3600,
  relTimeout: 1,
  relMaxRc: 4,
  decTimeout: 1,
  decMaxRc: 4,
};

/** RFC 8415 §21.23: IRT_DEFAULT 86400 s and IRT_MINIMUM 600 s. */
const IRT_DEFAULT = 86_400,
  IRT_MINIMUM = 600;
/** RFC 8415 §21.23 INFORMATION_REFRESH_TIME, not parsed by name in wire/dhcp6.ts. */
const OPTION_INFORMATION_REFRESH_TIME = 32;

export interface Dhcp6ClientOptions {
  /** "stateful" (IA_NA, default), "stateless" (INFORMATION-REQUEST only), "from-ra" (by the RA's M/O flags). */
  readonly mode?: "stateful" | "stateless" | "from-ra";
  /** CLIENTID (default DUID-LL of the MAC). */
  readonly duid?: Uint8Array;
  /** IAID of the IA_NA (default the MAC's low 32 bits). */
  readonly iaid?: number;
  /** Include RAPID_COMMIT in SOLICIT (default true). */
  readonly rapidCommit?: boolean;
  /** Replace RFC 8415 §7.6 parameters (seconds). */
  readonly timing?: Partial<Dhcp6Timing>;
}

/** One message exchange with its retransmission state (RFC 8415 §15). */
interface Exchange {
  readonly msgType: Dhcp6MessageTypeValue;
  readonly xid: number;
  /** Clock ms of the first transmission. */
  startedAt: number;
  /** Seconds. */
  readonly irt: number;
  readonly mrt: number;
  /** Most transmissions (0: no limit). */
  readonly mrc: number;
  /** Absolute Clock ms after which the exchange fails (Infinity: never). */
  readonly deadline: number;
  readonly options: () => Dhcp6Option[];
  readonly onGiveUp: () => void;
  rtMs: number;
  count: number;
}

/** A unicast address a server may lease: not multicast, ::, ::1 or link-local (RFC 4291 §2.4). */
function usableAddress(a: Ipv6Address): boolean {
  const loopback = a.every((x, i) => x === (i === 15 ? 1 : 0));
  return !isIpv6Multicast(a) && !isIpv6Unspecified(a) && !loopback && !isIpv6LinkLocal(a);
}

/** The counter of each message type the client sends. */
const SENT_COUNTER: Partial<Record<number, "solicits" | "requests" | "renews" | "rebinds" | "releases" | "declines" | "informationRequests">> = {
  [Dhcp6MessageType.SOLICIT]: "solicits",
  [Dhcp6MessageType.REQUEST]: "requests",
  [Dhcp6MessageType.RENEW]: "renews",
  [Dhcp6MessageType.REBIND]: "rebinds",
  [Dhcp6MessageType.RELEASE]: "releases",
  [Dhcp6MessageType.DECLINE]: "declines",
  [Dhcp6MessageType.INFORMATION_REQUEST]: "informationRequests",
};

/** Creates a DHCPv6 client; call start(). */
export function createDhcp6Client(deps: Dhcp6ClientDeps, options: Dhcp6ClientOptions = {}): Dhcp6Client {
  const { clock, rng, udp6, host, mac } = deps;
  const t: Dhcp6Timing = { ...DHCP6_TIMING, ...options.timing };
  const duid = options.duid ?? duidLl(mac);
  const iaid = (options.iaid ?? mac % 0x100000000) >>> 0;
  const mode = options.mode ?? "stateful";
  const rapidCommit = options.rapidCommit ?? true;

  let state: Dhcp6ClientState = "stopped";
  let lease: Dhcp6Lease | undefined;
  let information: Dhcp6Information | undefined;
  let socket: Udp6Socket | undefined;
  let exchange: Exchange | undefined;
  let exchangeTimer: TimerId | undefined;
  const leaseTimers: TimerId[] = [];
  /** ADVERTISEs collected during the first RT of a SOLICIT. */
  let advertised: { serverId: Uint8Array; preference: number; address: Ipv6Address | undefined }[] = [];
  let collecting = false;
  /** The server a REQUEST goes to. */
  let chosen: { serverId: Uint8Array; address: Ipv6Address | undefined } | undefined;
  /** Set while a DAD for a new lease runs. */
  let pendingDad: Ipv6Address | undefined;

  const stats: Dhcp6ClientStats = {
    sent: 0,
    received: 0,
    ignored: 0,
    solicits: 0,
    advertises: 0,
    requests: 0,
    renews: 0,
    rebinds: 0,
    releases: 0,
    declines: 0,
    informationRequests: 0,
  };
  const stateHandlers: ((s: Dhcp6ClientState, p: Dhcp6ClientState) => void)[] = [];
  const boundHandlers: ((l: Dhcp6Lease) => void)[] = [];
  const lostHandlers: ((r: Dhcp6LeaseLostReason, l: Dhcp6Lease) => void)[] = [];
  const infoHandlers: ((i: Dhcp6Information) => void)[] = [];

  const setState = (next: Dhcp6ClientState): void => {
    if (next === state) return;
    const prev = state;
    state = next;
    for (const h of stateHandlers) h(next, prev);
  };

  // ---- retransmission (RFC 8415 §15) ----

  /** RAND: uniform in [-0.1, +0.1]; for the first SOLICIT strictly above 0 (§15). */
  const rand = (positive: boolean): number => (positive ? (1 - rng.nextFloat()) * 0.1 : (rng.nextFloat() * 2 - 1) * 0.1);

  const stopExchange = (): void => {
    if (exchangeTimer !== undefined) clock.cancel(exchangeTimer);
    exchangeTimer = undefined;
    exchange = undefined;
    collecting = false;
  };

  const send = (ex: Exchange): void => {
    if (socket === undefined) return;
    // §21.9: hundredths of a second since the first transmission of this exchange, 0 in the first.
    const elapsed = ex.count === 0 ? 0 : Math.min(0xffff, Math.floor((clock.now() - ex.startedAt) / 10));
    const bytes = emitDhcp6(
      {
        kind: "message",
        msgType: ex.msgType,
        transactionId: ex.xid,
        options: [{ kind: "client-id", duid }, { kind: "elapsed-time", centiseconds: elapsed }, ...ex.options()],
      },
      { headroom: 62 },
    );
    // Counted when sent: a transmission without a usable link-local address yet (DAD) fails, and the next one covers it.
    if (!socket.sendTo(ALL_DHCP_RELAY_AGENTS_AND_SERVERS, DHCP6_SERVER_PORT, bytes).ok) return;
    stats.sent++;
    const counter = SENT_COUNTER[ex.msgType];
    if (counter !== undefined) stats[counter]++;
  };

  const transmit = (ex: Exchange): void => {
    exchangeTimer = undefined;
    if (exchange !== ex) return;
    if (ex.msgType === Dhcp6MessageType.SOLICIT && collecting && ex.count > 0) {
      // §18.2.1: the first RT is over: take the best ADVERTISE collected, if any.
      collecting = false;
      if (advertised.length > 0) {
        requestBest();
        return;
      }
    }
    if (ex.mrc > 0 && ex.count >= ex.mrc) {
      stopExchange();
      ex.onGiveUp();
      return;
    }
    if (clock.now() >= ex.deadline) {
      stopExchange();
      ex.onGiveUp();
      return;
    }
    if (ex.count === 0) ex.startedAt = clock.now();
    send(ex);
    // §15: RT = IRT + RAND*IRT, then 2*RTprev + RAND*RTprev, capped to MRT + RAND*MRT.
    if (ex.count === 0) ex.rtMs = (ex.irt + rand(ex.msgType === Dhcp6MessageType.SOLICIT) * ex.irt) * 1000;
    else {
      ex.rtMs = 2 * ex.rtMs + rand(false) * ex.rtMs;
      if (ex.mrt > 0 && ex.rtMs > ex.mrt * 1000) ex.rtMs = (ex.mrt + rand(false) * ex.mrt) * 1000;
    }
    ex.count++;
    exchangeTimer = clock.setTimer(Math.min(clock.now() + ex.rtMs, ex.deadline), () => transmit(ex));
  };

  const startExchange = (p: {
    msgType: Dhcp6MessageTypeValue;
    irt: number;
    mrt: number;
    mrc?: number;
    mrdMs?: number;
    delayMaxS?: number;
    options: () => Dhcp6Option[];
    onGiveUp: () => void;
  }): void => {
    stopExchange();
    const ex: Exchange = {
      msgType: p.msgType,
      xid: rng.nextU32() & 0xffffff,
      startedAt: clock.now(),
      irt: p.irt,
      mrt: p.mrt,
      mrc: p.mrc ?? 0,
      deadline: p.mrdMs === undefined ? Infinity : clock.now() + p.mrdMs,
      options: p.options,
      onGiveUp: p.onGiveUp,
      rtMs: 0,
      count: 0,
    };
    exchange = ex;
    const delay = p.delayMaxS === undefined ? 0 : rng.nextFloat() * p.delayMaxS * 1000;
    exchangeTimer = clock.setTimer(clock.now() + delay, () => transmit(ex));
  };

  const oro = (extra: number[] = []): Dhcp6Option => ({ kind: "oro", codes: [Dhcp6OptionCode.DNS_SERVERS, ...extra] });
  const iaNa = (address?: Ipv6Address, lifetimes = false): Dhcp6Option => ({
    kind: "ia-na",
    iaid,
    t1: 0,
    t2: 0,
    options:
      address === undefined
        ? []
        : [
            {
              kind: "ia-addr",
              address,
              preferredLifetime: lifetimes && lease ? lease.preferredLifetime : 0,
              validLifetime: lifetimes && lease ? lease.validLifetime : 0,
              options: [],
            },
          ],
  });

  // ---- stateful ----

  const clearLeaseTimers = (): void => {
    for (const id of leaseTimers) clock.cancel(id);
    leaseTimers.length = 0;
  };

  const solicit = (): void => {
    clearLeaseTimers();
    advertised = [];
    chosen = undefined;
    setState("soliciting");
    collecting = true;
    startExchange({
      msgType: Dhcp6MessageType.SOLICIT,
      irt: t.solTimeout,
      mrt: t.solMaxRt,
      delayMaxS: t.solMaxDelay,
      options: () => [...(rapidCommit ? [{ kind: "rapid-commit" } as const] : []), iaNa(lease?.address), oro()],
      onGiveUp: solicit,
    });
  };

  const requestBest = (): void => {
    // §18.2.9: the highest preference wins; among equals, the first received.
    let best = advertised[0]!;
    for (const a of advertised) if (a.preference > best.preference) best = a;
    chosen = { serverId: best.serverId, address: best.address };
    setState("requesting");
    startExchange({
      msgType: Dhcp6MessageType.REQUEST,
      irt: t.reqTimeout,
      mrt: t.reqMaxRt,
      mrc: t.reqMaxRc,
      options: () => [{ kind: "server-id", duid: chosen!.serverId }, iaNa(chosen!.address), oro()],
      onGiveUp: solicit,
    });
  };

  const lose = (reason: Dhcp6LeaseLostReason): void => {
    const old = lease;
    lease = undefined;
    clearLeaseTimers();
    if (old === undefined) return;
    host.removeAddress(old.address);
    for (const h of lostHandlers) h(reason, old);
  };

  const renew = (): void => {
    if (lease === undefined) return;
    const l = lease;
    setState("renewing");
    // §18.2.4: MRD is the time until T2.
    startExchange({
      msgType: Dhcp6MessageType.RENEW,
      irt: t.renTimeout,
      mrt: t.renMaxRt,
      mrdMs: Math.max(0, l.rebindAt - clock.now()),
      options: () => [{ kind: "server-id", duid: l.serverId }, iaNa(l.address, true), oro()],
      onGiveUp: () => {
        /* T2's timer starts REBIND */
      },
    });
  };

  const rebind = (): void => {
    if (lease === undefined) return;
    const l = lease;
    setState("rebinding");
    // §18.2.5: to any server; MRD is the time until the valid lifetimes end.
    startExchange({
      msgType: Dhcp6MessageType.REBIND,
      irt: t.rebTimeout,
      mrt: t.rebMaxRt,
      mrdMs: Math.max(0, l.validUntil - clock.now()),
      options: () => [iaNa(l.address, true), oro()],
      onGiveUp: () => {
        /* the expiry timer restarts SOLICIT */
      },
    });
  };

  const decline = (address: Ipv6Address, serverId: Uint8Array): void => {
    // §18.2.8: DECLINE the duplicate address to the server that gave it, then SOLICIT again.
    setState("declining");
    startExchange({
      msgType: Dhcp6MessageType.DECLINE,
      irt: t.decTimeout,
      mrt: 0,
      mrc: t.decMaxRc,
      options: () => [
        { kind: "server-id", duid: serverId },
        { kind: "ia-na", iaid, t1: 0, t2: 0, options: [{ kind: "ia-addr", address, preferredLifetime: 0, validLifetime: 0, options: [] }] },
      ],
      onGiveUp: solicit,
    });
  };

  const seconds = (from: number, s: number): number => (s === DHCP6_INFINITY ? Infinity : from + s * 1000);

  const bind = (l: Dhcp6Lease): void => {
    stopExchange();
    clearLeaseTimers();
    lease = l;
    setState("bound");
    if (Number.isFinite(l.renewAt)) leaseTimers.push(clock.setTimer(l.renewAt, renew));
    if (Number.isFinite(l.rebindAt)) leaseTimers.push(clock.setTimer(l.rebindAt, rebind));
    if (Number.isFinite(l.validUntil))
      leaseTimers.push(
        clock.setTimer(l.validUntil, () => {
          lose("expired");
          solicit();
        }),
      );
    for (const h of boundHandlers) h(l);
  };

  /** §18.2.10: a REPLY to REQUEST, RENEW, REBIND or a rapid-commit SOLICIT. */
  const onLeaseReply = (options: readonly Dhcp6Option[], serverId: Uint8Array, viaRapidCommit: boolean): void => {
    const ex = exchange;
    if (ex === undefined) return;
    const top = dhcp6StatusOf(options);
    if (top === Dhcp6Status.NOT_ON_LINK && state === "requesting") {
      stopExchange();
      solicit();
      return;
    }
    if (top !== Dhcp6Status.SUCCESS) {
      stats.ignored++;
      return;
    }
    const ia = findDhcp6Options(options, "ia-na").find((x) => x.iaid === iaid);
    if (ia === undefined) {
      stats.ignored++;
      return;
    }
    const iaStatus = dhcp6StatusOf(ia.options);
    if (iaStatus === Dhcp6Status.NO_BINDING || iaStatus === Dhcp6Status.NOT_ON_LINK) {
      // §18.2.10.1: the server has no binding (or the link changed): start over with SOLICIT.
      stopExchange();
      lose(iaStatus === Dhcp6Status.NO_BINDING ? "no-binding" : "not-on-link");
      solicit();
      return;
    }
    if (iaStatus !== Dhcp6Status.SUCCESS) {
      // NoAddrsAvail and the rest: this server has nothing for us. To a REQUEST: SOLICIT again; to a
      // rapid-commit SOLICIT: keep soliciting on the backoff (a restart would skip it); else keep the lease.
      if (state === "requesting") {
        stopExchange();
        solicit();
      } else stats.ignored++;
      return;
    }
    // §21.4: an IA_NA with T1 > T2 (T2 non-zero) is discarded.
    if (ia.t2 !== 0 && ia.t1 > ia.t2) {
      stats.ignored++;
      return;
    }
    const addrs = findDhcp6Options(ia.options, "ia-addr");
    if (lease !== undefined && addrs.some((a) => ipv6Equal(a.address, lease!.address) && a.validLifetime === 0)) {
      // §18.2.10.1: a valid lifetime of 0 withdraws the address.
      lose("expired");
    }
    // §21.6: an address whose preferred lifetime exceeds its valid lifetime is discarded.
    const addr = addrs.find((a) => a.validLifetime !== 0 && a.preferredLifetime <= a.validLifetime && usableAddress(a.address));
    if (addr === undefined) {
      if (lease === undefined) {
        stopExchange();
        solicit();
      } else stats.ignored++;
      return;
    }
    const now = clock.now();
    // Lifetimes and T1/T2 count from the REPLY's arrival.
    const sentAt = now;
    // §18.2.4 / §21.4: T1 and T2 of 0 leave the times to the client: 0.5 and 0.8 of the preferred lifetime.
    const pref = addr.preferredLifetime;
    const t1 = ia.t1 !== 0 ? ia.t1 : pref === DHCP6_INFINITY ? DHCP6_INFINITY : Math.floor(pref * 0.5);
    const t2 = ia.t2 !== 0 ? ia.t2 : pref === DHCP6_INFINITY ? DHCP6_INFINITY : Math.floor(pref * 0.8);
    const dns = findDhcp6Option(options, "dns-servers")?.servers ?? [];
    const l: Dhcp6Lease = {
      address: addr.address,
      iaid,
      serverId,
      dnsServers: dns,
      preferredLifetime: pref,
      validLifetime: addr.validLifetime,
      t1,
      t2,
      acquiredAt: now,
      renewAt: seconds(sentAt, t1),
      rebindAt: seconds(sentAt, t2),
      preferredUntil: seconds(sentAt, pref),
      validUntil: seconds(sentAt, addr.validLifetime),
      rapidCommit: viaRapidCommit,
    };
    stopExchange();
    const renewal = lease !== undefined && ipv6Equal(lease.address, l.address);
    if (lease !== undefined && !renewal) lose("expired");
    const addOptions = { origin: "dhcpv6" as const, preferredUntil: l.preferredUntil, validUntil: l.validUntil };
    if (renewal) {
      host.addAddress(l.address, 128, undefined, addOptions);
      bind(l);
      return;
    }
    // §18.2.10.1: DAD (RFC 4862) on the new address before use; a duplicate is declined.
    pendingDad = l.address;
    host.addAddress(
      l.address,
      128,
      (r) => {
        if (pendingDad === undefined || !ipv6Equal(pendingDad, l.address) || state === "stopped") return;
        pendingDad = undefined;
        if (r.ok) {
          bind(l);
          return;
        }
        host.removeAddress(l.address);
        for (const h of lostHandlers) h("duplicate", l);
        decline(l.address, l.serverId);
      },
      addOptions,
    );
  };

  // ---- stateless ----

  const informationRequest = (): void => {
    clearLeaseTimers();
    setState("informing");
    startExchange({
      msgType: Dhcp6MessageType.INFORMATION_REQUEST,
      irt: t.infTimeout,
      mrt: t.infMaxRt,
      delayMaxS: t.infMaxDelay,
      options: () => [oro([OPTION_INFORMATION_REFRESH_TIME])],
      onGiveUp: informationRequest,
    });
  };

  const onInformationReply = (options: readonly Dhcp6Option[], serverId: Uint8Array): void => {
    if (dhcp6StatusOf(options) !== Dhcp6Status.SUCCESS) {
      stats.ignored++;
      return;
    }
    stopExchange();
    const now = clock.now();
    let refresh = IRT_DEFAULT;
    const irt = options.find((o) => o.kind === "unknown" && o.code === OPTION_INFORMATION_REFRESH_TIME);
    if (irt?.kind === "unknown" && irt.data.length === 4) refresh = Math.max(IRT_MINIMUM, readU32(irt.data, 0));
    const info: Dhcp6Information = {
      serverId,
      dnsServers: findDhcp6Option(options, "dns-servers")?.servers ?? [],
      receivedAt: now,
      refreshAt: refresh === DHCP6_INFINITY ? Infinity : now + refresh * 1000,
    };
    information = info;
    setState("informed");
    if (Number.isFinite(info.refreshAt)) leaseTimers.push(clock.setTimer(info.refreshAt, informationRequest));
    for (const h of infoHandlers) h(info);
  };

  // ---- input ----

  const onMessage = (d: Udp6Datagram): void => {
    if (d.srcPort !== DHCP6_SERVER_PORT) {
      stats.ignored++;
      return;
    }
    const parsed = parseDhcp6(d.payload);
    if (!parsed.ok || parsed.value.kind !== "message") {
      stats.ignored++;
      return;
    }
    const m = parsed.value;
    const ex = exchange;
    const cid = findDhcp6Option(m.options, "client-id");
    const sid = findDhcp6Option(m.options, "server-id");
    // §16.3, §16.7, §16.10: ours only (transaction id and CLIENTID), and from a server that names itself.
    if (ex === undefined || m.transactionId !== ex.xid || cid === undefined || !duidEqual(cid.duid, duid) || sid === undefined) {
      stats.ignored++;
      return;
    }
    stats.received++;
    if (m.msgType === Dhcp6MessageType.ADVERTISE && state === "soliciting") {
      stats.advertises++;
      const ia = findDhcp6Options(m.options, "ia-na").find((x) => x.iaid === iaid);
      const addr = ia === undefined ? undefined : findDhcp6Options(ia.options, "ia-addr").find((a) => usableAddress(a.address));
      // §18.2.9: an ADVERTISE without addresses for us (NoAddrsAvail) is ignored.
      if (dhcp6StatusOf(m.options) !== Dhcp6Status.SUCCESS || ia === undefined || dhcp6StatusOf(ia.options) !== Dhcp6Status.SUCCESS || addr === undefined) {
        stats.ignored++;
        return;
      }
      const preference = findDhcp6Option(m.options, "preference")?.value ?? 0;
      advertised.push({ serverId: sid.duid, preference, address: addr.address });
      // §18.2.1: preference 255, or an ADVERTISE after the first RT: no need to wait.
      if (preference === 255 || !collecting) requestBest();
      return;
    }
    if (m.msgType !== Dhcp6MessageType.REPLY) {
      stats.ignored++;
      return;
    }
    switch (state) {
      case "soliciting":
        // §18.2.1: a REPLY to a SOLICIT counts only with RAPID_COMMIT in both.
        if (rapidCommit && findDhcp6Option(m.options, "rapid-commit") !== undefined) onLeaseReply(m.options, sid.duid, true);
        else stats.ignored++;
        return;
      case "requesting":
        if (chosen !== undefined && duidEqual(chosen.serverId, sid.duid)) onLeaseReply(m.options, sid.duid, false);
        else stats.ignored++;
        return;
      case "renewing":
      case "rebinding":
        onLeaseReply(m.options, sid.duid, false);
        return;
      case "informing":
        onInformationReply(m.options, sid.duid);
        return;
      case "declining":
        stopExchange();
        solicit();
        return;
      case "releasing":
        stopExchange();
        finishStop();
        return;
      default:
        stats.ignored++;
    }
  };

  const decide = (): void => {
    const flags = host.raFlags;
    if (flags === undefined) {
      setState("waiting-ra");
      return;
    }
    if (flags.managed) solicit();
    else if (flags.other) informationRequest();
    else setState("waiting-ra");
  };
  host.onRouterAdvertisement(() => {
    if (state === "waiting-ra") decide();
  });

  const finishStop = (): void => {
    socket?.close();
    socket = undefined;
    setState("stopped");
  };

  return {
    get state() {
      return state;
    },
    get lease() {
      return lease;
    },
    get information() {
      return information;
    },
    get stats() {
      return stats;
    },
    duid,
    start() {
      if (state === "releasing") {
        stopExchange();
        finishStop();
      }
      if (state !== "stopped") return;
      const bound = udp6.bind(DHCP6_CLIENT_PORT);
      if (!bound.ok) throw new NetlabError("ERR_DHCP6_CLIENT_BIND", `DHCPv6 client cannot bind UDP port 546: ${bound.error}`);
      socket = bound.value;
      socket.onMessage(onMessage);
      if (mode === "stateful") solicit();
      else if (mode === "stateless") informationRequest();
      else decide();
    },
    stop(opts = {}) {
      if (state === "stopped" || state === "releasing") return;
      stopExchange();
      clearLeaseTimers();
      pendingDad = undefined;
      const l = lease;
      if ((opts.release ?? true) && l !== undefined) {
        // §18.2.7: stop using the address at once, then RELEASE it (REL_MAX_RC tries) to its server.
        lose("released");
        startExchange({
          msgType: Dhcp6MessageType.RELEASE,
          irt: t.relTimeout,
          mrt: 0,
          mrc: t.relMaxRc,
          options: () => [{ kind: "server-id", duid: l.serverId }, iaNa(l.address)],
          onGiveUp: finishStop,
        });
        // The socket stays open until the RELEASE exchange ends (REPLY or REL_MAX_RC).
        setState("releasing");
        return;
      }
      finishStop();
    },
    onStateChange(h) {
      stateHandlers.push(h);
    },
    onBound(h) {
      boundHandlers.push(h);
    },
    onLeaseLost(h) {
      lostHandlers.push(h);
    },
    onInformation(h) {
      infoHandlers.push(h);
    },
  };
}
