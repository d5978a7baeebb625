// Hostile hosts on the server's own segment, in virtual time on a simulated switch (issue 19,
// items 3 and 7). Each test reproduces an attack found over a real tap and fails on the ARP
// layer before the neighbour cache: (3) spoofed on-link SYNs kept the 32-slot table of pending
// resolutions full, so new clients got no SYN-ACK; (7) a spoofed ARP for a peer's address
// replaced its entry until the peer happened to ARP again (~27 s to a minute).
import { describe, expect, it } from "vitest";
import { type ArpOptions, createStack, type Stack } from "../../stack/index.ts";
import { createSwitch, type SwitchPort } from "../../stack/link/switch.ts";
import { createRng, createVirtualClock, type VirtualClock } from "../../stack/time.ts";
import { unwrap } from "../../stack/result.ts";
import type { TcpStream } from "../../stack/transport/types.ts";
import { BROADCAST_MAC, type MacAddress, parseIpv4 } from "../../stack/wire/address.ts";
import { type ArpRepr, emitArp } from "../../stack/wire/arp.ts";
import { ETHERTYPE_ARP, ETHERTYPE_IPV4, emitEthernet } from "../../stack/wire/ethernet.ts";
import { emitIpv4 } from "../../stack/wire/ipv4.ts";
import { TCP_FLAG_SYN, emitTcp } from "../../stack/wire/tcp.ts";

const ip = (s: string): number => unwrap(parseIpv4(s));
const SERVER_IP = ip("10.0.0.1");
const SERVER_MAC = 0x02000000a001;
const ATTACKER_MAC = 0x02000000bad0;

interface Lan {
  readonly clock: VirtualClock;
  readonly server: Stack;
  readonly attacker: SwitchPort;
  host(name: string, addr: string, mac: MacAddress): Stack;
}

/** A switch with the server (10.0.0.1/16, echo service on port 7) and a raw attacker port. */
function lan(arp: ArpOptions = {}): Lan {
  const clock = createVirtualClock(0);
  const sw = createSwitch({ clock, rng: createRng(11) });
  const server = createStack(
    { device: sw.addPort({ mac: SERVER_MAC, name: "server" }), clock, rng: createRng(1) },
    { name: "server", ipv4: { cidr: "10.0.0.1/16" }, arp },
  );
  const listener = unwrap(server.tcp.listen(7, { backlog: 1024 }));
  listener.onConnection((s) => s.onData((d) => s.write(d.slice())));
  const attacker = sw.addPort({ mac: ATTACKER_MAC, name: "attacker" });
  attacker.onReceive(() => {});
  let seed = 100;
  return {
    clock,
    server,
    attacker,
    host: (name, addr, mac) => createStack({ device: sw.addPort({ mac, name }), clock, rng: createRng(seed++) }, { name, ipv4: { cidr: `${addr}/16` } }),
  };
}

function spoofedSyn(src: number, srcPort: number): Uint8Array {
  const f = new Uint8Array(14 + 20 + 20);
  emitEthernet({ dst: SERVER_MAC, src: ATTACKER_MAC, ethertype: ETHERTYPE_IPV4 }, f);
  emitIpv4(
    {
      src,
      dst: SERVER_IP,
      protocol: 6,
      ttl: 64,
      tos: 0,
      ident: srcPort,
      dontFragment: true,
      moreFragments: false,
      fragmentOffset: 0,
      payloadLength: 20,
      options: new Uint8Array(0),
    },
    f,
    14,
  );
  emitTcp({ srcPort, dstPort: 7, seq: srcPort * 7919, ack: 0, flags: TCP_FLAG_SYN, window: 64240, urgent: 0, options: {}, payload: new Uint8Array(0) }, f, 34, {
    src,
    dst: SERVER_IP,
  });
  return f;
}

function arpFrame(dst: MacAddress, repr: ArpRepr): Uint8Array {
  const f = new Uint8Array(42);
  emitEthernet({ dst, src: repr.senderMac, ethertype: ETHERTYPE_ARP }, f);
  emitArp(repr, f, 14);
  return f;
}

/** Connects and echoes `bytes`; resolves the times of connect and of the echo. */
function echo(client: Stack, bytes = 100): { stream: TcpStream; connectedAt: () => number; echoedAt: () => number } {
  const start = client.clock.now();
  let connectedAt = -1;
  let echoedAt = -1;
  let got = 0;
  const stream = unwrap(client.tcp.connect(SERVER_IP, 7));
  stream.onConnect(() => {
    connectedAt = client.clock.now() - start;
    stream.write(new Uint8Array(bytes).fill(0x61));
  });
  stream.onData((d) => {
    got += d.length;
    if (got >= bytes && echoedAt < 0) echoedAt = client.clock.now() - start;
  });
  return { stream, connectedAt: () => connectedAt, echoedAt: () => echoedAt };
}

describe("ARP under hostile hosts on the segment (virtual time, simulated switch)", () => {
  it.each([
    { rate: 50, seconds: 10 },
    { rate: 2000, seconds: 3 },
  ])("new clients connect at once while spoofed on-link SYNs arrive at $rate/s (issue 19 item 3)", ({ rate, seconds }) => {
    const net = lan();
    // A client the server has already resolved keeps being served.
    const known = net.host("known", "10.0.0.2", 0x02000000c002);
    const warm = echo(known);
    net.clock.run(500);
    expect(warm.echoedAt()).toBeGreaterThanOrEqual(0);
    // The flood: SYNs from unused on-link addresses that will never answer ARP.
    const start = net.clock.now();
    const count = rate * seconds;
    for (let i = 0; i < count; i++) {
      const src = ip("10.0.1.0") + i;
      net.clock.setTimer(start + (i * 1000) / rate, () => net.attacker.send({ data: spoofedSyn(src, 1024 + (i % 60_000)) }));
    }
    // New clients know the server (static entry, as if they had ARPed it long ago); the server
    // must resolve each of them while the flood holds its pending table.
    const fresh: { connectedAt: () => number; echoedAt: () => number }[] = [];
    const knownRuns: { echoedAt: () => number }[] = [];
    for (let k = 0; k < 7; k++) {
      net.clock.setTimer(start + 1000 + k * (((seconds - 1.5) * 1000) / 7), () => {
        const c = net.host(`new${k}`, `10.0.0.${11 + k}`, 0x02000000c011 + k);
        c.arp.addStatic(SERVER_IP, SERVER_MAC);
        fresh.push(echo(c));
        knownRuns.push(echo(known));
      });
    }
    net.clock.run(start + seconds * 1000 + 2000);
    const arp = net.server.counters().arp as Record<string, number>;
    // Every exchange completes within 20 ms of virtual time (the switch adds no delay; the
    // first SYN-ACK waits for one ARP round trip). Before: 1 s or more, or never.
    const slow = (times: number[]): number[] => times.filter((t) => t < 0 || t > 20);
    expect(fresh).toHaveLength(7);
    expect(slow(fresh.map((f) => f.connectedAt()))).toEqual([]);
    expect(slow(fresh.map((f) => f.echoedAt()))).toEqual([]);
    expect(slow(knownRuns.map((r) => r.echoedAt()))).toEqual([]);
    expect(arp.failedEntries).toBeGreaterThan(count * 0.9);
    if (rate * 3 > 256)
      expect(arp.pendingEvicted).toBeGreaterThan(0); // more unanswered than the table holds
    else expect(arp.pendingEvicted).toBe(0);
  });

  const spoofs: { name: string; frame: (peerIp: number) => Uint8Array }[] = [
    {
      name: "gratuitous request",
      frame: (p) => arpFrame(BROADCAST_MAC, { operation: "request", senderMac: ATTACKER_MAC, senderIp: p, targetMac: 0, targetIp: p }),
    },
    {
      name: "gratuitous reply",
      frame: (p) => arpFrame(BROADCAST_MAC, { operation: "reply", senderMac: ATTACKER_MAC, senderIp: p, targetMac: BROADCAST_MAC, targetIp: p }),
    },
    {
      name: "unicast reply to the server",
      frame: (p) => arpFrame(SERVER_MAC, { operation: "reply", senderMac: ATTACKER_MAC, senderIp: p, targetMac: SERVER_MAC, targetIp: SERVER_IP }),
    },
  ];

  it.each(spoofs)("a spoofed $name for a peer with traffic in flight is refused by the lock time (issue 19 item 7)", ({ frame }) => {
    const net = lan();
    const peer = net.host("peer", "10.0.0.2", 0x02000000c002);
    const peerIp = ip("10.0.0.2");
    // The peer sends a request every 100 ms; the server's echoes confirm its entry.
    const conn = echo(peer);
    for (let k = 1; k <= 50; k++) net.clock.setTimer(k * 100, () => conn.stream.write(new Uint8Array(10).fill(k)));
    net.clock.setTimer(2050, () => net.attacker.send({ data: frame(peerIp) }));
    net.clock.setTimer(3050, () => net.attacker.send({ data: frame(peerIp) }));
    net.clock.run(6000);
    expect(net.server.arp.lookup(peerIp)).toBe(0x02000000c002);
    const arp = net.server.counters().arp as Record<string, number>;
    expect(arp).toMatchObject({ addressChanges: 0, lockRefused: 2 });
    expect(peer.tcp.stats.retransmits + net.server.tcp.stats.retransmits).toBe(0);
  });

  it.each(spoofs)("a spoofed $name for an idle peer is replaced within 9 s of the next use (issue 19 item 7)", ({ frame }) => {
    const changes: [number, number, number][] = [];
    const net = lan({ onAddressChange: (a, from, to) => changes.push([a, from, to]) });
    const peer = net.host("peer", "10.0.0.2", 0x02000000c002);
    const peerIp = ip("10.0.0.2");
    // The server learns the peer (it answers the server's ARP), then the link goes quiet.
    const first = echo(peer);
    net.clock.run(1000);
    expect(first.echoedAt()).toBeGreaterThanOrEqual(0);
    net.clock.setTimer(5000, () => net.attacker.send({ data: frame(peerIp) }));
    net.clock.run(5001);
    expect(net.server.arp.lookup(peerIp)).toBe(ATTACKER_MAC);
    // The peer talks again: its request reaches the server, the echo goes to the spoofer until
    // NUD finds no progress (DELAY 5 s, three unicast probes 1 s apart, then a broadcast).
    let echoed = -1;
    const at = net.clock.now();
    first.stream.onData(() => {
      if (echoed < 0) echoed = net.clock.now() - at;
    });
    first.stream.write(new Uint8Array(10).fill(1));
    let restoredAt = -1;
    for (let t = 0; t <= 30_000; t += 100) {
      net.clock.run(at + t);
      if (restoredAt < 0 && net.server.arp.lookup(peerIp) === 0x02000000c002) restoredAt = t;
    }
    expect(restoredAt).toBeGreaterThan(0);
    expect(restoredAt).toBeLessThanOrEqual(9000);
    expect(echoed).toBeGreaterThan(0);
    expect(echoed).toBeLessThanOrEqual(20_000);
    const arp = net.server.counters().arp as Record<string, number>;
    expect(arp).toMatchObject({ addressChanges: 1, unicastProbesSent: 3 });
    expect(changes).toEqual([[peerIp, 0x02000000c002, ATTACKER_MAC]]);
  });
});
