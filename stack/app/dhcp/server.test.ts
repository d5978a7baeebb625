import { describe, it, expect } from "vitest";
import fc from "fast-check";
import { createVirtualClock } from "../../time.ts";
import { unwrap } from "../../result.ts";
import { IPV4_BROADCAST } from "../../wire/address.ts";
import {
  type DhcpRepr,
  type DhcpOptionRepr,
  emitDhcp,
  DhcpMessageType,
  DhcpOption,
  DHCP_FLAG_BROADCAST,
  BOOTREQUEST,
  messageType,
  serverId,
  leaseTime,
  renewalTime,
  rebindingTime,
  subnetMask,
  routers,
  dnsServers,
  domainName,
  broadcastAddress,
  hostName,
  clientId,
  findOption,
  optionMessageType,
  optionIpv4,
  optionBytes,
  macToChaddr,
} from "../../wire/dhcp.ts";
import { createDhcpServer, createMemoryLeaseStore } from "./server.ts";
import { createUdpSegment } from "./test-helpers.ts";
import type { DhcpServerConfig } from "./types.ts";

const SERVER = 0xc0000201; // 192.0.2.1
const ip = (s: string): number => s.split(".").reduce((a, x) => a * 256 + Number(x), 0) >>> 0;
const sec = 1000;

const BASE: DhcpServerConfig = {
  pools: [
    {
      subnet: { address: ip("192.0.2.0"), prefixLength: 24 },
      rangeStart: ip("192.0.2.100"),
      rangeEnd: ip("192.0.2.109"),
      gateway: SERVER,
      dnsServers: [ip("192.0.2.53")],
      domainName: "lab.example",
      leaseTime: 600,
    },
    {
      subnet: { address: ip("198.51.100.0"), prefixLength: 24 },
      rangeStart: ip("198.51.100.10"),
      rangeEnd: ip("198.51.100.20"),
      gateway: ip("198.51.100.1"),
      leaseTime: 1200,
    },
  ],
};

function setup(config: Partial<DhcpServerConfig> = {}) {
  const clock = createVirtualClock();
  const seg = createUdpSegment(clock);
  const serverHost = seg.attach("server", { address: SERVER, prefixLength: 24 });
  const store = createMemoryLeaseStore();
  const server = createDhcpServer({ clock, udp: serverHost.udp, ipv4: serverHost.ipv4, store }, { ...BASE, ...config });
  const clientHost = seg.attach("client");
  const sock = unwrap(clientHost.udp.bind(68));
  const relayHost = seg.attach("relay", { address: ip("198.51.100.1"), prefixLength: 24 });
  const relaySock = unwrap(relayHost.udp.bind(67));
  let xid = 1;
  /** Sends a request from MAC `mac` and returns the server's replies to it. */
  const ask = (
    type: number,
    fields: { mac?: number; options?: DhcpOptionRepr[]; ciaddr?: number; giaddr?: number; flags?: number; src?: number; dst?: number } = {},
  ) => {
    const mac = fields.mac ?? 0x020000000001;
    const repr: DhcpRepr = {
      op: BOOTREQUEST,
      htype: 1,
      hops: fields.giaddr ? 1 : 0,
      xid: xid++,
      secs: 0,
      flags: fields.flags ?? 0,
      ciaddr: fields.ciaddr ?? 0,
      yiaddr: 0,
      siaddr: 0,
      giaddr: fields.giaddr ?? 0,
      chaddr: macToChaddr(mac),
      sname: "",
      file: "",
      options: [optionMessageType(type as 1), ...(fields.options ?? [])],
    };
    const before = seg.log.length;
    const via = fields.giaddr ? relaySock : sock;
    via.sendTo(fields.dst ?? (fields.giaddr ? SERVER : IPV4_BROADCAST), 67, emitDhcp(repr), { src: fields.src ?? fields.giaddr ?? fields.ciaddr ?? 0 });
    clock.run(clock.now() + 10);
    return seg.log.slice(before).filter((r) => r.from === "server" && r.repr?.xid === repr.xid);
  };
  const one = (type: number, fields: Parameters<typeof ask>[1] = {}) => {
    const r = ask(type, fields);
    expect(r.length).toBe(1);
    return { rec: r[0]!, m: r[0]!.repr! };
  };
  /** DISCOVER + REQUEST; returns the bound address. */
  const lease = (mac: number, extra: DhcpOptionRepr[] = []): number => {
    const offer = one(DhcpMessageType.DISCOVER, { mac, options: extra }).m;
    const ack = one(DhcpMessageType.REQUEST, {
      mac,
      options: [optionIpv4(DhcpOption.REQUESTED_IP, offer.yiaddr), optionIpv4(DhcpOption.SERVER_ID, SERVER), ...extra],
    }).m;
    expect(messageType(ack)).toBe(DhcpMessageType.ACK);
    return ack.yiaddr;
  };
  return { clock, seg, server, store, ask, one, lease };
}

const req = (a: number) => optionIpv4(DhcpOption.REQUESTED_IP, a);
const sid = (a: number) => optionIpv4(DhcpOption.SERVER_ID, a);

describe("DHCP server: DISCOVER and REQUEST", () => {
  it("offers the first free address with the pool's options, broadcast from its address to port 68", () => {
    const t = setup();
    const { rec, m } = t.one(DhcpMessageType.DISCOVER, { options: [optionBytes(DhcpOption.CLIENT_ID, Uint8Array.of(1, 2, 0, 0, 0, 0, 1))] });
    expect(rec.src).toBe(SERVER);
    expect(rec.dst).toBe(IPV4_BROADCAST);
    expect([rec.srcPort, rec.dstPort]).toEqual([67, 68]);
    expect(messageType(m)).toBe(DhcpMessageType.OFFER);
    expect(m.yiaddr).toBe(ip("192.0.2.100"));
    expect(m.ciaddr).toBe(0);
    expect(serverId(m)).toBe(SERVER);
    expect(leaseTime(m)).toBe(600);
    expect(renewalTime(m)).toBe(300);
    expect(rebindingTime(m)).toBe(525);
    expect(subnetMask(m)).toBe(0xffffff00);
    expect(broadcastAddress(m)).toBe(ip("192.0.2.255"));
    expect(routers(m)).toEqual([SERVER]);
    expect(dnsServers(m)).toEqual([ip("192.0.2.53")]);
    expect(domainName(m)).toBe("lab.example");
    expect(Buffer.from(clientId(m)!).toString("hex")).toBe("01020000000001");
    expect(t.store.records.size).toBe(0);
  });

  it("orders options as the parameter request list asks, after 53, 54, 51, 58, 59", () => {
    const t = setup();
    const { m } = t.one(DhcpMessageType.DISCOVER, { options: [optionBytes(DhcpOption.PARAMETER_REQUEST_LIST, Uint8Array.of(15, 28, 3, 99))] });
    expect(m.options.map((o) => o.code)).toEqual([53, 54, 51, 58, 59, 15, 28, 3, 1, 6]);
  });

  it("ACKs a REQUEST naming it and the offered address, and stores the lease before replying", () => {
    const t = setup();
    const offer = t.one(DhcpMessageType.DISCOVER).m;
    const { rec, m } = t.one(DhcpMessageType.REQUEST, { options: [req(offer.yiaddr), sid(SERVER), optionBytes(DhcpOption.HOST_NAME, Uint8Array.of(0x61))] });
    expect(messageType(m)).toBe(DhcpMessageType.ACK);
    expect(m.yiaddr).toBe(offer.yiaddr);
    const stored = t.store.records.get(offer.yiaddr)!;
    expect(stored).toEqual({ address: offer.yiaddr, client: "hw:1:020000000001", state: "bound", expiresAt: rec.at + 600 * sec, hostName: "a" });
  });

  it("keeps giving a client the same address on a repeated DISCOVER and after its lease", () => {
    const t = setup();
    const a = t.lease(0x020000000001);
    expect(t.one(DhcpMessageType.DISCOVER).m.yiaddr).toBe(a);
    t.clock.advance(700 * sec);
    expect(t.one(DhcpMessageType.DISCOVER).m.yiaddr).toBe(a);
  });

  it("honours a requested address in DISCOVER when it is free", () => {
    const t = setup();
    expect(t.one(DhcpMessageType.DISCOVER, { options: [req(ip("192.0.2.105"))] }).m.yiaddr).toBe(ip("192.0.2.105"));
    expect(t.one(DhcpMessageType.DISCOVER, { mac: 2, options: [req(ip("192.0.2.105"))] }).m.yiaddr).toBe(ip("192.0.2.100"));
  });

  it("stays silent for a REQUEST naming another server and frees the address it had offered", () => {
    const t = setup();
    const offer = t.one(DhcpMessageType.DISCOVER).m;
    expect(t.ask(DhcpMessageType.REQUEST, { options: [req(offer.yiaddr), sid(ip("192.0.2.2"))] })).toEqual([]);
    expect(t.one(DhcpMessageType.DISCOVER, { mac: 2 }).m.yiaddr).toBe(offer.yiaddr);
  });

  it("holds an offer for offerHoldMs only", () => {
    const t = setup({ offerHoldMs: 5 * sec });
    const first = t.one(DhcpMessageType.DISCOVER).m.yiaddr;
    expect(t.one(DhcpMessageType.DISCOVER, { mac: 2 }).m.yiaddr).not.toBe(first);
    t.clock.advance(6 * sec);
    expect(t.one(DhcpMessageType.DISCOVER, { mac: 3 }).m.yiaddr).toBe(first);
  });

  it("NAKs a SELECTING REQUEST for an address leased to someone else", () => {
    const t = setup();
    const a = t.lease(1);
    const { rec, m } = t.one(DhcpMessageType.REQUEST, { mac: 2, options: [req(a), sid(SERVER)] });
    expect(messageType(m)).toBe(DhcpMessageType.NAK);
    expect(rec.dst).toBe(IPV4_BROADCAST);
    expect(m.yiaddr).toBe(0);
    expect(findOption(m, DhcpOption.LEASE_TIME)).toBeUndefined();
    expect(serverId(m)).toBe(SERVER);
  });
});

describe("DHCP server: INIT-REBOOT, RENEWING and REBINDING (RFC 2131 §4.3.2)", () => {
  it("NAKs an INIT-REBOOT REQUEST for another subnet", () => {
    const t = setup();
    const { m, rec } = t.one(DhcpMessageType.REQUEST, { options: [req(ip("203.0.113.7"))] });
    expect(messageType(m)).toBe(DhcpMessageType.NAK);
    expect(rec.dst).toBe(IPV4_BROADCAST);
  });

  it("NAKs an INIT-REBOOT REQUEST for an address held by another client", () => {
    const t = setup();
    const a = t.lease(1);
    expect(messageType(t.one(DhcpMessageType.REQUEST, { mac: 2, options: [req(a)] }).m)).toBe(DhcpMessageType.NAK);
  });

  it("NAKs an INIT-REBOOT REQUEST from a known client for an address that is not its own", () => {
    const t = setup();
    t.lease(1);
    expect(messageType(t.one(DhcpMessageType.REQUEST, { mac: 1, options: [req(ip("192.0.2.107"))] }).m)).toBe(DhcpMessageType.NAK);
  });

  it("ACKs an INIT-REBOOT REQUEST for the client's own address", () => {
    const t = setup();
    const a = t.lease(1);
    const { m } = t.one(DhcpMessageType.REQUEST, { mac: 1, options: [req(a)] });
    expect(messageType(m)).toBe(DhcpMessageType.ACK);
    expect(m.yiaddr).toBe(a);
  });

  it("stays silent for an unknown client's free address unless authoritative", () => {
    expect(setup().ask(DhcpMessageType.REQUEST, { options: [req(ip("192.0.2.103"))] })).toEqual([]);
    const t = setup({ authoritative: true });
    expect(t.one(DhcpMessageType.REQUEST, { options: [req(ip("192.0.2.103"))] }).m.yiaddr).toBe(ip("192.0.2.103"));
  });

  it("extends a lease on a unicast RENEWING REQUEST and answers to ciaddr with ciaddr set", () => {
    const t = setup();
    const a = t.lease(1);
    t.clock.advance(300 * sec);
    const { rec, m } = t.one(DhcpMessageType.REQUEST, { mac: 1, ciaddr: a, dst: SERVER });
    expect(messageType(m)).toBe(DhcpMessageType.ACK);
    expect(rec.dst).toBe(a);
    expect(m.ciaddr).toBe(a);
    expect(m.yiaddr).toBe(a);
    expect(t.store.records.get(a)!.expiresAt).toBe(rec.at + 600 * sec);
  });

  it("NAKs a REBINDING REQUEST for an address that belongs to another client", () => {
    const t = setup();
    const a = t.lease(1);
    expect(messageType(t.one(DhcpMessageType.REQUEST, { mac: 2, ciaddr: a }).m)).toBe(DhcpMessageType.NAK);
  });
});

describe("DHCP server: DECLINE, RELEASE, INFORM", () => {
  it("keeps a declined address out of use for declineHoldMs", () => {
    const t = setup({ declineHoldMs: 60 * sec });
    const a = t.lease(1);
    expect(t.ask(DhcpMessageType.DECLINE, { mac: 1, options: [req(a), sid(SERVER)] })).toEqual([]);
    expect(t.server.stats.declines).toBe(1);
    expect(t.store.records.get(a)!.state).toBe("declined");
    expect(t.one(DhcpMessageType.DISCOVER, { mac: 1 }).m.yiaddr).not.toBe(a);
    t.clock.advance(61 * sec);
    expect(t.one(DhcpMessageType.DISCOVER, { mac: 1, options: [req(a)] }).m.yiaddr).toBe(a);
  });

  it("ignores DECLINEs for addresses outside its pools, so they cannot grow the database", () => {
    const t = setup();
    for (let i = 0; i < 20; i++) t.ask(DhcpMessageType.DECLINE, { mac: 1, options: [req(ip("203.0.113.0") + i), sid(SERVER)] });
    expect(t.store.records.size).toBe(0);
    expect(t.server.stats.declines).toBe(0);
    expect(t.server.stats.ignored).toBe(20);
  });

  it("frees a released address for others when the pool runs short", () => {
    const t = setup({ pools: [{ ...BASE.pools[0]!, rangeEnd: ip("192.0.2.100") }] });
    const a = t.lease(1);
    expect(t.ask(DhcpMessageType.DISCOVER, { mac: 2 })).toEqual([]);
    t.ask(DhcpMessageType.RELEASE, { mac: 1, ciaddr: a, options: [sid(SERVER)], dst: SERVER, src: a });
    expect(t.server.stats.releases).toBe(1);
    expect(t.one(DhcpMessageType.DISCOVER, { mac: 2 }).m.yiaddr).toBe(a);
  });

  it("answers INFORM with an ACK without yiaddr or lease time, unicast to ciaddr", () => {
    const t = setup();
    const c = ip("192.0.2.50");
    const { rec, m } = t.one(DhcpMessageType.INFORM, { ciaddr: c, dst: SERVER });
    expect(messageType(m)).toBe(DhcpMessageType.ACK);
    expect(rec.dst).toBe(c);
    expect(rec.dstPort).toBe(68);
    expect(m.yiaddr).toBe(0);
    expect(m.ciaddr).toBe(c);
    expect(findOption(m, DhcpOption.LEASE_TIME)).toBeUndefined();
    expect(findOption(m, DhcpOption.RENEWAL_TIME)).toBeUndefined();
    expect(routers(m)).toEqual([SERVER]);
    expect(t.store.records.size).toBe(0);
  });
});

describe("DHCP server: relays, reservations and limits", () => {
  it("chooses the pool by giaddr and replies to the relay on port 67", () => {
    const t = setup();
    const relay = ip("198.51.100.1");
    const { rec, m } = t.one(DhcpMessageType.DISCOVER, { giaddr: relay });
    expect(rec.dst).toBe(relay);
    expect(rec.dstPort).toBe(67);
    expect(m.giaddr).toBe(relay);
    expect(m.yiaddr).toBe(ip("198.51.100.10"));
    expect(routers(m)).toEqual([relay]);
    expect(leaseTime(m)).toBe(1200);
  });

  it("sends a relayed NAK to the relay with the broadcast bit set", () => {
    const t = setup();
    const { rec, m } = t.one(DhcpMessageType.REQUEST, { giaddr: ip("198.51.100.1"), options: [req(ip("192.0.2.100"))] });
    expect(messageType(m)).toBe(DhcpMessageType.NAK);
    expect(rec.dst).toBe(ip("198.51.100.1"));
    expect(m.flags & DHCP_FLAG_BROADCAST).toBe(DHCP_FLAG_BROADCAST);
  });

  it("ignores a relayed message whose giaddr matches no pool", () => {
    const t = setup();
    expect(t.ask(DhcpMessageType.DISCOVER, { giaddr: ip("203.0.113.1") })).toEqual([]);
  });

  it("gives reserved addresses to their MAC or client id only, with the reserved host name", () => {
    const t = setup({
      reservations: [
        { mac: 0x0200000000aa, address: ip("192.0.2.10"), hostName: "printer" },
        { clientId: Uint8Array.of(0, 0x66, 0x6f, 0x6f), address: ip("192.0.2.100") },
      ],
    });
    const p = t.one(DhcpMessageType.DISCOVER, { mac: 0x0200000000aa }).m;
    expect(p.yiaddr).toBe(ip("192.0.2.10"));
    expect(hostName(p)).toBe("printer");
    expect(t.one(DhcpMessageType.DISCOVER, { mac: 5 }).m.yiaddr).toBe(ip("192.0.2.101"));
    expect(t.lease(6, [optionBytes(DhcpOption.CLIENT_ID, Uint8Array.of(0, 0x66, 0x6f, 0x6f))])).toBe(ip("192.0.2.100"));
    expect(messageType(t.one(DhcpMessageType.REQUEST, { mac: 7, options: [req(ip("192.0.2.10")), sid(SERVER)] }).m)).toBe(DhcpMessageType.NAK);
  });

  it("stops offering at maxLeases and counts it", () => {
    const t = setup({ maxLeases: 2 });
    t.lease(1);
    t.one(DhcpMessageType.DISCOVER, { mac: 2 });
    expect(t.ask(DhcpMessageType.DISCOVER, { mac: 3 })).toEqual([]);
    expect(t.server.stats.exhausted).toBe(1);
    expect(t.one(DhcpMessageType.DISCOVER, { mac: 1 }).m.yiaddr).toBe(ip("192.0.2.100"));
  });

  it("never offers its own, the gateway's, the network or the broadcast address", () => {
    const t = setup({ pools: [{ ...BASE.pools[0]!, rangeStart: ip("192.0.2.0"), rangeEnd: ip("192.0.2.3") }] });
    const got = [1, 2, 3].map((mac) => t.ask(DhcpMessageType.DISCOVER, { mac })[0]?.repr?.yiaddr);
    expect(got).toEqual([ip("192.0.2.2"), ip("192.0.2.3"), undefined]);
  });

  it("counts malformed datagrams and BOOTREPLYs without answering", () => {
    const t = setup();
    const clock = t.clock;
    const before = t.seg.log.length;
    const host = t.seg.attach("junk", { address: ip("192.0.2.77"), prefixLength: 24 });
    const s = unwrap(host.udp.bind(68));
    s.sendTo(SERVER, 67, new Uint8Array(100));
    clock.run(clock.now() + 10);
    expect(t.server.stats.malformed).toBe(1);
    expect(t.seg.log.length).toBe(before + 1);
  });
});

describe("DHCP server: properties", () => {
  it("NAKs a client bound to one address that asks to renew another (property counterexample)", () => {
    const t = setup({ pools: [{ ...BASE.pools[0]!, rangeEnd: ip("192.0.2.102") }, BASE.pools[1]!], authoritative: true });
    const first = t.ask(3, { mac: 3, ciaddr: 0, options: [req(ip("192.0.2.101"))] });
    expect(first.map((r) => [messageType(r.repr!), r.repr!.yiaddr])).toEqual([[DhcpMessageType.ACK, ip("192.0.2.101")]]);
    const renewOther = t.ask(3, { mac: 3, ciaddr: ip("192.0.2.102"), options: [] });
    expect(renewOther.map((r) => messageType(r.repr!))).toEqual([DhcpMessageType.NAK]);
    const other = t.ask(3, { mac: 1, ciaddr: 0, options: [req(ip("192.0.2.101"))] });
    expect(other.map((r) => messageType(r.repr!))).toEqual([DhcpMessageType.NAK]);
  });

  it("never ACKs one address to two clients whose leases overlap, whatever the message sequence", () => {
    const macs = [1, 2, 3, 4, 5];
    const addrs = [0, ip("192.0.2.100"), ip("192.0.2.101"), ip("192.0.2.102"), ip("192.0.2.10"), ip("198.51.100.10"), ip("203.0.113.9")];
    const step = fc.record({
      type: fc.constantFrom(1, 3, 3, 3, 3, 4, 7, 8),
      mac: fc.constantFrom(...macs),
      ciaddr: fc.oneof(fc.constant(0), fc.constantFrom(...addrs)),
      requested: fc.option(fc.constantFrom(...addrs.slice(1)), { nil: undefined, freq: 2 }),
      server: fc.option(fc.constantFrom(SERVER, SERVER, ip("192.0.2.2")), { nil: undefined, freq: 2 }),
      relayed: fc.constantFrom(false, false, false, true),
      wait: fc.nat({ max: 400_000 }),
    });
    fc.assert(
      fc.property(fc.array(step, { maxLength: 40 }), (steps) => {
        const t = setup({
          pools: [{ ...BASE.pools[0]!, rangeEnd: ip("192.0.2.102") }, BASE.pools[1]!],
          reservations: [{ mac: 5, address: ip("192.0.2.10") }],
          authoritative: true,
        });
        const owner = new Map<number, { mac: number; until: number }>();
        for (const s of steps) {
          t.clock.advance(s.wait);
          const options: DhcpOptionRepr[] = [];
          if (s.requested !== undefined) options.push(req(s.requested));
          if (s.server !== undefined) options.push(sid(s.server));
          const replies = t.ask(s.type, { mac: s.mac, ciaddr: s.ciaddr, options, ...(s.relayed ? { giaddr: ip("198.51.100.1") } : {}) });
          const now = t.clock.now();
          if ((s.type === 7 || s.type === 4) && s.server === SERVER) {
            const a = s.type === 7 ? s.ciaddr : s.requested;
            if (a !== undefined && owner.get(a)?.mac === s.mac) owner.delete(a);
          }
          for (const r of replies) {
            const m = r.repr!;
            expect(m).toBeDefined();
            if (messageType(m) !== DhcpMessageType.ACK || m.yiaddr === 0) continue;
            const held = owner.get(m.yiaddr);
            if (held && held.mac !== s.mac) expect(held.until).toBeLessThanOrEqual(now);
            owner.set(m.yiaddr, { mac: s.mac, until: r.at + leaseTime(m)! * sec });
            if (m.yiaddr === ip("192.0.2.10")) expect(s.mac).toBe(5);
          }
        }
      }),
      { numRuns: 300 },
    );
  });
});
