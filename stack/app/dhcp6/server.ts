// DHCPv6 server (RFC 8415 §18.3) for one link, over UDP port 547 and the
// All_DHCP_Relay_Agents_and_Servers group (ff02::1:2, joined through MLD).
//
// createDhcp6Server  one address per IA_NA from a range of one prefix; SOLICIT -> ADVERTISE
//                    (PREFERENCE when configured; the address held for advertiseHoldMs) or, with
//                    RAPID_COMMIT on both sides, a committing REPLY; REQUEST, RENEW, REBIND (a
//                    binding this server lacks but whose address is free and on-link is granted;
//                    an off-link address gets lifetimes 0), RELEASE, DECLINE (the address held
//                    out for declineHoldMs), CONFIRM (Success or NotOnLink), INFORMATION-REQUEST
//                    (DNS servers, RFC 3646); NoAddrsAvail / NoBinding per IA; UseMulticast for a
//                    unicast REQUEST/RENEW/RELEASE/DECLINE (no UNICAST option is ever sent);
//                    message validation of §16 (CLIENTID/SERVERID presence and match). Every
//                    binding is put in the injected Dhcp6LeaseStore before its REPLY goes out.
//                    Relay messages (RELAY-FORW) are counted and ignored.
import type { Clock } from "../../time.ts";
import type { MacAddress } from "../../wire/address.ts";
import { type Ipv6Address, ipv6Key, isIpv6Multicast } from "../../wire/ipv6-address.ts";
import { writeU32 } from "../../wire/bytes.ts";
import {
  ALL_DHCP_RELAY_AGENTS_AND_SERVERS,
  DHCP6_CLIENT_PORT,
  DHCP6_SERVER_PORT,
  type Dhcp6Option,
  Dhcp6MessageType,
  Dhcp6OptionCode,
  Dhcp6Status,
  duidEqual,
  duidHex,
  duidLl,
  emitDhcp6,
  findDhcp6Option,
  findDhcp6Options,
  parseDhcp6,
} from "../../wire/dhcp6.ts";
import type { Udp6Datagram, Udp6Stack } from "../../transport/udp6.ts";
import { NetlabError } from "../../error.ts";
import type { Dhcp6LeaseStore, Dhcp6Server, Dhcp6ServerConfig, Dhcp6ServerLease, Dhcp6ServerStats } from "./types.ts";

/** What the server needs from the stack. */
export interface Dhcp6ServerDeps {
  readonly clock: Clock;
  readonly udp6: Udp6Stack;
  /** Multicast membership (NdpLayer satisfies it). */
  readonly host: { joinGroup(group: Ipv6Address): void; leaveGroup(group: Ipv6Address): void };
  /** The interface's MAC (the default DUID-LL). */
  readonly mac: MacAddress;
  /** Binding database (default: in memory only). */
  readonly store?: Dhcp6LeaseStore;
}

/** A Dhcp6LeaseStore in memory (tests, and servers that may forget). */
export function createMemoryLease6Store(initial: readonly Dhcp6ServerLease[] = []): Dhcp6LeaseStore & { records: Map<string, Dhcp6ServerLease> } {
  const records = new Map<string, Dhcp6ServerLease>(initial.map((l) => [ipv6Key(l.address), l]));
  return {
    records,
    load: () => [...records.values()],
    put: (l) => {
      records.set(ipv6Key(l.address), l);
    },
    remove: (a) => {
      records.delete(ipv6Key(a));
    },
  };
}

const toBig = (a: Ipv6Address): bigint => {
  let n = 0n;
  for (const x of a) n = (n << 8n) | BigInt(x);
  return n;
};
const fromBig = (n: bigint): Ipv6Address => {
  const a = new Uint8Array(16);
  for (let i = 15; i >= 0; i--) {
    a[i] = Number(n & 0xffn);
    n >>= 8n;
  }
  return a;
};
const prefixMatch = (a: Ipv6Address, p: Ipv6Address, len: number): boolean => {
  const mask = len === 0 ? 0n : ((1n << BigInt(len)) - 1n) << BigInt(128 - len);
  return (toBig(a) & mask) === (toBig(p) & mask);
};
const INFINITY = 0xffffffff;

/** Creates a DHCPv6 server on UDP port 547; it joins ff02::1:2. */
export function createDhcp6Server(deps: Dhcp6ServerDeps, config: Dhcp6ServerConfig): Dhcp6Server {
  const { clock, udp6, host } = deps;
  const store = deps.store ?? createMemoryLease6Store();
  const duid = config.duid ?? duidLl(deps.mac);
  const preferred = config.preferredLifetime ?? 3600;
  const valid = config.validLifetime ?? 7200;
  const t1 = config.t1 ?? (preferred === INFINITY ? INFINITY : Math.floor(preferred * 0.5));
  const t2 = config.t2 ?? (preferred === INFINITY ? INFINITY : Math.floor(preferred * 0.8));
  const maxLeases = config.maxLeases ?? 4096;
  const holdMs = config.advertiseHoldMs ?? 30_000;
  const declineHoldMs = config.declineHoldMs ?? 600_000;
  const rapidCommit = config.rapidCommit ?? true;
  const start = toBig(config.rangeStart);
  const end = toBig(config.rangeEnd);
  if (preferred > valid) throw new NetlabError("ERR_DHCP6_SERVER_CONFIG", "preferred lifetime above valid lifetime (RFC 8415 §21.6)");
  if (end < start || !prefixMatch(config.rangeStart, config.prefix, config.prefixLength) || !prefixMatch(config.rangeEnd, config.prefix, config.prefixLength)) {
    throw new NetlabError("ERR_DHCP6_SERVER_CONFIG", "the range must lie inside the prefix, start before end");
  }

  // Bindings by address and by client IA ("<duid hex>/<iaid>").
  const leases = new Map<string, Dhcp6ServerLease>();
  const byIa = new Map<string, string>();
  const iaKey = (d: string, iaid: number): string => `${d}/${iaid}`;
  const putLease = (l: Dhcp6ServerLease): void => {
    const k = ipv6Key(l.address);
    const old = leases.get(k);
    if (old !== undefined && old.state === "bound") byIa.delete(iaKey(old.duid, old.iaid));
    leases.set(k, l);
    if (l.state === "bound") byIa.set(iaKey(l.duid, l.iaid), k);
    store.put(l);
  };
  const dropLease = (l: Dhcp6ServerLease): void => {
    const k = ipv6Key(l.address);
    if (leases.get(k) !== l) return;
    leases.delete(k);
    if (byIa.get(iaKey(l.duid, l.iaid)) === k) byIa.delete(iaKey(l.duid, l.iaid));
    store.remove(l.address);
  };
  for (const l of store.load()) {
    const k = ipv6Key(l.address);
    leases.set(k, l);
    if (l.state === "bound") byIa.set(iaKey(l.duid, l.iaid), k);
  }
  const holds = new Map<string, { client: string; expiresAt: number }>();
  /** Addresses of holds without a lease record. */
  const addressOfKey = new Map<string, Ipv6Address>();

  const stats: Dhcp6ServerStats = {
    received: 0,
    malformed: 0,
    ignored: 0,
    advertises: 0,
    replies: 0,
    rapidCommits: 0,
    renews: 0,
    rebinds: 0,
    releases: 0,
    declines: 0,
    confirms: 0,
    informationRequests: 0,
    noAddrsAvail: 0,
    useMulticast: 0,
  };

  const bound = udp6.bind(DHCP6_SERVER_PORT);
  if (!bound.ok) throw new NetlabError("ERR_DHCP6_SERVER_BIND", `DHCPv6 server cannot bind UDP port 547: ${bound.error}`);
  const socket = bound.value;
  host.joinGroup(ALL_DHCP_RELAY_AGENTS_AND_SERVERS);

  const inRange = (a: Ipv6Address): boolean => {
    const n = toBig(a);
    return n >= start && n <= end;
  };
  const onLink = (a: Ipv6Address): boolean => prefixMatch(a, config.prefix, config.prefixLength);

  /** True when `a` may go to IA `client` now. */
  const free = (a: Ipv6Address, client: string, now: number): boolean => {
    if (!inRange(a)) return false;
    const k = ipv6Key(a);
    const l = leases.get(k);
    if (l !== undefined && l.validUntil > now && (l.state === "declined" || iaKey(l.duid, l.iaid) !== client)) return false;
    const h = holds.get(k);
    return h === undefined || h.expiresAt <= now || h.client === client;
  };
  const activeCount = (now: number): number => {
    let n = 0;
    for (const l of leases.values()) if (l.validUntil > now) n++;
    for (const h of holds.values()) if (h.expiresAt > now) n++;
    return n;
  };

  /** The address for an IA: its binding, its hint, else the first free one (at most maxLeases + 1 probes past the occupied ones). */
  const choose = (client: string, hint: Ipv6Address | undefined, now: number): Ipv6Address | undefined => {
    const held = byIa.get(client);
    if (held !== undefined) {
      const l = leases.get(held);
      if (l !== undefined && free(l.address, client, now)) return l.address;
    }
    for (const [k, h] of holds)
      if (h.client === client && h.expiresAt > now) {
        const a = leases.get(k)?.address ?? addressOfKey.get(k);
        if (a !== undefined && free(a, client, now)) return a;
      }
    if (hint !== undefined && free(hint, client, now)) return hint;
    if (activeCount(now) >= maxLeases) return undefined;
    const limit = BigInt(leases.size + holds.size + 1);
    for (let n = start, i = 0n; n <= end && i <= limit; n++, i++) {
      const a = fromBig(n);
      if (free(a, client, now)) return a;
    }
    return undefined;
  };
  const bind = (duidHexOf: string, iaid: number, address: Ipv6Address, now: number): Dhcp6ServerLease => {
    const k = ipv6Key(address);
    holds.delete(k);
    addressOfKey.delete(k);
    const l: Dhcp6ServerLease = {
      address,
      duid: duidHexOf,
      iaid,
      state: "bound",
      preferredUntil: preferred === INFINITY ? Infinity : now + preferred * 1000,
      validUntil: valid === INFINITY ? Infinity : now + valid * 1000,
    };
    putLease(l);
    return l;
  };

  const iaWith = (iaid: number, address: Ipv6Address, pref = preferred, val = valid): Dhcp6Option => ({
    kind: "ia-na",
    iaid,
    t1,
    t2,
    options: [{ kind: "ia-addr", address, preferredLifetime: pref, validLifetime: val, options: [] }],
  });
  const iaStatus = (iaid: number, status: number, message: string): Dhcp6Option => ({
    kind: "ia-na",
    iaid,
    t1: 0,
    t2: 0,
    options: [{ kind: "status-code", status, message }],
  });

  const reply = (d: Udp6Datagram, msgType: number, xid: number, clientId: Uint8Array | undefined, body: Dhcp6Option[], oro: readonly number[]): void => {
    const options: Dhcp6Option[] = [{ kind: "server-id", duid }, ...(clientId === undefined ? [] : [{ kind: "client-id" as const, duid: clientId }]), ...body];
    if (config.dnsServers !== undefined && config.dnsServers.length > 0 && oro.includes(Dhcp6OptionCode.DNS_SERVERS)) {
      options.push({ kind: "dns-servers", servers: config.dnsServers });
    }
    const bytes = emitDhcp6({ kind: "message", msgType, transactionId: xid, options }, { headroom: 62 });
    const r = socket.sendTo(d.src, DHCP6_CLIENT_PORT, bytes);
    if (!r.ok) return;
    if (msgType === Dhcp6MessageType.ADVERTISE) stats.advertises++;
    else stats.replies++;
  };

  const hintOf = (ia: Extract<Dhcp6Option, { kind: "ia-na" }>): Ipv6Address | undefined => findDhcp6Option(ia.options, "ia-addr")?.address;

  const onMessage = (d: Udp6Datagram): void => {
    stats.received++;
    const parsed = parseDhcp6(d.payload);
    if (!parsed.ok) {
      stats.malformed++;
      return;
    }
    const m = parsed.value;
    if (m.kind !== "message") {
      stats.ignored++;
      return;
    }
    const now = clock.now();
    const cid = findDhcp6Option(m.options, "client-id");
    const sid = findDhcp6Option(m.options, "server-id");
    const oro = findDhcp6Option(m.options, "oro")?.codes ?? [];
    const ias = findDhcp6Options(m.options, "ia-na");
    const ours = sid !== undefined && duidEqual(sid.duid, duid);
    const client = cid === undefined ? "" : duidHex(cid.duid);
    const send = (type: number, body: Dhcp6Option[]): void => reply(d, type, m.transactionId, cid?.duid, body, oro);
    switch (m.msgType) {
      case Dhcp6MessageType.SOLICIT: {
        // §16.2: CLIENTID required, no SERVERID.
        if (cid === undefined || sid !== undefined) {
          stats.ignored++;
          return;
        }
        const commit = rapidCommit && findDhcp6Option(m.options, "rapid-commit") !== undefined;
        const body: Dhcp6Option[] = commit ? [{ kind: "rapid-commit" }] : [];
        for (const ia of ias) {
          const key = iaKey(client, ia.iaid);
          const a = choose(key, hintOf(ia), now);
          if (a === undefined) {
            stats.noAddrsAvail++;
            body.push(iaStatus(ia.iaid, Dhcp6Status.NO_ADDRS_AVAIL, "no addresses available"));
            continue;
          }
          if (commit) bind(client, ia.iaid, a, now);
          else {
            holds.set(ipv6Key(a), { client: key, expiresAt: now + holdMs });
            addressOfKey.set(ipv6Key(a), a);
          }
          body.push(iaWith(ia.iaid, a));
        }
        if (commit) {
          stats.rapidCommits++;
          send(Dhcp6MessageType.REPLY, body);
          return;
        }
        if (config.preference !== undefined && config.preference !== 0) body.push({ kind: "preference", value: config.preference });
        send(Dhcp6MessageType.ADVERTISE, body);
        return;
      }
      case Dhcp6MessageType.REQUEST:
      case Dhcp6MessageType.RENEW:
      case Dhcp6MessageType.RELEASE:
      case Dhcp6MessageType.DECLINE: {
        // §16.4, §16.6, §16.9, §16.10: CLIENTID and our SERVERID required.
        if (cid === undefined || !ours) {
          stats.ignored++;
          return;
        }
        if (!isIpv6Multicast(d.dst)) {
          // §18.3.x: unicast without a UNICAST option from us: tell the client to use multicast.
          stats.useMulticast++;
          send(Dhcp6MessageType.REPLY, [{ kind: "status-code", status: Dhcp6Status.USE_MULTICAST, message: "use multicast" }]);
          return;
        }
        if (m.msgType === Dhcp6MessageType.REQUEST) return onRequest(client, ias, now, send);
        if (m.msgType === Dhcp6MessageType.RENEW) {
          stats.renews++;
          return onExtend(client, ias, now, send, false);
        }
        if (m.msgType === Dhcp6MessageType.RELEASE) return onRelease(client, ias, send);
        return onDecline(client, ias, now, send);
      }
      case Dhcp6MessageType.REBIND:
        // §16.7: CLIENTID required, no SERVERID.
        if (cid === undefined || sid !== undefined) {
          stats.ignored++;
          return;
        }
        stats.rebinds++;
        onExtend(client, ias, now, send, true);
        return;
      case Dhcp6MessageType.CONFIRM: {
        if (cid === undefined || sid !== undefined) {
          stats.ignored++;
          return;
        }
        const addrs = ias.flatMap((ia) => findDhcp6Options(ia.options, "ia-addr"));
        // §18.3.3: no addresses to judge: no reply.
        if (addrs.length === 0) {
          stats.ignored++;
          return;
        }
        stats.confirms++;
        const all = addrs.every((a) => onLink(a.address));
        send(Dhcp6MessageType.REPLY, [
          { kind: "status-code", status: all ? Dhcp6Status.SUCCESS : Dhcp6Status.NOT_ON_LINK, message: all ? "on link" : "not on link" },
        ]);
        return;
      }
      case Dhcp6MessageType.INFORMATION_REQUEST: {
        // §16.12: a SERVERID, if any, must be ours; no IA options.
        if ((sid !== undefined && !ours) || ias.length > 0) {
          stats.ignored++;
          return;
        }
        stats.informationRequests++;
        const body: Dhcp6Option[] = [];
        if (config.informationRefreshTime !== undefined) {
          const data = new Uint8Array(4);
          writeU32(data, 0, config.informationRefreshTime);
          body.push({ kind: "unknown", code: 32, data });
        }
        send(Dhcp6MessageType.REPLY, body);
        return;
      }
      default:
        stats.ignored++;
    }
  };

  type Send = (type: number, body: Dhcp6Option[]) => void;
  type Ia = Extract<Dhcp6Option, { kind: "ia-na" }>;

  const onRequest = (client: string, ias: readonly Ia[], now: number, send: Send): void => {
    const body: Dhcp6Option[] = [];
    for (const ia of ias) {
      const a = choose(iaKey(client, ia.iaid), hintOf(ia), now);
      if (a === undefined) {
        stats.noAddrsAvail++;
        body.push(iaStatus(ia.iaid, Dhcp6Status.NO_ADDRS_AVAIL, "no addresses available"));
        continue;
      }
      bind(client, ia.iaid, a, now);
      body.push(iaWith(ia.iaid, a));
    }
    send(Dhcp6MessageType.REPLY, body);
  };

  /** §18.3.4 RENEW and §18.3.5 REBIND. */
  const onExtend = (client: string, ias: readonly Ia[], now: number, send: Send, rebind: boolean): void => {
    const body: Dhcp6Option[] = [];
    for (const ia of ias) {
      const key = iaKey(client, ia.iaid);
      const asked = findDhcp6Options(ia.options, "ia-addr").map((x) => x.address);
      const k = byIa.get(key);
      const l = k === undefined ? undefined : leases.get(k);
      if (l !== undefined && l.validUntil > now) {
        bind(client, ia.iaid, l.address, now);
        const addrOpts: Dhcp6Option[] = [{ kind: "ia-addr", address: l.address, preferredLifetime: preferred, validLifetime: valid, options: [] }];
        // Addresses the client lists that are not its binding: lifetimes 0.
        for (const a of asked) if (ipv6Key(a) !== k) addrOpts.push({ kind: "ia-addr", address: a, preferredLifetime: 0, validLifetime: 0, options: [] });
        body.push({ kind: "ia-na", iaid: ia.iaid, t1, t2, options: addrOpts });
        continue;
      }
      if (rebind && asked.length > 0 && asked.every((a) => !onLink(a))) {
        // §18.3.5: addresses not appropriate for the link: lifetimes 0.
        body.push({
          kind: "ia-na",
          iaid: ia.iaid,
          t1: 0,
          t2: 0,
          options: asked.map((a) => ({ kind: "ia-addr", address: a, preferredLifetime: 0, validLifetime: 0, options: [] })),
        });
        continue;
      }
      const a = asked[0];
      if (rebind && a !== undefined && free(a, key, now) && activeCount(now) < maxLeases) {
        // §18.3.5: no binding here (another server gave it) but the address is free: grant it.
        bind(client, ia.iaid, a, now);
        body.push(iaWith(ia.iaid, a));
        continue;
      }
      body.push(iaStatus(ia.iaid, Dhcp6Status.NO_BINDING, "no binding"));
    }
    send(Dhcp6MessageType.REPLY, body);
  };

  /** §18.3.7. */
  const onRelease = (client: string, ias: readonly Ia[], send: Send): void => {
    stats.releases++;
    const body: Dhcp6Option[] = [];
    for (const ia of ias) {
      const k = byIa.get(iaKey(client, ia.iaid));
      const l = k === undefined ? undefined : leases.get(k);
      const listed = findDhcp6Options(ia.options, "ia-addr").some((x) => ipv6Key(x.address) === k);
      if (l === undefined || !listed) {
        body.push(iaStatus(ia.iaid, Dhcp6Status.NO_BINDING, "no binding"));
        continue;
      }
      dropLease(l);
    }
    body.push({ kind: "status-code", status: Dhcp6Status.SUCCESS, message: "released" });
    send(Dhcp6MessageType.REPLY, body);
  };

  /** §18.3.8. */
  const onDecline = (client: string, ias: readonly Ia[], now: number, send: Send): void => {
    stats.declines++;
    const body: Dhcp6Option[] = [];
    for (const ia of ias) {
      for (const x of findDhcp6Options(ia.options, "ia-addr")) {
        const l = leases.get(ipv6Key(x.address));
        if (l === undefined || l.duid !== client || l.iaid !== ia.iaid) {
          body.push(iaStatus(ia.iaid, Dhcp6Status.NO_BINDING, "no binding"));
          continue;
        }
        putLease({ address: l.address, duid: "", iaid: 0, state: "declined", preferredUntil: now, validUntil: now + declineHoldMs });
      }
    }
    body.push({ kind: "status-code", status: Dhcp6Status.SUCCESS, message: "declined" });
    send(Dhcp6MessageType.REPLY, body);
  };

  socket.onMessage(onMessage);
  return {
    get stats() {
      return stats;
    },
    duid,
    leases: () => [...leases.values()],
    close() {
      socket.close();
      host.leaveGroup(ALL_DHCP_RELAY_AGENTS_AND_SERVERS);
    },
  };
}
