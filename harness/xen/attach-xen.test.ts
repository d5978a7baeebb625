import { describe, expect, it } from "vitest";
import { createStack } from "../../stack/index.ts";
import { createDevicePair } from "../../stack/link/pair.ts";
import type { Frame } from "../../stack/link/types.ts";
import { createRng } from "../../stack/time.ts";
import { createRealClock } from "../time/real-clock.ts";
import { startXenAttachment, withImmediateTimers } from "./attach-xen.ts";

const KERNEL = 0xc0000201,
  DOMU = 0xc0000202;

function ping(stack: ReturnType<typeof createStack>, dst: number, seq: number): Promise<number> {
  return new Promise((resolve, reject) => {
    stack.icmp.ping(dst, { seq, timeoutMs: 2000 }, (r) => (r.ok ? resolve(r.value.rttMs) : reject(new Error(r.error))));
  });
}

describe("withImmediateTimers", () => {
  it("runs timers already due on setImmediate, before a 1 ms setTimeout, in the order they were set", async () => {
    const clock = withImmediateTimers(createRealClock());
    const order: string[] = [];
    const timeout = new Promise<void>((r) =>
      setTimeout(() => {
        order.push("setTimeout");
        r();
      }, 1),
    );
    clock.setTimer(clock.now(), () => order.push("due-1"));
    clock.setTimer(clock.now() - 5, () => order.push("past"));
    const cancelled = clock.setTimer(clock.now(), () => order.push("cancelled"));
    clock.cancel(cancelled);
    await timeout;
    expect(order).toEqual(["due-1", "past", "setTimeout"]);
    expect(clock.pending()).toBe(0);
    clock.close();
  });

  it("leaves later timers to the real clock (not before their time) and cancels both kinds on close()", async () => {
    const clock = withImmediateTimers(createRealClock());
    const start = clock.now();
    let firedAt = 0;
    clock.setTimer(start + 15, () => {
      firedAt = clock.now();
    });
    await new Promise((r) => setTimeout(r, 40));
    expect(firedAt - start).toBeGreaterThanOrEqual(15);
    let fired = 0;
    clock.setTimer(clock.now(), () => fired++);
    clock.setTimer(clock.now() + 5, () => fired++);
    expect(clock.pending()).toBe(2);
    clock.close();
    expect(clock.pending()).toBe(0);
    await new Promise((r) => setTimeout(r, 20));
    expect(fired).toBe(0);
  });
});

describe("startXenAttachment", () => {
  it("bridges a link to a domU's netfront on the real clock: both sides ping, the vif MAC is the domU's, and close() disconnects and detaches", async () => {
    const clock = withImmediateTimers(createRealClock());
    const rng = createRng(7);
    // The "kernel": a stack at the far end of a point-to-point link whose near end is a bridge port.
    const wire = createDevicePair(clock, { macA: 0x020000000001, macB: 0x02000000000b });
    const kernel = createStack({ device: wire.a, clock, rng }, { name: "kernel", ipv4: { cidr: "192.0.2.1/24" } });
    const xen = await startXenAttachment({ clock, rng, link: wire.b }, { mac: 0x00163e0000aa });
    try {
      expect(xen.netfront.connected).toBe(true);
      expect(xen.netfront.mac).toBe(0x00163e0000aa);
      const domU = createStack({ device: xen.netfront, clock, rng }, { name: "domU", ipv4: { cidr: "192.0.2.2/24" } });
      await ping(kernel, DOMU, 1);
      await ping(domU, KERNEL, 2);
      expect(kernel.counters().icmp["echoRepliesReceived"]).toBe(1);
      expect(domU.counters().icmp["echoRepliesReceived"]).toBe(1);
      expect(xen.bridge.lookup(0x00163e0000aa)).toBe(`vif${xen.guest.id}.0`);
      expect(xen.bridge.lookup(0x020000000001)).toBe("tap");
      const toKernel = wire.log.filter((e) => e.from === "b").map((e) => e.frame);
      // Every frame the domU sent left the bridge through the link with its source MAC intact.
      expect(toKernel.length).toBeGreaterThanOrEqual(3);
      expect(toKernel.every((f: Frame) => f.data.subarray(6, 12).every((b, i) => b === [0x00, 0x16, 0x3e, 0x00, 0x00, 0xaa][i]))).toBe(true);
      const c = xen.counters();
      expect(c["netfront.txFrames"]).toBe(toKernel.length);
      expect(c["netback.txFrames"]).toBe(toKernel.length);
      expect(c["bridge.link.txFrames"]).toBe(toKernel.length);
      // The kernel's ARP announcement may reach the vif before the rings are up (netback drops it).
      expect(c["netback.rxDropped"]).toBeLessThanOrEqual(1);
      expect(c["netfront.rxFrames"]! + c["netback.rxDropped"]!).toBe(c["bridge.link.rxFrames"]);
      expect(c["xen.peerErrors"]).toBe(0);
    } finally {
      await xen.close();
    }
    expect(xen.netfront.connected).toBe(false);
    expect(xen.linkPort.stats().txFrames).toBeGreaterThan(0);
    expect(xen.bridge.ports().map((p) => p.name)).not.toContain("tap");
    expect(xen.netfront.state).toBe(6);
    expect(xen.toolstack.guests()).toEqual([]);
    clock.close();
  });
});
