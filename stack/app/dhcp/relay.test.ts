import { describe, expect, it } from "vitest";
import { createSwitch } from "../../link/switch.ts";
import { createMemorySink, withCapture } from "../../link/capture.ts";
import { createRng, createVirtualClock } from "../../time.ts";
import { createStack, type Stack } from "../../index.ts";
import { formatIpv4 } from "../../wire/address.ts";
import { parseEthernet, parseIpv4, parseUdp } from "../../wire/index.ts";
import { BOOTREQUEST, DhcpMessageType, emitDhcp, optionMessageType, parseDhcp } from "../../wire/dhcp.ts";
import { createDhcpRelay, createMemoryLeaseStore, dhcpClientOnStack, dhcpServerOnStack } from "./index.ts";

const SERVER = 0x0a000001; // 10.0.0.1 on the backbone
const RELAY = 0x0a010001; // 10.1.0.1: giaddr, the relay's address on both sides

/** A client segment and a backbone joined by a relay; the server only on the backbone. */
function world(broadcastFlag: boolean) {
  const clock = createVirtualClock();
  const backbone = createSwitch({ clock, rng: createRng(1) });
  const segment = createSwitch({ clock, rng: createRng(2) });
  const sink = createMemorySink();
  let mac = 0x020000000001;
  const stack = (sw: typeof backbone, name: string, cidr?: string): Stack =>
    createStack(
      { device: withCapture(sw.addPort({ mac: mac++, name }), sink, { clock, name }), clock, rng: createRng(mac) },
      { name, ...(cidr ? { ipv4: { cidr } } : {}) },
    );
  const serverStack = stack(backbone, "server", "10.0.0.1/8");
  const server = dhcpServerOnStack(
    serverStack,
    {
      pools: [{ subnet: { address: 0x0a010000, prefixLength: 24 }, rangeStart: 0x0a010010, rangeEnd: 0x0a010020, gateway: RELAY, leaseTime: 600 }],
    },
    createMemoryLeaseStore(),
  );
  const relaySegment = stack(segment, "relay-segment", "10.1.0.1/24");
  const relayBackbone = stack(backbone, "relay-backbone", "10.1.0.1/8");
  const relay = createDhcpRelay(
    { clientSide: { udp: relaySegment.udp, address: RELAY, arp: relaySegment.arp }, serverSide: { udp: relayBackbone.udp } },
    { servers: [SERVER] },
  );
  if (!relay.ok) throw new Error(relay.error);
  const clientStack = stack(segment, "client");
  const client = dhcpClientOnStack(clientStack, { initDelayMinMs: 0, initDelayMaxMs: 10, broadcastFlag });
  const other = stack(segment, "other", "10.1.0.9/24");
  return { clock, sink, server, relay: relay.value, client, clientStack, other };
}

describe("createDhcpRelay()", () => {
  for (const broadcastFlag of [true, false]) {
    it(`serves a client on another segment through giaddr (broadcast flag ${broadcastFlag ? "set" : "clear"})`, () => {
      const w = world(broadcastFlag);
      w.client.start();
      w.clock.run(10_000);
      expect(w.client.state).toBe("bound");
      expect(formatIpv4(w.client.lease!.address)).toMatch(/^10\.1\.0\.(1[6-9]|2\d|3[0-2])$/);
      expect(w.clientStack.ipv4.cidr?.address).toBe(w.client.lease!.address);
      expect(w.relay.stats).toMatchObject({ requestsRelayed: 2, repliesRelayed: 2, dropped: 0 });
      expect(w.server.stats).toMatchObject({ offers: 1, acks: 1 });
      // on the backbone the relayed requests are unicast to the server with giaddr and hops set
      const serverIf = w.sink.interfaces.findIndex((i) => i.name === "server");
      const relayed = w.sink.packets
        .filter((p) => p.interfaceId === serverIf && p.direction === "in")
        .flatMap((p) => {
          const eth = parseEthernet(p.data);
          if (!eth.ok || eth.value.ethertype !== 0x0800) return [];
          const ip = parseIpv4(p.data.subarray(14));
          if (!ip.ok || ip.value.protocol !== 17) return [];
          const udp = parseUdp(p.data.subarray(14 + 20, 14 + 20 + ip.value.payloadLength), ip.value.src, ip.value.dst);
          if (!udp.ok || udp.value.dstPort !== 67) return [];
          const m = parseDhcp(udp.value.payload);
          return m.ok ? [{ dst: ip.value.dst, src: ip.value.src, giaddr: m.value.giaddr, hops: m.value.hops }] : [];
        });
      expect(relayed).toEqual([
        { dst: SERVER, src: RELAY, giaddr: RELAY, hops: 1 },
        { dst: SERVER, src: RELAY, giaddr: RELAY, hops: 1 },
      ]);
    });
  }

  it("drops what does not parse and requests past the hop limit", () => {
    const w = world(false);
    const socket = w.other.udp.bind(68);
    if (!socket.ok) throw new Error(socket.error);
    socket.value.sendTo(RELAY, 67, new Uint8Array(20));
    const request = emitDhcp({
      op: BOOTREQUEST,
      htype: 1,
      hops: 16,
      xid: 7,
      secs: 0,
      flags: 0,
      ciaddr: 0,
      yiaddr: 0,
      siaddr: 0,
      giaddr: 0,
      chaddr: Uint8Array.of(2, 0, 0, 0, 0, 9),
      sname: "",
      file: "",
      options: [optionMessageType(DhcpMessageType.DISCOVER)],
    });
    socket.value.sendTo(RELAY, 67, request);
    w.clock.run(1_000);
    expect(w.relay.stats).toEqual({ requestsRelayed: 0, repliesRelayed: 0, dropped: 2 });
    expect(w.server.stats.offers).toBe(0);
  });
});
