import { describe, expect, it } from "vitest";
import { createRng, createVirtualClock } from "../time.ts";
import { createSwitch } from "./switch.ts";
import type { SwitchPort } from "./switch.ts";
import { BROADCAST_MAC, writeMac } from "../wire/address.ts";

const MAC = [0x020000000001, 0x020000000002, 0x020000000003, 0x020000000004];

function ethernet(dst: number, src: number, tag = 0): Uint8Array {
  const f = new Uint8Array(60);
  writeMac(f, 0, dst);
  writeMac(f, 6, src);
  f[12] = 0x88;
  f[13] = 0xb5;
  f[14] = tag;
  return f;
}

function setup(ports = 3, options: { agingMs?: number; maxMacEntries?: number } = {}) {
  const clock = createVirtualClock();
  const sw = createSwitch({ clock, rng: createRng(1) }, options);
  const got: number[][] = [];
  const devs: SwitchPort[] = [];
  for (let i = 0; i < ports; i++) {
    const d = sw.addPort({ mac: MAC[i]!, name: `h${i}` });
    got.push([]);
    d.onReceive((f) => got[i]!.push(f.data[14]!));
    devs.push(d);
  }
  return { clock, sw, got, devs };
}

describe("learning switch", () => {
  it("floods a frame to an unknown MAC to every other port, then forwards once both ends are learned", () => {
    const { clock, sw, got, devs } = setup();
    devs[0]!.send({ data: ethernet(MAC[1]!, MAC[0]!, 1) });
    clock.run();
    expect(got).toEqual([[], [1], [1]]);
    devs[1]!.send({ data: ethernet(MAC[0]!, MAC[1]!, 2) });
    clock.run();
    expect(got).toEqual([[2], [1], [1]]);
    devs[0]!.send({ data: ethernet(MAC[1]!, MAC[0]!, 3) });
    clock.run();
    expect(got).toEqual([[2], [1, 3], [1]]);
    expect(sw.stats).toMatchObject({ received: 3, flooded: 1, forwarded: 2, learned: 2 });
    expect(
      sw
        .macTable()
        .map((e) => [e.mac, e.port])
        .sort(),
    ).toEqual([
      [MAC[0], 0],
      [MAC[1], 1],
    ]);
  });

  it("floods broadcast even to learned hosts and never learns a group source address", () => {
    const { clock, sw, got, devs } = setup();
    devs[2]!.send({ data: ethernet(BROADCAST_MAC, MAC[2]!, 7) });
    devs[1]!.send({ data: ethernet(MAC[2]!, 0x01005e000001, 8) });
    clock.run();
    expect(got).toEqual([[7], [7], [8]]);
    expect(sw.macTable().map((e) => e.mac)).toEqual([MAC[2]]);
  });

  it("gives each flooded port its own copy of the frame", () => {
    const { clock, sw } = setup(0);
    const a = sw.addPort({ mac: MAC[0]! });
    const b = sw.addPort({ mac: MAC[1]! });
    const c = sw.addPort({ mac: MAC[2]! });
    const seen: Uint8Array[] = [];
    b.onReceive((f) => seen.push(f.data));
    c.onReceive((f) => seen.push(f.data));
    a.send({ data: ethernet(BROADCAST_MAC, MAC[0]!) });
    clock.run();
    expect(seen).toHaveLength(2);
    expect(seen[0]).toEqual(seen[1]);
    expect(seen[0]!.buffer).not.toBe(seen[1]!.buffer);
  });

  it("forgets a MAC after agingMs of silence and floods again", () => {
    const { clock, sw, got, devs } = setup(3, { agingMs: 1000 });
    devs[1]!.send({ data: ethernet(BROADCAST_MAC, MAC[1]!, 1) });
    clock.run();
    devs[0]!.send({ data: ethernet(MAC[1]!, MAC[0]!, 2) });
    clock.run();
    expect(got[2]).toEqual([1]);
    clock.advance(1000);
    devs[0]!.send({ data: ethernet(MAC[1]!, MAC[0]!, 3) });
    clock.run();
    expect(got[2]).toEqual([1, 3]);
    expect(sw.stats.aged).toBe(1);
  });

  it("evicts the oldest entry when the MAC table is full", () => {
    const { clock, sw, devs } = setup(3, { maxMacEntries: 2 });
    devs[0]!.send({ data: ethernet(BROADCAST_MAC, MAC[0]!) });
    clock.advance(1);
    devs[1]!.send({ data: ethernet(BROADCAST_MAC, MAC[1]!) });
    clock.advance(1);
    devs[2]!.send({ data: ethernet(BROADCAST_MAC, MAC[2]!) });
    clock.run();
    expect(
      sw
        .macTable()
        .map((e) => e.mac)
        .sort(),
    ).toEqual([MAC[1], MAC[2]]);
    expect(sw.stats.evicted).toBe(1);
  });

  it("filters a frame whose destination was learned on the ingress port and relearns a moved host", () => {
    const { clock, sw, got, devs } = setup();
    devs[0]!.send({ data: ethernet(BROADCAST_MAC, MAC[3]!, 1) });
    clock.run();
    devs[0]!.send({ data: ethernet(MAC[3]!, MAC[0]!, 2) });
    clock.run();
    expect(sw.stats.filtered).toBe(1);
    expect(got).toEqual([[], [1], [1]]);
    devs[2]!.send({ data: ethernet(BROADCAST_MAC, MAC[3]!, 3) });
    devs[0]!.send({ data: ethernet(MAC[3]!, MAC[0]!, 4) });
    clock.run();
    expect(sw.stats.moved).toBe(1);
    expect(got[2]).toEqual([1, 4]);
  });

  it("counts runts and per-port traffic, flooding and impairment drops", () => {
    const clock = createVirtualClock();
    const sw = createSwitch({ clock, rng: createRng(5) });
    const a = sw.addPort({ mac: MAC[0]!, toSwitch: { loss: 1 } });
    const b = sw.addPort({ mac: MAC[1]!, name: "b" });
    b.send({ data: new Uint8Array(10) });
    b.send({ data: ethernet(MAC[0]!, MAC[1]!) });
    a.send({ data: ethernet(MAC[1]!, MAC[0]!) });
    clock.run();
    expect(sw.stats.runts).toBe(1);
    const sa = a.stats();
    const sb = b.stats();
    expect(sb).toMatchObject({ name: "b", index: 1, txFrames: 2, txBytes: 70, rxFrames: 0, dropped: 0 });
    expect(sa).toMatchObject({ name: "port0", txFrames: 1, rxFrames: 1, rxBytes: 60, flooded: 1, dropped: 1 });
    expect(sa.toSwitch.lost).toBe(1);
  });

  it("drops frames in both directions of an unplugged port and floods to the others as before", () => {
    const { clock, got, devs } = setup();
    devs[1]!.setLinkUp(false);
    devs[0]!.send({ data: ethernet(BROADCAST_MAC, MAC[0]!, 1) });
    devs[1]!.send({ data: ethernet(BROADCAST_MAC, MAC[1]!, 2) });
    clock.run();
    expect(got).toEqual([[], [], [1]]);
    expect(devs[1]!.stats()).toMatchObject({ dropped: 2, flooded: 1 });
    devs[1]!.setLinkUp(true);
    devs[0]!.send({ data: ethernet(BROADCAST_MAC, MAC[0]!, 3) });
    clock.run();
    expect(got[1]).toEqual([3]);
  });

  it("delays frames by the sum of both port impairments", () => {
    const clock = createVirtualClock();
    const sw = createSwitch({ clock, rng: createRng(5) });
    const a = sw.addPort({ mac: MAC[0]!, toSwitch: { delayMs: 2 } });
    const b = sw.addPort({ mac: MAC[1]!, fromSwitch: { delayMs: 3 } });
    let at = -1;
    b.onReceive(() => {
      at = clock.now();
    });
    a.send({ data: ethernet(MAC[1]!, MAC[0]!) });
    clock.run();
    expect(at).toBe(5);
  });
});
