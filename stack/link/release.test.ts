// Frame.release crosses only direct paths: a holder that keeps the bytes (capture, a link's
// queue, the pair's log, an impairment that may duplicate) forwards frames without it.
import { describe, expect, it } from "vitest";
import { createRng, createVirtualClock } from "../time.ts";
import { createMemorySink, withCapture } from "./capture.ts";
import { withImpairments } from "./impairments.ts";
import { createDevicePair } from "./pair.ts";
import { createPointToPointLink } from "./point-to-point.ts";
import type { Frame, NetDevice } from "./types.ts";
import { NO_OFFLOADS } from "./types.ts";

const frameWithRelease = (): { frame: Frame; released: () => number } => {
  let n = 0;
  const data = new Uint8Array(60);
  data.set([0x02, 0, 0, 0, 0, 2, 0x02, 0, 0, 0, 0, 1, 0x88, 0xb5]);
  return {
    frame: {
      data,
      release: () => {
        n++;
      },
    },
    released: () => n,
  };
};

/** A device that, like netfront, releases every frame it is given (it "copied" it). */
function releasingDevice(): NetDevice & { got: Frame[]; inject(f: Frame): void } {
  let handler: (f: Frame) => void = () => {};
  const got: Frame[] = [];
  return {
    mac: 2,
    mtu: 1500,
    offloads: NO_OFFLOADS,
    got,
    send(f) {
      got.push(f);
      f.release?.();
    },
    onReceive(h) {
      handler = h;
    },
    inject(f) {
      handler(f);
    },
  };
}

describe("Frame.release across holders", () => {
  it("a capture passes frames on without release, both ways", () => {
    const clock = createVirtualClock();
    const inner = releasingDevice();
    const dev = withCapture(inner, createMemorySink(), { clock });
    const out = frameWithRelease();
    dev.send(out.frame);
    expect(inner.got[0]!.release).toBeUndefined();
    expect(out.released()).toBe(0);
    const seen: Frame[] = [];
    dev.onReceive((f) => seen.push(f));
    const inc = frameWithRelease();
    inner.inject(inc.frame);
    expect(seen[0]!.release).toBeUndefined();
    expect(seen[0]!.data).toBe(inc.frame.data);
  });

  it("an impaired device (which may duplicate) and a point-to-point link deliver without release", () => {
    const clock = createVirtualClock();
    const rng = createRng(1);
    const inner = releasingDevice();
    const dev = withImpairments(inner, { clock, rng }, { tx: { duplicate: 1 } });
    const f = frameWithRelease();
    dev.send(f.frame);
    clock.run();
    expect(inner.got.length).toBeGreaterThanOrEqual(2);
    expect(inner.got.every((g) => g.release === undefined)).toBe(true);
    expect(f.released()).toBe(0);
    const link = createPointToPointLink({ clock, rng }, { a: { mac: 1 }, b: { mac: 2 } });
    const atB: Frame[] = [];
    link.b.onReceive((g) => atB.push(g));
    link.a.send(frameWithRelease().frame);
    clock.run();
    expect(atB).toHaveLength(1);
    expect(atB[0]!.release).toBeUndefined();
  });

  it("the device pair logs and delivers frames without release", () => {
    const clock = createVirtualClock();
    const pair = createDevicePair(clock);
    const atB: Frame[] = [];
    pair.b.onReceive((g) => atB.push(g));
    pair.a.send(frameWithRelease().frame);
    clock.run();
    expect(pair.log[0]!.frame.release).toBeUndefined();
    expect(atB[0]!.release).toBeUndefined();
  });
});
