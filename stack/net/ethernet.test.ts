import { describe, expect, it } from "vitest";
import { createDevicePair } from "../link/pair.ts";
import type { Frame } from "../link/types.ts";
import { createVirtualClock } from "../time.ts";
import { emitEthernet, parseEthernet } from "../wire/ethernet.ts";
import { toHex } from "../wire/test-helpers.ts";
import { createEthernet } from "./ethernet.ts";

const MAC_A = 0x020000000001;
const MAC_B = 0x020000000002;

function setup(vlanB?: number) {
  const clock = createVirtualClock();
  const pair = createDevicePair(clock);
  const b = createEthernet(pair.b, vlanB === undefined ? {} : { vlan: vlanB });
  const got: { type: number; payload: string; src: number }[] = [];
  for (const t of [0x0800, 0x0806]) b.registerEthertype(t, (p, _f, src) => got.push({ type: t, payload: toHex(p), src }));
  const inject = (dst: number, type: number, payload: number[], vlan?: number): void => {
    const f = new Uint8Array(18 + payload.length);
    const hl = emitEthernet(
      vlan === undefined ? { dst, src: MAC_A, ethertype: type } : { dst, src: MAC_A, ethertype: type, vlan: { pcp: 0, dei: false, vid: vlan } },
      f,
    );
    f.set(payload, hl);
    pair.a.send({ data: f.subarray(0, hl + payload.length) });
    clock.run();
  };
  return { clock, pair, b, got, inject };
}

describe("ethernet layer", () => {
  it("hands frames for our MAC, broadcast and multicast to the EtherType's handler with the payload", () => {
    const t = setup();
    t.inject(MAC_B, 0x0800, [1, 2]);
    t.inject(0xffffffffffff, 0x0806, [3]);
    t.inject(0x01005e000001, 0x0800, [4]);
    expect(t.got).toEqual([
      { type: 0x0800, payload: "0102", src: MAC_A },
      { type: 0x0806, payload: "03", src: MAC_A },
      { type: 0x0800, payload: "04", src: MAC_A },
    ]);
  });

  it("drops frames for other unicast MACs, unknown EtherTypes and runts, counting each reason", () => {
    const t = setup();
    t.inject(0x020000000099, 0x0800, [1]);
    t.inject(MAC_B, 0x86dd, [1]);
    t.pair.a.send({ data: new Uint8Array(10) });
    t.clock.run();
    expect(t.got).toEqual([]);
    expect(t.b.counters().drops).toEqual({ "not-for-us": 1, "unknown-ethertype": 1, truncated: 1 });
  });

  it("accepts only its own VLAN when configured with one, and only untagged frames otherwise", () => {
    const t = setup(100);
    t.inject(MAC_B, 0x0800, [1], 100);
    t.inject(MAC_B, 0x0800, [2], 200);
    t.inject(MAC_B, 0x0800, [3]);
    expect(t.got.map((g) => g.payload)).toEqual(["01"]);
    const u = setup();
    u.inject(MAC_B, 0x0800, [9], 100);
    expect(u.got).toEqual([]);
    expect(u.b.counters().drops).toEqual({ "vlan-mismatch": 1 });
  });

  it("send() writes the header in place when the packet has headroom, and copies once otherwise", () => {
    const clock = createVirtualClock();
    const pair = createDevicePair(clock);
    const a = createEthernet(pair.a, { vlan: 7, pcp: 3 });
    const buf = new Uint8Array(18 + 2);
    buf.set([0xab, 0xcd], 18);
    a.send(MAC_B, 0x0800, buf.subarray(18));
    const sent = pair.log[0]!.frame.data;
    expect(sent.buffer).toBe(buf.buffer);
    expect(toHex(sent)).toBe("020000000002020000000001" + "8100" + "6007" + "0800" + "abcd");
    a.send(MAC_B, 0x0806, new Uint8Array([1]));
    const copied: Frame = pair.log[1]!.frame;
    expect(toHex(copied.data)).toBe("02000000000202000000000181006007080601");
    expect(a.counters().copies).toBe(1);
    expect(parseEthernet(copied.data)).toEqual({ ok: true, value: { dst: MAC_B, src: MAC_A, ethertype: 0x0806, vlan: { pcp: 3, dei: false, vid: 7 } } });
  });
});
