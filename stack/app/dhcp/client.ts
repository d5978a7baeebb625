// DHCP client (RFC 2131 §4.4, Figure 5) over the stack's UDP port 68.
//
// createDhcpClient  INIT -> SELECTING -> REQUESTING -> (probe, RFC 5227) -> BOUND -> RENEWING
//                   at T1 (unicast) -> REBINDING at T2 (broadcast) -> expiry -> INIT; INIT-REBOOT
//                   with a remembered lease; retransmission with randomized exponential backoff
//                   (§4.1); DECLINE on conflict; RELEASE on stop. On bind it configures the
//                   host's address, prefix and gateway.
import type { Clock, Rng, TimerId } from "../../time.ts";
import { type Ipv4Address, type MacAddress, IPV4_ANY, IPV4_BROADCAST } from "../../wire/address.ts";
import type { UdpLayer, UdpSocket, UdpDatagram } from "../../transport/types.ts";
import {
  parseDhcp,
  emitDhcp,
  type DhcpRepr,
  type DhcpOptionRepr,
  type DhcpMessageTypeValue,
  DhcpMessageType,
  DhcpOption,
  BOOTREQUEST,
  BOOTREPLY,
  HTYPE_ETHERNET,
  DHCP_FLAG_BROADCAST,
  DHCP_CLIENT_PORT,
  DHCP_SERVER_PORT,
  macToChaddr,
  messageType,
  serverId as serverIdOf,
  leaseTime as leaseTimeOf,
  renewalTime,
  rebindingTime,
  subnetMask,
  routers,
  dnsServers,
  domainName,
  hostName as hostNameOf,
  broadcastAddress,
  optionMessageType,
  optionBytes,
  optionIpv4,
  optionU16,
  optionString,
  chaddrMac,
} from "../../wire/dhcp.ts";
import { HEADROOM } from "../../net/types.ts";
import type { AddressProber, ClientLeaseStore, DhcpClient, DhcpClientState, DhcpClientStats, DhcpHost, DhcpLease, LeaseLostReason } from "./types.ts";
import { NetlabError } from "../../error.ts";

/** What the client needs from the stack. */
export interface DhcpClientDeps {
  readonly clock: Clock;
  readonly rng: Rng;
  readonly udp: UdpLayer;
  readonly ipv4: DhcpHost;
  /** The interface's MAC (chaddr). */
  readonly mac: MacAddress;
  /** Conflict detection before using an address (RFC 2131 §4.4.1, RFC 5227); none = skip. */
  readonly prober?: AddressProber;
  /** Remembers the lease for INIT-REBOOT. */
  readonly leaseStore?: ClientLeaseStore;
}

/** Client behaviour; every limit has a default. */
export interface DhcpClientOptions {
  /** Option 12 sent in DISCOVER/REQUEST. */
  readonly hostName?: string;
  /** Option 61 (default: type 1 followed by the MAC, as dhclient and systemd send). */
  readonly clientId?: Uint8Array;
  /** Option 55 (default 1, 3, 6, 12, 15, 28, 51, 54, 58, 59). */
  readonly parameterRequestList?: readonly number[];
  /** Set the broadcast bit while unconfigured (default true: replies then need no unicast to an unconfigured host). */
  readonly broadcastFlag?: boolean;
  /** Random wait before the first DISCOVER from INIT, ms (RFC 2131 §4.4.1: 1..10 s). */
  readonly initDelayMinMs?: number;
  readonly initDelayMaxMs?: number;
  /** First retransmission delay (4 s) and cap (64 s), RFC 2131 §4.1; jitter ±1 s. */
  readonly retransmitBaseMs?: number;
  readonly retransmitMaxMs?: number;
  readonly retransmitJitterMs?: number;
  /** REQUEST transmissions in REQUESTING/REBOOTING before going back to INIT (default 4). */
  readonly maxRequestAttempts?: number;
  /** Minimum retransmission interval in RENEWING/REBINDING (RFC 2131 §4.4.5: 60 s). */
  readonly minRenewRetransmitMs?: number;
  /** Wait after a DECLINE before restarting (RFC 2131 §3.1.5: at least 10 s). */
  readonly declineBackoffMs?: number;
  /** Wait before restarting after a NAK; doubles on each NAK in a row up to retransmitMaxMs (default 1 s). */
  readonly nakBackoffMs?: number;
  /** Option 57 (default 576). */
  readonly maxMessageSize?: number;
}

const DEFAULT_PRL = [1, 3, 6, 12, 15, 28, 51, 54, 58, 59];
const INFINITE = 0xffffffff;

/** Creates a DHCP client; call start(). */
export function createDhcpClient(deps: DhcpClientDeps, options: DhcpClientOptions = {}): DhcpClient {
  const { clock, rng, udp, ipv4, mac } = deps;
  const chaddr = macToChaddr(mac);
  const clientIdBytes = options.clientId ?? Uint8Array.of(HTYPE_ETHERNET, ...chaddr);
  const prl = Uint8Array.from(options.parameterRequestList ?? DEFAULT_PRL);
  const broadcastFlag = options.broadcastFlag ?? true;
  const initDelayMin = options.initDelayMinMs ?? 1000;
  const initDelayMax = options.initDelayMaxMs ?? 10_000;
  const base = options.retransmitBaseMs ?? 4000;
  const cap = options.retransmitMaxMs ?? 64_000;
  const jitter = options.retransmitJitterMs ?? 1000;
  const maxRequestAttempts = options.maxRequestAttempts ?? 4;
  const minRenewRetransmit = options.minRenewRetransmitMs ?? 60_000;
  const declineBackoff = options.declineBackoffMs ?? 10_000;
  const maxMessageSize = options.maxMessageSize ?? 576;
  const nakBackoff = options.nakBackoffMs ?? 1000;
  let naksInARow = 0;
  const afterNak = (): number => Math.min(nakBackoff * 2 ** Math.min(naksInARow++, 30), cap);

  let state: DhcpClientState = "stopped";
  let lease: DhcpLease | undefined;
  let socket: UdpSocket | undefined;
  let xid = 0;
  let attempts = 0;
  let startedAt = 0;
  let requestSentAt = 0;
  let offer: DhcpRepr | undefined;
  let hintAddress: Ipv4Address | undefined;
  let timer: TimerId | undefined;
  const leaseTimers: TimerId[] = [];
  let cancelProbe: (() => void) | undefined;

  const stats: DhcpClientStats = { sent: 0, received: 0, ignored: 0, discovers: 0, requests: 0, declines: 0, releases: 0, naks: 0 };
  const stateHandlers: ((s: DhcpClientState, p: DhcpClientState) => void)[] = [];
  const boundHandlers: ((l: DhcpLease) => void)[] = [];
  const lostHandlers: ((r: LeaseLostReason, l: DhcpLease | undefined) => void)[] = [];

  const setState = (next: DhcpClientState): void => {
    if (next === state) return;
    const prev = state;
    state = next;
    for (const h of stateHandlers) h(next, prev);
  };
  const schedule = (delay: number, fn: () => void): void => {
    if (timer !== undefined) clock.cancel(timer);
    timer = clock.setTimer(clock.now() + Math.max(0, delay), () => {
      timer = undefined;
      fn();
    });
  };
  const clearTimers = (): void => {
    if (timer !== undefined) clock.cancel(timer);
    timer = undefined;
    for (const t of leaseTimers) clock.cancel(t);
    leaseTimers.length = 0;
    if (cancelProbe) {
      cancelProbe();
      cancelProbe = undefined;
    }
  };
  /** RFC 2131 §4.1: 4 s, 8 s, ... up to 64 s, each randomized by ±1 s. */
  const backoff = (attempt: number): number => Math.min(base * 2 ** Math.min(attempt, 30), cap) + (rng.nextFloat() * 2 - 1) * jitter;
  const newXid = (): void => {
    xid = rng.nextU32();
  };

  const send = (
    type: DhcpMessageTypeValue,
    fields: {
      ciaddr?: Ipv4Address;
      requested?: Ipv4Address;
      server?: Ipv4Address;
      dst: Ipv4Address;
      src: Ipv4Address;
    },
  ): void => {
    if (!socket) return;
    const opts: DhcpOptionRepr[] = [optionMessageType(type), optionBytes(DhcpOption.CLIENT_ID, clientIdBytes)];
    if (fields.requested !== undefined) opts.push(optionIpv4(DhcpOption.REQUESTED_IP, fields.requested));
    if (fields.server !== undefined) opts.push(optionIpv4(DhcpOption.SERVER_ID, fields.server));
    const negotiating = type === DhcpMessageType.DISCOVER || type === DhcpMessageType.REQUEST || type === DhcpMessageType.INFORM;
    if (negotiating) {
      opts.push(optionU16(DhcpOption.MAX_MESSAGE_SIZE, maxMessageSize));
      if (options.hostName !== undefined) opts.push(optionString(DhcpOption.HOST_NAME, options.hostName));
      opts.push(optionBytes(DhcpOption.PARAMETER_REQUEST_LIST, prl));
    }
    const ciaddr = fields.ciaddr ?? IPV4_ANY;
    const secs = type === DhcpMessageType.DECLINE || type === DhcpMessageType.RELEASE ? 0 : Math.min(0xffff, Math.floor((clock.now() - startedAt) / 1000));
    const repr: DhcpRepr = {
      op: BOOTREQUEST,
      htype: HTYPE_ETHERNET,
      hops: 0,
      xid,
      secs,
      flags: broadcastFlag && ciaddr === IPV4_ANY && negotiating ? DHCP_FLAG_BROADCAST : 0,
      ciaddr,
      yiaddr: 0,
      siaddr: 0,
      giaddr: 0,
      chaddr,
      sname: "",
      file: "",
      options: opts,
    };
    const bytes = emitDhcp(repr, { headroom: HEADROOM + 8 });
    const r = socket.sendTo(fields.dst, DHCP_SERVER_PORT, bytes, { src: fields.src, broadcast: fields.dst === IPV4_BROADCAST });
    if (r.ok) stats.sent++;
  };

  // ---- INIT / SELECTING ----
  const enterInit = (delay: number): void => {
    clearTimers();
    offer = undefined;
    setState("init");
    schedule(delay, () => {
      newXid();
      attempts = 0;
      startedAt = clock.now();
      setState("selecting");
      sendDiscover();
    });
  };
  const initDelay = (): number => initDelayMin + rng.nextFloat() * (initDelayMax - initDelayMin);
  const sendDiscover = (): void => {
    stats.discovers++;
    send(DhcpMessageType.DISCOVER, {
      dst: IPV4_BROADCAST,
      src: IPV4_ANY,
      ...(hintAddress !== undefined ? { requested: hintAddress } : {}),
    });
    schedule(backoff(attempts++), sendDiscover);
  };

  // ---- REQUESTING ----
  const sendSelectingRequest = (): void => {
    if (!offer) return;
    if (attempts >= maxRequestAttempts) {
      enterInit(initDelay());
      return;
    }
    if (attempts === 0) requestSentAt = clock.now();
    stats.requests++;
    send(DhcpMessageType.REQUEST, { dst: IPV4_BROADCAST, src: IPV4_ANY, requested: offer.yiaddr, server: serverIdOf(offer)! });
    schedule(backoff(attempts++), sendSelectingRequest);
  };

  // ---- INIT-REBOOT / REBOOTING ----
  const sendRebootRequest = (): void => {
    if (!lease) return;
    if (attempts >= maxRequestAttempts) {
      hintAddress = lease.address;
      lease = undefined;
      deps.leaseStore?.clear();
      enterInit(0);
      return;
    }
    if (attempts === 0) requestSentAt = clock.now();
    stats.requests++;
    send(DhcpMessageType.REQUEST, { dst: IPV4_BROADCAST, src: IPV4_ANY, requested: lease.address });
    schedule(backoff(attempts++), sendRebootRequest);
  };

  // ---- RENEWING / REBINDING ----
  const sendRenewRequest = (): void => {
    if (!lease) return;
    const l = lease;
    requestSentAt = clock.now();
    stats.requests++;
    if (state === "renewing") {
      send(DhcpMessageType.REQUEST, { dst: l.serverId, src: l.address, ciaddr: l.address });
      // RFC 2131 §4.4.5: wait half the time remaining until T2, at least 60 s.
      schedule(Math.max(minRenewRetransmit, (l.rebindAt - clock.now()) / 2), sendRenewRequest);
    } else {
      send(DhcpMessageType.REQUEST, { dst: IPV4_BROADCAST, src: l.address, ciaddr: l.address });
      schedule(Math.max(minRenewRetransmit, (l.expiresAt - clock.now()) / 2), sendRenewRequest);
    }
  };

  const lose = (reason: LeaseLostReason): void => {
    const old = lease;
    lease = undefined;
    if (old && ipv4.cidr?.address === old.address) ipv4.configure(undefined);
    deps.leaseStore?.clear();
    for (const h of lostHandlers) h(reason, old);
  };

  const leaseFromAck = (ack: DhcpRepr, sentAt: number): DhcpLease | undefined => {
    const server = serverIdOf(ack) ?? lease?.serverId;
    const time = leaseTimeOf(ack);
    if (server === undefined || time === undefined || !usableAddress(ack.yiaddr)) return undefined;
    const offered = subnetMask(ack);
    const mask = offered !== undefined && contiguous(offered) && offered !== 0 ? offered : naturalMask(ack.yiaddr);
    const prefixLength = maskToPrefix(mask);
    const seconds = (s: number): number => (time === INFINITE ? Infinity : sentAt + s * 1000);
    let t1 = renewalTime(ack) ?? Math.floor(time * 0.5);
    let t2 = rebindingTime(ack) ?? Math.floor(time * 0.875);
    if (!(t1 < t2 && t2 <= time)) {
      t1 = Math.floor(time * 0.5);
      t2 = Math.floor(time * 0.875);
    }
    return {
      address: ack.yiaddr,
      prefixLength,
      gateway: routers(ack)?.[0],
      dnsServers: dnsServers(ack) ?? [],
      domainName: domainName(ack),
      hostName: hostNameOf(ack),
      broadcastAddress: broadcastAddress(ack),
      serverId: server,
      leaseTime: time,
      acquiredAt: sentAt,
      renewAt: seconds(t1),
      rebindAt: seconds(t2),
      expiresAt: seconds(time),
    };
  };

  const bind = (l: DhcpLease): void => {
    clearTimers();
    const prev = lease;
    lease = l;
    hintAddress = undefined;
    naksInARow = 0;
    const cur = ipv4.cidr;
    if (!prev || cur?.address !== l.address || cur.prefixLength !== l.prefixLength || prev.gateway !== l.gateway) {
      ipv4.configure({ address: l.address, prefixLength: l.prefixLength }, l.gateway);
    }
    deps.leaseStore?.save(l);
    setState("bound");
    if (Number.isFinite(l.expiresAt)) {
      leaseTimers.push(
        clock.setTimer(l.renewAt, () => {
          setState("renewing");
          newXid();
          startedAt = clock.now();
          sendRenewRequest();
        }),
      );
      leaseTimers.push(
        clock.setTimer(l.rebindAt, () => {
          setState("rebinding");
          newXid();
          sendRenewRequest();
        }),
      );
      leaseTimers.push(
        clock.setTimer(l.expiresAt, () => {
          lose("expired");
          enterInit(0);
        }),
      );
    }
    for (const h of boundHandlers) h(l);
  };

  const acceptAck = (ack: DhcpRepr): void => {
    const l = leaseFromAck(ack, requestSentAt);
    if (!l) {
      stats.ignored++;
      return;
    }
    const fresh = state === "requesting" || state === "rebooting" || lease?.address !== l.address;
    if (fresh && deps.prober && ipv4.cidr?.address !== l.address) {
      // RFC 2131 §4.4.1: check the address before use; RFC 5227 probe.
      clearTimers();
      setState("probing");
      cancelProbe = deps.prober.probe(l.address, (conflict) => {
        cancelProbe = undefined;
        if (!conflict) {
          bind(l);
          return;
        }
        stats.declines++;
        newXid();
        send(DhcpMessageType.DECLINE, { dst: IPV4_BROADCAST, src: IPV4_ANY, requested: l.address, server: l.serverId });
        for (const h of lostHandlers) h("conflict", l);
        if (lease && ipv4.cidr?.address === lease.address) ipv4.configure(undefined);
        lease = undefined;
        deps.leaseStore?.clear();
        enterInit(declineBackoff);
      });
      return;
    }
    bind(l);
  };

  const onMessage = (d: UdpDatagram): void => {
    if (d.srcPort !== DHCP_SERVER_PORT) return;
    const parsed = parseDhcp(d.payload);
    if (!parsed.ok) {
      stats.ignored++;
      return;
    }
    const m = parsed.value;
    const type = messageType(m);
    if (m.op !== BOOTREPLY || m.xid !== xid || chaddrMac(m) !== mac || type === undefined) {
      stats.ignored++;
      return;
    }
    stats.received++;
    switch (state) {
      case "selecting":
        if (type === DhcpMessageType.OFFER && usableAddress(m.yiaddr) && serverIdOf(m) !== undefined) {
          offer = m;
          attempts = 0;
          setState("requesting");
          sendSelectingRequest();
        } else stats.ignored++;
        return;
      case "requesting": {
        const sid = serverIdOf(m);
        if (!offer || (sid !== undefined && sid !== serverIdOf(offer))) {
          stats.ignored++;
          return;
        }
        if (type === DhcpMessageType.ACK) acceptAck(m);
        else if (type === DhcpMessageType.NAK) {
          stats.naks++;
          enterInit(afterNak());
        } else stats.ignored++;
        return;
      }
      case "rebooting":
      case "renewing":
      case "rebinding":
        if (type === DhcpMessageType.ACK) acceptAck(m);
        else if (type === DhcpMessageType.NAK) {
          stats.naks++;
          clearTimers();
          lose("nak");
          enterInit(afterNak());
        } else stats.ignored++;
        return;
      default:
        stats.ignored++;
    }
  };

  return {
    get state() {
      return state;
    },
    get lease() {
      return lease;
    },
    get stats() {
      return stats;
    },
    start() {
      if (state !== "stopped") return;
      const bound = udp.bind(DHCP_CLIENT_PORT);
      if (!bound.ok) {
        const e = new NetlabError("ERR_DHCP_CLIENT_BIND", `DHCP client cannot bind UDP port 68: ${bound.error}`);
        throw e;
      }
      socket = bound.value;
      socket.onMessage(onMessage);
      const remembered = deps.leaseStore?.load();
      if (remembered && remembered.expiresAt > clock.now()) {
        // RFC 2131 §3.2: INIT-REBOOT, REQUEST with 'requested IP address', no server identifier.
        lease = remembered;
        setState("init-reboot");
        newXid();
        attempts = 0;
        startedAt = clock.now();
        setState("rebooting");
        sendRebootRequest();
      } else {
        if (remembered) hintAddress = remembered.address;
        enterInit(initDelay());
      }
    },
    stop(opts = {}) {
      if (state === "stopped") return;
      const release = opts.release ?? true;
      clearTimers();
      if (release && lease && (state === "bound" || state === "renewing" || state === "rebinding")) {
        // RFC 2131 §4.4.6: RELEASE unicast to the server, ciaddr = our address.
        stats.releases++;
        newXid();
        send(DhcpMessageType.RELEASE, { dst: lease.serverId, src: lease.address, ciaddr: lease.address, server: lease.serverId });
        lose("released");
      }
      socket?.close();
      socket = undefined;
      setState("stopped");
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
  };
}

/** A unicast host address: not 0/8, loopback, multicast, reserved or limited broadcast. */
function usableAddress(a: Ipv4Address): boolean {
  const top = a >>> 24;
  return top !== 0 && top !== 127 && top < 224;
}

/** True for masks of the form 1...10...0. */
function contiguous(mask: Ipv4Address): boolean {
  const inv = ~mask >>> 0;
  return (inv & (inv + 1)) === 0;
}

/** Classful mask, used only when a server omits option 1 (or sends a non-contiguous one). */
function naturalMask(a: Ipv4Address): Ipv4Address {
  const top = a >>> 24;
  return top < 128 ? 0xff000000 : top < 192 ? 0xffff0000 : 0xffffff00;
}

/** Prefix length of a contiguous mask (leading ones). */
function maskToPrefix(mask: Ipv4Address): number {
  let n = 0;
  while (n < 32 && ((mask << n) & 0x80000000) !== 0) n++;
  return n;
}
