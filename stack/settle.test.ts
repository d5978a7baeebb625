import { describe, expect, it } from "vitest";
import { createVirtualClock } from "./time.ts";
import { pumpUntil, settle, settleByPumping } from "./settle.ts";

describe("settle()", () => {
  it("runs timers until the promise resolves and returns its value at that virtual time", async () => {
    const clock = createVirtualClock();
    const p = new Promise<number>((resolve) => clock.setTimer(250, () => resolve(clock.now())));
    clock.setTimer(10_000, () => {});
    await expect(settle(clock, p)).resolves.toBe(250);
    expect(clock.now()).toBe(250);
  });

  it("lets promise continuations run before time moves on", async () => {
    const clock = createVirtualClock();
    const seen: number[] = [];
    const work = async (): Promise<void> => {
      await new Promise<void>((r) => clock.setTimer(5, r));
      seen.push(clock.now());
      await Promise.resolve();
      await new Promise<void>((r) => clock.setTimer(clock.now() + 5, r));
      seen.push(clock.now());
    };
    clock.setTimer(7, () => seen.push(-clock.now()));
    await settle(clock, work);
    expect(seen).toEqual([5, -7, 10]);
  });

  it("rethrows a rejection", async () => {
    const clock = createVirtualClock();
    const p = new Promise((_, reject) => clock.setTimer(1, () => reject(new Error("boom"))));
    await expect(settle(clock, p)).rejects.toThrow("boom");
  });

  it("throws ERR_NETLAB_SETTLE when no timer is left or the time limit passes", async () => {
    const clock = createVirtualClock();
    await expect(settle(clock, new Promise(() => {}))).rejects.toMatchObject({ code: "ERR_NETLAB_SETTLE" });
    clock.setTimer(5_000, () => {});
    await expect(settle(clock, new Promise(() => {}), { maxVirtualMs: 1_000 })).rejects.toMatchObject({ code: "ERR_NETLAB_SETTLE" });
  });
});

describe("pumpUntil()", () => {
  it("fires due timers first and moves time only when nothing is due, until done() holds", async () => {
    const clock = createVirtualClock();
    const fired: number[] = [];
    for (const at of [0, 0, 30, 10]) clock.setTimer(at, () => fired.push(clock.now()));
    clock.setTimer(50, () => fired.push(-1));
    expect(await pumpUntil(clock, () => fired.length === 4)).toBe(true);
    expect(fired).toEqual([0, 0, 10, 30]);
    expect(clock.now()).toBe(30);
  });

  it("returns false when no work is left, and stops at untilMs", async () => {
    const clock = createVirtualClock();
    expect(await pumpUntil(clock, () => false)).toBe(false);
    clock.setTimer(100, () => {});
    clock.setTimer(500, () => {});
    expect(await pumpUntil(clock, () => false, { untilMs: 200 })).toBe(false);
    expect(clock.now()).toBe(100);
  });

  it("lets promise chains that await the host between timers finish before time moves on", async () => {
    const clock = createVirtualClock();
    let step = 0;
    const host = (): Promise<void> => new Promise((r) => setImmediate(r));
    void (async () => {
      await host();
      await host();
      step = clock.now() === 0 ? 1 : -1;
    })();
    clock.setTimer(1_000, () => {});
    expect(await pumpUntil(clock, () => step !== 0)).toBe(true);
    expect(step).toBe(1);
  });
});

describe("settleByPumping()", () => {
  it("returns the value at the virtual time it settled", async () => {
    const clock = createVirtualClock();
    const p = new Promise<number>((resolve) => clock.setTimer(40, () => resolve(clock.now())));
    await expect(settleByPumping(clock, p)).resolves.toBe(40);
  });

  it("rethrows a rejection", async () => {
    const clock = createVirtualClock();
    const p = new Promise((_, reject) => clock.setTimer(5, () => reject(new Error("nope"))));
    await expect(settleByPumping(clock, p)).rejects.toThrow("nope");
  });

  it("throws with a stable code, naming the step, when the pump stops first", async () => {
    const clock = createVirtualClock();
    await expect(settleByPumping(clock, new Promise(() => {}))).rejects.toMatchObject({ code: "ERR_NETLAB_SETTLE" });
    await expect(settleByPumping(clock, new Promise(() => {}), { what: "xen setup", code: "ERR_NETLAB_XEN_SETUP" })).rejects.toMatchObject({
      code: "ERR_NETLAB_XEN_SETUP",
      message: "xen setup: the promise did not settle on the virtual clock (now 0 ms)",
    });
  });
});
