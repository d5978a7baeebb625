// DHCP server (RFC 2131 §4.3) over the stack's UDP port 67.
//
// createDhcpServer  pools chosen by giaddr (relay) or by the server's own subnet; static
//                   reservations by MAC or client identifier; OFFER/ACK with options 1, 3, 6,
//                   12, 15, 28, 51, 54, 58, 59; INFORM; the NAK rules of §4.3.2; DECLINE and
//                   RELEASE; reply addressing of §4.1 (relay, ciaddr, broadcast bit, else unicast
//                   to yiaddr at chaddr through a passing ARP entry); every lease
//                   persisted through the injected LeaseStore before its ACK is sent.
import type { Clock } from "../../time.ts";
import { type Ipv4Address, type MacAddress, IPV4_ANY, IPV4_BROADCAST, prefixToMask } from "../../wire/address.ts";
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
  DHCP_FLAG_BROADCAST,
  DHCP_CLIENT_PORT,
  DHCP_SERVER_PORT,
  messageType,
  requestedIp,
  serverId as serverIdOf,
  clientId as clientIdOf,
  parameterRequestList,
  maxMessageSize,
  hostName as hostNameOf,
  chaddrMac,
  optionMessageType,
  optionIpv4,
  optionIpv4List,
  optionU32,
  optionString,
  optionBytes,
} from "../../wire/dhcp.ts";
import { HEADROOM } from "../../net/types.ts";
import type { DhcpHost, DhcpPool, DhcpServer, DhcpServerConfig, DhcpServerStats, LeaseStore, ServerLease, DhcpReservation } from "./types.ts";
import { NetlabError } from "../../error.ts";

/** What the server needs from the stack. */
export interface DhcpServerDeps {
  readonly clock: Clock;
  readonly udp: UdpLayer;
  /** The serving interface (its address is the default server identifier and local subnet). */
  readonly ipv4: Pick<DhcpHost, "cidr">;
  /** Lease database (default: in memory only). */
  readonly store?: LeaseStore;
  /**
   * ARP cache access, to unicast OFFER/ACK to yiaddr at chaddr when the client did not ask for
   * broadcast (RFC 2131 §4.1, as real servers do with a temporary ARP entry). Without it those
   * replies are broadcast, which §4.1 also allows.
   */
  readonly arp?: DhcpServerArp;
}

/** The part of the ARP layer (ArpLayer) the server uses. */
export interface DhcpServerArp {
  lookup(ip: Ipv4Address): MacAddress | undefined;
  addStatic(ip: Ipv4Address, mac: MacAddress): void;
  remove(ip: Ipv4Address): void;
}

/** One reply the server decided to send. */
interface Reply {
  dst: Ipv4Address;
  port: number;
  bytes: Uint8Array;
  viaMac?: MacAddress;
}

const DEFAULT_LEASE = 3600;

/** A LeaseStore that keeps records in memory (for tests and servers that may forget). */
export function createMemoryLeaseStore(initial: readonly ServerLease[] = []): LeaseStore & { records: Map<Ipv4Address, ServerLease> } {
  const records = new Map<Ipv4Address, ServerLease>(initial.map((l) => [l.address, l]));
  return {
    records,
    load: () => [...records.values()],
    put: (l) => {
      records.set(l.address, l);
    },
    remove: (a) => {
      records.delete(a);
    },
  };
}

/** Client key: option 61 if present, else hardware type and chaddr (RFC 2131 §4.2). */
export function clientKeyOf(m: DhcpRepr): string {
  const id = clientIdOf(m);
  if (id) return "id:" + hex(id);
  return `hw:${m.htype}:${hex(m.chaddr)}`;
}

function hex(b: Uint8Array): string {
  let s = "";
  for (const x of b) s += x.toString(16).padStart(2, "0");
  return s;
}

const inSubnet = (a: Ipv4Address, p: DhcpPool): boolean => {
  const mask = prefixToMask(p.subnet.prefixLength);
  return (a & mask) >>> 0 === (p.subnet.address & mask) >>> 0;
};
const inRange = (a: Ipv4Address, p: DhcpPool): boolean => a >= p.rangeStart && a <= p.rangeEnd;

/** Creates a DHCP server bound to UDP port 67 of the given stack. */
export function createDhcpServer(deps: DhcpServerDeps, config: DhcpServerConfig): DhcpServer {
  const { clock, udp, ipv4 } = deps;
  const store = deps.store ?? createMemoryLeaseStore();
  const pools = config.pools;
  const reservations = config.reservations ?? [];
  const maxLeases = config.maxLeases ?? 4096;
  const offerHold = config.offerHoldMs ?? 30_000;
  const declineHold = config.declineHoldMs ?? 600_000;
  const authoritative = config.authoritative ?? false;
  if (pools.length === 0) throw misuse("a DHCP server needs at least one pool");

  // The lease database, indexed by address and by client (so that per-message questions such as
  // "what does this client hold" cost the client's leases, not the whole database's).
  const leases = new Map<Ipv4Address, ServerLease>();
  const byClient = new Map<string, Set<Ipv4Address>>();
  const putLease = (l: ServerLease): void => {
    const old = leases.get(l.address);
    if (old !== undefined && old.client !== l.client) byClient.get(old.client)?.delete(l.address);
    leases.set(l.address, l);
    let set = byClient.get(l.client);
    if (set === undefined) byClient.set(l.client, (set = new Set()));
    set.add(l.address);
  };
  const dropLease = (a: Ipv4Address): void => {
    const old = leases.get(a);
    if (old === undefined) return;
    leases.delete(a);
    const set = byClient.get(old.client);
    set?.delete(a);
    if (set?.size === 0) byClient.delete(old.client);
  };
  /** The leases `client` holds (any state). */
  const leasesOf = (client: string): ServerLease[] => [...(byClient.get(client) ?? [])].map((a) => leases.get(a)!);
  for (const l of store.load()) putLease(l);
  const offers = new Map<Ipv4Address, { client: string; expiresAt: number }>();
  const stats: DhcpServerStats = { received: 0, malformed: 0, ignored: 0, offers: 0, acks: 0, naks: 0, declines: 0, releases: 0, informs: 0, exhausted: 0 };

  const bound = udp.bind(DHCP_SERVER_PORT);
  if (!bound.ok) throw new NetlabError("ERR_DHCP_SERVER_BIND", `DHCP server cannot bind UDP port 67: ${bound.error}`);
  const socket: UdpSocket = bound.value;

  const ownAddress = (): Ipv4Address => config.serverId ?? ipv4.cidr?.address ?? IPV4_ANY;

  /** §4.3.1: the pools of the client's subnet: giaddr's if relayed, else the receiving interface's. */
  const poolsFor = (giaddr: Ipv4Address): DhcpPool[] => {
    const where = giaddr !== IPV4_ANY ? giaddr : (ipv4.cidr?.address ?? ownAddress());
    const found = pools.filter((p) => inSubnet(where, p));
    if (found.length > 0 || giaddr !== IPV4_ANY) return found;
    return [pools[0]!];
  };
  const reservationFor = (m: DhcpRepr): DhcpReservation | undefined => {
    const id = clientIdOf(m);
    const mac = chaddrMac(m);
    return reservations.find((r) => (id !== undefined && r.clientId !== undefined && equalBytes(r.clientId, id)) || (mac !== undefined && r.mac === mac));
  };
  const reservedForOther = (a: Ipv4Address, res: DhcpReservation | undefined): boolean => reservations.some((r) => r.address === a && r !== res);

  const activeCount = (now: number): number => {
    let n = 0;
    for (const l of leases.values()) if (l.state === "bound" && l.expiresAt > now) n++;
    for (const o of offers.values()) if (o.expiresAt > now) n++;
    return n;
  };
  /** maxLeases active leases and offers (counted only when the entries could reach it). */
  const atCapacity = (now: number): boolean => leases.size + offers.size >= maxLeases && activeCount(now) >= maxLeases;

  /** True when `a` may be given to `client` now. */
  const available = (a: Ipv4Address, client: string, pool: DhcpPool, res: DhcpReservation | undefined, now: number): boolean => {
    if (!inSubnet(a, pool)) return false;
    const mask = prefixToMask(pool.subnet.prefixLength);
    const net = (pool.subnet.address & mask) >>> 0;
    const bcast = (net | ~mask) >>> 0;
    if (pool.subnet.prefixLength < 31 && (a === net || a === bcast)) return false;
    if (a === ownAddress() || a === pool.gateway) return false;
    if (res?.address !== a && (!inRange(a, pool) || reservedForOther(a, res))) return false;
    const l = leases.get(a);
    if (l && l.expiresAt > now && (l.state === "declined" || l.client !== client)) return false;
    const o = offers.get(a);
    if (o && o.expiresAt > now && o.client !== client) return false;
    return true;
  };
  const poolOf = (a: Ipv4Address, candidates: readonly DhcpPool[]): DhcpPool | undefined =>
    candidates.find((p) => inRange(a, p)) ?? candidates.find((p) => inSubnet(a, p) && reservations.some((r) => r.address === a));

  /** §4.3.1 address selection for DISCOVER. */
  const chooseAddress = (m: DhcpRepr, client: string, candidates: readonly DhcpPool[], now: number): { address: Ipv4Address; pool: DhcpPool } | undefined => {
    const res = reservationFor(m);
    const tryAddr = (a: Ipv4Address | undefined): { address: Ipv4Address; pool: DhcpPool } | undefined => {
      if (a === undefined) return undefined;
      const pool = candidates.find((p) => inSubnet(a, p) && (inRange(a, p) || res?.address === a));
      return pool && available(a, client, pool, res, now) ? { address: a, pool } : undefined;
    };
    if (res) return tryAddr(res.address);
    for (const [a, o] of offers)
      if (o.client === client && o.expiresAt > now) {
        const c = tryAddr(a);
        if (c) return c;
      }
    for (const l of leasesOf(client))
      if (l.state === "bound") {
        const c = tryAddr(l.address);
        if (c) return c;
      }
    const hint = tryAddr(requestedIp(m));
    if (hint) return hint;
    let oldest: { address: Ipv4Address; pool: DhcpPool; expiredAt: number } | undefined;
    for (const pool of candidates) {
      for (let a = pool.rangeStart; a <= pool.rangeEnd; a++) {
        if (!available(a, client, pool, res, now)) continue;
        const l = leases.get(a);
        if (!l) return { address: a, pool };
        if (!oldest || l.expiresAt < oldest.expiredAt) oldest = { address: a, pool, expiredAt: l.expiresAt };
      }
    }
    return oldest;
  };

  const leaseSeconds = (pool: DhcpPool): number => pool.leaseTime ?? DEFAULT_LEASE;

  const replyOptions = (
    m: DhcpRepr,
    type: DhcpMessageTypeValue,
    pool: DhcpPool | undefined,
    withLease: boolean,
    host: string | undefined,
  ): DhcpOptionRepr[] => {
    const out: DhcpOptionRepr[] = [optionMessageType(type), optionIpv4(DhcpOption.SERVER_ID, ownAddress())];
    if (pool) {
      const lease = leaseSeconds(pool);
      if (withLease) {
        out.push(optionU32(DhcpOption.LEASE_TIME, lease));
        if (lease !== 0xffffffff) {
          out.push(optionU32(DhcpOption.RENEWAL_TIME, pool.renewalTime ?? Math.floor(lease / 2)));
          out.push(optionU32(DhcpOption.REBINDING_TIME, pool.rebindingTime ?? Math.floor((lease * 7) / 8)));
        }
      }
      const mask = prefixToMask(pool.subnet.prefixLength);
      const available: DhcpOptionRepr[] = [optionIpv4(DhcpOption.SUBNET_MASK, mask)];
      available.push(optionIpv4(DhcpOption.BROADCAST_ADDRESS, pool.broadcastAddress ?? ((pool.subnet.address & mask) | ~mask) >>> 0));
      if (pool.gateway !== undefined) available.push(optionIpv4List(DhcpOption.ROUTER, [pool.gateway]));
      if (pool.dnsServers && pool.dnsServers.length > 0) available.push(optionIpv4List(DhcpOption.DNS_SERVER, pool.dnsServers));
      if (pool.domainName !== undefined) available.push(optionString(DhcpOption.DOMAIN_NAME, pool.domainName));
      if (host !== undefined) available.push(optionString(DhcpOption.HOST_NAME, host));
      // RFC 2132 §9.8: options in the order the client asked for them; the basics always.
      const prl = parameterRequestList(m);
      const always = new Set<number>([DhcpOption.SUBNET_MASK, DhcpOption.ROUTER, DhcpOption.DNS_SERVER]);
      if (prl) {
        for (const code of prl) {
          const o = available.find((x) => x.code === code);
          if (o && !out.includes(o)) out.push(o);
        }
        for (const o of available) if (always.has(o.code) && !out.includes(o)) out.push(o);
      } else out.push(...available);
    }
    // RFC 6842: echo the client identifier.
    const id = clientIdOf(m);
    if (id) out.push(optionBytes(DhcpOption.CLIENT_ID, id));
    return out;
  };

  const reply = (m: DhcpRepr, type: DhcpMessageTypeValue, yiaddr: Ipv4Address, options: DhcpOptionRepr[]): Reply => {
    const nak = type === DhcpMessageType.NAK;
    // RFC 2131 Table 3: ciaddr echoes the request's in ACK (0 in OFFER and NAK).
    const ciaddr = type === DhcpMessageType.ACK ? m.ciaddr : 0;
    const flags = nak && m.giaddr !== IPV4_ANY ? m.flags | DHCP_FLAG_BROADCAST : m.flags;
    const repr: DhcpRepr = {
      op: BOOTREPLY,
      htype: m.htype,
      hops: 0,
      xid: m.xid,
      secs: 0,
      flags,
      ciaddr,
      yiaddr,
      siaddr: 0,
      giaddr: m.giaddr,
      chaddr: m.chaddr,
      sname: "",
      file: "",
      options,
    };
    const limit = Math.max(576, maxMessageSize(m) ?? 576) - 28;
    const bytes = emitDhcp(repr, { maxLength: limit, headroom: HEADROOM + 8 });
    // RFC 2131 §4.1 reply addressing.
    if (m.giaddr !== IPV4_ANY) return { dst: m.giaddr, port: DHCP_SERVER_PORT, bytes };
    if (nak) return { dst: IPV4_BROADCAST, port: DHCP_CLIENT_PORT, bytes };
    if (m.ciaddr !== IPV4_ANY) return { dst: m.ciaddr, port: DHCP_CLIENT_PORT, bytes };
    const mac = chaddrMac(m);
    if ((m.flags & DHCP_FLAG_BROADCAST) === 0 && yiaddr !== IPV4_ANY && mac !== undefined && deps.arp !== undefined) {
      return { dst: yiaddr, port: DHCP_CLIENT_PORT, bytes, viaMac: mac };
    }
    return { dst: IPV4_BROADCAST, port: DHCP_CLIENT_PORT, bytes };
  };
  const nak = (m: DhcpRepr, why: string): Reply => {
    stats.naks++;
    const opts: DhcpOptionRepr[] = [
      optionMessageType(DhcpMessageType.NAK),
      optionIpv4(DhcpOption.SERVER_ID, ownAddress()),
      optionString(DhcpOption.MESSAGE, why),
    ];
    const id = clientIdOf(m);
    if (id) opts.push(optionBytes(DhcpOption.CLIENT_ID, id));
    return reply(m, DhcpMessageType.NAK, 0, opts);
  };

  const commit = (m: DhcpRepr, client: string, address: Ipv4Address, pool: DhcpPool, now: number): Reply => {
    const seconds = leaseSeconds(pool);
    const res = reservationFor(m);
    const host = res?.hostName;
    const clientHost = hostNameOf(m);
    const record: ServerLease = {
      address,
      client,
      state: "bound",
      expiresAt: seconds === 0xffffffff ? Number.MAX_SAFE_INTEGER : now + seconds * 1000,
      ...((host ?? clientHost) ? { hostName: (host ?? clientHost)! } : {}),
    };
    // A client holds one lease per subnet: forget its other bindings there.
    for (const l of leasesOf(client)) {
      if (l.address !== address && inSubnet(l.address, pool)) {
        dropLease(l.address);
        store.remove(l.address);
      }
    }
    store.put(record);
    putLease(record);
    offers.delete(address);
    stats.acks++;
    return reply(m, DhcpMessageType.ACK, address, replyOptions(m, DhcpMessageType.ACK, pool, true, host));
  };

  const onDiscover = (m: DhcpRepr, client: string, now: number): Reply | undefined => {
    const candidates = poolsFor(m.giaddr);
    if (candidates.length === 0) {
      stats.ignored++;
      return undefined;
    }
    const known =
      leasesOf(client).some((l) => l.state === "bound" && l.expiresAt > now) || [...offers.values()].some((o) => o.client === client && o.expiresAt > now);
    if (!known && atCapacity(now)) {
      stats.exhausted++;
      return undefined;
    }
    const chosen = chooseAddress(m, client, candidates, now);
    if (!chosen) {
      stats.exhausted++;
      return undefined;
    }
    for (const [a, o] of offers) if (o.client === client || o.expiresAt <= now) offers.delete(a);
    offers.set(chosen.address, { client, expiresAt: now + offerHold });
    stats.offers++;
    return reply(m, DhcpMessageType.OFFER, chosen.address, replyOptions(m, DhcpMessageType.OFFER, chosen.pool, true, reservationFor(m)?.hostName));
  };

  const onRequest = (m: DhcpRepr, client: string, now: number): Reply | undefined => {
    const sid = serverIdOf(m);
    const requested = requestedIp(m);
    const candidates = poolsFor(m.giaddr);
    const res = reservationFor(m);
    if (sid !== undefined) {
      // SELECTING (§4.3.2): a REQUEST for another server withdraws our offer.
      if (sid !== ownAddress()) {
        for (const [a, o] of offers) if (o.client === client) offers.delete(a);
        stats.ignored++;
        return undefined;
      }
      if (requested === undefined || m.ciaddr !== IPV4_ANY) return nak(m, "malformed request");
      const pool = poolOf(requested, candidates);
      if (!pool || !available(requested, client, pool, res, now)) return nak(m, "address not available");
      const offered = offers.get(requested);
      const lease = leases.get(requested);
      if (!(offered?.client === client || lease?.client === client || res?.address === requested)) {
        if (atCapacity(now)) return nak(m, "no free leases");
      }
      return commit(m, client, requested, pool, now);
    }
    if (requested !== undefined && m.ciaddr === IPV4_ANY) {
      // INIT-REBOOT (§4.3.2): verify the remembered address.
      if (!candidates.some((p) => inSubnet(requested, p))) return nak(m, "wrong network");
      const pool = poolOf(requested, candidates);
      if (!pool || !available(requested, client, pool, res, now)) return nak(m, "address not available");
      if (res && res.address !== requested) return nak(m, "address reserved elsewhere");
      const lease = leases.get(requested);
      const knownClient = leasesOf(client).some((l) => l.state === "bound");
      if (lease?.client === client && lease.state === "bound") return commit(m, client, requested, pool, now);
      if (knownClient) return nak(m, "not your address");
      if (res?.address === requested || authoritative) {
        if (atCapacity(now)) return nak(m, "no free leases");
        return commit(m, client, requested, pool, now);
      }
      // §4.3.2: no record of this client: remain silent.
      stats.ignored++;
      return undefined;
    }
    if (m.ciaddr !== IPV4_ANY) {
      // RENEWING (unicast) or REBINDING (broadcast): extend if the address is still theirs.
      const a = m.ciaddr;
      const allPools = m.giaddr !== IPV4_ANY ? candidates : pools;
      const pool = poolOf(a, allPools);
      if (!pool || !available(a, client, pool, res, now)) return nak(m, "address not available");
      if (res && res.address !== a) return nak(m, "address reserved elsewhere");
      const lease = leases.get(a);
      // A client bound to another address cannot renew this one into a second lease: its real
      // binding is the other (found by the lease property test).
      const boundElsewhere = leasesOf(client).some((l) => l.state === "bound" && l.address !== a && l.expiresAt > now);
      if (!(lease?.client === client) && boundElsewhere) return nak(m, "not your address");
      if (!(lease?.client === client) && atCapacity(now)) return nak(m, "no free leases");
      return commit(m, client, a, pool, now);
    }
    stats.ignored++;
    return undefined;
  };

  const onDecline = (m: DhcpRepr, client: string, now: number): void => {
    const a = requestedIp(m);
    if (serverIdOf(m) !== ownAddress() || a === undefined) {
      stats.ignored++;
      return;
    }
    // Only addresses we hand out can be declined (keeps the database bounded by the pools).
    if (!pools.some((p) => inRange(a, p)) && !reservations.some((r) => r.address === a)) {
      stats.ignored++;
      return;
    }
    const l = leases.get(a);
    if (l && l.client !== client && l.expiresAt > now) {
      stats.ignored++;
      return;
    }
    stats.declines++;
    const record: ServerLease = { address: a, client: "", state: "declined", expiresAt: now + declineHold };
    store.put(record);
    putLease(record);
    offers.delete(a);
  };

  const onRelease = (m: DhcpRepr, client: string, now: number): void => {
    const sid = serverIdOf(m);
    if (sid !== undefined && sid !== ownAddress()) {
      stats.ignored++;
      return;
    }
    const l = leases.get(m.ciaddr);
    if (!l || l.client !== client || l.state !== "bound") {
      stats.ignored++;
      return;
    }
    stats.releases++;
    // Keep the record, expired, so the client gets the same address back if it is still free.
    const record: ServerLease = { ...l, expiresAt: Math.min(l.expiresAt, now) };
    store.put(record);
    putLease(record);
  };

  const onInform = (m: DhcpRepr): Reply | undefined => {
    if (m.ciaddr === IPV4_ANY) {
      stats.ignored++;
      return undefined;
    }
    const candidates = poolsFor(m.giaddr);
    const pool = candidates.find((p) => inSubnet(m.ciaddr, p)) ?? (m.giaddr === IPV4_ANY ? pools.find((p) => inSubnet(m.ciaddr, p)) : undefined);
    if (!pool) {
      stats.ignored++;
      return undefined;
    }
    stats.informs++;
    // §4.3.5: ACK without yiaddr or lease time, unicast to ciaddr.
    const r = reply(m, DhcpMessageType.ACK, 0, replyOptions(m, DhcpMessageType.ACK, pool, false, undefined));
    return m.giaddr !== IPV4_ANY ? r : { ...r, dst: m.ciaddr, port: DHCP_CLIENT_PORT };
  };

  const handle = (d: UdpDatagram): void => {
    stats.received++;
    const parsed = parseDhcp(d.payload);
    if (!parsed.ok) {
      stats.malformed++;
      return;
    }
    const m = parsed.value;
    const type = messageType(m);
    if (m.op !== BOOTREQUEST || type === undefined || m.chaddr.length === 0) {
      stats.ignored++;
      return;
    }
    const client = clientKeyOf(m);
    const now = clock.now();
    let out: Reply | undefined;
    switch (type) {
      case DhcpMessageType.DISCOVER:
        out = onDiscover(m, client, now);
        break;
      case DhcpMessageType.REQUEST:
        out = onRequest(m, client, now);
        break;
      case DhcpMessageType.DECLINE:
        onDecline(m, client, now);
        break;
      case DhcpMessageType.RELEASE:
        onRelease(m, client, now);
        break;
      case DhcpMessageType.INFORM:
        out = onInform(m);
        break;
      default:
        stats.ignored++;
    }
    if (out) {
      const src = ownAddress();
      const send = (): void => {
        socket.sendTo(out!.dst, out!.port, out!.bytes, { ...(src !== IPV4_ANY ? { src } : {}), broadcast: out!.dst === IPV4_BROADCAST });
      };
      const arp = deps.arp;
      if (out.viaMac !== undefined && arp !== undefined && arp.lookup(out.dst) !== out.viaMac) {
        // The client cannot answer ARP yet: address the frame to chaddr through a passing entry.
        arp.addStatic(out.dst, out.viaMac);
        send();
        arp.remove(out.dst);
      } else send();
    }
  };
  socket.onMessage(handle);

  return {
    // The counters object itself (a data property: an object literal with a getter costs V8 a
    // runtime call, ~0.9 us, and a fuzz target makes a server per input).
    stats,
    leases: () => [...leases.values()],
    close() {
      socket.close();
    },
  };
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function misuse(message: string): Error {
  return new NetlabError("ERR_DHCP_CONFIG", message);
}
