import { describe, expect, it } from "vitest";
import { ipv6, formatIpv6 } from "../wire/ipv6-address.ts";
import { emitIpv6OptionsHeader, emitIpv6Routing } from "../wire/ipv6-ext.ts";
import type { FrameOffload } from "../link/types.ts";
import { A_LL, A_MAC, PEER_LL, asIcmp, partialChecksumUdp6, createRawPeer, icmpPacket, icmpMessages, ipv6Packet, ndPacket } from "./ipv6-test-net.ts";

const echo = (data = new Uint8Array(4)) => ({ kind: "echo-request" as const, ident: 7, seq: 1, data });

/** An echo request behind a destination-options header holding one option of `type`. */
function withOption(type: number, dst = A_LL): Uint8Array {
  const m = icmpPacket(PEER_LL, dst, echo()).subarray(40);
  const ext = new Uint8Array(8);
  emitIpv6OptionsHeader({ nextHeader: 58, options: [{ type, data: new Uint8Array(2) }] }, ext, 0);
  const payload = new Uint8Array(8 + m.length);
  payload.set(ext);
  payload.set(m, 8);
  return ipv6Packet(PEER_LL, dst, 60, 64, payload);
}

describe("ipv6 layer", () => {
  it("configures the link-local address from the MAC's modified EUI-64 (RFC 4291 App. A)", () => {
    const t = createRawPeer();
    expect(t.stack.ipv6!.ndp.addresses().map((a) => [formatIpv6(a.address), a.prefixLength, a.origin, a.state])).toEqual([
      ["fe80::ff:fe00:1", 64, "link-local", "preferred"],
    ]);
  });

  it("a v4-only stack has no IPv6 layer and counts v6 frames as an unknown ethertype", () => {
    const t = createRawPeer({ ipv6: undefined as never });
    expect(t.stack.ipv6).toBeUndefined();
    t.inject(icmpPacket(PEER_LL, A_LL, echo()));
    t.clock.run();
    expect(t.stack.counters().ethernet.drops).toMatchObject({ "unknown-ethertype": 1 });
    expect(t.sent()).toEqual([]);
  });

  it("answers an echo request to its link-local address once the peer is resolved, with the same ident, seq and data", () => {
    const t = createRawPeer();
    t.inject(icmpPacket(PEER_LL, A_LL, echo(Uint8Array.of(1, 2, 3, 4))));
    t.clock.run(50);
    // The peer's MAC is not known: an NS to its solicited-node group, the reply waits in the queue.
    expect(t.sent().map((s) => formatIpv6(s.ip.dst))).toEqual(["ff02::1:ff00:2"]);
    t.inject(
      ndPacket(PEER_LL, A_LL, {
        kind: "neighbor-advertisement",
        router: false,
        solicited: true,
        override: true,
        target: PEER_LL,
        options: [{ kind: "target-link-layer-address", address: Uint8Array.of(2, 0, 0, 0, 0, 2) }],
      }),
    );
    t.clock.run(100);
    const reply = t.sent()[1]!;
    expect(reply.dstMac).toBe(0x020000000002);
    expect(asIcmp(reply)).toEqual({ kind: "echo-reply", ident: 7, seq: 1, data: Uint8Array.of(1, 2, 3, 4) });
    expect(t.stack.ipv6!.ndp.neighbors()).toMatchObject([{ state: "reachable", mac: 0x020000000002 }]);
  });

  it("drops packets of another version, truncated ones and multicast sources, counted by reason", () => {
    const t = createRawPeer();
    const bad = icmpPacket(PEER_LL, A_LL, echo());
    bad[0] = 0x45;
    t.inject(bad);
    t.inject(icmpPacket(PEER_LL, A_LL, echo()).subarray(0, 50));
    t.inject(icmpPacket(ipv6("ff02::1"), A_LL, echo()));
    t.inject(icmpPacket(PEER_LL, ipv6("fe80::99"), echo()));
    t.inject(icmpPacket(PEER_LL, ipv6("ff02::1234"), echo()));
    t.clock.run();
    expect(t.stack.counters().ipv6!.drops).toEqual({ "bad-version": 1, truncated: 1, "multicast-source": 1, "not-for-us": 1, "not-listening": 1 });
    expect(t.sent()).toEqual([]);
  });

  it("unknown options: 00 skipped, 01 dropped silently, 10 Parameter Problem code 2, 11 not to multicast (RFC 8200 §4.2)", () => {
    const t = createRawPeer();
    resolvePeer(t);
    const before = icmpMessages(t).length;
    t.inject(withOption(0x1e));
    t.inject(withOption(0x5e));
    t.inject(withOption(0x9e));
    t.inject(withOption(0xde, ipv6("ff02::1")));
    t.inject(withOption(0xde));
    t.clock.run();
    expect(t.stack.counters().icmpv6).toMatchObject({ echoRequestsReceived: 1, echoRepliesSent: 1, errorsSent: 2 });
    expect(t.stack.counters().ipv6!.drops).toEqual({ "unknown-option": 4 });
    const out = icmpMessages(t).slice(before);
    expect(out.map((m) => (m.kind === "parameter-problem" ? [m.kind, m.code, m.pointer] : [m.kind]))).toEqual([
      ["echo-reply"],
      ["parameter-problem", 2, 42],
      ["parameter-problem", 2, 42],
    ]);
  });

  it("unknown Next Header: Parameter Problem code 1 pointing at the field that named it", () => {
    const t = createRawPeer();
    resolvePeer(t);
    t.inject(ipv6Packet(PEER_LL, A_LL, 253, 64, new Uint8Array(8)));
    t.clock.run();
    const pp = icmpMessages(t).find((m) => m.kind === "parameter-problem");
    expect(pp).toMatchObject({ code: 1, pointer: 6 });
    expect(t.stack.counters().ipv6!.drops).toEqual({ "unknown-next-header": 1 });
  });

  it("refuses a type 0 routing header with segments left (RFC 5095): Parameter Problem code 0 at the type", () => {
    const t = createRawPeer();
    resolvePeer(t);
    const rh = new Uint8Array(24);
    emitIpv6Routing({ nextHeader: 59, routingType: 0, segmentsLeft: 1, data: new Uint8Array(20) }, rh, 0);
    t.inject(ipv6Packet(PEER_LL, A_LL, 43, 64, rh));
    t.clock.run();
    const pp = icmpMessages(t).find((m) => m.kind === "parameter-problem");
    expect(pp).toMatchObject({ code: 0, pointer: 42 });
    expect(t.stack.counters().ipv6!.drops).toEqual({ "routing-type-0": 1 });
  });

  it("drops No Next Header, counted", () => {
    const t = createRawPeer();
    t.inject(ipv6Packet(PEER_LL, A_LL, 59, 64, new Uint8Array(0)));
    t.clock.run();
    expect(t.stack.counters().ipv6!.drops).toEqual({ "no-next-header": 1 });
  });

  it("sends with the RA's hop limit and refuses datagrams over the path MTU", () => {
    const t = createRawPeer();
    resolvePeer(t);
    const r = t.stack.ipv6!.send(PEER_LL, 253, new Uint8Array(1461), { dontFragment: true });
    expect(r).toEqual({ ok: false, error: "too-big" });
    expect(t.stack.ipv6!.send(PEER_LL, 253, new Uint8Array(1460))).toEqual({ ok: true, value: undefined });
    t.clock.run();
    const last = t.sent().at(-1)!;
    expect(last.ip).toMatchObject({ hopLimit: 64, nextHeader: 253, payloadLength: 1460 });
    expect(formatIpv6(last.ip.src)).toBe("fe80::ff:fe00:1");
  });

  it("a Packet Too Big lowers the path MTU, never below 1280 (RFC 8201 §4), and never raises it", () => {
    const t = createRawPeer();
    resolvePeer(t);
    const v6 = t.stack.ipv6!;
    const quoted = ipv6Packet(A_LL, PEER_LL, 17, 64, new Uint8Array(8));
    t.inject(icmpPacket(PEER_LL, A_LL, { kind: "packet-too-big", mtu: 1400, original: quoted }));
    t.clock.run();
    expect(v6.mtuTo(PEER_LL)).toBe(1400);
    t.inject(icmpPacket(PEER_LL, A_LL, { kind: "packet-too-big", mtu: 1450, original: quoted }));
    t.inject(icmpPacket(PEER_LL, A_LL, { kind: "packet-too-big", mtu: 600, original: quoted }));
    t.clock.run();
    expect(v6.mtuTo(PEER_LL)).toBe(1280);
    expect(v6.send(PEER_LL, 253, new Uint8Array(1241), { dontFragment: true })).toEqual({ ok: false, error: "too-big" });
    t.clock.advance(600_001);
    expect(v6.mtuTo(PEER_LL)).toBe(1500);
  });

  it("takes a csumBlank frame (a partial checksum the sender's device would finish, Linux CHECKSUM_PARTIAL) as validated, as the IPv4 layer does; the same bytes unmarked are a bad checksum", () => {
    const packet = partialChecksumUdp6(PEER_LL, A_LL, 5353, new TextEncoder().encode("hello"));
    const got = (offload?: FrameOffload): { texts: string[]; drops: Record<string, number> } => {
      const t = createRawPeer();
      const sock = t.stack.udp6!.bind(5353);
      if (!sock.ok) throw new Error(sock.error);
      const texts: string[] = [];
      sock.value.onMessage((d) => texts.push(new TextDecoder().decode(d.payload)));
      t.inject(packet, A_MAC, offload);
      t.clock.run();
      return { texts, drops: t.stack.counters().udp6!.drops };
    };
    expect(got({ csumBlank: true })).toEqual({ texts: ["hello"], drops: {} });
    expect(got({ csumBlank: true, dataValidated: true })).toEqual({ texts: ["hello"], drops: {} });
    expect(got()).toEqual({ texts: [], drops: { "bad-checksum": 1 } });
  });
});

/** Teaches the stack the peer's MAC with an unsolicited-override NA answering a first NS. */
function resolvePeer(t: ReturnType<typeof createRawPeer>): void {
  t.stack.ipv6!.send(PEER_LL, 59, new Uint8Array(0));
  t.inject(
    ndPacket(PEER_LL, A_LL, {
      kind: "neighbor-advertisement",
      router: false,
      solicited: true,
      override: true,
      target: PEER_LL,
      options: [{ kind: "target-link-layer-address", address: Uint8Array.of(2, 0, 0, 0, 0, 2) }],
    }),
  );
  t.clock.run();
}
