import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { unwrap } from "../result.ts";
import { parseEthernet } from "../wire/ethernet.ts";
import { parseIcmp, parseIcmpQuote } from "../wire/icmp.ts";
import { Ipv4Packet } from "../wire/ipv4.ts";
import { UdpPacket } from "../wire/udp.ts";
import { toHex } from "../wire/test-helpers.ts";
import { A_IP, B_IP, createTwoStacks } from "../net/test-net.ts";
import type { UdpDatagram } from "./types.ts";

const text = (s: string) => new TextEncoder().encode(s);

function ipFrom(t: ReturnType<typeof createTwoStacks>, from: "a" | "b") {
  return t.pair.log
    .filter((l) => l.from === from && unwrap(parseEthernet(l.frame.data)).ethertype === 0x0800)
    .map((l) => new Ipv4Packet(l.frame.data.subarray(14)));
}

describe("udp", () => {
  it("echoes a datagram between two stacks with exact header fields on the wire", () => {
    const t = createTwoStacks();
    const server = unwrap(t.b.udp.bind(7));
    server.onMessage((d) => {
      server.sendTo(d.src, d.srcPort, d.payload);
    });
    const client = unwrap(t.a.udp.bind(40000));
    const got: UdpDatagram[] = [];
    client.onMessage((d) => got.push(d));
    expect(client.sendTo(B_IP, 7, text("ping")).ok).toBe(true);
    t.clock.run();
    expect(got).toEqual([{ src: B_IP, srcPort: 7, dst: A_IP, dstPort: 40000, payload: text("ping") }]);
    const sent = ipFrom(t, "a").find((p) => p.protocol === 17)!;
    const u = new UdpPacket(sent.payload);
    expect(toHex(sent.payload.subarray(0, 6))).toBe("9c400007000c");
    expect(u.verifyChecksum(A_IP, B_IP)).toBe(true);
    expect(u.checksum).not.toBe(0);
  });

  it("binds ephemeral ports in 49152-65535 drawn from the Rng, distinct while bound", () => {
    const t = createTwoStacks();
    const ports = new Set<number>();
    for (let i = 0; i < 200; i++) {
      const s = unwrap(t.a.udp.bind(0));
      expect(s.localPort).toBeGreaterThanOrEqual(49152);
      expect(s.localPort).toBeLessThanOrEqual(65535);
      ports.add(s.localPort);
    }
    expect(ports.size).toBe(200);
    const other = createTwoStacks({ seed: 99 });
    expect(unwrap(other.a.udp.bind(0)).localPort).not.toBe(unwrap(createTwoStacks().a.udp.bind(0)).localPort);
  });

  it("exhausts a small ephemeral range with no-ephemeral, and rejects in-use and bad ports", () => {
    const t = createTwoStacks({ a: { udp: { ephemeralLow: 50000, ephemeralHigh: 50002 } } });
    const taken = [0, 0, 0].map(() => unwrap(t.a.udp.bind(0)).localPort).sort();
    expect(taken).toEqual([50000, 50001, 50002]);
    expect(t.a.udp.bind(0)).toMatchObject({ ok: false, error: "no-ephemeral" });
    expect(t.a.udp.bind(50001)).toMatchObject({ ok: false, error: "in-use" });
    expect(t.a.udp.bind(65536)).toMatchObject({ ok: false, error: "bad-port" });
    expect(t.a.udp.bind(-1)).toMatchObject({ ok: false, error: "bad-port" });
    expect(t.a.udp.bind(1.5)).toMatchObject({ ok: false, error: "bad-port" });
  });

  it("close() frees the port and later sends fail with closed", () => {
    const t = createTwoStacks();
    const s = unwrap(t.a.udp.bind(1000));
    s.close();
    expect(s.sendTo(B_IP, 7, text("x"))).toEqual({ ok: false, error: "closed" });
    expect(t.a.udp.bind(1000).ok).toBe(true);
  });

  it("rejects destination port 0 and oversized payloads", () => {
    const t = createTwoStacks();
    const s = unwrap(t.a.udp.bind(1000));
    expect(s.sendTo(B_IP, 0, text("x"))).toEqual({ ok: false, error: "bad-port" });
    expect(s.sendTo(B_IP, 9, new Uint8Array(65508))).toEqual({ ok: false, error: "too-big" });
    expect(s.sendTo(B_IP, 9, new Uint8Array(65507)).ok).toBe(true);
  });

  it("answers a datagram to a closed port with ICMP port unreachable, which reaches the sender's socket", () => {
    const t = createTwoStacks();
    const client = unwrap(t.a.udp.bind(40001));
    const errors: { code: number; port: number }[] = [];
    client.onError((e) => errors.push({ code: e.code, port: (e.quote.transport[2]! << 8) | e.quote.transport[3]! }));
    client.sendTo(B_IP, 9999, text("anyone?"));
    t.clock.run();
    const icmp = ipFrom(t, "b")
      .filter((p) => p.protocol === 1)
      .map((p) => unwrap(parseIcmp(p.payload)));
    expect(icmp.length).toBe(1);
    const m = icmp[0]!;
    if (m.kind !== "dst-unreachable") throw new Error(m.kind);
    expect(m.code).toBe(3);
    expect(unwrap(parseIcmpQuote(m.original))).toMatchObject({ src: A_IP, dst: B_IP, protocol: 17 });
    expect(errors).toEqual([{ code: 3, port: 9999 }]);
    expect(t.b.counters().udp).toMatchObject({ portUnreachableSent: 1, drops: { "closed-port": 1 } });
  });

  it("reports host unreachable to the sending socket when ARP cannot resolve the destination", () => {
    const t = createTwoStacks();
    const s = unwrap(t.a.udp.bind(5000));
    const errors: [number, string, number][] = [];
    s.onError((e) => errors.push([t.clock.now(), e.kind, e.code]));
    expect(s.sendTo(0xc0000263, 9, text("x")).ok).toBe(true);
    t.clock.run();
    expect(errors).toEqual([[3000, "dst-unreachable", 1]]);
  });

  it("does not send port unreachable for broadcast datagrams", () => {
    const t = createTwoStacks();
    unwrap(t.a.udp.bind(68)).sendTo(0xffffffff, 67, text("discover"), { broadcast: true });
    t.clock.run();
    expect(ipFrom(t, "b").filter((p) => p.protocol === 1)).toEqual([]);
    expect(t.b.counters().udp.drops).toEqual({ "closed-port": 1 });
  });

  it("sends and receives broadcast, from 0.0.0.0 when asked (DHCP discover)", () => {
    const t = createTwoStacks();
    const server = unwrap(t.b.udp.bind(67));
    const got: UdpDatagram[] = [];
    server.onMessage((d) => got.push(d));
    unwrap(t.a.udp.bind(68)).sendTo(0xffffffff, 67, text("discover"), { src: 0, broadcast: true });
    t.clock.run();
    expect(got).toEqual([{ src: 0, srcPort: 68, dst: 0xffffffff, dstPort: 67, payload: text("discover") }]);
    const sent = ipFrom(t, "a").find((p) => p.protocol === 17)!;
    expect(new UdpPacket(sent.payload).verifyChecksum(0, 0xffffffff)).toBe(true);
  });

  it("an unconfigured stack broadcasts from 0.0.0.0 without being told the source", () => {
    const t = createTwoStacks();
    t.a.ipv4.configure(undefined);
    const got: UdpDatagram[] = [];
    unwrap(t.b.udp.bind(67)).onMessage((d) => got.push(d));
    const s = unwrap(t.a.udp.bind(68));
    expect(s.sendTo(B_IP, 67, text("x"))).toEqual({ ok: false, error: "no-address" });
    expect(s.sendTo(0xffffffff, 67, text("discover")).ok).toBe(true);
    t.clock.run();
    expect(got.map((d) => [d.src, d.dst])).toEqual([[0, 0xffffffff]]);
  });

  it("drops datagrams with a bad checksum", () => {
    const t = createTwoStacks({
      pair: {
        filter: (f, from) => {
          const d = f.data;
          if (from === "a" && d.length > 42 && d[23] === 17) d[d.length - 1]! ^= 0xff;
          return true;
        },
      },
    });
    const server = unwrap(t.b.udp.bind(7));
    const got: UdpDatagram[] = [];
    server.onMessage((d) => got.push(d));
    unwrap(t.a.udp.bind(1)).sendTo(B_IP, 7, text("hello"));
    t.clock.run();
    expect(got).toEqual([]);
    expect(t.b.counters().udp.drops).toEqual({ "bad-checksum": 1 });
  });

  it("property: any payload up to 9000 bytes arrives intact (fragmented when needed)", () => {
    const t = createTwoStacks();
    t.clock.run();
    const server = unwrap(t.b.udp.bind(7));
    let got: Uint8Array | undefined;
    server.onMessage((d) => {
      got = d.payload;
    });
    const client = unwrap(t.a.udp.bind(0));
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 9000 }), (p) => {
        got = undefined;
        expect(client.sendTo(B_IP, 7, p).ok).toBe(true);
        t.clock.run();
        expect(got).toEqual(p);
      }),
    );
  });
});
