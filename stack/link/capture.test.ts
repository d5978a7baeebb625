import { describe, expect, it } from "vitest";
import { createRng, createVirtualClock } from "../time.ts";
import { createPointToPointLink } from "./point-to-point.ts";
import { createMemorySink, teeSinks, withCapture } from "./capture.ts";
import { createLoopback } from "./loopback.ts";
import { createByteCollector, createPcapngWriter, parsePcapng } from "./pcap/index.ts";
import type { Frame } from "./types.ts";

const frame = (tag: number): Uint8Array => {
  const f = new Uint8Array(60);
  f.set([0x02, 0, 0, 0, 0, 2, 0x02, 0, 0, 0, 0, 1, 0x88, 0xb5, tag]);
  return f;
};

describe("withCapture()", () => {
  it("records sent and received frames with the clock's time and direction, into pcapng", () => {
    const clock = createVirtualClock();
    const link = createPointToPointLink({ clock, rng: createRng(1) }, { a: { mac: 1, impairments: { delayMs: 2.5 } }, b: { mac: 2 } });
    const out = createByteCollector();
    const memory = createMemorySink();
    const sink = teeSinks(createPcapngWriter(out.write), memory);
    const a = withCapture(link.a, sink, { clock, name: "a" });
    const b = withCapture(link.b, sink, { clock, name: "b", annotate: (f, dir) => (dir === "in" ? `tag ${f.data[14]}` : undefined) });
    b.onReceive((f) => b.send({ data: frame(f.data[14]! + 1) }));
    a.onReceive(() => {});
    clock.setTimer(1, () => a.send({ data: frame(7) }));
    clock.run();
    const r = parsePcapng(out.bytes());
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.value.interfaces.map((i) => i.name)).toEqual(["a", "b"]);
    expect(r.value.packets.map((p) => [p.interfaceId, p.direction, p.timestampMs, p.data[14], p.comments?.[0]])).toEqual([
      [0, "out", 1, 7, undefined],
      [1, "in", 3.5, 7, "tag 7"],
      [1, "out", 3.5, 8, undefined],
      [0, "in", 3.5, 8, undefined],
    ]);
    expect(memory.packets).toHaveLength(4);
  });

  it("keeps its own copy in the memory sink even when the sender reuses its buffer", () => {
    const clock = createVirtualClock();
    const memory = createMemorySink(1);
    const dev = withCapture(createLoopback({ clock }), memory, { clock });
    const buf = frame(1);
    dev.send({ data: buf });
    buf[14] = 99;
    dev.send({ data: buf });
    expect(memory.packets[0]!.data[14]).toBe(1);
    expect(memory.overflow).toBe(1);
  });
});

describe("createLoopback()", () => {
  it("returns frames on the next tick, marks checksum-blank frames validated and drops oversized ones", () => {
    const clock = createVirtualClock();
    const lo = createLoopback({ clock }, { mtu: 100 });
    const got: Frame[] = [];
    lo.onReceive((f) => got.push(f));
    lo.send({ data: frame(1), offload: { csumBlank: true } });
    lo.send({ data: new Uint8Array(115) });
    expect(got).toHaveLength(0);
    clock.run();
    expect(got).toEqual([{ data: frame(1), offload: { dataValidated: true } }]);
    expect(lo.counters()).toEqual({ txFrames: 2, txBytes: 175, rxFrames: 1, rxBytes: 60, dropped: 1 });
  });
});
