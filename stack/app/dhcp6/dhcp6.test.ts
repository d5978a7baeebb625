// DHCPv6 between two netlab stacks on a simulated wire, in virtual time: lease, rapid commit,
// renew, rebind after the server is lost (a second server from the same durable store), expiry,
// release, DAD failure and DECLINE, stateless information from an RA's O flag, retransmission.
import { describe, expect, it } from "vitest";
import { createDevicePair } from "../../link/pair.ts";
import { createRng, createVirtualClock } from "../../time.ts";
import { createStack, type Stack } from "../../index.ts";
import { readU16 } from "../../wire/bytes.ts";
import { formatIpv6, ipv6 } from "../../wire/ipv6-address.ts";
import { parseIpv6 } from "../../wire/ipv6.ts";
import { asMld, upper } from "../../net/ipv6-test-net.ts";
import { type Dhcp6Repr, Dhcp6MessageType, duidLlt, emitDhcp6, findDhcp6Option, parseDhcp6 } from "../../wire/dhcp6.ts";
import { type Dhcp6ServerConfig, type Dhcp6LeaseLostReason, createMemoryLease6Store, dhcp6ClientOnStack, dhcp6ServerOnStack } from "./index.ts";

const SERVER_MAC = 0x020000000001,
  CLIENT_MAC = 0x020000000002;
const POOL: Dhcp6ServerConfig = {
  prefix: ipv6("2001:db8::"),
  prefixLength: 64,
  rangeStart: ipv6("2001:db8::100"),
  rangeEnd: ipv6("2001:db8::1ff"),
  dnsServers: [ipv6("2001:db8::53")],
};
const NAMES: Record<number, string> = {
  1: "SOLICIT",
  2: "ADVERTISE",
  3: "REQUEST",
  4: "CONFIRM",
  5: "RENEW",
  6: "REBIND",
  7: "REPLY",
  8: "RELEASE",
  9: "DECLINE",
  11: "INFORMATION-REQUEST",
};

function lab(serverV6: { addresses?: string[]; advertise?: { prefixes: string[]; managed?: boolean; other?: boolean } } = {}) {
  const clock = createVirtualClock();
  const pair = createDevicePair(clock, { latencyMs: 1, macA: SERVER_MAC, macB: CLIENT_MAC });
  const server = createStack(
    { device: pair.a, clock, rng: createRng(11) },
    {
      name: "server",
      ipv6: {
        addresses: serverV6.addresses ?? ["2001:db8::1/64"],
        routerSolicitations: false,
        ...(serverV6.advertise ? { advertise: serverV6.advertise } : {}),
      },
    },
  );
  const client = createStack(
    { device: pair.b, clock, rng: createRng(12) },
    { name: "client", ipv6: { routerSolicitations: serverV6.advertise !== undefined } },
  );
  clock.run(clock.now() + 5000);
  pair.log.length = 0;
  /** DHCPv6 messages on the wire, in order. */
  const wire = (): { from: "a" | "b"; at: number; name: string; repr: Dhcp6Repr }[] =>
    pair.log.flatMap((l) => {
      const f = l.frame.data;
      if (readU16(f, 12) !== 0x86dd || f[14 + 6] !== 17) return [];
      const dport = readU16(f, 14 + 40 + 2);
      if (dport !== 546 && dport !== 547) return [];
      const r = parseDhcp6(f.subarray(14 + 40 + 8));
      if (!r.ok) throw new Error(`bad DHCPv6 on the wire: ${r.error}`);
      return [{ from: l.from, at: l.at, name: NAMES[r.value.msgType] ?? String(r.value.msgType), repr: r.value }];
    });
  return { clock, pair, server, client, wire };
}

const addressesOf = (s: Stack) =>
  s
    .ipv6!.ndp.addresses()
    .filter((a) => a.origin === "dhcpv6")
    .map((a) => `${formatIpv6(a.address)}/${a.prefixLength} ${a.state}`);

describe("dhcpv6 between two stacks", () => {
  it("leases an address with SOLICIT, ADVERTISE, REQUEST, REPLY, adds it after DAD, and the server reaches it", () => {
    const t = lab();
    const store = createMemoryLease6Store();
    const srv = dhcp6ServerOnStack(t.server, POOL, store);
    const c = dhcp6ClientOnStack(t.client, { rapidCommit: false });
    c.start();
    t.clock.run(t.clock.now() + 10_000);
    expect(c.state).toBe("bound");
    expect(t.wire().map((w) => `${w.from} ${w.name}`)).toEqual(["b SOLICIT", "a ADVERTISE", "b REQUEST", "a REPLY"]);
    const [solicit, , request, reply] = t.wire();
    // The first SOLICIT waits a random 0..SOL_MAX_DELAY (RFC 8415 §18.2.1), goes to ff02::1:2 from the link-local address.
    const sol = t.pair.log.find((l) => l.at === solicit!.at && l.from === "b")!.frame.data;
    expect(formatIpv6(sol.subarray(14 + 24, 14 + 40))).toBe("ff02::1:2");
    expect(formatIpv6(sol.subarray(14 + 8, 14 + 24))).toBe("fe80::ff:fe00:2");
    expect(readU16(sol, 14 + 40)).toBe(546);
    if (request!.repr.kind !== "message") throw new Error("relay");
    expect(findDhcp6Option(request!.repr.options, "server-id")!.duid).toEqual(srv.duid);
    expect(findDhcp6Option(request!.repr.options, "oro")!.codes).toContain(23);
    expect(c.lease).toMatchObject({ preferredLifetime: 3600, validLifetime: 7200, t1: 1800, t2: 2880, rapidCommit: false });
    expect(formatIpv6(c.lease!.address)).toBe("2001:db8::100");
    expect(c.lease!.dnsServers.map(formatIpv6)).toEqual(["2001:db8::53"]);
    expect(addressesOf(t.client)).toEqual(["2001:db8::100/128 preferred"]);
    // DAD ran between the REPLY and "bound": one NS from :: for the leased address.
    const dadNs = t.pair.log.filter((l) => l.from === "b" && l.at > reply!.at && readU16(l.frame.data, 12) === 0x86dd && l.frame.data[14 + 40] === 135);
    expect(dadNs.length).toBe(1);
    expect(formatIpv6(dadNs[0]!.frame.data.subarray(14 + 8, 14 + 24))).toBe("::");
    expect([...store.records.values()].map((l) => [formatIpv6(l.address), l.state, l.iaid])).toEqual([
      ["2001:db8::100", "bound", Number(BigInt(CLIENT_MAC) & 0xffffffffn)],
    ]);
  });

  it("commits at once with rapid commit: SOLICIT, REPLY", () => {
    const t = lab();
    const srv = dhcp6ServerOnStack(t.server, POOL);
    const c = dhcp6ClientOnStack(t.client);
    c.start();
    t.clock.run(t.clock.now() + 10_000);
    expect(t.wire().map((w) => `${w.from} ${w.name}`)).toEqual(["b SOLICIT", "a REPLY"]);
    const reply = t.wire()[1]!.repr;
    expect(reply.kind === "message" && findDhcp6Option(reply.options, "rapid-commit")).toEqual({ kind: "rapid-commit" });
    expect(c.lease?.rapidCommit).toBe(true);
    expect(srv.stats).toMatchObject({ rapidCommits: 1, advertises: 0, replies: 1 });
  });

  it("renews at T1 with the server's id and keeps the address", () => {
    const t = lab();
    dhcp6ServerOnStack(t.server, { ...POOL, preferredLifetime: 100, validLifetime: 200 });
    const c = dhcp6ClientOnStack(t.client);
    c.start();
    t.clock.run(t.clock.now() + 5000);
    const first = c.lease!;
    expect([first.t1, first.t2]).toEqual([50, 80]);
    t.clock.run(first.renewAt + 1000);
    const names = t.wire().map((w) => `${w.from} ${w.name}`);
    expect(names.slice(2)).toEqual(["b RENEW", "a REPLY"]);
    const renew = t.wire()[2]!;
    expect(renew.at).toBe(first.renewAt);
    expect(c.state).toBe("bound");
    expect(c.lease!.address).toEqual(first.address);
    expect(c.lease!.renewAt).toBeGreaterThan(first.renewAt);
    // The interface address's lifetimes moved with the lease, without a second DAD.
    const a = t.client.ipv6!.ndp.addresses().find((x) => x.origin === "dhcpv6")!;
    expect(a.validUntil).toBe(c.lease!.validUntil);
  });

  it("rebinds at T2 when the server is gone, to a second server that loads the first one's bindings", () => {
    const t = lab();
    const store = createMemoryLease6Store();
    const config = { ...POOL, preferredLifetime: 100, validLifetime: 200 };
    const first = dhcp6ServerOnStack(t.server, config, store);
    const c = dhcp6ClientOnStack(t.client);
    c.start();
    t.clock.run(t.clock.now() + 5000);
    const lease = c.lease!;
    first.close();
    // RENEW from T1 to T2, unanswered: RFC 8415 §18.2.4 REN_TIMEOUT 10 s doubling, MRD = T2.
    t.clock.run(lease.rebindAt - 1);
    const renews = t
      .wire()
      .filter((w) => w.name === "RENEW")
      .map((w) => w.at);
    expect(renews.length).toBe(3);
    expect(renews[0]).toBe(lease.renewAt);
    const g0 = renews[1]! - renews[0]!,
      g1 = renews[2]! - renews[1]!;
    expect(g0).toBeGreaterThanOrEqual(9000);
    expect(g0).toBeLessThanOrEqual(11_000);
    expect(g1).toBeGreaterThanOrEqual(Math.floor(1.9 * g0));
    expect(g1).toBeLessThanOrEqual(Math.ceil(2.1 * g0));
    expect(c.state).toBe("renewing");
    const second = dhcp6ServerOnStack(t.server, { ...config, duid: duidLlt(SERVER_MAC, 12345) }, store);
    t.clock.run(lease.rebindAt + 5000);
    const rebind = t.wire().find((w) => w.name === "REBIND")!;
    expect(rebind.at).toBe(lease.rebindAt);
    expect(rebind.repr.kind === "message" && findDhcp6Option(rebind.repr.options, "server-id")).toBeUndefined();
    expect(c.state).toBe("bound");
    expect(c.lease!.serverId).toEqual(second.duid);
    expect(c.lease!.address).toEqual(lease.address);
    expect(second.stats.rebinds).toBe(1);
  });

  it("loses the address when the valid lifetime ends with no server, then solicits again", () => {
    const t = lab();
    const srv = dhcp6ServerOnStack(t.server, { ...POOL, preferredLifetime: 100, validLifetime: 200 });
    const c = dhcp6ClientOnStack(t.client);
    const lost: Dhcp6LeaseLostReason[] = [];
    c.onLeaseLost((r) => lost.push(r));
    c.start();
    t.clock.run(t.clock.now() + 5000);
    const lease = c.lease!;
    srv.close();
    t.clock.run(lease.validUntil + 10);
    expect(lost).toEqual(["expired"]);
    expect(addressesOf(t.client)).toEqual([]);
    expect(c.state).toBe("soliciting");
    const rebinds = t.wire().filter((w) => w.name === "REBIND");
    expect(rebinds.length).toBeGreaterThan(1);
    expect(rebinds.every((w) => w.at < lease.validUntil)).toBe(true);
  });

  it("releases on stop: the address goes at once, the server forgets the binding and answers", () => {
    const t = lab();
    const store = createMemoryLease6Store();
    const srv = dhcp6ServerOnStack(t.server, POOL, store);
    const c = dhcp6ClientOnStack(t.client);
    c.start();
    t.clock.run(t.clock.now() + 5000);
    expect(store.records.size).toBe(1);
    c.stop();
    expect(c.state).toBe("releasing");
    expect(addressesOf(t.client)).toEqual([]);
    t.clock.run(t.clock.now() + 1000);
    expect(
      t
        .wire()
        .slice(2)
        .map((w) => `${w.from} ${w.name}`),
    ).toEqual(["b RELEASE", "a REPLY"]);
    expect(c.state).toBe("stopped");
    expect(store.records.size).toBe(0);
    expect(srv.stats.releases).toBe(1);
  });

  it("declines an address another node holds (DAD fails) and takes the next one", () => {
    const t = lab({ addresses: ["2001:db8::1/64", "2001:db8::100/64"] });
    const srv = dhcp6ServerOnStack(t.server, POOL);
    const c = dhcp6ClientOnStack(t.client);
    const lost: Dhcp6LeaseLostReason[] = [];
    c.onLeaseLost((r) => lost.push(r));
    c.start();
    t.clock.run(t.clock.now() + 10_000);
    expect(lost).toEqual(["duplicate"]);
    expect(t.wire().map((w) => `${w.from} ${w.name}`)).toEqual(["b SOLICIT", "a REPLY", "b DECLINE", "a REPLY", "b SOLICIT", "a REPLY"]);
    expect(formatIpv6(c.lease!.address)).toBe("2001:db8::101");
    expect(srv.leases().map((l) => [formatIpv6(l.address), l.state])).toEqual([
      ["2001:db8::100", "declined"],
      ["2001:db8::101", "bound"],
    ]);
  });

  it("asks for DNS servers with INFORMATION-REQUEST when the RA sets O only (mode from-ra)", () => {
    const t = lab({ advertise: { prefixes: ["2001:db8::/64"], other: true } });
    dhcp6ServerOnStack(t.server, { ...POOL, informationRefreshTime: 1200 });
    const c = dhcp6ClientOnStack(t.client, { mode: "from-ra" });
    c.start();
    t.clock.run(t.clock.now() + 5000);
    expect(c.state).toBe("informed");
    expect(c.lease).toBeUndefined();
    expect(c.information!.dnsServers.map(formatIpv6)).toEqual(["2001:db8::53"]);
    expect(c.information!.refreshAt - c.information!.receivedAt).toBe(1_200_000);
    expect(t.wire().map((w) => `${w.from} ${w.name}`)).toEqual(["b INFORMATION-REQUEST", "a REPLY"]);
    t.clock.run(c.information!.refreshAt + 3000);
    expect(t.wire().filter((w) => w.name === "INFORMATION-REQUEST").length).toBe(2);
  });

  it("takes a lease when the RA sets M (mode from-ra)", () => {
    const t = lab({ advertise: { prefixes: ["2001:db8::/64"], managed: true, other: true } });
    dhcp6ServerOnStack(t.server, POOL);
    const c = dhcp6ClientOnStack(t.client, { mode: "from-ra" });
    c.start();
    t.clock.run(t.clock.now() + 5000);
    expect(c.state).toBe("bound");
    // SLAAC is off in the client: the only global address is the leased one.
    expect(addressesOf(t.client)).toEqual(["2001:db8::100/128 preferred"]);
    // The address works (the RA made the prefix on-link for the client: DHCPv6 does not say it): the server pings it.
    const replies: string[] = [];
    t.server.icmpv6!.ping(ipv6("2001:db8::100"), {}, (r) => replies.push(r.ok ? formatIpv6(r.value.from) : r.error));
    t.clock.run(t.clock.now() + 2000);
    expect(replies).toEqual(["2001:db8::100"]);
  });

  it("retransmits SOLICIT as RFC 8415 §15 says: RT 1 s (RAND > 0), doubling, capped at SOL_MAX_RT with RAND", () => {
    const t = lab();
    const c = dhcp6ClientOnStack(t.client, { timing: { solMaxRt: 20 } });
    const start = t.clock.now();
    c.start();
    t.clock.run(start + 120_000);
    const at = t
      .wire()
      .filter((w) => w.name === "SOLICIT")
      .map((w) => w.at);
    expect(at[0]! - start).toBeLessThanOrEqual(1000);
    const gaps = at.slice(1).map((x, i) => x - at[i]!);
    expect(gaps[0]).toBeGreaterThan(1000);
    expect(gaps[0]).toBeLessThanOrEqual(1100);
    // Each next RT is 2 RT +- 10 %, until 20 s +- 10 % caps it.
    for (let i = 1; i < gaps.length; i++) {
      const lo = Math.min(1.9 * gaps[i - 1]!, 18_000),
        hi = Math.min(2.1 * gaps[i - 1]!, 22_000);
      expect(gaps[i]).toBeGreaterThanOrEqual(Math.floor(lo) - 1);
      expect(gaps[i]).toBeLessThanOrEqual(Math.ceil(hi) + 1);
    }
    expect(gaps.slice(-2).every((g) => g >= 18_000 && g <= 22_000)).toBe(true);
    // Elapsed time grows in hundredths of a second from 0.
    const elapsed = t
      .wire()
      .filter((w) => w.name === "SOLICIT")
      .map((w) => (w.repr.kind === "message" ? findDhcp6Option(w.repr.options, "elapsed-time")!.centiseconds : -1));
    expect(elapsed[0]).toBe(0);
    expect(elapsed[1]).toBe(Math.floor(gaps[0]! / 10));
  });

  it("the server answers a unicast REQUEST with UseMulticast and ignores a SOLICIT naming a server", () => {
    const t = lab();
    const srv = dhcp6ServerOnStack(t.server, POOL);
    const sock = t.client.udp6!.bind(546);
    if (!sock.ok) throw new Error("bind");
    const got: Dhcp6Repr[] = [];
    sock.value.onMessage((d) => {
      const r = parseDhcp6(d.payload);
      if (r.ok) got.push(r.value);
    });
    const clientId = { kind: "client-id" as const, duid: Uint8Array.of(0, 3, 0, 1, 2, 0, 0, 0, 0, 2) };
    const request = emitDhcp6({
      kind: "message",
      msgType: Dhcp6MessageType.REQUEST,
      transactionId: 7,
      options: [clientId, { kind: "server-id", duid: srv.duid }],
    });
    const solicit = emitDhcp6({
      kind: "message",
      msgType: Dhcp6MessageType.SOLICIT,
      transactionId: 8,
      options: [clientId, { kind: "server-id", duid: srv.duid }],
    });
    sock.value.sendTo(ipv6("fe80::ff:fe00:1"), 547, request);
    sock.value.sendTo(ipv6("ff02::1:2"), 547, solicit);
    t.clock.run(t.clock.now() + 1000);
    expect(got.map((r) => (r.kind === "message" ? [r.msgType, r.transactionId, findDhcp6Option(r.options, "status-code")?.status] : []))).toEqual([[7, 7, 5]]);
    expect(srv.stats).toMatchObject({ useMulticast: 1, ignored: 1 });
  });

  it("the server joins ff02::1:2 with an MLDv2 report, receives there, and leaves the group on close", () => {
    const t = lab();
    const srv = dhcp6ServerOnStack(t.server, POOL);
    expect(t.server.ipv6!.ndp.isListening(ipv6("ff02::1:2"))).toBe(true);
    srv.close();
    expect(t.server.ipv6!.ndp.isListening(ipv6("ff02::1:2"))).toBe(false);
    t.clock.run(t.clock.now() + 100);
    const reports = t.pair.log
      .filter((l) => l.from === "a" && readU16(l.frame.data, 12) === 0x86dd)
      .map((l) => {
        const packet = l.frame.data.subarray(14);
        const ip = parseIpv6(packet);
        if (!ip.ok || upper(packet).nextHeader !== 58) return undefined;
        const m = asMld({ packet, ip: ip.value });
        return m.kind === "report" ? m.records.map((r) => `${r.recordType} ${formatIpv6(r.multicastAddress)}`).join(",") : undefined;
      })
      .filter((x) => x !== undefined);
    // CHANGE_TO_EXCLUDE {} (4) joins, CHANGE_TO_INCLUDE {} (3) leaves (RFC 3810 §6.1).
    expect(reports).toEqual(["4 ff02::1:2", "3 ff02::1:2"]);
  });

  it("the client ignores a REPLY with another transaction id, another client's DUID or no server id", () => {
    const t = lab();
    const sock = t.server.udp6!.bind(547);
    if (!sock.ok) throw new Error("bind");
    t.server.ipv6!.ndp.joinGroup(ipv6("ff02::1:2"));
    const c = dhcp6ClientOnStack(t.client);
    const server = { kind: "server-id" as const, duid: duidLlt(SERVER_MAC, 1) };
    const ia = {
      kind: "ia-na" as const,
      iaid: Number(BigInt(CLIENT_MAC) & 0xffffffffn),
      t1: 0,
      t2: 0,
      options: [{ kind: "ia-addr" as const, address: ipv6("2001:db8::9"), preferredLifetime: 100, validLifetime: 200, options: [] }],
    };
    sock.value.onMessage((d) => {
      const m = parseDhcp6(d.payload);
      if (!m.ok || m.value.kind !== "message") return;
      const xid = m.value.transactionId;
      const answer = (transactionId: number, options: Dhcp6Repr["options"]) =>
        sock.value.sendTo(
          d.src,
          546,
          emitDhcp6({ kind: "message", msgType: Dhcp6MessageType.REPLY, transactionId, options: [{ kind: "rapid-commit" }, ...options, ia] }),
        );
      answer((xid + 1) & 0xffffff, [server, { kind: "client-id", duid: c.duid }]);
      answer(xid, [server, { kind: "client-id", duid: Uint8Array.of(0, 3, 0, 1, 2, 0, 0, 0, 0, 9) }]);
      answer(xid, [{ kind: "client-id", duid: c.duid }]);
    });
    c.start();
    t.clock.run(t.clock.now() + 5000);
    expect(c.state).toBe("soliciting");
    expect(c.lease).toBeUndefined();
    expect(c.stats.received).toBe(0);
    expect(c.stats.ignored).toBe(3 * c.stats.solicits);
  });

  it("keeps soliciting on the backoff when the only server has no address left (NoAddrsAvail to a rapid-commit SOLICIT)", () => {
    const t = lab();
    // A one-address pool whose address another client holds.
    const store = createMemoryLease6Store([
      { address: ipv6("2001:db8::100"), duid: "ff", iaid: 1, state: "bound", preferredUntil: Infinity, validUntil: Infinity },
    ]);
    const full = dhcp6ServerOnStack(t.server, { ...POOL, rangeEnd: ipv6("2001:db8::100") }, store);
    const c = dhcp6ClientOnStack(t.client);
    c.start();
    t.clock.run(t.clock.now() + 20_000);
    expect(c.state).toBe("soliciting");
    expect(full.stats.noAddrsAvail).toBe(c.stats.solicits);
    // 0..1 s, then RT 1, 2, 4, 8 s (+-10 %): five or six SOLICITs in 20 s, not one every second.
    expect(c.stats.solicits).toBeGreaterThanOrEqual(4);
    expect(c.stats.solicits).toBeLessThanOrEqual(6);
  });
});
