import { describe, expect, it } from "vitest";
import { createDevicePair } from "../link/pair.ts";
import { createRng, createVirtualClock } from "../time.ts";
import { createStack } from "../index.ts";
import type { Result } from "../result.ts";
import { ipv6 } from "../wire/ipv6-address.ts";
import { emitIpv6Fragment, walkIpv6Chain } from "../wire/ipv6-ext.ts";
import { parseIpv6 } from "../wire/ipv6.ts";
import { readU16 } from "../wire/bytes.ts";
import type { Ping6Error, Ping6Reply } from "./ipv6-types.ts";
import { A_LL, PEER_LL, createRawPeer, icmpMessages, icmpPacket, ipv6Packet, ndPacket } from "./ipv6-test-net.ts";

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

/** Fragments of `upper` (an upper-layer message with next header nh) at the given offsets/lengths. */
function fragments(nh: number, upper: Uint8Array, cuts: readonly (readonly [offset: number, length: number])[], ident = 0x1234): Uint8Array[] {
  return cuts.map(([off, len]) => {
    const body = new Uint8Array(8 + len);
    emitIpv6Fragment({ nextHeader: nh, fragmentOffset: off, moreFragments: off + len < upper.length, ident }, body, 0);
    body.set(upper.subarray(off, off + len), 8);
    return ipv6Packet(PEER_LL, A_LL, 44, 64, body);
  });
}

const echo = (n: number) => {
  const data = new Uint8Array(n);
  for (let i = 0; i < n; i++) data[i] = (i * 7) & 0xff;
  return icmpPacket(PEER_LL, A_LL, { kind: "echo-request", ident: 1, seq: 1, data }).subarray(40);
};

describe("ipv6 fragmentation and reassembly", () => {
  it("a 3000-byte ping6 leaves and returns as fragments of at most the MTU, sharing one identification, and completes", () => {
    const clock = createVirtualClock();
    const pair = createDevicePair(clock, { latencyMs: 1 });
    const a = createStack({ device: pair.a, clock, rng: createRng(1) }, { ipv6: { addresses: ["2001:db8::a/64"], routerSolicitations: false } });
    const b = createStack({ device: pair.b, clock, rng: createRng(2) }, { ipv6: { addresses: ["2001:db8::b/64"], routerSolicitations: false } });
    clock.run();
    const results: Result<Ping6Reply, Ping6Error>[] = [];
    a.icmpv6!.ping(ipv6("2001:db8::b"), { size: 3000 }, (r) => results.push(r));
    clock.run();
    expect(results).toMatchObject([{ ok: true, value: { bytes: 3000 } }]);
    const frags = pair.log
      .filter((l) => l.from === "a" && readU16(l.frame.data, 12) === 0x86dd && l.frame.data[20] === 44)
      .map((l) => {
        const p = l.frame.data.subarray(14);
        const w = walkIpv6Chain(p);
        if (!w.ok || w.value.fragment === undefined) throw new Error("not a fragment");
        return { len: p.length, ...w.value.fragment };
      });
    expect(frags.map((f) => [f.len, f.fragmentOffset, f.moreFragments])).toEqual([
      [1496, 0, true],
      [1496, 1448, true],
      [40 + 8 + 3008 - 2896, 2896, false],
    ]);
    expect(new Set(frags.map((f) => f.ident)).size).toBe(1);
    expect(b.counters().ipv6).toMatchObject({ rxFragments: 3, reassembled: 1 });
    expect(a.counters().ipv6).toMatchObject({ fragmentedDatagrams: 1, txFragments: 3, rxFragments: 3, reassembled: 1 });
  });

  it("reassembles fragments that arrive out of order, and delivers an atomic fragment at once (RFC 6946)", () => {
    const t = createRawPeer();
    resolvePeer(t);
    const m = echo(100);
    for (const f of fragments(58, m, [
      [104, 4],
      [0, 48],
      [48, 56],
    ]))
      t.inject(f);
    t.inject(fragments(58, echo(20), [[0, 28]], 0x99)[0]!);
    t.clock.run();
    expect(icmpMessages(t).map((x) => x.kind === "echo-reply" && x.data.length)).toEqual([100, 20]);
    expect(t.stack.counters().ipv6).toMatchObject({ rxFragments: 3, reassembled: 1, atomicFragments: 1 });
  });

  it("an overlap discards the datagram and its later fragments (RFC 5722)", () => {
    const t = createRawPeer();
    resolvePeer(t);
    const m = echo(100);
    for (const f of fragments(58, m, [
      [0, 56],
      [48, 16],
      [64, 44],
    ]))
      t.inject(f);
    t.clock.run();
    expect(icmpMessages(t)).toEqual([]);
    expect(t.stack.counters().reassembly6!.drops).toMatchObject({ overlap: 1, "discarded-datagram": 1 });
  });

  it("a non-final fragment whose length is not a multiple of 8 draws Parameter Problem code 0 at the payload length", () => {
    const t = createRawPeer();
    resolvePeer(t);
    t.inject(fragments(58, echo(100), [[0, 50]])[0]!);
    t.clock.run();
    expect(icmpMessages(t).map((x) => x.kind === "parameter-problem" && [x.code, x.pointer])).toEqual([[0, 4]]);
  });

  it("a datagram not complete after 60 s is dropped with Time Exceeded code 1, only when its first fragment came", () => {
    const t = createRawPeer();
    resolvePeer(t);
    t.inject(fragments(58, echo(100), [[0, 48]], 1)[0]!);
    t.inject(fragments(58, echo(100), [[48, 8]], 2)[0]!);
    t.clock.advance(59_999);
    expect(icmpMessages(t)).toEqual([]);
    t.clock.advance(2);
    const errs = icmpMessages(t);
    expect(errs.map((x) => x.kind === "time-exceeded" && x.code)).toEqual([1]);
    const quoted = errs[0]!.kind === "time-exceeded" ? errs[0]!.original : new Uint8Array(0);
    const q = parseIpv6(quoted);
    expect(q.ok && q.value.nextHeader).toBe(58);
    expect(t.stack.counters().reassembly6).toMatchObject({ timeouts: 2 });
  });

  it("a fragment flood stays within the reassembly memory limit", () => {
    const t = createRawPeer({
      ipv6: { dadTransmits: 0, routerSolicitations: false, reassembly: { maxBytes: 64 * 1024, maxDatagrams: 1000, maxBytesPerSource: 1 << 20 } },
    });
    for (let i = 0; i < 200; i++) t.inject(fragments(58, echo(2000), [[0, 1000]], i)[0]!);
    t.clock.run(t.clock.now() + 1);
    const c = t.stack.counters().reassembly6!;
    expect(c["fragments"]).toBe(200);
    expect(c["evicted"]).toBe(200 - 65);
  });
});
